/*
 * report.c - the figures of a dht-sim run and how they are printed: the
 * per-request outcomes are counted into a struct sim_report (failures by
 * kind, hop and latency means and nearest-rank percentiles, timeouts per
 * lookup, messages per node per second, keys lost), then printed as text,
 * one figure per line, or with --json as one object on one line.
 *
 * Invariants: everything printed on stdout is a function of the options
 * and the seed, so the same seed gives the same bytes; the field names
 * and formats are what scripts and tests read (fields may be added, not
 * renamed).
 *
 * It does not print the seed line (main.c prints it first, before the
 * run) or anything on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/sim.h"
#include "dht_sim.h"

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

/* Turn the per-request outcomes into the report's figures. 0 or
 * -ENOMEM. */
int dsim_summarize(struct sim_run *run, struct sim_report *rep)
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
void dsim_print_text(const struct sim_run *run, const struct sim_report *r,
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
void dsim_print_json(const struct sim_run *run, const struct sim_report *r,
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
