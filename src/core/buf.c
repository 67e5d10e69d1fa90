/*
 * buf.c - growable byte buffer (see buf.h). Geometric growth, a hard cap,
 * and memmove on consume: the transport consumes whole frames, so the
 * remainder is usually small.
 */
#include "chord/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void chord_buf_init(struct chord_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void chord_buf_free(struct chord_buf *b)
{
    free(b->data);
    chord_buf_init(b);
}

int chord_buf_reserve(struct chord_buf *b, size_t extra)
{
    if (extra > CHORD_BUF_LIMIT || b->len > CHORD_BUF_LIMIT - extra)
        return -EMSGSIZE;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > CHORD_BUF_LIMIT)
        cap = CHORD_BUF_LIMIT;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int chord_buf_append(struct chord_buf *b, const void *p, size_t n)
{
    int rc = chord_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void chord_buf_consume(struct chord_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
