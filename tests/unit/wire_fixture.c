/*
 * wire_fixture.c - the shared helpers of the frame codec's tests
 * (contracts in wire_fixture.h): a seeded PRNG, random sample messages of
 * every type, a field-by-field comparison of a decoded message with the
 * one encoded, and a hand-made frame builder independent of wire.c.
 *
 * It asserts with cmocka, so it runs only inside a cmocka test. It tests
 * nothing itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/lock.h"
#include "wire_fixture.h"

/* ---- deterministic randomness ------------------------------------------ */

uint64_t prng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Uniform-enough integer in [0, n). */
unsigned prng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(prng_next(s) % n);
}

void prng_fill(uint64_t *s, void *p, size_t n)
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

const struct scale full_scale = {CHORD_SUCC_MAX,  CHORD_PATH_MAX, CHORD_ID_BITS,
                                 CHORD_PEERS_MAX, SAMPLE_KEY,     SAMPLE_VALUE};
const struct scale small_scale = {6, 6, 12, 6, 24, 64};

struct sample *sample_new(void)
{
    struct sample *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

/* A random string of 0..cap-1 printable characters (no NUL). */
void rand_str(uint64_t *r, char *out, size_t cap)
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

void rand_peer(uint64_t *r, struct chord_peer *p)
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
void sample_fill(struct sample *s, uint8_t type, uint64_t *r,
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
        0,
        CHORD_TRANSFER_LAST,
        CHORD_TRANSFER_HANDOFF,
        CHORD_TRANSFER_LAST | CHORD_TRANSFER_HANDOFF,
        CHORD_TRANSFER_REPLICA,
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
    m->scan_max = (uint32_t)prng_next(r);
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
        it->has_origin = prng_below(r, 2);
        it->has_fence = prng_below(r, 2);
        prng_fill(r, it->origin.client, CHORD_CLIENT_ID_BYTES);
        it->origin.seq = prng_next(r);
        it->fence_name = prng_next(r);
        it->fence = prng_next(r);
        it->legacy = prng_below(r, 4) == 0;
        it->deadline = !it->legacy && prng_below(r, 3) == 0
                           ? 1 + prng_next(r) % UINT64_MAX
                           : 0;
        it->state.len = !it->legacy && prng_below(r, 4) == 0
                            ? 1 + prng_below(r, SAMPLE_ITEM_BYTES)
                            : 0;
        prng_fill(r, s->item_state[i], it->state.len);
        it->state.data = s->item_state[i];
    }
    m->items = s->items;

    /* C_LOCK, STORE_LOCK: the name is 1..CHORD_LOCK_NAME_MAX bytes. */
    m->lock_op = (uint8_t)(1 + prng_below(r, CHORD_LOCK_OP_MAX));
    prng_fill(r, m->lock_client, CHORD_CLIENT_ID_BYTES);
    m->lock_fence = prng_next(r);
    m->lease_ms = (uint32_t)prng_next(r);
    m->key2.len = prng_below(r, sc->key + 1);
    prng_fill(r, s->key2, m->key2.len);
    m->key2.data = s->key2;
    if ((type == CHORD_MSG_C_LOCK || type == CHORD_MSG_STORE_LOCK) &&
        m->key.len == 0)
        m->key.len = 1;

    /* The mutation trailer: each part present or not. */
    m->has_rid = prng_below(r, 2);
    prng_fill(r, m->rid.client, CHORD_CLIENT_ID_BYTES);
    m->rid.seq = 1 + prng_next(r) % UINT64_MAX; /* never 0 */
    m->has_fence = prng_below(r, 2);
    m->fence_name.len = 1 + prng_below(r, CHORD_LOCK_NAME_MAX);
    prng_fill(r, s->fence_name, m->fence_name.len);
    m->fence_name.data = s->fence_name;
    m->fence = prng_next(r);

    if (type == CHORD_MSG_C_RESULT || type == CHORD_MSG_C_LOOKUP_RESULT ||
        type == CHORD_MSG_STORE_RESULT || type == CHORD_MSG_C_SCAN_RESULT)
        rand_str(r, m->error, sizeof m->error);
    rand_id(r, &m->lookup.key_id);
    rand_peer(r, &m->lookup.owner);
    m->lookup.hops = (uint8_t)prng_below(r, 256);
    rand_path(r, &m->lookup.path, sc->path);

