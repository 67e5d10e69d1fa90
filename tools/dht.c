/*
 * dht.c - the command-line client: put, get, del, lookup, ring, status,
 * and bench (a load generator, see src/client/bench.h).
 *
 *     dht [--node HOST:PORT]... [--timeout-ms N] [--json] COMMAND ARGS
 *
 * The CLI contract (DESIGN.md, "CLI contract") is what scripts rely on:
 * the JSON shapes of lookup/status/ring and the exit codes
 *     0 ok, 1 not found, 2 usage error, 3 cannot reach the ring or the
 *     operation failed,
 * with every error as one line on stderr. Arguments are checked (command,
 * argument count, key and value caps) before any connection is made, so a
 * usage error never touches the network.
 *
 * Seeds: the --node options, in order (else $DHT_NODE, else
 * 127.0.0.1:7000). The first seed that accepts a connection serves the
 * command; the next seed is tried only when a seed cannot be reached, never
 * after a request was sent (a put that timed out may still have happened).
 *
 * `ring` walks successor pointers (successors[0]) from the contacted node,
 * one short connection per node, and stops when it is back at the start,
 * when a node repeats, after DHT_RING_MAX nodes, or at the first node it
 * cannot reach (with a warning). Output is streamed node by node, so its
 * memory does not grow with the ring.
 *
 * `bench` takes options of its own (-c -n -d -t -P --keyspace --direct
 * --time-limit --key-seed); they are usage errors with any other command.
 * --consistency applies to put, get, del and bench.
 * It reports per operation; it exits 0 only when every request completed
 * (ok or not found), else 3, after printing the whole report.
 *
 * It does not retry operations, follow redirects, or cache anything.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/client.h"
#include "chord/id.h"
#include "chord/types.h"
#include "common/args.h"
#include "common/exit.h"
#include "client/bench.h"
#include "common/json.h"
#include "chord/buf.h"

#define DHT_DEFAULT_NODE "127.0.0.1:7000"
#define DHT_DEFAULT_TIMEOUT_MS 5000
#define DHT_TIMEOUT_MAX_MS 3600000L /* one hour */
#define DHT_SEEDS_MAX 32u           /* --node options accepted */
#define DHT_RING_MAX 4096u          /* nodes a ring walk visits at most */
#define DHT_SHORT_ID 8              /* hex digits of an id in text output */
#define DHT_BENCH_TIME_LIMIT_MAX_S 86400u /* bench --time-limit, seconds */

struct dht_opts {
    const char *seeds[DHT_SEEDS_MAX];
    size_t n_seeds;
    int timeout_ms;
    bool json;
    /* bench: its configuration, and the first bench-only option seen (to
     * refuse it with any other command). */
    struct chord_bench_config bench;
    const char *bench_opt;
};

/* What a command works on, checked before connecting. */
struct dht_req {
    const char *key; /* NUL-terminated argument; its bytes are the key */
    size_t key_len;
    uint8_t *value; /* put: a copy of the value (argv or stdin), owned */
    size_t value_len;
};

static void usage(FILE *f)
{
    fputs(
        "usage: dht [--node HOST:PORT]... [--timeout-ms N] [--json] "
        "COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  put KEY VALUE   store VALUE under KEY (VALUE '-' reads stdin)\n"
        "  get KEY         print the value of KEY (raw bytes, no newline)\n"
        "  del KEY         delete KEY\n"
        "  lookup KEY      show which node owns KEY and the route to it\n"
        "  status          show the contacted node's state\n"
        "  ring            walk the ring and list its nodes\n"
        "  bench           load-test the ring (like redis-benchmark)\n"
        "\n"
        "options (before or after the command; '--' ends them):\n"
        "  --node HOST:PORT  a node to contact; repeat to give fallbacks,\n"
        "                    tried in order when one cannot be reached\n"
        "                    (default: $DHT_NODE, else " DHT_DEFAULT_NODE ")\n"
        "  --timeout-ms N    wait at most N ms per request (default 5000)\n"
        "  --json            machine-readable output (lookup, status, "
        "ring, get,\n"
        "                    bench)\n"
        "  --consistency L   replicas put/get/del (and bench) wait for: one,\n"
        "                    quorum or all (default: the node's, a "
        "quorum)\n"
        "  --help, --version\n"
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
        "\n"
        "exit status: 0 ok, 1 not found, 2 usage error, 3 cannot reach the\n"
        "ring or the operation failed\n",
        f);
}

