/*
 * bench_internal.h - what the files of the load generator share (the
 * contract is bench.h; the design is in bench.c's banner).
 *
 * The files, lowest first; each calls only the ones above it, and what
 * must travel back up (a reply arrived, a socket failed, a callback ended)
 * goes through the three function pointers in struct bench:
 *
 *   bench_err.c   the run's one-line explanations
 *   bench_hist.c  the latency histogram
 *   bench_sock.c  one TCP connection: connect, write, read, decode
 *   bench_ring.c  where requests go: targets, the ring walk, key owners
 *   bench_load.c  issuing and finishing requests, one operation after
 *                 another, request timeouts and the run's time limit
 *   bench.c       configuration, set-up and tear-down of a run
 *
 * Nothing here is part of the library: it speaks the protocol through the
 * public client codec (chord/frame.h) and the blocking client.
 */
#ifndef CHORD_TOOLS_BENCH_INTERNAL_H
#define CHORD_TOOLS_BENCH_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/buf.h"
#include "chord/frame.h"
#include "chord/id.h"
#include "chord/types.h"
#include "common/progress.h"
#include "dht/bench.h"

#define BENCH_SLOT_BITS 10u /* pipeline slots addressable in a req id */
#define BENCH_READ_CHUNK (64u << 10) /* bytes offered to each read */
#define BENCH_TICK_MIN_MS 10u        /* timeout scan period, bounds */
#define BENCH_TICK_MAX_MS 250u
#define BENCH_KEY_BUF 32u          /* "key:" + 12 digits + NUL, with room */
#define BENCH_FD_SPARE 64u         /* descriptors kept free beyond sockets */
#define BENCH_WALK_TIMEOUT_MS 5000 /* per node of a ring walk */

/* Histogram: values < 2^HIST_SUB_BITS are exact; above, each power of two
 * is split in 2^(HIST_SUB_BITS-1) buckets, so a bucket is at most 1/64 of
 * its value wide. Covers every uint64_t value of nanoseconds. */
#define HIST_SUB_BITS 7u
#define HIST_SUB (1u << HIST_SUB_BITS) /* 128 */
#define HIST_HALF (HIST_SUB / 2u)      /* 64 */
#define HIST_BUCKETS (HIST_SUB + (64u - HIST_SUB_BITS) * HIST_HALF)

enum outcome {
    OUT_OK,
    OUT_NOT_FOUND,
    OUT_ERR_STATUS,
    OUT_ERR_CONN,
    OUT_ERR_TIMEOUT,
};

struct hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t bucket[HIST_BUCKETS];
};

/* A node requests can be sent to. */
struct target {
    struct chord_id id;
    char addr[CHORD_ADDR_MAX];
    struct sockaddr_storage sa;
};

struct bench;
struct bench_client;

/* One TCP connection of one client to one target. Freed in on_close. */
struct bench_sock {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct bench *b;
    struct bench_client *cl;
    unsigned target;
    bool connected, writing, closing, dirty;
    unsigned in_flight;   /* slots waiting on this socket */
    struct chord_buf out; /* encoded, not yet handed to libuv */
    struct chord_buf wip; /* being written by uv_write */
    struct chord_buf in;  /* read, not yet a whole frame */
    /* With TLS: the session, the ciphertext read and not yet fed, and the
     * ciphertext sealed and not yet handed to libuv (`out` then holds
     * plaintext until the handshake is done). */
    struct chord_tls_conn *tls;
    struct chord_buf raw;
    struct chord_buf sealed;
};

/* One request in flight. req_id == 0 when the slot is free. */
struct slot {
    uint64_t req_id;
    uint64_t start_ns;
    uint64_t key_index;
    struct bench_sock *sock;
    bool redirected;
};

struct bench_client {
    struct bench *b;
    unsigned idx;
    unsigned n_free;           /* free slots on the stack */
    struct slot *slots;        /* pipeline of them (into b->slots) */
    uint16_t *free_stack;      /* pipeline of them (into b->free_stack) */
    struct bench_sock **socks; /* n_targets of them (into b->sockv) */
};

struct bench {
    const struct chord_bench_config *cfg;
    struct chord_bench_report *rep;
    uv_loop_t loop;
    uv_timer_t tick;  /* request timeouts */
    uv_timer_t limit; /* the whole run */
    bool running;

