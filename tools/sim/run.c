/*
 * run.c - what every phase of dht-sim leans on: the tool's own PRNG, its
 * progress lines, and simulated time moving forward with Zave's
 * invariant checked on the way.
 *
 * Zave's invariant (chord_sim_check_invariant: every member has a live
 * successor entry; and once the ring has had r + 1 members, it keeps at
 * least r + 1) is checked every K events (--check-every; 0 = never); a
 * violation stops the run with the seed and the event number, exit 3.
 *
 * Invariants: every random choice of the tool comes from dsim_rnd(), so a
 * run is a function of the options and the seed; wall-clock time goes
 * only to stderr, with --verbose. Once an invariant is violated the clock
 * never moves again (dsim_advance() returns -1 at once).
 *
 * It does not pick nodes, send requests or print the report.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "chord/sim.h"
#include "dht_sim.h"

/* splitmix64: the tool's own PRNG, seeded from --seed. */
uint64_t dsim_rnd(struct sim_run *run)
{
    uint64_t z = (run->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
double dsim_rnd_unit(struct sim_run *run)
{
    return (double)(dsim_rnd(run) >> 11) * 0x1p-53;
}

/* Uniform in [0, n), n > 0 (bias below 2^-32 for n < 2^32). */
size_t dsim_rnd_below(struct sim_run *run, size_t n)
{
    return (size_t)(dsim_rnd(run) % n);
}

/* A progress line on stderr with --verbose, with wall-clock seconds. */
void dsim_vlog(const struct sim_run *run, const char *fmt, ...)
{
    if (!run->o.verbose)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static const char prefix[] = "dht-sim: ";
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s[wall %ld.%03ld] [sim %" PRIu64 " ms] %s\n", prefix,
            (long)ts.tv_sec, ts.tv_nsec / 1000000L, chord_sim_now(run->sim),
            line);
}

/* Check Zave's invariant now. 0, or -1 after printing the violation. */
int dsim_check_now(struct sim_run *run)
{
    char err[256];
    unsigned members = 0;
    run->checks++;
    int bad = chord_sim_check_invariant(run->sim, err, sizeof err, &members);
    unsigned need = run->o.successors + 1;
    if (bad == 0 && run->max_members >= need && members < need) {
        snprintf(err, sizeof err,
                 "only %u members left: fewer than r + 1 = %u principals",
                 members, need);
        bad = 1;
    }
    if (members > run->max_members)
        run->max_members = members;
    if (bad <= 0)
        return 0;
    struct chord_sim_stats st;
    chord_sim_stats(run->sim, &st);
    fflush(stdout);
    char more[48] = "";
    if (bad > 1)
        snprintf(more, sizeof more, " (%d members in that state)", bad);
    fprintf(stderr,
            "dht-sim: invariant violated at event %" PRIu64 " (t=%" PRIu64
            " ms, seed %" PRIu64 "): %s%s%s\n",
            st.events, chord_sim_now(run->sim), run->o.seed, err, more,
            run->partitioned ? " (during a scripted partition)" : "");
    run->violated = true;
    return -1;
}

/* Run the simulation until time t, checking the invariant every
 * check_every events. 0, or -1 on a violation (the clock then stops at
 * the offending event). */
int dsim_advance(struct sim_run *run, uint64_t t)
{
    if (run->violated)
        return -1;
    for (;;) {
        uint64_t k = run->o.check_every ? run->o.check_every - run->since_check
                                        : UINT64_MAX;
        uint64_t done = chord_sim_run_events(run->sim, t, k);
        run->since_check += done;
        if (run->o.check_every && run->since_check >= run->o.check_every) {
            run->since_check = 0;
            if (dsim_check_now(run))
                return -1;
        }
        if (done < k)
            return 0;
    }
}
