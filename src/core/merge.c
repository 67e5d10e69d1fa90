/*
 * merge.c - finding peers again and merging rings (see merge.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/merge.h"

#include <stdlib.h>
#include <string.h>

#include "core/lookup.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/ring.h"

void chord__merge_init(struct chord_merge *m)
{
    memset(m, 0, sizeof(*m));
}

void chord__merge_free(struct chord_merge *m)
{
    free(m->peers);
    m->peers = NULL;
    m->cap = 0;
    free(m->seen);
    m->seen = NULL;
}

#define MERGE_GROW 4u /* slots added at a time */

static struct merge_peer *find(struct chord_node *n, const char *addr)
{
    for (unsigned i = 0; i < n->merge.cap; i++)
        if (n->merge.peers[i].addr[0] &&
            strcmp(n->merge.peers[i].addr, addr) == 0)
            return &n->merge.peers[i];
    return NULL;
}

static void forget(struct merge_peer *p)
{
    memset(p, 0, sizeof(*p));
}

void chord__merge_remember(struct chord_node *n, uint64_t now, const char *addr)
{
    if (!addr[0] || strnlen(addr, CHORD_ADDR_MAX) >= CHORD_ADDR_MAX ||
        strcmp(addr, n->rt.self.addr) == 0)
        return;
    struct merge_peer *p = find(n, addr);
    if (p)
        return; /* already looked for: keep its back-off */
    /* A free slot, else a new one, else the one heard from longest ago
     * (the slots are numbered as in a table of CHORD_MERGE_PEERS). */
    for (unsigned i = 0; i < n->merge.cap; i++) {
        struct merge_peer *q = &n->merge.peers[i];
        if (!q->addr[0]) {
            p = q;
            break;
        }
        if (!p || q->heard < p->heard)
            p = q;
    }
    if ((!p || p->addr[0]) && n->merge.cap < CHORD_MERGE_PEERS) {
        unsigned cap = n->merge.cap + MERGE_GROW;
        if (cap > CHORD_MERGE_PEERS)
            cap = CHORD_MERGE_PEERS;
        struct merge_peer *np = realloc(n->merge.peers, cap * sizeof(*np));
        if (!np)
            return; /* best effort, like a full table */
        memset(np + n->merge.cap, 0, (cap - n->merge.cap) * sizeof(*np));
        p = &np[n->merge.cap];
        n->merge.peers = np;
        n->merge.cap = cap;
    }
    if (!p)
        return;
    forget(p);
    chord__addr_copy(p->addr, addr);
    p->heard = now;
    p->backoff_ms = CHORD_MERGE_PROBE_MS;
    p->next_probe = now + CHORD_MERGE_PROBE_MS;
}

size_t chord__merge_known(const struct chord_node *n,
                          char (*out)[CHORD_ADDR_MAX], size_t have, size_t max)
{
    for (unsigned i = 0; i < n->merge.cap && have < max; i++) {
        const char *a = n->merge.peers[i].addr;
        bool dup = !a[0];
        for (size_t k = 0; k < have && !dup; k++)
            dup = strcmp(out[k], a) == 0;
        if (!dup)
            chord__addr_copy(out[have++], a);
    }
    return have;
}

/* ------------------------------------------------------------------------ */
/* waves                                                                    */

/* Has this node handled the wave (origin, id)? Records it if not.
 * Without memory to record it, it counts as seen (not handled). */
static bool wave_seen(struct chord_node *n, const struct chord_id *origin,
                      uint64_t id)
{
    struct chord_merge *m = &n->merge;
    if (!m->seen) {
        m->seen = calloc(CHORD_MERGE_WAVES_SEEN, sizeof(m->seen[0]));
        if (!m->seen)
            return true;
    }
    for (unsigned i = 0; i < CHORD_MERGE_WAVES_SEEN; i++)
        if (m->seen[i].id == id && chord_id_eq(&m->seen[i].origin, origin))
            return true;
    m->seen[m->seen_next].origin = *origin;
    m->seen[m->seen_next].id = id;
    m->seen_next = (m->seen_next + 1) % CHORD_MERGE_WAVES_SEEN;
    return false;
}

