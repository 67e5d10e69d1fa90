/*
 * test_wire_causal.c - the causal trailer (CHORD_FRAME_CAUSAL, wire.h):
 * every combination of its bits on every type that takes it, both ways
 * (the encoder refuses what the decoder would refuse, and each field adds
 * exactly its bytes); the types that take none; each field at its cap,
 * over it and empty; the trailer after the mutation trailer; and frames
 * built by hand that the decoder must refuse (bits 0, bits the type does
 * not allow, excluding bits together, empty or oversized fields, ttl 0,
 * the flag without the trailer and the trailer without the flag, short
 * and long trailers, the flag on another type, which the header-only
 * splitter refuses too).
 *
 * The rules are restated in wire_fixture.c (causal_allowed,
 * causal_bits_valid) independently of wire.c, and hand-made frames come
 * from its builder, so these tests also pin down the byte layout.
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

/* The types that take a causal trailer. */
static const uint8_t causal_types[] = {
    CHORD_MSG_C_PUT,       CHORD_MSG_C_DEL,     CHORD_MSG_C_GET,
    CHORD_MSG_STORE_PUT,   CHORD_MSG_STORE_DEL, CHORD_MSG_STORE_GET,
    CHORD_MSG_REPLICA_GET, CHORD_MSG_C_RESULT,  CHORD_MSG_STORE_RESULT};
#define N_CAUSAL_TYPES (sizeof causal_types / sizeof causal_types[0])

#define CTX 0x03u /* CONTEXT, IF_CONTEXT: the context field */

/* Encode, check the header flag and the splitter, decode and compare. */
static void assert_round_trip(const struct chord_msg *m, struct chord_buf *out)
{
    chord_buf_reset(out);
    assert_int_equal(chord_msg_encode(m, out), 0);
    assert_int_equal(out->data[7] & CHORD_FRAME_CAUSAL,
                     m->causal ? CHORD_FRAME_CAUSAL : 0);
    assert_int_equal(chord_frame_length(out->data, out->len),
                     (ssize_t)out->len);
    struct chord_msg got;
    memset(&got, 0xa5, sizeof got);
    got.status_out = NULL;
    assert_int_equal(chord_msg_decode(out->data, out->len, &got),
                     (ssize_t)out->len);
    assert_msg_equal(m, &got);
}

/* Bytes the trailer with these bits adds to a frame. */
static size_t trailer_bytes(const struct chord_msg *m)
{
    unsigned bits = m->causal;
    return 1u + (bits & CTX ? 4u + m->context.len : 0u) +
           (bits & CHORD_CAUSAL_SESSION ? 4u + m->session.len : 0u) +
           (bits & CHORD_CAUSAL_TTL ? 4u : 0u) +
           (bits & CHORD_CAUSAL_STATE ? 4u + m->state.len : 0u);
}

/* Every type that takes the trailer, every value of the bits byte, with
 * and without a mutation trailer: the valid ones round trip adding exactly
 * their fields, the others are refused with -EINVAL. */
static void test_every_bits_on_every_type(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_buf out, plain;
    chord_buf_init(&out);
    chord_buf_init(&plain);
    uint64_t r = 0xca05a1;
    unsigned valid = 0;
    for (size_t t = 0; t < N_CAUSAL_TYPES; t++) {
        for (unsigned bits = 1; bits < 256; bits++) {
            sample_fill(s, causal_types[t], &r, &small_scale);
            s->m.causal = 0;
            chord_buf_reset(&plain);
            assert_int_equal(chord_msg_encode(&s->m, &plain), 0);
            assert_int_equal(plain.data[7] & CHORD_FRAME_CAUSAL, 0);
            causal_fill(s, bits, &r, &small_scale);
            if (!causal_bits_valid(causal_types[t], bits)) {
                assert_encode_refused(&s->m, &out, -EINVAL);
                continue;
            }
            valid++;
            assert_round_trip(&s->m, &out);
            assert_int_equal(out.len, plain.len + trailer_bytes(&s->m));
            /* The mutation flag stays as it was. */
            assert_int_equal(out.data[7] & CHORD_FRAME_MUTATION,
                             plain.data[7] & CHORD_FRAME_MUTATION);
        }
    }
    /* Requests: the 2^6 subsets of the six request bits, less the empty
     * one, the 16 with CONTEXT and IF_CONTEXT and the 16 with IF_CONTEXT
     * and IF_ABSENT (the 8 with all three counted once): 39 on 7 types;
     * replies: STATE alone on 2. */
    assert_int_equal(valid, 39 * 7 + 2);
    chord_buf_free(&plain);
    chord_buf_free(&out);
    free(s);
}

