/*
 * locks.h - the locks a node owns: acquire with a first-come-first-served
 * queue of waiters, leases, appends queued by the holder and applied when
 * it releases, fencing numbers.
 *
 * A lock is a record of the store (chord/lock.h): key "\0chord:lock:NAME",
 * at the successor of SHA-1("lock:NAME"). Its owner reads the record,
 * applies one operation, and when the operation changed it writes the new
 * record like any write (logged, replicated to the write quorum) before
 * it answers. So the holder, the fence, the queue of appends and the
 * waiters survive the owner's crash: the replica that takes over reads
 * the same record.
 *
 * Soft state, kept by the owner only: the lease's deadline and when each
 * waiter last asked. A new owner (or this one after a restart) starts them
 * afresh: the holder's lease restarts whole (it is never cut short by a
 * failover) and every waiter gets a full CHORD_LOCK_WAITER_GRACE_MS. Both
 * are checked when a request touches the lock: an expired lease drops the
 * holder and its queue (without effect); a waiter that has not asked
 * within the grace leaves the queue. Only the head of the queue can be
 * granted a free lock, each grant taking the next fence.
 *
 * Release. The holder's release first writes the record with `releasing`
 * set: that write is the intent, logged and replicated before anything is
 * applied. Then the owner applies the queued appends in order, each as an
 * append coordinated by the node with a request id of its own (derived
 * from the lock's name and fence, seq = position + 1), so an append that
 * a crash interrupted is not applied twice when the new owner starts the
 * queue again from the top. Finally it writes the record free (released
 * = the fence) and answers. A record found `releasing` by any request is
 * driven to its end by whichever node owns it then.
 *
 * Pure: no I/O, no clock. Runs the appends through `run_op` (the
 * coordinator's, not called by name), calls replica.c (the record's writes),
 * placement.c and the store.
 */
#ifndef CHORD_CORE_LOCKS_H
#define CHORD_CORE_LOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chord/id.h"
#include "core/coord.h"
#include "core/seq.h"
#include "core/wire.h"

struct chord_node;
struct chord_reply_to;

#define CHORD_LOCKS_SOFT_MAX 1024 /* locks whose soft state a node keeps */
#define CHORD_LOCK_KEY_MAX                                                     \
    (CHORD_RESERVED_PREFIX_LEN + 5u + CHORD_LOCK_NAME_MAX) /* + "lock:" */

struct lock_soft;

/* How the node runs an operation of its own (coord.c's
 * chord__coord_internal, set by node.c: locks.c does not call the
 * coordinator, which calls it). */
typedef int (*chord_run_op_fn)(struct chord_node *n, uint64_t now,
                               const struct chord_msg *m, chord_op_done_fn done,
                               uint64_t arg);

struct chord_locks {
    chord_run_op_fn run_op;
    struct lock_soft *soft;    /* CHORD_LOCKS_SOFT_MAX, made on first use */
    uint64_t soft_clock;       /* use counter: the least recent goes first */
    struct chord_seq writes;   /* struct lock_write: records being written */
    struct chord_seq releases; /* struct lock_release: queues being applied */
};

void chord__locks_init(struct chord_locks *l);
void chord__locks_free(struct chord_locks *l);

/* The ring position of lock `name`: SHA-1("lock:" name). */
static inline void chord__lock_position(struct chord_id *out,
                                        const uint8_t *name, size_t len)
{
    uint8_t buf[5 + CHORD_LOCK_NAME_MAX];
    size_t n = len > CHORD_LOCK_NAME_MAX ? CHORD_LOCK_NAME_MAX : len;
    memcpy(buf, "lock:", 5);
    memcpy(buf + 5, name, n);
    chord_id_hash(out, buf, 5 + n);
}

/* A lock operation (STORE_LOCK, or the same built locally) for a lock this
 * node owns now; the outcome (status, and the record as a value) goes to
 * to->done. */
void chord__locks_handle(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m,
                         const struct chord_reply_to *to);

#endif
