/*
 * commit.c - log, then apply; hold acknowledgements until durable (see
 * commit.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/commit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/dedup.h"
#include "core/node_internal.h"
#include "core/peer.h"

void chord__commit_init(struct chord_commit *c)
{
    memset(c, 0, sizeof(*c));
    chord_buf_init(&c->rec);
}

void chord__commit_free(struct chord_commit *c)
{
    while (c->deferred) {
        struct deferred *d = c->deferred;
        c->deferred = d->next;
        free(d);
    }
    c->deferred_tail = NULL;
    chord_buf_free(&c->rec);
}

void chord__stamp_tombstone(struct chord_node *n, const uint8_t *key,
                            size_t key_len)
{
    struct chord_store_entry view;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &view);
    if (e && e->tombstone)
        chord_store_set_stamp(n->store, key, key_len, n->now);
}

int chord__apply(struct chord_node *n, const struct chord_item *it,
                 uint64_t *seq)
{
    struct chord_commit *c = &n->commit;
    *seq = 0;
    if (it->version.counter > c->lamport)
        c->lamport = it->version.counter;
    /* Merge first: only a change that changed something is logged (a
     * copy we already hold costs no log record). A change the log then
     * refuses stays in memory unacknowledged, like a write that reached
     * fewer replicas than its quorum. */
    int rc = chord_store_apply(n->store, it);
    if (rc < 0)
        return rc;
    if (rc == 1 && n->io.persist) {
        chord_buf_reset(&c->rec);
        int erc = chord_item_encode(it, &c->rec);
        if (erc)
            return erc;
        uint64_t s = n->io.persist(n->io.ctx, c->rec.data, c->rec.len);
        if (s == 0)
            return -EIO;
        if (s > c->durable_seq)
            *seq = s;
    }
    if (rc == 1)
        chord__stamp_tombstone(n, it->key.data, it->key.len);
    if (it->has_origin)
        chord__dedup_record(n->dedup, &it->origin, n->now);
    return 0;
}

void chord__send_durable(struct chord_node *n, uint64_t seq, const char *addr,
                         const struct chord_msg *m)
{
    struct chord_commit *c = &n->commit;
    if (seq == 0 || seq <= c->durable_seq) {
        chord__send(n, addr, m);
        return;
    }
    struct chord_buf *out = n->peer.out;
    chord_buf_reset(out);
    if (chord_msg_encode(m, out) != 0)
        return;
    if (c->deferred_bytes + out->len > CHORD_DEFERRED_MAX) {
        chord__log(n, CHORD_LOG_WARN,
                   "too many acknowledgements wait for the log: dropping one "
                   "for %s",
                   addr);
        return;
    }
    struct deferred *d = malloc(sizeof(*d) + out->len);
    if (!d)
        return;
    d->next = NULL;
    d->seq = seq;
    chord__addr_copy(d->addr, addr);
    d->len = out->len;
    memcpy(d->data, out->data, out->len);
    if (c->deferred_tail)
        c->deferred_tail->next = d;
    else
        c->deferred = d;
    c->deferred_tail = d;
    c->deferred_bytes += d->len;
}

bool chord__commit_persisted(struct chord_node *n, uint64_t seq)
{
    struct chord_commit *c = &n->commit;
    if (seq <= c->durable_seq)
        return false;
    c->durable_seq = seq;
    while (c->deferred && c->deferred->seq <= c->durable_seq) {
        struct deferred *d = c->deferred;
        c->deferred = d->next;
        if (!c->deferred)
            c->deferred_tail = NULL;
        c->deferred_bytes -= d->len;
        n->io.send(n->io.ctx, d->addr, d->data, d->len);
        free(d);
    }
    return true;
}