/* Every other type refuses any causal bits, and sends no trailer without
 * them. */
static void test_other_types_refuse_it(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 0x07e5;
    static const uint8_t tries[] = {CHORD_CAUSAL_WANT, CHORD_CAUSAL_STATE,
                                    CHORD_CAUSAL_CONTEXT, CHORD_CAUSAL_TTL};
    unsigned others = 0;
    for (size_t t = 0; t < N_TYPES; t++) {
        if (causal_allowed(all_types[t]))
            continue;
        others++;
        for (size_t i = 0; i < sizeof tries; i++) {
            sample_fill(s, all_types[t], &r, &small_scale);
            assert_int_equal(s->m.causal, 0);
            causal_fill(s, tries[i], &r, &small_scale);
            assert_encode_refused(&s->m, &out, -EINVAL);
            s->m.causal = 0;
            chord_buf_reset(&out);
            assert_int_equal(chord_msg_encode(&s->m, &out), 0);
            assert_int_equal(out.data[7] & CHORD_FRAME_CAUSAL, 0);
        }
    }
    assert_int_equal(others, N_TYPES - N_CAUSAL_TYPES);
    chord_buf_free(&out);
    free(s);
}

/* Each field at its cap goes through; over it is -EMSGSIZE; empty (or a
 * ttl of 0, or bytes announced without data) is -EINVAL. */
static void test_encode_field_caps(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 0xf1e1d;
    uint8_t *big = malloc(CHORD_DVV_STATE_MAX + 1);
    assert_non_null(big);
    memset(big, 0x5a, CHORD_DVV_STATE_MAX + 1);

    /* The context and the session. */
    static const unsigned blob_bits[] = {
        CHORD_CAUSAL_CONTEXT, CHORD_CAUSAL_IF_CONTEXT, CHORD_CAUSAL_SESSION};
    for (size_t i = 0; i < 3; i++) {
        sample_fill(s, CHORD_MSG_C_PUT, &r, &small_scale);
        causal_fill(s, blob_bits[i], &r, &small_scale);
        struct chord_bytes *f = blob_bits[i] == CHORD_CAUSAL_SESSION
                                    ? &s->m.session
                                    : &s->m.context;
        *f = (struct chord_bytes){big, CHORD_DVV_CONTEXT_MAX};
        assert_round_trip(&s->m, &out);
        f->len = CHORD_DVV_CONTEXT_MAX + 1;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
        f->len = 0;
        assert_encode_refused(&s->m, &out, -EINVAL);
        *f = (struct chord_bytes){NULL, 3};
        assert_encode_refused(&s->m, &out, -EINVAL);
    }

    /* The TTL. */
    sample_fill(s, CHORD_MSG_STORE_PUT, &r, &small_scale);
    causal_fill(s, CHORD_CAUSAL_TTL, &r, &small_scale);
    s->m.ttl_s = UINT32_MAX;
    assert_round_trip(&s->m, &out);
    s->m.ttl_s = 0;
    assert_encode_refused(&s->m, &out, -EINVAL);

    /* The state, on both reply types (empty value, short error text). */
    static const uint8_t replies[] = {CHORD_MSG_C_RESULT,
                                      CHORD_MSG_STORE_RESULT};
    for (size_t i = 0; i < 2; i++) {
        sample_fill(s, replies[i], &r, &small_scale);
        causal_fill(s, CHORD_CAUSAL_STATE, &r, &small_scale);
        s->m.value.len = 0;
        s->m.state = (struct chord_bytes){big, CHORD_DVV_STATE_MAX};
        assert_round_trip(&s->m, &out);
        s->m.state.len = CHORD_DVV_STATE_MAX + 1;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
        s->m.state.len = 0;
        assert_encode_refused(&s->m, &out, -EINVAL);
        /* A full value beside a full state is over the frame cap. */
        s->m.state.len = CHORD_DVV_STATE_MAX;
        s->m.value = (struct chord_bytes){big, CHORD_VALUE_MAX};
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
    }

    /* A field whose bit is off is not read, whatever it holds. */
    sample_fill(s, CHORD_MSG_C_GET, &r, &small_scale);
    causal_fill(s, CHORD_CAUSAL_WANT, &r, &small_scale);
    s->m.context = (struct chord_bytes){NULL, CHORD_DVV_STATE_MAX * 2u};
    s->m.session = s->m.context;
    s->m.state = s->m.context;
    s->m.ttl_s = 0;
    assert_round_trip(&s->m, &out);

    free(big);
    chord_buf_free(&out);
    free(s);
}

