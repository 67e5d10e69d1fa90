/*
 * bench.c - the load generator behind `dht bench` (see bench.h for the
 * contract: what is counted, how latency is measured, how keys are routed).
 *
 * Design. One private uv loop runs every client. A client is a set of
 * request slots (its pipeline) and, per target node, at most one socket;
 * without `direct` the only target is the seed, with it the targets are
 * the ring's nodes in id order plus the seed last (used only to re-send a
 * redirected request). Sockets are opened lazily by the first request that
 * needs one, and a failed socket is forgotten at once, so the next request
 * for that target opens a new one.
 *
 * A request's id is (sequence << BENCH_SLOT_BITS) | slot, the sequence
 * being unique over the whole run: a reply is matched to its slot in O(1),
 * and a late reply to a request already given up (timed out) no longer
 * matches and is dropped.
 *
 * Sending: a request is encoded onto its socket's `out` buffer and the
 * socket is put on the dirty list; every callback ends in settle(), which
 * moves to the next operation when the current one is finished and then
 * flushes the dirty sockets, so the requests issued while handling one
 * read go out in one write (uv_try_write first, uv_write of the rest).
 * Nothing ever fails synchronously into a callback chain: a request whose
 * socket cannot even be created is finished as an error where it was
 * issued, and the issuing loop, bounded by the requests left, goes on.
 *
 * Invariants: slots in use <= clients x pipeline; per operation, issued
 * requests <= requests asked, and every issued request is finished exactly
 * once (reply, socket failure, timeout or the end of the run); a socket is
 * freed only in its close callback; at the end every handle is closed and
 * uv_loop_close() is checked.
 *
 * It does not verify values read, retry failed requests, or print
 * anything: the caller (tools/dht.c) formats the report. The process must
 * ignore SIGPIPE (libuv writes with write(2)).
 */
#include "client/bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "chord/client.h"
#include "chord/id.h"
#include "chord/buf.h"
#include "core/wire.h"

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
    struct sockaddr_in sa;
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
    int phase_op;      /* enum chord_bench_op, or -1 */
    uint64_t to_issue; /* not yet issued */
    uint64_t finished; /* issued and finished */
    uint64_t phase_start_ns;
    uint64_t next_seq;
    uint64_t rng;

    struct hist hist[CHORD_BENCH_OPS];
    uint8_t *value;          /* value_bytes of 'x' */
    struct chord_msg *req;   /* encoder template */
    struct chord_msg *reply; /* decoder scratch */
};

/* ---- small helpers ----------------------------------------------------- */

const char *chord_bench_op_name(int op)
{
    switch (op) {
    case CHORD_BENCH_PUT:
        return "put";
    case CHORD_BENCH_GET:
        return "get";
    case CHORD_BENCH_DEL:
        return "del";
    default:
        return "?";
    }
}

void chord_bench_config_default(struct chord_bench_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->clients = 50;
    cfg->requests = 100000;
    cfg->value_bytes = 16;
    cfg->ops = (1u << CHORD_BENCH_PUT) | (1u << CHORD_BENCH_GET);
    cfg->pipeline = 1;
    cfg->keyspace = 10000;
    cfg->request_timeout_ms = 5000;
    cfg->time_limit_ms = 120000;
    cfg->seed = 1;
}

