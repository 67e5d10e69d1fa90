/*
 * lock.c - the lock calls of a session (see include/chord/session.h and
 * chord/lock.h): acquire, renew, append, release and status, each a
 * C_LOCK request to the lock's owner run through the ring like a put
 * (session_request.h: the session's client id and a fresh sequence
 * number, the same on every node the call tries).
 *
 * The request: key = the lock's name, lock_op, lock_client and
 * lock_fence = the token (acquire and cancel: the session's own id, fence
 * 0), lease_ms, and for an append key2 and value. The reply (C_RESULT)
 * carries the lock's state, encoded as chord/lock.h describes; its
 * status OK means done (for an acquire: granted, the state naming this
 * session the holder and state.fence its grant), QUEUED that an acquire
 * waits behind the holder, PRECONDITION (-EPERM) that the token is not
 * the holder's.
 *
 * An acquire answered OK must come with a state naming this session the
 * holder; one that does not (a retry the owner recognised by its request
 * id is answered OK alone) is checked with a STATUS.
 *
 * Acquire polls while queued: every poll is a new request (a new
 * sequence number: the owner must answer it afresh, not with the first
 * QUEUED) that keeps the waiter's place, CHORD_LOCK_POLL_MS apart at
 * first, then twice as far each time up to LOCK_POLL_MAX_MS, well within
 * CHORD_LOCK_WAITER_GRACE_MS. At wait_ms it sends CANCEL; if the CANCEL's
 * answer shows the lock granted to this session after all (the grant
 * crossed the cancel), the grant is kept and returned rather than left to
 * expire.
 *
 * It keeps no state: everything lives in the session and at the owner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/lock.h"
#include "chord/session.h"
#include "client/clock.h"
#include "client/request.h"
#include "client/session_request.h"
#include "core/wire.h"

#define LOCK_POLL_MAX_MS 40 /* the longest pause between two polls */

/* One lock operation, as the request carries it. */
struct lock_op {
    uint8_t op; /* enum chord_lock_op */
    const uint8_t *client;
    uint64_t fence;
    uint32_t lease_ms;
    const void *key; /* append */
    size_t key_len;
    const void *value;
    size_t value_len;
};

/* The name's length when it is a lock name (1..CHORD_LOCK_NAME_MAX
 * bytes), else 0. */
static size_t name_len(const char *name)
{
    if (!name)
        return 0;
    size_t n = strnlen(name, CHORD_LOCK_NAME_MAX + 1);
    return n > CHORD_LOCK_NAME_MAX ? 0 : n;
}

/* Send one operation on lock `name` through the session: 0 with *res
 * filled (the caller frees res->value), or the session's errors. */
static int lock_send(struct chord_session *s, const char *name, size_t len,
                     const struct lock_op *op, struct chord_client_result *res)
{
    res->value = NULL;
    struct chord_msg *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    chord_msg_init(m, CHORD_MSG_C_LOCK, 0);
    m->key = (struct chord_bytes){(const uint8_t *)name, len};
    m->lock_op = op->op;
    memcpy(m->lock_client, op->client, CHORD_CLIENT_ID_BYTES);
    m->lock_fence = op->fence;
    m->lease_ms = op->lease_ms;
    m->key2 = (struct chord_bytes){op->key, op->key_len};
    m->value = (struct chord_bytes){op->value, op->value_len};
    int rc = chord__session_request(s, m, res);
    free(m);
    return rc;
}

/* Send an operation whose reply only matters by its status. */
static int lock_simple(struct chord_session *s, const char *name,
                       const struct lock_op *op)
{
    size_t len = name_len(name);
    if (len == 0)
        return -EINVAL;
    struct chord_client_result res;
    int rc = lock_send(s, name, len, op, &res);
    free(res.value);
    return rc;
}

/* Is the state of a reply one where this session (`me`) holds the lock?
 * Then *token is its grant. 0 when held by me, 1 when not, -EPROTO when
 * the state does not decode. */
static int held_by(const struct chord_client_result *res, const uint8_t *me,
                   struct chord_lock_token *token)
{
    struct chord_lock_state st;
    if (chord_lock_state_decode(res->value, res->value_len, &st) != 0)
        return -EPROTO;
    int rc = 1;
    if (st.held && memcmp(st.holder, me, CHORD_CLIENT_ID_BYTES) == 0 &&
        st.fence > 0) {
        memcpy(token->client, me, CHORD_CLIENT_ID_BYTES);
        token->fence = st.fence;
        rc = 0;
    }
    chord_lock_state_clear(&st);
    return rc;
}

/* An acquire answered OK without a state naming this session (a retry
 * the owner recognised by its request id is answered OK alone): ask for
 * the state. 0 with *token when it names this session the holder, else
 * -EPROTO. */
