/*
 * nodes.c - the nodes as dht-sim sees them: the list of those it believes
 * up, random picks among them, and adding or joining one more.
 *
 * The live list holds the nodes believed up, in the order they were added;
 * a node that went down is dropped when a pick meets it or when a caller
 * prunes, and pruning keeps the order, so every pick is a function of the
 * seed. A new node's configuration comes from the options, its PRNG seed
 * from the tool's PRNG.
 *
 * It never drives a node directly, only through the simulator's API, and
 * it does not crash nodes (faults.c does).
 */
#include <errno.h>
#include <stdlib.h>

#include "chord/node.h"
#include "chord/sim.h"
#include "dht_sim.h"

/* Node i is up and a member (ACTIVE). */
bool dsim_is_active(const struct sim_run *run, int i)
{
    return chord_sim_is_up(run->sim, i) &&
           chord_sim_state(run->sim, i) == CHORD_NODE_ACTIVE;
}

/* Remember node i as up. 0 or -ENOMEM. */
static int live_push(struct sim_run *run, int i)
{
    if (run->n_live == run->cap_live) {
        size_t cap = run->cap_live ? run->cap_live * 2 : 1024;
        int *v = realloc(run->live, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        run->live = v;
        run->cap_live = cap;
    }
    run->live[run->n_live++] = i;
    return 0;
}

/* Drop nodes that went down from the live list (order is kept, so the
 * run stays a function of the seed). */
void dsim_live_prune(struct sim_run *run)
{
    size_t k = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (chord_sim_is_up(run->sim, run->live[j]))
            run->live[k++] = run->live[j];
    run->n_live = k;
}

/* A random ACTIVE node, or -1 when there is none. */
int dsim_pick_active(struct sim_run *run)
{
    if (run->n_live == 0)
        return -1;
    for (int t = 0; t < PICK_TRIES; t++) {
        int i = run->live[dsim_rnd_below(run, run->n_live)];
        if (dsim_is_active(run, i))
            return i;
    }
    dsim_live_prune(run);
    size_t n = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (dsim_is_active(run, run->live[j]))
            n++;
    if (n == 0)
        return -1;
    size_t want = dsim_rnd_below(run, n);
    for (size_t j = 0; j < run->n_live; j++)
        if (dsim_is_active(run, run->live[j]) && want-- == 0)
            return run->live[j];
    return -1;
}

/* A random up node (any state), or -1. */
int dsim_pick_up(struct sim_run *run)
{
    for (int t = 0; t < PICK_TRIES && run->n_live > 0; t++) {
        int i = run->live[dsim_rnd_below(run, run->n_live)];
        if (chord_sim_is_up(run->sim, i))
            return i;
    }
    dsim_live_prune(run);
    return run->n_live ? run->live[dsim_rnd_below(run, run->n_live)] : -1;
}

/* Add a node configured from the options (its PRNG seed from the tool's
 * PRNG) and remember it. Its index, or a negative errno. */
int dsim_add_node(struct sim_run *run)
{
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.successors = run->o.successors;
    cfg.replicas = run->o.replicas;
    cfg.stabilize_ms = run->o.stabilize_ms;
    cfg.fix_fingers_ms = run->o.fix_fingers_ms;
    cfg.rpc_timeout_ms = run->o.rpc_timeout_ms;
    cfg.pns = run->o.pns;
    cfg.log_level = run->o.log_level >= 0 ? run->o.log_level : CHORD_LOG_ERROR;
    cfg.seed = dsim_rnd(run);
    int i = chord_sim_add_node(run->sim, &cfg, NULL);
    if (i < 0)
        return i;
    int rc = live_push(run, i);
    return rc ? rc : i;
}

/* Add a node and join it through a random ACTIVE node. Its index, or a
 * negative errno (-EHOSTUNREACH when no node is ACTIVE). */
int dsim_join_one(struct sim_run *run)
{
    int seed = dsim_pick_active(run);
    if (seed < 0)
        return -EHOSTUNREACH;
    int i = dsim_add_node(run);
    if (i < 0)
        return i;
    int rc = chord_sim_join(run->sim, i, seed);
    return rc ? rc : i;
}

/* ACTIVE nodes now (prunes the live list). */
unsigned dsim_count_active(struct sim_run *run)
{
    dsim_live_prune(run);
    unsigned n = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (dsim_is_active(run, run->live[j]))
            n++;
    return n;
}
