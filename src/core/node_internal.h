/*
 * node_internal.h - the whole state of one node, assembled from the parts
 * each concern keeps (its own sub-struct, defined in its own header).
 *
 * The protocol core is split by concern, lowest first; a file calls only
 * files above it in this list, never one below it (results travel back
 * through callbacks carried in the request: a lookup's `found`, a
 * transfer's `done`, a store request's `done`):
 *
 *   node.c        public entry points, dispatch, tick, status
 *   scan.c        owner side of C_SCAN: a page of its keys (dump)
 *   coord.c       client operations, owner cache, owner side of STORE_*
 *   membership.c  join, rejoin after a restart, and leave
 *   merge.c       ring unification: peers found again, rings merged
 *   ring.c        stabilize, rectify, fix_fingers, heartbeats, failures
 *   sync.c        anti-entropy, orphans, tombstone collection
 *   replica.c     quorum writes and reads, hedging, read repair
 *   replica_batch.c  replicated writes held per replica, one frame each
 *   lookup.c      recursive lookups, re-routing, proximity routing
 *   transfer.c    key streams in acknowledged batches
 *   read_lease.c  the owner's read lease
 *   placement.c   ownership and replica sets (pure functions)
 *   commit.c      log, then apply; acknowledgements held until durable
 *   peer.c        messages out, requests in flight, the dead-peer rule
 *   metrics.c     counters and histograms (called from any of the above)
 *
 * and below them all the self-contained modules: routing (successor list,
 * fingers), store, fd (failure detector), wire, seq, id, buf.
 *
 * Nothing outside src/core includes this header. Internal functions are
 * named chord__* (libuv's uv__ convention). Everything here is pure: no
 * I/O, no clock.
 */
#ifndef CHORD_NODE_INTERNAL_H
#define CHORD_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/node.h"
#include "core/commit.h"
#include "core/coord.h"
#include "core/fd.h"
#include "core/locks.h"
#include "core/lookup.h"
#include "core/membership.h"
#include "core/merge.h"
#include "core/metrics.h"
#include "core/peer.h"
#include "core/read_lease.h"
#include "core/replica.h"
#include "core/ring.h"
#include "core/routing.h"
#include "core/scan.h"
#include "core/store.h"
#include "core/sync.h"
#include "core/transfer.h"
#include "core/wire.h"

struct chord_node {
    struct chord_node_config cfg;
    struct chord_node_io io;
    enum chord_node_state state;
    struct chord_routing rt; /* successors, fingers, predecessors */
    struct chord_store *store;
    struct chord_fd fd;     /* the failure detector: the one peer table */
    uint64_t rng;           /* the node's PRNG (peer.c's chord__jitter) */
    uint64_t now;           /* the latest time an entry point was given */
    uint64_t last_entry_at; /* ... and the latest one, for stall checks */
    int64_t wall_offset;    /* wall-clock ms minus `now` (keystate.h) */
    struct chord_msg *in;   /* scratch for decoding (large: on the heap) */

    struct chord_peers peer;           /* peer.c */
    struct chord_commit commit;        /* commit.c */
    struct chord_transfers xfer;       /* transfer.c */
    struct chord_lookups lookup;       /* lookup.c */
    struct chord_read_lease lease;     /* read_lease.c */
    struct chord_replicas rep;         /* replica.c */
    struct chord_sync sync;            /* sync.c */
    struct chord_coord coord;          /* coord.c */
    struct chord_locks locks;          /* locks.c */
    struct chord_dedup *dedup;         /* dedup.c: applied request ids */
    struct chord_ring ring;            /* ring.c */
    struct chord_merge merge;          /* merge.c */
    struct chord_membership member;    /* membership.c */
    struct chord_node_metrics metrics; /* counters: metrics.c */
};

#endif