/* Write a one-line explanation into err (printf-style). */
static void set_err(char err[CHORD_BENCH_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(char err[CHORD_BENCH_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CHORD_BENCH_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* Remember the first error of the run (one line) for the report. */
static void note_error(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_error(struct bench *b, const char *fmt, ...)
{
    char *e = b->rep->first_error;
    if (e[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e, CHORD_BENCH_ERR_MAX, fmt, ap);
    va_end(ap);
    for (char *p = e; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* splitmix64: the key PRNG (seeded, so a run's keys are reproducible). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The key of index i: "key:" and 12 decimal digits. Returns its length. */
static size_t key_format(uint64_t i, char out[BENCH_KEY_BUF])
{
    int n = snprintf(out, BENCH_KEY_BUF, "key:%012llu", (unsigned long long)i);
    return n > 0 ? (size_t)n : 0;
}

/* ---- the latency histogram -------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    unsigned shift = msb - (HIST_SUB_BITS - 1u);       /* >= 1 */
    return HIST_SUB + (shift - 1u) * HIST_HALF +
           (unsigned)((v >> shift) - HIST_HALF);
}

/* The midpoint of bucket idx, in the histogram's unit. */
static double hist_mid(unsigned idx)
{
    if (idx < HIST_SUB)
        return (double)idx;
    unsigned shift = (idx - HIST_SUB) / HIST_HALF + 1u;
    uint64_t sub = (idx - HIST_SUB) % HIST_HALF + HIST_HALF;
    double lo = (double)(sub << shift);
    return lo + ((double)(1ull << shift) - 1.0) / 2.0;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->bucket[hist_index(v)]++;
    h->count++;
    h->sum_ns += v;
    if (v > h->max_ns)
        h->max_ns = v;
}

/* The value at quantile q (0 < q <= 1): the bucket holding the
 * ceil(q * count)-th smallest value; never above the exact maximum. */
static double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    double want = q * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            double v = hist_mid(i);
            return v > (double)h->max_ns ? (double)h->max_ns : v;
        }
    }
    return (double)h->max_ns;
}

/* ---- the ring ----------------------------------------------------------- */

static int target_set(struct target *t, const struct chord_id *id,
                      const char *addr)
{
    char host[CHORD_ADDR_MAX];
    uint16_t port;
    if (chord_addr_parse(addr, host, &port) != 0)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (uv_ip4_addr(host, port, &t->sa) != 0)
        return -EINVAL;
    if (id)
        t->id = *id;
    snprintf(t->addr, sizeof(t->addr), "%s", addr);
    return 0;
}

static int target_cmp(const void *a, const void *b)
{
    return chord_id_cmp(&((const struct target *)a)->id,
                        &((const struct target *)b)->id);
}

/* Ask `addr` for its status with the blocking client. 0 or a negative
 * errno with the reason in err. */
static int fetch_status(const char *addr, int timeout_ms,
                        struct chord_status *st, char err[CHORD_BENCH_ERR_MAX])
{
    struct chord_client *c = NULL;
    int rc = chord_client_connect(addr, timeout_ms, &c);
    if (rc == 0)
        rc = chord_client_status(c, st);
    if (rc)
        set_err(err, "cannot get the status of %s: %s", addr,
                rc == -EIO ? chord_client_error(c) : strerror(-rc));
    chord_client_close(c);
    return rc;
}

/*
 * Learn the ring from the seed: walk successor pointers until back at the
 * start (or a repeat, or CHORD_BENCH_RING_MAX nodes), then sort by id.
 * From each node the walk goes to its first successor that answers, so a
 * crashed node the ring has not repaired yet is stepped over. Fills *out
 * (malloc'd, ring nodes followed by one spare entry for the seed) and *n.
 * 0 or a negative errno with err set.
 */
static int ring_learn(const char *seed, struct target **out, unsigned *n,
                      char err[CHORD_BENCH_ERR_MAX])
{
    struct chord_status *st = calloc(2, sizeof(*st));
    struct target *t = calloc(CHORD_BENCH_RING_MAX + 1, sizeof(*t));
    int rc = -ENOMEM;
    unsigned count = 0;
    if (!st || !t) {
        set_err(err, "out of memory");
        goto fail;
    }
    rc = fetch_status(seed, BENCH_WALK_TIMEOUT_MS, &st[0], err);
    if (rc)
        goto fail;
    struct chord_id start = st[0].self.id;
    struct chord_status *cur = &st[0], *next = &st[1];
    for (;;) {
        for (unsigned i = 0; i < count; i++) {
            if (chord_id_eq(&t[i].id, &cur->self.id)) {
                set_err(err,
                        "ring walk: %s repeats before returning to the "
                        "start",
                        cur->self.addr);
                rc = -EPROTO;
                goto fail;
            }
        }
        if (count == CHORD_BENCH_RING_MAX) {
            set_err(err, "ring walk: more than %u nodes", CHORD_BENCH_RING_MAX);
            rc = -E2BIG;
            goto fail;
        }
        rc = target_set(&t[count], &cur->self.id, cur->self.addr);
        if (rc) {
            set_err(err, "ring walk: a node names itself '%s'", cur->self.addr);
            goto fail;
        }
        count++;
        /* The first successor that answers; done when it is the start. */
        bool done = cur->n_succ == 0, moved = false;
        unsigned n_succ =
            cur->n_succ < CHORD_SUCC_MAX ? cur->n_succ : CHORD_SUCC_MAX;
        for (unsigned i = 0; i < n_succ && !done && !moved; i++) {
            if (chord_id_eq(&cur->succ[i].id, &start))
                done = true;
            else if (fetch_status(cur->succ[i].addr, BENCH_WALK_TIMEOUT_MS,
                                  next, err) == 0) {
                if (chord_id_eq(&next->self.id, &start))
                    done = true; /* it calls itself the start: same node */
                else
                    moved = true;
            }
        }
        if (done)
            break;
        if (!moved) {
            rc = -EHOSTUNREACH; /* err names the last successor tried */
            goto fail;
        }
        struct chord_status *tmp = cur;
        cur = next;
        next = tmp;
    }
    qsort(t, count, sizeof(*t), target_cmp);
    free(st);
    *out = t;
    *n = count;
    return 0;
fail:
    free(st);
    free(t);
    return rc;
}

/* The index of the ring node owning key id k: the first id >= k, else the
 * first node (wrap-around). ring_n > 0. */
static unsigned ring_owner(const struct bench *b, const struct chord_id *k)
{
    unsigned lo = 0, hi = b->ring_n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (chord_id_cmp(&b->targets[mid].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == b->ring_n ? 0 : lo;
}

/* ---- sockets ------------------------------------------------------------ */

static void settle(struct bench *b);
static void client_fill(struct bench_client *cl);

static void on_sock_close(uv_handle_t *h)
{
    struct bench_sock *s = h->data;
    chord_buf_free(&s->out);
    chord_buf_free(&s->wip);
    chord_buf_free(&s->in);
    free(s);
}

/* Close a socket (once); its memory goes in the close callback. Detaches
 * it from its client so the next request opens a new one. */
static void sock_close(struct bench_sock *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->cl->socks[s->target] == s)
        s->cl->socks[s->target] = NULL;
    uv_close((uv_handle_t *)&s->tcp, on_sock_close);
}

/* Account one finished request of the running operation and free its
 * slot. Does not issue more: the caller does (client_fill). */
static void finish(struct bench_client *cl, struct slot *sl, enum outcome o,
                   uint64_t now_ns)
{
    struct bench *b = cl->b;
    struct chord_bench_result *r = &b->rep->op[b->phase_op];
    switch (o) {
    case OUT_OK:
        r->ok++;
        hist_add(&b->hist[b->phase_op], now_ns - sl->start_ns);
        break;
    case OUT_NOT_FOUND:
        r->not_found++;
        hist_add(&b->hist[b->phase_op], now_ns - sl->start_ns);
        break;
    case OUT_ERR_STATUS:
        r->err_status++;
        break;
    case OUT_ERR_CONN:
        r->err_conn++;
        break;
    case OUT_ERR_TIMEOUT:
        r->err_timeout++;
        break;
    }
    if (sl->sock)
        sl->sock->in_flight--;
    sl->req_id = 0;
    sl->sock = NULL;
    cl->free_stack[cl->n_free++] = (uint16_t)(sl - cl->slots);
    b->finished++;
}

/* The socket failed (connect, read, write, protocol): every request
 * waiting on it fails, it is closed, and its client issues more. */
static void sock_fail(struct bench_sock *s, const char *why)
{
    if (s->closing)
        return;
    struct bench *b = s->b;
    struct bench_client *cl = s->cl;
    note_error(b, "%s: %s", b->targets[s->target].addr, why);
    if (b->ring_n > 0)
        b->ring_stale = true; /* a node may have gone: walk the ring again */
    sock_close(s);
    uint64_t now = uv_hrtime();
    for (unsigned i = 0; i < b->cfg->pipeline && s->in_flight > 0; i++) {
        struct slot *sl = &cl->slots[i];
        if (sl->req_id != 0 && sl->sock == s)
            finish(cl, sl, OUT_ERR_CONN, now);
    }
    if (b->running)
        client_fill(cl);
}

static void sock_mark_dirty(struct bench_sock *s)
{
    struct bench *b = s->b;
    if (s->dirty || b->n_dirty >= b->dirty_cap)
        return; /* cannot happen: see the sizing in bench_alloc() */
    s->dirty = true;
    b->dirty[b->n_dirty++] = s;
}

static void on_sock_write(uv_write_t *req, int status);

/* Hand the socket's pending bytes to the kernel: try a direct write, and
 * queue what is left as one uv_write. */
static void sock_flush(struct bench_sock *s)
{
    if (s->closing || !s->connected || s->writing || s->out.len == 0)
        return;
    uv_buf_t buf = uv_buf_init((char *)s->out.data, (unsigned)s->out.len);
    int n = uv_try_write((uv_stream_t *)&s->tcp, &buf, 1);
    if (n >= 0 && (size_t)n == s->out.len) {
        chord_buf_reset(&s->out);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        sock_fail(s, uv_strerror(n));
        return;
    }
    if (n > 0)
        chord_buf_consume(&s->out, (size_t)n);
    struct chord_buf tmp = s->wip;
    s->wip = s->out;
    s->out = tmp;
    chord_buf_reset(&s->out);
    buf = uv_buf_init((char *)s->wip.data, (unsigned)s->wip.len);
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &buf, 1, on_sock_write);
    if (rc) {
        sock_fail(s, uv_strerror(rc));
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
        sock_fail(s, uv_strerror(status));
    } else {
        chord_buf_reset(&s->wip);
        sock_flush(s);
    }
    settle(s->b);
}

static void on_sock_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct bench_sock *s = h->data;
    if (chord_buf_reserve(&s->in, BENCH_READ_CHUNK) != 0) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)s->in.data + s->in.len,
                       (unsigned)(s->in.cap - s->in.len));
}

static void handle_reply(struct bench_sock *s, const struct chord_msg *m,
                         uint64_t now);

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
        sock_fail(s, nread == UV_EOF ? "the node closed the connection"
                                     : uv_strerror((int)nread));
        settle(b);
        return;
    }
    s->in.len += (size_t)nread;
    uint64_t now = uv_hrtime();
    size_t off = 0;
    while (off < s->in.len && !s->closing) {
        ssize_t used =
            chord_msg_decode(s->in.data + off, s->in.len - off, b->reply);
        if (used == CHORD_DECODE_PARTIAL)
            break;
        if (used == CHORD_DECODE_MALFORMED) {
            sock_fail(s, "malformed reply");
            break;
        }
        off += (size_t)used;
        handle_reply(s, b->reply, now);
    }
    if (!s->closing)
        chord_buf_consume(&s->in, off);
    settle(b);
}

