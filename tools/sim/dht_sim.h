/*
 * dht_sim.h - what the files of dht-sim share and keep to themselves: the
 * options, the state of one run, the record of one client request, the
 * caps and tunables, and the functions one file offers the others.
 *
 * The files, lowest first (a file calls only the ones above it):
 *   run.c       the tool's PRNG, progress lines, time moving forward with
 *               Zave's invariant checked
 *   nodes.c     the nodes the tool believes up, random picks, adding and
 *               joining one node
 *   build.c     phase 1: the ring built in doubling waves, then settled
 *   workload.c  client requests; phase 2 (puts) and the keys read back
 *   faults.c    phase 3 (crashes at once), churn, and script events
 *   measure.c   phase 4: lookups on schedule, each answer classified
 *   report.c    the figures and how they are printed (text or JSON)
 *   snapshot.c  --snapshot: the final ring as `dht ring --json` prints it
 *   options.c   the command line (and --help)
 *   textfile.c  line reader of the matrix and script files (FILE:LINE:)
 *   matrix.c    the --latency matrix:FILE reader
 *   script.c    the --script FILE reader
 *   main.c      the phases in order
 *
 * This header is private to tools/sim. It includes only public headers
 * (chord/) and declares nothing the library knows about.
 */
#ifndef DHT_SIM_H
#define DHT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/sim.h"

/* Caps and tunables. */
#define SIM_NODES_CAP 200000u       /* --nodes, plus joins under churn */
#define SIM_LOOKUPS_CAP 10000000u   /* --lookups */
#define SIM_KEYS_CAP 1000000u       /* --keys */
#define SIM_DURATION_CAP_S 86400.0  /* --duration: one simulated day */
#define SIM_CHURN_CAP 100000.0      /* --churn events per second */
#define SIM_DELAY_CAP_MS 60000u     /* --latency bounds */
#define SIM_INFLIGHT_MAX 8192u      /* client requests the tool keeps open */
#define SIM_KEYS_DEFAULT 1000u      /* keys stored when --replicas is given */
#define SIM_LARGE_NODES 20000u      /* above: --static and a shorter phase */
#define SIM_LARGE_DURATION_MS 3000u /* ... the default --duration there */
#define WAVE_SPREAD_MS 100u         /* joins of one wave spread over this */
#define WAVE_POLL_MS 50u            /* how often a wave's progress is read */
#define WAVE_WAIT_MAX_MS 60000u     /* a wave must be ACTIVE within this */
#define SETTLE_STEP_MS 500u         /* ring exactness is checked this often */
#define SETTLE_MAX_MS 300000u       /* the ring must be exact within this */
#define DRAIN_SLACK_MS 1000u        /* past the client timeout, at the end */
#define KEYS_REPAIR_MAX_MS 60000u   /* wait for a repaired ring at most */
#define KEYS_SYNC_ROUNDS 3u         /* anti-entropy periods, then read keys */
#define PICK_TRIES 64               /* random probes before a linear scan */
#define SIM_SCRIPT_CAP 100000u      /* events in a --script file */

enum sim_latency {
    LATENCY_UNIFORM = 0, /* const:MS or uniform:MIN:MAX */
    LATENCY_GEO,
    LATENCY_MATRIX,
};

/* What a --script line does (the format is in script.c). */
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
    const char *script_file;   /* --script (argv), or NULL */
    const char *snapshot_file; /* --snapshot (argv), or NULL */
    struct script_ev *script;  /* n_script events, owned */
    size_t n_script;
    double loss;
    uint32_t stabilize_ms, fix_fingers_ms, rpc_timeout_ms;
    uint64_t check_every; /* events; 0 = never */
    bool check_set;
    bool rpc_set;  /* --rpc-timeout-ms given */
    bool seed_set; /* --seed given */
    bool json;
    bool verbose;
    bool pns;         /* proximity routing in every node */
    bool static_ring; /* --static: start from an exact ring, no joins */
    bool joins;       /* --joins: build by joins even for large N */
    int log_level;    /* node log lines on stderr at this level; -1 = none */
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

/* The figures of a run, from the per-request outcomes (report.c). */
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

/* ---- run.c --------------------------------------------------------------- */

/* splitmix64: the tool's own PRNG, seeded from --seed. */
uint64_t dsim_rnd(struct sim_run *run);

/* Uniform in [0, 1). */
double dsim_rnd_unit(struct sim_run *run);

/* Uniform in [0, n), n > 0 (bias below 2^-32 for n < 2^32). */
size_t dsim_rnd_below(struct sim_run *run, size_t n);

