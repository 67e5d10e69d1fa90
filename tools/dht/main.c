/*
 * main.c - `dht`, the command-line client: put, get, del, append, lookup,
 * ring, status, lock, and bench (a load generator, see bench.h). This file
 * reads the command line and dispatches; dht.h lists the others.
 *
 *     dht [--node HOST:PORT]... [--timeout-ms N] [--json] COMMAND ARGS
 *
 * (short forms: -N --node, -j --json, -f --file, -h --help, -V --version;
 * -n is bench's request count, as in redis-benchmark)
 *
 * The CLI contract (DESIGN.md, "CLI contract") is what scripts rely on:
 * the JSON shapes of lookup/status/ring/lock and the exit codes
 *     0 ok, 1 not found, 2 usage error, 3 cannot reach the ring or the
 *     operation failed, 4 a condition of the request was false (a fenced
 *     write older than the key's fence, not the lock's holder, a false
 *     --if-context or --if-absent), 5 a lock not granted within
 *     --wait-ms or a session token not covered in time, 6 a get of a key
 *     with concurrent values (siblings),
 * with every error as one line on stderr ({"error": ..., "exit": N} with
 * --json, which is seen wherever it stands, so that even an error in an
 * earlier option comes out as JSON). Arguments are checked (command,
 * argument count, key and value caps) before any connection is made, so a
 * usage error never touches the network.
 *
 * Values: `put KEY VALUE` takes the argument's bytes; `put KEY --file F`
 * (or `put KEY -`, or `--file -`) reads the value from a file or stdin,
 * like redis-cli -x, up to CHORD_VALUE_MAX bytes; so do `append` and
 * `lock append` (its VALUE '-' is stdin).
 *
 * Exactly once: every put, del, append and lock operation carries the
 * session's request id, the same on every node it tries (chord/session.h),
 * so a retry after a lost reply is not applied twice. --fence NAME:N
 * fences a put, del or append with lock NAME's fencing number N (a token's
 * fence): the key's owner refuses it, exit 4, once the key has seen a
 * newer fence of NAME. `lock` (lock.c) acquires, renews, appends under,
 * releases and shows locks; --lease-ms and --wait-ms go with lock acquire
 * only.
 *
 * Seeds: the --node options, in order (else $DHT_NODE, a comma-separated
 * list, else 127.0.0.1:7000). A command runs through a session over them
 * (chord/session.h): the first seed serves it; the next one is tried when
 * a seed refuses the connection, does not answer within its share of the
 * budget, or does not serve now (a joining or leaving node names one that
 * does: that redirect is followed first). --timeout-ms is the whole time
 * of the command; each attempt gets the time left divided by the seeds
 * not tried yet, at least 200 ms. When no seed serves, one line names
 * every node tried and why, and the exit code is 3. A put or del that
 * timed out at one node is not applied again by the next: the request id
 * goes with it.
 *
 * `ring` walks successor pointers (successors[0]) from the contacted node,
 * one short connection per node, and stops when it is back at the start,
 * when a node repeats, after DHT_RING_MAX nodes, or at the first node it
 * cannot reach (with a warning; each node of the walk after the first gets
 * its own --timeout-ms). Output is streamed node by node, so its memory
 * does not grow with the ring.
 *
 * `bench` takes options of its own (-c -n -d -t -P --keyspace --direct
 * --time-limit --key-seed); they are usage errors with any other command.
 * --consistency applies to put, get, del and bench.
 * It reports per operation; it exits 0 only when every request completed
 * (ok or not found), else 3, after printing the whole report.
 *
 * Version vectors (issue 14, commands.c): `get` reads every value of the
 * key with its context (chord_session_read): one value is printed as
 * ever; several exit 6 unless --all or --json shows them; --json's
 * document carries the context (base64) that put/del --context or
 * --if-context take back. put --if-absent and --ttl SECONDS go with put
 * only. --session FILE (or $DHT_SESSION) keeps a session token
 * (chord_session_use_token).
 *
 * It caches nothing beyond the session token.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/addr.h"
#include "chord/client.h"
#include "chord/session.h"
#include "chord/types.h"
#include "common/args.h"
#include "common/base64.h"
#include "common/exit.h"
#include "common/tls_args.h"
#include "dht/bench.h"
#include "dht/dht.h"

static void usage(FILE *f)
{
    fputs(
        "usage: dht [--node HOST:PORT]... [--timeout-ms N] [--json] "
        "[--session FILE] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  put KEY VALUE   store VALUE under KEY (VALUE '-' reads stdin)\n"
        "  put KEY --file F  store the contents of file F ('-': stdin)\n"
        "  get KEY         print the value of KEY (raw bytes, no newline);\n"
        "                  exit 6 when it has concurrent values (siblings)\n"
        "  del KEY         delete KEY\n"
        "  append KEY VALUE  append VALUE to KEY's value, once (VALUE '-'\n"
        "                  reads stdin; or --file F)\n"
        "  lock acquire NAME  wait for lock NAME, print its token\n"
        "  lock renew NAME TOKEN  restart the holder's lease\n"
        "  lock append NAME TOKEN KEY VALUE  queue an append under the\n"
        "                  lock, applied at release (VALUE '-': stdin)\n"
        "  lock release NAME TOKEN  apply the queued appends, pass the "
        "lock on\n"
        "  lock status NAME  show holder, fence, lease, queue, waiters\n"
        "  lookup KEY      show which node owns KEY and the route to it\n"
        "  status          show the contacted node's state\n"
        "  ring            walk the ring and list its nodes\n"
        "  bench           load-test the ring (like redis-benchmark)\n"
        "  dump --output FILE  save every key of the ring, with versions\n"
        "  load FILE       write the keys of a dump back (idempotent)\n"
        "\n"
        "options (before or after the command; '--' ends them):\n"
        "  -N, --node HOST:PORT  a node to contact; repeat to give\n"
        "                    fallbacks, tried in order when one refuses,\n"
        "                    does not answer in time or does not serve now\n"
        "                    (default: $DHT_NODE, a comma-separated list,\n"
        "                    else " DHT_DEFAULT_NODE ")\n"
        "  --timeout-ms N    the whole time a command may take, over all\n"
        "                    the nodes it tries (default 5000)\n"
        "  -j, --json        machine-readable output on stdout, errors as\n"
        "                    {\"error\": ..., \"exit\": N} on stderr; bytes\n"
        "                    that are not ASCII as base64, with\n"
        "                    \"encoding\": \"base64\"\n"
        "  -f, --file F      put, append: the value is the contents of F\n"
        "                    ('-' is stdin)\n"
        "  --fence NAME:N    put, del, append: refused (exit 4) when the key\n"
        "                    has seen a newer fence of lock NAME than N\n"
        "  --lease-ms MS     lock acquire: the lease asked for (default\n"
        "                    10000; renewed by lock renew and lock append)\n"
        "  --wait-ms MS      lock acquire: how long to wait in the queue\n"
        "                    (default 10000; 0: one try), then exit 5\n"
        "  --session FILE    keep a session token in FILE (default\n"
        "                    $DHT_SESSION): read your writes, monotonic\n"
        "                    reads, through any node\n"
        "  --all             get: print every value as LENGTH\\nBYTES\\n\n"
        "  --context CTX     put, del: supersede the values CTX saw (CTX is\n"
        "                    the \"context\" of get --json)\n"
        "  --if-context CTX  put, del: only if the key is unchanged since\n"
        "                    CTX was read, else exit 4\n"
        "  --if-absent       put: only if the key has no value, else exit 4\n"
        "  --ttl SECONDS     put: the value expires after SECONDS\n"
        "  --consistency L   replicas put/get/del (and bench) wait for: one,\n"
        "                    quorum or all (default: the node's, a "
        "quorum)\n"
        "  --output FILE     dump: the file to write (made beside it under\n"
        "                    a temporary name, renamed when "
        "complete)\n" CHORD_TLS_ARGS_USAGE "  -h, --help        this text\n"
        "  -V, --version     the version\n"
        "\n"
        "bench options:\n"
        "  -c CLIENTS        concurrent clients, one loop (default 50)\n"
        "  -n REQUESTS       requests per operation (default 100000)\n"
        "  -d BYTES          value size of puts (default 16)\n"
        "  -t OPS            operations, comma-separated: put,get,del\n"
        "                    (set = put), run as put, get, del (default "
        "put,get)\n"
        "  -P PIPELINE       requests in flight per client (default 1)\n"
        "  --keyspace K      keys key:000000000000 .. K-1 (default "
        "10000)\n"
        "  --direct          learn the ring, send each key to its owner\n"
        "  --time-limit S    stop the whole run after S seconds (default "
        "120)\n"
        "  --key-seed N      seed of the random keys (default 1)\n"
        "  --timeout-ms N    is the timeout of each request\n"
        "  (a progress line is drawn on stderr when it is a terminal,\n"
        "  unless --json)\n"
        "\n"
        "exit status: 0 ok, 1 not found, 2 usage error, 3 cannot reach the\n"
        "ring or the operation failed, 4 a precondition was false (a fence,\n"
        "not the lock's holder, --if-context, --if-absent), 5 lock not\n"
        "granted within --wait-ms, or the session token not covered in\n"
        "time, 6 the key has concurrent values (get)\n",
        f);
}

/* Parse --timeout-ms: a decimal integer in 1..DHT_TIMEOUT_MAX_MS. */
static int parse_timeout(const char *s, int *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > DHT_TIMEOUT_MAX_MS)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Argument handling.                                                  */

