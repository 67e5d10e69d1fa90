/*
 * store.c - the versioned key-value store (see store.h).
 *
 * Layout, chosen for bytes per key: every entry is ONE allocation, a
 * record (struct store_rec): a 39-byte header (version counter, key id,
 * value length, writer index, key length, flags) followed by the key
 * bytes, the value bytes, then a trailer holding only the optional parts
 * the flags announce: the stamp (REC_STAMP, 8 bytes), the fence
 * (REC_FENCE, name and number, 16 bytes) and a simple state's TTL
 * deadline (REC_DEADLINE, 8 bytes). Trailer fields are unaligned and read
 * with memcpy. A 16-byte key with a 16-byte value and no TTL takes 71
 * bytes, an 80-byte malloc chunk (as before version vectors: a simple
 * state adds no byte, the flags byte had room for the new bits).
 *
 * A key's state (core/dvv.h) is stored in one of two forms. A simple
 * state (one write, the common case) is the version counter, the writer
 * index and the value or REC_TOMB, as before version vectors. Any other
 * is REC_STATE: the value area holds the state blob, and the header's
 * version is its newest dot and REC_TOMB says "no sibling is a value"
 * (chord_dvv_to_item's rule), so a scan reads both forms alike. Applying
 * an item decodes both states, merges them (core/dvv.c) and writes a new
 * record only when the merge changed something.
 *
 * The version's 20-byte writer id is not in the record: records hold an
 * index into the store's table of writers (struct store_writer), which
 * counts the records naming each writer and reuses a slot whose count
 * fell to zero. A ring has few writers (the nodes that owned the key when
 * it was written), so the table is small; a writer is found by a
 * remembered last hit or a walk of the table.
 *
 * The index is open addressing with linear probing over record pointers,
 * sized to the data rather than to a power of two: the home slot of a key
 * is the last four bytes of its SHA-1 id scaled to the table size
 * (multiply and shift; not the first four, which a node's keys share: see
 * store_home). The table is rebuilt half full (2 slots per
 * entry) when the entries pass 3/4 of it (it grows by 1.5x) or fall under
 * 1/4 (never below STORE_MIN_SLOTS), so it is 1/2 to 3/4 full after
 * growth: 11 to 16 bytes of index per entry; deletion shifts the following
 * slots of the probe run back, so there are no "deleted" markers. Iteration
 * walks the slots; a cursor is a slot position.
 *
 * Invariants:
 *  - every record is pointed at by exactly one slot;
 *  - n * 4 <= n_slots * 3 (so a probe always meets an empty slot);
 *  - a writer's refs is the number of records whose writer index names
 *    it; a slot with refs == 0 is free;
 *  - n_live counts the records without REC_TOMB, and live_bytes their
 *    key and value (or state blob) bytes (kept by live_count());
 *  - a record with REC_TOMB has a stamp trailer (set_stamp needs no
 *    memory for it), and value_len 0 unless it is REC_STATE; an empty
 *    value is value_len 0 without REC_TOMB;
 *  - REC_DEADLINE only on a simple state's value (never with REC_TOMB or
 *    REC_STATE), and its deadline is not 0.
 *
 * There is no fixed cap on the number of entries: memory is the cap (and
 * 2^32 slots), and every allocation failure leaves the store exactly as
 * it was. Key and value lengths are capped by CHORD_KEY_MAX and
 * CHORD_VALUE_MAX. The store does no I/O and knows nothing about the
 * ring; callers select ranges by walking the entries and testing key_id.
 */
#include "core/store.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dvv.h"

#define STORE_MIN_SLOTS 16u /* index size of a new store */
#define STORE_PREFETCH 8u   /* slots a walk looks ahead */

enum {
    REC_TOMB = 1,      /* a tombstone: no value */
    REC_STAMP = 2,     /* the trailer holds a u64 stamp */
    REC_FENCE = 4,     /* the trailer holds the fence: u64 name, u64 number */
    REC_STATE = 8,     /* the value area holds a state blob (core/dvv.h) */
    REC_DEADLINE = 16, /* the trailer holds a u64 deadline (wall ms) */
};

