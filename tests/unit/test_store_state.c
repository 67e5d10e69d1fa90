/*
 * test_store_state.c - the store as a holder of causal states
 * (core/dvv.h): the same state whatever the arrival order, a writer's
 * newer version replacing its older ones while concurrent writers stay as
 * siblings, state blobs and TTL deadlines stored beside the stamp and the
 * fence, collected values that stay dead, legacy items ordered by
 * version, and errors that change nothing.
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

/* Version vectors: a writer's equal or older version changes nothing, a
 * newer one replaces it; a version of another writer is concurrent (no
 * write saw the other) and both stay as siblings. (Before version
 * vectors the higher version won; now that is the same writer's rule.) */
static void test_same_writer_newest_wins_others_siblings(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    assert_int_equal(put_str(s, "k", "v5", ver(5, 2)), 1);
    /* Equal version: nothing changes, even with another value. */
    assert_int_equal(put_str(s, "k", "other", ver(5, 2)), 0);
    assert_value(find_str(s, "k"), "v5");
    /* Lower counter, same writer: refused; higher: replaces. */
    assert_int_equal(put_str(s, "k", "v4", ver(4, 2)), 0);
    assert_value(find_str(s, "k"), "v5");
    assert_int_equal(put_str(s, "k", "v6", ver(6, 2)), 1);
    assert_value(find_str(s, "k"), "v6");
    assert_null(find_str(s, "k")->state);

    /* Another writer, even with a lower counter: a sibling. The entry is
     * then a state blob; its version is the newest dot. */
    assert_int_equal(put_str(s, "k", "w9", ver(4, 9)), 1);
    assert_int_equal(put_str(s, "k", "w9", ver(4, 9)), 0);
    const struct chord_store_entry *e = find_str(s, "k");
    assert_null(e->value);
    assert_int_equal(e->value_len, 0);
    assert_non_null(e->state);
    assert_false(e->tombstone);
    assert_int_equal(e->deadline, 0);
    struct chord_version v6 = ver(6, 2);
    assert_int_equal(chord_version_cmp(&e->version, &v6), 0);
    struct chord_dvv d;
    state_of(e, &d);
    assert_int_equal(d.n_sib, 2);
    assert_int_equal(chord_dvv_live(&d, 0), 2);
    assert_int_equal(chord_store_live(s), 1);
    assert_int_equal(chord_store_live_bytes(s), 1 + e->state_len);

    /* The entry's item carries the blob: another store gets the same
     * state, and applying it again changes nothing. */
    struct chord_item it;
    chord_store_entry_item(e, &it);
    assert_int_equal(it.state.len, e->state_len);
    struct chord_store *s2 = chord_store_new();
    assert_int_equal(chord_store_apply(s2, &it), 1);
    assert_int_equal(chord_store_apply(s2, &it), 0);
    assert_int_equal(chord_store_apply(s, &it), 0);
    struct chord_store_entry v2;
    const struct chord_store_entry *e2 = chord_store_find(s2, "k", 1, &v2);
    assert_int_equal(e2->state_len, e->state_len);
    assert_memory_equal(e2->state, e->state, e->state_len);

    /* A write that saw both siblings resolves them: simple again (two
     * vector entries, so it still travels as a blob). */
    struct chord_id w2 = ver(0, 2).writer;
    struct chord_sibling nv;
    memset(&nv, 0, sizeof(nv));
    nv.value.data = (const uint8_t *)"resolved";
    nv.value.len = 8;
    struct chord_dvv ctx = d;
    assert_int_equal(
        chord_dvv_write(&d, &ctx, &w2, chord_dvv_max_counter(&d) + 1, &nv), 0);
    struct chord_buf scratch = {0};
    it.key.data = (const uint8_t *)"k";
    it.key.len = 1;
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it), 0);
    assert_int_equal(chord_store_apply(s, &it), 1);
    state_of(find_str(s, "k"), &d);
    assert_int_equal(d.n_sib, 1);
    assert_int_equal(d.sib[0].value.len, 8);
    assert_memory_equal(d.sib[0].value.data, "resolved", 8);
    assert_int_equal(chord_store_live(s), 1);
    chord_buf_free(&scratch);
    chord_store_free(s2);
    chord_store_free(s);
}

