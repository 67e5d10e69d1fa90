/*
 * keystate.c - a key's state at this node (see keystate.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/keystate.h"

#include <errno.h>
#include <stdio.h>

#include "core/node_internal.h"
#include "core/store.h"

uint64_t chord__wall(const struct chord_node *n, uint64_t now)
{
    return now + (uint64_t)n->wall_offset; /* wraps back for a negative one */
}

int chord__keystate_load(const struct chord_node *n, uint64_t wall_ms,
                         const void *key, size_t key_len, struct chord_dvv *out)
{
    struct chord_store_entry view;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &view);
    if (!e) {
        chord_dvv_init(out);
        return 0;
    }
    struct chord_item it = {0};
    chord_store_entry_item(e, &it);
    if (chord_dvv_from_item(&it, out) != 0) {
        chord_dvv_init(out);
        return -EPROTO;
    }
    chord_dvv_collect(out, wall_ms);
    return 0;
}

uint8_t chord__keystate_answer(const struct chord_dvv *d, uint64_t wall_ms,
                               const uint8_t **value, size_t *value_len,
                               unsigned *n_live)
{
    /* Live siblings with equal bytes count once: the same value written
     * twice concurrently (a retry that reached both sides of a split). */
    unsigned live = 0, first = 0;
    for (unsigned i = 0; i < d->n_sib; i++) {
        if (chord_dvv_sibling_live(d, i, wall_ms) &&
            !chord_dvv_repeats(d, i, wall_ms) && live++ == 0)
            first = i;
    }
    *n_live = live;
    *value = NULL;
    *value_len = 0;
    if (live == 0)
        return CHORD_NOT_FOUND;
    if (live > 1)
        return CHORD_SIBLINGS;
    *value = d->sib[first].value.data;
    *value_len = d->sib[first].value.len;
    return CHORD_OK;
}

uint64_t chord__state_hash(const uint8_t *blob, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ blob[i]) * 0x100000001b3ull;
    return h;
}

bool chord__keystate_newest(const struct chord_dvv *d, uint64_t wall_ms,
                            const uint8_t **value, size_t *value_len)
{
    int best = chord_dvv_newest_live(d, wall_ms);
    *value = best < 0 ? NULL : d->sib[best].value.data;
    *value_len = best < 0 ? 0 : d->sib[best].value.len;
    return best >= 0;
}

void chord__keystate_siblings_error(unsigned n, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "the key has %u concurrent values (siblings): read them with a "
             "context (dht get --all or --json), then put with --context",
             n);
}
