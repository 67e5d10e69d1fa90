/*
 * replica_batch.c - replicated writes held per replica and sent as one
 * TRANSFER frame each (see replica_batch.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/replica_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/node_internal.h"
#include "core/peer.h"
#include "core/transfer.h"

void chord__rbatches_init(struct chord_rbatches *b,
                          chord_rbatch_outcome_fn outcome)
{
    memset(b->held, 0, sizeof b->held);
    b->n_held = 0;
    chord_seq_init(&b->flights, sizeof(struct rbatch_flight));
    b->outcome = outcome;
}

void chord__rbatches_free(struct chord_rbatches *b)
{
    for (unsigned i = 0; i < CHORD_SUCC_MAX; i++) {
        chord_buf_free(&b->held[i].items);
        free(b->held[i].wids);
    }
    uint64_t last = b->flights.next_id;
    for (uint64_t id = b->flights.first_id; id < last; id++) {
        struct rbatch_flight *f = chord_seq_find(&b->flights, id);
        if (f)
            free(f->wids);
    }
    chord_seq_free(&b->flights);
}

/* Tell every write of a batch (wids[0..k)) what became of its copy. */
static void tell(struct chord_node *n, uint64_t now, const uint64_t *wids,
                 uint32_t k, bool acked)
{
    for (uint32_t i = 0; i < k; i++)
        n->rep.batch.outcome(n, now, wids[i], acked);
}

/* Send the copies held in h as one frame, then hold nothing there. */
static void send_held(struct chord_node *n, uint64_t now, struct rbatch_held *h)
{
    struct chord_rbatches *b = &n->rep.batch;
    uint32_t k = h->n_items;
    uint64_t *wids = h->wids; /* goes with the flight when k > 1 */
    h->wids = NULL;
    h->cap = 0;
    h->n_items = 0;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_TRANSFER, 0);
    struct rbatch_flight *f = m ? chord_seq_push(&b->flights) : NULL;
    uint64_t fid = 0;
    if (f) {
        fid = f->h.id;
        f->n = k;
        if (k == 1)
            f->wid = wids[0];
        else
            f->wids = wids;
        m->flags = CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST;
        m->n_items = k;
        m->items_raw.data = h->items.data;
        m->items_raw.len = h->items.len;
        n->metrics.replica_frames_sent++;
        n->metrics.replica_items_sent += k;
        /* Settled (answered, timed out, unreachable) through replica.c's
         * answer, which calls chord__rbatch_settled(). */
        if (chord__rpc(n, now, RPC_REPLICATE, &h->to, fid, m) == 0)
            chord__rbatch_settled(n, now, fid, false);
    } else {
        chord__log(n, CHORD_LOG_ERROR, "out of memory replicating to %s",
                   h->to.addr);
    }
    chord__msg_free(n, m);
    chord_buf_reset(&h->items);
    if (!f) {
        tell(n, now, wids, k, false);
        free(wids);
    } else if (k == 1) {
        free(wids);
    }
}

/* Drop the (now empty) held slot i, keeping the others at the front. */
static void held_remove(struct chord_rbatches *b, unsigned i)
{
    struct rbatch_held gone = b->held[i];
    b->held[i] = b->held[b->n_held - 1];
    b->held[--b->n_held] = gone;
}

unsigned chord__rbatch_flush(struct chord_node *n, uint64_t now)
{
    struct chord_rbatches *b = &n->rep.batch;
    unsigned sent = 0;
    /* An outcome may hold more (a write answered, a new one started):
     * take the slots from the back, re-reading n_held each time. */
    while (b->n_held > 0) {
        unsigned i = b->n_held - 1;
        struct rbatch_held *h = &b->held[i];
        struct rbatch_held out = *h;
        /* Move the slot out before sending: whatever sending starts
         * holds into a fresh slot. */
        chord_buf_init(&h->items);
        h->wids = NULL;
        h->cap = 0;
        h->n_items = 0;
        held_remove(b, i);
        send_held(n, now, &out);
        chord_buf_free(&out.items);
        free(out.wids);
        sent++;
    }
    return sent;
}

/* The held slot for `to`, a new one, or NULL when all are taken. */
static struct rbatch_held *held_for(struct chord_rbatches *b,
                                    const struct chord_peer *to, uint64_t now)
{
    for (unsigned i = 0; i < b->n_held; i++)
        if (chord__peer_same(&b->held[i].to, to))
            return &b->held[i];
    if (b->n_held >= CHORD_SUCC_MAX)
        return NULL;
    struct rbatch_held *h = &b->held[b->n_held++];
    h->to = *to;
    h->n_items = 0;
    h->since = now;
    chord_buf_reset(&h->items);
    return h;
}

int chord__rbatch_add(struct chord_node *n, uint64_t now,
                      const struct chord_peer *to, const struct chord_item *it,
                      uint64_t wid)
{
    struct chord_rbatches *b = &n->rep.batch;
    size_t sz = chord_item_wire_size(it);
    struct rbatch_held *h = held_for(b, to, now);
    if (!h) { /* more replicas than slots: send what is held */
        chord__rbatch_flush(n, now);
        h = held_for(b, to, now);
    } else if (h->n_items > 0 &&
               (h->n_items >= CHORD_RBATCH_ITEMS_MAX ||
                h->items.len + sz > CHORD_TRANSFER_BATCH_BYTES)) {
        /* Full: this one starts the next frame. Send it as a whole
         * flush would, so the slot's order is kept. */
        chord__rbatch_flush(n, now);
        h = held_for(b, to, now);
    }
    if (!h)
        return -ENOMEM; /* cannot happen: the flush emptied the slots */
    int rc = 0;
    if (h->n_items == h->cap) {
        uint32_t cap = h->cap ? 2 * h->cap : 8;
        if (cap > CHORD_RBATCH_ITEMS_MAX)
            cap = CHORD_RBATCH_ITEMS_MAX;
        uint64_t *w = realloc(h->wids, cap * sizeof *w);
        if (w) {
            h->wids = w;
            h->cap = cap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (!rc)
        rc = chord_item_encode(it, &h->items);
    if (!rc) {
        if (h->n_items == 0)
            h->since = now;
        h->wids[h->n_items++] = wid;
    } else if (h->n_items == 0) { /* do not keep an empty slot */
        held_remove(b, (unsigned)(h - b->held));
    }
    return rc;
}

void chord__rbatch_settled(struct chord_node *n, uint64_t now, uint64_t id,
                           bool acked)
{
    struct chord_rbatches *b = &n->rep.batch;
    struct rbatch_flight *f = chord_seq_find(&b->flights, id);
    if (!f)
        return;
    /* Copy it out first: an outcome may push another flight. */
    uint32_t k = f->n;
    uint64_t one = f->wid;
    uint64_t *wids = f->wids;
    chord_seq_finish(&b->flights, f);
    tell(n, now, k == 1 ? &one : wids, k, acked);
    free(wids);
}

uint64_t chord__rbatch_deadline(const struct chord_node *n)
{
    const struct chord_rbatches *b = &n->rep.batch;
    uint64_t t = UINT64_MAX;
    for (unsigned i = 0; i < b->n_held; i++)
        if (b->held[i].since < t)
            t = b->held[i].since;
    return t;
}
