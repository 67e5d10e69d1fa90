/*
 * test_membership.c - join and leave (membership.c): keys follow
 * ownership when a node joins, a graceful leave hands every key to the
 * successor, a join through an address nobody answers fails in bounded
 * time, and a rejoin nobody answers goes alone in bounded time.
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

/* Keys follow ownership when a node joins, and a node that does not own
 * a key redirects the coordinator instead of answering. */
static void test_join_moves_keys(void **state)
{
    struct chord_store_entry ev;
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    char key[16];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        client(net, i % 2, CHORD_MSG_C_PUT, key, key);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    add_node(net, 100);
    assert_int_equal(chord_node_join(net->node[2], net->now, net->addr[1]), 0);
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[2]), CHORD_NODE_ACTIVE);
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        const struct chord_store *st = chord_node_store(net->node[i]);
        size_t cur = 0;
        const struct chord_store_entry *e;
        while ((e = chord_store_next(st, &cur, &ev)) != NULL) {
            assert_true(chord_routing_owns(rt(net, i), &e->key_id));
            total++;
        }
    }
    assert_int_equal(total, 64);
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        client(net, (i + 1) % 3, CHORD_MSG_C_GET, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
        assert_memory_equal(net->last_reply.value.data, key, strlen(key));
    }
    net_free(net);
}

/* A graceful leave hands every key to the successor. */
static void test_leave_hands_off(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        client(net, i % 3, CHORD_MSG_C_PUT, key, key);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    chord_node_leave(net->node[1], net->now);
    for (int k = 0;
         k < 100 && chord_node_state(net->node[1]) != CHORD_NODE_LEFT; k++)
        run_for(net, 10);
    assert_int_equal(chord_node_state(net->node[1]), CHORD_NODE_LEFT);
    net->refused[1] = true;
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 2)->pred), 10);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        client(net, i % 2 ? 0 : 2, CHORD_MSG_C_GET, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    net_free(net);
}

/* Joining through an address nobody answers ends in FAILED, in bounded
 * time. */
static void test_join_unreachable_seed_fails(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 1);
    assert_int_equal(chord_node_join(net->node[0], net->now, "127.0.0.1:1"), 0);
    run_for(net, 10000);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_FAILED);
    net_free(net);
}

/* A rejoin whose peers are all silent (a whole ring restarting at once:
 * each is rejoining too and answers nobody) goes alone once no one has
 * answered for CHORD_REJOIN_MS, not after every attempt timed out (~10 s
 * with the default rpc timeout), and not before it tried. */
static void test_rejoin_silent_peers_goes_alone(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 1);
    add_node(net, 100);
    add_node(net, 200);
    net->down[1] = net->down[2] = true;
    const char *peers[] = {net->addr[1], net->addr[2]};
    assert_int_equal(chord_node_rejoin(net->node[0], net->now, peers, 2), 0);
    run_for(net, 2000);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_JOINING);
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_ACTIVE);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_moves_keys),
        cmocka_unit_test(test_leave_hands_off),
        cmocka_unit_test(test_join_unreachable_seed_fails),
        cmocka_unit_test(test_rejoin_silent_peers_goes_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
