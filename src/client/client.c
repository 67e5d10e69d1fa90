/*
 * client.c - the blocking client of one node (see include/chord/client.h).
 *
 * One struct chord_client is one non-blocking TCP socket used in a blocking
 * style: every wait goes through poll() against a deadline, so no call can
 * block longer than the connection's timeout. connect() is non-blocking
 * plus poll(POLLOUT) for the same reason. TCP_NODELAY is set: requests are
 * small and a reply is awaited after each one.
 *
 * A call encodes one request with a fresh request id (a per-connection
 * counter), writes it, then reads frames into `rbuf` until one carries the
 * same id; frames with another id (replies to requests this client gave up
 * on, or anything unsolicited) are skipped. The whole call, write and read,
 * shares one deadline of timeout_ms.
 *
 * Invariants: rbuf never holds more than one frame's cap plus one read;
 * after -ETIMEDOUT, -EPROTO or a transport error the connection is marked
 * broken and every later call returns -ENOTCONN, because the stream may be
 * mid-frame. The error text is set for -EIO, and for -ECONNRESET when
 * the node closed a plaintext connection that never carried a reply (what
 * a node does to a client it does not accept, or a TLS node to plaintext:
 * see CHORD_CLIENT_CLOSED_AT_ONCE).
 *
 * A reply that says the node does not serve the request now (REDIRECT or
 * TRY_AGAIN: it is joining or leaving) is an -EIO like any failure, and
 * chord_client_redirect() then names the node it points to.
 *
 * It does not retry, reconnect, or follow redirects: that is the caller's
 * policy (session.c moves on to other nodes within a time budget). The
 * session's own requests (with request ids, fences, lock operations) come
 * in ready-made through chord__client_request (client/request.h).
 */
#include "chord/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chord/addr.h"
#include "chord/buf.h"
#include "chord/tls.h"
#include "client/clock.h"
#include "client/request.h"
#include "core/dvv.h"
#include "core/wire.h"

#define CLIENT_READ_CHUNK 65536u /* bytes asked of each recv() */

/* The process-wide TLS context of chord_client_connect (borrowed), and
 * the reason of this thread's last TLS failure. */
static struct chord_tls *default_tls;
static _Thread_local char tls_error[CHORD_TLS_ERR_MAX];

struct chord_client {
    int fd;
    struct chord_tls_conn *tls; /* NULL: plaintext */
    struct chord_buf raw;       /* TLS: ciphertext to send */
    int timeout_ms;             /* per call, > 0 */
    uint64_t next_req_id;       /* the id of the next request */
    bool broken;         /* the stream is unusable: refuse further calls */
    bool answered;       /* a reply has arrived on this connection */
    uint8_t consistency; /* enum chord_consistency for put/get/del */
    bool moved; /* the last reply said: not here, not now (REDIRECT...) */
    char hint[CHORD_ADDR_MAX]; /* ... and named this node, or "" */
    struct chord_buf wbuf;     /* the request being sent */
    struct chord_buf rbuf;     /* bytes received, not yet decoded */
    char error[CHORD_ERRMSG_MAX];
    unsigned vnode; /* "host:port#i": i, stamped on every request */
};