/* One entry. Allocated with offsetof(struct store_rec, data) + the key,
 * value and trailer bytes (rec_size). */
struct store_rec {
    uint64_t counter; /* version counter */
    struct chord_id key_id;
    uint32_t value_len;
    uint32_t writer; /* index into the store's writer table */
    uint16_t key_len;
    uint8_t flags;  /* REC_* */
    uint8_t data[]; /* key, value, [stamp], [fence name, fence], [deadline] */
};

#define REC_HEADER offsetof(struct store_rec, data)
/* The header the comment at the top counts on (71 bytes for 16 + 16). */
static_assert(offsetof(struct store_rec, data) == 39, "store_rec header");

/* A writer id and the number of records naming it (0: a free slot). */
struct store_writer {
    struct chord_id id;
    uint32_t refs;
};

struct chord_store {
    struct store_rec **slots; /* NULL when empty */
    size_t n_slots;
    size_t n;            /* entries held */
    size_t n_live;       /* entries that are not tombstones */
    uint64_t live_bytes; /* key + value bytes of those entries */
    struct store_writer *writers;
    uint32_t n_writers;   /* slots of writers[] in use or free */
    uint32_t last_writer; /* the last writer looked up (a hint) */
};

/* The home slot of a key id: its LAST four bytes scaled to n_slots. Not
 * the first: a node holds the keys of a few arcs of the ring (its range
 * and its predecessors'), whose ids share their leading bits, so homes
 * taken from those bits crowd into a few per cent of the table, making
 * one long probe run (with 16 nodes and r = 3 every key's home lay in
 * 3/16 of the slots and a probe walked hundreds of records). The last
 * bytes of a SHA-1 are uniform whatever the arc. */
static size_t store_home(const struct chord_id *key_id, size_t n_slots)
{
    const uint8_t *t = key_id->b + CHORD_ID_BYTES - 4;
    uint32_t h = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 |
                 (uint32_t)t[2] << 8 | t[3];
    return (size_t)(((uint64_t)h * n_slots) >> 32);
}

static size_t slot_next(const struct chord_store *s, size_t i)
{
    return i + 1 == s->n_slots ? 0 : i + 1;
}

/* --- records ------------------------------------------------------------ */

static size_t trailer_len(uint8_t flags)
{
    return (flags & REC_STAMP ? 8u : 0u) + (flags & REC_FENCE ? 16u : 0u) +
           (flags & REC_DEADLINE ? 8u : 0u);
}

static uint8_t *rec_trailer(const struct store_rec *r)
{
    return (uint8_t *)r->data + r->key_len + r->value_len;
}

static uint64_t rec_stamp(const struct store_rec *r)
{
    uint64_t v = 0;
    if (r->flags & REC_STAMP)
        memcpy(&v, rec_trailer(r), 8);
    return v;
}

/* The fence of r into name/fence; false when it has none. */
static bool rec_fence(const struct store_rec *r, uint64_t *name,
                      uint64_t *fence)
{
    if (!(r->flags & REC_FENCE))
        return false;
    const uint8_t *t = rec_trailer(r) + (r->flags & REC_STAMP ? 8 : 0);
    memcpy(name, t, 8);
    memcpy(fence, t + 8, 8);
    return true;
}

/* A simple state's deadline (0: none). */
static uint64_t rec_deadline(const struct store_rec *r)
{
    uint64_t v = 0;
    if (r->flags & REC_DEADLINE)
        memcpy(&v, rec_trailer(r) + trailer_len(r->flags) - 8, 8);
    return v;
}

/*
 * A new record for *item as chord_dvv_to_item describes a state (its
 * state blob, or its value or tombstone and deadline), with the given
 * key id and writer index, and the fence *item carries or else `old`'s
 * fence (a write without a fence keeps the key's). Stamp 0 (present for
 * a tombstone). NULL when out of memory.
 */
