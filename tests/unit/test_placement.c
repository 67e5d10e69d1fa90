/*
 * test_placement.c - replica sets with virtual nodes (placement.c): the
 * copies of a key go to its owner and the next positions of processes not
 * chosen yet, so r copies land on r processes; a position judges the
 * ranges it replicates by the same rule walking back its predecessors;
 * without "#i" names the rule is the plain "next r-1 successors".
 *
 * Builds one node and sets its successor and predecessor lists by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "core/node_internal.h"
#include "core/placement.h"

static void io_send(void *ctx, const char *addr, const uint8_t *f, size_t len)
{
    (void)ctx, (void)addr, (void)f, (void)len;
}

static void io_reply(void *ctx, uint64_t conn, const uint8_t *f, size_t len)
{
    (void)ctx, (void)conn, (void)f, (void)len;
}

static void io_log(void *ctx, int level, const char *line)
{
    (void)ctx, (void)level, (void)line;
}

/* A peer at position `pos` (the top byte of its id) named addr. */
static struct chord_peer peer(const char *addr, uint8_t pos)
{
    struct chord_peer p;
    memset(&p, 0, sizeof p);
    snprintf(p.addr, sizeof p.addr, "%s", addr);
    p.id.b[0] = pos;
    return p;
}

static struct chord_id at(uint8_t pos)
{
    struct chord_id id;
    memset(&id, 0, sizeof id);
    id.b[0] = pos;
    id.b[19] = 1; /* just after the position */
    return id;
}

/* A node named self at position 100, replicas r, with these successors
 * and predecessors (nearest first). */
static struct chord_node *node_with(const char *self, unsigned r,
                                    const struct chord_peer *succ, unsigned ns,
                                    const struct chord_peer *preds, unsigned np)
{
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.successors = 8;
    cfg.replicas = r;
    cfg.self = peer(self, 100);
    struct chord_node_io io = {
        .send = io_send, .reply = io_reply, .log = io_log};
    struct chord_node *n;
    assert_int_equal(chord_node_new(&cfg, &io, 0, &n), 0);
    chord_node_create(n, 0);
    for (unsigned i = 0; i < ns; i++)
        n->rt.succ[i] = succ[i];
    n->rt.n_succ = ns;
    for (unsigned i = 0; i < np; i++)
        n->rt.preds[i] = preds[i];
    n->rt.n_preds = np;
    if (np) {
        n->rt.pred = preds[0];
        n->rt.has_pred = true;
    }
    return n;
}

/* The replicas of our keys skip our own other positions and positions of
 * processes already chosen. */
static void test_targets_skip_same_process(void **state)
{
    (void)state;
    const struct chord_peer succ[] = {
        peer("h1:1#1", 110), peer("h2:1#0", 120), peer("h2:1#3", 130),
        peer("h1:1#2", 140), peer("h3:1#0", 150), peer("h4:1#0", 160),
    };
    struct chord_node *n = node_with("h1:1#0", 3, succ, 6, NULL, 0);
    struct chord_peer out[8];
    assert_int_equal(chord__replica_factor(n), 3);
    unsigned k = chord__replica_targets(n, 0, out, 2);
    assert_int_equal(k, 2);
    assert_string_equal(out[0].addr, "h2:1#0");
    assert_string_equal(out[1].addr, "h3:1#0");
    /* The position that takes our range when our process goes. */
    assert_string_equal(chord__next_process(n)->addr, "h2:1#0");
    chord_node_free(n);
}

/* Two processes in sight: the factor is 2 whatever the list length. */
static void test_factor_counts_processes(void **state)
{
    (void)state;
    const struct chord_peer succ[] = {
        peer("h1:1#1", 110), peer("h2:1#0", 120), peer("h2:1#1", 130),
        peer("h1:1#2", 140), peer("h2:1#2", 150), peer("h1:1#3", 160),
        peer("h2:1#3", 170), peer("h1:1#4", 180),
    };
    struct chord_node *n = node_with("h1:1#0", 3, succ, 8, NULL, 0);
    struct chord_peer out[8];
    assert_int_equal(chord__replica_factor(n), 2);
    assert_int_equal(chord__replica_targets(n, 0, out, 2), 1);
    assert_string_equal(out[0].addr, "h2:1#0");
    chord_node_free(n);
}

/* Walking back: we hold the ranges up to the predecessor that brings the
 * processes seen to r (here h2, h3, h2 again, h4: the third process). */
static void test_holds_counts_processes_back(void **state)
{
    (void)state;
    const struct chord_peer succ[] = {peer("h5:1#0", 110)};
    const struct chord_peer preds[] = {
        peer("h2:1#3", 90), peer("h3:1#1", 80), peer("h2:1#2", 70),
        peer("h4:1#0", 60), peer("h5:1#1", 50),
    };
    struct chord_node *n = node_with("h1:1#0", 3, succ, 1, preds, 5);
    struct chord_id k;
    k = at(95); /* ours */
    assert_true(chord__replica_holds(n, &k));
    k = at(85); /* owner h2: h2, h1 */
    assert_true(chord__replica_holds(n, &k));
    k = at(75); /* owner h3: h3, h2, h1 */
    assert_true(chord__replica_holds(n, &k));
    k = at(65); /* owner h2#2: h2, h3, h1 (h2#3 skipped) */
    assert_true(chord__replica_holds(n, &k));
    k = at(55); /* owner h4: h4, h2, h3 */
    assert_false(chord__replica_holds(n, &k));
    chord_node_free(n);
}

/* A predecessor of our own process holds the ranges before it instead. */
static void test_holds_stops_at_own_process(void **state)
{
    (void)state;
    const struct chord_peer succ[] = {peer("h5:1#0", 110)};
    const struct chord_peer preds[] = {
        peer("h2:1#3", 90),
        peer("h1:1#4", 80),
        peer("h3:1#0", 70),
        peer("h4:1#0", 60),
    };
    struct chord_node *n = node_with("h1:1#0", 3, succ, 1, preds, 4);
    struct chord_id k = at(85);
    assert_true(chord__replica_holds(n, &k));
    k = at(75); /* owner h1#4: our process holds it there */
    assert_false(chord__replica_holds(n, &k));
    chord_node_free(n);
}

/* Without vnodes: the plain rule (the next r-1 successors; we hold up to
 * preds[r-1]). */
static void test_plain_ring_unchanged(void **state)
{
    (void)state;
    const struct chord_peer succ[] = {
        peer("h2:1", 110),
        peer("h3:1", 120),
        peer("h4:1", 130),
    };
    const struct chord_peer preds[] = {
        peer("h5:1", 90),
        peer("h6:1", 80),
        peer("h7:1", 70),
    };
    struct chord_node *n = node_with("h1:1", 3, succ, 3, preds, 3);
    struct chord_peer out[8];
    assert_int_equal(chord__replica_targets(n, 0, out, 2), 2);
    assert_string_equal(out[0].addr, "h2:1");
    assert_string_equal(out[1].addr, "h3:1");
    struct chord_id k = at(75); /* owner h6: h6, h5, us */
    assert_true(chord__replica_holds(n, &k));
    k = at(65); /* owner h7: h7, h6, h5 */
    assert_false(chord__replica_holds(n, &k));
    chord_node_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_skip_same_process),
        cmocka_unit_test(test_factor_counts_processes),
        cmocka_unit_test(test_holds_counts_processes_back),
        cmocka_unit_test(test_holds_stops_at_own_process),
        cmocka_unit_test(test_plain_ring_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
