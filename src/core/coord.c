/*
 * coord.c - client operations and the owner's side of store requests
 * (see coord.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/coord.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/locks.h"
#include "core/lookup.h"
#include "core/membership.h"
#include "core/mutation.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/replica.h"

void chord__coord_init(struct chord_coord *c)
{
    memset(c, 0, sizeof(*c));
    chord_seq_init(&c->ops, sizeof(struct op));
}

static void rcache_put(struct chord_node *n, uint64_t now,
                       const struct chord_id *lo,
                       const struct chord_peer *owner)
{
    if (!n->coord.rcache) {
        n->coord.rcache = calloc(CHORD_RCACHE_MAX, sizeof(*n->coord.rcache));
        if (!n->coord.rcache)
            return;
    }
    unsigned slot = 0;
    for (unsigned i = 0; i < CHORD_RCACHE_MAX; i++) {
        struct rcache_entry *e = &n->coord.rcache[i];
        if (e->expires > now && chord__peer_same(&e->owner, owner)) {
            slot = i; /* the owner's range again: refresh it */
            break;
        }
        if (e->expires < n->coord.rcache[slot].expires)
            slot = i; /* else the free or oldest entry */
    }
    n->coord.rcache[slot].lo = *lo;
    n->coord.rcache[slot].owner = *owner;
    n->coord.rcache[slot].expires = now + CHORD_RCACHE_TTL_MS;
}

/* The owner remembered for key, or NULL. */
static const struct chord_peer *rcache_find(const struct chord_node *n,
                                            const struct chord_id *key,
                                            uint64_t now)
{
    for (unsigned i = 0; n->coord.rcache && i < CHORD_RCACHE_MAX; i++) {
        const struct rcache_entry *e = &n->coord.rcache[i];
        if (e->expires > now && chord_id_in_oc(key, &e->lo, &e->owner.id))
            return chord__usable(n, e->owner.addr, now) ? &e->owner : NULL;
    }
    return NULL;
}

/* Forget what we remembered about key's owner (it redirected or failed). */
static void rcache_drop(struct chord_node *n, const struct chord_id *key)
{
    for (unsigned i = 0; n->coord.rcache && i < CHORD_RCACHE_MAX; i++) {
        struct rcache_entry *e = &n->coord.rcache[i];
        if (e->expires && chord_id_in_oc(key, &e->lo, &e->owner.id))
            e->expires = 0;
    }
}

static void op_free_buffers(struct op *o)
{
    free(o->key);
    free(o->value);
    free(o->key2);
    free(o->fence_name);
    free(o->context);
    free(o->session);
    o->key = o->value = o->key2 = o->fence_name = NULL;
    o->context = o->session = NULL;
}

static void op_reply(struct chord_node *n, struct op *o, uint8_t status,
                     const char *error, const uint8_t *value, size_t value_len,
                     const struct chord_bytes *state)
{
    if (o->done) {
        /* The node's own operation: finish it before telling its owner,
         * which may start another (and move the operations around). */
        chord_op_done_fn done = o->done;
        uint64_t arg = o->done_arg;
        char why[CHORD_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", error ? error : "");
        if (o->state == OP_WAIT)
            n->coord.waiting--;
        op_free_buffers(o);
        chord_seq_finish(&n->coord.ops, o);
        done(n, n->now, arg, status, error ? why : NULL);
        return;
    }
    /* A lookup is answered in its own type; errors look alike. */
    struct chord_msg *m = o->drop_reply
                              ? NULL
                              : chord__msg(n,
                                           o->type == CHORD_MSG_C_LOOKUP
                                               ? CHORD_MSG_C_LOOKUP_RESULT
                                               : CHORD_MSG_C_RESULT,
                                           o->client_req);
    if (m) {
        m->status = status;
        if (error)
            snprintf(m->error, sizeof(m->error), "%s", error);
        if (state && (o->causal & CHORD_CAUSAL_WANT)) {
            /* The values are in the state (a frame holds one value). */
            m->causal = CHORD_CAUSAL_STATE;
            m->state = *state;
        } else {
            m->value.data = value;
            m->value.len = value_len;
        }
        chord__reply(n, o->conn, m);
        chord__msg_free(n, m);
    }
    chord__metrics_client(n, o->type, status, n->now - o->started);
    if (o->state == OP_WAIT)
        n->coord.waiting--;
    op_free_buffers(o);
    chord_seq_finish(&n->coord.ops, o);
}

static void op_reply_lookup(struct chord_node *n, struct op *o,
                            const struct chord_peer *owner, uint8_t hops,
                            const struct chord_lookup_path *path)
{
    struct chord_msg *m = malloc(sizeof(*m));
    if (m) {
        chord_msg_init(m, CHORD_MSG_C_LOOKUP_RESULT, o->client_req);
        m->status = CHORD_OK;
        m->lookup.key_id = o->key_id;
        m->lookup.owner = *owner;
        m->lookup.hops = hops;
        chord__path_copy(&m->lookup.path, path);
        chord__reply(n, o->conn, m);
        free(m);
    }
    chord__metrics_client(n, o->type, CHORD_OK, n->now - o->started);
    op_free_buffers(o);
    chord_seq_finish(&n->coord.ops, o);
}

static void op_start(struct chord_node *n, uint64_t now, struct op *o);
static void store_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_bytes *state);
static void op_lookup_found(struct chord_node *n, uint64_t now,
                            const struct rpc *r, const struct chord_found *f);

