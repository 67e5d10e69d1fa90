/*
 * routing.h - a node's view of the ring: its predecessor, its successor
 * list and its finger table, and the routing decisions made from them.
 *
 * Invariants:
 *  - succ[] holds at most `r` distinct peers, never `self`, in ring order
 *    starting after self. An empty list means "my successor is myself"
 *    (a one-node ring); chord_routing_successor() then returns self.
 *  - finger i, when set, is a node believed to be the successor of
 *    start(i) = self + 2^i. Fingers only speed lookups up; correctness
 *    rests on the successor list (Zave).
 *  - The predecessor is never reset to "none" once known (Zave's rectify);
 *    it is only replaced.
 *
 * Memory: on a ring of N nodes the 160 fingers name about log2(N)
 * distinct nodes in long runs, so the table keeps each distinct finger
 * node once (fpeer[], grown as needed, without unreferenced entries) and
 * a one-byte index per finger; starts are computed (chord_routing_
 * finger_start). The successor and predecessor lists are allocated to
 * their capacities (r, preds_cap) by chord_routing_init(). Read fingers
 * through chord_routing_finger() and write them through the functions
 * below. finger_run[0..n_finger_runs) indexes the fingers that
 * closest_preceding looks at, from the top down: every set finger whose
 * node (id and address) differs from the nearest set finger above it.
 *
 * The table does no I/O and knows nothing about liveness except through
 * the `usable` filter that callers pass to the routing decisions. A
 * finger whose node cannot be stored (out of memory) stays unset: fingers
 * only speed lookups up.
 */
#ifndef CHORD_ROUTING_H
#define CHORD_ROUTING_H

#include <stdbool.h>

#include "chord/types.h"

struct chord_routing {
    struct chord_peer self;
    unsigned r; /* successor list capacity, 1..CHORD_SUCC_MAX */
    bool has_pred;
    struct chord_peer pred;
    /* Predecessors, nearest first: the predecessor and the ones its
     * RECTIFY reports (kept by ring.c; placement.c judges replica sets by
     * them), at most preds_cap. Not touched by the functions below. */
    unsigned n_preds, preds_cap;
    struct chord_peer *preds; /* preds_cap entries */
    unsigned n_succ;
    struct chord_peer *succ; /* r entries (one allocation with preds) */
    /* Fingers: finger i is fpeer[finger_slot[i] - 1], unset when 0. */
    uint8_t finger_slot[CHORD_ID_BITS];
    uint8_t n_fpeers, cap_fpeers;
    struct chord_peer *fpeer; /* the distinct finger nodes */
    /* Routing looks at one finger per run of equal fingers. */
    uint8_t n_finger_runs;
    uint8_t finger_run[CHORD_ID_BITS]; /* finger indexes, decreasing */
};

/* Optional filter: return false for a peer routing must skip (suspected). */
typedef bool (*chord_peer_filter)(void *ctx, const struct chord_peer *p);

/* Empty table for `self` with successor list capacity r and predecessor
 * list capacity preds_cap (each clamped to 1..SUCC_MAX). Returns 0, or
 * -ENOMEM (then nothing is to be freed). */
int chord_routing_init(struct chord_routing *rt, const struct chord_peer *self,
                       unsigned r, unsigned preds_cap);
/* Release what init and the finger functions allocated. */
void chord_routing_free(struct chord_routing *rt);

/* succ[0], or self when the list is empty. */
const struct chord_peer *
chord_routing_successor(const struct chord_routing *rt);

/*
 * Replace the successor list with `head` followed by tail[0..n_tail):
 * entries equal to self end the list (the ring closed), duplicates are
 * skipped, the result is capped at r. head may be NULL (then the tail
 * alone). Used by stabilize and join: [s] + s's own list.
 */
void chord_routing_set_successors(struct chord_routing *rt,
                                  const struct chord_peer *head,
                                  const struct chord_peer *tail,
                                  unsigned n_tail);

/*
 * Forget a peer (by id) everywhere routing would use it: the successor
 * list (order kept) and the fingers. The predecessor is kept (rectify
 * replaces it). Returns true if anything changed.
 */
bool chord_routing_remove(struct chord_routing *rt, const struct chord_id *id);

/*
 * The usable peer known to this table (successors and fingers) that most
 * closely precedes `target`, i.e. lies in (self, target) and is farthest
 * from self. Returns NULL when none does (then the target falls between
 * self and its successor). `usable` may be NULL.
 */
const struct chord_peer *
chord_routing_closest_preceding(const struct chord_routing *rt,
                                const struct chord_id *target,
                                chord_peer_filter usable, void *ctx);

/*
 * Record that `node` is the successor of start(i). Since every later
 * finger whose start lies in [start(i), node] has the same successor,
 * those are set too. Returns the index of the first finger after i that
 * this did not settle (CHORD_ID_BITS when none): the next to look up.
 */
unsigned chord_routing_set_finger(struct chord_routing *rt, unsigned i,
                                  const struct chord_peer *node);

/* Finger i's node, or NULL when it is unset. The pointer is valid until
 * the next change of the fingers. */
const struct chord_peer *chord_routing_finger(const struct chord_routing *rt,
                                              unsigned i);

/* start(i) = self + 2^i. */
void chord_routing_finger_start(const struct chord_routing *rt, unsigned i,
                                struct chord_id *out);

/* Set finger i alone to `node` (NULL: unset it), without touching the
 * others (chord_routing_set_finger is the protocol's way). */
void chord_routing_put_finger(struct chord_routing *rt, unsigned i,
                              const struct chord_peer *node);

/* Is p (same id and address) in the successor list? */
bool chord_routing_has_successor(const struct chord_routing *rt,
                                 const struct chord_peer *p);

/* Does this node own `key`, i.e. is key in (pred, self]? Alone (empty
 * successor list, no predecessor) it owns every key; with successors but
 * no predecessor known, it owns key iff key is not in (self, successor]. */
bool chord_routing_owns(const struct chord_routing *rt,
                        const struct chord_id *key);

#endif
