/*
 * oracle.c - the ring oracle: what a perfect ring of the live nodes would
 * be, and how far the nodes' own routing state is from it
 * (chord_sim_owner, chord_sim_check_ring, chord_sim_check_successors),
 * and Zave's invariant (chord_sim_check_invariant).
 *
 * The up ACTIVE nodes sorted by id are a cache, rebuilt only when
 * sim->members_gen (bumped by host.c whenever a node changes state or goes
 * down) has moved, so queries between two changes cost a binary search.
 * The cache sits behind a pointer so that the const query functions may
 * refresh it.
 *
 * It reads the nodes' state through the public node API and never changes
 * a node, the clock or the PRNG; it calls only net.c (the address map).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/routing.h"
#include "sim/sim_internal.h"

/* The ring oracle's view: the up ACTIVE nodes sorted by id, rebuilt only
 * when the membership generation has moved since it was built. */
struct sim_members {
    bool valid;
    uint64_t gen; /* sim->members_gen when built */
    size_t n, cap;
    struct sim_member *v;
};

int chord_sim__oracle_init(struct chord_sim *sim)
{
    sim->members = calloc(1, sizeof *sim->members);
    return sim->members ? 0 : -ENOMEM;
}

void chord_sim__oracle_free(struct chord_sim *sim)
{
    if (sim->members)
        free(sim->members->v);
    free(sim->members);
}

