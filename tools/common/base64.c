/*
 * base64.c - strict base64 decoding (see base64.h), over OpenSSL's
 * EVP_DecodeBlock, which decodes whole 4-character groups but accepts
 * blanks and counts the padding as zero bytes: the text is checked here
 * first, and the padding taken off its result.
 */
#include "common/base64.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

static int value_of(char c)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(abc, c) : NULL;
    return p ? (int)(p - abc) : -1;
}

int chord_base64_decode(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    *len = 0;
    if (n % 4 != 0 || n > (size_t)0x7fffffff)
        return -EINVAL;
    if (n == 0)
        return 0;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (value_of(s[i]) < 0)
            return -EINVAL;
    /* The bits past the last byte must be zero (one encoding per bytes). */
    int last = value_of(s[n - pad - 1]);
    if ((pad == 1 && (last & 3)) || (pad == 2 && (last & 15)))
        return -EINVAL;
    size_t bytes = n / 4 * 3 - pad;
    if (bytes > cap)
        return -EMSGSIZE;
    uint8_t tmp[3];
    /* EVP_DecodeBlock writes n / 4 * 3 bytes: the last group apart. */
    size_t head = n - 4;
    if (head && EVP_DecodeBlock(out, (const unsigned char *)s, (int)head) < 0)
        return -EINVAL;
    if (EVP_DecodeBlock(tmp, (const unsigned char *)s + head, 4) < 0)
        return -EINVAL;
    memcpy(out + head / 4 * 3, tmp, 3 - pad);
    *len = bytes;
    return 0;
}
