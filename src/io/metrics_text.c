/*
 * metrics_text.c - the Prometheus text format 0.0.4 for a node's metrics
 * (see metrics_text.h).
 *
 * Invariants: one HELP and one TYPE line per family, written before its
 * samples; label values come from fixed tables here (nothing from the
 * network goes into a name or a label, so nothing needs escaping); a
 * histogram's buckets are summed into cumulative counts as written.
 *
 * It does no I/O and keeps no state.
 */
#include "io/metrics_text.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chord/types.h"

/* Longest single line written (a sample with its labels). */
#define METRICS_LINE_MAX 256

static const uint64_t ms_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_MS_BOUNDS;
static const uint64_t us_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_US_BOUNDS;
static const uint64_t hop_bounds[CHORD_HIST_BUCKETS - 1] =
    CHORD_HIST_HOP_BOUNDS;

static const char *const op_names[CHORD_METRIC_OPS] = {"put", "get", "del",
                                                       "lookup"};
/* By enum chord_status_code. */
static const char *const outcome_names[CHORD_METRIC_OUTCOMES] = {
    "ok",        "not_found",   "redirect",    "try_again",
    "too_large", "bad_request", "unavailable", "busy"};
static const char *const peer_state_names[3] = {"alive", "suspected", "dead"};
static const char *const node_state_names[] = {"init",    "joining", "active",
                                               "leaving", "left",    "failed"};

/* The render in progress: the output and the first error. */
struct out {
    struct chord_buf *b;
    int rc;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    if (o->rc)
        return;
    char line[METRICS_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        o->rc = -EINVAL;
        return;
    }
    o->rc = chord_buf_append(o->b, line, (size_t)n);
}

static void family(struct out *o, const char *name, const char *type,
                   const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter or gauge family of one unlabelled sample. */
static void single(struct out *o, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    family(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* The samples of one histogram; `labels` is "" or `k="v",`; bounds and
 * sum are divided by `scale` (1000 for ms to seconds). */
static void hist(struct out *o, const char *name, const char *labels,
                 const struct chord_hist *h, const uint64_t *bounds,
                 double scale)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i < CHORD_HIST_BUCKETS - 1; i++) {
        cum += h->bucket[i];
        put(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels,
            (double)bounds[i] / scale, (unsigned long long)cum);
    }
    put(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
        (unsigned long long)h->count);
    char l[64] = "";
    if (labels[0]) /* drop the trailing comma */
        snprintf(l, sizeof l, "{%.*s}", (int)(strlen(labels) - 1), labels);
    put(o, "%s_sum%s %.6f\n", name, l, (double)h->sum / scale);
    put(o, "%s_count%s %llu\n", name, l, (unsigned long long)h->count);
}

/* The node's unlabelled counters and gauges: one family each. */
struct scalar {
    const char *name, *type, *help;
    size_t offset; /* of a uint64_t in struct chord_node_metrics */
};

#define SCALAR(name, type, field, help)                                        \
    {                                                                          \
        name, type, help, offsetof(struct chord_node_metrics, field)           \
    }

static const struct scalar scalars[] = {
    SCALAR("chord_peer_requests_total", "counter", rpcs_sent,
           "Requests sent to peers (lookup hops excluded)."),
    SCALAR("chord_peer_request_timeouts_total", "counter", rpc_timeouts,
           "Requests (lookups included) that got no answer in time."),
    SCALAR("chord_peer_unreachable_total", "counter", rpc_unreachable,
           "Requests failed because the peer could not be reached."),
    SCALAR("chord_lookups_failed_total", "counter", lookups_failed,
           "Lookups this node started that found no owner."),
    SCALAR("chord_false_suspicions_total", "counter", false_suspicions,
           "Suspected peers that were heard from again."),
    SCALAR("chord_sync_rounds_total", "counter", sync_rounds,
           "Anti-entropy digests sent to replicas."),
    SCALAR("chord_sync_rounds_diverged_total", "counter", sync_diverged,
           "Anti-entropy rounds whose replica differed (replicas short)."),
    SCALAR("chord_sync_keys_sent_total", "counter", sync_keys_sent,
           "Keys sent to replicas because anti-entropy found them missing."),
    SCALAR("chord_transfer_keys_sent_total", "counter", transfer_keys_sent,
           "Keys sent in other streams (joins, leaves, replication)."),
    SCALAR("chord_transfer_keys_received_total", "counter",
           transfer_keys_received, "Keys received in any stream."),
    SCALAR("chord_replica_frames_sent_total", "counter", replica_frames_sent,
           "Frames of replicated writes sent to replicas (one per replica "
           "and loop turn)."),
    SCALAR("chord_replica_writes_sent_total", "counter", replica_items_sent,
           "Replicated writes sent to replicas (the items of those frames)."),
    SCALAR("chord_keys_stored", "gauge", keys,
           "Live keys held, primary and replica copies."),
    SCALAR("chord_tombstones_stored", "gauge", tombstones,
           "Deletes remembered (tombstones)."),
    SCALAR("chord_stored_bytes", "gauge", bytes,
           "Key and value bytes of the live keys held."),
};

static void render_client(struct out *o, const struct chord_node_metrics *m)
{
    family(o, "chord_client_requests_total", "counter",
           "Client requests this node coordinated, by kind and outcome.");
    for (unsigned k = 0; k < CHORD_METRIC_OPS; k++)
        for (unsigned s = 0; s < CHORD_METRIC_OUTCOMES; s++)
            put(o,
                "chord_client_requests_total{op=\"%s\",outcome=\"%s\"} "
                "%llu\n",
                op_names[k], outcome_names[s],
                (unsigned long long)m->client_requests[k][s]);
    family(o, "chord_client_request_duration_seconds", "histogram",
           "Client requests from arrival to reply (ms resolution).");
    for (unsigned k = 0; k < CHORD_METRIC_OPS; k++) {
        char labels[32];
        snprintf(labels, sizeof labels, "op=\"%s\",", op_names[k]);
        hist(o, "chord_client_request_duration_seconds", labels,
             &m->client_ms[k], ms_bounds, 1000.0);
    }
}

static void render_ring(struct out *o, const struct chord_node_metrics *m)
{
    family(o, "chord_node_state", "gauge",
           "1 for the node's lifecycle state, 0 for the others.");
    for (unsigned i = 0; i < sizeof node_state_names / sizeof *node_state_names;
         i++)
        put(o, "chord_node_state{state=\"%s\"} %d\n", node_state_names[i],
            m->state == i);
    family(o, "chord_peer_request_duration_seconds", "histogram",
           "Answered requests to peers, from send to answer.");
    hist(o, "chord_peer_request_duration_seconds", "", &m->rpc_ms, ms_bounds,
         1000.0);
    family(o, "chord_lookup_hops", "histogram",
           "Hops of the lookups this node started that found an owner.");
    hist(o, "chord_lookup_hops", "", &m->lookup_hops, hop_bounds, 1.0);
    family(o, "chord_peers", "gauge",
           "Monitored peers by failure-detector state.");
    for (unsigned i = 0; i < 3; i++)
        put(o, "chord_peers{state=\"%s\"} %llu\n", peer_state_names[i],
            (unsigned long long)m->peers[i]);
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
        const struct scalar *sc = &scalars[i];
        uint64_t v;
        memcpy(&v, (const char *)m + sc->offset, sizeof v);
        single(o, sc->name, sc->type, sc->help, v);
    }
}

