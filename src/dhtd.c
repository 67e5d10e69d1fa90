/*
 * dhtd.c - the daemon: one Chord node listening on TCP.
 *
 *   dhtd --listen HOST:PORT [--join HOST:PORT] [--successors R]
 *        [--stabilize-ms T] [--replicas R] [--heartbeat-ms T] [--sync-ms T]
 *        [--tombstone-ttl S] [--owner-reads 0|1] [--pns 0|1]
 *        [--idle-timeout-ms N]
 *        [--log-level error|warn|info|debug]
 *        [--data DIR [--fsync always|batch|never] [--fsync-ms N]
 *        [--checkpoint-mb N] [--repair]] [--id HEX40] [--help] [--version]
 *
 * Without --join it creates a new ring, unless --data DIR lists the peers
 * it knew before (DIR/peers): then it rejoins their ring; with --join it
 * joins the ring of that node. It runs until SIGINT/SIGTERM, then leaves
 * gracefully (a second signal stops at once). Log lines go to stderr (see
 * chord/host.h). With
 * --data the node keeps a write-ahead log in DIR and recovers it at start
 * (see chord/durable.h); without it the node is memory-only.
 *
 * Exit status (common/exit.h): 0 after a graceful leave (and for
 * --help/--version), 1 (CHORD_EXIT_NODE_FAILED) when it cannot run
 * (cannot listen, cannot join, data directory locked or corrupt, fsync
 * failure, interrupted mid-leave), 2 for a usage error. Every error is one
 * line on stderr starting "dhtd: "; a usage error ends "(see dhtd --help)".
 *
 * This file only parses the command line and maps outcomes to exit codes;
 * it uses the public embedding API (chord/host.h), and the host does the
 * work.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "chord/durable.h"
#include "chord/host.h"
#include "chord/id.h"
#include "chord/node.h"
#include "chord/types.h"
#include "common/args.h"
#include "common/exit.h"

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
    "  --listen HOST:PORT    address to listen on and advertise (IPv4\n"
    "                        dotted quad or localhost; port 0 picks one)\n"
    "  --join HOST:PORT      a member of the ring to join\n"
    "  --successors R        successor list length, 1-32 (default 8)\n"
    "  --stabilize-ms T      stabilize period in ms (default 250)\n"
    "  --replicas R          copies of every key, owner included, 1 to\n"
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
    "  --idle-timeout-ms N   close a client connection that has sent nothing\n"
    "                        and been sent nothing for N ms (default 60000;\n"
    "                        0: never). Peer connections are not timed out\n"
    "  --log-level LEVEL     error, warn, info (default) or debug\n"
    "  --data DIR            keep a write-ahead log and snapshots in DIR\n"
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
    "  --id HEX40            node id instead of SHA-1(HOST:PORT); tests only\n"
    "  --help                print this help and exit\n"
    "  --version             print the version and exit\n"
    "\n"
    "exit status: 0 after a graceful leave, 1 on a runtime failure,\n"
    "2 on a usage error.\n";

/* The numeric options: one parser and one message for all of them. */
struct num_opt {
    const char *name;
    unsigned long min, max;
    const char *unit; /* shown in the error message */
};

static const struct num_opt num_opts[] = {
    {"--successors", 1, CHORD_SUCC_MAX, ""},
    {"--stabilize-ms", DHTD_STABILIZE_MIN_MS, DHTD_STABILIZE_MAX_MS, " ms"},
    {"--replicas", 1, CHORD_SUCC_MAX, ""},
    {"--heartbeat-ms", 10, 600000, " ms"},
    {"--sync-ms", 10, 600000, " ms"},
    {"--tombstone-ttl", 1, 2592000, " seconds (30 days)"},
    {"--owner-reads", 0, 1, ""},
    {"--pns", 0, 1, ""},
    {"--fsync-ms", 0, CHORD_DURABLE_FSYNC_MS_MAX, " ms"},
    {"--checkpoint-mb", 1, CHORD_DURABLE_CHECKPOINT_MB_MAX, " MiB"},
    {"--idle-timeout-ms", 0, CHORD_HOST_IDLE_TIMEOUT_MAX_MS, " ms"},
};

