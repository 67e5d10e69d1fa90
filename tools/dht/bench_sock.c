/*
 * bench_sock.c - one TCP connection of one load-generator client to one
 * target: open it, write what the requests queued on it, read and decode
 * the replies.
 *
 * A socket is opened lazily by the first request that needs it and is
 * forgotten by its client as soon as it fails, so the next request for
 * that target opens a new one. Requests are encoded onto `out` (by
 * bench_load.c) and the socket is put on the run's dirty list; a flush
 * tries uv_try_write first and queues the rest as one uv_write (`wip`),
 * so the requests issued while handling one read go out in one write.
 * Replies are decoded with the public codec (chord/frame.h) as they come.
 * With TLS (cfg->tls) the socket runs a session on memory buffers
 * (chord/tls.h): reads are decrypted into `in`, and a flush seals `out`
 * once the handshake is done (the requests issued before wait in it).
 *
 * Upward, it only calls the run's handlers: on_reply for each whole
 * reply, on_fail when the socket cannot go on (connect, read, write or a
 * malformed reply), on_settle at the end of each of its callbacks.
 *
 * Invariants: a socket is closed once and freed only in its close
 * callback; no handler is called for a socket that is closing. It does
 * not match replies to requests or count anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/bench_internal.h"

static void on_sock_close(uv_handle_t *h)
{
    struct bench_sock *s = h->data;
    chord_buf_free(&s->out);
    chord_buf_free(&s->wip);
    chord_buf_free(&s->in);
    chord_buf_free(&s->raw);
    chord_buf_free(&s->sealed);
    chord_tls_conn_free(s->tls);
    free(s);
}

void bench_sock_close(struct bench_sock *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->cl->socks[s->target] == s)
        s->cl->socks[s->target] = NULL;
    uv_close((uv_handle_t *)&s->tcp, on_sock_close);
}

void bench_sock_mark_dirty(struct bench_sock *s)
{
    struct bench *b = s->b;
    if (s->dirty || b->n_dirty >= b->dirty_cap)
        return; /* cannot happen: see the sizing in bench_alloc() */
    s->dirty = true;
    b->dirty[b->n_dirty++] = s;
}

static void on_sock_write(uv_write_t *req, int status);

/* With TLS: seal the plaintext once the handshake is done, and take
 * what the session has to send. The bytes to write, or NULL after a
 * failure (reported). */
static struct chord_buf *sock_seal(struct bench_sock *s)
{
    if (!s->tls)
        return &s->out;
    if (chord_tls_conn_ready(s->tls) && s->out.len > 0) {
        if (chord_tls_conn_write(s->tls, s->out.data, s->out.len) != 0) {
            s->b->on_fail(s, "TLS write failed");
            return NULL;
        }
        chord_buf_reset(&s->out);
    }
    if (chord_tls_conn_take(s->tls, &s->sealed) != 0) {
        s->b->on_fail(s, "out of memory");
        return NULL;
    }
    return &s->sealed;
}

void bench_sock_flush(struct bench_sock *s)
{
    if (s->closing || !s->connected || s->writing)
        return;
    struct chord_buf *src = sock_seal(s);
    if (!src || src->len == 0)
        return;
    uv_buf_t buf = uv_buf_init((char *)src->data, (unsigned)src->len);
    int n = uv_try_write((uv_stream_t *)&s->tcp, &buf, 1);
    if (n >= 0 && (size_t)n == src->len) {
        chord_buf_reset(src);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        s->b->on_fail(s, uv_strerror(n));
        return;
    }
    if (n > 0)
        chord_buf_consume(src, (size_t)n);
    struct chord_buf tmp = s->wip;
    s->wip = *src;
    *src = tmp;
    chord_buf_reset(src);
    buf = uv_buf_init((char *)s->wip.data, (unsigned)s->wip.len);
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &buf, 1, on_sock_write);
    if (rc) {
        s->b->on_fail(s, uv_strerror(rc));
        return;
    }
    s->writing = true;
}

static void on_sock_write(uv_write_t *req, int status)
{
    struct bench_sock *s = req->data;
    s->writing = false;
    if (s->closing)
        return;
    if (status < 0) {
        s->b->on_fail(s, uv_strerror(status));
    } else {
        chord_buf_reset(&s->wip);
        bench_sock_flush(s);
    }
    s->b->on_settle(s->b);
}

static void on_sock_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct bench_sock *s = h->data;
    struct chord_buf *into = s->tls ? &s->raw : &s->in;
    if (chord_buf_reserve(into, BENCH_READ_CHUNK) != 0) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)into->data + into->len,
                       (unsigned)(into->cap - into->len));
}

