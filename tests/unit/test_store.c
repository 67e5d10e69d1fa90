/*
 * test_store.c - the versioned key-value store: a key's state is the
 * merge of every copy applied (core/dvv.h), the same in any arrival
 * order: a writer's newer version replaces its older ones, concurrent
 * writes of different writers stay as siblings; tombstones hide values
 * and block older writes; states that are not simple are stored as their
 * blob, a TTL as a deadline; the counters and iteration stay right
 * through growth and removals, binary or empty keys and values survive
 * the round trip, and the keys of one arc of the ring spread over the
 * whole index.
 *
 * Randomness comes from a seeded xorshift generator, so every run is the
 * same. Nothing here touches the network or the clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

static void test_apply_find_remove(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    assert_non_null(s);
    assert_null(find_str(s, "a"));
    assert_int_equal(chord_store_size(s), 0);

    assert_int_equal(put_str(s, "a", "one", ver(1, 1)), 1);
    assert_int_equal(put_str(s, "b", "two", ver(1, 1)), 1);
    assert_value(find_str(s, "a"), "one");
    assert_value(find_str(s, "b"), "two");
    assert_null(find_str(s, "c"));

    /* The key id is the SHA-1 of the key. */
    struct chord_id id;
    chord_id_hash(&id, "a", 1);
    assert_true(chord_id_eq(&find_str(s, "a")->key_id, &id));

    /* The store copies: changing the caller's buffers changes nothing. */
    char kbuf[] = "key", vbuf[] = "val";
    struct chord_item it = item(kbuf, 3, vbuf, 3, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    kbuf[0] = 'X';
    vbuf[0] = 'X';
    assert_value(find_str(s, "key"), "val");

    /* A newer version replaces the value. */
    assert_int_equal(put_str(s, "a", "uno", ver(2, 1)), 1);
    assert_value(find_str(s, "a"), "uno");
    assert_int_equal(find_str(s, "a")->version.counter, 2);

    assert_int_equal(chord_store_remove(s, "a", 1), 0);
    assert_null(find_str(s, "a"));
    assert_int_equal(chord_store_remove(s, "a", 1), -ENOENT);
    assert_value(find_str(s, "b"), "two");
    assert_int_equal(chord_store_size(s), 2);

    /* After a remove (no tombstone) any version may come back. */
    assert_int_equal(put_str(s, "a", "old", ver(1, 1)), 1);
    assert_value(find_str(s, "a"), "old");
    chord_store_free(s);
    chord_store_free(NULL);
}

static void test_tombstone(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    assert_int_equal(put_str(s, "k", "value", ver(3, 1)), 1);
    assert_int_equal(chord_store_live(s), 1);

    /* The delete keeps the key and the version, and drops the value. */
    assert_int_equal(del_str(s, "k", ver(4, 1)), 1);
    const struct chord_store_entry *e = find_str(s, "k");
    assert_non_null(e);
    assert_true(e->tombstone);
    assert_null(e->value);
    assert_int_equal(e->value_len, 0);
    assert_int_equal(e->version.counter, 4);
    assert_int_equal(chord_store_size(s), 1);
    assert_int_equal(chord_store_live(s), 0);

    /* An older write of the deleting writer arriving late cannot
     * resurrect the key. (One of another writer that the delete did not
     * see would be a sibling: test_same_writer_newest_wins_others_siblings.)
     */
    assert_int_equal(put_str(s, "k", "stale", ver(3, 1)), 0);
    assert_true(find_str(s, "k")->tombstone);
    assert_int_equal(chord_store_live(s), 0);

    /* A value given with a tombstone is ignored. */
    struct chord_item it = item("k2", 2, "junk", 4, ver(1, 1), true);
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_null(find_str(s, "k2")->value);
    assert_int_equal(find_str(s, "k2")->value_len, 0);

    /* A delete of an absent key still records the tombstone. */
    assert_int_equal(del_str(s, "never", ver(7, 1)), 1);
    assert_int_equal(put_str(s, "never", "late", ver(6, 1)), 0);
    assert_true(find_str(s, "never")->tombstone);

    /* A newer write revives the key. */
    assert_int_equal(put_str(s, "k", "back", ver(5, 1)), 1);
    assert_value(find_str(s, "k"), "back");
    assert_int_equal(chord_store_size(s), 3);
    assert_int_equal(chord_store_live(s), 1);

    /* The item view of a tombstone says so. */
    struct chord_item out;
    chord_store_entry_item(find_str(s, "never"), &out);
    assert_true(out.tombstone);
    assert_int_equal(out.value.len, 0);
    assert_int_equal(out.key.len, 5);
    assert_memory_equal(out.key.data, "never", 5);
    assert_int_equal(out.version.counter, 7);
    chord_store_free(s);
}

