/*
 * replica.c - what happens to a key at its owner: replication to the
 * successors, write and read quorums, read repair, anti-entropy, and the
 * return of keys a node no longer replicates.
 *
 * Replica set. A key lives on r nodes: its owner (the key's successor)
 * and the owner's next r-1 successors, skipping suspected ones. In a ring
 * of fewer than r nodes every node holds everything (r_eff = ring size,
 * as far as the successor list shows). A node judges whether it is still
 * a replica of a key from its predecessor list (preds[0] = predecessor,
 * learned from each RECTIFY): it replicates exactly (preds[r-1], self].
 *
 * Writes. The owner gives the write a version (Lamport counter, own id),
 * logs and applies it, and sends it to the replicas as a one-item
 * TRANSFER with the REPLICA flag. A replica acknowledges once its copy is
 * durable. The write succeeds when W copies are durable (ours included):
 * W = 1, a majority of r_eff, or r_eff for consistency one / quorum / all.
 * If W copies cannot be had before the deadline the writer is told so;
 * copies that did land are not undone (anti-entropy spreads them), as in
 * Dynamo: a failed write may still become visible.
 *
 * Reads. The owner reads its copy and asks R-1 replicas (REPLICA_GET),
 * and the next one whenever one fails or is slow to answer (a hedged
 * request: after a few of its round trips); the answer is the newest version
 * among R copies (tombstones included, so a delete is not undone by a
 * stale copy). Once every asked replica has answered (or the deadline
 * passed), replicas seen with an older copy get the newest one (read
 * repair), and so does the owner; the replicas not asked are anti-entropy's
 * business.
 *
 * Anti-entropy. Every sync period an owner sends one replica (round
 * robin) a digest of its primary range (pred, self]: CHORD_SYNC_BUCKETS
 * XOR-hashes of (key id, version) over equal slices of the range. The
 * replica answers with the buckets that differ and pushes its copies of
 * those buckets; the owner pushes its own. Newest-wins makes the exchange
 * idempotent, so both end up with the union.
 *
 * Orphans. Every few sync periods a node looks for keys it holds but no
 * longer replicates (the ring changed); it looks up the owner of the
 * first, sends it every such key, and drops them once the owner has them
 * durably. That is how copies beyond r disappear after joins.
 *
 * Tombstones are kept for cfg.tombstone_ttl_ms after they were written
 * here, then collected.
 *
 * Pure: no I/O, no clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/node_internal.h"

/* ------------------------------------------------------------------------ */
/* durability                                                               */

int chord__apply(struct chord_node *n, const struct chord_item *it,
                 uint64_t *seq)
{
    *seq = 0;
    if (it->version.counter > n->lamport)
        n->lamport = it->version.counter;
    if (n->io.persist) {
        const struct chord_store_entry *e =
            chord_store_find(n->store, it->key.data, it->key.len);
        if (e && chord_version_cmp(&e->version, &it->version) >= 0)
            return 0; /* nothing new: nothing to log */
        chord_buf_reset(&n->rec);
        int rc = chord_item_encode(it, &n->rec);
        if (rc)
            return rc;
        uint64_t s = n->io.persist(n->io.ctx, n->rec.data, n->rec.len);
        if (s == 0)
            return -EIO;
        if (s > n->durable_seq)
            *seq = s;
    }
    int rc = chord_store_apply(n->store, it);
    if (rc < 0)
        return rc;
    if (rc == 1 && it->tombstone)
        chord_store_set_stamp(n->store, it->key.data, it->key.len, n->now);
    return 0;
}

