/*
 * build.c - phase 1 of a dht-sim run: the ring built in doubling waves,
 * then left to settle until it is exact.
 *
 * Node 0 creates the ring; the others join in waves: each wave adds as
 * many nodes as are ACTIVE already (the ring doubles), each joining
 * through a random ACTIVE node, spread over WAVE_SPREAD_MS; the next wave
 * starts when every joiner is ACTIVE (or has given up and is replaced).
 * Then the simulation runs until the ring is exact (chord_sim_check_ring()
 * == 0: successor lists, predecessors and every finger), at most
 * SETTLE_MAX_MS. The network is lossless here; --loss applies later.
 *
 * With --static the nodes start at once in an exact ring instead
 * (chord_sim_start_static), and the settle check must pass at once.
 *
 * It does not store keys or measure anything: build_ms and settle_ms are
 * its only results.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/sim.h"
#include "common/progress.h"
#include "dht_sim.h"

/* Run until the ring is exact (with `fingers`: chord_sim_check_ring, else
 * chord_sim_check_successors), checking every `step` ms, at most
 * SETTLE_MAX_MS. The time it took goes to *took. 0, or -1 after printing
 * why not. */
static int settle(struct sim_run *run, bool fingers, uint64_t step,
                  uint64_t *took)
{
    char err[256];
    uint64_t t0 = chord_sim_now(run->sim);
    for (;;) {
        int wrong = fingers
                        ? chord_sim_check_ring(run->sim, err, sizeof err)
                        : chord_sim_check_successors(run->sim, err, sizeof err);
        if (wrong == 0) {
            *took = chord_sim_now(run->sim) - t0;
            return 0;
        }
        if (wrong < 0 || chord_sim_now(run->sim) - t0 >= SETTLE_MAX_MS) {
            fprintf(stderr,
                    "dht-sim: the ring is not exact %" PRIu64
                    " ms after the joins (seed %" PRIu64
                    "): %d wrong entries; first: %s\n",
                    chord_sim_now(run->sim) - t0, run->o.seed, wrong,
                    wrong < 0 ? "out of memory" : err);
            return -1;
        }
        if (fingers)
            dsim_vlog(run, "settling: %d wrong entries; first: %s", wrong, err);
        if (dsim_advance(run, chord_sim_now(run->sim) + step))
            return -1;
    }
}

/* --static: all the nodes at once in an exact ring (chord_sim_start_static),
 * checked like a built one. 0, or -1 after printing why not. */
static int start_static(struct sim_run *run)
{
    for (unsigned j = 0; j < run->o.nodes; j++)
        if (dsim_add_node(run) < 0) {
            fprintf(stderr, "dht-sim: cannot add node %u\n", j);
            return -1;
        }
    if (chord_sim_start_static(run->sim) != 0) {
        fprintf(stderr, "dht-sim: cannot start the static ring\n");
        return -1;
    }
    run->build_ms = chord_sim_now(run->sim);
    if (settle(run, true, SETTLE_STEP_MS, &run->settle_ms))
        return -1;
    dsim_vlog(run,
              "static ring of %u nodes started, exact %" PRIu64 " ms later",
              run->o.nodes, run->settle_ms);
    return 0;
}

/* Phase 1 (see the top of the file): create, join in doubling waves,
 * settle to an exact ring. 0, or -1 after printing why not. */
int dsim_build_ring(struct sim_run *run)
{
    if (run->o.static_ring)
        return start_static(run);
    int first = dsim_add_node(run);
    if (first < 0 || chord_sim_create(run->sim, first) != 0) {
        fprintf(stderr, "dht-sim: cannot create the first node\n");
        return -1;
    }
    unsigned active = 1;
    int *wave = malloc(run->o.nodes * sizeof *wave);
    if (!wave) {
        fprintf(stderr, "dht-sim: out of memory\n");
        return -1;
    }
    /* On a terminal: nodes joined so far (not with --json). */
    struct chord_progress progress;
    chord_progress_start(&progress, "dht-sim: joins", run->o.nodes,
                         run->o.json);
    while (active < run->o.nodes) {
        unsigned size = run->o.nodes - active;
        if (size > active)
            size = active;
        uint64_t t0 = chord_sim_now(run->sim);
        for (unsigned j = 0; j < size; j++) {
            if (dsim_advance(run, t0 + (uint64_t)j * WAVE_SPREAD_MS / size))
                goto fail;
            int i = dsim_join_one(run);
            if (i < 0) {
                fprintf(stderr, "dht-sim: join failed: %s\n", strerror(-i));
                goto fail;
            }
            wave[j] = i;
            chord_progress_update(&progress, active + j + 1);
        }
        /* Wait until every joiner is ACTIVE or has given up (FAILED). */
        uint64_t deadline = chord_sim_now(run->sim) + WAVE_WAIT_MAX_MS;
        unsigned pending = size;
        while (pending > 0) {
            if (chord_sim_now(run->sim) >= deadline) {
                fprintf(stderr,
                        "dht-sim: %u joiners still not ACTIVE after %u ms "
                        "(seed %" PRIu64 ")\n",
                        pending, WAVE_WAIT_MAX_MS, run->o.seed);
                goto fail;
            }
            if (dsim_advance(run, chord_sim_now(run->sim) + WAVE_POLL_MS))
                goto fail;
            pending = 0;
            for (unsigned j = 0; j < size; j++)
                if (chord_sim_is_up(run->sim, wave[j]) &&
                    !dsim_is_active(run, wave[j]))
                    pending++;
        }
        active = dsim_count_active(run);
        uint64_t took;
        if (settle(run, false, WAVE_POLL_MS, &took))
            goto fail;
        dsim_vlog(run,
                  "wave of %u joins: %u active, successors exact %" PRIu64
                  " ms later",
                  size, active, took);
    }
    chord_progress_finish(&progress);
    free(wave);
    run->build_ms = chord_sim_now(run->sim);
    if (settle(run, true, SETTLE_STEP_MS, &run->settle_ms))
        return -1;
    dsim_vlog(run, "ring exact after %" PRIu64 " ms more", run->settle_ms);
    return 0;
fail:
    chord_progress_finish(&progress);
    free(wave);
    return -1;
}
