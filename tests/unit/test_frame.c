/*
 * test_frame.c - the public client codec (chord/frame.h): requests it
 * encodes are what the node's decoder reads, replies the node's encoder
 * writes are what it decodes, every truncated reply is "need more", and
 * oversize lengths, garbage and frames that are not client replies are
 * refused, without a byte allocated.
 *
 * The other side of each round trip is the library's own wire codec
 * (core/wire.h), the one the node uses. The allocation check wraps
 * malloc/calloc/realloc at link time (tests/CMakeLists.txt): the wrappers
 * count calls while `counting` is set, so a decode that allocated would
 * show up in the count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/buf.h"
#include "chord/frame.h"
#include "chord/node.h"
#include "core/wire.h"

/* ---- allocation counting (the linker sends malloc & co. here) ---------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool counting;
static unsigned allocations;

void *__wrap_malloc(size_t n)
{
    if (counting)
        allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (counting)
        allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (counting)
        allocations++;
    return __real_realloc(p, n);
}

/* Decode with allocations counted; fails the test if any happened. */
static int decode_counted(const uint8_t *buf, size_t len,
                          struct chord_frame_reply *out)
{
    allocations = 0;
    counting = true;
    int rc = chord_frame_decode_reply(buf, len, out);
    counting = false;
    assert_int_equal(allocations, 0);
    return rc;
}

/* ---- helpers ------------------------------------------------------------ */

/* Encode a node-side reply message into b (reset first). */
static void node_encode(const struct chord_msg *m, struct chord_buf *b)
{
    chord_buf_reset(b);
    assert_int_equal(chord_msg_encode(m, b), 0);
}

/* A C_RESULT from the node's encoder. */
static void make_result(struct chord_buf *b, uint64_t req_id, uint8_t status,
                        const char *value, const char *error)
{
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_RESULT, req_id);
    m->status = status;
    if (value) {
        m->value.data = (const uint8_t *)value;
        m->value.len = strlen(value);
    }
    if (error)
        snprintf(m->error, sizeof m->error, "%s", error);
    node_encode(m, b);
    free(m);
}

/* A REDIRECT reply of `type` (C_RESULT or C_LOOKUP_RESULT) from a joining
 * node, naming `hint`. */
static void make_redirect(struct chord_buf *b, uint64_t req_id, uint8_t type,
                          const char *hint)
{
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, type, req_id);
    m->status = CHORD_REDIRECT;
    snprintf(m->error, sizeof m->error, "node 127.0.0.1:7003 is joining");
    chord_peer_from_addr(&m->hint, hint);
    node_encode(m, b);
    free(m);
}

/* A C_LOOKUP_RESULT with a two-hop path. */
static void make_lookup(struct chord_buf *b, uint64_t req_id,
                        struct chord_lookup_result *want)
{
    memset(want, 0, sizeof *want);
    chord_id_hash(&want->key_id, "k", 1);
    chord_id_hash(&want->owner.id, "127.0.0.1:7002", 14);
    snprintf(want->owner.addr, sizeof want->owner.addr, "127.0.0.1:7002");
    want->hops = 2;
    want->path.n = 2;
    snprintf(want->path.addr[0], CHORD_ADDR_MAX, "127.0.0.1:7000");
    snprintf(want->path.addr[1], CHORD_ADDR_MAX, "127.0.0.1:7002");
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_LOOKUP_RESULT, req_id);
    m->lookup = *want;
    node_encode(m, b);
    free(m);
}

/* A C_STATUS_RESULT of a node with one successor and 42 keys. */
static void make_status(struct chord_buf *b, uint64_t req_id,
                        struct chord_status *want)
{
    memset(want, 0, sizeof *want);
    chord_id_hash(&want->self.id, "127.0.0.1:7000", 14);
    snprintf(want->self.addr, sizeof want->self.addr, "127.0.0.1:7000");
    want->state = CHORD_NODE_ACTIVE;
    want->n_succ = 1;
    want->succ[0] = want->self;
    want->keys = 42;
    want->replicas = 3;
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_STATUS_RESULT, req_id);
    m->status_in = want;
    node_encode(m, b);
    free(m);
}

/* ---- requests ----------------------------------------------------------- */