/* The other ring named our successor there. */
static void step_found(struct chord_node *n, uint64_t now, const struct rpc *r,
                       const struct chord_found *f)
{
    (void)r;
    if (!f->ok || chord__is_self(n, &f->owner))
        return;
    chord__ring_offer(n, now, &f->owner);
}

/* This node's part of a wave: ask the other ring, through `contact`, who
 * our successor is there. */
static void merge_step(struct chord_node *n, uint64_t now,
                       const struct chord_peer *contact)
{
    if (chord__is_self(n, contact) ||
        (n->merge.last_step && now < n->merge.last_step + CHORD_MERGE_STEP_MS))
        return;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_FIND_SUCC, 0);
    if (!m)
        return;
    chord_id_add_pow2(&m->target, &n->rt.self.id, 0);
    m->lookup_flags = CHORD_LOOKUP_TO_OWNER; /* the owner answers: alive */
    uint64_t id =
        chord__rpc_record(n, now, RPC_MERGE_LOOKUP, contact, 0, step_found);
    if (id) {
        n->merge.last_step = now;
        m->req_id = id;
        chord__send(n, contact->addr, m);
    }
    free(m);
}

/* Pass the wave to our successor. */
static void wave_forward(struct chord_node *n, const struct chord_id *origin_id,
                         const struct chord_peer *origin, uint64_t wave,
                         const struct chord_peer *contact, uint8_t hops)
{
    if (hops >= CHORD_MERGE_WAVE_HOPS || n->rt.n_succ == 0)
        return;
    const struct chord_peer *s = chord__live_succ(n, n->now);
    if (chord_id_eq(&s->id, origin_id) || chord__is_self(n, s))
        return; /* round the ring */
    struct chord_msg *m = chord__msg(n, CHORD_MSG_MERGE, wave);
    if (!m)
        return;
    m->from = *origin;
    m->owner = *contact;
    m->hops = (uint8_t)(hops + 1);
    chord__send(n, s->addr, m);
    free(m);
}

/* q answered but is not on our ring: merge. */
static void wave_start(struct chord_node *n, uint64_t now,
                       const struct chord_peer *q)
{
    char a[9];
    chord__log(n, CHORD_LOG_INFO,
               "%s (%s) is alive on another ring: merging the rings", q->addr,
               chord__short_id(&q->id, a));
    uint64_t wave = ++n->merge.next_wave;
    wave_seen(n, &n->rt.self.id, wave);
    merge_step(n, now, q);
    wave_forward(n, &n->rt.self.id, &n->rt.self, wave, q, 0);
}

void chord__merge_handle(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m)
{
    if (n->state != CHORD_NODE_ACTIVE || wave_seen(n, &m->from.id, m->req_id))
        return;
    if (!chord__is_self(n, &m->owner))
        merge_step(n, now, &m->owner);
    wave_forward(n, &m->from.id, &m->from, m->req_id, &m->owner, m->hops);
}

/* ------------------------------------------------------------------------ */
/* probes                                                                   */

/* Is the probed peer (slot r->arg) on our ring? The lookup of its id in
 * our ring ended. */
static void check_found(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const struct chord_found *f)
{
    if (r->arg >= n->merge.cap)
        return;
    struct merge_peer *p = &n->merge.peers[r->arg];
    struct chord_peer q;
    if (p->rpc != r->h.id || chord_peer_from_addr(&q, p->addr) != 0)
        return; /* forgotten or replaced meanwhile */
    p->rpc = 0;
    if (!f->ok)
        return; /* try again at its next probe */
    if (chord__peer_same(&f->owner, &q)) {
        forget(p); /* on our ring: found */
        return;
    }
    wave_start(n, now, &q);
}