static void test_live_and_size_counts(void **state)
{
    struct chord_store_entry ev;
    (void)state;
    struct chord_store *s = chord_store_new();
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        assert_int_equal(put_str(s, k, "v", ver(1, 1)), 1);
    }
    for (int i = 0; i < 100; i += 3) { /* 34 tombstones */
        snprintf(k, sizeof(k), "k%d", i);
        assert_int_equal(del_str(s, k, ver(2, 1)), 1);
    }
    assert_int_equal(chord_store_size(s), 100);
    assert_int_equal(chord_store_live(s), 66);

    /* Removing a tombstone and a live entry each lower the right count. */
    assert_int_equal(chord_store_remove(s, "k0", 2), 0);
    assert_int_equal(chord_store_remove(s, "k1", 2), 0);
    assert_int_equal(chord_store_size(s), 98);
    assert_int_equal(chord_store_live(s), 65);

    /* Replacing a live value by a live value changes no count. */
    assert_int_equal(put_str(s, "k2", "w", ver(5, 1)), 1);
    assert_int_equal(chord_store_live(s), 65);

    /* The counters agree with a scan. */
    size_t cur = 0, live = 0, all = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(s, &cur, &ev)) != NULL) {
        all++;
        live += !e->tombstone;
    }
    assert_int_equal(all, chord_store_size(s));
    assert_int_equal(live, chord_store_live(s));
    chord_store_free(s);
}

/* Keys are 4 bytes, the big-endian index, so an entry names its slot. */
static void key_of(uint32_t i, uint8_t k[4])
{
    k[0] = (uint8_t)(i >> 24);
    k[1] = (uint8_t)(i >> 16);
    k[2] = (uint8_t)(i >> 8);
    k[3] = (uint8_t)i;
}

static uint32_t index_of(const struct chord_store_entry *e)
{
    assert_int_equal(e->key_len, 4);
    return (uint32_t)e->key[0] << 24 | (uint32_t)e->key[1] << 16 |
           (uint32_t)e->key[2] << 8 | e->key[3];
}

/* Iterate and check that exactly the keys with present[i] appear, once. */
static void check_iteration(const struct chord_store *s, const bool *present,
                            uint32_t n)
{
    struct chord_store_entry ev;
    uint8_t *seen = calloc(n, 1);
    assert_non_null(seen);
    size_t cur = 0, count = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(s, &cur, &ev)) != NULL) {
        uint32_t i = index_of(e);
        assert_true(i < n);
        assert_true(present[i]);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        count++;
    }
    /* The end is sticky. */
    assert_null(chord_store_next(s, &cur, &ev));
    size_t expect = 0;
    for (uint32_t i = 0; i < n; i++)
        expect += present[i];
    assert_int_equal(count, expect);
    assert_int_equal(chord_store_size(s), expect);
    free(seen);
}