    rand_status(r, &s->status, sc);
    m->status_in = &s->status;
    rand_causal(s, r, sc);
}

unsigned causal_allowed(uint8_t type)
{
    static const struct {
        uint8_t type;
        uint8_t bits;
    } allowed[] = {
        /* CONTEXT..TTL and WANT on the requests, STATE on the replies */
        {CHORD_MSG_C_PUT, 0x9f},       {CHORD_MSG_C_DEL, 0x9f},
        {CHORD_MSG_C_GET, 0x9f},       {CHORD_MSG_STORE_PUT, 0x9f},
        {CHORD_MSG_STORE_DEL, 0x9f},   {CHORD_MSG_STORE_GET, 0x9f},
        {CHORD_MSG_REPLICA_GET, 0x9f}, {CHORD_MSG_C_RESULT, 0x20},
        {CHORD_MSG_STORE_RESULT, 0x20}};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].type == type)
            return allowed[i].bits;
    return 0;
}

bool causal_bits_valid(uint8_t type, unsigned bits)
{
    unsigned allowed = causal_allowed(type);
    if (bits == 0 || (bits & ~allowed))
        return false;
    if ((bits & 0x03u) == 0x03u) /* CONTEXT and IF_CONTEXT */
        return false;
    if ((bits & 0x06u) == 0x06u) /* IF_CONTEXT and IF_ABSENT */
        return false;
    return true;
}

void causal_fill(struct sample *s, unsigned bits, uint64_t *r,
                 const struct scale *sc)
{
    struct chord_msg *m = &s->m;
    m->causal = (uint8_t)bits;
    m->context.len = 1 + prng_below(r, CHORD_DVV_CONTEXT_MAX);
    prng_fill(r, s->context, m->context.len);
    m->context.data = s->context;
    m->session.len = 1 + prng_below(r, CHORD_DVV_CONTEXT_MAX);
    prng_fill(r, s->session, m->session.len);
    m->session.data = s->session;
    m->ttl_s = 1 + (uint32_t)(prng_next(r) % UINT32_MAX);
    m->state.len = 1 + prng_below(r, sc->value > 0 ? sc->value : 1);
    prng_fill(r, s->state, m->state.len);
    m->state.data = s->state;
}

void rand_causal(struct sample *s, uint64_t *r, const struct scale *sc)
{
    unsigned allowed = causal_allowed(s->m.type);
    s->m.causal = 0;
    if (!allowed || prng_below(r, 2))
        return;
    unsigned bits;
    do
        bits = prng_below(r, 256) & allowed;
    while (!causal_bits_valid(s->m.type, bits));
    causal_fill(s, bits, r, sc);
}

/* ---- field-by-field comparison ------------------------------------------ */

static void assert_peer_equal(const struct chord_peer *want,
                              const struct chord_peer *got)
{
    assert_memory_equal(want->id.b, got->id.b, CHORD_ID_BYTES);
    assert_string_equal(want->addr, got->addr);
}

/* A client reply carries its hint only with status REDIRECT; otherwise
 * the decoded hint stays as chord_msg_init() left it: zero. */
