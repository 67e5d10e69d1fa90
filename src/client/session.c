/*
 * session.c - a client of the ring through several seeds (see
 * include/chord/session.h), over the one-node client (client.c) and the
 * plan of a call (failover.c).
 *
 * A call runs one request on candidate after candidate until one serves
 * it: connect when not connected to that node, give the connection this
 * attempt's share of the budget, send. An outcome that is the ring's
 * answer (ok, not found, a failure the node explains, a local refusal)
 * ends the call; anything that says "not this node, not now" (no
 * connection, no answer in time, a broken stream, REDIRECT or TRY_AGAIN)
 * closes the connection, notes why, follows the redirect if there is
 * one, and moves on.
 *
 * Mutating calls (put, del, append, and the lock operations of lock.c)
 * go out as a request built once, carrying the session's client id and
 * the call's sequence number (and the fence chord_session_set_fence set,
 * for put, del and append): every attempt of the call, on whichever node,
 * sends that same request, so the ring applies it at most once.
 *
 * Invariants: `c` is NULL or connected to `node`, with a clean stream;
 * `error` is one NUL-terminated line; `seq` is the sequence number of the
 * last mutating call (0 before the first), never reused. Besides the
 * connection, the id, `seq` and the fence, a call leaves nothing to the
 * next.
 */
#include "chord/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chord/client.h"
#include "client/clock.h"
#include "client/failover.h"
#include "client/request.h"
#include "client/session_request.h"
#include "client/token.h"
#include "core/wire.h"

struct chord_session {
    char seeds[CHORD_FAILOVER_SEEDS_MAX][CHORD_ADDR_MAX];
    const char *seed_ptr[CHORD_FAILOVER_SEEDS_MAX]; /* into seeds[] */
    size_t n_seeds;
    int budget_ms;
    int consistency;           /* for put/get/del */
    struct chord_client *c;    /* connected to `node`, or NULL */
    char node[CHORD_ADDR_MAX]; /* the node that served last, or "" */
    char error[CHORD_FAILOVER_TRIED_MAX + 96];
    uint8_t client_id[CHORD_CLIENT_ID_BYTES]; /* random, drawn at open */
    uint64_t seq;                             /* of the last mutating call */
    bool fenced; /* put, del and append carry this fence: */
    uint8_t fence_name[CHORD_LOCK_NAME_MAX];
    size_t fence_name_len;
    uint64_t fence;
    struct chord_token *token; /* chord_session_use_token, or NULL */
    char *token_path;
    void *kept[CHORD_SESSION_KEPT]; /* what the last read's answer
                                       borrows (chord__session_keep) */
};

/* What one request is, to run it again on another node. */
enum call_op {
    CALL_GET,
    CALL_LOOKUP,
    CALL_STATUS,
    CALL_RESTORE,
    CALL_REQUEST, /* a request built by the caller, sent as it is */
};

struct call {
    enum call_op op;
    const void *key;
    size_t key_len;
    uint8_t **value_out; /* get */
    size_t *len_out;
    struct chord_lookup_result *lookup;
    struct chord_status *status;
    const struct chord_record *record; /* restore */
    struct chord_msg *req;             /* CALL_REQUEST, and its outcome */
    struct chord_client_result *res;
};

/* n random bytes from the kernel: 0 or a negative errno. */
static int random_bytes(uint8_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        got += (size_t)r;
    }
    return 0;
}

int chord_session_open(const char *const *seeds, size_t n_seeds, int budget_ms,
                       struct chord_session **out)
{
    *out = NULL;
    if (n_seeds == 0 || n_seeds > CHORD_FAILOVER_SEEDS_MAX || budget_ms <= 0)
        return -EINVAL;
    for (size_t i = 0; i < n_seeds; i++) {
        char host[CHORD_ADDR_MAX];
        uint16_t port;
        if (chord_addr_parse(seeds[i], host, &port) != 0)
            return -EINVAL;
    }
    struct chord_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n_seeds; i++) {
        snprintf(s->seeds[i], CHORD_ADDR_MAX, "%s", seeds[i]);
        s->seed_ptr[i] = s->seeds[i];
    }
    s->n_seeds = n_seeds;
    s->budget_ms = budget_ms;
    int rc = random_bytes(s->client_id, sizeof s->client_id);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void chord_session_close(struct chord_session *s)
{
    if (!s)
        return;
    chord_client_close(s->c);
    chord__token_free(s->token);
    free(s->token_path);
    chord__session_keep(s, NULL, NULL, NULL);
    free(s);
}