/*
 * Property: whatever order the versions of one key arrive in, the store
 * ends with the same state: the newest version of each writer (all of
 * them siblings, none of these writes saw another's), and apply says 1
 * exactly when the arriving version is its writer's newest so far. One
 * version is one write: equal versions carry the same value. Some are
 * tombstones.
 */
static void test_any_order_same_state(void **state)
{
    (void)state;
    enum { N = 40, ROUNDS = 300, W = 4 };
    uint64_t rng = 0x5eed0001;
    struct chord_buf first = {0}, got = {0};
    for (int round = 0; round < ROUNDS; round++) {
        struct chord_version vs[N];
        char vals[N][16];
        bool tomb[N];
        int perm[N];
        /* One writer only in some rounds: then newest wins outright. */
        unsigned writers = round % 3 == 0 ? 1 : W;
        for (int i = 0; i < N; i++) {
            vs[i] = ver(1 + rng_next(&rng) % 8,
                        (uint8_t)(rng_next(&rng) % writers));
            snprintf(vals[i], sizeof(vals[i]), "v%u.%u",
                     (unsigned)vs[i].counter, vs[i].writer.b[19]);
            tomb[i] = (vs[i].counter + vs[i].writer.b[19]) % 4 == 0;
        }
        uint64_t newest[W];
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < N; i++)
                perm[i] = i;
            for (int i = N - 1; i > 0; i--) {
                int j = (int)(rng_next(&rng) % (uint64_t)(i + 1));
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            memset(newest, 0, sizeof(newest));
            struct chord_store *s = chord_store_new();
            assert_non_null(s);
            for (int k = 0; k < N; k++) {
                int i = perm[k];
                struct chord_item it =
                    item("key", 3, vals[i], strlen(vals[i]), vs[i], tomb[i]);
                uint64_t *n = &newest[vs[i].writer.b[19]];
                assert_int_equal(chord_store_apply(s, &it), vs[i].counter > *n);
                if (vs[i].counter > *n)
                    *n = vs[i].counter;
            }
            const struct chord_store_entry *e = find_str(s, "key");
            struct chord_dvv d;
            state_of(e, &d);
            unsigned n_writers = 0, live = 0;
            for (unsigned w = 0; w < W; w++)
                n_writers += newest[w] != 0;
            assert_int_equal(d.n_sib, n_writers);
            for (unsigned j = 0; j < d.n_sib; j++) {
                unsigned w = d.vv[d.sib[j].writer].writer.b[19];
                assert_int_equal(d.sib[j].counter, newest[w]);
                live += !d.sib[j].tombstone;
            }
            assert_int_equal(e->tombstone, live == 0);
            assert_int_equal(chord_store_live(s), live != 0);
            assert_int_equal(e->state == NULL, n_writers == 1);
            if (n_writers == 1 && live)
                assert_int_equal(e->value_len, d.sib[0].value.len);
            state_bytes(e, pass ? &got : &first);
            assert_int_equal(chord_store_size(s), 1);
            chord_store_free(s);
        }
        assert_int_equal(got.len, first.len);
        assert_memory_equal(got.data, first.data, got.len);
    }
    chord_buf_free(&first);
    chord_buf_free(&got);
}

/* A simple state's TTL is a deadline in the trailer, beside the stamp and
 * the fence; a state blob keeps them too. */