void chord__send_durable(struct chord_node *n, uint64_t seq, const char *addr,
                         const struct chord_msg *m)
{
    if (seq == 0 || seq <= n->durable_seq) {
        chord__send(n, addr, m);
        return;
    }
    chord_buf_reset(&n->out);
    if (chord_msg_encode(m, &n->out) != 0)
        return;
    if (n->deferred_bytes + n->out.len > DEFERRED_MAX) {
        chord__log(n, CHORD_LOG_WARN,
                   "too many acknowledgements wait for the log: dropping one "
                   "for %s",
                   addr);
        return;
    }
    struct deferred *d = malloc(sizeof(*d) + n->out.len);
    if (!d)
        return;
    d->next = NULL;
    d->seq = seq;
    chord__addr_copy(d->addr, addr);
    d->len = n->out.len;
    memcpy(d->data, n->out.data, n->out.len);
    if (n->deferred_tail)
        n->deferred_tail->next = d;
    else
        n->deferred = d;
    n->deferred_tail = d;
    n->deferred_bytes += d->len;
}

static void flush_deferred(struct chord_node *n)
{
    while (n->deferred && n->deferred->seq <= n->durable_seq) {
        struct deferred *d = n->deferred;
        n->deferred = d->next;
        if (!n->deferred)
            n->deferred_tail = NULL;
        n->deferred_bytes -= d->len;
        n->io.send(n->io.ctx, d->addr, d->data, d->len);
        free(d);
    }
}

/* ------------------------------------------------------------------------ */
/* replica sets                                                             */

unsigned chord__replica_factor(const struct chord_node *n)
{
    unsigned ring = 1 + n->rt.n_succ; /* as far as we can see */
    unsigned r = n->cfg.replicas;
    if (n->rt.n_succ >= n->rt.r)
        return r; /* the list is full: the ring is at least this big */
    return r < ring ? r : ring;
}

/* The first `max` usable successors (the replicas of our primary keys). */
static unsigned replica_targets(const struct chord_node *n, uint64_t now,
                                struct chord_peer *out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n->rt.n_succ && k < max; i++)
        if (chord__usable(n, n->rt.succ[i].addr, now))
            out[k++] = n->rt.succ[i];
    return k;
}

static unsigned copies_needed(const struct chord_node *n, uint8_t consistency)
{
    unsigned r = chord__replica_factor(n);
    switch (consistency) {
    case CHORD_CONSISTENCY_ONE:
        return 1;
    case CHORD_CONSISTENCY_ALL:
        return r;
    default:
        return r / 2 + 1;
    }
}

bool chord__replica_holds(const struct chord_node *n,
                          const struct chord_id *key_id)
{
    unsigned r = n->cfg.replicas;
    if (r <= 1)
        return chord_routing_owns(&n->rt, key_id);
    if (n->n_preds < r)
        return true; /* small ring, or we do not know enough yet */
    return chord_id_in_oc(key_id, &n->preds[r - 1].id, &n->rt.self.id);
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
    chord__store_done(n, now, to, CHORD_UNAVAILABLE, why, NULL, NULL, 0, NULL);
    return false;
}

/* ------------------------------------------------------------------------ */
/* writes                                                                   */

static void write_finish(struct chord_node *n, uint64_t now, struct pwrite *w,
                         bool ok)
{
    struct chord_reply_to to = w->to;
    unsigned acks = w->acks, needed = w->needed;
    chord_seq_finish(&n->writes, w);
    if (ok) {
        chord__store_done(n, now, &to, CHORD_OK, NULL, NULL, NULL, 0, NULL);
    } else {
        char why[120];
        snprintf(why, sizeof(why),
                 "write stored durably on %u of the %u replicas required", acks,
                 needed);
        chord__store_done(n, now, &to, CHORD_UNAVAILABLE, why, NULL, NULL, 0,
                          NULL);
    }
}

/* Decide a write once it has enough copies, or can no longer get them. */
static void write_check(struct chord_node *n, uint64_t now, struct pwrite *w)
{
    if (w->acks >= w->needed)
        write_finish(n, now, w, true);
    else if (w->acks + w->pending < w->needed)
        write_finish(n, now, w, false);
}

