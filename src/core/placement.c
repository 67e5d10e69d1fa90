/*
 * placement.c - ownership and replica sets (see placement.h).
 *
 * Pure: no I/O, no clock, no state of its own.
 */
#include "core/placement.h"

#include "chord/addr.h"
#include "core/node_internal.h"
#include "core/peer.h"

/* Is `addr` a position of our own process, or of one in taken[0..k)? */
static bool process_taken(const struct chord_node *n, const char *addr,
                          const struct chord_peer *taken, unsigned k)
{
    if (chord_addr_same_process(addr, n->rt.self.addr))
        return true;
    for (unsigned i = 0; i < k; i++)
        if (chord_addr_same_process(addr, taken[i].addr))
            return true;
    return false;
}

unsigned chord__replica_factor(const struct chord_node *n)
{
    /* Processes as far as we can see: ourselves and those of the
     * successor list (each position its own process without vnodes). */
    unsigned ring = 1;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (!process_taken(n, n->rt.succ[i].addr, n->rt.succ, i))
            ring++;
    unsigned r = n->cfg.replicas;
    if (n->rt.n_succ >= n->rt.r && ring == 1 + n->rt.n_succ)
        return r; /* the list is full: the ring is at least this big */
    return r < ring ? r : ring;
}

unsigned chord__replica_targets(const struct chord_node *n, uint64_t now,
                                struct chord_peer *out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n->rt.n_succ && k < max; i++)
        if (chord__usable(n, n->rt.succ[i].addr, now) &&
            !process_taken(n, n->rt.succ[i].addr, out, k))
            out[k++] = n->rt.succ[i];
    return k;
}

unsigned chord__copies_needed(const struct chord_node *n, uint8_t consistency)
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
    /* The copies of a key go to its owner and the next positions of
     * processes not chosen yet. Walking back from us, we hold the ranges
     * up to the first predecessor that is of our own process (it holds
     * them instead) or that brings the processes seen to r. */
    unsigned seen = 0;
    for (unsigned i = 0; i < n->rt.n_preds; i++) {
        const char *a = n->rt.preds[i].addr;
        if (chord_addr_same_process(a, n->rt.self.addr))
            return chord_id_in_oc(key_id, &n->rt.preds[i].id, &n->rt.self.id);
        bool fresh = true;
        for (unsigned j = 0; j < i && fresh; j++)
            if (chord_addr_same_process(a, n->rt.preds[j].addr))
                fresh = false;
        if (fresh && ++seen >= r)
            return chord_id_in_oc(key_id, &n->rt.preds[i].id, &n->rt.self.id);
    }
    return true; /* small ring, or we do not know enough yet */
}

const struct chord_peer *chord__live_pred(const struct chord_node *n,
                                          uint64_t now)
{
    if (!n->rt.has_pred)
        return NULL;
    for (unsigned i = 0; i < n->rt.n_preds; i++)
        if (chord__usable(n, n->rt.preds[i].addr, now))
            return &n->rt.preds[i];
    return &n->rt.pred;
}

const struct chord_peer *chord__live_succ(const struct chord_node *n,
                                          uint64_t now)
{
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (chord__usable(n, n->rt.succ[i].addr, now))
            return &n->rt.succ[i];
    return chord_routing_successor(&n->rt);
}

void chord__owned_lo(const struct chord_node *n, uint64_t now,
                     struct chord_id *lo)
{
    const struct chord_peer *p = chord__live_pred(n, now);
    if (p)
        *lo = p->id;
    else if (n->rt.n_succ > 0) /* chord_routing_owns without a pred */
        *lo = n->rt.succ[0].id;
    else
        *lo = n->rt.self.id;
}

bool chord__owns_now(const struct chord_node *n, const struct chord_id *key,
                     uint64_t now)
{
    const struct chord_peer *p = chord__live_pred(n, now);
    if (!p)
        return chord_routing_owns(&n->rt, key);
    return chord_id_in_oc(key, &p->id, &n->rt.self.id);
}

const struct chord_peer *chord__next_process(const struct chord_node *n)
{
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        if (!chord_addr_same_process(n->rt.succ[i].addr, n->rt.self.addr))
            return &n->rt.succ[i];
    return NULL;
}

const struct chord_peer *chord__redirect_hint(const struct chord_node *n,
                                              const struct chord_id *id,
                                              uint64_t now)
{
    const struct chord_peer *succ = chord__live_succ(n, now);
    const struct chord_peer *pred = chord__live_pred(n, now);
    if (chord_id_in_oc(id, &n->rt.self.id, &succ->id) || !pred)
        return succ;
    return pred;
}
