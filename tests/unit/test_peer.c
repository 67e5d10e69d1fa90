/*
 * test_peer.c - the dead-peer rule (peer.h): one table, the failure
 * detector's, holds both a peer's detector state and its dead window.
 *
 * At the node level (node_net's hand-driven network): a peer the host
 * reports unreachable is routed around at once and not taken back from a
 * neighbour's report for CHORD_PEER_DEAD_MS, then is, and heartbeats
 * probe it; anything heard from a peer trusts it again at once, in both
 * notions (window and detector), whichever way it arrives; a peer that
 * announced it leaves stays shunned for the window. The table's own
 * handling of the window (forget keeps it, hearing closes it, recycling
 * spares it) is tested with the table, in test_fd_table.c.
 *
 * The node-level checks read the node's detector through the private
 * header (core/node_internal.h) where the public API shows nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "core/fd.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "node_net.h"

/* Is the node at position `pos` in node i's successor list? */
static bool in_succ(struct net *net, int i, uint8_t pos)
{
    for (unsigned k = 0; k < rt(net, i)->n_succ; k++)
        if (pos_of(&rt(net, i)->succ[k]) == pos)
            return true;
    return false;
}

/* Node i's view of node j: within its dead window? */
static bool dead_at(struct net *net, int i, int j)
{
    return chord_fd_is_dead(&net->node[i]->fd, net->addr[j], net->now);
}

/* Node i's detector state for node j (ALIVE when it has no entry). */
static uint8_t fd_state(struct net *net, int i, int j)
{
    const struct chord_fd_peer *p =
        chord_fd_find(&net->node[i]->fd, net->addr[j]);
    return p ? p->state : CHORD_PEER_ALIVE;
}

/* Both notions say node i may route to node j. */
static bool trusted(struct net *net, int i, int j)
{
    return !dead_at(net, i, j) && fd_state(net, i, j) == CHORD_PEER_ALIVE;
}

/* (a) 10's host reports 100 unreachable (the link between them is cut;
 * 100 is alive for everyone else). 10 routes around it at once and sends
 * it nothing while it serves puts; its successor 50 keeps reporting 100,
 * yet 10 does not take it back during the window. After the window it
 * does (that is how a peer that was cut off is found again), heartbeats
 * probe it while the detector still holds it DEAD, and once the link heals
 * its answers make it ALIVE. */
static void test_unreachable_routed_around_for_the_window(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 50, 100, 200};
    struct net *net = ring(pos, 4);
    assert_true(in_succ(net, 0, 100));
    char k50[16], k200[16];
    key_owned_by(pos, 4, 50, k50, sizeof k50);
    key_owned_by(pos, 4, 200, k200, sizeof k200);

    net->cut[0][2] = net->cut[2][0] = true;
    uint64_t t0 = net->now;
    chord_node_unreachable(net->node[0], net->now, net->addr[2]);
    assert_false(in_succ(net, 0, 100));
    assert_false(trusted(net, 0, 2));

    unsigned to100 = net->link_sent[0][2];
    client(net, 0, CHORD_MSG_C_PUT, k200, "v");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    client(net, 0, CHORD_MSG_C_PUT, k50, "v");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    while (net->now + 10 < t0 + CHORD_PEER_DEAD_MS) {
        run_for(net, 10);
        assert_false(in_succ(net, 0, 100));
        assert_true(in_succ(net, 1, 100)); /* 50 reports it all along */
    }
    assert_int_equal(net->link_sent[0][2], to100);

    /* The window is over: 50's report brings 100 back, the detector
     * still holds it DEAD, and heartbeats probe it. */
    run_for(net, 1000);
    assert_true(in_succ(net, 0, 100));
    assert_int_equal(fd_state(net, 0, 2), CHORD_PEER_DEAD);
    assert_true(net->link_sent[0][2] > to100);

    /* The link heals: the answers to those heartbeats trust it again. */
    net->cut[0][2] = net->cut[2][0] = false;
    run_for(net, 500);
    assert_true(in_succ(net, 0, 100));
    assert_true(trusted(net, 0, 2));
    client(net, 0, CHORD_MSG_C_PUT, k200, "w");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    net_free(net);
}

/* (b) Anything heard from a peer found dead trusts it again at once, in
 * both notions: a request it sends, a late answer to nothing in flight,
 * and an answer to a request that went to another peer. Then it is back
 * in the successor list within a stabilize round, long before its window
 * would have ended. */
