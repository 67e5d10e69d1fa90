/*
 * sync.h - keeping replicas equal in the background: anti-entropy
 * between an owner and its replicas, the return of keys a node no longer
 * replicates (orphans), and the collection of old tombstones.
 *
 * Anti-entropy. Every sync period an owner sends one replica (round
 * robin) a digest of its primary range (pred, self]: CHORD_SYNC_BUCKETS
 * XOR-hashes of (key id, version) over equal slices of the range. The
 * replica answers with the buckets that differ and pushes its copies of
 * those buckets; the owner pushes its own. Newest-wins makes the exchange
 * idempotent, so both end up with the union. While the read lease waits
 * on replicas (read_lease.h), they are all asked at once instead.
 *
 * Orphans. Every CHORD_ORPHAN_EVERY sync periods a node looks for keys it
 * holds but no longer replicates (the ring changed); it looks up the
 * owner of the first, sends it every such key of that owner's range, and
 * drops them once the owner has them durably (transfer.h); the next range
 * follows a sync period later. That is how copies beyond r disappear
 * after joins and merges.
 *
 * Tombstones are kept for cfg.tombstone_ttl_ms after they were written
 * here, then collected.
 *
 * Pure: no I/O, no clock. Calls peer.c, placement.c, read_lease.c,
 * transfer.c and lookup.c.
 */
#ifndef CHORD_CORE_SYNC_H
#define CHORD_CORE_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_ORPHAN_EVERY 5 /* orphan checks happen every 5 sync periods */

struct chord_sync {
    uint64_t next_sync; /* absolute ms; UINT64_MAX = off */
    uint64_t next_gc;
    unsigned rr;      /* which replica the next SYNC goes to */
    unsigned rounds;  /* SYNC periods since the last orphan check */
    bool orphan_busy; /* an orphan lookup or transfer is running */
};

/* Timers off (a node not yet active). */
void chord__sync_init(struct chord_sync *s);
/* The node became active: start the periodic work. */
void chord__sync_activate(struct chord_node *n, uint64_t now);
/* SYNC arrived (this node is active): answer with the buckets that differ
 * and push our copies of them. */
void chord__sync_handle(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m);
/* The answer (m) or failure (m == NULL) of RPC_SYNC and of
 * RPC_LOOKUP_ORPHAN. */
void chord__sync_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const struct chord_msg *m);
void chord__sync_tick(struct chord_node *n, uint64_t now);
uint64_t chord__sync_deadline(const struct chord_node *n);

#endif
