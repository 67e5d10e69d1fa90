/*
 * dht_sim.c - dht-sim, the simulator on the command line: many nodes of
 * the unmodified protocol core in one process, in simulated time, and the
 * figures of the Chord paper's experiments measured on them.
 *
 *   dht-sim --nodes N [--successors R] [--replicas K] [--keys M]
 *           [--lookups L] [--fail FRACTION] [--churn RATE] [--duration T]
 *           [--seed S] [--latency MODEL] [--loss P] [--script FILE]
 *           [--stabilize-ms MS] [--fix-fingers-ms MS] [--rpc-timeout-ms MS]
 *           [--check-every K] [--pns] [--json] [--verbose] [--help]
 *
 * Network models (the simulator's, see chord/sim.h): --latency const:MS,
 * uniform:MIN:MAX (the default, uniform:1:5), geo[:CLUSTERS] (a synthetic
 * Internet: CLUSTERS continents, default 5; 2-20 ms one way within one,
 * 40-147 ms between two), or matrix:FILE (M lines of M whitespace-
 * separated delays in ms, row = sender's host, '#' starts a comment; node
 * i sits on host i % M). Partitions come from a script. The core's
 * request timeout (--rpc-timeout-ms) also bounds a whole recursive lookup:
 * with long delays (geo lookups of 1000 nodes take 440 ms on average, 800
 * at p99) a lookup that takes longer fails. So its default is 1000 ms or
 * 20 times the model's longest one-way delay, whichever is more (2940 ms
 * for geo). --pns turns on proximity routing in every node (node.h); the
 * ring check then accepts any member of a finger's interval.
 *
 * A run has four phases, all in simulated time:
 *  1. Build. Node 0 creates the ring; the others join in waves: each wave
 *     adds as many nodes as are ACTIVE already (the ring doubles), each
 *     joining through a random ACTIVE node, spread over WAVE_SPREAD_MS;
 *     the next wave starts when every joiner is ACTIVE (or has given up
 *     and is replaced). Then the simulation runs until the ring is exact
 *     (chord_sim_check_ring() == 0: successor lists, predecessors and
 *     every finger), at most SETTLE_MAX_MS. The network is lossless here;
 *     --loss applies from phase 2 on.
 *  2. Keys (with --replicas or --keys): M keys are put through random
 *     nodes, then KEYS_SYNC_ROUNDS anti-entropy periods pass so that every
 *     replica has its copy before any failure.
 *  3. Failure (with --fail F): round(F * N) random members crash at once.
 *  4. Measure: L lookups of random keys, each sent to a random ACTIVE node
 *     at evenly spaced times over T seconds (all at once when T = 0),
 *     while churn (--churn RATE) joins and crashes nodes as a Poisson
 *     process of RATE events per second, each a join or a crash with
 *     probability 1/2 (as in the paper: joins and failures each at RATE/2),
 *     and a --script applies its events on time (below). The run then
 *     waits for the lookups still in flight. With keys, the
 *     ring is given time to repair (successor lists exact again, then
 *     KEYS_SYNC_ROUNDS anti-entropy periods) and each key is read back
 *     through a random node; keys_lost counts those that cannot be read
 *     or come back with another value.
 *
 * A lookup fails when the client gets no answer (timeout), the node gives
 * up (status not OK), or the owner it names is not the true owner
 * (chord_sim_owner) at the moment the answer arrives. A lookup whose
 * origin node crashed under it is "aborted": not a protocol failure,
 * reported apart and left out of the other figures. `hops` is the core's
 * count: the path lists the nodes visited from the contacted node to the
 * owner, the owner last, and hops = len(path) - 1 (a node whose
 * successor list reaches the key sends it straight to the owner). The
 * paper counts the nodes traversed until the key's predecessor answers;
 * hops - 1 is given beside ours for comparison. Timeouts: the core retries a
 * lookup only after its request timed out (--rpc-timeout-ms) and a lookup
 * without a timeout takes about hops x latency, far below that, so its timeouts
 * are floor(latency / rpc_timeout_ms). With the geo and matrix models the
 * delays are no longer small next to that timeout, so the delays of the
 * lookup's own messages (along its path, then the owner's answer back to
 * the contacted node; chord_sim_link_delay) are taken off the latency
 * first.
 *
 * Script (--script FILE): one event a line, "AT ACTION [ARG]", AT in
 * simulated seconds from the start of the measured phase (0 .. T, never
 * decreasing from one line to the next), '#' starts a comment:
 *     crash N       N random up nodes crash
 *     join N        N new nodes join, each through a random ACTIVE node
 *     leave N       N random ACTIVE nodes leave gracefully
 *     partition F   a random fraction F (0 < F < 1) of the up nodes goes
 *                   to group 1, every other node to group 0: frames
 *                   between the two are dropped (replaces any earlier
 *                   partition; nodes that join later are in group 0)
 *     heal          every node back to group 0
 *     loss P        message loss from now on (0 <= P < 1)
 * Events due at the same millisecond as a lookup run before it. Random
 * choices come from the tool's PRNG, so a script keeps a run a function
 * of the options and the seed. Zave's invariant is still checked during a
 * partition, although her model assumes none: a partition that outlasts
 * the failure detector (about 2 s) can leave a node whose whole successor
 * list is on the other side with no successor at all, and the run then
 * stops as for any violation (the message says a partition was on).
 *
 * Zave's invariant (chord_sim_check_invariant: every member has a live
 * successor entry; and once the ring has had r + 1 members, it keeps at
 * least r + 1) is checked every K events (--check-every; 0 = never); a
 * violation stops the run with the seed and the event number, exit 3.
 *
 * Output: the seed first, then the figures, one per line; with --json one
 * object. Everything printed on stdout is a function of the options and
 * the seed: the same seed gives the same bytes. Wall-clock times go to
 * stderr only, with --verbose. Exit: 0 ok, 2 usage error (a bad matrix
 * or script file is named as FILE:LINE: on one line), 3 the run could not
 * complete (the ring did not converge, an invariant broke, or memory ran
 * out).
 *
 * Partitions exist only in a script (the ring is always built whole), and
 * the tool never drives a node directly: only through the simulator's
 * API.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chord/id.h"
#include "chord/node.h"
#include "chord/sim.h"
#include "common/args.h"
#include "common/exit.h"

/* Caps and tunables. */
#define SIM_NODES_CAP 200000u      /* --nodes, plus joins under churn */
#define SIM_LOOKUPS_CAP 10000000u  /* --lookups */
#define SIM_KEYS_CAP 1000000u      /* --keys */
#define SIM_DURATION_CAP_S 86400.0 /* --duration: one simulated day */
#define SIM_CHURN_CAP 100000.0     /* --churn events per second */
#define SIM_DELAY_CAP_MS 60000u    /* --latency bounds */
#define SIM_INFLIGHT_MAX 8192u     /* client requests the tool keeps open */
#define SIM_KEYS_DEFAULT 1000u     /* keys stored when --replicas is given */
#define WAVE_SPREAD_MS 100u        /* joins of one wave spread over this */
#define WAVE_POLL_MS 50u           /* how often a wave's progress is read */
#define WAVE_WAIT_MAX_MS 60000u    /* a wave must be ACTIVE within this */
#define SETTLE_STEP_MS 500u        /* ring exactness is checked this often */
#define SETTLE_MAX_MS 300000u      /* the ring must be exact within this */
#define DRAIN_SLACK_MS 1000u       /* past the client timeout, at the end */
#define KEYS_REPAIR_MAX_MS 60000u  /* wait for a repaired ring at most */
#define KEYS_SYNC_ROUNDS 3u        /* anti-entropy periods, then read keys */
#define PICK_TRIES 64              /* random probes before a linear scan */
#define SIM_SCRIPT_CAP 100000u     /* events in a --script file */

enum sim_latency {
    LATENCY_UNIFORM = 0, /* const:MS or uniform:MIN:MAX */
    LATENCY_GEO,
    LATENCY_MATRIX,
};

/* What a --script line does (see the top of the file). */
enum script_action {
    ACT_CRASH = 0,
    ACT_JOIN,
    ACT_LEAVE,
    ACT_PARTITION,
    ACT_HEAL,
    ACT_LOSS,
};

struct script_ev {
    uint64_t at_ms; /* from the start of the measured phase */
    uint8_t action; /* enum script_action */
    unsigned count; /* crash, join, leave */
    double value;   /* partition fraction, loss probability */
};

