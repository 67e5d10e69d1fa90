/*
 * dvv.c - a key's causal state, a dotted version vector set (see dvv.h).
 *
 * Every operation builds its result in a local state and copies it into
 * the caller's only when nothing failed, so an error leaves the caller's
 * state as it was. The vector is kept sorted by writer id, so a sibling's
 * writer index orders siblings as its writer id does: sorting by (index,
 * counter) is the canonical order. When two vectors are joined, maps from
 * each side's indices to the result's re-point the siblings.
 *
 * Two siblings with the same dot are the same write: merging them keeps
 * the tombstone if either is one, else `into`'s copy (the same value).
 *
 * Pure: no I/O, no clock, no allocation.
 */
#include "core/dvv.h"

#include <errno.h>
#include <string.h>

#define DVV_ENTRY_WIRE (CHORD_ID_BYTES + 8u)
/* A sibling without its deadline and value: index, counter, flags, len. */
#define DVV_SIB_WIRE (1u + 8u + 1u + 4u)

/* ---- big-endian bytes --------------------------------------------------- */

/* Write v as n big-endian bytes at p: the position after them. */
static uint8_t *put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
    return p + n;
}

/* The big-endian number in p[0..n). */
static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- small helpers ------------------------------------------------------ */

void chord_dvv_init(struct chord_dvv *d)
{
    memset(d, 0, sizeof(*d));
}

/* The index of `writer` in d's vector, or -1. */
static int vv_find(const struct chord_dvv *d, const struct chord_id *writer)
{
    for (unsigned i = 0; i < d->n_vv; i++)
        if (chord_id_eq(&d->vv[i].writer, writer))
            return (int)i;
    return -1;
}

/* d's counter for `writer` (0: none). */
static uint64_t vv_get(const struct chord_dvv *d, const struct chord_id *writer)
{
    int i = vv_find(d, writer);
    return i < 0 ? 0 : d->vv[i].counter;
}

/* Does d's vector cover sibling `s` of state `of`? */
static bool covers_dot(const struct chord_dvv *d, const struct chord_dvv *of,
                       const struct chord_sibling *s)
{
    return s->counter <= vv_get(d, &of->vv[s->writer].writer);
}

/* Make s a tombstone: no value, no deadline (the dot stays). */
static void sib_bury(struct chord_sibling *s)
{
    s->tombstone = true;
    s->deadline = 0;
    s->value.data = NULL;
    s->value.len = 0;
}

/* (writer index, counter) order of two siblings of one state. */
static int sib_cmp(const struct chord_sibling *a, const struct chord_sibling *b)
{
    if (a->writer != b->writer)
        return a->writer < b->writer ? -1 : 1;
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return 0;
}

/* Sort d's siblings into the canonical order (few: insertion sort). */
static void sib_sort(struct chord_dvv *d)
{
    for (unsigned i = 1; i < d->n_sib; i++) {
        struct chord_sibling s = d->sib[i];
        unsigned j = i;
        for (; j > 0 && sib_cmp(&d->sib[j - 1], &s) > 0; j--)
            d->sib[j] = d->sib[j - 1];
        d->sib[j] = s;
    }
}

/*
 * out's vector = the entry-wise max of a's and b's (b may be NULL: a's
 * alone); map_a / map_b receive each side's index in it. 0, or -ENOSPC
 * past CHORD_DVV_WRITERS. out's siblings are left alone.
 */
static int vv_join(const struct chord_dvv *a, const struct chord_dvv *b,
                   struct chord_dvv *out, uint8_t *map_a, uint8_t *map_b)
{
    unsigned i = 0, j = 0, n = 0, nb = b ? b->n_vv : 0;
    while (i < a->n_vv || j < nb) {
        int c = i == a->n_vv ? 1
                : j == nb    ? -1
                             : chord_id_cmp(&a->vv[i].writer, &b->vv[j].writer);
        if (n == CHORD_DVV_WRITERS)
            return -ENOSPC;
        if (c <= 0) {
            out->vv[n] = a->vv[i];
            map_a[i++] = (uint8_t)n;
        }
        if (c >= 0) {
            if (c > 0 || b->vv[j].counter > out->vv[n].counter)
                out->vv[n] = b->vv[j];
            map_b[j++] = (uint8_t)n;
        }
        n++;
    }
    out->n_vv = (uint8_t)n;
    return 0;
}

