/*
 * test_lock_codec.c - a lock's state and token (src/core/lock_codec.c,
 * contract in include/chord/lock.h): round trips of states with a holder,
 * waiters and queued appends; the byte layout the banner documents,
 * pinned by a hand-built record; the caps refused on both sides;
 * truncated, trailing and malformed records refused whole; the empty
 * record as a lock never granted; tokens to text and back, and text that
 * is not a token.
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

#include "chord/lock.h"

/* A state with a holder, three waiters and three queued appends (one of
 * them empty), borrowing the test's static bytes. */
static void sample_state(struct chord_lock_state *s,
                         struct chord_lock_waiter w[3],
                         struct chord_lock_queued q[3])
{
    static const uint8_t k0[] = "alpha", v0[] = "one", k1[] = {0, 1, 2, 0xff},
                         v2[] = "three";
    memset(s, 0, sizeof *s);
    s->fence = 0x0102030405060708ull;
    s->held = true;
    s->releasing = true;
    memset(s->holder, 0xab, sizeof s->holder);
    s->lease_ms = 10000;
    s->released = 41;
    s->lease_left_ms = 1234;
    for (unsigned i = 0; i < 3; i++) {
        memset(w[i].client, 0x10 + (int)i, CHORD_CLIENT_ID_BYTES);
        w[i].lease_ms = 100 * (i + 1);
        memset(q[i].client, 0x20 + (int)i, CHORD_CLIENT_ID_BYTES);
        q[i].seq = 1000 + i;
    }
    q[0] = (struct chord_lock_queued){
        .seq = 1, .key = k0, .key_len = 5, .value = v0, .value_len = 3};
    memset(q[0].client, 0x20, CHORD_CLIENT_ID_BYTES);
    q[1].key = k1;
    q[1].key_len = sizeof k1;
    q[1].value = NULL;
    q[1].value_len = 0;
    q[2].key = k0;
    q[2].key_len = 1;
    q[2].value = v2;
    q[2].value_len = 5;
    s->n_waiters = 3;
    s->waiters = w;
    s->n_queue = 3;
    s->queue = q;
}