struct sim_opts {
    unsigned nodes;
    unsigned successors;
    unsigned replicas; /* copies of each key, owner included */
    unsigned keys;     /* keys stored before failures (0: none) */
    unsigned lookups;
    double fail;
    double churn;      /* events per simulated second */
    uint64_t duration; /* ms */
    uint64_t seed;
    uint32_t min_delay, max_delay; /* uniform model */
    uint8_t latency;               /* enum sim_latency */
    unsigned geo_clusters;         /* LATENCY_GEO */
    const char *matrix_file;       /* LATENCY_MATRIX (argv) */
    uint32_t *matrix;              /* matrix_m * matrix_m delays, owned */
    unsigned matrix_m;
    const char *script_file;  /* --script (argv), or NULL */
    struct script_ev *script; /* n_script events, owned */
    size_t n_script;
    double loss;
    uint32_t stabilize_ms, fix_fingers_ms, rpc_timeout_ms;
    uint64_t check_every; /* events; 0 = never */
    bool check_set;
    bool rpc_set; /* --rpc-timeout-ms given */
    bool json;
    bool verbose;
    bool pns;      /* proximity routing in every node */
    int log_level; /* node log lines on stderr at this level; -1 = none */
};

/* The outcome of one client request (lookup, put or get). */
enum sim_outcome {
    OUT_PENDING = 0,
    OUT_OK,          /* answered, and right */
    OUT_WRONG,       /* lookup answered with the wrong owner; get: value */
    OUT_WRONG_DOWN,  /* lookup answered with an owner that is down */
    OUT_TIMEOUT,     /* no answer within the client timeout */
    OUT_UNAVAILABLE, /* the node answered with a status other than OK */
    OUT_ERROR,       /* another error (-EPROTO, -ENOMEM) */
    OUT_ABORTED,     /* the contacted node went down */
};

struct sim_run;

struct sim_req {
    struct sim_run *run;
    uint32_t index;  /* lookup or key number */
    uint8_t outcome; /* enum sim_outcome */
    bool stored;     /* a key whose put succeeded */
    uint8_t hops;
    uint32_t latency_ms;
    uint32_t path_ms; /* the delays of its own messages (geo, matrix) */
};

struct sim_run {
    struct sim_opts o;
    struct chord_sim *sim;
    uint64_t rng;

    /* Nodes believed up, in no particular order (a down one is dropped
     * when a pick meets it). */
    int *live;
    size_t n_live, cap_live;

    uint64_t since_check; /* events since the last invariant check */
    uint64_t checks;
    unsigned max_members;
    bool violated;

    size_t inflight; /* client requests this tool has open */

    /* Results. */
    struct sim_req *lk; /* one per lookup */
    struct sim_req *kv; /* one per key (put, then get) */
    uint64_t build_ms, settle_ms;
    unsigned failed_nodes, joins, crashes, joins_failed;
    size_t script_done; /* script events applied */
    unsigned script_crashes, script_joins, script_leaves;
    unsigned script_joins_failed;
    bool partitioned; /* a script partition is in effect */
    unsigned keys_stored, keys_put_failed;
    uint64_t repair_ms; /* until the successor lists were exact again */
    double live_ms;     /* integral of up nodes over the measured window */
    uint64_t t_start, t_end;
    uint64_t delivered;
};

/* ---- small helpers ------------------------------------------------------- */

/* splitmix64: the tool's own PRNG, seeded from --seed. */
static uint64_t rnd(struct sim_run *run)
{
    uint64_t z = (run->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rnd_unit(struct sim_run *run)
{
    return (double)(rnd(run) >> 11) * 0x1p-53;
}

/* Uniform in [0, n), n > 0 (bias below 2^-32 for n < 2^32). */
static size_t rnd_below(struct sim_run *run, size_t n)
{
    return (size_t)(rnd(run) % n);
}

/* A progress line on stderr with --verbose (declared for the format
 * check). */
static void vlog(const struct sim_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A progress line on stderr with --verbose, with wall-clock seconds. */
static void vlog(const struct sim_run *run, const char *fmt, ...)
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

/* Node i is up and a member (ACTIVE). */
static bool is_active(const struct sim_run *run, int i)
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
static void live_prune(struct sim_run *run)
{
    size_t k = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (chord_sim_is_up(run->sim, run->live[j]))
            run->live[k++] = run->live[j];
    run->n_live = k;
}

/* A random ACTIVE node, or -1 when there is none. */
static int pick_active(struct sim_run *run)
{
    if (run->n_live == 0)
        return -1;
    for (int t = 0; t < PICK_TRIES; t++) {
        int i = run->live[rnd_below(run, run->n_live)];
        if (is_active(run, i))
            return i;
    }
    live_prune(run);
    size_t n = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (is_active(run, run->live[j]))
            n++;
    if (n == 0)
        return -1;
    size_t want = rnd_below(run, n);
    for (size_t j = 0; j < run->n_live; j++)
        if (is_active(run, run->live[j]) && want-- == 0)
            return run->live[j];
    return -1;
}

/* A random up node (any state), or -1. */
static int pick_up(struct sim_run *run)
{
    for (int t = 0; t < PICK_TRIES && run->n_live > 0; t++) {
        int i = run->live[rnd_below(run, run->n_live)];
        if (chord_sim_is_up(run->sim, i))
            return i;
    }
    live_prune(run);
    return run->n_live ? run->live[rnd_below(run, run->n_live)] : -1;
}

/* ---- running the simulation with invariant checks ------------------------ */

/* Check Zave's invariant now. 0, or -1 after printing the violation. */
static int check_now(struct sim_run *run)
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
static int advance(struct sim_run *run, uint64_t t)
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
            if (check_now(run))
                return -1;
        }
        if (done < k)
            return 0;
    }
}

/* ---- phase 1: build the ring --------------------------------------------- */

/* Add a node configured from the options (its PRNG seed from the tool's
 * PRNG) and remember it. Its index, or a negative errno. */
static int add_node(struct sim_run *run)
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
    cfg.seed = rnd(run);
    int i = chord_sim_add_node(run->sim, &cfg, NULL);
    if (i < 0)
        return i;
    int rc = live_push(run, i);
    return rc ? rc : i;
}

/* Add a node and join it through a random ACTIVE node. Its index, or a
 * negative errno (-EHOSTUNREACH when no node is ACTIVE). */
static int join_one(struct sim_run *run)
{
    int seed = pick_active(run);
    if (seed < 0)
        return -EHOSTUNREACH;
    int i = add_node(run);
    if (i < 0)
        return i;
    int rc = chord_sim_join(run->sim, i, seed);
    return rc ? rc : i;
}

/* ACTIVE nodes now (prunes the live list). */
static unsigned count_active(struct sim_run *run)
{
    live_prune(run);
    unsigned n = 0;
    for (size_t j = 0; j < run->n_live; j++)
        if (is_active(run, run->live[j]))
            n++;
    return n;
}

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
            vlog(run, "settling: %d wrong entries; first: %s", wrong, err);
        if (advance(run, chord_sim_now(run->sim) + step))
            return -1;
    }
}

/* Phase 1 (see the top of the file): create, join in doubling waves,
 * settle to an exact ring. 0, or -1 after printing why not. */
static int build_ring(struct sim_run *run)
{
    int first = add_node(run);
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
    while (active < run->o.nodes) {
        unsigned size = run->o.nodes - active;
        if (size > active)
            size = active;
        uint64_t t0 = chord_sim_now(run->sim);
        for (unsigned j = 0; j < size; j++) {
            if (advance(run, t0 + (uint64_t)j * WAVE_SPREAD_MS / size))
                goto fail;
            int i = join_one(run);
            if (i < 0) {
                fprintf(stderr, "dht-sim: join failed: %s\n", strerror(-i));
                goto fail;
            }
            wave[j] = i;
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
            if (advance(run, chord_sim_now(run->sim) + WAVE_POLL_MS))
                goto fail;
            pending = 0;
            for (unsigned j = 0; j < size; j++)
                if (chord_sim_is_up(run->sim, wave[j]) &&
                    !is_active(run, wave[j]))
                    pending++;
        }
        active = count_active(run);
        uint64_t took;
        if (settle(run, false, WAVE_POLL_MS, &took))
            goto fail;
        vlog(run,
             "wave of %u joins: %u active, successors exact %" PRIu64
             " ms later",
             size, active, took);
    }
    free(wave);
    run->build_ms = chord_sim_now(run->sim);
    if (settle(run, true, SETTLE_STEP_MS, &run->settle_ms))
        return -1;
    vlog(run, "ring exact after %" PRIu64 " ms more", run->settle_ms);
    return 0;
fail:
    free(wave);
    return -1;
}

