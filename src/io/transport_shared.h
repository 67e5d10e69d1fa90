/*
 * transport_shared.h - what the files of the transport share (the
 * contract is in transport.h, the limits' policy in transport_gate.h).
 *
 * The transport is split by concern, each file calling only those above
 * it:
 *   transport_gate.c  pools, budgets and timings, without I/O
 *   transport_conn.c  connections: the tables by id and by peer, opening,
 *                     closing and failing one, the write path, the
 *                     deferred unreachable reports, the log line
 *   transport_read.c  the read path and the limits it enforces: input
 *                     buffers, frames split and delivered, classification
 *                     by the first frame, the per-turn read share, the
 *                     sweep for slow frames and idle connections
 *   transport.c       the public API, accepting and connecting
 * Nothing outside src/io/transport*.c includes this header. Internal
 * functions are named chord__transport_* and chord__conn_* (libuv's uv__
 * convention).
 *
 * Every connection, inbound or outbound, is one struct conn on one
 * intrusive doubly-linked list hanging off the transport, in one pool of
 * the gate, and in two hash tables with intrusive chains: every conn by id
 * (for replies), outbound conns by peer address (for sends). Both are
 * looked up on every frame a node sends, so neither walks the list. A conn
 * leaves the list, its pool and the tables the moment it starts closing,
 * so lookups only ever find live connections; its memory stays until
 * libuv's close callback, which always comes after the write and connect
 * callbacks of that handle, so those callbacks may still use it.
 */
#ifndef CHORD_IO_TRANSPORT_SHARED_H
#define CHORD_IO_TRANSPORT_SHARED_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/buf.h"
#include "chord/tls.h"
#include "chord/types.h"
#include "io/transport.h"
#include "io/transport_gate.h"

/* Bytes accepted for one connection and not yet written before it is
 * dropped as not draining. */
#define CHORD_TRANSPORT_QUEUE_MAX (64u << 20)
/* Most bytes asked of libuv per read. */
#define CHORD_TRANSPORT_READ_CHUNK (64u << 10)
/* An input buffer never holds more than one partial frame and a read. */
#define CHORD_TRANSPORT_INPUT_MAX (CHORD_FRAME_MAX + CHORD_TRANSPORT_READ_CHUNK)
/* A TLS connection must finish its handshake this soon after it opened
 * (ms), or it is closed (a truncated handshake holds no slot for long). */
#define CHORD_TRANSPORT_HANDSHAKE_MS 10000u
/* Distinct addresses waiting for their unreachable report. */
#define CHORD_TRANSPORT_DEFER_MAX 256u
/* listen(2) backlog. */
#define CHORD_TRANSPORT_BACKLOG 128
/* How often slow frames and idle connections are looked for (ms). */
#define CHORD_TRANSPORT_SWEEP_MS 250u
/* Idle connections closed by one sweep at most (the rest wait a sweep). */
#define CHORD_TRANSPORT_SWEEP_CLOSE_MAX 256u
/* Connections refused, evicted or timed out are told in one summary line
 * at most this often (ms), not one line each. */
#define CHORD_TRANSPORT_NOTE_MS 1000u
/* All connections the pools can hold at once (inbound and outbound). */
#define CHORD_TRANSPORT_CONNS_MAX                                              \
    (CHORD_GATE_NEW_MAX + CHORD_GATE_CLIENT_MAX + CHORD_GATE_PEER_MAX +        \
     CHORD_GATE_OUT_MAX)
/* Hash buckets (powers of two, more than the conns they can hold, so
 * chains stay short): outbound conns by address, all conns by id. */
#define CHORD_TRANSPORT_PEER_BUCKETS 512u
#define CHORD_TRANSPORT_ID_BUCKETS 4096u
_Static_assert(CHORD_TRANSPORT_PEER_BUCKETS >= 2 * CHORD_GATE_OUT_MAX,
               "peer table too small");
_Static_assert((CHORD_TRANSPORT_PEER_BUCKETS &
                (CHORD_TRANSPORT_PEER_BUCKETS - 1)) == 0,
               "peer buckets: a power of two");
