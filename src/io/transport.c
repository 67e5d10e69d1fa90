/*
 * transport.c - TCP framing on libuv (see transport.h for the contract and
 * transport_shared.h for how the files of the transport divide the work):
 * the public API, the listener and accepting, connecting out.
 *
 * Accepting: a connection from another host is closed at once unless the
 * transport is open (protected mode, counted in the summary line); then a
 * new inbound connection joins the NEW pool of the gate; when that pool is
 * full, its least recently active idle member is closed to make room, or
 * the newcomer when none is idle enough. With TLS every connection gets
 * its session as it opens: the server side on accept, the client side,
 * pinned to the address dialled, before it connects (its ClientHello is
 * the first thing flushed once connected).
 *
 * Connecting: a literal address (IPv4, [IPv6], "localhost") is connected
 * to at once; a name is first resolved by uv_getaddrinfo on libuv's
 * thread pool (struct resolve, which outlives a conn closed meanwhile),
 * afresh for every new connection. The socket is made when the family is
 * known, and bound to the node's own address first when one was given
 * (chord_transport_set_source) and it is of that family.
 *
 * It does not retry, time out requests, cache look-ups or reorder
 * anything.
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
#include <unistd.h>

#include "chord/addr.h"
#include "chord/node.h"

/* ---- addresses ----------------------------------------------------------- */

int chord_transport_addr_parse(const char *addr, struct chord_addr *out)
{
    return chord_addr_split(addr, CHORD_ADDR_ANY_PORT, out);
}

/* The socket address of a literal address ("localhost" is 127.0.0.1):
 * 0, or -EAGAIN for a name that must be resolved. */
static int literal_sockaddr(const struct chord_addr *a,
                            struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->kind == CHORD_ADDR_V6)
        return uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)ss);
    if (a->kind == CHORD_ADDR_V4)
        return uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)ss);
    if (strcmp(a->host, "localhost") == 0)
        return uv_ip4_addr("127.0.0.1", a->port, (struct sockaddr_in *)ss);
    return -EAGAIN;
}

/* Do two socket addresses name the same IP (ports aside)? */
static bool sockaddr_same_ip(const struct sockaddr_storage *a,
                             const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return a->ss_family == AF_INET6 &&
           memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

/* Is a peer's socket address loopback (127.0.0.0/8, ::1, or 127.x
 * mapped into IPv6 by a dual-stack listener)? */
static bool sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
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

/* Bind a new outbound conn to the source address (port 0), on a socket
 * of the source's family made here. The port is picked at connect time
 * where the kernel can (IP_BIND_ADDRESS_NO_PORT, set before the bind), so
 * many connections to distinct peers do not use up ephemeral ports. */
static int conn_bind_source(struct conn *c)
{
    const struct sockaddr *src = (const struct sockaddr *)&c->t->source;
    int fd =
        socket(src->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
#ifdef IP_BIND_ADDRESS_NO_PORT
    int one = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc) {
        close(fd);
        return rc;
    }
    return uv_tcp_bind(&c->tcp, src, 0);
}

/* Connect an outbound conn to `sa`, bound first to the node's own address
 * when one is set and of the same family. On failure the conn is failed
 * (its peer reported unreachable) and the error returned. */
static int conn_connect(struct conn *c, const struct sockaddr *sa)
{
    struct chord_transport *t = c->t;
    int rc;
    if (t->has_source && t->source.ss_family == sa->sa_family &&
        (rc = conn_bind_source(c)) != 0) {
        chord__conn_fail(c, CHORD_LOG_WARN, "bind to the node's address: %s",
                         uv_strerror(rc));
        return rc;
    }
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
    if (rc)
        chord__conn_fail(c, CHORD_LOG_INFO, "connect: %s", uv_strerror(rc));
    else
        t->stats.connected++;
    return rc;
}

/* The name of an outbound conn resolved (or failed, or was cancelled):
 * connect to the first address, of the source's family when there is
 * one. A later connection to the same peer resolves again: nothing is
 * cached, so a peer that moved is found at its new address. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = req->data;
    struct conn *c = r->c;
    free(r);
    if (!c) { /* the conn closed meanwhile */
        uv_freeaddrinfo(res);
        return;
    }
    c->resolving = NULL;
    if (status < 0 || !res) {
        chord__conn_fail(c, CHORD_LOG_INFO, "cannot resolve the name: %s",
                         uv_strerror(status < 0 ? status : UV_EAI_NONAME));
        uv_freeaddrinfo(res);
        return;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai && c->t->has_source;
         ai = ai->ai_next)
        if (ai->ai_family == c->t->source.ss_family) {
            pick = ai;
            break;
        }
    (void)conn_connect(c, pick->ai_addr);
    uv_freeaddrinfo(res);
}

