/*
 * test_wire_items.c - one item's encoding (chord_item_encode/decode, as a
 * log record holds it and a TRANSFER carries it) since version vectors:
 * bytes of the format before them, written out by hand, still decode as
 * before, marked legacy, and re-encode to the same bytes; items with a
 * deadline, a state blob or both round trip with the layout wire.c
 * documents; chord_item_wire_size is their exact size; the encoder
 * refuses a legacy item with a deadline or a state; the decoder refuses
 * non-canonical items (a value beside a state, a zero deadline, an empty
 * state, the new bits without CAUSAL); a state at CHORD_DVV_STATE_MAX
 * with a key at its cap fits alone in one TRANSFER frame; a TRANSFER
 * encoded from items already encoded is the same frame.
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

/* An item with an origin and a fence in the format before version
 * vectors, byte by byte. */
static const uint8_t legacy_item[] = {
    0,    0,    0,    2,    'k',  '1',           /* key */
    0x06,                                        /* flags: origin, fence */
    0,    0,    0,    1,    'v',                 /* value */
    0,    0,    0,    0,    0,    0,    0,    5, /* version: counter 5, writer
                                                    0x44.. */
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, /* */
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, /* */
    0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, /* origin client */
    0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, 0x6e, /* */
    0,    0,    0,    0,    0,    0,    0,    77,   /* origin seq */
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* fence name hash */
    0,    0,    0,    0,    0,    0,    0,    9,    /* fence */
};
/* A tombstone in that format: no origin, no fence. */
static const uint8_t legacy_tombstone[] = {
    0,    0, 0, 1, 'z',          /* key */
    0x01,                        /* flags: tombstone */
    0,    0, 0, 0,               /* value: empty */
    0,    0, 0, 0, 0,   0, 1, 0, /* version: counter 256, writer 0x00.. */
    0,    0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Decode exactly `len` bytes of one item, through both entry points. */
static void decode_both_ways(const uint8_t *p, size_t len,
                             struct chord_item *it)
{
    memset(it, 0xa5, sizeof *it);
    assert_int_equal(chord_item_decode(p, len, it), 0);
    struct chord_bytes cur = {p, len};
    struct chord_item again;
    assert_int_equal(chord_items_next(&cur, &again), 1);
    assert_int_equal(cur.len, 0);
    assert_int_equal(again.legacy, it->legacy);
}

static void test_legacy_bytes(void **state)
{
    (void)state;
    struct chord_item it;
    struct chord_buf out;
    chord_buf_init(&out);

    decode_both_ways(legacy_item, sizeof legacy_item, &it);
    assert_true(it.legacy);
    assert_int_equal(it.key.len, 2);
    assert_memory_equal(it.key.data, "k1", 2);
    assert_false(it.tombstone);
    assert_int_equal(it.value.len, 1);
    assert_int_equal(it.value.data[0], 'v');
    assert_true(it.version.counter == 5);
    assert_int_equal(it.version.writer.b[0], 0x44);
    assert_int_equal(it.version.writer.b[CHORD_ID_BYTES - 1], 0x44);
    assert_true(it.has_origin);
    assert_int_equal(it.origin.client[0], 0x6e);
    assert_true(it.origin.seq == 77);
    assert_true(it.has_fence);
    assert_true(it.fence_name == 0x1122334455667788ull);
    assert_true(it.fence == 9);
    assert_true(it.deadline == 0);
    assert_int_equal(it.state.len, 0);
    assert_int_equal(chord_item_wire_size(&it), sizeof legacy_item);
    /* Written back as legacy: the same bytes. */
    assert_int_equal(chord_item_encode(&it, &out), 0);
    assert_int_equal(out.len, sizeof legacy_item);
    assert_memory_equal(out.data, legacy_item, sizeof legacy_item);
    /* Written as a new item: only the CAUSAL flag differs. */
    it.legacy = false;
    chord_buf_reset(&out);
    assert_int_equal(chord_item_encode(&it, &out), 0);
    assert_int_equal(out.len, sizeof legacy_item);
    assert_int_equal(out.data[6], 0x06 | CHORD_ITEM_CAUSAL);
    out.data[6] = 0x06;
    assert_memory_equal(out.data, legacy_item, sizeof legacy_item);

    decode_both_ways(legacy_tombstone, sizeof legacy_tombstone, &it);
    assert_true(it.legacy);
    assert_true(it.tombstone);
    assert_false(it.has_origin);
    assert_false(it.has_fence);
    assert_int_equal(it.value.len, 0);
    assert_true(it.version.counter == 256);
    chord_buf_reset(&out);
    assert_int_equal(chord_item_encode(&it, &out), 0);
    assert_memory_equal(out.data, legacy_tombstone, sizeof legacy_tombstone);

    /* Both in a TRANSFER, as an old node sends them. */
    struct chord_buf b;
    chord_buf_init(&b);
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, CHORD_TRANSFER_LAST);
    fb_u32(&b, 2);
    fb_raw(&b, legacy_item, sizeof legacy_item);
    fb_raw(&b, legacy_tombstone, sizeof legacy_tombstone);
    fb_finish(&b);
    struct chord_msg m;
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.n_items, 2);
    struct chord_bytes cur = m.items_raw;
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_true(it.legacy && it.has_fence && it.value.len == 1);
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_true(it.legacy && it.tombstone);
    assert_int_equal(chord_items_next(&cur, &it), 0);

    chord_buf_free(&b);
    chord_buf_free(&out);
}

