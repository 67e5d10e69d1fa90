/*
 * test_wire_decode.c - what the frame decoder refuses (src/core/wire.c):
 * the length prefix, the fixed header (version, flags, type, trailing
 * bytes, a missing sender), the mutation flag and its trailer, the lock
 * request's body, and the caps on keys, values, strings,
 * counts, booleans and the status report, each just at and just over
 * its cap.
 *
 * Frames are built by hand with the independent big-endian builder of
 * wire_fixture.h, so these tests also pin down the byte layout that
 * wire.c documents.
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

static void test_decode_length_prefix(void **state)
{
    (void)state;
    struct chord_msg m;
    m.status_out = NULL;
    uint8_t hdr[4];

    /* Too big: MALFORMED as soon as the four bytes are there. */
    uint32_t lens[] = {CHORD_FRAME_MAX - 3, CHORD_FRAME_MAX, 0x7fffffff,
                       0xffffffff};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        hdr[0] = (uint8_t)(lens[i] >> 24);
        hdr[1] = (uint8_t)(lens[i] >> 16);
        hdr[2] = (uint8_t)(lens[i] >> 8);
        hdr[3] = (uint8_t)lens[i];
        assert_int_equal(chord_msg_decode(hdr, 4, &m), CHORD_DECODE_MALFORMED);
        assert_int_equal(chord_msg_decode(hdr, 3, &m), CHORD_DECODE_PARTIAL);
    }
    /* The largest acceptable frame is merely incomplete. */
    uint32_t max = CHORD_FRAME_MAX - 4;
    hdr[0] = (uint8_t)(max >> 24);
    hdr[1] = (uint8_t)(max >> 16);
    hdr[2] = (uint8_t)(max >> 8);
    hdr[3] = (uint8_t)max;
    assert_int_equal(chord_msg_decode(hdr, 4, &m), CHORD_DECODE_PARTIAL);
    /* Shorter than the fixed header: MALFORMED. */
    for (uint8_t n = 0; n < CHORD_FRAME_HEADER - 4; n++) {
        uint8_t frame[CHORD_FRAME_HEADER] = {
            0, 0, 0, n, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS};
        assert_int_equal(chord_msg_decode(frame, sizeof frame, &m),
                         CHORD_DECODE_MALFORMED);
    }
    assert_int_equal(chord_msg_decode(hdr, 0, &m), CHORD_DECODE_PARTIAL);
}

