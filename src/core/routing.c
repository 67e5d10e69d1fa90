/*
 * routing.c - a node's routing table: successor list, fingers and the
 * decisions made from them (see routing.h for the invariants).
 *
 * Everything here is ring arithmetic; memory is allocated only for the
 * lists (at init) and the distinct finger nodes, and no liveness is known
 * except through the `usable` filter a caller passes. The successor list is
 * trusted to be in ring order as the caller gives it (stabilize builds it from
 * [s] + s's own list); this module only removes duplicates, stops at self and
 * caps it at r. It never sorts and never asks whether a peer is alive.
 */
#include "core/routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* v clamped to 1..CHORD_SUCC_MAX. */
static unsigned routing_clamp(unsigned v)
{
    return v < 1 ? 1 : v > CHORD_SUCC_MAX ? CHORD_SUCC_MAX : v;
}

/*
 * Empty table for `self`: no predecessor, no successors, no finger set.
 * The successor and predecessor lists are one allocation.
 */
int chord_routing_init(struct chord_routing *rt, const struct chord_peer *self,
                       unsigned r, unsigned preds_cap)
{
    memset(rt, 0, sizeof(*rt));
    rt->self = *self;
    rt->r = routing_clamp(r);
    rt->preds_cap = routing_clamp(preds_cap);
    rt->succ = calloc(rt->r + rt->preds_cap, sizeof(rt->succ[0]));
    if (!rt->succ)
        return -ENOMEM;
    rt->preds = rt->succ + rt->r;
    return 0;
}

void chord_routing_free(struct chord_routing *rt)
{
    free(rt->succ);
    free(rt->fpeer);
    rt->succ = rt->preds = rt->fpeer = NULL;
    rt->n_succ = rt->n_preds = 0;
    rt->n_fpeers = rt->cap_fpeers = 0;
    memset(rt->finger_slot, 0, sizeof(rt->finger_slot));
    rt->n_finger_runs = 0;
}

/* succ[0], or self when the list is empty. */
const struct chord_peer *chord_routing_successor(const struct chord_routing *rt)
{
    return rt->n_succ ? &rt->succ[0] : &rt->self;
}

/*
 * Append *p to list[0..*n) unless it is already there. Returns false when
 * p is self (the list must end there), true otherwise.
 */
static bool routing_list_add(const struct chord_routing *rt,
                             struct chord_peer *list, unsigned *n,
                             const struct chord_peer *p)
{
    if (chord_id_eq(&p->id, &rt->self.id))
        return false;
    for (unsigned k = 0; k < *n; k++)
        if (chord_id_eq(&list[k].id, &p->id))
            return true;
    list[(*n)++] = *p;
    return true;
}

/*
 * Replace the successor list with [head] + tail[0..n_tail): stop at the
 * first entry equal to self or when r entries are kept, skip duplicates.
 * `tail` may point into rt->succ itself: the new list is built aside.
 */
void chord_routing_set_successors(struct chord_routing *rt,
                                  const struct chord_peer *head,
                                  const struct chord_peer *tail,
                                  unsigned n_tail)
{
    struct chord_peer list[CHORD_SUCC_MAX];
    unsigned n = 0;
    bool open = true;
    if (head)
        open = routing_list_add(rt, list, &n, head);
    for (unsigned k = 0; open && k < n_tail && n < rt->r; k++)
        open = routing_list_add(rt, list, &n, &tail[k]);
    memcpy(rt->succ, list, n * sizeof(list[0]));
    rt->n_succ = n;
}

/* Same node: same id and same address. */
static bool routing_same_peer(const struct chord_peer *a,
                              const struct chord_peer *b)
{
    return chord_id_eq(&a->id, &b->id) && strcmp(a->addr, b->addr) == 0;
}

const struct chord_peer *chord_routing_finger(const struct chord_routing *rt,
                                              unsigned i)
{
    if (i >= CHORD_ID_BITS || !rt->finger_slot[i])
        return NULL;
    return &rt->fpeer[rt->finger_slot[i] - 1];
}

void chord_routing_finger_start(const struct chord_routing *rt, unsigned i,
                                struct chord_id *out)
{
    chord_id_add_pow2(out, &rt->self.id, i);
}