/* ---- encoding ----------------------------------------------------------- */

static size_t sib_size(const struct chord_sibling *s)
{
    return DVV_SIB_WIRE + (s->deadline ? 8u : 0u) + s->value.len;
}

size_t chord_dvv_encoded_size(const struct chord_dvv *d)
{
    size_t n = 2u + d->n_vv * DVV_ENTRY_WIRE;
    for (unsigned i = 0; i < d->n_sib; i++)
        n += sib_size(&d->sib[i]);
    return n;
}

/* Append the vector and n_sib (the caller reserved room): the write
 * position after them. */
static uint8_t *put_vv(uint8_t *p, const struct chord_dvv *d, uint8_t n_sib)
{
    *p++ = d->n_vv;
    for (unsigned i = 0; i < d->n_vv; i++) {
        memcpy(p, d->vv[i].writer.b, CHORD_ID_BYTES);
        p = put_be(p + CHORD_ID_BYTES, d->vv[i].counter, 8);
    }
    *p++ = n_sib;
    return p;
}

int chord_dvv_encode(const struct chord_dvv *d, struct chord_buf *out)
{
    size_t size = chord_dvv_encoded_size(d);
    if (size > CHORD_DVV_STATE_MAX)
        return -EMSGSIZE;
    int rc = chord_buf_reserve(out, size);
    if (rc)
        return rc == -EMSGSIZE ? -ENOMEM : rc;
    uint8_t *p = put_vv(out->data + out->len, d, d->n_sib);
    for (unsigned i = 0; i < d->n_sib; i++) {
        const struct chord_sibling *s = &d->sib[i];
        *p++ = s->writer;
        p = put_be(p, s->counter, 8);
        *p++ = (uint8_t)((s->tombstone ? CHORD_SIB_TOMBSTONE : 0u) |
                         (s->deadline ? CHORD_SIB_DEADLINE : 0u));
        if (s->deadline)
            p = put_be(p, s->deadline, 8);
        p = put_be(p, s->value.len, 4);
        if (s->value.len)
            memcpy(p, s->value.data, s->value.len);
        p += s->value.len;
    }
    out->len += size;
    return 0;
}

