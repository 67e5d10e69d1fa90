/*
 * bench_load.c - the load itself: issue requests, finish them, and move
 * from one operation to the next (put, get, del), with the request
 * timeouts and the run's time limit.
 *
 * A request's id is (sequence << BENCH_SLOT_BITS) | slot, the sequence
 * being unique over the whole run: a reply is matched to its slot in O(1),
 * and a late reply to a request already given up (timed out) no longer
 * matches and is dropped. Keys are "key:" and 12 digits, drawn from a
 * seeded PRNG (splitmix64), so a run's keys are reproducible.
 *
 * Every callback ends in bench_settle(), which moves to the next operation
 * when the current one is finished and then flushes the dirty sockets.
 * Nothing ever fails synchronously into a callback chain: a request whose
 * socket cannot even be created is finished as an error where it was
 * issued, and the issuing loop, bounded by the requests left, goes on.
 *
 * Invariants: slots in use <= clients x pipeline; per operation, issued
 * requests <= requests asked, and every issued request is finished exactly
 * once (reply, socket failure, timeout or the end of the run).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dht/bench_internal.h"

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
        bench_hist_add(&b->hist[b->phase_op], now_ns - sl->start_ns);
        break;
    case OUT_NOT_FOUND:
        r->not_found++;
        bench_hist_add(&b->hist[b->phase_op], now_ns - sl->start_ns);
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
    b->finished_all++;
}

static void client_fill(struct bench_client *cl);

/* The socket failed (connect, read, write, protocol; its on_fail): every
 * request waiting on it fails, it is closed, and its client issues more. */
static void sock_fail(struct bench_sock *s, const char *why)
{
    if (s->closing)
        return;
    struct bench *b = s->b;
    struct bench_client *cl = s->cl;
    bench_note_error(b, "%s: %s", b->targets[s->target].addr, why);
    if (b->ring_n > 0)
        b->ring_stale = true; /* a node may have gone: walk the ring again */
    bench_sock_close(s);
    uint64_t now = uv_hrtime();
    for (unsigned i = 0; i < b->cfg->pipeline && s->in_flight > 0; i++) {
        struct slot *sl = &cl->slots[i];
        if (sl->req_id != 0 && sl->sock == s)
            finish(cl, sl, OUT_ERR_CONN, now);
    }
    if (b->running)
        client_fill(cl);
}

/* Encode the slot's request (its key given as key[0..len)) onto the
 * client's socket to `target`. False when it could not be queued (the
 * caller finishes the slot as failed). */
static bool slot_send(struct bench_client *cl, struct slot *sl, unsigned target,
                      const char *key, size_t len)
{
    struct bench *b = cl->b;
    struct bench_sock *s = bench_sock_get(cl, target);
    if (!s)
        return false;
    b->req.req_id = sl->req_id;
    b->req.key = key;
    b->req.key_len = len;
    int rc = chord_frame_encode_request(&b->req, &s->out);
    if (rc) {
        bench_note_error(b, "cannot encode a request: %s", strerror(-rc));
        return false;
    }
    sl->sock = s;
    s->in_flight++;
    bench_sock_mark_dirty(s);
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
            target = bench_ring_owner(b, &kid);
        }
        if (!slot_send(cl, sl, target, key, len))
            finish(cl, sl, OUT_ERR_CONN, uv_hrtime());
    }
}

/* A reply arrived on s (the socket's on_reply): finish its request, or
 * re-send a redirected one through the seed. */
static void handle_reply(struct bench_sock *s,
                         const struct chord_frame_reply *m, uint64_t now)
{
    struct bench *b = s->b;
    struct bench_client *cl = s->cl;
    uint64_t i = m->req_id & ((1u << BENCH_SLOT_BITS) - 1u);
    if (i >= b->cfg->pipeline)
        return; /* not an id this client makes */
    struct slot *sl = &cl->slots[i];
    if (sl->req_id == 0 || sl->req_id != m->req_id || sl->sock != s)
        return; /* late: that request was given up */
    if (m->kind != CHORD_FRAME_RESULT) {
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
        bench_note_error(b, "%s: %s", b->targets[s->target].addr,
                         m->error[0] ? m->error : chord_status_name(m->status));
    }
    finish(cl, sl, o, now);
    client_fill(cl);
}