/* The first DHT_SHORT_ID hex digits of an id. */
static void short_id(const struct chord_id *id, char out[DHT_SHORT_ID + 1])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(out, hex, DHT_SHORT_ID);
    out[DHT_SHORT_ID] = '\0';
}

/* Print a key for a human: as is when it is printable ASCII, else as an
 * escaped, quoted JSON string (so terminal control bytes never pass). */
static void print_key(FILE *f, const char *key, size_t len)
{
    bool plain = len > 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            plain = false;
    if (plain) {
        fwrite(key, 1, len, f);
        return;
    }
    struct chord_buf b;
    chord_buf_init(&b);
    if (chord_json_escape(&b, key, len) == 0)
        fwrite(b.data, 1, b.len, f);
    chord_buf_free(&b);
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
/* Connecting.                                                         */

/*
 * Connect to the first reachable seed. On success returns 0 with *out set
 * and *used naming the seed. Otherwise prints the "cannot reach the ring"
 * line and returns -1.
 */
static int connect_seeds(const struct dht_opts *o, struct chord_client **out,
                         const char **used)
{
    for (size_t i = 0; i < o->n_seeds; i++) {
        if (chord_client_connect(o->seeds[i], o->timeout_ms, out) == 0) {
            *used = o->seeds[i];
            chord_client_set_consistency(*out, o->bench.consistency);
            return 0;
        }
    }
    fputs("dht: cannot reach the ring (tried ", stderr);
    for (size_t i = 0; i < o->n_seeds; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", o->seeds[i]);
    fputs(")\n", stderr);
    return -1;
}

/* Explain a failed request in one line; returns the exit code. */
static int report_failure(const char *what, const char *node,
                          const struct chord_client *c, int rc, int timeout)
{
    switch (rc) {
    case -EIO:
        fprintf(stderr, "dht: %s: %s\n", what, chord_client_error(c));
        break;
    case -ETIMEDOUT:
        fprintf(stderr, "dht: %s: %s did not answer within %d ms\n", what, node,
                timeout);
        break;
    case -EPROTO:
        fprintf(stderr, "dht: %s: %s sent an invalid reply\n", what, node);
        break;
    case -ECONNRESET:
        fprintf(stderr, "dht: %s: %s closed the connection\n", what, node);
        break;
    default:
        fprintf(stderr, "dht: %s: %s: %s\n", what, node, strerror(-rc));
        break;
    }
    return CHORD_EXIT_FAILED;
}

/* ------------------------------------------------------------------ */
/* JSON shapes of the CLI contract.                                    */

static void json_peer(struct chord_json *j, const struct chord_peer *p)
{
    chord_json_obj_begin(j);
    chord_json_key(j, "id");
    chord_json_id(j, &p->id);
    chord_json_key(j, "addr");
    chord_json_str(j, p->addr);
    chord_json_obj_end(j);
}

/* How the node keeps its data (struct chord_status.durability). */
static const char *durability_name(uint8_t d)
{
    static const char *const names[] = {"memory", "always", "batch", "never"};
    return d < 4 ? names[d] : "unknown";
}

static void json_status(struct chord_json *j, const struct chord_status *s)
{
    chord_json_obj_begin(j);
    chord_json_key(j, "id");
    chord_json_id(j, &s->self.id);
    chord_json_key(j, "addr");
    chord_json_str(j, s->self.addr);
    chord_json_key(j, "state");
    chord_json_str(j, chord_node_state_name(s->state));
    chord_json_key(j, "predecessor");
    if (s->has_pred)
        json_peer(j, &s->pred);
    else
        chord_json_null(j);

    chord_json_key(j, "successors");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_succ && i < CHORD_SUCC_MAX; i++)
        json_peer(j, &s->succ[i]);
    chord_json_arr_end(j);

    chord_json_key(j, "fingers");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_fingers && i < CHORD_ID_BITS; i++) {
        const struct chord_finger_info *f = &s->fingers[i];
        chord_json_obj_begin(j);
        chord_json_key(j, "start");
        chord_json_id(j, &f->start);
        chord_json_key(j, "id");
        chord_json_id(j, &f->node.id);
        chord_json_key(j, "addr");
        chord_json_str(j, f->node.addr);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);

    chord_json_key(j, "keys");
    chord_json_uint(j, s->keys);
    chord_json_key(j, "primary_keys");
    chord_json_uint(j, s->primary_keys);
    chord_json_key(j, "replicas");
    chord_json_uint(j, s->replicas);
    chord_json_key(j, "durability");
    chord_json_str(j, durability_name(s->durability));

    chord_json_key(j, "peers");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_peers && i < CHORD_PEERS_MAX; i++) {
        const struct chord_peer_info *p = &s->peers[i];
        chord_json_obj_begin(j);
        chord_json_key(j, "addr");
        chord_json_str(j, p->addr);
        chord_json_key(j, "state");
        chord_json_str(j, chord_peer_state_name(p->state));
        chord_json_key(j, "rtt_ms");
        chord_json_uint(j, p->rtt_ms);
        chord_json_key(j, "timeout_ms");
        chord_json_uint(j, p->timeout_ms);
        chord_json_key(j, "false_suspicions");
        chord_json_uint(j, p->false_suspicions);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_obj_end(j);
}

