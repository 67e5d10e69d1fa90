/*
 * replica.c - replicated writes, quorum reads, hedging and read repair
 * (see replica.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "core/keystate.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/read_lease.h"

static void write_replica_done(struct chord_node *n, uint64_t now, uint64_t wid,
                               bool acked);

void chord__replicas_init(struct chord_replicas *r)
{
    chord_seq_init(&r->writes, sizeof(struct pwrite));
    chord_seq_init(&r->reads, sizeof(struct pread));
    chord__rbatches_init(&r->batch, write_replica_done);
}

unsigned chord__replica_flush(struct chord_node *n, uint64_t now)
{
    return n->rep.batch.n_held ? chord__rbatch_flush(n, now) : 0;
}

/* Deliver an outcome to whoever asked. */
static void reply(struct chord_node *n, uint64_t now,
                  const struct chord_reply_to *to, uint8_t status,
                  const char *error, const struct chord_peer *hint,
                  const uint8_t *value, size_t value_len,
                  const struct chord_bytes *state)
{
    to->done(n, now, to, status, error, hint, value, value_len,
             to->want_state ? state : NULL);
}

static void reply_status(struct chord_node *n, uint64_t now,
                         const struct chord_reply_to *to, uint8_t status,
                         const char *error)
{
    reply(n, now, to, status, error, NULL, NULL, 0, NULL);
}

/* Can `reachable` copies (ours included) satisfy `needed`? If not, tell
 * the requester so and return false. */
static bool enough_replicas(struct chord_node *n, uint64_t now,
                            const struct chord_reply_to *to, unsigned reachable,
                            unsigned needed)
{
    if (reachable >= needed)
        return true;
    char why[120];
    snprintf(why, sizeof(why),
             "only %u of the %u replicas required are reachable", reachable,
             needed);
    reply_status(n, now, to, CHORD_UNAVAILABLE, why);
    return false;
}

/* ------------------------------------------------------------------------ */
/* writes                                                                   */

static void write_finish(struct chord_node *n, uint64_t now, struct pwrite *w,
                         bool ok)
{
    struct chord_reply_to to = w->to;
    unsigned acks = w->acks, needed = w->needed;
    struct chord_bytes state = {w->state, w->state_len};
    w->state = NULL;
    chord_seq_finish(&n->rep.writes, w);
    if (ok) {
        reply(n, now, &to, CHORD_OK, NULL, NULL, NULL, 0,
              state.data ? &state : NULL);
    } else {
        char why[120];
        snprintf(why, sizeof(why),
                 "write stored durably on %u of the %u replicas required", acks,
                 needed);
        reply_status(n, now, &to, CHORD_UNAVAILABLE, why);
    }
    free((uint8_t *)state.data);
}

/* Decide a write once it has enough copies, or can no longer get them. */
static void write_check(struct chord_node *n, uint64_t now, struct pwrite *w)
{
    if (w->acks >= w->needed)
        write_finish(n, now, w, true);
    else if (w->acks + w->pending < w->needed)
        write_finish(n, now, w, false);
}

/* Write `wid`'s copy at one replica was acknowledged, or will not be. */
static void write_replica_done(struct chord_node *n, uint64_t now, uint64_t wid,
                               bool acked)
{
    struct pwrite *w = chord_seq_find(&n->rep.writes, wid);
    if (!w)
        return;
    w->pending--;
    if (acked)
        w->acks++;
    write_check(n, now, w);
}

/* Log, apply and replicate `it` (the key's new state, or a legacy item
 * for a restore); `state` is its encoding for the answer (want_state),
 * taken over (freed here). */
