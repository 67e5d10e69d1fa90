/*
 * test_wire.c - the frame codec's encoder side (src/core/wire.c): type
 * names, round trips of every type with many random samples, fields
 * exactly at their caps, the caps the encoder enforces (a refused
 * message leaves the output buffer as it was), the hint a client reply
 * carries only with status REDIRECT, and the mutation trailer (request id,
 * fence) only mutating requests carry. The decoder's own checks are in
 * test_wire_decode.c and test_wire_transfer.c, partial input in
 * test_wire_stream.c, messages over garbage in test_wire_garbage.c,
 * random and mutated frames in test_wire_fuzz.c.
 *
 * Messages are generated from a seeded PRNG with non-trivial field values
 * (wire_fixture.h); after a round trip every field the type carries is
 * compared one by one.
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
#include "wire_fixture.h"

static void test_type_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        const char *name = chord_msg_type_name(all_types[i]);
        assert_string_not_equal(name, "?");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, chord_msg_type_name(all_types[j]));
    }
    assert_string_equal(chord_msg_type_name(CHORD_MSG_FIND_SUCC), "FIND_SUCC");
    assert_string_equal(chord_msg_type_name(0), "?");
    assert_string_equal(chord_msg_type_name(CHORD_MSG_STORE_LOCK + 1), "?");
    assert_string_equal(chord_msg_type_name(CHORD_MSG_C_LOCK + 1), "?");
    assert_string_equal(chord_msg_type_name(255), "?");
    for (unsigned t = 0; t < 256; t++)
        assert_int_equal(chord_msg_is_client_request((uint8_t)t),
                         (t >= CHORD_MSG_C_PUT && t <= CHORD_MSG_C_STATUS) ||
                             t == CHORD_MSG_C_SCAN ||
                             t == CHORD_MSG_C_RESTORE ||
                             t == CHORD_MSG_C_APPEND || t == CHORD_MSG_C_LOCK);
}

/* Every type, many random samples: encode, check the header, decode. */
static void test_round_trip_all_types(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_status *st = malloc(sizeof *st);
    struct chord_msg got;
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 0x1234567;
    for (size_t t = 0; t < N_TYPES; t++) {
        for (int rep = 0; rep < 20; rep++) {
            sample_fill(s, all_types[t], &r, &full_scale);
            chord_buf_reset(&out);
            assert_int_equal(chord_msg_encode(&s->m, &out), 0);
            assert_true(out.len >= CHORD_FRAME_HEADER);
            uint32_t flen = (uint32_t)out.data[0] << 24 |
                            (uint32_t)out.data[1] << 16 |
                            (uint32_t)out.data[2] << 8 | out.data[3];
            assert_int_equal(flen + 4, out.len);
            assert_int_equal(out.data[4], CHORD_PROTOCOL_VERSION);
            assert_int_equal(out.data[5], all_types[t]);
            /* The mutation flag exactly when a mutating type carries a
             * trailer. */
            bool trailer = chord_msg_is_mutation(all_types[t]) &&
                           (s->m.has_rid || s->m.has_fence);
            assert_int_equal(out.data[6], 0);
            assert_int_equal(out.data[7],
                             (trailer ? CHORD_FRAME_MUTATION : 0) |
                                 (s->m.causal ? CHORD_FRAME_CAUSAL : 0));

            memset(&got, 0xa5, sizeof got);
            got.status_out = st;
            assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                             (ssize_t)out.len);
            assert_ptr_equal(got.status_out, st);
            assert_msg_equal(&s->m, &got);
        }
    }
    chord_buf_free(&out);
    free(st);
    free(s);
}

