/*
 * transfer.h - streams of keys from this node to one peer, in batches
 * the receiver acknowledges once they are durable, and the receiving end.
 *
 * A transfer copies, at its start, the keys `want` selects; each batch
 * (up to CHORD_TRANSFER_BATCH_BYTES of items) is read from the store when
 * it is sent (keys removed meanwhile are skipped) and travels as one
 * TRANSFER request; the last carries CHORD_TRANSFER_LAST (an empty one if
 * need be). An unanswered batch is sent again up to
 * CHORD_TRANSFER_RETRIES times, unless the peer is dead (peer.h). After a
 * JOIN or ORPHAN batch is acknowledged, keys this node no longer
 * replicates are dropped: the receiver has them durably.
 *
 * How a transfer ends is told to the `done` function given at its start
 * (the module that started it), never by calling upwards.
 *
 * Pure: no I/O, no clock. Calls peer.c, commit.c and placement.c.
 */
#ifndef CHORD_CORE_TRANSFER_H
#define CHORD_CORE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store.h"
#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_TRANSFER_BATCH_BYTES (1u << 20) /* a TRANSFER frame's items */
#define CHORD_TRANSFER_RETRIES 3 /* resends of an unanswered batch */

/* Why a transfer runs (its log lines, and what an acknowledgement
 * allows). */
enum transfer_purpose {
    XFER_JOIN = 0, /* keys a joiner now owns (LAST ends its join) */
    XFER_HANDOFF,  /* everything, to the successor, when leaving */
    XFER_SYNC,     /* anti-entropy: a replica's differing buckets */
    XFER_ORPHAN,   /* keys we no longer replicate, to their owner */
};

/* Selects the store entries a transfer sends. */
typedef bool (*chord_want_fn)(struct chord_node *n,
                              const struct chord_store_entry *e,
                              const void *ctx);
/* A transfer ended: every batch acknowledged (ok), or given up. */
typedef void (*chord_transfer_done_fn)(struct chord_node *n, uint64_t now,
                                       bool ok);

/* An outgoing stream of keys to one peer, in batches. */
struct transfer {
    struct transfer *next;
    uint64_t id;
    struct chord_peer to;
    uint8_t flags;               /* CHORD_TRANSFER_* sent with every batch */
    uint8_t purpose;             /* enum transfer_purpose */
    chord_transfer_done_fn done; /* may be NULL */
    uint8_t **keys;              /* copies of the keys to send */
    size_t *key_lens;
    size_t n_keys, pos; /* keys[pos..] not yet acknowledged */
    size_t batch_end;   /* keys[pos..batch_end) in flight */
    unsigned retries;
    size_t sent_items;
};

struct chord_transfers {
    struct transfer *list;
    uint64_t next_id;
};

/* Free every transfer (no `done` is called). */
void chord__transfers_free(struct chord_transfers *x);

/* Stream the entries `want` selects (ctx is borrowed for the call only)
 * to `to`. Without memory nothing starts and `done` is not called. */
void chord__transfer_start(struct chord_node *n, uint64_t now,
                           const struct chord_peer *to, uint8_t flags,
                           uint8_t purpose, chord_want_fn want, const void *ctx,
                           chord_transfer_done_fn done);

/* The answer (m, a TRANSFER_ACK) or failure (m == NULL) of an
 * RPC_TRANSFER request. */
void chord__transfer_answer(struct chord_node *n, uint64_t now,
                            const struct rpc *r, const struct chord_msg *m);

/* A TRANSFER arrived: apply its items and acknowledge once durable.
 * 0, or a negative errno when an item could not be stored (then nothing
 * is acknowledged: the sender retries). */
int chord__transfer_receive(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m);

/* Selectors for chord__transfer_start(). */
struct chord_range {
    struct chord_id lo, hi; /* keys in (lo, hi] */
};
bool chord__want_range(struct chord_node *n, const struct chord_store_entry *e,
                       const void *ctx); /* ctx: struct chord_range */
bool chord__want_not_owned(struct chord_node *n,
                           const struct chord_store_entry *e, const void *ctx);
bool chord__want_all(struct chord_node *n, const struct chord_store_entry *e,
                     const void *ctx);

#endif