static void write_item(struct chord_node *n, uint64_t now,
                       const struct chord_item *it, uint8_t consistency,
                       const struct chord_reply_to *to, struct chord_buf *state)
{
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned r = chord__replica_factor(n);
    unsigned nt = chord__replica_targets(n, now, targets, r - 1);
    unsigned needed = chord__copies_needed(n, consistency);
    if (!enough_replicas(n, now, to, 1 + nt, needed)) {
        chord_buf_free(state);
        return;
    }
    uint64_t seq;
    int rc = chord__apply(n, it, &seq);
    if (rc) {
        chord__log(n, CHORD_LOG_ERROR, "cannot store a write: %s",
                   strerror(-rc));
        reply_status(n, now, to, CHORD_BUSY,
                     rc == -EIO ? "the node cannot log writes"
                                : "out of memory");
        chord_buf_free(state);
        return;
    }
    struct pwrite *w = chord_seq_push(&n->rep.writes);
    if (!w) {
        reply_status(n, now, to, CHORD_BUSY, "out of memory");
        chord_buf_free(state);
        return;
    }
    w->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    w->to = *to;
    w->needed = needed;
    w->state = state->len ? state->data : NULL; /* taken over */
    w->state_len = state->len;
    if (!w->state)
        chord_buf_free(state);
    w->local_seq = seq;
    w->pending = nt;
    if (seq == 0)
        w->acks = 1;
    else
        w->pending++;
    uint64_t wid = w->h.id;

    /* Held for the replicas until the turn ends (replica_batch.h); a
     * copy that cannot be held has failed at once. */
    unsigned failed = 0;
    for (unsigned i = 0; i < nt; i++)
        if (chord__rbatch_add(n, now, &targets[i], it, wid) != 0)
            failed++;
    w = chord_seq_find(&n->rep.writes, wid);
    if (w) {
        w->pending -= failed;
        write_check(n, now, w);
    }
}

void chord__replica_write(struct chord_node *n, uint64_t now,
                          const struct chord_item *item,
                          struct chord_dvv *state, const struct chord_dvv *ctx,
                          uint8_t consistency, const struct chord_reply_to *to)
{
    struct chord_dvv *d = state, *own = NULL;
    if (!d) { /* the caller has not loaded it */
        if (!(d = own = malloc(sizeof *d))) {
            reply_status(n, now, to, CHORD_BUSY, "out of memory");
            return;
        }
        chord__keystate_load(n, chord__wall(n, now), item->key.data,
                             item->key.len, d);
    }
    /* A dot past everything the state and the context have seen. */
    uint64_t counter = n->commit.lamport + 1;
    uint64_t seen = chord_dvv_max_counter(d);
    if (ctx && chord_dvv_max_counter(ctx) > seen)
        seen = chord_dvv_max_counter(ctx);
    if (counter <= seen)
        counter = seen + 1;
    n->commit.lamport = counter;
    struct chord_sibling sib = {0};
    sib.tombstone = item->tombstone;
    sib.deadline = item->tombstone ? 0 : item->deadline;
    if (!item->tombstone)
        sib.value = item->value;
    int rc = chord_dvv_write(d, ctx, &n->rt.self.id, counter, &sib);
    if (rc) {
        free(own);
        reply_status(n, now, to, CHORD_TOO_LARGE,
                     "the key would hold more concurrent values (or writers) "
                     "than it may: resolve its siblings with a put --context "
                     "first");
        return;
    }
    struct chord_buf scratch, blob;
    chord_buf_init(&scratch);
    chord_buf_init(&blob);
    struct chord_item it = *item;
    it.legacy = false;
    rc = chord_dvv_to_item(d, &scratch, &it);
    if (!rc && to->want_state)
        rc = chord_dvv_encode(d, &blob);
    free(own);
    if (rc) {
        chord_buf_free(&scratch);
        chord_buf_free(&blob);
        reply_status(n, now, to, rc == -EMSGSIZE ? CHORD_TOO_LARGE : CHORD_BUSY,
                     rc == -EMSGSIZE ? "the key's values would be over the "
                                       "cap of one state: resolve its "
                                       "siblings first"
                                     : "out of memory");
        return;
    }
    write_item(n, now, &it, consistency, to, &blob);
    chord_buf_free(&scratch);
}