int chord_sim__member_cmp(const void *a, const void *b)
{
    const struct sim_member *x = a, *y = b;
    int c = chord_id_cmp(&x->id, &y->id);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * The up ACTIVE nodes sorted by id (*n of them), borrowed from the cache:
 * valid until the next state change. The sort is redone only when the
 * membership generation moved, so oracle queries between two changes
 * cost a binary search, not O(N log N). NULL with *n == 0 when there are
 * none; NULL with *n == SIZE_MAX when out of memory.
 */
static const struct sim_member *sim_members(const struct chord_sim *sim,
                                            size_t *n)
{
    struct sim_members *c = sim->members;
    if (!c->valid || c->gen != sim->members_gen) {
        c->valid = false;
        c->n = 0;
        if (c->cap < sim->n_nodes) {
            size_t cap = sim->n_nodes;
            struct sim_member *v = realloc(c->v, cap * sizeof *v);
            if (!v) {
                *n = SIZE_MAX;
                return NULL;
            }
            c->v = v;
            c->cap = cap;
        }
        for (uint32_t i = 0; i < sim->n_nodes; i++)
            if (sim->nodes[i]->node &&
                chord_node_state(sim->nodes[i]->node) == CHORD_NODE_ACTIVE) {
                c->v[c->n].id = sim->nodes[i]->self.id;
                c->v[c->n].idx = i;
                c->n++;
            }
        if (c->n > 1)
            qsort(c->v, c->n, sizeof *c->v, chord_sim__member_cmp);
        c->gen = sim->members_gen;
        c->valid = true;
    }
    *n = c->n;
    return c->n ? c->v : NULL;
}

size_t chord_sim__member_successor(const struct sim_member *v, size_t n,
                                   const struct chord_id *key)
{
    return chord_id_successor_at(v, n, sizeof *v, key);
}

int chord_sim_owner(const struct chord_sim *sim, const struct chord_id *key)
{
    size_t n;
    const struct sim_member *v = sim_members(sim, &n);
    if (!v)
        return -1;
    return (int)v[chord_sim__member_successor(v, n, key)].idx;
}

static bool peer_is(const struct chord_peer *p, const struct sim_node *sn)
{
    return chord_id_eq(&p->id, &sn->self.id) &&
           strcmp(p->addr, sn->self.addr) == 0;
}

/* Count one wrong entry; describe it if it is the first. */
static void ring_wrong(int *wrong, char *err, size_t errlen,
                       const struct sim_node *sn, const char *what,
                       const char *found, const char *expected)
{
    if (*wrong == 0 && errlen > 0)
        snprintf(err, errlen, "node %" PRIu32 " (%s): %s is %s, expected %s",
                 sn->index, sn->self.addr, what, found, expected);
    (*wrong)++;
}

/* With proximity routing, finger i may be any member of its interval
 * [start(i), start(i+1)) (start(160) being the node itself). */
static bool pns_finger_ok(const struct chord_sim *sim,
                          const struct sim_node *sn, unsigned i,
                          const struct chord_id *start,
                          const struct chord_peer *f)
{
    int j = chord_sim__addr_find(sim, f->addr);
    if (j < 0 || !sim->nodes[j]->node ||
        chord_node_state(sim->nodes[j]->node) != CHORD_NODE_ACTIVE ||
        !peer_is(f, sim->nodes[j]))
        return false;
    struct chord_id end = sn->self.id;
    if (i + 1 < CHORD_ID_BITS)
        chord_id_add_pow2(&end, &sn->self.id, i + 1);
    return chord_id_eq(&f->id, start) || chord_id_in_oo(&f->id, start, &end);
}

/* The checks of chord_sim_check_ring; fingers only when `fingers`. */
static int check_ring(const struct chord_sim *sim, bool fingers, char *err,
                      size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    size_t n;
    const struct sim_member *v = sim_members(sim, &n);
    if (!v)
        return n == SIZE_MAX ? -ENOMEM : 0;
    int wrong = 0;
    char what[48];
    for (size_t k = 0; k < n; k++) {
        const struct sim_node *sn = sim->nodes[v[k].idx];
        const struct chord_routing *rt = chord_node_routing(sn->node);

        /* Successor list: the next min(r, N-1) members, in order. */
        size_t want = rt->r < n - 1 ? rt->r : n - 1;
        size_t have = rt->n_succ;
        for (size_t j = 0; j < (want > have ? want : have); j++) {
            snprintf(what, sizeof what, "successor[%zu]", j);
            const struct sim_node *exp =
                j < want ? sim->nodes[v[(k + 1 + j) % n].idx] : NULL;
            if (j >= have)
                ring_wrong(&wrong, err, errlen, sn, what, "missing",
                           exp->self.addr);
            else if (!exp)
                ring_wrong(&wrong, err, errlen, sn, what, rt->succ[j].addr,
                           "nothing (list too long)");
            else if (!peer_is(&rt->succ[j], exp))
                ring_wrong(&wrong, err, errlen, sn, what, rt->succ[j].addr,
                           exp->self.addr);
        }

        /* Predecessor: the previous member. */
        const struct sim_node *prev = sim->nodes[v[(k + n - 1) % n].idx];
        if (n == 1) {
            if (rt->has_pred && !peer_is(&rt->pred, sn))
                ring_wrong(&wrong, err, errlen, sn, "predecessor",
                           rt->pred.addr, "none or itself");
        } else if (!rt->has_pred) {
            ring_wrong(&wrong, err, errlen, sn, "predecessor", "none",
                       prev->self.addr);
        } else if (!peer_is(&rt->pred, prev)) {
            ring_wrong(&wrong, err, errlen, sn, "predecessor", rt->pred.addr,
                       prev->self.addr);
        }

        /* Fingers: finger i is the member that succeeds self + 2^i. */
        for (unsigned i = 0; fingers && i < CHORD_ID_BITS; i++) {
            struct chord_id start;
            chord_id_add_pow2(&start, &sn->self.id, i);
            const struct sim_node *exp =
                sim->nodes[v[chord_sim__member_successor(v, n, &start)].idx];
            const struct chord_peer *f = chord_routing_finger(rt, i);
            if (exp == sn && (!f || peer_is(f, sn)))
                continue;
            if (f && peer_is(f, exp))
                continue;
            if (sn->pns && f && pns_finger_ok(sim, sn, i, &start, f))
                continue;
            snprintf(what, sizeof what, "finger[%u]", i);
            ring_wrong(&wrong, err, errlen, sn, what, f ? f->addr : "unset",
                       exp->self.addr);
        }
    }
    return wrong;
}

int chord_sim_check_ring(const struct chord_sim *sim, char *err, size_t errlen)
{
    return check_ring(sim, true, err, errlen);
}

int chord_sim_check_successors(const struct chord_sim *sim, char *err,
                               size_t errlen)
{
    return check_ring(sim, false, err, errlen);
}

/* A member in the sense of the invariant: up and ACTIVE or LEAVING. */
static bool is_member(const struct sim_node *sn)
{
    if (!sn->node)
        return false;
    enum chord_node_state st = chord_node_state(sn->node);
    return st == CHORD_NODE_ACTIVE || st == CHORD_NODE_LEAVING;
}

int chord_sim_check_invariant(const struct chord_sim *sim, char *err,
                              size_t errlen, unsigned *members)
{
    if (errlen > 0)
        err[0] = '\0';
    unsigned count = 0;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        if (is_member(sim->nodes[i]))
            count++;
    if (members)
        *members = count;
    int bad = 0;
    for (uint32_t i = 0; i < sim->n_nodes && count > 1; i++) {
        const struct sim_node *sn = sim->nodes[i];
        if (!is_member(sn))
            continue;
        const struct chord_routing *rt = chord_node_routing(sn->node);
        bool live = false;
        for (unsigned j = 0; j < rt->n_succ && !live; j++) {
            int k = chord_sim__addr_find(sim, rt->succ[j].addr);
            live = k >= 0 && sim->nodes[k]->node != NULL;
        }
        if (live)
            continue;
        if (bad == 0 && errlen > 0) {
            if (rt->n_succ == 0)
                snprintf(err, errlen,
                         "node %" PRIu32 " (%s) has no successor although "
                         "the ring has %u members",
                         sn->index, sn->self.addr, count);
            else
                snprintf(err, errlen,
                         "node %" PRIu32 " (%s): all %u successor entries "
                         "are down (first %s)",
                         sn->index, sn->self.addr, rt->n_succ,
                         rt->succ[0].addr);
        }
        bad++;
    }
    return bad;
}