static void on_sock_connect(uv_connect_t *req, int status)
{
    struct bench_sock *s = req->data;
    if (s->closing)
        return;
    if (status < 0) {
        sock_fail(s, uv_strerror(status));
    } else {
        s->connected = true;
        (void)uv_tcp_nodelay(&s->tcp, 1);
        int rc =
            uv_read_start((uv_stream_t *)&s->tcp, on_sock_alloc, on_sock_read);
        if (rc)
            sock_fail(s, uv_strerror(rc));
        else
            sock_mark_dirty(s);
    }
    settle(s->b);
}

/* The client's socket to `target`, opening one if needed. NULL when a
 * socket cannot be created (the reason is noted). */
static struct bench_sock *sock_get(struct bench_client *cl, unsigned target)
{
    struct bench *b = cl->b;
    struct bench_sock *s = cl->socks[target];
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s) {
        note_error(b, "out of memory");
        return NULL;
    }
    s->b = b;
    s->cl = cl;
    s->target = target;
    int rc = uv_tcp_init(&b->loop, &s->tcp);
    if (rc) {
        note_error(b, "cannot make a socket: %s", uv_strerror(rc));
        free(s);
        return NULL;
    }
    s->tcp.data = s;
    s->creq.data = s;
    s->wreq.data = s;
    cl->socks[target] = s;
    rc = uv_tcp_connect(&s->creq, &s->tcp,
                        (const struct sockaddr *)&b->targets[target].sa,
                        on_sock_connect);
    if (rc) {
        note_error(b, "%s: %s", b->targets[target].addr, uv_strerror(rc));
        sock_close(s);
        return NULL;
    }
    b->rep->connections++;
    return s;
}

