/*
 * buf.h - a growable byte buffer: the encoder's output and the transport's
 * per-connection read accumulator.
 *
 * Invariant: data[0..len) is valid; cap >= len. A zeroed struct is an
 * empty buffer. Growth is geometric; a request beyond `CHORD_BUF_LIMIT`
 * fails with -EMSGSIZE instead of allocating.
 */
#ifndef CHORD_BUF_H
#define CHORD_BUF_H

#include <stddef.h>
#include <stdint.h>

#define CHORD_BUF_LIMIT (64u << 20) /* no single buffer grows past 64 MiB */

struct chord_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void chord_buf_init(struct chord_buf *b);
void chord_buf_free(struct chord_buf *b);
/* Make room for `extra` more bytes: 0, -ENOMEM or -EMSGSIZE. */
int chord_buf_reserve(struct chord_buf *b, size_t extra);
/* Append a copy of `n` bytes: 0, -ENOMEM or -EMSGSIZE. */
int chord_buf_append(struct chord_buf *b, const void *p, size_t n);
/* Drop the first `n` bytes (n <= len), keeping the rest. */
void chord_buf_consume(struct chord_buf *b, size_t n);
/* Forget the contents, keep the memory. */
static inline void chord_buf_reset(struct chord_buf *b)
{
    b->len = 0;
}

#endif
