/*
 * test_id.c - identifier arithmetic against brute-force models.
 *
 * The ring math is checked exhaustively on an 8-bit ring embedded in the
 * 160-bit one: the value v becomes the id whose first (most significant)
 * byte is v and whose other bytes are zero. Adding 2^k for k >= 152 and
 * subtracting such ids wrap around 2^160 exactly when the 8-bit values
 * wrap around 2^8, so every (x, a, b) triple of the small ring can be
 * compared with the obvious modular definition. Carries across bytes,
 * hex parsing, SHA-1 and the drawing fraction are checked on full ids.
 * These tests use no I/O and a fixed-seed PRNG.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/id.h"

#define SMALL_BITS 8
#define SMALL_RING 256u
#define SMALL_SHIFT (CHORD_ID_BITS - SMALL_BITS) /* 152 */

/* A small deterministic PRNG (xorshift64*), seeded by each test. */
static uint64_t prng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static struct chord_id small_id(unsigned v)
{
    struct chord_id id;
    memset(&id, 0, sizeof id);
    id.b[0] = (uint8_t)v;
    return id;
}

static struct chord_id random_id(uint64_t *s)
{
    struct chord_id id;
    for (int i = 0; i < CHORD_ID_BYTES; i++)
        id.b[i] = (uint8_t)prng_next(s);
    return id;
}

/* Clockwise distance from a to x on the small ring. */
static unsigned small_dist(unsigned a, unsigned x)
{
    return (x - a) % SMALL_RING;
}

static int model_in_oo(unsigned x, unsigned a, unsigned b)
{
    if (a == b)
        return x != a;
    unsigned d = small_dist(a, x);
    return d > 0 && d < small_dist(a, b);
}

static int model_in_oc(unsigned x, unsigned a, unsigned b)
{
    if (a == b)
        return 1;
    unsigned d = small_dist(a, x);
    return d > 0 && d <= small_dist(a, b);
}

/* Every (x, a, b) triple of the 8-bit ring, both interval kinds. */
static void test_intervals_exhaustive(void **state)
{
    (void)state;
    struct chord_id ids[SMALL_RING];
    for (unsigned v = 0; v < SMALL_RING; v++)
        ids[v] = small_id(v);
    unsigned long mismatches = 0;
    for (unsigned a = 0; a < SMALL_RING; a++)
        for (unsigned b = 0; b < SMALL_RING; b++)
            for (unsigned x = 0; x < SMALL_RING; x++) {
                int oo = chord_id_in_oo(&ids[x], &ids[a], &ids[b]);
                int oc = chord_id_in_oc(&ids[x], &ids[a], &ids[b]);
                if (oo != model_in_oo(x, a, b)) {
                    if (mismatches++ < 5)
                        print_error("in_oo(%u, %u, %u) = %d\n", x, a, b, oo);
                }
                if (oc != model_in_oc(x, a, b)) {
                    if (mismatches++ < 5)
                        print_error("in_oc(%u, %u, %u) = %d\n", x, a, b, oc);
                }
            }
    assert_int_equal(mismatches, 0);
}

/* The Chord conventions spelt out on full ids: (a,a) and (a,a]. */
static void test_intervals_degenerate(void **state)
{
    (void)state;
    uint64_t s = 42;
    for (int i = 0; i < 1000; i++) {
        struct chord_id a = random_id(&s), x = random_id(&s);
        assert_false(chord_id_in_oo(&a, &a, &a));
        assert_true(chord_id_in_oc(&a, &a, &a));
        if (!chord_id_eq(&x, &a)) {
            assert_true(chord_id_in_oo(&x, &a, &a));
            assert_true(chord_id_in_oc(&x, &a, &a));
        }
        /* The end points themselves. */
        struct chord_id b = random_id(&s);
        if (!chord_id_eq(&a, &b)) {
            assert_false(chord_id_in_oo(&a, &a, &b));
            assert_false(chord_id_in_oo(&b, &a, &b));
            assert_false(chord_id_in_oc(&a, &a, &b));
            assert_true(chord_id_in_oc(&b, &a, &b));
        }
    }
}

/* Intervals that differ only in the last byte (no wrap involved). */
static void test_intervals_low_bytes(void **state)
{
    (void)state;
    struct chord_id a, b, x;
    memset(&a, 0x7f, sizeof a);
    b = a;
    x = a;
    a.b[CHORD_ID_BYTES - 1] = 10;
    b.b[CHORD_ID_BYTES - 1] = 20;
    x.b[CHORD_ID_BYTES - 1] = 15;
    assert_true(chord_id_in_oo(&x, &a, &b));
    assert_false(chord_id_in_oo(&x, &b, &a));
    x.b[CHORD_ID_BYTES - 1] = 20;
    assert_false(chord_id_in_oo(&x, &a, &b));
    assert_true(chord_id_in_oc(&x, &a, &b));
    /* An id far above b is outside (a, b] and inside the wrapping (b, a). */
    x.b[0] = 0x80;
    assert_true(chord_id_in_oo(&x, &b, &a));
    assert_false(chord_id_in_oc(&x, &a, &b));
}

