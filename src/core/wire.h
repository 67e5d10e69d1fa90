/*
 * wire.h - the binary protocol: one frame per message, for node-to-node
 * traffic and for clients alike.
 *
 * Frame layout (all integers big-endian):
 *
 *     u32 length    bytes that follow this field (so a frame is 4+length)
 *     u8  version   CHORD_PROTOCOL_VERSION
 *     u8  type      enum chord_msg_type
 *     u16 flags     low byte: CHORD_FRAME_MUTATION on a mutating
 *                   request whose body ends with a mutation trailer,
 *                   CHORD_FRAME_CAUSAL when a causal trailer follows
 *                   (after it), no other bit;
 *                   high byte: the virtual node of the receiving
 *                   process the frame is for (0 without vnodes; the
 *                   host stamps it from the "#i" of the address sent
 *                   to, see chord/addr.h), on any message type
 *     u64 req_id    matches a reply to its request
 *     ... body      depends on type, see wire.c
 *
 * Body primitives: u8/u16/u32/u64; id = 20 raw bytes; str = u16 length +
 * bytes (addresses, < CHORD_ADDR_MAX, no NUL inside); bytes = u32 length +
 * bytes (keys <= CHORD_KEY_MAX, values <= CHORD_VALUE_MAX); peer = id + str.
 *
 * The decoder is stateless and allocation-free (picohttpparser style): it
 * checks the length prefix against CHORD_FRAME_MAX before looking further,
 * checks every inner length against its cap and against the bytes left,
 * and rejects trailing bytes. Decoded keys, values and item lists point
 * into the caller's buffer (they are borrowed, valid while it is).
 */
#ifndef CHORD_WIRE_H
#define CHORD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chord/types.h"
#include "chord/buf.h"

#define CHORD_FRAME_HEADER 16u /* length field + version..req_id */

/* Frame header flag: the body ends with a mutation trailer (allowed on
 * the mutating requests: C_PUT, C_DEL, C_APPEND, C_LOCK and their STORE_
 * forms): u8 bits (1: request id, 2: fence), [16 client, u64 seq],
 * [str fence name (<= CHORD_LOCK_NAME_MAX), u64 fence]. */
#define CHORD_FRAME_MUTATION 0x0001u
/* The flag bits the decoder checks (the high byte is the vnode). */
#define CHORD_FRAME_FLAGS_LOW 0x00ffu
#define CHORD_MUT_RID 0x01u
#define CHORD_MUT_FENCE 0x02u

/* Frame header flag: the body ends with a causal trailer (after the
 * mutation trailer when both are there). Allowed on C_PUT, C_DEL, C_GET,
 * STORE_PUT, STORE_DEL, STORE_GET, REPLICA_GET (the request bits) and on
 * C_RESULT and STORE_RESULT (the STATE bit alone):
 *     u8 bits (CHORD_CAUSAL_*),
 *     [bytes context]  CONTEXT or IF_CONTEXT: a context (core/dvv.h),
 *                      <= CHORD_DVV_CONTEXT_MAX
 *     [bytes session]  SESSION: a context the answer must cover
 *     [u32 ttl_s]      TTL: the value lives this many seconds (> 0)
 *     [bytes state]    STATE: the key's state blob (core/dvv.h),
 *                      <= CHORD_DVV_STATE_MAX
 * CONTEXT and IF_CONTEXT exclude each other; IF_CONTEXT and IF_ABSENT
 * too. WANT carries no field: "reply with STATE" (a GET or write that
 * needs nothing else sends bits = WANT). The bits are never 0 (`causal`
 * 0 is "no trailer"). */
#define CHORD_FRAME_CAUSAL 0x0002u
#define CHORD_CAUSAL_CONTEXT 0x01u    /* the write supersedes what it saw */
#define CHORD_CAUSAL_IF_CONTEXT 0x02u /* ... and only if nothing else came */
#define CHORD_CAUSAL_IF_ABSENT 0x04u  /* only if the key has no live value */
#define CHORD_CAUSAL_SESSION 0x08u    /* answer with state covering this */
#define CHORD_CAUSAL_TTL 0x10u        /* the value expires */
#define CHORD_CAUSAL_STATE 0x20u      /* a reply: the key's whole state */
#define CHORD_CAUSAL_WANT 0x80u       /* reply with STATE; no field */
#define CHORD_CAUSAL_REQUEST_BITS 0x9fu

