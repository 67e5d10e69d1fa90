/*
 * transport.c - TCP framing on libuv (see transport.h for the contract).
 *
 * Every connection, inbound or outbound, is one struct conn on one
 * intrusive doubly-linked list hanging off the transport, and in two hash
 * tables with intrusive chains: every conn by id (for replies), outbound
 * conns by peer address (for sends). Both are looked up on every frame a
 * node sends, so neither walks the list. A conn leaves the list and the
 * tables the moment it starts closing, so lookups only ever find live
 * connections; its memory stays until libuv's close callback, which always
 * comes after the write and connect callbacks of that handle, so those
 * callbacks may still use it.
 *
 * Reading: the read buffer libuv asks for is carved from the tail of the
 * conn's input accumulator, so bytes are not copied; after each read the
 * wire decoder splits off every complete frame. The decoder rejects a
 * length prefix over CHORD_FRAME_MAX before the body arrives, so the
 * accumulator never holds more than one frame plus one read.
 *
 * Writing: frames are appended to the conn's `pending` buffer and written
 * once per loop iteration: a prepare handle (before the loop blocks: the
 * frames timers queued) and a check handle (after polling: the frames I/O
 * callbacks queued) turn the pending bytes of every conn on the `dirty`
 * list (those that queued a frame since the last flush, so a turn costs
 * nothing per idle connection) into one write request that owns them,
 * freed in the write callback (or at once when uv_write refuses it). A node answering many requests in one iteration
 * thus makes one write(2) per peer, not one per frame. While an outbound
 * connection is connecting its frames wait the same way. `queued` counts
 * the bytes accepted and not yet written, per conn and in total, and is
 * capped.
 *
 * Unreachable reports go through a zero-delay timer (the "defer" queue) so
 * that chord_transport_send() never calls back into its caller.
 *
 * It does not reconnect, retry, time out or reorder anything.
 */
#include "io/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "chord/node.h"
#include "chord/types.h"
#include "chord/buf.h"
#include "core/wire.h"
#include "io/transport_gate.h"

/* Accept only 127.0.0.0/8 addresses: this project never leaves loopback. */
#define CHORD_TRANSPORT_LOOPBACK_ONLY 1
/* Bytes accepted for one connection and not yet written before it is
 * dropped as not draining. */
#define CHORD_TRANSPORT_QUEUE_MAX (64u << 20)
/* Most bytes asked of libuv per read. */
#define CHORD_TRANSPORT_READ_CHUNK (64u << 10)
/* An input buffer never holds more than one partial frame and a read. */
#define CHORD_TRANSPORT_INPUT_MAX (CHORD_FRAME_MAX + CHORD_TRANSPORT_READ_CHUNK)
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
    char peer[CHORD_ADDR_MAX]; /* outbound: the send() address; inbound:
                                  the remote "ip:port" (for logs) */
    struct chord_buf in;       /* bytes read, not yet a whole frame */
    struct chord_buf pending;  /* frames queued while connecting */
    size_t queued;             /* pending.len + bytes in uv writes */
    struct chord_gate_slot slot; /* its pool, budget and timings */
    struct conn *paused_next;    /* on t->paused while `paused` */
    bool paused;                 /* read its share of this loop turn */
    bool over_budget;            /* on_alloc refused it input room */
    bool draining;               /* inside conn_drain() */
    bool retired;                /* reconnect(): close once drained */
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
    bool has_source;     /* bind outbound connections to `source` */
    struct sockaddr_in source;
    /* Counted since the last summary line (CHORD_TRANSPORT_NOTE_MS). */
    unsigned note_refused, note_evicted, note_idle, note_accept_errors;
    int note_accept_error; /* the last one */
    uint64_t note_at;
    struct conn *conns;         /* live connections, newest first */
    struct conn *by_id[CHORD_TRANSPORT_ID_BUCKETS];     /* live, by id */
    struct conn *by_peer[CHORD_TRANSPORT_PEER_BUCKETS]; /* live outbound */
    struct conn *dirty; /* live conns with frames to flush, newest first */
    uint64_t next_id;
    size_t queued;         /* sum of conn->queued, closing conns too */
    unsigned open_handles; /* initialised and not yet closed */
    bool closing;
    size_t defer_head, n_defer; /* reports [defer_head, n_defer) pending */
    char defer_addr[CHORD_TRANSPORT_DEFER_MAX][CHORD_ADDR_MAX];
};

/* ---- helpers ------------------------------------------------------------ */