static void probe(struct chord_node *n, uint64_t now, struct merge_peer *p)
{
    struct chord_peer to;
    if (chord_peer_from_addr(&to, p->addr) != 0) {
        forget(p);
        return;
    }
    struct chord_msg *m = chord__msg(n, CHORD_MSG_PING, 0);
    if (!m)
        return;
    p->rpc = chord__rpc(n, now, RPC_MERGE_PROBE, &to, 0, m);
    free(m);
}

void chord__merge_answer(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_msg *m)
{
    if (r->kind == RPC_MERGE_LOOKUP)
        return; /* failed: the next wave or probe asks again */
    if (r->kind == RPC_MERGE_CHECK) { /* failed: its next probe asks again */
        if (r->arg < n->merge.cap && n->merge.peers[r->arg].rpc == r->h.id)
            n->merge.peers[r->arg].rpc = 0;
        return;
    }
    struct merge_peer *p = find(n, r->peer.addr);
    if (!p || p->rpc != r->h.id)
        return;
    p->rpc = 0;
    if (!m)
        return; /* silent: its back-off was set when it was probed */
    /* It answered: is it on our ring? Ask our ring who owns its id. */
    p->heard = now;
    p->backoff_ms = CHORD_MERGE_PROBE_MS;
    uint64_t slot = (uint64_t)(p - n->merge.peers);
    uint64_t id =
        chord__lookup_begin(n, now, RPC_MERGE_CHECK, slot, check_found);
    if (!id)
        return;
    p->rpc = id;
    chord__lookup_run(n, now, id, &r->peer.id, CHORD_LOOKUP_TO_OWNER);
}

/* Remember the peers the failure detector holds dead. */
static void scan_dead(struct chord_node *n, uint64_t now)
{
    for (unsigned i = 0; i < n->fd.n_slots; i++) {
        const struct chord_fd_peer *fp = &n->fd.peers[i];
        if (fp->addr[0] && fp->state == CHORD_PEER_DEAD)
            chord__merge_remember(n, now, fp->addr);
    }
}

void chord__merge_tick(struct chord_node *n, uint64_t now)
{
    if (n->state != CHORD_NODE_ACTIVE)
        return;
    if (now >= n->merge.next_scan) {
        n->merge.next_scan = now + CHORD_MERGE_PROBE_MS;
        scan_dead(n, now);
    }
    for (unsigned i = 0; i < n->merge.cap; i++) {
        struct merge_peer *p = &n->merge.peers[i];
        if (!p->addr[0] || p->next_probe > now)
            continue;
        if (now > p->heard + CHORD_MERGE_FORGET_MS) {
            forget(p);
            continue;
        }
        const struct chord_fd_peer *fp = chord_fd_find(&n->fd, p->addr);
        if (fp && fp->dead_until > now) {
            p->next_probe = fp->dead_until; /* nothing goes to it before */
            continue;
        }
        if (p->rpc) /* still waiting: an answer resets the pace */
            p->rpc = 0;
        p->next_probe = now + chord__jitter(n, p->backoff_ms);
        uint64_t silent = now - p->heard;
        uint32_t cap = silent < 60000    ? CHORD_MERGE_CAP_SHORT_MS
                       : silent < 600000 ? CHORD_MERGE_CAP_MID_MS
                                         : CHORD_MERGE_CAP_LONG_MS;
        p->backoff_ms = p->backoff_ms * 2 < cap ? p->backoff_ms * 2 : cap;
        probe(n, now, p);
    }
}

uint64_t chord__merge_deadline(const struct chord_node *n)
{
    if (n->state != CHORD_NODE_ACTIVE)
        return UINT64_MAX;
    uint64_t t = n->merge.next_scan;
    for (unsigned i = 0; i < n->merge.cap; i++)
        if (n->merge.peers[i].addr[0] && n->merge.peers[i].next_probe < t)
            t = n->merge.peers[i].next_probe;
    return t;
}
