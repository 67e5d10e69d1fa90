/*
 * test_jread.c - chord_jread, the pull reader dht-viz --input reads
 * snapshots with: what the writer (common/json.h) writes reads back, the
 * comma and colon rules, skipping nested values, numbers out of range,
 * and the position of the first error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/jread.h"
#include "common/json.h"

static void start(struct chord_jread *r, const char *text)
{
    chord_jread_init(r, text, strlen(text));
}

/* What the writer writes, the reader reads back, escapes included. */
static void test_round_trip(void **state)
{
    (void)state;
    struct chord_json j;
    chord_json_init(&j);
    chord_json_arr_begin(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "addr");
    chord_json_strn(&j, "a\"b\\c\n\x01", 7);
    chord_json_key(&j, "n");
    chord_json_uint(&j, UINT64_MAX);
    chord_json_key(&j, "pred");
    chord_json_null(&j);
    chord_json_obj_end(&j);
    chord_json_obj_begin(&j);
    chord_json_obj_end(&j);
    chord_json_arr_end(&j);
    assert_int_equal(chord_json_finish(&j), 0);

    struct chord_jread r;
    chord_jread_init(&r, (const char *)j.out.data, j.out.len);
    char key[16], s[16];
    uint64_t v = 0;
    assert_int_equal(chord_jread_arr_begin(&r), 0);
    assert_true(chord_jread_arr_next(&r));
    assert_int_equal(chord_jread_obj_begin(&r), 0);
    assert_true(chord_jread_obj_next(&r, key, sizeof key));
    assert_string_equal(key, "addr");
    assert_int_equal(chord_jread_str(&r, s, sizeof s), 0);
    assert_memory_equal(s, "a\"b\\c\n\x01", 8);
    assert_true(chord_jread_obj_next(&r, key, sizeof key));
    assert_int_equal(chord_jread_uint(&r, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_true(chord_jread_obj_next(&r, key, sizeof key));
    assert_string_equal(key, "pred");
    assert_true(chord_jread_null(&r));
    assert_false(chord_jread_obj_next(&r, key, sizeof key));
    assert_true(chord_jread_arr_next(&r));
    assert_int_equal(chord_jread_obj_begin(&r), 0);
    assert_false(chord_jread_obj_next(&r, key, sizeof key));
    assert_false(chord_jread_arr_next(&r));
    assert_int_equal(chord_jread_end(&r), 0);
    assert_int_equal(r.err, 0);
    chord_json_free(&j);
}

/* Skipping takes one whole value, however nested, and only that. */
static void test_skip(void **state)
{
    (void)state;
    struct chord_jread r;
    char key[8];
    uint64_t v = 0;
    start(&r, "{\"x\": [1, {\"a\": [true, false, null, -1.5e3, \"]\"]}, []],"
              " \"y\": 7}");
    assert_int_equal(chord_jread_obj_begin(&r), 0);
    assert_true(chord_jread_obj_next(&r, key, sizeof key));
    assert_int_equal(chord_jread_skip(&r), 0);
    assert_true(chord_jread_obj_next(&r, key, sizeof key));
    assert_string_equal(key, "y");
    assert_int_equal(chord_jread_uint(&r, 100, &v), 0);
    assert_int_equal(v, 7);
    assert_false(chord_jread_obj_next(&r, key, sizeof key));
    assert_int_equal(chord_jread_end(&r), 0);
}

/* A long string is cut to the buffer, and the reader goes on after it. */
static void test_cut(void **state)
{
    (void)state;
    struct chord_jread r;
    char s[4];
    start(&r, "[\"abcdef\", \"g\"]");
    assert_int_equal(chord_jread_arr_begin(&r), 0);
    assert_true(chord_jread_arr_next(&r));
    assert_int_equal(chord_jread_str(&r, s, sizeof s), 0);
    assert_string_equal(s, "abc");
    assert_true(chord_jread_arr_next(&r));
    assert_int_equal(chord_jread_str(&r, s, sizeof s), 0);
    assert_string_equal(s, "g");
    assert_false(chord_jread_arr_next(&r));
}

/* The first error is kept with its line and column; later calls fail. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *where;
    } cases[] = {
        {"[1 2]", "1:4: expected ','"},
        {"[,1]", "1:2: expected a number"},
        {"{\"a\" 1}", "1:6: expected ':'"},
        {"[\n  99999999999999999999]", "2:3: number out of range"},
        {"[\"abc", "1:2: unterminated string"},
        {"[1.5]", "1:2: expected a whole number"},
        {"[1] x", "1:5: unexpected text after the document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chord_jread r;
        char msg[96], s[8];
        uint64_t v;
        start(&r, cases[i].text);
        if (cases[i].text[0] == '[') {
            chord_jread_arr_begin(&r);
            while (chord_jread_arr_next(&r)) {
                if (r.text[r.pos] == '"')
                    chord_jread_str(&r, s, sizeof s);
                else
                    chord_jread_uint(&r, UINT64_MAX, &v);
            }
            chord_jread_end(&r);
        } else {
            char key[8];
            chord_jread_obj_begin(&r);
            while (chord_jread_obj_next(&r, key, sizeof key))
                chord_jread_skip(&r);
        }
        assert_int_equal(r.err, -EINVAL);
        chord_jread_error(&r, msg, sizeof msg);
        assert_string_equal(msg, cases[i].where);
        assert_false(chord_jread_arr_next(&r));
        assert_int_equal(chord_jread_skip(&r), -EINVAL);
    }
}

/* Skipping refuses nesting beyond its cap instead of recursing. */
static void test_depth(void **state)
{
    (void)state;
    char deep[2 * CHORD_JREAD_DEPTH_MAX + 8];
    size_t n = 0;
    for (unsigned i = 0; i <= CHORD_JREAD_DEPTH_MAX; i++)
        deep[n++] = '[';
    for (unsigned i = 0; i <= CHORD_JREAD_DEPTH_MAX; i++)
        deep[n++] = ']';
    struct chord_jread r;
    chord_jread_init(&r, deep, n);
    assert_int_equal(chord_jread_skip(&r), -EINVAL);
    assert_string_equal(r.msg, "nested too deeply");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_skip),
        cmocka_unit_test(test_cut),        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
