/*
 * test_fd.c - the failure detector's timeout (src/core/fd.c): the
 * configuration and its defaults, the RFC 6298 numbers (SRTT, RTTVAR, the
 * clock granularity, floor and ceiling), and the penalty a false
 * suspicion adds: it doubles the timeout from the floor up to the
 * ceiling, halves every half-life of good behaviour, and does not decay
 * while the peer is suspected.
 *
 * State transitions are in test_fd_states.c, the local pause guard in
 * test_fd_pause.c, the peer table in test_fd_table.c, next_deadline and
 * the properties over random schedules in test_fd_deadline.c. The
 * simulated host and links are in fd_sim.h; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

/* --- RFC 6298 numerics and configuration -------------------------------- */

static void test_config_defaults(void **state)
{
    (void)state;
    struct chord_fd_config c;
    chord_fd_config_default(&c);
    assert_int_equal(c.heartbeat_ms, 200);
    assert_int_equal(c.floor_ms, 250);
    assert_int_equal(c.ceil_ms, 10000);
    assert_int_equal(c.initial_ms, 1000);
    assert_int_equal(c.dead_after_ms, 1500);
    assert_int_equal(c.penalty_halflife_ms, 60000);
    assert_int_equal(c.pause_ms, 5 * c.heartbeat_ms);

    /* Zero fields take defaults; pause follows the given heartbeat; a
     * ceiling under the floor is raised to it. */
    struct chord_fd fd;
    struct chord_fd_config z;
    memset(&z, 0, sizeof(z));
    z.heartbeat_ms = 100;
    z.floor_ms = 300;
    z.ceil_ms = 200;
    chord_fd_init(&fd, &z);
    assert_int_equal(fd.cfg.pause_ms, 500);
    assert_int_equal(fd.cfg.ceil_ms, 300);
    assert_int_equal(fd.cfg.initial_ms, 1000);
    assert_int_equal(fd.cfg.dead_after_ms, 1500);
    assert_int_equal(chord_fd_timeout(&fd, NULL), 300);

    chord_fd_free(&fd);
    chord_fd_init(&fd, NULL);
    assert_int_equal(fd.cfg.floor_ms, 250);
    assert_int_equal(chord_fd_timeout(&fd, NULL), 1000);
    chord_fd_free(&fd);
}

static void test_rto_numerics(void **state)
{
    (void)state;
    struct chord_fd fd;
    struct chord_fd_config c;
    chord_fd_config_default(&c);
    c.floor_ms = 1; /* show the raw RTO */
    c.ceil_ms = 100000;
    chord_fd_init(&fd, &c);
    const char *a = "127.0.0.1:7001";
    chord_fd_monitor(&fd, a, true, 10);
    const struct chord_fd_peer *p = chord_fd_find(&fd, a);
    assert_non_null(p);
    assert_false(p->rtt_known);
    assert_int_equal(chord_fd_timeout(&fd, p), 1000); /* initial */

    /* First sample: SRTT = R, RTTVAR = R/2, RTO = R + 4 * R/2. */
    assert_false(chord_fd_heard(&fd, a, 100, 20));
    assert_true(p->rtt_known);
    assert_true(p->srtt_ms == 100.0);
    assert_true(p->rttvar_ms == 50.0);
    assert_int_equal(chord_fd_timeout(&fd, p), 300);

    /* Then RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R| (old SRTT), and
     * SRTT = 7/8 SRTT + 1/8 R. */
    chord_fd_heard(&fd, a, 20, 30);
    assert_true(p->rttvar_ms == 57.5);
    assert_true(p->srtt_ms == 90.0);
    assert_int_equal(chord_fd_timeout(&fd, p), 320);

    chord_fd_heard(&fd, a, 90, 40);
    assert_true(p->rttvar_ms == 43.125);
    assert_true(p->srtt_ms == 90.0);
    assert_int_equal(chord_fd_timeout(&fd, p), 263); /* 262.5 rounded up */

    /* Steady 5 ms round trips: RTTVAR vanishes, but the variance term
     * never goes under RFC 6298's clock granularity (1 ms): RTO = 5 + 1. */
    for (int i = 0; i < 400; i++)
        chord_fd_heard(&fd, a, 5, 50 + (uint64_t)i);
    assert_true(p->rttvar_ms < 1e-9);
    assert_int_equal(chord_fd_timeout(&fd, p), 6);

    /* With the defaults the floor and the ceiling clamp it. */
    chord_fd_free(&fd);
    chord_fd_init(&fd, NULL);
    chord_fd_monitor(&fd, a, true, 10);
    p = chord_fd_find(&fd, a);
    chord_fd_heard(&fd, a, 10, 20); /* RTO 30 */
    assert_int_equal(chord_fd_timeout(&fd, p), 250);
    chord_fd_free(&fd);
    chord_fd_init(&fd, NULL);
    chord_fd_monitor(&fd, a, true, 10);
    p = chord_fd_find(&fd, a);
    chord_fd_heard(&fd, a, 5000, 20); /* RTO 15000 */
    assert_int_equal(chord_fd_timeout(&fd, p), 10000);
    /* A sample beyond the ceiling is capped before it enters SRTT. */
    chord_fd_heard(&fd, a, 1000000000, 30);
    assert_true(p->srtt_ms <= 10000.0);
    assert_int_equal(chord_fd_timeout(&fd, p), 10000);
    chord_fd_free(&fd);
}