typedef int (*dht_cmd_fn)(struct chord_session *, const struct dht_opts *,
                          const struct dht_req *);

struct dht_cmd {
    const char *name;
    int n_args; /* exact number of arguments after the command (lock:
                   its subcommand's, checked by lock.c) */
    bool has_key;
    dht_cmd_fn run;
};

static const struct dht_cmd dht_cmds[] = {
    {"put", 2, true, dht_cmd_put},
    {"get", 1, true, dht_cmd_get},
    {"del", 1, true, dht_cmd_del},
    {"append", 2, true, dht_cmd_append},
    {"lock", -1, false, dht_cmd_lock},
    {"lookup", 1, true, dht_cmd_lookup},
    {"status", 0, false, dht_cmd_status},
    {"ring", 0, false, dht_cmd_ring},
    {"bench", 0, false, NULL}, /* opens its own connections: dht_cmd_bench */
    {"dump", 0, false, NULL},  /* its own connections: dht_cmd_backup */
    {"load", 1, false, NULL},
};

/* Read all of f into *out, at most CHORD_VALUE_MAX bytes. 0; -EMSGSIZE
 * when there is more; -EIO on a read error; -ENOMEM. */
static int read_all(FILE *f, uint8_t **out, size_t *len)
{
    size_t cap = CHORD_VALUE_MAX + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    while (n < cap) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -EIO;
    }
    if (n > CHORD_VALUE_MAX) {
        free(buf);
        return -EMSGSIZE;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Load a put's value from a file ("-": stdin). 0, or an exit code after
 * printing the error: 2 when the file is too big or cannot be opened
 * (nothing was attempted), 3 on a read error. */
static int load_value(const struct dht_opts *o, const char *path,
                      struct dht_req *r)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return dht_usage(o->json, "cannot open '%s': %s", path,
                         strerror(errno));
    int rc = read_all(f, &r->value, &r->value_len);
    if (!is_stdin)
        fclose(f);
    if (rc == -EMSGSIZE)
        return dht_fail(o->json, CHORD_EXIT_USAGE,
                        "value in %s is over the limit of %u bytes", name,
                        CHORD_VALUE_MAX);
    if (rc)
        return dht_fail(o->json, CHORD_EXIT_FAILED,
                        "cannot read the value from %s: %s", name,
                        strerror(-rc));
    return 0;
}

