/*
 * node.c - one Chord node as a pure state machine (see include/chord/node.h).
 *
 * Ring maintenance follows Zave's corrected Chord ("Reasoning about
 * identifier spaces: how to make Chord correct", IEEE TSE 2017):
 *  - stabilize: ask successor s for its predecessor p and successor list;
 *    the list becomes [s] + s's list. If p lies in (self, s), ask p too;
 *    only if p answers (it is alive) does it become the successor. Then
 *    send RECTIFY to the successor. A successor that does not answer is
 *    dropped and the next one is tried at once.
 *  - rectify (replaces notify and check_predecessor): a node m claiming to
 *    be our predecessor is adopted if we have none, if m lies in
 *    (pred, self), or if the current predecessor fails a PING. The
 *    predecessor is never reset to "none".
 *  - fix_fingers refreshes one finger per period by a lookup of
 *    start(i) = self + 2^i; a result settles every following finger whose
 *    start it also succeeds, so a cycle costs about log2(N) lookups.
 *
 * Lookups are recursive: FIND_SUCC travels hop by hop towards the target
 * (closest preceding finger or successor), recording the path; the node
 * that knows the owner answers the origin directly with FOUND_SUCC.
 *
 * Client operations (put/get/del/lookup) are coordinated by the node the
 * client contacted: it looks the key up, then sends STORE_* to the owner.
 * The owner checks that it owns the key: if not it answers REDIRECT with a
 * better guess; while joining or leaving it answers TRY_AGAIN. The
 * coordinator retries until the operation's deadline.
 *
 * Keys move on membership changes:
 *  - join: the joiner looks up its own id, sends JOIN to that successor s;
 *    s makes the joiner its predecessor (so it stops accepting writes for
 *    the joiner's range) and TRANSFERs every key it no longer owns; the
 *    joiner serves only after the LAST batch.
 *  - leave: the leaver refuses writes, TRANSFERs all keys to its
 *    successor (HANDOFF), then sends LEAVE to successor and predecessor
 *    with its own neighbours so they can close the gap.
 *
 * Requests awaiting an answer live in `rpcs` (one timeout for all, so they
 * expire in order); client operations in `ops` (one deadline for all).
 *
 * This file does no I/O and reads no clock: every entry point gets `now`.
 */
#include "chord/node.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "core/routing.h"
#include "core/seq.h"
#include "core/store.h"
#include "core/wire.h"

#include "core/node_internal.h"

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

