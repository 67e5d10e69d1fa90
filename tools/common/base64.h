/*
 * base64.h - reading base64 (RFC 4648, padded) back into bytes: how the
 * tools take what their JSON wrote with chord_json_base64 (common/json.h),
 * such as the context `dht get --json` prints and `dht put --context`
 * takes.
 */
#ifndef CHORD_TOOLS_BASE64_H
#define CHORD_TOOLS_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decode the NUL-terminated base64 text s into out (cap bytes): 0 with
 * *len set, -EINVAL when s is not padded base64 of the standard alphabet
 * (a length not a multiple of 4, another character, padding anywhere but
 * at the end, bits set after the last byte), -EMSGSIZE when the bytes do
 * not fit in cap. The empty text is zero bytes. */
int chord_base64_decode(const char *s, uint8_t *out, size_t cap, size_t *len);

#endif