/* The value argument `arg` ('-': stdin) into r->value. 0, or an exit
 * code after printing the error. */
static int take_value(const struct dht_opts *o, const char *arg,
                      struct dht_req *r)
{
    if (strcmp(arg, "-") == 0)
        return load_value(o, "-", r);
    size_t len = strlen(arg);
    if (len > CHORD_VALUE_MAX)
        return dht_fail(o->json, CHORD_EXIT_USAGE,
                        "value is %zu bytes, the limit is %u", len,
                        CHORD_VALUE_MAX);
    r->value = malloc(len ? len : 1);
    if (!r->value)
        return dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
    memcpy(r->value, arg, len);
    r->value_len = len;
    return 0;
}

static int check_causal(const struct dht_opts *o, const struct dht_cmd *cmd,
                        struct dht_req *r);

/* Check the command's arguments and load the value. 0, or an exit code
 * after printing the error. */
static int prepare(const struct dht_opts *o, const struct dht_cmd *cmd,
                   char **args, int n_args, struct dht_req *r)
{
    bool is_put = cmd->run == dht_cmd_put || cmd->run == dht_cmd_append;
    if (o->file && !is_put)
        return dht_usage(o->json, "--file goes with put and append only%s",
                         cmd->run == dht_cmd_lock
                             ? " (lock append reads stdin for VALUE '-')"
                             : "");
    if (o->fence_name && !is_put && cmd->run != dht_cmd_del)
        return dht_usage(o->json, "--fence goes with put, del and append only");
    if (o->lock_opt && cmd->run != dht_cmd_lock)
        return dht_usage(o->json, "option %s is only for lock acquire",
                         o->lock_opt);
    int code = check_causal(o, cmd, r);
    if (code)
        return code;
    if (cmd->run == dht_cmd_lock) {
        const char *value_arg;
        code = dht_lock_parse(o, args, n_args, r, &value_arg);
        if (code || !value_arg)
            return code;
        return take_value(o, value_arg, r);
    }
    int want = is_put && o->file ? 1 : cmd->n_args;
    if (n_args < want)
        return dht_usage(o->json, "%s: missing argument", cmd->name);
    if (n_args > want)
        return dht_usage(o->json, "%s: too many arguments%s", cmd->name,
                         is_put && o->file ? " (the value comes from --file)"
                                           : "");
    if (cmd->has_key) {
        r->key = args[0];
        r->key_len = strlen(args[0]);
        if (r->key_len == 0)
            return dht_usage(o->json, "%s: the key is empty", cmd->name);
        if (r->key_len > CHORD_KEY_MAX)
            return dht_fail(o->json, CHORD_EXIT_USAGE,
                            "key is %zu bytes, the limit is %u", r->key_len,
                            CHORD_KEY_MAX);
    }
    if (!is_put)
        return 0;
    if (o->file)
        return load_value(o, o->file, r);
    return take_value(o, args[1], r);
}

