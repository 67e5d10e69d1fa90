/*
 * test_wire.c - the frame codec: round trips, caps, partial input, and
 * robustness against random and mutated frames.
 *
 * Messages are generated from a seeded PRNG with non-trivial field values;
 * after a round trip every field the type carries is compared one by one.
 * Frames that must be refused are built by hand with an independent
 * big-endian builder, so these tests also pin down the byte layout that
 * wire.c documents. The fuzz-style test checks only properties that hold
 * for any input: the decoder answers PARTIAL, MALFORMED or a length within
 * the input, and whatever it accepts re-encodes to the very same bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/buf.h"
#include "core/wire.h"

static const uint8_t all_types[] = {
    CHORD_MSG_PING,         CHORD_MSG_PONG,          CHORD_MSG_GET_NEIGHBORS,
    CHORD_MSG_NEIGHBORS,    CHORD_MSG_RECTIFY,       CHORD_MSG_JOIN,
    CHORD_MSG_JOIN_ACK,     CHORD_MSG_FIND_SUCC,     CHORD_MSG_FOUND_SUCC,
    CHORD_MSG_STORE_PUT,    CHORD_MSG_STORE_GET,     CHORD_MSG_STORE_DEL,
    CHORD_MSG_STORE_RESULT, CHORD_MSG_TRANSFER,      CHORD_MSG_TRANSFER_ACK,
    CHORD_MSG_LEAVE,        CHORD_MSG_LEAVE_ACK,     CHORD_MSG_REPLICA_GET,
    CHORD_MSG_SYNC,         CHORD_MSG_SYNC_REPLY,    CHORD_MSG_C_PUT,
    CHORD_MSG_C_GET,        CHORD_MSG_C_DEL,         CHORD_MSG_C_LOOKUP,
    CHORD_MSG_C_STATUS,     CHORD_MSG_C_RESULT,      CHORD_MSG_C_LOOKUP_RESULT,
    CHORD_MSG_C_STATUS_RESULT,
};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

#define SAMPLE_ITEMS 6
#define SAMPLE_ITEM_BYTES 48
#define SAMPLE_VALUE 600
#define SAMPLE_KEY 80

/* ---- deterministic randomness ------------------------------------------ */

static uint64_t prng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Uniform-enough integer in [0, n). */
static unsigned prng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(prng_next(s) % n);
}

static void prng_fill(uint64_t *s, void *p, size_t n)
{
    uint8_t *d = p;
    while (n >= 8) {
        uint64_t v = prng_next(s);
        memcpy(d, &v, 8);
        d += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = prng_next(s);
        memcpy(d, &v, n);
    }
}

/* ---- sample messages ---------------------------------------------------- */

/* Limits on counts drawn for a sample (the caps, or less for speed). */
struct scale {
    unsigned succ, path, fingers, peers, key, value;
};

static const struct scale full_scale = {CHORD_SUCC_MAX, CHORD_PATH_MAX,
                                        CHORD_ID_BITS, CHORD_PEERS_MAX,
                                        SAMPLE_KEY, SAMPLE_VALUE};
static const struct scale small_scale = {6, 6, 12, 6, 24, 64};

/* A message together with the storage it borrows. */
struct sample {
    struct chord_msg m;
    uint8_t key[SAMPLE_KEY];
    uint8_t value[SAMPLE_VALUE];
    struct chord_item items[SAMPLE_ITEMS];
    uint8_t item_key[SAMPLE_ITEMS][SAMPLE_ITEM_BYTES];
    uint8_t item_value[SAMPLE_ITEMS][SAMPLE_ITEM_BYTES];
    struct chord_status status;
};

static struct sample *sample_new(void)
{
    struct sample *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

/* A random string of 0..cap-1 printable characters (no NUL). */
static void rand_str(uint64_t *r, char *out, size_t cap)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789.:-[]";
    size_t n = prng_below(r, (unsigned)cap);
    for (size_t i = 0; i < n; i++)
        out[i] = chars[prng_below(r, sizeof chars - 1)];
    out[n] = '\0';
}

static void rand_id(uint64_t *r, struct chord_id *id)
{
    prng_fill(r, id->b, CHORD_ID_BYTES);
}