void chord__replica_write(struct chord_node *n, uint64_t now, uint8_t type,
                          const uint8_t *key, size_t key_len,
                          const uint8_t *value, size_t value_len,
                          uint8_t consistency, const struct chord_reply_to *to)
{
    struct chord_item it = {0};
    it.key.data = key;
    it.key.len = key_len;
    it.tombstone = type == CHORD_MSG_STORE_DEL;
    if (!it.tombstone) {
        it.value.data = value;
        it.value.len = value_len;
    }
    it.version.counter = ++n->lamport;
    it.version.writer = n->rt.self.id;

    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned r = chord__replica_factor(n);
    unsigned nt = replica_targets(n, now, targets, r - 1);
    unsigned needed = copies_needed(n, consistency);
    if (!enough_replicas(n, now, to, 1 + nt, needed))
        return;
    uint64_t seq;
    int rc = chord__apply(n, &it, &seq);
    if (rc) {
        chord__log(n, CHORD_LOG_ERROR, "cannot store a write: %s",
                   strerror(-rc));
        chord__store_done(n, now, to, CHORD_BUSY,
                          rc == -EIO ? "the node cannot log writes"
                                     : "out of memory",
                          NULL, NULL, 0, NULL);
        return;
    }
    struct pwrite *w = chord_seq_push(&n->writes);
    if (!w) {
        chord__store_done(n, now, to, CHORD_BUSY, "out of memory", NULL, NULL,
                          0, NULL);
        return;
    }
    w->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    w->to = *to;
    w->needed = needed;
    w->version = it.version;
    w->local_seq = seq;
    w->pending = nt;
    if (seq == 0)
        w->acks = 1;
    else
        w->pending++;
    uint64_t wid = w->h.id;

    if (nt > 0) {
        struct chord_msg *m = chord__msg(n, CHORD_MSG_TRANSFER, 0);
        if (m) {
            m->flags = CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST;
            m->items = &it;
            m->n_items = 1;
            for (unsigned i = 0; i < nt; i++)
                chord__rpc(n, now, RPC_REPLICATE, &targets[i], wid, m);
            free(m);
        }
    }
    w = chord_seq_find(&n->writes, wid);
    if (w)
        write_check(n, now, w);
}

/* ------------------------------------------------------------------------ */
/* reads                                                                    */

static void read_free(struct pread *p)
{
    free(p->key);
    free(p->value);
    p->key = p->value = NULL;
}

/* Adopt a copy if it is newer than the newest seen. */
static void read_consider(struct pread *p, bool found, bool tombstone,
                          const struct chord_version *v, const uint8_t *value,
                          size_t value_len)
{
    if (!found || (p->found && chord_version_cmp(v, &p->version) <= 0))
        return;
    uint8_t *copy = NULL;
    if (!tombstone) {
        copy = malloc(value_len ? value_len : 1);
        if (!copy)
            return;
        if (value_len)
            memcpy(copy, value, value_len);
    }
    free(p->value);
    p->value = copy;
    p->value_len = tombstone ? 0 : value_len;
    p->found = true;
    p->tombstone = tombstone;
    p->version = *v;
}

static void read_answer(struct chord_node *n, uint64_t now, struct pread *p)
{
    p->answered = true;
    if (p->found && !p->tombstone)
        chord__store_done(n, now, &p->to, CHORD_OK, NULL, NULL, p->value,
                          p->value_len, &p->version);
    else
        chord__store_done(n, now, &p->to, CHORD_NOT_FOUND, "not found", NULL,
                          NULL, 0, NULL);
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
        chord__store_done(n, now, &p->to, CHORD_UNAVAILABLE, why, NULL, NULL, 0,
                          NULL);
    }
    if (p->found) {
        struct chord_item it = {0};
        it.key.data = p->key;
        it.key.len = p->key_len;
        it.tombstone = p->tombstone;
        it.value.data = p->value;
        it.value.len = p->value_len;
        it.version = p->version;
        const struct chord_store_entry *e =
            chord_store_find(n->store, p->key, p->key_len);
        if (!e || chord_version_cmp(&e->version, &p->version) < 0) {
            uint64_t seq;
            if (chord__apply(n, &it, &seq) == 0)
                chord__log(n, CHORD_LOG_DEBUG, "read repair of our own copy");
        }
        struct chord_msg *m = NULL;
        for (unsigned i = 0; i < p->n_asked; i++) {
            if (!p->answered_by[i] ||
                chord_version_cmp(&p->seen[i], &p->version) >= 0)
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
        free(m);
    }
    read_free(p);
    chord_seq_finish(&n->reads, p);
}