static void test_decode_header_checks(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* The minimal valid frame, as a reference for the builder. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS, 0);
    fb_finish(&b);
    assert_int_equal(b.len, CHORD_FRAME_HEADER);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.type, CHORD_MSG_C_STATUS);
    assert_true(m.req_id == 0x0102030405060708ull);

    uint8_t versions[] = {0, CHORD_PROTOCOL_VERSION + 1, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        fb_header(&b, versions[i], CHORD_MSG_C_STATUS, 0);
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    /* Low flag bits are checked; the high byte names the vnode. */
    for (unsigned bit = 0; bit < 8; bit++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS,
                  (uint16_t)(1u << bit));
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    for (unsigned bit = 8; bit < 16; bit++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS,
                  (uint16_t)(1u << bit));
        fb_finish(&b);
        assert_decodes(&b, &m, NULL);
        assert_int_equal(chord_frame_vnode(b.data), 1u << (bit - 8));
        assert_true(chord_frame_length(b.data, b.len) == (ssize_t)b.len);
    }
    /* Unknown types, with a plausible `from` body and without. */
    uint8_t unknown[] = {0, 18, 40, 63, 72, 128, 255};
    for (size_t i = 0; i < sizeof unknown; i++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, unknown[i], 0);
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
        fb_peer(&b);
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    /* Trailing bytes after a complete body. */
    fb_start(&b, CHORD_MSG_PING);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    fb_u8(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS, 0);
    fb_u8(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    /* A node-to-node type without its `from`. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_PING, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

/* The body of a C_DEL (key "abcde", consistency ONE). */
static void fb_del_body(struct chord_buf *b)
{
    fb_u32(b, 5);
    fb_raw(b, "abcde", 5);
    fb_u8(b, CHORD_CONSISTENCY_ONE);
}

/* A mutation trailer: bits, then the id (client 0x3c.., seq) and the
 * fence (a name of name_len 'n's, fence 9) as the bits say. */
static void fb_trailer(struct chord_buf *b, uint8_t bits, uint64_t seq,
                       uint16_t name_len)
{
    fb_u8(b, bits);
    if (bits & CHORD_MUT_RID) {
        uint8_t client[CHORD_CLIENT_ID_BYTES];
        memset(client, 0x3c, sizeof client);
        fb_raw(b, client, sizeof client);
        fb_u64(b, seq);
    }
    if (bits & CHORD_MUT_FENCE) {
        fb_str(b, name_len, 'n');
        fb_u64(b, 9);
    }
}

/* The header flag CHORD_FRAME_MUTATION: only on a mutating request, and
 * then with a well-formed trailer; chord_frame_length judges the flag
 * from the header alone, as the decoder does. */
static void test_decode_mutation_trailer(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* Reference: a C_DEL with both parts. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_DEL,
              CHORD_FRAME_MUTATION);
    fb_del_body(&b);
    fb_trailer(&b, CHORD_MUT_RID | CHORD_MUT_FENCE, 7, 4);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_true(m.has_rid);
    assert_int_equal(m.rid.client[0], 0x3c);
    assert_int_equal(m.rid.client[CHORD_CLIENT_ID_BYTES - 1], 0x3c);
    assert_true(m.rid.seq == 7);
    assert_true(m.has_fence);
    assert_int_equal(m.fence_name.len, 4);
    assert_memory_equal(m.fence_name.data, "nnnn", 4);
    assert_true(m.fence == 9);
    assert_int_equal(m.key.len, 5);
    assert_int_equal(chord_frame_length(b.data, b.len), (ssize_t)b.len);
    /* The same frame without the flag: the trailer is trailing junk. */
    b.data[7] = 0;
    assert_malformed(&b, &m, NULL);
    /* Without the trailer the frame is the old one. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_DEL, 0);
    fb_del_body(&b);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_false(m.has_rid);
    assert_false(m.has_fence);

    /* Every type: the flag alone in a header is refused by the header
     * check unless the type is a mutating request. */
    for (size_t t = 0; t < N_TYPES; t++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, all_types[t],
                  CHORD_FRAME_MUTATION);
        fb_finish(&b);
        ssize_t fl = chord_frame_length(b.data, b.len);
        if (chord_msg_is_mutation(all_types[t]))
            assert_int_equal(fl, (ssize_t)b.len);
        else
            assert_int_equal(fl, CHORD_DECODE_MALFORMED);
        /* Only the first 8 bytes are needed to judge it. */
        if (!chord_msg_is_mutation(all_types[t]))
            assert_int_equal(chord_frame_length(b.data, 8),
                             CHORD_DECODE_MALFORMED);
    }
    /* A non-mutating request with a well-formed trailer: C_GET has the
     * body of a C_DEL. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_GET,
              CHORD_FRAME_MUTATION);
    fb_del_body(&b);
    fb_trailer(&b, CHORD_MUT_RID, 7, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    assert_int_equal(chord_frame_length(b.data, b.len), CHORD_DECODE_MALFORMED);

    /* Other flag values on a mutating request (the high byte names a
     * virtual node and is not checked here; the low byte's bits other
     * than MUTATION and CAUSAL are refused; CAUSAL with this body is in
     * test_wire_causal.c). */
    static const uint16_t flags[] = {4, 5, 0x104, 0x8005, 0x81, 0x41, 0x11};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_DEL, flags[i]);
        fb_del_body(&b);
        fb_trailer(&b, CHORD_MUT_RID, 7, 0);
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
        assert_int_equal(chord_frame_length(b.data, b.len),
                         CHORD_DECODE_MALFORMED);
    }

    /* Malformed trailers: no part, unknown bits, seq 0, a fence name
     * empty or over CHORD_LOCK_NAME_MAX (at it is fine), cut short, a
     * byte too many, missing. */
    struct {
        uint8_t bits;
        uint64_t seq;
        uint16_t name;
        bool ok;
    } cases[] = {
        {0, 1, 0, false},
        {CHORD_MUT_RID | 4, 1, 0, false},
        {0x80 | CHORD_MUT_FENCE, 1, 3, false},
        {CHORD_MUT_RID, 0, 0, false},
        {CHORD_MUT_FENCE, 1, 0, false},
        {CHORD_MUT_FENCE, 1, CHORD_LOCK_NAME_MAX + 1, false},
        {CHORD_MUT_FENCE, 1, CHORD_LOCK_NAME_MAX, true},
        {CHORD_MUT_RID, UINT64_MAX, 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_DEL,
                  CHORD_FRAME_MUTATION);
        fb_del_body(&b);
        fb_trailer(&b, cases[i].bits, cases[i].seq, cases[i].name);
        fb_finish(&b);
        if (cases[i].ok)
            assert_decodes(&b, &m, NULL);
        else
            assert_malformed(&b, &m, NULL);
    }
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_DEL,
              CHORD_FRAME_MUTATION);
    fb_del_body(&b);
    size_t body = b.len;
    fb_finish(&b);
    assert_malformed(&b, &m, NULL); /* the flag, no trailer */
    fb_trailer(&b, CHORD_MUT_RID | CHORD_MUT_FENCE, 5, 2);
    size_t full = b.len;
    for (b.len = body + 1; b.len < full; b.len++) {
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
    }
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    fb_u8(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

/* A C_LOCK body: name of name_len 'L's, op, client 0x4d.., fence 11,
 * lease 2500, key2 "k2", value "vvv", consistency. */
static void fb_lock_body(struct chord_buf *b, uint32_t name_len, uint8_t op,
                         uint8_t consistency)
{
    fb_u32(b, name_len);
    for (uint32_t i = 0; i < name_len; i++)
        fb_u8(b, 'L');
    fb_u8(b, op);
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    memset(client, 0x4d, sizeof client);
    fb_raw(b, client, sizeof client);
    fb_u64(b, 11);
    fb_u32(b, 2500);
    fb_u32(b, 2);
    fb_raw(b, "k2", 2);
    fb_u32(b, 3);
    fb_raw(b, "vvv", 3);
    fb_u8(b, consistency);
}

/* C_LOCK (and STORE_LOCK, after `from`): the layout wire.c documents, a
 * name of 1..CHORD_LOCK_NAME_MAX bytes, a known operation. */
static void test_decode_lock(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    static const uint8_t types[] = {CHORD_MSG_C_LOCK, CHORD_MSG_STORE_LOCK};
    for (size_t t = 0; t < sizeof types; t++) {
        fb_start(&b, types[t]);
        fb_lock_body(&b, 6, CHORD_LOCK_APPEND, CHORD_CONSISTENCY_ALL);
        fb_finish(&b);
        assert_decodes(&b, &m, NULL);
        assert_int_equal(m.key.len, 6);
        assert_memory_equal(m.key.data, "LLLLLL", 6);
        assert_int_equal(m.lock_op, CHORD_LOCK_APPEND);
        assert_int_equal(m.lock_client[0], 0x4d);
        assert_true(m.lock_fence == 11);
        assert_int_equal(m.lease_ms, 2500);
        assert_int_equal(m.key2.len, 2);
        assert_memory_equal(m.key2.data, "k2", 2);
        assert_int_equal(m.value.len, 3);
        assert_int_equal(m.consistency, CHORD_CONSISTENCY_ALL);
        assert_false(m.has_rid);

        fb_start(&b, types[t]);
        fb_lock_body(&b, CHORD_LOCK_NAME_MAX, CHORD_LOCK_OP_MAX,
                     CHORD_CONSISTENCY_ONE);
        fb_finish(&b);
        assert_decodes(&b, &m, NULL);

        static const struct {
            uint32_t name;
            uint8_t op, consistency;
        } bad[] = {
            {0, CHORD_LOCK_ACQUIRE, 0},
            {CHORD_LOCK_NAME_MAX + 1, CHORD_LOCK_ACQUIRE, 0},
            {3, 0, 0},
            {3, CHORD_LOCK_OP_MAX + 1, 0},
            {3, CHORD_LOCK_ACQUIRE, CHORD_CONSISTENCY_ALL + 1},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            fb_start(&b, types[t]);
            fb_lock_body(&b, bad[i].name, bad[i].op, bad[i].consistency);
            fb_finish(&b);
            assert_malformed(&b, &m, NULL);
        }
    }
    chord_buf_free(&b);
}

static void test_decode_key_value_caps(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    fb_start(&b, CHORD_MSG_C_GET);
    fb_bytes(&b, CHORD_KEY_MAX, CHORD_KEY_MAX);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.key.len, CHORD_KEY_MAX);

    fb_start(&b, CHORD_MSG_C_GET);
    fb_bytes(&b, CHORD_KEY_MAX + 1, CHORD_KEY_MAX + 1);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    fb_start(&b, CHORD_MSG_STORE_PUT);
    fb_bytes(&b, CHORD_KEY_MAX + 1, CHORD_KEY_MAX + 1);
    fb_bytes(&b, 1, 1);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A value one over the cap, carried in full. */
    fb_start(&b, CHORD_MSG_C_PUT);
    fb_bytes(&b, 3, 3);
    fb_bytes(&b, CHORD_VALUE_MAX + 1, CHORD_VALUE_MAX + 1);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_start(&b, CHORD_MSG_C_PUT);
    fb_bytes(&b, 3, 3);
    fb_bytes(&b, CHORD_VALUE_MAX, CHORD_VALUE_MAX);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.value.len, CHORD_VALUE_MAX);

    /* An inner length running past the end of the frame. */
    fb_start(&b, CHORD_MSG_C_GET);
    fb_bytes(&b, 100, 10);
    fb_u8(&b, 0); /* consistency */
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, 0);
    fb_str(&b, 0, 'x');
    fb_bytes(&b, 0xffffffff, 4);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

