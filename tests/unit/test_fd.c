/*
 * test_fd.c - the failure detector against a scripted clock: steady
 * heartbeats with jittered round trips are never suspected, a crash is
 * suspected within heartbeat + timeout and declared dead dead_after later,
 * a late answer makes the peer trusted again with a larger timeout that
 * then decays, a local pause convicts no one, the RFC 6298 numbers,
 * unreachable peers, slot recycling, the exactness of next_deadline, and
 * two properties over random schedules.
 *
 * Most tests run a small simulation: a detector, a clock in ms, and a few
 * links, each a peer that answers the heartbeats sent to it after a random
 * round trip (or not at all once "crashed"). Each simulated instant does
 * what a host does: send the heartbeats that are due, tick the detector,
 * then deliver the answers that arrived (ticking before reading answers is
 * the harsher order). The clock either advances one ms at a time or jumps
 * to the next event, next_deadline included, as a host's timer would. At
 * every tick the simulation checks that a state changes exactly when the
 * clock has reached chord_fd_next_deadline(). Randomness is a seeded
 * xorshift; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fd.h"

/* A small deterministic PRNG (xorshift64*). */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(uint64_t *st, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(st) % (hi - lo + 1);
}

#define SIM_LINKS 6
#define SIM_INFLIGHT 256
#define SIM_LOG 256

/* How a link picks the round trip of an answer. */
enum sim_rtt_mode {
    SIM_RTT_UNIFORM = 0, /* uniform in [rtt_lo_us, rtt_hi_us], in ms */
    SIM_RTT_WITHIN,      /* uniform in [0, timeout at send], often the edge */
};

struct sim_link {
    char addr[CHORD_ADDR_MAX];
    bool up;        /* answers heartbeats (false: crashed) */
    bool monitored; /* the host heartbeats it */
    enum sim_rtt_mode mode;
    uint32_t rtt_lo_us, rtt_hi_us;
    uint64_t next_send;
    int n; /* answers in flight */
    uint64_t sent_at[SIM_INFLIGHT];
    uint64_t arrive_at[SIM_INFLIGHT];
};

struct sim_log {
    int link;
    uint8_t state;
    uint64_t at;
};

struct sim {
    struct chord_fd fd;
    uint64_t now;
    uint64_t rng;
    bool every_ms;        /* tick every ms, else jump from event to event */
    uint32_t send_jitter; /* extra random ms added to each period */
    int n_links;
    struct sim_link link[SIM_LINKS];
    int n_log; /* events seen (only the first SIM_LOG kept) */
    struct sim_log log[SIM_LOG];
    int pauses;   /* ticks that returned -1 */
    int revivals; /* chord_fd_heard() that returned true */
};

static void sim_init(struct sim *s, const struct chord_fd_config *cfg,
                     uint64_t seed, bool every_ms)
{
    memset(s, 0, sizeof(*s));
    chord_fd_init(&s->fd, cfg);
    s->now = 1000;
    s->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    s->every_ms = every_ms;
}

/* Add a monitored, healthy link answering in 0.1-30 ms; returns its index. */
static int sim_add(struct sim *s)
{
    assert_true(s->n_links < SIM_LINKS);
    int i = s->n_links++;
    struct sim_link *l = &s->link[i];
    snprintf(l->addr, sizeof(l->addr), "127.0.0.1:%d", 7000 + i);
    l->up = true;
    l->monitored = true;
    l->mode = SIM_RTT_UNIFORM;
    l->rtt_lo_us = 100;
    l->rtt_hi_us = 30000;
    l->next_send = s->now;
    chord_fd_monitor(&s->fd, l->addr, true, s->now);
    return i;
}

static const struct chord_fd_peer *sim_peer(const struct sim *s, int i)
{
    const struct chord_fd_peer *p = chord_fd_find(&s->fd, s->link[i].addr);
    assert_non_null(p);
    return p;
}

/* Crash link i: it stops answering and what it had not sent is lost. */
static void sim_crash(struct sim *s, int i)
{
    s->link[i].up = false;
    s->link[i].n = 0;
}