/* A progress line on stderr with --verbose, with wall-clock seconds. */
void dsim_vlog(const struct sim_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Check Zave's invariant now. 0, or -1 after printing the violation. */
int dsim_check_now(struct sim_run *run);

/* Run the simulation until time t, checking the invariant every
 * check_every events. 0, or -1 on a violation (the clock then stops at
 * the offending event). */
int dsim_advance(struct sim_run *run, uint64_t t);

/* ---- nodes.c ------------------------------------------------------------- */

/* Node i is up and a member (ACTIVE). */
bool dsim_is_active(const struct sim_run *run, int i);

/* Drop nodes that went down from the live list (order is kept, so the
 * run stays a function of the seed). */
void dsim_live_prune(struct sim_run *run);

/* A random ACTIVE node, or -1 when there is none. */
int dsim_pick_active(struct sim_run *run);

/* A random up node (any state), or -1. */
int dsim_pick_up(struct sim_run *run);

/* Add a node configured from the options (its PRNG seed from the tool's
 * PRNG) and remember it. Its index, or a negative errno. */
int dsim_add_node(struct sim_run *run);

/* Add a node and join it through a random ACTIVE node. Its index, or a
 * negative errno (-EHOSTUNREACH when no node is ACTIVE). */
int dsim_join_one(struct sim_run *run);

/* ACTIVE nodes now (prunes the live list). */
unsigned dsim_count_active(struct sim_run *run);

/* ---- build.c ------------------------------------------------------------- */

/* Phase 1 (see build.c): create, join in doubling waves, settle to an
 * exact ring. 0, or -1 after printing why not. */
int dsim_build_ring(struct sim_run *run);

/* ---- workload.c ---------------------------------------------------------- */

/* Where a failed request ends up (enum sim_outcome). */
uint8_t dsim_outcome_of(const struct chord_sim_reply *r);

/* Send one request to a random ACTIVE node, waiting for room when the
 * tool or the simulator has too many open; cb(q, reply) is called when it
 * completes. 0, -1 on a violation, or a negative errno of
 * chord_sim_request other than -EBUSY. */
int dsim_send_request(struct sim_run *run, enum chord_sim_op op,
                      const char *key, const char *value, chord_sim_reply_fn cb,
                      struct sim_req *q);

/* Run until every open request has completed (each has its own client
 * timeout, so this ends). 0 or -1. */
int dsim_drain(struct sim_run *run);

/* Phase 2: put the keys through random nodes and let replication
 * settle. 0, or -1 after printing why not. */
int dsim_put_keys(struct sim_run *run);

/* After the measurement: wait for repair, then read every stored key
 * back through a random node. 0, or -1 after printing why not. */
int dsim_check_keys(struct sim_run *run);

/* ---- faults.c ------------------------------------------------------------ */

/* Phase 3: crash round(fail * N) random up nodes at once. */
void dsim_fail_nodes(struct sim_run *run);

/* Exponential inter-arrival time in ms for `rate` events per second. */
uint64_t dsim_churn_gap(struct sim_run *run, double rate);

/* One churn event: a join through a random ACTIVE node or the crash of
 * a random up node, with probability 1/2 each. */
void dsim_churn_event(struct sim_run *run);

/* Apply one script event now. 0, or -ENOMEM (printed). */
int dsim_script_apply(struct sim_run *run, const struct script_ev *ev);

/* ---- measure.c ----------------------------------------------------------- */

/* Phase 4: send the lookups on schedule while churn runs, then wait for
 * the last answers. Fills run->lk, the message count and the node-time
 * integral of the window. 0, or -1 (violation, or requests that never
 * completed; printed). */
int dsim_measure(struct sim_run *run);

/* ---- report.c ------------------------------------------------------------ */

/* Turn the per-request outcomes into the report's figures. 0 or
 * -ENOMEM. */
int dsim_summarize(struct sim_run *run, struct sim_report *rep);

/* The report, one figure per line (after the seed line). */
void dsim_print_text(const struct sim_run *run, const struct sim_report *r,
                     const struct chord_sim_stats *st);

/* The report as one JSON object on one line. */
void dsim_print_json(const struct sim_run *run, const struct sim_report *r,
                     const struct chord_sim_stats *st);

/* ---- snapshot.c ---------------------------------------------------------- */

/* Write the status of every up node, sorted by id, to `path` as a JSON
 * array of the objects `dht ring --json` prints (fingers: the first of
 * each run of fingers naming the same node). 0, or -1 after printing
 * why not. */
int dsim_snapshot_write(const struct sim_run *run, const char *path);

/* Before the run: can `path` be written (its FILE.tmp created and
 * removed)? 0, or -1 after printing why not. */
int dsim_snapshot_probe(const char *path);

/* ---- options.c ----------------------------------------------------------- */

/* Parse a finite number in [lo, hi]. 0 or -EINVAL. */
int dsim_parse_double(const char *s, double lo, double hi, double *out);

/* Fill *o from argv and check the options against each other (the files
 * they name are read afterwards, by dsim_matrix_read and
 * dsim_script_read). CHORD_EXIT_OK, CHORD_EXIT_USAGE (message printed),
 * or -1 when --help was printed. */
int dsim_opts_parse(int argc, char **argv, struct sim_opts *o);

/* The defaults that depend on the files read: the request timeout when
 * --rpc-timeout-ms was not given (from the model's longest delay), and
 * the seed from the clock when --seed was not. */
void dsim_opts_finish(struct sim_opts *o);

/* ---- matrix.c, script.c -------------------------------------------------- */

/* Read o->matrix_file into o->matrix: M lines of M delays in ms. 0, or
 * CHORD_EXIT_USAGE after printing FILE:LINE: why not. */
int dsim_matrix_read(struct sim_opts *o);

/* Read o->script_file into o->script (format in script.c); its times
 * are checked against o->duration. 0, or CHORD_EXIT_USAGE after printing
 * FILE:LINE: why not. */
int dsim_script_read(struct sim_opts *o);

#endif
