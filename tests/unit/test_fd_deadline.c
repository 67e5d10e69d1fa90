/*
 * test_fd_deadline.c - chord_fd_next_deadline() is exact (src/core/fd.c),
 * and two properties over random schedules in the simulation of
 * fd_sim.h: with crashes, recoveries and slow spells a state changes iff
 * the clock reached next_deadline (sim_step checks it at every tick), and
 * a peer that always answers within its timeout is never suspected,
 * whatever the configuration, jitter and local stalls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

/* --- next_deadline ------------------------------------------------------- */

static void test_next_deadline_exact(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001";
    const char *b = "127.0.0.1:7002";
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);
    chord_fd_monitor(&fd, a, true, 100);
    chord_fd_monitor(&fd, b, true, 100);
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);
    chord_fd_heard(&fd, a, 10, 900);
    chord_fd_heard(&fd, b, 10, 900);
    chord_fd_sent(&fd, a, 1000);
    chord_fd_sent(&fd, a, 1200); /* only the oldest counts */
    uint64_t d = chord_fd_next_deadline(&fd);
    assert_int_equal(d, 1000 + 250 + 1);
    assert_int_equal(chord_fd_tick(&fd, d - 1, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_ALIVE);
    assert_int_equal(chord_fd_tick(&fd, d, ev, 4), 1);
    assert_string_equal(ev[0].addr, a);
    assert_int_equal(ev[0].state, CHORD_PEER_SUSPECTED);

    uint64_t d2 = chord_fd_next_deadline(&fd);
    assert_int_equal(d2, d + 1500 + 1);
    chord_fd_tick(&fd, d + 900, ev, 4); /* no pause in between */
    assert_int_equal(chord_fd_tick(&fd, d2 - 1, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_SUSPECTED);
    assert_int_equal(chord_fd_tick(&fd, d2, ev, 4), 1);
    assert_int_equal(ev[0].state, CHORD_PEER_DEAD);
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);

    /* Two changes due at once with room for one event: the second waits
     * for the next call, which its deadline says is now. */
    chord_fd_forget(&fd, a);
    chord_fd_monitor(&fd, a, true, d2);
    chord_fd_heard(&fd, a, 10, d2);
    chord_fd_sent(&fd, a, d2 + 10);
    chord_fd_sent(&fd, b, d2 + 10);
    uint64_t d3 = chord_fd_next_deadline(&fd);
    assert_int_equal(d3, d2 + 10 + 251);
    assert_int_equal(chord_fd_tick(&fd, d3, ev, 1), 1);
    assert_true(chord_fd_next_deadline(&fd) <= d3);
    assert_int_equal(chord_fd_tick(&fd, d3, ev, 1), 1);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_SUSPECTED);
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    assert_int_equal(chord_fd_next_deadline(&fd), d3 + 1501);
    chord_fd_free(&fd);
}

/* Random schedules with crashes, recoveries and slow spells (so that
 * penalties grow and decay), ticking every ms: sim_step() asserts at every
 * tick that a state changes iff the clock reached next_deadline. */
static void test_next_deadline_property(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        /* Half the runs with a short half-life, so that a decaying penalty
         * moves deadlines by whole ms between ticks. */
        struct chord_fd_config c;
        chord_fd_config_default(&c);
        if (seed % 4 == 0 || seed % 4 == 3)
            c.penalty_halflife_ms = 700;
        struct sim s;
        sim_init(&s, &c, seed, seed % 2 == 0);
        for (int i = 0; i < 4; i++)
            sim_add(&s);
        for (int k = 0; k < 60; k++) {
            int i = (int)rng_range(&s.rng, 0, 3);
            struct sim_link *l = &s.link[i];
            switch (rng_range(&s.rng, 0, 3)) {
            case 0:
                sim_crash(&s, i);
                break;
            case 1:
                l->up = true;
                l->rtt_lo_us = 100;
                l->rtt_hi_us = 30000;
                break;
            case 2:
                l->up = true;
                l->rtt_lo_us = 200000;
                l->rtt_hi_us = 1500000;
                break;
            default:
                chord_fd_heard(&s.fd, l->addr, -1, s.now);
                break;
            }
            sim_run(&s, s.now + rng_range(&s.rng, 100, 3000));
        }
        assert_true(s.n_log > 0); /* the schedule did exercise changes */
        sim_free(&s);
    }
}

/* --- Property: answering within the timeout means never suspected ------- */

static void test_property_answering_within_timeout(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 120; seed++) {
        uint64_t r = seed;
        struct chord_fd_config c;
        chord_fd_config_default(&c);
        c.heartbeat_ms = (uint32_t)rng_range(&r, 20, 500);
        c.floor_ms = (uint32_t)rng_range(&r, 10, 400);
        c.ceil_ms = (uint32_t)rng_range(&r, c.floor_ms, 4000);
        c.initial_ms = (uint32_t)rng_range(&r, 10, 2000);
        c.dead_after_ms = (uint32_t)rng_range(&r, 1, 2000);
        c.pause_ms = 0; /* 5 heartbeats */
        struct sim s;
        sim_init(&s, &c, seed, seed % 4 == 0);
        s.send_jitter = (uint32_t)rng_range(&r, 0, c.heartbeat_ms / 2);
        int n = (int)rng_range(&r, 1, 4);
        for (int i = 0; i < n; i++)
            s.link[sim_add(&s)].mode = SIM_RTT_WITHIN;
        /* Sometimes a crashing neighbour, to mix events in. */
        int crashing = seed % 3 == 0 ? sim_add(&s) : -1;
        if (crashing >= 0)
            s.link[crashing].mode = SIM_RTT_WITHIN;
        uint64_t end = s.now + (seed % 4 == 0 ? 8000 : 30000);
        while (s.now < end) {
            uint64_t step = rng_range(&r, 1, 2000);
            sim_run(&s, s.now + step);
            switch (rng_range(&r, 0, 9)) {
            case 0: /* a local stall of this node */
                s.now += s.fd.cfg.pause_ms + rng_range(&r, 1, 3000);
                break;
            case 1: /* some other message from a healthy peer */
                chord_fd_heard(&s.fd,
                               s.link[rng_range(&r, 0, (uint64_t)n - 1)].addr,
                               -1, s.now);
                break;
            case 2:
                if (crashing >= 0)
                    sim_crash(&s, crashing);
                break;
            default:
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            const struct chord_fd_peer *p = sim_peer(&s, i);
            assert_int_equal(sim_count(&s, i, CHORD_PEER_SUSPECTED), 0);
            assert_int_equal(p->state, CHORD_PEER_ALIVE);
            assert_int_equal(p->false_suspicions, 0);
            assert_true(p->rtt_known);
        }
        assert_int_equal(s.revivals, 0);
        sim_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_deadline_exact),
        cmocka_unit_test(test_next_deadline_property),
        cmocka_unit_test(test_property_answering_within_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
