/*
 * wire_decode.c - frames to messages (the format is described in wire.c):
 * a stateless, allocation-free decoder behind a bounds-checked cursor
 * whose error is sticky; every length is checked against its cap and the
 * bytes left before it is trusted.
 */
#include "core/wire.h"

#include <errno.h>
#include <string.h>

#include "chord/lock.h"
#include "core/dvv.h"
#include "core/wire_shared.h"

/* ---- decoding ---------------------------------------------------------- */

/*
 * A read cursor over p[0..left). Once `bad` is set every read fails and
 * returns zeroes, so a parser may run to its end and check `bad` once.
 */
struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
};

/* The next n bytes, or NULL (and the cursor marked bad) if fewer remain. */
static const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t rd_u8(struct rd *r)
{
    const uint8_t *p = rd_take(r, 1);
    return p ? p[0] : 0;
}

static uint16_t rd_u16(struct rd *r)
{
    const uint8_t *p = rd_take(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t rd_u32(struct rd *r)
{
    const uint8_t *p = rd_take(r, 4);
    return p ? get_be32(p) : 0;
}

static uint64_t rd_u64(struct rd *r)
{
    const uint8_t *p = rd_take(r, 8);
    return p ? (uint64_t)get_be32(p) << 32 | get_be32(p + 4) : 0;
}

/* A boolean: 0 or 1, anything else marks the cursor bad. */
static bool rd_bool(struct rd *r)
{
    uint8_t v = rd_u8(r);
    if (v > 1)
        r->bad = true;
    return v == 1;
}

static void rd_id(struct rd *r, struct chord_id *id)
{
    const uint8_t *p = rd_take(r, CHORD_ID_BYTES);
    if (p)
        memcpy(id->b, p, CHORD_ID_BYTES);
    else
        memset(id->b, 0, CHORD_ID_BYTES);
}

/*
 * A str into out[0..cap): at most cap-1 bytes, no NUL inside; the copy is
 * NUL-terminated (empty on failure).
 */
static void rd_str(struct rd *r, char *out, size_t cap)
{
    uint16_t n = rd_u16(r);
    out[0] = '\0';
    if (n > cap - 1) {
        r->bad = true;
        return;
    }
    const uint8_t *p = rd_take(r, n);
    if (!p || memchr(p, '\0', n)) {
        r->bad = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A bytes field of at most `max` bytes, borrowed from the frame. */
static void rd_bytes(struct rd *r, struct chord_bytes *out, size_t max)
{
    uint32_t n = rd_u32(r);
    out->data = NULL;
    out->len = 0;
    if (n > max) {
        r->bad = true;
        return;
    }
    const uint8_t *p = rd_take(r, n);
    if (p) {
        out->data = p;
        out->len = n;
    }
}

static void rd_peer(struct rd *r, struct chord_peer *peer)
{
    rd_id(r, &peer->id);
    rd_str(r, peer->addr, sizeof peer->addr);
}

static void rd_version(struct rd *r, struct chord_version *v)
{
    v->counter = rd_u64(r);
    rd_id(r, &v->writer);
}

static void rd_neighbors(struct rd *r, struct chord_neighbors *nb)
{
    nb->has_pred = rd_bool(r);
    if (nb->has_pred)
        rd_peer(r, &nb->pred);
    nb->n_succ = rd_u8(r);
    if (nb->n_succ > CHORD_SUCC_MAX) {
        r->bad = true;
        nb->n_succ = 0;
    }
    for (unsigned i = 0; i < nb->n_succ && !r->bad; i++)
        rd_peer(r, &nb->succ[i]);
}

static void rd_path(struct rd *r, struct chord_lookup_path *path)
{
    path->n = rd_u8(r);
    if (path->n > CHORD_PATH_MAX) {
        r->bad = true;
        path->n = 0;
    }
    for (unsigned i = 0; i < path->n && !r->bad; i++)
        rd_str(r, path->addr[i], sizeof path->addr[i]);
}

/* One item: the legacy format (no CAUSAL flag: bits 1, 2, 4 only, marked
 * `legacy`) or the version-vector one; optional parts are canonical (no
 * value beside a state or in a tombstone, no zero deadline, no empty
 * state). */
static void rd_item(struct rd *r, struct chord_item *it)
{
    memset(it, 0, sizeof *it);
    rd_bytes(r, &it->key, CHORD_KEY_MAX);
    uint8_t f = rd_u8(r);
    it->legacy = !(f & CHORD_ITEM_CAUSAL);
    if (f & ~(it->legacy ? ITEM_LEGACY_BITS : ITEM_CAUSAL_BITS))
        r->bad = true;
    it->tombstone = (f & CHORD_ITEM_TOMBSTONE) != 0;
    it->has_origin = (f & CHORD_ITEM_ORIGIN) != 0;
    it->has_fence = (f & CHORD_ITEM_FENCE) != 0;
    rd_bytes(r, &it->value, CHORD_VALUE_MAX);
    if ((it->tombstone || (f & CHORD_ITEM_STATE)) && it->value.len != 0)
        r->bad = true;
    rd_version(r, &it->version);
    if (it->has_origin) {
        const uint8_t *p = rd_take(r, CHORD_CLIENT_ID_BYTES);
        if (p)
            memcpy(it->origin.client, p, CHORD_CLIENT_ID_BYTES);
        it->origin.seq = rd_u64(r);
    }
    if (it->has_fence) {
        it->fence_name = rd_u64(r);
        it->fence = rd_u64(r);
    }
    if (f & CHORD_ITEM_DEADLINE) {
        it->deadline = rd_u64(r);
        if (it->deadline == 0)
            r->bad = true;
    }
    if (f & CHORD_ITEM_STATE) {
        rd_bytes(r, &it->state, CHORD_DVV_STATE_MAX);
        if (it->state.len == 0)
            r->bad = true;
    }
}

/* The mutation trailer (CHORD_FRAME_MUTATION). */
static void rd_mutation(struct rd *r, struct chord_msg *m)
{
    uint8_t bits = rd_u8(r);
    if (bits == 0 || (bits & ~(CHORD_MUT_RID | CHORD_MUT_FENCE)))
        r->bad = true;
    if (bits & CHORD_MUT_RID) {
        m->has_rid = true;
        const uint8_t *p = rd_take(r, CHORD_CLIENT_ID_BYTES);
        if (p)
            memcpy(m->rid.client, p, CHORD_CLIENT_ID_BYTES);
        m->rid.seq = rd_u64(r);
        if (m->rid.seq == 0)
            r->bad = true;
    }
    if (bits & CHORD_MUT_FENCE) {
        m->has_fence = true;
        uint16_t n = rd_u16(r);
        if (n == 0 || n > CHORD_LOCK_NAME_MAX)
            r->bad = true;
        const uint8_t *p = rd_take(r, n);
        if (p) {
            m->fence_name.data = p;
            m->fence_name.len = n;
        }
        m->fence = rd_u64(r);
    }
}

/* The causal trailer (CHORD_FRAME_CAUSAL), checked as the encoder
 * checks it. */
static void rd_causal(struct rd *r, struct chord_msg *m)
{
    uint8_t bits = rd_u8(r);
    m->causal = bits;
    if (bits & (CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_IF_CONTEXT))
        rd_bytes(r, &m->context, CHORD_DVV_CONTEXT_MAX);
    if (bits & CHORD_CAUSAL_SESSION)
        rd_bytes(r, &m->session, CHORD_DVV_CONTEXT_MAX);
    if (bits & CHORD_CAUSAL_TTL)
        m->ttl_s = rd_u32(r);
    if (bits & CHORD_CAUSAL_STATE)
        rd_bytes(r, &m->state, CHORD_DVV_STATE_MAX);
    if (chord__wire_causal_check(m->type, bits, m->context.len, m->session.len,
                                 m->ttl_s, m->state.len))
        r->bad = true;
}

/* The body of C_LOCK and STORE_LOCK (after `from`). */
static void rd_lock(struct rd *r, struct chord_msg *m)
{
    rd_bytes(r, &m->key, CHORD_LOCK_NAME_MAX);
    if (m->key.len == 0)
        r->bad = true;
    m->lock_op = rd_u8(r);
    if (m->lock_op == 0 || m->lock_op > CHORD_LOCK_OP_MAX)
        r->bad = true;
    const uint8_t *p = rd_take(r, CHORD_CLIENT_ID_BYTES);
    if (p)
        memcpy(m->lock_client, p, CHORD_CLIENT_ID_BYTES);
    m->lock_fence = rd_u64(r);
    m->lease_ms = rd_u32(r);
    rd_bytes(r, &m->key2, CHORD_KEY_MAX);
    rd_bytes(r, &m->value, CHORD_VALUE_MAX);
    m->consistency = rd_u8(r);
    if (m->consistency > CHORD_CONSISTENCY_ALL)
        r->bad = true;
}

/*
 * A status report, stored into *st when st is not NULL, else only checked.
 * Elements go through locals so that both cases share one parser without
 * needing a large scratch structure.
 */
static void rd_status(struct rd *r, struct chord_status *st)
{
    struct chord_peer peer;
    if (st)
        memset(st, 0, sizeof *st);

    rd_peer(r, &peer);
    uint8_t state = rd_u8(r);
    bool has_pred = rd_bool(r);
    if (st) {
        st->self = peer;
        st->state = state;
        st->has_pred = has_pred;
    }
    if (has_pred) {
        rd_peer(r, &peer);
        if (st)
            st->pred = peer;
    }

    uint8_t n_succ = rd_u8(r);
    if (n_succ > CHORD_SUCC_MAX)
        r->bad = true;
    for (unsigned i = 0; i < n_succ && !r->bad; i++) {
        rd_peer(r, &peer);
        if (st)
            st->succ[i] = peer;
    }

    uint8_t n_fingers = rd_u8(r);
    if (n_fingers > CHORD_ID_BITS)
        r->bad = true;
    for (unsigned i = 0; i < n_fingers && !r->bad; i++) {
        struct chord_id start;
        rd_id(r, &start);
        rd_peer(r, &peer);
        if (st) {
            st->fingers[i].start = start;
            st->fingers[i].node = peer;
        }
    }

    uint64_t keys = rd_u64(r);

    uint8_t n_peers = rd_u8(r);
    if (n_peers > CHORD_PEERS_MAX)
        r->bad = true;
    for (unsigned i = 0; i < n_peers && !r->bad; i++) {
        struct chord_peer_info pi;
        rd_str(r, pi.addr, sizeof pi.addr);
        pi.state = rd_u8(r);
        pi.rtt_ms = rd_u32(r);
        pi.timeout_ms = rd_u32(r);
        pi.false_suspicions = rd_u32(r);
        if (st)
            st->peers[i] = pi;
    }

    uint64_t primary_keys = rd_u64(r);
    uint8_t replicas = rd_u8(r);
    uint8_t durability = rd_u8(r);
    uint64_t status_served = rd_u64(r);

    if (st && !r->bad) {
        st->n_succ = n_succ;
        st->n_fingers = n_fingers;
        st->keys = keys;
        st->n_peers = n_peers;
        st->primary_keys = primary_keys;
        st->replicas = replicas;
        st->durability = durability;
        st->status_served = status_served;
    }
}

/* u32 n_items and the items (TRANSFER, C_SCAN_RESULT): checks every
 * item once; a decoded message walks them through items_raw. */
static void rd_items(struct rd *r, struct chord_msg *m)
{
    m->n_items = rd_u32(r);
    if (m->n_items > r->left / ITEM_WIRE_MIN)
        r->bad = true;
    if (r->bad)
        return;
    m->items_raw.data = r->p;
    for (uint32_t i = 0; i < m->n_items && !r->bad; i++) {
        struct chord_item it;
        rd_item(r, &it);
    }
    m->items_raw.len = (size_t)(r->p - m->items_raw.data);
}

/* The body of a TRANSFER after `from`. */
static void rd_transfer(struct rd *r, struct chord_msg *m)
{
    m->flags = rd_u8(r);
    if (m->flags & ~(CHORD_TRANSFER_LAST | CHORD_TRANSFER_HANDOFF |
                     CHORD_TRANSFER_REPLICA))
        r->bad = true;
    rd_items(r, m);
}

/*
 * Contract in wire.h. On PARTIAL, *m is not touched (so the call is
 * cheap); on MALFORMED its contents are unspecified, and so are those of
 * *m->status_out when the frame claimed to be a C_STATUS_RESULT.
 */
ssize_t chord_msg_decode(const uint8_t *buf, size_t len, struct chord_msg *m)
{
    if (len < 4)
        return CHORD_DECODE_PARTIAL;
    uint32_t flen = get_be32(buf);
    if (flen > CHORD_FRAME_MAX - 4 || flen < CHORD_FRAME_HEADER - 4)
        return CHORD_DECODE_MALFORMED;
    if (len - 4 < flen)
        return CHORD_DECODE_PARTIAL;

    struct chord_status *status_out = m->status_out;
    chord_msg_init(m, 0, 0); /* arrays are filled to their decoded counts
                                only */
    m->status_out = status_out;

    struct rd r = {buf + 4, flen, false};
    uint8_t version = rd_u8(&r);
    uint8_t type = rd_u8(&r);
    uint16_t flags = rd_u16(&r) & CHORD_FRAME_FLAGS_LOW; /* high: vnode */
    m->req_id = rd_u64(&r);
    enum msg_class cls = msg_class_of(type);
    if (version != CHORD_PROTOCOL_VERSION || cls == MSG_UNKNOWN ||
        !chord__wire_frame_flags_ok(type, flags))
        return CHORD_DECODE_MALFORMED;
    m->type = type;
    if (cls == MSG_NODE)
        rd_peer(&r, &m->from);

    switch (type) {
    case CHORD_MSG_RECTIFY:
        m->n_preds = rd_u8(&r);
        if (m->n_preds > CHORD_SUCC_MAX)
            r.bad = true;
        for (unsigned i = 0; i < m->n_preds && !r.bad; i++)
            rd_peer(&r, &m->preds[i]);
        break;
    case CHORD_MSG_REPLICA_GET:
        rd_bytes(&r, &m->key, CHORD_KEY_MAX);
        break;
    case CHORD_MSG_SYNC:
        rd_id(&r, &m->range_lo);
        rd_id(&r, &m->range_hi);
        for (unsigned i = 0; i < CHORD_SYNC_BUCKETS; i++)
            m->digest[i] = rd_u64(&r);
        break;
    case CHORD_MSG_SYNC_REPLY:
        m->bucket_mask = rd_u64(&r);
        break;
    case CHORD_MSG_MERGE:
        rd_peer(&r, &m->owner);
        m->hops = rd_u8(&r);
        break;
    case CHORD_MSG_PING:
    case CHORD_MSG_PONG:
    case CHORD_MSG_GET_NEIGHBORS:
    case CHORD_MSG_JOIN:
    case CHORD_MSG_TRANSFER_ACK:
    case CHORD_MSG_LEAVE_ACK:
    case CHORD_MSG_C_STATUS:
        break;
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_LEAVE:
        rd_neighbors(&r, &m->nb);
        break;
    case CHORD_MSG_JOIN_ACK:
        m->status = rd_u8(&r);
        rd_peer(&r, &m->hint);
        rd_neighbors(&r, &m->nb);
        break;
    case CHORD_MSG_FIND_SUCC:
        rd_id(&r, &m->target);
        m->hops = rd_u8(&r);
        m->lookup_flags = rd_u8(&r);
        if (m->lookup_flags & ~CHORD_LOOKUP_FLAGS_ALL)
            r.bad = true;
        rd_path(&r, &m->path);
        break;
    case CHORD_MSG_FOUND_SUCC:
        m->status = rd_u8(&r);
        rd_id(&r, &m->target);
        rd_peer(&r, &m->owner);
        rd_id(&r, &m->range_lo);
        m->hops = rd_u8(&r);
        rd_path(&r, &m->path);
        break;
    case CHORD_MSG_STORE_LOCK:
    case CHORD_MSG_C_LOCK:
        rd_lock(&r, m);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_C_APPEND:
        rd_bytes(&r, &m->key, CHORD_KEY_MAX);
        rd_bytes(&r, &m->value, CHORD_VALUE_MAX);
        m->consistency = rd_u8(&r);
        if (m->consistency > CHORD_CONSISTENCY_ALL)
            r.bad = true;
        break;
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_C_GET:
    case CHORD_MSG_C_DEL:
        rd_bytes(&r, &m->key, CHORD_KEY_MAX);
        m->consistency = rd_u8(&r);
        if (m->consistency > CHORD_CONSISTENCY_ALL)
            r.bad = true;
        break;
    case CHORD_MSG_C_LOOKUP:
        rd_bytes(&r, &m->key, CHORD_KEY_MAX);
        break;
    case CHORD_MSG_STORE_RESTORE:
    case CHORD_MSG_C_RESTORE:
        rd_bytes(&r, &m->key, CHORD_KEY_MAX);
        rd_bytes(&r, &m->value, CHORD_VALUE_MAX);
        rd_version(&r, &m->version);
        m->consistency = rd_u8(&r);
        if (m->consistency > CHORD_CONSISTENCY_ALL)
            r.bad = true;
        break;
    case CHORD_MSG_C_SCAN:
        rd_id(&r, &m->range_lo);
        m->scan_max = rd_u32(&r);
        break;
    case CHORD_MSG_C_SCAN_RESULT:
        m->status = rd_u8(&r);
        rd_str(&r, m->error, sizeof m->error);
        rd_peer(&r, &m->hint);
        rd_id(&r, &m->range_lo);
        rd_peer(&r, &m->owner);
        rd_id(&r, &m->range_hi);
        rd_items(&r, m);
        break;
    case CHORD_MSG_STORE_RESULT:
        m->status = rd_u8(&r);
        rd_str(&r, m->error, sizeof m->error);
        rd_peer(&r, &m->hint);
        m->has_value = rd_bool(&r);
        rd_bytes(&r, &m->value, CHORD_VALUE_MAX);
        rd_version(&r, &m->version);
        break;
    case CHORD_MSG_TRANSFER:
        rd_transfer(&r, m);
        break;
    case CHORD_MSG_C_RESULT:
        m->status = rd_u8(&r);
        rd_str(&r, m->error, sizeof m->error);
        rd_bytes(&r, &m->value, CHORD_VALUE_MAX);
        if (m->status == CHORD_REDIRECT)
            rd_peer(&r, &m->hint);
        break;
    case CHORD_MSG_C_LOOKUP_RESULT:
        m->status = rd_u8(&r);
        rd_str(&r, m->error, sizeof m->error);
        rd_id(&r, &m->lookup.key_id);
        rd_peer(&r, &m->lookup.owner);
        m->lookup.hops = rd_u8(&r);
        rd_path(&r, &m->lookup.path);
        if (m->status == CHORD_REDIRECT)
            rd_peer(&r, &m->hint);
        break;
    case CHORD_MSG_C_STATUS_RESULT:
        rd_status(&r, m->status_out);
        break;
    default:
        return CHORD_DECODE_MALFORMED;
    }
    if (flags & CHORD_FRAME_MUTATION)
        rd_mutation(&r, m);
    if (flags & CHORD_FRAME_CAUSAL)
        rd_causal(&r, m);

    if (r.bad || r.left != 0)
        return CHORD_DECODE_MALFORMED;
    return (ssize_t)(4 + (size_t)flen);
}

unsigned chord_frame_vnode(const uint8_t *frame)
{
    return frame[6];
}

void chord_frame_set_vnode(uint8_t *frame, unsigned vnode)
{
    frame[6] = (uint8_t)vnode;
}

ssize_t chord_frame_length(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return CHORD_DECODE_PARTIAL;
    uint32_t flen = get_be32(buf);
    if (flen > CHORD_FRAME_MAX - 4 || flen < CHORD_FRAME_HEADER - 4)
        return CHORD_DECODE_MALFORMED;
    if (len >= 8 && (buf[4] != CHORD_PROTOCOL_VERSION ||
                     msg_class_of(buf[5]) == MSG_UNKNOWN ||
                     !chord__wire_frame_flags_ok(buf[5], buf[7])))
        return CHORD_DECODE_MALFORMED;
    if (len - 4 < flen)
        return CHORD_DECODE_PARTIAL;
    return (ssize_t)(4 + (size_t)flen);
}

int chord_items_next(struct chord_bytes *cur, struct chord_item *out)
{
    if (cur->len == 0)
        return 0;
    struct rd r = {cur->data, cur->len, false};
    rd_item(&r, out);
    if (r.bad)
        return -1;
    cur->data = r.p;
    cur->len = r.left;
    return 1;
}

int chord_item_decode(const uint8_t *buf, size_t len, struct chord_item *out)
{
    struct chord_bytes cur = {buf, len};
    if (chord_items_next(&cur, out) != 1 || cur.len != 0)
        return -EPROTO;
    return 0;
}

int chord_frame_from(const uint8_t *frame, size_t len, struct chord_peer *out,
                     uint8_t *type)
{
    if (len < CHORD_FRAME_HEADER || frame[4] != CHORD_PROTOCOL_VERSION ||
        msg_class_of(frame[5]) != MSG_NODE)
        return -EINVAL;
    struct rd r = {frame + CHORD_FRAME_HEADER, len - CHORD_FRAME_HEADER, false};
    rd_peer(&r, out);
    *type = frame[5];
    return r.bad ? -EINVAL : 0;
}
