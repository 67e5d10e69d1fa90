/*
 * store.c - the versioned key-value store (see store.h).
 *
 * Layout: the entries live in one dense array, entries[0..n), so iteration
 * is a walk over an array and removal moves the last entry into the hole.
 * An open-addressing index (linear probing, power-of-two size) maps a key
 * to its position in that array: a slot holds position + 1, 0 means empty.
 * The slot a key hashes to comes from the first bytes of its SHA-1 id,
 * which the store computes for every key anyway. Deletion shifts the
 * following slots of the probe run back, so the index never holds
 * "deleted" markers and probe runs stay short.
 *
 * Invariants:
 *  - every entry is reachable from exactly one index slot, and every
 *    non-empty slot names a valid entry;
 *  - the index is at most half full (n * 2 <= n_slots);
 *  - n_live counts the entries whose tombstone flag is false, and
 *    live_bytes their key and value bytes (both kept by live_count());
 *  - a tombstone has value == NULL and value_len == 0; an empty value is
 *    also stored as NULL with length 0 but is not a tombstone;
 *  - a key pointer is never NULL (an empty key gets a one-byte block).
 *
 * There is no fixed cap on the number of entries: memory is the cap, and
 * every allocation failure leaves the store exactly as it was. Key and
 * value lengths are capped by CHORD_KEY_MAX and CHORD_VALUE_MAX.
 * The store does no I/O and knows nothing about the ring; callers select
 * ranges by walking the entries and testing key_id.
 */
#include "core/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MIN_SLOTS 16u  /* index size of a new store (power of two) */
#define STORE_MIN_ENTRIES 8u /* entry array size at the first insertion */

struct chord_store {
    struct chord_store_entry *entries; /* dense, entries[0..n) valid */
    size_t n;                          /* entries held */
    size_t cap;                        /* entries[] capacity */
    size_t n_live;                     /* entries that are not tombstones */
    uint64_t live_bytes;               /* key + value bytes of those entries */
    size_t *slots;                     /* position + 1, or 0 when empty */
    size_t n_slots;                    /* power of two */
};

/* The home slot of a key id: its first eight bytes, masked. */
static size_t store_home(const struct chord_id *key_id, size_t n_slots)
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | key_id->b[i];
    return (size_t)h & (n_slots - 1);
}

/*
 * The slot holding `key`, or the empty slot where it would go. *found
 * tells which. The index is never full, so the probe ends.
 */
