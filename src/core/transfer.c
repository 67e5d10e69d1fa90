/*
 * transfer.c - key streams to a peer, in acknowledged batches, and the
 * receiving end (see transfer.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/transfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"

static void transfer_free(struct transfer *t)
{
    for (size_t i = 0; i < t->n_keys; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->key_lens);
    free(t);
}

void chord__transfers_free(struct chord_transfers *x)
{
    while (x->list) {
        struct transfer *t = x->list;
        x->list = t->next;
        transfer_free(t);
    }
}

static void transfer_unlink(struct chord_node *n, struct transfer *t)
{
    for (struct transfer **pp = &n->xfer.list; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static struct transfer *transfer_find(struct chord_node *n, uint64_t id)
{
    for (struct transfer *t = n->xfer.list; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

/* t ended: log it, forget it, tell whoever started it. */
static void transfer_done(struct chord_node *n, uint64_t now,
                          struct transfer *t, bool ok)
{
    uint8_t purpose = t->purpose;
    chord_transfer_done_fn done = t->done;
    chord__log(n,
               !ok                                     ? CHORD_LOG_WARN
               : t->sent_items && purpose != XFER_SYNC ? CHORD_LOG_INFO
                                                       : CHORD_LOG_DEBUG,
               "%s %zu keys to %s", ok ? "sent" : "failed to send",
               t->sent_items, t->to.addr);
    transfer_unlink(n, t);
    transfer_free(t);
    if (done)
        done(n, now, ok);
}

/* Send the next batch of t (or the empty LAST batch). */
static void transfer_send_batch(struct chord_node *n, uint64_t now,
                                struct transfer *t)
{
    struct chord_store_entry fv;
    size_t cap = t->n_keys - t->pos;
    struct chord_item *items = calloc(cap ? cap : 1, sizeof(*items));
    struct chord_msg *m = chord__msg(n, CHORD_MSG_TRANSFER, 0);
    if (!items || !m) {
        free(items);
        free(m);
        chord__log(n, CHORD_LOG_ERROR, "out of memory sending keys to %s",
                   t->to.addr);
        transfer_done(n, now, t, false);
        return;
    }
    size_t bytes = 0, k = 0, i = t->pos;
    for (; i < t->n_keys; i++) {
        const struct chord_store_entry *e =
            chord_store_find(n->store, t->keys[i], t->key_lens[i], &fv);
        if (!e)
            continue; /* removed meanwhile */
        struct chord_item it;
        chord_store_entry_item(e, &it);
        size_t sz = chord_item_wire_size(&it);
        if (k > 0 && bytes + sz > CHORD_TRANSFER_BATCH_BYTES)
            break;
        items[k++] = it;
        bytes += sz;
    }
    t->batch_end = i;
    m->flags = t->flags | (i == t->n_keys ? CHORD_TRANSFER_LAST : 0);
    m->items = items;
    m->n_items = (uint32_t)k;
    t->sent_items += k;
    if (t->purpose == XFER_SYNC)
        n->metrics.sync_keys_sent += k;
    else
        n->metrics.transfer_keys_sent += k;
    chord__rpc(n, now, RPC_TRANSFER, &t->to, t->id, m);
    free(items);
    chord__msg_free(n, m);
}

void chord__transfer_start(struct chord_node *n, uint64_t now,
                           const struct chord_peer *to, uint8_t flags,
                           uint8_t purpose, chord_want_fn want, const void *ctx,
                           chord_transfer_done_fn done)
{
    struct chord_store_entry ev;
    struct transfer *t = calloc(1, sizeof(*t));
    size_t total = chord_store_size(n->store);
    if (t) {
        t->keys = calloc(total ? total : 1, sizeof(*t->keys));
        t->key_lens = calloc(total ? total : 1, sizeof(*t->key_lens));
    }
    if (!t || !t->keys || !t->key_lens) {
        if (t)
            transfer_free(t);
        chord__log(n, CHORD_LOG_ERROR, "out of memory starting transfer to %s",
                   to->addr);
        return;
    }
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL) {
        if (!want(n, e, ctx))
            continue;
        uint8_t *k = malloc(e->key_len ? e->key_len : 1);
        if (!k) {
            transfer_free(t);
            return;
        }
        memcpy(k, e->key, e->key_len);
        t->keys[t->n_keys] = k;
        t->key_lens[t->n_keys++] = e->key_len;
    }
    t->id = ++n->xfer.next_id;
    t->to = *to;
    t->flags = flags;
    t->purpose = purpose;
    t->done = done;
    t->next = n->xfer.list;
    n->xfer.list = t;
    static const char *why[] = {"", " (hand-off)", " (anti-entropy)",
                                " (no longer a replica)"};
    chord__log(
        n, t->n_keys && purpose != XFER_SYNC ? CHORD_LOG_INFO : CHORD_LOG_DEBUG,
        "sending %zu keys to %s%s", t->n_keys, to->addr, why[purpose]);
    transfer_send_batch(n, now, t);
}