void chord__log(struct chord_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void chord__log(struct chord_node *n, int level, const char *fmt, ...)
{
    if (!n->io.log || level > n->cfg.log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n->io.log(n->io.ctx, level, line);
}

static uint64_t rng_next(struct chord_node *n)
{
    /* splitmix64 */
    uint64_t z = (n->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* period scaled by a random factor in [0.75, 1.25). */
uint64_t chord__jitter(struct chord_node *n, uint32_t period)
{
    uint64_t half = period / 2 ? period / 2 : 1;
    return period - period / 4 + rng_next(n) % half;
}

const char *chord__short_id(const struct chord_id *id, char buf[9])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(buf, hex, 8);
    buf[8] = '\0';
    return buf;
}

bool chord__is_self(const struct chord_node *n, const struct chord_peer *p)
{
    return chord_id_eq(&p->id, &n->rt.self.id);
}

bool chord__peer_same(const struct chord_peer *a, const struct chord_peer *b)
{
    return chord_id_eq(&a->id, &b->id) && strcmp(a->addr, b->addr) == 0;
}

int chord_peer_from_addr(struct chord_peer *p, const char *addr)
{
    size_t len = strlen(addr);
    if (len == 0 || len >= CHORD_ADDR_MAX)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    memcpy(p->addr, addr, len);
    chord_id_hash(&p->id, addr, len);
    return 0;
}

/* --- unreachable peers are shunned for a while ---------------------------- */

bool chord__is_dead(const struct chord_node *n, const char *addr, uint64_t now)
{
    for (unsigned i = 0; i < DEAD_MAX; i++)
        if (n->dead[i].until > now && strcmp(n->dead[i].addr, addr) == 0)
            return true;
    return false;
}

void chord__mark_dead(struct chord_node *n, const char *addr, uint64_t now)
{
    unsigned slot = 0;
    for (unsigned i = 0; i < DEAD_MAX; i++) {
        if (strcmp(n->dead[i].addr, addr) == 0) {
            slot = i;
            break;
        }
        if (n->dead[i].until < n->dead[slot].until)
            slot = i;
    }
    chord__addr_copy(n->dead[slot].addr, addr);
    n->dead[slot].until = now + DEAD_MEMORY_MS;
}

static void mark_alive(struct chord_node *n, const char *addr)
{
    for (unsigned i = 0; i < DEAD_MAX; i++)
        if (n->dead[i].until && strcmp(n->dead[i].addr, addr) == 0)
            n->dead[i].until = 0;
}

struct usable_ctx {
    const struct chord_node *n;
    uint64_t now;
};

bool chord__usable(const struct chord_node *n, const char *addr, uint64_t now)
{
    return !chord__is_dead(n, addr, now) && chord_fd_usable(&n->fd, addr);
}

static bool usable(void *ctx, const struct chord_peer *p)
{
    const struct usable_ctx *u = ctx;
    return chord__usable(u->n, p->addr, u->now);
}

/* ------------------------------------------------------------------------ */
/* sending                                                                  */

void chord__send(struct chord_node *n, const char *addr,
                 const struct chord_msg *m)
{
    chord_buf_reset(&n->out);
    int rc = chord_msg_encode(m, &n->out);
    if (rc) {
        chord__log(n, CHORD_LOG_ERROR, "cannot encode %s for %s: %s",
                   chord_msg_type_name(m->type), addr, strerror(-rc));
        return;
    }
    n->io.send(n->io.ctx, addr, n->out.data, n->out.len);
}

void chord__reply(struct chord_node *n, uint64_t conn,
                  const struct chord_msg *m)
{
    chord_buf_reset(&n->out);
    int rc = chord_msg_encode(m, &n->out);
    if (rc) {
        chord__log(n, CHORD_LOG_ERROR, "cannot encode reply %s: %s",
                   chord_msg_type_name(m->type), strerror(-rc));
        return;
    }
    n->io.reply(n->io.ctx, conn, n->out.data, n->out.len);
}

/* A message from this node, of `type`, with request id `req`. Large: the
 * caller keeps it static per call site only through this helper's
 * allocation. */
struct chord_msg *chord__msg(struct chord_node *n, uint8_t type, uint64_t req)
{
    struct chord_msg *m = malloc(sizeof(*m));
    if (!m)
        return NULL;
    chord_msg_init(m, type, req);
    m->from = n->rt.self;
    return m;
}

/* Start a request: record it, then send `m` (whose req_id it sets). */
uint64_t chord__rpc(struct chord_node *n, uint64_t now, uint8_t kind,
                    const struct chord_peer *to, uint64_t arg,
                    struct chord_msg *m)
{
    struct rpc *r = chord_seq_push(&n->rpcs);
    if (!r) {
        chord__log(n, CHORD_LOG_ERROR, "out of memory for a request to %s",
                   to->addr);
        return 0;
    }
    r->kind = kind;
    r->deadline = now + n->cfg.rpc_timeout_ms;
    r->sent_at = now;
    r->peer = *to;
    r->arg = arg;
    uint64_t id = r->h.id;
    m->req_id = id;
    chord__send(n, to->addr, m);
    return id;
}

static void fill_neighbors(const struct chord_node *n,
                           struct chord_neighbors *nb)
{
    nb->has_pred = n->rt.has_pred;
    if (n->rt.has_pred)
        nb->pred = n->rt.pred;
    nb->n_succ = (uint8_t)n->rt.n_succ;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        nb->succ[i] = n->rt.succ[i];
}

/* Successor list from a neighbour report: [head] + its list, leaving out
 * peers we know to be unreachable. */
static void adopt_successors(struct chord_node *n, uint64_t now,
                             const struct chord_peer *head,
                             const struct chord_neighbors *nb)
{
    struct chord_peer tail[2 * CHORD_SUCC_MAX];
    unsigned k = 0;
    bool closed = false; /* the list came round to us */
    for (unsigned i = 0; i < nb->n_succ; i++)
        if (!chord__is_dead(n, nb->succ[i].addr, now) ||
            chord__is_self(n, &nb->succ[i])) {
            closed = closed || chord__is_self(n, &nb->succ[i]);
            tail[k++] = nb->succ[i];
        }
    /* A short list (a node still joining knows little) is padded with
     * the successors we knew beyond its end, so that one node failing
     * later cannot leave us with no live successor. */
    const struct chord_id *last = k ? &tail[k - 1].id : &head->id;
    for (unsigned i = 0; !closed && i < n->rt.n_succ && k < n->rt.r; i++) {
        const struct chord_peer *o = &n->rt.succ[i];
        if (chord_id_in_oo(&o->id, last, &n->rt.self.id) &&
            !chord__is_dead(n, o->addr, now)) {
            tail[k++] = *o;
            last = &o->id;
        }
    }
    struct chord_peer old = *chord_routing_successor(&n->rt);
    chord_routing_set_successors(&n->rt, head, tail, k);
    const struct chord_peer *s = chord_routing_successor(&n->rt);
    if (!chord__peer_same(&old, s)) {
        char a[9];
        if (n->rt.n_succ)
            chord__log(n, CHORD_LOG_INFO, "successor is now %s (%s)", s->addr,
                       chord__short_id(&s->id, a));
        else
            chord__log(n, CHORD_LOG_INFO,
                       "no successor left: alone in the ring");
    }
    if (n->rt.n_succ)
        chord_routing_set_finger(&n->rt, 0, s);
}

/* ------------------------------------------------------------------------ */
/* key transfers                                                            */

static void transfer_free(struct transfer *t)
{
    for (size_t i = 0; i < t->n_keys; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->key_lens);
    free(t);
}

static void transfer_unlink(struct chord_node *n, struct transfer *t)
{
    for (struct transfer **pp = &n->transfers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static struct transfer *transfer_find(struct chord_node *n, uint64_t id)
{
    for (struct transfer *t = n->transfers; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static void transfer_done(struct chord_node *n, uint64_t now,
                          struct transfer *t, bool ok);

/* Send the next batch of t (or the empty LAST batch). */
static void transfer_send_batch(struct chord_node *n, uint64_t now,
                                struct transfer *t)
{
    size_t cap = t->n_keys - t->pos;
    struct chord_item *items = calloc(cap ? cap : 1, sizeof(*items));
    struct chord_msg *m = chord__msg(n, CHORD_MSG_TRANSFER, 0);
    if (!items || !m) {
        free(items);
        free(m);
        chord__log(n, CHORD_LOG_ERROR, "out of memory sending keys to %s",
                   t->to.addr);
        transfer_done(n, now, t, false);
        return;
    }
    size_t bytes = 0, k = 0, i = t->pos;
    for (; i < t->n_keys; i++) {
        const struct chord_store_entry *e =
            chord_store_find(n->store, t->keys[i], t->key_lens[i]);
        if (!e)
            continue; /* removed meanwhile */
        struct chord_item it;
        chord_store_entry_item(e, &it);
        size_t sz = chord_item_wire_size(&it);
        if (k > 0 && bytes + sz > TRANSFER_BATCH_BYTES)
            break;
        items[k++] = it;
        bytes += sz;
    }
    t->batch_end = i;
    m->flags = t->flags | (i == t->n_keys ? CHORD_TRANSFER_LAST : 0);
    m->items = items;
    m->n_items = (uint32_t)k;
    t->sent_items += k;
    chord__rpc(n, now, RPC_TRANSFER, &t->to, t->id, m);
    free(items);
    free(m);
}

/* Begin streaming every key for which want(entry, ctx) holds to `to`. */
void chord__transfer_start(struct chord_node *n, uint64_t now,
                           const struct chord_peer *to, uint8_t flags,
                           uint8_t purpose, chord_want_fn want, const void *ctx)
{
    struct transfer *t = calloc(1, sizeof(*t));
    size_t total = chord_store_size(n->store);
    if (t) {
        t->keys = calloc(total ? total : 1, sizeof(*t->keys));
        t->key_lens = calloc(total ? total : 1, sizeof(*t->key_lens));
    }
    if (!t || !t->keys || !t->key_lens) {
        if (t)
            transfer_free(t);
        chord__log(n, CHORD_LOG_ERROR, "out of memory starting transfer to %s",
                   to->addr);
        return;
    }
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL) {
        if (!want(n, e, ctx))
            continue;
        uint8_t *k = malloc(e->key_len ? e->key_len : 1);
        if (!k) {
            transfer_free(t);
            return;
        }
        memcpy(k, e->key, e->key_len);
        t->keys[t->n_keys] = k;
        t->key_lens[t->n_keys++] = e->key_len;
    }
    t->id = ++n->next_transfer_id;
    t->to = *to;
    t->flags = flags;
    t->purpose = purpose;
    t->next = n->transfers;
    n->transfers = t;
    static const char *why[] = {"", " (hand-off)", " (anti-entropy)",
                                " (no longer a replica)"};
    chord__log(
        n, t->n_keys && purpose != XFER_SYNC ? CHORD_LOG_INFO : CHORD_LOG_DEBUG,
        "sending %zu keys to %s%s", t->n_keys, to->addr, why[purpose]);
    transfer_send_batch(n, now, t);
}

static bool want_not_owned(struct chord_node *n,
                           const struct chord_store_entry *e, const void *ctx)
{
    (void)ctx;
    return !chord_routing_owns(&n->rt, &e->key_id);
}

/* Keys in (lo, hi]: the range a new predecessor takes over. */
struct range_ctx {
    struct chord_id lo, hi;
};

static bool want_range(struct chord_node *n, const struct chord_store_entry *e,
                       const void *ctx)
{
    (void)n;
    const struct range_ctx *r = ctx;
    return chord_id_in_oc(&e->key_id, &r->lo, &r->hi);
}

static bool want_all(struct chord_node *n, const struct chord_store_entry *e,
                     const void *ctx)
{
    (void)n;
    (void)e;
    (void)ctx;
    return true;
}

static void leave_transfer_finished(struct chord_node *n, uint64_t now,
                                    bool ok);

static void transfer_done(struct chord_node *n, uint64_t now,
                          struct transfer *t, bool ok)
{
    uint8_t purpose = t->purpose;
    chord__log(n,
               !ok                                     ? CHORD_LOG_WARN
               : t->sent_items && purpose != XFER_SYNC ? CHORD_LOG_INFO
                                                       : CHORD_LOG_DEBUG,
               "%s %zu keys to %s", ok ? "sent" : "failed to send",
               t->sent_items, t->to.addr);
    transfer_unlink(n, t);
    transfer_free(t);
    if (purpose == XFER_HANDOFF)
        leave_transfer_finished(n, now, ok);
    else
        chord__replica_transfer_done(n, purpose);
}

static void transfer_acked(struct chord_node *n, uint64_t now,
                           struct transfer *t)
{
    if (t->purpose == XFER_JOIN || t->purpose == XFER_ORPHAN) {
        /* The receiver has them durably: drop what we no longer
         * replicate (with r > 1 a joiner's successor keeps its keys). */
        for (size_t i = t->pos; i < t->batch_end; i++) {
            const struct chord_store_entry *e =
                chord_store_find(n->store, t->keys[i], t->key_lens[i]);
            if (e && !chord__replica_holds(n, &e->key_id))
                chord_store_remove(n->store, t->keys[i], t->key_lens[i]);
        }
    }
    t->pos = t->batch_end;
    t->retries = 0;
    if (t->pos >= t->n_keys)
        transfer_done(n, now, t, true);
    else
        transfer_send_batch(n, now, t);
}

static void transfer_failed(struct chord_node *n, uint64_t now,
                            struct transfer *t)
{
    if (++t->retries > TRANSFER_RETRIES || chord__is_dead(n, t->to.addr, now)) {
        transfer_done(n, now, t, false);
        return;
    }
    transfer_send_batch(n, now, t);
}

static void become_active(struct chord_node *n, uint64_t now)
{
    n->state = CHORD_NODE_ACTIVE;
    n->next_stabilize = now + chord__jitter(n, n->cfg.stabilize_ms);
    n->next_fix = now + chord__jitter(n, n->cfg.fix_fingers_ms);
    n->next_heartbeat = now + chord__jitter(n, n->cfg.heartbeat_ms);
    n->next_sync = now + chord__jitter(n, n->cfg.sync_ms);
    n->next_gc = now + n->cfg.tombstone_ttl_ms / 4 + 1;
}

static void handle_transfer(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m)
{
    struct chord_bytes cur = m->items_raw;
    struct chord_item it;
    size_t count = 0;
    uint64_t wait_for = 0; /* the last log record these items needed */
    while (chord_items_next(&cur, &it) == 1) {
        count++;
        uint64_t seq;
        int rc = chord__apply(n, &it, &seq);
        if (rc < 0) {
            chord__log(n, CHORD_LOG_ERROR, "cannot store keys from %s: %s",
                       m->from.addr, strerror(-rc));
            return; /* no ack: the sender retries */
        }
        if (seq > wait_for)
            wait_for = seq;
    }
    struct chord_msg *ack = chord__msg(n, CHORD_MSG_TRANSFER_ACK, m->req_id);
    if (ack) {
        chord__send_durable(n, wait_for, m->from.addr, ack);
        free(ack);
    }
    if (count)
        chord__log(n, CHORD_LOG_DEBUG, "received %zu keys from %s", count,
                   m->from.addr);
    bool from_succ = n->state == CHORD_NODE_JOINING && n->join_acked &&
                     !(m->flags & CHORD_TRANSFER_REPLICA) &&
                     chord__peer_same(&m->from, &n->join_succ);
    if (from_succ) /* the keys are coming: keep waiting */
        n->join_deadline = now + 2 * n->cfg.rpc_timeout_ms;
    if ((m->flags & CHORD_TRANSFER_LAST) && from_succ) {
        char a[9];
        become_active(n, now);
        n->join_deadline = UINT64_MAX;
        n->next_stabilize = now;
        n->next_fix = now;
        chord__log(n, CHORD_LOG_INFO,
                   "joined the ring: successor %s, predecessor %s, %zu keys",
                   n->join_succ.addr, n->rt.has_pred ? n->rt.pred.addr : "-",
                   chord_store_live(n->store));
        (void)a;
    }
}

/* ------------------------------------------------------------------------ */
/* predecessor                                                              */

static void set_pred(struct chord_node *n, uint64_t now,
                     const struct chord_peer *p)
{
    (void)now;
    if (n->rt.has_pred && chord__peer_same(&n->rt.pred, p))
        return;
    n->rt.pred = *p;
    n->rt.has_pred = true;
    n->lease_range = false; /* our range changed: the lease starts over */
    n->preds[0] = *p; /* the rest comes with its next RECTIFY */
    n->n_preds = 1;
    char a[9];
    chord__log(n, CHORD_LOG_INFO, "predecessor is now %s (%s)", p->addr,
               chord__short_id(&p->id, a));
}

/* Give a new, closer predecessor the keys of its range (old, new]. */
static void pass_range(struct chord_node *n, uint64_t now, bool had_pred,
                       const struct chord_id *old, const struct chord_peer *to)
{
    struct range_ctx c;
    c.lo = had_pred ? *old : n->rt.self.id;
    c.hi = to->id;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL)
        if (want_range(n, e, &c)) {
            chord__transfer_start(n, now, to, 0, XFER_JOIN, want_range, &c);
            return;
        }
}

/* Our predecessor's RECTIFY carries its own predecessors: ours are it and
 * them (up to the replication factor, stopping where the ring closes). */
static void learn_preds(struct chord_node *n, const struct chord_msg *m)
{
    unsigned k = 0;
    n->preds[k++] = m->from;
    for (unsigned i = 0; i < m->n_preds && k < n->cfg.replicas; i++) {
        if (chord__is_self(n, &m->preds[i]))
            break;
        n->preds[k++] = m->preds[i];
    }
    n->n_preds = k;
}

static void handle_rectify(struct chord_node *n, uint64_t now,
                           const struct chord_msg *msg)
{
    const struct chord_peer *m = &msg->from;
    if (chord__is_self(n, m) || n->state != CHORD_NODE_ACTIVE)
        return;
    if (!n->rt.has_pred || chord__is_self(n, &n->rt.pred) ||
        chord_id_in_oo(&m->id, &n->rt.pred.id, &n->rt.self.id)) {
        bool had = n->rt.has_pred && !chord__is_self(n, &n->rt.pred);
        struct chord_id old = n->rt.pred.id;
        set_pred(n, now, m);
        pass_range(n, now, had, &old, m);
    } else if (!chord__peer_same(m, &n->rt.pred) && !n->pred_ping_pending) {
        /* Not closer than our predecessor: adopt it only if ours is dead. */
        n->rectify_cand = *m;
        n->pred_ping_pending = true;
        struct chord_msg *p = chord__msg(n, CHORD_MSG_PING, 0);
        if (p) {
            chord__rpc(n, now, RPC_PRED_PING, &n->rt.pred, 0, p);
            free(p);
        }
    }
    if (n->rt.has_pred && chord__peer_same(&n->rt.pred, m))
        learn_preds(n, msg);
    /* Alone, a node learns its first successor from its predecessor. */
    if (n->rt.n_succ == 0)
        n->next_stabilize = now;
}

/* ------------------------------------------------------------------------ */
/* stabilize                                                                */

static void stabilize_start(struct chord_node *n, uint64_t now);

static void send_rectify(struct chord_node *n, const struct chord_peer *to)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_RECTIFY, 0);
    if (m) {
        m->n_preds = (uint8_t)n->n_preds;
        memcpy(m->preds, n->preds, n->n_preds * sizeof(n->preds[0]));
        chord__send(n, to->addr, m);
        free(m);
    }
}

static void stabilize_finish(struct chord_node *n)
{
    n->stab_rpc = 0;
    if (n->rt.n_succ)
        send_rectify(n, chord_routing_successor(&n->rt));
}

static void stabilize_start(struct chord_node *n, uint64_t now)
{
    if (n->stab_rpc)
        return; /* a round is in flight */
    const struct chord_peer *target;
    uint8_t kind = RPC_STAB_SUCC;
    if (n->rt.n_succ > 0) {
        /* Stabilize from the first successor not suspected: adopting its
         * view drops the suspects before it (they come back through it if
         * the suspicion was wrong). */
        target = &n->rt.succ[0];
        for (unsigned i = 0; i < n->rt.n_succ; i++)
            if (chord__usable(n, n->rt.succ[i].addr, now)) {
                target = &n->rt.succ[i];
                break;
            }
    } else if (n->rt.has_pred && !chord__is_self(n, &n->rt.pred)) {
        /* Alone with a predecessor: it is our successor-to-be; it must
         * answer before we adopt it. */
        target = &n->rt.pred;
        kind = RPC_STAB_CAND;
    } else {
        return; /* truly alone */
    }
    struct chord_msg *m = chord__msg(n, CHORD_MSG_GET_NEIGHBORS, 0);
    if (!m)
        return;
    struct chord_peer to = *target;
    n->stab_rpc = chord__rpc(n, now, kind, &to, 0, m);
    free(m);
}

static void stabilize_succ_failed(struct chord_node *n, uint64_t now,
                                  const struct chord_peer *s)
{
    char a[9];
    chord__log(n, CHORD_LOG_WARN,
               "successor %s (%s) did not answer: dropping it", s->addr,
               chord__short_id(&s->id, a));
    chord__mark_dead(n, s->addr, now);
    chord_routing_remove(&n->rt, &s->id);
    n->stab_rpc = 0;
    n->succ_silent = 0;
    if (n->rt.n_succ == 0)
        chord__log(n, CHORD_LOG_WARN, "no live successor left: alone");
    stabilize_start(n, now);
}

static void handle_neighbors(struct chord_node *n, uint64_t now,
                             const struct rpc *r, const struct chord_msg *m)
{
    if (r->kind == RPC_STAB_SUCC) {
        n->succ_silent = 0;
        adopt_successors(n, now, &m->from, &m->nb);
        const struct chord_peer *s = chord_routing_successor(&n->rt);
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred) &&
            !chord__is_dead(n, m->nb.pred.addr, now) &&
            chord_id_in_oo(&m->nb.pred.id, &n->rt.self.id, &s->id)) {
            /* A node between us and our successor: check it is alive. */
            struct chord_msg *q = chord__msg(n, CHORD_MSG_GET_NEIGHBORS, 0);
            if (q) {
                struct chord_peer cand = m->nb.pred;
                n->stab_rpc = chord__rpc(n, now, RPC_STAB_CAND, &cand, 0, q);
                free(q);
                return;
            }
        }
        stabilize_finish(n);
    } else { /* RPC_STAB_CAND: it answered, so it is alive */
        const struct chord_peer *s = chord_routing_successor(&n->rt);
        if (n->rt.n_succ == 0 ||
            chord_id_in_oo(&m->from.id, &n->rt.self.id, &s->id))
            adopt_successors(n, now, &m->from, &m->nb);
        stabilize_finish(n);
    }
}

/* ------------------------------------------------------------------------ */
/* lookups                                                                  */

static void found(struct chord_node *n, uint64_t now, uint64_t req, bool ok,
                  const struct chord_id *target, const struct chord_peer *owner,
                  const struct chord_id *lo, uint8_t hops,
                  const struct chord_lookup_path *path);

/* Our nearest predecessor that is not suspected (the predecessor itself
 * when all are), or NULL when none is known. */
static const struct chord_peer *live_pred(const struct chord_node *n,
                                          uint64_t now)
{
    if (!n->rt.has_pred)
        return NULL;
    for (unsigned i = 0; i < n->n_preds; i++)
        if (chord__usable(n, n->preds[i].addr, now))
            return &n->preds[i];
    return &n->rt.pred;
}

/* Our nearest successor that is not suspected (succ[0] when all are; self
 * when alone). */
static const struct chord_peer *live_succ(const struct chord_node *n,
                                          uint64_t now)
{
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (chord__usable(n, n->rt.succ[i].addr, now))
            return &n->rt.succ[i];
    return chord_routing_successor(&n->rt);
}

/* Do we own key now? Suspected predecessors' ranges fall to us, as they
 * would once the ring repairs itself. */
static bool owns_now(const struct chord_node *n, const struct chord_id *key,
                     uint64_t now)
{
    const struct chord_peer *p = live_pred(n, now);
    if (!p)
        return chord_routing_owns(&n->rt, key);
    return chord_id_in_oc(key, &p->id, &n->rt.self.id);
}

/* ---- proximity routing (cfg.pns) ----------------------------------------
 *
 * Finger i may be any node of its interval [start(i), start(i+1)): every
 * one of them halves the remaining distance alike. Each time fix_fingers
 * refreshes finger i it asks the node found (the interval's first) for its
 * successors, measures the round trip to up to PNS_CANDIDATES of them that
 * lie in the interval, and keeps the nearest. A lookup then goes, among
 * the fingers and successors that precede the target, to the one with the
 * most progress per millisecond: bits of distance to the target removed,
 * divided by the round trip (unknown round trips count as the largest
 * known one, so without measurements this is plain Chord routing). */

/* The end of finger i's interval: start(i + 1), or ourselves. */
static const struct chord_id *finger_end(const struct chord_node *n,
                                         unsigned i)
{
    return i + 1 < CHORD_ID_BITS ? &n->rt.finger[i + 1].start
                                 : &n->rt.self.id;
}

static bool in_finger_interval(const struct chord_node *n, unsigned i,
                               const struct chord_id *id)
{
    const struct chord_id *a = &n->rt.finger[i].start;
    return chord_id_eq(id, a) || chord_id_in_oo(id, a, finger_end(n, i));
}

/* log2 of the clockwise distance from a to b (b != a), from its top 64
 * bits: enough to compare progress. */
static double log2_dist(const struct chord_id *a, const struct chord_id *b)
{
    struct chord_id d;
    chord_id_sub(&d, b, a);
    for (unsigned k = 0; k < sizeof d.b; k++) {
        if (!d.b[k])
            continue;
        uint64_t top = 0;
        for (unsigned j = k; j < k + 8; j++)
            top = top << 8 | (j < sizeof d.b ? d.b[j] : 0);
        return log2((double)top) + 8.0 * (double)(sizeof d.b - k - 8);
    }
    return -1.0;
}

/* A measured round trip to candidate c of finger i: keep the nearest. */
static void pns_offer(struct chord_node *n, unsigned i,
                      const struct chord_peer *c, uint64_t rtt, uint64_t now)
{
    if (i >= CHORD_ID_BITS || !in_finger_interval(n, i, &c->id) ||
        chord__is_self(n, c) || !chord__usable(n, c->addr, now))
        return;
    uint32_t ms = rtt < 1 ? 1 : rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
    const struct chord_finger *f = &n->rt.finger[i];
    bool same = f->set && chord__peer_same(&f->node, c);
    if (f->set && !same && in_finger_interval(n, i, &f->node.id) &&
        n->finger_rtt[i] && n->finger_rtt[i] <= ms)
        return;
    chord_routing_set_finger(&n->rt, i, c);
    n->finger_rtt[i] = ms;
}

static void pns_neighbors(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const struct chord_msg *m)
{
    unsigned i = (unsigned)r->arg;
    if (i >= CHORD_ID_BITS)
        return;
    pns_offer(n, i, &m->from, now - r->sent_at, now);
    unsigned probes = 1;
    for (unsigned k = 0; k < m->nb.n_succ && probes < PNS_CANDIDATES; k++) {
        const struct chord_peer *c = &m->nb.succ[k];
        if (!in_finger_interval(n, i, &c->id))
            break; /* the list is in ring order */
        if (chord__is_self(n, c) || !chord__usable(n, c->addr, now))
            continue;
        probes++;
        struct chord_msg *q = chord__msg(n, CHORD_MSG_PING, 0);
        if (!q)
            return;
        struct chord_peer to = *c;
        chord__rpc(n, now, RPC_PNS_PROBE, &to, i, q);
        free(q);
    }
}

/* A finger lookup found `owner`, the first node at or after start(i). */
static unsigned pns_finger_found(struct chord_node *n, uint64_t now,
                                 unsigned i, const struct chord_peer *owner)
{
    const struct chord_finger *f = &n->rt.finger[i];
    if (chord__is_self(n, owner) || !in_finger_interval(n, i, &owner->id)) {
        /* The interval is empty: the finger is the next node, as usual. */
        unsigned next = chord_routing_set_finger(&n->rt, i, owner);
        for (unsigned k = i; k < next && k < CHORD_ID_BITS; k++)
            n->finger_rtt[k] = 0;
        return next;
    }
    if (!(f->set && in_finger_interval(n, i, &f->node.id) &&
          chord__usable(n, f->node.addr, now))) {
        chord_routing_set_finger(&n->rt, i, owner);
        n->finger_rtt[i] = 0;
    }
    struct chord_msg *q = chord__msg(n, CHORD_MSG_GET_NEIGHBORS, 0);
    if (q) {
        struct chord_peer to = *owner;
        chord__rpc(n, now, RPC_PNS_NB, &to, i, q);
        free(q);
    }
    return i + 1;
}

/* The next hop towards target by progress per millisecond, or NULL. */
static const struct chord_peer *pns_next(const struct chord_node *n,
                                         const struct chord_id *target,
                                         uint64_t now)
{
    enum { MAXC = CHORD_SUCC_MAX + CHORD_ID_BITS };
    const struct chord_peer *cand[MAXC];
    double rtt[MAXC];
    unsigned nc = 0;
    double known_max = 0;
    for (unsigned k = 0; k < n->rt.n_finger_runs + n->rt.n_succ; k++) {
        const struct chord_peer *p;
        double ms = 0;
        if (k < n->rt.n_finger_runs) {
            unsigned i = n->rt.finger_run[k];
            p = &n->rt.finger[i].node;
            ms = n->finger_rtt[i];
        } else {
            p = &n->rt.succ[k - n->rt.n_finger_runs];
        }
        if (!chord_id_in_oo(&p->id, &n->rt.self.id, target) ||
            !chord__usable(n, p->addr, now))
            continue;
        if (ms == 0) {
            const struct chord_fd_peer *fp = chord_fd_find(&n->fd, p->addr);
            if (fp && fp->rtt_known)
                ms = fp->srtt_ms;
        }
        if (ms > known_max)
            known_max = ms;
        cand[nc] = p;
        rtt[nc++] = ms;
    }
    double here = log2_dist(&n->rt.self.id, target);
    const struct chord_peer *best = NULL;
    double best_score = -1;
    for (unsigned k = 0; k < nc; k++) {
        double ms = rtt[k] > 0 ? rtt[k] : known_max > 0 ? known_max : 1;
        if (ms < 0.5)
            ms = 0.5;
        double score = (here - log2_dist(&cand[k]->id, target)) / ms;
        if (score > best_score) {
            best_score = score;
            best = cand[k];
        }
    }
    return best;
}

/* The owner of `target` if our successor list reaches it: the first
 * usable successor at or after it (a suspected node's keys fall to the
 * next one); NULL when the target lies beyond the list. */
static const struct chord_peer *succ_owner(const struct chord_node *n,
                                           const struct chord_id *target,
                                           uint64_t now, struct chord_id *lo)
{
    const struct chord_id *prev = &n->rt.self.id;
    for (unsigned i = 0; i < n->rt.n_succ; i++) {
        if (chord_id_in_oc(target, prev, &n->rt.succ[i].id)) {
            *lo = *prev; /* the owner's range starts after the node before */
            for (unsigned j = i; j < n->rt.n_succ; j++)
                if (chord__usable(n, n->rt.succ[j].addr, now))
                    return &n->rt.succ[j];
            return NULL;
        }
        prev = &n->rt.succ[i].id;
    }
    return NULL;
}

/* One step of a recursive lookup at this node: answer the origin or
 * forward towards the target. `path` already lists the nodes before us. */
/* Copy a lookup path: its used entries only (a whole one is 4 KB). */
static void path_copy(struct chord_lookup_path *dst,
                      const struct chord_lookup_path *src)
{
    dst->n = src->n;
    memcpy(dst->addr, src->addr, (size_t)src->n * CHORD_ADDR_MAX);
}

static void fwd_free(struct fwd *f)
{
    free(f->path);
    f->path = NULL;
}

/* Remember a lookup forwarded to `next` (see struct fwd). Best effort:
 * without memory the lookup simply is not re-routed. */
static void fwd_remember(struct chord_node *n, uint64_t now, const char *next,
                         const struct chord_peer *origin, uint64_t req,
                         const struct chord_id *target, uint8_t hops,
                         uint8_t flags, const struct chord_lookup_path *path_in)
{
    if (n->fwds.live >= FWD_MAX) {
        struct fwd *old = chord_seq_head(&n->fwds);
        if (old) {
            fwd_free(old);
            chord_seq_finish(&n->fwds, old);
        }
    }
    struct fwd *f = chord_seq_push(&n->fwds);
    if (!f)
        return;
    if (path_in->n) {
        f->path = malloc((size_t)path_in->n * CHORD_ADDR_MAX);
        if (!f->path) {
            chord_seq_finish(&n->fwds, f);
            return;
        }
        memcpy(f->path, path_in->addr, (size_t)path_in->n * CHORD_ADDR_MAX);
    }
    f->path_n = path_in->n;
    f->expires = now + FWD_MEMORY_MS;
    chord__addr_copy(f->next, next);
    f->origin = *origin;
    f->req = req;
    f->target = *target;
    f->hops = hops;
    f->flags = flags;
}

/* Forget forwarded lookups whose time is up. */
static void fwd_expire(struct chord_node *n, uint64_t now)
{
    struct fwd *f;
    while ((f = chord_seq_head(&n->fwds)) != NULL && f->expires <= now) {
        fwd_free(f);
        chord_seq_finish(&n->fwds, f);
    }
}

static void lookup_step(struct chord_node *n, uint64_t now,
                        const struct chord_peer *origin, uint64_t req,
                        const struct chord_id *target, uint8_t hops,
                        uint8_t flags,
                        const struct chord_lookup_path *path_in);

/* `addr` is down or suspected: send the lookups we recently forwarded to
 * it on another way (routing skips it now). An origin that already had
 * its answer ignores a second one. */
static void fwd_reroute(struct chord_node *n, uint64_t now, const char *addr)
{
    uint64_t last = n->fwds.next_id; /* not those re-routing adds */
    for (uint64_t id = n->fwds.first_id; id < last; id++) {
        struct fwd *f = chord_seq_find(&n->fwds, id);
        if (!f || f->expires <= now || strcmp(f->next, addr) != 0)
            continue;
        struct chord_peer origin = f->origin;
        struct chord_id target = f->target;
        uint64_t req = f->req;
        uint8_t hops = f->hops, flags = f->flags;
        struct chord_lookup_path copy;
        copy.n = f->path_n;
        if (f->path_n)
            memcpy(copy.addr, f->path, (size_t)f->path_n * CHORD_ADDR_MAX);
        fwd_free(f);
        chord_seq_finish(&n->fwds, f);
        chord__log(n, CHORD_LOG_DEBUG, "re-routing a lookup that went to %s",
                   addr);
        lookup_step(n, now, &origin, req, &target, hops, flags, &copy);
        if (n->state == CHORD_NODE_FAILED)
            return;
    }
}

static void lookup_step(struct chord_node *n, uint64_t now,
                        const struct chord_peer *origin, uint64_t req,
                        const struct chord_id *target, uint8_t hops,
                        uint8_t flags,
                        const struct chord_lookup_path *path_in)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_FIND_SUCC, req);
    if (!m)
        return;
    struct chord_lookup_path *path = &m->path;
    path_copy(path, path_in);
    if (path->n < CHORD_PATH_MAX)
        memcpy(path->addr[path->n++], n->rt.self.addr, CHORD_ADDR_MAX);

    const struct chord_peer *succ = live_succ(n, now);
    const struct chord_peer *owner = NULL;
    const struct chord_peer *next = NULL, *so;
    struct chord_id lo = n->rt.self.id; /* the owner's range: (lo, owner] */
    uint8_t fwd_flags = flags & (uint8_t)~CHORD_LOOKUP_FINAL;
    if (n->rt.n_succ == 0 || (n->rt.has_pred && owns_now(n, target, now))) {
        owner = &n->rt.self;
        const struct chord_peer *p = live_pred(n, now);
        if (p)
            lo = p->id;
    } else if ((so = succ_owner(n, target, now, &lo)) != NULL) {
        /* Our successor list reaches the target: straight to its owner. */
        if (flags & CHORD_LOOKUP_TO_OWNER) {
            next = so; /* it answers itself, so a dead one is noticed */
            fwd_flags |= CHORD_LOOKUP_FINAL;
        } else {
            owner = so;
        }
    } else if ((flags & CHORD_LOOKUP_FINAL) && n->rt.has_pred &&
               !chord__is_self(n, &n->rt.pred) &&
               chord__usable(n, n->rt.pred.addr, now)) {
        /* The node before us took us for the owner, but someone joined
         * in between: step back rather than route around the ring. */
        next = &n->rt.pred;
        fwd_flags |= CHORD_LOOKUP_FINAL;
    }

    if (owner || hops >= n->cfg.hop_limit) {
        struct chord_peer o = owner ? *owner : n->rt.self;
        if (owner && !chord__is_self(n, owner) && path->n < CHORD_PATH_MAX)
            memcpy(path->addr[path->n++], owner->addr, CHORD_ADDR_MAX);
        if (!owner)
            chord__log(n, CHORD_LOG_WARN, "lookup from %s exceeded %u hops",
                       origin->addr, n->cfg.hop_limit);
        if (chord__is_self(n, origin)) {
            found(n, now, req, owner != NULL, target, &o, &lo,
                  (uint8_t)(path->n ? path->n - 1 : 0), path);
        } else {
            struct chord_msg *r = chord__msg(n, CHORD_MSG_FOUND_SUCC, req);
            if (r) {
                r->status = owner ? CHORD_OK : CHORD_UNAVAILABLE;
                r->target = *target;
                r->owner = o;
                r->range_lo = lo;
                r->hops = (uint8_t)(path->n ? path->n - 1 : 0);
                path_copy(&r->path, path);
                chord__send(n, origin->addr, r);
                free(r);
            }
        }
        free(m);
        return;
    }

    if (!next && n->cfg.pns)
        next = pns_next(n, target, now);
    if (!next) {
        struct usable_ctx u = {n, now};
        next = chord_routing_closest_preceding(&n->rt, target, usable, &u);
    }
    if (!next)
        next = succ;
    m->from = *origin;
    m->target = *target;
    m->hops = (uint8_t)(hops + 1);
    m->lookup_flags = fwd_flags;
    fwd_remember(n, now, next->addr, origin, req, target, hops, flags,
                 path_in);
    chord__send(n, next->addr, m);
    free(m);
}

