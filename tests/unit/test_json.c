/*
 * test_json.c - the JSON writer's base64 values (tools/common/json.h):
 * how `dht --json` hands out bytes that are not ASCII. RFC 4648's test
 * vectors, bytes that are not text, and the ASCII test that picks the
 * encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

/* The document {"v": base64(data)} as text. */
static void b64_doc(const void *data, size_t len, char *out, size_t cap)
{
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "v");
    chord_json_base64(&j, data, len);
    chord_json_obj_end(&j);
    assert_int_equal(chord_json_finish(&j), 0);
    assert_true(j.out.len < cap);
    memcpy(out, j.out.data, j.out.len + 1);
    chord_json_free(&j);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const in[] = {"",     "f",     "fo",    "foo",
                                     "foob", "fooba", "foobar"};
    static const char *const want[] = {
        "{\"v\":\"\"}",        "{\"v\":\"Zg==\"}",     "{\"v\":\"Zm8=\"}",
        "{\"v\":\"Zm9v\"}",    "{\"v\":\"Zm9vYg==\"}", "{\"v\":\"Zm9vYmE=\"}",
        "{\"v\":\"Zm9vYmFy\"}"};
    char doc[64];
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        b64_doc(in[i], strlen(in[i]), doc, sizeof(doc));
        assert_string_equal(doc, want[i]);
    }
}

static void test_binary_bytes(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0xff, 0x00, 0xfe, 0x80, '"', '\\'};
    char doc[64];
    b64_doc(bytes, sizeof(bytes), doc, sizeof(doc));
    assert_string_equal(doc, "{\"v\":\"/wD+gCJc\"}");
}

static void test_is_ascii(void **state)
{
    (void)state;
    assert_true(chord_json_is_ascii("", 0));
    assert_true(chord_json_is_ascii("a\x00\x7f", 3));
    assert_false(chord_json_is_ascii("a\x80", 2));
    assert_false(chord_json_is_ascii("\xc3\xa9", 2)); /* UTF-8 too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_binary_bytes),
        cmocka_unit_test(test_is_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
