/*
 * static_ring.c - chord_sim_start_static(): every node added and not yet
 * started becomes a member of one exact ring at once, as if it had joined
 * and the ring had settled, without the O(N) simulated seconds of joins.
 *
 * The nodes are sorted by id; each is given its r successors, as many
 * predecessors, and every finger (the successor of each finger start,
 * found by binary search), through chord_node_start_static(). Nothing is
 * drawn from the simulator's PRNG here, so a run stays a function of its
 * seed. No message is sent: the first ones are the nodes' own timers.
 */
#include <stdlib.h>
#include <string.h>

#include "core/routing.h"
#include "sim/sim_internal.h"

/* The sorted view the nodes are started from. */
struct static_view {
    const struct chord_sim *sim;
    struct sim_member *v; /* the nodes to start, sorted by id */
    size_t n;
};

/* chord_successor_fn: the first member with id >= key, wrapping. */
static const struct chord_peer *successor_of(void *ctx,
                                             const struct chord_id *key)
{
    const struct static_view *v = ctx;
    return &v->sim
                ->nodes[v->v[chord_sim__member_successor(v->v, v->n, key)].idx]
                ->self;
}

int chord_sim_start_static(struct chord_sim *sim)
{
    struct static_view v = {.sim = sim};
    v.v = malloc((sim->n_nodes ? sim->n_nodes : 1) * sizeof *v.v);
    if (!v.v)
        return -ENOMEM;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        if (sim->nodes[i]->node &&
            chord_node_state(sim->nodes[i]->node) == CHORD_NODE_INIT)
            v.v[v.n++] = (struct sim_member){sim->nodes[i]->self.id, i};
    if (v.n == 0) {
        free(v.v);
        return -EINVAL;
    }
    qsort(v.v, v.n, sizeof *v.v, chord_sim__member_cmp);
    struct chord_peer succ[CHORD_SUCC_MAX], preds[CHORD_SUCC_MAX];
    for (size_t k = 0; k < v.n; k++) {
        struct sim_node *sn = sim->nodes[v.v[k].idx];
        unsigned r = chord_node_routing(sn->node)->r;
        unsigned m = v.n - 1 < r ? (unsigned)(v.n - 1) : r;
        for (unsigned j = 0; j < m; j++) {
            succ[j] = sim->nodes[v.v[(k + 1 + j) % v.n].idx]->self;
            preds[j] = sim->nodes[v.v[(k + v.n - 1 - j) % v.n].idx]->self;
        }
        chord_node_start_static(sn->node, sim->now, succ, m, preds, m,
                                successor_of, &v);
        chord_sim__node_after(sim, sn, false);
    }
    free(v.v);
    return 0;
}