/* Parse --fence NAME:N (the last ':' ends the name): 1..CHORD_LOCK_NAME_MAX
 * bytes of name, N a decimal above 0. 0 or -EINVAL. */
static int parse_fence(const char *s, struct dht_opts *o)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) > CHORD_LOCK_NAME_MAX)
        return -EINVAL;
    uint64_t n;
    if (chord_parse_u64(colon + 1, 1, UINT64_MAX, &n) != 0)
        return -EINVAL;
    o->fence_name = s;
    o->fence_name_len = (size_t)(colon - s);
    o->fence = n;
    return 0;
}

/* Take --lease-ms or --wait-ms (lock acquire). 0, or the usage exit code
 * after printing why the value is refused. */
static int lock_option(struct dht_opts *o, const char *name, const char *arg,
                       uint64_t min, uint64_t max, uint64_t *out)
{
    if (!o->lock_opt)
        o->lock_opt = name;
    if (chord_parse_u64(arg, min, max, out) == 0)
        return 0;
    return dht_usage(o->json, "bad %s '%s' (want %llu..%llu)", name, arg,
                     (unsigned long long)min, (unsigned long long)max);
}

/* The name of a put/del option of issue 14, for messages. */
static const char *causal_option_name(int ch);

/* Take --context, --if-context, --if-absent or --ttl into *o. 0, or the
 * usage exit code after printing why. */
