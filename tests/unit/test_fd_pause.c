/*
 * test_fd_pause.c - the failure detector's local pause guard
 * (src/core/fd.c): when the node itself stalled (a tick after more than
 * pause_ms), no one is suspected or promoted to DEAD for the gap, real
 * failures are still found counting from the end of the pause, and random
 * short stalls inside the simulation (fd_sim.h) convict no one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

/* --- Local pause --------------------------------------------------------- */

static void test_local_pause_convicts_no_one(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001"; /* healthy, answer queued in the pause */
    const char *b = "127.0.0.1:7002"; /* crashed, suspected before the pause */
    const char *c = "127.0.0.1:7003"; /* crashes during the pause */
    chord_fd_monitor(&fd, a, true, 100);
    chord_fd_monitor(&fd, b, true, 100);
    chord_fd_monitor(&fd, c, true, 100);
    chord_fd_heard(&fd, a, 1, 100);
    chord_fd_heard(&fd, b, 1, 100);
    chord_fd_heard(&fd, c, 1, 100);
    chord_fd_sent(&fd, b, 200);
    uint64_t t = 200;
    while (chord_fd_find(&fd, b)->state == CHORD_PEER_ALIVE)
        assert_true(chord_fd_tick(&fd, t += 50, ev, 4) >= 0);
    assert_int_equal(t, 500); /* 300 ms > 250 ms timeout */
    chord_fd_sent(&fd, a, 600);
    chord_fd_sent(&fd, c, 600);
    assert_int_equal(chord_fd_tick(&fd, 600, ev, 4), 0);

    /* The node stalls for 5 s. */
    uint64_t wake = 5600;
    assert_int_equal(chord_fd_tick(&fd, wake, ev, 4), -1);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_ALIVE);
    assert_int_equal(chord_fd_find(&fd, c)->state, CHORD_PEER_ALIVE);
    /* Suspected for 5.1 s > dead_after, yet not promoted by the pause. */
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    assert_int_equal(chord_fd_find(&fd, a)->pending_since, wake);
    assert_int_equal(chord_fd_find(&fd, b)->state_since, wake);
    /* The queued answer is read after the tick: no false suspicion. */
    assert_false(chord_fd_heard(&fd, a, (int64_t)(wake - 600), wake));
    assert_int_equal(chord_fd_find(&fd, a)->false_suspicions, 0);

    /* Real failures are still found, counting from the end of the pause. */
    assert_int_equal(chord_fd_next_deadline(&fd), wake + 251);
    assert_int_equal(chord_fd_tick(&fd, wake + 250, ev, 4), 0);
    assert_int_equal(chord_fd_tick(&fd, wake + 251, ev, 4), 1);
    assert_string_equal(ev[0].addr, c);
    assert_int_equal(ev[0].state, CHORD_PEER_SUSPECTED);
    assert_int_equal(chord_fd_tick(&fd, wake + 1000, ev, 4), 0);
    assert_int_equal(chord_fd_tick(&fd, wake + 1501, ev, 4), 1);
    assert_string_equal(ev[0].addr, b);
    assert_int_equal(ev[0].state, CHORD_PEER_DEAD);

    /* The boundary: a gap of exactly pause_ms is not a pause, one more ms
     * is. */
    uint64_t last = wake + 1501;
    assert_true(chord_fd_tick(&fd, last + fd.cfg.pause_ms, ev, 4) >= 0);
    last += fd.cfg.pause_ms;
    assert_int_equal(chord_fd_tick(&fd, last + fd.cfg.pause_ms + 1, ev, 4), -1);
    chord_fd_free(&fd);
}

/* Random short stalls of the node inside the simulation are harmless. */
static void test_local_pause_in_simulation(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, NULL, 5, false);
    for (int i = 0; i < 3; i++)
        sim_add(&s);
    for (int k = 0; k < 20; k++) {
        sim_run(&s, s.now + 3000);
        s.now += 5000; /* the node is stopped: nothing runs for 5 s */
    }
    sim_run(&s, s.now + 3000);
    assert_int_equal(s.pauses, 20);
    assert_int_equal(s.n_log, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sim_peer(&s, i)->false_suspicions, 0);
    sim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_pause_convicts_no_one),
        cmocka_unit_test(test_local_pause_in_simulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
