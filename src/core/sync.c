/*
 * sync.c - anti-entropy, orphans and tombstone collection (see sync.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/sync.h"

#include <stdlib.h>
#include <string.h>

#include "core/dvv.h"
#include "core/keystate.h"
#include "core/lookup.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/read_lease.h"
#include "core/transfer.h"

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
    h = mix64(h ^ e->deadline);
    if (e->state) /* a state blob: equal states encode equally */
        h = mix64(h ^ chord__state_hash(e->state, e->state_len));
    return mix64(h ^ (e->tombstone ? 0x7f4a7c15ull : 0));
}

static void range_digest(const struct chord_node *n, const struct chord_id *lo,
                         const struct chord_id *hi,
                         uint64_t out[CHORD_SYNC_BUCKETS])
{
    struct chord_store_entry ev;
    memset(out, 0, sizeof(uint64_t) * CHORD_SYNC_BUCKETS);
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL)
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
    n->metrics.sync_rounds++;
    free(m);
}

static void sync_start(struct chord_node *n, uint64_t now)
{
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned r = chord__replica_factor(n);
    unsigned nt = chord__replica_targets(n, now, targets, r - 1);
    if (nt == 0)
        return;
    sync_send(n, now, &targets[n->sync.rr++ % nt]);
}

/* While the lease waits on replicas, ask them all at once rather than
 * one per sync period: a node that lost its lease (a stall, a new
 * predecessor) gets it back in milliseconds when nothing differs. */
static void lease_catch_up(struct chord_node *n, uint64_t now)
{
    struct chord_peer ask[CHORD_SUCC_MAX];
    unsigned k = chord__lease_due(n, now, ask);
    for (unsigned i = 0; i < k; i++)
        sync_send(n, now, &ask[i]);
}

void chord__sync_handle(struct chord_node *n, uint64_t now,
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
                              XFER_SYNC, want_buckets, &c, NULL);
}

/* Keys we no longer replicate that lie in the range ctx (struct
 * chord_range: one owner's). */
static bool want_orphan(struct chord_node *n, const struct chord_store_entry *e,
                        const void *ctx)
{
    const struct chord_range *r = ctx;
    return !chord__replica_holds(n, &e->key_id) &&
           chord_id_in_oc(&e->key_id, &r->lo, &r->hi);
}

static void orphan_owner(struct chord_node *n, uint64_t now, bool ok,
                         const struct chord_peer *owner,
                         const struct chord_id *lo);

/* An orphan lookup found the owner. */
static void orphan_found(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_found *f)
{
    (void)r;
    orphan_owner(n, now, f->ok, &f->owner, &f->lo);
}

static void orphan_check(struct chord_node *n, uint64_t now)
{
    struct chord_store_entry ev;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL) {
        if (chord__replica_holds(n, &e->key_id))
            continue;
        uint64_t id =
            chord__lookup_begin(n, now, RPC_LOOKUP_ORPHAN, 0, orphan_found);
        if (!id)
            return;
        n->sync.orphan_busy = true;
        struct chord_id target = e->key_id;
        chord__lookup_run(n, now, id, &target, 0);
        return;
    }
}

/* The orphans of one owner's range were sent: look at the next range in
 * the next sync period rather than CHORD_ORPHAN_EVERY periods later. */
static void orphan_sent(struct chord_node *n, uint64_t now, bool ok)
{
    (void)now;
    n->sync.orphan_busy = false;
    if (ok)
        n->sync.rounds = CHORD_ORPHAN_EVERY - 1;
}

static void orphan_owner(struct chord_node *n, uint64_t now, bool ok,
                         const struct chord_peer *owner,
                         const struct chord_id *lo)
{
    n->sync.orphan_busy = false;
    if (!ok || chord__is_self(n, owner))
        return;
    n->sync.orphan_busy = true;
    /* Only the owner's own range: the rest goes to its own owners, not
     * through this one (which would keep what its view says it holds). */
    struct chord_range range = {*lo, owner->id};
    chord__transfer_start(n, now, owner, CHORD_TRANSFER_REPLICA, XFER_ORPHAN,
                          want_orphan, &range, orphan_sent);
}

/* Might entry e hold a value past its deadline at wall? (A state blob
 * is looked at closely by collect_expired.) */
static bool may_have_expired(const struct chord_store_entry *e, uint64_t wall)
{
    return e->state || (e->deadline && e->deadline <= wall && !e->tombstone);
}

/* Turn the values past their TTL into tombstones (no log record: a node
 * replaying its log collects them again). Each replica does it by its own
 * clock, so the expiry reaches every copy without a message. */
