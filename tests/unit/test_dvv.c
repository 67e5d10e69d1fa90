/*
 * test_dvv.c - a key's causal state (src/core/dvv.c, contract in
 * src/core/dvv.h): the blob's byte layout pinned by a hand-built blob,
 * round trips, and every malformed blob refused; merge commutative,
 * associative and idempotent over randomized states (compared by their
 * encodings) and never dropping what neither side superseded; concurrent
 * writes kept as siblings until a write that saw them; writes without a
 * context, with a stale one; covers() as compare-and-set uses it; TTL
 * collection that a late copy cannot undo; the legacy newest-wins merge;
 * items simple and not; the caps refused with the state unchanged.
 *
 * Randomness comes from a seeded LCG: every run is the
 * same. Nothing here touches the network or the clock.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dvv.h"

/* A seeded 64-bit LCG (Knuth's MMIX constants); the high bits. */
static uint64_t rng_next(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return *st >> 24;
}

/* Writer n: ids order as n does (first byte), the rest not constant. */
static struct chord_id wid(unsigned n)
{
    struct chord_id id;
    for (unsigned i = 0; i < CHORD_ID_BYTES; i++)
        id.b[i] = (uint8_t)(n * 31u + i);
    id.b[0] = (uint8_t)n;
    return id;
}

/* Add vector entry (writer n, counter c); callers add them in id order. */
static void add_vv(struct chord_dvv *d, unsigned n, uint64_t c)
{
    d->vv[d->n_vv].writer = wid(n);
    d->vv[d->n_vv++].counter = c;
}

/* Add sibling (writer n, counter c), the entry of n already there;
 * callers add them in canonical order. value NULL: a tombstone. */
static void add_sib(struct chord_dvv *d, unsigned n, uint64_t c,
                    const char *value, uint64_t deadline)
{
    struct chord_id id = wid(n);
    struct chord_sibling *s = &d->sib[d->n_sib++];
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < d->n_vv; i++)
        if (chord_id_eq(&d->vv[i].writer, &id))
            s->writer = (uint8_t)i;
    s->counter = c;
    s->tombstone = value == NULL;
    if (value) {
        s->value.data = (const uint8_t *)value;
        s->value.len = strlen(value);
        s->deadline = deadline;
    }
}

/* The encoding of *d into b (reset first). */
static void enc(const struct chord_dvv *d, struct chord_buf *b)
{
    chord_buf_reset(b);
    assert_int_equal(chord_dvv_encode(d, b), 0);
    assert_int_equal(b->len, chord_dvv_encoded_size(d));
}

/* Equal states: equal encodings. */
static void assert_same(const struct chord_dvv *a, const struct chord_dvv *b)
{
    struct chord_buf x = {0}, y = {0};
    enc(a, &x);
    enc(b, &y);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    chord_buf_free(&x);
    chord_buf_free(&y);
}

/* Does d hold a sibling with dot (writer n, c)? Its index, or -1. */
static int find_dot(const struct chord_dvv *d, unsigned n, uint64_t c)
{
    struct chord_id id = wid(n);
    for (unsigned i = 0; i < d->n_sib; i++)
        if (d->sib[i].counter == c &&
            chord_id_eq(&d->vv[d->sib[i].writer].writer, &id))
            return (int)i;
    return -1;
}

/* d's vector entry for writer n (0: none). */
static uint64_t counter_of(const struct chord_dvv *d, unsigned n)
{
    struct chord_id id = wid(n);
    for (unsigned i = 0; i < d->n_vv; i++)
        if (chord_id_eq(&d->vv[i].writer, &id))
            return d->vv[i].counter;
    return 0;
}

static void assert_value(const struct chord_dvv *d, int i, const char *v)
{
    assert_true(i >= 0 && i < d->n_sib);
    assert_false(d->sib[i].tombstone);
    assert_int_equal(d->sib[i].value.len, strlen(v));
    assert_memory_equal(d->sib[i].value.data, v, strlen(v));
}

/* A hand-written blob (the layout of dvv.h, written independently). */
struct blob {
    uint8_t b[1024];
    size_t n;
};

