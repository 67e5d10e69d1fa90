/*
 * replica.c - replicated writes, quorum reads, hedging and read repair
 * (see replica.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/read_lease.h"

void chord__replicas_init(struct chord_replicas *r)
{
    chord_seq_init(&r->writes, sizeof(struct pwrite));
    chord_seq_init(&r->reads, sizeof(struct pread));
}

/* Deliver an outcome to whoever asked. */
static void reply(struct chord_node *n, uint64_t now,
                  const struct chord_reply_to *to, uint8_t status,
                  const char *error, const struct chord_peer *hint,
                  const uint8_t *value, size_t value_len,
                  const struct chord_version *version)
{
    to->done(n, now, to, status, error, hint, value, value_len, version);
}

/* Can `reachable` copies (ours included) satisfy `needed`? If not, tell
 * the requester so and return false. */
static bool enough_replicas(struct chord_node *n, uint64_t now,
                            const struct chord_reply_to *to, unsigned reachable,
                            unsigned needed)
{
    if (reachable >= needed)
        return true;
    char why[120];
    snprintf(why, sizeof(why),
             "only %u of the %u replicas required are reachable", reachable,
             needed);
    reply(n, now, to, CHORD_UNAVAILABLE, why, NULL, NULL, 0, NULL);
    return false;
}

/* ------------------------------------------------------------------------ */
/* writes                                                                   */

static void write_finish(struct chord_node *n, uint64_t now, struct pwrite *w,
                         bool ok)
{
    struct chord_reply_to to = w->to;
    unsigned acks = w->acks, needed = w->needed;
    chord_seq_finish(&n->rep.writes, w);
    if (ok) {
        reply(n, now, &to, CHORD_OK, NULL, NULL, NULL, 0, NULL);
    } else {
        char why[120];
        snprintf(why, sizeof(why),
                 "write stored durably on %u of the %u replicas required", acks,
                 needed);
        reply(n, now, &to, CHORD_UNAVAILABLE, why, NULL, NULL, 0, NULL);
    }
}

/* Decide a write once it has enough copies, or can no longer get them. */
static void write_check(struct chord_node *n, uint64_t now, struct pwrite *w)
{
    if (w->acks >= w->needed)
        write_finish(n, now, w, true);
    else if (w->acks + w->pending < w->needed)
        write_finish(n, now, w, false);
}

void chord__replica_write(struct chord_node *n, uint64_t now,
                          const struct chord_item *item, bool keep_version,
                          uint8_t consistency, const struct chord_reply_to *to)
{
    struct chord_store_entry fv;
    if (keep_version) {
        const struct chord_store_entry *e =
            chord_store_find(n->store, item->key.data, item->key.len, &fv);
        if (e && chord_version_cmp(&e->version, &item->version) >= 0) {
            reply(n, now, to, CHORD_OK, NULL, NULL, NULL, 0, NULL);
            return;
        }
    }
    struct chord_item it = *item;
    if (it.tombstone)
        it.value.len = 0;
    if (!keep_version) { /* chord__apply moves the clock past a kept one */
        it.version.counter = ++n->commit.lamport;
        it.version.writer = n->rt.self.id;
    }

    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned r = chord__replica_factor(n);
    unsigned nt = chord__replica_targets(n, now, targets, r - 1);
    unsigned needed = chord__copies_needed(n, consistency);
    if (!enough_replicas(n, now, to, 1 + nt, needed))
        return;
    uint64_t seq;
    int rc = chord__apply(n, &it, &seq);
    if (rc) {
        chord__log(n, CHORD_LOG_ERROR, "cannot store a write: %s",
                   strerror(-rc));
        reply(n, now, to, CHORD_BUSY,
              rc == -EIO ? "the node cannot log writes" : "out of memory", NULL,
              NULL, 0, NULL);
        return;
    }
    struct pwrite *w = chord_seq_push(&n->rep.writes);
    if (!w) {
        reply(n, now, to, CHORD_BUSY, "out of memory", NULL, NULL, 0, NULL);
        return;
    }
    w->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    w->to = *to;
    w->needed = needed;
    w->version = it.version;
    w->local_seq = seq;
    w->pending = nt;
    if (seq == 0)
        w->acks = 1;
    else
        w->pending++;
    uint64_t wid = w->h.id;

    if (nt > 0) {
        struct chord_msg *m = chord__msg(n, CHORD_MSG_TRANSFER, 0);
        if (m) {
            m->flags = CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST;
            m->items = &it;
            m->n_items = 1;
            for (unsigned i = 0; i < nt; i++)
                chord__rpc(n, now, RPC_REPLICATE, &targets[i], wid, m);
            free(m);
        }
    }
    w = chord_seq_find(&n->rep.writes, wid);
    if (w)
        write_check(n, now, w);
}