_Static_assert(CHORD_TRANSPORT_ID_BUCKETS >= CHORD_TRANSPORT_CONNS_MAX,
               "id table too small");
_Static_assert((CHORD_TRANSPORT_ID_BUCKETS &
                (CHORD_TRANSPORT_ID_BUCKETS - 1)) == 0,
               "id buckets: a power of two");

struct conn {
    uv_tcp_t tcp;             /* tcp.data points back here */
    uv_connect_t connect_req; /* outbound only */
    struct chord_transport *t;
    struct conn *prev, *next; /* on t->conns while not closing */
    struct conn *id_next;     /* chain in t->by_id while not closing */
    struct conn *peer_next;   /* chain in t->by_peer (outbound) */
    uint32_t peer_hash;       /* of `peer`, outbound only */
    struct conn *dirty_next;  /* on t->dirty while `dirty` */
    bool dirty;               /* queued a frame since the last flush */
    uint64_t id;              /* nonzero, unique within the transport */
    bool outbound;            /* made by send(), keyed by `peer` */
    bool connected;
    bool closing;
    char peer[CHORD_ADDR_MAX];   /* outbound: the send() address; inbound:
                                    the remote "ip:port" (for logs) */
    struct chord_buf in;         /* bytes read, not yet a whole frame */
    struct chord_buf pending;    /* frames queued while connecting */
    size_t queued;               /* pending.len + bytes in uv writes */
    struct chord_gate_slot slot; /* its pool, budget and timings */
    struct conn *paused_next;    /* on t->paused while `paused` */
    bool paused;                 /* read its share of this loop turn */
    bool over_budget;           /* chord__conn_on_alloc refused it input room */
    bool draining;              /* inside conn_drain() */
    bool retired;               /* reconnect(): close once drained */
    struct resolve *resolving;  /* outbound: its name being resolved */
    struct chord_tls_conn *tls; /* the session when the transport has TLS:
                                   `in` holds plaintext, `pending` plaintext
                                   until the handshake is done */
};

/* The resolution of an outbound conn's host name (uv_getaddrinfo on
 * libuv's thread pool). Allocated apart from the conn, because the conn
 * may close (and be freed) before the answer comes: closing sets `c` to
 * NULL and cancels the request, and the callback then only frees this. */
struct resolve {
    uv_getaddrinfo_t req; /* req.data points back here */
    struct conn *c;       /* NULL once the conn no longer waits for it */
};

/* The conn a gate slot is embedded in. */
#define CONN_OF(s) ((struct conn *)((char *)(s)-offsetof(struct conn, slot)))

/* A write request owning its bytes: inline after the struct, or `heap`. */
struct wreq {
    uv_write_t req;
    size_t len;
    uint8_t *heap;
    uint8_t data[];
};

struct chord_transport {
    uv_loop_t *loop;
    struct chord_transport_cb cb;
    uv_tcp_t *listener; /* NULL when not listening; freed on close */
    uint16_t port;
    uv_timer_t defer;           /* runs queued unreachable reports */
    uv_prepare_t flush_prepare; /* writes what timers queued */
    uv_check_t flush_check;     /* writes what I/O callbacks queued */
    uv_timer_t sweep;           /* slow frames, idle connections */
    struct chord_gate gate;     /* pools, budgets, timings */
    struct conn *paused; /* live conns waiting for the next turn to read */
    bool has_source;     /* bind outbound connections to `source` ... */
    struct sockaddr_storage source; /* ... when of the peer's family */
    bool open; /* accept connections from any address, not loopback only */
    struct chord_tls *tls; /* borrowed; NULL: plaintext */
    /* Ciphertext of one read of a TLS connection, decrypted into its
     * input buffer in the same callback. */
    uint8_t tls_in[CHORD_TRANSPORT_READ_CHUNK];
    /* Counted since the last summary line (CHORD_TRANSPORT_NOTE_MS). */
    unsigned note_refused, note_evicted, note_idle, note_accept_errors;
    unsigned note_remote;  /* refused: not loopback and not open */
    int note_accept_error; /* the last one */
    uint64_t note_at;
    struct conn *conns; /* live connections, newest first */
    struct conn *by_id[CHORD_TRANSPORT_ID_BUCKETS];     /* live, by id */
    struct conn *by_peer[CHORD_TRANSPORT_PEER_BUCKETS]; /* live outbound */
    struct conn *dirty; /* live conns with frames to flush, newest first */
    uint64_t next_id;
    struct chord_transport_stats stats; /* counters since made */
    size_t queued;         /* sum of conn->queued, closing conns too */
    unsigned open_handles; /* initialised and not yet closed */
    bool closing;
    size_t defer_head, n_defer; /* reports [defer_head, n_defer) pending */
    char defer_addr[CHORD_TRANSPORT_DEFER_MAX][CHORD_ADDR_MAX];
};

