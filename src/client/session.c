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
 * Invariants: `c` is NULL or connected to `node`, with a clean stream;
 * `error` is one NUL-terminated line. It keeps no other state between
 * calls: the connection is the only thing a call leaves to the next.
 */
#include "chord/session.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/client.h"
#include "client/clock.h"
#include "client/failover.h"

struct chord_session {
    char seeds[CHORD_FAILOVER_SEEDS_MAX][CHORD_ADDR_MAX];
    const char *seed_ptr[CHORD_FAILOVER_SEEDS_MAX]; /* into seeds[] */
    size_t n_seeds;
    int budget_ms;
    int consistency;           /* for put/get/del */
    struct chord_client *c;    /* connected to `node`, or NULL */
    char node[CHORD_ADDR_MAX]; /* the node that served last, or "" */
    char error[CHORD_FAILOVER_TRIED_MAX + 96];
};

/* What one request is, to run it again on another node. */
enum call_op {
    CALL_PUT,
    CALL_GET,
    CALL_DEL,
    CALL_LOOKUP,
    CALL_STATUS,
    CALL_RESTORE,
};

struct call {
    enum call_op op;
    const void *key;
    size_t key_len;
    const void *value; /* put */
    size_t value_len;
    uint8_t **value_out; /* get */
    size_t *len_out;
    struct chord_lookup_result *lookup;
    struct chord_status *status;
    const struct chord_record *record; /* restore */
};

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
    *out = s;
    return 0;
}

void chord_session_close(struct chord_session *s)
{
    if (!s)
        return;
    chord_client_close(s->c);
    free(s);
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
    case CALL_PUT:
        return chord_client_put(c, a->key, a->key_len, a->value, a->value_len);
    case CALL_GET:
        return chord_client_get(c, a->key, a->key_len, a->value_out,
                                a->len_out);
    case CALL_DEL:
        return chord_client_del(c, a->key, a->key_len);
    case CALL_LOOKUP:
        return chord_client_lookup(c, a->key, a->key_len, a->lookup);
    case CALL_RESTORE:
        return chord_client_restore(c, a->record);
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
            if (rc == -EIO)
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

int chord_session_put(struct chord_session *s, const void *key, size_t key_len,
                      const void *value, size_t value_len)
{
    struct call a = {.op = CALL_PUT,
                     .key = key,
                     .key_len = key_len,
                     .value = value,
                     .value_len = value_len};
    return run(s, &a);
}

int chord_session_get(struct chord_session *s, const void *key, size_t key_len,
                      uint8_t **value, size_t *value_len)
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
    struct call a = {.op = CALL_DEL, .key = key, .key_len = key_len};
    return run(s, &a);
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