static size_t store_probe(const struct chord_store *s,
                          const struct chord_id *key_id, const void *key,
                          size_t key_len, bool *found)
{
    size_t mask = s->n_slots - 1;
    size_t i = store_home(key_id, s->n_slots);
    for (;; i = (i + 1) & mask) {
        size_t v = s->slots[i];
        if (v == 0) {
            *found = false;
            return i;
        }
        const struct chord_store_entry *e = &s->entries[v - 1];
        if (e->key_len == key_len && chord_id_eq(&e->key_id, key_id) &&
            (key_len == 0 || memcmp(e->key, key, key_len) == 0)) {
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

/* The slot that points at entries[pos] (which must be indexed). */
static size_t store_slot_of(const struct chord_store *s, size_t pos)
{
    size_t mask = s->n_slots - 1;
    size_t i = store_home(&s->entries[pos].key_id, s->n_slots);
    while (s->slots[i] != pos + 1)
        i = (i + 1) & mask;
    return i;
}

/*
 * Empty slot i, then move back the entries of the probe run that follows
 * it which would no longer be found (backward-shift deletion).
 */
static void store_slot_clear(struct chord_store *s, size_t i)
{
    size_t mask = s->n_slots - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        size_t v = s->slots[j];
        if (v == 0)
            break;
        size_t k = store_home(&s->entries[v - 1].key_id, s->n_slots);
        /* The entry at j stays if its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        s->slots[i] = v;
        i = j;
    }
    s->slots[i] = 0;
}

/* Rebuild the index with `n_slots` slots: 0, or -ENOMEM (index kept). */
static int store_rehash(struct chord_store *s, size_t n_slots)
{
    size_t *slots = calloc(n_slots, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    size_t mask = n_slots - 1;
    for (size_t pos = 0; pos < s->n; pos++) {
        size_t i = store_home(&s->entries[pos].key_id, n_slots);
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = pos + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    return 0;
}

/*
 * Make room for one more entry: the array and the index both. 0, or
 * -ENOMEM with the store unchanged in content (a grown array is harmless).
 */
static int store_reserve_one(struct chord_store *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap : STORE_MIN_ENTRIES;
        if (s->cap) {
            if (cap > SIZE_MAX / 2 / sizeof(*s->entries))
                return -ENOMEM;
            cap *= 2;
        }
        struct chord_store_entry *e = realloc(s->entries, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        s->entries = e;
        s->cap = cap;
    }
    if ((s->n + 1) > s->n_slots / 2) {
        if (s->n_slots > SIZE_MAX / 2 / sizeof(*s->slots))
            return -ENOMEM;
        return store_rehash(s, s->n_slots * 2);
    }
    return 0;
}

/* A malloc'd copy of the value of *item (NULL for a tombstone or an empty
 * value). Returns 0 or -ENOMEM. */
static int store_copy_value(const struct chord_item *item, uint8_t **out)
{
    *out = NULL;
    if (item->tombstone || item->value.len == 0)
        return 0;
    *out = malloc(item->value.len);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, item->value.data, item->value.len);
    return 0;
}

/* Give *e the value (taken: a malloc'd copy or NULL), version and
 * tombstone flag of *item, and a zero stamp. The caller keeps the live
 * totals (live_count). */
static void store_entry_set(struct chord_store_entry *e,
                            const struct chord_item *item, uint8_t *value)
{
    e->value = value;
    e->value_len = value ? item->value.len : 0;
    e->version = item->version;
    e->tombstone = item->tombstone;
    e->stamp = 0;
    if (item->has_fence) { /* else the key keeps the fence it had */
        e->has_fence = true;
        e->fence_name = item->fence_name;
        e->fence = item->fence;
    }
}

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

/* Free the store, every key and value it holds. NULL is accepted. */
void chord_store_free(struct chord_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].key);
        free(s->entries[i].value);
    }
    free(s->entries);
    free(s->slots);
    free(s);
}

/* Count entry e in (sign +1) or out (-1) of the live totals, when it is
 * not a tombstone. */
static void live_count(struct chord_store *s, const struct chord_store_entry *e,
                       int sign)
{
    if (e->tombstone)
        return;
    uint64_t bytes = (uint64_t)e->key_len + e->value_len;
    if (sign > 0) {
        s->n_live++;
        s->live_bytes += bytes;
    } else {
        s->n_live--;
        s->live_bytes -= bytes;
    }
}

/*
 * Apply a copy of *item if its version is strictly newer than the stored
 * one, or if the key is absent (a tombstone for an absent key is stored
 * too, so an older copy arriving later is refused). Returns 1 if applied,
 * 0 if the stored version was as new or newer, -ENOMEM (store unchanged),
 * or -EMSGSIZE when the key or value is over its cap (store unchanged).
 * The value of a tombstone item is ignored.
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

    if (found) {
        struct chord_store_entry *e = &s->entries[s->slots[slot] - 1];
        if (chord_version_cmp(&item->version, &e->version) <= 0)
            return 0;
        uint8_t *value;
        if (store_copy_value(item, &value) < 0)
            return -ENOMEM;
        free(e->value);
        live_count(s, e, -1);
        store_entry_set(e, item, value);
        live_count(s, e, +1);
        return 1;
    }

    uint8_t *key = malloc(item->key.len ? item->key.len : 1);
    if (!key)
        return -ENOMEM;
    if (item->key.len)
        memcpy(key, item->key.data, item->key.len);
    uint8_t *value;
    if (store_copy_value(item, &value) < 0) {
        free(key);
        return -ENOMEM;
    }
    size_t old_slots = s->n_slots;
    if (store_reserve_one(s) < 0) {
        free(key);
        free(value);
        return -ENOMEM;
    }
    if (s->n_slots != old_slots) /* the index was rebuilt: probe again */
        slot = store_probe(s, &key_id, item->key.data, item->key.len, &found);

    struct chord_store_entry *e = &s->entries[s->n];
    e->has_fence = false;
    e->key_id = key_id;
    e->key = key;
    e->key_len = item->key.len;
    store_entry_set(e, item, value);
    s->slots[slot] = s->n + 1;
    s->n++;
    live_count(s, e, +1);
    return 1;
}

/* The entry for a key (tombstones included), or NULL. */
const struct chord_store_entry *
chord_store_find(const struct chord_store *s, const void *key, size_t key_len)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    return found ? &s->entries[s->slots[slot] - 1] : NULL;
}

/* Set the caller's time stamp of a key's entry: 0, or -ENOENT. */
int chord_store_set_stamp(struct chord_store *s, const void *key,
                          size_t key_len, uint64_t stamp)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    if (!found)
        return -ENOENT;
    s->entries[s->slots[slot] - 1].stamp = stamp;
    return 0;
}

/*
 * Forget a key entirely (no tombstone): 0, or -ENOENT. The last entry of
 * the array moves into the freed position and its slot is updated.
 */
int chord_store_remove(struct chord_store *s, const void *key, size_t key_len)
{
    bool found;
    size_t slot = store_lookup(s, key, key_len, &found);
    if (!found)
        return -ENOENT;
    size_t pos = s->slots[slot] - 1;
    store_slot_clear(s, slot);

    struct chord_store_entry *e = &s->entries[pos];
    live_count(s, e, -1);
    free(e->key);
    free(e->value);
    size_t last = s->n - 1;
    if (pos != last) {
        s->slots[store_slot_of(s, last)] = pos + 1;
        *e = s->entries[last];
    }
    s->n--;
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

uint64_t chord_store_live_bytes(const struct chord_store *s)
{
    return s->live_bytes;
}

/* The entry at *cursor and advance it, or NULL past the last entry. */
const struct chord_store_entry *chord_store_next(const struct chord_store *s,
                                                 size_t *cursor)
{
    if (*cursor >= s->n)
        return NULL;
    return &s->entries[(*cursor)++];
}

/* Fill *item so it borrows the key and value of *e. */
void chord_store_entry_item(const struct chord_store_entry *e,
                            struct chord_item *item)
{
    item->key.data = e->key;
    item->key.len = e->key_len;
    item->value.data = e->value;
    item->value.len = e->value_len;
    item->version = e->version;
    item->tombstone = e->tombstone;
    item->has_origin = false;
    item->has_fence = e->has_fence;
    item->fence_name = e->fence_name;
    item->fence = e->fence;
}
