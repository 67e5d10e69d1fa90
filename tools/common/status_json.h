/*
 * status_json.h - one node's status report as JSON: the shape `dht
 * status --json` prints and `dht ring --json` prints once per node (the
 * CLI contract in DESIGN.md), shared by dht and by dht-sim --snapshot so
 * that dht-viz --input reads both the same way.
 *
 * Invariants: field names are never renamed (scripts rely on them);
 * fields may only be added. Nothing here prints or allocates beyond the
 * writer's buffer.
 */
#ifndef CHORD_TOOLS_STATUS_JSON_H
#define CHORD_TOOLS_STATUS_JSON_H

#include "chord/types.h"
#include "common/json.h"

/* A peer as {"id": HEX40, "addr": "HOST:PORT"}. */
void chord_status_json_peer(struct chord_json *j, const struct chord_peer *p);

/* A status report as one object: id, addr, state, predecessor (or null),
 * successors, fingers (start, id, addr), keys, primary_keys, replicas,
 * durability, peers (addr, state, rtt_ms, timeout_ms, false_suspicions). */
void chord_status_json(struct chord_json *j, const struct chord_status *s);

#endif