/* An item with every part: the fields follow wire.c's order and the
 * decoded item is the one encoded. */
static void test_deadline_and_state_layout(void **state)
{
    (void)state;
    uint8_t blob[40];
    memset(blob, 0xb1, sizeof blob);
    struct chord_item it, got;
    memset(&it, 0, sizeof it);
    it.key = (struct chord_bytes){(const uint8_t *)"key", 3};
    it.value = (struct chord_bytes){(const uint8_t *)"ignored", 7};
    it.version.counter = 12;
    it.tombstone = true; /* a state with no live value */
    it.has_origin = true;
    it.origin.seq = 3;
    it.has_fence = true;
    it.fence_name = 4;
    it.fence = 5;
    it.deadline = 0x0102030405060708ull;
    it.state = (struct chord_bytes){blob, sizeof blob};

    struct chord_buf out;
    chord_buf_init(&out);
    assert_int_equal(chord_item_encode(&it, &out), 0);
    size_t at_flags = 4 + 3;
    size_t after_fence =
        at_flags + 1 + 4 + 8 + CHORD_ID_BYTES + CHORD_CLIENT_ID_BYTES + 8 + 16;
    assert_int_equal(out.len, after_fence + 8 + 4 + sizeof blob);
    assert_int_equal(chord_item_wire_size(&it), out.len);
    assert_int_equal(out.data[at_flags],
                     CHORD_ITEM_TOMBSTONE | CHORD_ITEM_ORIGIN |
                         CHORD_ITEM_FENCE | CHORD_ITEM_CAUSAL |
                         CHORD_ITEM_STATE | CHORD_ITEM_DEADLINE);
    /* The value is written empty. */
    assert_int_equal(out.data[at_flags + 4], 0);
    assert_int_equal(out.data[after_fence], 0x01);
    assert_int_equal(out.data[after_fence + 7], 0x08);
    assert_int_equal(out.data[after_fence + 11], sizeof blob);
    assert_int_equal(out.data[out.len - 1], 0xb1);

    decode_both_ways(out.data, out.len, &got);
    assert_false(got.legacy);
    assert_true(got.tombstone);
    assert_int_equal(got.value.len, 0);
    assert_true(got.deadline == it.deadline);
    assert_int_equal(got.state.len, sizeof blob);
    assert_memory_equal(got.state.data, blob, sizeof blob);
    assert_true(got.has_origin && got.origin.seq == 3);
    assert_true(got.has_fence && got.fence == 5);

    /* Each part alone, with a value and without. */
    for (unsigned parts = 0; parts < 4; parts++) {
        memset(&it, 0, sizeof it);
        it.key = (struct chord_bytes){(const uint8_t *)"k", 1};
        it.value = (struct chord_bytes){(const uint8_t *)"val", 3};
        it.version.counter = 1;
        it.deadline = parts & 1 ? 1 : 0;
        it.state = parts & 2 ? (struct chord_bytes){blob, 1}
                             : (struct chord_bytes){NULL, 0};
        chord_buf_reset(&out);
        assert_int_equal(chord_item_encode(&it, &out), 0);
        assert_int_equal(chord_item_wire_size(&it), out.len);
        decode_both_ways(out.data, out.len, &got);
        assert_false(got.legacy);
        assert_false(got.tombstone);
        assert_true(got.deadline == it.deadline);
        assert_int_equal(got.state.len, it.state.len);
        assert_int_equal(got.value.len, parts & 2 ? 0 : 3);
        chord_buf_reset(&out);
        assert_int_equal(chord_item_encode(&got, &out), 0);
        assert_int_equal(chord_item_wire_size(&got), out.len);
    }
    chord_buf_free(&out);
}

