/*
 * fd_sim.h - what the failure detector's tests share (test_fd*.c): a small
 * simulation against a scripted clock.
 *
 * A simulation is a detector, a clock in ms, and a few links, each a peer
 * that answers the heartbeats sent to it after a random round trip (or not
 * at all once "crashed"). Each simulated instant does what a host does:
 * send the heartbeats that are due, tick the detector, then deliver the
 * answers that arrived (ticking before reading answers is the harsher
 * order). The clock either advances one ms at a time or jumps to the next
 * event, next_deadline included, as a host's timer would. At every tick
 * the simulation checks that a state changes exactly when the clock has
 * reached chord_fd_next_deadline(), and fails the running cmocka test
 * otherwise. Randomness is a seeded xorshift; nothing sleeps.
 */
#ifndef CHORD_TEST_FD_SIM_H
#define CHORD_TEST_FD_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fd.h"

/* Uniform in [lo, hi], from the xorshift64* state *st (nonzero). */
uint64_t rng_range(uint64_t *st, uint64_t lo, uint64_t hi);

/* Caps: links per simulation, answers in flight per link, events kept. */
#define SIM_LINKS 6
#define SIM_INFLIGHT 256
#define SIM_LOG 256

/* How a link picks the round trip of an answer. */
enum sim_rtt_mode {
    SIM_RTT_UNIFORM = 0, /* uniform in [rtt_lo_us, rtt_hi_us], in ms */
    SIM_RTT_WITHIN,      /* uniform in [0, timeout at send], often the edge */
};

/* A peer the host may heartbeat, and the answers it has in flight. */
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

/* A state change the detector reported: link, new state, time. */
struct sim_log {
    int link;
    uint8_t state;
    uint64_t at;
};

/* The detector, the clock, the links and what the run has seen. */
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

/* A fresh simulation at time 1000 with the detector's config (NULL: the
 * defaults), seeded; every_ms ticks every ms, else jumps to events. */
void sim_init(struct sim *s, const struct chord_fd_config *cfg, uint64_t seed,
              bool every_ms);
/* Release the detector's table. */
void sim_free(struct sim *s);
/* Add a monitored, healthy link answering in 0.1-30 ms; returns its index. */
int sim_add(struct sim *s);
/* The detector's entry for link i, which must exist. */
const struct chord_fd_peer *sim_peer(const struct sim *s, int i);
/* Crash link i: it stops answering and what it had not sent is lost. */
void sim_crash(struct sim *s, int i);
/* One instant: send what is due, tick (checking next_deadline), deliver. */
void sim_step(struct sim *s);
/* Simulate every instant in [now, until); leaves now == until. */
void sim_run(struct sim *s, uint64_t until);
/* Run until link i reaches `state` (at most `limit` ms); returns the time
 * of the instant that changed it (the clock is then past it), or 0. */
uint64_t sim_run_until_state(struct sim *s, int i, uint8_t state,
                             uint64_t limit);
/* Count the logged events of link i with this state. */
int sim_count(const struct sim *s, int i, uint8_t state);

/* From 10 s on link a turns slow (600 ms round trips): it is suspected,
 * then its late answer makes it ALIVE again (one revival); *before is its
 * timeout while suspected. Returns the time of the revival. */
uint64_t slow_then_revived(struct sim *s, int a, uint32_t *before);

#endif