/* Encode the slot's request (its key given as key[0..len)) onto the
 * client's socket to `target`. False when it could not be queued (the
 * caller finishes the slot as failed). */
static bool slot_send(struct bench_client *cl, struct slot *sl, unsigned target,
                      const char *key, size_t len)
{
    struct bench *b = cl->b;
    struct bench_sock *s = sock_get(cl, target);
    if (!s)
        return false;
    struct chord_msg *m = b->req;
    m->req_id = sl->req_id;
    m->key.data = (const uint8_t *)key;
    m->key.len = len;
    int rc = chord_msg_encode(m, &s->out);
    if (rc) {
        note_error(b, "cannot encode a request: %s", strerror(-rc));
        return false;
    }
    sl->sock = s;
    s->in_flight++;
    sock_mark_dirty(s);
    return true;
}

/* Issue requests of the running operation until the client's pipeline is
 * full or none are left to issue. */
static void client_fill(struct bench_client *cl)
{
    struct bench *b = cl->b;
    while (b->running && b->to_issue > 0 && cl->n_free > 0) {
        uint16_t i = cl->free_stack[--cl->n_free];
        struct slot *sl = &cl->slots[i];
        b->to_issue--;
        sl->req_id = (b->next_seq++ << BENCH_SLOT_BITS) | i;
        sl->key_index = rng_next(&b->rng) % b->cfg->keyspace;
        sl->redirected = false;
        sl->sock = NULL;
        sl->start_ns = uv_hrtime();
        char key[BENCH_KEY_BUF];
        size_t len = key_format(sl->key_index, key);
        unsigned target = b->seed_target;
        if (b->ring_n > 0) {
            struct chord_id kid;
            chord_id_hash(&kid, key, len);
            target = ring_owner(b, &kid);
        }
        if (!slot_send(cl, sl, target, key, len))
            finish(cl, sl, OUT_ERR_CONN, uv_hrtime());
    }
}

