/*
 * id.h - 160-bit Chord identifiers and ring (interval) arithmetic.
 *
 * An identifier is an unsigned 160-bit integer stored big-endian in 20
 * bytes, so memcmp() order is numeric order. All arithmetic is modulo
 * 2^160: intervals wrap around zero. Key ids are SHA-1 of the key bytes,
 * node ids SHA-1 of the advertised "host:port" string.
 *
 * Interval conventions (Chord's): for a == b, the open interval (a, a) is
 * the whole ring except a, and the half-open (a, a] is the whole ring.
 * These make a one-node ring own every key.
 *
 * Nothing here allocates or fails except hex parsing.
 */
#ifndef CHORD_ID_H
#define CHORD_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHORD_ID_BYTES 20
#define CHORD_ID_BITS 160
#define CHORD_ID_HEX_LEN 40 /* hex digits, without the NUL */

struct chord_id {
    uint8_t b[CHORD_ID_BYTES]; /* big-endian */
};

/* SHA-1 of `len` bytes at `data` (OpenSSL). The data is only read. */
void chord_id_hash(struct chord_id *out, const void *data, size_t len);

/* Keys that start with these bytes are the system's own (lock states):
 * clients may not read or write them and scans skip them. */
#define CHORD_RESERVED_PREFIX "\0chord:"
#define CHORD_RESERVED_PREFIX_LEN 7u

/* Is key[0..len) a reserved key? */
bool chord_key_reserved(const void *key, size_t len);

/* The ring position of a stored key: the SHA-1 of the key, except for a
 * reserved key, whose position is the SHA-1 of what follows the prefix
 * (so the state of lock NAME, key "\0chord:lock:NAME", sits at the
 * successor of SHA-1("lock:NAME")). */
void chord_key_id(struct chord_id *out, const void *key, size_t len);

/* Numeric comparison: <0, 0, >0 as memcmp. */
int chord_id_cmp(const struct chord_id *a, const struct chord_id *b);
bool chord_id_eq(const struct chord_id *a, const struct chord_id *b);

/* x in (a, b), wrapping; (a, a) is everything except a. */
bool chord_id_in_oo(const struct chord_id *x, const struct chord_id *a,
                    const struct chord_id *b);
/* x in (a, b], wrapping; (a, a] is everything. */
bool chord_id_in_oc(const struct chord_id *x, const struct chord_id *a,
                    const struct chord_id *b);

/* out = a + 2^k mod 2^160, 0 <= k < 160. `out` may alias `a`. */
void chord_id_add_pow2(struct chord_id *out, const struct chord_id *a,
                       unsigned k);
/* out = a - b mod 2^160 (the clockwise distance from b to a). May alias. */
void chord_id_sub(struct chord_id *out, const struct chord_id *a,
                  const struct chord_id *b);

/* Lower-case hex, 40 digits and a NUL. */
void chord_id_to_hex(const struct chord_id *id, char out[CHORD_ID_HEX_LEN + 1]);
/* Exactly 40 hex digits (either case), NUL-terminated: 0, else -EINVAL. */
int chord_id_from_hex(struct chord_id *out, const char *hex);

/* In `sorted`, n elements of `size` bytes each that start with a struct
 * chord_id and are in increasing id order, the index of the first whose
 * id is >= key: key's successor on the circle (0 when none is, or n is
 * 0). Binary search; the array is only read. */
size_t chord_id_successor_at(const void *sorted, size_t n, size_t size,
                             const struct chord_id *key);

/* Position of id on the circle as a fraction in [0, 1) (for drawing). */
double chord_id_fraction(const struct chord_id *id);

#endif