/* msg_init (and so the decoder) clears the trailer: a message built over
 * garbage has none. */
static void test_init_clears_it(void **state)
{
    (void)state;
    struct chord_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    memset(m, 0xa5, sizeof *m);
    chord_msg_init(m, CHORD_MSG_C_GET, 1);
    assert_int_equal(m->causal, 0);
    assert_null(m->context.data);
    assert_int_equal(m->context.len, 0);
    assert_null(m->session.data);
    assert_int_equal(m->session.len, 0);
    assert_int_equal(m->ttl_s, 0);
    assert_null(m->state.data);
    assert_int_equal(m->state.len, 0);
    free(m);
}

/* ---- hand-made frames ---------------------------------------------------- */

/* A header with `flags` and the body of `type` (one of causal_types): a
 * key "abcde", a value "xyz", consistency ONE; replies with status OK. */
static void fb_causal_frame(struct chord_buf *b, uint8_t type, uint16_t flags)
{
    fb_header(b, CHORD_PROTOCOL_VERSION, type, flags);
    if (type < CHORD_MSG_C_PUT)
        fb_peer(b);
    switch (type) {
    case CHORD_MSG_C_RESULT:
        fb_u8(b, CHORD_OK);
        fb_str(b, 0, 'e');
        fb_u32(b, 3);
        fb_raw(b, "xyz", 3);
        break;
    case CHORD_MSG_STORE_RESULT:
        fb_u8(b, CHORD_OK);
        fb_str(b, 0, 'e');
        fb_peer(b);
        fb_u8(b, 1);
        fb_u32(b, 3);
        fb_raw(b, "xyz", 3);
        fb_u64(b, 9);
        fb_id(b, 0x22);
        break;
    default:
        fb_u32(b, 5);
        fb_raw(b, "abcde", 5);
        if (type == CHORD_MSG_C_PUT || type == CHORD_MSG_STORE_PUT) {
            fb_u32(b, 3);
            fb_raw(b, "xyz", 3);
        }
        if (type != CHORD_MSG_REPLICA_GET)
            fb_u8(b, CHORD_CONSISTENCY_ONE);
        break;
    }
}

/* A bytes field of `len` bytes, all `fill`. */
static void fb_blob(struct chord_buf *b, uint32_t len, uint8_t fill)
{
    fb_u32(b, len);
    assert_int_equal(chord_buf_reserve(b, len), 0);
    memset(b->data + b->len, fill, len);
    b->len += len;
}

/* A causal trailer: the bits, then each field its bits call for, of the
 * lengths given (context bytes 0xc1, session 0x5e, state 0x57). */
static void fb_causal(struct chord_buf *b, unsigned bits, uint32_t ctx_len,
                      uint32_t sess_len, uint32_t ttl, uint32_t state_len)
{
    fb_u8(b, (uint8_t)bits);
    if (bits & CTX)
        fb_blob(b, ctx_len, 0xc1);
    if (bits & CHORD_CAUSAL_SESSION)
        fb_blob(b, sess_len, 0x5e);
    if (bits & CHORD_CAUSAL_TTL)
        fb_u32(b, ttl);
    if (bits & CHORD_CAUSAL_STATE)
        fb_blob(b, state_len, 0x57);
}

/* A well-formed frame of `type` with these bits and small fields. */
static void fb_causal_ok(struct chord_buf *b, uint8_t type, unsigned bits)
{
    fb_causal_frame(b, type, CHORD_FRAME_CAUSAL);
    fb_causal(b, bits, 28, 30, 60, 40);
    fb_finish(b);
}

/* The layout: a C_GET with context, session and TTL decodes each field
 * from where wire.h puts it; a reply's state likewise. */