static void read_check(struct chord_node *n, uint64_t now, struct pread *p)
{
    if (!p->answered && p->got >= p->needed)
        read_answer(n, now, p);
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
    struct chord_peer to = p->targets[p->n_asked];
    p->asked[p->n_asked++] = to;
    p->pending++;
    if (p->n_asked < p->n_targets)
        p->hedge_at = now + hedge_delay(n, to.addr);
    chord__rpc(n, now, RPC_REPLICA_GET, &to, p->h.id, m);
    free(m);
    return true;
}

/*
 * The owner's lease: when may the owner answer a quorum read from its own
 * copy? Every write is coordinated by the key's owner, which applies it
 * before acknowledging, so an owner has every write acknowledged since it
 * took its range over. It lacks at most writes acknowledged before that,
 * by the previous owner, whose copies are on its replicas: once each of
 * our replicas has answered a SYNC of the range sent after the takeover
 * with equal digests, we hold everything they hold, and keep doing so.
 *
 * The lease ends the moment the range changes (the predecessor changed,
 * or is suspected), and it needs a recent proof that no one else has taken
 * the range over: only our successor would (it extends its range over a
 * predecessor it suspects), and its failure detector suspects no peer
 * earlier than floor_ms after it last heard from it. So an answer from the
 * successor to a request we sent at time t means it cannot take our range
 * before t + floor_ms; we stop a margin before that (an eighth of the
 * floor plus the successor's round trip, for clock rates and transit).
 * A node that stalled (a pause, a frozen process) loses its lease too:
 * its successor may have suspected it meanwhile and coordinated writes in
 * its range; every entry point notices a silence longer than a heartbeat
 * period plus LEASE_TICK_SLACK_MS (an active node ticks every heartbeat)
 * and the lease starts over. So the heartbeat period must be shorter than
 * the floor, and every node must run the same floor. Outside the lease
 * the read asks replicas, as before; while it waits, lease_catch_up()
 * asks every replica for a sync at once instead of one per period.
 */
static void lease_track(struct chord_node *n, uint64_t now)
{
    if (n->state != CHORD_NODE_ACTIVE || !n->rt.has_pred ||
        chord__is_self(n, &n->rt.pred)) {
        n->lease_range = false;
        return;
    }
    if (n->lease_range && chord_id_cmp(&n->lease_lo, &n->rt.pred.id) == 0)
        return;
    n->lease_range = true;
    n->lease_lo = n->rt.pred.id;
    n->lease_since = now;
    unsigned r = chord__replica_factor(n);
    n->lease_nt = replica_targets(n, now, n->lease_targets, r - 1);
    memset(n->lease_synced, 0, sizeof(n->lease_synced));
    n->lease_tries = 0;
    n->lease_sync_at = now;
}

static bool lease_holds(struct chord_node *n, uint64_t now)
{
    /* The stall check in chord_node_tick needs ticks (every heartbeat)
     * closer together than the successor's quickest suspicion. */
    if (!n->cfg.owner_reads ||
        n->cfg.heartbeat_ms + LEASE_TICK_SLACK_MS >= n->fd.cfg.floor_ms)
        return false;
    lease_track(n, now);
    if (!n->lease_range || n->lease_nt == 0 ||
        !chord__usable(n, n->rt.pred.addr, now))
        return false;
    for (unsigned i = 0; i < n->lease_nt; i++)
        if (!n->lease_synced[i])
            return false;
    const struct chord_peer *s = &n->rt.succ[0];
    if (n->rt.n_succ == 0 || !chord__usable(n, s->addr, now) ||
        strcmp(n->succ_proof_addr, s->addr) != 0)
        return false;
    uint64_t margin = n->fd.cfg.floor_ms / 8;
    const struct chord_fd_peer *fp = chord_fd_find(&n->fd, s->addr);
    if (fp && fp->rtt_known)
        margin += (uint64_t)fp->srtt_ms + 1;
    return now + margin < n->succ_proof_sent + n->fd.cfg.floor_ms;
}

