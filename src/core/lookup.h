/*
 * lookup.h - recursive lookups: one routing step at this node, lookups
 * this node forwarded (re-routed when the next hop fails), and proximity
 * routing (PNS).
 *
 * A lookup travels as FIND_SUCC hop by hop towards its target (the
 * closest preceding finger or successor, or with cfg.pns the one with
 * the most progress per millisecond), recording its path; the node that
 * knows the owner answers the origin directly with FOUND_SUCC. With
 * CHORD_LOOKUP_TO_OWNER the owner answers itself, so a crashed node is
 * never named; CHORD_LOOKUP_FINAL marks a hop sent to the presumed owner
 * (which steps back to its predecessor if someone joined in between).
 *
 * A node that forwards a lookup remembers it for as long as it could take
 * to learn that the next hop failed: CHORD_FWD_MEMORY_MS when the failure
 * detector monitors the next hop (it suspects it some time after a
 * crash), the detector's floor (250 ms) otherwise (only the host reports
 * such a peer, unreachable, within about a round trip). If the next hop
 * is reported unreachable or becomes suspected meanwhile, the lookup is
 * sent on another way at once (chord__lookup_reroute()).
 *
 * Lookups this node starts are requests (peer.h) whose `found` function
 * receives the result: the module that started one gets its answer
 * without lookup.c knowing it. The answer may arrive before
 * chord__lookup_run() returns (when this node is the owner).
 *
 * Pure: no I/O, no clock. Calls peer.c and placement.c.
 */
#ifndef CHORD_CORE_LOOKUP_H
#define CHORD_CORE_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/peer.h"
#include "core/seq.h"
#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_FWD_MEMORY_MS                                                    \
    1000                       /* a lookup forwarded to a monitored peer is    \
                                  re-routed if it fails this soon */
#define CHORD_FWD_MAX 4096     /* forwarded lookups remembered at once */
#define CHORD_PNS_CANDIDATES 4 /* nodes of a finger's interval measured */

/* A lookup's outcome, as its `found` function receives it. */
struct chord_found {
    bool ok; /* false: it exceeded the hop limit */
    struct chord_peer owner;
    struct chord_id lo; /* the owner's range is (lo, owner] */
    uint8_t hops;
    const struct chord_lookup_path *path; /* borrowed for the call */
};

/* A lookup this node forwarded: enough to forward it again, elsewhere,
 * should the next hop turn out to be down. The addresses (the origin's,
 * the next hop's and the path's as it reached us, without this node) are
 * packed as consecutive NUL-terminated strings in one heap block (the
 * origin's only when it is not the path's first, as it nearly always is): a
 * record is ~90 bytes plus ~16 per address, where 64-byte copies made it
 * ~216 plus 64 per hop of path. */
struct fwd {
    struct chord_seq_hdr h;
    uint64_t expires;
    uint64_t req;
    struct chord_id target;
    struct chord_id origin_id;
    uint32_t next_hash; /* fwd_hash of the next hop's address */
    uint8_t hops;
    uint8_t flags;
    uint8_t path_n;
    bool origin_first; /* the origin's address is path[0], not stored */
    char *addrs;       /* [origin,] next hop, path[0..path_n) */
};

struct chord_lookups {
    /* struct fwd, each queue in expiry order: [0] next hop monitored by
     * the detector, [1] any other next hop (see fwd_queue in lookup.c) */
    struct chord_seq fwds[2];
    /* Proximity routing (cfg.pns): the measured round trip to each
     * finger's node, in ms (0: not measured); CHORD_ID_BITS entries,
     * allocated at the first measurement (NULL: none measured). */
    uint32_t *finger_rtt;
};

void chord__lookups_init(struct chord_lookups *l);
void chord__lookups_free(struct chord_lookups *l);

/* Record a lookup for the module that passes `found` (as request `kind`
 * with `arg`): its request id, or 0 when out of memory. The caller notes
 * the id, then calls chord__lookup_run(): the answer may reach `found`
 * before chord__lookup_run() returns. */
uint64_t chord__lookup_begin(struct chord_node *n, uint64_t now, uint8_t kind,
                             uint64_t arg, chord_found_fn found);
/* Route lookup `id` of `target` from here. flags: CHORD_LOOKUP_TO_OWNER
 * makes the owner answer itself. */
void chord__lookup_run(struct chord_node *n, uint64_t now, uint64_t id,
                       const struct chord_id *target, uint8_t flags);

/* FIND_SUCC arrived: take one step (answer the origin or forward). */
void chord__lookup_step(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m);
/* FIND_SUCC arrived at a node that cannot route yet (joining, knowing no
 * successor): tell the origin at once that the lookup failed, rather than
 * let it wait out its timeout. */
void chord__lookup_refuse(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m);
/* FOUND_SUCC arrived: hand the result to the request's `found`
 * function, if the request is still ours. */
void chord__lookup_answered(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m);
/* `addr` is down or suspected: re-route the lookups forwarded to it. */
void chord__lookup_reroute(struct chord_node *n, uint64_t now,
                           const char *addr);
/* Forget forwarded lookups whose time is up. */
void chord__lookup_tick(struct chord_node *n, uint64_t now);

/* Proximity routing. A fix_fingers lookup found `owner`, the first node
 * at or after start(i): set finger i (asking the owner for nearer
 * candidates of its interval). Returns the next finger to refresh. */
unsigned chord__pns_finger_found(struct chord_node *n, uint64_t now, unsigned i,
                                 const struct chord_peer *owner);
/* The answer (or failure, m == NULL) of RPC_PNS_NB and RPC_PNS_PROBE. */
void chord__pns_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                       const struct chord_msg *m);

/* Copy a lookup path: its used entries only (a whole one is 4 KB). */
void chord__path_copy(struct chord_lookup_path *dst,
                      const struct chord_lookup_path *src);

#endif