/* The round trip of an answer to a heartbeat sent now on link l. */
static uint64_t sim_rtt(struct sim *s, const struct sim_link *l)
{
    if (l->mode == SIM_RTT_WITHIN) {
        uint32_t t = chord_fd_timeout(&s->fd, chord_fd_find(&s->fd, l->addr));
        if (rng_next(&s->rng) % 8 == 0)
            return t; /* exactly at the edge */
        return rng_range(&s->rng, 0, t);
    }
    return rng_range(&s->rng, l->rtt_lo_us, l->rtt_hi_us) / 1000;
}

/* The states of every link's peer (ALIVE for an untracked one). */
static void sim_states(const struct sim *s, uint8_t *st)
{
    for (int i = 0; i < s->n_links; i++) {
        const struct chord_fd_peer *p = chord_fd_find(&s->fd, s->link[i].addr);
        st[i] = p ? p->state : CHORD_PEER_ALIVE;
    }
}

/* One instant: send what is due, tick (checking next_deadline), deliver. */
static void sim_step(struct sim *s)
{
    uint32_t hb = s->fd.cfg.heartbeat_ms;
    for (int i = 0; i < s->n_links; i++) {
        struct sim_link *l = &s->link[i];
        if (!l->monitored || l->next_send > s->now)
            continue;
        chord_fd_sent(&s->fd, l->addr, s->now);
        if (l->up) {
            assert_true(l->n < SIM_INFLIGHT);
            l->sent_at[l->n] = s->now;
            l->arrive_at[l->n] = s->now + sim_rtt(s, l);
            l->n++;
        }
        l->next_send =
            s->now + hb +
            (s->send_jitter ? rng_range(&s->rng, 0, s->send_jitter) : 0);
    }

    uint8_t before[SIM_LINKS], after[SIM_LINKS];
    sim_states(s, before);
    uint64_t deadline = chord_fd_next_deadline(&s->fd);
    struct chord_fd_event ev[SIM_LINKS];
    int n = chord_fd_tick(&s->fd, s->now, ev, SIM_LINKS);
    sim_states(s, after);
    bool changed = memcmp(before, after, (size_t)s->n_links) != 0;
    if (n < 0) {
        s->pauses++;
        assert_false(changed);
    } else {
        /* next_deadline is exact: a change iff the clock reached it. */
        assert_int_equal(changed, s->now >= deadline);
        assert_int_equal(changed, n > 0);
    }
    for (int k = 0; k < n; k++) {
        int link = -1;
        for (int i = 0; i < s->n_links; i++)
            if (strcmp(ev[k].addr, s->link[i].addr) == 0)
                link = i;
        assert_true(link >= 0);
        assert_int_equal(ev[k].state, after[link]);
        if (s->n_log < SIM_LOG)
            s->log[s->n_log] = (struct sim_log){link, ev[k].state, s->now};
        s->n_log++;
    }

    for (int i = 0; i < s->n_links; i++) {
        struct sim_link *l = &s->link[i];
        for (int k = 0; k < l->n;) {
            if (l->arrive_at[k] > s->now) {
                k++;
                continue;
            }
            int64_t rtt = (int64_t)(s->now - l->sent_at[k]);
            if (chord_fd_heard(&s->fd, l->addr, rtt, s->now))
                s->revivals++;
            l->n--;
            l->sent_at[k] = l->sent_at[l->n];
            l->arrive_at[k] = l->arrive_at[l->n];
        }
    }
}

/* The time of the next instant worth simulating, at most `until`. */
static uint64_t sim_next(const struct sim *s, uint64_t until)
{
    uint64_t t = chord_fd_next_deadline(&s->fd);
    if (s->every_ms)
        t = s->now + 1;
    for (int i = 0; i < s->n_links; i++) {
        const struct sim_link *l = &s->link[i];
        if (l->monitored && l->next_send < t)
            t = l->next_send;
        for (int k = 0; k < l->n; k++)
            if (l->arrive_at[k] < t)
                t = l->arrive_at[k];
    }
    if (t <= s->now)
        t = s->now + 1;
    return t < until ? t : until;
}

/* Simulate every instant in [now, until); leaves now == until. */
static void sim_run(struct sim *s, uint64_t until)
{
    while (s->now < until) {
        sim_step(s);
        s->now = sim_next(s, until);
    }
}

/* Run until link i reaches `state` (at most `limit` ms); returns the time
 * of the instant that changed it (the clock is then past it), or 0. */
