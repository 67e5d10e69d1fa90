/*
 * test_sim_static.c - chord_sim_start_static(): N nodes started at once in
 * an exact ring (successors, predecessors, every finger) without a join;
 * it stays exact while the nodes run their timers, lookups from any node
 * reach the true owner in few hops, a node joining later through the
 * protocol is taken in, puts and gets work, and the same seed gives the
 * same run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_util.h"

#include "chord/node.h"
#include "chord/sim.h"

#define N 64
#define LOOKUPS 100

/* A sim with n nodes started statically; the ring must be exact at once. */
static struct chord_sim *static_ring(uint64_t seed, int n)
{
    struct chord_sim *sim = test_sim_new(seed, 0.0);
    for (int i = 0; i < n; i++)
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), i);
    assert_int_equal(chord_sim_start_static(sim), 0);
    char err[256];
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong != 0)
        fail_msg("static ring: %d wrong entries; first: %s", wrong, err);
    for (int i = 0; i < n; i++)
        assert_true(sim_active(sim, i));
    return sim;
}

static uint64_t events(const struct chord_sim *sim)
{
    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    return st.events;
}

static void test_static_ring_exact_and_stable(void **state)
{
    (void)state;
    struct chord_sim *sim = static_ring(7, N);
    uint64_t events_before = events(sim);
    chord_sim_run_for(sim, 5000);
    char err[256];
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong != 0)
        fail_msg("after 5 s: %d wrong entries; first: %s", wrong, err);
    /* The nodes did run: stabilize and fix_fingers sent messages. */
    assert_true(events(sim) > events_before + N * 10);

    uint64_t rs = 99;
    struct chord_lookup_result *res = calloc(1, sizeof *res);
    assert_non_null(res);
    for (int k = 0; k < LOOKUPS; k++) {
        char key[32];
        snprintf(key, sizeof key, "static-%d", k);
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        int via = (int)(rnd(&rs) % N);
        int owner = chord_sim_owner(sim, &kid);
        assert_int_equal(chord_sim_lookup(sim, via, key, strlen(key), res),
                         CHORD_OK);
        assert_string_equal(res->owner.addr, chord_sim_peer(sim, owner)->addr);
        if (res->hops > 6 + 3) /* log2(64) + slack */
            fail_msg("lookup %s via %d took %u hops", key, via, res->hops);
    }
    free(res);
    chord_sim_free(sim);
}

static void test_static_ring_takes_joins_and_data(void **state)
{
    (void)state;
    struct chord_sim *sim = static_ring(8, N);
    assert_int_equal(chord_sim_put(sim, 3, "k", 1, "v", 1), CHORD_OK);
    int j = chord_sim_add_node(sim, NULL, NULL);
    assert_int_equal(j, N);
    assert_int_equal(chord_sim_join(sim, j, 5), 0);
    chord_sim_run_for(sim, 10000);
    assert_true(sim_active(sim, j));
    char err[256];
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong != 0)
        fail_msg("after a join: %d wrong entries; first: %s", wrong, err);
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(chord_sim_get(sim, j, "k", 1, &v, &len), CHORD_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(v, "v", 1);
    free(v);
    /* Nothing left to start: a second call is refused. */
    assert_int_equal(chord_sim_start_static(sim), -EINVAL);
    chord_sim_free(sim);
}

static void test_static_same_seed_same_run(void **state)
{
    (void)state;
    uint64_t digest[2];
    for (int r = 0; r < 2; r++) {
        struct chord_sim *sim = static_ring(11, 40);
        chord_sim_run_for(sim, 3000);
        struct chord_sim_stats st;
        chord_sim_stats(sim, &st);
        digest[r] = st.digest;
        chord_sim_free(sim);
    }
    assert_true(digest[0] == digest[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_ring_exact_and_stable),
        cmocka_unit_test(test_static_ring_takes_joins_and_data),
        cmocka_unit_test(test_static_same_seed_same_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
