/*
 * test_progress.c - the progress line's text (tools/common/progress.h):
 * what a person at a terminal reads, and silence when stderr is not one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/progress.h"

static void test_known_total(void **state)
{
    (void)state;
    struct chord_progress p;
    chord_progress_start(&p, "load", 1000, true);
    p.start_ms = 10000;
    p.done = 250;
    char line[128];
    /* 250 in 2 s: 125/s, 750 left: 6 s. */
    chord_progress_format(&p, 12000, line, sizeof(line));
    assert_string_equal(line, "load: 250/1000 25% 125/s ETA 0:06");
    p.done = 1000;
    chord_progress_format(&p, 14000, line, sizeof(line));
    assert_string_equal(line, "load: 1000/1000 100% 250/s ETA 0:00");
}

static void test_unknown_total_and_long_eta(void **state)
{
    (void)state;
    struct chord_progress p;
    chord_progress_start(&p, "dump", 0, true);
    p.start_ms = 0;
    p.done = 42;
    char line[128];
    chord_progress_format(&p, 1000, line, sizeof(line));
    assert_string_equal(line, "dump: 42 done, 42/s");
    /* Nothing done yet: no ETA can be guessed. */
    chord_progress_start(&p, "sim", 10, true);
    p.start_ms = 0;
    chord_progress_format(&p, 1000, line, sizeof(line));
    assert_string_equal(line, "sim: 0/10 0% 0/s ETA ?");
    /* 1 item per second, 3661 left: an hour, a minute, a second. */
    chord_progress_start(&p, "x", 3662, true);
    p.start_ms = 0;
    p.done = 1;
    chord_progress_format(&p, 1000, line, sizeof(line));
    assert_string_equal(line, "x: 1/3662 0% 1/s ETA 1:01:01");
}

static void test_quiet_is_inactive(void **state)
{
    (void)state;
    struct chord_progress p;
    chord_progress_start(&p, "q", 5, true);
    assert_false(p.active);
    chord_progress_update(&p, 3);
    assert_int_equal(p.done, 3);
    chord_progress_finish(&p);
    assert_false(p.active);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_total),
        cmocka_unit_test(test_unknown_total_and_long_eta),
        cmocka_unit_test(test_quiet_is_inactive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
