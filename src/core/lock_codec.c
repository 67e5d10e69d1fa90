/*
 * lock_codec.c - a lock's state to bytes and back, and the holder's token
 * to text and back (the format is in include/chord/lock.h).
 *
 * The encoder computes the record's size first and checks every cap
 * before it appends a byte, so a refused state leaves the buffer as it
 * was. The decoder reads through a bounds-checked cursor whose error is
 * sticky, checks every count against its cap and the bytes left before it
 * allocates, and accepts exactly one encoding of each state (no unknown
 * flag bits, no trailing bytes).
 *
 * Pure: no I/O.
 */
#include "chord/lock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Fixed part of a record: format, fence, flags, lease, released,
 * lease_left, n_waiters, n_queue (the holder's id comes on top). */
#define LOCK_FIXED (1u + 8u + 1u + 4u + 8u + 4u + 4u + 4u)
#define LOCK_WAITER_WIRE (CHORD_CLIENT_ID_BYTES + 4u)
#define LOCK_QUEUED_MIN (CHORD_CLIENT_ID_BYTES + 8u + 4u + 4u)

#define LOCK_FLAG_HELD 0x01u
#define LOCK_FLAG_RELEASING 0x02u
#define LOCK_FLAG_HISTORY 0x04u

/* ---- encoding ----------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    p = put_u32(p, (uint32_t)(v >> 32));
    return put_u32(p, (uint32_t)v);
}

static uint8_t *put_raw(uint8_t *p, const void *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

size_t chord_lock_queue_bytes(const struct chord_lock_state *s)
{
    size_t total = 0;
    for (size_t i = 0; i < s->n_queue; i++)
        total += s->queue[i].key_len + s->queue[i].value_len;
    return total;
}

/* The record's size, or 0 when a count or length is over its cap. */
static size_t encoded_size(const struct chord_lock_state *s)
{
    if (s->n_waiters > CHORD_LOCK_WAITERS_MAX ||
        s->n_queue > CHORD_LOCK_QUEUE_MAX || (s->n_waiters && !s->waiters) ||
        (s->n_queue && !s->queue))
        return 0;
    for (size_t i = 0; i < s->n_queue; i++) {
        const struct chord_lock_queued *q = &s->queue[i];
        if (q->key_len > CHORD_KEY_MAX || q->value_len > CHORD_VALUE_MAX ||
            (q->key_len && !q->key) || (q->value_len && !q->value))
            return 0;
    }
    size_t queue_bytes = chord_lock_queue_bytes(s);
    if (queue_bytes > CHORD_LOCK_QUEUE_BYTES)
        return 0;
    if (s->n_done > CHORD_LOCK_DONE_MAX)
        return 0;
    return LOCK_FIXED + (s->held ? CHORD_CLIENT_ID_BYTES : 0) +
           (s->n_done ? 1u + 8u * s->n_done : 0u) +
           s->n_waiters * LOCK_WAITER_WIRE + s->n_queue * LOCK_QUEUED_MIN +
           queue_bytes;
}

int chord_lock_state_encode(const struct chord_lock_state *s,
                            struct chord_buf *out)
{
    size_t size = encoded_size(s);
    if (size == 0)
        return -EMSGSIZE;
    int rc = chord_buf_reserve(out, size);
    if (rc)
        return rc;
    uint8_t *start = out->data + out->len;
    uint8_t *p = start;
    *p++ = CHORD_LOCK_FORMAT;
    p = put_u64(p, s->fence);
    *p++ = (uint8_t)((s->held ? LOCK_FLAG_HELD : 0u) |
                     (s->releasing ? LOCK_FLAG_RELEASING : 0u) |
                     (s->n_done ? LOCK_FLAG_HISTORY : 0u));
    if (s->held)
        p = put_raw(p, s->holder, CHORD_CLIENT_ID_BYTES);
    p = put_u32(p, s->lease_ms);
    p = put_u64(p, s->released);
    if (s->n_done) {
        *p++ = s->n_done;
        for (unsigned i = 0; i < s->n_done; i++)
            p = put_u64(p, s->done[i]);
    }
    p = put_u32(p, s->lease_left_ms);
    p = put_u32(p, (uint32_t)s->n_waiters);
    for (size_t i = 0; i < s->n_waiters; i++) {
        p = put_raw(p, s->waiters[i].client, CHORD_CLIENT_ID_BYTES);
        p = put_u32(p, s->waiters[i].lease_ms);
    }
    p = put_u32(p, (uint32_t)s->n_queue);
    for (size_t i = 0; i < s->n_queue; i++) {
        const struct chord_lock_queued *q = &s->queue[i];
        p = put_raw(p, q->client, CHORD_CLIENT_ID_BYTES);
        p = put_u64(p, q->seq);
        p = put_u32(p, (uint32_t)q->key_len);
        p = put_raw(p, q->key, q->key_len);
        p = put_u32(p, (uint32_t)q->value_len);
        p = put_raw(p, q->value, q->value_len);
    }
    out->len += (size_t)(p - start);
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* A read cursor over p[0..left); once bad, every read returns zeroes. */
struct cur {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct cur *c, size_t n)
{
    if (c->bad || n > c->left) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint8_t get_u8(struct cur *c)
{
    const uint8_t *p = take(c, 1);
    return p ? p[0] : 0;
}

static uint32_t get_u32(struct cur *c)
{
    const uint8_t *p = take(c, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                   (uint32_t)p[2] << 8 | (uint32_t)p[3]
             : 0;
}

static uint64_t get_u64(struct cur *c)
{
    uint64_t hi = get_u32(c);
    return hi << 32 | get_u32(c);
}

static void get_id(struct cur *c, uint8_t id[CHORD_CLIENT_ID_BYTES])
{
    const uint8_t *p = take(c, CHORD_CLIENT_ID_BYTES);
    if (p)
        memcpy(id, p, CHORD_CLIENT_ID_BYTES);
}

/* A bytes field of at most max bytes, borrowed from the buffer. */
static const uint8_t *get_bytes(struct cur *c, size_t max, size_t *len)
{
    uint32_t n = get_u32(c);
    *len = 0;
    if (n > max) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = take(c, n);
    if (p)
        *len = n;
    return p;
}

/* The waiters and the queue (their counts checked against the caps and
 * the bytes left before anything is allocated): 0, -EPROTO, -ENOMEM. */
static int get_lists(struct cur *c, struct chord_lock_state *s)
{
    uint32_t nw = get_u32(c);
    if (c->bad || nw > CHORD_LOCK_WAITERS_MAX ||
        nw > c->left / LOCK_WAITER_WIRE)
        return -EPROTO;
    if (nw) {
        s->waiters = calloc(nw, sizeof *s->waiters);
        if (!s->waiters)
            return -ENOMEM;
    }
    s->n_waiters = nw;
    for (uint32_t i = 0; i < nw; i++) {
        get_id(c, s->waiters[i].client);
        s->waiters[i].lease_ms = get_u32(c);
    }

    uint32_t nq = get_u32(c);
    if (c->bad || nq > CHORD_LOCK_QUEUE_MAX || nq > c->left / LOCK_QUEUED_MIN)
        return -EPROTO;
    if (nq) {
        s->queue = calloc(nq, sizeof *s->queue);
        if (!s->queue)
            return -ENOMEM;
    }
    s->n_queue = nq;
    size_t bytes = 0;
    for (uint32_t i = 0; i < nq && !c->bad; i++) {
        struct chord_lock_queued *q = &s->queue[i];
        get_id(c, q->client);
        q->seq = get_u64(c);
        q->key = get_bytes(c, CHORD_KEY_MAX, &q->key_len);
        q->value = get_bytes(c, CHORD_VALUE_MAX, &q->value_len);
        bytes += q->key_len + q->value_len;
        if (bytes > CHORD_LOCK_QUEUE_BYTES)
            c->bad = true;
    }
    return c->bad ? -EPROTO : 0;
}

int chord_lock_state_decode(const uint8_t *buf, size_t len,
                            struct chord_lock_state *s)
{
    memset(s, 0, sizeof *s);
    if (len == 0)
        return 0; /* never granted */
    struct cur c = {buf, len, false};
    uint8_t format = get_u8(&c);
    s->fence = get_u64(&c);
    uint8_t flags = get_u8(&c);
    if (format != CHORD_LOCK_FORMAT ||
        (flags & ~(LOCK_FLAG_HELD | LOCK_FLAG_RELEASING | LOCK_FLAG_HISTORY)))
        c.bad = true;
    s->held = (flags & LOCK_FLAG_HELD) != 0;
    s->releasing = (flags & LOCK_FLAG_RELEASING) != 0;
    if (s->held)
        get_id(&c, s->holder);
    s->lease_ms = get_u32(&c);
    s->released = get_u64(&c);
    if (flags & LOCK_FLAG_HISTORY) {
        uint8_t k = get_u8(&c);
        if (k == 0 || k > CHORD_LOCK_DONE_MAX)
            c.bad = true;
        for (unsigned i = 0; !c.bad && i < k; i++)
            s->done[i] = get_u64(&c);
        s->n_done = c.bad ? 0 : k;
    }
    s->lease_left_ms = get_u32(&c);
    int rc = c.bad ? -EPROTO : get_lists(&c, s);
    if (rc == 0 && c.left != 0)
        rc = -EPROTO; /* trailing bytes */
    if (rc)
        chord_lock_state_clear(s);
    return rc;
}

void chord_lock_state_clear(struct chord_lock_state *s)
{
    free(s->waiters);
    free(s->queue);
    memset(s, 0, sizeof *s);
}

/* ---- tokens ------------------------------------------------------------- */

int chord_lock_token_format(const struct chord_lock_token *t,
                            char out[CHORD_LOCK_TOKEN_MAX])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (size_t i = 0; i < CHORD_CLIENT_ID_BYTES; i++) {
        *p++ = hex[t->client[i] >> 4];
        *p++ = hex[t->client[i] & 0xf];
    }
    *p++ = ':';
    char digits[20];
    size_t n = 0;
    uint64_t f = t->fence;
    do {
        digits[n++] = (char)('0' + f % 10);
        f /= 10;
    } while (f);
    while (n)
        *p++ = digits[--n];
    *p = '\0';
    return (int)(p - out);
}

/* The value of one hex digit, or -1. */
static int hex_val(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int chord_lock_token_parse(const char *s, struct chord_lock_token *t)
{
    struct chord_lock_token tok;
    for (size_t i = 0; i < CHORD_CLIENT_ID_BYTES; i++) {
        int hi = hex_val(s[2 * i]);
        int lo = hi < 0 ? -1 : hex_val(s[2 * i + 1]);
        if (lo < 0)
            return -EINVAL;
        tok.client[i] = (uint8_t)(hi << 4 | lo);
    }
    const char *p = s + 2 * CHORD_CLIENT_ID_BYTES;
    if (*p++ != ':' || *p == '\0')
        return -EINVAL;
    uint64_t fence = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (fence > (UINT64_MAX - d) / 10)
            return -EINVAL; /* overflow */
        fence = fence * 10 + d;
    }
    if (fence == 0)
        return -EINVAL;
    tok.fence = fence;
    *t = tok;
    return 0;
}