/* Try again shortly (the owner was busy, or a peer failed). */
static void op_retry_later(struct chord_node *n, struct op *o, uint64_t now,
                           const char *why)
{
    snprintf(o->last_error, sizeof(o->last_error), "%s", why);
    o->rpc = 0;
    if (o->state != OP_WAIT)
        n->coord.waiting++;
    o->state = OP_WAIT;
    o->retry_at = now + CHORD_OP_RETRY_MS;
}

/*
 * A store request (from a client operation of ours, or STORE_* from a
 * coordinator) reaches the node that should own the key. Refuse it while
 * joining or leaving, redirect it if we do not own the key, else hand it
 * to replica.c; the outcome comes back through store_done().
 */
static void store_execute(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m,
                          const struct chord_reply_to *to)
{
    uint8_t type = m->type;
    bool is_read = type == CHORD_MSG_STORE_GET;
    if (n->state == CHORD_NODE_JOINING ||
        (n->state == CHORD_NODE_LEAVING && !is_read) ||
        n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_INIT) {
        store_done(n, now, to, CHORD_TRY_AGAIN, NULL, NULL, NULL, 0, NULL);
        return;
    }
    struct chord_id kid;
    if (type == CHORD_MSG_STORE_LOCK)
        chord__lock_position(&kid, m->key.data, m->key.len);
    else
        chord_key_id(&kid, m->key.data, m->key.len);
    if (!chord__owns_now(n, &kid, now)) {
        store_done(n, now, to, CHORD_REDIRECT, NULL,
                   chord__redirect_hint(n, &kid, now), NULL, 0, NULL);
        return;
    }
    if (is_read)
        chord__replica_read(
            n, now, m->key.data, m->key.len, m->consistency,
            m->causal & CHORD_CAUSAL_SESSION ? &m->session : NULL, to);
    else if (type == CHORD_MSG_STORE_LOCK)
        chord__locks_handle(n, now, m, to);
    else
        chord__mutation_execute(n, now, m, to);
}

static uint8_t store_type_of(uint8_t client_type)
{
    switch (client_type) {
    case CHORD_MSG_C_PUT:
        return CHORD_MSG_STORE_PUT;
    case CHORD_MSG_C_GET:
        return CHORD_MSG_STORE_GET;
    case CHORD_MSG_C_RESTORE:
        return CHORD_MSG_STORE_RESTORE;
    case CHORD_MSG_C_APPEND:
        return CHORD_MSG_STORE_APPEND;
    case CHORD_MSG_C_LOCK:
        return CHORD_MSG_STORE_LOCK;
    default:
        return CHORD_MSG_STORE_DEL;
    }
}

/* Act on a store result for op o (local or from the owner). */
static void op_store_result(struct chord_node *n, uint64_t now, struct op *o,
                            uint8_t status, const char *error,
                            const struct chord_peer *hint, const uint8_t *value,
                            size_t value_len, const struct chord_bytes *state);

/* The STORE_* request that carries operation o to the key's owner. */
static void op_store_msg(const struct op *o, struct chord_msg *m)
{
    m->key.data = o->key;
    m->key.len = o->key_len;
    m->consistency = o->consistency;
    m->value.data = o->value;
    m->value.len = o->value_len;
    m->version = o->version;
    m->has_rid = o->has_rid;
    m->rid = o->rid;
    m->has_fence = o->has_fence;
    m->fence_name.data = o->fence_name;
    m->fence_name.len = o->fence_name_len;
    m->fence = o->fence;
    m->lock_op = o->lock_op;
    memcpy(m->lock_client, o->lock_client, sizeof m->lock_client);
    m->lock_fence = o->lock_fence;
    m->lease_ms = o->lease_ms;
    m->key2.data = o->key2;
    m->key2.len = o->key2_len;
    m->causal = o->causal;
    m->context.data = o->context;
    m->context.len = o->context_len;
    m->session.data = o->session;
    m->session.len = o->session_len;
    m->ttl_s = o->ttl_s;
}