void chord__replica_restore(struct chord_node *n, uint64_t now,
                            const struct chord_item *item, uint8_t consistency,
                            const struct chord_reply_to *to)
{
    struct chord_dvv *d = malloc(2 * sizeof *d);
    if (!d) {
        reply_status(n, now, to, CHORD_BUSY, "out of memory");
        return;
    }
    struct chord_item it = *item;
    it.legacy = true;
    it.state.len = 0;
    it.deadline = 0;
    if (it.tombstone)
        it.value.len = 0;
    chord__keystate_load(n, chord__wall(n, now), it.key.data, it.key.len, d);
    int changed = chord_dvv_from_item(&it, d + 1) == 0
                      ? chord_dvv_merge_legacy(d, d + 1)
                      : 0;
    free(d);
    if (changed <= 0) { /* as new or newer already: a repeated restore */
        reply_status(n, now, to, CHORD_OK, NULL);
        return;
    }
    struct chord_buf none;
    chord_buf_init(&none);
    write_item(n, now, &it, consistency, to, &none);
}

/* ------------------------------------------------------------------------ */
/* reads                                                                    */

static void read_free(struct pread *p)
{
    free(p->key);
    free(p->state);
    free(p->session);
    p->key = p->state = p->session = NULL;
}

/* Merge a copy's state into the read's. */
static void read_consider(struct chord_node *n, struct pread *p,
                          const struct chord_dvv *copy)
{
    struct chord_dvv *d = malloc(sizeof *d);
    if (!d)
        return;
    struct chord_buf out;
    chord_buf_init(&out);
    if (chord_dvv_decode(p->state, p->state_len, d) == 0) {
        int rc = chord_dvv_merge(d, copy);
        if (rc == 1 && chord_dvv_encode(d, &out) == 0) {
            free(p->state);
            p->state = out.data;
            p->state_len = out.len;
            chord_buf_init(&out);
        } else if (rc < 0) {
            chord__log(n, CHORD_LOG_WARN,
                       "a replica's copy does not fit beside ours (%s): kept "
                       "ours",
                       strerror(-rc));
        }
    }
    chord_buf_free(&out);
    free(d);
}

/* Does the merged state fall short of the session's context? */
static bool read_short(const struct pread *p, struct chord_dvv *scratch)
{
    if (!p->session)
        return false;
    struct chord_dvv *sess = scratch + 1;
    if (chord_dvv_decode(p->state, p->state_len, scratch) != 0 ||
        chord_dvv_decode(p->session, p->session_len, sess) != 0)
        return true;
    return !chord_dvv_covers(scratch, sess);
}

/* Answer a reader from state *d (collected at wall). */
static void answer_state(struct chord_node *n, uint64_t now,
                         const struct chord_reply_to *to,
                         const struct chord_dvv *d, uint64_t wall,
                         const struct chord_bytes *blob)
{
    const uint8_t *v;
    size_t vlen;
    unsigned live;
    uint8_t st = chord__keystate_answer(d, wall, &v, &vlen, &live);
    char why[CHORD_ERRMSG_MAX];
    const char *err = NULL;
    if (st == CHORD_NOT_FOUND)
        err = "not found";
    else if (st == CHORD_SIBLINGS) {
        chord__keystate_siblings_error(live, why, sizeof why);
        err = why;
    }
    reply(n, now, to, st, err, NULL, v, vlen, blob);
}

static void read_answer(struct chord_node *n, uint64_t now, struct pread *p)
{
    p->answered = true;
    struct chord_dvv *d = malloc(sizeof *d);
    if (!d || chord_dvv_decode(p->state, p->state_len, d) != 0) {
        free(d);
        reply_status(n, now, &p->to, CHORD_BUSY, "out of memory");
        return;
    }
    struct chord_bytes blob = {p->state, p->state_len};
    answer_state(n, now, &p->to, d, chord__wall(n, now), &blob);
    free(d);
}

