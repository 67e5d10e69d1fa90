/*
 * session_request.h - a request built by the caller, run through the
 * ring by a session (session.c) with the session's next request id: how
 * lock.c sends the lock operations. Internal to src/client.
 */
#ifndef CHORD_CLIENT_SESSION_REQUEST_H
#define CHORD_CLIENT_SESSION_REQUEST_H

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

#endif
