/*
 * test_wire_garbage.c - messages built or decoded over memory that held
 * something else (src/core/wire.c: chord_msg_init and the decoder): a
 * decode overwrites every field but status_out, and a message built over
 * 0xA5 bytes encodes exactly like one built over zeroes, as its own type
 * and as every other (the typical messages carry the causal trailer and
 * items with a deadline and a state where their type allows).
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

/* Decoding never changes status_out, and overwrites the rest of *m. */
static void test_decode_overwrites_message(void **state)
{
    (void)state;
    struct chord_status *st = malloc(sizeof *st);
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);
    fb_start(&b, CHORD_MSG_PING);
    fb_finish(&b);
    memset(&m, 0x5a, sizeof m);
    m.status_out = st;
    assert_decodes(&b, &m, st);
    assert_ptr_equal(m.status_out, st);
    assert_int_equal(m.key.len, 0);
    assert_int_equal(m.nb.n_succ, 0);
    assert_int_equal(m.path.n, 0);
    assert_int_equal(m.error[0], '\0');
    assert_null(m.status_in);
    assert_string_equal(m.from.addr, "77777777777777");
    chord_buf_free(&b);
    free(st);
}

/* ---- messages built over garbage ---------------------------------------- */

/*
 * chord_msg_init() leaves the arrays of the struct (successors, paths,
 * predecessors, digests, error text past its NUL) as they were. Whatever
 * was in the memory before, a message must encode the same. Each message
 * here is built twice the way a caller builds it, once over zeroes and
 * once over 0xA5 bytes, and must encode to the same bytes: as its own
 * type, and also as every other type (so every field any encoder reads is
 * covered, not only the ones its own type carries).
 */
#define GARBAGE 0xA5

/* Storage the sample messages borrow from. */
struct typical {
    uint8_t key[32];
    uint8_t value[96];
    struct chord_item items[3];
    struct chord_status status;
};

static void typical_peer(struct chord_peer *p, unsigned n)
{
    memset(p->id.b, (int)(0x10 + n), CHORD_ID_BYTES);
    p->id.b[0] = (uint8_t)n;
    /* snprintf writes up to the NUL only: the tail keeps the old bytes. */
    snprintf(p->addr, sizeof p->addr, "127.0.0.%u:%u", 1 + n % 200, 7000 + n);
}

/*
 * Build `type` into *m as a caller does: chord_msg_init(), then the fields
 * that type carries. With `full` false only what cannot be left out (the
 * sender, SYNC's digests, C_STATUS_RESULT's report); with `full` true
 * representative values for every field of the type.
 */
