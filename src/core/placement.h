/*
 * placement.h - who owns a key and who holds its copies, as this node
 * sees the ring now.
 *
 * Ownership. A key belongs to its successor. A node owns (pred, self];
 * the ranges of predecessors it suspects fall to it as well, as they
 * would once the ring repairs itself (owns_now).
 *
 * Replica set. A key lives on r nodes: its owner and the owner's next
 * r-1 usable successors. In a ring of fewer than r nodes every node
 * holds everything (the factor is the ring size, as far as the successor
 * list shows). A node judges whether it is still a replica of a key from
 * its predecessor list (rt.preds, learned from each RECTIFY): it
 * replicates exactly (preds[r-1], self].
 *
 * Pure functions of the routing table, the configuration and the dead-
 * peer rule (peer.h); nothing here changes state or sends anything. Below
 * replica.c, read_lease.c, sync.c, coord.c and ring.c alike.
 */
#ifndef CHORD_CORE_PLACEMENT_H
#define CHORD_CORE_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/types.h"

struct chord_node;

/* The replication factor the ring allows now (<= cfg.replicas). */
unsigned chord__replica_factor(const struct chord_node *n);
/* The first `max` usable successors (the replicas of our primary keys),
 * into out; how many. */
unsigned chord__replica_targets(const struct chord_node *n, uint64_t now,
                                struct chord_peer *out, unsigned max);
/* Copies (ours included) a request of `consistency` needs: 1, a majority
 * of the factor, or all of it. */
unsigned chord__copies_needed(const struct chord_node *n, uint8_t consistency);
/* Is this node one of the replicas of key_id (judged by its predecessor
 * list; with too short a list, yes)? */
bool chord__replica_holds(const struct chord_node *n,
                          const struct chord_id *key_id);

/* Our nearest predecessor that is usable (the predecessor itself when
 * none is), or NULL when none is known. */
const struct chord_peer *chord__live_pred(const struct chord_node *n,
                                          uint64_t now);
/* Our nearest usable successor (succ[0] when none is; self when alone). */
const struct chord_peer *chord__live_succ(const struct chord_node *n,
                                          uint64_t now);
/* The start of the range we own now, (lo, self] (suspected predecessors'
 * ranges included; lo == self: the whole ring). */
void chord__owned_lo(const struct chord_node *n, uint64_t now,
                     struct chord_id *lo);
/* Do we own key now (suspected predecessors' ranges included)? */
bool chord__owns_now(const struct chord_node *n, const struct chord_id *key,
                     uint64_t now);
/* Our first successor of another process (with vnodes, the position that
 * takes our range over when our whole process goes; without, succ[0]),
 * or NULL when none is known. */
const struct chord_peer *chord__next_process(const struct chord_node *n);
/* Where to send a request for `id` that this node does not own: the
 * successor when id lies just after us, else the predecessor (stepping
 * back one node at a time converges while joins settle, where a finger
 * could bounce between two stale views). */
const struct chord_peer *chord__redirect_hint(const struct chord_node *n,
                                              const struct chord_id *id,
                                              uint64_t now);

#endif