#define CHORD_DECODE_MALFORMED (-1)
#define CHORD_DECODE_PARTIAL (-2)

enum chord_msg_type {
    /* Node to node. Every one of these carries `from`, the sender. */
    CHORD_MSG_PING = 1, /* -> PONG */
    CHORD_MSG_PONG = 2,
    CHORD_MSG_GET_NEIGHBORS = 3, /* -> NEIGHBORS */
    CHORD_MSG_NEIGHBORS = 4,     /* neighbors */
    CHORD_MSG_RECTIFY = 5,       /* "I may be your predecessor"; no reply */
    CHORD_MSG_JOIN = 6,          /* -> JOIN_ACK, then TRANSFERs */
    CHORD_MSG_JOIN_ACK = 7,      /* status (OK|REDIRECT), neighbors, hint */
    CHORD_MSG_FIND_SUCC = 8,     /* lookup: forwarded hop to hop */
    CHORD_MSG_FOUND_SUCC = 9,    /* lookup result, straight to the origin */
    CHORD_MSG_STORE_PUT = 10,    /* key, value -> STORE_RESULT */
    CHORD_MSG_STORE_GET = 11,    /* key -> STORE_RESULT */
    CHORD_MSG_STORE_DEL = 12,    /* key -> STORE_RESULT */
    CHORD_MSG_STORE_RESULT = 13, /* status, hint, value, version */
    CHORD_MSG_TRANSFER = 14,     /* flags, items -> TRANSFER_ACK */
    CHORD_MSG_TRANSFER_ACK = 15,
    CHORD_MSG_LEAVE = 16, /* neighbors of the leaver -> LEAVE_ACK */
    CHORD_MSG_LEAVE_ACK = 17,
    CHORD_MSG_REPLICA_GET = 18,   /* key -> STORE_RESULT, no owner check */
    CHORD_MSG_SYNC = 19,          /* range, bucket digests -> SYNC_REPLY */
    CHORD_MSG_SYNC_REPLY = 20,    /* mask of buckets that differ */
    CHORD_MSG_MERGE = 21,         /* ring unification: `from` started the wave,
                                     `owner` is a node of the other ring, `hops`
                                     the nodes it passed; req_id names the wave;
                                     no reply */
    CHORD_MSG_STORE_RESTORE = 22, /* key, value, version -> STORE_RESULT:
                                     apply that version if it is newer */
    CHORD_MSG_STORE_APPEND = 23,  /* key, value -> STORE_RESULT */
    CHORD_MSG_STORE_LOCK = 24,    /* a lock operation -> STORE_RESULT */

    /* Client to node and back. No `from`. */
    CHORD_MSG_C_PUT = 64,           /* key, value -> C_RESULT */
    CHORD_MSG_C_GET = 65,           /* key -> C_RESULT with value */
    CHORD_MSG_C_DEL = 66,           /* key -> C_RESULT */
    CHORD_MSG_C_LOOKUP = 67,        /* key -> C_LOOKUP_RESULT */
    CHORD_MSG_C_STATUS = 68,        /* -> C_STATUS_RESULT */
    CHORD_MSG_C_RESULT = 69,        /* status, value, error text, hint */
    CHORD_MSG_C_LOOKUP_RESULT = 70, /* status, error text, lookup, hint */
    CHORD_MSG_C_STATUS_RESULT = 71, /* status report */
    CHORD_MSG_C_SCAN = 72,          /* after, max_bytes -> C_SCAN_RESULT */
    CHORD_MSG_C_SCAN_RESULT = 73,   /* the owner's range, a page of items */
    CHORD_MSG_C_RESTORE = 74,       /* key, value, version -> C_RESULT */
    CHORD_MSG_C_APPEND = 75,        /* key, value -> C_RESULT */
    CHORD_MSG_C_LOCK = 76,          /* a lock operation -> C_RESULT, value
                                       the lock's state (chord/lock.h) */
};