static int causal_option(struct dht_opts *o, int ch, const char *arg);

enum {
    OPT_NODE = 256,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_HELP,
    OPT_VERSION,
    OPT_KEYSPACE,
    OPT_DIRECT,
    OPT_TIME_LIMIT,
    OPT_KEY_SEED,
    OPT_CONSISTENCY,
    OPT_OUTPUT,
    OPT_FILE,
    OPT_FENCE,
    OPT_LEASE,
    OPT_WAIT,
    OPT_SESSION,
    OPT_ALL,
    OPT_CONTEXT,
    OPT_IF_CONTEXT,
    OPT_IF_ABSENT,
    OPT_TTL,
};

static const struct option dht_longopts[] = {
    {"node", required_argument, NULL, OPT_NODE},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"keyspace", required_argument, NULL, OPT_KEYSPACE},
    {"direct", no_argument, NULL, OPT_DIRECT},
    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
    {"key-seed", required_argument, NULL, OPT_KEY_SEED},
    {"consistency", required_argument, NULL, OPT_CONSISTENCY},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"file", required_argument, NULL, OPT_FILE},
    {"fence", required_argument, NULL, OPT_FENCE},
    {"lease-ms", required_argument, NULL, OPT_LEASE},
    {"wait-ms", required_argument, NULL, OPT_WAIT},
    {"session", required_argument, NULL, OPT_SESSION},
    {"all", no_argument, NULL, OPT_ALL},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"if-context", required_argument, NULL, OPT_IF_CONTEXT},
    {"if-absent", no_argument, NULL, OPT_IF_ABSENT},
    {"ttl", required_argument, NULL, OPT_TTL},
    CHORD_TLS_ARGS_LONGOPTS,
    {NULL, 0, NULL, 0},
};

/* The name of a bench-only option, for messages. */
static const char *bench_option_name(int ch)
{
    switch (ch) {
    case 'c':
        return "-c";
    case 'n':
        return "-n";
    case 'd':
        return "-d";
    case 't':
        return "-t";
    case 'P':
        return "-P";
    case OPT_KEYSPACE:
        return "--keyspace";
    case OPT_DIRECT:
        return "--direct";
    case OPT_TIME_LIMIT:
        return "--time-limit";
    case OPT_CONSISTENCY:
        return "--consistency";
    default:
        return "--key-seed";
    }
}

/* Take one bench-only option into o->bench. Returns 0, or the usage exit
 * code after printing why the value is refused. */