/* Record a lookup of ours; returns its request id (0: out of memory).
 * Callers note the id, then run chord__lookup_run(): the answer may come to
 * found() before chord__lookup_run() returns. */
uint64_t chord__lookup_begin(struct chord_node *n, uint64_t now, uint8_t kind,
                             uint64_t arg)
{
    struct rpc *r = chord_seq_push(&n->rpcs);
    if (!r)
        return 0;
    r->kind = kind;
    r->deadline = now + n->cfg.rpc_timeout_ms;
    r->sent_at = now;
    r->peer = n->rt.self;
    r->arg = arg;
    return r->h.id;
}

void chord__lookup_run(struct chord_node *n, uint64_t now, uint64_t id,
                       const struct chord_id *target, uint8_t flags)
{
    struct chord_lookup_path empty;
    empty.n = 0;
    lookup_step(n, now, &n->rt.self, id, target, 0, flags, &empty);
}

/* ------------------------------------------------------------------------ */
/* client operations                                                        */

/* ---- owner ranges (struct rcache_entry) ---------------------------------- */

static void rcache_put(struct chord_node *n, uint64_t now,
                       const struct chord_id *lo, const struct chord_peer *owner)
{
    if (!n->rcache) {
        n->rcache = calloc(RCACHE_MAX, sizeof(*n->rcache));
        if (!n->rcache)
            return;
    }
    unsigned slot = 0;
    for (unsigned i = 0; i < RCACHE_MAX; i++) {
        struct rcache_entry *e = &n->rcache[i];
        if (e->expires > now && chord__peer_same(&e->owner, owner)) {
            slot = i; /* the owner's range again: refresh it */
            break;
        }
        if (e->expires < n->rcache[slot].expires)
            slot = i; /* else the free or oldest entry */
    }
    n->rcache[slot].lo = *lo;
    n->rcache[slot].owner = *owner;
    n->rcache[slot].expires = now + RCACHE_TTL_MS;
}