static void tlog(struct chord_transport *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Build and emit one log line through the log callback, if any. */
static void tlog(struct chord_transport *t, int level, const char *fmt, ...)
{
    if (!t->cb.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    t->cb.log(t->cb.ctx, level, line);
}

/* One handle finished closing; free the transport after the last one. */
static void handle_closed(struct chord_transport *t)
{
    t->open_handles--;
    if (t->closing && t->open_handles == 0)
        free(t);
}

int chord_transport_addr_parse(const char *addr, struct sockaddr_in *out)
{
    if (!addr)
        return -EINVAL;
    size_t n = strnlen(addr, CHORD_ADDR_MAX);
    if (n == 0 || n >= CHORD_ADDR_MAX)
        return -EINVAL;
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || colon[1] == '\0')
        return -EINVAL;

    unsigned long port = 0;
    unsigned digits = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || ++digits > 5)
            return -EINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535)
        return -EINVAL;

    char host[CHORD_ADDR_MAX];
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    struct in_addr ia;
    if (strcmp(host, "localhost") == 0)
        ia.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &ia) != 1)
        return -EINVAL;
    if (CHORD_TRANSPORT_LOOPBACK_ONLY && (ntohl(ia.s_addr) >> 24) != 127)
        return -EADDRNOTAVAIL;

    if (out) {
        memset(out, 0, sizeof *out);
        out->sin_family = AF_INET;
        out->sin_port = htons((uint16_t)port);
        out->sin_addr = ia;
    }
    return 0;
}

/* ---- deferred unreachable reports ---------------------------------------- */

/* Run the reports queued before this call; later ones wait a turn, so a
 * callback that sends to a bad address again cannot spin here. */
static void on_defer(uv_timer_t *timer)
{
    struct chord_transport *t = timer->data;
    size_t end = t->n_defer;
    while (t->defer_head < end && !t->closing) {
        char addr[CHORD_ADDR_MAX];
        memcpy(addr, t->defer_addr[t->defer_head], sizeof addr);
        t->defer_head++;
        t->cb.unreachable(t->cb.ctx, addr);
    }
    if (t->closing)
        return;
    size_t rest = t->n_defer - t->defer_head;
    memmove(t->defer_addr, t->defer_addr + t->defer_head,
            rest * sizeof t->defer_addr[0]);
    t->defer_head = 0;
    t->n_defer = rest;
    if (rest)
        uv_timer_start(&t->defer, on_defer, 0, 0);
}

/* Queue one unreachable report for `addr` (merged with one already
 * waiting for the same address). */
static void defer_unreachable(struct chord_transport *t, const char *addr)
{
    if (t->closing || !t->cb.unreachable)
        return;
    if (strnlen(addr, CHORD_ADDR_MAX) >= CHORD_ADDR_MAX)
        return;
    for (size_t i = t->defer_head; i < t->n_defer; i++)
        if (strcmp(t->defer_addr[i], addr) == 0)
            return;
    if (t->n_defer == CHORD_TRANSPORT_DEFER_MAX) {
        tlog(t, CHORD_LOG_WARN,
             "too many unreachable peers at once; "
             "not reporting %s",
             addr);
        return;
    }
    strcpy(t->defer_addr[t->n_defer++], addr);
    if (!uv_is_active((uv_handle_t *)&t->defer))
        uv_timer_start(&t->defer, on_defer, 0, 0);
}

/* ---- the tables ---------------------------------------------------------- */

/* FNV-1a of a NUL-terminated address. */
static uint32_t addr_hash(const char *addr)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* Ids are consecutive: their low bits spread them evenly. */
static struct conn **id_bucket(struct chord_transport *t, uint64_t id)
{
    return &t->by_id[id & (CHORD_TRANSPORT_ID_BUCKETS - 1)];
}

static struct conn **peer_bucket(struct chord_transport *t, uint32_t hash)
{
    return &t->by_peer[hash & (CHORD_TRANSPORT_PEER_BUCKETS - 1)];
}

static void id_insert(struct chord_transport *t, struct conn *c)
{
    struct conn **b = id_bucket(t, c->id);
    c->id_next = *b;
    *b = c;
}

static void id_remove(struct chord_transport *t, struct conn *c)
{
    for (struct conn **pp = id_bucket(t, c->id); *pp; pp = &(*pp)->id_next)
        if (*pp == c) {
            *pp = c->id_next;
            c->id_next = NULL;
            return;
        }
}