static const struct num_opt *num_opt_find(const char *name)
{
    for (size_t k = 0; k < sizeof num_opts / sizeof num_opts[0]; k++)
        if (strcmp(name, num_opts[k].name) == 0)
            return &num_opts[k];
    return NULL;
}

/* Store a numeric option's value, already checked against its bounds. The
 * log options also note that they need --data. */
static void num_opt_set(struct chord_host_options *opt, const char *name,
                        uint64_t n, const char **durable_flag)
{
    if (strcmp(name, "--successors") == 0)
        opt->node.successors = (unsigned)n;
    else if (strcmp(name, "--stabilize-ms") == 0)
        opt->node.stabilize_ms = (uint32_t)n;
    else if (strcmp(name, "--replicas") == 0)
        opt->node.replicas = (unsigned)n;
    else if (strcmp(name, "--heartbeat-ms") == 0)
        opt->node.heartbeat_ms = (uint32_t)n;
    else if (strcmp(name, "--sync-ms") == 0)
        opt->node.sync_ms = (uint32_t)n;
    else if (strcmp(name, "--tombstone-ttl") == 0)
        opt->node.tombstone_ttl_ms = (uint32_t)(n * 1000);
    else if (strcmp(name, "--owner-reads") == 0)
        opt->node.owner_reads = n != 0;
    else if (strcmp(name, "--pns") == 0)
        opt->node.pns = n != 0;
    else if (strcmp(name, "--idle-timeout-ms") == 0)
        opt->idle_timeout_ms = (uint32_t)n;
    else if (strcmp(name, "--fsync-ms") == 0) {
        opt->durable.fsync_ms = (uint32_t)n;
        *durable_flag = "--fsync-ms";
    } else { /* --checkpoint-mb */
        opt->durable.checkpoint_bytes = (uint64_t)n << 20;
        *durable_flag = "--checkpoint-mb";
    }
}

/* Check an address option: 0, or the usage exit code after saying why it
 * is not usable. */
static int check_addr(const char *flag, const char *addr, bool port0_ok)
{
    uint16_t port = 0;
    int rc = chord_host_addr_parse(addr, &port);
    if (rc == -EADDRNOTAVAIL)
        return chord_usage_error(
            "dhtd", "%s %s: only 127.0.0.0/8 addresses are used", flag, addr);
    if (rc || (!port0_ok && port == 0))
        return chord_usage_error("dhtd",
                                 "%s '%s' is not HOST:PORT (IPv4 address or "
                                 "localhost, port %s-65535)",
                                 flag, addr, port0_ok ? "0" : "1");
    return 0;
}

/* A word option (--fsync, --log-level): *out = parse(val), or the usage
 * exit code when parse refuses it (-1), naming the words it takes. */
static int word_opt(const char *name, const char *val,
                    int (*parse)(const char *), const char *words, int *out)
{
    int v = parse(val);
    if (v < 0)
        return chord_usage_error("dhtd", "%s must be %s, not '%s'", name, words,
                                 val);
    *out = v;
    return 0;
}

/* Fill *opt from argv. Returns -1 to continue, or an exit status
 * (CHORD_EXIT_OK after --help/--version, CHORD_EXIT_USAGE after a usage
 * error, already explained). */