/* A loopback peer's RTO is far below the floor: each false suspicion still
 * doubles the timeout (250, 500, 1000, ...) up to the ceiling. */
static void test_penalty_doubles_from_floor(void **state)
{
    (void)state;
    struct chord_fd fd;
    struct chord_fd_config c;
    chord_fd_config_default(&c);
    c.penalty_halflife_ms = UINT32_MAX; /* no visible decay here */
    chord_fd_init(&fd, &c);
    struct chord_fd_event ev[2];
    const char *a = "127.0.0.1:7001";
    chord_fd_monitor(&fd, a, true, 100);
    chord_fd_heard(&fd, a, 1, 100);
    const struct chord_fd_peer *p = chord_fd_find(&fd, a);
    uint64_t t = 100;
    uint32_t expect = 250;
    for (int k = 1; k <= 8; k++) {
        assert_int_equal(chord_fd_timeout(&fd, p), expect);
        chord_fd_sent(&fd, a, t);
        uint64_t d = chord_fd_next_deadline(&fd);
        assert_int_equal(d, t + expect + 1);
        for (uint64_t u = t + 200; u < d; u += 200) /* no pause */
            assert_int_equal(chord_fd_tick(&fd, u, ev, 2), 0);
        assert_int_equal(chord_fd_tick(&fd, d, ev, 2), 1);
        assert_int_equal(p->state, CHORD_PEER_SUSPECTED);
        t = d + 1;
        assert_true(chord_fd_heard(&fd, a, -1, t)); /* no RTT sample */
        assert_int_equal(p->false_suspicions, (uint32_t)k);
        expect = expect * 2 > 10000 ? 10000 : expect * 2;
        t += 1;
    }
    assert_int_equal(chord_fd_timeout(&fd, p), 10000);
    assert_true(p->penalty_ms <= 10000.0); /* the penalty is capped too */
    chord_fd_free(&fd);
}

static void test_penalty_decays(void **state)
{
    (void)state;
    struct sim s;
    sim_init(&s, NULL, 11, true);
    int a = sim_add(&s);
    uint32_t before;
    uint64_t back = slow_then_revived(&s, a, &before);
    const struct chord_fd_peer *p = sim_peer(&s, a);
    double p0 = p->penalty_ms;
    assert_true(p0 >= before);
    /* Healthy again. */
    s.link[a].rtt_lo_us = 100;
    s.link[a].rtt_hi_us = 30000;

    /* After one half-life of good behaviour the penalty has halved. */
    sim_run(&s, back + 60000);
    sim_step(&s); /* the tick at back + 60000 */
    s.now++;
    assert_true(p->penalty_ms > p0 / 2 * 0.999 &&
                p->penalty_ms < p0 / 2 * 1.001);

    /* The timeout keeps shrinking, towards the RTO-based value. */
    uint32_t prev = chord_fd_timeout(&s.fd, p);
    for (int k = 0; k < 9 * 60; k++) {
        sim_run(&s, s.now + 1000);
        uint32_t cur = chord_fd_timeout(&s.fd, p);
        assert_true(cur <= prev);
        prev = cur;
    }
    assert_int_equal(p->false_suspicions, 1);
    assert_true(p->penalty_ms == 0.0);
    double rto = p->srtt_ms + (4 * p->rttvar_ms > 1 ? 4 * p->rttvar_ms : 1);
    assert_true(rto < 250.0); /* loopback: the RTO-based value is the floor */
    assert_int_equal(chord_fd_timeout(&s.fd, p), 250);

    /* No decay while the peer is suspected: good behaviour only. */
    struct chord_fd fd;
    struct chord_fd_event ev[2];
    chord_fd_init(&fd, NULL);
    const char *b = "127.0.0.1:7009";
    chord_fd_monitor(&fd, b, true, 100);
    chord_fd_heard(&fd, b, 1, 100);
    chord_fd_sent(&fd, b, 200);
    chord_fd_tick(&fd, 451, ev, 2); /* 251 ms overdue: suspected */
    const struct chord_fd_peer *q = chord_fd_find(&fd, b);
    assert_int_equal(q->state, CHORD_PEER_SUSPECTED);
    chord_fd_heard(&fd, b, 260, 460);
    double pen = q->penalty_ms;
    assert_true(pen == 250.0);
    chord_fd_sent(&fd, b, 500);
    uint64_t t2 = 500;
    while (q->state == CHORD_PEER_ALIVE && t2 < 3000)
        chord_fd_tick(&fd, t2 += 100, ev, 2);
    assert_int_equal(q->state, CHORD_PEER_SUSPECTED);
    double held = q->penalty_ms; /* decayed while it was ALIVE */
    assert_true(held < pen);
    for (int k = 0; k < 10; k++)
        chord_fd_tick(&fd, t2 += 100, ev, 2);
    assert_int_equal(q->state, CHORD_PEER_SUSPECTED);
    assert_true(q->penalty_ms == held);
    sim_free(&s);
    chord_fd_free(&fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_rto_numerics),
        cmocka_unit_test(test_penalty_doubles_from_floor),
        cmocka_unit_test(test_penalty_decays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