/* Is `type` a mutating request (one that may carry a mutation trailer)? */
bool chord_msg_is_mutation(uint8_t type);

/* Is `type` one a client may send (C_PUT .. C_STATUS, C_SCAN,
 * C_RESTORE, C_APPEND, C_LOCK)? */
bool chord_msg_is_client_request(uint8_t type);
/* A name for logs ("FIND_SUCC"), "?" if unknown. */
const char *chord_msg_type_name(uint8_t type);

struct chord_bytes {
    const uint8_t *data; /* borrowed */
    size_t len;
};

/* One stored key as it travels in a TRANSFER (and in a log record).
 * Zero it before filling it in: the optional parts are off when zero. */
struct chord_item {
    struct chord_bytes key;
    struct chord_bytes value; /* empty for tombstones */
    struct chord_version version;
    bool tombstone;
    /* The request that made this version (a write with a request id):
     * whoever applies it records the id, so a retry is known anywhere the
     * change went (core/dedup.h). */
    bool has_origin;
    struct chord_rid origin;
    /* The newest fence written to this key: a fenced write older than it
     * is refused. fence_name is a hash of the lock's name. */
    bool has_fence;
    uint64_t fence_name;
    uint64_t fence;
    /* Version vectors (core/dvv.h). A key whose state is not simple
     * travels as its state blob in `state` (version is then its newest
     * dot, value empty, tombstone "no live value"); a simple one as
     * version, value or tombstone and `deadline` (wall-clock ms the value
     * lives until, 0: no TTL). `legacy` marks an item decoded from the
     * format before version vectors (no CAUSAL item flag): it is ordered
     * by its Lamport version alone (chord_dvv_merge_legacy). Encoding
     * writes the legacy format when it is set (for tests of old data). */
    struct chord_bytes state;
    uint64_t deadline;
    bool legacy;
};

/* Item flag bits (the byte after the key). Items without ITEM_CAUSAL are
 * the legacy format (bits 1, 2, 4 only). */
#define CHORD_ITEM_TOMBSTONE 0x01u
#define CHORD_ITEM_ORIGIN 0x02u
#define CHORD_ITEM_FENCE 0x04u
#define CHORD_ITEM_CAUSAL 0x08u   /* a version-vector era item */
#define CHORD_ITEM_STATE 0x10u    /* bytes state follows (<= STATE_MAX) */
#define CHORD_ITEM_DEADLINE 0x20u /* u64 deadline follows */

/* TRANSFER flags. */
#define CHORD_TRANSFER_LAST 0x01    /* the final batch of this transfer */
#define CHORD_TRANSFER_HANDOFF 0x02 /* from a leaving node */
#define CHORD_TRANSFER_REPLICA                                                 \
    0x04 /* copies for a replica (writes, repair)                              \
          */

/* FIND_SUCC flags. */
#define CHORD_LOOKUP_TO_OWNER                                                  \
    0x01 /* the owner itself must answer: the node                             \
            before it forwards instead of naming it */
#define CHORD_LOOKUP_FINAL                                                     \
    0x02 /* with TO_OWNER: the sender takes the                                \
            receiver for the owner */
#define CHORD_LOOKUP_FLAGS_ALL (CHORD_LOOKUP_TO_OWNER | CHORD_LOOKUP_FINAL)

/* Anti-entropy compares a key range in this many buckets. */
#define CHORD_SYNC_BUCKETS 64

struct chord_neighbors {
    bool has_pred;
    struct chord_peer pred;
    uint8_t n_succ; /* <= CHORD_SUCC_MAX */
    struct chord_peer succ[CHORD_SUCC_MAX];
};

struct chord_msg {
    uint8_t type;
    uint64_t req_id;
    struct chord_peer from; /* node-to-node types only */

