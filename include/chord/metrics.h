/*
 * metrics.h - the plain counters a node keeps for monitoring, and the
 * fixed-bucket histograms they use.
 *
 * The protocol core (chord/node.h) counts what happens where it happens:
 * client requests by kind and outcome with their latency, requests to
 * peers with their latency and failures, lookup hops, anti-entropy rounds
 * and keys moved, false suspicions. chord_node_metrics() copies them and
 * adds the gauges read at the call (keys and bytes stored, peers by
 * failure-detector state). Latencies are differences of the `now` the
 * core is given (milliseconds): the core reads no clock.
 *
 * The host (src/io) adds what only it sees (connections, bytes, the log)
 * and renders everything for Prometheus; nothing here knows about HTTP.
 *
 * Histograms: bucket[i] counts the observations v with
 * bounds[i-1] < v <= bounds[i] (not cumulative); the last bucket is +Inf.
 * `sum` is the sum of the observations, in the histogram's own unit.
 */
#ifndef CHORD_METRICS_H
#define CHORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Buckets of every histogram, the +Inf one included. */
#define CHORD_HIST_BUCKETS 14

/* clang-format off */
/* Upper bounds (inclusive) of the finite buckets of a latency histogram,
 * in milliseconds, and of a hop-count histogram. */
#define CHORD_HIST_MS_BOUNDS                                                   \
    {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}
#define CHORD_HIST_HOP_BOUNDS {0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32}
/* ... and of a latency histogram in microseconds (fsync). */
#define CHORD_HIST_US_BOUNDS                                                   \
    {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,         \
     250000, 1000000}
/* clang-format on */

struct chord_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t bucket[CHORD_HIST_BUCKETS];
};

/* Add observation v to h, whose finite bucket bounds are
 * bounds[0..CHORD_HIST_BUCKETS-2], increasing. */
void chord_hist_observe(struct chord_hist *h, const uint64_t *bounds,
                        uint64_t v);

/* Client operations, by the kind the client asked for. */
enum chord_metric_op {
    CHORD_METRIC_OP_PUT = 0,
    CHORD_METRIC_OP_GET,
    CHORD_METRIC_OP_DEL,
    CHORD_METRIC_OP_LOOKUP,
    CHORD_METRIC_OPS
};
/* Outcomes are the wire's status codes (enum chord_status_code), 0 to
 * CHORD_METRIC_OUTCOMES - 1. */
#define CHORD_METRIC_OUTCOMES 8

struct chord_node_metrics {
    /* Counters, since the node was made. */
    uint64_t client_requests[CHORD_METRIC_OPS][CHORD_METRIC_OUTCOMES];
    struct chord_hist client_ms[CHORD_METRIC_OPS]; /* request to reply */
    uint64_t rpcs_sent;       /* requests to peers (lookup hops excluded) */
    uint64_t rpc_timeouts;    /* ... that got no answer in time */
    uint64_t rpc_unreachable; /* ... failed: the host could not deliver */
    struct chord_hist rpc_ms; /* ... answered: request to answer */
    struct chord_hist lookup_hops;   /* lookups this node started, resolved */
    uint64_t lookups_failed;         /* ... that found no owner */
    uint64_t sync_rounds;            /* anti-entropy digests sent */
    uint64_t sync_diverged;          /* ... answered "differs": a replica
                                        was short of (or ahead of) keys */
    uint64_t sync_keys_sent;         /* keys sent because a digest differed */
    uint64_t transfer_keys_sent;     /* other key streams: joins, leaves,
                                        replication, hand-offs */
    uint64_t transfer_keys_received; /* keys received in any stream */
    uint64_t replica_frames_sent;    /* replicated-write frames (TRANSFER
                                        with REPLICA) sent to replicas */
    uint64_t replica_items_sent;     /* ... and the writes they carried */
    uint64_t false_suspicions;       /* suspected peers heard from again */
    uint64_t status_served;          /* client status requests answered */
    uint64_t duplicates; /* retried writes answered without applying them
                            again (their request id was known) */
    /* Gauges, read at the call. */
    uint8_t state;       /* enum chord_node_state */
    uint64_t keys;       /* live keys held (primary and replica) */
    uint64_t tombstones; /* deletes remembered */
    uint64_t bytes;      /* key and value bytes of the live keys */
    uint64_t peers[3];   /* monitored peers by enum chord_peer_state */
};

#endif