/* Fields exactly at their caps go through. */
static void test_round_trip_at_caps(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_status *st = malloc(sizeof *st);
    uint8_t *big = malloc(CHORD_VALUE_MAX);
    memset(big, 0xab, CHORD_VALUE_MAX);
    uint8_t key[CHORD_KEY_MAX];
    memset(key, 0x33, sizeof key);
    struct chord_msg got;
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 99;

    /* Largest key and value in one frame. */
    sample_fill(s, CHORD_MSG_C_PUT, &r, &full_scale);
    s->m.key = (struct chord_bytes){key, CHORD_KEY_MAX};
    s->m.value = (struct chord_bytes){big, CHORD_VALUE_MAX};
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    got.status_out = NULL;
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_msg_equal(&s->m, &got);

    /* Longest address, full successor list, full path, full status. */
    sample_fill(s, CHORD_MSG_JOIN_ACK, &r, &full_scale);
    memset(s->m.from.addr, 'x', CHORD_ADDR_MAX - 1);
    s->m.from.addr[CHORD_ADDR_MAX - 1] = '\0';
    s->m.nb.n_succ = CHORD_SUCC_MAX;
    for (unsigned i = 0; i < CHORD_SUCC_MAX; i++)
        rand_peer(&r, &s->m.nb.succ[i]);
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_msg_equal(&s->m, &got);
    assert_int_equal(strlen(got.from.addr), CHORD_ADDR_MAX - 1);

    sample_fill(s, CHORD_MSG_FIND_SUCC, &r, &full_scale);
    s->m.path.n = CHORD_PATH_MAX;
    for (unsigned i = 0; i < CHORD_PATH_MAX; i++)
        snprintf(s->m.path.addr[i], CHORD_ADDR_MAX, "127.0.0.1:%u", 7000 + i);
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_msg_equal(&s->m, &got);

    sample_fill(s, CHORD_MSG_C_LOOKUP_RESULT, &r, &full_scale);
    memset(s->m.error, 'e', CHORD_ERRMSG_MAX - 1);
    s->m.error[CHORD_ERRMSG_MAX - 1] = '\0';
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_msg_equal(&s->m, &got);

    sample_fill(s, CHORD_MSG_C_STATUS_RESULT, &r, &full_scale);
    s->status.n_succ = CHORD_SUCC_MAX;
    s->status.n_fingers = CHORD_ID_BITS;
    s->status.n_peers = CHORD_PEERS_MAX;
    for (unsigned i = 0; i < CHORD_SUCC_MAX; i++)
        rand_peer(&r, &s->status.succ[i]);
    for (unsigned i = 0; i < CHORD_ID_BITS; i++)
        rand_peer(&r, &s->status.fingers[i].node);
    for (unsigned i = 0; i < CHORD_PEERS_MAX; i++)
        rand_str(&r, s->status.peers[i].addr, CHORD_ADDR_MAX);
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    got.status_out = st;
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_msg_equal(&s->m, &got);
    /* Without storage for the report the frame is still checked and used. */
    got.status_out = NULL;
    assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                     (ssize_t)out.len);
    assert_int_equal(got.type, CHORD_MSG_C_STATUS_RESULT);

    chord_buf_free(&out);
    free(big);
    free(st);
    free(s);
}

/* The mutating types, and no other, carry the mutation trailer: without
 * it (no flag, the frame as before), with the request id, the fence, or
 * both, each adding exactly its bytes; the longest fence name fits. A
 * non-mutating type ignores a trailer set in the message. */