static uint64_t sim_run_until_state(struct sim *s, int i, uint8_t state,
                                    uint64_t limit)
{
    uint64_t end = s->now + limit;
    while (s->now < end) {
        uint64_t t = s->now;
        sim_step(s);
        s->now = sim_next(s, end);
        if (sim_peer(s, i)->state == state)
            return t;
    }
    return 0;
}

/* Count the logged events of link i with this state. */
static int sim_count(const struct sim *s, int i, uint8_t state)
{
    int c = 0;
    for (int k = 0; k < s->n_log && k < SIM_LOG; k++)
        if (s->log[k].link == i && s->log[k].state == state)
            c++;
    return c;
}

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

    chord_fd_init(&fd, NULL);
    assert_int_equal(fd.cfg.floor_ms, 250);
    assert_int_equal(chord_fd_timeout(&fd, NULL), 1000);
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
    chord_fd_init(&fd, NULL);
    chord_fd_monitor(&fd, a, true, 10);
    p = chord_fd_find(&fd, a);
    chord_fd_heard(&fd, a, 10, 20); /* RTO 30 */
    assert_int_equal(chord_fd_timeout(&fd, p), 250);
    chord_fd_init(&fd, NULL);
    chord_fd_monitor(&fd, a, true, 10);
    p = chord_fd_find(&fd, a);
    chord_fd_heard(&fd, a, 5000, 20); /* RTO 15000 */
    assert_int_equal(chord_fd_timeout(&fd, p), 10000);
    /* A sample beyond the ceiling is capped before it enters SRTT. */
    chord_fd_heard(&fd, a, 1000000000, 30);
    assert_true(p->srtt_ms <= 10000.0);
    assert_int_equal(chord_fd_timeout(&fd, p), 10000);
}

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

/* A peer that turns slow (600 ms round trips) is suspected, then its late
 * answer makes it ALIVE again with a larger timeout; it adapts and is not
 * suspected again. Returns the time of the revival. */
static uint64_t slow_then_revived(struct sim *s, int a, uint32_t *before)
{
    sim_run(s, 10000);
    s->link[a].rtt_lo_us = s->link[a].rtt_hi_us = 600000;
    uint64_t sus = sim_run_until_state(s, a, CHORD_PEER_SUSPECTED, 2000);
    assert_true(sus != 0);
    *before = chord_fd_timeout(&s->fd, sim_peer(s, a));
    assert_false(chord_fd_usable(&s->fd, s->link[a].addr));
    uint64_t back = sim_run_until_state(s, a, CHORD_PEER_ALIVE, 2000);
    assert_true(back > sus);
    assert_int_equal(s->revivals, 1);
    return back;
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
}

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
}

