/*
 * options.c - dht-sim's command line: --help, and every option parsed and
 * checked into a struct sim_opts.
 *
 * Network models (the simulator's, see chord/sim.h): --latency const:MS,
 * uniform:MIN:MAX (the default, uniform:1:5), geo[:CLUSTERS] (a synthetic
 * Internet: CLUSTERS continents, default 5; 2-20 ms one way within one,
 * 40-147 ms between two), or matrix:FILE (M lines of M whitespace-
 * separated delays in ms, row = sender's host, '#' starts a comment; node
 * i sits on host i % M; read by matrix.c). Partitions come from a script.
 * The core's request timeout (--rpc-timeout-ms) also bounds a whole
 * recursive lookup: with long delays (geo lookups of 1000 nodes take 440
 * ms on average, 800 at p99) a lookup that takes longer fails. So its
 * default is 1000 ms or 20 times the model's longest one-way delay,
 * whichever is more (2940 ms for geo). --pns turns on proximity routing
 * in every node (node.h); the ring check then accepts any member of a
 * finger's interval.
 *
 * Invariants: every number is range-checked before it is stored; a bad
 * option is one line on stderr (chord_usage_error) and exit 2, before
 * anything is run. The order of the checks is part of the output: the
 * first bad option is the one named.
 *
 * It does not read the files the options name (matrix.c, script.c): the
 * caller reads them between dsim_opts_parse() and dsim_opts_finish().
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chord/node.h"
#include "chord/sim.h"
#include "common/args.h"
#include "common/exit.h"
#include "dht_sim.h"

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
        "               [--pns] [--static | --joins] [--verbose]\n"
        "               [--log LEVEL]\n"
        "               [--snapshot FILE]\n"
        "       dht-sim --help | --version\n"
        "\n"
        "Runs N nodes of the protocol core in simulated time: builds an\n"
        "exact ring, optionally crashes a FRACTION of the nodes at once,\n"
        "then measures L lookups of random keys from random nodes spread\n"
        "over T simulated seconds, under churn of RATE joins+crashes per\n"
        "second (each half the time). Prints the seed first; --seed S\n"
        "replays a run bit for bit.\n"
        "\n"
        "  -n, --nodes N       ring size (1..200000)\n"
        "  --successors R      successor list length (1..32, default 8)\n"
        "  --replicas K        copies of each key, owner included (1..R+1,\n"
        "                      default 3); also stores keys before the\n"
        "                      failures and reports keys_lost\n"
        "  --keys M            keys to store and read back (default 0, or\n"
        "                      1000 with --replicas)\n"
        "  --lookups L         lookups measured (default 1000)\n"
        "  --fail FRACTION     crash this fraction at once (0..1, default 0)\n"
        "  --churn RATE        joins+crashes per simulated second (0)\n"
        "  --duration T        measured phase, simulated seconds (10, or 3\n"
        "                      above 20000 nodes; 0 = all lookups at once)\n"
        "  -s, --seed S        PRNG seed (default: from the clock)\n"
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
        "  --static            start from an exact ring: all N nodes at once,\n"
        "                      given their successors, predecessors and\n"
        "                      fingers, instead of joins in doubling waves\n"
        "                      (no simulated time spent; the default above\n"
        "                      20000 nodes, where joins take many minutes)\n"
        "  --joins             build by joins in doubling waves even above\n"
        "                      20000 nodes\n"
        "  -j, --json          one JSON object instead of text\n"
        "  --verbose           wall-clock times of the phases on stderr\n"
        "  --log LEVEL         node log lines on stderr, with simulated time\n"
        "                      (0 error, 1 warn, 2 info, 3 debug)\n"
        "  --snapshot FILE     at the end, write every up node's status to\n"
        "                      FILE as `dht ring --json` does (sorted by id;\n"
        "                      fingers: the first of each run naming one\n"
        "                      node), for `dht-viz --input`\n"
        "  -h, --help          this text\n"
        "  -V, --version       the version\n"
        "\n"
        "A progress line (nodes joined, then lookups sent: count, percent,\n"
        "rate, ETA) is drawn on stderr when it is a terminal, unless --json.\n"
        "\n"
        "exit status: 0 ok, 2 usage error, 3 the run could not complete\n",
        f);
}

/* Parse a finite number in [lo, hi]. 0 or -EINVAL. */
int dsim_parse_double(const char *s, double lo, double hi, double *out)
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
 * is read later, by dsim_matrix_read). 0 or -EINVAL. */
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
    OPT_SNAPSHOT,
    OPT_STATIC,
    OPT_JOINS,
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
    {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
    {"static", no_argument, NULL, OPT_STATIC},
    {"joins", no_argument, NULL, OPT_JOINS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/*
 * Above SIM_LARGE_NODES a ring built by joins takes many minutes (about
 * 17 doubling waves of 2.5 simulated seconds, every node already in
 * running its timers: some 85 million events at 100000 nodes) and a
 * 10-second phase some 170 million (about 15 minutes): start it static
 * and measure 3 seconds, unless told otherwise, and say so on stderr.
 */
static void large_defaults(struct sim_opts *o, bool have_duration)
{
    if (o->nodes <= SIM_LARGE_NODES)
        return;
    bool to_static = !o->static_ring && !o->joins;
    if (to_static)
        o->static_ring = true;
    if (!have_duration)
        o->duration = SIM_LARGE_DURATION_MS;
    if (to_static || !have_duration)
        fprintf(stderr, "dht-sim: %u nodes (more than %u):%s%s\n", o->nodes,
                SIM_LARGE_NODES,
                to_static ? " a static ring (--joins to build by joins)" : "",
                !have_duration ? (to_static ? ", measured for 3 s (--duration)"
                                            : " measured for 3 s (--duration)")
                               : "");
}

/* Fill *o from argv and check the options against each other.
 * CHORD_EXIT_OK, CHORD_EXIT_USAGE (message printed), or -1 when --help or
 * --version was printed. */
int dsim_opts_parse(int argc, char **argv, struct sim_opts *o)
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
    bool have_keys = false, have_replicas = false, have_duration = false;
    uint64_t u;
    double d;
    opterr = 0;
    for (;;) {
        int ch = getopt_long(argc, argv, ":hVn:s:j", sim_longopts, NULL);
        if (ch == -1)
            break;
        const char *a = optarg;
        switch (ch) {
        case 'n':
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
            if (dsim_parse_double(a, 0.0, 1.0, &d) || d >= 1.0)
                return chord_usage_error(
                    "dht-sim", "bad --fail '%s' (want 0 <= F < 1)", a);
            o->fail = d;
            break;
        case OPT_CHURN:
            if (dsim_parse_double(a, 0.0, SIM_CHURN_CAP, &d))
                return chord_usage_error(
                    "dht-sim", "bad --churn '%s' (want 0..100000 per s)", a);
            o->churn = d;
            break;
        case OPT_DURATION:
            if (dsim_parse_double(a, 0.0, SIM_DURATION_CAP_S, &d))
                return chord_usage_error(
                    "dht-sim", "bad --duration '%s' (want 0..86400 s)", a);
            o->duration = (uint64_t)llround(d * 1000.0);
            have_duration = true;
            break;
        case 's':
        case OPT_SEED:
            if (chord_parse_u64(a, 0, UINT64_MAX, &u))
                return chord_usage_error(
                    "dht-sim", "bad --seed '%s' (want an unsigned integer)", a);
            o->seed = u;
            o->seed_set = true;
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
            if (dsim_parse_double(a, 0.0, 1.0, &d) || d >= 1.0)
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
        case 'j':
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
        case OPT_SNAPSHOT:
            o->snapshot_file = a;
            break;
        case OPT_PNS:
            o->pns = true;
            break;
        case OPT_STATIC:
            o->static_ring = true;
            break;
        case OPT_JOINS:
            o->joins = true;
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
        case 'V':
            printf("dht-sim %s\n", CHORD_VERSION);
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
    if (o->static_ring && o->joins)
        return chord_usage_error("dht-sim", "%s",
                                 "--static and --joins exclude each other");
    large_defaults(o, have_duration);
    if (have_replicas && !have_keys)
        o->keys = SIM_KEYS_DEFAULT;
    if (!o->check_set)
        o->check_every = o->nodes <= 128 ? 1 : o->nodes;
    return CHORD_EXIT_OK;
}

/* After the files were read: the request timeout and the seed, unless
 * given. */
void dsim_opts_finish(struct sim_opts *o)
{
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
    if (!o->seed_set) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec * UINT64_C(1000000007)) ^
                  (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
}
