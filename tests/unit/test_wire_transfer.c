/*
 * test_wire_transfer.c - TRANSFER frames and their items
 * (src/core/wire.c): a hand-built transfer decodes and its items iterate;
 * items carry an origin and a fence or not (an item written before items
 * had them still decodes); wrong counts, tombstones with values, unknown
 * transfer and item flags and oversized item
 * keys are refused; chord_item_wire_size() is exactly what one more item
 * adds to a frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_fixture.h"

/* One TRANSFER item as the builder writes it. */
static void fb_item(struct chord_buf *b, uint8_t tomb, uint32_t vlen)
{
    fb_bytes(b, 5, 5);
    fb_u8(b, tomb);
    fb_bytes(b, vlen, vlen);
    fb_u64(b, 1);
    fb_id(b, 0x44);
}

/* The origin (client 0x6e.., seq 77) and fence (name 0x1122.., fence 5)
 * parts of an item, as its flags say. */
static void fb_item_extras(struct chord_buf *b, uint8_t flags)
{
    if (flags & 2u) {
        uint8_t client[CHORD_CLIENT_ID_BYTES];
        memset(client, 0x6e, sizeof client);
        fb_raw(b, client, sizeof client);
        fb_u64(b, 77);
    }
    if (flags & 4u) {
        fb_u64(b, 0x1122334455667788ull);
        fb_u64(b, 5);
    }
}

/* Items with an origin, a fence, both, and none (written the way they
 * were before items had flags: the byte 0 or 1): each decodes with what
 * it carries, and only that. An origin or fence announced but cut short
 * is refused. */
static void test_decode_item_parts(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    static const uint8_t flags[] = {0, 1, 2, 4, 6, 7, 3, 5};
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, sizeof flags);
    for (size_t i = 0; i < sizeof flags; i++) {
        fb_item(&b, flags[i], flags[i] & 1u ? 0 : 3);
        fb_item_extras(&b, flags[i]);
    }
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    struct chord_bytes cur = m.items_raw;
    struct chord_item it;
    for (size_t i = 0; i < sizeof flags; i++) {
        memset(&it, 0xa5, sizeof it);
        assert_int_equal(chord_items_next(&cur, &it), 1);
        assert_int_equal(it.tombstone, flags[i] & 1u);
        assert_int_equal(it.value.len, flags[i] & 1u ? 0 : 3);
        assert_true(it.version.counter == 1);
        assert_int_equal(it.has_origin, (flags[i] & 2u) != 0);
        assert_int_equal(it.has_fence, (flags[i] & 4u) != 0);
        /* No CAUSAL flag: the legacy format, with no deadline or state. */
        assert_true(it.legacy);
        assert_true(it.deadline == 0);
        assert_int_equal(it.state.len, 0);
        if (it.has_origin) {
            assert_int_equal(it.origin.client[0], 0x6e);
            assert_int_equal(it.origin.client[CHORD_CLIENT_ID_BYTES - 1], 0x6e);
            assert_true(it.origin.seq == 77);
        } else {
            assert_true(it.origin.seq == 0);
        }
        if (it.has_fence) {
            assert_true(it.fence_name == 0x1122334455667788ull);
            assert_true(it.fence == 5);
        } else {
            assert_true(it.fence == 0 && it.fence_name == 0);
        }
        /* What decodes encodes back to the same bytes, one item alone. */
        struct chord_buf one;
        chord_buf_init(&one);
        assert_int_equal(chord_item_encode(&it, &one), 0);
        assert_int_equal(one.len, chord_item_wire_size(&it));
        struct chord_item back;
        assert_int_equal(chord_item_decode(one.data, one.len, &back), 0);
        assert_int_equal(back.has_origin, it.has_origin);
        assert_int_equal(back.has_fence, it.has_fence);
        chord_buf_free(&one);
    }
    assert_int_equal(chord_items_next(&cur, &it), 0);

    /* Announced but cut short: the item is the frame's last bytes. */
    static const uint8_t partial[] = {2, 4, 6};
    for (size_t i = 0; i < sizeof partial; i++) {
        fb_start(&b, CHORD_MSG_TRANSFER);
        fb_u8(&b, 0);
        fb_u32(&b, 1);
        fb_item(&b, partial[i], 0);
        fb_item_extras(&b, partial[i]);
        b.len -= 1;
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    chord_buf_free(&b);
}

