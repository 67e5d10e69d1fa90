/*
 * store.h - the versioned key-value store a node holds in memory.
 *
 * Keys and values are arbitrary bytes (caps in types.h). Every entry is a
 * key's causal state (core/dvv.h): applying an item merges its state into
 * the stored one (chord_dvv_merge; a legacy item by chord_dvv_merge_legacy),
 * so the order in which copies arrive does not matter and no concurrent
 * value is dropped. A delete is a tombstone sibling, kept so an older copy
 * arriving later cannot resurrect the key. A simple state is stored as
 * version, value or tombstone and deadline (as compact as before version
 * vectors); any other as its state blob. The store computes and keeps each
 * key's id (SHA-1) so callers can select key ranges on the ring.
 *
 * The store copies what it is given and owns its memory. An entry is read
 * through a view (struct chord_store_entry) that the caller provides and
 * chord_store_find / chord_store_next fill: the view's key and value
 * pointers borrow from the store and stay valid until the next call that
 * changes the store; the view itself is the caller's (copy it freely).
 * It does no I/O.
 */
#ifndef CHORD_STORE_H
#define CHORD_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "chord/types.h"
#include "core/wire.h"

struct chord_store;

/* A view of one entry, filled by chord_store_find / chord_store_next. */
struct chord_store_entry {
    struct chord_id key_id; /* SHA-1 of the key */
    const uint8_t *key;     /* never NULL, even for an empty key */
    size_t key_len;
    const uint8_t *value; /* NULL for a tombstone or an empty value */
    size_t value_len;
    struct chord_version version; /* a simple state's dot; else the newest */
    bool tombstone;               /* no sibling is a value (deadlines aside) */
    uint64_t deadline; /* a simple state's TTL deadline (wall ms), or 0 */
    /* A state that is not simple: its blob (core/dvv.h), borrowed; value
     * is then NULL. NULL for a simple state. */
    const uint8_t *state;
    size_t state_len;
    uint64_t stamp; /* caller's time of the last change (0 after apply) */
    /* The newest fence written to the key (a fenced write older than it
     * is refused): a write without a fence keeps it. */
    bool has_fence;
    uint64_t fence_name; /* hash of the lock's name */
    uint64_t fence;
};

/* A new empty store, or NULL when out of memory. */
struct chord_store *chord_store_new(void);
void chord_store_free(struct chord_store *s);

/*
 * Merge *item's state into the key's (see the top). Returns 1 if the
 * stored state changed, 0 if it already held everything the item has
 * (nothing changed), -EMSGSIZE for a key or value over its cap, -EPROTO
 * for an item whose state blob does not decode, -ENOSPC when the merged
 * state would be over the caps of core/dvv.h, -ENOMEM (nothing changed on
 * an error).
 */
int chord_store_apply(struct chord_store *s, const struct chord_item *item);

/* The entry for a key (tombstones included): *view filled and returned,
 * or NULL (*view untouched). */
const struct chord_store_entry *
chord_store_find(const struct chord_store *s, const void *key, size_t key_len,
                 struct chord_store_entry *view);

/* Set the caller's time stamp of a key's entry (for tombstone expiry).
 * 0, -ENOENT, or -ENOMEM (nothing changed): a tombstone always has room
 * for its stamp, a live entry's first non-zero stamp may need memory. */
int chord_store_set_stamp(struct chord_store *s, const void *key,
                          size_t key_len, uint64_t stamp);

/* Forget a key entirely (no tombstone). 0, or -ENOENT. */
int chord_store_remove(struct chord_store *s, const void *key, size_t key_len);

/* Entries held, tombstones included / excluded. */
size_t chord_store_size(const struct chord_store *s);
size_t chord_store_live(const struct chord_store *s);

/* Slots of the index (8 bytes each): between 4/3 and 4 per entry once
 * past the minimum size, for memory accounting. */
size_t chord_store_slots(const struct chord_store *s);

/* Key and value bytes of the entries that are not tombstones (kept as
 * entries change, so reading it costs nothing). */
uint64_t chord_store_live_bytes(const struct chord_store *s);

/*
 * Iterate: start with *cursor = 0; each call fills *view with the next
 * entry, returns it and advances the cursor, NULL at the end. Order is
 * unspecified. Any change to the store invalidates the cursor. While
 * nothing changes, a cursor value saved before a call that returned an
 * entry gives that same entry again (a position to come back to).
 */
const struct chord_store_entry *
chord_store_next(const struct chord_store *s, size_t *cursor,
                 struct chord_store_entry *view);

/* Fill every field of *item, borrowing from *e (for encoding a TRANSFER
 * or a checkpoint): a simple state's version/value/tombstone/deadline, or
 * the blob in item->state; no origin. */
void chord_store_entry_item(const struct chord_store_entry *e,
                            struct chord_item *item);

#endif
