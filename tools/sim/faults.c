/*
 * faults.c - what dht-sim does to the ring: phase 3's crashes at once
 * (--fail), churn during the measurement (--churn: a Poisson process of
 * RATE events per second, each a join or a crash with probability 1/2, as
 * in the paper: joins and failures each at RATE/2), and the events of a
 * --script (crash, join, leave, partition, heal, loss).
 *
 * Every choice (which node, which group, when the next churn event comes)
 * is drawn from the tool's PRNG, so a run stays a function of the options
 * and the seed. Partitions exist only in a script: the ring is always
 * built whole.
 *
 * It does not decide when an event is due (measure.c does) and does not
 * read the script file (script.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/sim.h"
#include "dht_sim.h"

/* Phase 3: crash round(fail * N) random up nodes at once. */
void dsim_fail_nodes(struct sim_run *run)
{
    unsigned want = (unsigned)llround(run->o.fail * run->o.nodes);
    for (unsigned j = 0; j < want; j++) {
        int i = dsim_pick_up(run);
        if (i < 0)
            break;
        if (chord_sim_crash(run->sim, i) == 0)
            run->failed_nodes++;
        dsim_live_prune(run);
    }
}

/* Exponential inter-arrival time in ms for `rate` events per second. */
uint64_t dsim_churn_gap(struct sim_run *run, double rate)
{
    double u = dsim_rnd_unit(run);
    double ms = -log(1.0 - u) / rate * 1000.0;
    return ms < 1.0 ? 1 : (uint64_t)ms;
}

/* One churn event: a join through a random ACTIVE node or the crash of
 * a random up node, with probability 1/2 each. */
void dsim_churn_event(struct sim_run *run)
{
    if (dsim_rnd(run) & 1) {
        int i = dsim_join_one(run);
        if (i >= 0)
            run->joins++;
        else
            run->joins_failed++;
        return;
    }
    int i = dsim_pick_up(run);
    if (i >= 0 && chord_sim_crash(run->sim, i) == 0)
        run->crashes++;
}

/* Script "partition F": a random round(F * up) of the up nodes go to
 * group 1, every other node to group 0. 0 or -ENOMEM. */
static int script_partition(struct sim_run *run, double frac)
{
    dsim_live_prune(run);
    size_t n = run->n_live;
    size_t want = (size_t)llround(frac * (double)n);
    int count = chord_sim_count(run->sim);
    uint8_t *group = calloc((size_t)count ? (size_t)count : 1, 1);
    int *pool = malloc((n ? n : 1) * sizeof *pool);
    if (!group || !pool) {
        free(group);
        free(pool);
        return -ENOMEM;
    }
    memcpy(pool, run->live, n * sizeof *pool);
    for (size_t j = 0; j < want; j++) { /* partial Fisher-Yates */
        size_t k = j + dsim_rnd_below(run, n - j);
        int t = pool[j];
        pool[j] = pool[k];
        pool[k] = t;
        group[pool[j]] = 1;
    }
    int rc = chord_sim_partition(run->sim, group, (size_t)count);
    free(group);
    free(pool);
    return rc;
}

/* Apply one script event now. 0, or -ENOMEM (printed). */
int dsim_script_apply(struct sim_run *run, const struct script_ev *ev)
{
    static const char *const names[] = {"crash",     "join", "leave",
                                        "partition", "heal", "loss"};
    switch (ev->action) {
    case ACT_CRASH:
        for (unsigned j = 0; j < ev->count; j++) {
            int i = dsim_pick_up(run);
            if (i < 0)
                break;
            if (chord_sim_crash(run->sim, i) == 0)
                run->script_crashes++;
            dsim_live_prune(run);
        }
        break;
    case ACT_JOIN:
        for (unsigned j = 0; j < ev->count; j++) {
            if (dsim_join_one(run) >= 0)
                run->script_joins++;
            else
                run->script_joins_failed++;
        }
        break;
    case ACT_LEAVE:
        for (unsigned j = 0; j < ev->count; j++) {
            int i = dsim_pick_active(run);
            if (i < 0)
                break;
            if (chord_sim_leave(run->sim, i) == 0)
                run->script_leaves++;
        }
        break;
    case ACT_PARTITION:
        if (script_partition(run, ev->value) != 0) {
            fprintf(stderr, "dht-sim: out of memory\n");
            return -ENOMEM;
        }
        run->partitioned = true;
        break;
    case ACT_HEAL:
        chord_sim_heal(run->sim);
        run->partitioned = false;
        break;
    case ACT_LOSS:
        chord_sim_set_loss(run->sim, ev->value);
        break;
    default:
        break;
    }
    run->script_done++;
    dsim_vlog(run, "script: %s", names[ev->action]);
    return 0;
}
