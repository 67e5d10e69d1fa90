/*
 * test_read_json.c - what `dht get` prints of a key's concurrent values
 * (tools/common/read_json.h) and how it reads a context back
 * (tools/common/base64.h): the --json document (UTF-8 text as text,
 * other bytes as base64 with an encoding member, the seconds a TTL has
 * left, the context), --all's length-prefixed values, and strict base64.
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

#include "common/base64.h"
#include "common/json.h"
#include "common/read_json.h"

static char *doc(const void *key, size_t key_len, const struct chord_read *r,
                 uint64_t now)
{
    struct chord_json j;
    chord_read_json(&j, key, key_len, r, now);
    assert_int_equal(chord_json_finish(&j), 0);
    char *s = strdup((const char *)j.out.data);
    chord_json_free(&j);
    return s;
}

static void test_document(void **state)
{
    (void)state;
    static const uint8_t ctx[] = {1, 2, 3, 0xff};
    static const uint8_t bin[] = {0xff, 0x00, 'x'};
    struct chord_read r = {.n_values = 3, .context = ctx, .context_len = 4};
    r.values[0] = (struct chord_value){(const uint8_t *)"green", 5, 0};
    /* "é€😀" in UTF-8, with a quote and a newline */
    static const char text[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\n";
    r.values[1] =
        (struct chord_value){(const uint8_t *)text, strlen(text), 10500};
    r.values[2] = (struct chord_value){bin, sizeof bin, 9001};
    char *s = doc("k\xc3\xa9", 3, &r, 9000);
    assert_string_equal(
        s, "{\"key\":\"k\\u00e9\",\"values\":["
           "{\"value\":\"green\",\"ttl_s\":null},"
           "{\"value\":\"\\u00e9\\u20ac\\ud83d\\ude00\\\"\\n\",\"ttl_s\":2},"
           "{\"value\":\"/wB4\",\"encoding\":\"base64\",\"ttl_s\":1}],"
           "\"context\":\"AQID/w==\"}");
    free(s);

    /* Not found: no values, the context all the same; a key that is
     * not UTF-8 as base64. */
    struct chord_read none = {.context = ctx, .context_len = 1};
    s = doc("\xff", 1, &none, 0);
    assert_string_equal(s, "{\"key\":\"/w==\",\"key_encoding\":\"base64\","
                           "\"values\":[],\"context\":\"AQ==\"}");
    free(s);
}

static void test_utf8_check(void **state)
{
    (void)state;
    assert_true(chord_json_is_utf8("", 0));
    assert_true(chord_json_is_utf8("plain", 5));
    assert_true(chord_json_is_utf8("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(chord_json_is_utf8("\xc0\xaf", 2));         /* overlong */
    assert_false(chord_json_is_utf8("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(chord_json_is_utf8("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
    assert_false(chord_json_is_utf8("\xe2\x82", 2));         /* cut short */
    assert_false(chord_json_is_utf8("a\x80", 2));
}

static void test_ttl_left(void **state)
{
    (void)state;
    assert_int_equal(chord_read_ttl_left(5000, 5000), 0);
    assert_int_equal(chord_read_ttl_left(5000, 6000), 0);
    assert_int_equal(chord_read_ttl_left(5001, 5000), 1);
    assert_int_equal(chord_read_ttl_left(7000, 5000), 2);
    assert_int_equal(chord_read_ttl_left(7001, 5000), 3);
}

static void test_print_all(void **state)
{
    (void)state;
    struct chord_read r = {.n_values = 2};
    r.values[0] = (struct chord_value){(const uint8_t *)"blue", 4, 0};
    r.values[1] = (struct chord_value){(const uint8_t *)"a\nb", 3, 0};
    char buf[64] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    assert_int_equal(chord_read_print_all(f, &r), 0);
    fclose(f);
    assert_string_equal(buf, "4\nblue\n3\na\nb\n");
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t len = 99;
    assert_int_equal(chord_base64_decode("", out, sizeof out, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(chord_base64_decode("AQID/w==", out, sizeof out, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\x01\x02\x03\xff", 4);
    assert_int_equal(chord_base64_decode("Z3JlZW4=", out, sizeof out, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "green", 5);
    assert_int_equal(chord_base64_decode("YWJj", out, sizeof out, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "abc", 3);
    /* Round trip through the JSON writer's encoder, every length. */
    uint8_t in[14];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)(0xa5 ^ (i * 37));
        struct chord_json j;
        chord_json_init(&j);
        chord_json_base64(&j, in, n);
        assert_int_equal(chord_json_finish(&j), 0);
        char *txt = strdup((const char *)j.out.data + 1);
        txt[strlen(txt) - 1] = '\0'; /* the quotes */
        assert_int_equal(chord_base64_decode(txt, out, sizeof out, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, in, n);
        free(txt);
        chord_json_free(&j);
    }
    static const char *const bad[] = {
        "%%%",  "AQI",      "AQID/w=", "AQ=D", "====",
        "A===", "AQ==AQ==", "AQI\n",   "AR==", /* bits after the last byte */
        "AQ I",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(chord_base64_decode(bad[i], out, sizeof out, &len),
                         -EINVAL);
    assert_int_equal(chord_base64_decode("AQIDBA==", out, 3, &len), -EMSGSIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document), cmocka_unit_test(test_utf8_check),
        cmocka_unit_test(test_ttl_left), cmocka_unit_test(test_print_all),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