/* The owner remembered for key, or NULL. */
static const struct chord_peer *rcache_find(const struct chord_node *n,
                                            const struct chord_id *key,
                                            uint64_t now)
{
    for (unsigned i = 0; n->rcache && i < RCACHE_MAX; i++) {
        const struct rcache_entry *e = &n->rcache[i];
        if (e->expires > now && chord_id_in_oc(key, &e->lo, &e->owner.id))
            return chord__usable(n, e->owner.addr, now) ? &e->owner : NULL;
    }
    return NULL;
}

/* Forget what we remembered about key's owner (it redirected or failed). */
static void rcache_drop(struct chord_node *n, const struct chord_id *key)
{
    for (unsigned i = 0; n->rcache && i < RCACHE_MAX; i++) {
        struct rcache_entry *e = &n->rcache[i];
        if (e->expires && chord_id_in_oc(key, &e->lo, &e->owner.id))
            e->expires = 0;
    }
}

static void op_free_buffers(struct op *o)
{
    free(o->key);
    free(o->value);
    o->key = o->value = NULL;
}

static void op_reply(struct chord_node *n, struct op *o, uint8_t status,
                     const char *error, const uint8_t *value, size_t value_len)
{
    struct chord_msg *m = malloc(sizeof(*m));
    if (m) {
        /* A lookup is answered in its own type; errors look alike. */
        chord_msg_init(m,
                       o->type == CHORD_MSG_C_LOOKUP ? CHORD_MSG_C_LOOKUP_RESULT
                                                     : CHORD_MSG_C_RESULT,
                       o->client_req);
        m->status = status;
        if (error)
            snprintf(m->error, sizeof(m->error), "%s", error);
        m->value.data = value;
        m->value.len = value_len;
        chord__reply(n, o->conn, m);
        free(m);
    }
    if (o->state == OP_WAIT)
        n->op_waiting--;
    op_free_buffers(o);
    chord_seq_finish(&n->ops, o);
}

static void op_reply_lookup(struct chord_node *n, struct op *o,
                            const struct chord_peer *owner, uint8_t hops,
                            const struct chord_lookup_path *path)
{
    struct chord_msg *m = malloc(sizeof(*m));
    if (m) {
        chord_msg_init(m, CHORD_MSG_C_LOOKUP_RESULT, o->client_req);
        m->status = CHORD_OK;
        m->lookup.key_id = o->key_id;
        m->lookup.owner = *owner;
        m->lookup.hops = hops;
        path_copy(&m->lookup.path, path);
        chord__reply(n, o->conn, m);
        free(m);
    }
    op_free_buffers(o);
    chord_seq_finish(&n->ops, o);
}

static void op_start(struct chord_node *n, uint64_t now, struct op *o);

/* Try again shortly (the owner was busy, or a peer failed). */
static void op_retry_later(struct chord_node *n, struct op *o, uint64_t now,
                           const char *why)
{
    snprintf(o->last_error, sizeof(o->last_error), "%s", why);
    o->rpc = 0;
    if (o->state != OP_WAIT)
        n->op_waiting++;
    o->state = OP_WAIT;
    o->retry_at = now + OP_RETRY_MS;
}

/*
 * Where to send a request for `id` that this node does not own: the
 * successor when id lies just after us, else the predecessor (the owner
 * is behind us; while joins settle, stepping back one node at a time
 * converges where a finger could bounce between two stale views).
 */
static const struct chord_peer *redirect_hint(const struct chord_node *n,
                                              const struct chord_id *id,
                                              uint64_t now)
{
    const struct chord_peer *succ = live_succ(n, now);
    const struct chord_peer *pred = live_pred(n, now);
    if (chord_id_in_oc(id, &n->rt.self.id, &succ->id) || !pred)
        return succ;
    return pred;
}

/*
 * A store request (from a client operation of ours, or STORE_* from a
 * coordinator) reaches the node that should own the key. Refuse it while
 * joining or leaving, redirect it if we do not own the key, else hand it
 * to replica.c; the outcome comes back through chord__store_done().
 */
static void store_execute(struct chord_node *n, uint64_t now, uint8_t type,
                          const uint8_t *key, size_t key_len,
                          const uint8_t *value, size_t value_len,
                          uint8_t consistency, const struct chord_reply_to *to)
{
    struct chord_id kid;
    chord_id_hash(&kid, key, key_len);
    bool is_read = type == CHORD_MSG_STORE_GET;
    if (n->state == CHORD_NODE_JOINING ||
        (n->state == CHORD_NODE_LEAVING && !is_read) ||
        n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_INIT) {
        chord__store_done(n, now, to, CHORD_TRY_AGAIN, NULL, NULL, NULL, 0,
                          NULL);
        return;
    }
    if (!owns_now(n, &kid, now)) {
        chord__store_done(n, now, to, CHORD_REDIRECT, NULL,
                          redirect_hint(n, &kid, now), NULL, 0, NULL);
        return;
    }
    if (is_read) {
        chord__replica_read(n, now, key, key_len, consistency, to);
        return;
    }
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len);
    if (type == CHORD_MSG_STORE_DEL && (!e || e->tombstone) &&
        n->cfg.replicas <= 1) {
        /* Deleting nothing is not an error; with replicas a tombstone is
         * still written, in case a replica holds a copy we lack. */
        chord__store_done(n, now, to, CHORD_OK, NULL, NULL, NULL, 0, NULL);
        return;
    }
    chord__replica_write(n, now, type, key, key_len, value, value_len,
                         consistency, to);
}

