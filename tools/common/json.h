/*
 * json.h - a tiny streaming JSON writer for the `dht` CLI and the tools.
 *
 * The writer appends to a growable buffer and inserts the commas and
 * colons itself: the caller only says "begin object", "key", "string",
 * "end object" and so on. Strings are byte strings (keys and values may be
 * binary): '"' and '\\' are escaped, control characters become \n, \t, \r,
 * \b, \f or \u00XX, and every byte that is not printable ASCII (0x7f and
 * above) becomes \u00XX, so the output is always plain ASCII and valid
 * JSON, whatever the input bytes.
 *
 * Invariants: nesting is capped at CHORD_JSON_DEPTH_MAX; the first error
 * (too deep, mismatched end, out of memory) is sticky and reported by
 * chord_json_finish(); after an error the other calls do nothing. The
 * writer does not check that a key is followed by a value: the caller
 * writes well-formed sequences.
 *
 * It does not parse JSON, and it does not pretty-print.
 */
#ifndef CHORD_CLIENT_JSON_H
#define CHORD_CLIENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/id.h"
#include "chord/buf.h"

#define CHORD_JSON_DEPTH_MAX 32u /* nested objects/arrays */

struct chord_json {
    struct chord_buf out; /* the text so far (not NUL-terminated) */
    int err;              /* first error, 0 if none (sticky) */
    uint8_t depth;        /* open containers */
    bool after_key;       /* a key was written, its value comes next */
    bool need_comma[CHORD_JSON_DEPTH_MAX + 1]; /* per level: not first */
    char kind[CHORD_JSON_DEPTH_MAX + 1];       /* per level: '{' or '[' */
};

/* Start an empty document. */
void chord_json_init(struct chord_json *j);
/* Free the buffer; *j is then an empty writer again. */
void chord_json_free(struct chord_json *j);
/* Forget the text and any error, keep the memory (for the next document). */
void chord_json_reset(struct chord_json *j);

void chord_json_obj_begin(struct chord_json *j);
void chord_json_obj_end(struct chord_json *j);
void chord_json_arr_begin(struct chord_json *j);
void chord_json_arr_end(struct chord_json *j);

/* An object member's name (NUL-terminated); its value is the next call. */
void chord_json_key(struct chord_json *j, const char *name);

/* A string value from `len` bytes (any bytes, escaped as described). */
void chord_json_strn(struct chord_json *j, const void *data, size_t len);
/* A string value holding the base64 (RFC 4648, padded) of `len` bytes:
 * how a program writes bytes that are not ASCII, next to an "encoding":
 * "base64" member so that readers know to decode it. */
void chord_json_base64(struct chord_json *j, const void *data, size_t len);
/* True when every byte is ASCII (0x00..0x7f): such bytes round-trip
 * through a JSON string; others should go as base64. */
bool chord_json_is_ascii(const void *data, size_t len);
/* True when the bytes are valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF): chord_json_utf8 writes them as the text
 * they are. */
bool chord_json_is_utf8(const void *data, size_t len);
/* A string value holding the text of `len` bytes of UTF-8: ASCII as
 * chord_json_strn writes it, every other character as its \uXXXX escape
 * (a surrogate pair past U+FFFF), so the output stays ASCII. A byte that
 * is not part of valid UTF-8 goes as \u00XX (check first). */
void chord_json_utf8(struct chord_json *j, const void *data, size_t len);
/* A string value from a NUL-terminated string. */
void chord_json_str(struct chord_json *j, const char *s);
/* An identifier as a 40-digit lower-case hex string. */
void chord_json_id(struct chord_json *j, const struct chord_id *id);
void chord_json_uint(struct chord_json *j, uint64_t v);
void chord_json_int(struct chord_json *j, int64_t v);
void chord_json_bool(struct chord_json *j, bool v);
void chord_json_null(struct chord_json *j);

/*
 * Append the escaped form of `len` bytes, with the surrounding quotes, to
 * `out` (the escaping the writer uses; exposed for tests and for messages).
 * 0, -ENOMEM or -EMSGSIZE.
 */
int chord_json_escape(struct chord_buf *out, const void *data, size_t len);

/*
 * Finish the document: returns the first error, -EINVAL if containers are
 * still open, else 0 with the text NUL-terminated at out.data[out.len]
 * (the NUL is not counted in out.len).
 */
int chord_json_finish(struct chord_json *j);

#endif