static void test_iteration_exactly_once(void **state)
{
    struct chord_store_entry ev;
    struct chord_store_entry fv;
    (void)state;
    enum { N = 500 };
    bool present[N];
    uint8_t k[4];
    struct chord_store *s = chord_store_new();
    size_t cur = 0;
    assert_null(chord_store_next(s, &cur, &ev));
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        struct chord_item it = item(k, 4, "x", 1, ver(1, 1), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
        present[i] = true;
    }
    check_iteration(s, present, N);

    /* Remove a random half, checking iteration along the way. */
    uint64_t rng = 0x5eed0002;
    for (int round = 0; round < N / 2; round++) {
        uint32_t i = (uint32_t)(rng_next(&rng) % N);
        key_of(i, k);
        assert_int_equal(chord_store_remove(s, k, 4), present[i] ? 0 : -ENOENT);
        present[i] = false;
        if (round % 50 == 0)
            check_iteration(s, present, N);
    }
    check_iteration(s, present, N);
    /* Every remaining key is still found with its own key. */
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        const struct chord_store_entry *e = chord_store_find(s, k, 4, &fv);
        if (present[i]) {
            assert_non_null(e);
            assert_int_equal(index_of(e), i);
        } else {
            assert_null(e);
        }
    }
    chord_store_free(s);
}

/* 100k keys in, half out, the rest out: growth and deletion at scale. */
static void test_many_keys(void **state)
{
    struct chord_store_entry ev;
    struct chord_store_entry fv;
    (void)state;
    enum { N = 100000 };
    uint8_t k[4], v[4];
    struct chord_store *s = chord_store_new();
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        key_of(i * 7u, v);
        struct chord_item it = item(k, 4, v, 4, ver(1, 1), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
    }
    assert_int_equal(chord_store_size(s), N);
    assert_int_equal(chord_store_live(s), N);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        key_of(i * 7u, v);
        const struct chord_store_entry *e = chord_store_find(s, k, 4, &fv);
        assert_non_null(e);
        assert_int_equal(e->value_len, 4);
        assert_memory_equal(e->value, v, 4);
    }
    for (uint32_t i = 0; i < N; i += 2) {
        key_of(i, k);
        assert_int_equal(chord_store_remove(s, k, 4), 0);
    }
    assert_int_equal(chord_store_size(s), N / 2);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        const struct chord_store_entry *e = chord_store_find(s, k, 4, &fv);
        if (i % 2) {
            assert_non_null(e);
            key_of(i * 7u, v);
            assert_memory_equal(e->value, v, 4);
        } else {
            assert_null(e);
        }
    }
    /* Re-insert the removed half, then drop everything. */
    for (uint32_t i = 0; i < N; i += 2) {
        key_of(i, k);
        struct chord_item it = item(k, 4, "", 0, ver(2, 1), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
    }
    assert_int_equal(chord_store_size(s), N);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        assert_int_equal(chord_store_remove(s, k, 4), 0);
    }
    assert_int_equal(chord_store_size(s), 0);
    assert_int_equal(chord_store_live(s), 0);
    size_t cur = 0;
    assert_null(chord_store_next(s, &cur, &ev));
    chord_store_free(s);
}