/* ------------------------------------------------------------------------ */
/* reads                                                                    */

static void read_free(struct pread *p)
{
    free(p->key);
    free(p->value);
    p->key = p->value = NULL;
}

/* Adopt a copy if it is newer than the newest seen. */
static void read_consider(struct pread *p, bool found, bool tombstone,
                          const struct chord_version *v, const uint8_t *value,
                          size_t value_len)
{
    if (!found || (p->found && chord_version_cmp(v, &p->version) <= 0))
        return;
    uint8_t *copy = NULL;
    if (!tombstone) {
        copy = malloc(value_len ? value_len : 1);
        if (!copy)
            return;
        if (value_len)
            memcpy(copy, value, value_len);
    }
    free(p->value);
    p->value = copy;
    p->value_len = tombstone ? 0 : value_len;
    p->found = true;
    p->tombstone = tombstone;
    p->version = *v;
}

static void read_answer(struct chord_node *n, uint64_t now, struct pread *p)
{
    p->answered = true;
    if (p->found && !p->tombstone)
        reply(n, now, &p->to, CHORD_OK, NULL, NULL, p->value, p->value_len,
              &p->version);
    else
        reply(n, now, &p->to, CHORD_NOT_FOUND, "not found", NULL, NULL, 0,
              NULL);
}

/* Every replica answered or the deadline passed: repair, then forget. */
static void read_close(struct chord_node *n, uint64_t now, struct pread *p)
{
    struct chord_store_entry fv;
    if (!p->answered) {
        char why[120];
        snprintf(why, sizeof(why),
                 "only %u of the %u replicas required answered the read",
                 p->got, p->needed);
        p->answered = true;
        reply(n, now, &p->to, CHORD_UNAVAILABLE, why, NULL, NULL, 0, NULL);
    }
    if (p->found) {
        struct chord_item it = {0};
        it.key.data = p->key;
        it.key.len = p->key_len;
        it.tombstone = p->tombstone;
        it.value.data = p->value;
        it.value.len = p->value_len;
        it.version = p->version;
        const struct chord_store_entry *e =
            chord_store_find(n->store, p->key, p->key_len, &fv);
        if (!e || chord_version_cmp(&e->version, &p->version) < 0) {
            uint64_t seq;
            if (chord__apply(n, &it, &seq) == 0)
                chord__log(n, CHORD_LOG_DEBUG, "read repair of our own copy");
        }
        struct chord_msg *m = NULL;
        for (unsigned i = 0; i < p->n_asked; i++) {
            if (!p->answered_by[i] ||
                chord_version_cmp(&p->seen[i], &p->version) >= 0)
                continue;
            if (!m && !(m = chord__msg(n, CHORD_MSG_TRANSFER, 0)))
                break;
            m->flags = CHORD_TRANSFER_REPLICA | CHORD_TRANSFER_LAST;
            m->items = &it;
            m->n_items = 1;
            chord__log(n, CHORD_LOG_DEBUG, "read repair of %s",
                       p->asked[i].addr);
            chord__rpc(n, now, RPC_REPAIR, &p->asked[i], 0, m);
        }
        free(m);
    }
    read_free(p);
    chord_seq_finish(&n->rep.reads, p);
}

