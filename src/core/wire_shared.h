/*
 * wire_shared.h - what the codec's files share: the message classes and
 * the big-endian helpers (wire.c names and resets messages, wire_decode.c
 * reads frames, wire_encode.c writes them). Nothing outside them
 * includes it.
 */
#ifndef CHORD_CORE_WIRE_SHARED_H
#define CHORD_CORE_WIRE_SHARED_H

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