/* ---- client requests ----------------------------------------------------- */

/* Run until fewer than `limit` requests are open, or the clock reaches
 * `until`. 0, or -1 on a violation. */
static int wait_inflight(struct sim_run *run, size_t limit, uint64_t until)
{
    while (run->inflight >= limit && chord_sim_now(run->sim) < until) {
        uint64_t t = chord_sim_now(run->sim) + 1;
        if (advance(run, t < until ? t : until))
            return -1;
    }
    return 0;
}

/* Where a failed request ends up. */
static uint8_t outcome_of(const struct chord_sim_reply *r)
{
    if (r->err == -ETIMEDOUT)
        return OUT_TIMEOUT;
    if (r->err == -ECONNRESET)
        return OUT_ABORTED;
    if (r->err)
        return OUT_ERROR;
    return OUT_UNAVAILABLE;
}

/* One-way delay of the model from node a to node b (0 for the same node
 * or an address the simulator does not know). */
static uint32_t hop_delay(const struct sim_run *run, int a, int b)
{
    uint32_t lo = 0, hi = 0;
    if (a == b || chord_sim_link_delay(run->sim, a, b, &lo, &hi) != 0)
        return 0;
    return lo;
}

/* The delays of a lookup's own messages in the geo and matrix models:
 * along its path (contacted node first, owner last), then the owner's
 * answer back to the contacted node (a client's lookup is answered by
 * the owner itself). 0 in the uniform model, whose delays are negligible
 * next to rpc_timeout_ms. */
