/*
 * options.c - dhtd's option table and its getopt_long reader (see
 * options.h).
 *
 * Invariants: an option is one row of long_opts (and of num_opts when it
 * takes a bounded number) and one case in apply(); the usage text lists
 * exactly the options of long_opts (the man page check keeps dhtd.8 to the
 * same list). Every refusal names the option and the value refused.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chord/addr.h"
#include "chord/durable.h"
#include "chord/host.h"
#include "chord/id.h"
#include "chord/node.h"
#include "chord/types.h"
#include "common/args.h"
#include "common/exit.h"
#include "config_file.h"

/* Bounds accepted for --stabilize-ms. */
#define DHTD_STABILIZE_MIN_MS 1u
#define DHTD_STABILIZE_MAX_MS 600000u

static const char usage_text[] =
    "usage: dhtd --listen HOST:PORT [--join HOST:PORT] [options]\n"
    "\n"
    "Run one Chord DHT node. Without --join it starts a new ring (or, with\n"
    "--data, rejoins the ring it knew before); with --join it joins the\n"
    "ring that node belongs to. SIGINT or SIGTERM make it hand its keys\n"
    "over and leave; a second signal stops it at once.\n"
    "\n"
    "options:\n"
    "  -l, --listen HOST:PORT  address to listen on: A.B.C.D, [IPv6] or a\n"
    "                        host name; 0.0.0.0 or [::] for every address\n"
    "                        (then --advertise is needed); port 0 picks one\n"
    "  --advertise HOST:PORT  address the others reach this node at (the\n"
    "                        node id is SHA-1 of it; default: the listen\n"
    "                        address)\n"
    "  --insecure            accept plaintext connections from any address\n"
    "                        (default: from loopback only)\n"
    "  -j, --join HOST:PORT  a member of the ring to join\n"
    "  -s, --successors R    successor list length, 1-32 (default 8)\n"
    "  --stabilize-ms T      stabilize period in ms (default 250)\n"
    "  -r, --replicas R      copies of every key, owner included, 1 to\n"
    "                        successors+1 (default 3)\n"
    "  --heartbeat-ms T      failure-detector heartbeat period (default 200)\n"
    "  --sync-ms T           anti-entropy period between replicas (default\n"
    "                        1000)\n"
    "  --tombstone-ttl S     seconds a delete is remembered (default 600)\n"
    "  --owner-reads 0|1     1 (default): an owner that has caught up with\n"
    "                        its replicas answers quorum reads alone while\n"
    "                        its successor vouches for it; 0: always ask\n"
    "                        a replica too\n"
    "  --pns 0|1             proximity routing: fingers chosen by round\n"
    "                        trip, lookups by progress per ms (default 0)\n"
    "  --vnodes K            ring positions of this process, 1-64 (default\n"
    "                        1): K names ADDRESS#i (ids SHA-1 of them)\n"
    "                        behind one listener; with --join, the K of\n"
    "                        #0..#255 that share the ring most evenly (a\n"
    "                        walk of the ring first), else #0..#K-1;\n"
    "                        copies of a key go to distinct processes.\n"
    "                        Not with --data\n"
    "  --test-drop-requests PCT  testing only: drop PCT% of mutating client\n"
    "                        requests unanswered, before executing them\n"
    "  --test-drop-replies PCT  testing only: execute PCT% of mutating\n"
    "                        client requests but never send their reply\n"
    "  --idle-timeout-ms N   close a client connection that has sent nothing\n"
    "                        and been sent nothing for N ms (default 60000;\n"
    "                        0: never). Peer connections are not timed out\n"
    "  --log-level LEVEL     error, warn, info (default) or debug\n"
    "  --log-format FORMAT   text (default) or json: one object per line\n"
    "                        with time, level, node and message\n"
    "  --metrics-listen HOST:PORT  serve Prometheus metrics on\n"
    "                        http://HOST:PORT/metrics and /healthz (200\n"
    "                        when joined and serving, else 503)\n"
    "  -c, --config FILE     read options from FILE, one per line:\n"
    "                        'name = value' or 'name' for a flag (long\n"
    "                        names without --), '#' starts a comment line;\n"
    "                        options after --config override the file's\n"
    "  -d, --data DIR        keep a write-ahead log and snapshots in DIR\n"
    "                        (created if missing; one node per DIR) and\n"
    "                        recover them at start; without it the node\n"
    "                        keeps its data in memory only. DIR/peers\n"
    "                        lists the peers the node knows: restarted\n"
    "                        without --join, it rejoins its ring through\n"
    "                        them (alone, still looking for them, when none\n"
    "                        answers); with --join it looks for them too\n"
    "  --fsync MODE          with --data: always (acknowledge after fsync),\n"
    "                        batch (group the writes of --fsync-ms into one\n"
    "                        fsync; default) or never (the OS flushes)\n"
    "  --fsync-ms N          batch window in ms, 0-10000 (default 2)\n"
    "  --checkpoint-mb N     snapshot the store when the log passes N MiB,\n"
    "                        1-65536 (default 64)\n"
    "  --repair              start past a corrupt log or snapshot: keep the\n"
    "                        records before the damage, move the file aside\n"
    "  --tls-cert FILE       this node's certificate (PEM); it must name the\n"
    "                        --listen host in subjectAltName (tools/dht-certs\n"
    "                        makes one). With --tls-key and --tls-ca, every\n"
    "                        connection, peer or client, is mutual TLS 1.3\n"
    "  --tls-key FILE        the private key of --tls-cert (PEM)\n"
    "  --tls-ca FILE         the CA every peer's certificate must chain to\n"
    "  --client-auth MODE    with TLS: required (default: clients need a\n"
    "                        certificate of the CA) or none (any client;\n"
    "                        peers are still verified)\n"
    "  --id HEX40            node id instead of SHA-1(HOST:PORT); tests only\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and exit\n"
    "\n"
    "exit status: 0 after a graceful leave, 1 on a runtime failure,\n"
    "2 on a usage error.\n";

