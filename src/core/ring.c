/*
 * ring.c - stabilize, rectify, fix_fingers, heartbeats and failure
 * reactions (see ring.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

#include "core/lookup.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/read_lease.h"
#include "core/sync.h"
#include "core/transfer.h"

void chord__ring_init(struct chord_ring *r)
{
    memset(r, 0, sizeof(*r));
    r->next_stabilize = r->next_fix = r->next_heartbeat = UINT64_MAX;
}

void chord__ring_quiet(struct chord_node *n)
{
    n->ring.next_heartbeat = UINT64_MAX;
}

void chord__ring_activate(struct chord_node *n, uint64_t now)
{
    n->state = CHORD_NODE_ACTIVE;
    n->ring.next_stabilize = now + chord__jitter(n, n->cfg.stabilize_ms);
    n->ring.next_fix = now + chord__jitter(n, n->cfg.fix_fingers_ms);
    n->ring.next_heartbeat = now + chord__jitter(n, n->cfg.heartbeat_ms);
    chord__sync_activate(n, now);
}

void chord__ring_neighbors(const struct chord_node *n,
                           struct chord_neighbors *nb)
{
    nb->has_pred = n->rt.has_pred;
    if (n->rt.has_pred)
        nb->pred = n->rt.pred;
    nb->n_succ = (uint8_t)n->rt.n_succ;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        nb->succ[i] = n->rt.succ[i];
}

void chord__ring_adopt(struct chord_node *n, uint64_t now,
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
/* predecessor                                                              */

void chord__ring_set_pred(struct chord_node *n, uint64_t now,
                          const struct chord_peer *p)
{
    (void)now;
    if (n->rt.has_pred && chord__peer_same(&n->rt.pred, p))
        return;
    n->rt.pred = *p;
    n->rt.has_pred = true;
    chord__lease_drop(n); /* our range changed: the lease starts over */
    n->rt.preds[0] = *p;  /* the rest comes with its next RECTIFY */
    n->rt.n_preds = 1;
    char a[9];
    chord__log(n, CHORD_LOG_INFO, "predecessor is now %s (%s)", p->addr,
               chord__short_id(&p->id, a));
}

/* Give a new, closer predecessor the keys of its range (old, new]. */
static void pass_range(struct chord_node *n, uint64_t now, bool had_pred,
                       const struct chord_id *old, const struct chord_peer *to)
{
    struct chord_store_entry ev;
    struct chord_range c;
    c.lo = had_pred ? *old : n->rt.self.id;
    c.hi = to->id;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL)
        if (chord__want_range(n, e, &c)) {
            chord__transfer_start(n, now, to, 0, XFER_JOIN, chord__want_range,
                                  &c, NULL);
            return;
        }
}

/* Our predecessor's RECTIFY carries its own predecessors: ours are it and
 * them (up to the replication factor, at least CHORD_PREDS_MIN, stopping
 * where the ring closes). */
static void learn_preds(struct chord_node *n, const struct chord_msg *m)
{
    unsigned max = n->rt.preds_cap; /* see chord_node_new */
    unsigned k = 0;
    n->rt.preds[k++] = m->from;
    for (unsigned i = 0; i < m->n_preds && k < max; i++) {
        if (chord__is_self(n, &m->preds[i]))
            break;
        n->rt.preds[k++] = m->preds[i];
    }
    n->rt.n_preds = k;
}

