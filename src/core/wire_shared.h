/*
 * wire_shared.h - what the codec's files share: the message classes, the
 * big-endian helpers, the item flag sets, and the rules of the header
 * flags and the causal trailer (wire.c names and resets messages and
 * states those rules, wire_decode.c reads frames, wire_encode.c writes
 * them). Nothing outside them includes it.
 */
#ifndef CHORD_CORE_WIRE_SHARED_H
#define CHORD_CORE_WIRE_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

/* Smallest possible TRANSFER item: empty key and value, u8, version. */
#define ITEM_WIRE_MIN (4u + 1u + 4u + 8u + CHORD_ID_BYTES)

enum msg_class {
    MSG_UNKNOWN = 0,
    MSG_NODE,   /* node to node: body starts with `from` */
    MSG_CLIENT, /* client to node and back */
};

static inline enum msg_class msg_class_of(uint8_t type)
{
    if (type >= CHORD_MSG_PING && type <= CHORD_MSG_STORE_LOCK)
        return MSG_NODE;
    if (type >= CHORD_MSG_C_PUT && type <= CHORD_MSG_C_LOCK)
        return MSG_CLIENT;
    return MSG_UNKNOWN;
}

/* Item flag bits an item may carry: the legacy format's, and those of an
 * item with CHORD_ITEM_CAUSAL. */
#define ITEM_LEGACY_BITS                                                       \
    (CHORD_ITEM_TOMBSTONE | CHORD_ITEM_ORIGIN | CHORD_ITEM_FENCE)
#define ITEM_CAUSAL_BITS                                                       \
    (ITEM_LEGACY_BITS | CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE |                 \
     CHORD_ITEM_DEADLINE)

/* May a frame of `type` carry the header flags `flags` (low byte)? Only
 * known bits, MUTATION on a mutating request, CAUSAL on a type that takes
 * the causal trailer. */
bool chord__wire_frame_flags_ok(uint8_t type, unsigned flags);

/* Is the causal trailer with these bits and field lengths (each counted
 * only when its bit is set) valid on `type`? 0, -EINVAL (bits 0 or not
 * allowed for the type, excluding bits together, an empty field, ttl_s
 * 0) or -EMSGSIZE (a field over its cap). wire.h has the rules. */
int chord__wire_causal_check(uint8_t type, uint8_t bits, size_t context_len,
                             size_t session_len, uint32_t ttl_s,
                             size_t state_len);

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