/* Start resolving the name of an outbound conn off the loop thread. On
 * failure the conn is failed and the error returned. */
static int conn_resolve(struct conn *c, const struct chord_addr *a)
{
    struct resolve *r = calloc(1, sizeof *r);
    if (!r) {
        chord__conn_fail(c, CHORD_LOG_WARN, "resolve: out of memory");
        return -ENOMEM;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    /* No AI_ADDRCONFIG: it hides IPv4 answers where the only IPv4
     * address is loopback (a private network namespace). */
    r->req.data = r;
    r->c = c;
    int rc =
        uv_getaddrinfo(c->t->loop, &r->req, on_resolved, a->host, port, &hints);
    if (rc) {
        free(r);
        chord__conn_fail(c, CHORD_LOG_INFO, "resolve: %s", uv_strerror(rc));
        return rc;
    }
    c->resolving = r;
    return 0;
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
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        char ip[INET6_ADDRSTRLEN];
        uv_ip6_name(sin6, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

/* Did an accepted connection come from this host: from loopback, or
 * from the very address it reached (a local client of a node listening on
 * one of the host's own addresses)? A packet from elsewhere with a local
 * source address would be dropped as martian, and could not finish the
 * handshake anyway: the replies stay on this host. */
static bool from_this_host(struct conn *c, const struct sockaddr_storage *peer)
{
    if (sockaddr_is_loopback(peer))
        return true;
    struct sockaddr_storage self;
    int sl = sizeof self;
    memset(&self, 0, sizeof self);
    return uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&self, &sl) == 0 &&
           sockaddr_same_ip(peer, &self);
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
    t->stats.accepted++;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
        sockaddr_format(&ss, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "?");
    if (!t->open && !from_this_host(c, &ss)) {
        /* Protected mode: plaintext from this host only. */
        t->note_remote++;
        chord__transport_log(t, CHORD_LOG_DEBUG,
                             "refusing connection from %s: not loopback "
                             "and the node is not open (--insecure)",
                             c->peer);
        chord__conn_close(c);
        return;
    }
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

/* The first address of a listener's host name, resolved at once: the
 * listener is made once, before the loop runs, and its caller wants the
 * bind error, so this one resolution blocks (uv_getaddrinfo without a
 * callback). 0, or the libuv error. */
static int listen_resolve(struct chord_transport *t, const struct chord_addr *a,
                          struct sockaddr_storage *sa)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    uv_getaddrinfo_t req;
    int rc = uv_getaddrinfo(t->loop, &req, NULL, a->host, port, &hints);
    if (rc)
        return rc;
    if (!req.addrinfo)
        return UV_EAI_NONAME;
    memset(sa, 0, sizeof *sa);
    memcpy(sa, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    uv_freeaddrinfo(req.addrinfo);
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
    struct chord_addr a;
    struct sockaddr_storage sa;
    int rc = chord_transport_addr_parse(addr, &a);
    if (rc)
        return rc;
    if ((rc = literal_sockaddr(&a, &sa)) == -EAGAIN &&
        (rc = listen_resolve(t, &a, &sa)) != 0)
        return rc;
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
    t->port = ss.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int chord_transport_bound(const struct chord_transport *t,
                          char out[CHORD_ADDR_MAX])
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (!t->listener)
        return -ENOTCONN;
    memset(&ss, 0, sizeof ss);
    int rc = uv_tcp_getsockname(t->listener, (struct sockaddr *)&ss, &sl);
    if (rc)
        return rc;
    sockaddr_format(&ss, out, CHORD_ADDR_MAX);
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
        struct chord_addr a;
        struct sockaddr_storage sa;
        int rc = chord_addr_split(addr, 0, &a);
        bool named = rc == 0 && (rc = literal_sockaddr(&a, &sa)) == -EAGAIN;
        if (named)
            rc = 0;
        if (rc == 0 && chord_addr_is_wildcard(&a))
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
        rc = named ? conn_resolve(c, &a)
                   : conn_connect(c, (const struct sockaddr *)&sa);
        if (rc)
            return rc;
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
    struct chord_addr a;
    int rc = chord_transport_addr_parse(addr, &a);
    if (rc)
        return rc;
    a.port = 0;
    t->has_source = a.kind != CHORD_ADDR_NAME && !chord_addr_is_wildcard(&a) &&
                    literal_sockaddr(&a, &t->source) == 0;
    return 0;
}

void chord_transport_set_open(struct chord_transport *t, bool open)
{
    t->open = open;
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

void chord_transport_stats(const struct chord_transport *t,
                           struct chord_transport_stats *out)
{
    *out = t->stats;
}