/* A message to build a store request in: the coordinator's scratch when
 * it is free (the common case), else a new one (a store request executed
 * here may start another operation: a lock's release). */
static struct chord_msg *store_msg_take(struct chord_node *n, uint8_t type)
{
    struct chord_coord *c = &n->coord;
    if (c->scratch_busy)
        return chord__msg(n, type, 0);
    if (!c->scratch && !(c->scratch = malloc(sizeof *c->scratch)))
        return NULL;
    c->scratch_busy = true;
    chord_msg_init(c->scratch, type, 0);
    c->scratch->from = n->rt.self;
    return c->scratch;
}

static void store_msg_give(struct chord_node *n, struct chord_msg *m)
{
    if (m == n->coord.scratch)
        n->coord.scratch_busy = false;
    else
        chord__msg_free(n, m);
}

static void op_send_store(struct chord_node *n, uint64_t now, struct op *o,
                          const struct chord_peer *owner)
{
    struct chord_msg *m = store_msg_take(n, store_type_of(o->type));
    if (!m) {
        op_retry_later(n, o, now, "out of memory");
        return;
    }
    op_store_msg(o, m);
    if (chord__is_self(n, owner)) {
        struct chord_reply_to to = {.done = store_done,
                                    .op = o->h.id,
                                    .want_state =
                                        (o->causal & CHORD_CAUSAL_WANT) != 0};
        o->state = OP_STORE;
        o->rpc = 0;
        store_execute(n, now, m, &to); /* may finish o */
        store_msg_give(n, m);
        return;
    }
    struct chord_peer to = *owner;
    o->state = OP_STORE;
    o->rpc = chord__rpc(n, now, RPC_STORE, &to, o->h.id, m);
    store_msg_give(n, m);
}

static void op_store_result(struct chord_node *n, uint64_t now, struct op *o,
                            uint8_t status, const char *error,
                            const struct chord_peer *hint, const uint8_t *value,
                            size_t value_len, const struct chord_bytes *state)
{
    o->rpc = 0;
    switch (status) {
    case CHORD_OK:
        op_reply(n, o, CHORD_OK, NULL, value, value_len, state);
        return;
    case CHORD_NOT_FOUND:
        op_reply(n, o, CHORD_NOT_FOUND, "not found", NULL, 0, state);
        return;
    case CHORD_SIBLINGS:
        /* A client that reads states sees every sibling in the state. */
        if (state && (o->causal & CHORD_CAUSAL_WANT))
            op_reply(n, o, CHORD_OK, NULL, NULL, 0, state);
        else
            op_reply(n, o, CHORD_SIBLINGS, error, NULL, 0, NULL);
        return;
    case CHORD_REDIRECT:
        rcache_drop(n, &o->key_id);
        if (++o->redirects <= n->cfg.hop_limit) {
            op_send_store(n, now, o, hint);
            return;
        }
        op_retry_later(n, o, now, "too many redirects");
        return;
    case CHORD_TRY_AGAIN:
        op_retry_later(n, o, now,
                       error && *error ? error
                                       : "the owner is joining or leaving");
        return;
    default: {
        char why[CHORD_ERRMSG_MAX];
        if (error && *error)
            snprintf(why, sizeof(why), "%s", error);
        else
            snprintf(why, sizeof(why), "the owner answered: %s",
                     chord_status_name(status));
        /* A lock's state goes with its "queued" or "not the holder". */
        bool keep = status == CHORD_QUEUED || status == CHORD_PRECONDITION;
        op_reply(n, o, status, why, keep ? value : NULL, keep ? value_len : 0,
                 NULL);
    }
    }
}