/* Finish a JSON document and write it with a newline. 0, or -1 after
 * printing why (only out of memory can fail here). */
static int json_emit(struct chord_json *j)
{
    int rc = chord_json_finish(j);
    if (rc) {
        fprintf(stderr, "dht: cannot format JSON: %s\n", strerror(-rc));
        return -1;
    }
    fwrite(j->out.data, 1, j->out.len, stdout);
    fputc('\n', stdout);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Commands. Each runs on a connected client and returns an exit code. */

static int cmd_put(struct chord_client *c, const char *node,
                   const struct dht_opts *o, const struct dht_req *r)
{
    int rc = chord_client_put(c, r->key, r->key_len, r->value, r->value_len);
    if (rc)
        return report_failure("put", node, c, rc, o->timeout_ms);
    return CHORD_EXIT_OK;
}

static int cmd_get(struct chord_client *c, const char *node,
                   const struct dht_opts *o, const struct dht_req *r)
{
    uint8_t *value = NULL;
    size_t len = 0;
    int rc = chord_client_get(c, r->key, r->key_len, &value, &len);
    if (rc == -ENOENT) {
        fputs("dht: ", stderr);
        print_key(stderr, r->key, r->key_len);
        fputs(": not found\n", stderr);
        return CHORD_EXIT_NOT_FOUND;
    }
    if (rc)
        return report_failure("get", node, c, rc, o->timeout_ms);
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        chord_json_init(&j);
        chord_json_obj_begin(&j);
        chord_json_key(&j, "key");
        chord_json_strn(&j, r->key, r->key_len);
        chord_json_key(&j, "value");
        chord_json_strn(&j, value, len);
        chord_json_obj_end(&j);
        if (json_emit(&j))
            code = CHORD_EXIT_FAILED;
        chord_json_free(&j);
    } else if (len) {
        fwrite(value, 1, len, stdout);
    }
    free(value);
    return code;
}

static int cmd_del(struct chord_client *c, const char *node,
                   const struct dht_opts *o, const struct dht_req *r)
{
    int rc = chord_client_del(c, r->key, r->key_len);
    if (rc == -ENOENT) {
        fputs("dht: ", stderr);
        print_key(stderr, r->key, r->key_len);
        fputs(": not found\n", stderr);
        return CHORD_EXIT_NOT_FOUND;
    }
    if (rc)
        return report_failure("del", node, c, rc, o->timeout_ms);
    return CHORD_EXIT_OK;
}

static int cmd_lookup(struct chord_client *c, const char *node,
                      const struct dht_opts *o, const struct dht_req *r)
{
    struct chord_lookup_result *res = calloc(1, sizeof(*res));
    if (!res) {
        fputs("dht: out of memory\n", stderr);
        return CHORD_EXIT_FAILED;
    }
    int rc = chord_client_lookup(c, r->key, r->key_len, res);
    if (rc) {
        free(res);
        return report_failure("lookup", node, c, rc, o->timeout_ms);
    }
    unsigned n_path =
        res->path.n < CHORD_PATH_MAX ? res->path.n : CHORD_PATH_MAX;
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        chord_json_init(&j);
        chord_json_obj_begin(&j);
        chord_json_key(&j, "key");
        chord_json_strn(&j, r->key, r->key_len);
        chord_json_key(&j, "key_id");
        chord_json_id(&j, &res->key_id);
        chord_json_key(&j, "owner");
        json_peer(&j, &res->owner);
        chord_json_key(&j, "path");
        chord_json_arr_begin(&j);
        for (unsigned i = 0; i < n_path; i++)
            chord_json_str(&j, res->path.addr[i]);
        chord_json_arr_end(&j);
        chord_json_key(&j, "hops");
        chord_json_uint(&j, res->hops);
        chord_json_obj_end(&j);
        if (json_emit(&j))
            code = CHORD_EXIT_FAILED;
        chord_json_free(&j);
    } else {
        char kid[DHT_SHORT_ID + 1], oid[DHT_SHORT_ID + 1];
        short_id(&res->key_id, kid);
        short_id(&res->owner.id, oid);
        print_key(stdout, r->key, r->key_len);
        printf(" (id %s) is owned by %s (id %s), %u hop%s:", kid,
               res->owner.addr, oid, (unsigned)res->hops,
               res->hops == 1 ? "" : "s");
        for (unsigned i = 0; i < n_path; i++)
            printf("%s%s", i ? " -> " : " ", res->path.addr[i]);
        putchar('\n');
    }
    free(res);
    return code;
}

