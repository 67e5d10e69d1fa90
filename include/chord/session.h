/*
 * session.h - a blocking client of the ring through a list of seeds, with
 * one time budget per call and failover: what the `dht` CLI uses.
 *
 * A call (put, get, del, lookup, status) is served by the node the session
 * is connected to, else by the first seed. It moves on when that node
 * cannot be reached (refused, unreachable), does not answer within its
 * share of the budget (a frozen or partitioned node), closes the
 * connection or answers garbage, or answers that it does not serve now:
 * a joining or leaving node names a node that does (a redirect, followed
 * at once, at most 4 per call, never back to a node already tried in the
 * call); without a name, the call goes on to the next seed not tried yet.
 *
 * Budget: budget_ms is the whole time of a call, connecting, waiting and
 * moving on included. Each attempt gets the time left divided by the
 * candidates not tried yet (itself included), at least 200 ms, never more
 * than what is left. With two seeds and 1500 ms, a frozen first seed
 * costs 750 ms and the second gets the remaining 750 ms.
 *
 * Request ids. Every put, del, append and lock operation carries the
 * session's client id (16 random bytes, drawn when the session opens) and
 * a sequence number that grows by one per call. A call that moves on to
 * another node sends the same id, so a request that timed out at one node
 * after it was applied there is not applied again: the key's owner (or
 * the replica that took over from it) answers with the first outcome.
 * How long the ring remembers an id is bounded (core/dedup.h: the last
 * CHORD_DEDUP_WINDOW requests of a client, for CHORD_DEDUP_TTL_MS).
 *
 * Precondition failures (status CHORD_PRECONDITION: a fenced write older
 * than the key's fence, a lock operation by someone who does not hold the
 * lock) are -EPERM, with the node's text in chord_session_error().
 *
 * Errors are as in chord/client.h: -ENOENT (get, del), -ENOTUNIQ (a get
 * of a key with several concurrent values: see chord_session_read),
 * -EIO (the ring
 * answered and the operation failed: chord_session_error() is the node's
 * text), -EMSGSIZE, -EINVAL, -ENOMEM. When no node served the call, the
 * error of the last attempt (-ETIMEDOUT when the budget ran out; -EAGAIN
 * when the last node said it does not serve now), and chord_session_error()
 * says "cannot reach the ring ... (tried A: why; B: why)".
 */
#ifndef CHORD_SESSION_H
#define CHORD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/client.h"
#include "chord/lock.h"
#include "chord/types.h"

struct chord_session;

/* A session over seeds[0..n_seeds) ("host:port" each, checked here; at
 * most 32; the strings are copied) whose calls take at most budget_ms
 * each (> 0). Connects lazily, on the first call. 0, -EINVAL, -ENOMEM. */
int chord_session_open(const char *const *seeds, size_t n_seeds, int budget_ms,
                       struct chord_session **out);
void chord_session_close(struct chord_session *s);

/* How many replicas later put/get/del wait for (enum chord_consistency).
 * 0 or -EINVAL. */
int chord_session_set_consistency(struct chord_session *s, int level);

/* The node that served the last call ("" if none did); owned by s. */
const char *chord_session_node(const struct chord_session *s);
/* One line on the last failed call (see the banner); owned by s. */
const char *chord_session_error(const struct chord_session *s);

/* As chord_client_put/get/del/lookup/status (chord/client.h), through the
 * ring with failover. */
int chord_session_put(struct chord_session *s, const void *key, size_t key_len,
                      const void *value, size_t value_len);
int chord_session_get(struct chord_session *s, const void *key, size_t key_len,
                      uint8_t **value, size_t *value_len);
int chord_session_del(struct chord_session *s, const void *key, size_t key_len);
int chord_session_lookup(struct chord_session *s, const void *key,
                         size_t key_len, struct chord_lookup_result *out);
int chord_session_status(struct chord_session *s, struct chord_status *out);
/* As chord_client_restore (chord/client.h): a restore is idempotent, so
 * running it again on the next node is harmless. */