static void test_request_round_trip(void **state)
{
    (void)state;
    static const struct {
        uint8_t op, type;
    } ops[] = {
        {CHORD_FRAME_PUT, CHORD_MSG_C_PUT},
        {CHORD_FRAME_GET, CHORD_MSG_C_GET},
        {CHORD_FRAME_DEL, CHORD_MSG_C_DEL},
        {CHORD_FRAME_LOOKUP, CHORD_MSG_C_LOOKUP},
        {CHORD_FRAME_STATUS, CHORD_MSG_C_STATUS},
    };
    struct chord_buf b;
    chord_buf_init(&b);
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct chord_frame_request req = {
            .op = ops[i].op,
            .consistency = CHORD_CONSISTENCY_ALL,
            .req_id = 0x1122334455667700ull + i,
            .key = "key:000000000042",
            .key_len = 16,
            .value = "xyz",
            .value_len = 3,
        };
        chord_buf_reset(&b);
        assert_int_equal(chord_frame_encode_request(&req, &b), 0);
        ssize_t used = chord_msg_decode(b.data, b.len, m);
        assert_int_equal(used, (ssize_t)b.len);
        assert_int_equal(m->type, ops[i].type);
        assert_true(m->req_id == req.req_id);
        bool keyed = ops[i].op != CHORD_FRAME_STATUS;
        bool replicated = ops[i].op <= CHORD_FRAME_DEL;
        assert_int_equal(m->key.len, keyed ? 16 : 0);
        if (keyed)
            assert_memory_equal(m->key.data, "key:000000000042", 16);
        assert_int_equal(m->value.len, ops[i].op == CHORD_FRAME_PUT ? 3 : 0);
        if (ops[i].op == CHORD_FRAME_PUT)
            assert_memory_equal(m->value.data, "xyz", 3);
        assert_int_equal(m->consistency,
                         replicated ? CHORD_CONSISTENCY_ALL : 0);
    }
    free(m);
    chord_buf_free(&b);
}

static void test_request_refused(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    static uint8_t big[CHORD_VALUE_MAX + 1];
    struct chord_frame_request ok = {.op = CHORD_FRAME_PUT,
                                     .req_id = 1,
                                     .key = "k",
                                     .key_len = 1,
                                     .value = big,
                                     .value_len = CHORD_VALUE_MAX};
    assert_int_equal(chord_frame_encode_request(&ok, &b), 0);
    size_t at_caps = b.len;

    struct chord_frame_request r = ok;
    r.value_len = CHORD_VALUE_MAX + 1;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EMSGSIZE);
    r = ok;
    r.key = big;
    r.key_len = CHORD_KEY_MAX + 1;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EMSGSIZE);
    r = ok;
    r.op = 0;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EINVAL);
    r.op = CHORD_FRAME_STATUS + 1;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EINVAL);
    r = ok;
    r.consistency = CHORD_CONSISTENCY_ALL + 1;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EINVAL);
    r = ok;
    r.key = NULL;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EINVAL);
    r = ok;
    r.value = NULL;
    assert_int_equal(chord_frame_encode_request(&r, &b), -EINVAL);
    assert_int_equal(b.len, at_caps); /* nothing appended by a refusal */
    chord_buf_free(&b);
}

/* ---- replies ------------------------------------------------------------ */

static void check_truncations(const struct chord_buf *b);