static void test_decode_string_caps(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* Address strings: 63 bytes fit, 64 do not, nor does a NUL inside. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_PING, 0);
    fb_id(&b, 1);
    fb_str(&b, CHORD_ADDR_MAX - 1, 'a');
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(strlen(m.from.addr), CHORD_ADDR_MAX - 1);

    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_PING, 0);
    fb_id(&b, 1);
    fb_str(&b, CHORD_ADDR_MAX, 'a');
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_PING, 0);
    fb_id(&b, 1);
    fb_u16(&b, 5);
    fb_raw(&b, "ab\0cd", 5);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* Error text: CHORD_ERRMSG_MAX - 1 bytes fit. */
    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, CHORD_NOT_FOUND);
    fb_str(&b, CHORD_ERRMSG_MAX - 1, 'e');
    fb_bytes(&b, 0, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(strlen(m.error), CHORD_ERRMSG_MAX - 1);
    assert_int_equal(m.status, CHORD_NOT_FOUND);

    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, CHORD_NOT_FOUND);
    fb_str(&b, CHORD_ERRMSG_MAX, 'e');
    fb_bytes(&b, 0, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A client reply's hint: present exactly when the status is
     * REDIRECT (missing, or after another status, it is malformed). */
    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, CHORD_REDIRECT);
    fb_str(&b, 0, 'e');
    fb_bytes(&b, 0, 0);
    fb_peer(&b);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.status, CHORD_REDIRECT);
    assert_string_equal(m.hint.addr, "77777777777777");
    assert_int_equal(m.hint.id.b[0], 0x11);
    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, CHORD_REDIRECT);
    fb_str(&b, 0, 'e');
    fb_bytes(&b, 0, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_start(&b, CHORD_MSG_C_RESULT);
    fb_u8(&b, CHORD_OK);
    fb_str(&b, 0, 'e');
    fb_bytes(&b, 0, 0);
    fb_peer(&b);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_start(&b, CHORD_MSG_C_LOOKUP_RESULT);
    fb_u8(&b, CHORD_REDIRECT);
    fb_str(&b, 4, 'e');
    fb_id(&b, 0x66);
    fb_peer(&b);  /* owner */
    fb_u8(&b, 0); /* hops */
    fb_u8(&b, 0); /* path */
    fb_id(&b, 0x11);
    fb_str(&b, CHORD_ADDR_MAX, 'h'); /* a hint address over its cap */
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A string length past the frame's end. */
    fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_PING, 0);
    fb_id(&b, 1);
    fb_u16(&b, 10);
    fb_raw(&b, "abc", 3);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