int chord_session_restore(struct chord_session *s,
                          const struct chord_record *rec);

/*
 * Concurrent values (version vectors, issue 14). A key may hold several
 * values at once (siblings): writes that did not see each other, none of
 * which supersedes the other. A read returns them all with a context (an
 * opaque version vector: what the read saw); a write that carries that
 * context supersedes exactly the values it saw, so reading, merging and
 * writing back with the context resolves siblings.
 *
 * The calls below send a causal trailer (core/wire.h) and ask for the
 * key's state in the reply. Their errors are those of chord_session_get
 * and chord_session_put, and:
 *   -ECANCELED  a write's precondition (if_context, if_absent) was false:
 *               nothing was written; chord_session_error() is the node's
 *               line. (With a precondition, a fence refusal is also
 *               -ECANCELED; the line says which.)
 *   -ETIME      the session token (chord_session_use_token) asks for
 *               writes the node could not catch up with within the
 *               budget; chord_session_error() says "session: ...".
 *   -EPROTO     the reply's state does not decode.
 * A retry on another node (chord/session.h) sends the same request: the
 * same request id, context, precondition and TTL.
 */

/* One live value of a key (not a delete, not expired). data is owned by
 * the session, valid until the next call on it. deadline_ms: wall-clock
 * milliseconds since the epoch the value lives until (its TTL), 0 when
 * it has none. */
struct chord_value {
    const uint8_t *data;
    size_t len;
    uint64_t deadline_ms;
};

#define CHORD_READ_VALUES 16u /* siblings a key holds at most */

/* What a read saw: the live values (siblings) in the state's order, and
 * the context to give a later write (context_len bytes, owned by the
 * session, valid until the next call on it). */
struct chord_read {
    unsigned n_values;
    struct chord_value values[CHORD_READ_VALUES];
    const uint8_t *context;
    size_t context_len;
};

/*
 * Read every live value of a key and its context: 0 with n_values >= 1,
 * -ENOENT when it has none (never written, deleted or expired: the
 * context is still filled, and a write with it supersedes the deletes it
 * saw), or the errors above and chord_session_get's.
 */
int chord_session_read(struct chord_session *s, const void *key, size_t key_len,
                       struct chord_read *out);

/* Options of a put or del (chord_session_put_opts, _del_opts). */
struct chord_write_opts {
    /* A context from chord_session_read (may be another process's: it is
     * plain bytes). With context alone, the write supersedes the values
     * the context saw and keeps the others as siblings. NULL: the write
     * supersedes every value the key's owner holds (as a plain put). */
    const uint8_t *context;
    size_t context_len;
    /* Compare-and-set: write only if the key has seen nothing since
     * `context` (which must be given), else -ECANCELED. */
    bool if_context;
    /* Write only if the key has no live value, else -ECANCELED (not with
     * if_context). */
    bool if_absent;
    /* put: the value lives ttl_s seconds (0: for ever); then it reads
     * as deleted everywhere. */
    uint32_t ttl_s;
};

/*
 * As chord_session_put and chord_session_del, with options (NULL: as the
 * plain calls). -EINVAL for options that exclude each other (if_context
 * without a context or with if_absent; a context over
 * CHORD_DVV_CONTEXT_MAX; a del with ttl_s), -ECANCELED for a false
 * precondition. A del with a context deletes the values it saw (the
 * others stay).
 */
int chord_session_put_opts(struct chord_session *s, const void *key,
                           size_t key_len, const void *value, size_t value_len,
                           const struct chord_write_opts *opts);
int chord_session_del_opts(struct chord_session *s, const void *key,
                           size_t key_len, const struct chord_write_opts *opts);