static void test_binary_keys(void **state)
{
    struct chord_store_entry fv;
    (void)state;
    struct chord_store *s = chord_store_new();
    /* Keys that differ only after a NUL, and a prefix of one another. */
    const uint8_t k1[] = {'a', 0, 'b'};
    const uint8_t k2[] = {'a', 0, 'c'};
    const uint8_t k3[] = {'a', 0};
    const uint8_t k4[] = {'a'};
    const uint8_t v1[] = {0, 1, 2, 0, 255};
    struct chord_item it = item(k1, 3, v1, sizeof(v1), ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    it = item(k2, 3, "two", 3, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    it = item(k3, 2, "three", 5, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    it = item(k4, 1, "four", 4, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_int_equal(chord_store_size(s), 4);

    const struct chord_store_entry *e = chord_store_find(s, k1, 3, &fv);
    assert_non_null(e);
    assert_int_equal(e->value_len, sizeof(v1));
    assert_memory_equal(e->value, v1, sizeof(v1));
    assert_int_equal(e->key_len, 3);
    assert_memory_equal(e->key, k1, 3);
    assert_value(chord_store_find(s, k2, 3, &fv), "two");
    assert_value(chord_store_find(s, k3, 2, &fv), "three");
    assert_value(chord_store_find(s, k4, 1, &fv), "four");

    /* An empty key is a key like any other. */
    it = item("", 0, "empty key", 9, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_value(chord_store_find(s, "", 0, &fv), "empty key");
    assert_int_equal(chord_store_remove(s, "", 0), 0);
    assert_null(chord_store_find(s, "", 0, &fv));
    assert_value(chord_store_find(s, k4, 1, &fv), "four");
    chord_store_free(s);
}

static void test_empty_value_is_not_tombstone(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    struct chord_item it = item("k", 1, NULL, 0, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    const struct chord_store_entry *e = find_str(s, "k");
    assert_non_null(e);
    assert_false(e->tombstone);
    assert_int_equal(e->value_len, 0);
    assert_int_equal(chord_store_live(s), 1);

    /* Value -> empty -> value, each newer, each visible. */
    assert_int_equal(put_str(s, "k", "full", ver(2, 1)), 1);
    assert_value(find_str(s, "k"), "full");
    assert_int_equal(put_str(s, "k", "", ver(3, 1)), 1);
    assert_value(find_str(s, "k"), "");
    assert_int_equal(chord_store_live(s), 1);

    struct chord_item out;
    chord_store_entry_item(find_str(s, "k"), &out);
    assert_false(out.tombstone);
    assert_int_equal(out.value.len, 0);
    chord_store_free(s);
}

static void test_caps(void **state)
{
    struct chord_store_entry fv;
    (void)state;
    struct chord_store *s = chord_store_new();
    uint8_t *big = calloc(1, CHORD_VALUE_MAX + 1);
    assert_non_null(big);
    struct chord_item it =
        item(big, CHORD_KEY_MAX + 1, "v", 1, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), -EMSGSIZE);
    it = item("k", 1, big, CHORD_VALUE_MAX + 1, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), -EMSGSIZE);
    assert_int_equal(chord_store_size(s), 0);
    /* Exactly at the caps is accepted. */
    it = item(big, CHORD_KEY_MAX, big, CHORD_VALUE_MAX, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_int_equal(chord_store_find(s, big, CHORD_KEY_MAX, &fv)->value_len,
                     CHORD_VALUE_MAX);
    free(big);
    chord_store_free(s);
}

/* The live byte count follows puts, overwrites, deletes and removes: it
 * is what a walk over the live entries would add up. */
static void test_live_bytes(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    assert_non_null(s);
    assert_int_equal(chord_store_live_bytes(s), 0);
    assert_int_equal(put_str(s, "ab", "hello", ver(1, 1)), 1);
    assert_int_equal(put_str(s, "c", "", ver(1, 1)), 1);
    assert_int_equal(chord_store_live_bytes(s), 2 + 5 + 1);
    assert_int_equal(put_str(s, "ab", "x", ver(2, 1)), 1);
    assert_int_equal(chord_store_live_bytes(s), 2 + 1 + 1);
    assert_int_equal(put_str(s, "ab", "stale!", ver(1, 1)), 0);
    assert_int_equal(chord_store_live_bytes(s), 2 + 1 + 1);
    assert_int_equal(del_str(s, "ab", ver(3, 1)), 1);
    assert_int_equal(chord_store_live_bytes(s), 1);
    assert_int_equal(chord_store_remove(s, "ab", 2), 0);
    assert_int_equal(chord_store_remove(s, "c", 1), 0);
    assert_int_equal(chord_store_live_bytes(s), 0);
    chord_store_free(s);
}

/* Versions keep their writer through the writer table: many writers,
 * overwrites that change a key's writer, removals that free a writer's
 * slot and new writers that take it. */
static void test_writers(void **state)
{
    (void)state;
    enum { N = 300, W = 40 };
    struct chord_store *s = chord_store_new();
    struct chord_store_entry v;
    uint8_t k[4];
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        struct chord_item it =
            item(k, 4, "x", 1, ver(1, (uint8_t)(i % W)), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
    }
    /* Every key whose index is even moves to writer 200 + i % 7. */
    for (uint32_t i = 0; i < N; i += 2) {
        key_of(i, k);
        struct chord_item it =
            item(k, 4, "y", 1, ver(2, (uint8_t)(200 + i % 7)), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
    }
    /* Remove every key of writers 1 and 3 (odd keys only remain with
     * their first writer), then bring in writers never seen. */
    for (uint32_t i = 1; i < N; i += 2) {
        key_of(i, k);
        if (i % W == 1 || i % W == 3)
            assert_int_equal(chord_store_remove(s, k, 4), 0);
    }
    for (uint32_t i = N; i < N + 20; i++) {
        key_of(i, k);
        struct chord_item it =
            item(k, 4, "z", 1, ver(3, (uint8_t)(100 + i % 5)), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
    }
    for (uint32_t i = 0; i < N + 20; i++) {
        key_of(i, k);
        const struct chord_store_entry *e = chord_store_find(s, k, 4, &v);
        struct chord_version want;
        if (i >= N)
            want = ver(3, (uint8_t)(100 + i % 5));
        else if (i % 2 == 0)
            want = ver(2, (uint8_t)(200 + i % 7));
        else if (i % W == 1 || i % W == 3) {
            assert_null(e);
            continue;
        } else
            want = ver(1, (uint8_t)(i % W));
        assert_non_null(e);
        assert_int_equal(chord_version_cmp(&e->version, &want), 0);
        assert_memory_equal(&e->version.writer, &want.writer,
                            sizeof(want.writer));
    }
    /* A write older than the stored one of the same writer is refused.
     * (Keys moved to writer 200 + i % 7 above kept their first writer's
     * value as a sibling, concurrent; their version is the newest dot.) */
    key_of(N, k);
    struct chord_item it =
        item(k, 4, "old", 3, ver(2, (uint8_t)(100 + N % 5)), false);
    assert_int_equal(chord_store_apply(s, &it), 0);
    chord_store_free(s);
}

/* The optional parts: a fence stays through writes without one and is
 * replaced by a write with one; the stamp of a tombstone, of a live
 * entry, and both together with a fence. */
static void test_fence_and_stamp(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    struct chord_store_entry v;
    struct chord_item it = item("k", 1, "v1", 2, ver(1, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    const struct chord_store_entry *e = chord_store_find(s, "k", 1, &v);
    assert_false(e->has_fence);
    assert_int_equal(e->stamp, 0);

    it = item("k", 1, "v2", 2, ver(2, 1), false);
    it.has_fence = true;
    it.fence_name = 0x1122334455667788ull;
    it.fence = 7;
    assert_int_equal(chord_store_apply(s, &it), 1);
    it = item("k", 1, "a longer value", 14, ver(3, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    e = chord_store_find(s, "k", 1, &v);
    assert_true(e->has_fence);
    assert_true(e->fence_name == 0x1122334455667788ull);
    assert_int_equal(e->fence, 7);
    assert_value(e, "a longer value");

    /* A live entry's stamp, then a tombstone's, the fence kept. */
    assert_int_equal(chord_store_set_stamp(s, "k", 1, 12345), 0);
    e = chord_store_find(s, "k", 1, &v);
    assert_int_equal(e->stamp, 12345);
    assert_int_equal(e->fence, 7);
    assert_value(e, "a longer value");
    assert_int_equal(del_str(s, "k", ver(4, 1)), 1);
    e = chord_store_find(s, "k", 1, &v);
    assert_true(e->tombstone);
    assert_int_equal(e->stamp, 0); /* a change clears it */
    assert_int_equal(chord_store_set_stamp(s, "k", 1, 999), 0);
    e = chord_store_find(s, "k", 1, &v);
    assert_int_equal(e->stamp, 999);
    assert_true(e->has_fence);
    assert_int_equal(e->fence, 7);

    /* A newer fence replaces it; the item view carries it. */
    it = item("k", 1, "v5", 2, ver(5, 1), false);
    it.has_fence = true;
    it.fence_name = 1;
    it.fence = 9;
    assert_int_equal(chord_store_apply(s, &it), 1);
    struct chord_item out;
    chord_store_entry_item(chord_store_find(s, "k", 1, &v), &out);
    assert_true(out.has_fence);
    assert_true(out.fence_name == 1);
    assert_int_equal(out.fence, 9);
    assert_int_equal(out.value.len, 2);
    assert_memory_equal(out.value.data, "v5", 2);
    assert_int_equal(chord_store_set_stamp(s, "absent", 6, 1), -ENOENT);
    chord_store_free(s);
}

/* The index follows the data: it grows with the entries and shrinks as
 * they go, and everything left is found and walked exactly once. */
static void test_index_grows_and_shrinks(void **state)
{
    (void)state;
    enum { N = 20000 };
    static bool present[N];
    uint8_t k[4];
    struct chord_store *s = chord_store_new();
    size_t empty = chord_store_slots(s);
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, k);
        struct chord_item it = item(k, 4, "x", 1, ver(1, 1), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
        present[i] = true;
    }
    size_t full = chord_store_slots(s);
    assert_true(full * 3 >= (size_t)N * 4);  /* at most 3/4 full */
    assert_true(full <= (size_t)N * 2 + 16); /* at least 1/2 full */
    for (uint32_t i = 0; i < N; i++) {
        if (i % 50 == 0)
            continue;
        key_of(i, k);
        assert_int_equal(chord_store_remove(s, k, 4), 0);
        present[i] = false;
    }
    size_t left = N / 50;
    assert_true(chord_store_slots(s) <= left * 4 + 16);
    check_iteration(s, present, N);
    for (uint32_t i = 0; i < N; i += 50) {
        key_of(i, k);
        assert_int_equal(chord_store_remove(s, k, 4), 0);
    }
    assert_int_equal(chord_store_slots(s), empty);
    assert_int_equal(chord_store_size(s), 0);
    chord_store_free(s);
}

/* A cursor saved before a call that returned an entry gives it again. */
static void test_cursor_revisits(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "c%d", i);
        assert_int_equal(put_str(s, key, key, ver(1, 1)), 1);
    }
    struct chord_store_entry a, b;
    size_t cur = 0, at = 0, n = 0;
    for (; chord_store_next(s, &cur, &a) != NULL; at = cur, n++) {
        size_t again = at;
        assert_non_null(chord_store_next(s, &again, &b));
        assert_int_equal(again, cur);
        assert_int_equal(a.key_len, b.key_len);
        assert_memory_equal(a.key, b.key, a.key_len);
        assert_ptr_equal(a.value, b.value);
    }
    assert_int_equal(n, 100);
    chord_store_free(s);
}

/* A node holds the keys of a few arcs of the ring, whose ids share their
 * leading bits. Those keys must still spread over the whole index: the
 * longest run of occupied slots (what a probe may walk) stays short. With
 * homes taken from the leading bits, the keys of an arc of 3/16 of the
 * ring (a node's share with 16 nodes and r = 3) made one run of nearly
 * all of them, and every look-up walked it. */
static void test_keys_of_one_arc_spread(void **state)
{
    struct chord_store_entry ev;
    (void)state;
    enum { N = 4000 };
    struct chord_store *s = chord_store_new();
    char key[24];
    unsigned held = 0;
    for (uint32_t i = 0; held < N; i++) {
        snprintf(key, sizeof key, "key:%012u", i);
        struct chord_id id;
        chord_id_hash(&id, key, strlen(key));
        if (id.b[0] < 0x40 || id.b[0] >= 0x70) /* (0x40, 0x70]: 3/16 */
            continue;
        struct chord_item it = item(key, strlen(key), "v", 1, ver(1, 1), false);
        assert_int_equal(chord_store_apply(s, &it), 1);
        held++;
    }
    size_t cur = 0, prev = 0, run = 0, longest = 0;
    while (chord_store_next(s, &cur, &ev)) {
        run = run && cur == prev + 1 ? run + 1 : 1; /* cur - 1: its slot */
        if (run > longest)
            longest = run;
        prev = cur;
    }
    assert_true(longest < N / 20);
    chord_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_find_remove),
        cmocka_unit_test(test_tombstone),
        cmocka_unit_test(test_live_and_size_counts),
        cmocka_unit_test(test_iteration_exactly_once),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_empty_value_is_not_tombstone),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_live_bytes),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_fence_and_stamp),
        cmocka_unit_test(test_index_grows_and_shrinks),
        cmocka_unit_test(test_cursor_revisits),
        cmocka_unit_test(test_keys_of_one_arc_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