/* Key an outbound conn by c->peer, which must be set. */
static void peer_insert(struct chord_transport *t, struct conn *c)
{
    c->peer_hash = addr_hash(c->peer);
    struct conn **b = peer_bucket(t, c->peer_hash);
    c->peer_next = *b;
    *b = c;
}

/* Unkey `c` (nothing when it was never keyed). */
static void peer_remove(struct chord_transport *t, struct conn *c)
{
    for (struct conn **pp = peer_bucket(t, c->peer_hash); *pp;
         pp = &(*pp)->peer_next)
        if (*pp == c) {
            *pp = c->peer_next;
            c->peer_next = NULL;
            return;
        }
}

static struct conn *conn_by_id(struct chord_transport *t, uint64_t id)
{
    for (struct conn *c = *id_bucket(t, id); c; c = c->id_next)
        if (c->id == id)
            return c;
    return NULL;
}

static struct conn *conn_by_peer(struct chord_transport *t, const char *addr)
{
    uint32_t h = addr_hash(addr);
    for (struct conn *c = *peer_bucket(t, h); c; c = c->peer_next)
        if (c->peer_hash == h && strcmp(c->peer, addr) == 0)
            return c;
    return NULL;
}

/* ---- connections --------------------------------------------------------- */

static void conn_on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct chord_transport *t = c->t;
    chord_buf_free(&c->in);
    chord_buf_free(&c->pending);
    free(c);
    handle_closed(t);
}

/* Start closing `c`: off the list, queue dropped, handle closed once.
 * Writes already in libuv complete with UV_ECANCELED before the close
 * callback frees the conn. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    struct chord_transport *t = c->t;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->dirty) {
        for (struct conn **pp = &t->dirty; *pp; pp = &(*pp)->dirty_next)
            if (*pp == c) {
                *pp = c->dirty_next;
                break;
            }
        c->dirty = false;
        c->dirty_next = NULL;
    }
    if (c->paused) {
        for (struct conn **pp = &t->paused; *pp; pp = &(*pp)->paused_next)
            if (*pp == c) {
                *pp = c->paused_next;
                break;
            }
        c->paused = false;
        c->paused_next = NULL;
    }
    id_remove(t, c);
    if (c->outbound)
        peer_remove(t, c);
    chord_gate_remove(&t->gate, &c->slot);
    c->queued -= c->pending.len;
    t->queued -= c->pending.len;
    chord_buf_free(&c->pending);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

static void conn_fail(struct conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Close `c` because something went wrong, log why (one line), and for an
 * outbound connection report its peer unreachable. */
static void conn_fail(struct conn *c, int level, const char *fmt, ...)
{
    if (c->closing)
        return;
    struct chord_transport *t = c->t;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->outbound)
        tlog(t, level, "connection to %s failed: %s", c->peer, why);
    else
        tlog(t, level, "closing connection from %s: %s", c->peer, why);
    if (c->outbound)
        defer_unreachable(t, c->peer);
    conn_close(c);
}

/* Make a conn with an initialised tcp handle, on the list and in `pool`
 * (an outbound one with a source address gets its socket at once, to be
 * bound). NULL if out of memory or out of sockets. */
static struct conn *conn_new(struct chord_transport *t, int pool)
{
    bool outbound = pool == CHORD_GATE_OUT;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    unsigned flags = outbound && t->has_source ? AF_INET : AF_UNSPEC;
    if (uv_tcp_init_ex(t->loop, &c->tcp, flags) != 0) {
        free(c);
        return NULL;
    }
    t->open_handles++;
    c->tcp.data = c;
    c->t = t;
    c->id = t->next_id++;
    c->outbound = outbound;
    chord_buf_init(&c->in);
    chord_buf_init(&c->pending);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    id_insert(t, c);
    chord_gate_add(&t->gate, &c->slot, pool, uv_now(t->loop));
    return c;
}

static void wreq_free(struct wreq *w)
{
    free(w->heap);
    free(w);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = req->handle->data;
    c->queued -= w->len;
    c->t->queued -= w->len;
    wreq_free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_fail(c, CHORD_LOG_INFO, "write: %s", uv_strerror(status));
    else if (status == 0 && !c->closing)
        chord_gate_touch(&c->t->gate, &c->slot, uv_now(c->t->loop));
}

/* Hand `w` (already counted in the queue totals) to libuv. On failure the
 * request is freed, the conn failed, and the error returned. */
