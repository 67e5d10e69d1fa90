/*
 * test_replica_batch.c - replicated writes coalesced per replica
 * (replica_batch.c): the copies of the writes an owner takes in one turn
 * of its host go to each replica as ONE TRANSFER frame carrying them all,
 * acknowledged once; each write still succeeds or fails on its own, as
 * it did with one frame per write: a lost acknowledgement fails every
 * write that needed it, at its deadline.
 *
 * Driven through the public node API on node_net's hand-driven network,
 * with `hold` set so that several client requests make one turn.
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

#define NKEYS 10

static const uint8_t pos[] = {10, 100, 200};

/* NKEYS keys owned by the node at 100. */
static void keys_of_100(char keys[NKEYS][16])
{
    int found = 0;
    for (int k = 0; found < NKEYS; k++) {
        snprintf(keys[found], 16, "bk%d", k);
        struct chord_id id;
        chord_id_hash(&id, keys[found], strlen(keys[found]));
        if (owner_pos(pos, 3, &id) == 100)
            found++;
    }
}

/* Hand node i a C_PUT of key=key at `consistency` on connection 1, as
 * one more frame of the current turn (nothing is flushed). */
static void put_in_turn(struct net *net, int i, const char *key, uint64_t req,
                        uint8_t consistency)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_PUT, req);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    m->value.data = (const uint8_t *)"val";
    m->value.len = 3;
    m->consistency = consistency;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_msg_encode(m, &b), 0);
    assert_int_equal(
        chord_node_receive(net->node[i], net->now, 1, b.data, b.len), 0);
    chord_buf_free(&b);
    free(m);
}

/* Queued frames of `type` from node `from` to node `to`. */
static int count_queued(struct net *net, int from, int to, uint8_t type)
{
    int k = 0;
    for (int j = 0; j < net->qlen; j++)
        if ((int)net->q[j].conn == from && net->q[j].to == to &&
            net->q[j].len > 5 && net->q[j].data[5] == type)
            k++;
    return k;
}

static uint64_t puts_with(struct chord_node *node, uint8_t status)
{
    struct chord_node_metrics m;
    chord_node_metrics(node, &m);
    return m.client_requests[0][status]; /* C_PUT is the first op */
}

/* The ring 10, 100, 200 (r = 3), NKEYS keys of 100's in keys, and the
 * net holding turns open (nothing flushed but by the test). */
static struct net *ring_holding(char keys[NKEYS][16])
{
    struct net *net = ring_r(pos, 3, 3);
    keys_of_100(keys);
    net->hold = true;
    return net;
}

/* Both replicas of 100 (10 and 200) hold every key. */
static void assert_replicas_hold(struct net *net, char keys[NKEYS][16])
{
    struct chord_store_entry fv;
    for (int r = 0; r <= 2; r += 2)
        for (int k = 0; k < NKEYS; k++)
            assert_non_null(chord_store_find(chord_node_store(net->node[r]),
                                             keys[k], strlen(keys[k]), &fv));
}

/* The owner takes NKEYS puts in one turn: nothing goes to the replicas
 * until the turn ends; then each replica gets ONE frame with the NKEYS
 * copies, acknowledges it once, and every put succeeds with its quorum. */