/* Option codes: the short letter when there is one, else from 256 up. */
enum {
    OPT_CONFIG = 'c',
    OPT_DATA = 'd',
    OPT_HELP = 'h',
    OPT_JOIN = 'j',
    OPT_LISTEN = 'l',
    OPT_REPLICAS = 'r',
    OPT_SUCCESSORS = 's',
    OPT_VERSION = 'V',
    OPT_STABILIZE_MS = 256,
    OPT_ADVERTISE,
    OPT_INSECURE,
    OPT_HEARTBEAT_MS,
    OPT_SYNC_MS,
    OPT_TOMBSTONE_TTL,
    OPT_OWNER_READS,
    OPT_PNS,
    OPT_VNODES,
    OPT_TEST_DROP_REQUESTS,
    OPT_TEST_DROP_REPLIES,
    OPT_IDLE_TIMEOUT_MS,
    OPT_LOG_LEVEL,
    OPT_FSYNC,
    OPT_FSYNC_MS,
    OPT_CHECKPOINT_MB,
    OPT_REPAIR,
    OPT_ID,
    OPT_LOG_FORMAT,
    OPT_METRICS_LISTEN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_CLIENT_AUTH,
};

static const char short_opts[] = ":c:d:hj:l:r:s:V";

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"join", required_argument, NULL, OPT_JOIN},
    {"advertise", required_argument, NULL, OPT_ADVERTISE},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"successors", required_argument, NULL, OPT_SUCCESSORS},
    {"stabilize-ms", required_argument, NULL, OPT_STABILIZE_MS},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS},
    {"sync-ms", required_argument, NULL, OPT_SYNC_MS},
    {"tombstone-ttl", required_argument, NULL, OPT_TOMBSTONE_TTL},
    {"owner-reads", required_argument, NULL, OPT_OWNER_READS},
    {"pns", required_argument, NULL, OPT_PNS},
    {"vnodes", required_argument, NULL, OPT_VNODES},
    {"test-drop-requests", required_argument, NULL, OPT_TEST_DROP_REQUESTS},
    {"test-drop-replies", required_argument, NULL, OPT_TEST_DROP_REPLIES},
    {"idle-timeout-ms", required_argument, NULL, OPT_IDLE_TIMEOUT_MS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"data", required_argument, NULL, OPT_DATA},
    {"fsync", required_argument, NULL, OPT_FSYNC},
    {"fsync-ms", required_argument, NULL, OPT_FSYNC_MS},
    {"checkpoint-mb", required_argument, NULL, OPT_CHECKPOINT_MB},
    {"repair", no_argument, NULL, OPT_REPAIR},
    {"id", required_argument, NULL, OPT_ID},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"client-auth", required_argument, NULL, OPT_CLIENT_AUTH},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The numeric options: one parser and one message for all of them. */
struct num_opt {
    int code;
    unsigned long min, max;
    const char *unit; /* shown in the error message */
};