static void assert_state_equal(const struct chord_lock_state *a,
                               const struct chord_lock_state *b)
{
    assert_true(a->fence == b->fence);
    assert_int_equal(a->held, b->held);
    assert_int_equal(a->releasing, b->releasing);
    if (a->held)
        assert_memory_equal(a->holder, b->holder, CHORD_CLIENT_ID_BYTES);
    assert_int_equal(a->lease_ms, b->lease_ms);
    assert_true(a->released == b->released);
    assert_int_equal(a->lease_left_ms, b->lease_left_ms);
    assert_int_equal(a->n_waiters, b->n_waiters);
    for (size_t i = 0; i < a->n_waiters; i++) {
        assert_memory_equal(a->waiters[i].client, b->waiters[i].client,
                            CHORD_CLIENT_ID_BYTES);
        assert_int_equal(a->waiters[i].lease_ms, b->waiters[i].lease_ms);
    }
    assert_int_equal(a->n_queue, b->n_queue);
    for (size_t i = 0; i < a->n_queue; i++) {
        const struct chord_lock_queued *x = &a->queue[i], *y = &b->queue[i];
        assert_memory_equal(x->client, y->client, CHORD_CLIENT_ID_BYTES);
        assert_true(x->seq == y->seq);
        assert_int_equal(x->key_len, y->key_len);
        if (x->key_len)
            assert_memory_equal(x->key, y->key, x->key_len);
        assert_int_equal(x->value_len, y->value_len);
        if (x->value_len)
            assert_memory_equal(x->value, y->value, x->value_len);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    struct chord_lock_waiter w[3];
    struct chord_lock_queued q[3];
    struct chord_lock_state s, got;
    sample_state(&s, w, q);
    assert_int_equal(chord_lock_queue_bytes(&s), 5 + 3 + 4 + 0 + 1 + 5);

    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_buf_append(&b, "xy", 2), 0); /* appended after */
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(chord_lock_state_decode(b.data + 2, b.len - 2, &got), 0);
    assert_state_equal(&s, &got);
    /* Keys and values borrow from the buffer decoded. */
    assert_true(got.queue[0].key > b.data && got.queue[0].key < b.data + b.len);
    chord_lock_state_clear(&got);
    assert_null(got.queue);
    assert_int_equal(got.n_queue, 0);

    /* Not held: no holder bytes, and the decoded holder is zero. */
    s.held = false;
    s.releasing = false;
    size_t held_len = b.len - 2;
    chord_buf_reset(&b);
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(b.len, held_len - CHORD_CLIENT_ID_BYTES);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), 0);
    assert_state_equal(&s, &got);
    static const uint8_t zero[CHORD_CLIENT_ID_BYTES];
    assert_memory_equal(got.holder, zero, sizeof zero);
    chord_lock_state_clear(&got);

    /* No waiters, no queue: the fixed part alone. */
    struct chord_lock_state empty = {.fence = 7, .released = 7};
    chord_buf_reset(&b);
    assert_int_equal(chord_lock_state_encode(&empty, &b), 0);
    assert_int_equal(b.len, 1 + 8 + 1 + 4 + 8 + 4 + 4 + 4);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), 0);
    assert_state_equal(&empty, &got);
    assert_null(got.waiters);
    assert_null(got.queue);
    chord_lock_state_clear(&got);

    /* The history of completed releases: a count and the fences after
     * `released`, flagged; without it the record is as before. */
    empty.n_done = 2;
    empty.done[0] = 5;
    empty.done[1] = 7;
    chord_buf_reset(&b);
    assert_int_equal(chord_lock_state_encode(&empty, &b), 0);
    assert_int_equal(b.len, 1 + 8 + 1 + 4 + 8 + 1 + 16 + 4 + 4 + 4);
    assert_int_equal(b.data[9], 0x04);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), 0);
    assert_int_equal(got.n_done, 2);
    assert_true(got.done[0] == 5 && got.done[1] == 7);
    chord_lock_state_clear(&got);
    /* A history of 0 entries, or past its cap, is malformed. */
    b.data[1 + 8 + 1 + 4 + 8] = 0;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    b.data[1 + 8 + 1 + 4 + 8] = CHORD_LOCK_DONE_MAX + 1;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    empty.n_done = CHORD_LOCK_DONE_MAX + 1;
    assert_int_equal(chord_lock_state_encode(&empty, &b), -EMSGSIZE);
    chord_buf_free(&b);
}

/* The banner's layout, byte by byte, for a small state. */
static void test_layout(void **state)
{
    (void)state;
    struct chord_lock_waiter w = {.lease_ms = 0x01020304};
    memset(w.client, 0x77, sizeof w.client);
    struct chord_lock_queued q = {.seq = 9,
                                  .key = (const uint8_t *)"k",
                                  .key_len = 1,
                                  .value = (const uint8_t *)"vv",
                                  .value_len = 2};
    memset(q.client, 0x66, sizeof q.client);
    struct chord_lock_state s = {.fence = 3,
                                 .held = true,
                                 .lease_ms = 500,
                                 .released = 2,
                                 .lease_left_ms = 0,
                                 .n_waiters = 1,
                                 .waiters = &w,
                                 .n_queue = 1,
                                 .queue = &q};
    memset(s.holder, 0x55, sizeof s.holder);

    uint8_t want[128];
    size_t n = 0;
    want[n++] = 1; /* format */
    memcpy(want + n, "\0\0\0\0\0\0\0\3", 8), n += 8;
    want[n++] = 1; /* held */
    memset(want + n, 0x55, 16), n += 16;
    memcpy(want + n, "\0\0\x01\xf4", 4), n += 4;     /* lease 500 */
    memcpy(want + n, "\0\0\0\0\0\0\0\2", 8), n += 8; /* released */
    memcpy(want + n, "\0\0\0\0", 4), n += 4;         /* lease left */
    memcpy(want + n, "\0\0\0\1", 4), n += 4;         /* n_waiters */
    memset(want + n, 0x77, 16), n += 16;
    memcpy(want + n, "\x01\x02\x03\x04", 4), n += 4;
    memcpy(want + n, "\0\0\0\1", 4), n += 4; /* n_queue */
    memset(want + n, 0x66, 16), n += 16;
    memcpy(want + n, "\0\0\0\0\0\0\0\x09", 8), n += 8; /* seq */
    memcpy(want + n, "\0\0\0\1k", 5), n += 5;
    memcpy(want + n, "\0\0\0\2vv", 6), n += 6;

    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    chord_buf_free(&b);
}

