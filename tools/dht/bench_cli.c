/*
 * bench_cli.c - `dht bench` on the command line: the parsers of its
 * option values (-t, --consistency), the run from the first reachable
 * seed, and its report, as text in redis-benchmark's manner or as one
 * JSON object with one member per operation run.
 *
 * The report is printed whole before the exit code says whether every
 * request completed (0) or any failed (3, with the count and the first
 * error on stderr). The load generator itself is bench.h; this file only
 * configures it and prints what it measured.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit.h"
#include "dht/bench.h"
#include "dht/dht.h"

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
int dht_parse_consistency(const char *s, uint8_t *out)
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
int dht_cmd_bench(struct dht_opts *o)
{
    struct chord_client *c = NULL;
    const char *node = NULL;
    if (dht_connect_seeds(o, &c, &node) != 0)
        return CHORD_EXIT_FAILED;
    chord_client_close(c);

    /* libuv writes with write(2): a node closing a connection must not
     * kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);
    o->bench.node = node;
    o->bench.tls = o->tls_ctx;
    o->bench.request_timeout_ms = (uint32_t)o->timeout_ms;
    o->bench.progress = !o->json; /* on a terminal only: common/progress.h */
    struct chord_bench_report *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
    char err[CHORD_BENCH_ERR_MAX];
    int rc = chord_bench_run(&o->bench, rep, err);
    if (rc) {
        free(rep);
        return dht_fail(o->json,
                        rc == -EINVAL ? CHORD_EXIT_USAGE : CHORD_EXIT_FAILED,
                        "bench: %s", err);
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
        code = dht_fail(
            o->json, CHORD_EXIT_FAILED, "bench: %llu request%s failed%s%s",
            (unsigned long long)failed, failed == 1 ? "" : "s",
            rep->first_error[0] ? "; first error: " : "", rep->first_error);
    }
    free(rep);
    return code;
}

/* Parse -t: a comma-separated list of put (or set), get, del into a mask
 * of (1 << enum chord_bench_op). 0 or -EINVAL. */
int dht_parse_bench_ops(const char *s, unsigned *out)
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