static void handle_reply(struct bench_sock *s, const struct chord_msg *m,
                         uint64_t now)
{
    struct bench *b = s->b;
    struct bench_client *cl = s->cl;
    uint64_t i = m->req_id & ((1u << BENCH_SLOT_BITS) - 1u);
    if (i >= b->cfg->pipeline)
        return; /* not an id this client makes */
    struct slot *sl = &cl->slots[i];
    if (sl->req_id == 0 || sl->req_id != m->req_id || sl->sock != s)
        return; /* late: that request was given up */
    if (m->type != CHORD_MSG_C_RESULT) {
        sock_fail(s, "unexpected reply type");
        return;
    }
    if (!b->running)
        return;
    enum outcome o = OUT_ERR_STATUS;
    if (m->status == CHORD_OK) {
        o = OUT_OK;
    } else if (m->status == CHORD_NOT_FOUND) {
        o = OUT_NOT_FOUND;
    } else if (m->status == CHORD_REDIRECT && b->ring_n > 0 &&
               !sl->redirected) {
        /* The map is out of date: re-send through the seed, which routes
         * it, and learn the ring again before the next operation. */
        b->rep->op[b->phase_op].redirects++;
        b->ring_stale = true;
        s->in_flight--;
        sl->sock = NULL;
        sl->redirected = true;
        char key[BENCH_KEY_BUF];
        size_t len = key_format(sl->key_index, key);
        if (slot_send(cl, sl, b->seed_target, key, len))
            return;
        o = OUT_ERR_CONN;
    } else {
        note_error(b, "%s: %s", b->targets[s->target].addr,
                   m->error[0] ? m->error : chord_status_name(m->status));
    }
    finish(cl, sl, o, now);
    client_fill(cl);
}

/* ---- the run ------------------------------------------------------------ */

/* Close every socket and timer: the loop then ends by itself. */
static void bench_teardown(struct bench *b)
{
    for (size_t i = 0; i < (size_t)b->n_clients * b->n_targets; i++)
        if (b->sockv[i])
            sock_close(b->sockv[i]);
    if (!uv_is_closing((uv_handle_t *)&b->tick))
        uv_close((uv_handle_t *)&b->tick, NULL);
    if (!uv_is_closing((uv_handle_t *)&b->limit))
        uv_close((uv_handle_t *)&b->limit, NULL);
}

/* Fill in the figures of the running operation. */
static void phase_close(struct bench *b)
{
    struct chord_bench_result *r = &b->rep->op[b->phase_op];
    const struct hist *h = &b->hist[b->phase_op];
    r->seconds = (double)(uv_hrtime() - b->phase_start_ns) / 1e9;
    r->completed = r->ok + r->not_found;
    r->errors = r->err_status + r->err_conn + r->err_timeout + r->err_unsent;
    r->ops_per_sec = r->seconds > 0 ? (double)r->completed / r->seconds : 0;
    r->mean_ms = h->count ? (double)h->sum_ns / (double)h->count / 1e6 : 0;
    r->p50_ms = hist_quantile(h, 0.50) / 1e6;
    r->p99_ms = hist_quantile(h, 0.99) / 1e6;
    r->p999_ms = hist_quantile(h, 0.999) / 1e6;
    r->max_ms = (double)h->max_ns / 1e6;
}

/* Re-learn the ring between two operations after a redirect, keeping the
 * sockets to nodes that are still there. On failure the old map stays. */
