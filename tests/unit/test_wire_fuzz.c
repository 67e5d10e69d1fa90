/*
 * test_wire_fuzz.c - random and mutated frames (src/core/wire.c): valid
 * frames of every type, flipped, truncated, given boundary values, with
 * bytes inserted or deleted, or replaced by noise.
 *
 * It checks only properties that hold for any input: the decoder answers
 * PARTIAL, MALFORMED or a length within the input, the header-only
 * splitter agrees with it, and whatever it accepts re-encodes to the very
 * same bytes. Each outcome must come up often.
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

/* ---- random and mutated frames ------------------------------------------ */

#define FUZZ_ITERATIONS 100000
#define FUZZ_BUF (64u * 1024u)

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Values likely to sit on a boundary of some length or count check. */
static uint32_t interesting(uint64_t *r)
{
    static const uint32_t v[] = {0,
                                 1,
                                 2,
                                 12,
                                 13,
                                 31,
                                 32,
                                 33,
                                 63,
                                 64,
                                 65,
                                 159,
                                 160,
                                 161,
                                 199,
                                 200,
                                 255,
                                 256,
                                 1023,
                                 1024,
                                 1025,
                                 0xffff,
                                 CHORD_VALUE_MAX,
                                 CHORD_VALUE_MAX + 1,
                                 CHORD_FRAME_MAX - 4,
                                 CHORD_FRAME_MAX - 3,
                                 0x7fffffff,
                                 0xffffffff};
    return v[prng_below(r, sizeof v / sizeof v[0])];
}

static void fix_length(uint8_t *buf, size_t len)
{
    if (len >= 4)
        put32(buf, (uint32_t)(len - 4));
}

/* Damage a valid frame in place; returns the new length (<= FUZZ_BUF). */
static size_t mutate(uint64_t *r, uint8_t *buf, size_t len)
{
    switch (prng_below(r, 9)) {
    case 0: /* leave it valid */
        return len;
    case 1: { /* flip a few bits or bytes */
        unsigned n = 1 + prng_below(r, 4);
        for (unsigned i = 0; i < n; i++) {
            size_t at = prng_below(r, (unsigned)len);
            if (prng_below(r, 2))
                buf[at] ^= (uint8_t)(1u << prng_below(r, 8));
            else
                buf[at] = (uint8_t)prng_next(r);
        }
        return len;
    }
    case 2: /* truncate (the length prefix still claims the rest) */
        return prng_below(r, (unsigned)len);
    case 3: /* a boundary u32 somewhere (a bytes length, a count...) */
        if (len >= 4)
            put32(buf + prng_below(r, (unsigned)len - 3), interesting(r));
        return len;
    case 4: { /* a boundary u16 or u8 somewhere */
        uint32_t v = interesting(r);
        size_t at = prng_below(r, (unsigned)len);
        if (at + 1 < len && prng_below(r, 2)) {
            buf[at] = (uint8_t)(v >> 8);
            buf[at + 1] = (uint8_t)v;
        } else {
            buf[at] = (uint8_t)v;
        }
        return len;
    }
    case 5: { /* insert bytes, keeping the prefix consistent */
        size_t n = 1 + prng_below(r, 16);
        if (len + n > FUZZ_BUF)
            return len;
        size_t body = len - CHORD_FRAME_HEADER;
        size_t at = CHORD_FRAME_HEADER + prng_below(r, (unsigned)body + 1);
        memmove(buf + at + n, buf + at, len - at);
        prng_fill(r, buf + at, n);
        fix_length(buf, len + n);
        return len + n;
    }
    case 6: { /* delete bytes, keeping the prefix consistent */
        if (len <= CHORD_FRAME_HEADER)
            return len;
        size_t body = len - CHORD_FRAME_HEADER;
        size_t at = CHORD_FRAME_HEADER + prng_below(r, (unsigned)body);
        size_t n = 1 + prng_below(r, 16);
        if (n > len - at)
            n = len - at;
        memmove(buf + at, buf + at + n, len - at - n);
        fix_length(buf, len - n);
        return len - n;
    }
    case 7: { /* a valid header over a random body */
        size_t n = prng_below(r, 200);
        size_t keep = CHORD_FRAME_HEADER + (buf[5] < CHORD_MSG_C_PUT ? 36 : 0);
        if (keep > len)
            keep = len;
        prng_fill(r, buf + keep, n);
        fix_length(buf, keep + n);
        return keep + n;
    }
    default: /* pure noise, sometimes with a small length prefix */
    {
        size_t n = prng_below(r, 64);
        prng_fill(r, buf, n);
        if (n >= 4 && prng_below(r, 2))
            put32(buf, (uint32_t)prng_below(r, 64));
        return n;
    }
    }
}

