/*
 * request.h - a request the caller built, sent on a one-node client
 * (client.c): how the session (session.c, lock.c) sends what the public
 * calls of chord/client.h do not carry, a mutating request with its
 * request id and fence, or a lock operation. Internal to src/client.
 */
#ifndef CHORD_CLIENT_REQUEST_H
#define CHORD_CLIENT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/client.h"
#include "core/wire.h"

/* What a C_RESULT said: its status (CHORD_OK, or CHORD_QUEUED for a lock
 * request; CHORD_NOT_FOUND for a request with a causal trailer), its
 * value and the key's state blob when the reply carried one
 * (CHORD_CAUSAL_STATE); value and state are malloc'd, NULL when empty:
 * the caller frees them. */
struct chord_client_result {
    uint8_t status;
    uint8_t *value;
    size_t value_len;
    bool has_state;
    uint8_t *state;
    size_t state_len;
};

/*
 * Send *req (a client request answered by C_RESULT; its req_id and
 * consistency are set here, the rest is the caller's, who keeps it and may
 * send it again elsewhere) and wait for the reply. 0 with *res filled, or
 * the errors of chord/client.h, and -EPERM when the node says a condition
 * of the request was false (CHORD_PRECONDITION; its text in
 * chord_client_error()). *res holds nothing to free after an error, but
 * for a request with a causal trailer (req->causal != 0) answered
 * NOT_FOUND (-ENOENT): *res then has the status and the state.
 */
int chord__client_request(struct chord_client *c, struct chord_msg *req,
                          struct chord_client_result *res);

#endif