void chord__session_keep(struct chord_session *s, void *a, void *b, void *c)
{
    for (unsigned i = 0; i < CHORD_SESSION_KEPT; i++)
        free(s->kept[i]);
    s->kept[0] = a;
    s->kept[1] = b;
    s->kept[2] = c;
}

int chord_session_set_consistency(struct chord_session *s, int level)
{
    if (level < CHORD_CONSISTENCY_DEFAULT || level > CHORD_CONSISTENCY_ALL)
        return -EINVAL;
    s->consistency = level;
    return 0;
}

const char *chord_session_node(const struct chord_session *s)
{
    return s->node;
}

const char *chord_session_error(const struct chord_session *s)
{
    return s->error;
}

/* Run the request on the connected client. */
static int call_once(struct chord_client *c, const struct call *a)
{
    switch (a->op) {
    case CALL_GET:
        return chord_client_get(c, a->key, a->key_len, a->value_out,
                                a->len_out);
    case CALL_LOOKUP:
        return chord_client_lookup(c, a->key, a->key_len, a->lookup);
    case CALL_RESTORE:
        return chord_client_restore(c, a->record);
    case CALL_REQUEST:
        return chord__client_request(c, a->req, a->res);
    default:
        return chord_client_status(c, a->status);
    }
}

/* Does this outcome mean "try another node"? (A failed connect always
 * does; see attempt().) */
static bool moves_on(int rc, const struct chord_client *c)
{
    if (!c)
        return true;
    switch (rc) {
    case 0:
    case -ENOENT:
    case -ENOTUNIQ:
    case -EPERM:
    case -EMSGSIZE:
    case -EINVAL:
    case -ENOMEM:
        return false;
    case -EIO:
        return chord_client_redirect(c) != NULL;
    default:
        return true; /* cannot reach it, no answer in time, broken stream */
    }
}

/* Why an attempt did not serve the call, for the summary. */
static void why_text(int rc, const struct chord_client *c, int share, char *out,
                     size_t len)
{
    if (!c && rc == -EINVAL)
        snprintf(out, len, "not an address to connect to");
    else if (rc == -EIO)
        snprintf(out, len, "%s", chord_client_error(c));
    else if (rc == -ETIMEDOUT)
        snprintf(out, len, "no answer within %d ms", share);
    else if (rc == -EADDRNOTAVAIL && !c)
        snprintf(out, len, "the name does not resolve");
    else if (rc == -ECONNRESET && c && chord_client_error(c)[0])
        snprintf(out, len, "%s", chord_client_error(c));
    else if (rc == -ECONNRESET)
        snprintf(out, len, "closed the connection");
    else if (rc == -EPROTO)
        snprintf(out, len, "sent an invalid reply");
    else if (rc == -ECONNABORTED || rc == -EPROTONOSUPPORT)
        snprintf(out, len, "%s", chord_client_tls_error());
    else
        snprintf(out, len, "%s", strerror(-rc));
    if (out[0] >= 'A' && out[0] <= 'Z' && out[1] >= 'a' &&
        out[1] <= 'z') /* "connection refused", not "TLS" */
        out[0] = (char)(out[0] - 'A' + 'a');
}

/* One attempt at addr, taking at most share ms. When it cannot connect,
 * s->c is NULL afterwards. */
static int attempt(struct chord_session *s, const char *addr, int share,
                   const struct call *a)
{
    if (s->c && strcmp(s->node, addr) != 0) {
        chord_client_close(s->c);
        s->c = NULL;
    }
    if (share <= 0)
        return -ETIMEDOUT;
    if (!s->c) {
        int rc = chord_client_connect(addr, share, &s->c);
        if (rc)
            return rc;
        snprintf(s->node, sizeof(s->node), "%s", addr);
        chord_client_set_consistency(s->c, s->consistency);
    }
    chord_client_set_timeout(s->c, share);
    return call_once(s->c, a);
}