static void test_mutation_trailer(void **state)
{
    (void)state;
    static const uint8_t mutating[] = {
        CHORD_MSG_C_PUT,        CHORD_MSG_C_DEL,     CHORD_MSG_C_APPEND,
        CHORD_MSG_C_LOCK,       CHORD_MSG_STORE_PUT, CHORD_MSG_STORE_DEL,
        CHORD_MSG_STORE_APPEND, CHORD_MSG_STORE_LOCK};
    for (unsigned t = 0; t < 256; t++) {
        bool want = false;
        for (size_t i = 0; i < sizeof mutating; i++)
            want = want || t == mutating[i];
        assert_int_equal(chord_msg_is_mutation((uint8_t)t), want);
    }

    struct sample *s = sample_new();
    struct chord_msg got;
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 0x7a11e7;
    for (size_t i = 0; i < sizeof mutating; i++) {
        sample_fill(s, mutating[i], &r, &small_scale);
        s->m.causal = 0; /* the causal trailer: test_wire_causal.c */
        s->m.fence_name.len = CHORD_LOCK_NAME_MAX;
        memset(s->fence_name, 'n', CHORD_LOCK_NAME_MAX);
        size_t plain = 0;
        for (unsigned parts = 0; parts < 4; parts++) {
            s->m.has_rid = parts & 1;
            s->m.has_fence = (parts & 2) != 0;
            chord_buf_reset(&out);
            assert_int_equal(chord_msg_encode(&s->m, &out), 0);
            assert_int_equal(out.data[7], parts ? CHORD_FRAME_MUTATION : 0);
            if (parts == 0)
                plain = out.len;
            size_t extra =
                (parts ? 1u : 0u) +
                (s->m.has_rid ? CHORD_CLIENT_ID_BYTES + 8u : 0u) +
                (s->m.has_fence ? 2u + CHORD_LOCK_NAME_MAX + 8u : 0u);
            assert_int_equal(out.len, plain + extra);
            assert_int_equal(chord_frame_length(out.data, out.len),
                             (ssize_t)out.len);
            got.status_out = NULL;
            assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                             (ssize_t)out.len);
            assert_msg_equal(&s->m, &got);
            assert_int_equal(got.has_rid, s->m.has_rid);
            assert_int_equal(got.has_fence, s->m.has_fence);
        }
    }

    /* A non-mutating type: the trailer in the message is not sent. */
    static const uint8_t others[] = {CHORD_MSG_C_GET, CHORD_MSG_STORE_GET,
                                     CHORD_MSG_C_RESTORE, CHORD_MSG_C_RESULT,
                                     CHORD_MSG_TRANSFER};
    struct chord_buf without;
    chord_buf_init(&without);
    for (size_t i = 0; i < sizeof others; i++) {
        sample_fill(s, others[i], &r, &small_scale);
        s->m.causal = 0;
        s->m.has_rid = s->m.has_fence = false;
        chord_buf_reset(&without);
        assert_int_equal(chord_msg_encode(&s->m, &without), 0);
        s->m.has_rid = s->m.has_fence = true;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_int_equal(out.len, without.len);
        assert_memory_equal(out.data, without.data, out.len);
        assert_int_equal(out.data[7], 0);
    }
    chord_buf_free(&without);
    chord_buf_free(&out);
    free(s);
}