static struct store_rec *rec_new(const struct chord_item *item,
                                 const struct chord_id *key_id, uint32_t writer,
                                 const struct store_rec *old)
{
    uint64_t fname = 0, fence = 0;
    bool has_fence = item->has_fence;
    if (has_fence) {
        fname = item->fence_name;
        fence = item->fence;
    } else if (old) {
        has_fence = rec_fence(old, &fname, &fence);
    }
    bool state = item->state.len != 0;
    bool deadline = !state && !item->tombstone && item->deadline;
    uint8_t flags = (item->tombstone ? REC_TOMB | REC_STAMP : 0) |
                    (has_fence ? REC_FENCE : 0) | (state ? REC_STATE : 0) |
                    (deadline ? REC_DEADLINE : 0);
    const struct chord_bytes *v = state ? &item->state : &item->value;
    size_t vlen = state || !item->tombstone ? v->len : 0;
    size_t klen = item->key.len;
    struct store_rec *r = malloc(REC_HEADER + klen + vlen + trailer_len(flags));
    if (!r)
        return NULL;
    r->counter = item->version.counter;
    r->key_id = *key_id;
    r->value_len = (uint32_t)vlen;
    r->writer = writer;
    r->key_len = (uint16_t)klen;
    r->flags = flags;
    if (klen)
        memcpy(r->data, item->key.data, klen);
    if (vlen)
        memcpy(r->data + klen, v->data, vlen);
    uint8_t *t = rec_trailer(r);
    if (flags & REC_STAMP) {
        memset(t, 0, 8);
        t += 8;
    }
    if (flags & REC_FENCE) {
        memcpy(t, &fname, 8);
        memcpy(t + 8, &fence, 8);
        t += 16;
    }
    if (flags & REC_DEADLINE)
        memcpy(t, &item->deadline, 8);
    return r;
}

static bool rec_is(const struct store_rec *r, const struct chord_id *key_id,
                   const void *key, size_t key_len)
{
    return r->key_len == key_len && chord_id_eq(&r->key_id, key_id) &&
           (key_len == 0 || memcmp(r->data, key, key_len) == 0);
}

/* --- the writer table --------------------------------------------------- */

/* The index of writer `id`, with one more reference: an existing slot, a
 * free one, or a new one. 0, or -ENOMEM (nothing changed). */
static int writer_ref(struct chord_store *s, const struct chord_id *id,
                      uint32_t *out)
{
    uint32_t hint = s->last_writer;
    if (hint < s->n_writers && s->writers[hint].refs &&
        chord_id_eq(&s->writers[hint].id, id)) {
        s->writers[hint].refs++;
        *out = hint;
        return 0;
    }
    uint32_t free_at = UINT32_MAX;
    for (uint32_t i = 0; i < s->n_writers; i++) {
        if (!s->writers[i].refs) {
            if (free_at == UINT32_MAX)
                free_at = i;
        } else if (chord_id_eq(&s->writers[i].id, id)) {
            s->writers[i].refs++;
            *out = s->last_writer = i;
            return 0;
        }
    }
    if (free_at == UINT32_MAX) {
        if (s->n_writers == UINT32_MAX)
            return -ENOMEM;
        struct store_writer *w =
            realloc(s->writers, (s->n_writers + 1) * sizeof(*w));
        if (!w)
            return -ENOMEM;
        s->writers = w;
        free_at = s->n_writers++;
    }
    s->writers[free_at].id = *id;
    s->writers[free_at].refs = 1;
    *out = s->last_writer = free_at;
    return 0;
}

/* Drop one reference to writer i; the table shrinks from its end. */
static void writer_unref(struct chord_store *s, uint32_t i)
{
    s->writers[i].refs--;
    while (s->n_writers && !s->writers[s->n_writers - 1].refs)
        s->n_writers--;
}

/* --- the index ---------------------------------------------------------- */

/*
 * The slot holding `key`, or the empty slot where it would go. *found
 * tells which. The index is never full, so the probe ends.
 */
