/*
 * test_coord.c - client operations and the owner's side of store requests
 * (coord.c): a node that does not own a key redirects the coordinator,
 * and a coordinator remembers owner ranges, going straight to the owner
 * (and following its redirect once a join has split the range); a node
 * that does not serve clients (joining, leaving) redirects them to one
 * that does.
 *
 * Driven through the public node API on node_net's hand-driven network.
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

/* A store request for a key the node does not own gets REDIRECT. */
static void test_redirect_when_not_owner(void **state)
{
    struct chord_store_entry fv;
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    /* Find a key owned by 200 (in (10, 200]) and ask 10 to store it. */
    char key[16];
    struct chord_id kid;
    int i = 0;
    do {
        snprintf(key, sizeof(key), "x%d", i++);
        chord_id_hash(&kid, key, strlen(key));
    } while (!(kid.b[0] > 10 && kid.b[0] <= 200));
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_STORE_PUT, 9);
    m.from = *chord_node_self(net->node[1]);
    m.key.data = (const uint8_t *)key;
    m.key.len = strlen(key);
    m.value.data = (const uint8_t *)"v";
    m.value.len = 1;
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    net->down[1] = true; /* capture the answer instead of delivering it */
    assert_int_equal(
        chord_node_receive(net->node[0], net->now, 5, buf.data, buf.len), 0);
    chord_buf_free(&buf);
    assert_int_equal(net->qlen, 1);
    struct chord_msg r;
    r.status_out = NULL;
    assert_int_equal(chord_msg_decode(net->q[0].data, net->q[0].len, &r),
                     (ssize_t)net->q[0].len);
    assert_int_equal(r.type, CHORD_MSG_STORE_RESULT);
    assert_int_equal(r.status, CHORD_REDIRECT);
    assert_int_equal(pos_of(&r.hint), 200);
    assert_null(chord_store_find(chord_node_store(net->node[0]), key,
                                 strlen(key), &fv));
    net_free(net);
}

/* A node remembers the owner ranges its lookups found (FOUND_SUCC says
 * where the range starts): the next operation on a key of that range
 * goes straight to the owner, without a lookup. When a join has split
 * the range, the old owner redirects and the answer is still right. */
static void test_owner_range_cache(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 60, 100, 150, 200, 180};
    struct net *net = ring(pos, 5); /* 180 joins later */
    char k1[16], k2[16], k3[16];
    key_owned_by(pos, 5, 200, k1, sizeof k1); /* beyond 10's successors */
    key_owned_by(pos, 6, 180, k3, sizeof k3); /* 180 will take it */
    for (int k = 0;; k++) { /* a second key of 200's, in (180, 200) */
        snprintf(k2, sizeof k2, "other%d", k);
        struct chord_id id;
        chord_id_hash(&id, k2, strlen(k2));
        if (id.b[0] >= 180 && id.b[0] < 200)
            break;
    }

    unsigned finds = net->sent[CHORD_MSG_FIND_SUCC];
    client(net, 0, CHORD_MSG_C_PUT, k1, "one");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_FIND_SUCC] > finds); /* looked up */

    finds = net->sent[CHORD_MSG_FIND_SUCC];
    unsigned gets = net->sent[CHORD_MSG_STORE_GET];
    client(net, 0, CHORD_MSG_C_GET, k2, NULL);
    assert_int_equal(net->last_reply.status, CHORD_NOT_FOUND);
    client(net, 0, CHORD_MSG_C_GET, k1, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "one", 3);
    assert_int_equal(net->sent[CHORD_MSG_FIND_SUCC], finds); /* no lookup */
    assert_int_equal(net->sent[CHORD_MSG_STORE_GET], gets + 2);

    /* 180 joins and takes (150, 180] from 200; a key there, written
     * through another node, is read through 10, whose memory still says
     * 200 owns it: 200 redirects to 180. */
    add_node_r(net, 180, 1);
    assert_int_equal(chord_node_join(net->node[5], net->now, net->addr[1]), 0);
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[5]), CHORD_NODE_ACTIVE);
    client(net, 2, CHORD_MSG_C_PUT, k3, "three");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    gets = net->sent[CHORD_MSG_STORE_GET];
    client(net, 0, CHORD_MSG_C_GET, k3, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "three", 5);
    assert_int_equal(net->sent[CHORD_MSG_STORE_GET], gets + 2); /* 200, 180 */
    net_free(net);
}

/* Lose every TRANSFER: a joiner then waits for its keys, still JOINING. */
static enum net_fate lose_transfers(struct net *net, int from, int to,
                                    uint8_t type)
{
    (void)net;
    (void)from;
    (void)to;
    return type == CHORD_MSG_TRANSFER ? NET_LOSE : NET_DELIVER;
}

/* A node that does not serve clients names one that does: a joiner the
 * seed it joins through, then (once JOIN_ACK came) its successor; a leaver
 * its successor. Lookups are redirected alike; once active it serves. */
static void test_not_serving_redirects(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100};
    struct net *net = ring(pos, 2);
    int j = add_node(net, 50);
    net->fault = lose_transfers;
    assert_int_equal(chord_node_join(net->node[j], net->now, net->addr[0]), 0);
    client(net, j, CHORD_MSG_C_GET, "k", NULL);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_RESULT);
    assert_int_equal(net->last_reply.status, CHORD_REDIRECT);
    assert_string_equal(net->last_reply.hint.addr, net->addr[0]);
    assert_non_null(strstr(net->last_reply.error, "joining"));

    pump(net); /* the lookup, JOIN and JOIN_ACK; the keys are lost */
    assert_int_equal(chord_node_state(net->node[j]), CHORD_NODE_JOINING);
    client(net, j, CHORD_MSG_C_PUT, "k", "v");
    assert_int_equal(net->last_reply.status, CHORD_REDIRECT);
    assert_string_equal(net->last_reply.hint.addr, net->addr[1]);
    assert_int_equal(pos_of(&net->last_reply.hint), 100);
    client(net, j, CHORD_MSG_C_LOOKUP, "k", NULL);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_LOOKUP_RESULT);
    assert_int_equal(net->last_reply.status, CHORD_REDIRECT);
    assert_string_equal(net->last_reply.hint.addr, net->addr[1]);

    net->fault = NULL;
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[j]), CHORD_NODE_ACTIVE);
    client(net, j, CHORD_MSG_C_PUT, "k", "v");
    assert_int_equal(net->last_reply.status, CHORD_OK);

    /* 100 leaves: until it is gone it sends clients to its successor. */
    chord_node_leave(net->node[1], net->now);
    assert_int_equal(chord_node_state(net->node[1]), CHORD_NODE_LEAVING);
    client(net, 1, CHORD_MSG_C_GET, "k", NULL);
    assert_int_equal(net->last_reply.status, CHORD_REDIRECT);
    assert_int_equal(pos_of(&net->last_reply.hint), 10);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_when_not_owner),
        cmocka_unit_test(test_owner_range_cache),
        cmocka_unit_test(test_not_serving_redirects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
