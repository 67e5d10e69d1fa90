/*
 * lookup.c - recursive lookups, forwarded-lookup memory and proximity
 * routing (see lookup.h).
 *
 * Proximity routing (cfg.pns). Finger i may be any node of its interval
 * [start(i), start(i+1)): every one of them halves the remaining distance
 * alike. Each time fix_fingers refreshes finger i it asks the node found
 * (the interval's first) for its successors, measures the round trip to
 * up to CHORD_PNS_CANDIDATES of them that lie in the interval, and keeps
 * the nearest. A lookup then goes, among the fingers and successors that
 * precede the target, to the one with the most progress per millisecond:
 * bits of distance to the target removed, divided by the round trip
 * (unknown round trips count as the largest known one, so without
 * measurements this is plain Chord routing).
 *
 * Pure: no I/O, no clock.
 */
#include "core/lookup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/node_internal.h"
#include "core/placement.h"

void chord__lookups_init(struct chord_lookups *l)
{
    memset(l, 0, sizeof(*l));
    for (int k = 0; k < 2; k++)
        chord_seq_init(&l->fwds[k], sizeof(struct fwd));
}

static void fwd_free(struct fwd *f)
{
    free(f->addrs);
    f->addrs = NULL;
}

/* FNV-1a of an address, compared before the address itself. */
static uint32_t fwd_hash(const char *addr)
{
    uint32_t h = 2166136261u;
    for (; *addr; addr++)
        h = (h ^ (uint8_t)*addr) * 16777619u;
    return h;
}

/* Copy a packed address (shorter than CHORD_ADDR_MAX) out, zero-padded. */
static void fwd_addr_out(char dst[CHORD_ADDR_MAX], const char *src)
{
    size_t l = strlen(src);
    memcpy(dst, src, l);
    memset(dst + l, 0, CHORD_ADDR_MAX - l);
}

/* The string after s in a packed block. */
static const char *fwd_next_str(const char *s)
{
    return s + strlen(s) + 1;
}

void chord__lookups_free(struct chord_lookups *l)
{
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < l->fwds[k].len; i++) {
            struct fwd *f = chord_seq_at(&l->fwds[k], i);
            if (f->h.live)
                fwd_free(f);
        }
        chord_seq_free(&l->fwds[k]);
    }
    free(l->finger_rtt);
    l->finger_rtt = NULL;
}

void chord__path_copy(struct chord_lookup_path *dst,
                      const struct chord_lookup_path *src)
{
    dst->n = src->n;
    memcpy(dst->addr, src->addr, (size_t)src->n * CHORD_ADDR_MAX);
}

/* ------------------------------------------------------------------------ */
/* proximity routing                                                        */

/* Is id in finger i's interval [start(i), start(i+1)) (start(160) being
 * ourselves)? */