static void rand_peer(uint64_t *r, struct chord_peer *p)
{
    memset(p, 0, sizeof *p);
    rand_id(r, &p->id);
    if (prng_below(r, 2)) {
        snprintf(p->addr, sizeof p->addr, "127.0.0.%u:%u",
                 1 + prng_below(r, 254), 1024 + prng_below(r, 60000));
    } else {
        rand_str(r, p->addr, sizeof p->addr);
    }
}

static void rand_path(uint64_t *r, struct chord_lookup_path *path, unsigned max)
{
    memset(path, 0, sizeof *path);
    path->n = (uint8_t)prng_below(r, max + 1);
    for (unsigned i = 0; i < path->n; i++)
        rand_str(r, path->addr[i], sizeof path->addr[i]);
}

static void rand_neighbors(uint64_t *r, struct chord_neighbors *nb,
                           unsigned max)
{
    memset(nb, 0, sizeof *nb);
    nb->has_pred = prng_below(r, 2);
    if (nb->has_pred)
        rand_peer(r, &nb->pred);
    nb->n_succ = (uint8_t)prng_below(r, max + 1);
    for (unsigned i = 0; i < nb->n_succ; i++)
        rand_peer(r, &nb->succ[i]);
}

static void rand_version(uint64_t *r, struct chord_version *v)
{
    v->counter = prng_next(r);
    rand_id(r, &v->writer);
}

static void rand_status(uint64_t *r, struct chord_status *st,
                        const struct scale *sc)
{
    memset(st, 0, sizeof *st);
    rand_peer(r, &st->self);
    st->state = (uint8_t)prng_below(r, 6);
    st->has_pred = prng_below(r, 2);
    if (st->has_pred)
        rand_peer(r, &st->pred);
    st->n_succ = (uint8_t)prng_below(r, sc->succ + 1);
    for (unsigned i = 0; i < st->n_succ; i++)
        rand_peer(r, &st->succ[i]);
    st->n_fingers = (uint8_t)prng_below(r, sc->fingers + 1);
    for (unsigned i = 0; i < st->n_fingers; i++) {
        rand_id(r, &st->fingers[i].start);
        rand_peer(r, &st->fingers[i].node);
    }
    st->keys = prng_next(r);
    st->n_peers = (uint8_t)prng_below(r, sc->peers + 1);
    for (unsigned i = 0; i < st->n_peers; i++) {
        struct chord_peer_info *pi = &st->peers[i];
        rand_str(r, pi->addr, sizeof pi->addr);
        pi->state = (uint8_t)prng_below(r, 3);
        pi->rtt_ms = (uint32_t)prng_next(r);
        pi->timeout_ms = (uint32_t)prng_next(r);
        pi->false_suspicions = (uint32_t)prng_next(r);
    }
    st->primary_keys = prng_next(r);
    st->replicas = (uint8_t)prng_below(r, 256);
    st->durability = (uint8_t)prng_below(r, 4);
}