void chord__ring_rectify(struct chord_node *n, uint64_t now,
                         const struct chord_msg *msg)
{
    const struct chord_peer *m = &msg->from;
    if (chord__is_self(n, m) || n->state != CHORD_NODE_ACTIVE)
        return;
    if (!n->rt.has_pred || chord__is_self(n, &n->rt.pred) ||
        chord_id_in_oo(&m->id, &n->rt.pred.id, &n->rt.self.id)) {
        bool had = n->rt.has_pred && !chord__is_self(n, &n->rt.pred);
        struct chord_id old = n->rt.pred.id;
        chord__ring_set_pred(n, now, m);
        pass_range(n, now, had, &old, m);
    } else if (!chord__peer_same(m, &n->rt.pred) &&
               !chord__usable(n, n->rt.pred.addr, now)) {
        /* Not closer, but ours is suspected: the ring has closed around
         * it (a crash, a partition), and every lookup for the range in
         * between would circle until we adopt m. Should the suspicion be
         * false, ours is closer and its next RECTIFY takes its place. */
        n->ring.pred_ping_pending = false;
        chord__ring_set_pred(n, now, m);
    } else if (!chord__peer_same(m, &n->rt.pred) &&
               !n->ring.pred_ping_pending) {
        /* Not closer than our predecessor: adopt it only if ours is dead. */
        n->ring.rectify_cand = *m;
        n->ring.pred_ping_pending = true;
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
        n->ring.next_stabilize = now;
}

/* ------------------------------------------------------------------------ */
/* stabilize                                                                */

static void send_rectify(struct chord_node *n, const struct chord_peer *to)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_RECTIFY, 0);
    if (m) {
        m->n_preds = (uint8_t)n->rt.n_preds;
        memcpy(m->preds, n->rt.preds, n->rt.n_preds * sizeof(n->rt.preds[0]));
        chord__send(n, to->addr, m);
        free(m);
    }
}

static void stabilize_finish(struct chord_node *n)
{
    n->ring.stab_rpc = 0;
    if (n->rt.n_succ)
        send_rectify(n, chord_routing_successor(&n->rt));
}

static void stabilize_start(struct chord_node *n, uint64_t now)
{
    if (n->ring.stab_rpc)
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
    n->ring.stab_rpc = chord__rpc(n, now, kind, &to, 0, m);
    free(m);
}

void chord__ring_offer(struct chord_node *n, uint64_t now,
                       const struct chord_peer *cand)
{
    if (n->state != CHORD_NODE_ACTIVE || chord__is_self(n, cand))
        return;
    const struct chord_peer *s = chord_routing_successor(&n->rt);
    if (n->rt.n_succ && !chord_id_in_oo(&cand->id, &n->rt.self.id, &s->id))
        return;
    struct chord_msg *q = chord__msg(n, CHORD_MSG_GET_NEIGHBORS, 0);
    if (!q)
        return;
    struct chord_peer to = *cand;
    n->ring.stab_rpc = chord__rpc(n, now, RPC_STAB_CAND, &to, 0, q);
    free(q);
}

static void stabilize_succ_failed(struct chord_node *n, uint64_t now,
                                  const struct chord_peer *s)
{
    char a[9];
    chord__log(n, CHORD_LOG_WARN,
               "successor %s (%s) did not answer: dropping it", s->addr,
               chord__short_id(&s->id, a));
    chord__peer_dead(n, s->addr, now);
    chord_routing_remove(&n->rt, &s->id);
    n->ring.stab_rpc = 0;
    n->ring.succ_silent = 0;
    if (n->rt.n_succ == 0)
        chord__log(n, CHORD_LOG_WARN, "no live successor left: alone");
    stabilize_start(n, now);
}

static void handle_neighbors(struct chord_node *n, uint64_t now,
                             const struct rpc *r, const struct chord_msg *m)
{
    if (r->kind == RPC_STAB_SUCC) {
        n->ring.succ_silent = 0;
        chord__ring_adopt(n, now, &m->from, &m->nb);
        const struct chord_peer *s = chord_routing_successor(&n->rt);
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred) &&
            !chord__is_dead(n, m->nb.pred.addr, now) &&
            chord_id_in_oo(&m->nb.pred.id, &n->rt.self.id, &s->id)) {
            /* A node between us and our successor: check it is alive. */
            struct chord_msg *q = chord__msg(n, CHORD_MSG_GET_NEIGHBORS, 0);
            if (q) {
                struct chord_peer cand = m->nb.pred;
                n->ring.stab_rpc =
                    chord__rpc(n, now, RPC_STAB_CAND, &cand, 0, q);
                free(q);
                return;
            }
        }
        stabilize_finish(n);
    } else { /* RPC_STAB_CAND: it answered, so it is alive */
        const struct chord_peer *s = chord_routing_successor(&n->rt);
        if (n->rt.n_succ == 0 ||
            chord_id_in_oo(&m->from.id, &n->rt.self.id, &s->id))
            chord__ring_adopt(n, now, &m->from, &m->nb);
        stabilize_finish(n);
    }
}