static void assert_client_hint(const struct chord_msg *want,
                               const struct chord_msg *got)
{
    static const struct chord_peer none;
    if (want->status == CHORD_REDIRECT)
        assert_peer_equal(&want->hint, &got->hint);
    else
        assert_peer_equal(&none, &got->hint);
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

/* The items of a decoded TRANSFER or C_SCAN_RESULT (walked through
 * items_raw) are those encoded. */
static void assert_items_equal(const struct chord_msg *want,
                               const struct chord_msg *got)
{
    assert_int_equal(want->n_items, got->n_items);
    assert_null(got->items);
    struct chord_bytes cur = got->items_raw;
    struct chord_item it;
    for (uint32_t i = 0; i < want->n_items; i++) {
        const struct chord_item *w = &want->items[i];
        assert_int_equal(chord_items_next(&cur, &it), 1);
        assert_bytes_equal(&w->key, &it.key);
        assert_int_equal(w->tombstone, it.tombstone);
        if (w->tombstone || w->state.len) /* written empty */
            assert_int_equal(it.value.len, 0);
        else
            assert_bytes_equal(&w->value, &it.value);
        assert_version_equal(&w->version, &it.version);
        assert_int_equal(w->has_origin, it.has_origin);
        if (w->has_origin) {
            assert_memory_equal(w->origin.client, it.origin.client,
                                CHORD_CLIENT_ID_BYTES);
            assert_true(w->origin.seq == it.origin.seq);
        }
        assert_int_equal(w->has_fence, it.has_fence);
        if (w->has_fence) {
            assert_true(w->fence_name == it.fence_name);
            assert_true(w->fence == it.fence);
        }
        assert_int_equal(w->legacy, it.legacy);
        assert_true(w->deadline == it.deadline);
        assert_bytes_equal(&w->state, &it.state);
    }
    assert_int_equal(chord_items_next(&cur, &it), 0);
}

/* The mutation trailer: as encoded on a mutating type, absent on any
 * other whatever the message held. */
static void assert_trailer_equal(const struct chord_msg *want,
                                 const struct chord_msg *got)
{
    bool mutation = chord_msg_is_mutation(want->type);
    assert_int_equal(got->has_rid, mutation && want->has_rid);
    if (got->has_rid) {
        assert_memory_equal(want->rid.client, got->rid.client,
                            CHORD_CLIENT_ID_BYTES);
        assert_true(want->rid.seq == got->rid.seq);
    }
    assert_int_equal(got->has_fence, mutation && want->has_fence);
    if (got->has_fence) {
        assert_bytes_equal(&want->fence_name, &got->fence_name);
        assert_true(want->fence == got->fence);
    } else {
        assert_int_equal(got->fence_name.len, 0);
    }
}

/* The causal trailer: as encoded (the fields whose bit is off decode
 * empty). */
static void assert_causal_equal(const struct chord_msg *want,
                                const struct chord_msg *got)
{
    static const struct chord_bytes none;
    unsigned bits = want->causal;
    assert_int_equal(got->causal, bits);
    assert_bytes_equal(bits & 0x03u ? &want->context : &none, &got->context);
    assert_bytes_equal(bits & 0x08u ? &want->session : &none, &got->session);
    assert_int_equal(got->ttl_s, bits & 0x10u ? want->ttl_s : 0);
    assert_bytes_equal(bits & 0x20u ? &want->state : &none, &got->state);
}

/* Compare what a decoded message carries with the message encoded. */
void assert_msg_equal(const struct chord_msg *want, const struct chord_msg *got)
{
    assert_int_equal(want->type, got->type);
    assert_true(want->req_id == got->req_id);
    if (want->type < CHORD_MSG_C_PUT)
        assert_peer_equal(&want->from, &got->from);
    assert_trailer_equal(want, got);
    assert_causal_equal(want, got);

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
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_C_APPEND:
        assert_bytes_equal(&want->key, &got->key);
        assert_bytes_equal(&want->value, &got->value);
        assert_int_equal(want->consistency, got->consistency);
        break;
    case CHORD_MSG_STORE_LOCK:
    case CHORD_MSG_C_LOCK:
        assert_bytes_equal(&want->key, &got->key);
        assert_int_equal(want->lock_op, got->lock_op);
        assert_memory_equal(want->lock_client, got->lock_client,
                            CHORD_CLIENT_ID_BYTES);
        assert_true(want->lock_fence == got->lock_fence);
        assert_int_equal(want->lease_ms, got->lease_ms);
        assert_bytes_equal(&want->key2, &got->key2);
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
    case CHORD_MSG_MERGE:
        assert_peer_equal(&want->owner, &got->owner);
        assert_int_equal(want->hops, got->hops);
        break;
    case CHORD_MSG_STORE_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_peer_equal(&want->hint, &got->hint);
        assert_int_equal(want->has_value, got->has_value);
        assert_bytes_equal(&want->value, &got->value);
        assert_version_equal(&want->version, &got->version);
        break;
    case CHORD_MSG_TRANSFER:
        assert_int_equal(want->flags, got->flags);
        assert_items_equal(want, got);
        break;
    case CHORD_MSG_STORE_RESTORE:
    case CHORD_MSG_C_RESTORE:
        assert_bytes_equal(&want->key, &got->key);
        assert_bytes_equal(&want->value, &got->value);
        assert_version_equal(&want->version, &got->version);
        assert_int_equal(want->consistency, got->consistency);
        break;
    case CHORD_MSG_C_SCAN:
        assert_memory_equal(want->range_lo.b, got->range_lo.b, CHORD_ID_BYTES);
        assert_int_equal(want->scan_max, got->scan_max);
        break;
    case CHORD_MSG_C_SCAN_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_peer_equal(&want->hint, &got->hint);
        assert_memory_equal(want->range_lo.b, got->range_lo.b, CHORD_ID_BYTES);
        assert_peer_equal(&want->owner, &got->owner);
        assert_memory_equal(want->range_hi.b, got->range_hi.b, CHORD_ID_BYTES);
        assert_items_equal(want, got);
        break;
    case CHORD_MSG_C_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_bytes_equal(&want->value, &got->value);
        assert_client_hint(want, got);
        break;
    case CHORD_MSG_C_LOOKUP_RESULT:
        assert_int_equal(want->status, got->status);
        assert_string_equal(want->error, got->error);
        assert_memory_equal(want->lookup.key_id.b, got->lookup.key_id.b,
                            CHORD_ID_BYTES);
        assert_peer_equal(&want->lookup.owner, &got->lookup.owner);
        assert_int_equal(want->lookup.hops, got->lookup.hops);
        assert_path_equal(&want->lookup.path, &got->lookup.path);
        assert_client_hint(want, got);
        break;
    case CHORD_MSG_C_STATUS_RESULT:
        assert_non_null(got->status_out);
        assert_status_equal(want->status_in, got->status_out);
        break;
    default:
        break;
    }
}

