/*
 * wire_encode.c - messages to frames (the format is described in wire.c),
 * through a sticky-error writer that refuses to grow a frame past
 * CHORD_FRAME_MAX and rolls the buffer back on any failure.
 */
#include "core/wire.h"

#include <errno.h>
#include <string.h>

#include "chord/lock.h"
#include "core/dvv.h"
#include "core/wire_shared.h"

/* ---- encoding ---------------------------------------------------------- */

/*
 * A writer appending one frame, which began at b->len == start. The first
 * error sticks and later writes do nothing; a write that would take the
 * frame past CHORD_FRAME_MAX fails with -EMSGSIZE before growing the
 * buffer.
 */
struct wr {
    struct chord_buf *b;
    size_t start;
    int err;
};

/* Record the first error. */
static void wr_fail(struct wr *w, int err)
{
    if (!w->err)
        w->err = err;
}

static void wr_raw(struct wr *w, const void *p, size_t n)
{
    if (w->err)
        return;
    if (n > CHORD_FRAME_MAX - (w->b->len - w->start)) {
        w->err = -EMSGSIZE;
        return;
    }
    int rc = chord_buf_append(w->b, p, n);
    if (rc)
        w->err = rc;
}

static void wr_u8(struct wr *w, uint8_t v)
{
    wr_raw(w, &v, 1);
}

static void wr_u16(struct wr *w, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_raw(w, p, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
    uint8_t p[4];
    put_be32(p, v);
    wr_raw(w, p, 4);
}

static void wr_u64(struct wr *w, uint64_t v)
{
    uint8_t p[8];
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
    wr_raw(w, p, 8);
}

static void wr_bool(struct wr *w, bool v)
{
    wr_u8(w, v ? 1 : 0);
}

static void wr_id(struct wr *w, const struct chord_id *id)
{
    wr_raw(w, id->b, CHORD_ID_BYTES);
}

/* A C string held in a char[cap]: it must be NUL-terminated within it. */
static void wr_str(struct wr *w, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap) {
        wr_fail(w, -EMSGSIZE);
        return;
    }
    wr_u16(w, (uint16_t)n);
    wr_raw(w, s, n);
}

static void wr_bytes(struct wr *w, const struct chord_bytes *bytes, size_t max)
{
    if (w->err)
        return;
    if (bytes->len > max) {
        w->err = -EMSGSIZE;
        return;
    }
    if (bytes->len > 0 && !bytes->data) {
        w->err = -EINVAL;
        return;
    }
    wr_u32(w, (uint32_t)bytes->len);
    wr_raw(w, bytes->data, bytes->len);
}

static void wr_peer(struct wr *w, const struct chord_peer *peer)
{
    wr_id(w, &peer->id);
    wr_str(w, peer->addr, sizeof peer->addr);
}

static void wr_version(struct wr *w, const struct chord_version *v)
{
    wr_u64(w, v->counter);
    wr_id(w, &v->writer);
}

static void wr_count(struct wr *w, unsigned n, unsigned max)
{
    if (n > max) {
        wr_fail(w, -EMSGSIZE);
        return;
    }
    wr_u8(w, (uint8_t)n);
}

static void wr_neighbors(struct wr *w, const struct chord_neighbors *nb)
{
    wr_bool(w, nb->has_pred);
    if (nb->has_pred)
        wr_peer(w, &nb->pred);
    wr_count(w, nb->n_succ, CHORD_SUCC_MAX);
    for (unsigned i = 0; i < nb->n_succ && !w->err; i++)
        wr_peer(w, &nb->succ[i]);
}

static void wr_path(struct wr *w, const struct chord_lookup_path *path)
{
    wr_count(w, path->n, CHORD_PATH_MAX);
    for (unsigned i = 0; i < path->n && !w->err; i++)
        wr_str(w, path->addr[i], sizeof path->addr[i]);
}

static void wr_consistency(struct wr *w, uint8_t c)
{
    if (c > CHORD_CONSISTENCY_ALL) {
        wr_fail(w, -EINVAL);
        return;
    }
    wr_u8(w, c);
}

/* One item; a tombstone's value, or that of an item with a state, is
 * written empty whatever it holds. A legacy item is written in the format
 * before version vectors, which has no room for a deadline or a state. */