/* Every replica answered or the deadline passed: repair, then forget. */
static void read_close(struct chord_node *n, uint64_t now, struct pread *p)
{
    if (!p->answered) {
        char why[120];
        snprintf(why, sizeof(why),
                 "only %u of the %u replicas required answered the read",
                 p->got, p->needed);
        p->answered = true;
        reply_status(n, now, &p->to, CHORD_UNAVAILABLE, why);
    }
    struct chord_dvv *d = malloc(sizeof *d);
    struct chord_buf scratch;
    chord_buf_init(&scratch);
    struct chord_item it = {0};
    it.key.data = p->key;
    it.key.len = p->key_len;
    uint64_t h = chord__state_hash(p->state, p->state_len);
    if (d && chord_dvv_decode(p->state, p->state_len, d) == 0 &&
        (d->n_vv > 0) && chord_dvv_to_item(d, &scratch, &it) == 0) {
        if (h != p->own_hash) {
            uint64_t seq;
            if (chord__apply(n, &it, &seq) == 0)
                chord__log(n, CHORD_LOG_DEBUG, "read repair of our own copy");
        }
        struct chord_msg *m = NULL;
        for (unsigned i = 0; i < p->n_asked; i++) {
            if (!p->answered_by[i] || p->seen[i] == h)
                continue;
            if (!m && !(m = chord__msg(n, CHORD_MSG_TRANSFER, 0)))
                break;
            m->flags = CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST;
            m->items = &it;
            m->n_items = 1;
            chord__log(n, CHORD_LOG_DEBUG, "read repair of %s",
                       p->asked[i].addr);
            chord__rpc(n, now, RPC_REPAIR, &p->asked[i], 0, m);
        }
        chord__msg_free(n, m);
    }
    chord_buf_free(&scratch);
    free(d);
    read_free(p);
    chord_seq_finish(&n->rep.reads, p);
}

static bool read_ask_next(struct chord_node *n, uint64_t now, struct pread *p);

static void read_check(struct chord_node *n, uint64_t now, struct pread *p)
{
    if (!p->answered && p->got >= p->needed) {
        struct chord_dvv *scratch = malloc(2 * sizeof *scratch);
        bool is_short = !scratch || read_short(p, scratch);
        free(scratch);
        if (!is_short) {
            read_answer(n, now, p);
        } else {
            /* Short of what the session saw: ask every replica left. */
            while (read_ask_next(n, now, p))
                ;
            if (p->pending == 0) {
                p->answered = true;
                reply_status(n, now, &p->to, CHORD_TRY_AGAIN,
                             "session: no copy of this key reached is as new "
                             "as what this session has seen");
            }
        }
    }
    if (p->pending == 0 || (!p->answered && p->got + p->pending < p->needed))
        read_close(n, now, p);
}

/* How long to wait for a replica before asking another: a few of its
 * measured round trips (the failure detector keeps them), at least 5 ms. */
static uint64_t hedge_delay(const struct chord_node *n, const char *addr)
{
    const struct chord_fd_peer *fp = chord_fd_find(&n->fd, addr);
    uint64_t d = 5;
    if (fp && fp->rtt_known && 4 * fp->srtt_ms + 2 > (double)d)
        d = (uint64_t)(4 * fp->srtt_ms + 2);
    return d;
}

/* Ask the next replica not asked yet; false when there is none. */
static bool read_ask_next(struct chord_node *n, uint64_t now, struct pread *p)
{
    p->hedge_at = UINT64_MAX;
    if (p->n_asked >= p->n_targets)
        return false;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_REPLICA_GET, 0);
    if (!m)
        return false;
    m->key.data = p->key;
    m->key.len = p->key_len;
    m->causal = CHORD_CAUSAL_WANT;
    struct chord_peer to = p->targets[p->n_asked];
    p->asked[p->n_asked++] = to;
    p->pending++;
    if (p->n_asked < p->n_targets)
        p->hedge_at = now + hedge_delay(n, to.addr);
    chord__rpc(n, now, RPC_REPLICA_GET, &to, p->h.id, m);
    chord__msg_free(n, m);
    return true;
}

/* A read answered by our copy alone, without building its state when it
 * is simple (the common case, kept cheap). */
static void read_alone(struct chord_node *n, uint64_t now, const uint8_t *key,
                       size_t key_len, const struct chord_reply_to *to)
{
    uint64_t wall = chord__wall(n, now);
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &fv);
    if (!to->want_state && (!e || !e->state)) {
        if (e && !e->tombstone && (!e->deadline || e->deadline > wall))
            reply(n, now, to, CHORD_OK, NULL, NULL, e->value, e->value_len,
                  NULL);
        else
            reply_status(n, now, to, CHORD_NOT_FOUND, "not found");
        return;
    }
    struct chord_dvv *d = malloc(sizeof *d);
    struct chord_buf blob;
    chord_buf_init(&blob);
    if (!d || (chord__keystate_load(n, wall, key, key_len, d),
               to->want_state && chord_dvv_encode(d, &blob) != 0)) {
        free(d);
        chord_buf_free(&blob);
        reply_status(n, now, to, CHORD_BUSY, "out of memory");
        return;
    }
    struct chord_bytes b = {blob.data, blob.len};
    answer_state(n, now, to, d, wall, &b);
    chord_buf_free(&blob);
    free(d);
}