static void test_anything_heard_trusts_again(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 50, 100, 200};
    struct net *net = ring(pos, 4);
    char k200[16];
    key_owned_by(pos, 4, 200, k200, sizeof k200);
    net->cut[0][2] = net->cut[2][0] = true; /* 100 is silent to 10 */
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);

    /* A request from it: a PING. */
    chord_node_unreachable(net->node[0], net->now, net->addr[2]);
    run_for(net, 1000);
    assert_false(trusted(net, 0, 2));
    chord_msg_init(m, CHORD_MSG_PING, 4242);
    m->from = *chord_node_self(net->node[2]);
    assert_int_equal(deliver(net, 0, m), 0);
    assert_true(trusted(net, 0, 2));

    /* A late answer, to a request no longer in flight. */
    chord_node_unreachable(net->node[0], net->now, net->addr[2]);
    assert_false(trusted(net, 0, 2));
    chord_msg_init(m, CHORD_MSG_PONG, 987654321);
    m->from = *chord_node_self(net->node[2]);
    assert_int_equal(deliver(net, 0, m), 0);
    assert_true(trusted(net, 0, 2));

    /* An answer to a request that went to 200: it proves 100 alive (and
     * only that: the request still waits for 200). */
    chord_node_unreachable(net->node[0], net->now, net->addr[2]);
    assert_false(trusted(net, 0, 2));
    chord_msg_init(m, CHORD_MSG_C_PUT, 5);
    m->key.data = (const uint8_t *)k200;
    m->key.len = strlen(k200);
    m->value.data = (const uint8_t *)"v";
    m->value.len = 1;
    int before = net->replies;
    assert_int_equal(deliver(net, 0, m), 0);
    struct chord_msg *sent = calloc(1, sizeof(*sent));
    assert_non_null(sent);
    assert_true(queued(net, 0, 3, CHORD_MSG_STORE_PUT, sent) >= 0);
    chord_msg_init(m, CHORD_MSG_STORE_RESULT, sent->req_id);
    m->from = *chord_node_self(net->node[2]);
    m->status = CHORD_OK;
    assert_int_equal(deliver(net, 0, m), 0);
    assert_true(trusted(net, 0, 2));
    assert_int_equal(net->replies, before); /* not settled by 100 */
    pump(net);
    assert_int_equal(net->replies, before + 1);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    free(sent);

    /* Usable, so 50's report brings it back within a stabilize round
     * (the window would have lasted CHORD_PEER_DEAD_MS). */
    net->cut[0][2] = net->cut[2][0] = false;
    run_for(net, 600);
    assert_true(in_succ(net, 0, 100));
    free(m);
    net_free(net);
}

/* The LEAVE from 100 (node 2) to 200 (node 3) bounces. */
static enum net_fate refuse_leave_to_200(struct net *net, int from, int to,
                                         uint8_t type)
{
    (void)net;
    return from == 2 && to == 3 && type == CHORD_MSG_LEAVE ? NET_REFUSE
                                                           : NET_DELIVER;
}

/* (c) 100 leaves; its LEAVE reaches 50 but bounces off 200, which keeps
 * naming 100 as its predecessor until its own check of 100 fails. 50
 * forgot 100's history (not monitored, round trips gone) but shuns it for
 * the window: it never probes 100 on 200's word, nor takes it back. */
static void test_leaver_shunned_for_the_window(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 50, 100, 200};
    struct net *net = ring(pos, 4);
    assert_int_equal(pos_of(&rt(net, 1)->succ[0]), 100);
    net->fault = refuse_leave_to_200;
    chord_node_leave(net->node[2], net->now);
    pump(net);
    assert_int_equal(chord_node_state(net->node[2]), CHORD_NODE_LEFT);
    uint64_t t0 = net->now;
    assert_false(in_succ(net, 1, 100));
    assert_int_equal(pos_of(&rt(net, 3)->pred), 100); /* 200 did not hear */
    const struct chord_fd_peer *p =
        chord_fd_find(&net->node[1]->fd, net->addr[2]);
    assert_non_null(p);
    assert_false(p->monitored);
    assert_false(p->rtt_known);
    assert_true(dead_at(net, 1, 2));

    unsigned to100 = net->link_sent[1][2];
    bool reported = false; /* 200 named 100 as predecessor meanwhile */
    while (net->now + 10 < t0 + CHORD_PEER_DEAD_MS) {
        run_for(net, 10);
        reported = reported || pos_of(&rt(net, 3)->pred) == 100;
        assert_false(in_succ(net, 1, 100));
    }
    assert_true(reported);
    assert_int_equal(net->link_sent[1][2], to100);
    assert_int_equal(pos_of(&rt(net, 1)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 3)->pred), 50);
    net_free(net);
}

/* The LEAVE from 100 (node 2) to 200 (node 3) is lost. */
static enum net_fate lose_leave_to_200(struct net *net, int from, int to,
                                       uint8_t type)
{
    (void)net;
    return from == 2 && to == 3 && type == CHORD_MSG_LEAVE ? NET_LOSE
                                                           : NET_DELIVER;
}

/*
 * The same leave, but the LEAVE to 200 is lost, so 100 waits up to its request
 * timeout for 200's acknowledgement, still LEAVING. Meanwhile it keeps
 * sending heartbeats and answering GET_NEIGHBORS: its PING to 50 trusts it
 * again (anything heard does), 50 probes it on 200's word, 100 answers,
 * and 50 takes it back as successor ~300 ms after its LEAVE; when 100
 * then went silent (LEFT), 50 routed to it until its detector noticed.
 * Fixed: a leaver stops its heartbeats once it said LEAVE (ring_quiet).
 */
static void test_lingering_leaver_not_taken_back(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 50, 100, 200};
    struct net *net = ring(pos, 4);
    net->fault = lose_leave_to_200;
    chord_node_leave(net->node[2], net->now);
    pump(net);
    uint64_t t0 = net->now;
    assert_false(in_succ(net, 1, 100));
    while (net->now + 10 < t0 + CHORD_PEER_DEAD_MS) {
        run_for(net, 10);
        assert_false(in_succ(net, 1, 100));
    }
    assert_int_equal(chord_node_state(net->node[2]), CHORD_NODE_LEFT);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable_routed_around_for_the_window),
        cmocka_unit_test(test_anything_heard_trusts_again),
        cmocka_unit_test(test_leaver_shunned_for_the_window),
        cmocka_unit_test(test_lingering_leaver_not_taken_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
