/*
 * frame.h - the client side of the wire protocol, without I/O: encode one
 * request into bytes, decode one reply from bytes. For programs that run
 * their own sockets (the `dht bench` load generator keeps thousands of
 * pipelined requests on one libuv loop); the blocking client
 * (chord/client.h) is the simpler way to make one call at a time.
 *
 * A request carries a request id chosen by the caller; the node echoes it
 * in the reply, and replies on one connection may come in any order, so
 * the id is how a reply finds its request.
 *
 * The decoder works like picohttpparser: it is stateless and allocates
 * nothing. Hand it the bytes received so far; it answers with the length
 * of the first frame when that frame is whole and well-formed, -EAGAIN
 * when more bytes are needed, or a negative errno when the bytes can never
 * become a reply (drop the connection then: the stream is lost). Every
 * length is checked against its cap (CHORD_FRAME_MAX and the others in
 * chord/types.h) before it is trusted, so an oversize length prefix is
 * refused as soon as its four bytes are there. What a reply points at
 * (its value) borrows from the caller's bytes.
 *
 * It does not open connections, match replies to requests, retry or
 * follow redirects: that is the caller's policy (a REDIRECT reply names
 * where to go in its `hint`).
 */
#ifndef CHORD_FRAME_H
#define CHORD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/types.h"

/* What a client asks a node. */
enum chord_frame_op {
    CHORD_FRAME_PUT = 1,    /* store value under key -> RESULT */
    CHORD_FRAME_GET = 2,    /* read key -> RESULT with the value */
    CHORD_FRAME_DEL = 3,    /* delete key -> RESULT */
    CHORD_FRAME_LOOKUP = 4, /* who owns key, by which route -> LOOKUP */
    CHORD_FRAME_STATUS = 5, /* the node's status report -> STATUS */
};

struct chord_frame_request {
    uint8_t op;          /* enum chord_frame_op */
    uint8_t consistency; /* put/get/del: enum chord_consistency (0: the
                            node's default, a quorum) */
    uint64_t req_id;     /* echoed in the reply */
    const void *key;     /* put/get/del/lookup: borrowed, key_len bytes */
    size_t key_len;      /* <= CHORD_KEY_MAX */
    const void *value;   /* put: borrowed, value_len bytes */
    size_t value_len;    /* <= CHORD_VALUE_MAX */
};

/*
 * Append the frame of one request to `out`. Returns 0; -EMSGSIZE when the
 * key or value is over its cap; -EINVAL for an unknown op, a consistency
 * level out of range, or a NULL pointer with a nonzero length; -ENOMEM.
 * On failure nothing is appended.
 */
int chord_frame_encode_request(const struct chord_frame_request *req,
                               struct chord_buf *out);

/* What a node answers. */
enum chord_frame_reply_kind {
    CHORD_FRAME_RESULT = 1,        /* to put, get, del */
    CHORD_FRAME_LOOKUP_RESULT = 2, /* to lookup */
    CHORD_FRAME_STATUS_RESULT = 3, /* to status */
};

struct chord_frame_reply {
    uint8_t kind;    /* enum chord_frame_reply_kind */
    uint8_t status;  /* enum chord_status_code (STATUS_RESULT: CHORD_OK) */
    uint64_t req_id; /* the request's id */
    /* RESULT: the value (a get's answer; empty otherwise), borrowed from
     * the bytes decoded. */
    const uint8_t *value;
    size_t value_len;
    /* The node's one-line explanation when status is not OK, else "". */
    char error[CHORD_ERRMSG_MAX];
    /* RESULT and LOOKUP_RESULT with status CHORD_REDIRECT: a node to ask
     * instead (a joining or leaving node names one that serves; its addr
     * may be "" when it knows none); all zero with any other status. */
    struct chord_peer hint;
    /* Where the bulky bodies go, set by the caller before decoding (they
     * are kept across calls): a LOOKUP_RESULT fills *lookup and a
     * STATUS_RESULT *status_report when not NULL; either body is checked
     * all the same. */
    struct chord_lookup_result *lookup;
    struct chord_status *status_report;
};

/*
 * Decode the reply frame at the start of buf[0..len). Returns the number
 * of bytes it takes (> 0) with *out filled; -EAGAIN when the frame is not
 * whole yet (*out untouched: call again with more bytes); or -EPROTO when
 * the bytes are not a well-formed client reply (a length over
 * CHORD_FRAME_MAX, a bad header, a request or node-to-node type, an inner
 * length over its cap or past the frame, trailing bytes). After -EPROTO,
 * *out (and the lookup or status report it points at) is unspecified.
 * Allocates nothing.
 */
int chord_frame_decode_reply(const uint8_t *buf, size_t len,
                             struct chord_frame_reply *out);

#endif
