/*
 * metrics_text.h - render a node's metrics in the Prometheus text
 * exposition format 0.0.4 (what GET /metrics answers).
 *
 * Every family has a HELP and a TYPE line; names start with "chord_" and
 * carry their unit (_seconds, _bytes, _total for counters). Latencies kept
 * in ms or us are written in seconds; histogram buckets are cumulative
 * and end with le="+Inf", whose value equals _count.
 *
 * What it does not do: it reads no node and serves nothing; the host
 * fills a struct chord_metrics_view on the loop thread and calls it.
 */
#ifndef CHORD_IO_METRICS_TEXT_H
#define CHORD_IO_METRICS_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/metrics.h"
#include "io/durable.h"
#include "io/transport.h"

/* Everything one scrape shows, gathered by the host (borrowed). */
struct chord_metrics_view {
    const struct chord_node_metrics *node;
    const struct chord_transport_stats *net;
    uint64_t conns_open;                   /* connections open now */
    uint64_t input_bytes;                  /* inbound bytes buffered */
    uint64_t pending_bytes;                /* outbound bytes queued */
    const struct chord_durable_stats *log; /* NULL when memory-only */
    uint64_t peer_frames_sent;             /* node-to-node frames, all vnodes */
    unsigned vnodes; /* ring positions of the process (>= 1) */
};

/* Append the text for *v to out. 0, or -ENOMEM (out then holds part of
 * it: the caller answers 500). */
int chord_metrics_text_render(struct chord_buf *out,
                              const struct chord_metrics_view *v);

#endif