static void render_net(struct out *o, const struct chord_metrics_view *v)
{
    single(o, "chord_connections_open", "gauge",
           "TCP connections open now (clients and peers, both directions).",
           v->conns_open);
    family(o, "chord_connections_total", "counter",
           "TCP connections accepted (in) and opened (out).");
    put(o, "chord_connections_total{direction=\"in\"} %llu\n",
        (unsigned long long)v->net->accepted);
    put(o, "chord_connections_total{direction=\"out\"} %llu\n",
        (unsigned long long)v->net->connected);
    family(o, "chord_network_bytes_total", "counter",
           "Bytes read (in) and written (out) on TCP connections.");
    put(o, "chord_network_bytes_total{direction=\"in\"} %llu\n",
        (unsigned long long)v->net->bytes_in);
    put(o, "chord_network_bytes_total{direction=\"out\"} %llu\n",
        (unsigned long long)v->net->bytes_out);
    single(o, "chord_peer_frames_sent_total", "counter",
           "Node-to-node frames sent by this process (every vnode; "
           "maintenance and data alike).",
           v->peer_frames_sent);
    single(o, "chord_vnodes", "gauge",
           "Ring positions this process runs (dhtd --vnodes; the node "
           "metrics are those of position 0).",
           v->vnodes);
    single(o, "chord_inbound_buffered_bytes", "gauge",
           "Input bytes buffered over all connections (frames in progress).",
           v->input_bytes);
    single(o, "chord_outbound_queued_bytes", "gauge",
           "Output bytes queued and not yet written.", v->pending_bytes);
}

static void render_log(struct out *o, const struct chord_durable_stats *l)
{
    single(o, "chord_wal_appends_total", "counter",
           "Records appended to the write-ahead log.", l->appended);
    single(o, "chord_wal_segment_bytes", "gauge",
           "Size of the log segment being written.", l->segment_bytes);
    family(o, "chord_wal_fsync_duration_seconds", "histogram",
           "Group commits that fsynced, from start to completion.");
    hist(o, "chord_wal_fsync_duration_seconds", "", &l->fsync_us, us_bounds,
         1e6);
    family(o, "chord_wal_checkpoint_duration_seconds", "histogram",
           "Checkpoints (snapshot of the store) completed.");
    hist(o, "chord_wal_checkpoint_duration_seconds", "", &l->checkpoint_ms,
         ms_bounds, 1000.0);
}

int chord_metrics_text_render(struct chord_buf *out,
                              const struct chord_metrics_view *v)
{
    struct out o = {.b = out, .rc = 0};
    render_client(&o, v->node);
    render_ring(&o, v->node);
    render_net(&o, v);
    if (v->log)
        render_log(&o, v->log);
    return o.rc;
}