static void ring_refresh(struct bench *b)
{
    b->ring_stale = false;
    /* Send what is queued before sockets change places (nothing should
     * be: every request of the operation has finished). */
    for (size_t i = 0; i < b->n_dirty; i++) {
        b->dirty[i]->dirty = false;
        sock_flush(b->dirty[i]);
    }
    b->n_dirty = 0;
    char err[CHORD_BENCH_ERR_MAX];
    struct target *nt = NULL;
    unsigned nn = 0;
    if (ring_learn(b->targets[b->seed_target].addr, &nt, &nn, err) != 0) {
        note_error(b, "%s", err);
        return;
    }
    size_t need = (size_t)b->n_clients * (nn + 1);
    struct bench_sock **nv = calloc(need, sizeof(*nv));
    struct bench_sock **nd = calloc(2 * need, sizeof(*nd));
    if (!nv || !nd || need > CHORD_BENCH_CONNS_MAX) {
        note_error(b, "cannot refresh the ring map (%u nodes)", nn);
        free(nv);
        free(nd);
        free(nt);
        return;
    }
    nt[nn] = b->targets[b->seed_target];
    for (unsigned c = 0; c < b->n_clients; c++) {
        struct bench_client *cl = &b->clients[c];
        struct bench_sock **ns = &nv[(size_t)c * (nn + 1)];
        for (unsigned t = 0; t < b->n_targets; t++) {
            struct bench_sock *s = cl->socks[t];
            if (!s)
                continue;
            unsigned to = nn; /* the seed keeps its place at the end */
            if (t != b->seed_target) {
                for (to = 0; to < nn; to++)
                    if (strcmp(nt[to].addr, b->targets[t].addr) == 0)
                        break;
            }
            if (to < nn || t == b->seed_target) {
                s->target = to;
                ns[to] = s;
                cl->socks[t] = NULL;
            }
        }
        for (unsigned t = 0; t < b->n_targets; t++)
            if (cl->socks[t])
                sock_close(cl->socks[t]); /* a node no longer in the ring */
        cl->socks = ns;
    }
    free(b->sockv);
    free(b->dirty);
    free(b->targets);
    b->sockv = nv;
    b->dirty = nd;
    b->dirty_cap = 2 * need;
    b->targets = nt;
    b->ring_n = nn;
    b->n_targets = nn + 1;
    b->seed_target = nn;
    b->rep->ring_nodes = nn;
}

/* Start operation `op` (or the next one asked for after it): prime every
 * client. Stops the run when there is none left. */
static void phase_start(struct bench *b, int from)
{
    int op = from;
    while (op < CHORD_BENCH_OPS && !(b->cfg->ops & (1u << op)))
        op++;
    if (op >= CHORD_BENCH_OPS) {
        b->running = false;
        b->phase_op = -1;
        bench_teardown(b);
        return;
    }
    if (b->ring_stale)
        ring_refresh(b);
    b->phase_op = op;
    b->to_issue = b->cfg->requests;
    b->finished = 0;
    b->rep->op[op].ran = true;
    b->rep->op[op].requests = b->cfg->requests;
    chord_msg_init(b->req,
                   op == CHORD_BENCH_PUT   ? CHORD_MSG_C_PUT
                   : op == CHORD_BENCH_GET ? CHORD_MSG_C_GET
                                           : CHORD_MSG_C_DEL,
                   0);
    b->req->consistency = b->cfg->consistency;
    if (op == CHORD_BENCH_PUT) {
        b->req->value.data = b->value;
        b->req->value.len = b->cfg->value_bytes;
    }
    b->phase_start_ns = uv_hrtime();
    for (unsigned c = 0; c < b->n_clients && b->running; c++)
        client_fill(&b->clients[c]);
}

/* End every callback here: advance finished operations, then send what
 * was queued. Loops because a flush may fail a socket, which may finish
 * the operation. Bounded: each pass finishes an operation or empties the
 * dirty list, and a failure only re-fills while requests are left. */