/* Fill every field of s->m with random values; the type picks the rest. */
static void sample_fill(struct sample *s, uint8_t type, uint64_t *r,
                        const struct scale *sc)
{
    struct chord_msg *m = &s->m;
    chord_msg_init(m, type, prng_next(r));
    rand_peer(r, &m->from); /* client types do not send it */
    m->status = (uint8_t)prng_below(r, 256);
    rand_peer(r, &m->hint);
    rand_neighbors(r, &m->nb, sc->succ);
    rand_id(r, &m->target);
    rand_peer(r, &m->owner);
    rand_id(r, &m->range_lo); /* FOUND_SUCC */
    m->hops = (uint8_t)prng_below(r, 256);
    rand_path(r, &m->path, sc->path);

    m->key.len = prng_below(r, sc->key + 1);
    prng_fill(r, s->key, m->key.len);
    m->key.data = s->key;
    m->value.len = prng_below(r, sc->value + 1);
    prng_fill(r, s->value, m->value.len);
    m->value.data = s->value;
    m->has_value = prng_below(r, 2);
    rand_version(r, &m->version);

    static const uint8_t flag_choices[] = {
        0, CHORD_TRANSFER_LAST, CHORD_TRANSFER_HANDOFF,
        CHORD_TRANSFER_LAST | CHORD_TRANSFER_HANDOFF, CHORD_TRANSFER_REPLICA,
        CHORD_TRANSFER_LAST | CHORD_TRANSFER_REPLICA};
    m->flags = flag_choices[prng_below(r, 6)];
    m->consistency = (uint8_t)prng_below(r, CHORD_CONSISTENCY_ALL + 1);
    m->n_preds = (uint8_t)prng_below(r, CHORD_SUCC_MAX + 1);
    for (unsigned i = 0; i < m->n_preds; i++)
        rand_peer(r, &m->preds[i]);
    rand_id(r, &m->range_lo);
    rand_id(r, &m->range_hi);
    for (unsigned i = 0; i < CHORD_SYNC_BUCKETS; i++)
        m->digest[i] = prng_below(r, 0xffffffffu) * 0x100000001ull;
    m->bucket_mask = prng_below(r, 0xffffffffu) * 0x100000003ull;
    m->n_items = prng_below(r, SAMPLE_ITEMS + 1);
    for (unsigned i = 0; i < m->n_items; i++) {
        struct chord_item *it = &s->items[i];
        it->key.len = prng_below(r, SAMPLE_ITEM_BYTES + 1);
        prng_fill(r, s->item_key[i], it->key.len);
        it->key.data = s->item_key[i];
        it->tombstone = prng_below(r, 3) == 0;
        it->value.len =
            it->tombstone ? 0 : prng_below(r, SAMPLE_ITEM_BYTES + 1);
        prng_fill(r, s->item_value[i], it->value.len);
        it->value.data = s->item_value[i];
        rand_version(r, &it->version);
    }
    m->items = s->items;

    if (type == CHORD_MSG_C_RESULT || type == CHORD_MSG_C_LOOKUP_RESULT ||
        type == CHORD_MSG_STORE_RESULT)
        rand_str(r, m->error, sizeof m->error);
    rand_id(r, &m->lookup.key_id);
    rand_peer(r, &m->lookup.owner);
    m->lookup.hops = (uint8_t)prng_below(r, 256);
    rand_path(r, &m->lookup.path, sc->path);

    rand_status(r, &s->status, sc);
    m->status_in = &s->status;
}

/* ---- field-by-field comparison ------------------------------------------ */

static void assert_peer_equal(const struct chord_peer *want,
                              const struct chord_peer *got)
{
    assert_memory_equal(want->id.b, got->id.b, CHORD_ID_BYTES);
    assert_string_equal(want->addr, got->addr);
}

static void assert_bytes_equal(const struct chord_bytes *want,
                               const struct chord_bytes *got)
{
    assert_int_equal(want->len, got->len);
    if (want->len)
        assert_memory_equal(want->data, got->data, want->len);
}

static void assert_version_equal(const struct chord_version *want,
                                 const struct chord_version *got)
{
    assert_true(want->counter == got->counter);
    assert_memory_equal(want->writer.b, got->writer.b, CHORD_ID_BYTES);
}

static void assert_neighbors_equal(const struct chord_neighbors *want,
                                   const struct chord_neighbors *got)
{
    assert_int_equal(want->has_pred, got->has_pred);
    if (want->has_pred)
        assert_peer_equal(&want->pred, &got->pred);
    assert_int_equal(want->n_succ, got->n_succ);
    for (unsigned i = 0; i < want->n_succ; i++)
        assert_peer_equal(&want->succ[i], &got->succ[i]);
}

static void assert_path_equal(const struct chord_lookup_path *want,
                              const struct chord_lookup_path *got)
{
    assert_int_equal(want->n, got->n);
    for (unsigned i = 0; i < want->n; i++)
        assert_string_equal(want->addr[i], got->addr[i]);
}

