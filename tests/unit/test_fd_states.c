/*
 * test_fd_states.c - the failure detector's state transitions
 * (src/core/fd.c), in a simulation against a scripted clock (fd_sim.h):
 * steady heartbeats with jittered round trips are never suspected; a
 * crash is suspected within heartbeat + timeout and declared dead
 * dead_after later; a late answer, even after DEAD, or any other message
 * makes the peer trusted again with a larger timeout; a peer reported
 * unreachable is dead at once, and its return is a restart, not a false
 * suspicion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

/* --- Healthy peers, crashes, false suspicions ---------------------------- */

static void test_steady_heartbeats_never_suspected(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, NULL, 42, true);
    for (int i = 0; i < 3; i++)
        sim_add(&s);
    sim_run(&s, s.now + 10 * 60 * 1000); /* 10 simulated minutes */
    assert_int_equal(s.n_log, 0);
    assert_int_equal(s.pauses, 0);
    assert_int_equal(s.revivals, 0);
    for (int i = 0; i < 3; i++) {
        const struct chord_fd_peer *p = sim_peer(&s, i);
        assert_int_equal(p->state, CHORD_PEER_ALIVE);
        assert_int_equal(p->false_suspicions, 0);
        assert_true(p->rtt_known);
        assert_true(p->srtt_ms >= 0.0 && p->srtt_ms <= 30.0);
        /* Loopback round trips leave the timeout at the floor. */
        assert_int_equal(chord_fd_timeout(&s.fd, p), 250);
        assert_true(chord_fd_usable(&s.fd, s.link[i].addr));
    }
    sim_free(&s);
}

/* Crash a link at every phase of the heartbeat period: each is suspected
 * within heartbeat + timeout (+1 ms: "older than" is strict on a 1 ms
 * clock), DEAD exactly dead_after later, and the mean meets the target. */
static void crash_detection(bool every_ms)
{
    uint64_t total = 0;
    int runs = 0;
    for (uint64_t phase = 0; phase < 200; phase += 7) {
        struct sim s;
        sim_init(&s, NULL, 1000 + phase, every_ms);
        int a = sim_add(&s);
        int b = sim_add(&s);
        sim_run(&s, 11000 + phase);
        uint64_t crash = s.now;
        uint32_t t = chord_fd_timeout(&s.fd, sim_peer(&s, a));
        uint32_t hb = s.fd.cfg.heartbeat_ms;
        sim_crash(&s, a);
        uint64_t sus = sim_run_until_state(&s, a, CHORD_PEER_SUSPECTED, 5000);
        assert_true(sus > crash);
        assert_true(sus - crash <= (uint64_t)hb + t + 1);
        assert_false(chord_fd_usable(&s.fd, s.link[a].addr));
        total += sus - crash;
        runs++;

        uint64_t dead = sim_run_until_state(&s, a, CHORD_PEER_DEAD, 5000);
        assert_int_equal(dead, sus + s.fd.cfg.dead_after_ms + 1);
        assert_int_equal(sim_count(&s, a, CHORD_PEER_SUSPECTED), 1);
        assert_int_equal(sim_count(&s, a, CHORD_PEER_DEAD), 1);
        /* The healthy neighbour is untouched. */
        assert_int_equal(sim_count(&s, b, CHORD_PEER_SUSPECTED), 0);
        assert_int_equal(sim_peer(&s, b)->state, CHORD_PEER_ALIVE);
        /* A dead peer stays dead and produces no more events. */
        sim_run(&s, s.now + 5000);
        assert_int_equal(s.n_log, 2);
        sim_free(&s);
    }
    /* The target: mean detection <= 0.5 s. */
    assert_true(total / (uint64_t)runs <= 500);
}

static void test_crash_detected_within_bound(void **state)
{
    (void)state;
    crash_detection(true);
    crash_detection(false);
}

static void test_late_answer_revives_with_larger_timeout(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, NULL, 7, true);
    int a = sim_add(&s);
    uint32_t before;
    slow_then_revived(&s, a, &before);
    const struct chord_fd_peer *p = sim_peer(&s, a);
    assert_int_equal(p->false_suspicions, 1);
    assert_true(chord_fd_usable(&s.fd, s.link[a].addr));
    uint32_t after = chord_fd_timeout(&s.fd, p);
    assert_true(after > before);
    assert_true(after >= 2 * before); /* the timeout at least doubles */

    /* Still slow, but the detector learned: no further suspicion. */
    sim_run(&s, s.now + 30000);
    assert_int_equal(p->false_suspicions, 1);
    assert_int_equal(sim_count(&s, a, CHORD_PEER_SUSPECTED), 1);
    assert_int_equal(p->state, CHORD_PEER_ALIVE);
    sim_free(&s);
}

