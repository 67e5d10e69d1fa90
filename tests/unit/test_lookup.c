/*
 * test_lookup.c - recursive lookups (lookup.c): the path a lookup reports;
 * a lookup whose next hop fails after it was forwarded is re-routed by
 * the node that forwarded it, at once when the host reports the hop
 * unreachable and as soon as the detector suspects it otherwise, so the
 * client never waits out the origin's request timeout; a lookup the
 * client sees is answered by the owner itself, so a crashed owner is
 * never named; and a routing loop ends at the hop limit with a failure.
 *
 * Driven through the public node API on node_net's hand-driven network.
 * The ring of eight (positions 10, 40, ..., 220, three successors each)
 * gives lookups of up to three hops; which nodes a lookup passes through
 * is read from the path it reports, not assumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "core/store.h"
#include "node_net.h"

/* Lookups report their path: contacted node first, owner last. */
static void test_lookup_path(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 60, 110, 160, 210};
    struct net *net = ring(pos, 5);
    client(net, 0, CHORD_MSG_C_LOOKUP, "some key", NULL);
    const struct chord_lookup_result *lr = &net->last_reply.lookup;
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_string_equal(lr->path.addr[0], net->addr[0]);
    assert_string_equal(lr->path.addr[lr->path.n - 1], lr->owner.addr);
    assert_int_equal(lr->hops, lr->path.n - 1);
    /* The owner is the true successor of the key id: the first node
     * position above the key's top byte (node ids have zero low bytes,
     * a SHA-1 key id almost surely not), wrapping to the smallest. */
    uint8_t k = lr->key_id.b[0];
    uint8_t want = pos[0]; /* pos is sorted */
    for (int i = 0; i < 5; i++)
        if (pos[i] > k) {
            want = pos[i];
            break;
        }
    assert_int_equal(pos_of(&lr->owner), want);
    net_free(net);
}

static const uint8_t eight[] = {10, 40, 70, 100, 130, 160, 190, 220};

/* The live node that owns `key` in the ring of eight without the node at
 * position `gone` (0: none gone). */
static uint8_t owner_without(const char *key, uint8_t gone)
{
    struct chord_id id;
    chord_id_hash(&id, key, strlen(key));
    for (int i = 0; i < 8; i++)
        if (eight[i] > id.b[0] && eight[i] != gone)
            return eight[i];
    return eight[0];
}

/* A client lookup of key at node i: the time it took, in ms. */
static uint64_t timed_lookup(struct net *net, int i, const char *key)
{
    uint64_t t0 = net->now;
    client(net, i, CHORD_MSG_C_LOOKUP, key, NULL);
    return net->now - t0;
}

/* Is node j in node i's successor list? */
static bool succ_of(struct net *net, int i, int j)
{
    for (unsigned k = 0; k < rt(net, i)->n_succ; k++)
        if (strcmp(rt(net, i)->succ[k].addr, net->addr[j]) == 0)
            return true;
    return false;
}

/*
 * A key whose lookup from node 0 goes 0 -> A -> B, B the owner, with A
 * one of node 0's successors (monitored by its detector) when
 * `a_is_succ`, else A not node 0's successor. Fills key, *a and *b; false
 * if none of the first 200 keys qualifies.
 */
static bool two_hop_key(struct net *net, bool a_is_succ, char *key, size_t len,
                        int *a, int *b)
{
    for (int k = 0; k < 200; k++) {
        snprintf(key, len, "route%d", k);
        client(net, 0, CHORD_MSG_C_LOOKUP, key, NULL);
        const struct chord_lookup_result *lr = &net->last_reply.lookup;
        if (net->last_reply.status != CHORD_OK || lr->path.n != 3)
            continue;
        *a = net_index(net, lr->path.addr[1]);
        *b = net_index(net, lr->path.addr[2]);
        if (succ_of(net, 0, *a) == a_is_succ)
            return true;
    }
    return false;
}

/* Node 0 sends a lookup to A, A forwards it to the owner B, and B's host
 * refuses the connection. A re-routes it at once: within a few ms the
 * client has the live owner (B's successor, which now owns B's range),
 * not after the origin's 1 s request timeout and a retry. */
static void test_reroute_when_next_hop_unreachable(void **state)
{
    (void)state;
    struct net *net = ring(eight, 8);
    char key[16];
    int a, b;
    assert_true(two_hop_key(net, false, key, sizeof key, &a, &b));
    net->refused[b] = true;
    uint64_t took = timed_lookup(net, 0, key);
    const struct chord_lookup_result *lr = &net->last_reply.lookup;
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(pos_of(&lr->owner), owner_without(key, eight[b]));
    assert_string_equal(lr->path.addr[1], net->addr[a]);
    assert_true(took < 100);
    net_free(net);
}

