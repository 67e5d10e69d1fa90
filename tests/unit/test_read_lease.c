/*
 * test_read_lease.c - the owner's read lease (read_lease.c): a quorum
 * read is answered from the owner's own copy only while its proof of
 * ownership is fresh and it has synced with its replicas; the lease lapses
 * on silence, on a stall of the owner, and when its range changes.
 *
 * Driven through the public node API on node_net's hand-driven network;
 * REPLICA_GET frames counted show whether the owner answered alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "node_net.h"

/* The owner's lease (replica.c): once the owner has synced its range
 * with both replicas, a quorum read is answered from its own copy, with
 * no REPLICA_GET; the lease lapses when its successor has not answered
 * for most of the failure detector's floor (before the successor could
 * suspect it and take the range), and starts over when the range changes,
 * until the owner has synced again. Reads stay correct throughout. */
static void test_owner_lease(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200, 50};
    struct net *net = ring_r(pos, 3, 3); /* 50 joins later */
    char key[16];
    key_owned_by(pos, 4, 100, key, sizeof key); /* in (50, 100] */
    client(net, 1, CHORD_MSG_C_PUT, key, "v1");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    run_for(net, 3000); /* sync rounds with both replicas */

    unsigned asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The successor (200) freezes. 230 ms later it has not suspected us
     * yet (its timeout is at least 250 ms), but our proof is too old: the
     * read asks the replicas again (200, then 10 by hedging). */
    net->down[2] = true;
    run_for(net, 230);
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    net->down[2] = false;
    run_for(net, 2000);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The owner itself freezes for 300 ms (its successor could suspect
     * it and take writes meanwhile): the first read after it resumes asks
     * a replica again; once it has synced with both replicas (it asks
     * them at once) the lease is back. */
    net->down[1] = true;
    run_for(net, 300);
    net->down[1] = false;
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    run_for(net, 500); /* the catch-up syncs, not the 1 s rounds */
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The same freeze, but one replica (10) is silent when the owner
     * resumes: the successor's heartbeat answers make the proof fresh at
     * once, yet without a sync with 10 the lease must not come back. */
    net->down[1] = true;
    run_for(net, 300);
    net->down[1] = false;
    net->down[0] = true;
    run_for(net, 50);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    net->down[0] = false;
    run_for(net, 1500);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* 50 joins: 100's range shrinks to (50, 100], so its lease starts
     * over; until it has synced again, reads ask a replica. */
    add_node_r(net, 50, 3);
    assert_int_equal(chord_node_join(net->node[3], net->now, net->addr[0]), 0);
    for (int k = 0;
         k < 100 && !(rt(net, 1)->has_pred && pos_of(&rt(net, 1)->pred) == 50);
         k++)
        run_for(net, 10);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 50);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    run_for(net, 500); /* the catch-up syncs, not the 1 s rounds */
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