/* The human summary of one node's status. */
static void print_status(const struct chord_status *s)
{
    char id[DHT_SHORT_ID + 1];
    short_id(&s->self.id, id);
    printf("node         %s (id %s) %s, %llu key%s\n", s->self.addr, id,
           chord_node_state_name(s->state), (unsigned long long)s->keys,
           s->keys == 1 ? "" : "s");
    printf("durability   %s%s\n", durability_name(s->durability),
           s->durability == CHORD_DURABILITY_MEMORY
               ? " (no --data: nothing survives a restart)"
           : s->durability == CHORD_DURABILITY_NEVER
               ? " (logged, not fsynced: the OS flushes)"
               : " (acknowledged after fsync)");
    if (s->has_pred) {
        short_id(&s->pred.id, id);
        printf("predecessor  %s (%s)\n", s->pred.addr, id);
    } else {
        printf("predecessor  none\n");
    }
    printf("successors  ");
    if (s->n_succ == 0)
        printf(" none");
    for (unsigned i = 0; i < s->n_succ && i < CHORD_SUCC_MAX; i++) {
        short_id(&s->succ[i].id, id);
        printf("%s %s (%s)", i ? "," : "", s->succ[i].addr, id);
    }
    putchar('\n');

    /* Fingers: how many are set and how many distinct nodes they name. */
    unsigned distinct = 0;
    unsigned n_fingers =
        s->n_fingers < CHORD_ID_BITS ? s->n_fingers : CHORD_ID_BITS;
    for (unsigned i = 0; i < n_fingers; i++) {
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = chord_id_eq(&s->fingers[k].node.id, &s->fingers[i].node.id);
        if (!seen)
            distinct++;
    }
    printf("fingers      %u set, %u distinct node%s\n", n_fingers, distinct,
           distinct == 1 ? "" : "s");

    if (s->n_peers == 0)
        printf("peers        none\n");
    for (unsigned i = 0; i < s->n_peers && i < CHORD_PEERS_MAX; i++) {
        const struct chord_peer_info *p = &s->peers[i];
        printf("%s %-21s %-9s rtt %u ms, timeout %u ms, %u false "
               "suspicion%s\n",
               i ? "            " : "peers       ", p->addr,
               chord_peer_state_name(p->state), (unsigned)p->rtt_ms,
               (unsigned)p->timeout_ms, (unsigned)p->false_suspicions,
               p->false_suspicions == 1 ? "" : "s");
    }
}

static int cmd_status(struct chord_client *c, const char *node,
                      const struct dht_opts *o, const struct dht_req *r)
{
    (void)r;
    struct chord_status *s = calloc(1, sizeof(*s));
    if (!s) {
        fputs("dht: out of memory\n", stderr);
        return CHORD_EXIT_FAILED;
    }
    int rc = chord_client_status(c, s);
    if (rc) {
        free(s);
        return report_failure("status", node, c, rc, o->timeout_ms);
    }
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        chord_json_init(&j);
        json_status(&j, s);
        if (json_emit(&j))
            code = CHORD_EXIT_FAILED;
        chord_json_free(&j);
    } else {
        print_status(s);
    }
    free(s);
    return code;
}

/* State of a ring walk's output, streamed one node at a time. */
struct ring_out {
    bool json;
    unsigned n; /* nodes written */
    struct chord_json j;
};