static void build_typical(struct chord_msg *m, struct typical *tv, uint8_t type,
                          bool full)
{
    chord_msg_init(m, type, 0x0102030405060708ull);
    if (type < CHORD_MSG_C_PUT)
        typical_peer(&m->from, 1);
    if (type == CHORD_MSG_SYNC) {
        memset(m->range_lo.b, 0x22, CHORD_ID_BYTES);
        memset(m->range_hi.b, 0x33, CHORD_ID_BYTES);
        for (unsigned i = 0; i < CHORD_SYNC_BUCKETS; i++)
            m->digest[i] = 0x9e3779b97f4a7c15ull * (i + 1);
    }
    if (type == CHORD_MSG_C_STATUS_RESULT) {
        memset(&tv->status, 0, sizeof tv->status);
        typical_peer(&tv->status.self, 2);
        tv->status.n_succ = 1;
        typical_peer(&tv->status.succ[0], 3);
        m->status_in = &tv->status;
    }
    bool lock = type == CHORD_MSG_C_LOCK || type == CHORD_MSG_STORE_LOCK;
    if (lock) { /* a lock's name and the operation */
        m->key = (struct chord_bytes){tv->key, 4};
        m->lock_op = CHORD_LOCK_ACQUIRE;
    }
    if (!full)
        return;

    for (size_t i = 0; i < sizeof tv->key; i++)
        tv->key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof tv->value; i++)
        tv->value[i] = (uint8_t)(i * 13 + 5);
    struct chord_bytes key = {tv->key, 11};
    struct chord_bytes value = {tv->value, 40};
    if (chord_msg_is_mutation(type)) { /* the trailer, both parts */
        m->has_rid = true;
        memset(m->rid.client, 0x5c, CHORD_CLIENT_ID_BYTES);
        m->rid.seq = 12;
        m->has_fence = true;
        m->fence_name = (struct chord_bytes){tv->value + 50, 7};
        m->fence = 3;
    }
    if (type == CHORD_MSG_C_RESULT || type == CHORD_MSG_STORE_RESULT) {
        m->causal = CHORD_CAUSAL_STATE; /* the causal trailer of a reply */
        m->state = (struct chord_bytes){tv->value + 10, 30};
    } else if (type == CHORD_MSG_C_PUT || type == CHORD_MSG_C_GET ||
               type == CHORD_MSG_C_DEL || type == CHORD_MSG_STORE_PUT ||
               type == CHORD_MSG_STORE_GET || type == CHORD_MSG_STORE_DEL ||
               type == CHORD_MSG_REPLICA_GET) { /* and of a request */
        m->causal = CHORD_CAUSAL_IF_CONTEXT | CHORD_CAUSAL_SESSION |
                    CHORD_CAUSAL_TTL | CHORD_CAUSAL_WANT;
        m->context = (struct chord_bytes){tv->value + 60, 20};
        m->session = (struct chord_bytes){tv->value + 70, 24};
        m->ttl_s = 90;
    }
    if (lock) {
        m->key = key;
        m->lock_op = CHORD_LOCK_APPEND;
        memset(m->lock_client, 0x5d, CHORD_CLIENT_ID_BYTES);
        m->lock_fence = 3;
        m->lease_ms = 10000;
        m->key2 = (struct chord_bytes){tv->key + 11, 9};
        m->value = value;
        m->consistency = CHORD_CONSISTENCY_QUORUM;
        return;
    }

    switch (type) {
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_LEAVE:
    case CHORD_MSG_JOIN_ACK:
        if (type == CHORD_MSG_JOIN_ACK) {
            m->status = CHORD_REDIRECT;
            typical_peer(&m->hint, 4);
        }
        m->nb.has_pred = true;
        typical_peer(&m->nb.pred, 5);
        m->nb.n_succ = 3;
        for (unsigned i = 0; i < 3; i++)
            typical_peer(&m->nb.succ[i], 6 + i);
        break;
    case CHORD_MSG_RECTIFY:
        m->n_preds = 2;
        typical_peer(&m->preds[0], 10);
        typical_peer(&m->preds[1], 11);
        break;
    case CHORD_MSG_FIND_SUCC:
    case CHORD_MSG_FOUND_SUCC:
        if (type == CHORD_MSG_FOUND_SUCC) {
            m->status = CHORD_OK;
            typical_peer(&m->owner, 12);
            memset(m->range_lo.b, 0x33, CHORD_ID_BYTES);
        }
        memset(m->target.b, 0x44, CHORD_ID_BYTES);
        m->hops = 2;
        m->path.n = 3;
        for (unsigned i = 0; i < 3; i++)
            snprintf(m->path.addr[i], sizeof m->path.addr[i], "127.0.0.%u:80",
                     i + 1);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_C_APPEND:
        m->key = key;
        m->value = value;
        m->consistency = CHORD_CONSISTENCY_QUORUM;
        break;
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_C_GET:
    case CHORD_MSG_C_DEL:
        m->key = key;
        m->consistency = CHORD_CONSISTENCY_ONE;
        break;
    case CHORD_MSG_REPLICA_GET:
    case CHORD_MSG_C_LOOKUP:
        m->key = key;
        break;
    case CHORD_MSG_STORE_RESULT: /* a hit: no hint, no error text */
        m->status = CHORD_OK;
        m->has_value = true;
        m->value = value;
        m->version.counter = 42;
        memset(m->version.writer.b, 0x55, CHORD_ID_BYTES);
        break;
    case CHORD_MSG_TRANSFER:
        m->flags = CHORD_TRANSFER_LAST | CHORD_TRANSFER_REPLICA;
        for (unsigned i = 0; i < 3; i++) {
            struct chord_item *it = &tv->items[i];
            memset(it, 0, sizeof *it);
            it->key = (struct chord_bytes){tv->key + i, 5};
            it->tombstone = i == 1;
            if (!it->tombstone)
                it->value = (struct chord_bytes){tv->value + i, 9};
            it->version.counter = i + 1;
        }
        tv->items[0].legacy = true;
        tv->items[2].deadline = 1234;
        tv->items[2].state = (struct chord_bytes){tv->value + 30, 12};
        m->items = tv->items;
        m->n_items = 3;
        break;
    case CHORD_MSG_SYNC_REPLY:
        m->bucket_mask = 0x8000000000000011ull;
        break;
    case CHORD_MSG_STORE_RESTORE:
    case CHORD_MSG_C_RESTORE:
        m->key = key;
        m->value = value;
        m->version.counter = 77;
        memset(m->version.writer.b, 0x56, CHORD_ID_BYTES);
        m->consistency = CHORD_CONSISTENCY_ALL;
        break;
    case CHORD_MSG_C_SCAN:
        memset(m->range_lo.b, 0x71, CHORD_ID_BYTES);
        m->scan_max = 65536;
        break;
    case CHORD_MSG_C_SCAN_RESULT:
        m->status = CHORD_OK;
        typical_peer(&m->hint, 22);
        typical_peer(&m->owner, 23);
        memset(m->range_lo.b, 0x72, CHORD_ID_BYTES);
        memset(m->range_hi.b, 0x73, CHORD_ID_BYTES);
        for (unsigned i = 0; i < 2; i++) {
            struct chord_item *it = &tv->items[i];
            memset(it, 0, sizeof *it);
            it->key = (struct chord_bytes){tv->key + i, 6};
            it->value = (struct chord_bytes){tv->value + i, 10};
            it->version.counter = i + 5;
        }
        m->items = tv->items;
        m->n_items = 2;
        break;
    case CHORD_MSG_MERGE:
        typical_peer(&m->owner, 21);
        m->hops = 7;
        break;
    case CHORD_MSG_C_RESULT:
        m->status = CHORD_NOT_FOUND;
        snprintf(m->error, sizeof m->error, "no such key");
        break;
    case CHORD_MSG_C_LOOKUP_RESULT:
        m->status = CHORD_OK;
        memset(m->lookup.key_id.b, 0x66, CHORD_ID_BYTES);
        typical_peer(&m->lookup.owner, 13);
        m->lookup.hops = 1;
        m->lookup.path.n = 2;
        snprintf(m->lookup.path.addr[0], CHORD_ADDR_MAX, "127.0.0.1:1");
        snprintf(m->lookup.path.addr[1], CHORD_ADDR_MAX, "127.0.0.2:2");
        break;
    default: /* `from` alone, or empty */
        break;
    }
}