static void read_check(struct chord_node *n, uint64_t now, struct pread *p)
{
    if (!p->answered && p->got >= p->needed)
        read_answer(n, now, p);
    if (p->pending == 0 || (!p->answered && p->got + p->pending < p->needed))
        read_close(n, now, p);
}

/* How long to wait for a replica before asking another: a few of its
 * measured round trips (the failure detector keeps them), at least 5 ms. */
static uint64_t hedge_delay(const struct chord_node *n, const char *addr)
{
    const struct chord_fd_peer *fp = chord_fd_find(&n->fd, addr);
    uint64_t d = 5;
    if (fp && fp->rtt_known && 4 * fp->srtt_ms + 2 > (double)d)
        d = (uint64_t)(4 * fp->srtt_ms + 2);
    return d;
}

/* Ask the next replica not asked yet; false when there is none. */
static bool read_ask_next(struct chord_node *n, uint64_t now, struct pread *p)
{
    p->hedge_at = UINT64_MAX;
    if (p->n_asked >= p->n_targets)
        return false;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_REPLICA_GET, 0);
    if (!m)
        return false;
    m->key.data = p->key;
    m->key.len = p->key_len;
    struct chord_peer to = p->targets[p->n_asked];
    p->asked[p->n_asked++] = to;
    p->pending++;
    if (p->n_asked < p->n_targets)
        p->hedge_at = now + hedge_delay(n, to.addr);
    chord__rpc(n, now, RPC_REPLICA_GET, &to, p->h.id, m);
    free(m);
    return true;
}

void chord__replica_read(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, uint8_t consistency,
                         const struct chord_reply_to *to)
{
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &fv);
    unsigned needed = chord__copies_needed(n, consistency);
    bool alone = needed <= 1;
    if (!alone && consistency != CHORD_CONSISTENCY_ALL &&
        chord__lease_holds(n, now))
        alone = true;
    if (alone) {
        if (e && !e->tombstone)
            reply(n, now, to, CHORD_OK, NULL, NULL, e->value, e->value_len,
                  &e->version);
        else
            reply(n, now, to, CHORD_NOT_FOUND, "not found", NULL, NULL, 0,
                  NULL);
        return;
    }
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned nt =
        chord__replica_targets(n, now, targets, chord__replica_factor(n) - 1);
    if (!enough_replicas(n, now, to, 1 + nt, needed))
        return;
    struct pread *p = chord_seq_push(&n->rep.reads);
    uint8_t *k = p ? malloc(key_len) : NULL;
    if (!p || !k) {
        free(k);
        if (p)
            chord_seq_finish(&n->rep.reads, p);
        reply(n, now, to, CHORD_BUSY, "out of memory", NULL, NULL, 0, NULL);
        return;
    }
    memcpy(k, key, key_len);
    p->key = k;
    p->key_len = key_len;
    p->deadline = now + n->cfg.rpc_timeout_ms * 3 / 4;
    p->to = *to;
    p->needed = needed;
    p->got = 1;
    if (e)
        read_consider(p, true, e->tombstone, &e->version, e->value,
                      e->value_len);
    memcpy(p->targets, targets, nt * sizeof(targets[0]));
    p->n_targets = nt;
    for (unsigned i = 0; i + 1 < needed; i++)
        read_ask_next(n, now, p);
    read_check(n, now, p);
}

