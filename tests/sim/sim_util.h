/*
 * sim_util.h - what the simulator tests share: their seeded PRNG
 * (splitmix64), a simulator made from a seed and a loss rate that prints
 * every node's log (debug level) when CHORD_SIM_LOG is set in the
 * environment, and "is node i up and active". Header-only, so each test
 * binary stays one .c file; include it after <cmocka.h>.
 */
#ifndef CHORD_TEST_SIM_UTIL_H
#define CHORD_TEST_SIM_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"
#include "chord/sim.h"

static inline uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline struct chord_sim *test_sim_new(uint64_t seed, double loss)
{
    struct chord_sim_config cfg;
    chord_sim_config_default(&cfg);
    cfg.seed = seed;
    cfg.loss = loss;
    const char *log = getenv("CHORD_SIM_LOG");
    if (log && *log && strcmp(log, "0") != 0) {
        cfg.log_stderr = true;
        cfg.log_level = CHORD_LOG_DEBUG;
    }
    struct chord_sim *sim = NULL;
    assert_int_equal(chord_sim_new(&cfg, &sim), 0);
    assert_non_null(sim);
    return sim;
}

static inline bool sim_active(const struct chord_sim *sim, int i)
{
    return chord_sim_is_up(sim, i) &&
           chord_sim_state(sim, i) == CHORD_NODE_ACTIVE;
}

#endif