/* A SYNC of ours was answered with `mask` (the buckets that differ). */
static void lease_synced(struct chord_node *n, uint64_t now,
                         const struct rpc *r, uint64_t mask)
{
    lease_track(n, now);
    if (!n->lease_range || mask != 0 || r->sent_at < n->lease_since)
        return;
    for (unsigned i = 0; i < n->lease_nt; i++)
        if (chord__peer_same(&n->lease_targets[i], &r->peer))
            n->lease_synced[i] = true;
}

void chord__replica_read(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, uint8_t consistency,
                         const struct chord_reply_to *to)
{
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len);
    unsigned needed = copies_needed(n, consistency);
    bool alone = needed <= 1;
    if (!alone && consistency != CHORD_CONSISTENCY_ALL && lease_holds(n, now))
        alone = true;
    if (alone) {
        if (e && !e->tombstone)
            chord__store_done(n, now, to, CHORD_OK, NULL, NULL, e->value,
                              e->value_len, &e->version);
        else
            chord__store_done(n, now, to, CHORD_NOT_FOUND, "not found", NULL,
                              NULL, 0, NULL);
        return;
    }
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned nt =
        replica_targets(n, now, targets, chord__replica_factor(n) - 1);
    if (!enough_replicas(n, now, to, 1 + nt, needed))
        return;
    struct pread *p = chord_seq_push(&n->reads);
    uint8_t *k = p ? malloc(key_len) : NULL;
    if (!p || !k) {
        free(k);
        if (p)
            chord_seq_finish(&n->reads, p);
        chord__store_done(n, now, to, CHORD_BUSY, "out of memory", NULL, NULL,
                          0, NULL);
        return;
    }
    memcpy(k, key, key_len);
    p->key = k;
    p->key_len = key_len;
    p->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    p->to = *to;
    p->needed = needed;
    p->got = 1;
    if (e)
        read_consider(p, true, e->tombstone, &e->version, e->value,
                      e->value_len);
    memcpy(p->targets, targets, nt * sizeof(targets[0]));
    p->n_targets = nt;
    for (unsigned i = 0; i + 1 < needed; i++)
        read_ask_next(n, now, p);
    read_check(n, now, p);
}

void chord__replica_handle_get(struct chord_node *n, const struct chord_msg *m)
{
    const struct chord_store_entry *e =
        chord_store_find(n->store, m->key.data, m->key.len);
    struct chord_msg *r = chord__msg(n, CHORD_MSG_STORE_RESULT, m->req_id);
    if (!r)
        return;
    r->status = e && !e->tombstone ? CHORD_OK : CHORD_NOT_FOUND;
    if (e) {
        r->version = e->version; /* a tombstone's version counts too */
        r->has_value = !e->tombstone;
        r->value.data = e->value;
        r->value.len = e->tombstone ? 0 : e->value_len;
    }
    chord__send(n, m->from.addr, r);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* anti-entropy                                                             */

struct sync_ctx {
    struct chord_id lo, hi;
    uint64_t mask;
};

static uint64_t top64(const struct chord_id *id)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | id->b[i];
    return v;
}