static size_t store_probe(const struct chord_store *s,
                          const struct chord_id *key_id, const void *key,
                          size_t key_len, bool *found)
{
    size_t i = store_home(key_id, s->n_slots);
    for (;; i = slot_next(s, i)) {
        const struct store_rec *r = s->slots[i];
        if (!r) {
            *found = false;
            return i;
        }
        if (rec_is(r, key_id, key, key_len)) {
            *found = true;
            return i;
        }
    }
}

/* store_probe() for a key whose id is still to be computed. */
static size_t store_lookup(const struct chord_store *s, const void *key,
                           size_t key_len, bool *found)
{
    struct chord_id key_id;
    chord_key_id(&key_id, key, key_len);
    return store_probe(s, &key_id, key, key_len, found);
}

/* Is k cyclically in (i, j]? */
static bool cyc_in(size_t i, size_t k, size_t j)
{
    return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

/*
 * Empty slot i, then move back the records of the probe run that follows
 * it which would no longer be found (backward-shift deletion).
 */
static void store_slot_clear(struct chord_store *s, size_t i)
{
    size_t j = i;
    for (;;) {
        j = slot_next(s, j);
        struct store_rec *r = s->slots[j];
        if (!r)
            break;
        /* The record at j stays if its home lies cyclically in (i, j]. */
        if (cyc_in(i, store_home(&r->key_id, s->n_slots), j))
            continue;
        s->slots[i] = r;
        i = j;
    }
    s->slots[i] = NULL;
}

/* Rebuild the index with `n_slots` slots: 0, or -ENOMEM (index kept). */
static int store_rehash(struct chord_store *s, size_t n_slots)
{
    struct store_rec **slots = calloc(n_slots, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t k = 0; k < s->n_slots; k++) {
        struct store_rec *r = s->slots[k];
        if (!r)
            continue;
        size_t i = store_home(&r->key_id, n_slots);
        while (slots[i])
            i = i + 1 == n_slots ? 0 : i + 1;
        slots[i] = r;
    }
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    return 0;
}

/* The index size for n entries after a resize: 2 n (half full), at
 * least the minimum. */
static size_t slots_for(size_t n)
{
    size_t want = 2 * n;
    return want < STORE_MIN_SLOTS ? STORE_MIN_SLOTS : want;
}

/* Room in the index for one more entry: 0, or -ENOMEM (unchanged). */
static int store_reserve_one(struct chord_store *s)
{
    if ((s->n + 1) * 4 <= s->n_slots * 3)
        return 0;
    size_t want = slots_for(s->n + 1);
    if (want > UINT32_MAX || want > SIZE_MAX / sizeof(*s->slots))
        return -ENOMEM;
    return store_rehash(s, want);
}

/* After a removal: a smaller index when the entries fill under a quarter
 * of it (a failure keeps the larger one, which is still correct). */
static void store_maybe_shrink(struct chord_store *s)
{
    if (s->n_slots > STORE_MIN_SLOTS && s->n * 4 < s->n_slots)
        (void)store_rehash(s, slots_for(s->n));
}

/* --- the store ---------------------------------------------------------- */

/* A new empty store, or NULL when out of memory. */
struct chord_store *chord_store_new(void)
{
    struct chord_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->slots = calloc(STORE_MIN_SLOTS, sizeof(*s->slots));
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->n_slots = STORE_MIN_SLOTS;
    return s;
}

/* Free the store and every record it holds. NULL is accepted. */
void chord_store_free(struct chord_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_slots; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s->writers);
    free(s);
}

/* Count record r in (sign +1) or out (-1) of the live totals, when it is
 * not a tombstone. */
static void live_count(struct chord_store *s, const struct store_rec *r,
                       int sign)
{
    if (r->flags & REC_TOMB)
        return;
    uint64_t bytes = (uint64_t)r->key_len + r->value_len;
    if (sign > 0) {
        s->n_live++;
        s->live_bytes += bytes;
    } else {
        s->n_live--;
        s->live_bytes -= bytes;
    }
}