static int conn_submit(struct conn *c, struct wreq *w, const uint8_t *data)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc) {
        c->queued -= w->len;
        c->t->queued -= w->len;
        wreq_free(w);
        conn_fail(c, CHORD_LOG_INFO, "write: %s", uv_strerror(rc));
    }
    return rc;
}

/* Queue a copy of one frame on `c` (written by the next flush). Fails
 * (and drops) the conn past the queue cap. */
static int conn_write(struct conn *c, const uint8_t *frame, size_t len)
{
    struct chord_transport *t = c->t;
    if (len > CHORD_TRANSPORT_QUEUE_MAX - c->queued) {
        conn_fail(c, CHORD_LOG_WARN,
                  "more than %u bytes waiting to be "
                  "written",
                  CHORD_TRANSPORT_QUEUE_MAX);
        return -ENOBUFS;
    }
    int rc = chord_buf_append(&c->pending, frame, len);
    if (rc) {
        conn_fail(c, CHORD_LOG_WARN, "queueing: %s", strerror(-rc));
        return rc;
    }
    c->queued += len;
    t->queued += len;
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = t->dirty;
        t->dirty = c;
    }
    return 0;
}

/* Move the pending bytes of a connected conn, already counted, into one
 * write request. */
static void conn_flush(struct conn *c)
{
    if (!c->connected || c->closing || c->pending.len == 0)
        return;
    struct wreq *w = malloc(sizeof *w);
    if (!w) {
        conn_fail(c, CHORD_LOG_WARN, "queueing: out of memory");
        return;
    }
    w->len = c->pending.len;
    w->heap = c->pending.data;
    chord_buf_init(&c->pending);
    conn_submit(c, w, w->heap);
}

/* Write the pending frames of every conn on the dirty list, taking each
 * off before flushing it (conn_flush may fail and close it). A conn still
 * connecting is flushed by on_connect instead. */