/* Milliseconds left before `deadline` (0 when past), as poll() takes them. */
static int ms_left(int64_t deadline)
{
    int64_t left = deadline - chord__client_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait for `events` on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int left = ms_left(deadline);
        int n = poll(&pfd, 1, left);
        if (n > 0)
            return 0; /* ready, or an error the next syscall reports */
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int chord_addr_parse(const char *addr, char host[CHORD_ADDR_MAX],
                     uint16_t *port)
{
    struct chord_addr a;
    char base[CHORD_ADDR_MAX];
    int rc = chord_addr_vnode_split(addr, base, NULL);
    if (rc == 0)
        rc = chord_addr_split(base, 0, &a);
    if (rc)
        return rc;
    memcpy(host, a.host, sizeof a.host);
    *port = a.port;
    return 0;
}

static int tls_handshake(struct chord_client *c, struct chord_tls *tls,
                         const char *addr, int64_t deadline);

void chord_client_tls_default(struct chord_tls *tls)
{
    default_tls = tls;
}

bool chord_client_tls_resumed(const struct chord_client *c)
{
    return c->tls && chord_tls_conn_resumed(c->tls);
}

const char *chord_client_tls_error(void)
{
    return tls_error;
}

int chord_client_connect(const char *addr, int timeout_ms,
                         struct chord_client **out)
{
    return chord_client_connect_tls(addr, timeout_ms, default_tls, out);
}

/* Open a non-blocking socket to one address and wait for the connection
 * until the deadline: the socket, or a negative errno. */
static int connect_one(const struct sockaddr *sa, socklen_t len,
                       int64_t deadline)
{
    int fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = 0;
    if (connect(fd, sa, len) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            rc = -errno;
        } else {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                    rc = -errno;
                else if (soerr != 0)
                    rc = -soerr;
            }
        }
    }
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

/* Resolve and connect: the socket of the first address that answers, or
 * the last error. "localhost" is 127.0.0.1, as the node takes it. */
