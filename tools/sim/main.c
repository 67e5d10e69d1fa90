/*
 * main.c - dht-sim, the simulator on the command line: many nodes of the
 * unmodified protocol core in one process, in simulated time, and the
 * figures of the Chord paper's experiments measured on them.
 *
 *   dht-sim --nodes N [--successors R] [--replicas K] [--keys M]
 *           [--lookups L] [--fail FRACTION] [--churn RATE] [--duration T]
 *           [--seed S] [--latency MODEL] [--loss P] [--script FILE]
 *           [--stabilize-ms MS] [--fix-fingers-ms MS] [--rpc-timeout-ms MS]
 *           [--check-every K] [--pns] [--json] [--verbose]
 *           [--snapshot FILE] [--help]
 *
 * (network models and the request timeout: options.c; the script format:
 * script.c; what a failed lookup and a hop are: measure.c; Zave's
 * invariant: run.c; the files and who calls whom: dht_sim.h)
 *
 * A run has four phases, all in simulated time:
 *  1. Build (build.c). Node 0 creates the ring; the others join in
 *     doubling waves; then the simulation runs until the ring is exact
 *     (successor lists, predecessors and every finger). The network is
 *     lossless here; --loss applies from phase 2 on.
 *  2. Keys (with --replicas or --keys; workload.c): M keys are put through
 *     random nodes, then KEYS_SYNC_ROUNDS anti-entropy periods pass so
 *     that every replica has its copy before any failure.
 *  3. Failure (with --fail F; faults.c): round(F * N) random members crash
 *     at once.
 *  4. Measure (measure.c): L lookups of random keys, each sent to a random
 *     ACTIVE node at evenly spaced times over T seconds (all at once when
 *     T = 0), while churn (--churn RATE) joins and crashes nodes and a
 *     --script applies its events on time. The run then waits for the
 *     lookups still in flight. With keys, the ring is given time to repair
 *     (successor lists exact again, then KEYS_SYNC_ROUNDS anti-entropy
 *     periods) and each key is read back through a random node; keys_lost
 *     counts those that cannot be read or come back with another value.
 *
 * Output: the seed first, then the figures, one per line; with --json one
 * object. Everything printed on stdout is a function of the options and
 * the seed: the same seed gives the same bytes. --snapshot FILE also
 * writes the final ring as `dht ring --json` would (snapshot.c).
 * Wall-clock times go to stderr only, with --verbose. Exit: 0 ok, 2 usage error
 * (a bad matrix or script file is named as FILE:LINE: on one line), 3 the run
 * could not complete (the ring did not converge, an invariant broke, or memory
 * ran out).
 *
 * Partitions exist only in a script (the ring is always built whole), and
 * the tool never drives a node directly: only through the simulator's
 * API.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"
#include "chord/sim.h"
#include "common/exit.h"
#include "dht_sim.h"

int main(int argc, char **argv)
{
    struct sim_run run;
    memset(&run, 0, sizeof run);
    int rc = dsim_opts_parse(argc, argv, &run.o);
    /* The files last: a script's times are checked against --duration. */
    if (rc == 0 && run.o.latency == LATENCY_MATRIX)
        rc = dsim_matrix_read(&run.o);
    if (rc == 0 && run.o.script_file)
        rc = dsim_script_read(&run.o);
    if (rc == 0)
        dsim_opts_finish(&run.o);
    /* A snapshot that cannot be written is refused before a long run. */
    if (rc == 0 && run.o.snapshot_file &&
        dsim_snapshot_probe(run.o.snapshot_file))
        rc = CHORD_EXIT_USAGE;
    if (rc) {
        free(run.o.matrix);
        free(run.o.script);
        return rc == -1 ? CHORD_EXIT_OK : rc;
    }
    const struct sim_opts *o = &run.o;

    /* The seed first, so that any run can be replayed. */
    if (o->json)
        fprintf(stderr, "dht-sim: seed %" PRIu64 "\n", o->seed);
    else
        printf("seed %" PRIu64 "\n", o->seed);
    fflush(stdout);

    struct chord_sim_config cfg;
    chord_sim_config_default(&cfg);
    cfg.seed = o->seed;
    cfg.min_delay_ms = o->min_delay;
    cfg.max_delay_ms = o->max_delay;
    cfg.loss = 0.0;
    cfg.log_stderr = o->log_level >= 0;
    cfg.log_level = o->log_level >= 0 ? o->log_level : CHORD_LOG_ERROR;
    run.rng = o->seed ^ UINT64_C(0x6468742d73696d21); /* "dht-sim!" */
    run.lk = calloc(o->lookups ? o->lookups : 1, sizeof *run.lk);
    run.kv = calloc(o->keys ? o->keys : 1, sizeof *run.kv);
    if (!run.lk || !run.kv || chord_sim_new(&cfg, &run.sim) != 0 ||
        (o->latency == LATENCY_GEO &&
         chord_sim_set_latency_geo(run.sim, o->geo_clusters) != 0) ||
        (o->latency == LATENCY_MATRIX &&
         chord_sim_set_latency_matrix(run.sim, o->matrix, o->matrix_m) != 0)) {
        fprintf(stderr, "dht-sim: out of memory\n");
        rc = CHORD_EXIT_FAILED;
        goto out;
    }
    dsim_vlog(&run, "building a ring of %u nodes", o->nodes);
    rc = CHORD_EXIT_FAILED;
    if (dsim_build_ring(&run))
        goto out;
    if (chord_sim_set_loss(run.sim, o->loss) != 0)
        goto out;
    if (o->keys) {
        dsim_vlog(&run, "storing %u keys", o->keys);
        if (dsim_put_keys(&run))
            goto out;
    }
    if (o->fail > 0) {
        dsim_fail_nodes(&run);
        dsim_vlog(&run, "crashed %u nodes", run.failed_nodes);
    }
    dsim_vlog(&run, "measuring %u lookups", o->lookups);
    if (dsim_measure(&run))
        goto out;
    if (o->keys) {
        dsim_vlog(&run, "reading the keys back");
        if (dsim_check_keys(&run))
            goto out;
    }
    /* A last check, whatever K is. */
    if (o->check_every && dsim_check_now(&run))
        goto out;

    struct sim_report rep;
    if (dsim_summarize(&run, &rep) != 0) {
        fprintf(stderr, "dht-sim: out of memory\n");
        goto out;
    }
    struct chord_sim_stats st;
    chord_sim_stats(run.sim, &st);
    if (o->json)
        dsim_print_json(&run, &rep, &st);
    else
        dsim_print_text(&run, &rep, &st);
    if (o->snapshot_file) {
        dsim_vlog(&run, "writing the snapshot %s", o->snapshot_file);
        if (dsim_snapshot_write(&run, o->snapshot_file))
            goto out;
    }
    dsim_vlog(&run, "done");
    rc = CHORD_EXIT_OK;
out:
    fflush(stdout);
    chord_sim_free(run.sim);
    free(run.live);
    free(run.lk);
    free(run.kv);
    free(run.o.matrix);
    free(run.o.script);
    return rc;
}