static uint8_t store_type_of(uint8_t client_type)
{
    switch (client_type) {
    case CHORD_MSG_C_PUT:
        return CHORD_MSG_STORE_PUT;
    case CHORD_MSG_C_GET:
        return CHORD_MSG_STORE_GET;
    default:
        return CHORD_MSG_STORE_DEL;
    }
}

/* Act on a store result for op o (local or from the owner). */
static void op_store_result(struct chord_node *n, uint64_t now, struct op *o,
                            uint8_t status, const char *error,
                            const struct chord_peer *hint, const uint8_t *value,
                            size_t value_len);

static void op_send_store(struct chord_node *n, uint64_t now, struct op *o,
                          const struct chord_peer *owner)
{
    if (chord__is_self(n, owner)) {
        struct chord_reply_to to = {.op = o->h.id};
        o->state = OP_STORE;
        o->rpc = 0;
        store_execute(n, now, store_type_of(o->type), o->key, o->key_len,
                      o->value, o->value_len, o->consistency, &to);
        return;
    }
    struct chord_msg *m = chord__msg(n, store_type_of(o->type), 0);
    if (!m) {
        op_retry_later(n, o, now, "out of memory");
        return;
    }
    m->key.data = o->key;
    m->key.len = o->key_len;
    m->consistency = o->consistency;
    if (o->type == CHORD_MSG_C_PUT) {
        m->value.data = o->value;
        m->value.len = o->value_len;
    }
    struct chord_peer to = *owner;
    o->state = OP_STORE;
    o->rpc = chord__rpc(n, now, RPC_STORE, &to, o->h.id, m);
    free(m);
}

static void op_store_result(struct chord_node *n, uint64_t now, struct op *o,
                            uint8_t status, const char *error,
                            const struct chord_peer *hint, const uint8_t *value,
                            size_t value_len)
{
    o->rpc = 0;
    switch (status) {
    case CHORD_OK:
        op_reply(n, o, CHORD_OK, NULL, value, value_len);
        return;
    case CHORD_NOT_FOUND:
        op_reply(n, o, CHORD_NOT_FOUND, "not found", NULL, 0);
        return;
    case CHORD_REDIRECT:
        rcache_drop(n, &o->key_id);
        if (++o->redirects <= n->cfg.hop_limit) {
            op_send_store(n, now, o, hint);
            return;
        }
        op_retry_later(n, o, now, "too many redirects");
        return;
    case CHORD_TRY_AGAIN:
        op_retry_later(n, o, now, "the owner is joining or leaving");
        return;
    default: {
        char why[CHORD_ERRMSG_MAX];
        if (error && *error)
            snprintf(why, sizeof(why), "%s", error);
        else
            snprintf(why, sizeof(why), "the owner answered: %s",
                     chord_status_name(status));
        op_reply(n, o, status, why, NULL, 0);
    }
    }
}

void chord__store_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_version *version)
{
    if (to->op) {
        struct op *o = chord_seq_find(&n->ops, to->op);
        if (o && o->state == OP_STORE && o->rpc == 0)
            op_store_result(n, now, o, status, error, hint, value, value_len);
        return;
    }
    struct chord_msg *r = chord__msg(n, CHORD_MSG_STORE_RESULT, to->req);
    if (!r)
        return;
    r->status = status;
    if (error)
        snprintf(r->error, sizeof(r->error), "%s", error);
    if (hint)
        r->hint = *hint;
    if (value) {
        r->has_value = true;
        r->value.data = value;
        r->value.len = value_len;
    }
    if (version)
        r->version = *version;
    chord__send(n, to->addr, r);
    free(r);
}

static void op_start(struct chord_node *n, uint64_t now, struct op *o)
{
    if (o->state == OP_WAIT)
        n->op_waiting--;
    o->state = OP_LOOKUP;
    o->attempts++;
    o->redirects = 0;
    if (o->type != CHORD_MSG_C_LOOKUP && o->attempts == 1) {
        /* A first try on a key whose owner we learned lately goes
         * straight there; it checks, and redirects if it no longer owns
         * the key. Retries look the owner up afresh. */
        const struct chord_peer *c = rcache_find(n, &o->key_id, now);
        if (c) {
            struct chord_peer owner = *c;
            op_send_store(n, now, o, &owner); /* may finish o */
            return;
        }
    }
    uint64_t rid = chord__lookup_begin(n, now, RPC_LOOKUP_OP, o->h.id);
    if (!rid) {
        op_retry_later(n, o, now, "out of memory");
        return;
    }
    o->rpc = rid;
    struct chord_id kid = o->key_id;
    /* A lookup the client sees, or a retry (the owner named before may
     * be down), is answered by the owner itself. */
    uint8_t flags = o->type == CHORD_MSG_C_LOOKUP || o->attempts > 1
                        ? CHORD_LOOKUP_TO_OWNER
                        : 0;
    chord__lookup_run(n, now, rid, &kid, flags); /* may finish o */
}

static void op_found(struct chord_node *n, uint64_t now, struct op *o, bool ok,
                     const struct chord_peer *owner, uint8_t hops,
                     const struct chord_lookup_path *path)
{
    o->rpc = 0;
    if (!ok) {
        op_retry_later(n, o, now, "lookup exceeded the hop limit");
        return;
    }
    if (o->type == CHORD_MSG_C_LOOKUP) {
        op_reply_lookup(n, o, owner, hops, path);
        return;
    }
    op_send_store(n, now, o, owner);
}

static void handle_client(struct chord_node *n, uint64_t now, uint64_t conn,
                          const struct chord_msg *m)
{
    struct chord_msg *r = malloc(sizeof(*r));
    if (!r)
        return;
    if (m->type == CHORD_MSG_C_STATUS) {
        struct chord_status *st = malloc(sizeof(*st));
        chord_msg_init(r, CHORD_MSG_C_STATUS_RESULT, m->req_id);
        if (st) {
            chord_node_status(n, st);
            r->status = CHORD_OK;
            r->status_in = st;
            chord__reply(n, conn, r);
            free(st);
        }
        free(r);
        return;
    }
    chord_msg_init(r, CHORD_MSG_C_RESULT, m->req_id);
    if (m->key.len == 0) {
        r->status = CHORD_BAD_REQUEST;
        snprintf(r->error, sizeof(r->error), "empty key");
    } else if (n->state != CHORD_NODE_ACTIVE) {
        r->status = CHORD_UNAVAILABLE;
        snprintf(r->error, sizeof(r->error), "node %s is %s, not serving",
                 n->rt.self.addr, chord_node_state_name(n->state));
    } else if (n->ops.live >= n->cfg.max_ops) {
        r->status = CHORD_BUSY;
        snprintf(r->error, sizeof(r->error),
                 "node %s has %u operations in flight", n->rt.self.addr,
                 n->cfg.max_ops);
    } else {
        struct op *o = chord_seq_push(&n->ops);
        size_t vlen = m->type == CHORD_MSG_C_PUT ? m->value.len : 0;
        uint8_t *k = o ? malloc(m->key.len) : NULL;
        uint8_t *v = o ? malloc(vlen ? vlen : 1) : NULL;
        if (!o || !k || !v) {
            free(k);
            free(v);
            if (o)
                chord_seq_finish(&n->ops, o);
            r->status = CHORD_BUSY;
            snprintf(r->error, sizeof(r->error), "out of memory");
        } else {
            memcpy(k, m->key.data, m->key.len);
            if (vlen)
                memcpy(v, m->value.data, vlen);
            o->type = m->type;
            o->consistency = m->consistency;
            o->conn = conn;
            o->client_req = m->req_id;
            o->deadline = now + n->cfg.op_timeout_ms;
            o->key = k;
            o->key_len = m->key.len;
            o->value = v;
            o->value_len = vlen;
            chord_id_hash(&o->key_id, k, m->key.len);
            free(r);
            op_start(n, now, o);
            return;
        }
    }
    if (m->type == CHORD_MSG_C_LOOKUP)
        r->type = CHORD_MSG_C_LOOKUP_RESULT;
    chord__reply(n, conn, r);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* join and leave                                                           */

static void join_send(struct chord_node *n, uint64_t now,
                      const struct chord_peer *s);

static void join_attempt(struct chord_node *n, uint64_t now)
{
    if (++n->join_attempts > JOIN_ATTEMPTS) {
        n->state = CHORD_NODE_FAILED;
        chord__log(n, CHORD_LOG_ERROR,
                   "cannot join %s: no answer after %u attempts", n->join_seed,
                   JOIN_ATTEMPTS);
        return;
    }
    n->join_acked = false;
    n->join_redirects = 0;
    n->join_retry_at = UINT64_MAX;
    n->join_deadline = UINT64_MAX;
    if (n->rt.n_succ > 0) {
        /* An earlier JOIN was answered: the ring may already route to us,
         * so ask our successor again rather than look ourselves up. */
        struct chord_peer s = n->rt.succ[0];
        join_send(n, now, &s);
        return;
    }
    struct chord_msg *m = chord__msg(n, CHORD_MSG_FIND_SUCC, 0);
    if (!m)
        return;
    struct chord_peer seed;
    chord_peer_from_addr(&seed, n->join_seed);
    /* Look up the successor of id + 1: the first node strictly after us.
     * Asking for our own id would answer "you" once an earlier attempt's
     * JOIN was accepted but its answer lost. */
    chord_id_add_pow2(&m->target, &n->rt.self.id, 0);
    m->hops = 0;
    chord__rpc(n, now, RPC_JOIN_LOOKUP, &seed, 0, m);
    free(m);
}

static void join_retry(struct chord_node *n, uint64_t now, const char *why)
{
    chord__log(n, CHORD_LOG_WARN, "join attempt %u failed: %s",
               n->join_attempts, why);
    n->join_acked = false;
    n->join_retry_at = now + chord__jitter(n, JOIN_RETRY_MS);
}

static void join_send(struct chord_node *n, uint64_t now,
                      const struct chord_peer *s)
{
    if (chord__is_self(n, s)) {
        join_retry(n, now, "the ring named us as our own successor");
        return;
    }
    n->join_succ = *s;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_JOIN, 0);
    if (m) {
        chord__rpc(n, now, RPC_JOIN, s, 0, m);
        free(m);
    }
}

static void handle_join(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m)
{
    struct chord_msg *r = chord__msg(n, CHORD_MSG_JOIN_ACK, m->req_id);
    if (!r)
        return;
    const struct chord_peer *j = &m->from;
    if (chord__is_self(n, j)) {
        free(r);
        return;
    }
    bool is_pred = n->rt.has_pred && chord__peer_same(&n->rt.pred, j);
    if (n->state != CHORD_NODE_ACTIVE) {
        r->status = CHORD_TRY_AGAIN;
    } else if (!is_pred && !chord_routing_owns(&n->rt, &j->id)) {
        r->status = CHORD_REDIRECT;
        r->hint = *redirect_hint(n, &j->id, now);
    } else {
        struct chord_neighbors old;
        fill_neighbors(n, &old);
        mark_alive(n, j->addr);
        set_pred(n, now, j);
        if (n->rt.n_succ == 0)
            chord_routing_set_successors(&n->rt, j, NULL, 0);
        r->status = CHORD_OK;
        r->nb = old;
        if (is_pred) /* a repeated JOIN: report our predecessor's view */
            r->nb.has_pred = false;
        chord__send(n, j->addr, r);
        free(r);
        /* The joiner's range: (old predecessor, joiner]. A repeated JOIN
         * no longer knows the old predecessor: send all we do not own. */
        if (!is_pred && old.has_pred) {
            struct range_ctx c = {old.pred.id, j->id};
            chord__transfer_start(n, now, j, 0, XFER_JOIN, want_range, &c);
        } else {
            chord__transfer_start(n, now, j, 0, XFER_JOIN, want_not_owned,
                                  NULL);
        }
        return;
    }
    chord__send(n, j->addr, r);
    free(r);
}

static void handle_join_ack(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m)
{
    switch (m->status) {
    case CHORD_OK:
        n->join_acked = true;
        n->join_succ = m->from;
        adopt_successors(n, now, &m->from, &m->nb);
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred))
            set_pred(n, now, &m->nb.pred);
        else if (!n->rt.has_pred)
            set_pred(n, now, &m->from);
        n->join_deadline = now + 2 * n->cfg.rpc_timeout_ms;
        return;
    case CHORD_REDIRECT:
        if (++n->join_redirects <= n->cfg.hop_limit) {
            join_send(n, now, &m->hint);
            return;
        }
        join_retry(n, now, "too many redirects");
        return;
    default:
        join_retry(n, now, chord_status_name(m->status));
    }
}

