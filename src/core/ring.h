/*
 * ring.h - keeping the ring whole: stabilize, rectify, fix_fingers,
 * heartbeats, and what the node does when a peer fails.
 *
 * Ring maintenance follows Zave's corrected Chord ("Reasoning about
 * identifier spaces: how to make Chord correct", IEEE TSE 2017):
 *  - stabilize: ask successor s for its predecessor p and successor list;
 *    the list becomes [s] + s's list. If p lies in (self, s), ask p too;
 *    only if p answers (it is alive) does it become the successor. Then
 *    send RECTIFY to the successor. A successor that does not answer
 *    CHORD_SUCC_PROBE_FAILURES times in a row (or is unreachable) is
 *    dropped and the next one is tried at once.
 *  - rectify (replaces notify and check_predecessor): a node m claiming
 *    to be our predecessor is adopted if we have none, if m lies in
 *    (pred, self), or if the current predecessor fails a PING. The
 *    predecessor is never reset to "none". A new, closer predecessor is
 *    sent the keys of its range (transfer.h).
 *  - fix_fingers refreshes one finger per period by a lookup of
 *    start(i) = self + 2^i; a result settles every following finger whose
 *    start it also succeeds, so a cycle costs about log2(N) lookups.
 *  - heartbeats go to the successor list and the predecessor every
 *    heartbeat period; the detector's verdicts (suspected, dead) make the
 *    node route around the peer and re-route the lookups it forwarded.
 *
 * Pure: no I/O, no clock. Calls peer.c, lookup.c, transfer.c, sync.c
 * and read_lease.c; never membership.c (which builds on this file).
 */
#ifndef CHORD_CORE_RING_H
#define CHORD_CORE_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_SUCC_PROBE_FAILURES 3 /* silent stabilize probes: drop */
#define CHORD_PREDS_MIN                                                        \
    2 /* predecessors kept at least (so a suspected                            \
         predecessor's range falls to us, r = 1 too) */

struct chord_ring {
    /* timers (absolute ms; UINT64_MAX = off) */
    uint64_t next_stabilize;
    uint64_t next_fix;
    uint64_t next_heartbeat;

    uint64_t stab_rpc;      /* the stabilize round's request, 0: none */
    unsigned succ_silent;   /* consecutive unanswered successor probes */
    bool pred_ping_pending; /* rectify is testing the predecessor */
    struct chord_peer rectify_cand;
    bool finger_pending;
    unsigned next_finger;
};

/* Timers off. */
void chord__ring_init(struct chord_ring *r);
/* No more heartbeats: a leaver that said LEAVE must not look alive to
 * its neighbours (they would take it back on a stale report). */
void chord__ring_quiet(struct chord_node *n);
/* The node serves: start stabilize, fix_fingers, heartbeats (and the
 * background sync). */
void chord__ring_activate(struct chord_node *n, uint64_t now);

/* Our predecessor and successor list, as GET_NEIGHBORS reports them. */
void chord__ring_neighbors(const struct chord_node *n,
                           struct chord_neighbors *nb);
/* Successor list from a neighbour report: [head] + its list (head NULL:
 * the list alone), leaving out dead peers and padding a short list with
 * the successors we knew beyond its end. */
void chord__ring_adopt(struct chord_node *n, uint64_t now,
                       const struct chord_peer *head,
                       const struct chord_neighbors *nb);
/* Make p our predecessor (a change restarts the read lease). */
void chord__ring_set_pred(struct chord_node *n, uint64_t now,
                          const struct chord_peer *p);

/* A live node that may be our successor (found in another ring, or
 * reported by a peer): ask it for its neighbours now, abandoning a
 * stabilize round in flight, and adopt it if it answers and lies between
 * us and our successor (as stabilize adopts a candidate). */
void chord__ring_offer(struct chord_node *n, uint64_t now,
                       const struct chord_peer *cand);

/* RECTIFY arrived. */
void chord__ring_rectify(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m);
/* The answer (of the expected type) or failure of RPC_STAB_SUCC,
 * RPC_STAB_CAND, RPC_PRED_PING, RPC_HEARTBEAT and RPC_LOOKUP_FINGER. */
void chord__ring_answer(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const struct chord_msg *m);
void chord__ring_failed(struct chord_node *n, uint64_t now, const struct rpc *r,
                        const char *why);
/* Drop a peer from routing: successor list and fingers (the predecessor
 * stays until rectify replaces it). */
void chord__ring_route_around(struct chord_node *n, uint64_t now,
                              const char *addr);
/* Periodic work: heartbeats and the detector's verdicts (active or
 * leaving), stabilize and fix_fingers (active). */
void chord__ring_tick(struct chord_node *n, uint64_t now);
uint64_t chord__ring_deadline(const struct chord_node *n);

#endif
