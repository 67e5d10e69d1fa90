/*
 * id.c - 160-bit identifier arithmetic (see id.h for the conventions).
 *
 * Identifiers are big-endian byte arrays, so ordering is memcmp and the
 * carry in addition runs from the last byte to the first. The only
 * dependency is OpenSSL's SHA-1.
 */
#include "chord/id.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/*
 * OpenSSL 3's one-shot SHA1() looks the algorithm up and allocates a
 * context on every call (about 3x the cost of the hash for short keys).
 * Each thread keeps a fetched algorithm and a context instead; they live
 * as long as the thread (reachable through thread-local storage). If
 * anything fails, fall back to the one-shot call.
 */
static _Thread_local EVP_MD *sha1_md;
static _Thread_local EVP_MD_CTX *sha1_ctx;

void chord_id_hash(struct chord_id *out, const void *data, size_t len)
{
    if (!sha1_ctx) {
        sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
        sha1_ctx = sha1_md ? EVP_MD_CTX_new() : NULL;
    }
    unsigned int n = 0;
    if (sha1_ctx && EVP_DigestInit_ex2(sha1_ctx, sha1_md, NULL) &&
        EVP_DigestUpdate(sha1_ctx, data, len) &&
        EVP_DigestFinal_ex(sha1_ctx, out->b, &n) && n == CHORD_ID_BYTES)
        return;
    SHA1((const unsigned char *)data, len, out->b);
}

bool chord_key_reserved(const void *key, size_t len)
{
    return len >= CHORD_RESERVED_PREFIX_LEN &&
           memcmp(key, CHORD_RESERVED_PREFIX, CHORD_RESERVED_PREFIX_LEN) == 0;
}

void chord_key_id(struct chord_id *out, const void *key, size_t len)
{
    if (chord_key_reserved(key, len))
        chord_id_hash(out, (const uint8_t *)key + CHORD_RESERVED_PREFIX_LEN,
                      len - CHORD_RESERVED_PREFIX_LEN);
    else
        chord_id_hash(out, key, len);
}

int chord_id_cmp(const struct chord_id *a, const struct chord_id *b)
{
    return memcmp(a->b, b->b, CHORD_ID_BYTES);
}

bool chord_id_eq(const struct chord_id *a, const struct chord_id *b)
{
    return memcmp(a->b, b->b, CHORD_ID_BYTES) == 0;
}

bool chord_id_in_oo(const struct chord_id *x, const struct chord_id *a,
                    const struct chord_id *b)
{
    int ab = chord_id_cmp(a, b);
    if (ab < 0) /* no wrap: a < x < b */
        return chord_id_cmp(a, x) < 0 && chord_id_cmp(x, b) < 0;
    /* wraps (or a == b: everything but a) */
    return chord_id_cmp(x, a) > 0 || chord_id_cmp(x, b) < 0;
}

bool chord_id_in_oc(const struct chord_id *x, const struct chord_id *a,
                    const struct chord_id *b)
{
    int ab = chord_id_cmp(a, b);
    if (ab == 0)
        return true;
    if (ab < 0)
        return chord_id_cmp(a, x) < 0 && chord_id_cmp(x, b) <= 0;
    return chord_id_cmp(x, a) > 0 || chord_id_cmp(x, b) <= 0;
}

void chord_id_add_pow2(struct chord_id *out, const struct chord_id *a,
                       unsigned k)
{
    struct chord_id r = *a;
    int byte = CHORD_ID_BYTES - 1 - (int)(k / 8);
    unsigned carry = 1u << (k % 8);
    for (; byte >= 0 && carry; byte--) {
        unsigned v = r.b[byte] + carry;
        r.b[byte] = (uint8_t)v;
        carry = v >> 8;
    }
    *out = r;
}

void chord_id_sub(struct chord_id *out, const struct chord_id *a,
                  const struct chord_id *b)
{
    struct chord_id r;
    int borrow = 0;
    for (int i = CHORD_ID_BYTES - 1; i >= 0; i--) {
        int v = (int)a->b[i] - (int)b->b[i] - borrow;
        borrow = v < 0;
        r.b[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
    *out = r;
}

void chord_id_to_hex(const struct chord_id *id, char out[CHORD_ID_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < CHORD_ID_BYTES; i++) {
        out[2 * i] = digits[id->b[i] >> 4];
        out[2 * i + 1] = digits[id->b[i] & 15];
    }
    out[CHORD_ID_HEX_LEN] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int chord_id_from_hex(struct chord_id *out, const char *hex)
{
    struct chord_id r;
    if (strlen(hex) != CHORD_ID_HEX_LEN)
        return -EINVAL;
    for (int i = 0; i < CHORD_ID_BYTES; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        r.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = r;
    return 0;
}

size_t chord_id_successor_at(const void *sorted, size_t n, size_t size,
                             const struct chord_id *key)
{
    const unsigned char *b = sorted;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (chord_id_cmp((const struct chord_id *)(b + mid * size), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == n ? 0 : lo;
}

double chord_id_fraction(const struct chord_id *id)
{
    /* The top 53 bits are all a double can hold. */
    uint64_t top = 0;
    for (int i = 0; i < 8; i++)
        top = top << 8 | id->b[i];
    return (double)(top >> 11) / 9007199254740992.0; /* 2^53 */
}