/* What the encoder refuses (nothing appended) and the decoder refuses. */
static void test_refused_items(void **state)
{
    (void)state;
    uint8_t blob[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct chord_item it, got;
    struct chord_buf out;
    chord_buf_init(&out);

    /* A legacy item has no room for a deadline or a state. */
    memset(&it, 0, sizeof it);
    it.legacy = true;
    it.deadline = 1;
    assert_int_equal(chord_buf_append(&out, "prev", 4), 0);
    assert_int_equal(chord_item_encode(&it, &out), -EINVAL);
    it.deadline = 0;
    it.state = (struct chord_bytes){blob, sizeof blob};
    assert_int_equal(chord_item_encode(&it, &out), -EINVAL);
    assert_int_equal(out.len, 4);
    /* ... nor in a TRANSFER. */
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_TRANSFER, 1);
    m.items = &it;
    m.n_items = 1;
    assert_int_equal(chord_msg_encode(&m, &out), -EINVAL);
    assert_int_equal(out.len, 4);

    /* Hand-made items: key "k", flags, value, version, then the rest. */
    struct {
        uint8_t flags;
        uint32_t vlen;
        bool deadline; /* write a u64 deadline */
        uint64_t deadline_v;
        bool state; /* write a state of state_len bytes */
        uint32_t state_len;
        bool ok;
    } cases[] = {
        {CHORD_ITEM_CAUSAL, 2, false, 0, false, 0, true},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_DEADLINE, 2, true, 7, false, 0, true},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_DEADLINE, 2, true, 0, false, 0, false},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE, 0, false, 0, true, 3, true},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE, 2, false, 0, true, 3, false},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE, 0, false, 0, true, 0, false},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE, 0, false, 0, false, 0, false},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_DEADLINE, 2, false, 0, false, 0, false},
        {CHORD_ITEM_CAUSAL | CHORD_ITEM_TOMBSTONE, 2, false, 0, false, 0,
         false},
        {CHORD_ITEM_DEADLINE, 2, true, 7, false, 0, false},
        {CHORD_ITEM_STATE, 0, false, 0, true, 3, false},
        {CHORD_ITEM_CAUSAL | 0x40, 2, false, 0, false, 0, false},
        {CHORD_ITEM_CAUSAL | 0x80, 2, false, 0, false, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chord_buf_reset(&out);
        fb_bytes(&out, 1, 1);
        fb_u8(&out, cases[i].flags);
        fb_bytes(&out, cases[i].vlen, cases[i].vlen);
        fb_u64(&out, 1);
        fb_id(&out, 0x44);
        if (cases[i].deadline)
            fb_u64(&out, cases[i].deadline_v);
        if (cases[i].state)
            fb_bytes(&out, cases[i].state_len, cases[i].state_len);
        assert_int_equal(chord_item_decode(out.data, out.len, &got),
                         cases[i].ok ? 0 : -EPROTO);
        if (cases[i].ok) {
            assert_false(got.legacy);
            assert_true(got.deadline == cases[i].deadline_v);
            assert_int_equal(got.state.len, cases[i].state_len);
        }
    }
    /* A state announced over its cap. */
    chord_buf_reset(&out);
    fb_bytes(&out, 1, 1);
    fb_u8(&out, CHORD_ITEM_CAUSAL | CHORD_ITEM_STATE);
    fb_bytes(&out, 0, 0);
    fb_u64(&out, 1);
    fb_id(&out, 0x44);
    fb_u32(&out, CHORD_DVV_STATE_MAX + 1);
    assert_int_equal(chord_item_decode(out.data, out.len, &got), -EPROTO);
    chord_buf_free(&out);
}

/* The largest item: a key at its cap, origin, fence, deadline and a state
 * at CHORD_DVV_STATE_MAX. It encodes alone (a log record) and alone in a
 * TRANSFER from a sender with the longest address, and decodes back; a
 * state one byte longer is refused. */