    /* Fields below are used by the types noted; others stay as
     * chord_msg_init() left them: zero, except the elements of the arrays
     * (nb.succ, path.addr, preds, digest, error past its NUL,
     * lookup.path.addr), which are not initialised. The encoder reads an
     * array only up to its count (n_succ, path.n, n_preds, lookup.path.n,
     * the NUL of error), except digest: a SYNC must set all
     * CHORD_SYNC_BUCKETS of them. */
    uint8_t status; /* JOIN_ACK, FOUND_SUCC, STORE_RESULT, C_* results */
    struct chord_peer hint;    /* JOIN_ACK, STORE_RESULT, and C_RESULT and
                                  C_LOOKUP_RESULT when status is REDIRECT (a
                                  node that does not serve now names one that
                                  does): where to go instead */
    struct chord_neighbors nb; /* NEIGHBORS, JOIN_ACK, LEAVE */

    /* FIND_SUCC (target, hops, path) and FOUND_SUCC (+ owner). `from` of a
     * FIND_SUCC is the origin, which the answer goes to. MERGE: owner and
     * hops. */
    struct chord_id target;
    struct chord_peer owner;
    uint8_t hops;
    uint8_t lookup_flags; /* FIND_SUCC: CHORD_LOOKUP_* */
    struct chord_lookup_path path;

    /* RECTIFY: the sender's predecessors, nearest first. */
    uint8_t n_preds; /* <= CHORD_SUCC_MAX */
    struct chord_peer preds[CHORD_SUCC_MAX];

    /* FOUND_SUCC: range_lo, the start of the owner's range (lo, owner].
     * SYNC: the range (lo, hi] and one digest per bucket; SYNC_REPLY: the
     * buckets that differ (bit i = bucket i). */
    struct chord_id range_lo, range_hi;
    uint64_t digest[CHORD_SYNC_BUCKETS];
    uint64_t bucket_mask;

    /* C_SCAN: the page starts after range_lo (the cursor) and holds at
     * most scan_max bytes of items (0: the node's page size).
     * C_SCAN_RESULT: the owner's range is (range_lo, owner.id]; the page
     * covers (the request's cursor, range_hi]; `hint` is the owner's
     * successor when status is OK (where the walk goes on), the node to
     * ask instead when it is REDIRECT; items as in TRANSFER. */
    uint32_t scan_max;

    /* C_PUT/GET/DEL and STORE_PUT/GET/DEL: enum chord_consistency. */
    uint8_t consistency;

    /* STORE_*, C_PUT/GET/DEL/LOOKUP, REPLICA_GET: key; STORE_PUT, C_PUT,
     * STORE_RESULT, C_RESULT: value. */
    struct chord_bytes key;
    struct chord_bytes value;
    bool has_value;               /* STORE_RESULT */
    struct chord_version version; /* STORE_RESULT, C_RESTORE,
                                     STORE_RESTORE */

    /* TRANSFER, C_SCAN_RESULT. To encode, set `items`/`n_items`, or
     * leave `items` NULL and set `items_raw` to n_items items already
     * encoded back to back (chord_item_encode; copied as they are); a
     * decoded message has `items_raw` (validated) to walk with
     * chord_items_next(). */
    uint8_t flags;
    uint32_t n_items;
    const struct chord_item *items;
    struct chord_bytes items_raw;

    /* Mutating requests with CHORD_FRAME_MUTATION: the request id and a
     * fence (the lock's name, borrowed, and its number). */
    bool has_rid;
    struct chord_rid rid;
    bool has_fence;
    struct chord_bytes fence_name;
    uint64_t fence;

    /* C_LOCK and STORE_LOCK: `key` is the lock's name; the operation
     * (enum chord_lock_op), the token (acquire: the waiter's client id,
     * fence 0), the lease asked for (0: the default), and for an append
     * key2 and value. */
    uint8_t lock_op;
    uint8_t lock_client[CHORD_CLIENT_ID_BYTES];
    uint64_t lock_fence;
    uint32_t lease_ms;
    struct chord_bytes key2;

    /* The causal trailer (CHORD_FRAME_CAUSAL): `causal` holds the
     * CHORD_CAUSAL_* bits present (0: no trailer); context, session and
     * state are borrowed blobs (core/dvv.h). */
    uint8_t causal;
    struct chord_bytes context;
    struct chord_bytes session;
    uint32_t ttl_s;
    struct chord_bytes state;

