/*
 * read_lease.h - the owner's read lease: when may a key's owner answer a
 * quorum read from its own copy, without asking its replicas?
 *
 * Every write is coordinated by the key's owner, which applies it before
 * acknowledging, so an owner has every write acknowledged since it took
 * its range over. It lacks at most writes acknowledged before that, by
 * the previous owner, whose copies are on its replicas: once each of our
 * replicas has answered a SYNC of the range sent after the takeover with
 * equal digests, we hold everything they hold, and keep doing so.
 *
 * The lease ends the moment the range changes (the predecessor changed,
 * or is suspected), and it needs a recent proof that no one else has
 * taken the range over: only our successor would (it extends its range
 * over a predecessor it suspects), and its failure detector suspects no
 * peer earlier than floor_ms after it last heard from it. So an answer
 * from the successor to a request we sent at time t means it cannot take
 * our range before t + floor_ms; we stop a margin before that (an eighth
 * of the floor plus the successor's round trip, for clock rates and
 * transit). A node that stalled (a pause, a frozen process) loses its
 * lease too: its successor may have suspected it meanwhile and
 * coordinated writes in its range; every entry point notices a silence
 * longer than a heartbeat period plus CHORD_LEASE_TICK_SLACK_MS (an
 * active node ticks every heartbeat) and calls chord__lease_drop(). So
 * the heartbeat period must be shorter than the floor, and every node
 * must run the same floor. Outside the lease a read asks replicas; while
 * the lease waits, sync.c asks every replica it waits on for a sync at
 * once (chord__lease_due()) instead of one per period.
 *
 * (Named "read lease", not "lock": locks are a client feature.)
 *
 * Pure: no I/O, no clock. Calls peer.c and placement.c only.
 */
#ifndef CHORD_CORE_READ_LEASE_H
#define CHORD_CORE_READ_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/types.h"

struct chord_node;
struct rpc;

#define CHORD_LEASE_TICK_SLACK_MS                                              \
    25 /* silent longer than the heartbeat                                     \
          period plus this: we stalled */

struct chord_read_lease {
    /* The range (lo, self] was taken over at `since`; synced[i] says
     * replica targets[i] answered a SYNC sent since with equal digests. */
    bool range;
    struct chord_id lo;
    uint64_t since;
    unsigned nt;
    struct chord_peer *targets; /* cfg.replicas slots, allocated when the
                                   lease first starts (NULL before) */
    bool synced[CHORD_SUCC_MAX];
    uint64_t sync_at; /* next SYNC to the replicas the lease waits on */
    unsigned tries;   /* such rounds since the lease started over */
    /* The newest request our successor answered, and when it was sent:
     * the successor heard from us after that. */
    char succ_proof_addr[CHORD_ADDR_MAX];
    uint64_t succ_proof_sent;
};

/* Release the lease's memory. */
void chord__lease_free(struct chord_read_lease *l);
/* The range changed, or this node stalled: the lease starts over. */
void chord__lease_drop(struct chord_node *n);
/* May the owner answer a quorum read alone now? */
bool chord__lease_holds(struct chord_node *n, uint64_t now);
/* A SYNC of ours (request r) was answered with `mask` (the buckets that
 * differ). */
void chord__lease_synced(struct chord_node *n, uint64_t now,
                         const struct rpc *r, uint64_t mask);
/* `addr` answered a request of ours sent at `sent_at`. */
void chord__lease_answered(struct chord_node *n, const char *addr,
                           uint64_t sent_at);
/* The replicas the lease waits on that should be asked for a SYNC now,
 * into out (CHORD_SUCC_MAX slots); schedules the next round (backing off
 * while writes keep the digests apart). */
unsigned chord__lease_due(struct chord_node *n, uint64_t now,
                          struct chord_peer *out);

#endif
