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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"
#include "chord/types.h"
#include "chord/buf.h"
#include "core/wire.h"

/* Accept only 127.0.0.0/8 addresses: this project never leaves loopback. */
#define CHORD_TRANSPORT_LOOPBACK_ONLY 1
/* Bytes accepted for one connection and not yet written before it is
 * dropped as not draining. */
#define CHORD_TRANSPORT_QUEUE_MAX (64u << 20)
/* Outbound connections (distinct peers) open at once. */
#define CHORD_TRANSPORT_PEERS_MAX 256u
/* Inbound connections open at once; more are accepted and closed. */
#define CHORD_TRANSPORT_INBOUND_MAX 1024u
/* Bytes asked of libuv per read. */
#define CHORD_TRANSPORT_READ_CHUNK (64u << 10)
/* An idle input accumulator larger than this is released. */
#define CHORD_TRANSPORT_INPUT_KEEP (256u << 10)
/* Distinct addresses waiting for their unreachable report. */
#define CHORD_TRANSPORT_DEFER_MAX 256u
/* listen(2) backlog. */
#define CHORD_TRANSPORT_BACKLOG 128
/* Hash buckets (powers of two, more than the conns they can hold, so
 * chains stay short): outbound conns by address, all conns by id. */
#define CHORD_TRANSPORT_PEER_BUCKETS 512u
#define CHORD_TRANSPORT_ID_BUCKETS 2048u
_Static_assert(CHORD_TRANSPORT_PEER_BUCKETS >= 2 * CHORD_TRANSPORT_PEERS_MAX,
               "peer table too small");
_Static_assert((CHORD_TRANSPORT_PEER_BUCKETS &
                (CHORD_TRANSPORT_PEER_BUCKETS - 1)) == 0,
               "peer buckets: a power of two");
_Static_assert(CHORD_TRANSPORT_ID_BUCKETS >=
                   CHORD_TRANSPORT_INBOUND_MAX + CHORD_TRANSPORT_PEERS_MAX,
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
};

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
    struct conn *conns;         /* live connections, newest first */
    struct conn *by_id[CHORD_TRANSPORT_ID_BUCKETS];     /* live, by id */
    struct conn *by_peer[CHORD_TRANSPORT_PEER_BUCKETS]; /* live outbound */
    struct conn *dirty; /* live conns with frames to flush, newest first */
    size_t n_in, n_out;
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
    id_remove(t, c);
    if (c->outbound) {
        peer_remove(t, c);
        t->n_out--;
    } else {
        t->n_in--;
    }
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

/* Make a conn with an initialised tcp handle, on the list. NULL if out of
 * memory. */
static struct conn *conn_new(struct chord_transport *t, bool outbound)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (uv_tcp_init(t->loop, &c->tcp) != 0) {
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
    if (outbound)
        t->n_out++;
    else
        t->n_in++;
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

static void on_flush_prepare(uv_prepare_t *h)
{
    flush_all(h->data);
}

static void on_flush_check(uv_check_t *h)
{
    flush_all(h->data);
}

/* Split every complete frame off the input and deliver it. Stops at the
 * first malformed or rejected frame (closing the conn), or when the conn or
 * the transport starts closing inside the callback. */
static void conn_drain(struct conn *c)
{
    struct chord_transport *t = c->t;
    size_t off = 0;
    while (off < c->in.len && !c->closing && !t->closing) {
        /* The header is checked here; the body by whoever decodes the
         * frame (the node refuses a bad one with -EPROTO). */
        ssize_t n = chord_frame_length(c->in.data + off, c->in.len - off);
        if (n == CHORD_DECODE_PARTIAL)
            break;
        if (n <= 0) {
            conn_fail(c, CHORD_LOG_WARN, "malformed frame");
            return;
        }
        int rc = t->cb.frame(t->cb.ctx, c->id, c->in.data + off, (size_t)n);
        off += (size_t)n;
        if (rc == -EPROTO) {
            conn_fail(c, CHORD_LOG_WARN, "frame rejected by the node");
            return;
        }
    }
    if (c->closing || t->closing)
        return;
    chord_buf_consume(&c->in, off);
    if (c->in.len > CHORD_FRAME_MAX) {
        conn_fail(c, CHORD_LOG_WARN, "frame over %u bytes", CHORD_FRAME_MAX);
        return;
    }
    if (c->in.len == 0 && c->in.cap > CHORD_TRANSPORT_INPUT_KEEP)
        chord_buf_free(&c->in);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    if (chord_buf_reserve(&c->in, CHORD_TRANSPORT_READ_CHUNK) != 0) {
        *buf = uv_buf_init(NULL, 0); /* read callback sees UV_ENOBUFS */
        return;
    }
    *buf =
        uv_buf_init((char *)c->in.data + c->in.len, CHORD_TRANSPORT_READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    (void)buf; /* it points into c->in, which owns it */
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            conn_fail(c, CHORD_LOG_WARN, "out of memory for input");
        else if (c->outbound)
            conn_fail(c, CHORD_LOG_INFO, "%s", uv_strerror((int)nread));
        else {
            tlog(c->t, CHORD_LOG_DEBUG, "connection from %s ended: %s", c->peer,
                 uv_strerror((int)nread));
            conn_close(c);
        }
        return;
    }
    c->in.len += (size_t)nread;
    conn_drain(c);
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
    if (status < 0) {
        tlog(t, CHORD_LOG_WARN, "accept: %s", uv_strerror(status));
        return;
    }
    if (t->closing)
        return;
    struct conn *c = conn_new(t, false);
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
    if (t->n_in > CHORD_TRANSPORT_INBOUND_MAX) {
        tlog(t, CHORD_LOG_WARN, "refusing connection from %s: %u open", c->peer,
             CHORD_TRANSPORT_INBOUND_MAX);
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
    /* They must not keep a loop alive that has nothing else to do. */
    uv_unref((uv_handle_t *)&t->flush_prepare);
    uv_unref((uv_handle_t *)&t->flush_check);
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
        if (t->n_out >= CHORD_TRANSPORT_PEERS_MAX) {
            tlog(t, CHORD_LOG_WARN,
                 "cannot connect to %s: %u peers "
                 "connected already",
                 addr, CHORD_TRANSPORT_PEERS_MAX);
            defer_unreachable(t, addr);
            return -ENOBUFS;
        }
        c = conn_new(t, true);
        if (!c) {
            tlog(t, CHORD_LOG_WARN, "cannot connect to %s: out of memory",
                 addr);
            defer_unreachable(t, addr);
            return -ENOMEM;
        }
        snprintf(c->peer, sizeof c->peer, "%s", addr);
        peer_insert(t, c);
        uv_tcp_nodelay(&c->tcp, 1);
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
    return t->n_in + t->n_out;
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
}