static void wr_item(struct wr *w, const struct chord_item *it)
{
    static const struct chord_bytes empty;
    bool has_state = it->state.len > 0;
    unsigned f = (it->tombstone ? CHORD_ITEM_TOMBSTONE : 0u) |
                 (it->has_origin ? CHORD_ITEM_ORIGIN : 0u) |
                 (it->has_fence ? CHORD_ITEM_FENCE : 0u);
    if (it->legacy && (has_state || it->deadline)) {
        wr_fail(w, -EINVAL);
        return;
    }
    if (!it->legacy)
        f |= CHORD_ITEM_CAUSAL | (has_state ? CHORD_ITEM_STATE : 0u) |
             (it->deadline ? CHORD_ITEM_DEADLINE : 0u);
    wr_bytes(w, &it->key, CHORD_KEY_MAX);
    wr_u8(w, (uint8_t)f);
    wr_bytes(w, it->tombstone || has_state ? &empty : &it->value,
             CHORD_VALUE_MAX);
    wr_version(w, &it->version);
    if (it->has_origin) {
        wr_raw(w, it->origin.client, CHORD_CLIENT_ID_BYTES);
        wr_u64(w, it->origin.seq);
    }
    if (it->has_fence) {
        wr_u64(w, it->fence_name);
        wr_u64(w, it->fence);
    }
    if (f & CHORD_ITEM_DEADLINE)
        wr_u64(w, it->deadline);
    if (f & CHORD_ITEM_STATE)
        wr_bytes(w, &it->state, CHORD_DVV_STATE_MAX);
}

/* The mutation trailer (CHORD_FRAME_MUTATION). */
static void wr_mutation(struct wr *w, const struct chord_msg *m)
{
    wr_u8(w, (uint8_t)((m->has_rid ? CHORD_MUT_RID : 0u) |
                       (m->has_fence ? CHORD_MUT_FENCE : 0u)));
    if (m->has_rid) {
        if (m->rid.seq == 0) { /* the decoder refuses it */
            wr_fail(w, -EINVAL);
            return;
        }
        wr_raw(w, m->rid.client, CHORD_CLIENT_ID_BYTES);
        wr_u64(w, m->rid.seq);
    }
    if (m->has_fence) {
        if (m->fence_name.len == 0 || m->fence_name.len > CHORD_LOCK_NAME_MAX ||
            !m->fence_name.data) {
            wr_fail(w, m->fence_name.len > CHORD_LOCK_NAME_MAX ? -EMSGSIZE
                                                               : -EINVAL);
            return;
        }
        wr_u16(w, (uint16_t)m->fence_name.len);
        wr_raw(w, m->fence_name.data, m->fence_name.len);
        wr_u64(w, m->fence);
    }
}

/* The causal trailer (CHORD_FRAME_CAUSAL), m->causal != 0; the fields
 * whose bit is off are not read. */
static void wr_causal(struct wr *w, const struct chord_msg *m)
{
    uint8_t bits = m->causal;
    int rc = chord__wire_causal_check(m->type, bits, m->context.len,
                                      m->session.len, m->ttl_s, m->state.len);
    if (rc) {
        wr_fail(w, rc);
        return;
    }
    wr_u8(w, bits);
    if (bits & (CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_IF_CONTEXT))
        wr_bytes(w, &m->context, CHORD_DVV_CONTEXT_MAX);
    if (bits & CHORD_CAUSAL_SESSION)
        wr_bytes(w, &m->session, CHORD_DVV_CONTEXT_MAX);
    if (bits & CHORD_CAUSAL_TTL)
        wr_u32(w, m->ttl_s);
    if (bits & CHORD_CAUSAL_STATE)
        wr_bytes(w, &m->state, CHORD_DVV_STATE_MAX);
}

/* The body of C_LOCK and STORE_LOCK (after `from`). */
static void wr_lock(struct wr *w, const struct chord_msg *m)
{
    if (m->key.len == 0 || m->key.len > CHORD_LOCK_NAME_MAX ||
        m->lock_op == 0 || m->lock_op > CHORD_LOCK_OP_MAX) {
        wr_fail(w, m->key.len > CHORD_LOCK_NAME_MAX ? -EMSGSIZE : -EINVAL);
        return;
    }
    wr_bytes(w, &m->key, CHORD_LOCK_NAME_MAX);
    wr_u8(w, m->lock_op);
    wr_raw(w, m->lock_client, CHORD_CLIENT_ID_BYTES);
    wr_u64(w, m->lock_fence);
    wr_u32(w, m->lease_ms);
    wr_bytes(w, &m->key2, CHORD_KEY_MAX);
    wr_bytes(w, &m->value, CHORD_VALUE_MAX);
    wr_consistency(w, m->consistency);
}