static void b_be(struct blob *b, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void b_id(struct blob *b, unsigned n)
{
    struct chord_id id = wid(n);
    memcpy(b->b + b->n, id.b, CHORD_ID_BYTES);
    b->n += CHORD_ID_BYTES;
}

static void b_sib(struct blob *b, unsigned idx, uint64_t c, unsigned flags,
                  uint64_t deadline, const char *value)
{
    b_be(b, idx, 1);
    b_be(b, c, 8);
    b_be(b, flags, 1);
    if (flags & CHORD_SIB_DEADLINE)
        b_be(b, deadline, 8);
    size_t len = value ? strlen(value) : 0;
    b_be(b, len, 4);
    memcpy(b->b + b->n, value ? value : "", len);
    b->n += len;
}

/* The sample state: writers 1, 3, 7; four siblings, one a tombstone, one
 * with a deadline, one empty value. And the same by hand. */
static void sample(struct chord_dvv *d)
{
    chord_dvv_init(d);
    add_vv(d, 1, 4);
    add_vv(d, 3, 9);
    add_vv(d, 7, 2);
    add_sib(d, 1, 2, "old", 0);
    add_sib(d, 1, 4, NULL, 0);
    add_sib(d, 3, 9, "ttl", 0x0102030405060708ull);
    add_sib(d, 7, 2, "", 0);
}

static void sample_blob(struct blob *b)
{
    b->n = 0;
    b_be(b, 3, 1);
    b_id(b, 1);
    b_be(b, 4, 8);
    b_id(b, 3);
    b_be(b, 9, 8);
    b_id(b, 7);
    b_be(b, 2, 8);
    b_be(b, 4, 1);
    b_sib(b, 0, 2, 0, 0, "old");
    b_sib(b, 0, 4, CHORD_SIB_TOMBSTONE, 0, NULL);
    b_sib(b, 1, 9, CHORD_SIB_DEADLINE, 0x0102030405060708ull, "ttl");
    b_sib(b, 2, 2, 0, 0, "");
}

static void test_encoding_layout_and_round_trip(void **state)
{
    (void)state;
    struct chord_dvv d, back;
    struct chord_buf out = {0};
    struct blob want;
    sample(&d);
    sample_blob(&want);
    enc(&d, &out);
    assert_int_equal(out.len, want.n);
    assert_memory_equal(out.data, want.b, want.n);

    assert_int_equal(chord_dvv_decode(want.b, want.n, &back), 0);
    assert_int_equal(back.n_vv, 3);
    assert_int_equal(back.n_sib, 4);
    assert_value(&back, find_dot(&back, 1, 2), "old");
    assert_true(back.sib[find_dot(&back, 1, 4)].tombstone);
    assert_value(&back, find_dot(&back, 3, 9), "ttl");
    assert_true(back.sib[find_dot(&back, 3, 9)].deadline ==
                0x0102030405060708ull);
    assert_value(&back, find_dot(&back, 7, 2), "");
    /* Values borrow from the buffer. */
    assert_ptr_equal(back.sib[0].value.data, want.b + 1 + 3 * 28 + 1 + 14);
    assert_same(&d, &back);
    assert_int_equal(chord_dvv_value_bytes(&d), 6);
    assert_int_equal(chord_dvv_max_counter(&d), 9);

    /* Appending: what was in the buffer stays. */
    chord_buf_reset(&out);
    assert_int_equal(chord_buf_append(&out, "xy", 2), 0);
    assert_int_equal(chord_dvv_encode(&d, &out), 0);
    assert_int_equal(out.len, 2 + want.n);
    assert_memory_equal(out.data, "xy", 2);

    /* The context: the vector and n_sib 0, which decodes. */
    chord_buf_reset(&out);
    assert_int_equal(chord_dvv_context_encode(&d, &out), 0);
    assert_int_equal(out.len, 2 + 3 * 28);
    assert_memory_equal(out.data, want.b, 1 + 3 * 28);
    assert_int_equal(out.data[out.len - 1], 0);
    assert_int_equal(chord_dvv_decode(out.data, out.len, &back), 0);
    assert_int_equal(back.n_vv, 3);
    assert_int_equal(back.n_sib, 0);
    assert_true(chord_dvv_covers(&back, &d) && chord_dvv_covers(&d, &back));

    /* The empty state: two zero bytes. */
    chord_dvv_init(&d);
    enc(&d, &out);
    assert_int_equal(out.len, 2);
    assert_int_equal(out.data[0] | out.data[1], 0);
    assert_int_equal(chord_dvv_decode(out.data, 2, &back), 0);
    assert_int_equal(back.n_vv + back.n_sib, 0);
    chord_buf_free(&out);
}

/* Write a blob with one change: returns what decode says. */
static int decode_blob(const struct blob *b)
{
    struct chord_dvv d;
    memset(&d, 0x5a, sizeof(d));
    struct chord_dvv before = d;
    int rc = chord_dvv_decode(b->b, b->n, &d);
    if (rc)
        assert_memory_equal(&d, &before, sizeof(d)); /* untouched */
    return rc;
}

/* A blob of two writers (1 and 2, counters c1 and c2) and the siblings
 * given, one per (idx, counter, flags, deadline, value) row. */
struct row {
    unsigned idx;
    uint64_t c;
    unsigned flags;
    uint64_t deadline;
    const char *value;
};

static int decode_rows(unsigned w1, uint64_t c1, unsigned w2, uint64_t c2,
                       const struct row *rows, unsigned n)
{
    struct blob b = {.n = 0};
    b_be(&b, 2, 1);
    b_id(&b, w1);
    b_be(&b, c1, 8);
    b_id(&b, w2);
    b_be(&b, c2, 8);
    b_be(&b, n, 1);
    for (unsigned i = 0; i < n; i++)
        b_sib(&b, rows[i].idx, rows[i].c, rows[i].flags, rows[i].deadline,
              rows[i].value);
    return decode_blob(&b);
}

static void test_malformed_blobs_rejected(void **state)
{
    (void)state;
    struct blob b;
    sample_blob(&b);
    assert_int_equal(decode_blob(&b), 0);
    /* Every truncation, each one ending where an unreadable page starts
     * (a decoder that reads past the end crashes), and a trailing byte. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
    for (size_t n = 0; n < b.n; n++) {
        struct chord_dvv d;
        memcpy(map + page - n, b.b, n);
        assert_int_equal(chord_dvv_decode(map + page - n, n, &d), -EPROTO);
    }
    munmap(map, 2 * page);
    b.b[b.n++] = 0;
    assert_int_equal(decode_blob(&b), -EPROTO);

    const struct row ok[] = {{0, 3, 0, 0, "a"}, {1, 5, 0, 0, "b"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, ok, 2), 0);
    /* The vector: unsorted, duplicate ids, a zero counter. */
    assert_int_equal(decode_rows(2, 3, 1, 5, ok, 2), -EPROTO);
    assert_int_equal(decode_rows(1, 3, 1, 5, ok, 2), -EPROTO);
    assert_int_equal(decode_rows(1, 0, 2, 5, NULL, 0), -EPROTO);
    /* A dot beyond its entry, a dot with counter 0, a bad index. */
    const struct row beyond[] = {{0, 4, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, beyond, 1), -EPROTO);
    const struct row zero[] = {{0, 0, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, zero, 1), -EPROTO);
    const struct row idx[] = {{2, 1, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, idx, 1), -EPROTO);
    /* Duplicate dots, unsorted siblings (by writer, by counter). */
    const struct row dup[] = {{0, 3, 0, 0, "a"}, {0, 3, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, dup, 2), -EPROTO);
    const struct row by_w[] = {{1, 5, 0, 0, "b"}, {0, 3, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, by_w, 2), -EPROTO);
    const struct row by_c[] = {{0, 3, 0, 0, "b"}, {0, 2, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, by_c, 2), -EPROTO);
    const struct row sorted[] = {{0, 2, 0, 0, "b"}, {0, 3, 0, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, sorted, 2), 0);
    /* Flags: unknown bits, a tombstone with a value or a deadline, a
     * deadline of 0 (one encoding per state). */
    const struct row bits[] = {{0, 3, 0x04, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, bits, 1), -EPROTO);
    const struct row tv[] = {{0, 3, CHORD_SIB_TOMBSTONE, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, tv, 1), -EPROTO);
    const struct row td[] = {
        {0, 3, CHORD_SIB_TOMBSTONE | CHORD_SIB_DEADLINE, 7, NULL}};
    assert_int_equal(decode_rows(1, 3, 2, 5, td, 1), -EPROTO);
    const struct row d0[] = {{0, 3, CHORD_SIB_DEADLINE, 0, "a"}};
    assert_int_equal(decode_rows(1, 3, 2, 5, d0, 1), -EPROTO);
    const struct row tomb[] = {{0, 3, CHORD_SIB_TOMBSTONE, 0, NULL}};
    assert_int_equal(decode_rows(1, 3, 2, 5, tomb, 1), 0);

    /* Counts over the caps. */
    struct blob big = {.n = 0};
    b_be(&big, CHORD_DVV_WRITERS + 1, 1);
    for (unsigned i = 0; i <= CHORD_DVV_WRITERS; i++) {
        b_id(&big, i + 1);
        b_be(&big, 1, 8);
    }
    b_be(&big, 0, 1);
    assert_int_equal(decode_blob(&big), -EPROTO);
    big.n = 0;
    b_be(&big, 1, 1);
    b_id(&big, 1);
    b_be(&big, 100, 8);
    b_be(&big, CHORD_DVV_SIBLINGS + 1, 1);
    for (unsigned i = 0; i <= CHORD_DVV_SIBLINGS; i++)
        b_sib(&big, 0, i + 1, 0, 0, "");
    assert_int_equal(decode_blob(&big), -EPROTO);
    big.b[1 + 28] = CHORD_DVV_SIBLINGS; /* drop the last: fine */
    big.n -= 14;
    assert_int_equal(decode_blob(&big), 0);
}

/* ---- merge laws over random states --------------------------------------- */

/* Dot (w, c) of the universe (4 writers x counters 1..4: at most 16
 * dots, so no union is over the sibling cap) always has the same value
 * and deadline: it is one write. */
static const char *dot_value(unsigned w, uint64_t c)
{
    static char vals[5][5][8];
    snprintf(vals[w][c], sizeof(vals[w][c]), "v%u.%u", w, (unsigned)c);
    return vals[w][c];
}

static void random_state(uint64_t *rng, struct chord_dvv *d)
{
    chord_dvv_init(d);
    for (unsigned w = 1; w <= 4; w++)
        if (rng_next(rng) % 4)
            add_vv(d, w, 1 + rng_next(rng) % 4);
    for (unsigned i = 0, n = d->n_vv; i < n; i++) {
        unsigned w = d->vv[i].writer.b[0];
        for (uint64_t c = 1; c <= d->vv[i].counter; c++) {
            if (rng_next(rng) % 3)
                continue;
            bool tomb = rng_next(rng) % 5 == 0;
            add_sib(d, w, c, tomb ? NULL : dot_value(w, c),
                    (w + c) % 3 ? 0 : 1000 * w + c);
        }
    }
}

/* x = a merged with b; returns merge's result. */
static int merged(const struct chord_dvv *a, const struct chord_dvv *b,
                  struct chord_dvv *x)
{
    *x = *a;
    int rc = chord_dvv_merge(x, b);
    assert_true(rc == 0 || rc == 1);
    return rc;
}

static void test_merge_laws_random(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed00dd;
    struct chord_buf x = {0}, y = {0};
    int changed = 0;
    for (int round = 0; round < 4000; round++) {
        struct chord_dvv a, b, c, ab, ba, ab_c, bc, a_bc, t, back;
        random_state(&rng, &a);
        random_state(&rng, &b);
        random_state(&rng, &c);
        /* Commutative, and the result is a valid state. */
        int rc = merged(&a, &b, &ab);
        merged(&b, &a, &ba);
        assert_same(&ab, &ba);
        enc(&ab, &x);
        assert_int_equal(chord_dvv_decode(x.data, x.len, &back), 0);
        /* 0 exactly when a already held everything. */
        enc(&a, &y);
        assert_int_equal(rc == 0,
                         x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
        changed += rc;
        /* Associative. */
        merged(&ab, &c, &ab_c);
        merged(&b, &c, &bc);
        merged(&a, &bc, &a_bc);
        assert_same(&ab_c, &a_bc);
        /* Idempotent, and absorbing: nothing more from either side. */
        assert_int_equal(merged(&a, &a, &t), 0);
        assert_same(&t, &a);
        assert_int_equal(merged(&ab, &a, &t), 0);
        assert_int_equal(merged(&ab, &b, &t), 0);
        /* It has seen both, and kept every sibling the other side's
         * vector does not cover, with its value (tombstone if either
         * side's copy is one). */
        assert_true(chord_dvv_covers(&ab, &a) && chord_dvv_covers(&ab, &b));
        for (unsigned i = 0; i < a.n_sib; i++) {
            unsigned w = a.vv[a.sib[i].writer].writer.b[0];
            uint64_t cnt = a.sib[i].counter;
            int j = find_dot(&ab, w, cnt), k = find_dot(&b, w, cnt);
            if (k >= 0 || counter_of(&b, w) < cnt)
                assert_true(j >= 0);
            else
                assert_true(j < 0);
            if (j >= 0)
                assert_int_equal(ab.sib[j].tombstone,
                                 a.sib[i].tombstone ||
                                     (k >= 0 && b.sib[k].tombstone));
        }
    }
    /* The states were varied enough for both outcomes to happen often. */
    assert_true(changed > 1000 && changed < 3900);
    chord_buf_free(&x);
    chord_buf_free(&y);
}

/* ---- writes ------------------------------------------------------------- */

static struct chord_sibling val(const char *v, uint64_t deadline)
{
    struct chord_sibling s;
    memset(&s, 0, sizeof(s));
    s.value.data = (const uint8_t *)v;
    s.value.len = strlen(v);
    s.deadline = deadline;
    s.counter = 999; /* ignored */
    s.writer = 7;    /* ignored */
    return s;
}

/* The context of *d (its vector alone), as a client gets it back. */
static void context_of(const struct chord_dvv *d, struct chord_buf *b,
                       struct chord_dvv *ctx)
{
    chord_buf_reset(b);
    assert_int_equal(chord_dvv_context_encode(d, b), 0);
    assert_int_equal(chord_dvv_decode(b->data, b->len, ctx), 0);
}

static void test_concurrent_writes_then_resolve(void **state)
{
    (void)state;
    struct chord_id a = wid(1), b = wid(2);
    struct chord_dvv sa, sb, ctx;
    struct chord_buf cb = {0};
    struct chord_sibling x = val("from A", 0), y = val("from B", 0),
                         z = val("resolved", 0);
    /* Two owners (a partition) each take a write with no context. */
    chord_dvv_init(&sa);
    chord_dvv_init(&sb);
    assert_int_equal(chord_dvv_write(&sa, NULL, &a, 5, &x), 0);
    assert_int_equal(chord_dvv_write(&sb, NULL, &b, 3, &y), 0);
    assert_true(chord_dvv_is_simple(&sa) && chord_dvv_is_simple(&sb));
    assert_false(chord_dvv_covers(&sa, &sb) || chord_dvv_covers(&sb, &sa));
    /* After the merge both are there, whichever way. */
    struct chord_dvv m = sa;
    assert_int_equal(chord_dvv_merge(&m, &sb), 1);
    assert_int_equal(m.n_sib, 2);
    assert_value(&m, find_dot(&m, 1, 5), "from A");
    assert_value(&m, find_dot(&m, 2, 3), "from B");
    assert_false(chord_dvv_is_simple(&m));
    assert_int_equal(chord_dvv_live(&m, 0), 2);
    struct chord_dvv m2 = sb;
    assert_int_equal(chord_dvv_merge(&m2, &sa), 1);
    assert_same(&m, &m2);
    /* A client that read both writes back with the merged context: one
     * sibling left, at either owner. */
    context_of(&m, &cb, &ctx);
    assert_int_equal(
        chord_dvv_write(&m, &ctx, &b, chord_dvv_max_counter(&m) + 1, &z), 0);
    assert_int_equal(m.n_sib, 1);
    assert_value(&m, find_dot(&m, 2, 6), "resolved");
    assert_true(chord_dvv_is_simple(&m) == false); /* two entries */
    assert_int_equal(m.n_vv, 2);
    /* Its vector covers both old writes: their late copies change
     * nothing. */
    struct chord_dvv before = m;
    assert_int_equal(chord_dvv_merge(&m, &sa), 0);
    assert_int_equal(chord_dvv_merge(&m, &sb), 0);
    assert_same(&m, &before);
    chord_buf_free(&cb);
}

static void test_write_without_context_supersedes(void **state)
{
    (void)state;
    struct chord_dvv d;
    struct chord_id a = wid(1), c = wid(3);
    struct chord_sibling v = val("new", 0);
    sample(&d); /* 4 siblings of writers 1, 3, 7 */
    assert_int_equal(chord_dvv_write(&d, NULL, &a, 10, &v), 0);
    assert_int_equal(d.n_sib, 1);
    assert_int_equal(d.n_vv, 3);
    assert_value(&d, find_dot(&d, 1, 10), "new");
    assert_int_equal(d.vv[0].counter, 10);
    assert_int_equal(d.vv[1].counter, 9); /* the vector keeps what it saw */
    /* Same writer again: the newer replaces it. A delete is a tombstone
     * sibling. */
    struct chord_sibling del;
    memset(&del, 0, sizeof(del));
    del.tombstone = true;
    del.value = v.value; /* ignored for a tombstone */
    del.deadline = 5;    /* likewise */
    assert_int_equal(chord_dvv_write(&d, NULL, &c, 11, &del), 0);
    assert_int_equal(d.n_sib, 1);
    int i = find_dot(&d, 3, 11);
    assert_true(i >= 0 && d.sib[i].tombstone);
    assert_int_equal(d.sib[i].value.len, 0);
    assert_int_equal(d.sib[i].deadline, 0);
    assert_int_equal(chord_dvv_live(&d, 0), 0);
    /* A brand new writer sorts into the vector; siblings re-indexed. */
    struct chord_id w0 = wid(0);
    assert_int_equal(chord_dvv_write(&d, NULL, &w0, 12, &v), 0);
    assert_int_equal(d.n_vv, 4);
    assert_true(chord_id_eq(&d.vv[0].writer, &w0));
    assert_value(&d, find_dot(&d, 0, 12), "new");
    /* A counter not past the vector is refused, the state unchanged. */
    struct chord_dvv before = d;
    assert_int_equal(chord_dvv_write(&d, NULL, &a, 12, &v), -EINVAL);
    assert_int_equal(chord_dvv_write(&d, NULL, &c, 3, &v), -EINVAL);
    assert_same(&d, &before);
}

static void test_stale_context_keeps_siblings(void **state)
{
    (void)state;
    struct chord_id a = wid(1);
    struct chord_dvv d, stale, fresh;
    struct chord_buf b1 = {0}, b2 = {0};
    struct chord_sibling v1 = val("one", 0), v2 = val("two", 0),
                         v3 = val("three", 0), v4 = val("four", 0);
    chord_dvv_init(&d);
    assert_int_equal(chord_dvv_write(&d, NULL, &a, 1, &v1), 0);
    context_of(&d, &b1, &stale); /* client 1 reads "one" */
    assert_int_equal(chord_dvv_write(&d, &stale, &a, 2, &v2), 0);
    assert_int_equal(d.n_sib, 1); /* client 2 had seen "one" too */
    /* Client 1 writes with what it read: "two" is concurrent. */
    assert_int_equal(chord_dvv_write(&d, &stale, &a, 3, &v3), 0);
    assert_int_equal(d.n_sib, 2);
    assert_value(&d, find_dot(&d, 1, 2), "two");
    assert_value(&d, find_dot(&d, 1, 3), "three");
    assert_true(d.sib[0].counter == 2); /* canonical order */
    /* A context with an entry the state lacks, at another writer. */
    context_of(&d, &b2, &fresh);
    struct chord_id c = wid(9);
    assert_int_equal(chord_dvv_write(&d, &fresh, &c, 4, &v4), 0);
    assert_int_equal(d.n_sib, 1);
    assert_value(&d, 0, "four");
    assert_int_equal(d.n_vv, 2);
    /* A new writer that sorts before the kept siblings' writers: they
     * keep their dots and values. */
    chord_dvv_init(&d);
    struct chord_id w5 = wid(5), w2 = wid(2), w7 = wid(7);
    assert_int_equal(chord_dvv_write(&d, NULL, &w5, 1, &v1), 0);
    struct chord_dvv other;
    chord_dvv_init(&other);
    assert_int_equal(chord_dvv_write(&other, NULL, &w7, 2, &v2), 0);
    assert_int_equal(chord_dvv_merge(&d, &other), 1);
    chord_dvv_init(&stale);
    assert_int_equal(chord_dvv_write(&d, &stale, &w2, 3, &v3), 0);
    assert_int_equal(d.n_sib, 3);
    assert_value(&d, find_dot(&d, 2, 3), "three");
    assert_value(&d, find_dot(&d, 5, 1), "one");
    assert_value(&d, find_dot(&d, 7, 2), "two");
    /* A context that saw this writer's counter at or beyond the new dot
     * (writer 2 is its first entry): refused, as vv[writer] would go
     * back. */
    context_of(&d, &b2, &fresh);
    fresh.vv[0].counter = 50;
    assert_int_equal(chord_dvv_write(&d, &fresh, &w2, 50, &v4), -EINVAL);
    assert_int_equal(chord_dvv_write(&d, &fresh, &w2, 51, &v4), 0);
    assert_int_equal(d.n_sib, 1);
    chord_buf_free(&b1);
    chord_buf_free(&b2);
}

/* Compare-and-set asks: has anything happened since the client's read? */
static void test_covers_for_cas(void **state)
{
    (void)state;
    struct chord_id a = wid(1), b = wid(2);
    struct chord_dvv d, ctx, empty;
    struct chord_buf cb = {0};
    struct chord_sibling v = val("v", 0);
    chord_dvv_init(&d);
    chord_dvv_init(&empty);
    /* An absent key is unchanged since the empty context, not since
     * another. */
    assert_true(chord_dvv_covers(&empty, &d));
    assert_int_equal(chord_dvv_write(&d, NULL, &a, 1, &v), 0);
    assert_false(chord_dvv_covers(&empty, &d));
    assert_true(chord_dvv_covers(&d, &empty));
    context_of(&d, &cb, &ctx);
    assert_true(chord_dvv_covers(&ctx, &d));
    /* Another write (either writer) makes the CAS fail; d is newer. */
    struct chord_dvv d2 = d;
    assert_int_equal(chord_dvv_write(&d2, NULL, &b, 2, &v), 0);
    assert_false(chord_dvv_covers(&ctx, &d2));
    assert_true(chord_dvv_covers(&d2, &ctx));
    d2 = d;
    assert_int_equal(chord_dvv_write(&d2, NULL, &a, 2, &v), 0);
    assert_false(chord_dvv_covers(&ctx, &d2));
    /* A context that saw more than this replica (an entry it lacks, a
     * higher counter) still covers it. */
    add_vv(&ctx, 5, 3);
    assert_true(chord_dvv_covers(&ctx, &d));
    assert_false(chord_dvv_covers(&d, &ctx));
    chord_buf_free(&cb);
}

static void test_ttl_collect_no_resurrection(void **state)
{
    (void)state;
    struct chord_id a = wid(1), b = wid(2);
    struct chord_dvv d, late, other;
    struct chord_sibling t = val("temp", 1000), p = val("perm", 0);
    chord_dvv_init(&d);
    chord_dvv_init(&other);
    assert_int_equal(chord_dvv_write(&d, NULL, &a, 1, &t), 0);
    assert_int_equal(chord_dvv_write(&other, NULL, &b, 2, &p), 0);
    assert_int_equal(chord_dvv_merge(&d, &other), 1);
    late = d; /* a replica that has not collected */
    /* Live strictly before the deadline. */
    int i = find_dot(&d, 1, 1);
    assert_true(chord_dvv_sibling_live(&d, (unsigned)i, 999));
    assert_false(chord_dvv_sibling_live(&d, (unsigned)i, 1000));
    assert_false(chord_dvv_sibling_live(&d, 99, 0)); /* no such sibling */
    assert_int_equal(chord_dvv_live(&d, 999), 2);
    assert_int_equal(chord_dvv_live(&d, 1000), 1);
    assert_int_equal(chord_dvv_collect(&d, 999), 0);
    assert_int_equal(chord_dvv_collect(&d, 1000), 1);
    assert_int_equal(chord_dvv_collect(&d, 5000), 0); /* once */
    /* The dot stays, as a tombstone without value or deadline. */
    i = find_dot(&d, 1, 1);
    assert_true(i >= 0 && d.sib[i].tombstone);
    assert_int_equal(d.sib[i].value.len, 0);
    assert_int_equal(d.sib[i].deadline, 0);
    assert_value(&d, find_dot(&d, 2, 2), "perm");
    assert_int_equal(chord_dvv_value_bytes(&d), 4);
    /* A late copy of the value does not bring it back, either way. */
    struct chord_dvv collected = d;
    assert_int_equal(chord_dvv_merge(&d, &late), 0);
    assert_same(&d, &collected);
    assert_int_equal(chord_dvv_merge(&late, &d), 1);
    assert_same(&late, &collected);
    assert_int_equal(chord_dvv_live(&late, 0), 1);
}

static void test_legacy_newest_wins(void **state)
{
    (void)state;
    struct chord_dvv d, l;
    struct chord_item it;
    memset(&it, 0, sizeof(it));
    it.value.data = (const uint8_t *)"legacy";
    it.value.len = 6;
    it.legacy = true;
    /* Into an empty state: taken. */
    chord_dvv_init(&d);
    it.version.counter = 5;
    it.version.writer = wid(4);
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 1);
    assert_true(chord_dvv_is_simple(&d));
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 0); /* again: no */

    /* Into a state with siblings: higher counter replaces them all. */
    sample(&d); /* counters 4, 9, 2 of writers 1, 3, 7 */
    struct chord_dvv before = d;
    it.version.counter = 8; /* lower than 9: ignored */
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 0);
    it.version.counter = 9;
    it.version.writer = wid(2); /* equal, smaller id than 3: ignored */
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 0);
    it.version.writer = wid(3); /* the same version: ignored */
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 0);
    assert_same(&d, &before);
    it.version.writer = wid(5); /* equal, greater id: wins */
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 1);
    assert_int_equal(d.n_sib, 1);
    assert_value(&d, find_dot(&d, 5, 9), "legacy");
    assert_int_equal(d.n_vv, 4); /* what it had seen stays seen */
    /* A legacy tombstone with a higher counter deletes. */
    it.tombstone = true;
    it.version.counter = 10;
    it.version.writer = wid(1);
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 1);
    assert_int_equal(d.n_sib, 1);
    assert_true(d.sib[0].tombstone);
    assert_int_equal(chord_dvv_live(&d, 0), 0);
    /* An empty legacy state changes nothing. */
    it.version.counter = 0;
    assert_int_equal(chord_dvv_from_item(&it, &l), 0);
    assert_int_equal(chord_dvv_merge_legacy(&d, &l), 0);
}