static void assert_status_equal(const struct chord_status *want,
                                const struct chord_status *got)
{
    assert_peer_equal(&want->self, &got->self);
    assert_int_equal(want->state, got->state);
    assert_int_equal(want->has_pred, got->has_pred);
    if (want->has_pred)
        assert_peer_equal(&want->pred, &got->pred);
    assert_int_equal(want->n_succ, got->n_succ);
    for (unsigned i = 0; i < want->n_succ; i++)
        assert_peer_equal(&want->succ[i], &got->succ[i]);
    assert_int_equal(want->n_fingers, got->n_fingers);
    for (unsigned i = 0; i < want->n_fingers; i++) {
        assert_memory_equal(want->fingers[i].start.b, got->fingers[i].start.b,
                            CHORD_ID_BYTES);
        assert_peer_equal(&want->fingers[i].node, &got->fingers[i].node);
    }
    assert_true(want->keys == got->keys);
    assert_int_equal(want->n_peers, got->n_peers);
    for (unsigned i = 0; i < want->n_peers; i++) {
        const struct chord_peer_info *a = &want->peers[i], *b = &got->peers[i];
        assert_string_equal(a->addr, b->addr);
        assert_int_equal(a->state, b->state);
        assert_int_equal(a->rtt_ms, b->rtt_ms);
        assert_int_equal(a->timeout_ms, b->timeout_ms);
        assert_int_equal(a->false_suspicions, b->false_suspicions);
    }
    assert_true(want->primary_keys == got->primary_keys);
    assert_int_equal(want->replicas, got->replicas);
    assert_int_equal(want->durability, got->durability);
}

/* Compare what a decoded message carries with the message encoded. */
static void assert_msg_equal(const struct chord_msg *want,
                             const struct chord_msg *got)
{
    assert_int_equal(want->type, got->type);
    assert_true(want->req_id == got->req_id);
    if (want->type < CHORD_MSG_C_PUT)
        assert_peer_equal(&want->from, &got->from);

    switch (want->type) {
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_LEAVE:
        assert_neighbors_equal(&want->nb, &got->nb);
        break;
    case CHORD_MSG_JOIN_ACK:
        assert_int_equal(want->status, got->status);
        assert_peer_equal(&want->hint, &got->hint);
        assert_neighbors_equal(&want->nb, &got->nb);
        break;
    case CHORD_MSG_FOUND_SUCC:
    case CHORD_MSG_FIND_SUCC:
        if (want->type == CHORD_MSG_FOUND_SUCC) {
            assert_int_equal(want->status, got->status);
            assert_peer_equal(&want->owner, &got->owner);
            assert_memory_equal(want->range_lo.b, got->range_lo.b,
                                CHORD_ID_BYTES);
        }
        assert_memory_equal(want->target.b, got->target.b, CHORD_ID_BYTES);
        assert_int_equal(want->hops, got->hops);
        assert_path_equal(&want->path, &got->path);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_C_PUT:
        assert_bytes_equal(&want->key, &got->key);
        assert_bytes_equal(&want->value, &got->value);
        assert_int_equal(want->consistency, got->consistency);
        break;
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_C_GET:
    case CHORD_MSG_C_DEL:
        assert_int_equal(want->consistency, got->consistency);
        assert_bytes_equal(&want->key, &got->key);
        break;
    case CHORD_MSG_C_LOOKUP:
    case CHORD_MSG_REPLICA_GET:
        assert_bytes_equal(&want->key, &got->key);
        break;
    case CHORD_MSG_RECTIFY:
        assert_int_equal(want->n_preds, got->n_preds);
        for (unsigned i = 0; i < want->n_preds; i++)
            assert_peer_equal(&want->preds[i], &got->preds[i]);
        break;
    case CHORD_MSG_SYNC:
        assert_memory_equal(want->range_lo.b, got->range_lo.b, CHORD_ID_BYTES);
        assert_memory_equal(want->range_hi.b, got->range_hi.b, CHORD_ID_BYTES);
        assert_memory_equal(want->digest, got->digest, sizeof want->digest);
        break;
    case CHORD_MSG_SYNC_REPLY:
        assert_true(want->bucket_mask == got->bucket_mask);
        break;
    case CHORD_MSG_STORE_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_peer_equal(&want->hint, &got->hint);
        assert_int_equal(want->has_value, got->has_value);
        assert_bytes_equal(&want->value, &got->value);
        assert_version_equal(&want->version, &got->version);
        break;
    case CHORD_MSG_TRANSFER: {
        assert_int_equal(want->flags, got->flags);
        assert_int_equal(want->n_items, got->n_items);
        assert_null(got->items);
        struct chord_bytes cur = got->items_raw;
        struct chord_item it;
        for (uint32_t i = 0; i < want->n_items; i++) {
            const struct chord_item *w = &want->items[i];
            assert_int_equal(chord_items_next(&cur, &it), 1);
            assert_bytes_equal(&w->key, &it.key);
            assert_int_equal(w->tombstone, it.tombstone);
            if (w->tombstone)
                assert_int_equal(it.value.len, 0);
            else
                assert_bytes_equal(&w->value, &it.value);
            assert_version_equal(&w->version, &it.version);
        }
        assert_int_equal(chord_items_next(&cur, &it), 0);
        break;
    }
    case CHORD_MSG_C_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_bytes_equal(&want->value, &got->value);
        break;
    case CHORD_MSG_C_LOOKUP_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_memory_equal(want->lookup.key_id.b, got->lookup.key_id.b,
                            CHORD_ID_BYTES);
        assert_peer_equal(&want->lookup.owner, &got->lookup.owner);
        assert_int_equal(want->lookup.hops, got->lookup.hops);
        assert_path_equal(&want->lookup.path, &got->lookup.path);
        break;
    case CHORD_MSG_C_STATUS_RESULT:
        assert_non_null(got->status_out);
        assert_status_equal(want->status_in, got->status_out);
        break;
    default:
        break;
    }
}