/* Which slice of (lo, hi] a key falls in. */
static unsigned bucket_of(const struct chord_id *key, const struct chord_id *lo,
                          const struct chord_id *hi)
{
    struct chord_id d, span;
    chord_id_sub(&d, key, lo);
    chord_id_sub(&span, hi, lo);
    uint64_t s = top64(&span);
    uint64_t width = s == 0 ? (UINT64_MAX / CHORD_SYNC_BUCKETS) + 1
                            : s / CHORD_SYNC_BUCKETS + 1;
    uint64_t b = top64(&d) / width;
    return b < CHORD_SYNC_BUCKETS ? (unsigned)b : CHORD_SYNC_BUCKETS - 1;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t entry_hash(const struct chord_store_entry *e)
{
    uint64_t h = top64(&e->key_id);
    h = mix64(h ^ e->version.counter);
    h = mix64(h ^ top64(&e->version.writer));
    return mix64(h ^ (e->tombstone ? 0x7f4a7c15ull : 0));
}

static void range_digest(const struct chord_node *n, const struct chord_id *lo,
                         const struct chord_id *hi,
                         uint64_t out[CHORD_SYNC_BUCKETS])
{
    memset(out, 0, sizeof(uint64_t) * CHORD_SYNC_BUCKETS);
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL)
        if (chord_id_in_oc(&e->key_id, lo, hi))
            out[bucket_of(&e->key_id, lo, hi)] ^= entry_hash(e);
}

static bool want_buckets(struct chord_node *n,
                         const struct chord_store_entry *e, const void *ctx)
{
    (void)n;
    const struct sync_ctx *c = ctx;
    return chord_id_in_oc(&e->key_id, &c->lo, &c->hi) &&
           (c->mask >> bucket_of(&e->key_id, &c->lo, &c->hi) & 1);
}

/* Send replica `to` the digests of our range. */
static void sync_send(struct chord_node *n, uint64_t now,
                      const struct chord_peer *to)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_SYNC, 0);
    if (!m)
        return;
    m->range_hi = n->rt.self.id;
    m->range_lo = n->rt.has_pred ? n->rt.pred.id : n->rt.self.id;
    range_digest(n, &m->range_lo, &m->range_hi, m->digest);
    struct chord_peer t = *to;
    chord__rpc(n, now, RPC_SYNC, &t, 0, m);
    free(m);
}

static void sync_start(struct chord_node *n, uint64_t now)
{
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned r = chord__replica_factor(n);
    unsigned nt = replica_targets(n, now, targets, r - 1);
    if (nt == 0)
        return;
    sync_send(n, now, &targets[n->sync_rr++ % nt]);
}

/* While the lease waits on replicas, ask them all at once rather than
 * one per sync period: a node that lost its lease (a stall, a new
 * predecessor) gets it back in milliseconds when nothing differs. While
 * writes keep the digests apart, the rounds back off to one a sync
 * period (each digests the whole store). */
static void lease_catch_up(struct chord_node *n, uint64_t now)
{
    if (!n->cfg.owner_reads || n->cfg.replicas < 2 || now < n->lease_sync_at)
        return;
    lease_track(n, now);
    if (!n->lease_range)
        return;
    bool asked = false;
    for (unsigned i = 0; i < n->lease_nt; i++)
        if (!n->lease_synced[i] &&
            chord__usable(n, n->lease_targets[i].addr, now)) {
            sync_send(n, now, &n->lease_targets[i]);
            asked = true;
        }
    if (asked) {
        unsigned shift = n->lease_tries < 2 ? n->lease_tries++ : 2;
        n->lease_sync_at = now + ((uint64_t)(n->cfg.sync_ms / 4 + 1) << shift);
    } else {
        n->lease_sync_at = now + 50; /* held, or no replica to ask */
    }
}

void chord__replica_handle_sync(struct chord_node *n, uint64_t now,
                                const struct chord_msg *m)
{
    uint64_t mine[CHORD_SYNC_BUCKETS];
    range_digest(n, &m->range_lo, &m->range_hi, mine);
    struct sync_ctx c = {m->range_lo, m->range_hi, 0};
    for (unsigned i = 0; i < CHORD_SYNC_BUCKETS; i++)
        if (mine[i] != m->digest[i])
            c.mask |= 1ull << i;
    struct chord_msg *r = chord__msg(n, CHORD_MSG_SYNC_REPLY, m->req_id);
    if (r) {
        r->bucket_mask = c.mask;
        chord__send(n, m->from.addr, r);
        free(r);
    }
    if (c.mask) /* push our copies of what differs to the owner */
        chord__transfer_start(n, now, &m->from, CHORD_TRANSFER_REPLICA,
                              XFER_SYNC, want_buckets, &c);
}