static void test_reply_result(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    struct chord_frame_reply r;

    make_result(&b, 77, CHORD_OK, "hello", NULL);
    memset(&r, 0, sizeof r);
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_RESULT);
    assert_int_equal(r.status, CHORD_OK);
    assert_true(r.req_id == 77);
    assert_int_equal(r.value_len, 5);
    assert_memory_equal(r.value, "hello", 5);
    assert_true(r.value >= b.data && r.value + 5 <= b.data + b.len);
    assert_string_equal(r.error, "");

    make_result(&b, 78, CHORD_UNAVAILABLE, NULL, "only 1 of 3 replicas");
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.status, CHORD_UNAVAILABLE);
    assert_true(r.req_id == 78);
    assert_int_equal(r.value_len, 0);
    assert_null(r.value);
    assert_string_equal(r.error, "only 1 of 3 replicas");
    assert_string_equal(r.hint.addr, "");

    /* A node that does not serve now names one that does. */
    memset(&r, 0xa5, sizeof r);
    make_redirect(&b, 79, CHORD_MSG_C_RESULT, "127.0.0.1:7001");
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_RESULT);
    assert_int_equal(r.status, CHORD_REDIRECT);
    assert_true(r.req_id == 79);
    assert_string_equal(r.hint.addr, "127.0.0.1:7001");
    struct chord_id hid;
    chord_id_hash(&hid, "127.0.0.1:7001", 14);
    assert_true(chord_id_eq(&r.hint.id, &hid));
    assert_string_equal(r.error, "node 127.0.0.1:7003 is joining");
    check_truncations(&b);
    /* The hint of an earlier reply does not linger. */
    make_result(&b, 80, CHORD_OK, "v", NULL);
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_string_equal(r.hint.addr, "");

    /* Two frames back to back: one at a time, each its own length. */
    struct chord_buf two;
    chord_buf_init(&two);
    make_result(&b, 1, CHORD_NOT_FOUND, NULL, NULL);
    assert_int_equal(chord_buf_append(&two, b.data, b.len), 0);
    size_t first = b.len;
    make_result(&b, 2, CHORD_OK, "v", NULL);
    assert_int_equal(chord_buf_append(&two, b.data, b.len), 0);
    assert_int_equal(decode_counted(two.data, two.len, &r), (int)first);
    assert_int_equal(r.status, CHORD_NOT_FOUND);
    assert_true(r.req_id == 1);
    assert_int_equal(decode_counted(two.data + first, two.len - first, &r),
                     (int)(two.len - first));
    assert_true(r.req_id == 2);
    assert_int_equal(r.value_len, 1);
    chord_buf_free(&two);
    chord_buf_free(&b);
}

static void test_reply_lookup_and_status(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    struct chord_lookup_result want, got;
    struct chord_status *st_want = calloc(2, sizeof *st_want);
    assert_non_null(st_want);
    struct chord_status *st_got = &st_want[1];
    struct chord_frame_reply r;

    make_lookup(&b, 5, &want);
    memset(&r, 0, sizeof r);
    memset(&got, 0, sizeof got);
    r.lookup = &got;
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_LOOKUP_RESULT);
    assert_true(r.req_id == 5);
    assert_ptr_equal(r.lookup, &got); /* the caller's pointer is kept */
    assert_true(chord_id_eq(&got.key_id, &want.key_id));
    assert_string_equal(got.owner.addr, want.owner.addr);
    assert_int_equal(got.hops, 2);
    assert_int_equal(got.path.n, 2);
    assert_string_equal(got.path.addr[1], "127.0.0.1:7002");
    /* Without somewhere to put it, the body is checked and skipped. */
    r.lookup = NULL;
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_LOOKUP_RESULT);
    make_redirect(&b, 7, CHORD_MSG_C_LOOKUP_RESULT, "127.0.0.1:7000");
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_LOOKUP_RESULT);
    assert_int_equal(r.status, CHORD_REDIRECT);
    assert_string_equal(r.hint.addr, "127.0.0.1:7000");

    make_status(&b, 6, st_want);
    memset(&r, 0, sizeof r);
    r.status_report = st_got;
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_STATUS_RESULT);
    assert_int_equal(r.status, CHORD_OK);
    assert_true(r.req_id == 6);
    assert_string_equal(st_got->self.addr, "127.0.0.1:7000");
    assert_int_equal(st_got->n_succ, 1);
    assert_true(st_got->keys == 42);
    assert_int_equal(st_got->replicas, 3);
    r.status_report = NULL;
    assert_int_equal(decode_counted(b.data, b.len, &r), (int)b.len);
    assert_int_equal(r.kind, CHORD_FRAME_STATUS_RESULT);
    free(st_want);
    chord_buf_free(&b);
}

/* Every proper prefix of a reply is "need more", and leaves *out as it
 * was. */
static void check_truncations(const struct chord_buf *b)
{
    struct chord_frame_reply r, before;
    memset(&before, 0xa5, sizeof before);
    for (size_t n = 0; n < b->len; n++) {
        r = before;
        assert_int_equal(decode_counted(b->data, n, &r), -EAGAIN);
        assert_memory_equal(&r, &before, sizeof r);
    }
}