/* ---- a hand-made frame builder, independent of wire.c ------------------- */

static void fb_raw(struct chord_buf *b, const void *p, size_t n)
{
    assert_int_equal(chord_buf_append(b, p, n), 0);
}

static void fb_u8(struct chord_buf *b, uint8_t v)
{
    fb_raw(b, &v, 1);
}

static void fb_u16(struct chord_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fb_raw(b, p, 2);
}

static void fb_u32(struct chord_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    fb_raw(b, p, 4);
}

static void fb_u64(struct chord_buf *b, uint64_t v)
{
    fb_u32(b, (uint32_t)(v >> 32));
    fb_u32(b, (uint32_t)v);
}

static void fb_id(struct chord_buf *b, uint8_t fill)
{
    uint8_t id[CHORD_ID_BYTES];
    memset(id, fill, sizeof id);
    fb_raw(b, id, sizeof id);
}

/* A str of n bytes, all `c`. */
static void fb_str(struct chord_buf *b, size_t n, char c)
{
    fb_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        fb_u8(b, (uint8_t)c);
}

static void fb_peer(struct chord_buf *b)
{
    fb_id(b, 0x11);
    fb_str(b, 14, '7');
}

/* A bytes field announcing `announced` bytes and carrying `present`. */
static void fb_bytes(struct chord_buf *b, uint32_t announced, size_t present)
{
    fb_u32(b, announced);
    for (size_t i = 0; i < present; i++)
        fb_u8(b, (uint8_t)i);
}

static void fb_header(struct chord_buf *b, uint8_t version, uint8_t type,
                      uint16_t flags)
{
    chord_buf_reset(b);
    fb_u32(b, 0);
    fb_u8(b, version);
    fb_u8(b, type);
    fb_u16(b, flags);
    fb_u64(b, 0x0102030405060708ull);
}

static void fb_start(struct chord_buf *b, uint8_t type)
{
    fb_header(b, CHORD_PROTOCOL_VERSION, type, 0);
    if (type < CHORD_MSG_C_PUT)
        fb_peer(b);
}

/* Patch the length prefix to cover what was built. */
static void fb_finish(struct chord_buf *b)
{
    uint32_t n = (uint32_t)(b->len - 4);
    b->data[0] = (uint8_t)(n >> 24);
    b->data[1] = (uint8_t)(n >> 16);
    b->data[2] = (uint8_t)(n >> 8);
    b->data[3] = (uint8_t)n;
}

/* Decode a complete hand-made frame; status_out is provided. */
static ssize_t decode_buf(const struct chord_buf *b, struct chord_msg *m,
                          struct chord_status *st)
{
    m->status_out = st;
    return chord_msg_decode(b->data, b->len, m);
}

static void assert_decodes(const struct chord_buf *b, struct chord_msg *m,
                           struct chord_status *st)
{
    assert_int_equal(decode_buf(b, m, st), (ssize_t)b->len);
}

static void assert_malformed(const struct chord_buf *b, struct chord_msg *m,
                             struct chord_status *st)
{
    assert_int_equal(decode_buf(b, m, st), CHORD_DECODE_MALFORMED);
}