static void test_one_frame_per_replica(void **state)
{
    (void)state;
    char keys[NKEYS][16];
    struct net *net = ring_holding(keys);
    unsigned acks_before = net->sent[CHORD_MSG_TRANSFER_ACK];
    for (int k = 0; k < NKEYS; k++)
        put_in_turn(net, 1, keys[k], 100 + (uint64_t)k,
                    CHORD_CONSISTENCY_DEFAULT);
    assert_int_equal(count_queued(net, 1, 0, CHORD_MSG_TRANSFER), 0);
    assert_int_equal(count_queued(net, 1, 2, CHORD_MSG_TRANSFER), 0);
    assert_true(chord_node_next_deadline(net->node[1]) <= net->now);

    /* The turn ends. */
    assert_int_equal(chord_node_flush(net->node[1], net->now), 2);
    assert_int_equal(chord_node_flush(net->node[1], net->now), 0);
    for (int r = 0; r <= 2; r += 2) {
        assert_int_equal(count_queued(net, 1, r, CHORD_MSG_TRANSFER), 1);
        struct chord_msg *m = calloc(1, sizeof(*m));
        assert_non_null(m);
        assert_true(queued(net, 1, r, CHORD_MSG_TRANSFER, m) >= 0);
        assert_int_equal(m->n_items, NKEYS);
        assert_int_equal(m->flags,
                         CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST);
        free(m);
    }
    assert_int_equal(puts_with(net->node[1], CHORD_OK), 0);

    net->hold = false;
    pump(net);
    assert_int_equal(net->sent[CHORD_MSG_TRANSFER_ACK] - acks_before, 2);
    assert_int_equal(puts_with(net->node[1], CHORD_OK), NKEYS);
    assert_replicas_hold(net, keys);
    struct chord_node_metrics mt;
    chord_node_metrics(net->node[1], &mt);
    assert_int_equal(mt.replica_items_sent - mt.replica_frames_sent,
                     2 * (NKEYS - 1));
    net_free(net);
}

static enum net_fate lose_acks_of_200(struct net *net, int from, int to,
                                      uint8_t type)
{
    (void)net;
    (void)to;
    return from == 2 && type == CHORD_MSG_TRANSFER_ACK ? NET_LOSE : NET_DELIVER;
}

/* Writes at consistency ALL need both replicas. The one acknowledgement
 * of the replica at 200 is lost: each of the NKEYS writes fails on its
 * own at its deadline (the client is told the write is short of
 * copies), though both replicas hold every copy. */
static void test_lost_ack_fails_each(void **state)
{
    (void)state;
    char keys[NKEYS][16];
    struct net *net = ring_holding(keys);
    net->fault = lose_acks_of_200;
    int replies = net->replies;
    for (int k = 0; k < NKEYS; k++)
        put_in_turn(net, 1, keys[k], 200 + (uint64_t)k, CHORD_CONSISTENCY_ALL);
    assert_int_equal(chord_node_flush(net->node[1], net->now), 2);
    net->hold = false;
    pump(net);
    assert_int_equal(net->replies, replies); /* all wait for 200 */
    for (int k = 0; k < 100 && net->replies < replies + NKEYS; k++)
        run_for(net, 100);
    assert_int_equal(net->replies, replies + NKEYS);
    assert_int_equal(puts_with(net->node[1], CHORD_OK), 0);
    assert_int_equal(puts_with(net->node[1], CHORD_UNAVAILABLE), NKEYS);
    assert_int_equal(net->last_reply.status, CHORD_UNAVAILABLE);
    assert_non_null(strstr(net->last_reply.error, "replicas"));
    assert_replicas_hold(net, keys);
    net_free(net);
}

/* A host that never calls chord_node_flush(): the copies held go out at
 * the next tick, which the deadline asks for at once. */
static void test_tick_sends_what_is_held(void **state)
{
    (void)state;
    char keys[NKEYS][16];
    struct net *net = ring_holding(keys);
    for (int k = 0; k < 3; k++)
        put_in_turn(net, 1, keys[k], 300 + (uint64_t)k,
                    CHORD_CONSISTENCY_DEFAULT);
    uint64_t due = chord_node_next_deadline(net->node[1]);
    assert_true(due <= net->now);
    chord_node_tick(net->node[1], net->now);
    assert_int_equal(count_queued(net, 1, 2, CHORD_MSG_TRANSFER), 1);
    assert_int_equal(chord_node_flush(net->node[1], net->now), 0);
    net->hold = false;
    pump(net);
    assert_int_equal(puts_with(net->node[1], CHORD_OK), 3);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame_per_replica),
        cmocka_unit_test(test_lost_ack_fails_each),
        cmocka_unit_test(test_tick_sends_what_is_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