/* ------------------------------------------------------------------------ */
/* orphans and tombstones                                                   */

static bool want_orphan(struct chord_node *n, const struct chord_store_entry *e,
                        const void *ctx)
{
    (void)ctx;
    return !chord__replica_holds(n, &e->key_id);
}

static void orphan_check(struct chord_node *n, uint64_t now)
{
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL) {
        if (chord__replica_holds(n, &e->key_id))
            continue;
        uint64_t id = chord__lookup_begin(n, now, RPC_LOOKUP_ORPHAN, 0);
        if (!id)
            return;
        n->orphan_busy = true;
        struct chord_id target = e->key_id;
        chord__lookup_run(n, now, id, &target, 0);
        return;
    }
}

void chord__replica_orphan_owner(struct chord_node *n, uint64_t now, bool ok,
                                 const struct chord_peer *owner)
{
    n->orphan_busy = false;
    if (!ok || chord__is_self(n, owner))
        return;
    n->orphan_busy = true;
    chord__transfer_start(n, now, owner, CHORD_TRANSFER_REPLICA, XFER_ORPHAN,
                          want_orphan, NULL);
}

void chord__replica_transfer_done(struct chord_node *n, uint8_t purpose)
{
    if (purpose == XFER_ORPHAN)
        n->orphan_busy = false;
}

static void collect_tombstones(struct chord_node *n, uint64_t now)
{
    /* Collect the keys first: removal reorders the store. */
    size_t cur = 0, k = 0, cap = 0;
    uint8_t **keys = NULL;
    size_t *lens = NULL;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL) {
        if (!e->tombstone || e->stamp + n->cfg.tombstone_ttl_ms > now)
            continue;
        if (k == cap) {
            size_t nc = cap ? 2 * cap : 64;
            uint8_t **nk = realloc(keys, nc * sizeof(*nk));
            if (!nk)
                break;
            keys = nk;
            size_t *nl = realloc(lens, nc * sizeof(*nl));
            if (!nl)
                break;
            lens = nl;
            cap = nc;
        }
        keys[k] = malloc(e->key_len ? e->key_len : 1);
        if (!keys[k])
            break;
        memcpy(keys[k], e->key, e->key_len);
        lens[k++] = e->key_len;
    }
    for (size_t i = 0; i < k; i++) {
        chord_store_remove(n->store, keys[i], lens[i]);
        free(keys[i]);
    }
    if (k)
        chord__log(n, CHORD_LOG_DEBUG, "collected %zu tombstones", k);
    free(keys);
    free(lens);
}

/* ------------------------------------------------------------------------ */
/* answers, timers                                                          */

void chord__replica_answer(struct chord_node *n, uint64_t now,
                           const struct rpc *r, const struct chord_msg *m)
{
    switch (r->kind) {
    case RPC_REPLICATE: {
        struct pwrite *w = chord_seq_find(&n->writes, r->arg);
        if (!w)
            return;
        w->pending--;
        if (m)
            w->acks++;
        write_check(n, now, w);
        return;
    }
    case RPC_REPLICA_GET: {
        struct pread *p = chord_seq_find(&n->reads, r->arg);
        if (!p)
            return;
        p->pending--;
        if (!m || m->type != CHORD_MSG_STORE_RESULT) {
            /* That replica failed: ask another one, if any is left. */
            if (!p->answered)
                read_ask_next(n, now, p);
        } else {
            p->got++;
            bool found = m->version.counter != 0;
            bool tomb = m->status != CHORD_OK;
            read_consider(p, found, tomb, &m->version, m->value.data,
                          m->value.len);
            for (unsigned i = 0; i < p->n_asked; i++)
                if (chord__peer_same(&p->asked[i], &r->peer)) {
                    p->answered_by[i] = true;
                    p->seen[i] = m->version;
                }
        }
        read_check(n, now, p);
        return;
    }
    case RPC_SYNC:
        if (m && m->type == CHORD_MSG_SYNC_REPLY)
            lease_synced(n, now, r, m->bucket_mask);
        if (m && m->type == CHORD_MSG_SYNC_REPLY && m->bucket_mask) {
            struct sync_ctx c;
            c.hi = n->rt.self.id;
            c.lo = n->rt.has_pred ? n->rt.pred.id : n->rt.self.id;
            c.mask = m->bucket_mask;
            chord__transfer_start(n, now, &r->peer, CHORD_TRANSFER_REPLICA,
                                  XFER_SYNC, want_buckets, &c);
        }
        return;
    default: /* RPC_REPAIR: nothing to do either way */
        return;
    }
}