static void test_deadline_and_state_trailers(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    struct chord_store_entry v;
    struct chord_item it = item("k", 1, "ttl", 3, ver(1, 1), false);
    it.deadline = 0x1122334455667788ull;
    it.has_fence = true;
    it.fence_name = 42;
    it.fence = 3;
    assert_int_equal(chord_store_apply(s, &it), 1);
    const struct chord_store_entry *e = chord_store_find(s, "k", 1, &v);
    assert_true(e->deadline == 0x1122334455667788ull);
    assert_null(e->state);
    assert_int_equal(e->state_len, 0);
    assert_value(e, "ttl");
    /* The stamp goes in front of fence and deadline: all three read back. */
    assert_int_equal(chord_store_set_stamp(s, "k", 1, 555), 0);
    e = chord_store_find(s, "k", 1, &v);
    assert_int_equal(e->stamp, 555);
    assert_int_equal(e->fence, 3);
    assert_true(e->fence_name == 42);
    assert_true(e->deadline == 0x1122334455667788ull);
    struct chord_item out;
    chord_store_entry_item(e, &out);
    assert_true(out.deadline == 0x1122334455667788ull);
    assert_int_equal(out.state.len, 0);
    assert_false(out.legacy);
    /* A newer write without a TTL has none; a tombstone none either. */
    it = item("k", 1, "forever", 7, ver(2, 1), false);
    assert_int_equal(chord_store_apply(s, &it), 1);
    e = chord_store_find(s, "k", 1, &v);
    assert_int_equal(e->deadline, 0);
    assert_int_equal(e->fence, 3);
    it = item("k", 1, NULL, 0, ver(3, 1), true);
    it.deadline = 99;
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_int_equal(chord_store_find(s, "k", 1, &v)->deadline, 0);

    /* A state of two tombstones: REC_TOMB with its blob, stamp room,
     * the fence kept, not counted live. */
    it = item("k", 1, NULL, 0, ver(3, 2), true);
    assert_int_equal(chord_store_apply(s, &it), 1);
    e = chord_store_find(s, "k", 1, &v);
    assert_true(e->tombstone);
    assert_non_null(e->state);
    assert_null(e->value);
    assert_int_equal(e->fence, 3);
    assert_int_equal(chord_store_live(s), 0);
    assert_int_equal(chord_store_live_bytes(s), 0);
    assert_int_equal(chord_store_set_stamp(s, "k", 1, 777), 0);
    e = chord_store_find(s, "k", 1, &v);
    assert_int_equal(e->stamp, 777);
    struct chord_dvv d;
    state_of(e, &d);
    assert_int_equal(d.n_sib, 2);
    assert_int_equal(chord_dvv_live(&d, 0), 0);
    /* A value with a TTL beside them: live, the deadline in the blob
     * (the entry's own deadline is a simple state's only). */
    it = item("k", 1, "x", 1, ver(5, 3), false);
    it.deadline = 1000;
    assert_int_equal(chord_store_apply(s, &it), 1);
    e = chord_store_find(s, "k", 1, &v);
    assert_false(e->tombstone);
    assert_int_equal(e->deadline, 0);
    assert_int_equal(e->stamp, 0);
    assert_int_equal(chord_store_live(s), 1);
    assert_int_equal(chord_store_live_bytes(s), 1 + e->state_len);
    state_of(e, &d);
    assert_int_equal(chord_dvv_live(&d, 999), 1);
    assert_int_equal(chord_dvv_live(&d, 1000), 0);
    assert_int_equal(chord_store_remove(s, "k", 1), 0);
    assert_int_equal(chord_store_live_bytes(s), 0);
    assert_int_equal(chord_store_live(s), 0);
    chord_store_free(s);
}

/* A value collected after its TTL (a tombstone with its dot) is not
 * brought back by a late copy of the value. */
static void test_collected_value_stays_dead(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    struct chord_store_entry v;
    struct chord_item value = item("k", 1, "temp", 4, ver(7, 1), false);
    value.deadline = 1000;
    assert_int_equal(chord_store_apply(s, &value), 1);
    /* The collected state, as the owner sends it after collection. */
    struct chord_dvv d;
    state_of(chord_store_find(s, "k", 1, &v), &d);
    assert_int_equal(chord_dvv_collect(&d, 1000), 1);
    struct chord_item dead;
    memset(&dead, 0, sizeof(dead));
    dead.key = value.key;
    struct chord_buf scratch = {0};
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &dead), 0);
    assert_true(dead.tombstone);
    assert_int_equal(chord_store_apply(s, &dead), 1);
    assert_true(chord_store_find(s, "k", 1, &v)->tombstone);
    assert_int_equal(chord_store_apply(s, &value), 0);
    const struct chord_store_entry *e = chord_store_find(s, "k", 1, &v);
    assert_true(e->tombstone);
    assert_int_equal(e->version.counter, 7);
    assert_int_equal(chord_store_live(s), 0);
    chord_buf_free(&scratch);
    chord_store_free(s);
}