/* An empty record is a lock never granted. */
static void test_empty_is_never_granted(void **state)
{
    (void)state;
    struct chord_lock_state s;
    memset(&s, 0xa5, sizeof s);
    assert_int_equal(chord_lock_state_decode(NULL, 0, &s), 0);
    assert_true(s.fence == 0);
    assert_false(s.held);
    assert_false(s.releasing);
    assert_int_equal(s.n_waiters, 0);
    assert_int_equal(s.n_queue, 0);
    assert_null(s.waiters);
    assert_null(s.queue);
    chord_lock_state_clear(&s);
}

/* Every proper prefix of a record, and the record with a byte more, is
 * refused, and leaves the state empty. */
static void test_truncated_and_trailing(void **state)
{
    (void)state;
    struct chord_lock_waiter w[3];
    struct chord_lock_queued q[3];
    struct chord_lock_state s, got;
    sample_state(&s, w, q);
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    for (size_t len = 1; len < b.len; len++) {
        assert_int_equal(chord_lock_state_decode(b.data, len, &got), -EPROTO);
        assert_null(got.waiters);
        assert_null(got.queue);
        assert_int_equal(got.n_waiters, 0);
        assert_int_equal(got.n_queue, 0);
    }
    assert_int_equal(chord_buf_append(&b, "", 1), 0);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    assert_null(got.queue);
    chord_buf_free(&b);
}

/* A record whose fixed part is otherwise valid: bad format, flag bits,
 * counts over their caps or over the bytes there, a queued key over
 * CHORD_KEY_MAX. */
static void test_malformed(void **state)
{
    (void)state;
    struct chord_lock_state s = {.fence = 1}, got;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), 0);

    b.data[0] = 2; /* format */
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    b.data[0] = 1;
    b.data[9] = 4; /* unknown flag */
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    b.data[9] = 0;

    /* n_waiters (at offset 1+8+1+4+8+4 = 26) over the cap, and claiming
     * more than the bytes there. */
    uint8_t *nw = b.data + 26;
    nw[2] = (CHORD_LOCK_WAITERS_MAX + 1) >> 8;
    nw[3] = (CHORD_LOCK_WAITERS_MAX + 1) & 0xff;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    nw[2] = 0;
    nw[3] = 1;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    nw[3] = 0;
    uint8_t *nq = b.data + 30;
    nq[0] = 0xff;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    nq[0] = 0;

    /* One queued append whose key announces CHORD_KEY_MAX + 1 bytes, all
     * of them there. */
    nq[3] = 1;
    uint8_t id[CHORD_CLIENT_ID_BYTES + 8] = {0};
    assert_int_equal(chord_buf_append(&b, id, sizeof id), 0);
    uint8_t len[4] = {0, 0, (CHORD_KEY_MAX + 1) >> 8,
                      (CHORD_KEY_MAX + 1) & 0xff};
    assert_int_equal(chord_buf_append(&b, len, 4), 0);
    uint8_t *key = calloc(1, CHORD_KEY_MAX + 1 + 4);
    assert_int_equal(chord_buf_append(&b, key, CHORD_KEY_MAX + 1 + 4), 0);
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), -EPROTO);
    assert_null(got.queue);
    /* The same key one byte shorter is fine (with an empty value). */
    size_t at = 34 + sizeof id; /* the queue starts at 34 */
    b.data[at + 2] = CHORD_KEY_MAX >> 8;
    b.data[at + 3] = CHORD_KEY_MAX & 0xff;
    b.len -= 1;
    assert_int_equal(chord_lock_state_decode(b.data, b.len, &got), 0);
    assert_int_equal(got.n_queue, 1);
    assert_int_equal(got.queue[0].key_len, CHORD_KEY_MAX);
    chord_lock_state_clear(&got);
    free(key);
    chord_buf_free(&b);
}

