/*
 * wire.c - the binary codec of the protocol (frame header: see wire.h).
 *
 * Body primitives (big-endian): u8, u16, u32, u64; id = 20 raw bytes;
 * str = u16 length + bytes (no NUL inside; addresses at most
 * CHORD_ADDR_MAX-1 bytes, error text at most CHORD_ERRMSG_MAX-1);
 * bytes = u32 length + bytes; bool = u8 that is 0 or 1; peer = id, str;
 * version = u64 counter, id writer; path = u8 n (<= CHORD_PATH_MAX), n str;
 * neighbors = bool has_pred, [peer pred if has_pred], u8 n_succ
 * (<= CHORD_SUCC_MAX), n_succ peer.
 *
 * Body of each message type, fields in order:
 *
 *   type            body
 *   --------------  ------------------------------------------------------
 *   PING, PONG      peer from
 *   GET_NEIGHBORS   peer from
 *   NEIGHBORS       peer from, neighbors nb
 *   RECTIFY         peer from, u8 n_preds (<= CHORD_SUCC_MAX), n_preds peer
 *   JOIN            peer from
 *   JOIN_ACK        peer from, u8 status, peer hint, neighbors nb
 *   FIND_SUCC       peer from, id target, u8 hops, u8 lookup_flags
 *                   (only CHORD_LOOKUP_* bits), path
 *   FOUND_SUCC      peer from, u8 status, id target, peer owner,
 *                   id range_lo (the owner's range is (range_lo, owner]),
 *                   u8 hops, path
 *   STORE_PUT       peer from, bytes key, bytes value, u8 consistency
 *   STORE_GET/DEL   peer from, bytes key, u8 consistency
 *   STORE_RESULT    peer from, u8 status, str error, peer hint,
 *                   bool has_value, bytes value, version
 *   TRANSFER        peer from, u8 flags (only CHORD_TRANSFER_* bits),
 *                   u32 n_items, n_items item; an item is
 *                   bytes key, bool tombstone, bytes value (empty for a
 *                   tombstone), version
 *   TRANSFER_ACK    peer from
 *   LEAVE           peer from, neighbors nb
 *   LEAVE_ACK       peer from
 *   REPLICA_GET     peer from, bytes key
 *   SYNC            peer from, id lo, id hi, CHORD_SYNC_BUCKETS u64 digest
 *   SYNC_REPLY      peer from, u64 bucket_mask
 *   MERGE           peer from, peer owner (the other ring's contact), u8 hops
 *   C_PUT           bytes key, bytes value, u8 consistency
 *   C_GET/DEL       bytes key, u8 consistency
 *   C_LOOKUP        bytes key
 *   C_STATUS        (empty)
 *   C_RESULT        u8 status, str error, bytes value, [peer hint if
 *                   status is REDIRECT: the node to ask instead]
 *   C_LOOKUP_RESULT u8 status, str error, id key_id, peer owner, u8 hops,
 *                   path, [peer hint if status is REDIRECT]
 *   C_STATUS_RESULT peer self, u8 state, bool has_pred, [peer pred],
 *                   u8 n_succ, n_succ peer, u8 n_fingers (<= CHORD_ID_BITS),
 *                   n_fingers (id start, peer node), u64 keys,
 *                   u8 n_peers (<= CHORD_PEERS_MAX), n_peers (str addr,
 *                   u8 state, u32 rtt_ms, u32 timeout_ms,
 *                   u32 false_suspicions), u64 primary_keys,
 *                   u8 replicas, u8 durability (enum chord_durability)
 *
 * Keys are at most CHORD_KEY_MAX bytes, values CHORD_VALUE_MAX, and a
 * whole frame CHORD_FRAME_MAX. The encoding is canonical: the decoder
 * accepts exactly what the encoder produces (booleans 0/1, no trailing
 * bytes, no value in a tombstone), so decoding and re-encoding a frame
 * gives the same bytes.
 *
 * Invariants: the decoder reads through a bounds-checked cursor whose
 * error is sticky, allocates nothing and never reads past `len`; the
 * encoder writes through a sticky-error writer that refuses to grow a
 * frame past CHORD_FRAME_MAX and rolls the buffer back on any failure.
 * This file does no I/O and keeps no state.
 */
#include "core/wire.h"

#include <errno.h>
#include <string.h>

/* Smallest possible TRANSFER item: empty key and value, u8, version. */
#define ITEM_WIRE_MIN (4u + 1u + 4u + 8u + CHORD_ID_BYTES)

enum msg_class {
    MSG_UNKNOWN = 0,
    MSG_NODE,   /* node to node: body starts with `from` */
    MSG_CLIENT, /* client to node and back */
};