static const struct num_opt num_opts[] = {
    {OPT_SUCCESSORS, 1, CHORD_SUCC_MAX, ""},
    {OPT_STABILIZE_MS, DHTD_STABILIZE_MIN_MS, DHTD_STABILIZE_MAX_MS, " ms"},
    {OPT_REPLICAS, 1, CHORD_SUCC_MAX, ""},
    {OPT_HEARTBEAT_MS, 10, 600000, " ms"},
    {OPT_SYNC_MS, 10, 600000, " ms"},
    {OPT_TOMBSTONE_TTL, 1, 2592000, " seconds (30 days)"},
    {OPT_OWNER_READS, 0, 1, ""},
    {OPT_PNS, 0, 1, ""},
    {OPT_VNODES, 1, CHORD_HOST_VNODES_MAX, ""},
    {OPT_TEST_DROP_REQUESTS, 0, 100, ""},
    {OPT_TEST_DROP_REPLIES, 0, 100, ""},
    {OPT_FSYNC_MS, 0, CHORD_DURABLE_FSYNC_MS_MAX, " ms"},
    {OPT_CHECKPOINT_MB, 1, CHORD_DURABLE_CHECKPOINT_MB_MAX, " MiB"},
    {OPT_IDLE_TIMEOUT_MS, 0, CHORD_HOST_IDLE_TIMEOUT_MAX_MS, " ms"},
};

/* The long name of option `code`, for messages. */
static const char *opt_name(int code)
{
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == code)
            return lo->name;
    return "?";
}

/* Where the parse stands: the log option given (it needs --data), and
 * the file line being applied ("FILE:LINE: ", or "" on the command line). */
struct parse_state {
    struct dhtd_options *o;
    const char *durable_flag;
    char where[DHTD_CONFIG_ERR_MAX];
    const char *tls_flag; /* an option that needs TLS */
};

/* A usage error, "dhtd: [FILE:LINE: ]message (see dhtd --help)": returns
 * CHORD_EXIT_USAGE. */