    /* C_RESULT, C_LOOKUP_RESULT, STORE_RESULT: a one-line error when
     * status != OK. */
    char error[CHORD_ERRMSG_MAX];

    /* C_LOOKUP_RESULT. */
    struct chord_lookup_result lookup;

    /* C_STATUS_RESULT: set to encode; decoding fills `status_out` when
     * the caller points it at storage, else skips the body after checking
     * it. Kept out of line: it is large. */
    const struct chord_status *status_in;
    struct chord_status *status_out;
};

/* Zero every field of *m but the array elements named in the struct (the
 * counts that cover them are zeroed, so an encoder reads none of them),
 * then set its type and request id. Cheap next to a memset of the whole
 * struct (about 15 KB, nearly all arrays). */
void chord_msg_init(struct chord_msg *m, uint8_t type, uint64_t req_id);

/*
 * Append one encoded frame for *m to `out`. Returns 0, -EMSGSIZE when a
 * field is over its cap or the frame over CHORD_FRAME_MAX (nothing is
 * appended then), -EINVAL for an unknown type or a field the decoder
 * would refuse (causal bits the type does not allow or that exclude each
 * other, an empty context, ttl_s 0, a legacy item with a deadline or a
 * state...), or -ENOMEM.
 */
int chord_msg_encode(const struct chord_msg *m, struct chord_buf *out);

/*
 * Decode the frame at the start of buf[0..len). Returns the number of bytes
 * it used (> 0), CHORD_DECODE_PARTIAL when the frame is not complete yet,
 * or CHORD_DECODE_MALFORMED. A PARTIAL answer is given as soon as the
 * length prefix is known to be acceptable, without scanning the body, so a
 * transport may call this after every read at no quadratic cost.
 * Only `m->status_out` is read from *m; everything else is reset as by
 * chord_msg_init() and then filled from the frame: arrays up to their
 * decoded counts, the elements beyond them left as they were.
 */
ssize_t chord_msg_decode(const uint8_t *buf, size_t len, struct chord_msg *m);

/*
 * The length of the frame at the start of buf[0..len), judged from its
 * header alone (length cap, version, flags, known type): > 0 when the
 * whole frame is there, CHORD_DECODE_PARTIAL, or CHORD_DECODE_MALFORMED.
 * The body is not checked: a transport splits frames with this and the
 * receiver decodes each one once.
 */
ssize_t chord_frame_length(const uint8_t *buf, size_t len);

/* The virtual node a whole frame's header names (the high byte of its
 * flags; 0 by default), and stamping it into an encoded frame. */
unsigned chord_frame_vnode(const uint8_t *frame);
void chord_frame_set_vnode(uint8_t *frame, unsigned vnode);

/*
 * The sender a node-to-node frame claims (its `from`) and its message type
 * (enum chord_msg_type), read from the header and the start of the body
 * without decoding the rest: 0 with *out and *type filled, or -EINVAL when
 * frame[0..len) is not a node-to-node frame whose `from` decodes (a client
 * frame, a bad header, a bad address).
 */
int chord_frame_from(const uint8_t *frame, size_t len, struct chord_peer *out,
                     uint8_t *type);

/*
 * Walk a decoded TRANSFER's items: set *cur = m->items_raw first, then call
 * until it returns 0. Returns 1 with *out filled (borrowing from the
 * frame), 0 at the end, -1 if malformed (cannot happen for a cursor taken
 * from a successfully decoded message).
 */
int chord_items_next(struct chord_bytes *cur, struct chord_item *out);

/* One item alone, without a frame (a log record's payload): append its
 * encoding to `out`; 0, -EMSGSIZE (over a cap; nothing appended), -EINVAL
 * (a legacy item with a deadline or a state), -ENOMEM.
 * Decode exactly `len` bytes of one item (borrowing from buf): 0 or
 * -EPROTO. */
int chord_item_encode(const struct chord_item *it, struct chord_buf *out);
int chord_item_decode(const uint8_t *buf, size_t len, struct chord_item *out);

/* Bytes one item takes on the wire (to size TRANSFER batches). */
size_t chord_item_wire_size(const struct chord_item *it);

#endif
