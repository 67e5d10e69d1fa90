/*
 * test_lookup.c - recursive lookups (lookup.c): the path a lookup reports.
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

/* NEW TESTS */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
