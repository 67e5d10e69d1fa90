/*
 * scan.c - the owner's side of C_SCAN (see scan.h): pick the live keys
 * after the cursor in the range this node owns, sort them by distance
 * from the cursor, and answer with as many as fit in one page.
 *
 * Invariants: the page is built and encoded within one call (its items
 * borrow from the store, which nothing changes meanwhile); every item of
 * a page lies in (after, range_hi] and range_hi lies in (after, self].
 *
 * Pure: no I/O, no clock.
 */
#include "core/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/coord.h"
#include "core/keystate.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"

/* A key of the range and its distance from the cursor (the sort key);
 * `at` is the store cursor that gives its entry again. */
struct scan_pick {
    struct chord_id dist;
    size_t at;
};

static int pick_cmp(const void *a, const void *b)
{
    const struct scan_pick *x = a, *y = b;
    return chord_id_cmp(&x->dist, &y->dist);
}

/*
 * The live keys in (after, self], sorted from the cursor on, into a fresh
 * array (*out, freed by the caller; NULL when there are none). Returns
 * how many, or -1 when out of memory.
 */
static long collect(const struct chord_node *n, const struct chord_id *after,
                    uint64_t wall, struct scan_pick **out)
{
    struct chord_store_entry ev;
    *out = NULL;
    size_t cap = 0, k = 0, cursor = 0, at = 0;
    struct scan_pick *picks = NULL;
    const struct chord_store_entry *e;
    for (; (e = chord_store_next(n->store, &cursor, &ev)) != NULL;
         at = cursor) {
        if (e->tombstone || (e->deadline && e->deadline <= wall) ||
            !chord_id_in_oc(&e->key_id, after, &n->rt.self.id) ||
            chord_key_reserved(e->key, e->key_len)) /* the ring's own */
            continue;
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct scan_pick *np = realloc(picks, ncap * sizeof(*np));
            if (!np) {
                free(picks);
                return -1;
            }
            picks = np;
            cap = ncap;
        }
        chord_id_sub(&picks[k].dist, &e->key_id, after);
        picks[k].at = at;
        k++;
    }
    if (k > 1)
        qsort(picks, k, sizeof(*picks), pick_cmp);
    *out = picks;
    return (long)k;
}

/* Fill r with the page after `after` (this node owns the id after it). */
static void scan_page(struct chord_node *n, uint64_t now,
                      const struct chord_msg *m, struct chord_msg *r,
                      struct chord_item **items_out)
{
    const struct chord_id *after = &m->range_lo;
    struct scan_pick *picks = NULL;
    long k = collect(n, after, chord__wall(n, now), &picks);
    if (k < 0) {
        r->status = CHORD_BUSY;
        snprintf(r->error, sizeof(r->error), "out of memory");
        return;
    }
    size_t budget = m->scan_max ? m->scan_max : CHORD_SCAN_PAGE_DEFAULT;
    if (budget > CHORD_SCAN_PAGE_MAX)
        budget = CHORD_SCAN_PAGE_MAX;

    struct chord_item *items = k ? calloc((size_t)k, sizeof(*items)) : NULL;
    if (k && !items) {
        free(picks);
        r->status = CHORD_BUSY;
        snprintf(r->error, sizeof(r->error), "out of memory");
        return;
    }
    size_t used = 0, taken = 0;
    struct chord_id last = n->rt.self.id; /* the id of the last item taken */
    for (long i = 0; i < k; i++) {
        struct chord_item it;
        struct chord_store_entry ev;
        size_t at = picks[i].at;
        chord_store_entry_item(chord_store_next(n->store, &at, &ev), &it);
        size_t sz = chord_item_wire_size(&it);
        if (taken > 0 && used + sz > budget)
            break; /* the first item goes whatever its size */
        items[taken++] = it;
        used += sz;
        last = ev.key_id;
    }
    r->status = CHORD_OK;
    chord__owned_lo(n, now, &r->range_lo);
    r->owner = n->rt.self;
    r->hint = *chord__live_succ(n, now);
    r->range_hi = taken < (size_t)k ? last : n->rt.self.id;
    r->items = items;
    r->n_items = (uint32_t)taken;
    *items_out = items;
    free(picks);
}

void chord__scan_handle(struct chord_node *n, uint64_t now, uint64_t conn,
                        const struct chord_msg *m)
{
    struct chord_msg *r = malloc(sizeof(*r));
    if (!r)
        return;
    chord_msg_init(r, CHORD_MSG_C_SCAN_RESULT, m->req_id);
    struct chord_item *items = NULL;
    struct chord_id first; /* the id just after the cursor */
    chord_id_add_pow2(&first, &m->range_lo, 0);
    if (n->state != CHORD_NODE_ACTIVE) {
        chord__coord_not_serving(n, r);
    } else if (!chord__owns_now(n, &first, now)) {
        char hex[CHORD_ID_HEX_LEN + 1];
        chord_id_to_hex(&m->range_lo, hex);
        r->status = CHORD_REDIRECT;
        r->hint = *chord__redirect_hint(n, &first, now);
        snprintf(r->error, sizeof(r->error),
                 "node %s does not own the keys after %.8s; ask %s",
                 n->rt.self.addr, hex, r->hint.addr);
    } else {
        scan_page(n, now, m, r, &items);
    }
    chord__reply(n, conn, r);
    free(items);
    free(r);
}