/* ---- tests -------------------------------------------------------------- */

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
    assert_string_equal(chord_msg_type_name(CHORD_MSG_SYNC_REPLY + 1), "?");
    assert_string_equal(chord_msg_type_name(255), "?");
    for (unsigned t = 0; t < 256; t++)
        assert_int_equal(chord_msg_is_client_request((uint8_t)t),
                         t >= CHORD_MSG_C_PUT && t <= CHORD_MSG_C_STATUS);
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
            assert_int_equal(out.data[6] | out.data[7], 0);

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

/* Encode must fail with `want` and leave what `out` held untouched. */
static void assert_encode_refused(const struct chord_msg *m,
                                  struct chord_buf *out, int want)
{
    chord_buf_reset(out);
    assert_int_equal(chord_buf_append(out, "prev", 4), 0);
    assert_int_equal(chord_msg_encode(m, out), want);
    assert_int_equal(out->len, 4);
    assert_memory_equal(out->data, "prev", 4);
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

    /* Unknown types. */
    struct chord_msg m;
    chord_msg_init(&m, 0, 1);
    assert_encode_refused(&m, &out, -EINVAL);
    chord_msg_init(&m, CHORD_MSG_SYNC_REPLY + 1, 1);
    assert_encode_refused(&m, &out, -EINVAL);
    chord_msg_init(&m, 72, 1);
    assert_encode_refused(&m, &out, -EINVAL);