/* Write one node of the walk. 0, or -1 if it could not be formatted. */
static int ring_emit(struct ring_out *w, const struct chord_status *s)
{
    if (w->json) {
        chord_json_reset(&w->j);
        json_status(&w->j, s);
        int rc = chord_json_finish(&w->j);
        if (rc) {
            fprintf(stderr, "dht: cannot format JSON: %s\n", strerror(-rc));
            return -1;
        }
        fputs(w->n ? ",\n" : "[\n", stdout);
        fwrite(w->j.out.data, 1, w->j.out.len, stdout);
    } else {
        char id[DHT_SHORT_ID + 1];
        short_id(&s->self.id, id);
        if (w->n == 0)
            printf("%-8s  %-21s  %-21s  %-21s  %s\n", "ID", "ADDR",
                   "PREDECESSOR", "SUCCESSOR", "KEYS");
        printf("%-8s  %-21s  %-21s  %-21s  %llu\n", id, s->self.addr,
               s->has_pred ? s->pred.addr : "-",
               s->n_succ ? s->succ[0].addr : "-", (unsigned long long)s->keys);
    }
    w->n++;
    return 0;
}

static bool id_seen(const struct chord_id *ids, unsigned n,
                    const struct chord_id *id)
{
    for (unsigned i = 0; i < n; i++)
        if (chord_id_eq(&ids[i], id))
            return true;
    return false;
}

static int cmd_ring(struct chord_client *c, const char *node,
                    const struct dht_opts *o, const struct dht_req *r)
{
    (void)r;
    struct chord_status *s = calloc(1, sizeof(*s));
    struct chord_id *seen = calloc(DHT_RING_MAX, sizeof(*seen));
    struct ring_out w = {.json = o->json};
    chord_json_init(&w.j);
    int code = CHORD_EXIT_OK;
    if (!s || !seen) {
        fputs("dht: out of memory\n", stderr);
        code = CHORD_EXIT_FAILED;
        goto out;
    }
    int rc = chord_client_status(c, s);
    if (rc) {
        code = report_failure("ring", node, c, rc, o->timeout_ms);
        goto out;
    }
    struct chord_id start = s->self.id;
    unsigned n_seen = 0;
    for (;;) {
        if (ring_emit(&w, s)) {
            code = CHORD_EXIT_FAILED;
            break;
        }
        seen[n_seen++] = s->self.id;
        if (s->n_succ == 0) {
            /* The start node alone is a ring of one; anywhere else a node
             * without successors is a broken ring. */
            if (n_seen > 1)
                fprintf(stderr, "dht: ring walk stopped: %s has no successor\n",
                        s->self.addr);
            break;
        }
        struct chord_peer next = s->succ[0];
        if (chord_id_eq(&next.id, &start))
            break; /* back at the start: the walk is complete */
        if (id_seen(seen, n_seen, &next.id)) {
            fprintf(stderr,
                    "dht: ring walk stopped: %s repeats before the walk "
                    "returns to the start\n",
                    next.addr);
            break;
        }
        if (n_seen >= DHT_RING_MAX) {
            fprintf(stderr, "dht: ring walk stopped after %u nodes\n",
                    DHT_RING_MAX);
            break;
        }
        struct chord_client *nc = NULL;
        rc = chord_client_connect(next.addr, o->timeout_ms, &nc);
        if (rc == 0)
            rc = chord_client_status(nc, s);
        if (rc) {
            fprintf(stderr,
                    "dht: ring walk stopped: cannot get the status of %s "
                    "(%s)\n",
                    next.addr,
                    rc == -EIO ? chord_client_error(nc) : strerror(-rc));
            chord_client_close(nc);
            break;
        }
        chord_client_close(nc);
        /* A node may name itself differently from what its predecessor
         * believes; what matters for the walk is the id it reports. */
        if (chord_id_eq(&s->self.id, &start))
            break;
        if (id_seen(seen, n_seen, &s->self.id)) {
            fprintf(stderr,
                    "dht: ring walk stopped: %s repeats before the walk "
                    "returns to the start\n",
                    s->self.addr);
            break;
        }
    }
    if (w.json)
        fputs(w.n ? "\n]\n" : "[]\n", stdout);
    else
        printf("%u node%s\n", w.n, w.n == 1 ? "" : "s");
out:
    chord_json_free(&w.j);
    free(seen);
    free(s);
    return code;
}

/* ------------------------------------------------------------------ */
/* bench: the load generator's report.                                 */

/* The CLI name of a consistency level. */
static const char *consistency_name(int level)
{
    switch (level) {
    case CHORD_CONSISTENCY_ONE:
        return "one";
    case CHORD_CONSISTENCY_QUORUM:
        return "quorum";
    case CHORD_CONSISTENCY_ALL:
        return "all";
    default:
        return "the node's default";
    }
}

