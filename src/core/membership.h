/*
 * membership.h - a node joining and leaving the ring, with its keys.
 *
 *  - join: the joiner looks up the successor of its id + 1 through the
 *    seed, sends JOIN to that successor s; s makes the joiner its
 *    predecessor (so it stops accepting writes for the joiner's range)
 *    and TRANSFERs every key it no longer owns; the joiner serves only
 *    after the LAST batch. Up to CHORD_JOIN_ATTEMPTS attempts, spaced by
 *    CHORD_JOIN_RETRY_MS (jittered); then the node is FAILED.
 *  - rejoin (a restart): the same, through each of the peers known before
 *    in turn; when none answers the node starts a ring alone and merge.c
 *    keeps looking for them, so a ring restarted in any order comes back
 *    as one.
 *    chord_node_known_peers() (defined here) lists whom to try.
 *  - leave: the leaver refuses writes, TRANSFERs all keys to its
 *    successor (HANDOFF; to the next one if it fails), then sends LEAVE
 *    to successor and predecessor with its own neighbours so they can
 *    close the gap.
 *
 * Pure: no I/O, no clock. Calls ring.c (which never calls back), merge.c,
 * peer.c, placement.c, lookup.c and transfer.c.
 */
#ifndef CHORD_CORE_MEMBERSHIP_H
#define CHORD_CORE_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_JOIN_ATTEMPTS 8   /* lookups/JOINs tried before FAILED */
#define CHORD_JOIN_RETRY_MS 250 /* pause between join attempts (+ jitter) */
#define CHORD_REJOIN_SEEDS 16   /* peers a restarted node tries to rejoin */
#define CHORD_REJOIN_MS 3000    /* a rejoin none answered goes alone after */

struct chord_membership {
    uint64_t join_retry_at; /* absolute ms; UINT64_MAX = off */
    uint64_t join_deadline;
    uint64_t leave_deadline;
    char (*seeds)[CHORD_ADDR_MAX]; /* tried in turn: n_seeds, allocated
                                      by join and rejoin (NULL before) */
    unsigned n_seeds;
    bool rejoin;           /* none answers: start alone (and look for them) */
    uint64_t rejoin_until; /* ... or none answered by then (absolute ms) */
    unsigned join_attempts;
    unsigned join_redirects;
    struct chord_peer join_succ;
    bool join_acked;
    unsigned leave_acks_pending;
};

void chord__member_init(struct chord_membership *m);
void chord__member_free(struct chord_membership *m);
/* Start joining through seed_addr (checked by the caller). 0 or -ENOMEM
 * (then nothing started). */
int chord__member_join(struct chord_node *n, uint64_t now,
                       const char *seed_addr);
/* Start rejoining through addrs[0..k) (checked by the caller; at most
 * CHORD_REJOIN_SEEDS are used). 0 or -ENOMEM (then nothing started). */
int chord__member_rejoin(struct chord_node *n, uint64_t now,
                         const char *const *addrs, size_t k);
/* Start leaving (an active node with a successor) or leave at once. */
void chord__member_leave(struct chord_node *n, uint64_t now);

/* Where a client should go while this node is not serving: the successor
 * a JOIN_ACK named, else the seed being tried (joining), or the
 * successor (leaving). False when there is no one to send it to. */
bool chord__member_redirect(const struct chord_node *n, struct chord_peer *to);

/* JOIN, LEAVE arrived. */
void chord__member_handle_join(struct chord_node *n, uint64_t now,
                               const struct chord_msg *m);
void chord__member_handle_leave(struct chord_node *n, uint64_t now,
                                const struct chord_msg *m);
/* A TRANSFER was stored: the keys a joiner waits for may be complete. */
void chord__member_transfer_received(struct chord_node *n, uint64_t now,
                                     const struct chord_msg *m);
/* The answer (of the expected type) or failure of RPC_JOIN, RPC_LEAVE and
 * RPC_JOIN_LOOKUP. */
void chord__member_answer(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const struct chord_msg *m);
void chord__member_failed(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const char *why);
/* Join retries and the leave deadline. */
void chord__member_tick(struct chord_node *n, uint64_t now);
uint64_t chord__member_deadline(const struct chord_node *n);

#endif