static void transfer_acked(struct chord_node *n, uint64_t now,
                           struct transfer *t)
{
    struct chord_store_entry fv;
    if (t->purpose == XFER_JOIN || t->purpose == XFER_ORPHAN) {
        /* The receiver has them durably: drop what we no longer
         * replicate (with r > 1 a joiner's successor keeps its keys). */
        for (size_t i = t->pos; i < t->batch_end; i++) {
            const struct chord_store_entry *e =
                chord_store_find(n->store, t->keys[i], t->key_lens[i], &fv);
            if (e && !chord__replica_holds(n, &e->key_id))
                chord_store_remove(n->store, t->keys[i], t->key_lens[i]);
        }
    }
    t->pos = t->batch_end;
    t->retries = 0;
    if (t->pos >= t->n_keys)
        transfer_done(n, now, t, true);
    else
        transfer_send_batch(n, now, t);
}

static void transfer_failed(struct chord_node *n, uint64_t now,
                            struct transfer *t)
{
    if (++t->retries > CHORD_TRANSFER_RETRIES ||
        chord__is_dead(n, t->to.addr, now)) {
        transfer_done(n, now, t, false);
        return;
    }
    transfer_send_batch(n, now, t);
}

void chord__transfer_answer(struct chord_node *n, uint64_t now,
                            const struct rpc *r, const struct chord_msg *m)
{
    struct transfer *t = transfer_find(n, r->arg);
    if (!t)
        return;
    if (!m)
        transfer_failed(n, now, t);
    else if (m->type == CHORD_MSG_TRANSFER_ACK)
        transfer_acked(n, now, t);
}

int chord__transfer_receive(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m)
{
    (void)now;
    struct chord_bytes cur = m->items_raw;
    struct chord_item it;
    size_t count = 0;
    uint64_t wait_for = 0; /* the last log record these items needed */
    while (chord_items_next(&cur, &it) == 1) {
        count++;
        uint64_t seq;
        int rc = chord__apply(n, &it, &seq);
        if (rc == -ENOSPC || rc == -EPROTO || rc == -EMSGSIZE) {
            /* This key cannot take that copy (over a state's caps, or a
             * blob that does not decode): keep ours, take the others. */
            chord__log(n, CHORD_LOG_WARN,
                       "kept our copy of a key: the one from %s %s",
                       m->from.addr,
                       rc == -ENOSPC ? "would pass a key's caps merged"
                                     : "is malformed");
            continue;
        }
        if (rc < 0) {
            chord__log(n, CHORD_LOG_ERROR, "cannot store keys from %s: %s",
                       m->from.addr, strerror(-rc));
            return rc; /* no ack: the sender retries */
        }
        if (seq > wait_for)
            wait_for = seq;
    }
    struct chord_msg *ack = chord__msg(n, CHORD_MSG_TRANSFER_ACK, m->req_id);
    if (ack) {
        chord__send_durable(n, wait_for, m->from.addr, ack);
        chord__msg_free(n, ack);
    }
    n->metrics.transfer_keys_received += count;
    if (count)
        chord__log(n, CHORD_LOG_DEBUG, "received %zu keys from %s", count,
                   m->from.addr);
    return 0;
}

bool chord__want_not_owned(struct chord_node *n,
                           const struct chord_store_entry *e, const void *ctx)
{
    (void)ctx;
    return !chord_routing_owns(&n->rt, &e->key_id);
}

bool chord__want_range(struct chord_node *n, const struct chord_store_entry *e,
                       const void *ctx)
{
    (void)n;
    const struct chord_range *r = ctx;
    return chord_id_in_oc(&e->key_id, &r->lo, &r->hi);
}

bool chord__want_all(struct chord_node *n, const struct chord_store_entry *e,
                     const void *ctx)
{
    (void)n;
    (void)e;
    (void)ctx;
    return true;
}