static void test_encode_enforces_caps(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    uint8_t *big = calloc(1, CHORD_VALUE_MAX + 1);
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 5;
    const struct chord_bytes long_key = {big, CHORD_KEY_MAX + 1};
    const struct chord_bytes long_value = {big, CHORD_VALUE_MAX + 1};

    static const uint8_t key_types[] = {
        CHORD_MSG_STORE_PUT, CHORD_MSG_STORE_GET, CHORD_MSG_STORE_DEL,
        CHORD_MSG_C_PUT,     CHORD_MSG_C_GET,     CHORD_MSG_C_DEL,
        CHORD_MSG_C_LOOKUP};
    for (size_t i = 0; i < sizeof key_types; i++) {
        sample_fill(s, key_types[i], &r, &small_scale);
        s->m.key = long_key;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
    }
    static const uint8_t value_types[] = {CHORD_MSG_STORE_PUT, CHORD_MSG_C_PUT,
                                          CHORD_MSG_STORE_RESULT,
                                          CHORD_MSG_C_RESULT};
    for (size_t i = 0; i < sizeof value_types; i++) {
        sample_fill(s, value_types[i], &r, &small_scale);
        s->m.value = long_value;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
    }

    /* TRANSFER items: key, value, and a frame over CHORD_FRAME_MAX. */
    sample_fill(s, CHORD_MSG_TRANSFER, &r, &small_scale);
    s->m.n_items = 2;
    s->items[0].tombstone = false;
    s->items[1].tombstone = false;
    s->items[1].key = long_key;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    s->items[1].key.len = 1;
    s->items[1].value = long_value;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    s->items[0].value = (struct chord_bytes){big, CHORD_VALUE_MAX};
    s->items[1].value = (struct chord_bytes){big, CHORD_VALUE_MAX};
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    s->items[1].value.len = 10; /* now it fits */
    chord_buf_reset(&out);
    assert_int_equal(chord_msg_encode(&s->m, &out), 0);
    s->m.flags = 0x08; /* not a known TRANSFER flag */
    assert_encode_refused(&s->m, &out, -EINVAL);

    /* A consistency level that does not exist. */
    sample_fill(s, CHORD_MSG_C_PUT, &r, &small_scale);
    s->m.consistency = CHORD_CONSISTENCY_ALL + 1;
    assert_encode_refused(&s->m, &out, -EINVAL);
    sample_fill(s, CHORD_MSG_RECTIFY, &r, &small_scale);
    s->m.n_preds = CHORD_SUCC_MAX + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    /* An address filling its array without a NUL. */
    sample_fill(s, CHORD_MSG_PING, &r, &small_scale);
    memset(s->m.from.addr, 'a', CHORD_ADDR_MAX);
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    sample_fill(s, CHORD_MSG_NEIGHBORS, &r, &small_scale);
    s->m.nb.n_succ = CHORD_SUCC_MAX + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    sample_fill(s, CHORD_MSG_FIND_SUCC, &r, &small_scale);
    s->m.path.n = CHORD_PATH_MAX + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    sample_fill(s, CHORD_MSG_FOUND_SUCC, &r, &small_scale);
    memset(s->m.path.addr[0], 'p', CHORD_ADDR_MAX);
    s->m.path.n = 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    sample_fill(s, CHORD_MSG_C_RESULT, &r, &small_scale);
    memset(s->m.error, 'e', CHORD_ERRMSG_MAX);
    assert_encode_refused(&s->m, &out, -EMSGSIZE);

    sample_fill(s, CHORD_MSG_C_STATUS_RESULT, &r, &small_scale);
    s->status.n_fingers = CHORD_ID_BITS + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    sample_fill(s, CHORD_MSG_C_STATUS_RESULT, &r, &small_scale);
    s->status.n_peers = CHORD_PEERS_MAX + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    sample_fill(s, CHORD_MSG_C_STATUS_RESULT, &r, &small_scale);
    s->status.n_succ = CHORD_SUCC_MAX + 1;
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    s->m.status_in = NULL;
    assert_encode_refused(&s->m, &out, -EINVAL);

    /* New types: the append's key and value; a lock's name (empty, over
     * its cap), operation, key2; the trailer's fence name and seq. */
    static const uint8_t append_types[] = {CHORD_MSG_C_APPEND,
                                           CHORD_MSG_STORE_APPEND};
    for (size_t i = 0; i < sizeof append_types; i++) {
        sample_fill(s, append_types[i], &r, &small_scale);
        s->m.key = long_key;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
        sample_fill(s, append_types[i], &r, &small_scale);
        s->m.value = long_value;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
    }
    static const uint8_t lock_types[] = {CHORD_MSG_C_LOCK,
                                         CHORD_MSG_STORE_LOCK};
    for (size_t i = 0; i < sizeof lock_types; i++) {
        sample_fill(s, lock_types[i], &r, &small_scale);
        s->m.key = (struct chord_bytes){big, CHORD_LOCK_NAME_MAX};
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        s->m.key.len = CHORD_LOCK_NAME_MAX + 1;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
        s->m.key.len = 0;
        assert_encode_refused(&s->m, &out, -EINVAL);
        s->m.key.len = 1;
        s->m.lock_op = 0;
        assert_encode_refused(&s->m, &out, -EINVAL);
        s->m.lock_op = CHORD_LOCK_OP_MAX + 1;
        assert_encode_refused(&s->m, &out, -EINVAL);
        s->m.lock_op = CHORD_LOCK_OP_MAX;
        s->m.key2 = long_key;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
        s->m.key2.len = 0;
        s->m.value = long_value;
        assert_encode_refused(&s->m, &out, -EMSGSIZE);
    }
    sample_fill(s, CHORD_MSG_C_PUT, &r, &small_scale);
    s->m.has_fence = true;
    s->m.fence_name = (struct chord_bytes){big, CHORD_LOCK_NAME_MAX + 1};
    assert_encode_refused(&s->m, &out, -EMSGSIZE);
    s->m.fence_name.len = 0;
    assert_encode_refused(&s->m, &out, -EINVAL);
    s->m.has_fence = false;
    s->m.has_rid = true;
    s->m.rid.seq = 0; /* the decoder refuses it: so does the encoder */
    assert_encode_refused(&s->m, &out, -EINVAL);

    /* Unknown types. */
    struct chord_msg m;
    chord_msg_init(&m, 0, 1);
    assert_encode_refused(&m, &out, -EINVAL);
    chord_msg_init(&m, CHORD_MSG_STORE_LOCK + 1, 1);
    assert_encode_refused(&m, &out, -EINVAL);
    chord_msg_init(&m, CHORD_MSG_C_LOCK + 1, 1);
    assert_encode_refused(&m, &out, -EINVAL);

    chord_buf_free(&out);
    free(big);
    free(s);
}

