/*
 * transport.c - TCP framing on libuv (see transport.h for the contract and
 * transport_shared.h for how the files of the transport divide the work):
 * the public API, the listener and accepting, connecting out.
 *
 * Accepting: a new inbound connection joins the NEW pool of the gate; when
 * that pool is full, its least recently active idle member is closed to
 * make room, or the newcomer when none is idle enough. Connecting: an
 * outbound connection is bound to the node's own address first when one
 * was given (chord_transport_set_source). With TLS every connection gets
 * its session as it opens: the server side on accept, the client side,
 * pinned to the address dialled, before it connects (its ClientHello is
 * the first thing flushed once connected).
 *
 * It does not retry, time out requests or reorder anything.
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

/* ---- addresses ----------------------------------------------------------- */

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

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->handle->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    if (status < 0) {
        chord__conn_fail(c, CHORD_LOG_INFO, "connect: %s", uv_strerror(status));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, chord__conn_on_alloc,
                           chord__conn_on_read);
    if (rc) {
        chord__conn_fail(c, CHORD_LOG_INFO, "read: %s", uv_strerror(rc));
        return;
    }
    chord__conn_flush(c);
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
    int admit =
        chord_gate_admit(&t->gate, CHORD_GATE_NEW, uv_now(t->loop), &victim);
    if (admit == 1) {
        t->note_evicted++;
        chord__conn_close(CONN_OF(victim));
    }
    struct conn *c = chord__conn_new(t, CHORD_GATE_NEW);
    if (!c) {
        chord__transport_log(t, CHORD_LOG_WARN, "accept: out of memory");
        return; /* libuv stops accepting until the next call; rare */
    }
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc) {
        chord__transport_log(t, CHORD_LOG_WARN, "accept: %s", uv_strerror(rc));
        chord__conn_close(c);
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
        chord__transport_log(t, CHORD_LOG_DEBUG,
                             "refusing connection from %s: %u new "
                             "connections open",
                             c->peer, t->gate.lim.max[CHORD_GATE_NEW]);
        chord__conn_close(c);
        return;
    }
    if (t->tls && (rc = chord_tls_conn_new(t->tls, true, NULL, &c->tls))) {
        chord__conn_fail(c, CHORD_LOG_WARN, "TLS: %s", strerror(-rc));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&c->tcp, chord__conn_on_alloc,
                       chord__conn_on_read);
    if (rc) {
        chord__conn_fail(c, CHORD_LOG_WARN, "read: %s", uv_strerror(rc));
        return;
    }
    chord__transport_log(t, CHORD_LOG_DEBUG, "connection from %s", c->peer);
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
    uv_prepare_start(&t->flush_prepare, chord__transport_on_prepare);
    uv_check_start(&t->flush_check, chord__transport_on_check);
    uv_timer_init(loop, &t->sweep);
    t->sweep.data = t;
    t->open_handles++;
    uv_timer_start(&t->sweep, chord__transport_on_sweep,
                   CHORD_TRANSPORT_SWEEP_MS, CHORD_TRANSPORT_SWEEP_MS);
    /* They must not keep a loop alive that has nothing else to do. */
    uv_unref((uv_handle_t *)&t->flush_prepare);
    uv_unref((uv_handle_t *)&t->flush_check);
    uv_unref((uv_handle_t *)&t->sweep);
    struct chord_gate_limits lim;
    chord_gate_limits_default(&lim);
    chord_gate_init(&t->gate, &lim, chord__conn_busy);
    t->note_at = uv_now(loop);
    *out = t;
    return 0;
}