/* Parse "one", "quorum" or "all" (enum chord_consistency). 0 or -EINVAL. */
static int parse_consistency(const char *s, uint8_t *out)
{
    for (int level = CHORD_CONSISTENCY_ONE; level <= CHORD_CONSISTENCY_ALL;
         level++) {
        if (strcmp(s, consistency_name(level)) == 0) {
            *out = (uint8_t)level;
            return 0;
        }
    }
    return -EINVAL;
}

/* One operation's figures as a JSON object (numbers only, fixed keys). */
static void bench_json_op(const struct chord_bench_result *r)
{
    printf("{\"requests\": %llu, \"completed\": %llu, \"ok\": %llu, "
           "\"not_found\": %llu, \"errors\": %llu, "
           "\"errors_by_kind\": {\"status\": %llu, \"connection\": %llu, "
           "\"timeout\": %llu, \"unsent\": %llu}, \"redirects\": %llu, "
           "\"seconds\": %.6f, \"ops_per_sec\": %.1f, \"mean_ms\": %.4f, "
           "\"p50_ms\": %.4f, \"p99_ms\": %.4f, \"p999_ms\": %.4f, "
           "\"max_ms\": %.4f}",
           (unsigned long long)r->requests, (unsigned long long)r->completed,
           (unsigned long long)r->ok, (unsigned long long)r->not_found,
           (unsigned long long)r->errors, (unsigned long long)r->err_status,
           (unsigned long long)r->err_conn, (unsigned long long)r->err_timeout,
           (unsigned long long)r->err_unsent, (unsigned long long)r->redirects,
           r->seconds, r->ops_per_sec, r->mean_ms, r->p50_ms, r->p99_ms,
           r->p999_ms, r->max_ms);
}

/* One operation's summary for a human, in redis-benchmark's manner. */
static void bench_text_op(int op, const struct chord_bench_result *r,
                          const struct chord_bench_config *cfg,
                          const struct chord_bench_report *rep)
{
    printf("====== %s ======\n", op == CHORD_BENCH_PUT   ? "PUT"
                                 : op == CHORD_BENCH_GET ? "GET"
                                                         : "DEL");
    printf("  %llu requests completed in %.2f seconds (%llu ok, %llu not "
           "found)\n",
           (unsigned long long)r->completed, r->seconds,
           (unsigned long long)r->ok, (unsigned long long)r->not_found);
    printf("  %u parallel clients, pipeline %u, %zu bytes payload, "
           "keyspace %llu\n",
           cfg->clients, cfg->pipeline, cfg->value_bytes,
           (unsigned long long)cfg->keyspace);
    if (cfg->direct)
        printf("  direct to each key's owner (%u nodes)", rep->ring_nodes);
    else
        printf("  through %s (routed by the ring)", cfg->node);
    printf(", %u replica%s, consistency %s\n", rep->replicas,
           rep->replicas == 1 ? "" : "s", consistency_name(cfg->consistency));
    printf("  %.2f requests per second\n", r->ops_per_sec);
    printf("  latency (ms): avg %.3f  p50 %.3f  p99 %.3f  p99.9 %.3f  max "
           "%.3f\n",
           r->mean_ms, r->p50_ms, r->p99_ms, r->p999_ms, r->max_ms);
    printf("  errors: %llu", (unsigned long long)r->errors);
    if (r->errors)
        printf(" (%llu error answers, %llu connection, %llu timed out, %llu "
               "not sent)",
               (unsigned long long)r->err_status,
               (unsigned long long)r->err_conn,
               (unsigned long long)r->err_timeout,
               (unsigned long long)r->err_unsent);
    if (r->redirects)
        printf(", %llu redirected", (unsigned long long)r->redirects);
    printf("\n\n");
}

/*
 * Run `bench` from the first reachable seed and print its report. Exit
 * code: 0 when every request of every operation completed, 3 when any
 * failed (after the report), when the ring cannot be reached, or when the
 * run could not take place.
 */