static void test_largest_item(void **state)
{
    (void)state;
    uint8_t *blob = malloc(CHORD_DVV_STATE_MAX + 1);
    assert_non_null(blob);
    for (size_t i = 0; i < CHORD_DVV_STATE_MAX + 1; i++)
        blob[i] = (uint8_t)(i * 7);
    uint8_t key[CHORD_KEY_MAX];
    memset(key, 'k', sizeof key);
    struct chord_item it, got;
    memset(&it, 0, sizeof it);
    it.key = (struct chord_bytes){key, sizeof key};
    it.version.counter = 99;
    it.has_origin = it.has_fence = true;
    it.origin.seq = 1;
    it.deadline = 123;
    it.state = (struct chord_bytes){blob, CHORD_DVV_STATE_MAX};

    struct chord_buf out;
    chord_buf_init(&out);
    assert_int_equal(chord_item_encode(&it, &out), 0);
    assert_int_equal(out.len, chord_item_wire_size(&it));
    assert_int_equal(chord_item_decode(out.data, out.len, &got), 0);
    assert_int_equal(got.state.len, CHORD_DVV_STATE_MAX);
    assert_memory_equal(got.state.data, blob, CHORD_DVV_STATE_MAX);
    assert_int_equal(got.key.len, CHORD_KEY_MAX);

    struct chord_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_TRANSFER, 5);
    memset(m->from.addr, 'a', CHORD_ADDR_MAX - 1);
    m->from.addr[CHORD_ADDR_MAX - 1] = '\0';
    m->flags = CHORD_TRANSFER_LAST | CHORD_TRANSFER_REPLICA;
    m->items = &it;
    m->n_items = 1;
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(m, &out), 0);
    assert_true(out.len <= CHORD_FRAME_MAX);
    chord_msg_init(m, 0, 0);
    assert_int_equal(chord_msg_decode(out.data, out.len, m), (ssize_t)out.len);
    struct chord_bytes cur = m->items_raw;
    assert_int_equal(chord_items_next(&cur, &got), 1);
    assert_int_equal(got.state.len, CHORD_DVV_STATE_MAX);
    assert_true(got.deadline == 123);

    it.state.len = CHORD_DVV_STATE_MAX + 1;
    chord_buf_reset(&out);
    assert_int_equal(chord_item_encode(&it, &out), -EMSGSIZE);
    assert_int_equal(out.len, 0);

    free(m);
    free(blob);
    chord_buf_free(&out);
}

/* A TRANSFER built from items already encoded (items_raw, as replica
 * batches send it) is the same frame, byte for byte, as one built from
 * the items themselves, and decodes to them. */
static void test_transfer_from_encoded_items(void **state)
{
    (void)state;
    struct chord_item its[3];
    memset(its, 0, sizeof its);
    const char *keys[] = {"a", "bb", "ccc"};
    struct chord_buf raw, a, b;
    chord_buf_init(&raw);
    chord_buf_init(&a);
    chord_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        its[i].key =
            (struct chord_bytes){(const uint8_t *)keys[i], strlen(keys[i])};
        its[i].value = (struct chord_bytes){(const uint8_t *)"value", 5};
        its[i].version.counter = 10 + (uint64_t)i;
        its[i].deadline = i == 1 ? 777 : 0;
        its[i].tombstone = i == 2;
        if (its[i].tombstone)
            its[i].value.len = 0;
        assert_int_equal(chord_item_encode(&its[i], &raw), 0);
    }
    struct chord_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_TRANSFER, 9);
    snprintf(m->from.addr, CHORD_ADDR_MAX, "127.0.0.1:7000");
    m->flags = CHORD_TRANSFER_LAST | CHORD_TRANSFER_REPLICA;
    m->n_items = 3;
    m->items = its;
    assert_int_equal(chord_msg_encode(m, &a), 0);
    m->items = NULL;
    m->items_raw = (struct chord_bytes){raw.data, raw.len};
    assert_int_equal(chord_msg_encode(m, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    chord_msg_init(m, 0, 0);
    assert_int_equal(chord_msg_decode(b.data, b.len, m), (ssize_t)b.len);
    assert_int_equal(m->n_items, 3);
    struct chord_bytes cur = m->items_raw;
    struct chord_item got;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(chord_items_next(&cur, &got), 1);
        assert_int_equal(got.key.len, strlen(keys[i]));
        assert_memory_equal(got.key.data, keys[i], got.key.len);
        assert_true(got.version.counter == 10 + (uint64_t)i);
    }
    assert_int_equal(chord_items_next(&cur, &got), 0);
    free(m);
    chord_buf_free(&raw);
    chord_buf_free(&a);
    chord_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_bytes),
        cmocka_unit_test(test_deadline_and_state_layout),
        cmocka_unit_test(test_refused_items),
        cmocka_unit_test(test_largest_item),
        cmocka_unit_test(test_transfer_from_encoded_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