static void on_listener_close(uv_handle_t *h)
{
    struct chord_transport *t = h->data;
    free(h);
    chord__transport_handle_closed(t);
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
    struct conn *c = chord__transport_by_peer(t, addr);
    if (!c) {
        struct sockaddr_in sa;
        int rc = chord_transport_addr_parse(addr, &sa);
        if (rc == 0 && sa.sin_port == 0)
            rc = -EINVAL;
        if (rc) {
            chord__transport_log(t, CHORD_LOG_WARN,
                                 "cannot send to '%.*s': bad address",
                                 (int)(CHORD_ADDR_MAX - 1), addr);
            chord__transport_defer(t, addr);
            return rc;
        }
        if (t->gate.count[CHORD_GATE_OUT] >= t->gate.lim.max[CHORD_GATE_OUT]) {
            chord__transport_log(t, CHORD_LOG_WARN,
                                 "cannot connect to %s: %u peers "
                                 "connected already",
                                 addr, t->gate.lim.max[CHORD_GATE_OUT]);
            chord__transport_defer(t, addr);
            return -ENOBUFS;
        }
        c = chord__conn_new(t, CHORD_GATE_OUT);
        if (!c) {
            chord__transport_log(t, CHORD_LOG_WARN,
                                 "cannot connect to %s: out of memory", addr);
            chord__transport_defer(t, addr);
            return -ENOMEM;
        }
        snprintf(c->peer, sizeof c->peer, "%s", addr);
        chord__transport_peer_insert(t, c);
        if (t->tls && (rc = chord_tls_conn_new(t->tls, false, addr, &c->tls))) {
            chord__conn_fail(c, CHORD_LOG_WARN, "TLS: %s", strerror(-rc));
            return rc;
        }
        uv_tcp_nodelay(&c->tcp, 1);
        if (t->has_source && (rc = conn_bind_source(c)) != 0) {
            chord__conn_fail(c, CHORD_LOG_WARN,
                             "bind to the node's address: %s", uv_strerror(rc));
            return rc;
        }
        rc = uv_tcp_connect(&c->connect_req, &c->tcp,
                            (const struct sockaddr *)&sa, on_connect);
        if (rc) {
            chord__conn_fail(c, CHORD_LOG_INFO, "connect: %s", uv_strerror(rc));
            return rc;
        }
    }
    return chord__conn_write(c, frame, len);
}

int chord_transport_reply(struct chord_transport *t, uint64_t conn,
                          const uint8_t *frame, size_t len)
{
    if (t->closing)
        return -ENOTCONN;
    struct conn *c = chord__transport_by_id(t, conn);
    if (!c)
        return -ENOTCONN;
    chord_gate_replied(&t->gate, &c->slot, uv_now(t->loop));
    return chord__conn_write(c, frame, len);
}

void chord_transport_set_tls(struct chord_transport *t, struct chord_tls *tls)
{
    t->tls = tls;
}

int chord_transport_conn_vouches(struct chord_transport *t, uint64_t conn,
                                 const char *addr)
{
    struct conn *c = chord__transport_by_id(t, conn);
    if (!c)
        return -ENOTCONN;
    if (!c->tls)
        return 1;
    if (!addr)
        return chord_tls_conn_has_peer_cert(c->tls) ? 1 : 0;
    return chord_tls_conn_vouches(c->tls, addr) ? 1 : 0;
}

void chord_transport_close_conn(struct chord_transport *t, uint64_t conn)
{
    struct conn *c = chord__transport_by_id(t, conn);
    if (c)
        chord__conn_close(c);
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
    struct conn *c = chord__transport_by_peer(t, addr);
    if (!c ||
        uv_now(t->loop) - c->slot.opened_ms < t->gate.lim.reconnect_fresh_ms)
        return;
    chord__transport_log(t, CHORD_LOG_DEBUG,
                         "reconnecting to %s: closing the old connection",
                         addr);
    /* Off the table now, so the next send opens a fresh connection; when
     * a frame from it is being delivered, closed once that is done. */
    chord__transport_peer_remove(t, c);
    if (c->draining)
        c->retired = true;
    else
        chord__conn_close(c);
}

static void on_defer_close(uv_handle_t *h)
{
    chord__transport_handle_closed(h->data);
}

void chord_transport_close(struct chord_transport *t)
{
    if (t->closing)
        return;
    t->closing = true;
    while (t->conns)
        chord__conn_close(t->conns);
    if (t->listener) {
        uv_close((uv_handle_t *)t->listener, on_listener_close);
        t->listener = NULL;
    }
    uv_close((uv_handle_t *)&t->defer, on_defer_close);
    uv_close((uv_handle_t *)&t->flush_prepare, on_defer_close);
    uv_close((uv_handle_t *)&t->flush_check, on_defer_close);
    uv_close((uv_handle_t *)&t->sweep, on_defer_close);
}