static void store_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_bytes *state)
{
    if (to->op) {
        struct op *o = chord_seq_find(&n->coord.ops, to->op);
        if (o && o->state == OP_STORE && o->rpc == 0)
            op_store_result(n, now, o, status, error, hint, value, value_len,
                            state);
        return;
    }
    struct chord_msg *r = chord__msg(n, CHORD_MSG_STORE_RESULT, to->req);
    if (!r)
        return;
    r->status = status;
    if (error)
        snprintf(r->error, sizeof(r->error), "%s", error);
    if (hint)
        r->hint = *hint;
    if (state && state->len) { /* the values are in the state */
        r->causal = CHORD_CAUSAL_STATE;
        r->state = *state;
    } else if (value) {
        r->has_value = true;
        r->value.data = value;
        r->value.len = value_len;
    }
    chord__send(n, to->addr, r);
    chord__msg_free(n, r);
}

static void op_start(struct chord_node *n, uint64_t now, struct op *o)
{
    if (o->state == OP_WAIT)
        n->coord.waiting--;
    o->state = OP_LOOKUP;
    o->attempts++;
    o->redirects = 0;
    if (o->type != CHORD_MSG_C_LOOKUP && o->attempts == 1) {
        /* A first try on a key whose owner we learned lately goes
         * straight there; it checks, and redirects if it no longer owns
         * the key. Retries look the owner up afresh. */
        const struct chord_peer *c = rcache_find(n, &o->key_id, now);
        if (c) {
            struct chord_peer owner = *c;
            op_send_store(n, now, o, &owner); /* may finish o */
            return;
        }
    }
    uint64_t rid =
        chord__lookup_begin(n, now, RPC_LOOKUP_OP, o->h.id, op_lookup_found);
    if (!rid) {
        op_retry_later(n, o, now, "out of memory");
        return;
    }
    o->rpc = rid;
    struct chord_id kid = o->key_id;
    /* A lookup the client sees, or a retry (the owner named before may
     * be down), is answered by the owner itself. */
    uint8_t flags = o->type == CHORD_MSG_C_LOOKUP || o->attempts > 1
                        ? CHORD_LOOKUP_TO_OWNER
                        : 0;
    chord__lookup_run(n, now, rid, &kid, flags); /* may finish o */
}

static void op_found(struct chord_node *n, uint64_t now, struct op *o, bool ok,
                     const struct chord_peer *owner, uint8_t hops,
                     const struct chord_lookup_path *path)
{
    o->rpc = 0;
    if (!ok) {
        op_retry_later(n, o, now, "lookup exceeded the hop limit");
        return;
    }
    if (o->type == CHORD_MSG_C_LOOKUP) {
        op_reply_lookup(n, o, owner, hops, path);
        return;
    }
    op_send_store(n, now, o, owner);
}

/* A lookup for an operation ended (see lookup.h). */
static void op_lookup_found(struct chord_node *n, uint64_t now,
                            const struct rpc *r, const struct chord_found *f)
{
    struct op *o = chord_seq_find(&n->coord.ops, r->arg);
    if (f->ok)
        rcache_put(n, now, &f->lo, &f->owner);
    if (o && o->rpc == r->h.id)
        op_found(n, now, o, f->ok, &f->owner, f->hops, f->path);
}

/*
 * The answer of a node that does not serve clients now. A joining node
 * redirects to a node that serves: its successor once JOIN_ACK named one,
 * else the seed it joins through; a leaving node to its successor. A node
 * that knows none (created, left, failed) says TRY_AGAIN: ask another.
 */
void chord__coord_not_serving(const struct chord_node *n, struct chord_msg *r)
{
    const char *state = chord_node_state_name(n->state);
    if (chord__member_redirect(n, &r->hint)) {
        r->status = CHORD_REDIRECT;
        snprintf(r->error, sizeof(r->error), "node %s is %s; ask %s",
                 n->rt.self.addr, state, r->hint.addr);
    } else {
        r->status = CHORD_TRY_AGAIN;
        snprintf(r->error, sizeof(r->error), "node %s is %s, not serving",
                 n->rt.self.addr, state);
    }
}

/* Why the node refuses client request m at once, into r (false: it
 * does not). */