void chord__replica_persisted(struct chord_node *n, uint64_t now)
{
    flush_deferred(n);
    uint64_t last = n->writes.next_id;
    for (uint64_t id = n->writes.first_id; id < last; id++) {
        struct pwrite *w = chord_seq_find(&n->writes, id);
        if (w && w->local_seq && w->local_seq <= n->durable_seq) {
            w->local_seq = 0;
            w->pending--;
            w->acks++;
            write_check(n, now, w);
        }
    }
}

void chord__replica_tick(struct chord_node *n, uint64_t now)
{
    struct pwrite *w;
    while ((w = chord_seq_head(&n->writes)) != NULL && w->deadline <= now)
        write_finish(n, now, w, false);
    struct pread *p;
    while ((p = chord_seq_head(&n->reads)) != NULL && p->deadline <= now)
        read_close(n, now, p);
    uint64_t last = n->reads.next_id;
    for (uint64_t id = n->reads.first_id; id < last; id++) {
        p = chord_seq_find(&n->reads, id);
        if (p && !p->answered && p->hedge_at <= now)
            read_ask_next(n, now, p); /* a slow replica: hedge */
    }

    if (n->state != CHORD_NODE_ACTIVE)
        return;
    lease_catch_up(n, now);
    if (n->next_sync <= now) {
        n->next_sync = now + chord__jitter(n, n->cfg.sync_ms);
        if (n->cfg.replicas > 1)
            sync_start(n, now);
        if (++n->sync_rounds >= ORPHAN_EVERY && !n->orphan_busy) {
            n->sync_rounds = 0;
            orphan_check(n, now);
        }
    }
    if (n->next_gc <= now) {
        n->next_gc = now + n->cfg.tombstone_ttl_ms / 4 + 1;
        collect_tombstones(n, now);
    }
}

uint64_t chord__replica_deadline(const struct chord_node *n)
{
    uint64_t t = UINT64_MAX;
    const struct pwrite *w = chord_seq_peek(&n->writes);
    if (w && w->deadline < t)
        t = w->deadline;
    const struct pread *p = chord_seq_peek(&n->reads);
    if (p && p->deadline < t)
        t = p->deadline;
    for (size_t i = 0; i < n->reads.len; i++) {
        const struct pread *q = chord_seq_at_const(&n->reads, i);
        if (q->h.live && !q->answered && q->hedge_at < t)
            t = q->hedge_at;
    }
    if (n->state == CHORD_NODE_ACTIVE) {
        if (n->next_sync < t)
            t = n->next_sync;
        if (n->next_gc < t)
            t = n->next_gc;
    }
    return t;
}

void chord__replica_free(struct chord_node *n)
{
    uint64_t last = n->reads.next_id;
    for (uint64_t id = n->reads.first_id; id < last; id++) {
        struct pread *p = chord_seq_find(&n->reads, id);
        if (p)
            read_free(p);
    }
    while (n->deferred) {
        struct deferred *d = n->deferred;
        n->deferred = d->next;
        free(d);
    }
    n->deferred_tail = NULL;
}