static void test_every_truncation_needs_more(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    make_result(&b, 9, CHORD_OK, "some value bytes", NULL);
    check_truncations(&b);
    make_result(&b, 9, CHORD_BAD_REQUEST, NULL, "bad");
    check_truncations(&b);
    struct chord_lookup_result want;
    make_lookup(&b, 10, &want);
    check_truncations(&b);
    struct chord_status *st = calloc(1, sizeof *st);
    assert_non_null(st);
    make_status(&b, 11, st);
    check_truncations(&b);
    free(st);
    chord_buf_free(&b);
}

/* ---- refusals ----------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_oversize_length_refused(void **state)
{
    (void)state;
    struct chord_frame_reply r;
    static const uint32_t lens[] = {CHORD_FRAME_MAX - 3, CHORD_FRAME_MAX,
                                    0x7fffffffu, 0xffffffffu};
    uint8_t hdr[CHORD_FRAME_HEADER] = {0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        put_be32(hdr, lens[i]);
        /* The length prefix alone is enough to refuse: nothing waits for
         * a body of that size, nothing is allocated for it. */
        assert_int_equal(decode_counted(hdr, 4, &r), -EPROTO);
        assert_int_equal(decode_counted(hdr, sizeof hdr, &r), -EPROTO);
    }
    /* Shorter than a header is refused too. */
    put_be32(hdr, CHORD_FRAME_HEADER - 5);
    assert_int_equal(decode_counted(hdr, 4, &r), -EPROTO);

    /* An inner length over its cap (a value of CHORD_VALUE_MAX + 1 in a
     * C_RESULT that claims it), refused once the frame is whole. */
    struct chord_buf b;
    chord_buf_init(&b);
    make_result(&b, 3, CHORD_OK, "v", NULL);
    /* The value's u32 length is the 4 bytes before its one byte. */
    put_be32(b.data + b.len - 5, CHORD_VALUE_MAX + 1);
    assert_int_equal(decode_counted(b.data, b.len, &r), -EPROTO);
    chord_buf_free(&b);
}

static void test_garbage_refused(void **state)
{
    (void)state;
    struct chord_frame_reply r;
    struct chord_buf b;
    chord_buf_init(&b);

    /* Not a reply: a request, and a node-to-node message, are refused as
     * soon as their type byte is there. */
    struct chord_frame_request req = {
        .op = CHORD_FRAME_GET, .req_id = 4, .key = "k", .key_len = 1};
    assert_int_equal(chord_frame_encode_request(&req, &b), 0);
    assert_int_equal(decode_counted(b.data, 6, &r), -EPROTO);
    assert_int_equal(decode_counted(b.data, b.len, &r), -EPROTO);
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_PING, 4);
    snprintf(m->from.addr, sizeof m->from.addr, "127.0.0.1:7000");
    node_encode(m, &b);
    assert_int_equal(decode_counted(b.data, b.len, &r), -EPROTO);
    free(m);

    /* A bad version, nonzero flags, trailing bytes inside the frame. */
    make_result(&b, 4, CHORD_OK, "v", NULL);
    b.data[4] ^= 0xff;
    assert_int_equal(decode_counted(b.data, 8, &r), -EPROTO);
    make_result(&b, 4, CHORD_OK, "v", NULL);
    b.data[7] = 1;
    assert_int_equal(decode_counted(b.data, b.len, &r), -EPROTO);
    make_result(&b, 4, CHORD_OK, "v", NULL);
    assert_int_equal(chord_buf_append(&b, "!", 1), 0);
    put_be32(b.data, (uint32_t)(b.len - 4));
    assert_int_equal(decode_counted(b.data, b.len, &r), -EPROTO);

    /* Text where a frame should be. */
    static const char text[] = "HTTP/1.1 200 OK\r\n\r\n";
    assert_int_equal(decode_counted((const uint8_t *)text, sizeof text - 1, &r),
                     -EPROTO);

    /* Seeded noise: never a crash, never a length past the input. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint8_t noise[64];
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof noise; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise[i] = (uint8_t)x;
        }
        int rc = decode_counted(noise, sizeof noise, &r);
        assert_true(rc == -EPROTO || rc == -EAGAIN ||
                    (rc > 0 && (size_t)rc <= sizeof noise));
    }
    chord_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_refused),
        cmocka_unit_test(test_reply_result),
        cmocka_unit_test(test_reply_lookup_and_status),
        cmocka_unit_test(test_every_truncation_needs_more),
        cmocka_unit_test(test_oversize_length_refused),
        cmocka_unit_test(test_garbage_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
