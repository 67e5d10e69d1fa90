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
 *                   bytes key, u8 item flags (CHORD_ITEM_*: 1 tombstone,
 *                   2 origin, 4 fence, 8 causal, 16 state, 32 deadline),
 *                   bytes value (empty for a tombstone or with a state),
 *                   version, [16 client, u64 seq if origin],
 *                   [u64 fence name hash, u64 fence if fence],
 *                   [u64 deadline (> 0) if deadline],
 *                   [bytes state (1..CHORD_DVV_STATE_MAX) if state];
 *                   an item without the causal flag is the legacy format
 *                   (flags 1, 2, 4 only; decoded with `legacy` set), one
 *                   with it may carry state and deadline
 *   TRANSFER_ACK    peer from
 *   LEAVE           peer from, neighbors nb
 *   LEAVE_ACK       peer from
 *   REPLICA_GET     peer from, bytes key
 *   SYNC            peer from, id lo, id hi, CHORD_SYNC_BUCKETS u64 digest
 *   SYNC_REPLY      peer from, u64 bucket_mask
 *   MERGE           peer from, peer owner (the other ring's contact), u8 hops
 *   STORE_RESTORE   peer from, bytes key, bytes value, version,
 *                   u8 consistency
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
 *                   u8 replicas, u8 durability (enum chord_durability),
 *                   u64 status_served (status requests answered)
 *   C_SCAN          id after (the cursor: the page starts after it),
 *                   u32 max_bytes (0: the node's page size)
 *   C_SCAN_RESULT   u8 status, str error, peer hint, id range_lo,
 *                   peer owner, id range_hi, u32 n_items, n_items item
 *                   (as in TRANSFER; no tombstones on the way out, but the
 *                   decoder takes the item grammar as it is)
 *   C_RESTORE       bytes key, bytes value, version, u8 consistency
 *   STORE_APPEND    peer from, bytes key, bytes value, u8 consistency
 *   C_APPEND        bytes key, bytes value, u8 consistency
 *   C_LOCK          bytes name, u8 lock_op, 16 lock_client, u64 lock_fence,
 *                   u32 lease_ms, bytes key2, bytes value, u8 consistency
 *   STORE_LOCK      peer from, then as C_LOCK
 *
 * The mutating requests (C_PUT, C_DEL, C_APPEND, C_LOCK, STORE_PUT,
 * STORE_DEL, STORE_APPEND, STORE_LOCK) may set the header flag
 * CHORD_FRAME_MUTATION: their body then ends with the trailer wire.h
 * describes (request id, fence). C_PUT, C_DEL, C_GET, STORE_PUT,
 * STORE_DEL, STORE_GET, REPLICA_GET, C_RESULT and STORE_RESULT may set
 * CHORD_FRAME_CAUSAL: the causal trailer wire.h describes follows (after
 * the mutation trailer when both are there).
 *
 * Keys are at most CHORD_KEY_MAX bytes, values CHORD_VALUE_MAX, and a
 * whole frame CHORD_FRAME_MAX. The encoding is canonical: the decoder
 * accepts exactly what the encoder produces (booleans 0/1, no trailing
 * bytes, no value in a tombstone, no empty optional field), so decoding and
 * re-encoding a frame gives the same bytes.
 *
 * Invariants: the decoder reads through a bounds-checked cursor whose
 * error is sticky, allocates nothing and never reads past `len`; the
 * encoder writes through a sticky-error writer that refuses to grow a
 * frame past CHORD_FRAME_MAX and rolls the buffer back on any failure.
 * The codec is three files: wire.c (names, message reset, sizes, which
 * header flags and causal bits a type may carry), wire_decode.c and
 * wire_encode.c. It does no I/O and keeps no state.
 */
#include "core/wire.h"

#include <errno.h>
#include <string.h>

#include "core/dvv.h"
#include "core/wire_shared.h"

bool chord_msg_is_client_request(uint8_t type)
{
    return (type >= CHORD_MSG_C_PUT && type <= CHORD_MSG_C_STATUS) ||
           type == CHORD_MSG_C_SCAN || type == CHORD_MSG_C_RESTORE ||
           type == CHORD_MSG_C_APPEND || type == CHORD_MSG_C_LOCK;
}

bool chord_msg_is_mutation(uint8_t type)
{
    switch (type) {
    case CHORD_MSG_C_PUT:
    case CHORD_MSG_C_DEL:
    case CHORD_MSG_C_APPEND:
    case CHORD_MSG_C_LOCK:
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_STORE_LOCK:
        return true;
    default:
        return false;
    }
}

/* The types that may carry a causal trailer, and the bits each allows. */
static unsigned causal_bits_allowed(uint8_t type)
{
    switch (type) {
    case CHORD_MSG_C_PUT:
    case CHORD_MSG_C_DEL:
    case CHORD_MSG_C_GET:
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_REPLICA_GET:
        return CHORD_CAUSAL_REQUEST_BITS;
    case CHORD_MSG_C_RESULT:
    case CHORD_MSG_STORE_RESULT:
        return CHORD_CAUSAL_STATE;
    default:
        return 0;
    }
}

bool chord__wire_frame_flags_ok(uint8_t type, unsigned flags)
{
    if (flags & ~(CHORD_FRAME_MUTATION | CHORD_FRAME_CAUSAL))
        return false;
    if ((flags & CHORD_FRAME_MUTATION) && !chord_msg_is_mutation(type))
        return false;
    return !(flags & CHORD_FRAME_CAUSAL) || causal_bits_allowed(type) != 0;
}

/* A blob field of the causal trailer: present and within its cap. */
static int causal_blob_check(size_t len, size_t max)
{
    if (len == 0)
        return -EINVAL;
    return len > max ? -EMSGSIZE : 0;
}

int chord__wire_causal_check(uint8_t type, uint8_t bits, size_t context_len,
                             size_t session_len, uint32_t ttl_s,
                             size_t state_len)
{
    unsigned allowed = causal_bits_allowed(type);
    if (bits == 0 || (bits & ~allowed))
        return -EINVAL;
    /* The reply types allow STATE alone, and it must be there. */
    if (allowed == CHORD_CAUSAL_STATE && bits != CHORD_CAUSAL_STATE)
        return -EINVAL;
    if ((bits & CHORD_CAUSAL_CONTEXT) && (bits & CHORD_CAUSAL_IF_CONTEXT))
        return -EINVAL;
    if ((bits & CHORD_CAUSAL_IF_CONTEXT) && (bits & CHORD_CAUSAL_IF_ABSENT))
        return -EINVAL;
    if ((bits & CHORD_CAUSAL_TTL) && ttl_s == 0)
        return -EINVAL;
    int rc = 0;
    if (bits & (CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_IF_CONTEXT))
        rc = causal_blob_check(context_len, CHORD_DVV_CONTEXT_MAX);
    if (!rc && (bits & CHORD_CAUSAL_SESSION))
        rc = causal_blob_check(session_len, CHORD_DVV_CONTEXT_MAX);
    if (!rc && (bits & CHORD_CAUSAL_STATE))
        rc = causal_blob_check(state_len, CHORD_DVV_STATE_MAX);
    return rc;
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
    case CHORD_MSG_STORE_RESTORE:
        return "STORE_RESTORE";
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
    case CHORD_MSG_C_SCAN:
        return "C_SCAN";
    case CHORD_MSG_C_SCAN_RESULT:
        return "C_SCAN_RESULT";
    case CHORD_MSG_C_RESTORE:
        return "C_RESTORE";
    case CHORD_MSG_C_APPEND:
        return "C_APPEND";
    case CHORD_MSG_C_LOCK:
        return "C_LOCK";
    case CHORD_MSG_STORE_APPEND:
        return "STORE_APPEND";
    case CHORD_MSG_STORE_LOCK:
        return "STORE_LOCK";
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
    m->scan_max = 0;
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
    m->has_rid = false;
    memset(&m->rid, 0, sizeof m->rid);
    m->has_fence = false;
    m->fence_name = no_bytes;
    m->fence = 0;
    m->lock_op = 0;
    memset(m->lock_client, 0, sizeof m->lock_client);
    m->lock_fence = 0;
    m->lease_ms = 0;
    m->key2 = no_bytes;
    m->causal = 0;
    m->context = no_bytes;
    m->session = no_bytes;
    m->ttl_s = 0;
    m->state = no_bytes;
}

void chord_msg_init(struct chord_msg *m, uint8_t type, uint64_t req_id)
{
    msg_reset(m);
    m->type = type;
    m->req_id = req_id;
}

size_t chord_item_wire_size(const struct chord_item *it)
{
    bool has_state = it->state.len > 0;
    return ITEM_WIRE_MIN + it->key.len +
           (it->tombstone || has_state ? 0 : it->value.len) +
           (it->has_origin ? CHORD_CLIENT_ID_BYTES + 8u : 0) +
           (it->has_fence ? 16u : 0) + (it->deadline ? 8u : 0) +
           (has_state ? 4u + it->state.len : 0);
}