static void flush_all(struct chord_transport *t)
{
    while (t->dirty) {
        struct conn *c = t->dirty;
        t->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        conn_flush(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Start reading again on every conn paused in the last turn. */
static void resume_paused(struct chord_transport *t)
{
    while (t->paused) {
        struct conn *c = t->paused;
        t->paused = c->paused_next;
        c->paused_next = NULL;
        c->paused = false;
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc)
            conn_fail(c, CHORD_LOG_WARN, "read: %s", uv_strerror(rc));
    }
    uv_unref((uv_handle_t *)&t->flush_prepare);
}

/* Before the loop polls: a new turn (paused conns read again), and the
 * frames timers queued are written. */
static void on_flush_prepare(uv_prepare_t *h)
{
    struct chord_transport *t = h->data;
    chord_gate_new_turn(&t->gate);
    resume_paused(t);
    flush_all(t);
}

static void on_flush_check(uv_check_t *h)
{
    flush_all(h->data);
}

/* Release the input buffer of `c` when it holds nothing, so an idle
 * connection keeps no memory and no budget. */
static void conn_release_input(struct conn *c)
{
    if (c->in.len != 0 || c->in.cap == 0)
        return;
    struct chord_gate_slot *none;
    chord_buf_free(&c->in);
    chord_gate_charge(&c->t->gate, &c->slot, 0, &none);
}

/* A NEW connection's first frame header says what it is: move it to the
 * client or the peer pool, closing an idle member there to make room, or
 * itself when there is none. False when `c` was closed. */
static bool conn_classify(struct conn *c, uint8_t type)
{
    struct chord_transport *t = c->t;
    int pool = chord_gate_classify(type);
    uint64_t now = uv_now(t->loop);
    struct chord_gate_slot *victim;
    int rc = chord_gate_admit(&t->gate, pool, now, &victim);
    if (rc == 1) {
        t->note_evicted++;
        conn_close(CONN_OF(victim));
    } else if (rc < 0) {
        t->note_refused++;
        tlog(t, CHORD_LOG_DEBUG, "closing connection from %s: %u %s "
             "connections open", c->peer, t->gate.lim.max[pool],
             pool == CHORD_GATE_CLIENT ? "client" : "peer");
        conn_close(c);
        return false;
    }
    chord_gate_move(&t->gate, &c->slot, pool, now);
    return true;
}

/* Split every complete frame off the input and deliver it. Stops at the
 * first malformed or rejected frame (closing the conn), or when the conn or
 * the transport starts closing inside the callback. The first frame header
 * of an inbound connection classifies it (conn_classify). */
static void conn_drain(struct conn *c)
{
    struct chord_transport *t = c->t;
    size_t off = 0;
    c->draining = true;
    while (off < c->in.len && !c->closing && !t->closing) {
        /* The header is checked here; the body by whoever decodes the
         * frame (the node refuses a bad one with -EPROTO). */
        const uint8_t *p = c->in.data + off;
        size_t avail = c->in.len - off;
        ssize_t n = chord_frame_length(p, avail);
        if (n == CHORD_DECODE_PARTIAL && avail < 8)
            break;
        if (n <= 0 && n != CHORD_DECODE_PARTIAL) {
            conn_fail(c, CHORD_LOG_WARN, "malformed frame");
            break;
        }
        if (c->slot.pool == CHORD_GATE_NEW && !conn_classify(c, p[5]))
            break;
        if (n == CHORD_DECODE_PARTIAL)
            break;
        chord_gate_request(&c->slot, p[5]);
        int rc = t->cb.frame(t->cb.ctx, c->id, p, (size_t)n);
        off += (size_t)n;
        if (rc == -EPROTO) {
            conn_fail(c, CHORD_LOG_WARN, "frame rejected by the node");
            break;
        }
    }
    c->draining = false;
    if (c->retired && !c->closing)
        conn_close(c);
    if (c->closing || t->closing)
        return;
    chord_buf_consume(&c->in, off);
    chord_gate_progress(&c->slot, c->in.len, off > 0, uv_now(t->loop));
    conn_release_input(c);
}

/* Give libuv room for one read at the end of the input buffer, grown with
 * the bytes that arrived (chord_gate_grow) within the budget. A member
 * holding more of the budget is closed to make room; when `c` holds the
 * most itself, it gets no room and on_read closes it. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    struct chord_transport *t = c->t;
    (void)suggested;
    *buf = uv_buf_init(NULL, 0); /* on_read sees UV_ENOBUFS */
    size_t cap = chord_gate_grow(c->in.cap, c->in.len,
                                 CHORD_TRANSPORT_INPUT_MAX);
    if (cap > c->in.cap) {
        struct chord_gate_slot *victim;
        int rc;
        while ((rc = chord_gate_charge(&t->gate, &c->slot, cap, &victim)) ==
               1) {
            struct conn *v = CONN_OF(victim);
            conn_fail(v, CHORD_LOG_WARN,
                      "holding %zu bytes of a frame, the most, while "
                      "inbound buffers are over budget",
                      v->in.len);
        }
        if (rc < 0) {
            c->over_budget = true;
            return;
        }
        uint8_t *p = realloc(c->in.data, cap);
        if (!p) {
            struct chord_gate_slot *none;
            chord_gate_charge(&t->gate, &c->slot, c->in.cap, &none);
            return;
        }
        c->in.data = p;
        c->in.cap = cap;
    }
    size_t room = c->in.cap - c->in.len;
    if (room > CHORD_TRANSPORT_READ_CHUNK)
        room = CHORD_TRANSPORT_READ_CHUNK;
    *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)room);
}

/* `c` read its share of this loop turn: stop reading until the prepare
 * handle of the next turn starts it again. */
static void conn_pause(struct conn *c)
{
    struct chord_transport *t = c->t;
    if (c->paused || c->closing)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->paused = true;
    c->paused_next = t->paused;
    t->paused = c;
    /* A stopped reader keeps no loop alive: the prepare handle must. */
    uv_ref((uv_handle_t *)&t->flush_prepare);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct chord_transport *t = c->t;
    (void)buf; /* it points into c->in, which owns it */
    if (c->closing)
        return;
    if (nread == 0) {
        conn_release_input(c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_ENOBUFS && c->over_budget)
            conn_fail(c, CHORD_LOG_WARN,
                      "inbound buffers over budget (%zu of %zu bytes held; "
                      "this connection %zu)",
                      t->gate.charged, t->gate.lim.budget, c->slot.charged);
        else if (nread == UV_ENOBUFS)
            conn_fail(c, CHORD_LOG_WARN, "out of memory for input");
        else if (c->outbound)
            conn_fail(c, CHORD_LOG_INFO, "%s", uv_strerror((int)nread));
        else {
            tlog(t, CHORD_LOG_DEBUG, "connection from %s ended: %s", c->peer,
                 uv_strerror((int)nread));
            conn_close(c);
        }
        return;
    }
    c->in.len += (size_t)nread;
    bool pause =
        chord_gate_read(&t->gate, &c->slot, (size_t)nread, uv_now(t->loop));
    conn_drain(c);
    if (pause)
        conn_pause(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->handle->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    if (status < 0) {
        conn_fail(c, CHORD_LOG_INFO, "connect: %s", uv_strerror(status));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        conn_fail(c, CHORD_LOG_INFO, "read: %s", uv_strerror(rc));
        return;
    }
    conn_flush(c);
}

/* Busy, for the gate: a reply owed or bytes still to write. Such a conn
 * is not closed to admit another. */
static bool conn_busy(const struct chord_gate_slot *s)
{
    const struct conn *c = CONN_OF(s);
    return s->unanswered > 0 || c->queued > 0;
}

/* Bind a new outbound conn to the source address (port 0). The port is
 * picked at connect time where the kernel can (IP_BIND_ADDRESS_NO_PORT),
 * so many connections to distinct peers do not use up ephemeral ports. */
static int conn_bind_source(struct conn *c)
{
#ifdef IP_BIND_ADDRESS_NO_PORT
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof one);
#endif
    return uv_tcp_bind(&c->tcp, (const struct sockaddr *)&c->t->source, 0);
}