/* A late answer to a peer already declared DEAD by timeout is also a false
 * suspicion; so is any message (rtt -1) from a suspected peer, and the
 * revived peer is not re-convicted by its old pending heartbeat. */
static void test_late_answer_after_dead_and_other_messages(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001";
    chord_fd_monitor(&fd, a, true, 100);
    chord_fd_heard(&fd, a, 1, 100);
    const struct chord_fd_peer *p = chord_fd_find(&fd, a);
    chord_fd_sent(&fd, a, 200);
    uint64_t t = 200;
    while (p->state != CHORD_PEER_DEAD && t < 5000)
        chord_fd_tick(&fd, t += 100, ev, 4);
    assert_int_equal(p->state, CHORD_PEER_DEAD);
    assert_false(p->refused);
    uint32_t before = chord_fd_timeout(&fd, p);
    assert_true(chord_fd_heard(&fd, a, (int64_t)(t - 200), t));
    assert_int_equal(p->state, CHORD_PEER_ALIVE);
    assert_int_equal(p->false_suspicions, 1);
    assert_true(chord_fd_timeout(&fd, p) >= 2 * before);

    /* Suspected again, then revived by an unrelated message. */
    chord_fd_sent(&fd, a, t);
    uint64_t sent = t;
    while (p->state == CHORD_PEER_ALIVE && t < sent + 20000)
        chord_fd_tick(&fd, t += 100, ev, 4);
    assert_int_equal(p->state, CHORD_PEER_SUSPECTED);
    before = chord_fd_timeout(&fd, p);
    assert_true(chord_fd_heard(&fd, a, -1, t));
    assert_int_equal(p->false_suspicions, 2);
    assert_int_equal(p->pending_since, 0);
    assert_true(chord_fd_timeout(&fd, p) >= 2 * before);
    assert_int_equal(chord_fd_tick(&fd, t + 1, ev, 4), 0);
    assert_int_equal(p->state, CHORD_PEER_ALIVE);

    /* An ALIVE peer's unrelated message leaves its heartbeat pending. */
    chord_fd_sent(&fd, a, t + 10);
    assert_false(chord_fd_heard(&fd, a, -1, t + 20));
    assert_int_equal(p->pending_since, t + 10);
    assert_false(chord_fd_heard(&fd, a, 5, t + 30));
    assert_int_equal(p->pending_since, 0);
    chord_fd_free(&fd);
}

/* --- Unreachable, monitoring, slots -------------------------------------- */

static void test_unreachable_is_dead_at_once(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001";
    chord_fd_monitor(&fd, a, true, 100);
    chord_fd_heard(&fd, a, 3, 100);
    chord_fd_sent(&fd, a, 200);
    uint32_t t0 = chord_fd_timeout(&fd, chord_fd_find(&fd, a));
    chord_fd_unreachable(&fd, a, 210);
    const struct chord_fd_peer *p = chord_fd_find(&fd, a);
    assert_int_equal(p->state, CHORD_PEER_DEAD);
    assert_true(p->refused);
    assert_false(chord_fd_usable(&fd, a));
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);
    for (uint64_t t = 300; t < 5000; t += 100)
        assert_int_equal(chord_fd_tick(&fd, t, ev, 4), 0);

    /* It restarted: trusted again, but that was no false suspicion. */
    assert_true(chord_fd_heard(&fd, a, -1, 6000));
    assert_int_equal(p->state, CHORD_PEER_ALIVE);
    assert_int_equal(p->false_suspicions, 0);
    assert_false(p->refused);
    assert_int_equal(chord_fd_timeout(&fd, p), t0);

    /* Suspected first, then refused: still a restart when it returns. */
    assert_int_equal(chord_fd_tick(&fd, 6000, ev, 4), -1); /* idle gap */
    chord_fd_sent(&fd, a, 6000);
    chord_fd_tick(&fd, 6300, ev, 4);
    assert_int_equal(p->state, CHORD_PEER_SUSPECTED);
    chord_fd_unreachable(&fd, a, 6400);
    assert_true(chord_fd_heard(&fd, a, -1, 7000));
    assert_int_equal(p->false_suspicions, 0);

    /* An unknown peer reported unreachable becomes known, and unusable. */
    const char *x = "127.0.0.1:7777";
    assert_true(chord_fd_usable(&fd, x));
    chord_fd_unreachable(&fd, x, 7000);
    assert_false(chord_fd_usable(&fd, x));
    assert_false(chord_fd_find(&fd, x)->monitored);
    chord_fd_free(&fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_heartbeats_never_suspected),
        cmocka_unit_test(test_crash_detected_within_bound),
        cmocka_unit_test(test_late_answer_revives_with_larger_timeout),
        cmocka_unit_test(test_late_answer_after_dead_and_other_messages),
        cmocka_unit_test(test_unreachable_is_dead_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