static void test_unmonitored_never_convicted(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001";
    const char *b = "127.0.0.1:7002";
    /* Known only from traffic: heartbeats "sent" to it are ignored. */
    chord_fd_heard(&fd, a, 2, 100);
    chord_fd_sent(&fd, a, 200);
    assert_int_equal(chord_fd_find(&fd, a)->pending_since, 0);
    /* Monitored with a pending heartbeat, then no longer monitored. */
    chord_fd_monitor(&fd, b, true, 100);
    chord_fd_sent(&fd, b, 200);
    chord_fd_monitor(&fd, b, false, 300);
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);
    for (uint64_t t = 300; t < 10000; t += 100)
        assert_int_equal(chord_fd_tick(&fd, t, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_ALIVE);
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_ALIVE);
    /* Monitoring again starts afresh: no stale heartbeat. */
    chord_fd_monitor(&fd, b, true, 10000);
    assert_int_equal(chord_fd_find(&fd, b)->pending_since, 0);

    /* Suspected, then no longer monitored: never promoted to DEAD, and
     * unusable until heard from. */
    chord_fd_sent(&fd, b, 10000);
    chord_fd_tick(&fd, 10500, ev, 4);
    chord_fd_tick(&fd, 10000 + 1001, ev, 4); /* initial timeout 1000 */
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    chord_fd_monitor(&fd, b, false, 11001);
    for (uint64_t t = 11100; t < 20000; t += 100)
        assert_int_equal(chord_fd_tick(&fd, t, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    assert_false(chord_fd_usable(&fd, b));
    assert_true(chord_fd_heard(&fd, b, 3, 20000));
    assert_true(chord_fd_usable(&fd, b));
    /* sent() for an unknown peer creates nothing. */
    chord_fd_sent(&fd, "127.0.0.1:7003", 10000);
    assert_null(chord_fd_find(&fd, "127.0.0.1:7003"));
    /* Forget clears the entry. */
    chord_fd_forget(&fd, b);
    assert_null(chord_fd_find(&fd, b));
}

static void addr_of(char *buf, int i)
{
    snprintf(buf, CHORD_ADDR_MAX, "127.0.%d.%d:7000", i / 200, 1 + i % 200);
}

static void test_slot_recycling(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    char addr[CHORD_ADDR_MAX];
    for (int i = 0; i < CHORD_FD_PEERS; i++) {
        addr_of(addr, i);
        chord_fd_heard(&fd, addr, 1, 100 + (uint64_t)i);
    }
    /* Peer 0 is used again: peer 1 becomes the least recently used. */
    addr_of(addr, 0);
    chord_fd_heard(&fd, addr, 1, 1000);
    addr_of(addr, CHORD_FD_PEERS);
    chord_fd_heard(&fd, addr, 1, 1001);
    assert_non_null(chord_fd_find(&fd, addr));
    addr_of(addr, 1);
    assert_null(chord_fd_find(&fd, addr));
    addr_of(addr, 0);
    assert_non_null(chord_fd_find(&fd, addr));

    /* Monitored peers are never recycled. */
    addr_of(addr, 2);
    chord_fd_monitor(&fd, addr, true, 1002);
    for (int i = 3; i < CHORD_FD_PEERS; i++) {
        char other[CHORD_ADDR_MAX];
        addr_of(other, i);
        chord_fd_monitor(&fd, other, true, 1002);
    }
    addr_of(addr, 0);
    chord_fd_monitor(&fd, addr, true, 1002);
    addr_of(addr, CHORD_FD_PEERS);
    chord_fd_monitor(&fd, addr, true, 1002);
    /* Now all 64 slots are monitored: a newcomer is not tracked. */
    addr_of(addr, 500);
    chord_fd_monitor(&fd, addr, true, 2000);
    assert_false(chord_fd_heard(&fd, addr, 1, 2000));
    chord_fd_unreachable(&fd, addr, 2000);
    assert_null(chord_fd_find(&fd, addr));
    assert_true(chord_fd_usable(&fd, addr));
    addr_of(addr, 2);
    assert_non_null(chord_fd_find(&fd, addr));

    /* Unmonitoring one frees a slot for recycling. */
    addr_of(addr, 7);
    chord_fd_monitor(&fd, addr, false, 2001);
    addr_of(addr, 500);
    chord_fd_unreachable(&fd, addr, 2002);
    assert_false(chord_fd_usable(&fd, addr));
    addr_of(addr, 7);
    assert_null(chord_fd_find(&fd, addr));

    /* Addresses that cannot be stored are ignored. */
    char longaddr[CHORD_ADDR_MAX + 8];
    memset(longaddr, 'x', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    chord_fd_forget(&fd, "127.0.0.1:7000");
    chord_fd_unreachable(&fd, longaddr, 3000);
    assert_null(chord_fd_find(&fd, longaddr));
    assert_true(chord_fd_usable(&fd, longaddr));
    chord_fd_unreachable(&fd, "", 3000);
    assert_null(chord_fd_find(&fd, ""));
}

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
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_rto_numerics),
        cmocka_unit_test(test_steady_heartbeats_never_suspected),
        cmocka_unit_test(test_crash_detected_within_bound),
        cmocka_unit_test(test_late_answer_revives_with_larger_timeout),
        cmocka_unit_test(test_late_answer_after_dead_and_other_messages),
        cmocka_unit_test(test_penalty_doubles_from_floor),
        cmocka_unit_test(test_penalty_decays),
        cmocka_unit_test(test_local_pause_convicts_no_one),
        cmocka_unit_test(test_local_pause_in_simulation),
        cmocka_unit_test(test_unreachable_is_dead_at_once),
        cmocka_unit_test(test_unmonitored_never_convicted),
        cmocka_unit_test(test_slot_recycling),
        cmocka_unit_test(test_next_deadline_exact),
        cmocka_unit_test(test_next_deadline_property),
        cmocka_unit_test(test_property_answering_within_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