/* Over a cap the encoder refuses and appends nothing; the decoder
 * refuses the same states built by hand. */
static void test_caps(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_buf_append(&b, "prev", 4), 0);
    struct chord_lock_state s = {.fence = 1}, got;

    struct chord_lock_waiter *w = calloc(CHORD_LOCK_WAITERS_MAX + 1, sizeof *w);
    s.waiters = w;
    s.n_waiters = CHORD_LOCK_WAITERS_MAX + 1;
    assert_int_equal(chord_lock_state_encode(&s, &b), -EMSGSIZE);
    assert_int_equal(b.len, 4);
    s.n_waiters = CHORD_LOCK_WAITERS_MAX; /* at the cap: fine */
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(chord_lock_state_decode(b.data + 4, b.len - 4, &got), 0);
    assert_int_equal(got.n_waiters, CHORD_LOCK_WAITERS_MAX);
    chord_lock_state_clear(&got);
    s.n_waiters = 0;
    s.waiters = NULL;
    free(w);

    struct chord_lock_queued *q = calloc(CHORD_LOCK_QUEUE_MAX + 1, sizeof *q);
    s.queue = q;
    s.n_queue = CHORD_LOCK_QUEUE_MAX + 1;
    b.len = 4;
    assert_int_equal(chord_lock_state_encode(&s, &b), -EMSGSIZE);
    assert_int_equal(b.len, 4);
    s.n_queue = CHORD_LOCK_QUEUE_MAX;
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(chord_lock_state_decode(b.data + 4, b.len - 4, &got), 0);
    assert_int_equal(got.n_queue, CHORD_LOCK_QUEUE_MAX);
    chord_lock_state_clear(&got);

    /* Queued bytes: exactly CHORD_LOCK_QUEUE_BYTES fit, one more does
     * not (four values of a quarter of it each). */
    uint8_t *big = calloc(1, CHORD_VALUE_MAX + 1);
    size_t per = CHORD_LOCK_QUEUE_BYTES / 4;
    for (unsigned i = 0; i < 4; i++) {
        q[i].value = big;
        q[i].value_len = per;
    }
    s.n_queue = 4;
    assert_int_equal(chord_lock_queue_bytes(&s), CHORD_LOCK_QUEUE_BYTES);
    b.len = 4;
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    assert_int_equal(chord_lock_state_decode(b.data + 4, b.len - 4, &got), 0);
    chord_lock_state_clear(&got);
    /* The same record with one byte more in the last value: decode
     * refuses it too. */
    q[3].value_len = per + 1;
    b.len = 4;
    assert_int_equal(chord_lock_state_encode(&s, &b), -EMSGSIZE);
    assert_int_equal(b.len, 4);
    q[3].value_len = per;
    assert_int_equal(chord_lock_state_encode(&s, &b), 0);
    uint8_t *vl = b.data + b.len - per - 4;
    uint32_t more = (uint32_t)per + 1;
    vl[0] = (uint8_t)(more >> 24);
    vl[1] = (uint8_t)(more >> 16);
    vl[2] = (uint8_t)(more >> 8);
    vl[3] = (uint8_t)more;
    assert_int_equal(chord_buf_append(&b, "z", 1), 0);
    assert_int_equal(chord_lock_state_decode(b.data + 4, b.len - 4, &got),
                     -EPROTO);

    /* One key over CHORD_KEY_MAX, one value over CHORD_VALUE_MAX. */
    s.n_queue = 1;
    q[0].value_len = 0;
    q[0].key = big;
    q[0].key_len = CHORD_KEY_MAX + 1;
    b.len = 4;
    assert_int_equal(chord_lock_state_encode(&s, &b), -EMSGSIZE);
    q[0].key_len = 1;
    q[0].value_len = CHORD_VALUE_MAX + 1;
    assert_int_equal(chord_lock_state_encode(&s, &b), -EMSGSIZE);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "prev", 4);

    free(big);
    free(q);
    chord_buf_free(&b);
}

