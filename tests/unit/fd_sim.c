/*
 * fd_sim.c - the simulation the failure detector's tests run in
 * (contracts in fd_sim.h): links that answer heartbeats after a random
 * round trip, a host loop that sends, ticks and delivers, and the checks
 * it makes at every tick.
 *
 * Moved unchanged out of the former single test_fd.c; it asserts with
 * cmocka, so it runs only inside a cmocka test. Randomness is a seeded
 * xorshift; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

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
uint64_t rng_range(uint64_t *st, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(st) % (hi - lo + 1);
}

void sim_init(struct sim *s, const struct chord_fd_config *cfg, uint64_t seed,
              bool every_ms)
{
    memset(s, 0, sizeof(*s));
    chord_fd_init(&s->fd, cfg);
    s->now = 1000;
    s->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    s->every_ms = every_ms;
}

/* Add a monitored, healthy link answering in 0.1-30 ms; returns its index. */
void sim_free(struct sim *s)
{
    chord_fd_free(&s->fd);
}

int sim_add(struct sim *s)
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

const struct chord_fd_peer *sim_peer(const struct sim *s, int i)
{
    const struct chord_fd_peer *p = chord_fd_find(&s->fd, s->link[i].addr);
    assert_non_null(p);
    return p;
}

/* Crash link i: it stops answering and what it had not sent is lost. */
void sim_crash(struct sim *s, int i)
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
void sim_step(struct sim *s)
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
void sim_run(struct sim *s, uint64_t until)
{
    while (s->now < until) {
        sim_step(s);
        s->now = sim_next(s, until);
    }
}

/* Run until link i reaches `state` (at most `limit` ms); returns the time
 * of the instant that changed it (the clock is then past it), or 0. */
uint64_t sim_run_until_state(struct sim *s, int i, uint8_t state,
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
int sim_count(const struct sim *s, int i, uint8_t state)
{
    int c = 0;
    for (int k = 0; k < s->n_log && k < SIM_LOG; k++)
        if (s->log[k].link == i && s->log[k].state == state)
            c++;
    return c;
}

/* A peer that turns slow (600 ms round trips) is suspected, then its late
 * answer makes it ALIVE again with a larger timeout; it adapts and is not
 * suspected again. Returns the time of the revival. */
uint64_t slow_then_revived(struct sim *s, int a, uint32_t *before)
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