/* Encode *m as `as` (its own type restored after); the frame goes to out
 * (reset first). Returns the encoder's answer. */
static int encode_as(struct chord_msg *m, uint8_t as, struct chord_buf *out)
{
    uint8_t own = m->type;
    m->type = as;
    chord_buf_reset(out);
    int rc = chord_msg_encode(m, out);
    m->type = own;
    return rc;
}

/* *zero and *junk encode alike as every type (SYNC only when both carry
 * digests, which nobody but a SYNC sets). */
static void assert_encode_alike(struct chord_msg *zero, struct chord_msg *junk,
                                bool digests, struct chord_buf *a,
                                struct chord_buf *b)
{
    for (size_t k = 0; k < N_TYPES; k++) {
        if (all_types[k] == CHORD_MSG_SYNC && !digests)
            continue;
        int rc_a = encode_as(zero, all_types[k], a);
        int rc_b = encode_as(junk, all_types[k], b);
        assert_int_equal(rc_a, rc_b);
        assert_int_equal(a->len, b->len);
        if (a->len)
            assert_memory_equal(a->data, b->data, a->len);
    }
}

static void test_init_over_garbage(void **state)
{
    (void)state;
    struct chord_msg *zero = malloc(sizeof *zero);
    struct chord_msg *junk = malloc(sizeof *junk);
    struct chord_msg *dec = malloc(sizeof *dec);
    struct typical *tz = calloc(1, sizeof *tz);
    struct typical *tj = calloc(1, sizeof *tj);
    struct chord_status *st = malloc(sizeof *st);
    assert_true(zero && junk && dec && tz && tj && st);
    struct chord_buf own, a, b;
    chord_buf_init(&own);
    chord_buf_init(&a);
    chord_buf_init(&b);

    for (size_t t = 0; t < N_TYPES; t++) {
        for (int full = 0; full <= 1; full++) {
            uint8_t type = all_types[t];
            bool digests = type == CHORD_MSG_SYNC;
            memset(zero, 0, sizeof *zero);
            memset(junk, GARBAGE, sizeof *junk);
            build_typical(zero, tz, type, full);
            build_typical(junk, tj, type, full);

            /* As its own type: it encodes, and the same either way. */
            assert_int_equal(encode_as(zero, type, &own), 0);
            assert_int_equal(encode_as(junk, type, &a), 0);
            assert_int_equal(own.len, a.len);
            assert_memory_equal(own.data, a.data, own.len);
            assert_encode_alike(zero, junk, digests, &a, &b);

            /* Decoding over garbage leaves what over zeroes leaves: the
             * frame's fields, every other field as chord_msg_init sets
             * it (checked by encoding it as every type). */
            memset(zero, 0, sizeof *zero);
            memset(dec, GARBAGE, sizeof *dec);
            zero->status_out = dec->status_out = NULL;
            if (type == CHORD_MSG_C_STATUS_RESULT)
                zero->status_out = dec->status_out = st;
            assert_int_equal(chord_msg_decode(own.data, own.len, zero),
                             (ssize_t)own.len);
            assert_int_equal(chord_msg_decode(own.data, own.len, dec),
                             (ssize_t)own.len);
            zero->status_out = dec->status_out = NULL;
            if (type == CHORD_MSG_TRANSFER ||
                type == CHORD_MSG_C_SCAN_RESULT) /* decoded: items_raw */
                assert_null(dec->items);
            assert_encode_alike(zero, dec, digests, &a, &b);
            if (type != CHORD_MSG_C_STATUS_RESULT &&
                type != CHORD_MSG_TRANSFER && type != CHORD_MSG_C_SCAN_RESULT) {
                assert_int_equal(encode_as(dec, type, &a), 0);
                assert_int_equal(own.len, a.len);
                assert_memory_equal(own.data, a.data, own.len);
            }
        }
    }

    /* A scratch message reused across frames (as a node does): a small
     * frame after a large one re-encodes exactly. */
    memset(dec, GARBAGE, sizeof *dec);
    dec->status_out = NULL;
    build_typical(zero, tz, CHORD_MSG_NEIGHBORS, true);
    assert_int_equal(encode_as(zero, CHORD_MSG_NEIGHBORS, &own), 0);
    assert_int_equal(chord_msg_decode(own.data, own.len, dec),
                     (ssize_t)own.len);
    assert_int_equal(dec->nb.n_succ, 3);
    build_typical(zero, tz, CHORD_MSG_PING, true);
    assert_int_equal(encode_as(zero, CHORD_MSG_PING, &own), 0);
    assert_int_equal(chord_msg_decode(own.data, own.len, dec),
                     (ssize_t)own.len);
    assert_int_equal(dec->nb.n_succ, 0);
    assert_false(dec->nb.has_pred);
    assert_int_equal(encode_as(dec, CHORD_MSG_NEIGHBORS, &a), 0);
    assert_int_equal(encode_as(zero, CHORD_MSG_NEIGHBORS, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);

    chord_buf_free(&own);
    chord_buf_free(&a);
    chord_buf_free(&b);
    free(zero);
    free(junk);
    free(dec);
    free(tz);
    free(tj);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_overwrites_message),
        cmocka_unit_test(test_init_over_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