/* Items from before version vectors: the higher Lamport version replaces
 * every sibling, a lower one changes nothing. */
static void test_legacy_items(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    assert_int_equal(put_str(s, "k", "a", ver(5, 1)), 1);
    assert_int_equal(put_str(s, "k", "b", ver(3, 2)), 1); /* siblings */
    struct chord_item it = item("k", 1, "old", 3, ver(4, 9), false);
    it.legacy = true;
    assert_int_equal(chord_store_apply(s, &it), 0);
    it = item("k", 1, "new", 3, ver(6, 0), false);
    it.legacy = true;
    assert_int_equal(chord_store_apply(s, &it), 1);
    struct chord_dvv d;
    state_of(find_str(s, "k"), &d);
    assert_int_equal(d.n_sib, 1);
    assert_int_equal(d.sib[0].value.len, 3);
    assert_memory_equal(d.sib[0].value.data, "new", 3);
    assert_int_equal(find_str(s, "k")->version.counter, 6);
    assert_int_equal(chord_store_apply(s, &it), 0);
    /* Into an absent key, like any write. */
    it = item("fresh", 5, "x", 1, ver(1, 1), false);
    it.legacy = true;
    assert_int_equal(chord_store_apply(s, &it), 1);
    assert_value(find_str(s, "fresh"), "x");
    chord_store_free(s);
}

/* Errors leave the store as it was: a blob that does not decode, a legacy
 * item with a blob, a merge over the sibling cap. */
static void test_apply_errors_change_nothing(void **state)
{
    (void)state;
    struct chord_store *s = chord_store_new();
    struct chord_store_entry v;
    uint8_t junk[] = {1, 2, 3};
    struct chord_item it = item("k", 1, NULL, 0, ver(1, 1), false);
    it.state.data = junk;
    it.state.len = sizeof(junk);
    assert_int_equal(chord_store_apply(s, &it), -EPROTO);
    assert_int_equal(chord_store_size(s), 0);

    /* 16 concurrent writers: the 17th does not fit. */
    char val[8];
    for (int w = 0; w < CHORD_DVV_SIBLINGS; w++) {
        snprintf(val, sizeof(val), "w%d", w);
        assert_int_equal(put_str(s, "k", val, ver(1, (uint8_t)w)), 1);
    }
    const struct chord_store_entry *e = chord_store_find(s, "k", 1, &v);
    struct chord_buf before = {0}, after = {0};
    state_bytes(e, &before);
    uint64_t live_bytes = chord_store_live_bytes(s);
    assert_int_equal(put_str(s, "k", "one more", ver(1, 100)), -ENOSPC);
    state_bytes(chord_store_find(s, "k", 1, &v), &after);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, after.len);
    assert_int_equal(chord_store_live_bytes(s), live_bytes);
    /* A same-writer newer version still fits: it replaces its own. */
    assert_int_equal(put_str(s, "k", "newer", ver(2, 3)), 1);

    /* The stored blob as a legacy item: not a legacy item's form. */
    e = chord_store_find(s, "k", 1, &v);
    chord_store_entry_item(e, &it);
    it.legacy = true;
    it.key.data = (const uint8_t *)"k2";
    it.key.len = 2;
    assert_int_equal(chord_store_apply(s, &it), -EPROTO);
    assert_null(find_str(s, "k2"));
    chord_buf_free(&before);
    chord_buf_free(&after);
    chord_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_writer_newest_wins_others_siblings),
        cmocka_unit_test(test_any_order_same_state),
        cmocka_unit_test(test_deadline_and_state_trailers),
        cmocka_unit_test(test_collected_value_stays_dead),
        cmocka_unit_test(test_legacy_items),
        cmocka_unit_test(test_apply_errors_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