static void test_decode_transfer_checks(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* Reference: two items, flags LAST. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, CHORD_TRANSFER_LAST);
    fb_u32(&b, 2);
    fb_item(&b, 0, 7);
    fb_item(&b, 1, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.n_items, 2);
    assert_int_equal(m.flags, CHORD_TRANSFER_LAST);
    struct chord_bytes cur = m.items_raw;
    struct chord_item it;
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_int_equal(it.value.len, 7);
    assert_false(it.tombstone);
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_true(it.tombstone);
    assert_int_equal(chord_items_next(&cur, &it), 0);

    /* Count larger than the items carried, and smaller. */
    b.data[b.len - 2 * (5 + 4 + 1 + 4 + 8 + CHORD_ID_BYTES) - 7 - 1] = 3;
    assert_malformed(&b, &m, NULL);
    b.data[b.len - 2 * (5 + 4 + 1 + 4 + 8 + CHORD_ID_BYTES) - 7 - 1] = 1;
    assert_malformed(&b, &m, NULL);

    /* A count that could never fit. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 0xffffffff);
    fb_item(&b, 0, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A tombstone carrying a value; unknown item flag bits (each alone,
     * with the known ones, and with the bytes an origin and a fence would
     * take, so only the bit is wrong): STATE and DEADLINE without CAUSAL
     * (a legacy item has neither), and bits unknown in either format. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 1);
    fb_item(&b, 1, 3);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    static const uint8_t bad_bits[] = {
        CHORD_ITEM_STATE,         CHORD_ITEM_DEADLINE,     0x40, 0x80,
        CHORD_ITEM_CAUSAL | 0x40, CHORD_ITEM_CAUSAL | 0x80};
    for (size_t k = 0; k < sizeof bad_bits; k++) {
        uint8_t flags[] = {bad_bits[k], (uint8_t)(bad_bits[k] | 7u)};
        for (size_t i = 0; i < sizeof flags; i++) {
            fb_start(&b, CHORD_MSG_TRANSFER);
            fb_u8(&b, 0);
            fb_u32(&b, 1);
            fb_item(&b, flags[i], 0);
            fb_item_extras(&b, flags[i]);
            fb_finish(&b);
            assert_malformed(&b, &m, NULL);
        }
    }

    /* Unknown TRANSFER flag bits. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0x08);
    fb_u32(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* An item key over the cap. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 1);
    fb_bytes(&b, CHORD_KEY_MAX + 1, CHORD_KEY_MAX + 1);
    fb_u8(&b, 0);
    fb_bytes(&b, 0, 0);
    fb_u64(&b, 1);
    fb_id(&b, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

/* chord_item_wire_size is exactly what one more item adds to a frame. */
static void test_item_wire_size(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 31337;
    for (int rep = 0; rep < 200; rep++) {
        sample_fill(s, CHORD_MSG_TRANSFER, &r, &small_scale);
        if (s->m.n_items == 0)
            continue;
        /* A tombstone whose value field was left non-empty is sent empty. */
        if (rep % 5 == 0) {
            s->items[0].tombstone = true;
            s->items[0].value.len = 9;
        }
        size_t sum = 0;
        uint32_t n = s->m.n_items;
        for (uint32_t i = 0; i < n; i++)
            sum += chord_item_wire_size(&s->items[i]);
        s->m.n_items = 0;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        size_t empty = out.len;
        s->m.n_items = n;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_int_equal(out.len - empty, sum);

        struct chord_msg got;
        got.status_out = NULL;
        assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                         (ssize_t)out.len);
        struct chord_bytes cur = got.items_raw;
        struct chord_item it;
        assert_int_equal(chord_items_next(&cur, &it), 1);
        assert_int_equal(it.tombstone, s->items[0].tombstone);
        if (it.tombstone)
            assert_int_equal(it.value.len, 0);
    }
    chord_buf_free(&out);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_transfer_checks),
        cmocka_unit_test(test_decode_item_parts),
        cmocka_unit_test(test_item_wire_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