static int bench_option(struct dht_opts *o, int ch, const char *arg)
{
    uint64_t v = 0;
    int rc = 0;
    const char *name = bench_option_name(ch);
    if (!o->bench_opt && ch != OPT_CONSISTENCY)
        o->bench_opt = name; /* --consistency also serves put/get/del */
    switch (ch) {
    case 'c':
        rc = chord_parse_u64(arg, 1, CHORD_BENCH_CLIENTS_MAX, &v);
        o->bench.clients = (unsigned)v;
        break;
    case 'n':
        rc = chord_parse_u64(arg, 1, CHORD_BENCH_REQUESTS_MAX, &v);
        o->bench.requests = v;
        break;
    case 'd':
        rc = chord_parse_u64(arg, 0, CHORD_VALUE_MAX, &v);
        o->bench.value_bytes = (size_t)v;
        break;
    case 't':
        rc = dht_parse_bench_ops(arg, &o->bench.ops);
        break;
    case 'P':
        rc = chord_parse_u64(arg, 1, CHORD_BENCH_PIPELINE_MAX, &v);
        o->bench.pipeline = (unsigned)v;
        break;
    case OPT_KEYSPACE:
        rc = chord_parse_u64(arg, 1, CHORD_BENCH_KEYSPACE_MAX, &v);
        o->bench.keyspace = v;
        break;
    case OPT_DIRECT:
        o->bench.direct = true;
        break;
    case OPT_TIME_LIMIT:
        rc = chord_parse_u64(arg, 1, DHT_BENCH_TIME_LIMIT_MAX_S, &v);
        o->bench.time_limit_ms = (uint32_t)(v * 1000u);
        break;
    case OPT_KEY_SEED:
        rc = chord_parse_u64(arg, 0, UINT64_MAX, &v);
        o->bench.seed = v;
        break;
    case OPT_CONSISTENCY:
        rc = dht_parse_consistency(arg, &o->bench.consistency);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    if (rc == 0)
        return 0;
    return dht_usage(o->json, "bad %s '%s'", name, arg);
}

static const char *causal_option_name(int ch)
{
    switch (ch) {
    case OPT_CONTEXT:
        return "--context";
    case OPT_IF_CONTEXT:
        return "--if-context";
    case OPT_IF_ABSENT:
        return "--if-absent";
    default:
        return "--ttl";
    }
}

static int causal_option(struct dht_opts *o, int ch, const char *arg)
{
    const char *name = causal_option_name(ch);
    if (!o->causal_opt)
        o->causal_opt = name;
    if (ch == OPT_TTL) {
        uint64_t v;
        if (chord_parse_u64(arg, 1, UINT32_MAX, &v) != 0)
            return dht_usage(o->json, "bad --ttl '%s' (want seconds, 1..%u)",
                             arg, UINT32_MAX);
        o->ttl_s = (uint32_t)v;
        return 0;
    }
    bool had = o->context_arg || o->if_absent;
    if (ch == OPT_IF_ABSENT)
        o->if_absent = true;
    else
        o->context_arg = arg;
    o->if_context = o->if_context || ch == OPT_IF_CONTEXT;
    if (had)
        return dht_usage(o->json, "--context, --if-context and --if-absent "
                                  "exclude each other");
    return 0;
}

/* Check the options of issue 14 against the command and decode the
 * context into r. 0, or the usage exit code after printing why. */
static int check_causal(const struct dht_opts *o, const struct dht_cmd *cmd,
                        struct dht_req *r)
{
    bool is_put = cmd->run == dht_cmd_put, is_del = cmd->run == dht_cmd_del;
    if (o->all && cmd->run != dht_cmd_get)
        return dht_usage(o->json, "--all goes with get only");
    if (!o->causal_opt)
        return 0;
    if (!is_put && !is_del)
        return dht_usage(o->json, "%s goes with put%s only", o->causal_opt,
                         o->if_absent || o->ttl_s ? "" : " and del");
    if (is_del && (o->if_absent || o->ttl_s))
        return dht_usage(o->json, "%s goes with put only",
                         o->if_absent ? "--if-absent" : "--ttl");
    if (!o->context_arg)
        return 0;
    const char *name = o->if_context ? "--if-context" : "--context";
    int rc = chord_base64_decode(o->context_arg, r->context, sizeof(r->context),
                                 &r->context_len);
    if (rc == 0 && r->context_len == 0)
        return dht_usage(o->json, "%s: the context is empty", name);
    if (rc)
        return dht_usage(o->json,
                         "bad %s '%.40s' (want the \"context\" of get "
                         "--json, base64)",
                         name, o->context_arg);
    return 0;
}

/* Add a seed after checking it. 0, or the usage exit code after printing
 * why. */
static int seed_add(struct dht_opts *o, const char *addr, const char *from)
{
    char host[CHORD_ADDR_MAX];
    uint16_t port;
    int rc = chord_addr_parse(addr, host, &port);
    if (rc != 0)
        return dht_usage(o->json,
                         "bad node address '%.*s' from %s: %s (want "
                         "HOST:PORT, HOST an IPv4 address, [IPv6] or a name)",
                         (int)CHORD_ADDR_MAX, addr, from,
                         chord_addr_strerror(rc));
    if (o->n_seeds == DHT_SEEDS_MAX)
        return dht_usage(o->json, "at most %u nodes (%s)", DHT_SEEDS_MAX, from);
    o->seeds[o->n_seeds++] = addr;
    return 0;
}

/* The seeds of $DHT_NODE, a comma-separated list, split in place in buf
 * (which must outlive the seeds). 0, or the usage exit code. */
static int seeds_from_env(struct dht_opts *o, const char *env, char *buf,
                          size_t cap)
{
    if (strlen(env) >= cap)
        return dht_usage(o->json, "$DHT_NODE is too long");
    strcpy(buf, env);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            t[--n] = '\0';
        if (n == 0)
            continue;
        int code = seed_add(o, t, "$DHT_NODE");
        if (code)
            return code;
    }
    return 0;
}