/* Close every socket and timer: the loop then ends by itself. */
static void bench_teardown(struct bench *b)
{
    for (size_t i = 0; i < (size_t)b->n_clients * b->n_targets; i++)
        if (b->sockv[i])
            bench_sock_close(b->sockv[i]);
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
    r->p50_ms = bench_hist_quantile(h, 0.50) / 1e6;
    r->p99_ms = bench_hist_quantile(h, 0.99) / 1e6;
    r->p999_ms = bench_hist_quantile(h, 0.999) / 1e6;
    r->max_ms = (double)h->max_ns / 1e6;
}

/* Start operation `op` (or the next one asked for after it): prime every
 * client. Stops the run when there is none left. */
void bench_phase_start(struct bench *b, int from)
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
        bench_ring_refresh(b);
    b->phase_op = op;
    b->to_issue = b->cfg->requests;
    b->finished = 0;
    b->rep->op[op].ran = true;
    b->rep->op[op].requests = b->cfg->requests;
    memset(&b->req, 0, sizeof b->req);
    b->req.op = op == CHORD_BENCH_PUT   ? CHORD_FRAME_PUT
                : op == CHORD_BENCH_GET ? CHORD_FRAME_GET
                                        : CHORD_FRAME_DEL;
    b->req.consistency = b->cfg->consistency;
    if (op == CHORD_BENCH_PUT) {
        b->req.value = b->value;
        b->req.value_len = b->cfg->value_bytes;
    }
    b->phase_start_ns = uv_hrtime();
    for (unsigned c = 0; c < b->n_clients && b->running; c++)
        client_fill(&b->clients[c]);
}

/* End every callback here: advance finished operations, then send what
 * was queued. Loops because a flush may fail a socket, which may finish
 * the operation. Bounded: each pass finishes an operation or empties the
 * dirty list, and a failure only re-fills while requests are left. */
void bench_settle(struct bench *b)
{
    while (b->running) {
        if (b->finished == b->cfg->requests && b->to_issue == 0) {
            phase_close(b);
            bench_phase_start(b, b->phase_op + 1);
            continue;
        }
        if (b->n_dirty == 0)
            break;
        size_t n = b->n_dirty;
        for (size_t i = 0; i < n; i++) {
            struct bench_sock *s = b->dirty[i];
            s->dirty = false;
            bench_sock_flush(s);
        }
        /* Sockets marked during these flushes came after index n. */
        memmove(b->dirty, b->dirty + n, (b->n_dirty - n) * sizeof(*b->dirty));
        b->n_dirty -= n;
    }
}

void bench_on_tick(uv_timer_t *t)
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
            bench_note_error(b, "%s did not answer within %u ms",
                             sl->sock ? b->targets[sl->sock->target].addr
                                      : "a node",
                             b->cfg->request_timeout_ms);
            finish(cl, sl, OUT_ERR_TIMEOUT, now);
            any = true;
        }
        if (any)
            client_fill(cl);
    }
    chord_progress_update(&b->progress, b->finished_all);
    bench_settle(b);
}

/* The run's time limit: what was not issued is unsent, what is in flight
 * timed out, operations not started are unsent in full. */
void bench_on_limit(uv_timer_t *t)
{
    struct bench *b = t->data;
    if (!b->running)
        return;
    b->rep->timed_out = true;
    bench_note_error(b, "the run's time limit of %u ms passed",
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

void bench_load_attach(struct bench *b)
{
    b->on_reply = handle_reply;
    b->on_fail = sock_fail;
    b->on_settle = bench_settle;
}