/* With TLS: feed the ciphertext read into s->raw, decrypt into s->in,
 * and have the handshake's answers (and the requests that waited for it)
 * written. False when the session failed (reported). */
static bool sock_unseal(struct bench_sock *s)
{
    char why[CHORD_TLS_ERR_MAX + 8];
    if (chord_tls_conn_feed(s->tls, s->raw.data, s->raw.len) != 0) {
        s->b->on_fail(s, "out of memory");
        return false;
    }
    chord_buf_reset(&s->raw);
    for (;;) {
        if (chord_buf_reserve(&s->in, BENCH_READ_CHUNK) != 0) {
            s->b->on_fail(s, "out of memory");
            return false;
        }
        ssize_t n = chord_tls_conn_read(s->tls, s->in.data + s->in.len,
                                        s->in.cap - s->in.len);
        if (n == 0)
            break;
        if (n < 0) {
            snprintf(why, sizeof why, "TLS: %s",
                     n == -EPROTO ? chord_tls_conn_error(s->tls)
                                  : "the node closed the session");
            s->b->on_fail(s, why);
            return false;
        }
        s->in.len += (size_t)n;
    }
    if (chord_tls_conn_pending(s->tls) > 0 ||
        (chord_tls_conn_ready(s->tls) && s->out.len > 0))
        bench_sock_mark_dirty(s);
    return true;
}

static void on_sock_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct bench_sock *s = st->data;
    struct bench *b = s->b;
    if (s->closing)
        return;
    if (nread == 0)
        return;
    if (nread < 0) {
        s->b->on_fail(s, nread == UV_EOF ? "the node closed the connection"
                                         : uv_strerror((int)nread));
        b->on_settle(b);
        return;
    }
    if (s->tls) {
        s->raw.len += (size_t)nread;
        if (!sock_unseal(s)) {
            b->on_settle(b);
            return;
        }
    } else {
        s->in.len += (size_t)nread;
    }
    uint64_t now = uv_hrtime();
    size_t off = 0;
    struct chord_frame_reply reply = {0};
    while (off < s->in.len && !s->closing) {
        int used =
            chord_frame_decode_reply(s->in.data + off, s->in.len - off, &reply);
        if (used == -EAGAIN)
            break;
        if (used < 0) {
            b->on_fail(s, "malformed reply");
            break;
        }
        off += (size_t)used;
        b->on_reply(s, &reply, now);
    }
    if (!s->closing)
        chord_buf_consume(&s->in, off);
    b->on_settle(b);
}

static void on_sock_connect(uv_connect_t *req, int status)
{
    struct bench_sock *s = req->data;
    if (s->closing)
        return;
    if (status < 0) {
        s->b->on_fail(s, uv_strerror(status));
    } else {
        s->connected = true;
        (void)uv_tcp_nodelay(&s->tcp, 1);
        int rc =
            uv_read_start((uv_stream_t *)&s->tcp, on_sock_alloc, on_sock_read);
        if (rc)
            s->b->on_fail(s, uv_strerror(rc));
        else
            bench_sock_mark_dirty(s);
    }
    s->b->on_settle(s->b);
}

struct bench_sock *bench_sock_get(struct bench_client *cl, unsigned target)
{
    struct bench *b = cl->b;
    struct bench_sock *s = cl->socks[target];
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s) {
        bench_note_error(b, "out of memory");
        return NULL;
    }
    s->b = b;
    s->cl = cl;
    s->target = target;
    int rc = uv_tcp_init(&b->loop, &s->tcp);
    if (rc) {
        bench_note_error(b, "cannot make a socket: %s", uv_strerror(rc));
        free(s);
        return NULL;
    }
    s->tcp.data = s;
    s->creq.data = s;
    s->wreq.data = s;
    cl->socks[target] = s;
    if (b->cfg->tls &&
        (rc = chord_tls_conn_new(b->cfg->tls, false, b->targets[target].addr,
                                 &s->tls)) != 0) {
        bench_note_error(b, "%s: TLS: %s", b->targets[target].addr,
                         strerror(-rc));
        bench_sock_close(s);
        return NULL;
    }
    rc = uv_tcp_connect(&s->creq, &s->tcp,
                        (const struct sockaddr *)&b->targets[target].sa,
                        on_sock_connect);
    if (rc) {
        bench_note_error(b, "%s: %s", b->targets[target].addr, uv_strerror(rc));
        bench_sock_close(s);
        return NULL;
    }
    b->rep->connections++;
    return s;
}
