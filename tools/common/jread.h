/*
 * jread.h - a small pull reader of JSON text already in memory, for the
 * tools that read back what json.h wrote (dht-viz --input reads the
 * arrays of `dht ring --json` and `dht-sim --snapshot`).
 *
 * The caller walks the document in the order it expects: "begin object",
 * "next key", "string", "number", "skip this value". Nothing is
 * allocated: strings are copied into the caller's buffer, cut to its
 * size. Commas, colons and white space are checked by the reader.
 *
 * Invariants: the first error is sticky (every later call does nothing
 * and returns a failure) and remembers its byte offset, so the caller
 * prints one line "LINE:COLUMN: what was expected"; skipped values nest
 * at most CHORD_JREAD_DEPTH_MAX deep; the reader never reads past the
 * end it was given.
 *
 * It does not build a tree, check that keys are unique, or decode
 * \u escapes beyond ASCII (others become '?').
 */
#ifndef CHORD_TOOLS_JREAD_H
#define CHORD_TOOLS_JREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHORD_JREAD_DEPTH_MAX 64u
#define CHORD_JREAD_MSG_MAX 96u

struct chord_jread {
    const char *text; /* the document (borrowed) */
    size_t len, pos;
    bool fresh; /* just inside '{' or '[': no comma before the next item */
    int err;    /* 0, or -EINVAL once something unexpected was met */
    size_t err_pos;
    char msg[CHORD_JREAD_MSG_MAX];
};

/* Start reading `len` bytes of `text` (borrowed; need not end in NUL). */
void chord_jread_init(struct chord_jread *r, const char *text, size_t len);

/* Consume '{' or fail. 0 or -EINVAL. */
int chord_jread_obj_begin(struct chord_jread *r);

/* The next member's name into key (cut to size - 1 bytes, NUL-ended),
 * with its ':' consumed: true. At the closing '}' (consumed) or on an
 * error: false. */
bool chord_jread_obj_next(struct chord_jread *r, char *key, size_t size);

/* Consume '[' or fail. 0 or -EINVAL. */
int chord_jread_arr_begin(struct chord_jread *r);

/* Is there another element? true (positioned at it); false at the
 * closing ']' (consumed) or on an error. */
bool chord_jread_arr_next(struct chord_jread *r);

/* A string value into out (cut to size - 1 bytes, NUL-ended). 0 or
 * -EINVAL. */
int chord_jread_str(struct chord_jread *r, char *out, size_t size);

/* A non-negative integer value up to max. 0 or -EINVAL. */
int chord_jread_uint(struct chord_jread *r, uint64_t max, uint64_t *out);

/* If the next value is null, consume it and return true. */
bool chord_jread_null(struct chord_jread *r);

/* Skip one value of any kind. 0 or -EINVAL. */
int chord_jread_skip(struct chord_jread *r);

/* After the document's value: only white space may follow. 0 or
 * -EINVAL. */
int chord_jread_end(struct chord_jread *r);

/* Record an error of the caller's ("a node without an id") at the
 * current position, unless one is recorded already. Returns -EINVAL. */
int chord_jread_fail(struct chord_jread *r, const char *what);

/* "LINE:COLUMN: message" of the recorded error into out. */
void chord_jread_error(const struct chord_jread *r, char *out, size_t size);

#endif