static bool client_refuse(const struct chord_node *n, const struct chord_msg *m,
                          struct chord_msg *r)
{
    r->status = CHORD_BAD_REQUEST;
    if (m->key.len == 0)
        snprintf(r->error, sizeof(r->error),
                 m->type == CHORD_MSG_C_LOCK ? "empty lock name" : "empty key");
    else if (m->type != CHORD_MSG_C_LOCK &&
             chord_key_reserved(m->key.data, m->key.len))
        snprintf(r->error, sizeof(r->error),
                 "keys that start with a NUL byte and \"chord:\" are "
                 "reserved for the ring's own records");
    else if (m->type == CHORD_MSG_C_RESTORE && m->version.counter == 0)
        snprintf(r->error, sizeof(r->error),
                 "a restore needs a version (counter 0 is none)");
    else if (m->type == CHORD_MSG_C_LOCK && m->lock_op == CHORD_LOCK_APPEND &&
             m->key2.len == 0)
        snprintf(r->error, sizeof(r->error), "a lock append needs a key");
    else if (m->type == CHORD_MSG_C_LOCK && m->lock_op == CHORD_LOCK_APPEND &&
             chord_key_reserved(m->key2.data, m->key2.len))
        snprintf(r->error, sizeof(r->error), "reserved key");
    else if (m->has_fence && m->fence == 0)
        snprintf(r->error, sizeof(r->error), "fence 0 is not a fence");
    else if (n->state != CHORD_NODE_ACTIVE)
        chord__coord_not_serving(n, r);
    else if (n->coord.ops.live >= n->cfg.max_ops) {
        r->status = CHORD_BUSY;
        snprintf(r->error, sizeof(r->error),
                 "node %s has %u operations in flight", n->rt.self.addr,
                 n->cfg.max_ops);
    } else
        return false;
    return true;
}

/* Copy of len bytes (at least one byte allocated), or NULL. */
static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    if (c && len)
        memcpy(c, p, len);
    return c;
}

/* A new operation for client request m (owned copies of what it needs),
 * or NULL when out of memory. */
static struct op *op_new(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m)
{
    struct op *o = chord_seq_push(&n->coord.ops);
    if (!o)
        return NULL;
    bool has_value =
        m->type == CHORD_MSG_C_PUT || m->type == CHORD_MSG_C_RESTORE ||
        m->type == CHORD_MSG_C_APPEND || m->type == CHORD_MSG_C_LOCK;
    size_t vlen = has_value ? m->value.len : 0;
    o->key = dup_bytes(m->key.data, m->key.len);
    o->value = dup_bytes(m->value.data, vlen);
    o->key2 = m->key2.len ? dup_bytes(m->key2.data, m->key2.len) : NULL;
    o->fence_name =
        m->has_fence ? dup_bytes(m->fence_name.data, m->fence_name.len) : NULL;
    bool has_ctx =
        (m->causal & (CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_IF_CONTEXT)) != 0;
    bool has_session = (m->causal & CHORD_CAUSAL_SESSION) != 0;
    o->context = has_ctx ? dup_bytes(m->context.data, m->context.len) : NULL;
    o->session =
        has_session ? dup_bytes(m->session.data, m->session.len) : NULL;
    if (!o->key || !o->value || (m->key2.len && !o->key2) ||
        (m->has_fence && !o->fence_name) || (has_ctx && !o->context) ||
        (has_session && !o->session)) {
        op_free_buffers(o);
        chord_seq_finish(&n->coord.ops, o);
        return NULL;
    }
    o->type = m->type;
    o->consistency = m->consistency;
    o->started = now;
    o->deadline = now + n->cfg.op_timeout_ms;
    o->key_len = m->key.len;
    o->value_len = vlen;
    o->key2_len = m->key2.len;
    o->version = m->version;
    o->has_rid = m->has_rid;
    o->rid = m->rid;
    o->has_fence = m->has_fence;
    o->fence_name_len = m->fence_name.len;
    o->fence = m->fence;
    o->lock_op = m->lock_op;
    memcpy(o->lock_client, m->lock_client, sizeof o->lock_client);
    o->lock_fence = m->lock_fence;
    o->lease_ms = m->lease_ms;
    o->causal = m->causal;
    o->context_len = has_ctx ? m->context.len : 0;
    o->session_len = has_session ? m->session.len : 0;
    o->ttl_s = m->ttl_s;
    if (m->type == CHORD_MSG_C_LOCK)
        chord__lock_position(&o->key_id, o->key, o->key_len);
    else
        chord_key_id(&o->key_id, o->key, o->key_len);
    return o;
}

/* Fault injection: true with probability pct %. */
static bool chance(struct chord_node *n, unsigned pct)
{
    return pct > 0 && chord__random(n) % 100 < pct;
}