/* Run one request through the ring (see the banner). */
static int run(struct chord_session *s, const struct call *a)
{
    struct chord_failover *f = malloc(sizeof(*f));
    if (!f)
        return -ENOMEM;
    s->error[0] = '\0';
    chord_failover_init(f, s->c ? s->node : NULL, s->seed_ptr, s->n_seeds,
                        chord__client_now_ms(), s->budget_ms);
    int rc = -ETIMEDOUT;
    const char *addr;
    while ((addr = chord_failover_next(f, chord__client_now_ms())) != NULL) {
        int share = chord_failover_share(f, chord__client_now_ms());
        rc = attempt(s, addr, share, a);
        if (!moves_on(rc, s->c)) {
            /* The node's text (a refusal over a cap only from a
             * request: the others check sizes before sending). */
            if (rc == -EIO || rc == -EPERM || rc == -ENOTUNIQ ||
                (rc == -EMSGSIZE && a->op == CALL_REQUEST))
                snprintf(s->error, sizeof(s->error), "%s",
                         chord_client_error(s->c));
            free(f);
            return rc;
        }
        char why[CHORD_ERRMSG_MAX];
        why_text(rc, s->c, share, why, sizeof(why));
        chord_failover_note(f, addr, why);
        const char *hint = s->c ? chord_client_redirect(s->c) : NULL;
        if (hint) {
            rc = -EAGAIN;
            chord_failover_redirect(f, hint);
        }
        chord_client_close(s->c);
        s->c = NULL;
        s->node[0] = '\0';
    }
    if (chord_failover_left(f, chord__client_now_ms()) == 0) {
        rc = -ETIMEDOUT;
        snprintf(s->error, sizeof(s->error),
                 "cannot reach the ring within %d ms (tried %s)", s->budget_ms,
                 f->tried);
    } else {
        snprintf(s->error, sizeof(s->error), "cannot reach the ring (tried %s)",
                 f->tried);
    }
    free(f);
    return rc;
}

/* Is this a request the session token follows (a keyed get or write)? */
static bool token_follows(const struct chord_session *s, uint8_t type)
{
    return s->token && (type == CHORD_MSG_C_GET || type == CHORD_MSG_C_PUT ||
                        type == CHORD_MSG_C_DEL);
}

/* After a call that carried the token's context: what the reply said
 * goes into the token, which is saved. The call's outcome, or the error
 * of saving the token. */
static int token_update(struct chord_session *s, const struct chord_id *id,
                        bool sent_session, int rc,
                        const struct chord_client_result *res)
{
    if (rc != 0 && rc != -ENOENT) {
        /* The node could not give a state covering the token. */
        if (sent_session && strstr(s->error, "session: "))
            return -ETIME;
        return rc;
    }
    if (!res->has_state)
        return rc;
    int mrc = chord__token_merge(s->token, id, res->state, res->state_len);
    if (mrc == -EPROTO) {
        snprintf(s->error, sizeof(s->error),
                 "%s sent a state that does not decode", s->node);
        return mrc;
    }
    if (mrc == 0)
        mrc = chord__token_save(s->token, s->token_path, s->error,
                                sizeof(s->error));
    return mrc ? mrc : rc;
}

/* Run a keyed or lock request through the ring (with a request id when
 * `mutation`), the session token's context attached to the keyed ones. */
static int run_request(struct chord_session *s, struct chord_msg *req,
                       struct chord_client_result *res, bool mutation)
{
    if (mutation) {
        req->has_rid = true;
        memcpy(req->rid.client, s->client_id, CHORD_CLIENT_ID_BYTES);
        req->rid.seq = ++s->seq;
    }
    bool follows = token_follows(s, req->type);
    bool sent_session = false;
    struct chord_id id;
    if (follows) {
        chord_key_id(&id, req->key.data, req->key.len);
        size_t len;
        const uint8_t *ctx = chord__token_find(s->token, &id, &len);
        req->causal |= CHORD_CAUSAL_WANT;
        if (ctx) {
            req->causal |= CHORD_CAUSAL_SESSION;
            req->session = (struct chord_bytes){ctx, len};
            sent_session = true;
        }
    }
    struct call a = {.op = CALL_REQUEST, .req = req, .res = res};
    *res = (struct chord_client_result){0};
    int rc = run(s, &a);
    if (sent_session) /* it pointed into the token, which may change */
        req->session = (struct chord_bytes){NULL, 0};
    return follows ? token_update(s, &id, sent_session, rc, res) : rc;
}

int chord__session_request(struct chord_session *s, struct chord_msg *req,
                           struct chord_client_result *res)
{
    return run_request(s, req, res, true);
}

int chord__session_query(struct chord_session *s, struct chord_msg *req,
                         struct chord_client_result *res)
{
    return run_request(s, req, res, false);
}

void chord__session_result_free(struct chord_client_result *res)
{
    free(res->value);
    free(res->state);
    *res = (struct chord_client_result){0};
}

