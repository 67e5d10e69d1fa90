/*
 * metrics.c - the node's counters (see chord/metrics.h and
 * core/metrics.h): observing into fixed-bucket histograms, and the copy
 * with gauges that chord_node_metrics() hands out.
 *
 * Invariant: a counter only grows (a histogram's count equals the sum of
 * its buckets); gauges are computed at the call from the store and the
 * failure detector, never kept.
 *
 * It does no I/O, reads no clock and renders nothing (src/io does).
 */
#include "core/metrics.h"

#include <string.h>

#include "core/node_internal.h"

static const uint64_t ms_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_MS_BOUNDS;
static const uint64_t hop_bounds[CHORD_HIST_BUCKETS - 1] =
    CHORD_HIST_HOP_BOUNDS;

void chord_hist_observe(struct chord_hist *h, const uint64_t *bounds,
                        uint64_t v)
{
    unsigned i = 0;
    while (i < CHORD_HIST_BUCKETS - 1 && v > bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

void chord__metrics_client(struct chord_node *n, uint8_t type, uint8_t status,
                           uint64_t ms)
{
    if (type < CHORD_MSG_C_PUT || type > CHORD_MSG_C_LOOKUP)
        return;
    unsigned op = (unsigned)(type - CHORD_MSG_C_PUT);
    unsigned out = status < CHORD_METRIC_OUTCOMES ? status : CHORD_UNAVAILABLE;
    n->metrics.client_requests[op][out]++;
    chord_hist_observe(&n->metrics.client_ms[op], ms_bounds, ms);
}

void chord__metrics_rpc_answered(struct chord_node *n, uint64_t ms)
{
    chord_hist_observe(&n->metrics.rpc_ms, ms_bounds, ms);
}

void chord__metrics_lookup(struct chord_node *n, int ok, unsigned hops)
{
    if (ok)
        chord_hist_observe(&n->metrics.lookup_hops, hop_bounds, hops);
    else
        n->metrics.lookups_failed++;
}

void chord_node_metrics(const struct chord_node *n,
                        struct chord_node_metrics *out)
{
    *out = n->metrics;
    out->state = (uint8_t)n->state;
    out->keys = chord_store_live(n->store);
    out->tombstones = chord_store_size(n->store) - out->keys;
    out->bytes = chord_store_live_bytes(n->store);
    for (unsigned i = 0; i < n->fd.n_slots; i++) {
        const struct chord_fd_peer *p = &n->fd.peers[i];
        if (p->addr[0] && p->state <= CHORD_PEER_DEAD)
            out->peers[p->state]++;
    }
}