static void leave_finish(struct chord_node *n)
{
    n->state = CHORD_NODE_LEFT;
    n->leave_deadline = UINT64_MAX;
    chord__log(n, CHORD_LOG_INFO, "left the ring");
}

/* After the hand-off: tell both neighbours how to close the gap. */
static void leave_notify(struct chord_node *n, uint64_t now)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_LEAVE, 0);
    if (!m) {
        leave_finish(n);
        return;
    }
    fill_neighbors(n, &m->nb);
    struct chord_peer to[2];
    unsigned k = 0;
    if (n->rt.n_succ)
        to[k++] = n->rt.succ[0];
    if (n->rt.has_pred && !chord__is_self(n, &n->rt.pred) &&
        !(k && chord__peer_same(&to[0], &n->rt.pred)))
        to[k++] = n->rt.pred;
    n->leave_acks_pending = k;
    for (unsigned i = 0; i < k; i++)
        chord__rpc(n, now, RPC_LEAVE, &to[i], 0, m);
    free(m);
    if (k == 0)
        leave_finish(n);
}

static void leave_transfer_finished(struct chord_node *n, uint64_t now, bool ok)
{
    if (n->state != CHORD_NODE_LEAVING)
        return;
    if (!ok) {
        /* The successor failed: hand the keys to the next one. */
        if (n->rt.n_succ)
            chord_routing_remove(&n->rt, &n->rt.succ[0].id);
        if (n->rt.n_succ) {
            chord__transfer_start(n, now, &n->rt.succ[0],
                                  CHORD_TRANSFER_HANDOFF, XFER_HANDOFF,
                                  want_all, NULL);
            return;
        }
        chord__log(n, CHORD_LOG_ERROR,
                   "no successor took the keys; %zu keys lost",
                   chord_store_live(n->store));
    }
    leave_notify(n, now);
}

static void handle_leave(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m)
{
    const struct chord_peer *l = &m->from;
    char a[9];
    chord__log(n, CHORD_LOG_INFO, "%s (%s) is leaving", l->addr,
               chord__short_id(&l->id, a));
    chord__mark_dead(n, l->addr, now);
    if (n->rt.has_pred && chord__peer_same(&n->rt.pred, l)) {
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred) &&
            !chord__peer_same(&m->nb.pred, l))
            set_pred(n, now, &m->nb.pred);
        else if (n->rt.n_succ <= 1)
            n->rt.has_pred = false; /* we are alone now */
    }
    if (n->rt.n_succ && chord__peer_same(&n->rt.succ[0], l)) {
        struct chord_neighbors nb = m->nb;
        nb.has_pred = false;
        adopt_successors(n, now, NULL, &nb);
    }
    chord_routing_remove(&n->rt, &l->id);
    if (n->rt.n_succ == 0)
        n->rt.has_pred = false;
    struct chord_msg *r = chord__msg(n, CHORD_MSG_LEAVE_ACK, m->req_id);
    if (r) {
        chord__send(n, l->addr, r);
        free(r);
    }
}

/* ------------------------------------------------------------------------ */
/* store requests from coordinators                                         */

static void handle_store(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m)
{
    struct chord_reply_to to = {.op = 0, .req = m->req_id};
    memcpy(to.addr, m->from.addr, CHORD_ADDR_MAX);
    store_execute(n, now, m->type, m->key.data, m->key.len, m->value.data,
                  m->value.len, m->consistency, &to);
}

/* ------------------------------------------------------------------------ */
/* answers and failures of our requests                                     */

static void found(struct chord_node *n, uint64_t now, uint64_t req, bool ok,
                  const struct chord_id *target, const struct chord_peer *owner,
                  const struct chord_id *lo, uint8_t hops,
                  const struct chord_lookup_path *path)
{
    struct rpc *rp = chord_seq_find(&n->rpcs, req);
    if (!rp)
        return;
    struct rpc r = *rp;
    chord_seq_finish(&n->rpcs, rp);
    (void)target;
    switch (r.kind) {
    case RPC_LOOKUP_OP: {
        struct op *o = chord_seq_find(&n->ops, r.arg);
        if (ok)
            rcache_put(n, now, lo, owner);
        if (o && o->rpc == req)
            op_found(n, now, o, ok, owner, hops, path);
        return;
    }
    case RPC_LOOKUP_FINGER:
        n->finger_pending = false;
        if (ok && r.arg < CHORD_ID_BITS) {
            unsigned next =
                n->cfg.pns
                    ? pns_finger_found(n, now, (unsigned)r.arg, owner)
                    : chord_routing_set_finger(&n->rt, (unsigned)r.arg, owner);
            n->next_finger = next >= CHORD_ID_BITS ? 0 : next;
        }
        return;
    case RPC_JOIN_LOOKUP:
        if (n->state != CHORD_NODE_JOINING)
            return;
        if (!ok) {
            join_retry(n, now, "lookup of our successor failed");
            return;
        }
        join_send(n, now, owner);
        return;
    case RPC_LOOKUP_ORPHAN:
        chord__replica_orphan_owner(n, now, ok, owner);
        return;
    default:
        return;
    }
}

static void rpc_failed(struct chord_node *n, uint64_t now, const struct rpc *r,
                       const char *why)
{
    switch (r->kind) {
    case RPC_STAB_SUCC:
        if (r->h.id != n->stab_rpc)
            return; /* a round abandoned for a suspicion */
        /* Refused connections are definitive; silence may be one lost
         * answer, so it takes SUCC_PROBE_FAILURES in a row. */
        if (chord_routing_has_successor(&n->rt, &r->peer) &&
            (strcmp(why, "unreachable") == 0 ||
             ++n->succ_silent >= SUCC_PROBE_FAILURES))
            stabilize_succ_failed(n, now, &r->peer);
        else
            n->stab_rpc = 0;
        return;
    case RPC_STAB_CAND:
        if (r->h.id == n->stab_rpc)
            stabilize_finish(n);
        return;
    case RPC_PRED_PING:
        n->pred_ping_pending = false;
        if (n->rt.has_pred && chord__peer_same(&n->rt.pred, &r->peer)) {
            char a[9];
            chord__log(n, CHORD_LOG_WARN, "predecessor %s (%s) did not answer",
                       r->peer.addr, chord__short_id(&r->peer.id, a));
            chord__mark_dead(n, r->peer.addr, now);
            set_pred(n, now, &n->rectify_cand);
        }
        return;
    case RPC_JOIN_LOOKUP:
    case RPC_JOIN:
        if (n->state == CHORD_NODE_JOINING && !n->join_acked)
            join_retry(n, now, why);
        return;
    case RPC_LOOKUP_OP:
    case RPC_STORE: {
        struct op *o = chord_seq_find(&n->ops, r->arg);
        if (o && r->kind == RPC_STORE)
            rcache_drop(n, &o->key_id);
        if (o && o->rpc == r->h.id) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%s: %s", r->peer.addr, why);
            op_retry_later(n, o, now, msg);
        }
        return;
    }
    case RPC_LOOKUP_FINGER:
        /* Move on: a finger whose lookup keeps failing must not keep the
         * others from being refreshed; its turn comes again. */
        n->finger_pending = false;
        if (r->arg + 1 < CHORD_ID_BITS)
            n->next_finger = (unsigned)r->arg + 1;
        else
            n->next_finger = 0;
        return;
    case RPC_TRANSFER: {
        struct transfer *t = transfer_find(n, r->arg);
        if (t)
            transfer_failed(n, now, t);
        return;
    }
    case RPC_LEAVE:
        if (n->leave_acks_pending && --n->leave_acks_pending == 0)
            leave_finish(n);
        return;
    case RPC_LOOKUP_ORPHAN:
        chord__replica_orphan_owner(n, now, false, NULL);
        return;
    case RPC_REPLICATE:
    case RPC_REPLICA_GET:
    case RPC_REPAIR:
    case RPC_SYNC:
        chord__replica_answer(n, now, r, NULL);
        return;
    case RPC_HEARTBEAT: /* the failure detector keeps its own time */
    case RPC_PNS_NB:    /* a candidate that does not answer is not kept */
    case RPC_PNS_PROBE:
        return;
    }
}

/* Tell the failure detector a peer spoke. One we suspected is trusted
 * again (with a longer timeout, see fd.c); one that had been unreachable
 * has restarted. */
static void fd_heard(struct chord_node *n, const char *addr, int64_t rtt_ms,
                     uint64_t now)
{
    const struct chord_fd_peer *p = chord_fd_find(&n->fd, addr);
    bool restarted = p && p->state == CHORD_PEER_DEAD && p->refused;
    if (!chord_fd_heard(&n->fd, addr, rtt_ms, now))
        return;
    p = chord_fd_find(&n->fd, addr);
    if (restarted)
        chord__log(n, CHORD_LOG_INFO, "%s is back (it had been unreachable)",
                   addr);
    else
        chord__log(n, CHORD_LOG_WARN,
                   "%s is alive after all: false suspicion #%u, timeout now "
                   "%u ms",
                   addr, p ? p->false_suspicions : 0,
                   p ? chord_fd_timeout(&n->fd, p) : 0);
}