void chord__replica_handle_get(struct chord_node *n, const struct chord_msg *m)
{
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, m->key.data, m->key.len, &fv);
    struct chord_msg *r = chord__msg(n, CHORD_MSG_STORE_RESULT, m->req_id);
    if (!r)
        return;
    r->status = e && !e->tombstone ? CHORD_OK : CHORD_NOT_FOUND;
    if (e) {
        r->version = e->version; /* a tombstone's version counts too */
        r->has_value = !e->tombstone;
        r->value.data = e->value;
        r->value.len = e->tombstone ? 0 : e->value_len;
    }
    chord__send(n, m->from.addr, r);
    free(r);
}

void chord__replica_answer(struct chord_node *n, uint64_t now,
                           const struct rpc *r, const struct chord_msg *m)
{
    switch (r->kind) {
    case RPC_REPLICATE: {
        struct pwrite *w = chord_seq_find(&n->rep.writes, r->arg);
        if (!w)
            return;
        w->pending--;
        if (m)
            w->acks++;
        write_check(n, now, w);
        return;
    }
    case RPC_REPLICA_GET: {
        struct pread *p = chord_seq_find(&n->rep.reads, r->arg);
        if (!p)
            return;
        p->pending--;
        if (!m || m->type != CHORD_MSG_STORE_RESULT) {
            /* That replica failed: ask another one, if any is left. */
            if (!p->answered)
                read_ask_next(n, now, p);
        } else {
            p->got++;
            bool found = m->version.counter != 0;
            bool tomb = m->status != CHORD_OK;
            read_consider(p, found, tomb, &m->version, m->value.data,
                          m->value.len);
            for (unsigned i = 0; i < p->n_asked; i++)
                if (chord__peer_same(&p->asked[i], &r->peer)) {
                    p->answered_by[i] = true;
                    p->seen[i] = m->version;
                }
        }
        read_check(n, now, p);
        return;
    }
    default: /* RPC_REPAIR: nothing to do either way */
        return;
    }
}

void chord__replica_persisted(struct chord_node *n, uint64_t now)
{
    uint64_t last = n->rep.writes.next_id;
    for (uint64_t id = n->rep.writes.first_id; id < last; id++) {
        struct pwrite *w = chord_seq_find(&n->rep.writes, id);
        if (w && w->local_seq && w->local_seq <= n->commit.durable_seq) {
            w->local_seq = 0;
            w->pending--;
            w->acks++;
            write_check(n, now, w);
        }
    }
}

void chord__replica_tick(struct chord_node *n, uint64_t now)
{
    struct pwrite *w;
    while ((w = chord_seq_head(&n->rep.writes)) != NULL && w->deadline <= now)
        write_finish(n, now, w, false);
    struct pread *p;
    while ((p = chord_seq_head(&n->rep.reads)) != NULL && p->deadline <= now)
        read_close(n, now, p);
    uint64_t last = n->rep.reads.next_id;
    for (uint64_t id = n->rep.reads.first_id; id < last; id++) {
        p = chord_seq_find(&n->rep.reads, id);
        if (p && !p->answered && p->hedge_at <= now)
            read_ask_next(n, now, p); /* a slow replica: hedge */
    }
}

uint64_t chord__replica_deadline(const struct chord_node *n)
{
    uint64_t t = UINT64_MAX;
    const struct pwrite *w = chord_seq_peek(&n->rep.writes);
    if (w && w->deadline < t)
        t = w->deadline;
    const struct pread *p = chord_seq_peek(&n->rep.reads);
    if (p && p->deadline < t)
        t = p->deadline;
    for (size_t i = 0; i < n->rep.reads.len; i++) {
        const struct pread *q = chord_seq_at_const(&n->rep.reads, i);
        if (q->h.live && !q->answered && q->hedge_at < t)
            t = q->hedge_at;
    }
    return t;
}

void chord__replicas_free(struct chord_replicas *r)
{
    uint64_t last = r->reads.next_id;
    for (uint64_t id = r->reads.first_id; id < last; id++) {
        struct pread *p = chord_seq_find(&r->reads, id);
        if (p)
            read_free(p);
    }
    chord_seq_free(&r->writes);
    chord_seq_free(&r->reads);
}