/*
 * Keep a session token in the file at `path` (copied): session
 * guarantees (read your writes, monotonic reads, writes follow reads)
 * across calls and processes that share the file. The token holds, per
 * key, the merge of the contexts of every reply the session had for it;
 * every later get, read, put and del of a key the token holds asks the
 * node to answer with a state that covers it (a node that cannot within
 * the budget fails the call: -ETIME). After every successful call on a
 * key the token is saved (a temporary file in the same directory, then
 * renamed over it; an error saving it is the call's error, with its line
 * in chord_session_error()). The guarantees cover the 4096 keys most
 * recently used through the token; older ones are forgotten.
 *
 * Loads the file now: a missing file is an empty token; 0, -EINVAL (the
 * file is corrupt: chord_session_error() is one line naming it), the
 * error of reading it, -ENOMEM. Two processes writing one token at the
 * same time each save their own view (the last rename wins): a token is
 * meant for one client at a time.
 *
 * With a token, chord_session_get reads the key's state (as
 * chord_session_read) and answers its one live value; a key with
 * several gives -ENOTUNIQ, as without a token.
 */
int chord_session_use_token(struct chord_session *s, const char *path);

/* The session's client id (CHORD_CLIENT_ID_BYTES bytes, owned by s). */
const uint8_t *chord_session_client_id(const struct chord_session *s);

/* Append value to the key's value (creating the key), atomically at the
 * key's owner, applied once however often the call is retried. */
int chord_session_append(struct chord_session *s, const void *key,
                         size_t key_len, const void *value, size_t value_len);

/* Fence the session's later put, del and append with lock `name`'s
 * fencing number `fence` (a token's fence): the key's owner refuses the
 * write (-EPERM) when the key has seen a newer fence of that lock. NULL
 * stops fencing. 0, -EINVAL (empty name or over CHORD_LOCK_NAME_MAX, or
 * fence 0). */
int chord_session_set_fence(struct chord_session *s, const char *name,
                            uint64_t fence);

/*
 * Locks (chord/lock.h). Each call is a request to the lock's owner through
 * the ring, retried with its request id like a put.
 *
 * Acquire: ask for lock `name` with a lease of lease_ms (0: the default,
 * CHORD_LOCK_LEASE_DEFAULT_MS); while it is queued behind the holder it
 * asks again every few milliseconds (CHORD_LOCK_POLL_MS, which keeps its
 * place: a waiter that stops asking for CHORD_LOCK_WAITER_GRACE_MS leaves
 * the queue), until granted or wait_ms has passed (0: one try); then it
 * leaves the queue (CANCEL) and returns -ETIME. 0 with *token filled: the
 * session's client id and the grant's fence.
 */
int chord_lock_acquire(struct chord_session *s, const char *name,
                       uint32_t lease_ms, int wait_ms,
                       struct chord_lock_token *token);
/* Restart the holder's lease: 0, -EPERM (token is not the holder's). */
int chord_lock_renew(struct chord_session *s, const char *name,
                     const struct chord_lock_token *token);
/* Queue an append of value to key, applied when the holder releases the
 * lock (and renew the lease): 0, -EPERM (not the holder), -EMSGSIZE (the
 * queue is full: CHORD_LOCK_QUEUE_MAX / CHORD_LOCK_QUEUE_BYTES). */
int chord_lock_append(struct chord_session *s, const char *name,
                      const struct chord_lock_token *token, const void *key,
                      size_t key_len, const void *value, size_t value_len);
/* Apply the queued appends in order, all of them exactly once, then pass
 * the lock to the next waiter: 0 when applied (also when a retry finds
 * the release already done), -EPERM (not the holder: the lease expired
 * and the queue was discarded). */
int chord_lock_release(struct chord_session *s, const char *name,
                       const struct chord_lock_token *token);
/* The lock's state now (lease_left_ms set): *raw is malloc'd (free it
 * after chord_lock_state_clear(out)); out borrows from it. A lock never
 * acquired is all zero. */
int chord_lock_status(struct chord_session *s, const char *name, uint8_t **raw,
                      size_t *raw_len, struct chord_lock_state *out);

#endif