/* An answer to one of our requests (anything but FOUND_SUCC). */
static void handle_answer(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m)
{
    struct rpc *rp = chord_seq_find(&n->rpcs, m->req_id);
    if (!rp) { /* late, or not ours; a late answer still proves life */
        fd_heard(n, m->from.addr, -1, now);
        return;
    }
    if (!chord__peer_same(&rp->peer, &m->from) && rp->kind != RPC_JOIN) {
        chord__log(n, CHORD_LOG_DEBUG, "%s answered a request sent to %s",
                   m->from.addr, rp->peer.addr);
        return;
    }
    struct rpc r = *rp;
    chord_seq_finish(&n->rpcs, rp);
    mark_alive(n, m->from.addr);
    fd_heard(n, m->from.addr, (int64_t)(now - r.sent_at), now);
    if (n->rt.n_succ && strcmp(r.peer.addr, n->rt.succ[0].addr) == 0 &&
        (strcmp(n->succ_proof_addr, r.peer.addr) != 0 ||
         r.sent_at > n->succ_proof_sent)) {
        chord__addr_copy(n->succ_proof_addr, r.peer.addr);
        n->succ_proof_sent = r.sent_at;
    }

    switch (m->type) {
    case CHORD_MSG_NEIGHBORS:
        if ((r.kind == RPC_STAB_SUCC || r.kind == RPC_STAB_CAND) &&
            r.h.id == n->stab_rpc)
            handle_neighbors(n, now, &r, m);
        else if (r.kind == RPC_PNS_NB && n->state == CHORD_NODE_ACTIVE)
            pns_neighbors(n, now, &r, m);
        return;
    case CHORD_MSG_PONG:
        if (r.kind == RPC_PNS_PROBE && n->state == CHORD_NODE_ACTIVE)
            pns_offer(n, (unsigned)r.arg, &r.peer, now - r.sent_at, now);
        if (r.kind == RPC_PRED_PING)
            n->pred_ping_pending = false; /* predecessor alive: keep it */
        return;
    case CHORD_MSG_JOIN_ACK:
        if (r.kind == RPC_JOIN && n->state == CHORD_NODE_JOINING)
            handle_join_ack(n, now, m);
        return;
    case CHORD_MSG_STORE_RESULT: {
        if (r.kind == RPC_REPLICA_GET) {
            chord__replica_answer(n, now, &r, m);
            return;
        }
        if (r.kind != RPC_STORE)
            return;
        struct op *o = chord_seq_find(&n->ops, r.arg);
        if (o && o->rpc == r.h.id)
            op_store_result(n, now, o, m->status, m->error, &m->hint,
                            m->value.data, m->value.len);
        return;
    }
    case CHORD_MSG_SYNC_REPLY:
        if (r.kind == RPC_SYNC)
            chord__replica_answer(n, now, &r, m);
        return;
    case CHORD_MSG_TRANSFER_ACK: {
        if (r.kind == RPC_REPLICATE || r.kind == RPC_REPAIR) {
            chord__replica_answer(n, now, &r, m);
            return;
        }
        struct transfer *t = transfer_find(n, r.arg);
        if (r.kind == RPC_TRANSFER && t)
            transfer_acked(n, now, t);
        return;
    }
    case CHORD_MSG_LEAVE_ACK:
        if (r.kind == RPC_LEAVE && n->leave_acks_pending &&
            --n->leave_acks_pending == 0)
            leave_finish(n);
        return;
    default:
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* public entry points                                                      */

void chord_node_config_default(struct chord_node_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->successors = 8;
    cfg->stabilize_ms = 250;
    cfg->fix_fingers_ms = 100;
    cfg->rpc_timeout_ms = 1000;
    cfg->op_timeout_ms = 8000;
    cfg->hop_limit = 32;
    cfg->max_ops = 4096;
    cfg->replicas = 3;
    cfg->heartbeat_ms = 200;
    cfg->sync_ms = 1000;
    cfg->tombstone_ttl_ms = 600000;
    cfg->log_level = CHORD_LOG_INFO;
    cfg->seed = 1;
    cfg->owner_reads = true;
}

int chord_node_new(const struct chord_node_config *cfg,
                   const struct chord_node_io *io, uint64_t now,
                   struct chord_node **out)
{
    if (!cfg || !io || !io->send || !io->reply || cfg->self.addr[0] == '\0' ||
        cfg->successors < 1 || cfg->successors > CHORD_SUCC_MAX ||
        cfg->stabilize_ms == 0 || cfg->fix_fingers_ms == 0 ||
        cfg->rpc_timeout_ms == 0 || cfg->op_timeout_ms == 0 ||
        cfg->hop_limit == 0 || cfg->hop_limit >= CHORD_PATH_MAX ||
        cfg->max_ops == 0 || cfg->replicas == 0 ||
        cfg->replicas > cfg->successors + 1 || cfg->heartbeat_ms == 0 ||
        cfg->sync_ms == 0 || cfg->tombstone_ttl_ms == 0 ||
        memchr(cfg->self.addr, '\0', CHORD_ADDR_MAX) == NULL)
        return -EINVAL;
    struct chord_node *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->store = chord_store_new();
    if (!n->store) {
        free(n);
        return -ENOMEM;
    }
    n->cfg = *cfg;
    n->io = *io;
    n->state = CHORD_NODE_INIT;
    n->rng = cfg->seed ^ 0x5eed5eed5eedull;
    chord_routing_init(&n->rt, &cfg->self, cfg->successors);
    chord_seq_init(&n->rpcs, sizeof(struct rpc));
    chord_seq_init(&n->ops, sizeof(struct op));
    chord_seq_init(&n->fwds, sizeof(struct fwd));
    chord_seq_init(&n->writes, sizeof(struct pwrite));
    chord_seq_init(&n->reads, sizeof(struct pread));
    struct chord_fd_config fdc;
    chord_fd_config_default(&fdc);
    fdc.heartbeat_ms = cfg->heartbeat_ms;
    fdc.pause_ms = 2 * cfg->heartbeat_ms; /* we tick every heartbeat */
    chord_fd_init(&n->fd, &fdc);
    chord_buf_init(&n->rec);
    n->in = malloc(sizeof(*n->in));
    if (!n->in) {
        chord_store_free(n->store);
        free(n);
        return -ENOMEM;
    }
    n->next_stabilize = n->next_fix = UINT64_MAX;
    n->next_heartbeat = n->next_sync = n->next_gc = UINT64_MAX;
    n->join_retry_at = n->join_deadline = n->leave_deadline = UINT64_MAX;
    chord_buf_init(&n->out);
    n->now = now;
    *out = n;
    return 0;
}

void chord_node_free(struct chord_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->ops.len; i++) {
        struct op *o = chord_seq_at(&n->ops, i);
        if (o->h.live)
            op_free_buffers(o);
    }
    while (n->transfers) {
        struct transfer *t = n->transfers;
        n->transfers = t->next;
        transfer_free(t);
    }
    for (size_t i = 0; i < n->fwds.len; i++) {
        struct fwd *f = chord_seq_at(&n->fwds, i);
        if (f->h.live)
            fwd_free(f);
    }
    chord_seq_free(&n->fwds);
    free(n->rcache);
    chord__replica_free(n);
    chord_seq_free(&n->rpcs);
    chord_seq_free(&n->ops);
    chord_seq_free(&n->writes);
    chord_seq_free(&n->reads);
    chord_store_free(n->store);
    chord_buf_free(&n->out);
    chord_buf_free(&n->rec);
    free(n->in);
    free(n);
}

void chord_node_create(struct chord_node *n, uint64_t now)
{
    n->now = now;
    char a[9];
    chord_routing_set_successors(&n->rt, NULL, NULL, 0);
    n->rt.has_pred = false;
    become_active(n, now);
    chord__log(n, CHORD_LOG_INFO, "created a new ring as %s (%s)",
               n->rt.self.addr, chord__short_id(&n->rt.self.id, a));
}

int chord_node_join(struct chord_node *n, uint64_t now, const char *seed_addr)
{
    size_t len = strlen(seed_addr);
    if (len == 0 || len >= CHORD_ADDR_MAX)
        return -EINVAL;
    if (strcmp(seed_addr, n->rt.self.addr) == 0)
        return -EINVAL;
    memcpy(n->join_seed, seed_addr, len + 1);
    n->state = CHORD_NODE_JOINING;
    n->join_attempts = 0;
    chord__log(n, CHORD_LOG_INFO, "joining the ring through %s", seed_addr);
    join_attempt(n, now);
    /* The periodic timers start now; they act only once ACTIVE. */
    n->next_stabilize = now + n->cfg.stabilize_ms;
    n->next_fix = now + n->cfg.fix_fingers_ms;
    return 0;
}

void chord_node_leave(struct chord_node *n, uint64_t now)
{
    n->now = now;
    if (n->state == CHORD_NODE_LEAVING || n->state == CHORD_NODE_LEFT)
        return;
    if (n->state != CHORD_NODE_ACTIVE || n->rt.n_succ == 0) {
        if (n->state == CHORD_NODE_ACTIVE && chord_store_live(n->store))
            chord__log(n, CHORD_LOG_WARN,
                       "last node leaving: %zu keys go with it",
                       chord_store_live(n->store));
        leave_finish(n);
        return;
    }
    n->state = CHORD_NODE_LEAVING;
    n->leave_deadline = now + n->cfg.op_timeout_ms;
    chord__log(n, CHORD_LOG_INFO, "leaving: handing %zu keys to %s",
               chord_store_live(n->store), n->rt.succ[0].addr);
    struct chord_peer s = n->rt.succ[0];
    chord__transfer_start(n, now, &s, CHORD_TRANSFER_HANDOFF, XFER_HANDOFF,
                          want_all, NULL);
}

/*
 * Every entry point starts here. An active node is entered at least every
 * heartbeat period (its tick), and far more often when busy; a longer
 * silence means the process stalled (a pause, a frozen process), and its
 * successor may have suspected it and served its range meanwhile: the
 * owner's lease starts over (see replica.c).
 */
static void enter(struct chord_node *n, uint64_t now)
{
    if (n->last_entry_at &&
        now > n->last_entry_at + n->cfg.heartbeat_ms + LEASE_TICK_SLACK_MS)
        n->lease_range = false;
    if (now > n->last_entry_at)
        n->last_entry_at = now;
    n->now = now;
}

int chord_node_receive(struct chord_node *n, uint64_t now, uint64_t conn,
                       const uint8_t *frame, size_t len)
{
    enter(n, now);
    struct chord_msg *m = n->in; /* receive is not re-entered */
    m->status_out = NULL;
    ssize_t used = chord_msg_decode(frame, len, m);
    if (used != (ssize_t)len) {
        chord__log(n, CHORD_LOG_WARN,
                   "malformed frame of %zu bytes on connection %llu", len,
                   (unsigned long long)conn);
        return -EPROTO;
    }
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED) {
        return 0;
    }
    if (chord_msg_is_client_request(m->type)) {
        handle_client(n, now, conn, m);
        return 0;
    }
    if (m->type >= CHORD_MSG_C_PUT) {
        /* a reply type that only clients receive */
        chord__log(n, CHORD_LOG_WARN, "unexpected %s on connection %llu",
                   chord_msg_type_name(m->type), (unsigned long long)conn);
        return -EPROTO;
    }
    if (chord__is_self(n, &m->from) && m->type != CHORD_MSG_FIND_SUCC) {
        /* Only a lookup may come back to its origin; anything else
         * claiming to be from us is ignored. */
        return 0;
    }
    chord__log(n, CHORD_LOG_DEBUG, "%s from %s", chord_msg_type_name(m->type),
               m->from.addr);
    switch (m->type) {
    case CHORD_MSG_LEAVE:     /* it is going: forget it below */
    case CHORD_MSG_FIND_SUCC: /* `from` is the origin, maybe far away */
        break;
    case CHORD_MSG_PONG:
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_JOIN_ACK:
    case CHORD_MSG_STORE_RESULT:
    case CHORD_MSG_TRANSFER_ACK:
    case CHORD_MSG_LEAVE_ACK:
    case CHORD_MSG_SYNC_REPLY:
        mark_alive(n, m->from.addr); /* handle_answer tells the detector */
        break;
    default:
        mark_alive(n, m->from.addr); /* it spoke: it is not dead */
        fd_heard(n, m->from.addr, -1, now);
    }

    switch (m->type) {
    case CHORD_MSG_PING: {
        struct chord_msg *r = chord__msg(n, CHORD_MSG_PONG, m->req_id);
        if (r) {
            chord__send(n, m->from.addr, r);
            free(r);
        }
        break;
    }
    case CHORD_MSG_GET_NEIGHBORS: {
        struct chord_msg *r = chord__msg(n, CHORD_MSG_NEIGHBORS, m->req_id);
        if (r) {
            fill_neighbors(n, &r->nb);
            chord__send(n, m->from.addr, r);
            free(r);
        }
        break;
    }
    case CHORD_MSG_RECTIFY:
        handle_rectify(n, now, m);
        break;
    case CHORD_MSG_JOIN:
        handle_join(n, now, m);
        break;
    case CHORD_MSG_FIND_SUCC:
        if (n->state == CHORD_NODE_INIT ||
            (n->state == CHORD_NODE_JOINING && n->rt.n_succ == 0))
            break; /* cannot route yet; the origin will retry */
        lookup_step(n, now, &m->from, m->req_id, &m->target, m->hops,
                    m->lookup_flags, &m->path);
        break;
    case CHORD_MSG_FOUND_SUCC:
        found(n, now, m->req_id, m->status == CHORD_OK, &m->target, &m->owner,
              &m->range_lo, m->hops, &m->path);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
        handle_store(n, now, m);
        break;
    case CHORD_MSG_TRANSFER:
        handle_transfer(n, now, m);
        break;
    case CHORD_MSG_LEAVE:
        handle_leave(n, now, m);
        chord_fd_forget(&n->fd, m->from.addr);
        break;
    case CHORD_MSG_REPLICA_GET:
        chord__replica_handle_get(n, m);
        break;
    case CHORD_MSG_SYNC:
        if (n->state == CHORD_NODE_ACTIVE)
            chord__replica_handle_sync(n, now, m);
        break;
    default: /* PONG, NEIGHBORS, JOIN_ACK, STORE_RESULT, *_ACK, SYNC_REPLY */
        handle_answer(n, now, m);
        break;
    }
    return 0;
}

static void route_around(struct chord_node *n, uint64_t now, const char *addr);

void chord_node_persisted(struct chord_node *n, uint64_t now, uint64_t seq)
{
    enter(n, now);
    if (seq <= n->durable_seq)
        return;
    n->durable_seq = seq;
    chord__replica_persisted(n, now);
}

int chord_node_restore(struct chord_node *n, const uint8_t *rec, size_t len)
{
    struct chord_item it;
    if (chord_item_decode(rec, len, &it) != 0)
        return -EPROTO;
    if (it.version.counter > n->lamport)
        n->lamport = it.version.counter;
    int rc = chord_store_apply(n->store, &it);
    if (rc == 1 && it.tombstone)
        chord_store_set_stamp(n->store, it.key.data, it.key.len, n->now);
    return rc < 0 ? rc : 0;
}