static void test_items_simple_and_not(void **state)
{
    (void)state;
    struct chord_dvv d, back;
    struct chord_item it, it2;
    struct chord_buf scratch = {0};
    /* A plain item is a simple state, and goes back without a blob. */
    memset(&it, 0, sizeof(it));
    it.value.data = (const uint8_t *)"hello";
    it.value.len = 5;
    it.version.counter = 7;
    it.version.writer = wid(3);
    it.deadline = 123456;
    assert_int_equal(chord_dvv_from_item(&it, &d), 0);
    assert_true(chord_dvv_is_simple(&d));
    assert_int_equal(chord_dvv_live(&d, 123455), 1);
    assert_int_equal(chord_dvv_live(&d, 123456), 0);
    memset(&it2, 0, sizeof(it2));
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it2), 0);
    assert_int_equal(scratch.len, 0);
    assert_int_equal(it2.state.len, 0);
    assert_int_equal(chord_version_cmp(&it2.version, &it.version), 0);
    assert_true(chord_id_eq(&it2.version.writer, &it.version.writer));
    assert_int_equal(it2.value.len, 5);
    assert_memory_equal(it2.value.data, "hello", 5);
    assert_false(it2.tombstone);
    assert_int_equal(it2.deadline, 123456);
    /* A tombstone item: its value and deadline ignored. */
    it.tombstone = true;
    assert_int_equal(chord_dvv_from_item(&it, &d), 0);
    assert_true(chord_dvv_is_simple(&d));
    assert_int_equal(chord_dvv_value_bytes(&d), 0);
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it2), 0);
    assert_true(it2.tombstone);
    assert_int_equal(it2.value.len + it2.deadline + it2.state.len, 0);
    /* Version 0: the empty state, which is not simple. */
    it.version.counter = 0;
    assert_int_equal(chord_dvv_from_item(&it, &d), 0);
    assert_int_equal(d.n_vv + d.n_sib, 0);
    assert_false(chord_dvv_is_simple(&d));
    /* One sibling whose dot is not its writer's entry: not simple. */
    chord_dvv_init(&d);
    add_vv(&d, 1, 4);
    add_sib(&d, 1, 3, "x", 0);
    assert_false(chord_dvv_is_simple(&d));

    /* A complex state: a blob appended to scratch, the newest dot as the
     * version, "no live value" false; a collected one: true. */
    sample(&d);
    assert_int_equal(chord_buf_append(&scratch, "pre", 3), 0);
    memset(&it2, 0, sizeof(it2));
    it2.value.data = (const uint8_t *)"stale";
    it2.value.len = 5;
    it2.deadline = 77;
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it2), 0);
    assert_ptr_equal(it2.state.data, scratch.data + 3);
    assert_int_equal(it2.state.len, scratch.len - 3);
    assert_int_equal(it2.version.counter, 9);
    struct chord_id w3 = wid(3);
    assert_true(chord_id_eq(&it2.version.writer, &w3));
    assert_false(it2.tombstone);
    assert_int_equal(it2.value.len + it2.deadline, 0);
    assert_int_equal(chord_dvv_from_item(&it2, &back), 0);
    assert_same(&back, &d);
    /* "No live value" ignores deadlines: only tombstones count. */
    chord_dvv_init(&d);
    add_vv(&d, 1, 2);
    add_vv(&d, 2, 2);
    add_sib(&d, 1, 2, NULL, 0);
    add_sib(&d, 2, 2, "expired", 1);
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it2), 0);
    assert_false(it2.tombstone);
    /* Equal counters: the greater writer id is the newest dot. */
    struct chord_id w2 = wid(2);
    assert_true(chord_id_eq(&it2.version.writer, &w2));
    chord_dvv_collect(&d, 1);
    assert_int_equal(chord_dvv_to_item(&d, &scratch, &it2), 0);
    assert_true(it2.tombstone);
    assert_int_equal(it2.version.counter, 2);
    /* A bad blob in an item. */
    uint8_t junk[] = {1, 2, 3};
    it2.state.data = junk;
    it2.state.len = sizeof(junk);
    assert_int_equal(chord_dvv_from_item(&it2, &d), -EPROTO);
    chord_buf_free(&scratch);
}

