/*
 * store_fixture.h - what the store's two test files share: a seeded
 * PRNG, items and versions made short, reading an entry's value and its
 * state. Header-only (static inline); include after <cmocka.h>.
 */
#ifndef CHORD_TEST_STORE_FIXTURE_H
#define CHORD_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "core/dvv.h"
#include "core/store.h"

/* A small deterministic PRNG (xorshift64*). */
static inline uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline struct chord_version ver(uint64_t counter, uint8_t writer)
{
    struct chord_version v;
    memset(&v, 0, sizeof(v));
    v.counter = counter;
    v.writer.b[CHORD_ID_BYTES - 1] = writer;
    return v;
}

static inline struct chord_item item(const void *key, size_t key_len,
                                     const void *value, size_t value_len,
                                     struct chord_version v, bool tombstone)
{
    struct chord_item it;
    memset(&it, 0, sizeof(it));
    it.key.data = key;
    it.key.len = key_len;
    it.value.data = value;
    it.value.len = value_len;
    it.version = v;
    it.tombstone = tombstone;
    return it;
}

static inline int put_str(struct chord_store *s, const char *k, const char *v,
                          struct chord_version ver_)
{
    struct chord_item it = item(k, strlen(k), v, strlen(v), ver_, false);
    return chord_store_apply(s, &it);
}

static inline int del_str(struct chord_store *s, const char *k,
                          struct chord_version ver_)
{
    struct chord_item it = item(k, strlen(k), NULL, 0, ver_, true);
    return chord_store_apply(s, &it);
}

static inline const struct chord_store_entry *find_str(struct chord_store *s,
                                                       const char *k)
{
    static struct chord_store_entry fv; /* the view outlives the call */
    return chord_store_find(s, k, strlen(k), &fv);
}

static inline void assert_value(const struct chord_store_entry *e,
                                const char *v)
{
    assert_non_null(e);
    assert_false(e->tombstone);
    assert_int_equal(e->value_len, strlen(v));
    if (e->value_len)
        assert_memory_equal(e->value, v, e->value_len);
}

/* The state an entry holds (core/dvv.h), whichever form it is in. */
static inline void state_of(const struct chord_store_entry *e,
                            struct chord_dvv *d)
{
    struct chord_item it;
    assert_non_null(e);
    chord_store_entry_item(e, &it);
    assert_int_equal(chord_dvv_from_item(&it, d), 0);
}

/* The encoding of an entry's state into b (reset first). */
static inline void state_bytes(const struct chord_store_entry *e,
                               struct chord_buf *b)
{
    struct chord_dvv d;
    state_of(e, &d);
    chord_buf_reset(b);
    assert_int_equal(chord_dvv_encode(&d, b), 0);
}

#endif