static void settle(struct bench *b)
{
    while (b->running) {
        if (b->finished == b->cfg->requests && b->to_issue == 0) {
            phase_close(b);
            phase_start(b, b->phase_op + 1);
            continue;
        }
        if (b->n_dirty == 0)
            break;
        size_t n = b->n_dirty;
        for (size_t i = 0; i < n; i++) {
            struct bench_sock *s = b->dirty[i];
            s->dirty = false;
            sock_flush(s);
        }
        /* Sockets marked during these flushes came after index n. */
        memmove(b->dirty, b->dirty + n, (b->n_dirty - n) * sizeof(*b->dirty));
        b->n_dirty -= n;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    if (!b->running)
        return;
    uint64_t now = uv_hrtime();
    uint64_t limit = (uint64_t)b->cfg->request_timeout_ms * 1000000ull;
    for (unsigned c = 0; c < b->n_clients; c++) {
        struct bench_client *cl = &b->clients[c];
        bool any = false;
        for (unsigned i = 0; i < b->cfg->pipeline; i++) {
            struct slot *sl = &cl->slots[i];
            if (sl->req_id == 0 || now - sl->start_ns < limit)
                continue;
            note_error(b, "%s did not answer within %u ms",
                       sl->sock ? b->targets[sl->sock->target].addr : "a node",
                       b->cfg->request_timeout_ms);
            finish(cl, sl, OUT_ERR_TIMEOUT, now);
            any = true;
        }
        if (any)
            client_fill(cl);
    }
    settle(b);
}

/* The run's time limit: what was not issued is unsent, what is in flight
 * timed out, operations not started are unsent in full. */
static void on_limit(uv_timer_t *t)
{
    struct bench *b = t->data;
    if (!b->running)
        return;
    b->rep->timed_out = true;
    note_error(b, "the run's time limit of %u ms passed",
               b->cfg->time_limit_ms);
    uint64_t now = uv_hrtime();
    struct chord_bench_result *r = &b->rep->op[b->phase_op];
    r->err_unsent += b->to_issue;
    b->finished += b->to_issue;
    b->to_issue = 0;
    for (unsigned c = 0; c < b->n_clients; c++)
        for (unsigned i = 0; i < b->cfg->pipeline; i++)
            if (b->clients[c].slots[i].req_id != 0)
                finish(&b->clients[c], &b->clients[c].slots[i], OUT_ERR_TIMEOUT,
                       now);
    phase_close(b);
    for (int op = b->phase_op + 1; op < CHORD_BENCH_OPS; op++) {
        if (!(b->cfg->ops & (1u << op)))
            continue;
        struct chord_bench_result *q = &b->rep->op[op];
        q->ran = true;
        q->requests = q->err_unsent = q->errors = b->cfg->requests;
    }
    b->running = false;
    bench_teardown(b);
}

static int check_config(const struct chord_bench_config *c,
                        char err[CHORD_BENCH_ERR_MAX])
{
    const char *bad = NULL;
    if (!c->node)
        bad = "no node to contact";
    else if (c->clients < 1 || c->clients > CHORD_BENCH_CLIENTS_MAX)
        bad = "clients out of range";
    else if (c->requests < 1 || c->requests > CHORD_BENCH_REQUESTS_MAX)
        bad = "requests out of range";
    else if (c->value_bytes > CHORD_VALUE_MAX)
        bad = "value size over the limit";
    else if (c->ops == 0 || c->ops >= (1u << CHORD_BENCH_OPS))
        bad = "no operation to run";
    else if (c->pipeline < 1 || c->pipeline > CHORD_BENCH_PIPELINE_MAX)
        bad = "pipeline out of range";
    else if ((uint64_t)c->clients * c->pipeline > CHORD_BENCH_INFLIGHT_MAX)
        bad = "clients x pipeline over the limit";
    else if (c->keyspace < 1 || c->keyspace > CHORD_BENCH_KEYSPACE_MAX)
        bad = "keyspace out of range";
    else if (c->consistency > CHORD_CONSISTENCY_ALL)
        bad = "unknown consistency level";
    else if (c->request_timeout_ms == 0 || c->time_limit_ms == 0 ||
             c->time_limit_ms > CHORD_BENCH_TIME_LIMIT_MAX_MS)
        bad = "timeouts out of range";
    if (bad) {
        set_err(err, "bad benchmark configuration: %s", bad);
        return -EINVAL;
    }
    return 0;
}

/* Make sure `socks` sockets fit under the descriptor limit, raising the
 * soft limit when the hard one allows. */
static int fd_room(size_t socks, char err[CHORD_BENCH_ERR_MAX])
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0; /* unknown: let socket creation report it */
    rlim_t need = (rlim_t)socks + BENCH_FD_SPARE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
            rl.rlim_cur = need;
            if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                return 0;
        }
        set_err(err,
                "%zu sockets needed, the file limit allows %llu "
                "(use fewer clients)",
                socks, (unsigned long long)rl.rlim_cur);
        return -EMFILE;
    }
    return 0;
}

/* Set up clients and their storage for the current targets. */
static int bench_alloc(struct bench *b)
{
    const struct chord_bench_config *c = b->cfg;
    size_t n_slots = (size_t)c->clients * c->pipeline;
    size_t n_socks = (size_t)c->clients * b->n_targets;
    b->n_clients = c->clients;
    b->clients = calloc(c->clients, sizeof(*b->clients));
    b->slots = calloc(n_slots, sizeof(*b->slots));
    b->free_stack = calloc(n_slots, sizeof(*b->free_stack));
    b->sockv = calloc(n_socks, sizeof(*b->sockv));
    /* One settle pass holds its batch plus the sockets opened while
     * flushing it (at most one per live socket): twice the sockets. */
    b->dirty = calloc(2 * n_socks, sizeof(*b->dirty));
    b->dirty_cap = 2 * n_socks;
    b->value = malloc(c->value_bytes ? c->value_bytes : 1);
    b->req = calloc(1, sizeof(*b->req));
    b->reply = calloc(1, sizeof(*b->reply));
    if (!b->clients || !b->slots || !b->free_stack || !b->sockv || !b->dirty ||
        !b->value || !b->req || !b->reply)
        return -ENOMEM;
    memset(b->value, 'x', c->value_bytes);
    for (unsigned i = 0; i < c->clients; i++) {
        struct bench_client *cl = &b->clients[i];
        cl->b = b;
        cl->idx = i;
        cl->slots = &b->slots[(size_t)i * c->pipeline];
        cl->free_stack = &b->free_stack[(size_t)i * c->pipeline];
        cl->socks = &b->sockv[(size_t)i * b->n_targets];
        /* Popped from the top: slot 0 is used first. */
        for (unsigned k = 0; k < c->pipeline; k++)
            cl->free_stack[k] = (uint16_t)(c->pipeline - 1u - k);
        cl->n_free = c->pipeline;
    }
    return 0;
}

