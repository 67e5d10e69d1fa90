/*
 * test_node.c - the ring rules of the protocol core, one at a time: a
 * ring forms and stays sorted, rectify and stabilize adopt only live
 * nodes, the predecessor is never nil, a failed successor is routed
 * around, and a malformed frame is refused without harm.
 *
 * Driven through the public node API on node_net's hand-driven network
 * (frames queued and delivered by pump, time moved by the test). Join and
 * leave are in test_membership.c, lookups in test_lookup.c, replication in
 * test_replica.c, the dead-peer rule in test_peer.c.
 */
#include <errno.h>
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

static void test_single_node_owns_everything(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 100);
    chord_node_create(net->node[0], net->now);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_ACTIVE);
    client(net, 0, CHORD_MSG_C_PUT, "k", "v");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    client(net, 0, CHORD_MSG_C_GET, "k", NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v", 1);
    client(net, 0, CHORD_MSG_C_LOOKUP, "k", NULL);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_LOOKUP_RESULT);
    assert_int_equal(net->last_reply.lookup.hops, 0);
    assert_string_equal(net->last_reply.lookup.owner.addr, net->addr[0]);
    client(net, 0, CHORD_MSG_C_GET, "missing", NULL);
    assert_int_equal(net->last_reply.status, CHORD_NOT_FOUND);
    net_free(net);
}

static void test_two_nodes_form_a_ring(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    assert_int_equal(rt(net, 0)->n_succ, 1);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 1)->succ[0]), 10);
    assert_true(rt(net, 0)->has_pred);
    assert_int_equal(pos_of(&rt(net, 0)->pred), 200);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 10);
    net_free(net);
}

static void test_ring_of_five_is_sorted(void **state)
{
    (void)state;
    const uint8_t pos[] = {50, 10, 200, 120, 90};
    const uint8_t sorted[] = {10, 50, 90, 120, 200};
    struct net *net = ring(pos, 5);
    for (int i = 0; i < 5; i++) {
        uint8_t me = pos[i];
        int k = 0;
        while (sorted[k] != me)
            k++;
        const struct chord_routing *r = rt(net, i);
        assert_int_equal(r->n_succ, 3);
        for (int j = 0; j < 3; j++)
            assert_int_equal(pos_of(&r->succ[j]), sorted[(k + 1 + j) % 5]);
        assert_int_equal(pos_of(&r->pred), sorted[(k + 4) % 5]);
    }
    net_free(net);
}

/* Rectify adopts a closer predecessor, ignores a farther one while the
 * current predecessor answers, and replaces it only once it fails. */
static void test_rectify_rules(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    int c = 2; /* node 200: its predecessor is 100 */
    assert_int_equal(pos_of(&rt(net, c)->pred), 100);

    /* A new node at 150 lies in (100, 200): adopted by rectify. */
    int b = add_node(net, 150);
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_RECTIFY, 0);
    m.from = *chord_node_self(net->node[b]);
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    assert_int_equal(pos_of(&rt(net, c)->pred), 150);

    /* 100 is not in (150, 200): it is ignored while 150 answers pings. */
    chord_buf_reset(&buf);
    m.from = *chord_node_self(net->node[1]);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    chord_node_create(net->node[b], net->now); /* 150 answers pings */
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    pump(net);
    run_for(net, 10); /* the ping is answered */
    assert_int_equal(pos_of(&rt(net, c)->pred), 150);

    /* 150 freezes: the next rectify from 100 pings it, the ping times
     * out, and 100 becomes the predecessor again. Never "none". */
    net->down[b] = true;
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    assert_true(rt(net, c)->has_pred);
    run_for(net, 1500);
    assert_true(rt(net, c)->has_pred);
    assert_int_equal(pos_of(&rt(net, c)->pred), 100);
    chord_buf_free(&buf);
    net_free(net);
}

/* A predecessor that dies without anyone claiming its place is kept:
 * the predecessor is never reset to none. */
static void test_predecessor_never_nil(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    net->down[1] = true; /* 100 dies silently */
    run_for(net, 400);
    assert_true(rt(net, 2)->has_pred);
    /* Then 10 (whose successor 100 died) stabilizes onto 200 and
     * rectifies it: 200's predecessor becomes 10. */
    run_for(net, 4000);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 2)->pred), 10);
    net_free(net);
}

/* Stabilize learns of a node between itself and its successor, but
 * adopts it only after that node answers. */
static void test_stabilize_checks_liveness(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    /* A "ghost" at 100 told 200 that it is its predecessor, then froze. */
    int g = add_node(net, 100);
    net->down[g] = true;
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_RECTIFY, 0);
    m.from = *chord_node_self(net->node[g]);
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    assert_int_equal(
        chord_node_receive(net->node[1], net->now, 5, buf.data, buf.len), 0);
    chord_buf_free(&buf);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 100);
    /* 10 hears of 100 from 200 but 100 never answers: 10 keeps 200, at
     * every moment (an unverified node is never adopted, even briefly). */
    for (int step = 0; step < 300; step++) {
        run_for(net, 10);
        for (unsigned k = 0; k < rt(net, 0)->n_succ; k++)
            assert_int_not_equal(pos_of(&rt(net, 0)->succ[k]), 100);
    }
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    net_free(net);
}

/* A successor that stops answering is dropped; the next one takes over. */
static void test_successor_failure(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200, 250};
    struct net *net = ring(pos, 4);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 100);
    /* A frozen successor is suspected within a heartbeat (200 ms) plus
     * its timeout (the 250 ms floor on a fast link), and stabilize then
     * proceeds from the next successor: routed around within a second. */
    net->down[1] = true;
    run_for(net, 300);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 100); /* not yet */
    run_for(net, 700);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    for (unsigned i = 0; i < rt(net, 0)->n_succ; i++)
        assert_int_not_equal(pos_of(&rt(net, 0)->succ[i]), 100);
    /* Refused connections are noticed at once. */
    net->refused[2] = true;
    run_for(net, 600);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 250);
    net_free(net);
}

/* Garbage is refused with -EPROTO and the node keeps working. */
static void test_malformed_frame(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 1);
    chord_node_create(net->node[0], net->now);
    uint8_t junk[32];
    for (unsigned i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(
        chord_node_receive(net->node[0], net->now, 3, junk, sizeof(junk)),
        -EPROTO);
    client(net, 0, CHORD_MSG_C_PUT, "a", "b");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node_owns_everything),
        cmocka_unit_test(test_two_nodes_form_a_ring),
        cmocka_unit_test(test_ring_of_five_is_sorted),
        cmocka_unit_test(test_rectify_rules),
        cmocka_unit_test(test_predecessor_never_nil),
        cmocka_unit_test(test_stabilize_checks_liveness),
        cmocka_unit_test(test_successor_failure),
        cmocka_unit_test(test_malformed_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