/* One summary line for the connections refused, evicted and timed out
 * since the last one, at most every CHORD_TRANSPORT_NOTE_MS. */
static void note_flush(struct chord_transport *t, uint64_t now)
{
    unsigned loud = t->note_refused + t->note_evicted + t->note_accept_errors;
    if ((loud == 0 && t->note_idle == 0) ||
        now - t->note_at < CHORD_TRANSPORT_NOTE_MS)
        return;
    const struct chord_gate *g = &t->gate;
    tlog(t, loud ? CHORD_LOG_WARN : CHORD_LOG_DEBUG,
         "connections in the last %llu ms: %u refused and %u idle ones "
         "closed for newcomers (open: %zu/%u new, %zu/%u client, %zu/%u "
         "peer), %u idle over %u ms closed, %u accept errors%s%s",
         (unsigned long long)(now - t->note_at), t->note_refused,
         t->note_evicted, g->count[CHORD_GATE_NEW],
         g->lim.max[CHORD_GATE_NEW], g->count[CHORD_GATE_CLIENT],
         g->lim.max[CHORD_GATE_CLIENT], g->count[CHORD_GATE_PEER],
         g->lim.max[CHORD_GATE_PEER], t->note_idle, g->lim.idle_timeout_ms,
         t->note_accept_errors, t->note_accept_errors ? ", last: " : "",
         t->note_accept_errors ? uv_strerror(t->note_accept_error) : "");
    t->note_refused = t->note_evicted = t->note_idle = 0;
    t->note_accept_errors = 0;
    t->note_at = now;
}

/* Every CHORD_TRANSPORT_SWEEP_MS: close the conns whose frame arrives
 * under the minimum rate and the idle ones, give memory back after a
 * flood, and write the summary line. */
static void on_sweep(uv_timer_t *timer)
{
    struct chord_transport *t = timer->data;
    uint64_t now = uv_now(t->loop);
    for (struct conn *c = t->conns, *next; c; c = next) {
        next = c->next;
        if (chord_gate_too_slow(&t->gate, &c->slot, now))
            conn_fail(c, CHORD_LOG_WARN,
                      "frame arriving too slowly: %zu bytes in %llu ms "
                      "(under %u bytes/s)",
                      c->slot.partial,
                      (unsigned long long)(now - c->slot.frame_start_ms),
                      t->gate.lim.min_rate);
    }
    struct chord_gate_slot *s;
    for (unsigned n = 0; n < CHORD_TRANSPORT_SWEEP_CLOSE_MAX &&
                         (s = chord_gate_idle(&t->gate, now)) != NULL;
         n++) {
        t->note_idle++;
        conn_close(CONN_OF(s));
    }
#ifdef __GLIBC__
    if (chord_gate_trim(&t->gate))
        malloc_trim(0);
#endif
    note_flush(t, now);
}