/*
 * The slot (index + 1) of *p among the distinct finger nodes, adding it
 * when new; 0 when it cannot be stored. p must not point into fpeer[].
 */
static unsigned routing_fpeer_slot(struct chord_routing *rt,
                                   const struct chord_peer *p)
{
    for (unsigned k = 0; k < rt->n_fpeers; k++)
        if (routing_same_peer(&rt->fpeer[k], p))
            return k + 1;
    if (rt->n_fpeers == rt->cap_fpeers) {
        unsigned cap = rt->cap_fpeers + 4u;
        struct chord_peer *np = realloc(rt->fpeer, cap * sizeof(*np));
        if (!np)
            return 0;
        rt->fpeer = np;
        rt->cap_fpeers = (uint8_t)cap;
    }
    rt->fpeer[rt->n_fpeers++] = *p;
    return rt->n_fpeers;
}

/*
 * After a change of the fingers: drop the finger nodes no finger names
 * any more (the others keep their order), and index the fingers
 * closest_preceding considers: from the top down, every set finger whose
 * node differs from the nearest set finger above it. A finger equal to
 * the one above would give the same distance and the same answer from a
 * filter that judges a peer by its contents, so looking at the first of
 * each run picks what a scan of all 160 would.
 */
static void routing_fingers_changed(struct chord_routing *rt)
{
    uint8_t map[256]; /* by slot: kept or not, then the new slot */
    memset(map, 0, sizeof(map));
    for (unsigned i = 0; i < CHORD_ID_BITS; i++)
        map[rt->finger_slot[i]] = 1;
    unsigned n = 0;
    for (unsigned k = 0; k < rt->n_fpeers; k++) {
        if (!map[k + 1])
            continue;
        if (n != k)
            rt->fpeer[n] = rt->fpeer[k];
        map[k + 1] = (uint8_t)++n;
    }
    map[0] = 0; /* unset stays unset */
    if (n != rt->n_fpeers)
        for (unsigned i = 0; i < CHORD_ID_BITS; i++)
            rt->finger_slot[i] = map[rt->finger_slot[i]];
    rt->n_fpeers = (uint8_t)n;
    if (rt->cap_fpeers >= n + 8u) {
        struct chord_peer *np =
            n ? realloc(rt->fpeer, (n + 4u) * sizeof(*np)) : NULL;
        if (np || !n) {
            if (!n)
                free(rt->fpeer);
            rt->fpeer = np;
            rt->cap_fpeers = (uint8_t)(n ? n + 4u : 0);
        }
    }
    unsigned runs = 0, prev = 0;
    for (unsigned i = CHORD_ID_BITS; i-- > 0;) {
        unsigned s = rt->finger_slot[i];
        if (!s || s == prev)
            continue;
        prev = s;
        rt->finger_run[runs++] = (uint8_t)i;
    }
    rt->n_finger_runs = (uint8_t)runs;
}

void chord_routing_put_finger(struct chord_routing *rt, unsigned i,
                              const struct chord_peer *node)
{
    if (i >= CHORD_ID_BITS)
        return;
    unsigned s = 0;
    if (node) {
        struct chord_peer copy = *node; /* node may point into the table */
        s = routing_fpeer_slot(rt, &copy);
    }
    rt->finger_slot[i] = (uint8_t)s;
    routing_fingers_changed(rt);
}

/*
 * Drop the peer with this id from the successor list (order kept) and
 * clear every finger that points at it. The predecessor is left alone.
 * Returns true if anything changed.
 */
bool chord_routing_remove(struct chord_routing *rt, const struct chord_id *idp)
{
    struct chord_id id = *idp; /* idp may point into the table */
    bool changed = false;
    unsigned n = 0;
    for (unsigned k = 0; k < rt->n_succ; k++) {
        if (chord_id_eq(&rt->succ[k].id, &id)) {
            changed = true;
            continue;
        }
        if (n != k)
            rt->succ[n] = rt->succ[k];
        n++;
    }
    rt->n_succ = n;
    bool fingers = false;
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        unsigned s = rt->finger_slot[i];
        if (s && chord_id_eq(&rt->fpeer[s - 1].id, &id)) {
            rt->finger_slot[i] = 0;
            fingers = true;
        }
    }
    if (fingers)
        routing_fingers_changed(rt);
    return changed || fingers;
}