static void test_decode_layout(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    fb_causal_ok(&b, CHORD_MSG_C_GET,
                 CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_SESSION |
                     CHORD_CAUSAL_TTL | CHORD_CAUSAL_IF_ABSENT |
                     CHORD_CAUSAL_WANT);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.causal, 0x9du);
    assert_int_equal(m.key.len, 5);
    assert_int_equal(m.context.len, 28);
    assert_int_equal(m.context.data[0], 0xc1);
    assert_int_equal(m.context.data[27], 0xc1);
    assert_int_equal(m.session.len, 30);
    assert_int_equal(m.session.data[29], 0x5e);
    assert_int_equal(m.ttl_s, 60);
    assert_int_equal(m.state.len, 0);
    /* The last field ends the frame. */
    assert_ptr_equal(m.session.data + 30 + 4, b.data + b.len);
    assert_int_equal(chord_frame_length(b.data, b.len), (ssize_t)b.len);

    fb_causal_ok(&b, CHORD_MSG_STORE_RESULT, CHORD_CAUSAL_STATE);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.causal, CHORD_CAUSAL_STATE);
    assert_true(m.has_value);
    assert_int_equal(m.value.len, 3);
    assert_int_equal(m.state.len, 40);
    assert_ptr_equal(m.state.data + 40, b.data + b.len);
    assert_int_equal(m.state.data[0], 0x57);
    assert_int_equal(m.context.len, 0);

    /* A request asking for the state and nothing else. */
    fb_causal_ok(&b, CHORD_MSG_REPLICA_GET, CHORD_CAUSAL_WANT);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.causal, CHORD_CAUSAL_WANT);
    chord_buf_free(&b);
}

/* Every value of the bits byte on every type that takes the trailer: the
 * decoder accepts exactly what the rules allow. */
static void test_decode_every_bits(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    for (size_t t = 0; t < N_CAUSAL_TYPES; t++) {
        for (unsigned bits = 0; bits < 256; bits++) {
            fb_causal_ok(&b, causal_types[t], bits);
            if (causal_bits_valid(causal_types[t], bits)) {
                assert_decodes(&b, &m, NULL);
                assert_int_equal(m.causal, bits);
            } else {
                assert_malformed(&b, &m, NULL);
            }
            /* The header alone is fine either way. */
            assert_int_equal(chord_frame_length(b.data, b.len), (ssize_t)b.len);
        }
    }
    chord_buf_free(&b);
}