static int cmd_bench(struct dht_opts *o)
{
    struct chord_client *c = NULL;
    const char *node = NULL;
    if (connect_seeds(o, &c, &node) != 0)
        return CHORD_EXIT_FAILED;
    chord_client_close(c);

    /* libuv writes with write(2): a node closing a connection must not
     * kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);
    o->bench.node = node;
    o->bench.request_timeout_ms = (uint32_t)o->timeout_ms;
    struct chord_bench_report *rep = calloc(1, sizeof(*rep));
    if (!rep) {
        fputs("dht: out of memory\n", stderr);
        return CHORD_EXIT_FAILED;
    }
    char err[CHORD_BENCH_ERR_MAX];
    int rc = chord_bench_run(&o->bench, rep, err);
    if (rc) {
        fprintf(stderr, "dht: bench: %s\n", err);
        free(rep);
        return rc == -EINVAL ? CHORD_EXIT_USAGE : CHORD_EXIT_FAILED;
    }
    uint64_t failed = 0;
    bool first = true;
    if (o->json)
        fputs("{", stdout);
    for (int op = 0; op < CHORD_BENCH_OPS; op++) {
        const struct chord_bench_result *r = &rep->op[op];
        if (!r->ran)
            continue;
        failed += r->errors;
        if (o->json) {
            printf("%s\"%s\": ", first ? "" : ", ", chord_bench_op_name(op));
            bench_json_op(r);
        } else {
            bench_text_op(op, r, &o->bench, rep);
        }
        first = false;
    }
    if (o->json)
        fputs("}\n", stdout);
    int code = CHORD_EXIT_OK;
    if (failed || rep->timed_out) {
        fflush(stdout);
        fprintf(stderr, "dht: bench: %llu request%s failed%s%s\n",
                (unsigned long long)failed, failed == 1 ? "" : "s",
                rep->first_error[0] ? "; first error: " : "", rep->first_error);
        code = CHORD_EXIT_FAILED;
    }
    free(rep);
    return code;
}

/* Parse -t: a comma-separated list of put (or set), get, del into a mask
 * of (1 << enum chord_bench_op). 0 or -EINVAL. */
static int parse_bench_ops(const char *s, unsigned *out)
{
    unsigned mask = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 3 &&
            (strncmp(p, "put", 3) == 0 || strncmp(p, "set", 3) == 0))
            mask |= 1u << CHORD_BENCH_PUT;
        else if (len == 3 && strncmp(p, "get", 3) == 0)
            mask |= 1u << CHORD_BENCH_GET;
        else if (len == 3 && strncmp(p, "del", 3) == 0)
            mask |= 1u << CHORD_BENCH_DEL;
        else
            return -EINVAL;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = mask;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Argument handling.                                                  */

typedef int (*dht_cmd_fn)(struct chord_client *, const char *,
                          const struct dht_opts *, const struct dht_req *);

struct dht_cmd {
    const char *name;
    int n_args; /* exact number of arguments after the command */
    bool has_key;
    dht_cmd_fn run;
};

static const struct dht_cmd dht_cmds[] = {
    {"put", 2, true, cmd_put},        {"get", 1, true, cmd_get},
    {"del", 1, true, cmd_del},        {"lookup", 1, true, cmd_lookup},
    {"status", 0, false, cmd_status}, {"ring", 0, false, cmd_ring},
    {"bench", 0, false, NULL}, /* opens its own connections: cmd_bench */
};

/* Read all of stdin into *out, at most CHORD_VALUE_MAX bytes. 0; -EMSGSIZE
 * when there is more; -EIO on a read error; -ENOMEM. */
static int read_stdin(uint8_t **out, size_t *len)
{
    size_t cap = CHORD_VALUE_MAX + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    while (n < cap) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(stdin)) {
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

/* Check the command's arguments and load the value. 0, or an exit code
 * after printing the error. */
static int prepare(const struct dht_cmd *cmd, char **args, int n_args,
                   struct dht_req *r)
{
    if (n_args < cmd->n_args)
        return chord_usage_error("dht", "%s: missing argument", cmd->name);
    if (n_args > cmd->n_args)
        return chord_usage_error("dht", "%s: too many arguments", cmd->name);
    if (cmd->has_key) {
        r->key = args[0];
        r->key_len = strlen(args[0]);
        if (r->key_len > CHORD_KEY_MAX) {
            fprintf(stderr, "dht: key is %zu bytes, the limit is %u\n",
                    r->key_len, CHORD_KEY_MAX);
            return CHORD_EXIT_USAGE;
        }
    }
    if (cmd->run != cmd_put)
        return 0;
    if (strcmp(args[1], "-") == 0) {
        int rc = read_stdin(&r->value, &r->value_len);
        if (rc == -EMSGSIZE) {
            fprintf(stderr,
                    "dht: value on stdin is over the limit of %u "
                    "bytes\n",
                    CHORD_VALUE_MAX);
            return CHORD_EXIT_USAGE;
        }
        if (rc) {
            fprintf(stderr, "dht: cannot read the value from stdin: %s\n",
                    strerror(-rc));
            return CHORD_EXIT_FAILED;
        }
        return 0;
    }
    size_t len = strlen(args[1]);
    if (len > CHORD_VALUE_MAX) {
        fprintf(stderr, "dht: value is %zu bytes, the limit is %u\n", len,
                CHORD_VALUE_MAX);
        return CHORD_EXIT_USAGE;
    }
    r->value = malloc(len ? len : 1);
    if (!r->value) {
        fputs("dht: out of memory\n", stderr);
        return CHORD_EXIT_FAILED;
    }
    memcpy(r->value, args[1], len);
    r->value_len = len;
    return 0;
}

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
        rc = parse_bench_ops(arg, &o->bench.ops);
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
        rc = parse_consistency(arg, &o->bench.consistency);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    if (rc == 0)
        return 0;
    fprintf(stderr, "dht: bad %s '%s' (see dht --help)\n", name, arg);
    return CHORD_EXIT_USAGE;
}

/* Check a seed address; prints the error. */
static bool seed_ok(const char *addr, const char *from)
{
    char host[CHORD_ADDR_MAX];
    uint16_t port;
    if (chord_addr_parse(addr, host, &port) == 0)
        return true;
    fprintf(stderr,
            "dht: bad node address '%s' from %s (want HOST:PORT, "
            "HOST an IPv4 address or localhost)\n",
            addr, from);
    return false;
}

int main(int argc, char **argv)
{
    struct dht_opts o = {.timeout_ms = DHT_DEFAULT_TIMEOUT_MS};
    chord_bench_config_default(&o.bench);
    opterr = 0; /* our own one-line messages */
    for (;;) {
        int ch = getopt_long(argc, argv, ":hc:n:d:t:P:", dht_longopts, NULL);
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
        case OPT_NODE:
            if (!seed_ok(optarg, "--node"))
                return CHORD_EXIT_USAGE;
            if (o.n_seeds == DHT_SEEDS_MAX) {
                fprintf(stderr, "dht: at most %u --node options\n",
                        DHT_SEEDS_MAX);
                return CHORD_EXIT_USAGE;
            }
            o.seeds[o.n_seeds++] = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &o.timeout_ms) != 0)
                return chord_usage_error(
                    "dht", "bad --timeout-ms '%s' (want 1..3600000)", optarg);
            break;
        case OPT_JSON:
            o.json = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return CHORD_EXIT_OK;
        case OPT_VERSION:
            printf("dht (chord-dht) %s\n", CHORD_VERSION);
            return CHORD_EXIT_OK;
        case ':':
            return chord_usage_error("dht", "option %s needs an argument",
                                     argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 256) {
                char opt[3] = {'-', (char)optopt, '\0'};
                return chord_usage_error("dht", "unknown option '%s'", opt);
            }
            return chord_usage_error("dht", "unknown option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return chord_usage_error("dht", "%s", "missing command");

    const struct dht_cmd *cmd = NULL;
    for (size_t i = 0; i < sizeof(dht_cmds) / sizeof(dht_cmds[0]); i++)
        if (strcmp(argv[optind], dht_cmds[i].name) == 0)
            cmd = &dht_cmds[i];
    if (!cmd)
        return chord_usage_error("dht", "unknown command '%s'", argv[optind]);
    if (cmd->run != NULL && o.bench_opt)
        return chord_usage_error("dht", "option %s is only for bench",
                                 o.bench_opt);

    if (o.n_seeds == 0) {
        const char *env = getenv("DHT_NODE");
        if (env && *env) {
            if (!seed_ok(env, "$DHT_NODE"))
                return CHORD_EXIT_USAGE;
            o.seeds[o.n_seeds++] = env;
        } else {
            o.seeds[o.n_seeds++] = DHT_DEFAULT_NODE;
        }
    }

    struct dht_req r = {0};
    int code = prepare(cmd, argv + optind + 1, argc - optind - 1, &r);
    if (code) {
        free(r.value);
        return code;
    }
    if (cmd->run == NULL) {
        code = cmd_bench(&o);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "dht: cannot write to stdout: %s\n",
                    strerror(errno));
            if (code == CHORD_EXIT_OK)
                code = CHORD_EXIT_FAILED;
        }
        return code;
    }

    struct chord_client *c = NULL;
    const char *node = NULL;
    if (connect_seeds(&o, &c, &node) != 0) {
        free(r.value);
        return CHORD_EXIT_FAILED;
    }
    code = cmd->run(c, node, &o, &r);
    chord_client_close(c);
    free(r.value);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "dht: cannot write to stdout: %s\n", strerror(errno));
        if (code == CHORD_EXIT_OK)
            code = CHORD_EXIT_FAILED;
    }
    return code;
}