static uint32_t path_delay(const struct sim_run *run,
                           const struct chord_lookup_path *p)
{
    if (run->o.latency == LATENCY_UNIFORM || p->n < 2)
        return 0;
    int origin = chord_sim_find(run->sim, p->addr[0]);
    int prev = origin;
    uint64_t sum = 0;
    for (unsigned j = 1; j < p->n; j++) {
        int cur = chord_sim_find(run->sim, p->addr[j]);
        sum += hop_delay(run, prev, cur);
        prev = cur;
    }
    sum += hop_delay(run, prev, origin);
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* A lookup's answer: classify it against the oracle's owner now. */
static void on_lookup(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    struct sim_run *run = q->run;
    run->inflight--;
    q->latency_ms = (uint32_t)(r->done_ms - r->sent_ms);
    if (r->err || r->status != CHORD_OK) {
        q->outcome = outcome_of(r);
        return;
    }
    q->hops = r->lookup.hops;
    q->path_ms = path_delay(run, &r->lookup.path);
    int owner = chord_sim_owner(run->sim, &r->lookup.key_id);
    const struct chord_peer *p =
        owner >= 0 ? chord_sim_peer(run->sim, owner) : NULL;
    if (p && chord_id_eq(&p->id, &r->lookup.owner.id) &&
        strcmp(p->addr, r->lookup.owner.addr) == 0) {
        q->outcome = OUT_OK;
        return;
    }
    int named = chord_sim_find(run->sim, r->lookup.owner.addr);
    q->outcome = named >= 0 && !chord_sim_is_up(run->sim, named)
                     ? OUT_WRONG_DOWN
                     : OUT_WRONG;
}

/* Key k of a run with this seed, and its value. */
static void key_text(char *buf, size_t len, uint64_t seed, unsigned k)
{
    snprintf(buf, len, "key-%" PRIu64 "-%u", seed, k);
}

static void value_text(char *buf, size_t len, unsigned k)
{
    snprintf(buf, len, "value of key %u", k);
}

/* A put's answer: stored only on status OK. */
static void on_put(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    q->run->inflight--;
    q->outcome = !r->err && r->status == CHORD_OK ? OUT_OK : outcome_of(r);
}

/* A get's answer: OK only with the value that was put; "not found" and
 * another value are OUT_WRONG, errors keep their kind. */
static void on_get(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    q->run->inflight--;
    if (r->err || r->status != CHORD_OK || !r->has_value) {
        q->outcome =
            r->err || r->status != CHORD_NOT_FOUND ? outcome_of(r) : OUT_WRONG;
        return;
    }
    char want[64];
    value_text(want, sizeof want, q->index);
    q->outcome = r->value_len == strlen(want) &&
                         memcmp(r->value, want, r->value_len) == 0
                     ? OUT_OK
                     : OUT_WRONG;
}

/* Send one request to a random ACTIVE node, waiting for room when the
 * tool or the simulator has too many open. 0, -1 on a violation, or a
 * negative errno of chord_sim_request other than -EBUSY. */
static int send_request(struct sim_run *run, enum chord_sim_op op,
                        const char *key, const char *value,
                        chord_sim_reply_fn cb, struct sim_req *q)
{
    for (;;) {
        if (wait_inflight(run, SIM_INFLIGHT_MAX, UINT64_MAX))
            return -1;
        int via = pick_active(run);
        if (via < 0)
            return -EHOSTUNREACH;
        int rc = chord_sim_request(run->sim, via, op, key, strlen(key), value,
                                   value ? strlen(value) : 0, cb, q);
        if (rc == 0) {
            run->inflight++;
            return 0;
        }
        if (rc != -EBUSY)
            return rc;
        if (advance(run, chord_sim_now(run->sim) + 1))
            return -1;
    }
}

/* Run until every open request has completed (each has its own client
 * timeout, so this ends). 0 or -1. */
static int drain(struct sim_run *run)
{
    struct chord_sim_config dflt;
    chord_sim_config_default(&dflt);
    uint64_t until =
        chord_sim_now(run->sim) + dflt.client_timeout_ms + DRAIN_SLACK_MS;
    if (wait_inflight(run, 1, until))
        return -1;
    if (run->inflight) {
        fprintf(stderr, "dht-sim: %zu requests never completed\n",
                run->inflight);
        return -1;
    }
    return 0;
}

/* ---- phases 2 to 4 ------------------------------------------------------- */

/* Phase 2: put the keys through random nodes and let replication
 * settle. 0, or -1 after printing why not. */
static int put_keys(struct sim_run *run)
{
    char key[64], val[64];
    for (unsigned k = 0; k < run->o.keys; k++) {
        struct sim_req *q = &run->kv[k];
        q->run = run;
        q->index = k;
        key_text(key, sizeof key, run->o.seed, k);
        value_text(val, sizeof val, k);
        int rc = send_request(run, CHORD_SIM_PUT, key, val, on_put, q);
        if (rc) {
            if (rc != -1)
                fprintf(stderr, "dht-sim: put: %s\n", strerror(-rc));
            return -1;
        }
    }
    if (drain(run))
        return -1;
    for (unsigned k = 0; k < run->o.keys; k++) {
        run->kv[k].stored = run->kv[k].outcome == OUT_OK;
        if (run->kv[k].stored)
            run->keys_stored++;
        else
            run->keys_put_failed++;
    }
    /* A put returns once a write quorum has the key; the other replicas
     * may get it later (anti-entropy). Let that finish before failures,
     * so the loss measured is that of a steady ring. */
    struct chord_node_config nd;
    chord_node_config_default(&nd);
    return advance(run, chord_sim_now(run->sim) +
                            (uint64_t)KEYS_SYNC_ROUNDS * nd.sync_ms);
}

/* Before the keys are read back, give the ring the time a repair takes:
 * until its successor lists are exact again (at most KEYS_REPAIR_MAX_MS),
 * then KEYS_SYNC_ROUNDS anti-entropy periods, so that keys_lost counts
 * keys that are gone, not keys whose copies are still being moved. */
static int wait_repair(struct sim_run *run)
{
    char err[256];
    uint64_t t0 = chord_sim_now(run->sim);
    while (chord_sim_check_successors(run->sim, err, sizeof err) != 0 &&
           chord_sim_now(run->sim) - t0 < KEYS_REPAIR_MAX_MS)
        if (advance(run, chord_sim_now(run->sim) + SETTLE_STEP_MS))
            return -1;
    struct chord_node_config nd;
    chord_node_config_default(&nd);
    run->repair_ms = chord_sim_now(run->sim) - t0;
    return advance(run, chord_sim_now(run->sim) +
                            (uint64_t)KEYS_SYNC_ROUNDS * nd.sync_ms);
}

/* After the measurement: wait for repair, then read every stored key
 * back through a random node. 0, or -1 after printing why not. */
static int check_keys(struct sim_run *run)
{
    char key[64];
    if (wait_repair(run))
        return -1;
    for (unsigned k = 0; k < run->o.keys; k++) {
        struct sim_req *q = &run->kv[k];
        if (!q->stored)
            continue;
        q->outcome = OUT_PENDING;
        key_text(key, sizeof key, run->o.seed, k);
        int rc = send_request(run, CHORD_SIM_GET, key, NULL, on_get, q);
        if (rc) {
            if (rc != -1)
                fprintf(stderr, "dht-sim: get: %s\n", strerror(-rc));
            return -1;
        }
    }
    return drain(run);
}

/* Phase 3: crash round(fail * N) random up nodes at once. */
static void fail_nodes(struct sim_run *run)
{
    unsigned want = (unsigned)llround(run->o.fail * run->o.nodes);
    for (unsigned j = 0; j < want; j++) {
        int i = pick_up(run);
        if (i < 0)
            break;
        if (chord_sim_crash(run->sim, i) == 0)
            run->failed_nodes++;
        live_prune(run);
    }
}

/* Exponential inter-arrival time in ms for `rate` events per second. */
static uint64_t churn_gap(struct sim_run *run, double rate)
{
    double u = rnd_unit(run);
    double ms = -log(1.0 - u) / rate * 1000.0;
    return ms < 1.0 ? 1 : (uint64_t)ms;
}

/* One churn event: a join through a random ACTIVE node or the crash of
 * a random up node, with probability 1/2 each. */
static void churn_event(struct sim_run *run)
{
    if (rnd(run) & 1) {
        int i = join_one(run);
        if (i >= 0)
            run->joins++;
        else
            run->joins_failed++;
        return;
    }
    int i = pick_up(run);
    if (i >= 0 && chord_sim_crash(run->sim, i) == 0)
        run->crashes++;
}

/* Script "partition F": a random round(F * up) of the up nodes go to
 * group 1, every other node to group 0. 0 or -ENOMEM. */
static int script_partition(struct sim_run *run, double frac)
{
    live_prune(run);
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
        size_t k = j + rnd_below(run, n - j);
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
static int script_apply(struct sim_run *run, const struct script_ev *ev)
{
    static const char *const names[] = {"crash",     "join", "leave",
                                        "partition", "heal", "loss"};
    switch (ev->action) {
    case ACT_CRASH:
        for (unsigned j = 0; j < ev->count; j++) {
            int i = pick_up(run);
            if (i < 0)
                break;
            if (chord_sim_crash(run->sim, i) == 0)
                run->script_crashes++;
            live_prune(run);
        }
        break;
    case ACT_JOIN:
        for (unsigned j = 0; j < ev->count; j++) {
            if (join_one(run) >= 0)
                run->script_joins++;
            else
                run->script_joins_failed++;
        }
        break;
    case ACT_LEAVE:
        for (unsigned j = 0; j < ev->count; j++) {
            int i = pick_active(run);
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
    vlog(run, "script: %s", names[ev->action]);
    return 0;
}

/* When lookup i of the measured phase starting at t0 is sent: evenly
 * spaced over the duration, all at t0 when the duration is 0. */
static uint64_t lookup_time(const struct sim_run *run, uint64_t t0, unsigned i)
{
    if (run->o.lookups <= 1)
        return t0;
    return t0 + run->o.duration * i / run->o.lookups;
}

/* Phase 4: send the lookups on schedule while churn runs, then wait for
 * the last answers. Fills run->lk, the message count and the node-time
 * integral of the window. 0, or -1 (violation, or requests that never
 * completed; printed). */
static int measure(struct sim_run *run)
{
    struct chord_sim_stats st;
    chord_sim_stats(run->sim, &st);
    uint64_t delivered0 = st.delivered;
    uint64_t t0 = chord_sim_now(run->sim);
    uint64_t end = t0 + run->o.duration;
    uint64_t next_churn =
        run->o.churn > 0 ? t0 + churn_gap(run, run->o.churn) : UINT64_MAX;
    const struct script_ev *script = run->o.script;
    size_t n_script = run->o.n_script, applied = 0;
    unsigned issued = 0;
    char key[64];
    run->t_start = t0;
    for (;;) {
        uint64_t next_lookup =
            issued < run->o.lookups ? lookup_time(run, t0, issued) : UINT64_MAX;
        uint64_t next_script =
            applied < n_script ? t0 + script[applied].at_ms : UINT64_MAX;
        uint64_t next = next_lookup < next_churn ? next_lookup : next_churn;
        if (next_script < next)
            next = next_script;
        if (next > end)
            next = end;
        uint64_t before = chord_sim_now(run->sim);
        if (advance(run, next))
            return -1;
        if (run->o.churn > 0 || n_script > 0)
            live_prune(run); /* only churn and scripts take nodes down */
        run->live_ms += (double)run->n_live * (double)(next - before);
        if (next == next_churn && next_churn <= end) {
            churn_event(run);
            next_churn += churn_gap(run, run->o.churn);
        }
        while (applied < n_script &&
               t0 + script[applied].at_ms <= chord_sim_now(run->sim))
            if (script_apply(run, &script[applied++]))
                return -1;
        while (issued < run->o.lookups &&
               lookup_time(run, t0, issued) <= chord_sim_now(run->sim)) {
            struct sim_req *q = &run->lk[issued];
            q->run = run;
            q->index = issued;
            snprintf(key, sizeof key, "lookup-%" PRIu64 "-%u", run->o.seed,
                     issued);
            int rc =
                send_request(run, CHORD_SIM_LOOKUP, key, NULL, on_lookup, q);
            if (rc == -1)
                return -1;
            if (rc)
                q->outcome = OUT_ERROR;
            issued++;
        }
        if (chord_sim_now(run->sim) >= end && issued == run->o.lookups &&
            applied == n_script)
            break;
    }
    /* Lookups still open finish in the drain; the window for message
     * rates ends when the last one does, or at the end of the duration. */
    uint64_t before = chord_sim_now(run->sim);
    if (drain(run))
        return -1;
    live_prune(run);
    run->live_ms +=
        (double)run->n_live * (double)(chord_sim_now(run->sim) - before);
    run->t_end = chord_sim_now(run->sim);
    chord_sim_stats(run->sim, &st);
    run->delivered = st.delivered - delivered0;
    return 0;
}

/* ---- report -------------------------------------------------------------- */

/* qsort order of uint32_t. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0..100) of sorted v[0..n), n > 0. */
static uint32_t pct(const uint32_t *v, size_t n, double p)
{
    double rank = ceil(p / 100.0 * (double)n);
    size_t k = rank < 1.0 ? 0 : (size_t)rank - 1;
    return v[k < n ? k : n - 1];
}

struct sim_report {
    unsigned lookups, failed, timeouts, unavailable, errors, wrong, aborted;
    unsigned wrong_down; /* of `wrong`: the owner named was down */
    unsigned answered;
    double mean_hops, mean_pred_hops, mean_latency, timeouts_per_lookup;
    uint32_t p1_hops, p50_hops, p99_hops, p99_latency;
    double msgs_per_node_per_s;
    unsigned keys_lost;        /* stored, then not readable */
    unsigned keys_unavailable; /* of keys_lost: error, not "not found" */
    uint32_t rpc_timeout_ms;
};

/* Turn the per-request outcomes into the report's figures. 0 or
 * -ENOMEM. */
static int summarize(struct sim_run *run, struct sim_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->rpc_timeout_ms = run->o.rpc_timeout_ms;
    unsigned n = run->o.lookups;
    uint32_t *hops = malloc((n ? n : 1) * sizeof *hops);
    uint32_t *lat = malloc((n ? n : 1) * sizeof *lat);
    if (!hops || !lat) {
        free(hops);
        free(lat);
        return -ENOMEM;
    }
    double sum_hops = 0, sum_pred = 0, sum_lat = 0;
    uint64_t timeouts = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct sim_req *q = &run->lk[k];
        if (q->outcome == OUT_ABORTED) {
            rep->aborted++;
            continue;
        }
        rep->lookups++;
        if (q->latency_ms > q->path_ms)
            timeouts += (q->latency_ms - q->path_ms) / rep->rpc_timeout_ms;
        switch (q->outcome) {
        case OUT_OK:
        case OUT_WRONG:
        case OUT_WRONG_DOWN:
            if (q->outcome != OUT_OK)
                rep->wrong++;
            if (q->outcome == OUT_WRONG_DOWN)
                rep->wrong_down++;
            hops[rep->answered] = q->hops;
            lat[rep->answered] = q->latency_ms;
            rep->answered++;
            sum_hops += q->hops;
            sum_pred += q->hops > 0 ? q->hops - 1 : 0;
            sum_lat += q->latency_ms;
            break;
        case OUT_TIMEOUT:
            rep->timeouts++;
            break;
        case OUT_UNAVAILABLE:
            rep->unavailable++;
            break;
        default:
            rep->errors++;
            break;
        }
    }
    rep->failed = rep->wrong + rep->timeouts + rep->unavailable + rep->errors;
    if (rep->answered) {
        qsort(hops, rep->answered, sizeof *hops, cmp_u32);
        qsort(lat, rep->answered, sizeof *lat, cmp_u32);
        rep->mean_hops = sum_hops / rep->answered;
        rep->mean_pred_hops = sum_pred / rep->answered;
        rep->mean_latency = sum_lat / rep->answered;
        rep->p1_hops = pct(hops, rep->answered, 1);
        rep->p50_hops = pct(hops, rep->answered, 50);
        rep->p99_hops = pct(hops, rep->answered, 99);
        rep->p99_latency = pct(lat, rep->answered, 99);
    }
    if (rep->lookups)
        rep->timeouts_per_lookup = (double)timeouts / rep->lookups;
    double node_s = run->live_ms / 1000.0;
    if (node_s > 0)
        rep->msgs_per_node_per_s = (double)run->delivered / node_s;
    for (unsigned k = 0; k < run->o.keys; k++) {
        const struct sim_req *q = &run->kv[k];
        if (!q->stored || q->outcome == OUT_OK)
            continue;
        rep->keys_lost++;
        if (q->outcome != OUT_WRONG)
            rep->keys_unavailable++;
    }
    free(hops);
    free(lat);
    return 0;
}

/* The latency model as --latency spells it (a matrix: without its file
 * name, which the caller prints). */
static void latency_text(char *buf, size_t len, const struct sim_opts *o)
{
    if (o->latency == LATENCY_GEO)
        snprintf(buf, len, "geo:%u", o->geo_clusters);
    else if (o->latency == LATENCY_MATRIX)
        snprintf(buf, len, "matrix:");
    else if (o->min_delay == o->max_delay)
        snprintf(buf, len, "const:%u", o->min_delay);
    else
        snprintf(buf, len, "uniform:%u:%u", o->min_delay, o->max_delay);
}

/* The body of a JSON string for s (quotes, backslashes and control
 * characters escaped). */
static void json_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
}

/* The report, one figure per line (after the seed line). */
static void print_text(const struct sim_run *run, const struct sim_report *r,
                       const struct chord_sim_stats *st)
{
    const struct sim_opts *o = &run->o;
    char lat[48];
    latency_text(lat, sizeof lat, o);
    printf("nodes %u  successors %u  replicas %u  stabilize_ms %u  "
           "fix_fingers_ms %u  rpc_timeout_ms %u  latency %s%s  loss %g  "
           "pns %s\n",
           o->nodes, o->successors, o->replicas, o->stabilize_ms,
           o->fix_fingers_ms, o->rpc_timeout_ms, lat,
           o->latency == LATENCY_MATRIX ? o->matrix_file : "", o->loss,
           o->pns ? "on" : "off");
    printf("build: all joined at %" PRIu64 " ms, ring exact %" PRIu64
           " ms later\n",
           run->build_ms, run->settle_ms);
    printf("failed_nodes %u  churn_per_s %g (joins %u, crashes %u)  "
           "duration_s %g\n",
           run->failed_nodes, o->churn, run->joins, run->crashes,
           (double)o->duration / 1000.0);
    if (o->script_file)
        printf("script %s: %zu events applied (crashes %u, joins %u, "
               "joins_failed %u, leaves %u), partitioned_frames %" PRIu64 "\n",
               o->script_file, run->script_done, run->script_crashes,
               run->script_joins, run->script_joins_failed, run->script_leaves,
               st->partitioned);
    printf("lookups %u\n", r->lookups);
    printf("failed_lookups %u  (timeouts %u, unavailable %u, errors %u, "
           "wrong_owner %u of which %u down; aborted %u not counted)\n",
           r->failed, r->timeouts, r->unavailable, r->errors, r->wrong,
           r->wrong_down, r->aborted);
    printf("hops mean %.3f  p1 %u  p50 %u  p99 %u  (to the predecessor, as "
           "the paper counts: mean %.3f)\n",
           r->mean_hops, r->p1_hops, r->p50_hops, r->p99_hops,
           r->mean_pred_hops);
    printf("latency_ms mean %.3f  p99 %u\n", r->mean_latency, r->p99_latency);
    printf("timeouts_per_lookup %.4f\n", r->timeouts_per_lookup);
    printf("msgs_per_node_per_s %.3f\n", r->msgs_per_node_per_s);
    if (o->keys)
        printf("keys_stored %u  keys_lost %u (%u unavailable, the rest not "
               "found; ring whole again %" PRIu64
               " ms after the measurement)\n",
               run->keys_stored, r->keys_lost, r->keys_unavailable,
               run->repair_ms);
    else
        printf("keys_stored 0  keys_lost 0\n");
    printf("events %" PRIu64 "  invariant_checks %" PRIu64
           "  digest %016" PRIx64 "\n",
           st->events, run->checks, st->digest);
}

/* The report as one JSON object on one line. */
static void print_json(const struct sim_run *run, const struct sim_report *r,
                       const struct chord_sim_stats *st)
{
    const struct sim_opts *o = &run->o;
    char lat[48];
    latency_text(lat, sizeof lat, o);
    printf("{\"seed\":%" PRIu64 ",\"nodes\":%u,\"successors\":%u,"
           "\"replicas\":%u,\"stabilize_ms\":%u,\"fix_fingers_ms\":%u,"
           "\"rpc_timeout_ms\":%u,\"latency\":\"%s",
           o->seed, o->nodes, o->successors, o->replicas, o->stabilize_ms,
           o->fix_fingers_ms, o->rpc_timeout_ms, lat);
    if (o->latency == LATENCY_MATRIX)
        json_chars(o->matrix_file);
    printf("\",\"pns\":%s,\"loss\":%g,\"fail_fraction\":%g,"
           "\"failed_nodes\":%u,\"churn_per_s\":%g,\"joins\":%u,"
           "\"crashes\":%u,\"duration_s\":%g,",
           o->pns ? "true" : "false", o->loss, o->fail, run->failed_nodes,
           o->churn, run->joins, run->crashes, (double)o->duration / 1000.0);
    if (o->script_file) {
        printf("\"script\":\"");
        json_chars(o->script_file);
        printf("\",");
    } else {
        printf("\"script\":null,");
    }
    printf("\"script_events\":%zu,\"script_crashes\":%u,"
           "\"script_joins\":%u,\"script_joins_failed\":%u,"
           "\"script_leaves\":%u,\"partitioned_frames\":%" PRIu64 ",",
           run->script_done, run->script_crashes, run->script_joins,
           run->script_joins_failed, run->script_leaves, st->partitioned);
    printf("\"lookups\":%u,\"failed_lookups\":%u,\"failed_timeouts\":%u,"
           "\"failed_unavailable\":%u,\"failed_errors\":%u,"
           "\"failed_wrong_owner\":%u,\"failed_owner_down\":%u,"
           "\"aborted_lookups\":%u,",
           r->lookups, r->failed, r->timeouts, r->unavailable, r->errors,
           r->wrong, r->wrong_down, r->aborted);
    printf("\"mean_hops\":%.4f,\"p1_hops\":%u,\"p50_hops\":%u,"
           "\"p99_hops\":%u,\"mean_pred_hops\":%.4f,"
           "\"mean_latency_ms\":%.3f,\"p99_latency_ms\":%u,"
           "\"timeouts_per_lookup\":%.4f,\"msgs_per_node_per_s\":%.3f,"
           "\"keys_stored\":%u,\"keys_lost\":%u,\"keys_unavailable\":%u,"
           "\"keys_put_failed\":%u,\"repair_ms\":%" PRIu64 ",",
           r->mean_hops, r->p1_hops, r->p50_hops, r->p99_hops,
           r->mean_pred_hops, r->mean_latency, r->p99_latency,
           r->timeouts_per_lookup, r->msgs_per_node_per_s, run->keys_stored,
           r->keys_lost, r->keys_unavailable, run->keys_put_failed,
           run->repair_ms);
    printf("\"build_ms\":%" PRIu64 ",\"settle_ms\":%" PRIu64
           ",\"measured_ms\":%" PRIu64 ",\"events\":%" PRIu64
           ",\"invariant_checks\":%" PRIu64 ",\"digest\":\"%016" PRIx64 "\"}\n",
           run->build_ms, run->settle_ms, run->t_end - run->t_start, st->events,
           run->checks, st->digest);
}

/* ---- options ------------------------------------------------------------- */

/* The --help text. */
static void usage(FILE *f)
{
    fputs(
        "usage: dht-sim --nodes N [--successors R] [--replicas K] [--keys M]\n"
        "               [--lookups L] [--fail FRACTION] [--churn RATE]\n"
        "               [--duration T] [--seed S]\n"
        "               [--latency MODEL] [--loss P] [--script FILE]\n"
        "               [--stabilize-ms MS] [--fix-fingers-ms MS]\n"
        "               [--rpc-timeout-ms MS] [--check-every K] [--json]\n"
        "               [--pns] [--verbose] [--log LEVEL]\n"
        "               [--help]\n"
        "\n"
        "Runs N nodes of the protocol core in simulated time: builds an\n"
        "exact ring, optionally crashes a FRACTION of the nodes at once,\n"
        "then measures L lookups of random keys from random nodes spread\n"
        "over T simulated seconds, under churn of RATE joins+crashes per\n"
        "second (each half the time). Prints the seed first; --seed S\n"
        "replays a run bit for bit.\n"
        "\n"
        "  --nodes N           ring size (1..200000)\n"
        "  --successors R      successor list length (1..32, default 8)\n"
        "  --replicas K        copies of each key, owner included (1..R+1,\n"
        "                      default 3); also stores keys before the\n"
        "                      failures and reports keys_lost\n"
        "  --keys M            keys to store and read back (default 0, or\n"
        "                      1000 with --replicas)\n"
        "  --lookups L         lookups measured (default 1000)\n"
        "  --fail FRACTION     crash this fraction at once (0..1, default 0)\n"
        "  --churn RATE        joins+crashes per simulated second (0)\n"
        "  --duration T        measured phase, simulated seconds (10; 0 =\n"
        "                      all lookups at once)\n"
        "  --seed S            PRNG seed (default: from the clock)\n"
        "  --latency MODEL     one-way delay: const:MS, uniform:MIN:MAX\n"
        "                      (default uniform:1:5), geo[:CLUSTERS] (a\n"
        "                      synthetic Internet of 1..7 continents,\n"
        "                      default 5: 2-20 ms within one, 40-147 ms\n"
        "                      between two), or matrix:FILE (M lines of M\n"
        "                      delays in ms, row = sender; node i on host\n"
        "                      i % M; '#' comments)\n"
        "  --loss P            message loss in the measured phase (0..1)\n"
        "  --script FILE       events of the measured phase, one a line:\n"
        "                      'AT crash N', 'AT join N', 'AT leave N',\n"
        "                      'AT partition F', 'AT heal', 'AT loss P'\n"
        "                      (AT in seconds, 0..T, never decreasing)\n"
        "  --stabilize-ms MS   stabilize period (default 250)\n"
        "  --fix-fingers-ms MS one finger refreshed per period (default 100)\n"
        "  --rpc-timeout-ms MS a node's request timeout, which also bounds a\n"
        "                      whole lookup (default 1000, or 20 times the\n"
        "                      model's longest delay when that is more:\n"
        "                      2940 with geo)\n"
        "  --check-every K     check Zave's invariant every K events (0 =\n"
        "                      never; default 1 up to 128 nodes, else N)\n"
        "  --pns               proximity routing: fingers chosen by round\n"
        "                      trip among a few nodes of their interval,\n"
        "                      lookups by progress per millisecond\n"
        "  --json              one JSON object instead of text\n"
        "  --verbose           progress and wall-clock times on stderr\n"
        "  --log LEVEL         node log lines on stderr, with simulated time\n"
        "                      (0 error, 1 warn, 2 info, 3 debug)\n"
        "\n"
        "exit status: 0 ok, 2 usage error, 3 the run could not complete\n",
        f);
}

/* Parse a finite number in [lo, hi]. 0 or -EINVAL. */
static int parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* const:MS, uniform:MIN:MAX, geo[:CLUSTERS] or matrix:FILE (the file
 * is read later, by read_matrix). 0 or -EINVAL. */
static int parse_latency(const char *s, struct sim_opts *o)
{
    if (strncmp(s, "matrix:", 7) == 0) {
        if (!s[7])
            return -EINVAL;
        o->latency = LATENCY_MATRIX;
        o->matrix_file = s + 7;
        return 0;
    }
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, strlen(s) + 1);
    uint64_t a, b;
    if (strcmp(buf, "geo") == 0 || strncmp(buf, "geo:", 4) == 0) {
        a = CHORD_SIM_GEO_CLUSTERS_DEFAULT;
        if (buf[3] &&
            chord_parse_u64(buf + 4, 1, CHORD_SIM_GEO_CLUSTERS_MAX, &a))
            return -EINVAL;
        o->latency = LATENCY_GEO;
        o->geo_clusters = (unsigned)a;
        return 0;
    }
    o->latency = LATENCY_UNIFORM;
    if (strncmp(buf, "const:", 6) == 0) {
        if (chord_parse_u64(buf + 6, 1, SIM_DELAY_CAP_MS, &a))
            return -EINVAL;
        o->min_delay = o->max_delay = (uint32_t)a;
        return 0;
    }
    if (strncmp(buf, "uniform:", 8) == 0) {
        char *colon = strchr(buf + 8, ':');
        if (!colon)
            return -EINVAL;
        *colon = '\0';
        if (chord_parse_u64(buf + 8, 1, SIM_DELAY_CAP_MS, &a) ||
            chord_parse_u64(colon + 1, 1, SIM_DELAY_CAP_MS, &b) || b < a)
            return -EINVAL;
        o->min_delay = (uint32_t)a;
        o->max_delay = (uint32_t)b;
        return 0;
    }
    return -EINVAL;
}

/* ---- matrix and script files --------------------------------------------- */

/* "dht-sim: FILE:LINE: message" on one line; returns the usage exit code.
 * (declared for the format check) */
static int file_error(const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int file_error(const char *file, unsigned line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dht-sim: %s:%u: %s\n", file, line ? line : 1, msg);
    return CHORD_EXIT_USAGE;
}

/* A text file read line by line: '#' starts a comment, and each line is
 * split into whitespace-separated words (at most FILE_WORDS_MAX of them,
 * more is an error the caller reports). */
#define FILE_WORDS_MAX 4097 /* a matrix row of CHORD_SIM_HOSTS_MAX, + 1 */

struct text_file {
    const char *name;
    FILE *f;
    char *line;
    size_t cap;
    unsigned lineno;
    char *word[FILE_WORDS_MAX];
    size_t n_words; /* may exceed FILE_WORDS_MAX: only that many kept */
};

/* Open a text file. 0, or CHORD_EXIT_USAGE after printing why not. */
static int text_open(struct text_file *tf, const char *name)
{
    memset(tf, 0, sizeof *tf);
    tf->name = name;
    tf->f = fopen(name, "r");
    if (!tf->f) {
        fprintf(stderr, "dht-sim: %s: %s\n", name, strerror(errno));
        return CHORD_EXIT_USAGE;
    }
    return 0;
}

/* The next line with at least one word: 1, or 0 at the end of the file,
 * or CHORD_EXIT_USAGE (-) after printing a read error. */
static int text_next(struct text_file *tf)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&tf->line, &tf->cap, tf->f);
        if (n < 0) {
            if (ferror(tf->f))
                return -file_error(tf->name, tf->lineno + 1, "read error: %s",
                                   strerror(errno ? errno : EIO));
            return 0;
        }
        tf->lineno++;
        if ((size_t)n != strlen(tf->line))
            return -file_error(tf->name, tf->lineno, "NUL byte in the line");
        char *hash = strchr(tf->line, '#');
        if (hash)
            *hash = '\0';
        tf->n_words = 0;
        char *save = NULL;
        for (char *w = strtok_r(tf->line, " \t\r\n\v\f", &save); w;
             w = strtok_r(NULL, " \t\r\n\v\f", &save)) {
            if (tf->n_words < FILE_WORDS_MAX)
                tf->word[tf->n_words] = w;
            tf->n_words++;
        }
        if (tf->n_words > 0)
            return 1;
    }
}