static int parse_args(int argc, char **argv, struct chord_host_options *opt)
{
    const char *durable_flag = NULL; /* a log option given (needs --data) */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return CHORD_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("dhtd %s\n", CHORD_VERSION);
            return CHORD_EXIT_OK;
        }
        if (arg[0] != '-')
            return chord_usage_error("dhtd", "unexpected argument '%s'", arg);
        if (arg[1] != '-')
            return chord_usage_error("dhtd", "unknown option '%s'", arg);
        /* "--flag value" or "--flag=value". */
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nl >= sizeof name)
            return chord_usage_error("dhtd", "unknown option '%s'", arg);
        memcpy(name, arg, nl);
        name[nl] = '\0';
        static const char *const known[] = {"--listen",     "--join",
                                            "--successors", "--stabilize-ms",
                                            "--log-level",  "--id",
                                            "--replicas",   "--heartbeat-ms",
                                            "--sync-ms",    "--tombstone-ttl",
                                            "--data",       "--fsync",
                                            "--fsync-ms",   "--checkpoint-mb",
                                            "--repair",     "--owner-reads",
                                            "--pns"};
        bool ok = num_opt_find(name) != NULL; /* e.g. --idle-timeout-ms */
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok = ok || strcmp(name, known[k]) == 0;
        if (!ok)
            return chord_usage_error("dhtd", "unknown option '%s'", name);
        if (strcmp(name, "--repair") == 0) {
            if (eq)
                return chord_usage_error("dhtd",
                                         "option --repair takes no value");
            opt->durable.repair = true;
            durable_flag = "--repair";
            continue;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        if (!val)
            return chord_usage_error("dhtd", "option %s needs a value", name);

        const struct num_opt *no = num_opt_find(name);
        if (no) {
            uint64_t n;
            if (chord_parse_u64(val, no->min, no->max, &n))
                return chord_usage_error("dhtd",
                                         "%s must be a number from %lu to "
                                         "%lu%s, not '%s'",
                                         name, no->min, no->max, no->unit, val);
            num_opt_set(opt, name, n, &durable_flag);
            continue;
        }
        int code = 0;
        if (strcmp(name, "--listen") == 0) {
            code = check_addr(name, val, true);
            opt->listen = val;
        } else if (strcmp(name, "--join") == 0) {
            code = check_addr(name, val, false);
            opt->join = val;
        } else if (strcmp(name, "--data") == 0) {
            if (!*val)
                return chord_usage_error("dhtd", "--data needs a directory");
            opt->durable.dir = val;
        } else if (strcmp(name, "--fsync") == 0) {
            code = word_opt(name, val, chord_durability_parse,
                            "always, batch or never", &opt->durable.mode);
            durable_flag = "--fsync";
        } else if (strcmp(name, "--log-level") == 0) {
            code = word_opt(name, val, chord_log_level_parse,
                            "error, warn, info or debug", &opt->log_level);
        } else { /* --id */
            if (chord_id_from_hex(&opt->id, val))
                return chord_usage_error(
                    "dhtd", "--id must be 40 hex digits, not '%s'", val);
            opt->has_id = true;
        }
        if (code)
            return code;
    }
    if (!opt->listen)
        return chord_usage_error("dhtd", "--listen HOST:PORT is required");
    if (durable_flag && !opt->durable.dir)
        return chord_usage_error("dhtd", "%s only applies with --data DIR",
                                 durable_flag);
    if (opt->node.replicas > opt->node.successors + 1)
        return chord_usage_error("dhtd",
                                 "--replicas %u needs a successor list of at "
                                 "least %u (--successors is %u)",
                                 opt->node.replicas, opt->node.replicas - 1,
                                 opt->node.successors);
    return -1;
}

int main(int argc, char **argv)
{
    struct chord_host_options opt;
    chord_host_options_default(&opt);
    opt.tune_process = true; /* this process is the node: fit it to the caps */

    int status = parse_args(argc, argv, &opt);
    if (status >= 0)
        return status;
    opt.node.log_level = opt.log_level;
    opt.node.seed = uv_hrtime() ^ ((uint64_t)getpid() << 32);

    /* libuv writes with write(2): a peer that went away must give EPIPE,
     * not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc) {
        fprintf(stderr, "dhtd: cannot start the event loop: %s\n",
                uv_strerror(rc));
        return CHORD_EXIT_NODE_FAILED;
    }
    char err[CHORD_HOST_ERR_MAX];
    struct chord_host *h;
    rc = chord_host_new(&loop, &opt, err, &h);
    if (rc) {
        fprintf(stderr, "dhtd: %s\n", err);
        uv_loop_close(&loop);
        return CHORD_EXIT_NODE_FAILED;
    }
    enum chord_host_outcome outcome = chord_host_run(h, err);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "dhtd: warning: event loop closed with handles "
                        "open\n");
    if (outcome != CHORD_HOST_LEFT) {
        fprintf(stderr, "dhtd: %s\n", err);
        return CHORD_EXIT_NODE_FAILED;
    }
    return CHORD_EXIT_OK;
}