/* Field lengths and the TTL at and past their limits. */
static void test_decode_field_checks(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    const unsigned ctx_sess = CHORD_CAUSAL_IF_CONTEXT | CHORD_CAUSAL_SESSION;
    struct {
        uint8_t type;
        unsigned bits;
        uint32_t ctx, sess, ttl, st;
        bool ok;
    } cases[] = {
        {CHORD_MSG_C_PUT, ctx_sess, CHORD_DVV_CONTEXT_MAX,
         CHORD_DVV_CONTEXT_MAX, 0, 0, true},
        {CHORD_MSG_C_PUT, ctx_sess, CHORD_DVV_CONTEXT_MAX + 1, 1, 0, 0, false},
        {CHORD_MSG_C_PUT, ctx_sess, 1, CHORD_DVV_CONTEXT_MAX + 1, 0, 0, false},
        {CHORD_MSG_C_PUT, ctx_sess, 0, 1, 0, 0, false},
        {CHORD_MSG_C_PUT, ctx_sess, 1, 0, 0, 0, false},
        {CHORD_MSG_STORE_DEL, CHORD_CAUSAL_CONTEXT, 0, 0, 0, 0, false},
        {CHORD_MSG_STORE_DEL, CHORD_CAUSAL_TTL, 0, 0, 1, 0, true},
        {CHORD_MSG_STORE_DEL, CHORD_CAUSAL_TTL, 0, 0, 0, 0, false},
        {CHORD_MSG_C_RESULT, CHORD_CAUSAL_STATE, 0, 0, 0, 1, true},
        {CHORD_MSG_C_RESULT, CHORD_CAUSAL_STATE, 0, 0, 0, 0, false},
        {CHORD_MSG_C_RESULT, CHORD_CAUSAL_STATE, 0, 0, 0, CHORD_DVV_STATE_MAX,
         true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fb_causal_frame(&b, cases[i].type, CHORD_FRAME_CAUSAL);
        fb_causal(&b, cases[i].bits, cases[i].ctx, cases[i].sess, cases[i].ttl,
                  cases[i].st);
        fb_finish(&b);
        if (cases[i].ok)
            assert_decodes(&b, &m, NULL);
        else
            assert_malformed(&b, &m, NULL);
    }
    /* A state announced over its cap is refused before its bytes are
     * looked for (the frame is whole: MALFORMED, not PARTIAL). */
    fb_causal_frame(&b, CHORD_MSG_STORE_RESULT, CHORD_FRAME_CAUSAL);
    fb_u8(&b, CHORD_CAUSAL_STATE);
    fb_u32(&b, CHORD_DVV_STATE_MAX + 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    chord_buf_free(&b);
}

/* The flag and the trailer go together, whole, after the mutation
 * trailer; a type that takes none has the flag refused by the header
 * check. */
static void test_decode_flag_and_trailer(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* The flag without a trailer; the trailer without the flag. */
    fb_causal_frame(&b, CHORD_MSG_C_GET, CHORD_FRAME_CAUSAL);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_causal_frame(&b, CHORD_MSG_C_GET, 0);
    fb_causal(&b, CHORD_CAUSAL_WANT, 0, 0, 0, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* Cut short by one byte anywhere in the trailer, or one byte too
     * long. */
    fb_causal_ok(&b, CHORD_MSG_C_DEL,
                 CHORD_CAUSAL_IF_CONTEXT | CHORD_CAUSAL_SESSION |
                     CHORD_CAUSAL_TTL);
    size_t whole = b.len, trailer = 1 + 4 + 28 + 4 + 30 + 4;
    for (size_t cut = 1; cut <= trailer; cut++) {
        b.len = whole - cut;
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    b.len = whole;
    fb_u8(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* Both trailers: mutation (request id 7) first, then causal. */
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    memset(client, 0x3c, sizeof client);
    fb_causal_frame(&b, CHORD_MSG_C_PUT,
                    CHORD_FRAME_MUTATION | CHORD_FRAME_CAUSAL);
    fb_u8(&b, CHORD_MUT_RID);
    fb_raw(&b, client, sizeof client);
    fb_u64(&b, 7);
    fb_causal(&b, CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_TTL, 28, 0, 5, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_true(m.has_rid);
    assert_true(m.rid.seq == 7);
    assert_int_equal(m.causal, CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_TTL);
    assert_int_equal(m.context.len, 28);
    assert_int_equal(m.ttl_s, 5);
    assert_int_equal(chord_frame_length(b.data, b.len), (ssize_t)b.len);
    /* The other way round is refused. */
    fb_causal_frame(&b, CHORD_MSG_C_PUT,
                    CHORD_FRAME_MUTATION | CHORD_FRAME_CAUSAL);
    fb_causal(&b, CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_TTL, 28, 0, 5, 0);
    fb_u8(&b, CHORD_MUT_RID);
    fb_raw(&b, client, sizeof client);
    fb_u64(&b, 7);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* The flag on every other type: refused from the first 8 bytes, with
     * a plausible trailer after the type's (empty) body or without. */
    for (size_t t = 0; t < N_TYPES; t++) {
        if (causal_allowed(all_types[t]))
            continue;
        fb_header(&b, CHORD_PROTOCOL_VERSION, all_types[t], CHORD_FRAME_CAUSAL);
        if (all_types[t] < CHORD_MSG_C_PUT)
            fb_peer(&b);
        fb_causal(&b, CHORD_CAUSAL_WANT, 0, 0, 0, 0);
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
        assert_int_equal(chord_frame_length(b.data, 8), CHORD_DECODE_MALFORMED);
        assert_int_equal(chord_frame_length(b.data, b.len),
                         CHORD_DECODE_MALFORMED);
    }
    /* And every type that takes it: the header is fine. */
    for (size_t t = 0; t < N_CAUSAL_TYPES; t++) {
        fb_causal_ok(&b, causal_types[t],
                     causal_allowed(causal_types[t]) == CHORD_CAUSAL_STATE
                         ? CHORD_CAUSAL_STATE
                         : CHORD_CAUSAL_WANT);
        assert_int_equal(chord_frame_length(b.data, 8), CHORD_DECODE_PARTIAL);
        assert_int_equal(chord_frame_length(b.data, b.len), (ssize_t)b.len);
        assert_decodes(&b, &m, NULL);
    }
    chord_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bits_on_every_type),
        cmocka_unit_test(test_other_types_refuse_it),
        cmocka_unit_test(test_encode_field_caps),
        cmocka_unit_test(test_init_clears_it),
        cmocka_unit_test(test_decode_layout),
        cmocka_unit_test(test_decode_every_bits),
        cmocka_unit_test(test_decode_field_checks),
        cmocka_unit_test(test_decode_flag_and_trailer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