static void bench_free(struct bench *b)
{
    free(b->clients);
    free(b->slots);
    free(b->free_stack);
    free(b->sockv);
    free(b->dirty);
    free(b->value);
    free(b->req);
    free(b->reply);
    free(b->targets);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL); /* not expected: everything is closed already */
}

int chord_bench_run(const struct chord_bench_config *cfg,
                    struct chord_bench_report *out,
                    char err[CHORD_BENCH_ERR_MAX])
{
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    int rc = check_config(cfg, err);
    if (rc)
        return rc;

    struct bench *b = calloc(1, sizeof(*b));
    if (!b) {
        set_err(err, "out of memory");
        return -ENOMEM;
    }
    b->cfg = cfg;
    b->rep = out;
    b->phase_op = -1;
    b->next_seq = 1;
    b->rng = cfg->seed;

    /* The seed answers (and, ring-aware, the ring is learnt) first. */
    struct chord_status *st = calloc(1, sizeof(*st));
    rc = st ? fetch_status(cfg->node, (int)cfg->request_timeout_ms, st, err)
            : -ENOMEM;
    if (rc == -ENOMEM)
        set_err(err, "out of memory");
    if (rc == 0)
        out->replicas = st->replicas;
    free(st);
    if (rc)
        goto out_free;
    if (cfg->direct) {
        rc = ring_learn(cfg->node, &b->targets, &b->ring_n, err);
        if (rc)
            goto out_free;
        b->n_targets = b->ring_n + 1;
        out->ring_nodes = b->ring_n;
    } else {
        b->targets = calloc(1, sizeof(*b->targets));
        if (!b->targets) {
            set_err(err, "out of memory");
            rc = -ENOMEM;
            goto out_free;
        }
        b->n_targets = 1;
    }
    b->seed_target = b->n_targets - 1;
    rc = target_set(&b->targets[b->seed_target], NULL, cfg->node);
    if (rc) {
        set_err(err, "bad node address '%s'", cfg->node);
        goto out_free;
    }
    size_t socks = (size_t)cfg->clients * b->n_targets;
    if (socks > CHORD_BENCH_CONNS_MAX) {
        set_err(err, "%zu sockets needed (clients x targets), the cap is %u",
                socks, CHORD_BENCH_CONNS_MAX);
        rc = -EINVAL;
        goto out_free;
    }
    rc = fd_room(socks, err);
    if (rc)
        goto out_free;
    rc = bench_alloc(b);
    if (rc) {
        set_err(err, "out of memory");
        goto out_free;
    }

    rc = uv_loop_init(&b->loop);
    if (rc) {
        set_err(err, "cannot make an event loop: %s", uv_strerror(rc));
        goto out_free;
    }
    uv_timer_init(&b->loop, &b->tick);
    uv_timer_init(&b->loop, &b->limit);
    b->tick.data = b->limit.data = b;
    uint64_t tick = cfg->request_timeout_ms / 4u;
    if (tick < BENCH_TICK_MIN_MS)
        tick = BENCH_TICK_MIN_MS;
    if (tick > BENCH_TICK_MAX_MS)
        tick = BENCH_TICK_MAX_MS;
    uv_timer_start(&b->tick, on_tick, tick, tick);
    uv_timer_start(&b->limit, on_limit, cfg->time_limit_ms, 0);

    b->running = true;
    phase_start(b, 0);
    settle(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);

    /* Everything was closed by the teardown; make sure of it. */
    rc = uv_loop_close(&b->loop);
    if (rc == UV_EBUSY) {
        uv_walk(&b->loop, on_walk_close, NULL);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        rc = uv_loop_close(&b->loop);
    }
    if (rc) {
        set_err(err, "the event loop did not close: %s", uv_strerror(rc));
        rc = -EBUSY;
    }
out_free:
    bench_free(b);
    free(b);
    return rc;
}
