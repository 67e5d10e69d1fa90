/*
 * frame.c - the public client codec (see include/chord/frame.h) over the
 * library's wire codec (core/wire.h).
 *
 * Both directions go through a struct chord_msg on the stack: it is large
 * (about 15 KB, nearly all arrays the client types never touch), but
 * chord_msg_init() and the decoder reset only its scalar fields, so a call
 * costs what the frame's bytes cost. Nothing is allocated here but the
 * room an encoded frame takes in the caller's buffer.
 *
 * Before decoding, the header alone is judged (chord_frame_length), and a
 * frame whose type byte is not one of the three client replies is refused
 * as soon as that byte is there, so garbage never waits for a body.
 *
 * It does not keep state between calls and does no I/O.
 */
#include "chord/frame.h"

#include <errno.h>
#include <string.h>

#include "core/wire.h"

/* The wire type of a request op, or 0 for an unknown op. */
static uint8_t op_type(uint8_t op)
{
    switch (op) {
    case CHORD_FRAME_PUT:
        return CHORD_MSG_C_PUT;
    case CHORD_FRAME_GET:
        return CHORD_MSG_C_GET;
    case CHORD_FRAME_DEL:
        return CHORD_MSG_C_DEL;
    case CHORD_FRAME_LOOKUP:
        return CHORD_MSG_C_LOOKUP;
    case CHORD_FRAME_STATUS:
        return CHORD_MSG_C_STATUS;
    default:
        return 0;
    }
}

/* The reply kind of a wire type, or 0 when it is not a client reply. */
static uint8_t reply_kind(uint8_t type)
{
    switch (type) {
    case CHORD_MSG_C_RESULT:
        return CHORD_FRAME_RESULT;
    case CHORD_MSG_C_LOOKUP_RESULT:
        return CHORD_FRAME_LOOKUP_RESULT;
    case CHORD_MSG_C_STATUS_RESULT:
        return CHORD_FRAME_STATUS_RESULT;
    default:
        return 0;
    }
}

int chord_frame_encode_request(const struct chord_frame_request *req,
                               struct chord_buf *out)
{
    uint8_t type = op_type(req->op);
    if (type == 0 || req->consistency > CHORD_CONSISTENCY_ALL)
        return -EINVAL;
    if ((req->key_len && !req->key) || (req->value_len && !req->value))
        return -EINVAL;
    if (req->key_len > CHORD_KEY_MAX || req->value_len > CHORD_VALUE_MAX)
        return -EMSGSIZE;
    struct chord_msg m;
    chord_msg_init(&m, type, req->req_id);
    if (type != CHORD_MSG_C_STATUS) {
        m.key.data = req->key;
        m.key.len = req->key_len;
    }
    if (type == CHORD_MSG_C_PUT) {
        m.value.data = req->value;
        m.value.len = req->value_len;
    }
    if (type == CHORD_MSG_C_PUT || type == CHORD_MSG_C_GET ||
        type == CHORD_MSG_C_DEL)
        m.consistency = req->consistency;
    return chord_msg_encode(&m, out);
}

int chord_frame_decode_reply(const uint8_t *buf, size_t len,
                             struct chord_frame_reply *out)
{
    /* The header first: a bad length, version or type is refused before
     * any body is awaited. The type byte is at offset 5. */
    ssize_t flen = chord_frame_length(buf, len);
    if (flen == CHORD_DECODE_MALFORMED)
        return -EPROTO;
    if (len > 5 && reply_kind(buf[5]) == 0)
        return -EPROTO;
    if (flen == CHORD_DECODE_PARTIAL)
        return -EAGAIN;

    struct chord_msg m;
    m.status_out = out->status_report;
    ssize_t used = chord_msg_decode(buf, len, &m);
    if (used == CHORD_DECODE_PARTIAL)
        return -EAGAIN; /* cannot happen: the whole frame is there */
    if (used < 0)
        return -EPROTO;

    out->kind = reply_kind(m.type);
    out->status = m.status;
    out->req_id = m.req_id;
    out->value = m.value.len ? m.value.data : NULL;
    out->value_len = m.value.len;
    size_t n = strnlen(m.error, sizeof m.error - 1);
    memcpy(out->error, m.error, n);
    out->error[n] = '\0';
    out->hint = m.hint; /* zero unless the status is REDIRECT */
    if (out->kind == CHORD_FRAME_LOOKUP_RESULT && out->lookup)
        *out->lookup = m.lookup;
    return (int)used;
}