static int confirm_grant(struct chord_session *s, const char *name, size_t len,
                         const uint8_t *me, struct chord_lock_token *token)
{
    struct lock_op status = {.op = CHORD_LOCK_STATUS, .client = me};
    struct chord_client_result res;
    int rc = lock_send(s, name, len, &status, &res);
    if (rc == 0)
        rc = held_by(&res, me, token) == 0 ? 0 : -EPROTO;
    free(res.value);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The wait is over: leave the queue. 0 when the CANCEL's answer shows
 * the lock granted to this session (*token set), else -ETIME, also when
 * the CANCEL failed (the place of a waiter that stops asking lapses after
 * CHORD_LOCK_WAITER_GRACE_MS anyway). */
static int give_up(struct chord_session *s, const char *name, size_t len,
                   const uint8_t *me, struct chord_lock_token *token)
{
    struct lock_op cancel = {.op = CHORD_LOCK_CANCEL, .client = me};
    struct chord_client_result res;
    int rc = lock_send(s, name, len, &cancel, &res);
    if (rc == 0 && res.status == CHORD_OK && held_by(&res, me, token) == 0) {
        free(res.value);
        return 0;
    }
    free(res.value);
    return -ETIME;
}

int chord_lock_acquire(struct chord_session *s, const char *name,
                       uint32_t lease_ms, int wait_ms,
                       struct chord_lock_token *token)
{
    size_t len = name_len(name);
    if (len == 0 || lease_ms > CHORD_LOCK_LEASE_MAX_MS || wait_ms < 0)
        return -EINVAL;
    const uint8_t *me = chord_session_client_id(s);
    struct lock_op acquire = {
        .op = CHORD_LOCK_ACQUIRE, .client = me, .lease_ms = lease_ms};
    int64_t end = chord__client_now_ms() + wait_ms;
    int64_t pause = CHORD_LOCK_POLL_MS;
    for (;;) {
        struct chord_client_result res;
        int rc = lock_send(s, name, len, &acquire, &res);
        if (rc)
            return rc;
        if (res.status == CHORD_OK) {
            /* Granted: the state must say so. */
            rc = held_by(&res, me, token);
            free(res.value);
            return rc == 0 ? 0 : confirm_grant(s, name, len, me, token);
        }
        free(res.value); /* QUEUED */
        int64_t left = end - chord__client_now_ms();
        if (left <= 0)
            return give_up(s, name, len, me, token);
        sleep_ms(pause < left ? pause : left);
        pause = pause * 2 > LOCK_POLL_MAX_MS ? LOCK_POLL_MAX_MS : pause * 2;
    }
}

int chord_lock_renew(struct chord_session *s, const char *name,
                     const struct chord_lock_token *token)
{
    struct lock_op op = {
        .op = CHORD_LOCK_RENEW, .client = token->client, .fence = token->fence};
    return lock_simple(s, name, &op);
}

int chord_lock_append(struct chord_session *s, const char *name,
                      const struct chord_lock_token *token, const void *key,
                      size_t key_len, const void *value, size_t value_len)
{
    if (key_len > CHORD_KEY_MAX || value_len > CHORD_VALUE_MAX)
        return -EMSGSIZE;
    if ((key_len && !key) || (value_len && !value))
        return -EINVAL;
    struct lock_op op = {.op = CHORD_LOCK_APPEND,
                         .client = token->client,
                         .fence = token->fence,
                         .key = key,
                         .key_len = key_len,
                         .value = value,
                         .value_len = value_len};
    return lock_simple(s, name, &op);
}

int chord_lock_release(struct chord_session *s, const char *name,
                       const struct chord_lock_token *token)
{
    struct lock_op op = {.op = CHORD_LOCK_RELEASE,
                         .client = token->client,
                         .fence = token->fence};
    return lock_simple(s, name, &op);
}

int chord_lock_status(struct chord_session *s, const char *name, uint8_t **raw,
                      size_t *raw_len, struct chord_lock_state *out)
{
    *raw = NULL;
    *raw_len = 0;
    memset(out, 0, sizeof(*out));
    size_t len = name_len(name);
    if (len == 0)
        return -EINVAL;
    struct lock_op op = {.op = CHORD_LOCK_STATUS,
                         .client = chord_session_client_id(s)};
    struct chord_client_result res;
    int rc = lock_send(s, name, len, &op, &res);
    if (rc)
        return rc;
    rc = chord_lock_state_decode(res.value, res.value_len, out);
    if (rc) {
        free(res.value);
        return rc;
    }
    *raw = res.value;
    *raw_len = res.value_len;
    return 0;
}