/* ---- caps --------------------------------------------------------------- */

static void test_caps_enospc_unchanged(void **state)
{
    (void)state;
    struct chord_dvv full, other, before, ctx;
    struct chord_sibling v = val("v", 0);
    /* 32 writers: a 33rd by merge or by write is refused. */
    chord_dvv_init(&full);
    for (unsigned w = 1; w <= CHORD_DVV_WRITERS; w++)
        add_vv(&full, w, 1);
    add_sib(&full, 1, 1, "x", 0);
    before = full;
    chord_dvv_init(&other);
    add_vv(&other, 200, 1);
    add_sib(&other, 200, 1, "y", 0);
    assert_int_equal(chord_dvv_merge(&full, &other), -ENOSPC);
    assert_same(&full, &before);
    assert_int_equal(chord_dvv_merge(&other, &full), -ENOSPC);
    struct chord_id w = wid(200);
    assert_int_equal(chord_dvv_write(&full, NULL, &w, 5, &v), -ENOSPC);
    assert_same(&full, &before);
    assert_int_equal(chord_dvv_write(&full, &other, &w, 5, &v), -ENOSPC);
    struct chord_id w1 = wid(1);
    assert_int_equal(chord_dvv_write(&full, NULL, &w1, 5, &v), 0); /* known */
    /* A legacy item of a 33rd writer, newer than all. */
    full = before;
    struct chord_dvv l = other;
    l.vv[0].counter = l.sib[0].counter = 9;
    assert_int_equal(chord_dvv_merge_legacy(&full, &l), -ENOSPC);
    assert_same(&full, &before);

    /* 16 siblings: a 17th concurrent write or merged sibling refused. */
    chord_dvv_init(&full);
    add_vv(&full, 1, CHORD_DVV_SIBLINGS);
    for (unsigned c = 1; c <= CHORD_DVV_SIBLINGS; c++)
        add_sib(&full, 1, c, "s", 0);
    before = full;
    chord_dvv_init(&ctx);
    struct chord_id w2 = wid(2);
    assert_int_equal(chord_dvv_write(&full, &ctx, &w2, 100, &v), -ENOSPC);
    assert_same(&full, &before);
    chord_dvv_init(&other);
    add_vv(&other, 2, 1);
    add_sib(&other, 2, 1, "t", 0);
    assert_int_equal(chord_dvv_merge(&full, &other), -ENOSPC);
    assert_same(&full, &before);
    /* A write that saw one of them fits. */
    add_vv(&ctx, 1, 1);
    assert_int_equal(chord_dvv_write(&full, &ctx, &w2, 100, &v), 0);
    assert_int_equal(full.n_sib, CHORD_DVV_SIBLINGS);

    /* Bytes: two concurrent 1 MiB values are over CHORD_DVV_STATE_MAX. */
    uint8_t *big = calloc(1, CHORD_VALUE_MAX);
    assert_non_null(big);
    struct chord_sibling bv;
    memset(&bv, 0, sizeof(bv));
    bv.value.data = big;
    bv.value.len = CHORD_VALUE_MAX;
    struct chord_dvv s1, s2;
    chord_dvv_init(&s1);
    chord_dvv_init(&s2);
    assert_int_equal(chord_dvv_write(&s1, NULL, &w1, 1, &bv), 0);
    assert_int_equal(chord_dvv_write(&s2, NULL, &w2, 2, &bv), 0);
    before = s1;
    assert_int_equal(chord_dvv_merge(&s1, &s2), -ENOSPC);
    assert_same(&s1, &before);
    chord_dvv_init(&ctx);
    assert_int_equal(chord_dvv_write(&s1, &ctx, &w2, 3, &bv), -ENOSPC);
    assert_same(&s1, &before);
    /* Such a state built by hand is refused by the encoder, nothing
     * appended. */
    s1.sib[1] = s1.sib[0];
    s1.n_sib = 2;
    s1.vv[0].counter = 2;
    s1.sib[1].counter = 2;
    struct chord_buf out = {0};
    assert_int_equal(chord_buf_append(&out, "a", 1), 0);
    assert_int_equal(chord_dvv_encode(&s1, &out), -EMSGSIZE);
    assert_int_equal(out.len, 1);
    struct chord_item it;
    memset(&it, 0, sizeof(it));
    assert_int_equal(chord_dvv_to_item(&s1, &out, &it), -EMSGSIZE);
    chord_buf_free(&out);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_layout_and_round_trip),
        cmocka_unit_test(test_malformed_blobs_rejected),
        cmocka_unit_test(test_merge_laws_random),
        cmocka_unit_test(test_concurrent_writes_then_resolve),
        cmocka_unit_test(test_write_without_context_supersedes),
        cmocka_unit_test(test_stale_context_keeps_siblings),
        cmocka_unit_test(test_covers_for_cas),
        cmocka_unit_test(test_ttl_collect_no_resurrection),
        cmocka_unit_test(test_legacy_newest_wins),
        cmocka_unit_test(test_items_simple_and_not),
        cmocka_unit_test(test_caps_enospc_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