static void test_token_round_trip(void **state)
{
    (void)state;
    struct chord_lock_token t, got;
    for (unsigned i = 0; i < CHORD_CLIENT_ID_BYTES; i++)
        t.client[i] = (uint8_t)(i * 17 + 0x0a);
    static const uint64_t fences[] = {1, 9, 10, 12345678901ull, UINT64_MAX};
    char text[CHORD_LOCK_TOKEN_MAX];
    for (size_t k = 0; k < sizeof fences / sizeof fences[0]; k++) {
        t.fence = fences[k];
        int n = chord_lock_token_format(&t, text);
        assert_int_equal(n, (int)strlen(text));
        assert_true((size_t)n < CHORD_LOCK_TOKEN_MAX);
        assert_int_equal(chord_lock_token_parse(text, &got), 0);
        assert_memory_equal(got.client, t.client, CHORD_CLIENT_ID_BYTES);
        assert_true(got.fence == t.fence);
    }
    t.fence = 42;
    chord_lock_token_format(&t, text);
    assert_string_equal(text, "0a1b2c3d4e5f708192a3b4c5d6e7f809:42");
    t.fence = UINT64_MAX;
    assert_int_equal(chord_lock_token_format(&t, text),
                     CHORD_LOCK_TOKEN_MAX - 1);

    /* Upper-case hex is taken as well. */
    assert_int_equal(
        chord_lock_token_parse("0A1B2C3D4E5F708192A3B4C5D6E7F809:42", &got), 0);
    assert_memory_equal(got.client, t.client, CHORD_CLIENT_ID_BYTES);
    assert_true(got.fence == 42);
}

static void test_token_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0a1b2c3d4e5f708192a3b4c5d6e7f809",    /* no fence */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:",   /* empty fence */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:0",  /* fence 0 */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:00", /* still 0 */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:-1", /* a sign */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:+1",
        "0a1b2c3d4e5f708192a3b4c5d6e7f809: 1", /* a space */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:1 ", /* trailing junk */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:1x",
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:18446744073709551616", /* 2^64 */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:99999999999999999999",
        "0a1b2c3d4e5f708192a3b4c5d6e7f8:42",     /* 30 digits */
        "0a1b2c3d4e5f708192a3b4c5d6e7f80911:42", /* 34 digits */
        "0g1b2c3d4e5f708192a3b4c5d6e7f809:42",   /* not hex */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809;42",   /* not a colon */
        "0a1b2c3d4e5f708192a3b4c5d6e7f809:4:2",
    };
    struct chord_lock_token t;
    memset(&t, 0x5a, sizeof t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (chord_lock_token_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* A refused token leaves *t as it was. */
    for (size_t i = 0; i < sizeof t.client; i++)
        assert_int_equal(t.client[i], 0x5a);
    /* The largest fence parses. */
    assert_int_equal(
        chord_lock_token_parse(
            "0a1b2c3d4e5f708192a3b4c5d6e7f809:18446744073709551615", &t),
        0);
    assert_true(t.fence == UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_empty_is_never_granted),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_token_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