int chord_dvv_context_encode(const struct chord_dvv *d, struct chord_buf *out)
{
    size_t size = 2u + d->n_vv * DVV_ENTRY_WIRE;
    int rc = chord_buf_reserve(out, size);
    if (rc)
        return -ENOMEM;
    put_vv(out->data + out->len, d, 0);
    out->len += size;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/*
 * The sibling at buf[*at..len) of the state whose vector `d` already
 * holds, *at moved past it: 0 or -EPROTO (too few bytes, any invariant of
 * dvv.h broken, or a form that is not the one encoding of a state: a
 * tombstone with a value or deadline, a deadline flag with deadline 0,
 * unknown flag bits). Lengths are checked before the bytes are read.
 */
static int get_sib(const uint8_t *buf, size_t len, size_t *at,
                   const struct chord_dvv *d, struct chord_sibling *s)
{
    const uint8_t *p = buf + *at;
    size_t left = len - *at;
    if (left < DVV_SIB_WIRE)
        return -EPROTO;
    unsigned flags = p[9];
    size_t fixed = DVV_SIB_WIRE + (flags & CHORD_SIB_DEADLINE ? 8u : 0u);
    if (left < fixed)
        return -EPROTO;
    size_t vlen = (size_t)get_be(p + fixed - 4, 4);
    if (vlen > left - fixed || vlen > CHORD_VALUE_MAX)
        return -EPROTO;
    s->writer = p[0];
    s->counter = get_be(p + 1, 8);
    s->tombstone = (flags & CHORD_SIB_TOMBSTONE) != 0;
    s->deadline = flags & CHORD_SIB_DEADLINE ? get_be(p + 10, 8) : 0;
    s->value.data = p + fixed;
    s->value.len = vlen;
    *at += fixed + vlen;
    if (s->writer >= d->n_vv || s->counter == 0 ||
        s->counter > d->vv[s->writer].counter ||
        (flags & ~(CHORD_SIB_TOMBSTONE | CHORD_SIB_DEADLINE)) ||
        ((flags & CHORD_SIB_DEADLINE) && s->deadline == 0) ||
        (s->tombstone && (s->deadline || vlen)))
        return -EPROTO;
    return 0;
}

int chord_dvv_decode(const uint8_t *buf, size_t len, struct chord_dvv *out)
{
    if (len < 2 || len > CHORD_DVV_STATE_MAX)
        return -EPROTO;
    struct chord_dvv d;
    d.n_vv = buf[0];
    size_t at = 1;
    if (d.n_vv > CHORD_DVV_WRITERS || len - at < d.n_vv * DVV_ENTRY_WIRE + 1u)
        return -EPROTO;
    for (unsigned i = 0; i < d.n_vv; i++, at += DVV_ENTRY_WIRE) {
        memcpy(d.vv[i].writer.b, buf + at, CHORD_ID_BYTES);
        d.vv[i].counter = get_be(buf + at + CHORD_ID_BYTES, 8);
        if (d.vv[i].counter == 0 ||
            (i && chord_id_cmp(&d.vv[i - 1].writer, &d.vv[i].writer) >= 0))
            return -EPROTO;
    }
    d.n_sib = buf[at++];
    if (d.n_sib > CHORD_DVV_SIBLINGS)
        return -EPROTO;
    for (unsigned i = 0; i < d.n_sib; i++) {
        if (get_sib(buf, len, &at, &d, &d.sib[i]) ||
            (i && sib_cmp(&d.sib[i - 1], &d.sib[i]) >= 0))
            return -EPROTO;
    }
    if (at != len)
        return -EPROTO;
    *out = d;
    return 0;
}

/* ---- items -------------------------------------------------------------- */

bool chord_dvv_is_simple(const struct chord_dvv *d)
{
    return d->n_vv == 1 && d->n_sib == 1 && d->sib[0].writer == 0 &&
           d->sib[0].counter == d->vv[0].counter;
}

int chord_dvv_from_item(const struct chord_item *it, struct chord_dvv *out)
{
    if (it->state.len)
        return chord_dvv_decode(it->state.data, it->state.len, out);
    chord_dvv_init(out);
    if (it->version.counter == 0)
        return 0;
    out->n_vv = 1;
    out->vv[0].writer = it->version.writer;
    out->vv[0].counter = it->version.counter;
    out->n_sib = 1;
    struct chord_sibling *s = &out->sib[0];
    s->counter = it->version.counter;
    s->tombstone = it->tombstone;
    if (!it->tombstone) {
        s->deadline = it->deadline;
        s->value = it->value;
    }
    return 0;
}

/* The newest dot of d's siblings, by (counter, writer id); zero when it
 * has none. */
static struct chord_version newest_dot(const struct chord_dvv *d)
{
    struct chord_version v;
    memset(&v, 0, sizeof(v));
    for (unsigned i = 0; i < d->n_sib; i++) {
        struct chord_version s = {d->sib[i].counter,
                                  d->vv[d->sib[i].writer].writer};
        if (chord_version_cmp(&s, &v) > 0)
            v = s;
    }
    return v;
}

int chord_dvv_to_item(const struct chord_dvv *d, struct chord_buf *scratch,
                      struct chord_item *it)
{
    static const struct chord_bytes empty;
    if (chord_dvv_is_simple(d)) {
        const struct chord_sibling *s = &d->sib[0];
        it->version.counter = s->counter;
        it->version.writer = d->vv[0].writer;
        it->tombstone = s->tombstone;
        it->value = s->tombstone ? empty : s->value;
        it->deadline = s->tombstone ? 0 : s->deadline;
        it->state = empty;
        return 0;
    }
    size_t at = scratch->len;
    int rc = chord_dvv_encode(d, scratch);
    if (rc)
        return rc;
    it->state.data = scratch->data + at;
    it->state.len = scratch->len - at;
    it->version = newest_dot(d);
    it->value = empty;
    it->deadline = 0;
    it->tombstone = true;
    for (unsigned i = 0; i < d->n_sib; i++)
        if (!d->sib[i].tombstone)
            it->tombstone = false;
    return 0;
}

/* ---- merge and write ---------------------------------------------------- */

int chord_dvv_merge(struct chord_dvv *into, const struct chord_dvv *other)
{
    struct chord_dvv r;
    uint8_t map_a[CHORD_DVV_WRITERS], map_b[CHORD_DVV_WRITERS];
    if (vv_join(into, other, &r, map_a, map_b))
        return -ENOSPC;
    bool changed = r.n_vv != into->n_vv;
    for (unsigned i = 0; i < r.n_vv && !changed; i++)
        changed = r.vv[i].counter != into->vv[i].counter;

    /* Candidates: into's kept siblings, then other's new ones. */
    struct chord_sibling cand[2 * CHORD_DVV_SIBLINGS];
    unsigned n = 0;
    for (unsigned i = 0; i < into->n_sib; i++) {
        struct chord_sibling s = into->sib[i];
        int held = -1;
        for (unsigned j = 0; j < other->n_sib && held < 0; j++)
            if (map_b[other->sib[j].writer] == map_a[s.writer] &&
                other->sib[j].counter == s.counter)
                held = (int)j;
        if (held < 0 && covers_dot(other, into, &s)) {
            changed = true; /* superseded by a write `other` has seen */
            continue;
        }
        if (held >= 0 && other->sib[held].tombstone && !s.tombstone) {
            sib_bury(&s); /* the same write, collected there */
            changed = true;
        }
        s.writer = map_a[s.writer];
        cand[n++] = s;
    }
    for (unsigned j = 0; j < other->n_sib; j++) {
        struct chord_sibling s = other->sib[j];
        s.writer = map_b[s.writer];
        bool held = false;
        for (unsigned i = 0; i < into->n_sib && !held; i++)
            held = map_a[into->sib[i].writer] == s.writer &&
                   into->sib[i].counter == s.counter;
        if (held || covers_dot(into, other, &other->sib[j]))
            continue;
        cand[n++] = s;
        changed = true;
    }
    if (!changed)
        return 0;
    if (n > CHORD_DVV_SIBLINGS)
        return -ENOSPC;
    r.n_sib = (uint8_t)n;
    memcpy(r.sib, cand, n * sizeof(cand[0]));
    sib_sort(&r);
    if (chord_dvv_encoded_size(&r) > CHORD_DVV_STATE_MAX)
        return -ENOSPC;
    *into = r;
    return 1;
}

int chord_dvv_merge_legacy(struct chord_dvv *into,
                           const struct chord_dvv *legacy)
{
    if (legacy->n_vv == 0 && legacy->n_sib == 0)
        return 0;
    if (!chord_dvv_is_simple(legacy))
        return -EINVAL;
    struct chord_version lv = {legacy->vv[0].counter, legacy->vv[0].writer};
    for (unsigned i = 0; i < into->n_vv; i++) {
        struct chord_version v = {into->vv[i].counter, into->vv[i].writer};
        if (chord_version_cmp(&lv, &v) <= 0)
            return 0;
    }
    /* Newer than everything into has seen: it replaces every sibling. */
    struct chord_dvv r;
    uint8_t map_a[CHORD_DVV_WRITERS], map_b[1];
    if (vv_join(into, legacy, &r, map_a, map_b))
        return -ENOSPC;
    r.n_sib = 1;
    r.sib[0] = legacy->sib[0];
    r.sib[0].writer = map_b[0];
    *into = r;
    return 1;
}

int chord_dvv_write(struct chord_dvv *d, const struct chord_dvv *ctx,
                    const struct chord_id *writer, uint64_t counter,
                    const struct chord_sibling *sib)
{
    if (counter <= chord_dvv_max_counter(d) ||
        (ctx && counter <= vv_get(ctx, writer)))
        return -EINVAL;
    struct chord_dvv r;
    uint8_t map_d[CHORD_DVV_WRITERS], map_c[CHORD_DVV_WRITERS];
    if (vv_join(d, ctx, &r, map_d, map_c))
        return -ENOSPC;

    /* vv[writer] = counter: a new entry goes where its id sorts. */
    unsigned w = 0;
    while (w < r.n_vv && chord_id_cmp(&r.vv[w].writer, writer) < 0)
        w++;
    if (w == r.n_vv || !chord_id_eq(&r.vv[w].writer, writer)) {
        if (r.n_vv == CHORD_DVV_WRITERS)
            return -ENOSPC;
        memmove(&r.vv[w + 1], &r.vv[w], (r.n_vv - w) * sizeof(r.vv[0]));
        r.n_vv++;
        for (unsigned i = 0; i < d->n_vv; i++)
            if (map_d[i] >= w)
                map_d[i]++;
        r.vv[w].writer = *writer;
    }
    r.vv[w].counter = counter;

    /* The siblings the context has not seen stay. */
    unsigned n = 0;
    for (unsigned i = 0; ctx && i < d->n_sib; i++) {
        if (covers_dot(ctx, d, &d->sib[i]))
            continue;
        r.sib[n] = d->sib[i];
        r.sib[n++].writer = map_d[d->sib[i].writer];
    }
    if (n == CHORD_DVV_SIBLINGS)
        return -ENOSPC;
    struct chord_sibling *s = &r.sib[n++];
    memset(s, 0, sizeof(*s));
    s->writer = (uint8_t)w;
    s->counter = counter;
    s->tombstone = sib->tombstone;
    if (!sib->tombstone) {
        s->deadline = sib->deadline;
        s->value = sib->value;
    }
    r.n_sib = (uint8_t)n;
    sib_sort(&r);
    if (chord_dvv_encoded_size(&r) > CHORD_DVV_STATE_MAX)
        return -ENOSPC;
    *d = r;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

bool chord_dvv_covers(const struct chord_dvv *ctx, const struct chord_dvv *d)
{
    for (unsigned i = 0; i < d->n_vv; i++)
        if (d->vv[i].counter > vv_get(ctx, &d->vv[i].writer))
            return false;
    return true;
}

bool chord_dvv_sibling_live(const struct chord_dvv *d, unsigned i,
                            uint64_t wall_ms)
{
    if (i >= d->n_sib)
        return false;
    const struct chord_sibling *s = &d->sib[i];
    return !s->tombstone && (s->deadline == 0 || s->deadline > wall_ms);
}

unsigned chord_dvv_live(const struct chord_dvv *d, uint64_t wall_ms)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n_sib; i++)
        n += chord_dvv_sibling_live(d, i, wall_ms);
    return n;
}