static int usage(const struct parse_state *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage(const struct parse_state *ps, const char *fmt, ...)
{
    char msg[DHTD_CONFIG_ERR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return chord_usage_error("dhtd", "%s%s", ps->where, msg);
}

/* Store a numeric option's value, already checked against its bounds. */
static void num_set(struct parse_state *ps, int code, uint64_t n)
{
    struct chord_host_options *h = &ps->o->host;
    switch (code) {
    case OPT_SUCCESSORS:
        h->node.successors = (unsigned)n;
        break;
    case OPT_STABILIZE_MS:
        h->node.stabilize_ms = (uint32_t)n;
        break;
    case OPT_REPLICAS:
        h->node.replicas = (unsigned)n;
        break;
    case OPT_HEARTBEAT_MS:
        h->node.heartbeat_ms = (uint32_t)n;
        break;
    case OPT_SYNC_MS:
        h->node.sync_ms = (uint32_t)n;
        break;
    case OPT_TOMBSTONE_TTL:
        h->node.tombstone_ttl_ms = (uint32_t)(n * 1000);
        break;
    case OPT_OWNER_READS:
        h->node.owner_reads = n != 0;
        break;
    case OPT_VNODES:
        h->vnodes = (unsigned)n;
        break;
    case OPT_PNS:
        h->node.pns = n != 0;
        break;
    case OPT_TEST_DROP_REQUESTS:
        h->node.test_drop_requests_pct = (unsigned)n;
        break;
    case OPT_TEST_DROP_REPLIES:
        h->node.test_drop_replies_pct = (unsigned)n;
        break;
    case OPT_IDLE_TIMEOUT_MS:
        h->idle_timeout_ms = (uint32_t)n;
        break;
    case OPT_FSYNC_MS:
        h->durable.fsync_ms = (uint32_t)n;
        ps->durable_flag = "--fsync-ms";
        break;
    case OPT_CHECKPOINT_MB:
        h->durable.checkpoint_bytes = (uint64_t)n << 20;
        ps->durable_flag = "--checkpoint-mb";
        break;
    }
}

/* Is `addr` a wildcard address (0.0.0.0 or [::], any port)? */
static bool is_wildcard(const char *addr)
{
    struct chord_addr a;
    return chord_addr_split(addr, CHORD_ADDR_ANY_PORT, &a) == 0 &&
           chord_addr_is_wildcard(&a);
}

/* Check an address option: 0, or the usage exit code after saying why it
 * is not usable. Only a listen address may be a wildcard or have port 0. */
static int check_addr(const struct parse_state *ps, const char *flag,
                      const char *addr, bool listen)
{
    uint16_t port = 0;
    int rc = chord_host_addr_parse(addr, &port);
    if (rc)
        return usage(ps, "%s '%.*s': %s", flag, (int)CHORD_ADDR_MAX, addr,
                     chord_addr_strerror(rc));
    if (!listen && port == 0)
        return usage(ps, "%s '%s': port 0 names no node", flag, addr);
    if (!listen && is_wildcard(addr))
        return usage(ps, "%s '%s': a wildcard address names no node", flag,
                     addr);
    return 0;
}

/* A word option (--fsync, --log-level): *out = parse(val), or the usage
 * exit code when parse refuses it (-1), naming the words it takes. */
static int word_opt(const struct parse_state *ps, const char *name,
                    const char *val, int (*parse)(const char *),
                    const char *words, int *out)
{
    int v = parse(val);
    if (v < 0)
        return usage(ps, "--%s must be %s, not '%s'", name, words, val);
    *out = v;
    return 0;
}

static int apply_file(struct parse_state *ps, const char *path);

/* Apply one option with its value (NULL for a flag). -1 to go on, or an
 * exit status. */
static int apply(struct parse_state *ps, int code, const char *val)
{
    struct chord_host_options *h = &ps->o->host;
    for (size_t k = 0; k < sizeof num_opts / sizeof num_opts[0]; k++) {
        const struct num_opt *no = &num_opts[k];
        if (no->code != code)
            continue;
        uint64_t n;
        if (chord_parse_u64(val, no->min, no->max, &n))
            return usage(ps,
                         "--%s must be a number from %lu to "
                         "%lu%s, not '%s'",
                         opt_name(code), no->min, no->max, no->unit, val);
        num_set(ps, code, n);
        return -1;
    }
    int rc = 0;
    switch (code) {
    case OPT_HELP:
        fputs(usage_text, stdout);
        return CHORD_EXIT_OK;
    case OPT_VERSION:
        printf("dhtd %s\n", CHORD_VERSION);
        return CHORD_EXIT_OK;
    case OPT_LISTEN:
        rc = check_addr(ps, "--listen", val, true);
        h->listen = val;
        break;
    case OPT_JOIN:
        rc = check_addr(ps, "--join", val, false);
        h->join = val;
        break;
    case OPT_ADVERTISE:
        rc = check_addr(ps, "--advertise", val, false);
        h->advertise = val;
        break;
    case OPT_INSECURE:
        h->insecure = true;
        break;
    case OPT_DATA:
        if (!*val)
            return usage(ps, "--data needs a directory");
        h->durable.dir = val;
        break;
    case OPT_FSYNC:
        rc = word_opt(ps, "fsync", val, chord_durability_parse,
                      "always, batch or never", &h->durable.mode);
        ps->durable_flag = "--fsync";
        break;
    case OPT_LOG_LEVEL:
        rc = word_opt(ps, "log-level", val, chord_log_level_parse,
                      "error, warn, info or debug", &h->log_level);
        break;
    case OPT_LOG_FORMAT:
        rc = word_opt(ps, "log-format", val, chord_log_format_parse,
                      "text or json", &h->log_format);
        break;
    case OPT_METRICS_LISTEN:
        rc = check_addr(ps, "--metrics-listen", val, true);
        h->metrics_listen = val;
        break;
    case OPT_CONFIG:
        return apply_file(ps, val);
    case OPT_REPAIR:
        h->durable.repair = true;
        ps->durable_flag = "--repair";
        break;
    case OPT_TLS_CERT:
    case OPT_TLS_KEY:
    case OPT_TLS_CA:
        if (!*val)
            return usage(ps, "--%s needs a file", opt_name(code));
        *(code == OPT_TLS_CERT  ? &h->tls.cert
          : code == OPT_TLS_KEY ? &h->tls.key
                                : &h->tls.ca) = val;
        break;
    case OPT_CLIENT_AUTH:
        if (strcmp(val, "required") == 0)
            h->tls.client_auth = CHORD_TLS_CLIENT_AUTH_REQUIRED;
        else if (strcmp(val, "none") == 0)
            h->tls.client_auth = CHORD_TLS_CLIENT_AUTH_NONE;
        else
            return usage(ps, "--client-auth must be required or none, not '%s'",
                         val);
        ps->tls_flag = "--client-auth";
        break;
    case OPT_ID:
        if (chord_id_from_hex(&h->id, val))
            return usage(ps, "--id must be 40 hex digits, not '%s'", val);
        h->has_id = true;
        break;
    }
    return rc ? rc : -1;
}

/* Apply the options of the file at `path` in order, as if given on the
 * command line where --config stands. -1 to go on, or an exit status. */
static int apply_file(struct parse_state *ps, const char *path)
{
    struct dhtd_config *cfg = &ps->o->config;
    if (cfg->text)
        return usage(ps, "--config given twice");
    char err[DHTD_CONFIG_ERR_MAX];
    if (dhtd_config_read(path, cfg, err))
        return usage(ps, "%s", err);
    for (size_t i = 0; i < cfg->n; i++) {
        const struct dhtd_config_entry *e = &cfg->entries[i];
        snprintf(ps->where, sizeof ps->where, "%s:%u: ", path, e->line);
        const struct option *lo = long_opts;
        while (lo->name && strcmp(lo->name, e->name) != 0)
            lo++;
        int code = lo->val;
        if (!lo->name || code == OPT_CONFIG || code == OPT_HELP ||
            code == OPT_VERSION)
            return usage(ps, "unknown option '%s' in a config file", e->name);
        if (lo->has_arg == no_argument && e->value)
            return usage(ps, "option %s takes no value", e->name);
        if (lo->has_arg == required_argument && !e->value)
            return usage(ps, "option %s needs a value ('%s = ...')", e->name,
                         e->name);
        int status = apply(ps, code, e->value);
        if (status >= 0)
            return status;
    }
    ps->where[0] = '\0';
    return -1;
}

/* The combinations, once every option is in. -1 or the usage status. */
static int check_whole(const struct parse_state *ps)
{
    const struct chord_host_options *h = &ps->o->host;
    if (!h->listen)
        return usage(ps, "--listen HOST:PORT is required");
    if (is_wildcard(h->listen) && !h->advertise)
        return usage(ps,
                     "--listen %s listens on every address: say "
                     "which one the others reach this node at "
                     "with --advertise HOST:PORT",
                     h->listen);
    if (ps->durable_flag && !h->durable.dir)
        return usage(ps, "%s only applies with --data DIR", ps->durable_flag);
    if (chord_tls_options_enabled(&h->tls) &&
        (!h->tls.cert || !h->tls.key || !h->tls.ca))
        return usage(ps, "TLS needs all three of --tls-cert, --tls-key and "
                         "--tls-ca");
    if (ps->tls_flag && !chord_tls_options_enabled(&h->tls))
        return usage(ps,
                     "%s only applies with --tls-cert, --tls-key and "
                     "--tls-ca",
                     ps->tls_flag);
    if (h->vnodes > 1 && h->durable.dir)
        return usage(ps, "--data is not supported with --vnodes above 1 "
                         "(virtual nodes are memory-only)");
    if (h->node.replicas > h->node.successors + 1)
        return usage(ps,
                     "--replicas %u needs a successor list of at "
                     "least %u (--successors is %u)",
                     h->node.replicas, h->node.replicas - 1,
                     h->node.successors);
    return -1;
}

void dhtd_options_default(struct dhtd_options *o)
{
    memset(o, 0, sizeof *o);
    chord_host_options_default(&o->host);
    o->host.tune_process = true; /* this process is the node */
    o->host.sd_notify = true;    /* tell systemd, when it is listening */
}

void dhtd_options_free(struct dhtd_options *o)
{
    dhtd_config_free(&o->config);
}

int dhtd_options_parse(struct dhtd_options *o, int argc, char **argv)
{
    struct parse_state ps = {.o = o, .durable_flag = NULL, .where = ""};
    opterr = 0; /* our own one-line messages */
    optind = 1;
    for (;;) {
        int code = getopt_long(argc, argv, short_opts, long_opts, NULL);
        if (code == -1)
            break;
        const char *arg = argv[optind - 1];
        if (code == ':')
            return usage(&ps, "option %s needs a value", arg);
        if (code == '?') {
            bool is_long = strncmp(arg, "--", 2) == 0;
            if (is_long && optopt) /* a known flag given "=value" */
                return usage(&ps, "option %.*s takes no value",
                             (int)strcspn(arg, "="), arg);
            if (!is_long)
                return usage(&ps, "unknown option '-%c'", optopt);
            return usage(&ps, "unknown option '%s'", arg);
        }
        int status = apply(&ps, code, optarg);
        if (status >= 0)
            return status;
    }
    if (optind < argc)
        return usage(&ps, "unexpected argument '%s'", argv[optind]);
    return check_whole(&ps);
}