/*
 * Keep *p as the best candidate if it lies in (self, target), passes the
 * filter, and is farther from self than the best so far.
 */
static void routing_consider(const struct chord_routing *rt,
                             const struct chord_id *target,
                             chord_peer_filter usable, void *ctx,
                             const struct chord_peer *p,
                             const struct chord_peer **best,
                             struct chord_id *best_dist)
{
    if (!chord_id_in_oo(&p->id, &rt->self.id, target))
        return;
    struct chord_id d;
    chord_id_sub(&d, &p->id, &rt->self.id);
    if (*best && chord_id_cmp(&d, best_dist) <= 0)
        return;
    if (usable && !usable(ctx, p))
        return;
    *best = p;
    *best_dist = d;
}

/*
 * The usable peer among the set fingers and the successors that lies in
 * (self, target) farthest from self, or NULL when there is none.
 */
const struct chord_peer *
chord_routing_closest_preceding(const struct chord_routing *rt,
                                const struct chord_id *target,
                                chord_peer_filter usable, void *ctx)
{
    const struct chord_peer *best = NULL;
    struct chord_id best_dist;
    memset(&best_dist, 0, sizeof(best_dist));
    /* From the farthest finger down: the first candidate found is usually
     * the best, so the (costly) usable() check runs for few peers; runs of
     * fingers naming the same node are looked at once (finger_run). */
    for (unsigned k = 0; k < rt->n_finger_runs; k++)
        routing_consider(rt, target, usable, ctx,
                         chord_routing_finger(rt, rt->finger_run[k]), &best,
                         &best_dist);
    for (unsigned k = 0; k < rt->n_succ; k++)
        routing_consider(rt, target, usable, ctx, &rt->succ[k], &best,
                         &best_dist);
    return best;
}

/*
 * Set finger i to `node`, the successor of start(i). Every later start is
 * farther clockwise from self (start(j) = self + 2^j), so the later
 * fingers with the same successor are exactly those whose start lies in
 * (self, node]: they are set too. Testing against (self, node] rather than
 * [start(i), node] keeps the wrap-around right: when node is self, the
 * interval is the whole ring and every finger from i on becomes self.
 * Returns the first index after i left unset by this call, or
 * CHORD_ID_BITS when none is.
 */
unsigned chord_routing_set_finger(struct chord_routing *rt, unsigned i,
                                  const struct chord_peer *node)
{
    if (i >= CHORD_ID_BITS)
        return CHORD_ID_BITS;
    struct chord_peer copy = *node; /* node may point into the table */
    unsigned s = routing_fpeer_slot(rt, &copy);
    rt->finger_slot[i] = (uint8_t)s;
    unsigned j = i + 1;
    for (; j < CHORD_ID_BITS; j++) {
        struct chord_id start;
        chord_routing_finger_start(rt, j, &start);
        if (!chord_id_in_oc(&start, &rt->self.id, &copy.id))
            break;
        rt->finger_slot[j] = (uint8_t)s;
    }
    routing_fingers_changed(rt);
    return j;
}

/*
 * Is key in (pred, self]? Without a predecessor: alone, every key; with
 * successors, every key that is not in (self, successor].
 */
bool chord_routing_owns(const struct chord_routing *rt,
                        const struct chord_id *key)
{
    if (rt->has_pred)
        return chord_id_in_oc(key, &rt->pred.id, &rt->self.id);
    if (rt->n_succ == 0)
        return true;
    return !chord_id_in_oc(key, &rt->self.id, &rt->succ[0].id);
}

bool chord_routing_has_successor(const struct chord_routing *rt,
                                 const struct chord_peer *p)
{
    for (unsigned i = 0; i < rt->n_succ; i++)
        if (chord_id_eq(&rt->succ[i].id, &p->id) &&
            strcmp(rt->succ[i].addr, p->addr) == 0)
            return true;
    return false;
}
