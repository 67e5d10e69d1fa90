/*
 * test_viz_feed.c - what dht-viz --serve tells the page (tools/viz/
 * feed.c), from a live model filled by hand: the first settled round is
 * "watching N nodes", not news; a silent node that a peer suspects is
 * "suspected by" that peer, then "declared dead"; a node the model forgot
 * is removed and "gone"; successor pointers that form two cycles are a
 * split, and one cycle again a merge; a round where nothing changed
 * sends nothing. No network and no clock: the statuses are made here and
 * the hub's updates are read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "live.h"

#define N 4

/* A model of N answering nodes 127.0.0.1:1..N whose first successors
 * follow the ring by id. */
static void make_ring(struct viz_watch *w)
{
    memset(w, 0, sizeof *w);
    w->n = w->cap = N;
    w->nodes = calloc(N, sizeof *w->nodes);
    assert_non_null(w->nodes);
    struct chord_peer p[N];
    for (unsigned i = 0; i < N; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", i + 1);
        assert_int_equal(chord_peer_from_addr(&p[i], addr), 0);
    }
    /* Ring order by id. */
    unsigned order[N] = {0, 1, 2, 3};
    for (unsigned a = 0; a < N; a++)
        for (unsigned b = a + 1; b < N; b++)
            if (chord_id_cmp(&p[order[b]].id, &p[order[a]].id) < 0) {
                unsigned t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    for (unsigned k = 0; k < N; k++) {
        struct viz_live_node *m = &w->nodes[k];
        unsigned i = order[k];
        m->self = p[i];
        m->st = calloc(1, sizeof *m->st);
        assert_non_null(m->st);
        m->st->self = p[i];
        m->st->state = CHORD_NODE_ACTIVE;
        m->st->n_succ = 1;
        m->st->succ[0] = p[order[(k + 1) % N]];
        m->st->replicas = 3;
        m->answered = true;
        m->polled_at = 1;
    }
    w->settled = true;
    w->last_ms = 1;
}

/* Node k's peer table: one entry about node `about` in `state`. */
static void report(struct viz_watch *w, unsigned k, unsigned about, int state)
{
    struct chord_status *st = w->nodes[k].st;
    st->n_peers = 1;
    memset(&st->peers[0], 0, sizeof st->peers[0]);
    memcpy(st->peers[0].addr, w->nodes[about].self.addr, CHORD_ADDR_MAX);
    st->peers[0].state = (uint8_t)state;
    st->peers[0].timeout_ms = 250;
}

/* Run a round; the update it published (malloc'd), or NULL if none. */
static char *round_update(struct viz_feed *f, struct viz_watch *w,
                          struct viz_hub *h, uint64_t *seq)
{
    uint64_t before = h->seq;
    assert_int_equal(viz_feed_round(f, w, h), 0);
    if (h->seq == before)
        return NULL;
    char *out = NULL;
    assert_int_equal(viz_hub_next(h, seq, &out), 0);
    return out;
}

static void expect_in(const char *text, const char *want)
{
    if (!text || !strstr(text, want))
        fail_msg("expected %s in %s", want, text ? text : "(no update)");
}

static void test_timeline(void **state)
{
    (void)state;
    struct viz_watch w;
    struct viz_feed f;
    struct viz_hub h;
    make_ring(&w);
    assert_int_equal(viz_feed_init(&f), 0);
    assert_int_equal(viz_hub_init(&h, "127.0.0.1:1", 500), 0);
    uint64_t seq = 0;

    /* The ring as found: one snapshot, one "watching" entry. */
    assert_int_equal(viz_feed_round(&f, &w, &h), 0);
    char *out = NULL;
    assert_int_equal(viz_hub_next(&h, &seq, &out), 0);
    expect_in(out, "event: snapshot");
    expect_in(out, "watching 4 nodes");
    assert_null(strstr(out, "\"kind\":\"joined\""));
    free(out);

    /* Nothing changed: nothing sent. */
    assert_null(round_update(&f, &w, &h, &seq));

    /* Node 2 goes silent and node 1 suspects it. */
    w.nodes[2].answered = false;
    w.nodes[2].fails = 1;
    report(&w, 1, 2, CHORD_PEER_SUSPECTED);
    out = round_update(&f, &w, &h, &seq);
    char want[3 * CHORD_ADDR_MAX];
    snprintf(want, sizeof want, "%s suspected by %s", w.nodes[2].self.addr,
             w.nodes[1].self.addr);
    expect_in(out, want);
    expect_in(out, "\"health\":\"suspected\"");
    free(out);

    /* Then declares it dead. */
    report(&w, 1, 2, CHORD_PEER_DEAD);
    out = round_update(&f, &w, &h, &seq);
    snprintf(want, sizeof want, "%s declared dead by %s", w.nodes[2].self.addr,
             w.nodes[1].self.addr);
    expect_in(out, want);
    free(out);

    /* The verdict leaves the table: still dead while silent. */
    w.nodes[1].st->n_peers = 0;
    out = round_update(&f, &w, &h, &seq);
    if (out && strstr(out, "\"kind\":\"no-answer\""))
        fail_msg("a dead node turned to no-answer: %s", out);
    free(out);

    /* The model forgets it: removed, and gone. */
    char gone[CHORD_ADDR_MAX];
    memcpy(gone, w.nodes[2].self.addr, CHORD_ADDR_MAX);
    free(w.nodes[2].st);
    w.nodes[2] = w.nodes[3];
    w.n = 3;
    /* The ring closes over the gap. */
    w.nodes[1].st->succ[0] = w.nodes[2].self;
    out = round_update(&f, &w, &h, &seq);
    snprintf(want, sizeof want, "\"removed\":[\"%s\"]", gone);
    expect_in(out, want);
    expect_in(out, "\"kind\":\"gone\"");
    free(out);

    /* Two cycles: 0 <-> 1 and 2 alone: split; back: merged. */
    struct chord_peer s1 = w.nodes[1].st->succ[0];
    w.nodes[1].st->succ[0] = w.nodes[0].self;
    w.nodes[2].st->succ[0] = w.nodes[2].self;
    out = round_update(&f, &w, &h, &seq);
    expect_in(out, "the ring is split: 2 successor cycles");
    free(out);
    w.nodes[1].st->succ[0] = s1;
    w.nodes[2].st->succ[0] = w.nodes[0].self;
    out = round_update(&f, &w, &h, &seq);
    expect_in(out, "the ring is one cycle again");
    free(out);

    viz_feed_free(&f);
    viz_hub_free(&h);
    viz_watch_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