/* Fill *view from record r. */
static const struct chord_store_entry *rec_view(const struct chord_store *s,
                                                const struct store_rec *r,
                                                struct chord_store_entry *view)
{
    bool state = (r->flags & REC_STATE) != 0;
    const uint8_t *area = r->value_len ? r->data + r->key_len : NULL;
    view->key_id = r->key_id;
    view->key = r->data;
    view->key_len = r->key_len;
    view->value = state ? NULL : area;
    view->value_len = state ? 0 : r->value_len;
    view->state = state ? area : NULL;
    view->state_len = state ? r->value_len : 0;
    view->version.counter = r->counter;
    view->version.writer = s->writers[r->writer].id;
    view->tombstone = (r->flags & REC_TOMB) != 0;
    view->deadline = rec_deadline(r);
    view->stamp = rec_stamp(r);
    view->has_fence = rec_fence(r, &view->fence_name, &view->fence);
    if (!view->has_fence)
        view->fence_name = view->fence = 0;
    return view;
}

/*
 * The merge of *item's state into the stored one (`old`, NULL: absent)
 * into *out (key, fence and origin from *item) as chord_dvv_to_item
 * describes it, the blob in *scratch. 1 when the state changed, 0 when
 * not, or -EPROTO, -ENOSPC, -ENOMEM.
 */
static int merged_item(const struct chord_store *s, const struct store_rec *old,
                       const struct chord_item *item, struct chord_buf *scratch,
                       struct chord_item *out)
{
    struct chord_dvv in, cur;
    if (chord_dvv_from_item(item, &in))
        return -EPROTO;
    chord_dvv_init(&cur);
    if (old) {
        struct chord_store_entry view;
        struct chord_item stored;
        chord_store_entry_item(rec_view(s, old, &view), &stored);
        if (chord_dvv_from_item(&stored, &cur))
            return -EPROTO; /* not a blob the store wrote */
    }
    int rc = item->legacy ? chord_dvv_merge_legacy(&cur, &in)
                          : chord_dvv_merge(&cur, &in);
    if (rc <= 0)
        return rc == -EINVAL ? -EPROTO : rc; /* a legacy item with a blob */
    *out = *item;
    rc = chord_dvv_to_item(&cur, scratch, out);
    if (rc)
        return rc == -EMSGSIZE ? -ENOSPC : rc;
    return 1;
}

/*
 * Merge *item's state into the key's (store.h). A key absent so far
 * starts from the empty state, so a tombstone for an absent key is
 * stored too (an older copy arriving later cannot resurrect it). A
 * changed entry gets a new record (the item may borrow from the old one).
 * 1 changed, 0 not, -EMSGSIZE, -EPROTO, -ENOSPC, -ENOMEM (unchanged).
 */
int chord_store_apply(struct chord_store *s, const struct chord_item *item)
{
    if (item->key.len > CHORD_KEY_MAX ||
        (!item->tombstone && item->value.len > CHORD_VALUE_MAX))
        return -EMSGSIZE;

    struct chord_id key_id;
    chord_key_id(&key_id, item->key.data, item->key.len);
    bool found;
    size_t slot =
        store_probe(s, &key_id, item->key.data, item->key.len, &found);
    struct store_rec *old = found ? s->slots[slot] : NULL;
    struct chord_buf scratch = {0};
    struct chord_item out;
    int rc = merged_item(s, old, item, &scratch, &out);
    if (rc <= 0)
        goto done;
    rc = -ENOMEM;
    if (!old) {
        size_t old_slots = s->n_slots;
        if (store_reserve_one(s) < 0)
            goto done;
        if (s->n_slots != old_slots) /* the index was rebuilt */
            slot =
                store_probe(s, &key_id, item->key.data, item->key.len, &found);
    }
    uint32_t w;
    if (writer_ref(s, &out.version.writer, &w) < 0)
        goto done;
    struct store_rec *r = rec_new(&out, &key_id, w, old);
    if (!r) {
        writer_unref(s, w);
        goto done;
    }
    if (old) {
        live_count(s, old, -1);
        writer_unref(s, old->writer);
        free(old);
    } else {
        s->n++;
    }
    s->slots[slot] = r;
    live_count(s, r, +1);
    rc = 1;
done:
    chord_buf_free(&scratch);
    return rc;
}