/* Node 0 sends a lookup to its successor A (on its way to the owner B)
 * just as A freezes. Node 0's detector suspects A within a heartbeat and
 * a timeout (under half a second) and node 0 re-routes the lookup then,
 * another way: the client has the owner, B, before the 1 s request
 * timeout. */
static void test_reroute_when_next_hop_suspected(void **state)
{
    (void)state;
    struct net *net = ring(eight, 8);
    char key[16];
    int a, b;
    assert_true(two_hop_key(net, true, key, sizeof key, &a, &b));
    net->down[a] = true;
    uint64_t took = timed_lookup(net, 0, key);
    const struct chord_lookup_result *lr = &net->last_reply.lookup;
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_string_equal(lr->owner.addr, net->addr[b]);
    for (unsigned i = 0; i < lr->path.n; i++) /* it went another way */
        assert_string_not_equal(lr->path.addr[i], net->addr[a]);
    assert_true(took < 800);
    net_free(net);
}

/* The owner crashes (freezes) and a client at the far side of the ring
 * looks up one of its keys before anyone has noticed: the lookup is
 * answered by a live owner, the crashed node's successor, never by a
 * node that names the crashed one. Nor does it go round the ring: once
 * 190 suspects its predecessor, the range falls to 190 (with one copy
 * per key too, where 190 once knew no predecessor beyond 160 and the
 * lookups circled until the hop limit, every retry). */
static void test_lookup_never_names_a_crashed_owner(void **state)
{
    (void)state;
    struct net *net = ring(eight, 8);
    const int crashed = 5; /* 160 */
    net->down[crashed] = true;
    unsigned finds = net->sent[CHORD_MSG_FIND_SUCC];
    char key[16];
    for (int k = 0, found = 0; found < 3; k++) {
        snprintf(key, sizeof key, "own%d", k);
        if (owner_without(key, 0) != 160)
            continue;
        found++;
        client(net, 0, CHORD_MSG_C_LOOKUP, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
        assert_int_equal(pos_of(&net->last_reply.lookup.owner), 190);
    }
    unsigned sent = net->sent[CHORD_MSG_FIND_SUCC] - finds;
    print_message("FIND_SUCC frames for 3 lookups: %u\n", sent);
    assert_true(sent < 200);
    net_free(net);
}

static void quick_ops(struct chord_node_config *cfg)
{
    cfg->op_timeout_ms = 30; /* shorter than one retry pause (50 ms) */
    /* No finger refresh in the background: its FIND_SUCC frames would
     * blur the count of the looping lookup's own. */
    cfg->fix_fingers_ms = 60000;
}

/*
 * A routing loop. 130 is told (RECTIFY) that its predecessor is a node at
 * position 129 whose address is in fact 220's. A lookup for a key in
 * (100, 129) reaches 130 as the presumed owner, 130 steps back to its
 * "predecessor", and 220, 190, 160 step back in turn to 130: round and
 * round. The hop limit ends it: the client is told the lookup failed
 * (and why), after at most hop_limit forwards; nothing loops on. Once 130
 * has found its predecessor again, the same lookup succeeds.
 */
static void test_hop_limit_ends_a_loop(void **state)
{
    (void)state;
    struct net *net = ring_tuned(eight, 8, 1, quick_ops);
    const int x = 4; /* 130 */
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_RECTIFY, 0);
    m->from.id = small_id(129);
    snprintf(m->from.addr, sizeof m->from.addr, "%s", net->addr[7]);
    assert_int_equal(deliver(net, x, m), 0);
    free(m);
    assert_int_equal(pos_of(&rt(net, x)->pred), 129);

    char key[16];
    struct chord_id id;
    int k = 0;
    do {
        snprintf(key, sizeof key, "loop%d", k++);
        chord_id_hash(&id, key, strlen(key));
    } while (!(id.b[0] > 100 && id.b[0] < 129));
    unsigned finds = net->sent[CHORD_MSG_FIND_SUCC];
    client(net, 0, CHORD_MSG_C_LOOKUP, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_UNAVAILABLE);
    assert_non_null(strstr(net->last_reply.error, "hop limit"));
    unsigned forwards = net->sent[CHORD_MSG_FIND_SUCC] - finds;
    assert_true(forwards > 8); /* it did go round */
    assert_true(forwards <= 32);

    run_for(net, 3000);
    assert_int_equal(pos_of(&rt(net, x)->pred), 100);
    client(net, 0, CHORD_MSG_C_LOOKUP, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(pos_of(&net->last_reply.lookup.owner), 130);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_path),
        cmocka_unit_test(test_reroute_when_next_hop_unreachable),
        cmocka_unit_test(test_reroute_when_next_hop_suspected),
        cmocka_unit_test(test_lookup_never_names_a_crashed_owner),
        cmocka_unit_test(test_hop_limit_ends_a_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