static enum msg_class msg_class_of(uint8_t type)
{
    if (type >= CHORD_MSG_PING && type <= CHORD_MSG_MERGE)
        return MSG_NODE;
    if (type >= CHORD_MSG_C_PUT && type <= CHORD_MSG_C_STATUS_RESULT)
        return MSG_CLIENT;
    return MSG_UNKNOWN;
}

bool chord_msg_is_client_request(uint8_t type)
{
    return type >= CHORD_MSG_C_PUT && type <= CHORD_MSG_C_STATUS;
}

const char *chord_msg_type_name(uint8_t type)
{
    switch (type) {
    case CHORD_MSG_PING:
        return "PING";
    case CHORD_MSG_PONG:
        return "PONG";
    case CHORD_MSG_GET_NEIGHBORS:
        return "GET_NEIGHBORS";
    case CHORD_MSG_NEIGHBORS:
        return "NEIGHBORS";
    case CHORD_MSG_RECTIFY:
        return "RECTIFY";
    case CHORD_MSG_JOIN:
        return "JOIN";
    case CHORD_MSG_JOIN_ACK:
        return "JOIN_ACK";
    case CHORD_MSG_FIND_SUCC:
        return "FIND_SUCC";
    case CHORD_MSG_FOUND_SUCC:
        return "FOUND_SUCC";
    case CHORD_MSG_STORE_PUT:
        return "STORE_PUT";
    case CHORD_MSG_STORE_GET:
        return "STORE_GET";
    case CHORD_MSG_STORE_DEL:
        return "STORE_DEL";
    case CHORD_MSG_STORE_RESULT:
        return "STORE_RESULT";
    case CHORD_MSG_TRANSFER:
        return "TRANSFER";
    case CHORD_MSG_TRANSFER_ACK:
        return "TRANSFER_ACK";
    case CHORD_MSG_LEAVE:
        return "LEAVE";
    case CHORD_MSG_LEAVE_ACK:
        return "LEAVE_ACK";
    case CHORD_MSG_REPLICA_GET:
        return "REPLICA_GET";
    case CHORD_MSG_SYNC:
        return "SYNC";
    case CHORD_MSG_SYNC_REPLY:
        return "SYNC_REPLY";
    case CHORD_MSG_MERGE:
        return "MERGE";
    case CHORD_MSG_C_PUT:
        return "C_PUT";
    case CHORD_MSG_C_GET:
        return "C_GET";
    case CHORD_MSG_C_DEL:
        return "C_DEL";
    case CHORD_MSG_C_LOOKUP:
        return "C_LOOKUP";
    case CHORD_MSG_C_STATUS:
        return "C_STATUS";
    case CHORD_MSG_C_RESULT:
        return "C_RESULT";
    case CHORD_MSG_C_LOOKUP_RESULT:
        return "C_LOOKUP_RESULT";
    case CHORD_MSG_C_STATUS_RESULT:
        return "C_STATUS_RESULT";
    default:
        return "?";
    }
}

/*
 * Contract in wire.h. The struct is about 15 KB, nearly all of it arrays
 * (successors, predecessors, two lookup paths, digests, error text) that
 * are read only up to their counts, so those are left as they are and
 * everything else is zeroed field by field; a field added to struct
 * chord_msg must be added here too (test_wire checks that a message built
 * over garbage encodes like one built over zeroes).
 */
static void msg_reset(struct chord_msg *m)
{
    static const struct chord_peer no_peer;
    static const struct chord_id no_id;
    static const struct chord_bytes no_bytes;
    static const struct chord_version no_version;

    m->type = 0;
    m->req_id = 0;
    m->from = no_peer;
    m->status = 0;
    m->hint = no_peer;
    m->nb.has_pred = false;
    m->nb.pred = no_peer;
    m->nb.n_succ = 0; /* nb.succ[] left as is */
    m->target = no_id;
    m->owner = no_peer;
    m->hops = 0;
    m->lookup_flags = 0;
    m->path.n = 0;  /* path.addr[] left as is */
    m->n_preds = 0; /* preds[] left as is */
    m->range_lo = no_id;
    m->range_hi = no_id;
    /* digest[] left as is: a SYNC sets all CHORD_SYNC_BUCKETS of them */
    m->bucket_mask = 0;
    m->consistency = 0;
    m->key = no_bytes;
    m->value = no_bytes;
    m->has_value = false;
    m->version = no_version;
    m->flags = 0;
    m->n_items = 0;
    m->items = NULL;
    m->items_raw = no_bytes;
    m->error[0] = '\0'; /* the rest of error[] left as is */
    m->lookup.key_id = no_id;
    m->lookup.owner = no_peer;
    m->lookup.hops = 0;
    m->lookup.path.n = 0; /* lookup.path.addr[] left as is */
    m->status_in = NULL;
    m->status_out = NULL;
}