/* u32 n_items and the items (TRANSFER, C_SCAN_RESULT): from `items`, or
 * copied from `items_raw` when the caller encoded them already. */
static void wr_items(struct wr *w, const struct chord_msg *m)
{
    wr_u32(w, m->n_items);
    if (!m->items) {
        if (m->items_raw.len)
            wr_raw(w, m->items_raw.data, m->items_raw.len);
        return;
    }
    for (uint32_t i = 0; i < m->n_items && !w->err; i++)
        wr_item(w, &m->items[i]);
}

static void wr_status(struct wr *w, const struct chord_status *st)
{
    wr_peer(w, &st->self);
    wr_u8(w, st->state);
    wr_bool(w, st->has_pred);
    if (st->has_pred)
        wr_peer(w, &st->pred);
    wr_count(w, st->n_succ, CHORD_SUCC_MAX);
    for (unsigned i = 0; i < st->n_succ && !w->err; i++)
        wr_peer(w, &st->succ[i]);
    wr_count(w, st->n_fingers, CHORD_ID_BITS);
    for (unsigned i = 0; i < st->n_fingers && !w->err; i++) {
        wr_id(w, &st->fingers[i].start);
        wr_peer(w, &st->fingers[i].node);
    }
    wr_u64(w, st->keys);
    wr_count(w, st->n_peers, CHORD_PEERS_MAX);
    for (unsigned i = 0; i < st->n_peers && !w->err; i++) {
        const struct chord_peer_info *pi = &st->peers[i];
        wr_str(w, pi->addr, sizeof pi->addr);
        wr_u8(w, pi->state);
        wr_u32(w, pi->rtt_ms);
        wr_u32(w, pi->timeout_ms);
        wr_u32(w, pi->false_suspicions);
    }
    wr_u64(w, st->primary_keys);
    wr_u8(w, st->replicas);
    wr_u8(w, st->durability);
    wr_u64(w, st->status_served);
}

/* Contract in wire.h. C_STATUS_RESULT needs status_in; TRANSFER and
 * C_SCAN_RESULT need items (or items_raw). */