/* A client reply carries a hint (where to ask instead) only when its
 * status is REDIRECT: such a reply round-trips with the hint, and any
 * other status encodes no hint bytes at all, so replies older clients
 * read are unchanged. */
static void test_client_reply_hint(void **state)
{
    (void)state;
    static const uint8_t types[] = {CHORD_MSG_C_RESULT,
                                    CHORD_MSG_C_LOOKUP_RESULT};
    struct sample *s = sample_new();
    struct chord_msg got;
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 0x5eed19;
    for (size_t t = 0; t < sizeof types; t++) {
        sample_fill(s, types[t], &r, &small_scale);
        s->m.status = CHORD_OK;
        snprintf(s->m.hint.addr, CHORD_ADDR_MAX, "127.0.0.9:7009");
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        size_t plain = out.len;
        got.status_out = NULL;
        assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                         (ssize_t)out.len);
        assert_msg_equal(&s->m, &got);
        assert_string_equal(got.hint.addr, "");

        s->m.status = CHORD_REDIRECT;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_int_equal(out.len,
                         plain + CHORD_ID_BYTES + 2 + strlen("127.0.0.9:7009"));
        assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                         (ssize_t)out.len);
        assert_msg_equal(&s->m, &got);
        assert_string_equal(got.hint.addr, "127.0.0.9:7009");
        assert_memory_equal(got.hint.id.b, s->m.hint.id.b, CHORD_ID_BYTES);

        /* The longest address fits; one without a NUL is refused. */
        memset(s->m.hint.addr, 'h', CHORD_ADDR_MAX - 1);
        s->m.hint.addr[CHORD_ADDR_MAX - 1] = '\0';
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                         (ssize_t)out.len);
        assert_msg_equal(&s->m, &got);
        memset(s->m.hint.addr, 'h', CHORD_ADDR_MAX);
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), -EMSGSIZE);
        assert_int_equal(out.len, 0);
    }
    chord_buf_free(&out);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_round_trip_all_types),
        cmocka_unit_test(test_round_trip_at_caps),
        cmocka_unit_test(test_mutation_trailer),
        cmocka_unit_test(test_encode_enforces_caps),
        cmocka_unit_test(test_client_reply_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