void chord_msg_init(struct chord_msg *m, uint8_t type, uint64_t req_id)
{
    msg_reset(m);
    m->type = type;
    m->req_id = req_id;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

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

static void rd_item(struct rd *r, struct chord_item *it)
{
    rd_bytes(r, &it->key, CHORD_KEY_MAX);
    it->tombstone = rd_bool(r);
    rd_bytes(r, &it->value, CHORD_VALUE_MAX);
    if (it->tombstone && it->value.len != 0)
        r->bad = true;
    rd_version(r, &it->version);
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

    if (st && !r->bad) {
        st->n_succ = n_succ;
        st->n_fingers = n_fingers;
        st->keys = keys;
        st->n_peers = n_peers;
        st->primary_keys = primary_keys;
        st->replicas = replicas;
        st->durability = durability;
    }
}

/* The body of a TRANSFER after `from`: checks every item once. */
static void rd_transfer(struct rd *r, struct chord_msg *m)
{
    m->flags = rd_u8(r);
    if (m->flags & ~(CHORD_TRANSFER_LAST | CHORD_TRANSFER_HANDOFF |
                     CHORD_TRANSFER_REPLICA))
        r->bad = true;
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
    msg_reset(m); /* what chord_msg_init() zeroes; arrays are filled to
                     their decoded counts only */
    m->status_out = status_out;

    struct rd r = {buf + 4, flen, false};
    uint8_t version = rd_u8(&r);
    uint8_t type = rd_u8(&r);
    uint16_t flags = rd_u16(&r);
    m->req_id = rd_u64(&r);
    enum msg_class cls = msg_class_of(type);
    if (version != CHORD_PROTOCOL_VERSION || flags != 0 || cls == MSG_UNKNOWN)
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
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
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

    if (r.bad || r.left != 0)
        return CHORD_DECODE_MALFORMED;
    return (ssize_t)(4 + (size_t)flen);
}

ssize_t chord_frame_length(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return CHORD_DECODE_PARTIAL;
    uint32_t flen = get_be32(buf);
    if (flen > CHORD_FRAME_MAX - 4 || flen < CHORD_FRAME_HEADER - 4)
        return CHORD_DECODE_MALFORMED;
    if (len >= 8 &&
        (buf[4] != CHORD_PROTOCOL_VERSION ||
         msg_class_of(buf[5]) == MSG_UNKNOWN || buf[6] != 0 || buf[7] != 0))
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
        if (!w->err)
            w->err = -EMSGSIZE;
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
        if (!w->err)
            w->err = -EMSGSIZE;
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
        if (!w->err)
            w->err = -EINVAL;
        return;
    }
    wr_u8(w, c);
}

/* One item; a tombstone's value is written empty whatever it holds. */
static void wr_item(struct wr *w, const struct chord_item *it)
{
    static const struct chord_bytes empty = {NULL, 0};
    wr_bytes(w, &it->key, CHORD_KEY_MAX);
    wr_bool(w, it->tombstone);
    wr_bytes(w, it->tombstone ? &empty : &it->value, CHORD_VALUE_MAX);
    wr_version(w, &it->version);
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
}

/* Contract in wire.h. C_STATUS_RESULT needs status_in, TRANSFER items. */
int chord_msg_encode(const struct chord_msg *m, struct chord_buf *out)
{
    enum msg_class cls = msg_class_of(m->type);
    if (cls == MSG_UNKNOWN)
        return -EINVAL;
    if (m->type == CHORD_MSG_C_STATUS_RESULT && !m->status_in)
        return -EINVAL;
    if (m->type == CHORD_MSG_TRANSFER && m->n_items > 0 && !m->items)
        return -EINVAL;

    struct wr w = {out, out->len, 0};
    wr_u32(&w, 0); /* the length, patched below */
    wr_u8(&w, CHORD_PROTOCOL_VERSION);
    wr_u8(&w, m->type);
    wr_u16(&w, 0);
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
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
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
        wr_u32(&w, m->n_items);
        for (uint32_t i = 0; i < m->n_items && !w.err; i++)
            wr_item(&w, &m->items[i]);
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

int chord_item_decode(const uint8_t *buf, size_t len, struct chord_item *out)
{
    struct chord_bytes cur = {buf, len};
    if (chord_items_next(&cur, out) != 1 || cur.len != 0)
        return -EPROTO;
    return 0;
}

size_t chord_item_wire_size(const struct chord_item *it)
{
    return ITEM_WIRE_MIN + it->key.len + (it->tombstone ? 0 : it->value.len);
}