int chord_msg_encode(const struct chord_msg *m, struct chord_buf *out)
{
    enum msg_class cls = msg_class_of(m->type);
    if (cls == MSG_UNKNOWN)
        return -EINVAL;
    if (m->type == CHORD_MSG_C_STATUS_RESULT && !m->status_in)
        return -EINVAL;
    if ((m->type == CHORD_MSG_TRANSFER || m->type == CHORD_MSG_C_SCAN_RESULT) &&
        m->n_items > 0 && !m->items && m->items_raw.len == 0)
        return -EINVAL;

    struct wr w = {out, out->len, 0};
    wr_u32(&w, 0); /* the length, patched below */
    wr_u8(&w, CHORD_PROTOCOL_VERSION);
    bool mutation =
        chord_msg_is_mutation(m->type) && (m->has_rid || m->has_fence);
    wr_u8(&w, m->type);
    wr_u16(&w, (uint16_t)((mutation ? CHORD_FRAME_MUTATION : 0u) |
                          (m->causal ? CHORD_FRAME_CAUSAL : 0u)));
    wr_u64(&w, m->req_id);
    if (cls == MSG_NODE)
        wr_peer(&w, &m->from);

    switch (m->type) {
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_LEAVE:
        wr_neighbors(&w, &m->nb);
        break;
    case CHORD_MSG_JOIN_ACK:
        wr_u8(&w, m->status);
        wr_peer(&w, &m->hint);
        wr_neighbors(&w, &m->nb);
        break;
    case CHORD_MSG_FIND_SUCC:
        wr_id(&w, &m->target);
        wr_u8(&w, m->hops);
        wr_u8(&w, m->lookup_flags);
        wr_path(&w, &m->path);
        break;
    case CHORD_MSG_FOUND_SUCC:
        wr_u8(&w, m->status);
        wr_id(&w, &m->target);
        wr_peer(&w, &m->owner);
        wr_id(&w, &m->range_lo);
        wr_u8(&w, m->hops);
        wr_path(&w, &m->path);
        break;
    case CHORD_MSG_STORE_LOCK:
    case CHORD_MSG_C_LOCK:
        wr_lock(&w, m);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_C_APPEND:
        wr_bytes(&w, &m->key, CHORD_KEY_MAX);
        wr_bytes(&w, &m->value, CHORD_VALUE_MAX);
        wr_consistency(&w, m->consistency);
        break;
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_C_GET:
    case CHORD_MSG_C_DEL:
        wr_bytes(&w, &m->key, CHORD_KEY_MAX);
        wr_consistency(&w, m->consistency);
        break;
    case CHORD_MSG_C_LOOKUP:
    case CHORD_MSG_REPLICA_GET:
        wr_bytes(&w, &m->key, CHORD_KEY_MAX);
        break;
    case CHORD_MSG_RECTIFY:
        wr_count(&w, m->n_preds, CHORD_SUCC_MAX);
        for (unsigned i = 0; i < m->n_preds && !w.err; i++)
            wr_peer(&w, &m->preds[i]);
        break;
    case CHORD_MSG_SYNC:
        wr_id(&w, &m->range_lo);
        wr_id(&w, &m->range_hi);
        for (unsigned i = 0; i < CHORD_SYNC_BUCKETS; i++)
            wr_u64(&w, m->digest[i]);
        break;
    case CHORD_MSG_SYNC_REPLY:
        wr_u64(&w, m->bucket_mask);
        break;
    case CHORD_MSG_MERGE:
        wr_peer(&w, &m->owner);
        wr_u8(&w, m->hops);
        break;
    case CHORD_MSG_STORE_RESULT:
        wr_u8(&w, m->status);
        wr_str(&w, m->error, sizeof m->error);
        wr_peer(&w, &m->hint);
        wr_bool(&w, m->has_value);
        wr_bytes(&w, &m->value, CHORD_VALUE_MAX);
        wr_version(&w, &m->version);
        break;
    case CHORD_MSG_TRANSFER:
        if (m->flags & ~(CHORD_TRANSFER_LAST | CHORD_TRANSFER_HANDOFF |
                         CHORD_TRANSFER_REPLICA)) {
            w.err = -EINVAL;
            break;
        }
        wr_u8(&w, m->flags);
        wr_items(&w, m);
        break;
    case CHORD_MSG_STORE_RESTORE:
    case CHORD_MSG_C_RESTORE:
        wr_bytes(&w, &m->key, CHORD_KEY_MAX);
        wr_bytes(&w, &m->value, CHORD_VALUE_MAX);
        wr_version(&w, &m->version);
        wr_consistency(&w, m->consistency);
        break;
    case CHORD_MSG_C_SCAN:
        wr_id(&w, &m->range_lo);
        wr_u32(&w, m->scan_max);
        break;
    case CHORD_MSG_C_SCAN_RESULT:
        wr_u8(&w, m->status);
        wr_str(&w, m->error, sizeof m->error);
        wr_peer(&w, &m->hint);
        wr_id(&w, &m->range_lo);
        wr_peer(&w, &m->owner);
        wr_id(&w, &m->range_hi);
        wr_items(&w, m);
        break;
    case CHORD_MSG_C_RESULT:
        wr_u8(&w, m->status);
        wr_str(&w, m->error, sizeof m->error);
        wr_bytes(&w, &m->value, CHORD_VALUE_MAX);
        if (m->status == CHORD_REDIRECT)
            wr_peer(&w, &m->hint);
        break;
    case CHORD_MSG_C_LOOKUP_RESULT:
        wr_u8(&w, m->status);
        wr_str(&w, m->error, sizeof m->error);
        wr_id(&w, &m->lookup.key_id);
        wr_peer(&w, &m->lookup.owner);
        wr_u8(&w, m->lookup.hops);
        wr_path(&w, &m->lookup.path);
        if (m->status == CHORD_REDIRECT)
            wr_peer(&w, &m->hint);
        break;
    case CHORD_MSG_C_STATUS_RESULT:
        wr_status(&w, m->status_in);
        break;
    default: /* the types whose body is `from` alone, or empty */
        break;
    }
    if (mutation)
        wr_mutation(&w, m);
    if (m->causal)
        wr_causal(&w, m);

    if (w.err) {
        out->len = w.start;
        return w.err;
    }
    put_be32(out->data + w.start, (uint32_t)(out->len - w.start - 4));
    return 0;
}

int chord_item_encode(const struct chord_item *it, struct chord_buf *out)
{
    struct wr w = {out, out->len, 0};
    wr_item(&w, it);
    if (w.err) {
        out->len = w.start;
        return w.err;
    }
    return 0;
}
