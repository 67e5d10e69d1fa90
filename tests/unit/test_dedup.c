/*
 * test_dedup.c - the table of applied request ids (dedup.c): a recorded
 * id is known, a newer one is not; the per-client window tells ids apart
 * in any order and calls older ones too old; idle clients are forgotten
 * after the TTL; a full table lets the least recently seen client go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/dedup.h"

static struct chord_rid rid(uint32_t client, uint64_t seq)
{
    struct chord_rid r;
    memset(r.client, 0, sizeof r.client);
    memcpy(r.client, &client, sizeof client);
    r.client[15] = (uint8_t)(client * 37u); /* spread the hash too */
    r.seq = seq;
    return r;
}

static void test_window(void **state)
{
    (void)state;
    struct chord_dedup *d = chord__dedup_new();
    assert_non_null(d);
    struct chord_rid a5 = rid(1, 5), a7 = rid(1, 7), a6 = rid(1, 6);
    assert_int_equal(chord__dedup_check(d, &a5, 0), CHORD_DEDUP_NEW);
    assert_int_equal(chord__dedup_record(d, &a5, 0), 0);
    assert_int_equal(chord__dedup_record(d, &a7, 0), 0);
    assert_int_equal(chord__dedup_check(d, &a5, 1), CHORD_DEDUP_APPLIED);
    assert_int_equal(chord__dedup_check(d, &a7, 1), CHORD_DEDUP_APPLIED);
    assert_int_equal(chord__dedup_check(d, &a6, 1), CHORD_DEDUP_NEW);
    struct chord_rid other = rid(2, 5);
    assert_int_equal(chord__dedup_check(d, &other, 1), CHORD_DEDUP_NEW);
    /* 64 newer ones push seq 7 out of the window. */
    struct chord_rid far = rid(1, 7 + CHORD_DEDUP_WINDOW);
    assert_int_equal(chord__dedup_record(d, &far, 2), 0);
    assert_int_equal(chord__dedup_check(d, &a7, 3), CHORD_DEDUP_TOO_OLD);
    struct chord_rid near = rid(1, 6 + CHORD_DEDUP_WINDOW);
    assert_int_equal(chord__dedup_check(d, &near, 3), CHORD_DEDUP_NEW);
    chord__dedup_free(d);
}

static void test_ttl_and_capacity(void **state)
{
    (void)state;
    struct chord_dedup *d = chord__dedup_new();
    struct chord_rid a = rid(1, 1);
    chord__dedup_record(d, &a, 1000);
    assert_int_equal(chord__dedup_check(d, &a, 1000 + CHORD_DEDUP_TTL_MS - 1),
                     CHORD_DEDUP_APPLIED);
    assert_int_equal(chord__dedup_check(d, &a, 2000 + CHORD_DEDUP_TTL_MS),
                     CHORD_DEDUP_NEW);
    assert_int_equal(chord__dedup_clients(d), 0);
    /* Fill the table; the first client (least recently seen) goes. */
    uint64_t t = 10 * CHORD_DEDUP_TTL_MS;
    for (uint32_t c = 1; c <= CHORD_DEDUP_CLIENTS; c++) {
        struct chord_rid r = rid(c, 1);
        assert_int_equal(chord__dedup_record(d, &r, t + c), 0);
    }
    assert_int_equal(chord__dedup_clients(d), CHORD_DEDUP_CLIENTS);
    struct chord_rid extra = rid(CHORD_DEDUP_CLIENTS + 1, 1);
    assert_int_equal(
        chord__dedup_record(d, &extra, t + CHORD_DEDUP_CLIENTS + 1), 0);
    assert_int_equal(chord__dedup_clients(d), CHORD_DEDUP_CLIENTS);
    struct chord_rid first = rid(1, 1), second = rid(2, 1);
    assert_int_equal(chord__dedup_check(d, &first, t + CHORD_DEDUP_CLIENTS + 2),
                     CHORD_DEDUP_NEW);
    assert_int_equal(
        chord__dedup_check(d, &second, t + CHORD_DEDUP_CLIENTS + 2),
        CHORD_DEDUP_APPLIED);
    assert_int_equal(chord__dedup_check(d, &extra, t + CHORD_DEDUP_CLIENTS + 2),
                     CHORD_DEDUP_APPLIED);
    chord__dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_ttl_and_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