static void collect_expired(struct chord_node *n, uint64_t now)
{
    uint64_t wall = chord__wall(n, now);
    struct chord_store_entry ev;
    struct chord_dvv *d = malloc(2 * sizeof *d);
    if (!d)
        return;
    size_t cur = 0, done = 0;
    const struct chord_store_entry *e;
    struct chord_buf scratch;
    chord_buf_init(&scratch);
    /* A change reorders nothing but may move the cursor's entry: restart
     * from the position of the entry changed (a bounded walk). */
    for (size_t steps = 0; steps < 4 * chord_store_size(n->store) + 16;
         steps++) {
        size_t at = cur;
        if (!(e = chord_store_next(n->store, &cur, &ev)))
            break;
        if (!may_have_expired(e, wall))
            continue;
        struct chord_item it = {0};
        chord_store_entry_item(e, &it);
        if (chord_dvv_from_item(&it, d) != 0)
            continue;
        d[1] = d[0];
        if (chord_dvv_collect(d + 1, wall) == 0)
            continue;
        chord_buf_reset(&scratch);
        struct chord_item out = {0};
        out.key = it.key;
        out.has_fence = it.has_fence;
        out.fence_name = it.fence_name;
        out.fence = it.fence;
        if (chord_dvv_to_item(d + 1, &scratch, &out) != 0)
            continue;
        /* The key's bytes live in the record the apply replaces. */
        uint8_t key[CHORD_KEY_MAX];
        memcpy(key, it.key.data, it.key.len);
        out.key.data = key;
        if (chord_store_apply(n->store, &out) == 1) {
            done++;
            if (out.tombstone)
                chord_store_set_stamp(n->store, key, out.key.len, now);
            cur = at; /* look at that slot again */
        }
    }
    chord_buf_free(&scratch);
    free(d);
    if (done)
        chord__log(n, CHORD_LOG_DEBUG, "collected %zu expired values", done);
}

static void collect_tombstones(struct chord_node *n, uint64_t now)
{
    struct chord_store_entry ev;
    /* Collect the keys first: removal reorders the store. */
    size_t cur = 0, k = 0, cap = 0;
    uint8_t **keys = NULL;
    size_t *lens = NULL;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL) {
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

void chord__sync_init(struct chord_sync *s)
{
    memset(s, 0, sizeof(*s));
    s->next_sync = s->next_gc = UINT64_MAX;
}

void chord__sync_activate(struct chord_node *n, uint64_t now)
{
    n->sync.next_sync = now + chord__jitter(n, n->cfg.sync_ms);
    n->sync.next_gc = now + n->cfg.tombstone_ttl_ms / 4 + 1;
}

void chord__sync_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const struct chord_msg *m)
{
    if (r->kind == RPC_LOOKUP_ORPHAN) { /* only failures come here */
        orphan_owner(n, now, false, NULL, NULL);
        return;
    }
    if (!m || m->type != CHORD_MSG_SYNC_REPLY)
        return;
    chord__lease_synced(n, now, r, m->bucket_mask);
    if (m->bucket_mask) {
        n->metrics.sync_diverged++;
        struct sync_ctx c;
        c.hi = n->rt.self.id;
        c.lo = n->rt.has_pred ? n->rt.pred.id : n->rt.self.id;
        c.mask = m->bucket_mask;
        chord__transfer_start(n, now, &r->peer, CHORD_TRANSFER_REPLICA,
                              XFER_SYNC, want_buckets, &c, NULL);
    }
}

void chord__sync_tick(struct chord_node *n, uint64_t now)
{
    if (n->state != CHORD_NODE_ACTIVE)
        return;
    lease_catch_up(n, now);
    if (n->sync.next_sync <= now) {
        n->sync.next_sync = now + chord__jitter(n, n->cfg.sync_ms);
        if (n->cfg.replicas > 1)
            sync_start(n, now);
        collect_expired(n, now);
        if (++n->sync.rounds >= CHORD_ORPHAN_EVERY && !n->sync.orphan_busy) {
            n->sync.rounds = 0;
            orphan_check(n, now);
        }
    }
    if (n->sync.next_gc <= now) {
        n->sync.next_gc = now + n->cfg.tombstone_ttl_ms / 4 + 1;
        collect_tombstones(n, now);
    }
}

uint64_t chord__sync_deadline(const struct chord_node *n)
{
    if (n->state != CHORD_NODE_ACTIVE)
        return UINT64_MAX;
    return n->sync.next_sync < n->sync.next_gc ? n->sync.next_sync
                                               : n->sync.next_gc;
}
