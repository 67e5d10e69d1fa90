/*
 * commit.h - how a change reaches the store: logged first (when the node
 * is durable), then applied; and acknowledgements held until the log is
 * durable up to the change they acknowledge.
 *
 * Every change to the store (a write this node coordinates, a replica's
 * copy, a transfer, a read repair) goes through chord__apply(), which
 * also advances the node's Lamport clock past the change's version. The
 * host reports durability with chord_node_persisted(); frames queued by
 * chord__send_durable() go out then, in order. Queued bytes are capped
 * (CHORD_DEFERRED_MAX): past it an acknowledgement is dropped (the sender
 * retries) rather than memory growing without bound.
 *
 * Pure: no I/O, no clock. Calls only peer.c and the store.
 */
#ifndef CHORD_CORE_COMMIT_H
#define CHORD_CORE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "core/wire.h"

struct chord_node;

#define CHORD_DEFERRED_MAX (64u << 20) /* bytes of acks waiting for the log */

/* An acknowledgement held until the log is durable up to `seq`. */
struct deferred {
    struct deferred *next;
    uint64_t seq;
    char addr[CHORD_ADDR_MAX];
    size_t len;
    uint8_t data[]; /* the encoded frame */
};

struct chord_commit {
    uint64_t lamport;     /* the newest version counter seen or given */
    uint64_t durable_seq; /* the host's log is durable up to here */
    struct deferred *deferred, *deferred_tail;
    size_t deferred_bytes;
    struct chord_buf rec; /* scratch for log records */
};

void chord__commit_init(struct chord_commit *c);
/* Free the queued acknowledgements and the scratch. */
void chord__commit_free(struct chord_commit *c);

/* Merge an item into the store and, when that changed the store, log it
 * (when the node is durable). *seq is the record to wait for (0: nothing
 * to wait for). 0, -EIO (the host could not log it: the change stays in
 * memory, unacknowledged), -ENOSPC / -EPROTO (the store's), -ENOMEM. */
int chord__apply(struct chord_node *n, const struct chord_item *it,
                 uint64_t *seq);
/* A key whose merged state has no value left (a tombstone) gets the
 * node's time as its stamp, from which tombstone collection counts. */
void chord__stamp_tombstone(struct chord_node *n, const uint8_t *key,
                            size_t key_len);
/* Send m to addr once the log is durable up to seq (at once if it is). */
void chord__send_durable(struct chord_node *n, uint64_t seq, const char *addr,
                         const struct chord_msg *m);
/* The log is durable up to seq: send what waited for it. False when seq
 * is not newer than what was known (nothing changed). */
bool chord__commit_persisted(struct chord_node *n, uint64_t seq);

#endif