void chord_node_unreachable(struct chord_node *n, uint64_t now,
                            const char *addr)
{
    enter(n, now);
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return;
    chord__log(n, CHORD_LOG_DEBUG, "%s is unreachable", addr);
    chord__mark_dead(n, addr, now);
    chord_fd_unreachable(&n->fd, addr, now);
    /* Fail every request in flight to that address, oldest first. */
    uint64_t last = n->rpcs.next_id; /* not those that failing starts */
    for (uint64_t id = n->rpcs.first_id; id < last; id++) {
        struct rpc *rp = chord_seq_find(&n->rpcs, id);
        if (!rp || strcmp(rp->peer.addr, addr) != 0)
            continue;
        struct rpc r = *rp;
        chord_seq_finish(&n->rpcs, rp);
        rpc_failed(n, now, &r, "unreachable");
        if (n->state == CHORD_NODE_FAILED)
            return;
    }
    /* Route around it from now on (the predecessor is only replaced by
     * rectify), and send the lookups it may have lost on another way. */
    route_around(n, now, addr);
    fwd_reroute(n, now, addr);
}

/* ------------------------------------------------------------------------ */
/* failure detection                                                        */

static bool addr_in(const char *addr, const struct chord_peer *set, unsigned k)
{
    for (unsigned i = 0; i < k; i++)
        if (strcmp(set[i].addr, addr) == 0)
            return true;
    return false;
}

/* Heartbeat the successor list and the predecessor. */
static void heartbeat_round(struct chord_node *n, uint64_t now)
{
    struct chord_peer set[CHORD_SUCC_MAX + 1];
    unsigned k = 0;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        set[k++] = n->rt.succ[i];
    if (n->rt.has_pred && !chord__is_self(n, &n->rt.pred) &&
        !addr_in(n->rt.pred.addr, set, k))
        set[k++] = n->rt.pred;
    for (unsigned i = 0; i < CHORD_FD_PEERS; i++) {
        const struct chord_fd_peer *p = &n->fd.peers[i];
        /* A suspect stays monitored until it is declared dead (or speaks),
         * so its death is noticed and repaired even after stabilize
         * dropped it from the successor list. */
        if (p->monitored && p->state == CHORD_PEER_ALIVE &&
            !addr_in(p->addr, set, k)) {
            char addr[CHORD_ADDR_MAX];
            memcpy(addr, p->addr, CHORD_ADDR_MAX);
            chord_fd_monitor(&n->fd, addr, false, now);
        }
    }
    struct chord_msg *m = chord__msg(n, CHORD_MSG_PING, 0);
    if (!m)
        return;
    for (unsigned i = 0; i < k; i++) {
        chord_fd_monitor(&n->fd, set[i].addr, true, now);
        chord_fd_sent(&n->fd, set[i].addr, now);
        chord__rpc(n, now, RPC_HEARTBEAT, &set[i], 0, m);
    }
    free(m);
}

/* Drop a peer from routing: successor list and fingers (the predecessor
 * stays until rectify replaces it). */
static void route_around(struct chord_node *n, uint64_t now, const char *addr)
{
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (strcmp(n->rt.succ[i].addr, addr) == 0) {
            struct chord_id id = n->rt.succ[i].id;
            if (i == 0 && n->state == CHORD_NODE_ACTIVE)
                n->next_stabilize = now;
            chord_routing_remove(&n->rt, &id);
            return;
        }
    for (unsigned i = 0; i < CHORD_ID_BITS; i++)
        if (n->rt.finger[i].set &&
            strcmp(n->rt.finger[i].node.addr, addr) == 0) {
            struct chord_id id = n->rt.finger[i].node.id;
            chord_routing_remove(&n->rt, &id);
            return;
        }
}

static void fd_round(struct chord_node *n, uint64_t now)
{
    struct chord_fd_event ev[16];
    int k = chord_fd_tick(&n->fd, now, ev, 16);
    if (k < 0) {
        chord__log(n, CHORD_LOG_WARN,
                   "this node was stalled: no peer is suspected for the "
                   "silence it caused");
        return;
    }
    for (int i = 0; i < k; i++) {
        const struct chord_fd_peer *p = chord_fd_find(&n->fd, ev[i].addr);
        if (ev[i].state == CHORD_PEER_SUSPECTED) {
            chord__log(n, CHORD_LOG_WARN,
                       "suspecting %s: no answer within %u ms", ev[i].addr,
                       p ? chord_fd_timeout(&n->fd, p) : 0);
            if (n->rt.n_succ && strcmp(n->rt.succ[0].addr, ev[i].addr) == 0) {
                /* Abandon a round waiting on it; start from the next. */
                n->stab_rpc = 0;
                n->next_stabilize = now;
            }
            fwd_reroute(n, now, ev[i].addr);
        } else if (ev[i].state == CHORD_PEER_DEAD) {
            chord__log(n, CHORD_LOG_WARN, "%s is dead: routing around it",
                       ev[i].addr);
            chord__mark_dead(n, ev[i].addr, now);
            route_around(n, now, ev[i].addr);
            fwd_reroute(n, now, ev[i].addr);
        }
    }
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t chord_node_next_deadline(const struct chord_node *n)
{
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return UINT64_MAX;
    uint64_t t = UINT64_MAX;
    if (n->state == CHORD_NODE_ACTIVE) {
        t = min64(t, n->next_stabilize);
        t = min64(t, n->next_fix);
    }
    if (n->state == CHORD_NODE_ACTIVE || n->state == CHORD_NODE_LEAVING) {
        t = min64(t, n->next_heartbeat);
        t = min64(t, chord_fd_next_deadline(&n->fd));
    }
    t = min64(t, chord__replica_deadline(n));
    t = min64(t, n->join_retry_at);
    t = min64(t, n->join_deadline);
    t = min64(t, n->leave_deadline);
    /* The heads of the two queues expire first (one timeout each). */
    const struct rpc *r = chord_seq_peek(&n->rpcs);
    if (r)
        t = min64(t, r->deadline);
    const struct op *o = chord_seq_peek(&n->ops);
    if (o)
        t = min64(t, o->deadline);
    if (n->op_waiting) {
        for (size_t i = 0; i < n->ops.len; i++) {
            const struct op *w = chord_seq_at_const(&n->ops, i);
            if (w->h.live && w->state == OP_WAIT)
                t = min64(t, w->retry_at);
        }
    }
    return t;
}

void chord_node_tick(struct chord_node *n, uint64_t now)
{
    enter(n, now);
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return;

    /* Requests that timed out. */
    struct rpc *rp;
    while ((rp = chord_seq_head(&n->rpcs)) != NULL && rp->deadline <= now) {
        struct rpc r = *rp;
        chord_seq_finish(&n->rpcs, rp);
        /* A peer asked directly for data that did not answer is avoided
         * for a while; probes (stabilize candidates) are simply retried
         * later, and lookups do not say which hop failed. */
        if (r.kind == RPC_STORE || r.kind == RPC_JOIN)
            chord__mark_dead(n, r.peer.addr, now);
        rpc_failed(n, now, &r, "timed out");
        if (n->state == CHORD_NODE_FAILED)
            return;
    }

    /* Client operations past their deadline, then those due a retry. */
    struct op *o;
    while ((o = chord_seq_head(&n->ops)) != NULL && o->deadline <= now) {
        char why[200];
        snprintf(why, sizeof(why),
                 "no answer from the ring within %u ms (%u attempts; last: %s)",
                 n->cfg.op_timeout_ms, o->attempts,
                 o->last_error[0] ? o->last_error : "no reply");
        op_reply(n, o, CHORD_UNAVAILABLE, why, NULL, 0);
    }
    if (n->op_waiting) {
        uint64_t last = n->ops.next_id;
        for (uint64_t id = n->ops.first_id; id < last; id++) {
            struct op *w = chord_seq_find(&n->ops, id);
            if (w && w->state == OP_WAIT && w->retry_at <= now)
                op_start(n, now, w); /* may finish w; never adds ops */
        }
    }

    fwd_expire(n, now);
    chord__replica_tick(n, now);
    if (n->state == CHORD_NODE_ACTIVE || n->state == CHORD_NODE_LEAVING) {
        if (n->next_heartbeat <= now) {
            n->next_heartbeat = now + n->cfg.heartbeat_ms;
            heartbeat_round(n, now);
        }
        fd_round(n, now);
    }

    switch (n->state) {
    case CHORD_NODE_JOINING:
        if (n->join_retry_at <= now)
            join_attempt(n, now);
        else if (n->join_deadline <= now) {
            n->join_deadline = UINT64_MAX;
            chord__log(n, CHORD_LOG_WARN,
                       "keys from %s did not arrive: joining again",
                       n->join_succ.addr);
            join_attempt(n, now);
        }
        break;
    case CHORD_NODE_ACTIVE:
        if (n->next_stabilize <= now) {
            n->next_stabilize = now + chord__jitter(n, n->cfg.stabilize_ms);
            stabilize_start(n, now);
        }
        if (n->next_fix <= now) {
            n->next_fix = now + chord__jitter(n, n->cfg.fix_fingers_ms);
            if (!n->finger_pending) {
                unsigned i = n->next_finger;
                struct chord_id start = n->rt.finger[i].start;
                uint64_t rid =
                    chord__lookup_begin(n, now, RPC_LOOKUP_FINGER, i);
                if (rid) {
                    n->finger_pending = true;
                    chord__lookup_run(n, now, rid, &start, 0);
                }
            }
        }
        break;
    case CHORD_NODE_LEAVING:
        if (n->leave_deadline <= now) {
            chord__log(n, CHORD_LOG_WARN,
                       "leave did not finish in %u ms: leaving anyway",
                       n->cfg.op_timeout_ms);
            leave_finish(n);
        }
        break;
    default:
        break;
    }
}

enum chord_node_state chord_node_state(const struct chord_node *n)
{
    return n->state;
}

const struct chord_peer *chord_node_self(const struct chord_node *n)
{
    return &n->rt.self;
}

size_t chord_node_key_count(const struct chord_node *n)
{
    return chord_store_live(n->store);
}

const struct chord_routing *chord_node_routing(const struct chord_node *n)
{
    return &n->rt;
}

const struct chord_store *chord_node_store(const struct chord_node *n)
{
    return n->store;
}

void chord_node_status(const struct chord_node *n, struct chord_status *st)
{
    memset(st, 0, sizeof(*st));
    st->self = n->rt.self;
    st->state = (uint8_t)n->state;
    st->has_pred = n->rt.has_pred;
    if (n->rt.has_pred)
        st->pred = n->rt.pred;
    st->n_succ = (uint8_t)n->rt.n_succ;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        st->succ[i] = n->rt.succ[i];
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        if (!n->rt.finger[i].set)
            continue;
        st->fingers[st->n_fingers].start = n->rt.finger[i].start;
        st->fingers[st->n_fingers].node = n->rt.finger[i].node;
        st->n_fingers++;
    }
    st->keys = chord_store_live(n->store);
    st->replicas = (uint8_t)n->cfg.replicas;
    st->durability = n->cfg.durability;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur)) != NULL)
        if (!e->tombstone && chord_routing_owns(&n->rt, &e->key_id))
            st->primary_keys++;
    /* Every peer the failure detector monitors (successors, predecessor). */
    for (unsigned i = 0; i < CHORD_FD_PEERS && st->n_peers < CHORD_PEERS_MAX;
         i++) {
        const struct chord_fd_peer *p = &n->fd.peers[i];
        if (!p->monitored)
            continue;
        struct chord_peer_info *pi = &st->peers[st->n_peers++];
        memset(pi, 0, sizeof(*pi));
        memcpy(pi->addr, p->addr, CHORD_ADDR_MAX);
        pi->state = p->state;
        pi->rtt_ms = p->rtt_known ? (uint32_t)(p->srtt_ms + 0.5) : 0;
        pi->timeout_ms = chord_fd_timeout(&n->fd, p);
        pi->false_suspicions = p->false_suspicions;
    }
}