void chord__coord_client(struct chord_node *n, uint64_t now, uint64_t conn,
                         const struct chord_msg *m)
{
    bool mutation = chord_msg_is_mutation(m->type);
    if (mutation && chance(n, n->cfg.test_drop_requests_pct)) {
        chord__log(n, CHORD_LOG_INFO, "test: dropped a %s request",
                   chord_msg_type_name(m->type));
        return;
    }
    struct chord_msg *r = malloc(sizeof(*r));
    if (!r)
        return;
    chord_msg_init(r, CHORD_MSG_C_RESULT, m->req_id);
    if (!client_refuse(n, m, r)) {
        struct op *o = op_new(n, now, m);
        if (o) {
            o->conn = conn;
            o->client_req = m->req_id;
            o->drop_reply = mutation && chance(n, n->cfg.test_drop_replies_pct);
            free(r);
            op_start(n, now, o);
            return;
        }
        r->status = CHORD_BUSY;
        snprintf(r->error, sizeof(r->error), "out of memory");
    }
    if (m->type == CHORD_MSG_C_LOOKUP)
        r->type = CHORD_MSG_C_LOOKUP_RESULT;
    chord__metrics_client(n, m->type, r->status, 0);
    chord__reply(n, conn, r);
    free(r);
}

int chord__coord_internal(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m, chord_op_done_fn done,
                          uint64_t arg)
{
    if (n->coord.ops.live >= n->cfg.max_ops)
        return -EBUSY;
    struct op *o = op_new(n, now, m);
    if (!o)
        return -ENOMEM;
    o->done = done;
    o->done_arg = arg;
    op_start(n, now, o);
    return 0;
}

void chord__coord_store(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m)
{
    struct chord_reply_to to = {.done = store_done,
                                .op = 0,
                                .req = m->req_id,
                                .want_state =
                                    (m->causal & CHORD_CAUSAL_WANT) != 0};
    memcpy(to.addr, m->from.addr, CHORD_ADDR_MAX);
    store_execute(n, now, m, &to);
}

void chord__coord_answer(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_msg *m)
{
    if (r->kind != RPC_STORE || m->type != CHORD_MSG_STORE_RESULT)
        return;
    struct op *o = chord_seq_find(&n->coord.ops, r->arg);
    if (o && o->rpc == r->h.id)
        op_store_result(n, now, o, m->status, m->error, &m->hint, m->value.data,
                        m->value.len,
                        m->causal & CHORD_CAUSAL_STATE ? &m->state : NULL);
}

void chord__coord_failed(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const char *why)
{
    struct op *o = chord_seq_find(&n->coord.ops, r->arg);
    if (o && r->kind == RPC_STORE)
        rcache_drop(n, &o->key_id);
    if (o && o->rpc == r->h.id) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s: %s", r->peer.addr, why);
        op_retry_later(n, o, now, msg);
    }
}

void chord__coord_tick(struct chord_node *n, uint64_t now)
{
    /* Client operations past their deadline, then those due a retry. */
    struct op *o;
    while ((o = chord_seq_head(&n->coord.ops)) != NULL && o->deadline <= now) {
        char why[200];
        snprintf(why, sizeof(why),
                 "no answer from the ring within %u ms (%u attempts; last: %s)",
                 n->cfg.op_timeout_ms, o->attempts,
                 o->last_error[0] ? o->last_error : "no reply");
        op_reply(n, o, CHORD_UNAVAILABLE, why, NULL, 0, NULL);
    }
    if (n->coord.waiting) {
        uint64_t last = n->coord.ops.next_id;
        for (uint64_t id = n->coord.ops.first_id; id < last; id++) {
            struct op *w = chord_seq_find(&n->coord.ops, id);
            if (w && w->state == OP_WAIT && w->retry_at <= now)
                op_start(n, now, w); /* may finish w; never adds ops */
        }
    }
}

uint64_t chord__coord_deadline(const struct chord_node *n)
{
    uint64_t t = UINT64_MAX;
    const struct op *o = chord_seq_peek(&n->coord.ops);
    if (o)
        t = o->deadline;
    if (n->coord.waiting) {
        for (size_t i = 0; i < n->coord.ops.len; i++) {
            const struct op *w = chord_seq_at_const(&n->coord.ops, i);
            if (w->h.live && w->state == OP_WAIT && w->retry_at < t)
                t = w->retry_at;
        }
    }
    return t;
}

void chord__coord_free(struct chord_coord *c)
{
    for (size_t i = 0; i < c->ops.len; i++) {
        struct op *o = chord_seq_at(&c->ops, i);
        if (o->h.live)
            op_free_buffers(o);
    }
    chord_seq_free(&c->ops);
    free(c->rcache);
    free(c->scratch);
}
