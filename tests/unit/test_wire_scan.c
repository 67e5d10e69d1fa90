/*
 * test_wire_scan.c - the frames of a dump and a load (src/core/wire*.c):
 * C_SCAN, C_SCAN_RESULT, C_RESTORE and STORE_RESTORE built by hand decode
 * to the fields wire.c documents (pinning the byte layout); an item count
 * that cannot fit, a tombstone with a value, a key over its cap, a bad
 * consistency and a trailing byte are refused before anything is
 * trusted; a page too large for a frame is refused by the encoder, which
 * leaves the buffer as it was.
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

/* One item as the builder writes it: a 5-byte key, vlen bytes of value. */
static void fb_item(struct chord_buf *b, uint8_t tomb, uint32_t vlen)
{
    fb_bytes(b, 5, 5);
    fb_u8(b, tomb);
    fb_bytes(b, vlen, vlen);
    fb_u64(b, 9);
    fb_id(b, 0x44);
}

/* The head of a C_SCAN_RESULT: status OK, error "", hint, lo, owner, hi. */
static void fb_scan_result_head(struct chord_buf *b)
{
    fb_start(b, CHORD_MSG_C_SCAN_RESULT);
    fb_u8(b, CHORD_OK);
    fb_str(b, 0, 'x');
    fb_peer(b); /* hint: the successor */
    fb_id(b, 0x10);
    fb_peer(b); /* owner */
    fb_id(b, 0x20);
}

static void test_scan_request_layout(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    fb_start(&b, CHORD_MSG_C_SCAN);
    fb_id(&b, 0x5a);
    fb_u32(&b, 65536);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.type, CHORD_MSG_C_SCAN);
    assert_int_equal(m.range_lo.b[0], 0x5a);
    assert_int_equal(m.range_lo.b[CHORD_ID_BYTES - 1], 0x5a);
    assert_int_equal(m.scan_max, 65536);
    assert_true(chord_msg_is_client_request(CHORD_MSG_C_SCAN));

    /* One byte short, one byte more. */
    b.len -= 1;
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_u8(&b, 0);
    fb_u8(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    chord_buf_free(&b);
}

static void test_scan_result_checks(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    fb_scan_result_head(&b);
    fb_u32(&b, 2);
    fb_item(&b, 0, 7);
    fb_item(&b, 0, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.status, CHORD_OK);
    assert_int_equal(m.range_lo.b[0], 0x10);
    assert_int_equal(m.range_hi.b[0], 0x20);
    assert_int_equal(m.owner.id.b[0], 0x11);
    assert_int_equal(m.hint.id.b[0], 0x11);
    assert_int_equal(m.n_items, 2);
    struct chord_bytes cur = m.items_raw;
    struct chord_item it;
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_int_equal(it.value.len, 7);
    assert_true(it.version.counter == 9);
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_int_equal(it.value.len, 0);
    assert_int_equal(chord_items_next(&cur, &it), 0);

    /* A count that could never fit in the bytes left. */
    fb_scan_result_head(&b);
    fb_u32(&b, 0x10000000);
    fb_item(&b, 0, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* More items announced than carried. */
    fb_scan_result_head(&b);
    fb_u32(&b, 3);
    fb_item(&b, 0, 1);
    fb_item(&b, 0, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A tombstone carrying a value. */
    fb_scan_result_head(&b);
    fb_u32(&b, 1);
    fb_item(&b, 1, 3);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A key over CHORD_KEY_MAX. */
    fb_scan_result_head(&b);
    fb_u32(&b, 1);
    fb_bytes(&b, CHORD_KEY_MAX + 1, CHORD_KEY_MAX + 1);
    fb_u8(&b, 0);
    fb_bytes(&b, 0, 0);
    fb_u64(&b, 1);
    fb_id(&b, 0x44);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A page may end in the middle of nothing: zero items is fine. */
    fb_scan_result_head(&b);
    fb_u32(&b, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.n_items, 0);
    chord_buf_free(&b);
}

static void test_restore_layout(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    static const uint8_t types[] = {CHORD_MSG_C_RESTORE,
                                    CHORD_MSG_STORE_RESTORE};
    for (unsigned t = 0; t < 2; t++) {
        fb_start(&b, types[t]);
        fb_bytes(&b, 4, 4);
        fb_bytes(&b, 6, 6);
        fb_u64(&b, 123456789);
        fb_id(&b, 0x77);
        fb_u8(&b, CHORD_CONSISTENCY_ALL);
        fb_finish(&b);
        assert_decodes(&b, &m, NULL);
        assert_int_equal(m.key.len, 4);
        assert_int_equal(m.value.len, 6);
        assert_true(m.version.counter == 123456789);
        assert_int_equal(m.version.writer.b[3], 0x77);
        assert_int_equal(m.consistency, CHORD_CONSISTENCY_ALL);
        if (types[t] == CHORD_MSG_STORE_RESTORE)
            assert_int_equal(m.from.id.b[0], 0x11);

        /* a consistency that does not exist */
        b.data[b.len - 1] = CHORD_CONSISTENCY_ALL + 1;
        assert_malformed(&b, &m, NULL);
    }
    assert_true(chord_msg_is_client_request(CHORD_MSG_C_RESTORE));
    assert_false(chord_msg_is_client_request(CHORD_MSG_STORE_RESTORE));
    assert_false(chord_msg_is_client_request(CHORD_MSG_C_SCAN_RESULT));
    chord_buf_free(&b);
}

static void test_page_over_frame_refused(void **state)
{
    (void)state;
    /* Three items of the largest value cannot share one frame. */
    uint8_t *value = calloc(1, CHORD_VALUE_MAX);
    assert_non_null(value);
    struct chord_item items[3];
    for (int i = 0; i < 3; i++) {
        memset(&items[i], 0, sizeof(items[i]));
        items[i].key = (struct chord_bytes){(const uint8_t *)"key", 3};
        items[i].value = (struct chord_bytes){value, CHORD_VALUE_MAX};
        items[i].version.counter = 1;
    }
    struct chord_msg *m = calloc(1, sizeof(*m));
    chord_msg_init(m, CHORD_MSG_C_SCAN_RESULT, 1);
    m->items = items;
    m->n_items = 1;
    struct chord_buf out;
    chord_buf_init(&out);
    assert_int_equal(chord_buf_append(&out, "ab", 2), 0);
    assert_int_equal(chord_msg_encode(m, &out), 0); /* one fits */
    size_t one = out.len;
    m->n_items = 3;
    assert_int_equal(chord_msg_encode(m, &out), -EMSGSIZE);
    assert_int_equal(out.len, one); /* nothing appended */
    m->items = NULL;
    assert_int_equal(chord_msg_encode(m, &out), -EINVAL);
    chord_buf_free(&out);
    free(m);
    free(value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_request_layout),
        cmocka_unit_test(test_scan_result_checks),
        cmocka_unit_test(test_restore_layout),
        cmocka_unit_test(test_page_over_frame_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