/* Format "ip:port" of a socket address into out. */
static void sockaddr_format(const struct sockaddr_storage *ss, char *out,
                            size_t cap)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        char ip[INET_ADDRSTRLEN];
        uv_ip4_name(sin, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    } else {
        snprintf(out, cap, "?");
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct chord_transport *t = server->data;
    if (status < 0) { /* out of descriptors, most likely: told in a note */
        t->note_accept_errors++;
        t->note_accept_error = status;
        return;
    }
    if (t->closing)
        return;
    struct chord_gate_slot *victim;
    int admit = chord_gate_admit(&t->gate, CHORD_GATE_NEW, uv_now(t->loop),
                                 &victim);
    if (admit == 1) {
        t->note_evicted++;
        conn_close(CONN_OF(victim));
    }
    struct conn *c = conn_new(t, CHORD_GATE_NEW);
    if (!c) {
        tlog(t, CHORD_LOG_WARN, "accept: out of memory");
        return; /* libuv stops accepting until the next call; rare */
    }
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc) {
        tlog(t, CHORD_LOG_WARN, "accept: %s", uv_strerror(rc));
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
        sockaddr_format(&ss, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "?");
    if (admit < 0) {
        t->note_refused++;
        tlog(t, CHORD_LOG_DEBUG, "refusing connection from %s: %u new "
             "connections open", c->peer, t->gate.lim.max[CHORD_GATE_NEW]);
        conn_close(c);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        conn_fail(c, CHORD_LOG_WARN, "read: %s", uv_strerror(rc));
        return;
    }
    tlog(t, CHORD_LOG_DEBUG, "connection from %s", c->peer);
}

/* ---- public API ---------------------------------------------------------- */

int chord_transport_new(uv_loop_t *loop, const struct chord_transport_cb *cb,
                        struct chord_transport **out)
{
    if (!loop || !cb || !cb->frame || !out)
        return -EINVAL;
    struct chord_transport *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->cb = *cb;
    t->next_id = 1;
    int rc = uv_timer_init(loop, &t->defer);
    if (rc) {
        free(t);
        return rc;
    }
    t->defer.data = t;
    t->open_handles = 1;
    uv_prepare_init(loop, &t->flush_prepare);
    uv_check_init(loop, &t->flush_check);
    t->flush_prepare.data = t;
    t->flush_check.data = t;
    t->open_handles += 2;
    uv_prepare_start(&t->flush_prepare, on_flush_prepare);
    uv_check_start(&t->flush_check, on_flush_check);
    uv_timer_init(loop, &t->sweep);
    t->sweep.data = t;
    t->open_handles++;
    uv_timer_start(&t->sweep, on_sweep, CHORD_TRANSPORT_SWEEP_MS,
                   CHORD_TRANSPORT_SWEEP_MS);
    /* They must not keep a loop alive that has nothing else to do. */
    uv_unref((uv_handle_t *)&t->flush_prepare);
    uv_unref((uv_handle_t *)&t->flush_check);
    uv_unref((uv_handle_t *)&t->sweep);
    struct chord_gate_limits lim;
    chord_gate_limits_default(&lim);
    chord_gate_init(&t->gate, &lim, conn_busy);
    t->note_at = uv_now(loop);
    *out = t;
    return 0;
}

static void on_listener_close(uv_handle_t *h)
{
    struct chord_transport *t = h->data;
    free(h);
    handle_closed(t);
}

