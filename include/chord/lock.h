/*
 * lock.h - a lock's state as the ring keeps it and as clients see it,
 * its binary encoding, and the token a holder proves itself with.
 *
 * A lock named NAME is one record of the store, under the reserved key
 * "\0chord:lock:NAME" (chord/id.h): it sits at the successor of
 * SHA-1("lock:NAME"), is replicated, logged, handed off and repaired like
 * any key, and its owner changes it one request at a time. The record is
 * this state, encoded:
 *
 *   u8  format        1
 *   u64 fence         the newest fencing number granted (0: never granted)
 *   u8  flags         bit 0 held, bit 1 releasing (the queue is being
 *                     applied; the holder's release is under way), bit 2
 *                     history (the fences of the last releases follow)
 *   [16 holder]       if held: the holder's client id
 *   u32 lease_ms      the holder's lease (every grant and renewal restarts
 *                     it)
 *   u64 released      the fence of the newest release that completed
 *   [u8 n, n x u64]   if history: the fences of the last releases that
 *                     completed (<= CHORD_LOCK_DONE_MAX, oldest first), so a
 *                     release repeated after later grants is still known
 *                     as a retry
 *   u32 lease_left_ms (status replies only: 0 in the stored record)
 *   u32 n_waiters     then n x (16 client id, u32 lease_ms asked for),
 *                     first come first
 *   u32 n_queue       then n x (16 client id, u64 seq, bytes key,
 *                     bytes value): the holder's appends, in order
 *
 * (integers big-endian; bytes = u32 length + bytes, keys at most
 * CHORD_KEY_MAX, values CHORD_VALUE_MAX.) The whole record must fit a
 * value (CHORD_VALUE_MAX): queued appends are capped by
 * CHORD_LOCK_QUEUE_BYTES and CHORD_LOCK_QUEUE_MAX, waiters by
 * CHORD_LOCK_WAITERS_MAX.
 *
 * Token: the holder's client id and the fence of its grant, written
 * "<32 hex digits>:<fence>". The fence only grows: each grant takes the
 * next number, so a write fenced with an older one can be refused.
 */
#ifndef CHORD_LOCK_H
#define CHORD_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/types.h"

#define CHORD_LOCK_FORMAT 1
#define CHORD_LOCK_LEASE_DEFAULT_MS 10000u
#define CHORD_LOCK_LEASE_MAX_MS 3600000u
#define CHORD_LOCK_WAITERS_MAX 1024u
#define CHORD_LOCK_QUEUE_MAX 4096u          /* queued appends */
#define CHORD_LOCK_QUEUE_BYTES (768u << 10) /* their keys and values */
#define CHORD_LOCK_POLL_MS 10 /* a queued waiter asks again this often */
#define CHORD_LOCK_WAITER_GRACE_MS                                             \
    1000                        /* ... and leaves the queue when it            \
                                   has not asked for this long */
#define CHORD_LOCK_DONE_MAX 16u /* completed releases a record remembers */
#define CHORD_LOCK_TOKEN_MAX (2u * CHORD_CLIENT_ID_BYTES + 1u + 20u + 1u)

/* Operations of a C_LOCK request. */
enum chord_lock_op {
    CHORD_LOCK_ACQUIRE = 1, /* take it, or queue (QUEUED) / poll the queue */
    CHORD_LOCK_RENEW = 2,   /* holder: restart the lease */
    CHORD_LOCK_APPEND = 3,  /* holder: queue an append (renews the lease) */
    CHORD_LOCK_RELEASE = 4, /* holder: apply the queue, pass the lock on */
    CHORD_LOCK_CANCEL = 5,  /* a waiter leaves the queue */
    CHORD_LOCK_STATUS = 6,  /* read the state */
};
#define CHORD_LOCK_OP_MAX CHORD_LOCK_STATUS

struct chord_lock_token {
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    uint64_t fence;
};

struct chord_lock_waiter {
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    uint32_t lease_ms;
};

/* One queued append; key and value borrow from the decoded buffer (or
 * from whoever built the state). */
struct chord_lock_queued {
    uint8_t client[CHORD_CLIENT_ID_BYTES]; /* the request id of the */
    uint64_t seq;                          /* lock append that queued it */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
};

struct chord_lock_state {
    uint64_t fence;
    bool held;
    bool releasing;
    uint8_t holder[CHORD_CLIENT_ID_BYTES];
    uint32_t lease_ms;
    uint64_t released;
    uint8_t n_done; /* the last completed releases' fences, oldest first */
    uint64_t done[CHORD_LOCK_DONE_MAX];
    uint32_t lease_left_ms;
    size_t n_waiters;
    struct chord_lock_waiter *waiters; /* malloc'd by decode */
    size_t n_queue;
    struct chord_lock_queued *queue; /* malloc'd by decode */
};

/* Append the encoding of *s to out: 0, -EMSGSIZE (over a cap: nothing
 * appended), -ENOMEM. */
int chord_lock_state_encode(const struct chord_lock_state *s,
                            struct chord_buf *out);
/* Decode exactly buf[0..len) into *s (arrays malloc'd, keys and values
 * borrowed from buf): 0, -EPROTO (malformed or over a cap: *s is left
 * empty), -ENOMEM. An empty buffer decodes as a lock never granted. */
int chord_lock_state_decode(const uint8_t *buf, size_t len,
                            struct chord_lock_state *s);
/* Free what decode allocated and empty *s. */
void chord_lock_state_clear(struct chord_lock_state *s);

/* Bytes the queue's keys and values take (to check CHORD_LOCK_QUEUE_BYTES). */
size_t chord_lock_queue_bytes(const struct chord_lock_state *s);

/* "<32 hex>:<fence>" into out: its length. */
int chord_lock_token_format(const struct chord_lock_token *t,
                            char out[CHORD_LOCK_TOKEN_MAX]);
/* Parse a token: 0 or -EINVAL (fence 0 is not a token). */
int chord_lock_token_parse(const char *s, struct chord_lock_token *t);

#endif
