/*
 * test_dht_sim.c - the simulator hooks that dht-sim is built on, each
 * checked on a small ring where the right answer is known:
 *  (a) chord_sim_run_events() stops after K events, before the target
 *      time, and otherwise behaves as chord_sim_run_until();
 *  (b) chord_sim_check_invariant() holds on a healthy ring and names the
 *      member whose whole successor list crashed;
 *  (c) the ring oracle's cached order follows membership at once: after
 *      the owner of a key crashes, chord_sim_owner() names its successor;
 *      chord_sim_check_successors() sees the hole, as does check_ring;
 *  (d) chord_sim_set_loss() refuses bad probabilities and, set near 1,
 *      drops messages.
 *
 * The command-line tool itself is tested by tests/system/test_dht_sim.py.
 * Everything runs in simulated time; nothing sleeps.
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

#include "chord/node.h"
#include "chord/sim.h"
#include "core/routing.h"

#define RING 12         /* nodes in the test ring */
#define SUCCESSORS 2    /* small, so a crash can empty a list */
#define JOIN_GAP_MS 300 /* between two joins */
#define SETTLE_MAX_MS 30000

static struct chord_sim *ring_make(uint64_t seed)
{
    struct chord_sim_config cfg;
    chord_sim_config_default(&cfg);
    cfg.seed = seed;
    struct chord_sim *sim = NULL;
    assert_int_equal(chord_sim_new(&cfg, &sim), 0);
    struct chord_node_config nc;
    for (int i = 0; i < RING; i++) {
        chord_node_config_default(&nc);
        nc.successors = SUCCESSORS;
        nc.replicas = 1;
        nc.seed = seed * 100 + (uint64_t)i;
        nc.log_level = CHORD_LOG_ERROR;
        assert_int_equal(chord_sim_add_node(sim, &nc, NULL), i);
        if (i == 0)
            assert_int_equal(chord_sim_create(sim, 0), 0);
        else
            assert_int_equal(chord_sim_join(sim, i, i - 1), 0);
        chord_sim_run_for(sim, JOIN_GAP_MS);
    }
    char err[256];
    uint64_t t0 = chord_sim_now(sim);
    while (chord_sim_check_ring(sim, err, sizeof err) != 0 &&
           chord_sim_now(sim) - t0 < SETTLE_MAX_MS)
        chord_sim_run_for(sim, 250);
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong)
        fail_msg("ring of %d not exact: %d wrong; first: %s", RING, wrong, err);
    return sim;
}

/* Index of the node at peer p's address. */
static int index_of(const struct chord_sim *sim, const struct chord_peer *p)
{
    int i = chord_sim_find(sim, p->addr);
    assert_true(i >= 0);
    return i;
}

/* ---- (a) run_events ------------------------------------------------------ */

static void test_run_events(void **state)
{
    (void)state;
    struct chord_sim *sim = ring_make(3);
    struct chord_sim_stats a, b;
    chord_sim_stats(sim, &a);
    uint64_t t0 = chord_sim_now(sim);
    uint64_t target = t0 + 2000;

    /* A ring of 12 makes far more than 10 events in 2 s: the call stops
     * after exactly 10, with the clock short of the target. */
    assert_int_equal(chord_sim_run_events(sim, target, 10), 10);
    chord_sim_stats(sim, &b);
    assert_int_equal(b.events - a.events, 10);
    assert_true(chord_sim_now(sim) < target);

    /* With room to spare it runs everything due and lands on the target. */
    uint64_t n = chord_sim_run_events(sim, target, UINT64_MAX);
    assert_true(n > 0);
    assert_int_equal(chord_sim_now(sim), target);
    chord_sim_stats(sim, &a);
    assert_int_equal(a.events - b.events, n);

    /* Nothing due: zero events, the clock still moves to the target. */
    assert_int_equal(chord_sim_run_events(sim, target, 0), 0);
    assert_int_equal(chord_sim_now(sim), target);
    chord_sim_free(sim);
}

/* ---- (b) the invariant checker ------------------------------------------ */

