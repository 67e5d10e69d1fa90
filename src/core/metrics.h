/*
 * metrics.h - the core's side of chord/metrics.h: where the counters live
 * (struct chord_node.metrics) and the calls the modules make where
 * things happen.
 *
 * Pure: no I/O, no clock; a latency is a difference of two `now`s given to
 * the node. Internal to src/core (names chord__*).
 */
#ifndef CHORD_CORE_METRICS_H
#define CHORD_CORE_METRICS_H

#include <stdint.h>

#include "chord/metrics.h"

struct chord_node;

/* A client request of wire type `type` (CHORD_MSG_C_PUT .. C_LOOKUP;
 * others are ignored) was answered with `status` after `ms`. */
void chord__metrics_client(struct chord_node *n, uint8_t type, uint8_t status,
                           uint64_t ms);

/* A request to a peer was answered after `ms`. */
void chord__metrics_rpc_answered(struct chord_node *n, uint64_t ms);

/* A lookup this node started resolved (ok) in `hops`, or failed. */
void chord__metrics_lookup(struct chord_node *n, int ok, unsigned hops);

#endif