static void test_add_pow2_small_ring(void **state)
{
    (void)state;
    for (unsigned k = SMALL_SHIFT; k < CHORD_ID_BITS; k++)
        for (unsigned v = 0; v < SMALL_RING; v++) {
            struct chord_id a = small_id(v), out;
            chord_id_add_pow2(&out, &a, k);
            unsigned want = (v + (1u << (k - SMALL_SHIFT))) % SMALL_RING;
            struct chord_id expect = small_id(want);
            assert_memory_equal(out.b, expect.b, CHORD_ID_BYTES);
            /* In place (out aliases a). */
            chord_id_add_pow2(&a, &a, k);
            assert_memory_equal(a.b, expect.b, CHORD_ID_BYTES);
        }
}

static void test_sub_small_ring(void **state)
{
    (void)state;
    for (unsigned a = 0; a < SMALL_RING; a++)
        for (unsigned b = 0; b < SMALL_RING; b++) {
            struct chord_id ia = small_id(a), ib = small_id(b), out;
            chord_id_sub(&out, &ia, &ib);
            struct chord_id expect = small_id((a - b) % SMALL_RING);
            assert_memory_equal(out.b, expect.b, CHORD_ID_BYTES);
        }
}

/* Carries and borrows running across bytes, on full 160-bit values. */
static void test_carry_across_bytes(void **state)
{
    (void)state;
    struct chord_id all_ones, zero, one, out;
    memset(&all_ones, 0xff, sizeof all_ones);
    memset(&zero, 0, sizeof zero);
    one = zero;
    one.b[CHORD_ID_BYTES - 1] = 1;

    /* ff..ff + 1 = 0 (wraps around 2^160). */
    chord_id_add_pow2(&out, &all_ones, 0);
    assert_memory_equal(out.b, zero.b, CHORD_ID_BYTES);

    /* 0 - 1 = ff..ff. */
    chord_id_sub(&out, &zero, &one);
    assert_memory_equal(out.b, all_ones.b, CHORD_ID_BYTES);

    /* 00ff..ff + 1 = 0100..00. */
    struct chord_id a = all_ones, expect = zero;
    a.b[0] = 0;
    expect.b[0] = 1;
    chord_id_add_pow2(&out, &a, 0);
    assert_memory_equal(out.b, expect.b, CHORD_ID_BYTES);

    /* 2^8 added to ..00ff00 carries into the third-last byte only. */
    a = zero;
    a.b[CHORD_ID_BYTES - 2] = 0xff;
    expect = zero;
    expect.b[CHORD_ID_BYTES - 3] = 1;
    chord_id_add_pow2(&out, &a, 8);
    assert_memory_equal(out.b, expect.b, CHORD_ID_BYTES);

    /* 2^159 + 2^159 = 0. */
    chord_id_add_pow2(&out, &zero, 159);
    assert_int_equal(out.b[0], 0x80);
    chord_id_add_pow2(&out, &out, 159);
    assert_memory_equal(out.b, zero.b, CHORD_ID_BYTES);
}

/* For random ids and every k, (a + 2^k) - a == 2^k and a bit count holds. */
static void test_add_pow2_sub_inverse(void **state)
{
    (void)state;
    uint64_t s = 7;
    for (int i = 0; i < 200; i++) {
        struct chord_id a = random_id(&s);
        for (unsigned k = 0; k < CHORD_ID_BITS; k++) {
            struct chord_id sum, diff, pow;
            memset(&pow, 0, sizeof pow);
            pow.b[CHORD_ID_BYTES - 1 - k / 8] = (uint8_t)(1u << (k % 8));
            chord_id_add_pow2(&sum, &a, k);
            chord_id_sub(&diff, &sum, &a);
            assert_memory_equal(diff.b, pow.b, CHORD_ID_BYTES);
            /* a + 2^k lies in (a, a + 2^k] and a does not. */
            assert_true(chord_id_in_oc(&sum, &a, &sum));
            assert_false(chord_id_in_oo(&a, &a, &sum));
        }
    }
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    uint64_t s = 99;
    char hex[CHORD_ID_HEX_LEN + 1];
    for (int i = 0; i < 1000; i++) {
        struct chord_id a = random_id(&s), b;
        chord_id_to_hex(&a, hex);
        assert_int_equal(strlen(hex), CHORD_ID_HEX_LEN);
        for (int j = 0; j < CHORD_ID_HEX_LEN; j++)
            assert_true((hex[j] >= '0' && hex[j] <= '9') ||
                        (hex[j] >= 'a' && hex[j] <= 'f'));
        assert_int_equal(chord_id_from_hex(&b, hex), 0);
        assert_memory_equal(a.b, b.b, CHORD_ID_BYTES);
    }
    struct chord_id id;
    assert_int_equal(
        chord_id_from_hex(&id, "0123456789ABCDEFabcdef0123456789aBcDeF00"), 0);
    chord_id_to_hex(&id, hex);
    assert_string_equal(hex, "0123456789abcdefabcdef0123456789abcdef00");
}

