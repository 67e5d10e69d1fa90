/*
 * transport_conn.c - the transport's connections: the tables by id and by
 * peer, opening, closing and failing one, the write path, the deferred
 * unreachable reports (see transport_shared.h for the layout).
 *
 * Writing: frames are appended to the conn's `pending` buffer and written
 * once per loop iteration: a prepare handle (before the loop blocks: the
 * frames timers queued) and a check handle (after polling: the frames I/O
 * callbacks queued) turn the pending bytes of every conn on the `dirty`
 * list (those that queued a frame since the last flush, so a turn costs
 * nothing per idle connection) into one write request that owns them,
 * freed in the write callback (or at once when uv_write refuses it). A
 * node answering many requests in one iteration thus makes one write(2)
 * per peer, not one per frame. While an outbound connection is connecting
 * its frames wait the same way. `queued` counts the bytes accepted and not
 * yet written, per conn and in total, and is capped.
 *
 * Unreachable reports go through a zero-delay timer (the "defer" queue) so
 * that chord_transport_send() never calls back into its caller.
 *
 * It does not read, accept or connect (transport_read.c, transport.c).
 */
#include "io/transport_shared.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"

/* ---- helpers ------------------------------------------------------------ */

void chord__transport_log(struct chord_transport *t, int level, const char *fmt,
                          ...)
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
void chord__transport_handle_closed(struct chord_transport *t)
{
    t->open_handles--;
    if (t->closing && t->open_handles == 0)
        free(t);
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
void chord__transport_defer(struct chord_transport *t, const char *addr)
{
    if (t->closing || !t->cb.unreachable)
        return;
    if (strnlen(addr, CHORD_ADDR_MAX) >= CHORD_ADDR_MAX)
        return;
    for (size_t i = t->defer_head; i < t->n_defer; i++)
        if (strcmp(t->defer_addr[i], addr) == 0)
            return;
    if (t->n_defer == CHORD_TRANSPORT_DEFER_MAX) {
        chord__transport_log(t, CHORD_LOG_WARN,
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
void chord__transport_peer_insert(struct chord_transport *t, struct conn *c)
{
    c->peer_hash = addr_hash(c->peer);
    struct conn **b = peer_bucket(t, c->peer_hash);
    c->peer_next = *b;
    *b = c;
}

/* Unkey `c` (nothing when it was never keyed). */
void chord__transport_peer_remove(struct chord_transport *t, struct conn *c)
{
    for (struct conn **pp = peer_bucket(t, c->peer_hash); *pp;
         pp = &(*pp)->peer_next)
        if (*pp == c) {
            *pp = c->peer_next;
            c->peer_next = NULL;
            return;
        }
}

struct conn *chord__transport_by_id(struct chord_transport *t, uint64_t id)
{
    for (struct conn *c = *id_bucket(t, id); c; c = c->id_next)
        if (c->id == id)
            return c;
    return NULL;
}

struct conn *chord__transport_by_peer(struct chord_transport *t,
                                      const char *addr)
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
    chord_tls_conn_free(c->tls);
    free(c);
    chord__transport_handle_closed(t);
}

/* The link of `c` at byte offset `link` (dirty_next, paused_next). */
static struct conn **link_of(struct conn *c, size_t link)
{
    return (struct conn **)(void *)((char *)c + link);
}

/* Take `c` off the singly-linked list at *head chained through `link`. */
static void unlink_from(struct conn **head, struct conn *c, size_t link)
{
    for (struct conn **pp = head; *pp; pp = link_of(*pp, link))
        if (*pp == c) {
            *pp = *link_of(c, link);
            break;
        }
    *link_of(c, link) = NULL;
}

/* Start closing `c`: off the list, queue dropped, handle closed once.
 * Writes already in libuv complete with UV_ECANCELED before the close
 * callback frees the conn. */
void chord__conn_close(struct conn *c)
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
    if (c->dirty)
        unlink_from(&t->dirty, c, offsetof(struct conn, dirty_next));
    if (c->paused)
        unlink_from(&t->paused, c, offsetof(struct conn, paused_next));
    c->dirty = c->paused = false;
    id_remove(t, c);
    if (c->resolving) { /* its callback frees it (transport.c) */
        c->resolving->c = NULL;
        uv_cancel((uv_req_t *)&c->resolving->req);
        c->resolving = NULL;
    }
    if (c->outbound)
        chord__transport_peer_remove(t, c);
    chord_gate_remove(&t->gate, &c->slot);
    c->queued -= c->pending.len;
    t->queued -= c->pending.len;
    chord_buf_free(&c->pending);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

/* Close `c` because something went wrong, log why (one line), and for an
 * outbound connection report its peer unreachable. */
void chord__conn_fail(struct conn *c, int level, const char *fmt, ...)
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
        chord__transport_log(t, level, "connection to %s failed: %s", c->peer,
                             why);
    else
        chord__transport_log(t, level, "closing connection from %s: %s",
                             c->peer, why);
    if (c->outbound)
        chord__transport_defer(t, c->peer);
    chord__conn_close(c);
}

/* Make a conn with an initialised tcp handle (no socket yet for an
 * outbound one: it gets one when its peer's family is known), on the list
 * and in `pool`. NULL if out of memory. */
struct conn *chord__conn_new(struct chord_transport *t, int pool)
{
    bool outbound = pool == CHORD_GATE_OUT;
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
    size_t len = w->len;
    c->queued -= len;
    c->t->queued -= len;
    wreq_free(w);
    if (status < 0 && status != UV_ECANCELED)
        chord__conn_fail(c, CHORD_LOG_INFO, "write: %s", uv_strerror(status));
    if (status == 0)
        c->t->stats.bytes_out += len;
    if (status == 0 && !c->closing)
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
        chord__conn_fail(c, CHORD_LOG_INFO, "write: %s", uv_strerror(rc));
    }
    return rc;
}

/* Queue a copy of one frame on `c` (written by the next flush). Fails
 * (and drops) the conn past the queue cap. */
int chord__conn_write(struct conn *c, const uint8_t *frame, size_t len)
{
    struct chord_transport *t = c->t;
    if (len > CHORD_TRANSPORT_QUEUE_MAX - c->queued) {
        chord__conn_fail(c, CHORD_LOG_WARN,
                         "more than %u bytes waiting to be "
                         "written",
                         CHORD_TRANSPORT_QUEUE_MAX);
        return -ENOBUFS;
    }
    int rc = chord_buf_append(&c->pending, frame, len);
    if (rc) {
        chord__conn_fail(c, CHORD_LOG_WARN, "queueing: %s", strerror(-rc));
        return rc;
    }
    c->queued += len;
    t->queued += len;
    chord__conn_mark_dirty(c);
    return 0;
}

void chord__conn_mark_dirty(struct conn *c)
{
    struct chord_transport *t = c->t;
    if (!c->dirty && !c->closing) {
        c->dirty = true;
        c->dirty_next = t->dirty;
        t->dirty = c;
    }
}

void chord__conn_tls_fail(struct conn *c)
{
    struct chord_buf alert;
    chord_buf_init(&alert);
    if (chord_tls_conn_take(c->tls, &alert) == 0 && alert.len > 0 &&
        c->connected) {
        uv_buf_t b = uv_buf_init((char *)alert.data, (unsigned)alert.len);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    chord_buf_free(&alert);
    chord__conn_fail(c, CHORD_LOG_WARN, "TLS handshake failed: %s",
                     chord_tls_conn_error(c->tls));
}

/* The TLS flush: once the handshake is done, the pending plaintext goes
 * through the session; whatever ciphertext the session holds (handshake
 * messages, records) goes into one write request. The queue counts the
 * plaintext while it waits and the ciphertext once it is handed over. */
static void conn_flush_tls(struct conn *c)
{
    struct chord_transport *t = c->t;
    if (chord_tls_conn_ready(c->tls) && c->pending.len > 0) {
        int rc = chord_tls_conn_write(c->tls, c->pending.data, c->pending.len);
        if (rc == -EPROTO) {
            chord__conn_tls_fail(c);
            return;
        }
        if (rc) {
            chord__conn_fail(c, CHORD_LOG_WARN, "TLS write: %s", strerror(-rc));
            return;
        }
        c->queued -= c->pending.len;
        t->queued -= c->pending.len;
        chord_buf_free(&c->pending);
    }
    if (chord_tls_conn_pending(c->tls) == 0)
        return;
    struct chord_buf out;
    chord_buf_init(&out);
    struct wreq *w = malloc(sizeof *w);
    if (!w || chord_tls_conn_take(c->tls, &out) != 0) {
        free(w);
        chord_buf_free(&out);
        chord__conn_fail(c, CHORD_LOG_WARN, "queueing: out of memory");
        return;
    }
    w->len = out.len;
    w->heap = out.data;
    c->queued += w->len;
    t->queued += w->len;
    conn_submit(c, w, w->heap);
}

/* Move the pending bytes of a connected conn, already counted, into one
 * write request. */
void chord__conn_flush(struct conn *c)
{
    if (c->tls && c->connected && !c->closing) {
        conn_flush_tls(c);
        return;
    }
    if (!c->connected || c->closing || c->pending.len == 0)
        return;
    struct wreq *w = malloc(sizeof *w);
    if (!w) {
        chord__conn_fail(c, CHORD_LOG_WARN, "queueing: out of memory");
        return;
    }
    w->len = c->pending.len;
    w->heap = c->pending.data;
    chord_buf_init(&c->pending);
    conn_submit(c, w, w->heap);
}

/* Write the pending frames of every conn on the dirty list, taking each
 * off before flushing it (chord__conn_flush may fail and close it). A conn
 * still connecting is flushed by on_connect instead. */
void chord__transport_flush_all(struct chord_transport *t)
{
    while (t->dirty) {
        struct conn *c = t->dirty;
        t->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        chord__conn_flush(c);
    }
}

/* After the poll's callbacks: the frames they queued are written (after
 * the `turn` callback). */
void chord__transport_on_check(uv_check_t *h)
{
    struct chord_transport *t = h->data;
    if (t->cb.turn)
        t->cb.turn(t->cb.ctx);
    chord__transport_flush_all(t);
}
