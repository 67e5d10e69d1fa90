/*
 * mutation.h - a write at its key's owner: put, delete, append and
 * restore, with request ids (a retry applies nothing again) and fences
 * (a write fenced with an older number than the key has seen is refused).
 *
 * In order: a request id the node knows was applied (core/dedup.h) is
 * answered OK at once; a fence older than the key's newest fence of the
 * same lock is refused (CHORD_PRECONDITION); an append reads the value
 * the owner holds and writes it with the bytes added (atomic: the owner
 * changes its keys one request at a time; a key with siblings is refused,
 * CHORD_SIBLINGS); a session context the owner's state does not cover
 * makes it catch up from its replicas and answer TRY_AGAIN; a failed
 * compare-and-set (--if-absent: the key has a live value; --if-context:
 * the key's vector is not covered by the context) is refused
 * (CHORD_PRECONDITION); then the change goes to replica.c with its
 * context (core/dvv.h), request id, TTL deadline and the key's fence, so
 * the replicas and the log learn them with the change itself.
 *
 * Pure: no I/O, no clock. Calls dedup.c, keystate.c, dvv.c and
 * replica.c.
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

/* A store outcome that goes nowhere (a catch-up read started for a
 * session). */
void chord__mutation_ignore(struct chord_node *n, uint64_t now,
                            const struct chord_reply_to *to, uint8_t status,
                            const char *error, const struct chord_peer *hint,
                            const uint8_t *value, size_t value_len,
                            const struct chord_bytes *state);

/* The 64-bit name a fence carries in items (a hash of the lock's name). */
uint64_t chord__fence_name(const uint8_t *name, size_t len);

#endif
