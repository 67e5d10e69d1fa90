/*
 * session_request.h - a request built by the caller, run through the
 * ring by a session (session.c) with the session's next request id: how
 * lock.c sends the lock operations. Internal to src/client.
 */
#ifndef CHORD_CLIENT_SESSION_REQUEST_H
#define CHORD_CLIENT_SESSION_REQUEST_H

#include <stdbool.h>

#include "chord/session.h"
#include "client/request.h"
#include "core/wire.h"

/*
 * Give *req (a mutating client request answered by C_RESULT) the
 * session's client id and its next sequence number, then run it as the
 * session runs every call (chord/session.h: failover within the budget),
 * every attempt sending the same request. 0 with *res filled (free
 * res->value), or the session's errors (-EPERM: a precondition was
 * false, the node's text in chord_session_error()).
 */
int chord__session_request(struct chord_session *s, struct chord_msg *req,
                           struct chord_client_result *res);

/*
 * A put, del or append the caller built (key, value, causal trailer):
 * the session's fence added, then run as chord__session_request. With a
 * session token (chord_session_use_token), a keyed get, put or del also
 * asks for the key's state (CHORD_CAUSAL_WANT) and carries the token's
 * context for the key (CHORD_CAUSAL_SESSION); the reply's state is
 * merged into the token, which is saved (see chord/session.h).
 */
int chord__session_write(struct chord_session *s, struct chord_msg *req,
                         struct chord_client_result *res);
/*
 * A put, del or append (type C_PUT, C_DEL, C_APPEND) of key and value
 * (none for a del), checked against the caps (-EMSGSIZE, -EINVAL), then
 * given to dress(req, arg) when dress is not NULL (to add a causal
 * trailer) and run with chord__session_write.
 */
int chord__session_mutation(struct chord_session *s, uint8_t type,
                            const void *key, size_t key_len, const void *value,
                            size_t value_len,
                            void (*dress)(struct chord_msg *, const void *),
                            const void *arg);
/* A C_GET the caller built, run like a request but without a request id
 * (the token as above). */
int chord__session_query(struct chord_session *s, struct chord_msg *req,
                         struct chord_client_result *res);
/* Keep a, b and c (malloc'd, may be NULL) until the next keep or the
 * session's close, freeing what the last keep kept: what a read's
 * answer (struct chord_read) borrows. */
#define CHORD_SESSION_KEPT 3u
void chord__session_keep(struct chord_session *s, void *a, void *b, void *c);
/* Free what *res holds and zero it. */
void chord__session_result_free(struct chord_client_result *res);
/* Set chord_session_error()'s line (printf). */
void chord__session_set_error(struct chord_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Does the session keep a token? */
bool chord__session_has_token(const struct chord_session *s);
/* chord_session_get as it is without a token: a plain C_GET through the
 * ring, -ENOTUNIQ for a key with siblings (causal.c decides which). */
int chord__session_get_plain(struct chord_session *s, const void *key,
                             size_t key_len, uint8_t **value,
                             size_t *value_len);

#endif