/* The entry for a key (tombstones included) into *view, or NULL. */
const struct chord_store_entry *chord_store_find(const struct chord_store *s,
                                                 const void *key,
                                                 size_t key_len,
                                                 struct chord_store_entry *view)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    return found ? rec_view(s, s->slots[slot], view) : NULL;
}

/* Set the caller's time stamp of a key's entry: 0, -ENOENT, or -ENOMEM
 * (a live entry without room for a stamp; unchanged). */
int chord_store_set_stamp(struct chord_store *s, const void *key,
                          size_t key_len, uint64_t stamp)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    if (!found)
        return -ENOENT;
    struct store_rec *r = s->slots[slot];
    if (!(r->flags & REC_STAMP)) {
        if (stamp == 0)
            return 0;
        /* Insert 8 bytes before the fence, if any. */
        size_t body = REC_HEADER + r->key_len + r->value_len;
        size_t tail = trailer_len(r->flags);
        struct store_rec *g = realloc(r, body + 8 + tail);
        if (!g)
            return -ENOMEM;
        memmove((uint8_t *)g + body + 8, (uint8_t *)g + body, tail);
        g->flags |= REC_STAMP;
        s->slots[slot] = r = g;
    }
    memcpy(rec_trailer(r), &stamp, 8);
    return 0;
}

/* Forget a key entirely (no tombstone): 0, or -ENOENT. */
int chord_store_remove(struct chord_store *s, const void *key, size_t key_len)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    if (!found)
        return -ENOENT;
    struct store_rec *r = s->slots[slot];
    store_slot_clear(s, slot);
    live_count(s, r, -1);
    writer_unref(s, r->writer);
    free(r);
    s->n--;
    store_maybe_shrink(s);
    return 0;
}

/* Entries held, tombstones included. */
size_t chord_store_size(const struct chord_store *s)
{
    return s->n;
}

/* Entries held that are not tombstones (a counter, not a scan). */
size_t chord_store_live(const struct chord_store *s)
{
    return s->n_live;
}

size_t chord_store_slots(const struct chord_store *s)
{
    return s->n_slots;
}

uint64_t chord_store_live_bytes(const struct chord_store *s)
{
    return s->live_bytes;
}

/* The entry at or after slot *cursor into *view, the cursor moved past
 * it; NULL past the last slot. */
const struct chord_store_entry *chord_store_next(const struct chord_store *s,
                                                 size_t *cursor,
                                                 struct chord_store_entry *view)
{
    for (size_t i = *cursor; i < s->n_slots; i++)
        if (s->slots[i]) {
            *cursor = i + 1;
            /* Records lie anywhere in the heap: ask for the ones a walk
             * reads next while this one is copied. */
            size_t ahead = i + STORE_PREFETCH;
            if (ahead < s->n_slots && s->slots[ahead])
                __builtin_prefetch(s->slots[ahead]);
            return rec_view(s, s->slots[i], view);
        }
    *cursor = s->n_slots;
    return NULL;
}

/* Fill *item so it borrows the key and value (or state) of *e. */
void chord_store_entry_item(const struct chord_store_entry *e,
                            struct chord_item *item)
{
    item->key.data = e->key;
    item->key.len = e->key_len;
    item->value.data = e->value;
    item->value.len = e->value_len;
    item->version = e->version;
    item->tombstone = e->tombstone;
    item->deadline = e->deadline;
    item->state.data = e->state;
    item->state.len = e->state_len;
    item->legacy = false;
    item->has_origin = false;
    item->has_fence = e->has_fence;
    item->fence_name = e->fence_name;
    item->fence = e->fence;
}