void chord__replica_read(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, uint8_t consistency,
                         const struct chord_bytes *session,
                         const struct chord_reply_to *to)
{
    bool has_session = session && session->len > 0;
    unsigned needed = chord__copies_needed(n, consistency);
    bool alone = needed <= 1;
    if (!alone && consistency != CHORD_CONSISTENCY_ALL &&
        chord__lease_holds(n, now))
        alone = true;
    if (alone && !has_session) { /* the common read: no state built */
        read_alone(n, now, key, key_len, to);
        return;
    }
    struct chord_dvv *d = malloc(2 * sizeof *d);
    if (!d) {
        reply_status(n, now, to, CHORD_BUSY, "out of memory");
        return;
    }
    uint64_t wall = chord__wall(n, now);
    if (has_session &&
        chord_dvv_decode(session->data, session->len, d + 1) != 0) {
        free(d);
        reply_status(n, now, to, CHORD_BAD_REQUEST,
                     "the session's context does not decode");
        return;
    }
    chord__keystate_load(n, wall, key, key_len, d);
    if (alone && (!has_session || chord_dvv_covers(d, d + 1))) {
        free(d);
        read_alone(n, now, key, key_len, to);
        return;
    }
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned nt =
        chord__replica_targets(n, now, targets, chord__replica_factor(n) - 1);
    if (!enough_replicas(n, now, to, 1 + nt, needed)) {
        free(d);
        return;
    }
    struct chord_buf own;
    chord_buf_init(&own);
    int erc = chord_dvv_encode(d, &own);
    free(d);
    struct pread *p = erc ? NULL : chord_seq_push(&n->rep.reads);
    uint8_t *k = p ? malloc(key_len ? key_len : 1) : NULL;
    uint8_t *sess = p && has_session ? malloc(session->len) : NULL;
    if (!p || !k || (has_session && !sess)) {
        free(k);
        free(sess);
        chord_buf_free(&own);
        if (p)
            chord_seq_finish(&n->rep.reads, p);
        reply_status(n, now, to, CHORD_BUSY, "out of memory");
        return;
    }
    if (key_len)
        memcpy(k, key, key_len);
    p->key = k;
    p->key_len = key_len;
    p->state = own.data; /* taken over */
    p->state_len = own.len;
    p->own_hash = chord__state_hash(own.data, own.len);
    if (has_session) {
        memcpy(sess, session->data, session->len);
        p->session = sess;
        p->session_len = session->len;
    }
    p->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    p->to = *to;
    p->needed = needed < 1 ? 1 : needed;
    p->got = 1;
    memcpy(p->targets, targets, nt * sizeof(targets[0]));
    p->n_targets = nt;
    for (unsigned i = 0; i + 1 < p->needed; i++)
        read_ask_next(n, now, p);
    read_check(n, now, p);
}

void chord__replica_handle_get(struct chord_node *n, const struct chord_msg *m)
{
    struct chord_dvv *d = malloc(sizeof *d);
    struct chord_msg *r = chord__msg(n, CHORD_MSG_STORE_RESULT, m->req_id);
    struct chord_buf blob;
    chord_buf_init(&blob);
    if (d && r) {
        /* Our copy as it is (the owner collects what expired). */
        struct chord_store_entry fv;
        const struct chord_store_entry *e =
            chord_store_find(n->store, m->key.data, m->key.len, &fv);
        struct chord_item it = {0};
        if (e)
            chord_store_entry_item(e, &it);
        if (!e || chord_dvv_from_item(&it, d) != 0)
            chord_dvv_init(d);
        if (chord_dvv_encode(d, &blob) == 0) {
            r->status = e && !e->tombstone ? CHORD_OK : CHORD_NOT_FOUND;
            r->causal = CHORD_CAUSAL_STATE;
            r->state.data = blob.data;
            r->state.len = blob.len;
            chord__send(n, m->from.addr, r);
        }
    }
    chord_buf_free(&blob);
    chord__msg_free(n, r);
    free(d);
}

