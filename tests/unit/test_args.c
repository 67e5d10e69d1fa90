/*
 * test_args.c - chord_parse_u64, the number parser every tool uses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/args.h"

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(chord_parse_u64("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(chord_parse_u64("10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(chord_parse_u64("18446744073709551615", 0, UINT64_MAX,
                                     &v),
                     0);
    assert_true(v == UINT64_MAX);
    v = 7;
    /* Out of range, overflow, signs, spaces, junk, empty: refused, and
     * *out untouched. */
    const char *bad[] = {"11", "18446744073709551616", "-1", "+1", " 1",
                         "1 ", "1x", "0x10", "", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(chord_parse_u64(bad[i], 0, 10, &v), -EINVAL);
    assert_int_equal(chord_parse_u64("3", 4, 10, &v), -EINVAL);
    assert_int_equal(chord_parse_u64(NULL, 0, 10, &v), -EINVAL);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