unsigned chord_dvv_collect(struct chord_dvv *d, uint64_t wall_ms)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n_sib; i++) {
        struct chord_sibling *s = &d->sib[i];
        if (s->tombstone || s->deadline == 0 || s->deadline > wall_ms)
            continue;
        sib_bury(s);
        n++;
    }
    return n;
}

uint64_t chord_dvv_max_counter(const struct chord_dvv *d)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < d->n_vv; i++)
        if (d->vv[i].counter > m)
            m = d->vv[i].counter;
    return m;
}

size_t chord_dvv_value_bytes(const struct chord_dvv *d)
{
    size_t n = 0;
    for (unsigned i = 0; i < d->n_sib; i++)
        n += d->sib[i].value.len;
    return n;
}

bool chord_dvv_repeats(const struct chord_dvv *d, unsigned i, uint64_t wall_ms)
{
    if (!chord_dvv_sibling_live(d, i, wall_ms))
        return false;
    const struct chord_bytes *v = &d->sib[i].value;
    for (unsigned j = 0; j < i; j++)
        if (chord_dvv_sibling_live(d, j, wall_ms) &&
            d->sib[j].value.len == v->len &&
            (v->len == 0 || memcmp(d->sib[j].value.data, v->data, v->len) == 0))
            return true;
    return false;
}

int chord_dvv_newest_live(const struct chord_dvv *d, uint64_t wall_ms)
{
    int best = -1;
    for (unsigned i = 0; i < d->n_sib; i++)
        if (chord_dvv_sibling_live(d, i, wall_ms) &&
            (best < 0 || d->sib[i].counter > d->sib[best].counter))
            best = (int)i;
    return best;
}