static void test_hex_rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0123456789abcdef0123456789abcdef0123456",   /* 39 digits */
        "0123456789abcdef0123456789abcdef012345678", /* 41 digits */
        "0123456789abcdef0123456789abcdef0123456g",  /* not hex */
        "0123456789abcdef0123456789abcdef0123456 ",  /* space */
        " 123456789abcdef0123456789abcdef01234567",  /* leading space */
        "0x23456789abcdef0123456789abcdef01234567",  /* prefix */
        "-123456789abcdef0123456789abcdef01234567",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct chord_id id;
        memset(&id, 0x5a, sizeof id);
        assert_int_equal(chord_id_from_hex(&id, bad[i]), -EINVAL);
    }
}

static void test_sha1_vectors(void **state)
{
    (void)state;
    char hex[CHORD_ID_HEX_LEN + 1];
    struct chord_id id;
    chord_id_hash(&id, "abc", 3);
    chord_id_to_hex(&id, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    chord_id_hash(&id, "", 0);
    chord_id_to_hex(&id, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    chord_id_hash(&id, "127.0.0.1:7000", strlen("127.0.0.1:7000"));
    struct chord_id again;
    chord_id_hash(&again, "127.0.0.1:7000", strlen("127.0.0.1:7000"));
    assert_true(chord_id_eq(&id, &again));
}

static void test_cmp_is_numeric(void **state)
{
    (void)state;
    struct chord_id a = small_id(1), b = small_id(2);
    assert_true(chord_id_cmp(&a, &b) < 0);
    assert_true(chord_id_cmp(&b, &a) > 0);
    assert_int_equal(chord_id_cmp(&a, &a), 0);
    /* A larger most significant byte wins over any lower bytes. */
    struct chord_id c;
    memset(&c, 0xff, sizeof c);
    c.b[0] = 0;
    assert_true(chord_id_cmp(&c, &a) < 0);
    assert_false(chord_id_eq(&a, &b));
}

static int cmp_ids(const void *x, const void *y)
{
    return chord_id_cmp(x, y);
}

static void test_fraction_monotonic(void **state)
{
    (void)state;
    struct chord_id zero, half, max;
    memset(&zero, 0, sizeof zero);
    memset(&max, 0xff, sizeof max);
    half = zero;
    half.b[0] = 0x80;
    assert_true(chord_id_fraction(&zero) == 0.0);
    assert_true(chord_id_fraction(&half) == 0.5);
    assert_true(chord_id_fraction(&max) < 1.0);
    assert_true(chord_id_fraction(&max) > 0.999);

    double prev = -1.0;
    for (unsigned v = 0; v < SMALL_RING; v++) {
        struct chord_id id = small_id(v);
        double f = chord_id_fraction(&id);
        assert_true(f > prev);
        assert_true(f >= 0.0 && f < 1.0);
        prev = f;
    }

    enum { N = 2000 };
    static struct chord_id ids[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++)
        ids[i] = random_id(&s);
    qsort(ids, N, sizeof ids[0], cmp_ids);
    prev = -1.0;
    for (int i = 0; i < N; i++) {
        double f = chord_id_fraction(&ids[i]);
        assert_true(f >= prev);
        assert_true(f >= 0.0 && f < 1.0);
        prev = f;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intervals_exhaustive),
        cmocka_unit_test(test_intervals_degenerate),
        cmocka_unit_test(test_intervals_low_bytes),
        cmocka_unit_test(test_add_pow2_small_ring),
        cmocka_unit_test(test_sub_small_ring),
        cmocka_unit_test(test_carry_across_bytes),
        cmocka_unit_test(test_add_pow2_sub_inverse),
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_rejects_bad_input),
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_cmp_is_numeric),
        cmocka_unit_test(test_fraction_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