/* ------------------------------------------------------------------------ */
/* fingers                                                                  */

/* A fix_fingers lookup ended (see lookup.h). */
static void finger_found(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_found *f)
{
    n->ring.finger_pending = false;
    if (f->ok && r->arg < CHORD_ID_BITS) {
        unsigned i = (unsigned)r->arg;
        unsigned next = n->cfg.pns
                            ? chord__pns_finger_found(n, now, i, &f->owner)
                            : chord_routing_set_finger(&n->rt, i, &f->owner);
        n->ring.next_finger = next >= CHORD_ID_BITS ? 0 : next;
    }
}

static void fix_fingers(struct chord_node *n, uint64_t now)
{
    if (n->ring.finger_pending)
        return;
    unsigned i = n->ring.next_finger;
    struct chord_id start;
    chord_routing_finger_start(&n->rt, i, &start);
    uint64_t rid =
        chord__lookup_begin(n, now, RPC_LOOKUP_FINGER, i, finger_found);
    if (rid) {
        n->ring.finger_pending = true;
        chord__lookup_run(n, now, rid, &start, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* answers and failures                                                     */

void chord__ring_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const struct chord_msg *m)
{
    switch (r->kind) {
    case RPC_STAB_SUCC:
    case RPC_STAB_CAND:
        if (r->h.id == n->ring.stab_rpc)
            handle_neighbors(n, now, r, m);
        return;
    case RPC_PRED_PING:
        n->ring.pred_ping_pending = false; /* predecessor alive: keep it */
        return;
    default: /* heartbeats: the detector heard it already */
        return;
    }
}

void chord__ring_failed(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const char *why)
{
    switch (r->kind) {
    case RPC_STAB_SUCC:
        if (r->h.id != n->ring.stab_rpc)
            return; /* a round abandoned for a suspicion */
        /* Refused connections are definitive; silence may be one lost
         * answer, so it takes CHORD_SUCC_PROBE_FAILURES in a row. */
        if (chord_routing_has_successor(&n->rt, &r->peer) &&
            (strcmp(why, "unreachable") == 0 ||
             ++n->ring.succ_silent >= CHORD_SUCC_PROBE_FAILURES))
            stabilize_succ_failed(n, now, &r->peer);
        else
            n->ring.stab_rpc = 0;
        return;
    case RPC_STAB_CAND:
        if (r->h.id == n->ring.stab_rpc)
            stabilize_finish(n);
        return;
    case RPC_PRED_PING:
        n->ring.pred_ping_pending = false;
        if (n->rt.has_pred && chord__peer_same(&n->rt.pred, &r->peer)) {
            char a[9];
            chord__log(n, CHORD_LOG_WARN, "predecessor %s (%s) did not answer",
                       r->peer.addr, chord__short_id(&r->peer.id, a));
            chord__peer_dead(n, r->peer.addr, now);
            chord__ring_set_pred(n, now, &n->ring.rectify_cand);
        }
        return;
    case RPC_LOOKUP_FINGER:
        /* Move on: a finger whose lookup keeps failing must not keep the
         * others from being refreshed; its turn comes again. */
        n->ring.finger_pending = false;
        if (r->arg + 1 < CHORD_ID_BITS)
            n->ring.next_finger = (unsigned)r->arg + 1;
        else
            n->ring.next_finger = 0;
        return;
    default: /* heartbeats: the failure detector keeps its own time */
        return;
    }
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

/* Heartbeat the successor list and the predecessors. */
static void heartbeat_round(struct chord_node *n, uint64_t now)
{
    struct chord_peer set[2 * CHORD_SUCC_MAX];
    unsigned k = 0;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        set[k++] = n->rt.succ[i];
    if (n->rt.has_pred && !chord__is_self(n, &n->rt.pred) &&
        !addr_in(n->rt.pred.addr, set, k))
        set[k++] = n->rt.pred;
    /* The predecessors beyond it too (unless found dead: they count as
     * gone): whether we own a key when the predecessor is suspected
     * depends on which of them are alive. */
    for (unsigned i = 1; i < n->rt.n_preds && k < 2 * CHORD_SUCC_MAX; i++)
        if (!chord__is_self(n, &n->rt.preds[i]) &&
            !chord__is_dead(n, n->rt.preds[i].addr, now) &&
            !addr_in(n->rt.preds[i].addr, set, k))
            set[k++] = n->rt.preds[i];
    for (unsigned i = 0; i < n->fd.n_slots; i++) {
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

void chord__ring_route_around(struct chord_node *n, uint64_t now,
                              const char *addr)
{
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (strcmp(n->rt.succ[i].addr, addr) == 0) {
            struct chord_id id = n->rt.succ[i].id;
            if (i == 0 && n->state == CHORD_NODE_ACTIVE)
                n->ring.next_stabilize = now;
            chord_routing_remove(&n->rt, &id);
            return;
        }
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        const struct chord_peer *f = chord_routing_finger(&n->rt, i);
        if (f && strcmp(f->addr, addr) == 0) {
            struct chord_id id = f->id;
            chord_routing_remove(&n->rt, &id);
            return;
        }
    }
}

/* Act on the detector's verdicts. */
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
                n->ring.stab_rpc = 0;
                n->ring.next_stabilize = now;
            }
            chord__lookup_reroute(n, now, ev[i].addr);
        } else if (ev[i].state == CHORD_PEER_DEAD) {
            chord__log(n, CHORD_LOG_WARN, "%s is dead: routing around it",
                       ev[i].addr);
            chord__peer_dead(n, ev[i].addr, now);
            chord__ring_route_around(n, now, ev[i].addr);
            chord__lookup_reroute(n, now, ev[i].addr);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* timers                                                                   */

void chord__ring_tick(struct chord_node *n, uint64_t now)
{
    if (n->state == CHORD_NODE_ACTIVE || n->state == CHORD_NODE_LEAVING) {
        if (n->ring.next_heartbeat <= now) {
            n->ring.next_heartbeat = now + n->cfg.heartbeat_ms;
            heartbeat_round(n, now);
        }
        fd_round(n, now);
    }
    if (n->state != CHORD_NODE_ACTIVE)
        return;
    if (n->ring.next_stabilize <= now) {
        n->ring.next_stabilize = now + chord__jitter(n, n->cfg.stabilize_ms);
        stabilize_start(n, now);
    }
    if (n->ring.next_fix <= now) {
        n->ring.next_fix = now + chord__jitter(n, n->cfg.fix_fingers_ms);
        fix_fingers(n, now);
    }
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t chord__ring_deadline(const struct chord_node *n)
{
    uint64_t t = UINT64_MAX;
    if (n->state == CHORD_NODE_ACTIVE) {
        t = min64(t, n->ring.next_stabilize);
        t = min64(t, n->ring.next_fix);
    }
    if (n->state == CHORD_NODE_ACTIVE || n->state == CHORD_NODE_LEAVING) {
        t = min64(t, n->ring.next_heartbeat);
        t = min64(t, chord_fd_next_deadline(&n->fd));
    }
    return t;
}
