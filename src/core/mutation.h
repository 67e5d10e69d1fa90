/*
 * mutation.h - a write at its key's owner: put, delete, append and
 * restore, with request ids (a retry applies nothing again) and fences
 * (a write fenced with an older number than the key has seen is refused).
 *
 * In order: a request id the node knows was applied (core/dedup.h) is
 * answered OK at once; a fence older than the key's newest fence of the
 * same lock is refused (CHORD_PRECONDITION); an append reads the value
 * the owner holds and writes it with the bytes added (atomic: the owner
 * changes its keys one request at a time); then the change goes to
 * replica.c as one item carrying its request id and the key's fence, so
 * the replicas and the log learn both with the change itself.
 *
 * Pure: no I/O, no clock. Calls dedup.c and replica.c.
 */
#ifndef CHORD_CORE_MUTATION_H
#define CHORD_CORE_MUTATION_H

#include <stdint.h>

#include "core/wire.h"

struct chord_node;
struct chord_reply_to;

/* m is STORE_PUT, STORE_DEL, STORE_APPEND or STORE_RESTORE (or the same
 * built locally) for a key this node owns now; the outcome goes to
 * to->done. */
void chord__mutation_execute(struct chord_node *n, uint64_t now,
                             const struct chord_msg *m,
                             const struct chord_reply_to *to);

/* The 64-bit name a fence carries in items (a hash of the lock's name). */
uint64_t chord__fence_name(const uint8_t *name, size_t len);

#endif