static void test_invariant(void **state)
{
    (void)state;
    struct chord_sim *sim = ring_make(5);
    char err[256];
    unsigned members = 0;
    assert_int_equal(chord_sim_check_invariant(sim, err, sizeof err, &members),
                     0);
    assert_int_equal(members, RING);
    assert_string_equal(err, "");

    /* Crash both entries of node 0's successor list: node 0 is then a
     * member with no live successor, which the checker must name. */
    const struct chord_routing *rt = chord_node_routing(chord_sim_node(sim, 0));
    assert_int_equal(rt->n_succ, SUCCESSORS);
    int s0 = index_of(sim, &rt->succ[0]);
    int s1 = index_of(sim, &rt->succ[1]);
    assert_int_equal(chord_sim_crash(sim, s0), 0);
    assert_int_equal(chord_sim_check_invariant(sim, err, sizeof err, &members),
                     0); /* one live entry is enough */
    assert_int_equal(chord_sim_crash(sim, s1), 0);
    int bad = chord_sim_check_invariant(sim, err, sizeof err, &members);
    assert_true(bad >= 1);
    assert_int_equal(members, RING - 2);
    assert_non_null(strstr(err, chord_sim_peer(sim, 0)->addr));

    /* A lone member breaks nothing. */
    struct chord_sim_config cfg;
    chord_sim_config_default(&cfg);
    struct chord_sim *one = NULL;
    assert_int_equal(chord_sim_new(&cfg, &one), 0);
    assert_int_equal(chord_sim_add_node(one, NULL, NULL), 0);
    assert_int_equal(chord_sim_create(one, 0), 0);
    assert_int_equal(chord_sim_check_invariant(one, err, sizeof err, NULL), 0);
    chord_sim_free(one);
    chord_sim_free(sim);
}

/* ---- (c) the oracle follows membership at once --------------------------- */

static void test_oracle_cache(void **state)
{
    (void)state;
    struct chord_sim *sim = ring_make(9);
    struct chord_id key;
    chord_id_hash(&key, "some key", 8);
    int owner = chord_sim_owner(sim, &key);
    assert_true(owner >= 0);
    assert_int_equal(chord_sim_owner(sim, &key), owner); /* cached: same */

    /* The next owner is the owner's successor (an exact ring). */
    const struct chord_routing *rt =
        chord_node_routing(chord_sim_node(sim, owner));
    int next = index_of(sim, &rt->succ[0]);
    assert_int_equal(chord_sim_crash(sim, owner), 0);
    assert_int_equal(chord_sim_owner(sim, &key), next);

    /* Both checkers see the hole the crash left. */
    char err[256];
    assert_true(chord_sim_check_successors(sim, err, sizeof err) > 0);
    assert_true(chord_sim_check_ring(sim, err, sizeof err) > 0);

    /* And both agree again once the ring has repaired itself. */
    uint64_t t0 = chord_sim_now(sim);
    while (chord_sim_check_ring(sim, err, sizeof err) != 0 &&
           chord_sim_now(sim) - t0 < SETTLE_MAX_MS)
        chord_sim_run_for(sim, 250);
    assert_int_equal(chord_sim_check_ring(sim, err, sizeof err), 0);
    assert_int_equal(chord_sim_check_successors(sim, err, sizeof err), 0);
    chord_sim_free(sim);
}

/* ---- (d) set_loss ------------------------------------------------------ */

static void test_set_loss(void **state)
{
    (void)state;
    struct chord_sim *sim = ring_make(11);
    assert_int_equal(chord_sim_set_loss(sim, -0.1), -EINVAL);
    assert_int_equal(chord_sim_set_loss(sim, 1.0), -EINVAL);
    struct chord_sim_stats a, b;
    chord_sim_stats(sim, &a);
    chord_sim_run_for(sim, 1000);
    chord_sim_stats(sim, &b);
    assert_int_equal(b.dropped, a.dropped); /* lossless by default */
    assert_int_equal(chord_sim_set_loss(sim, 0.99), 0);
    chord_sim_run_for(sim, 1000);
    chord_sim_stats(sim, &a);
    assert_true(a.dropped - b.dropped > 100);
    assert_int_equal(chord_sim_set_loss(sim, 0.0), 0);
    chord_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_events),
        cmocka_unit_test(test_invariant),
        cmocka_unit_test(test_oracle_cache),
        cmocka_unit_test(test_set_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