    chord_buf_free(&out);
    free(big);
    free(s);
}

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
        uint8_t frame[CHORD_FRAME_HEADER] = {0, 0, 0, n, CHORD_PROTOCOL_VERSION,
                                             CHORD_MSG_C_STATUS};
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
    for (unsigned bit = 0; bit < 16; bit++) {
        fb_header(&b, CHORD_PROTOCOL_VERSION, CHORD_MSG_C_STATUS,
                  (uint16_t)(1u << bit));
        fb_finish(&b);
        assert_malformed(&b, &m, NULL);
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
    fb_u64(b, 40); /* primary_keys */
    fb_u8(b, 3);   /* replicas */
    fb_u8(b, CHORD_DURABILITY_BATCH); /* durability */
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
    assert_decodes(&b, &m, NULL);

    struct { unsigned succ, fingers, peers; } bad[] = {
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

/* One TRANSFER item as the builder writes it. */
static void fb_item(struct chord_buf *b, uint8_t tomb, uint32_t vlen)
{
    fb_bytes(b, 5, 5);
    fb_u8(b, tomb);
    fb_bytes(b, vlen, vlen);
    fb_u64(b, 1);
    fb_id(b, 0x44);
}

static void test_decode_transfer_checks(void **state)
{
    (void)state;
    struct chord_msg m;
    struct chord_buf b;
    chord_buf_init(&b);

    /* Reference: two items, flags LAST. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, CHORD_TRANSFER_LAST);
    fb_u32(&b, 2);
    fb_item(&b, 0, 7);
    fb_item(&b, 1, 0);
    fb_finish(&b);
    assert_decodes(&b, &m, NULL);
    assert_int_equal(m.n_items, 2);
    assert_int_equal(m.flags, CHORD_TRANSFER_LAST);
    struct chord_bytes cur = m.items_raw;
    struct chord_item it;
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_int_equal(it.value.len, 7);
    assert_false(it.tombstone);
    assert_int_equal(chord_items_next(&cur, &it), 1);
    assert_true(it.tombstone);
    assert_int_equal(chord_items_next(&cur, &it), 0);

    /* Count larger than the items carried, and smaller. */
    b.data[b.len - 2 * (5 + 4 + 1 + 4 + 8 + CHORD_ID_BYTES) - 7 - 1] = 3;
    assert_malformed(&b, &m, NULL);
    b.data[b.len - 2 * (5 + 4 + 1 + 4 + 8 + CHORD_ID_BYTES) - 7 - 1] = 1;
    assert_malformed(&b, &m, NULL);

    /* A count that could never fit. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 0xffffffff);
    fb_item(&b, 0, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* A tombstone carrying a value; a tombstone flag of 2. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 1);
    fb_item(&b, 1, 3);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 1);
    fb_item(&b, 2, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* Unknown TRANSFER flag bits. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0x08);
    fb_u32(&b, 0);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    /* An item key over the cap. */
    fb_start(&b, CHORD_MSG_TRANSFER);
    fb_u8(&b, 0);
    fb_u32(&b, 1);
    fb_bytes(&b, CHORD_KEY_MAX + 1, CHORD_KEY_MAX + 1);
    fb_u8(&b, 0);
    fb_bytes(&b, 0, 0);
    fb_u64(&b, 1);
    fb_id(&b, 1);
    fb_finish(&b);
    assert_malformed(&b, &m, NULL);

    chord_buf_free(&b);
}

/* chord_item_wire_size is exactly what one more item adds to a frame. */
static void test_item_wire_size(void **state)
{
    (void)state;
    struct sample *s = sample_new();
    struct chord_buf out;
    chord_buf_init(&out);
    uint64_t r = 31337;
    for (int rep = 0; rep < 200; rep++) {
        sample_fill(s, CHORD_MSG_TRANSFER, &r, &small_scale);
        if (s->m.n_items == 0)
            continue;
        /* A tombstone whose value field was left non-empty is sent empty. */
        if (rep % 5 == 0) {
            s->items[0].tombstone = true;
            s->items[0].value.len = 9;
        }
        size_t sum = 0;
        uint32_t n = s->m.n_items;
        for (uint32_t i = 0; i < n; i++)
            sum += chord_item_wire_size(&s->items[i]);
        s->m.n_items = 0;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        size_t empty = out.len;
        s->m.n_items = n;
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(&s->m, &out), 0);
        assert_int_equal(out.len - empty, sum);

        struct chord_msg got;
        got.status_out = NULL;
        assert_int_equal(chord_msg_decode(out.data, out.len, &got),
                         (ssize_t)out.len);
        struct chord_bytes cur = got.items_raw;
        struct chord_item it;
        assert_int_equal(chord_items_next(&cur, &it), 1);
        assert_int_equal(it.tombstone, s->items[0].tombstone);
        if (it.tombstone)
            assert_int_equal(it.value.len, 0);
    }
    chord_buf_free(&out);
    free(s);
}

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
static void build_typical(struct chord_msg *m, struct typical *tv,
                          uint8_t type, bool full)
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
    if (!full)
        return;

    for (size_t i = 0; i < sizeof tv->key; i++)
        tv->key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof tv->value; i++)
        tv->value[i] = (uint8_t)(i * 13 + 5);
    struct chord_bytes key = {tv->key, 11};
    struct chord_bytes value = {tv->value, 40};

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
        m->items = tv->items;
        m->n_items = 3;
        break;
    case CHORD_MSG_SYNC_REPLY:
        m->bucket_mask = 0x8000000000000011ull;
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
            if (type == CHORD_MSG_TRANSFER) /* decoded: items_raw only */
                assert_null(dec->items);
            assert_encode_alike(zero, dec, digests, &a, &b);
            if (type != CHORD_MSG_C_STATUS_RESULT &&
                type != CHORD_MSG_TRANSFER) {
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
    static const uint32_t v[] = {
        0,  1,  2,  12, 13, 31, 32, 33, 63, 64, 65, 159, 160, 161, 199, 200,
        255, 256, 1023, 1024, 1025, 0xffff, CHORD_VALUE_MAX,
        CHORD_VALUE_MAX + 1, CHORD_FRAME_MAX - 4, CHORD_FRAME_MAX - 3,
        0x7fffffff, 0xffffffff};
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
    if (m->type == CHORD_MSG_TRANSFER && m->n_items) {
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
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_round_trip_all_types),
        cmocka_unit_test(test_round_trip_at_caps),
        cmocka_unit_test(test_encode_enforces_caps),
        cmocka_unit_test(test_decode_length_prefix),
        cmocka_unit_test(test_decode_header_checks),
        cmocka_unit_test(test_decode_key_value_caps),
        cmocka_unit_test(test_decode_string_caps),
        cmocka_unit_test(test_decode_count_caps),
        cmocka_unit_test(test_decode_status_caps),
        cmocka_unit_test(test_decode_transfer_checks),
        cmocka_unit_test(test_item_wire_size),
        cmocka_unit_test(test_prefixes_and_splits),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_decode_overwrites_message),
        cmocka_unit_test(test_init_over_garbage),
        cmocka_unit_test(test_random_and_mutated_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