static void text_close(struct text_file *tf)
{
    if (tf->f)
        fclose(tf->f);
    free(tf->line);
}

/* Read o->matrix_file into o->matrix: M lines of M delays in ms. 0, or
 * CHORD_EXIT_USAGE after printing FILE:LINE: why not. */
static int read_matrix(struct sim_opts *o)
{
    struct text_file tf;
    int rc = text_open(&tf, o->matrix_file);
    if (rc)
        return rc;
    unsigned m = 0, rows = 0;
    uint32_t *mx = NULL;
    for (;;) {
        rc = text_next(&tf);
        if (rc <= 0) {
            rc = -rc;
            break;
        }
        if (m == 0) {
            if (tf.n_words > CHORD_SIM_HOSTS_MAX) {
                rc = file_error(tf.name, tf.lineno,
                                "%zu values in the first row: at most %u "
                                "hosts",
                                tf.n_words, CHORD_SIM_HOSTS_MAX);
                break;
            }
            m = (unsigned)tf.n_words;
            mx = malloc((size_t)m * m * sizeof *mx);
            if (!mx) {
                rc = file_error(tf.name, tf.lineno, "out of memory");
                break;
            }
        } else if (tf.n_words != m) {
            rc = file_error(tf.name, tf.lineno,
                            "expected %u values (as in the first row), "
                            "found %zu",
                            m, tf.n_words);
            break;
        }
        if (rows == m) {
            rc = file_error(tf.name, tf.lineno,
                            "more than %u rows (the first row has %u "
                            "values)",
                            m, m);
            break;
        }
        for (unsigned k = 0; k < m; k++) {
            uint64_t v;
            if (chord_parse_u64(tf.word[k], 0, SIM_DELAY_CAP_MS, &v)) {
                rc = file_error(tf.name, tf.lineno,
                                "bad delay '%.40s' in column %u (want an "
                                "integer 0..%u ms)",
                                tf.word[k], k + 1, SIM_DELAY_CAP_MS);
                goto out;
            }
            mx[(size_t)rows * m + k] = (uint32_t)v;
        }
        rows++;
    }
    if (rc == 0 && m == 0)
        rc = file_error(tf.name, tf.lineno, "no matrix rows");
    else if (rc == 0 && rows < m)
        rc = file_error(tf.name, tf.lineno,
                        "only %u rows, expected %u (the first row has %u "
                        "values)",
                        rows, m, m);
out:
    text_close(&tf);
    if (rc) {
        free(mx);
        return rc;
    }
    o->matrix = mx;
    o->matrix_m = m;
    return 0;
}