/* --json (or -j, alone or first in a group of short options) anywhere
 * before "--": errors are then JSON from the first one on. */
static bool wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
            return true;
    }
    return false;
}

static int run_command(const struct dht_cmd *cmd, struct dht_opts *o,
                       struct dht_req *rq);

int main(int argc, char **argv)
{
    struct dht_opts o = {.timeout_ms = DHT_DEFAULT_TIMEOUT_MS,
                         .wait_ms = DHT_LOCK_WAIT_DEFAULT_MS};
    chord_bench_config_default(&o.bench);
    o.json = wants_json(argc, argv);
    char env_seeds[DHT_SEEDS_MAX * CHORD_ADDR_MAX];
    opterr = 0; /* our own one-line messages */
    for (;;) {
        int ch =
            getopt_long(argc, argv, ":hVjN:f:c:n:d:t:P:", dht_longopts, NULL);
        if (ch == -1)
            break;
        switch (ch) {
        case 'c':
        case 'n':
        case 'd':
        case 't':
        case 'P':
        case OPT_KEYSPACE:
        case OPT_DIRECT:
        case OPT_TIME_LIMIT:
        case OPT_KEY_SEED:
        case OPT_CONSISTENCY: {
            int code = bench_option(&o, ch, optarg);
            if (code)
                return code;
            break;
        }
        case 'N':
        case OPT_NODE: {
            int code = seed_add(&o, optarg, "--node");
            if (code)
                return code;
            break;
        }
        case 'f':
        case OPT_FILE:
            o.file = optarg;
            break;
        case OPT_FENCE:
            if (parse_fence(optarg, &o) != 0)
                return dht_usage(o.json,
                                 "bad --fence '%s' (want NAME:N, N a "
                                 "token's fence number, above 0)",
                                 optarg);
            break;
        case OPT_LEASE:
        case OPT_WAIT: {
            uint64_t v;
            int code = ch == OPT_LEASE
                           ? lock_option(&o, "--lease-ms", optarg, 1,
                                         CHORD_LOCK_LEASE_MAX_MS, &v)
                           : lock_option(&o, "--wait-ms", optarg, 0,
                                         DHT_TIMEOUT_MAX_MS, &v);
            if (code)
                return code;
            if (ch == OPT_LEASE)
                o.lease_ms = (uint32_t)v;
            else
                o.wait_ms = (int)v;
            break;
        }
        case OPT_SESSION:
            o.session = optarg;
            break;
        case OPT_ALL:
            o.all = true;
            break;
        case OPT_CONTEXT:
        case OPT_IF_CONTEXT:
        case OPT_IF_ABSENT:
        case OPT_TTL: {
            int code = causal_option(&o, ch, optarg);
            if (code)
                return code;
            break;
        }
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &o.timeout_ms) != 0)
                return dht_usage(o.json,
                                 "bad --timeout-ms '%s' (want "
                                 "1..3600000)",
                                 optarg);
            break;
        case 'j':
        case OPT_JSON:
            o.json = true;
            break;
        case OPT_OUTPUT:
            o.output = optarg;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return CHORD_EXIT_OK;
        case 'V':
        case OPT_VERSION:
            printf("dht %s\n", CHORD_VERSION);
            return CHORD_EXIT_OK;
        case CHORD_TLS_OPT_CA:
        case CHORD_TLS_OPT_CERT:
        case CHORD_TLS_OPT_KEY:
            chord_tls_args_take(&o.tls, ch, optarg);
            break;
        case ':':
            return dht_usage(o.json, "option %s needs an argument",
                             argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 256)
                return dht_usage(o.json, "unknown option '-%c'", optopt);
            return dht_usage(o.json, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return dht_usage(o.json, "missing command");

    const struct dht_cmd *cmd = NULL;
    for (size_t i = 0; i < sizeof(dht_cmds) / sizeof(dht_cmds[0]); i++)
        if (strcmp(argv[optind], dht_cmds[i].name) == 0)
            cmd = &dht_cmds[i];
    if (!cmd)
        return dht_usage(o.json, "unknown command '%s'", argv[optind]);
    if (cmd->run != NULL && o.bench_opt)
        return dht_usage(o.json, "option %s is only for bench", o.bench_opt);
    if (o.output && strcmp(cmd->name, "dump") != 0)
        return dht_usage(o.json, "option --output is only for dump");

    if (o.n_seeds == 0) {
        const char *env = getenv("DHT_NODE");
        int code = 0;
        if (env && *env)
            code = seeds_from_env(&o, env, env_seeds, sizeof(env_seeds));
        if (code)
            return code;
        if (o.n_seeds == 0)
            o.seeds[o.n_seeds++] = DHT_DEFAULT_NODE;
    }

    int code;
    if (strcmp(cmd->name, "dump") == 0 || strcmp(cmd->name, "load") == 0) {
        code = chord_tls_args_setup("dht", &o.tls, &o.tls_ctx);
        if (code == 0)
            code = dht_cmd_backup(&o, cmd->name, argv + optind + 1,
                                  argc - optind - 1);
        chord_tls_free(o.tls_ctx);
        return code;
    }

    struct dht_req r = {0};
    code = prepare(&o, cmd, argv + optind + 1, argc - optind - 1, &r);
    if (code) {
        free(r.value);
        return code;
    }
    code = chord_tls_args_setup("dht", &o.tls, &o.tls_ctx);
    if (code) {
        free(r.value);
        return code;
    }
    code = run_command(cmd, &o, &r);
    chord_tls_free(o.tls_ctx);
    return code;
}

/* Run the command (its arguments checked, TLS set up): the exit code. */
static int run_command(const struct dht_cmd *cmd, struct dht_opts *o,
                       struct dht_req *rq)
{
    struct dht_req r = *rq;
    int code;
    if (cmd->run == NULL) {
        code = dht_cmd_bench(o);
    } else {
        struct chord_session *s = NULL;
        if (chord_session_open(o->seeds, o->n_seeds, o->timeout_ms, &s) != 0) {
            free(r.value); /* the seeds were checked */
            return dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
        }
        chord_session_set_consistency(s, o->bench.consistency);
        const char *token = o->session;
        if (!token || !*token)
            token = getenv("DHT_SESSION");
        if (token && *token && chord_session_use_token(s, token) != 0) {
            code = dht_fail(o->json, CHORD_EXIT_FAILED, "%s",
                            chord_session_error(s));
            chord_session_close(s);
            free(r.value);
            return code;
        }
        if (o->fence_name) {
            char name[CHORD_LOCK_NAME_MAX + 1];
            memcpy(name, o->fence_name, o->fence_name_len);
            name[o->fence_name_len] = '\0';
            chord_session_set_fence(s, name, o->fence);
        }
        code = cmd->run(s, o, &r);
        chord_session_close(s);
        free(r.value);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        if (code == CHORD_EXIT_OK)
            code = CHORD_EXIT_FAILED;
        dht_fail(o->json, code, "cannot write to stdout: %s", strerror(e));
    }
    return code;
}