static bool in_finger_interval(const struct chord_node *n, unsigned i,
                               const struct chord_id *id)
{
    struct chord_id a, end;
    chord_routing_finger_start(&n->rt, i, &a);
    if (i + 1 < CHORD_ID_BITS)
        chord_routing_finger_start(&n->rt, i + 1, &end);
    else
        end = n->rt.self.id;
    return chord_id_eq(id, &a) || chord_id_in_oo(id, &a, &end);
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

/* The measured round trip to finger i's node (0: not measured). */
static uint32_t finger_rtt(const struct chord_node *n, unsigned i)
{
    return n->lookup.finger_rtt ? n->lookup.finger_rtt[i] : 0;
}

/* Note finger i's round trip (0: forget it); false without memory. */
static bool set_finger_rtt(struct chord_node *n, unsigned i, uint32_t ms)
{
    if (!n->lookup.finger_rtt) {
        if (!ms)
            return true;
        n->lookup.finger_rtt = calloc(CHORD_ID_BITS, sizeof(uint32_t));
        if (!n->lookup.finger_rtt)
            return false;
    }
    n->lookup.finger_rtt[i] = ms;
    return true;
}

/* A measured round trip to candidate c of finger i: keep the nearest. */
static void pns_offer(struct chord_node *n, unsigned i,
                      const struct chord_peer *c, uint64_t rtt, uint64_t now)
{
    if (i >= CHORD_ID_BITS || !in_finger_interval(n, i, &c->id) ||
        chord__is_self(n, c) || !chord__usable(n, c->addr, now))
        return;
    uint32_t ms = rtt < 1 ? 1 : rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
    const struct chord_peer *f = chord_routing_finger(&n->rt, i);
    bool same = f && chord__peer_same(f, c);
    if (f && !same && in_finger_interval(n, i, &f->id) && finger_rtt(n, i) &&
        finger_rtt(n, i) <= ms)
        return;
    if (!set_finger_rtt(n, i, ms))
        return; /* without memory, the finger it has */
    chord_routing_set_finger(&n->rt, i, c);
}

static void pns_neighbors(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const struct chord_msg *m)
{
    unsigned i = (unsigned)r->arg;
    if (i >= CHORD_ID_BITS)
        return;
    pns_offer(n, i, &m->from, now - r->sent_at, now);
    unsigned probes = 1;
    for (unsigned k = 0; k < m->nb.n_succ && probes < CHORD_PNS_CANDIDATES;
         k++) {
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

void chord__pns_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                       const struct chord_msg *m)
{
    /* A candidate that does not answer is simply not kept. */
    if (!m || n->state != CHORD_NODE_ACTIVE)
        return;
    if (r->kind == RPC_PNS_NB && m->type == CHORD_MSG_NEIGHBORS)
        pns_neighbors(n, now, r, m);
    else if (r->kind == RPC_PNS_PROBE && m->type == CHORD_MSG_PONG)
        pns_offer(n, (unsigned)r->arg, &r->peer, now - r->sent_at, now);
}

unsigned chord__pns_finger_found(struct chord_node *n, uint64_t now, unsigned i,
                                 const struct chord_peer *owner)
{
    const struct chord_peer *f = chord_routing_finger(&n->rt, i);
    if (chord__is_self(n, owner) || !in_finger_interval(n, i, &owner->id)) {
        /* The interval is empty: the finger is the next node, as usual. */
        unsigned next = chord_routing_set_finger(&n->rt, i, owner);
        for (unsigned k = i; k < next && k < CHORD_ID_BITS; k++)
            set_finger_rtt(n, k, 0);
        return next;
    }
    if (!(f && in_finger_interval(n, i, &f->id) &&
          chord__usable(n, f->addr, now))) {
        chord_routing_set_finger(&n->rt, i, owner);
        set_finger_rtt(n, i, 0);
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
            p = chord_routing_finger(&n->rt, i);
            ms = finger_rtt(n, i);
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

/* ------------------------------------------------------------------------ */
/* routing steps                                                            */

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

/*
 * Which queue remembers a lookup forwarded to `next`, and for how long:
 * as long as this node could take to learn that `next` failed. A peer the
 * detector monitors is suspected some time after a crash (heartbeat +
 * its timeout, or longer after false suspicions): CHORD_FWD_MEMORY_MS, as
 * always. Any other peer is never suspected, only reported unreachable by
 * the host, within about a round trip: the detector's floor (250 ms), the
 * longest round trip it takes for a healthy one. Each queue's records
 * then expire in the order they were made.
 */
static unsigned fwd_queue(const struct chord_node *n, const char *next,
                          uint64_t *memory)
{
    const struct chord_fd_peer *fp = chord_fd_find(&n->fd, next);
    if (fp && fp->monitored) {
        *memory = CHORD_FWD_MEMORY_MS;
        return 0;
    }
    *memory = n->fd.cfg.floor_ms;
    return 1;
}

/* Remember a lookup forwarded to `next` (see struct fwd). Best effort:
 * without memory the lookup simply is not re-routed. */
static void fwd_remember(struct chord_node *n, uint64_t now, const char *next,
                         const struct chord_peer *origin, uint64_t req,
                         const struct chord_id *target, uint8_t hops,
                         uint8_t flags, const struct chord_lookup_path *path_in)
{
    uint64_t memory;
    struct chord_seq *fwds = &n->lookup.fwds[fwd_queue(n, next, &memory)];
    if (fwds->live >= CHORD_FWD_MAX) {
        struct fwd *old = chord_seq_head(fwds);
        if (old) {
            fwd_free(old);
            chord_seq_finish(fwds, old);
        }
    }
    size_t len[CHORD_PATH_MAX + 2], total = 0;
    const char *str[CHORD_PATH_MAX + 2];
    unsigned ns = 0;
    bool origin_first =
        path_in->n > 0 && strcmp(path_in->addr[0], origin->addr) == 0;
    if (!origin_first)
        str[ns++] = origin->addr;
    str[ns++] = next;
    for (unsigned i = 0; i < path_in->n; i++)
        str[ns++] = path_in->addr[i];
    for (unsigned i = 0; i < ns; i++) {
        len[i] = strnlen(str[i], CHORD_ADDR_MAX - 1) + 1;
        total += len[i];
    }
    char *addrs = malloc(total);
    if (!addrs)
        return;
    struct fwd *f = chord_seq_push(fwds);
    if (!f) {
        free(addrs);
        return;
    }
    char *w = addrs;
    for (unsigned i = 0; i < ns; i++) {
        memcpy(w, str[i], len[i] - 1);
        w[len[i] - 1] = '\0';
        w += len[i];
    }
    f->addrs = addrs;
    f->origin_first = origin_first;
    f->path_n = path_in->n;
    f->expires = now + memory;
    f->next_hash = fwd_hash(next);
    f->origin_id = origin->id;
    f->req = req;
    f->target = *target;
    f->hops = hops;
    f->flags = flags;
}

void chord__lookup_tick(struct chord_node *n, uint64_t now)
{
    for (int k = 0; k < 2; k++) {
        struct chord_seq *q = &n->lookup.fwds[k];
        struct fwd *f;
        while ((f = chord_seq_head(q)) != NULL && f->expires <= now) {
            fwd_free(f);
            chord_seq_finish(q, f);
        }
    }
}

static void lookup_found(struct chord_node *n, uint64_t now, uint64_t req,
                         const struct chord_found *f)
{
    struct rpc r;
    if (!chord__rpc_take(n, req, &r))
        return;
    chord__metrics_lookup(n, f->ok, f->hops);
    if (r.found)
        r.found(n, now, &r, f);
}

/* The origin learns the outcome: here, or by FOUND_SUCC. */
static void lookup_answer(struct chord_node *n, uint64_t now,
                          const struct chord_peer *origin, uint64_t req,
                          const struct chord_id *target,
                          const struct chord_found *f)
{
    if (chord__is_self(n, origin)) {
        lookup_found(n, now, req, f);
        return;
    }
    struct chord_msg *r = chord__msg(n, CHORD_MSG_FOUND_SUCC, req);
    if (r) {
        r->status = f->ok ? CHORD_OK : CHORD_UNAVAILABLE;
        r->target = *target;
        r->owner = f->owner;
        r->range_lo = f->lo;
        r->hops = f->hops;
        chord__path_copy(&r->path, f->path);
        chord__send(n, origin->addr, r);
        free(r);
    }
}

/* One step of a recursive lookup at this node: answer the origin or
 * forward towards the target. `path_in` lists the nodes before us. */
static void lookup_step(struct chord_node *n, uint64_t now,
                        const struct chord_peer *origin, uint64_t req,
                        const struct chord_id *target, uint8_t hops,
                        uint8_t flags, const struct chord_lookup_path *path_in)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_FIND_SUCC, req);
    if (!m)
        return;
    struct chord_lookup_path *path = &m->path;
    chord__path_copy(path, path_in);
    if (path->n < CHORD_PATH_MAX)
        memcpy(path->addr[path->n++], n->rt.self.addr, CHORD_ADDR_MAX);

    const struct chord_peer *succ = chord__live_succ(n, now);
    const struct chord_peer *owner = NULL;
    const struct chord_peer *next = NULL, *so;
    struct chord_id lo = n->rt.self.id; /* the owner's range: (lo, owner] */
    uint8_t fwd_flags = flags & (uint8_t)~CHORD_LOOKUP_FINAL;
    if (n->rt.n_succ == 0 ||
        (n->rt.has_pred && chord__owns_now(n, target, now))) {
        owner = &n->rt.self;
        const struct chord_peer *p = chord__live_pred(n, now);
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
    } else if ((flags & CHORD_LOOKUP_FINAL) && n->rt.has_pred &&
               !chord__usable(n, chord__live_pred(n, now)->addr, now)) {
        /* The node before us took us for the owner, and every predecessor
         * we know is suspected (a crash, a partition): their range falls
         * to us, as it will once rectify catches up. Routing on would
         * circle the ring until then. The range we can vouch for is the
         * target alone. */
        owner = &n->rt.self;
        struct chord_id one;
        memset(&one, 0, sizeof one);
        one.b[sizeof one.b - 1] = 1;
        chord_id_sub(&lo, target, &one);
    }

    if (owner || hops >= n->cfg.hop_limit) {
        struct chord_found f = {.ok = owner != NULL, .lo = lo, .path = path};
        f.owner = owner ? *owner : n->rt.self;
        if (owner && !chord__is_self(n, owner) && path->n < CHORD_PATH_MAX)
            memcpy(path->addr[path->n++], owner->addr, CHORD_ADDR_MAX);
        if (!owner)
            chord__log(n, CHORD_LOG_WARN, "lookup from %s exceeded %u hops",
                       origin->addr, n->cfg.hop_limit);
        f.hops = (uint8_t)(path->n ? path->n - 1 : 0);
        lookup_answer(n, now, origin, req, target, &f);
        free(m);
        return;
    }

    if (!next && n->cfg.pns)
        next = pns_next(n, target, now);
    if (!next) {
        struct chord_usable_ctx u = {n, now};
        next = chord_routing_closest_preceding(&n->rt, target,
                                               chord__usable_filter, &u);
    }
    if (!next)
        next = succ;
    m->from = *origin;
    m->target = *target;
    m->hops = (uint8_t)(hops + 1);
    m->lookup_flags = fwd_flags;
    fwd_remember(n, now, next->addr, origin, req, target, hops, flags, path_in);
    chord__send(n, next->addr, m);
    free(m);
}

/* Re-route the lookups of queue q forwarded to addr (hash h); false when
 * this node failed meanwhile. */
static bool reroute_queue(struct chord_node *n, uint64_t now,
                          struct chord_seq *fwds, const char *addr, uint32_t h)
{
    uint64_t last = fwds->next_id; /* not those re-routing adds */
    for (uint64_t id = fwds->first_id; id < last; id++) {
        struct fwd *f = chord_seq_find(fwds, id);
        if (!f || f->expires <= now || f->next_hash != h)
            continue;
        const char *next = f->origin_first ? f->addrs : fwd_next_str(f->addrs);
        if (strcmp(next, addr) != 0)
            continue;
        const char *p = fwd_next_str(next); /* the path */
        struct chord_peer origin;
        origin.id = f->origin_id;
        fwd_addr_out(origin.addr, f->origin_first ? p : f->addrs);
        struct chord_id target = f->target;
        uint64_t req = f->req;
        uint8_t hops = f->hops, flags = f->flags;
        struct chord_lookup_path copy;
        copy.n = f->path_n;
        for (unsigned i = 0; i < f->path_n; i++, p = fwd_next_str(p))
            fwd_addr_out(copy.addr[i], p);
        fwd_free(f);
        chord_seq_finish(fwds, f);
        chord__log(n, CHORD_LOG_DEBUG, "re-routing a lookup that went to %s",
                   addr);
        lookup_step(n, now, &origin, req, &target, hops, flags, &copy);
        if (n->state == CHORD_NODE_FAILED)
            return false;
    }
    return true;
}

void chord__lookup_reroute(struct chord_node *n, uint64_t now, const char *addr)
{
    uint32_t h = fwd_hash(addr);
    for (int k = 0; k < 2; k++)
        if (!reroute_queue(n, now, &n->lookup.fwds[k], addr, h))
            return;
}

void chord__lookup_step(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m)
{
    lookup_step(n, now, &m->from, m->req_id, &m->target, m->hops,
                m->lookup_flags, &m->path);
}

void chord__lookup_refuse(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m)
{
    struct chord_found f = {.ok = false,
                            .owner = n->rt.self,
                            .lo = n->rt.self.id,
                            .hops = m->hops,
                            .path = &m->path};
    lookup_answer(n, now, &m->from, m->req_id, &m->target, &f);
}

void chord__lookup_answered(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m)
{
    struct chord_found f = {.ok = m->status == CHORD_OK,
                            .owner = m->owner,
                            .lo = m->range_lo,
                            .hops = m->hops,
                            .path = &m->path};
    lookup_found(n, now, m->req_id, &f);
}

uint64_t chord__lookup_begin(struct chord_node *n, uint64_t now, uint8_t kind,
                             uint64_t arg, chord_found_fn found)
{
    return chord__rpc_record(n, now, kind, &n->rt.self, arg, found);
}

void chord__lookup_run(struct chord_node *n, uint64_t now, uint64_t id,
                       const struct chord_id *target, uint8_t flags)
{
    struct chord_lookup_path empty;
    empty.n = 0;
    lookup_step(n, now, &n->rt.self, id, target, 0, flags, &empty);
}