/* Read o->script_file into o->script (see the top of the file). 0, or
 * CHORD_EXIT_USAGE after printing FILE:LINE: why not. */
static int read_script(struct sim_opts *o)
{
    static const struct {
        const char *name;
        uint8_t action;
        bool arg;
    } actions[] = {
        {"crash", ACT_CRASH, true}, {"join", ACT_JOIN, true},
        {"leave", ACT_LEAVE, true}, {"partition", ACT_PARTITION, true},
        {"heal", ACT_HEAL, false},  {"loss", ACT_LOSS, true},
    };
    struct text_file tf;
    int rc = text_open(&tf, o->script_file);
    if (rc)
        return rc;
    struct script_ev *v = NULL;
    size_t n = 0, cap = 0;
    double prev_s = 0.0, dur_s = (double)o->duration / 1000.0;
    for (;;) {
        rc = text_next(&tf);
        if (rc <= 0) {
            rc = -rc;
            break;
        }
        const char *file = tf.name;
        unsigned ln = tf.lineno;
        double at;
        if (parse_double(tf.word[0], 0.0, SIM_DURATION_CAP_S, &at)) {
            rc = file_error(file, ln,
                            "bad time '%.40s' (want seconds from the start "
                            "of the measured phase)",
                            tf.word[0]);
            break;
        }
        if (at > dur_s) {
            rc = file_error(file, ln,
                            "time %g s is after the end of the measured "
                            "phase (--duration %g)",
                            at, dur_s);
            break;
        }
        if (at < prev_s) {
            rc = file_error(file, ln,
                            "time %g s comes before the previous event's "
                            "%g s (times must not decrease)",
                            at, prev_s);
            break;
        }
        prev_s = at;
        if (tf.n_words < 2) {
            rc = file_error(file, ln, "no action after the time");
            break;
        }
        size_t a = 0;
        while (a < sizeof actions / sizeof actions[0] &&
               strcmp(tf.word[1], actions[a].name) != 0)
            a++;
        if (a == sizeof actions / sizeof actions[0]) {
            rc = file_error(file, ln,
                            "unknown action '%.40s' (want crash, join, "
                            "leave, partition, heal or loss)",
                            tf.word[1]);
            break;
        }
        if (tf.n_words != (actions[a].arg ? 3u : 2u)) {
            rc = file_error(file, ln, "'%s' takes %s", actions[a].name,
                            actions[a].arg ? "one argument" : "no argument");
            break;
        }
        if (n == SIM_SCRIPT_CAP) {
            rc = file_error(file, ln, "more than %u events", SIM_SCRIPT_CAP);
            break;
        }
        struct script_ev ev = {
            .at_ms = (uint64_t)llround(at * 1000.0),
            .action = actions[a].action,
        };
        const char *arg = actions[a].arg ? tf.word[2] : NULL;
        uint64_t u;
        switch (ev.action) {
        case ACT_CRASH:
        case ACT_JOIN:
        case ACT_LEAVE:
            if (chord_parse_u64(arg, 1, SIM_NODES_CAP, &u)) {
                rc = file_error(file, ln,
                                "bad count '%.40s' for '%s' (want 1..%u)", arg,
                                actions[a].name, SIM_NODES_CAP);
                goto out;
            }
            ev.count = (unsigned)u;
            break;
        case ACT_PARTITION:
            if (parse_double(arg, 0.0, 1.0, &ev.value) || ev.value <= 0.0 ||
                ev.value >= 1.0) {
                rc = file_error(file, ln,
                                "bad fraction '%.40s' for 'partition' (want "
                                "0 < F < 1)",
                                arg);
                goto out;
            }
            break;
        case ACT_LOSS:
            if (parse_double(arg, 0.0, 1.0, &ev.value) || ev.value >= 1.0) {
                rc = file_error(file, ln,
                                "bad probability '%.40s' for 'loss' (want "
                                "0 <= P < 1)",
                                arg);
                goto out;
            }
            break;
        default:
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct script_ev *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = file_error(file, ln, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = ev;
    }
out:
    text_close(&tf);
    if (rc) {
        free(v);
        return rc;
    }
    o->script = v;
    o->n_script = n;
    return 0;
}

enum {
    OPT_NODES = 1000,
    OPT_SUCCESSORS,
    OPT_REPLICAS,
    OPT_KEYS,
    OPT_LOOKUPS,
    OPT_FAIL,
    OPT_CHURN,
    OPT_DURATION,
    OPT_SEED,
    OPT_LATENCY,
    OPT_LOSS,
    OPT_STABILIZE,
    OPT_FIX,
    OPT_CHECK,
    OPT_JSON,
    OPT_VERBOSE,
    OPT_LOG,
    OPT_SCRIPT,
    OPT_RPC_TIMEOUT,
    OPT_PNS,
};

static const struct option sim_longopts[] = {
    {"nodes", required_argument, NULL, OPT_NODES},
    {"successors", required_argument, NULL, OPT_SUCCESSORS},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"lookups", required_argument, NULL, OPT_LOOKUPS},
    {"fail", required_argument, NULL, OPT_FAIL},
    {"churn", required_argument, NULL, OPT_CHURN},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"loss", required_argument, NULL, OPT_LOSS},
    {"stabilize-ms", required_argument, NULL, OPT_STABILIZE},
    {"fix-fingers-ms", required_argument, NULL, OPT_FIX},
    {"check-every", required_argument, NULL, OPT_CHECK},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"log", required_argument, NULL, OPT_LOG},
    {"script", required_argument, NULL, OPT_SCRIPT},
    {"rpc-timeout-ms", required_argument, NULL, OPT_RPC_TIMEOUT},
    {"pns", no_argument, NULL, OPT_PNS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fill *o from argv. CHORD_EXIT_OK, CHORD_EXIT_USAGE (message printed), or
 * -1 when --help was printed. */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
    struct chord_node_config nd;
    chord_node_config_default(&nd);
    memset(o, 0, sizeof *o);
    o->successors = nd.successors;
    o->replicas = nd.replicas;
    o->lookups = 1000;
    o->duration = 10000;
    o->min_delay = 1;
    o->max_delay = 5;
    o->latency = LATENCY_UNIFORM;
    o->stabilize_ms = nd.stabilize_ms;
    o->fix_fingers_ms = nd.fix_fingers_ms;
    o->rpc_timeout_ms = nd.rpc_timeout_ms;
    o->log_level = -1;
    bool have_seed = false, have_keys = false, have_replicas = false;
    uint64_t u;
    double d;
    opterr = 0;
    for (;;) {
        int ch = getopt_long(argc, argv, ":h", sim_longopts, NULL);
        if (ch == -1)
            break;
        const char *a = optarg;
        switch (ch) {
        case OPT_NODES:
            if (chord_parse_u64(a, 1, SIM_NODES_CAP, &u))
                return chord_usage_error(
                    "dht-sim", "bad --nodes '%s' (want 1..200000)", a);
            o->nodes = (unsigned)u;
            break;
        case OPT_SUCCESSORS:
            if (chord_parse_u64(a, 1, CHORD_SUCC_MAX, &u))
                return chord_usage_error(
                    "dht-sim", "bad --successors '%s' (want 1..32)", a);
            o->successors = (unsigned)u;
            break;
        case OPT_REPLICAS:
            if (chord_parse_u64(a, 1, CHORD_SUCC_MAX, &u))
                return chord_usage_error("dht-sim",
                                         "bad --replicas '%s' (want 1..32)", a);
            o->replicas = (unsigned)u;
            have_replicas = true;
            break;
        case OPT_KEYS:
            if (chord_parse_u64(a, 0, SIM_KEYS_CAP, &u))
                return chord_usage_error(
                    "dht-sim", "bad --keys '%s' (want 0..1000000)", a);
            o->keys = (unsigned)u;
            have_keys = true;
            break;
        case OPT_LOOKUPS:
            if (chord_parse_u64(a, 0, SIM_LOOKUPS_CAP, &u))
                return chord_usage_error(
                    "dht-sim", "bad --lookups '%s' (want 0..10000000)", a);
            o->lookups = (unsigned)u;
            break;
        case OPT_FAIL:
            if (parse_double(a, 0.0, 1.0, &d) || d >= 1.0)
                return chord_usage_error(
                    "dht-sim", "bad --fail '%s' (want 0 <= F < 1)", a);
            o->fail = d;
            break;
        case OPT_CHURN:
            if (parse_double(a, 0.0, SIM_CHURN_CAP, &d))
                return chord_usage_error(
                    "dht-sim", "bad --churn '%s' (want 0..100000 per s)", a);
            o->churn = d;
            break;
        case OPT_DURATION:
            if (parse_double(a, 0.0, SIM_DURATION_CAP_S, &d))
                return chord_usage_error(
                    "dht-sim", "bad --duration '%s' (want 0..86400 s)", a);
            o->duration = (uint64_t)llround(d * 1000.0);
            break;
        case OPT_SEED:
            if (chord_parse_u64(a, 0, UINT64_MAX, &u))
                return chord_usage_error(
                    "dht-sim", "bad --seed '%s' (want an unsigned integer)", a);
            o->seed = u;
            have_seed = true;
            break;
        case OPT_LATENCY:
            if (parse_latency(a, o))
                return chord_usage_error("dht-sim",
                                         "bad --latency '%s' (want const:MS, "
                                         "uniform:MIN:MAX (1..60000 ms), "
                                         "geo[:1..7] or matrix:FILE)",
                                         a);
            break;
        case OPT_SCRIPT:
            if (!*a)
                return chord_usage_error("dht-sim", "%s",
                                         "--script needs a file name");
            o->script_file = a;
            break;
        case OPT_LOSS:
            if (parse_double(a, 0.0, 1.0, &d) || d >= 1.0)
                return chord_usage_error(
                    "dht-sim", "bad --loss '%s' (want 0 <= P < 1)", a);
            o->loss = d;
            break;
        case OPT_STABILIZE:
            if (chord_parse_u64(a, 1, 3600000, &u))
                return chord_usage_error("dht-sim", "bad --stabilize-ms '%s'",
                                         a);
            o->stabilize_ms = (uint32_t)u;
            break;
        case OPT_FIX:
            if (chord_parse_u64(a, 1, 3600000, &u))
                return chord_usage_error("dht-sim", "bad --fix-fingers-ms '%s'",
                                         a);
            o->fix_fingers_ms = (uint32_t)u;
            break;
        case OPT_RPC_TIMEOUT:
            if (chord_parse_u64(a, 1, 3600000, &u))
                return chord_usage_error("dht-sim", "bad --rpc-timeout-ms '%s'",
                                         a);
            o->rpc_timeout_ms = (uint32_t)u;
            o->rpc_set = true;
            break;
        case OPT_CHECK:
            if (chord_parse_u64(a, 0, UINT64_MAX, &u))
                return chord_usage_error("dht-sim", "bad --check-every '%s'",
                                         a);
            o->check_every = u;
            o->check_set = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
        case OPT_PNS:
            o->pns = true;
            break;
        case OPT_LOG:
            if (chord_parse_u64(a, CHORD_LOG_ERROR, CHORD_LOG_DEBUG, &u))
                return chord_usage_error("dht-sim",
                                         "bad --log '%s' (want 0..3)", a);
            o->log_level = (int)u;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            return chord_usage_error("dht-sim", "option %s needs an argument",
                                     argv[optind - 1]);
        default:
            return chord_usage_error("dht-sim", "unknown option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind < argc)
        return chord_usage_error("dht-sim", "unexpected argument '%s'",
                                 argv[optind]);
    if (o->nodes == 0)
        return chord_usage_error("dht-sim", "%s", "--nodes is required");
    if (o->replicas > o->successors + 1) {
        if (have_replicas)
            return chord_usage_error(
                "dht-sim", "%s", "--replicas cannot exceed --successors + 1");
        o->replicas = o->successors + 1; /* the default, cut to fit */
    }
    if (have_replicas && !have_keys)
        o->keys = SIM_KEYS_DEFAULT;
    if (!o->check_set)
        o->check_every = o->nodes <= 128 ? 1 : o->nodes;
    /* The files last: a script's times are checked against --duration. */
    int rc;
    if (o->latency == LATENCY_MATRIX && (rc = read_matrix(o)) != 0)
        return rc;
    if (o->script_file && (rc = read_script(o)) != 0)
        return rc;
    if (!o->rpc_set) {
        /* A lookup is one request however many hops it takes: give it
         * room for about ten of the model's longest one-way delays,
         * there and back (the core's 1 s suits delays of a few ms). */
        uint32_t worst = o->max_delay;
        if (o->latency == LATENCY_GEO)
            worst = CHORD_SIM_GEO_INTER_MAX_MS;
        for (size_t k = 0; o->latency == LATENCY_MATRIX &&
                           k < (size_t)o->matrix_m * o->matrix_m;
             k++)
            if (o->matrix[k] > worst)
                worst = o->matrix[k];
        if ((uint64_t)worst * 20 > o->rpc_timeout_ms)
            o->rpc_timeout_ms = worst > 3600000 / 20 ? 3600000 : worst * 20;
    }
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec * UINT64_C(1000000007)) ^
                  (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    return CHORD_EXIT_OK;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct sim_run run;
    memset(&run, 0, sizeof run);
    int rc = parse_args(argc, argv, &run.o);
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
    vlog(&run, "building a ring of %u nodes", o->nodes);
    rc = CHORD_EXIT_FAILED;
    if (build_ring(&run))
        goto out;
    if (chord_sim_set_loss(run.sim, o->loss) != 0)
        goto out;
    if (o->keys) {
        vlog(&run, "storing %u keys", o->keys);
        if (put_keys(&run))
            goto out;
    }
    if (o->fail > 0) {
        fail_nodes(&run);
        vlog(&run, "crashed %u nodes", run.failed_nodes);
    }
    vlog(&run, "measuring %u lookups", o->lookups);
    if (measure(&run))
        goto out;
    if (o->keys) {
        vlog(&run, "reading the keys back");
        if (check_keys(&run))
            goto out;
    }
    /* A last check, whatever K is. */
    if (o->check_every && check_now(&run))
        goto out;

    struct sim_report rep;
    if (summarize(&run, &rep) != 0) {
        fprintf(stderr, "dht-sim: out of memory\n");
        goto out;
    }
    struct chord_sim_stats st;
    chord_sim_stats(run.sim, &st);
    if (o->json)
        print_json(&run, &rep, &st);
    else
        print_text(&run, &rep, &st);
    vlog(&run, "done");
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