    /* What the sockets report upward (bench_load.c's handlers). */
    void (*on_reply)(struct bench_sock *s, const struct chord_frame_reply *r,
                     uint64_t now_ns); /* a whole reply arrived */
    void (*on_fail)(struct bench_sock *s, const char *why); /* it broke */
    void (*on_settle)(struct bench *b); /* a socket callback ends */

    /* Routing. */
    struct target *targets;
    unsigned n_targets; /* ring nodes + the seed (direct), or 1 */
    unsigned ring_n;    /* ring nodes at targets[0..ring_n) */
    unsigned seed_target;
    bool ring_stale;

    /* Clients and their storage. */
    unsigned n_clients;
    struct bench_client *clients;
    struct slot *slots;
    uint16_t *free_stack;
    struct bench_sock **sockv;
    struct bench_sock **dirty;
    size_t n_dirty, dirty_cap;

    /* The operation running. */
    int phase_op;                   /* enum chord_bench_op, or -1 */
    uint64_t to_issue;              /* not yet issued */
    uint64_t finished;              /* issued and finished */
    uint64_t finished_all;          /* finished, over every operation so far */
    struct chord_progress progress; /* of finished_all, on a terminal */
    uint64_t phase_start_ns;
    uint64_t next_seq;
    uint64_t rng;

    struct hist hist[CHORD_BENCH_OPS];
    uint8_t *value;                 /* value_bytes of 'x' */
    struct chord_frame_request req; /* encoder template of the operation */
};

/* ---- bench_err.c ---- */

/* Write a one-line explanation into err (printf-style). */
void bench_set_err(char err[CHORD_BENCH_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Remember the first error of the run (one line) for the report. */
void bench_note_error(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- bench_hist.c ---- */

void bench_hist_add(struct hist *h, uint64_t v);
/* The value at quantile q (0 < q <= 1): the bucket holding the
 * ceil(q * count)-th smallest value; never above the exact maximum. */
double bench_hist_quantile(const struct hist *h, double q);

/* ---- bench_sock.c ---- */

/* The client's socket to `target`, opening one if needed. NULL when a
 * socket cannot be created (the reason is noted). */
struct bench_sock *bench_sock_get(struct bench_client *cl, unsigned target);
/* Close a socket (once); its memory goes in the close callback. Detaches
 * it from its client so the next request opens a new one. */
void bench_sock_close(struct bench_sock *s);
/* Put the socket on the run's dirty list (to flush at the next settle). */
void bench_sock_mark_dirty(struct bench_sock *s);
/* Hand the socket's pending bytes to the kernel: try a direct write, and
 * queue what is left as one uv_write. A failure goes to b->on_fail. */
void bench_sock_flush(struct bench_sock *s);

/* ---- bench_ring.c ---- */

/* Point t at `addr` (and `id` unless NULL). 0 or -EINVAL. */
int bench_target_set(struct target *t, const struct chord_id *id,
                     const char *addr);
/* Ask `addr` for its status with the blocking client. 0 or a negative
 * errno with the reason in err. */
int bench_fetch_status(const char *addr, int timeout_ms,
                       struct chord_status *st, char err[CHORD_BENCH_ERR_MAX]);
/* Learn the ring from the seed (see bench_ring.c). Fills *out (malloc'd,
 * ring nodes sorted by id, then one spare entry for the seed) and *n. 0
 * or a negative errno with err set. */
int bench_ring_learn(const char *seed, struct target **out, unsigned *n,
                     char err[CHORD_BENCH_ERR_MAX]);
/* The index of the ring node owning key id k. ring_n > 0. */
unsigned bench_ring_owner(const struct bench *b, const struct chord_id *k);
/* Re-learn the ring between two operations, keeping the sockets to nodes
 * that are still there. On failure the old map stays. */
void bench_ring_refresh(struct bench *b);

/* ---- bench_load.c ---- */

/* Set the socket handlers (on_reply, on_fail, on_settle) of b. */
void bench_load_attach(struct bench *b);
/* Start operation `from` (or the next one asked for after it). */
void bench_phase_start(struct bench *b, int from);
/* Advance finished operations, then send what was queued. */
void bench_settle(struct bench *b);
/* The timers: request timeouts, and the run's time limit. */
void bench_on_tick(uv_timer_t *t);
void bench_on_limit(uv_timer_t *t);

#endif