static int connect_addr(const struct chord_addr *a, int64_t deadline)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    /* No AI_ADDRCONFIG: it hides every IPv4 answer on a host whose only
     * IPv4 address is loopback. */
    const char *host =
        strcmp(a->host, "localhost") == 0 ? "127.0.0.1" : a->host;
    hints.ai_flags =
        a->kind == CHORD_ADDR_NAME && host == a->host ? 0 : AI_NUMERICHOST;
    hints.ai_family = a->kind == CHORD_ADDR_V4   ? AF_INET
                      : a->kind == CHORD_ADDR_V6 ? AF_INET6
                                                 : AF_UNSPEC;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -EADDRNOTAVAIL;
    int rc = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = connect_one(ai->ai_addr, ai->ai_addrlen, deadline);
        if (rc >= 0 || rc == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

int chord_client_connect_tls(const char *addr, int timeout_ms,
                             struct chord_tls *tls, struct chord_client **out)
{
    struct chord_addr a;
    char base[CHORD_ADDR_MAX];
    int vnode, rc;
    *out = NULL;
    /* "host:port#i" (a virtual node): connect to host:port, name i in
     * every request (core/wire.h). */
    if (timeout_ms <= 0 || chord_addr_vnode_split(addr, base, &vnode) != 0 ||
        chord_addr_split(base, 0, &a) != 0)
        return -EINVAL;

    int64_t deadline = chord__client_now_ms() + timeout_ms;
    int fd = connect_addr(&a, deadline);
    if (fd < 0)
        return fd;

    struct chord_client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    c->next_req_id = 1;
    c->vnode = vnode > 0 ? (unsigned)vnode : 0;
    chord_buf_init(&c->wbuf);
    chord_buf_init(&c->rbuf);
    chord_buf_init(&c->raw);
    if (tls && (rc = tls_handshake(c, tls, base, deadline)) != 0) {
        chord_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void chord_client_close(struct chord_client *c)
{
    if (!c)
        return;
    close(c->fd);
    chord_tls_conn_free(c->tls);
    chord_buf_free(&c->wbuf);
    chord_buf_free(&c->rbuf);
    chord_buf_free(&c->raw);
    free(c);
}

const char *chord_client_error(const struct chord_client *c)
{
    return c ? c->error : "";
}

const char *chord_client_redirect(const struct chord_client *c)
{
    return c && c->moved ? c->hint : NULL;
}

int chord_client_set_timeout(struct chord_client *c, int timeout_ms)
{
    if (timeout_ms <= 0)
        return -EINVAL;
    c->timeout_ms = timeout_ms;
    return 0;
}

/* Write all of buf[0..len) to the socket before the deadline: 0 or a
 * negative errno. */
static int raw_send(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = wait_fd(fd, POLLOUT, deadline);
        if (rc)
            return rc;
    }
    return 0;
}

/* Read what the socket has (at least a byte) into buf[0..cap), waiting
 * until the deadline: the count, -ECONNRESET at end of stream, -ETIMEDOUT
 * or a negative errno. */
static ssize_t raw_recv(int fd, uint8_t *buf, size_t cap, int64_t deadline)
{
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -ECONNRESET; /* the node closed */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = wait_fd(fd, POLLIN, deadline);
        if (rc)
            return rc;
    }
}

/* Send the ciphertext the TLS session holds. */
static int tls_flush(struct chord_client *c, int64_t deadline)
{
    chord_buf_reset(&c->raw);
    int rc = chord_tls_conn_take(c->tls, &c->raw);
    if (rc == 0 && c->raw.len > 0)
        rc = raw_send(c->fd, c->raw.data, c->raw.len, deadline);
    return rc;
}

/* Remember why TLS failed, for chord_client_tls_error(); returns rc. */
static int tls_fail(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int tls_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
    return rc;
}

/* Read and decrypt until at least one plaintext byte lands at the end of
 * rbuf (cap bytes of room there) or the handshake is done (cap 0): 0 or
 * a negative errno, a TLS failure being -ECONNABORTED with its reason in
 * tls_error. */
static int tls_recv(struct chord_client *c, size_t cap, int64_t deadline)
{
    uint8_t cipher[16384];
    for (;;) {
        ssize_t n =
            chord_tls_conn_read(c->tls, c->rbuf.data + c->rbuf.len, cap);
        int rc = tls_flush(c, deadline); /* handshake replies, alerts */
        if (n == -EPROTO)
            return tls_fail(-ECONNABORTED,
                            cap == 0 ? "TLS handshake with the node failed: %s"
                                     : "TLS: the node ended the session: %s",
                            chord_tls_conn_error(c->tls));
        if (n < 0)
            return (int)n;
        if (rc)
            return rc;
        if (n > 0) {
            c->rbuf.len += (size_t)n;
            return 0;
        }
        if (cap == 0 && chord_tls_conn_ready(c->tls))
            return 0;
        ssize_t got = raw_recv(c->fd, cipher, sizeof cipher, deadline);
        if (got == -ECONNRESET && !chord_tls_conn_ready(c->tls))
            return tls_fail(-EPROTONOSUPPORT,
                            "the node closed the connection during the "
                            "TLS handshake: does it use TLS?");
        if (got < 0)
            return (int)got;
        if ((rc = chord_tls_conn_feed(c->tls, cipher, (size_t)got)) != 0)
            return rc;
    }
}

/* Run the TLS handshake on a fresh connection to `addr`. */
static int tls_handshake(struct chord_client *c, struct chord_tls *tls,
                         const char *addr, int64_t deadline)
{
    tls_error[0] = '\0';
    int rc = chord_tls_conn_new(tls, false, addr, &c->tls);
    if (rc)
        return rc;
    return tls_recv(c, 0, deadline);
}

/* Write all of wbuf before the deadline (through TLS when the
 * connection has it): 0 or a negative errno. */
static int send_all(struct chord_client *c, int64_t deadline)
{
    if (!c->tls)
        return raw_send(c->fd, c->wbuf.data, c->wbuf.len, deadline);
    int rc = chord_tls_conn_write(c->tls, c->wbuf.data, c->wbuf.len);
    if (rc == -EPROTO)
        return tls_fail(-ECONNABORTED, "TLS: %s", chord_tls_conn_error(c->tls));
    return rc ? rc : tls_flush(c, deadline);
}

/* Read more bytes into rbuf, waiting until the deadline. 0, -ECONNRESET at
 * end of stream, -ETIMEDOUT or a negative errno. */
static int recv_some(struct chord_client *c, int64_t deadline)
{
    int rc = chord_buf_reserve(&c->rbuf, CLIENT_READ_CHUNK);
    if (rc)
        return rc;
    if (c->tls)
        return tls_recv(c, c->rbuf.cap - c->rbuf.len, deadline);
    ssize_t n = raw_recv(c->fd, c->rbuf.data + c->rbuf.len,
                         c->rbuf.cap - c->rbuf.len, deadline);
    if (n < 0)
        return (int)n;
    c->rbuf.len += (size_t)n;
    return 0;
}

/*
 * Send `req` (its req_id is assigned here) and wait for the frame that
 * answers it, which must be of type `want`. On success *reply is decoded
 * and borrows from c->rbuf until the next call; `reply->status_out` is
 * honoured. Returns the frame's length (to consume afterwards) or a
 * negative errno; every failure except -ENOMEM marks the client broken.
 */
static ssize_t transact(struct chord_client *c, struct chord_msg *req,
                        uint8_t want, struct chord_msg *reply)
{
    if (c->broken)
        return -ENOTCONN;
    c->error[0] = '\0';
    c->moved = false;
    c->hint[0] = '\0';
    int64_t deadline = chord__client_now_ms() + c->timeout_ms;
    req->req_id = c->next_req_id++;

    chord_buf_reset(&c->wbuf);
    int rc = chord_msg_encode(req, &c->wbuf);
    if (rc)
        return rc; /* nothing was sent: the stream is still clean */
    if (c->vnode)
        chord_frame_set_vnode(c->wbuf.data, c->vnode);

    rc = send_all(c, deadline);
    if ((rc == -EPIPE || rc == -ECONNRESET) && !c->answered) {
        snprintf(c->error, sizeof c->error, "%s", CHORD_CLIENT_CLOSED_AT_ONCE);
        rc = -ECONNRESET;
    }
    if (rc) {
        c->broken = true;
        return rc;
    }

    struct chord_status *status_out = reply->status_out;
    for (;;) {
        ssize_t used = 0;
        if (c->rbuf.len > 0) {
            reply->status_out = status_out;
            used = chord_msg_decode(c->rbuf.data, c->rbuf.len, reply);
        } else {
            used = CHORD_DECODE_PARTIAL;
        }
        if (used == CHORD_DECODE_MALFORMED) {
            c->broken = true;
            return -EPROTO;
        }
        if (!c->tls && c->rbuf.len >= 2 && c->rbuf.data[0] == 0x15 &&
            c->rbuf.data[1] == 0x03) {
            /* A TLS alert record: the node speaks TLS only. */
            c->broken = true;
            return tls_fail(-EPROTONOSUPPORT,
                            "the node requires TLS (give --tls-ca, "
                            "--tls-cert and --tls-key, or $DHT_TLS_*)");
        }
        if (used == CHORD_DECODE_PARTIAL) {
            rc = recv_some(c, deadline);
            if (rc == -ECONNRESET && !c->answered && !c->tls)
                snprintf(c->error, sizeof c->error, "%s",
                         CHORD_CLIENT_CLOSED_AT_ONCE);
            if (rc) {
                c->broken = true;
                return rc;
            }
            continue;
        }
        c->answered = true;
        if (reply->req_id != req->req_id) {
            /* Not ours: a late answer to an abandoned request. */
            chord_buf_consume(&c->rbuf, (size_t)used);
            continue;
        }
        if (reply->type != want) {
            c->broken = true;
            return -EPROTO;
        }
        return used;
    }
}

/* Map a reply's status to the client's errors, keeping the node's text:
 * a precondition that was false is -EPERM, something over its cap (an
 * append's result, a lock's full queue) -EMSGSIZE; a lock request's
 * QUEUED is no error when queued_ok. */
static int status_to_err(struct chord_client *c, const struct chord_msg *r,
                         bool queued_ok)
{
    if (r->status == CHORD_OK || (queued_ok && r->status == CHORD_QUEUED))
        return 0;
    if (r->status == CHORD_NOT_FOUND)
        return -ENOENT;
    if (r->status == CHORD_REDIRECT || r->status == CHORD_TRY_AGAIN) {
        c->moved = true;
        size_t h = strnlen(r->hint.addr, sizeof(r->hint.addr) - 1);
        memcpy(c->hint, r->hint.addr, h);
        c->hint[h] = '\0';
    }
    size_t n = strnlen(r->error, sizeof(r->error));
    if (n == 0) {
        const char *name = chord_status_name(r->status);
        n = strlen(name);
        if (n >= sizeof(c->error))
            n = sizeof(c->error) - 1;
        memcpy(c->error, name, n);
    } else {
        if (n >= sizeof(c->error))
            n = sizeof(c->error) - 1;
        memcpy(c->error, r->error, n);
    }
    c->error[n] = '\0';
    /* One line: the text goes to a terminal after "dht: ". */
    for (size_t i = 0; i < n; i++)
        if (c->error[i] == '\n' || c->error[i] == '\r')
            c->error[i] = ' ';
    if (r->status == CHORD_PRECONDITION)
        return -EPERM;
    if (r->status == CHORD_SIBLINGS)
        return -ENOTUNIQ;
    return r->status == CHORD_TOO_LARGE ? -EMSGSIZE : -EIO;
}

/* Check a key (and optionally a value) against the caps before sending. */
static int check_sizes(const void *key, size_t key_len, const void *value,
                       size_t value_len)
{
    if (key_len > CHORD_KEY_MAX || value_len > CHORD_VALUE_MAX)
        return -EMSGSIZE;
    if ((key_len && !key) || (value_len && !value))
        return -EINVAL;
    return 0;
}

/* Allocate a chord_msg of `type`: it is several KiB, too large for a habit
 * of putting two on the stack of every call. */
static struct chord_msg *msg_new(uint8_t type)
{
    struct chord_msg *m = calloc(1, sizeof(struct chord_msg));
    if (m)
        m->type = type;
    return m;
}

/* What a call keeps of a successful reply, before its bytes are consumed:
 * 0 or a negative errno. */
typedef int (*take_fn)(const struct chord_msg *rep, void *arg);

/*
 * Send `req` (the caller's; NULL means out of memory) and wait for its
 * reply of type `want`, decoding a status report into status_out when it
 * is not NULL; map the reply's status to an error (QUEUED is none when
 * queued_ok), let `take` (may be NULL) copy what it needs from a
 * successful reply, then consume the reply.
 */
static int exchange(struct chord_client *c, struct chord_msg *req, uint8_t want,
                    struct chord_status *status_out, take_fn take, void *arg,
                    bool queued_ok)
{
    struct chord_msg *rep = msg_new(0);
    int rc = -ENOMEM;
    if (!req || !rep)
        goto out;
    rep->status_out = status_out;
    ssize_t used = transact(c, req, want, rep);
    if (used < 0) {
        rc = (int)used;
        goto out;
    }
    rc = status_to_err(c, rep, queued_ok);
    /* A causal request's NOT_FOUND still has the key's state to take. */
    if ((rc == 0 || (rc == -ENOENT && req->causal)) && take) {
        int trc = take(rep, arg);
        if (trc)
            rc = trc;
    }
    chord_buf_consume(&c->rbuf, (size_t)used);
out:
    free(rep);
    return rc;
}

/* As exchange(), `req` taken: freed here. */
static int call(struct chord_client *c, struct chord_msg *req, uint8_t want,
                struct chord_status *status_out, take_fn take, void *arg)
{
    int rc = exchange(c, req, want, status_out, take, arg, false);
    free(req);
    return rc;
}

/* A get's value, copied out of the reply. */
struct value_out {
    uint8_t **value;
    size_t *len;
};

static int take_value(const struct chord_msg *rep, void *arg)
{
    struct value_out *v = arg;
    uint8_t *copy = malloc(rep->value.len ? rep->value.len : 1);
    if (!copy)
        return -ENOMEM;
    if (rep->value.len)
        memcpy(copy, rep->value.data, rep->value.len);
    *v->value = copy;
    *v->len = rep->value.len;
    return 0;
}

static int take_lookup(const struct chord_msg *rep, void *arg)
{
    *(struct chord_lookup_result *)arg = rep->lookup;
    return 0;
}

/* One keyed request answered by C_RESULT. If `out` is non-NULL, the
 * reply's value is copied into a fresh allocation. */
static int keyed_call(struct chord_client *c, uint8_t type, const void *key,
                      size_t key_len, const void *value, size_t value_len,
                      struct value_out *out)
{
    struct chord_msg *req = msg_new(type);
    if (req) {
        req->key.data = key;
        req->key.len = key_len;
        req->consistency = c->consistency;
        if (type == CHORD_MSG_C_PUT || type == CHORD_MSG_C_APPEND) {
            req->value.data = value;
            req->value.len = value_len;
        }
    }
    return call(c, req, CHORD_MSG_C_RESULT, NULL, out ? take_value : NULL, out);
}

int chord_client_put(struct chord_client *c, const void *key, size_t key_len,
                     const void *value, size_t value_len)
{
    int rc = check_sizes(key, key_len, value, value_len);
    if (rc)
        return rc;
    return keyed_call(c, CHORD_MSG_C_PUT, key, key_len, value, value_len, NULL);
}

int chord_client_append(struct chord_client *c, const void *key, size_t key_len,
                        const void *value, size_t value_len)
{
    int rc = check_sizes(key, key_len, value, value_len);
    if (rc)
        return rc;
    return keyed_call(c, CHORD_MSG_C_APPEND, key, key_len, value, value_len,
                      NULL);
}

int chord_client_get(struct chord_client *c, const void *key, size_t key_len,
                     uint8_t **value, size_t *value_len)
{
    *value = NULL;
    *value_len = 0;
    int rc = check_sizes(key, key_len, NULL, 0);
    if (rc)
        return rc;
    struct value_out out = {value, value_len};
    return keyed_call(c, CHORD_MSG_C_GET, key, key_len, NULL, 0, &out);
}

int chord_client_del(struct chord_client *c, const void *key, size_t key_len)
{
    int rc = check_sizes(key, key_len, NULL, 0);
    if (rc)
        return rc;
    return keyed_call(c, CHORD_MSG_C_DEL, key, key_len, NULL, 0, NULL);
}

int chord_client_lookup(struct chord_client *c, const void *key, size_t key_len,
                        struct chord_lookup_result *out)
{
    int rc = check_sizes(key, key_len, NULL, 0);
    if (rc)
        return rc;
    struct chord_msg *req = msg_new(CHORD_MSG_C_LOOKUP);
    if (req) {
        req->key.data = key;
        req->key.len = key_len;
    }
    return call(c, req, CHORD_MSG_C_LOOKUP_RESULT, NULL, take_lookup, out);
}

int chord_client_status(struct chord_client *c, struct chord_status *out)
{
    memset(out, 0, sizeof(*out));
    return call(c, msg_new(CHORD_MSG_C_STATUS), CHORD_MSG_C_STATUS_RESULT, out,
                NULL, NULL);
}

int chord_client_set_consistency(struct chord_client *c, int level)
{
    if (level < CHORD_CONSISTENCY_DEFAULT || level > CHORD_CONSISTENCY_ALL)
        return -EINVAL;
    c->consistency = (uint8_t)level;
    return 0;
}

/* A scan's reply: records to the caller's function, then the page. */
struct scan_out {
    struct chord_scan_page *page;
    chord_record_fn fn;
    void *arg;
    const struct chord_id *after;
};

static int take_scan(const struct chord_msg *rep, void *arg)
{
    struct scan_out *so = arg;
    struct chord_scan_page *pg = so->page;
    /* The page must lie in the range it names, after the cursor. */
    if (!chord_id_in_oc(&rep->range_hi, so->after, &rep->owner.id) ||
        rep->owner.addr[0] == '\0')
        return -EPROTO;
    pg->owner = rep->owner;
    pg->range_lo = rep->range_lo;
    pg->range_hi = rep->range_hi;
    pg->next = rep->hint;
    pg->n_records = 0;
    struct chord_bytes cur = rep->items_raw;
    struct chord_item it;
    int more;
    while ((more = chord_items_next(&cur, &it)) == 1) {
        struct chord_id kid;
        chord_id_hash(&kid, it.key.data, it.key.len);
        if (it.tombstone || !chord_id_in_oc(&kid, so->after, &rep->range_hi))
            return -EPROTO;
        struct chord_record rec = {it.key.data, it.key.len, it.value.data,
                                   it.value.len, it.version};
        if (it.state.len) { /* a state: its newest live value */
            struct chord_dvv *d = malloc(sizeof *d);
            int best = -1;
            if (d && chord_dvv_decode(it.state.data, it.state.len, d) == 0)
                best = chord_dvv_newest_live(d, 0); /* deadlines aside */
            if (best >= 0) {
                rec.value = d->sib[best].value.data;
                rec.value_len = d->sib[best].value.len;
                rec.version.counter = d->sib[best].counter;
                rec.version.writer = d->vv[d->sib[best].writer].writer;
            }
            free(d);
            if (best < 0)
                continue; /* no value to dump */
        }
        int rc = so->fn ? so->fn(so->arg, &rec) : 0;
        if (rc)
            return rc;
        pg->n_records++;
    }
    return more < 0 ? -EPROTO : 0;
}

int chord_client_scan(struct chord_client *c, const struct chord_id *after,
                      uint32_t max_bytes, struct chord_scan_page *page,
                      chord_record_fn fn, void *arg)
{
    memset(page, 0, sizeof(*page));
    struct chord_msg *req = msg_new(CHORD_MSG_C_SCAN);
    if (req) {
        req->range_lo = *after;
        req->scan_max = max_bytes;
    }
    struct scan_out so = {page, fn, arg, after};
    return call(c, req, CHORD_MSG_C_SCAN_RESULT, NULL, take_scan, &so);
}

int chord_client_restore(struct chord_client *c, const struct chord_record *rec)
{
    int rc = check_sizes(rec->key, rec->key_len, rec->value, rec->value_len);
    if (rc)
        return rc;
    if (rec->version.counter == 0)
        return -EINVAL;
    struct chord_msg *req = msg_new(CHORD_MSG_C_RESTORE);
    if (req) {
        req->key.data = rec->key;
        req->key.len = rec->key_len;
        req->value.data = rec->value;
        req->value.len = rec->value_len;
        req->version = rec->version;
        req->consistency = c->consistency;
    }
    return call(c, req, CHORD_MSG_C_RESULT, NULL, NULL, NULL);
}

/* The status and value of a request's reply (client/request.h). */
static int take_result(const struct chord_msg *rep, void *arg)
{
    struct chord_client_result *res = arg;
    res->status = rep->status;
    if (rep->causal & CHORD_CAUSAL_STATE) {
        res->state = malloc(rep->state.len ? rep->state.len : 1);
        if (!res->state)
            return -ENOMEM;
        memcpy(res->state, rep->state.data, rep->state.len);
        res->state_len = rep->state.len;
        res->has_state = true;
    }
    if (rep->value.len == 0)
        return 0;
    res->value = malloc(rep->value.len);
    if (!res->value) {
        free(res->state);
        res->state = NULL;
        res->has_state = false;
        return -ENOMEM;
    }
    memcpy(res->value, rep->value.data, rep->value.len);
    res->value_len = rep->value.len;
    return 0;
}

int chord__client_request(struct chord_client *c, struct chord_msg *req,
                          struct chord_client_result *res)
{
    *res = (struct chord_client_result){0};
    if (!chord_msg_is_client_request(req->type))
        return -EINVAL;
    req->consistency = c->consistency;
    return exchange(c, req, CHORD_MSG_C_RESULT, NULL, take_result, res,
                    req->type == CHORD_MSG_C_LOCK);
}
