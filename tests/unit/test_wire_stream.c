/*
 * test_wire_stream.c - frames as a stream delivers them (src/core/wire.c):
 * every strict prefix of a frame is PARTIAL for both the decoder and the
 * header-only splitter, and frames back to back in one buffer decode one
 * after another, the last one cut short.
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

/* Every strict prefix is PARTIAL, then the whole frame is the message. */
static void test_prefixes_and_splits(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_status *st = malloc(sizeof *st);
    struct chord_msg got;
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 2024;
    for (size_t t = 0; t < N_TYPES; t++) {
        for (int rep = 0; rep < 3; rep++) {
            sample_fill(s, all_types[t], &r, &small_scale);
            chord_buf_reset(&out);
            assert_int_equal(chord_msg_encode(&s->m, &out), 0);
            assert_int_equal(chord_frame_length(out.data, out.len),
                             (ssize_t)out.len);
            for (size_t k = 0; k < out.len; k++) {
                got.status_out = st;
                assert_int_equal(chord_frame_length(out.data, k),
                                 CHORD_DECODE_PARTIAL);
                assert_int_equal(chord_msg_decode(out.data, k, &got),
                                 CHORD_DECODE_PARTIAL);
                assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                                 (ssize_t)out.len);
                if (k % 97 == 0) /* a full comparison now and then */
                    assert_msg_equal(&s->m, &got);
            }
        }
    }
    chord_buf_free(&out);
    free(st);
    free(s);
}

/* Frames back to back in one buffer decode one after another. */
static void test_back_to_back(void **state)
{
    (void)state;
    struct sample *s[N_TYPES];
    struct chord_status *st = malloc(sizeof *st);
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 777;
    size_t ends[N_TYPES];
    for (size_t t = 0; t < N_TYPES; t++) {
        s[t] = sample_new();
        sample_fill(s[t], all_types[t], &r, &small_scale);
        assert_int_equal(chord_msg_encode(&s[t]->m, &out), 0);
        ends[t] = out.len;
    }
    size_t off = 0;
    for (size_t t = 0; t < N_TYPES; t++) {
        struct chord_msg got;
        got.status_out = st;
        /* With the next frame cut short, this one still decodes alone. */
        size_t avail = t + 1 < N_TYPES ? ends[t] + 3 : out.len;
        ssize_t n = chord_msg_decode(out.data + off, avail - off, &got);
        assert_int_equal(n, (ssize_t)(ends[t] - off));
        assert_msg_equal(&s[t]->m, &got);
        off += (size_t)n;
        if (t + 1 < N_TYPES)
            assert_int_equal(chord_msg_decode(out.data + off, 3, &got),
                             CHORD_DECODE_PARTIAL);
    }
    assert_int_equal(off, out.len);
    for (size_t t = 0; t < N_TYPES; t++)
        free(s[t]);
    chord_buf_free(&out);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes_and_splits),
        cmocka_unit_test(test_back_to_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