/* A FIND_SUCC whose path announces `n` entries and carries them. */
static void fb_find_succ(struct chord_buf *b, unsigned n)
{
    fb_start(b, CHORD_MSG_FIND_SUCC);
    fb_id(b, 0x22);
    fb_u8(b, 3);
    fb_u8(b, 0); /* lookup_flags */
    fb_u8(b, (uint8_t)n);
    for (unsigned i = 0; i < n; i++)
        fb_str(b, 14, 'h');
    fb_finish(b);
}

/* A NEIGHBORS message with `n` successors and the given has_pred byte. */
static void fb_neighbors(struct chord_buf *b, uint8_t has_pred, unsigned n)
{
    fb_start(b, CHORD_MSG_NEIGHBORS);
    fb_u8(b, has_pred);
    if (has_pred)
        fb_peer(b);
    fb_u8(b, (uint8_t)n);
    for (unsigned i = 0; i < n; i++)
        fb_peer(b);
    fb_finish(b);
}

static void test_decode_count_caps(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    fb_find_succ(&b, CHORD_PATH_MAX);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.path.n, CHORD_PATH_MAX);
    assert_int_equal(m.hops, 3);
    fb_find_succ(&b, CHORD_PATH_MAX + 1);
    assert_malformed(&b, &m, NULL);
    fb_find_succ(&b, 255);
    assert_malformed(&b, &m, NULL);

    fb_neighbors(&b, 1, CHORD_SUCC_MAX);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.nb.n_succ, CHORD_SUCC_MAX);
    assert_true(m.nb.has_pred);
    fb_neighbors(&b, 0, CHORD_SUCC_MAX + 1);
    assert_malformed(&b, &m, NULL);
    /* Booleans are 0 or 1. */
    fb_neighbors(&b, 2, 1);
    assert_malformed(&b, &m, NULL);

    fb_start(&b, CHORD_MSG_STORE_RESULT);
    fb_u8(&b, CHORD_OK);
    fb_str(&b, 0, 'x'); /* error text */
    fb_peer(&b);
    fb_u8(&b, 2); /* has_value */
    fb_bytes(&b, 0, 0);
    fb_u64(&b, 9);
    fb_id(&b, 9);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    b.data[b.len - 4 - CHORD_ID_BYTES - 8 - 1] = 1;
    assert_decodes(&b, &m, NULL);
    assert_true(m.has_value);
    assert_true(m.version.counter == 9);

    chord_buf_free(&b);
}