void chord__replica_answer(struct chord_node *n, uint64_t now,
                           const struct rpc *r, const struct chord_msg *m)
{
    switch (r->kind) {
    case RPC_REPLICATE: /* a batch: each of its writes is told */
        chord__rbatch_settled(n, now, r->arg, m != NULL);
        return;
    case RPC_REPLICA_GET: {
        struct pread *p = chord_seq_find(&n->rep.reads, r->arg);
        if (!p)
            return;
        p->pending--;
        if (!m || m->type != CHORD_MSG_STORE_RESULT) {
            /* That replica failed: ask another one, if any is left. */
            if (!p->answered)
                read_ask_next(n, now, p);
        } else {
            p->got++;
            struct chord_dvv *d = malloc(sizeof *d);
            bool has = (m->causal & CHORD_CAUSAL_STATE) && d &&
                       chord_dvv_decode(m->state.data, m->state.len, d) == 0;
            if (has)
                read_consider(n, p, d);
            free(d);
            for (unsigned i = 0; i < p->n_asked; i++)
                if (chord__peer_same(&p->asked[i], &r->peer)) {
                    p->answered_by[i] = true;
                    p->seen[i] =
                        has ? chord__state_hash(m->state.data, m->state.len)
                            : 0;
                }
        }
        read_check(n, now, p);
        return;
    }
    default: /* RPC_REPAIR: nothing to do either way */
        return;
    }
}

void chord__replica_persisted(struct chord_node *n, uint64_t now)
{
    uint64_t last = n->rep.writes.next_id;
    for (uint64_t id = n->rep.writes.first_id; id < last; id++) {
        struct pwrite *w = chord_seq_find(&n->rep.writes, id);
        if (w && w->local_seq && w->local_seq <= n->commit.durable_seq) {
            w->local_seq = 0;
            w->pending--;
            w->acks++;
            write_check(n, now, w);
        }
    }
}

void chord__replica_tick(struct chord_node *n, uint64_t now)
{
    chord__replica_flush(n, now); /* a host that does not flush */
    struct pwrite *w;
    while ((w = chord_seq_head(&n->rep.writes)) != NULL && w->deadline <= now)
        write_finish(n, now, w, false);
    struct pread *p;
    while ((p = chord_seq_head(&n->rep.reads)) != NULL && p->deadline <= now)
        read_close(n, now, p);
    uint64_t last = n->rep.reads.next_id;
    for (uint64_t id = n->rep.reads.first_id; id < last; id++) {
        p = chord_seq_find(&n->rep.reads, id);
        if (p && !p->answered && p->hedge_at <= now)
            read_ask_next(n, now, p); /* a slow replica: hedge */
    }
}

uint64_t chord__replica_deadline(const struct chord_node *n)
{
    uint64_t t = chord__rbatch_deadline(n);
    const struct pwrite *w = chord_seq_peek(&n->rep.writes);
    if (w && w->deadline < t)
        t = w->deadline;
    const struct pread *p = chord_seq_peek(&n->rep.reads);
    if (p && p->deadline < t)
        t = p->deadline;
    for (size_t i = 0; i < n->rep.reads.len; i++) {
        const struct pread *q = chord_seq_at_const(&n->rep.reads, i);
        if (q->h.live && !q->answered && q->hedge_at < t)
            t = q->hedge_at;
    }
    return t;
}

void chord__replicas_free(struct chord_replicas *r)
{
    uint64_t last = r->reads.next_id;
    for (uint64_t id = r->reads.first_id; id < last; id++) {
        struct pread *p = chord_seq_find(&r->reads, id);
        if (p)
            read_free(p);
    }
    last = r->writes.next_id;
    for (uint64_t id = r->writes.first_id; id < last; id++) {
        struct pwrite *w = chord_seq_find(&r->writes, id);
        if (w)
            free(w->state);
    }
    chord_seq_free(&r->writes);
    chord_seq_free(&r->reads);
    chord__rbatches_free(&r->batch);
}