/* ---- refusals ------------------------------------------------------------ */

void assert_encode_refused(const struct chord_msg *m, struct chord_buf *out,
                           int want)
{
    chord_buf_reset(out);
    assert_int_equal(chord_buf_append(out, "prev", 4), 0);
    assert_int_equal(chord_msg_encode(m, out), want);
    assert_int_equal(out->len, 4);
    assert_memory_equal(out->data, "prev", 4);
}

/* ---- a hand-made frame builder, independent of wire.c ------------------- */

void fb_raw(struct chord_buf *b, const void *p, size_t n)
{
    assert_int_equal(chord_buf_append(b, p, n), 0);
}

void fb_u8(struct chord_buf *b, uint8_t v)
{
    fb_raw(b, &v, 1);
}

void fb_u16(struct chord_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fb_raw(b, p, 2);
}

void fb_u32(struct chord_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    fb_raw(b, p, 4);
}

void fb_u64(struct chord_buf *b, uint64_t v)
{
    fb_u32(b, (uint32_t)(v >> 32));
    fb_u32(b, (uint32_t)v);
}

void fb_id(struct chord_buf *b, uint8_t fill)
{
    uint8_t id[CHORD_ID_BYTES];
    memset(id, fill, sizeof id);
    fb_raw(b, id, sizeof id);
}

/* A str of n bytes, all `c`. */
void fb_str(struct chord_buf *b, size_t n, char c)
{
    fb_u16(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        fb_u8(b, (uint8_t)c);
}

void fb_peer(struct chord_buf *b)
{
    fb_id(b, 0x11);
    fb_str(b, 14, '7');
}

/* A bytes field announcing `announced` bytes and carrying `present`. */
void fb_bytes(struct chord_buf *b, uint32_t announced, size_t present)
{
    fb_u32(b, announced);
    for (size_t i = 0; i < present; i++)
        fb_u8(b, (uint8_t)i);
}

void fb_header(struct chord_buf *b, uint8_t version, uint8_t type,
               uint16_t flags)
{
    chord_buf_reset(b);
    fb_u32(b, 0);
    fb_u8(b, version);
    fb_u8(b, type);
    fb_u16(b, flags);
    fb_u64(b, 0x0102030405060708ull);
}

void fb_start(struct chord_buf *b, uint8_t type)
{
    fb_header(b, CHORD_PROTOCOL_VERSION, type, 0);
    if (type < CHORD_MSG_C_PUT)
        fb_peer(b);
}

/* Patch the length prefix to cover what was built. */
void fb_finish(struct chord_buf *b)
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

void assert_decodes(const struct chord_buf *b, struct chord_msg *m,
                    struct chord_status *st)
{
    assert_int_equal(decode_buf(b, m, st), (ssize_t)b->len);
}

void assert_malformed(const struct chord_buf *b, struct chord_msg *m,
                      struct chord_status *st)
{
    assert_int_equal(decode_buf(b, m, st), CHORD_DECODE_MALFORMED);
}