/* A status report with the given counts (bodies filled to match). */
static void fb_status(struct chord_buf *b, unsigned n_succ, unsigned n_fingers,
                      unsigned n_peers)
{
    fb_start(b, CHORD_MSG_C_STATUS_RESULT);
    fb_peer(b);
    fb_u8(b, CHORD_NODE_ACTIVE);
    fb_u8(b, 0); /* no predecessor */
    fb_u8(b, (uint8_t)n_succ);
    for (unsigned i = 0; i < n_succ; i++)
        fb_peer(b);
    fb_u8(b, (uint8_t)n_fingers);
    for (unsigned i = 0; i < n_fingers; i++) {
        fb_id(b, (uint8_t)i);
        fb_peer(b);
    }
    fb_u64(b, 77);
    fb_u8(b, (uint8_t)n_peers);
    for (unsigned i = 0; i < n_peers; i++) {
        fb_str(b, 14, 'q');
        fb_u8(b, CHORD_PEER_ALIVE);
        fb_u32(b, 1);
        fb_u32(b, 2);
        fb_u32(b, 3);
    }
    fb_u64(b, 40);                    /* primary_keys */
    fb_u8(b, 3);                      /* replicas */
    fb_u8(b, CHORD_DURABILITY_BATCH); /* durability */
    fb_u64(b, 12);                    /* status_served */
    fb_finish(b);
}

static void test_decode_status_caps(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_status *st = malloc(sizeof *st);
    struct chord_buf b;
    chord_buf_init(&b);

    fb_status(&b, CHORD_SUCC_MAX, CHORD_ID_BITS, CHORD_PEERS_MAX);
    assert_decodes(&b, &m, st);
    assert_int_equal(st->n_succ, CHORD_SUCC_MAX);
    assert_int_equal(st->n_fingers, CHORD_ID_BITS);
    assert_int_equal(st->n_peers, CHORD_PEERS_MAX);
    assert_true(st->keys == 77);
    assert_int_equal(st->peers[CHORD_PEERS_MAX - 1].false_suspicions, 3);
    assert_int_equal(st->fingers[5].start.b[0], 5);
    assert_int_equal(st->durability, CHORD_DURABILITY_BATCH);
    assert_true(st->status_served == 12);
    assert_decodes(&b, &m, NULL);

    struct {
        unsigned succ, fingers, peers;
    } bad[] = {
        {CHORD_SUCC_MAX + 1, 0, 0},
        {0, CHORD_ID_BITS + 1, 0},
        {0, 0, CHORD_PEERS_MAX + 1},
        {255, 255, 255},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fb_status(&b, bad[i].succ, bad[i].fingers, bad[i].peers);
        assert_malformed(&b, &m, st);
        assert_malformed(&b, &m, NULL);
    }
    /* A report cut short inside the peers (frame length consistent). */
    fb_status(&b, 1, 1, 2);
    b.len -= 5;
    fb_finish(&b);
    assert_malformed(&b, &m, st);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_length_prefix),
        cmocka_unit_test(test_decode_header_checks),
        cmocka_unit_test(test_decode_mutation_trailer),
        cmocka_unit_test(test_decode_lock),
        cmocka_unit_test(test_decode_key_value_caps),
        cmocka_unit_test(test_decode_string_caps),
        cmocka_unit_test(test_decode_count_caps),
        cmocka_unit_test(test_decode_status_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
