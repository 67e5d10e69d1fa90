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
 * A request may reach more than one node: a put or del that timed out at
 * one node may still have happened there before the next node applies it
 * again. A put then simply writes the same value twice (the newest
 * version wins); a del repeated elsewhere may answer not found.
 *
 * Errors are as in chord/client.h: -ENOENT (get, del), -EIO (the ring
 * answered and the operation failed: chord_session_error() is the node's
 * text), -EMSGSIZE, -EINVAL, -ENOMEM. When no node served the call, the
 * error of the last attempt (-ETIMEDOUT when the budget ran out; -EAGAIN
 * when the last node said it does not serve now), and chord_session_error()
 * says "cannot reach the ring ... (tried A: why; B: why)".
 */
#ifndef CHORD_SESSION_H
#define CHORD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "chord/client.h"
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

#endif
