/*
 * replica_batch.h - replicated writes on their way to the replicas, held
 * per replica and sent as one TRANSFER frame each.
 *
 * Under load the owner coordinates many writes in one turn of its host's
 * loop, and their copies all go to the same few successors. Instead of one
 * REPLICA TRANSFER per write and per replica (each acknowledged by its own
 * TRANSFER_ACK), the copies for one replica are held here and sent
 * together: one frame with several items, one request, one
 * acknowledgement. The replica applies (and logs) every item as before and
 * acknowledges once all of them are durable (transfer.c).
 *
 * Each held copy is a write's id (`wid`, the pwrite of replica.c). When
 * the batch's request is settled, every write in it is told on its own,
 * through `outcome`: acknowledged (the copy is durable there) or not (the
 * request timed out, the replica was unreachable, or the batch could not
 * be sent). So a write counts its acknowledgements, and fails, exactly as
 * with one frame per write.
 *
 * When held copies go out: at chord__rbatch_flush(), which the host calls
 * once per loop turn (chord_node_flush()), and at the latest at the next
 * chord_node_tick(): a held copy makes the node's next deadline the time
 * it was held, so a host that never flushes still sends it at once. A
 * batch is also sent as soon as it reaches CHORD_RBATCH_ITEMS_MAX items
 * or CHORD_TRANSFER_BATCH_BYTES bytes; a single item over that is sent
 * alone. A batch of one item is the very frame a write sent before
 * batching (flags REPLICA | LAST, one item): old nodes read it as before.
 *
 * Caps: CHORD_SUCC_MAX replicas held for at once (a further one sends
 * everything held first); CHORD_RBATCH_ITEMS_MAX items and
 * CHORD_TRANSFER_BATCH_BYTES bytes of items per frame.
 *
 * Pure: no I/O, no clock. Calls peer.c and the codec; its results go back
 * through `outcome` (set by replica.c), never by a call into replica.c.
 */
#ifndef CHORD_CORE_REPLICA_BATCH_H
#define CHORD_CORE_REPLICA_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/types.h"
#include "core/seq.h"
#include "core/wire.h"

struct chord_node;

/* Items one replica frame carries at most. */
#define CHORD_RBATCH_ITEMS_MAX 256u

/* What became of write `wid`'s copy at one replica: acknowledged, or not
 * (it will not be). */
typedef void (*chord_rbatch_outcome_fn)(struct chord_node *n, uint64_t now,
                                        uint64_t wid, bool acked);

/* Copies held for one replica. */
struct rbatch_held {
    struct chord_peer to;
    struct chord_buf items; /* encoded items (chord_item_encode), in order */
    uint32_t n_items;
    uint64_t *wids; /* the write of each item (n_items of them) */
    uint32_t cap;   /* wids allocated */
    uint64_t since; /* when the first of them was held */
};

/* A batch sent and not yet settled: the request's `arg` is its id. */
struct rbatch_flight {
    struct chord_seq_hdr h;
    uint32_t n;     /* writes in it */
    uint64_t wid;   /* the write, when n == 1 */
    uint64_t *wids; /* the writes, when n > 1 (owned) */
};

struct chord_rbatches {
    struct rbatch_held held[CHORD_SUCC_MAX];
    unsigned n_held;          /* replicas with copies held (at the front) */
    struct chord_seq flights; /* struct rbatch_flight */
    chord_rbatch_outcome_fn outcome;
};

void chord__rbatches_init(struct chord_rbatches *b,
                          chord_rbatch_outcome_fn outcome);
/* Free everything held and in flight (no outcome is delivered). */
void chord__rbatches_free(struct chord_rbatches *b);

/* Hold a copy of `it` (encoded here: nothing is borrowed after the call)
 * for replica `to` on behalf of write `wid`. 0, or -ENOMEM / -EMSGSIZE
 * (nothing held: the caller counts that copy as failed). May send a full
 * batch first. */
int chord__rbatch_add(struct chord_node *n, uint64_t now,
                      const struct chord_peer *to, const struct chord_item *it,
                      uint64_t wid);
/* Send everything held: how many frames were sent. */
unsigned chord__rbatch_flush(struct chord_node *n, uint64_t now);
/* The request of batch `id` was answered (acked) or failed: every write
 * in it gets its outcome. */
void chord__rbatch_settled(struct chord_node *n, uint64_t now, uint64_t id,
                           bool acked);
/* When something is held: the time it was held (due at once), else
 * UINT64_MAX. */
uint64_t chord__rbatch_deadline(const struct chord_node *n);

#endif