int chord_transport_listen(struct chord_transport *t, const char *addr)
{
    if (t->closing)
        return -ESHUTDOWN;
    if (t->listener)
        return -EALREADY;
    struct sockaddr_in sa;
    int rc = chord_transport_addr_parse(addr, &sa);
    if (rc)
        return rc;
    uv_tcp_t *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    rc = uv_tcp_init(t->loop, l);
    if (rc) {
        free(l);
        return rc;
    }
    l->data = t;
    t->open_handles++;
    rc = uv_tcp_bind(l, (const struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc =
            uv_listen((uv_stream_t *)l, CHORD_TRANSPORT_BACKLOG, on_connection);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (rc == 0)
        rc = uv_tcp_getsockname(l, (struct sockaddr *)&ss, &sl);
    if (rc) {
        uv_close((uv_handle_t *)l, on_listener_close);
        return rc;
    }
    t->listener = l;
    t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

uint16_t chord_transport_port(const struct chord_transport *t)
{
    return t->listener ? t->port : 0;
}

int chord_transport_send(struct chord_transport *t, const char *addr,
                         const uint8_t *frame, size_t len)
{
    if (t->closing)
        return -ESHUTDOWN;
    struct conn *c = conn_by_peer(t, addr);
    if (!c) {
        struct sockaddr_in sa;
        int rc = chord_transport_addr_parse(addr, &sa);
        if (rc == 0 && sa.sin_port == 0)
            rc = -EINVAL;
        if (rc) {
            tlog(t, CHORD_LOG_WARN, "cannot send to '%.*s': bad address",
                 (int)(CHORD_ADDR_MAX - 1), addr);
            defer_unreachable(t, addr);
            return rc;
        }
        if (t->gate.count[CHORD_GATE_OUT] >= t->gate.lim.max[CHORD_GATE_OUT]) {
            tlog(t, CHORD_LOG_WARN,
                 "cannot connect to %s: %u peers "
                 "connected already",
                 addr, t->gate.lim.max[CHORD_GATE_OUT]);
            defer_unreachable(t, addr);
            return -ENOBUFS;
        }
        c = conn_new(t, CHORD_GATE_OUT);
        if (!c) {
            tlog(t, CHORD_LOG_WARN, "cannot connect to %s: out of memory",
                 addr);
            defer_unreachable(t, addr);
            return -ENOMEM;
        }
        snprintf(c->peer, sizeof c->peer, "%s", addr);
        peer_insert(t, c);
        uv_tcp_nodelay(&c->tcp, 1);
        if (t->has_source && (rc = conn_bind_source(c)) != 0) {
            conn_fail(c, CHORD_LOG_WARN, "bind to the node's address: %s",
                      uv_strerror(rc));
            return rc;
        }
        rc = uv_tcp_connect(&c->connect_req, &c->tcp,
                            (const struct sockaddr *)&sa, on_connect);
        if (rc) {
            conn_fail(c, CHORD_LOG_INFO, "connect: %s", uv_strerror(rc));
            return rc;
        }
    }
    return conn_write(c, frame, len);
}

int chord_transport_reply(struct chord_transport *t, uint64_t conn,
                          const uint8_t *frame, size_t len)
{
    if (t->closing)
        return -ENOTCONN;
    struct conn *c = conn_by_id(t, conn);
    if (!c)
        return -ENOTCONN;
    chord_gate_replied(&t->gate, &c->slot, uv_now(t->loop));
    return conn_write(c, frame, len);
}

void chord_transport_close_conn(struct chord_transport *t, uint64_t conn)
{
    struct conn *c = conn_by_id(t, conn);
    if (c)
        conn_close(c);
}

size_t chord_transport_pending(const struct chord_transport *t)
{
    return t->queued;
}

size_t chord_transport_conn_count(const struct chord_transport *t)
{
    size_t n = 0;
    for (int p = 0; p < CHORD_GATE_POOLS; p++)
        n += t->gate.count[p];
    return n;
}

size_t chord_transport_pool_count(const struct chord_transport *t, int pool)
{
    return pool >= 0 && pool < CHORD_GATE_POOLS ? t->gate.count[pool] : 0;
}

size_t chord_transport_input_bytes(const struct chord_transport *t)
{
    return t->gate.charged;
}

void chord_transport_set_limits(struct chord_transport *t,
                                const struct chord_gate_limits *lim)
{
    chord_gate_set_limits(&t->gate, lim);
}

int chord_transport_set_source(struct chord_transport *t, const char *addr)
{
    struct sockaddr_in sa;
    int rc = chord_transport_addr_parse(addr, &sa);
    if (rc)
        return rc;
    t->has_source = sa.sin_addr.s_addr != htonl(INADDR_ANY);
    sa.sin_port = 0;
    t->source = sa;
    return 0;
}

void chord_transport_reconnect(struct chord_transport *t, const char *addr)
{
    if (t->closing)
        return;
    struct conn *c = conn_by_peer(t, addr);
    if (!c || uv_now(t->loop) - c->slot.opened_ms <
                  t->gate.lim.reconnect_fresh_ms)
        return;
    tlog(t, CHORD_LOG_DEBUG, "reconnecting to %s: closing the old connection",
         addr);
    /* Off the table now, so the next send opens a fresh connection; when
     * a frame from it is being delivered, closed once that is done. */
    peer_remove(t, c);
    if (c->draining)
        c->retired = true;
    else
        conn_close(c);
}

static void on_defer_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

void chord_transport_close(struct chord_transport *t)
{
    if (t->closing)
        return;
    t->closing = true;
    while (t->conns)
        conn_close(t->conns);
    if (t->listener) {
        uv_close((uv_handle_t *)t->listener, on_listener_close);
        t->listener = NULL;
    }
    uv_close((uv_handle_t *)&t->defer, on_defer_close);
    uv_close((uv_handle_t *)&t->flush_prepare, on_defer_close);
    uv_close((uv_handle_t *)&t->flush_check, on_defer_close);
    uv_close((uv_handle_t *)&t->sweep, on_defer_close);
}