void chord__session_set_error(struct chord_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
}

bool chord__session_has_token(const struct chord_session *s)
{
    return s->token != NULL;
}

int chord_session_use_token(struct chord_session *s, const char *path)
{
    struct chord_token *t = NULL;
    char *copy = strdup(path);
    int rc = copy ? chord__token_new(&t) : -ENOMEM;
    if (rc == 0)
        rc = chord__token_load(t, path, s->error, sizeof(s->error));
    if (rc) {
        if (rc == -ENOMEM)
            snprintf(s->error, sizeof(s->error), "out of memory");
        chord__token_free(t);
        free(copy);
        return rc;
    }
    chord__token_free(s->token);
    free(s->token_path);
    s->token = t;
    s->token_path = copy;
    return 0;
}

int chord__session_write(struct chord_session *s, struct chord_msg *req,
                         struct chord_client_result *res)
{
    if (s->fenced) {
        req->has_fence = true;
        req->fence_name =
            (struct chord_bytes){s->fence_name, s->fence_name_len};
        req->fence = s->fence;
    }
    return run_request(s, req, res, true);
}

int chord__session_mutation(struct chord_session *s, uint8_t type,
                            const void *key, size_t key_len, const void *value,
                            size_t value_len,
                            void (*dress)(struct chord_msg *, const void *),
                            const void *arg)
{
    if (key_len > CHORD_KEY_MAX || value_len > CHORD_VALUE_MAX)
        return -EMSGSIZE;
    if ((key_len && !key) || (value_len && !value))
        return -EINVAL;
    struct chord_msg *req = malloc(sizeof(*req));
    if (!req)
        return -ENOMEM;
    chord_msg_init(req, type, 0);
    req->key = (struct chord_bytes){key, key_len};
    if (type != CHORD_MSG_C_DEL)
        req->value = (struct chord_bytes){value, value_len};
    if (dress)
        dress(req, arg);
    struct chord_client_result res;
    int rc = chord__session_write(s, req, &res);
    chord__session_result_free(&res);
    free(req);
    return rc;
}

int chord_session_put(struct chord_session *s, const void *key, size_t key_len,
                      const void *value, size_t value_len)
{
    return chord__session_mutation(s, CHORD_MSG_C_PUT, key, key_len, value,
                                   value_len, NULL, NULL);
}

int chord_session_append(struct chord_session *s, const void *key,
                         size_t key_len, const void *value, size_t value_len)
{
    return chord__session_mutation(s, CHORD_MSG_C_APPEND, key, key_len, value,
                                   value_len, NULL, NULL);
}

int chord__session_get_plain(struct chord_session *s, const void *key,
                             size_t key_len, uint8_t **value, size_t *value_len)
{
    struct call a = {.op = CALL_GET,
                     .key = key,
                     .key_len = key_len,
                     .value_out = value,
                     .len_out = value_len};
    *value = NULL;
    *value_len = 0;
    return run(s, &a);
}

int chord_session_del(struct chord_session *s, const void *key, size_t key_len)
{
    return chord__session_mutation(s, CHORD_MSG_C_DEL, key, key_len, NULL, 0,
                                   NULL, NULL);
}

int chord_session_lookup(struct chord_session *s, const void *key,
                         size_t key_len, struct chord_lookup_result *out)
{
    struct call a = {
        .op = CALL_LOOKUP, .key = key, .key_len = key_len, .lookup = out};
    return run(s, &a);
}

int chord_session_status(struct chord_session *s, struct chord_status *out)
{
    struct call a = {.op = CALL_STATUS, .status = out};
    return run(s, &a);
}

int chord_session_restore(struct chord_session *s,
                          const struct chord_record *rec)
{
    struct call a = {.op = CALL_RESTORE, .record = rec};
    return run(s, &a);
}

const uint8_t *chord_session_client_id(const struct chord_session *s)
{
    return s->client_id;
}

int chord_session_set_fence(struct chord_session *s, const char *name,
                            uint64_t fence)
{
    if (!name) {
        s->fenced = false;
        return 0;
    }
    size_t n = strnlen(name, CHORD_LOCK_NAME_MAX + 1);
    if (n == 0 || n > CHORD_LOCK_NAME_MAX || fence == 0)
        return -EINVAL;
    memcpy(s->fence_name, name, n);
    s->fence_name_len = n;
    s->fence = fence;
    s->fenced = true;
    return 0;
}