/* Re-encode an accepted message: it must give back the same bytes. */
static void assert_reencodes(const struct chord_msg *m, const uint8_t *frame,
                             size_t len, struct chord_buf *out)
{
    struct chord_msg copy = *m;
    struct chord_item *items = NULL;
    if ((m->type == CHORD_MSG_TRANSFER || m->type == CHORD_MSG_C_SCAN_RESULT) &&
        m->n_items) {
        items = calloc(m->n_items, sizeof *items);
        assert_non_null(items);
        struct chord_bytes cur = m->items_raw;
        for (uint32_t i = 0; i < m->n_items; i++)
            assert_int_equal(chord_items_next(&cur, &items[i]), 1);
        assert_int_equal(chord_items_next(&cur, &items[0]), 0);
    }
    copy.items = items;
    copy.status_in = m->status_out;
    chord_buf_reset(out);
    assert_int_equal(chord_msg_encode(&copy, out), 0);
    assert_int_equal(out->len, len);
    /* The header's vnode byte routes the frame to a core of the process;
     * it is not part of the message. */
    assert_int_equal(chord_frame_vnode(out->data), 0);
    chord_frame_set_vnode(out->data, chord_frame_vnode(frame));
    assert_memory_equal(out->data, frame, len);
    free(items);
}

static void test_random_and_mutated_frames(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_status *st = malloc(sizeof *st);
    uint8_t *buf = malloc(FUZZ_BUF);
    struct chord_msg got;
    struct chord_buf out, re;
    chord_buf_init(&out);
    chord_buf_init(&re);
    uint64_t r = 0xfeedface;
    unsigned long ok = 0, partial = 0, malformed = 0;

    for (int iter = 0; iter < FUZZ_ITERATIONS; iter++) {
        uint8_t type = all_types[prng_below(&r, N_TYPES)];
        sample_fill(s, type, &r, &small_scale);
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_true(out.len <= FUZZ_BUF);
        memcpy(buf, out.data, out.len);
        size_t len = mutate(&r, buf, out.len);

        got.status_out = st;
        ssize_t rc = chord_msg_decode(buf, len, &got);
        /* The header-only splitter never claims more than is there, and
         * agrees with the full decoder on every frame it accepts. */
        ssize_t fl = chord_frame_length(buf, len);
        assert_true(fl == CHORD_DECODE_PARTIAL ||
                    fl == CHORD_DECODE_MALFORMED ||
                    (fl > 0 && (size_t)fl <= len));
        if (rc > 0)
            assert_int_equal(fl, rc);
        if (rc == CHORD_DECODE_PARTIAL) {
            partial++;
        } else if (rc == CHORD_DECODE_MALFORMED) {
            malformed++;
        } else {
            assert_true(rc > 0 && (size_t)rc <= len);
            ok++;
            assert_reencodes(&got, buf, (size_t)rc, &re);
        }
    }
    /* The mix must exercise every outcome substantially. */
    assert_true(ok > FUZZ_ITERATIONS / 20);
    assert_true(partial > FUZZ_ITERATIONS / 20);
    assert_true(malformed > FUZZ_ITERATIONS / 20);

    chord_buf_free(&out);
    chord_buf_free(&re);
    free(buf);
    free(st);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_and_mutated_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