/* ---- transport_conn.c ------------------------------------------------------
 */

/* Build and emit one log line through the log callback, if any. */
void chord__transport_log(struct chord_transport *t, int level, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));

/* One handle finished closing; free the transport after the last one. */
void chord__transport_handle_closed(struct chord_transport *t);

/* Queue one unreachable report for `addr` (merged with one already
 * waiting for the same address), run from a zero-delay timer. */
void chord__transport_defer(struct chord_transport *t, const char *addr);

/* Key an outbound conn by c->peer, which must be set; unkey it (nothing
 * when it was never keyed). */
void chord__transport_peer_insert(struct chord_transport *t, struct conn *c);
void chord__transport_peer_remove(struct chord_transport *t, struct conn *c);

/* The live conn with this id / the live outbound conn keyed by `addr`,
 * or NULL. */
struct conn *chord__transport_by_id(struct chord_transport *t, uint64_t id);
struct conn *chord__transport_by_peer(struct chord_transport *t,
                                      const char *addr);

/* Make a conn with an initialised tcp handle, on the list and in `pool`
 * (an outbound one with a source address gets its socket at once, to be
 * bound). NULL if out of memory or out of sockets. */
struct conn *chord__conn_new(struct chord_transport *t, int pool);

/* Start closing `c`: off the list, its pool and the tables, queue
 * dropped, handle closed once (idempotent). No callback follows. */
void chord__conn_close(struct conn *c);

/* Close `c` because something went wrong, log why (one line), and for an
 * outbound connection report its peer unreachable. */
void chord__conn_fail(struct conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put `c` on the dirty list: the next flush writes what it holds. */
void chord__conn_mark_dirty(struct conn *c);

/* A TLS session of `c` failed (or fed garbage): send its alert if the
 * socket takes it at once, then fail the conn with OpenSSL's reason. */
void chord__conn_tls_fail(struct conn *c);

/* Queue a copy of one frame on `c` (written by the next flush). Fails
 * (and drops) the conn past the queue cap: 0 or a negative errno. */
int chord__conn_write(struct conn *c, const uint8_t *frame, size_t len);

/* Move the pending bytes of a connected conn into one write request
 * (nothing while it connects or has nothing pending). */
void chord__conn_flush(struct conn *c);

/* Write the pending frames of every conn on the dirty list. */
void chord__transport_flush_all(struct chord_transport *t);

/* The check handle's callback: write what I/O callbacks queued. */
void chord__transport_on_check(uv_check_t *h);

/* ---- transport_read.c ------------------------------------------------------
 */

/* libuv's alloc and read callbacks of every connection. */
void chord__conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void chord__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Busy, for the gate: a reply owed or bytes still to write. */
bool chord__conn_busy(const struct chord_gate_slot *s);

/* The prepare handle's callback: a new loop turn (paused conns read
 * again), then write what timers queued. */
void chord__transport_on_prepare(uv_prepare_t *h);

/* The sweep timer's callback (every CHORD_TRANSPORT_SWEEP_MS). */
void chord__transport_on_sweep(uv_timer_t *timer);

#endif
