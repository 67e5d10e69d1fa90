/*
 * locks.c - the locks a node owns (see locks.h).
 *
 * Three tables: the soft state (lease deadline, waiters' last requests)
 * of recently used locks, the record writes waiting for their quorum
 * (each holds the answer to give once the record is safe), and the
 * releases being applied (each holds the release requests to answer).
 *
 * Pure: no I/O, no clock.
 */
#include "core/locks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/lock.h"
#include "core/keystate.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/replica.h"
#include "core/store.h"

#define RELEASE_WAITERS_MAX 8 /* release requests answered by one release */

struct waiter_seen {
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    uint64_t at;
};

/* What the owner alone knows of a lock. Valid for the record version
 * `version` only: a record changed by someone else starts it afresh. */
struct lock_soft {
    uint8_t key[CHORD_LOCK_KEY_MAX];
    size_t key_len; /* 0: free slot */
    struct chord_version version;
    uint64_t used;
    uint64_t lease_deadline;
    size_t n_seen;
    struct waiter_seen *seen; /* malloc'd, CHORD_LOCK_WAITERS_MAX */
};

/* A record write waiting for its quorum, and the answer it then gives. */
struct lock_write {
    struct chord_seq_hdr h;
    struct chord_reply_to to;
    uint8_t status;
    char error[CHORD_ERRMSG_MAX];
    struct chord_buf answer; /* the record to answer with */
    uint64_t release;        /* a release's final write: its id; or 0 */
    bool start_release;      /* the intent of a release: start it then */
    uint8_t key[CHORD_LOCK_KEY_MAX];
    size_t key_len;
};

/* A release applying a holder's queue. */
struct lock_release {
    struct chord_seq_hdr h;
    uint8_t key[CHORD_LOCK_KEY_MAX];
    size_t key_len;
    struct chord_id pos;
    uint64_t fence;
    uint8_t rid_client[CHORD_CLIENT_ID_BYTES];
    uint8_t *raw;               /* the record as the release found it */
    struct chord_lock_state st; /* borrows from raw */
    size_t next;                /* the next append to apply */
    bool finishing;             /* the final record write is out */
    bool stepping;              /* release_step is issuing an append */
    bool again;                 /* ... which finished before it returned */
    unsigned n_waiting;
    struct chord_reply_to waiting[RELEASE_WAITERS_MAX];
};

void chord__locks_init(struct chord_locks *l)
{
    memset(l, 0, sizeof *l);
    chord_seq_init(&l->writes, sizeof(struct lock_write));
    chord_seq_init(&l->releases, sizeof(struct lock_release));
}

static void release_free(struct lock_release *r)
{
    chord_lock_state_clear(&r->st);
    free(r->raw);
    r->raw = NULL;
}

void chord__locks_free(struct chord_locks *l)
{
    for (size_t i = 0; l->soft && i < CHORD_LOCKS_SOFT_MAX; i++)
        free(l->soft[i].seen);
    free(l->soft);
    for (size_t i = 0; i < l->writes.len; i++) {
        struct lock_write *w = chord_seq_at(&l->writes, i);
        if (w->h.live)
            chord_buf_free(&w->answer);
    }
    chord_seq_free(&l->writes);
    for (size_t i = 0; i < l->releases.len; i++) {
        struct lock_release *r = chord_seq_at(&l->releases, i);
        if (r->h.live)
            release_free(r);
    }
    chord_seq_free(&l->releases);
}

/* The record's key, "\0chord:lock:" name, into key: its length. */
static size_t lock_key(uint8_t key[CHORD_LOCK_KEY_MAX], const uint8_t *name,
                       size_t len)
{
    size_t n = len > CHORD_LOCK_NAME_MAX ? CHORD_LOCK_NAME_MAX : len;
    memcpy(key, CHORD_RESERVED_PREFIX, CHORD_RESERVED_PREFIX_LEN);
    memcpy(key + CHORD_RESERVED_PREFIX_LEN, "lock:", 5);
    memcpy(key + CHORD_RESERVED_PREFIX_LEN + 5, name, n);
    return CHORD_RESERVED_PREFIX_LEN + 5 + n;
}

static const uint8_t *key_name(const uint8_t *key, size_t key_len,
                               size_t *name_len)
{
    *name_len = key_len - CHORD_RESERVED_PREFIX_LEN - 5;
    return key + CHORD_RESERVED_PREFIX_LEN + 5;
}

/* ------------------------------------------------------------------------ */
/* soft state                                                               */

/* The soft state of the record `key` at version v (NULL: out of memory),
 * started afresh when it belonged to another version. */
static struct lock_soft *soft_get(struct chord_node *n, uint64_t now,
                                  const uint8_t *key, size_t key_len,
                                  const struct chord_version *v,
                                  const struct chord_lock_state *st)
{
    struct chord_locks *l = &n->locks;
    if (!l->soft) {
        l->soft = calloc(CHORD_LOCKS_SOFT_MAX, sizeof *l->soft);
        if (!l->soft)
            return NULL;
    }
    struct lock_soft *s = NULL, *victim = &l->soft[0];
    for (size_t i = 0; i < CHORD_LOCKS_SOFT_MAX; i++) {
        struct lock_soft *c = &l->soft[i];
        if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0) {
            s = c;
            break;
        }
        if (c->used < victim->used)
            victim = c;
    }
    if (!s) {
        s = victim;
        memcpy(s->key, key, key_len);
        s->key_len = key_len;
        s->version = (struct chord_version){0};
        s->version.counter = UINT64_MAX; /* matches no record: start */
    }
    if (!s->seen) {
        s->seen = malloc(CHORD_LOCK_WAITERS_MAX * sizeof *s->seen);
        if (!s->seen) {
            s->key_len = 0;
            return NULL;
        }
    }
    s->used = ++l->soft_clock;
    if (chord_version_cmp(&s->version, v) != 0) {
        /* A record we did not write last: lease and waiters start now. */
        s->version = *v;
        s->lease_deadline = now + st->lease_ms;
        s->n_seen = 0;
        for (size_t i = 0; i < st->n_waiters; i++) {
            memcpy(s->seen[s->n_seen].client, st->waiters[i].client,
                   CHORD_CLIENT_ID_BYTES);
            s->seen[s->n_seen++].at = now;
        }
    }
    return s;
}

static struct waiter_seen *seen_find(struct lock_soft *s, const uint8_t *c)
{
    for (size_t i = 0; i < s->n_seen; i++)
        if (memcmp(s->seen[i].client, c, CHORD_CLIENT_ID_BYTES) == 0)
            return &s->seen[i];
    return NULL;
}

static void seen_touch(struct lock_soft *s, const uint8_t *c, uint64_t now)
{
    struct waiter_seen *w = seen_find(s, c);
    if (!w && s->n_seen < CHORD_LOCK_WAITERS_MAX) {
        w = &s->seen[s->n_seen++];
        memcpy(w->client, c, CHORD_CLIENT_ID_BYTES);
    }
    if (w)
        w->at = now;
}

/* ------------------------------------------------------------------------ */
/* the state machine on a decoded record                                    */

static ssize_t waiter_index(const struct chord_lock_state *st, const uint8_t *c)
{
    for (size_t i = 0; i < st->n_waiters; i++)
        if (memcmp(st->waiters[i].client, c, CHORD_CLIENT_ID_BYTES) == 0)
            return (ssize_t)i;
    return -1;
}

static void waiter_remove(struct chord_lock_state *st, size_t i)
{
    memmove(&st->waiters[i], &st->waiters[i + 1],
            (st->n_waiters - i - 1) * sizeof st->waiters[0]);
    st->n_waiters--;
}

/* Drop an expired holder (and its queue) and the waiters that stopped
 * asking. True when the record changed. */
static bool expire(struct chord_lock_state *st, struct lock_soft *s,
                   uint64_t now)
{
    bool changed = false;
    if (st->held && !st->releasing && now >= s->lease_deadline) {
        st->held = false;
        st->n_queue = 0;
        changed = true;
    }
    for (size_t i = 0; i < st->n_waiters;) {
        struct waiter_seen *w = seen_find(s, st->waiters[i].client);
        if (!w || now - w->at > CHORD_LOCK_WAITER_GRACE_MS) {
            waiter_remove(st, i);
            changed = true;
        } else {
            i++;
        }
    }
    return changed;
}

static bool is_holder(const struct chord_lock_state *st, const uint8_t *c,
                      uint64_t fence)
{
    return st->held && st->fence == fence &&
           memcmp(st->holder, c, CHORD_CLIENT_ID_BYTES) == 0;
}

/* What one operation did. */
struct outcome {
    uint8_t status;
    char error[CHORD_ERRMSG_MAX];
    bool changed;
    bool start_release;
};

static void refuse(struct outcome *o, uint8_t status, const char *why)
{
    o->status = status;
    snprintf(o->error, sizeof o->error, "%s", why);
}

static void op_acquire(const struct chord_msg *m, struct chord_lock_state *st,
                       struct lock_soft *s, uint64_t now, struct outcome *o)
{
    const uint8_t *c = m->lock_client;
    if (st->held && memcmp(st->holder, c, CHORD_CLIENT_ID_BYTES) == 0)
        return; /* granted already: a retry, or the holder asking again */
    ssize_t at = waiter_index(st, c);
    uint32_t lease = m->lease_ms ? m->lease_ms : CHORD_LOCK_LEASE_DEFAULT_MS;
    if (lease > CHORD_LOCK_LEASE_MAX_MS)
        lease = CHORD_LOCK_LEASE_MAX_MS;
    if (!st->held && !st->releasing && (st->n_waiters == 0 || at == 0)) {
        if (at == 0)
            waiter_remove(st, 0);
        st->held = true;
        st->fence++;
        memcpy(st->holder, c, CHORD_CLIENT_ID_BYTES);
        st->lease_ms = lease;
        st->n_queue = 0;
        s->lease_deadline = now + lease;
        o->changed = true;
        return;
    }
    seen_touch(s, c, now);
    if (at < 0) {
        if (st->n_waiters >= CHORD_LOCK_WAITERS_MAX) {
            refuse(o, CHORD_BUSY, "the lock's queue of waiters is full");
            return;
        }
        /* decode made room for CHORD_LOCK_WAITERS_MAX waiters */
        memcpy(st->waiters[st->n_waiters].client, c, CHORD_CLIENT_ID_BYTES);
        st->waiters[st->n_waiters++].lease_ms = lease;
        o->changed = true;
    }
    refuse(o, CHORD_QUEUED, "queued behind the holder");
}

static void op_append(const struct chord_msg *m, struct chord_lock_state *st,
                      struct lock_soft *s, uint64_t now, struct outcome *o)
{
    if (!is_holder(st, m->lock_client, m->lock_fence) || st->releasing) {
        refuse(o, CHORD_PRECONDITION,
               st->releasing ? "the lock is being released"
                             : "not the holder of the lock (its lease may "
                               "have expired: the queue was discarded)");
        return;
    }
    s->lease_deadline = now + st->lease_ms;
    for (size_t i = 0; m->has_rid && i < st->n_queue; i++)
        if (st->queue[i].seq == m->rid.seq &&
            memcmp(st->queue[i].client, m->rid.client, CHORD_CLIENT_ID_BYTES) ==
                0)
            return; /* queued already: a retry */
    if (st->n_queue >= CHORD_LOCK_QUEUE_MAX ||
        chord_lock_queue_bytes(st) + m->key2.len + m->value.len >
            CHORD_LOCK_QUEUE_BYTES) {
        refuse(o, CHORD_TOO_LARGE, "the lock's queue of appends is full");
        return;
    }
    struct chord_lock_queued *q = &st->queue[st->n_queue++];
    memset(q, 0, sizeof *q);
    if (m->has_rid) {
        memcpy(q->client, m->rid.client, CHORD_CLIENT_ID_BYTES);
        q->seq = m->rid.seq;
    }
    q->key = m->key2.data;
    q->key_len = m->key2.len;
    q->value = m->value.data;
    q->value_len = m->value.len;
    o->changed = true;
}

/* Did the release of `fence` complete (the newest one, or one the record
 * still remembers)? */
static bool released_before(const struct chord_lock_state *st, uint64_t fence)
{
    if (st->released == fence)
        return true;
    for (unsigned i = 0; i < st->n_done; i++)
        if (st->done[i] == fence)
            return true;
    return false;
}

static void op_release(const struct chord_msg *m, struct chord_lock_state *st,
                       struct outcome *o)
{
    if (m->lock_fence != 0 && released_before(st, m->lock_fence))
        return; /* done already: a retry */
    if (!is_holder(st, m->lock_client, m->lock_fence)) {
        refuse(o, CHORD_PRECONDITION,
               "not the holder of the lock (its lease may have expired: "
               "the queue was discarded)");
        return;
    }
    if (!st->releasing) {
        st->releasing = true;
        o->changed = true;
    }
    o->start_release = true;
}

/* Apply m to the decoded record. */
static void apply_op(const struct chord_msg *m, struct chord_lock_state *st,
                     struct lock_soft *s, uint64_t now, struct outcome *o)
{
    switch (m->lock_op) {
    case CHORD_LOCK_ACQUIRE:
        op_acquire(m, st, s, now, o);
        break;
    case CHORD_LOCK_RENEW:
        if (is_holder(st, m->lock_client, m->lock_fence) && !st->releasing)
            s->lease_deadline = now + st->lease_ms;
        else
            refuse(o, CHORD_PRECONDITION,
                   "not the holder of the lock (its lease may have expired)");
        break;
    case CHORD_LOCK_APPEND:
        op_append(m, st, s, now, o);
        break;
    case CHORD_LOCK_RELEASE:
        op_release(m, st, o);
        break;
    case CHORD_LOCK_CANCEL: {
        ssize_t at = waiter_index(st, m->lock_client);
        if (at >= 0) {
            waiter_remove(st, (size_t)at);
            o->changed = true;
        }
        break;
    }
    default: /* STATUS */
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* records                                                                  */

static void reply_to(struct chord_node *n, uint64_t now,
                     const struct chord_reply_to *to, uint8_t status,
                     const char *error, const struct chord_buf *answer)
{
    if (!to || !to->done)
        return;
    to->done(n, now, to, status, error && *error ? error : NULL, NULL,
             answer ? answer->data : NULL, answer ? answer->len : 0, NULL);
}

/* Forget release r, then answer everyone who waited on it (copied first:
 * an answer may start other work). */
static void release_end(struct chord_node *n, uint64_t now,
                        struct lock_release *r, uint8_t status, const char *why,
                        const struct chord_buf *answer)
{
    struct chord_reply_to waiting[RELEASE_WAITERS_MAX];
    unsigned k = r->n_waiting;
    memcpy(waiting, r->waiting, k * sizeof waiting[0]);
    release_free(r);
    chord_seq_finish(&n->locks.releases, r);
    for (unsigned i = 0; i < k; i++)
        reply_to(n, now, &waiting[i], status, why, answer);
}

/* Read the record of `key` into *st (raw: the value it borrows from, a
 * copy the caller frees). 0, -EPROTO (corrupt), -ENOMEM. */
static int record_read(struct chord_node *n, const uint8_t *key, size_t key_len,
                       struct chord_lock_state *st, uint8_t **raw,
                       struct chord_version *version)
{
    memset(st, 0, sizeof *st);
    *raw = NULL;
    *version = (struct chord_version){0};
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &fv);
    if (e)
        *version = e->version;
    /* The record's newest value (a record has one, but a partition's two
     * owners could each have written one: the newest dot wins here). */
    struct chord_dvv *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    const uint8_t *val = NULL;
    size_t len = 0;
    if (e) {
        chord__keystate_load(n, chord__wall(n, n->now), key, key_len, d);
        chord__keystate_newest(d, chord__wall(n, n->now), &val, &len);
    }
    *raw = malloc(len ? len : 1);
    if (!*raw) {
        free(d);
        return -ENOMEM;
    }
    if (len)
        memcpy(*raw, val, len);
    free(d);
    int rc = chord_lock_state_decode(*raw, len, st);
    if (rc)
        return rc;
    /* Room to queue one more waiter and one more append in place. */
    struct chord_lock_waiter *w =
        realloc(st->waiters, (st->n_waiters + 1) * sizeof *w);
    struct chord_lock_queued *q =
        realloc(st->queue, (st->n_queue + 1) * sizeof *q);
    if (w)
        st->waiters = w;
    if (q)
        st->queue = q;
    return w && q ? 0 : -ENOMEM;
}

static void write_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_bytes *state);
static void release_start(struct chord_node *n, uint64_t now,
                          const uint8_t *key, size_t key_len,
                          const struct chord_reply_to *to);

/* Write *st as the record of `key` (the write's answer: status, error
 * and the record), then answer `to` with it once the quorum has it. */
static void record_write(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, const struct chord_lock_state *st,
                         const struct chord_reply_to *to,
                         const struct outcome *o, uint64_t release,
                         uint8_t consistency)
{
    struct lock_write *w = chord_seq_push(&n->locks.writes);
    if (!w) {
        reply_to(n, now, to, CHORD_BUSY, "out of memory", NULL);
        return;
    }
    chord_buf_init(&w->answer);
    if (to) /* else a release's last write: its waiters hear */
        w->to = *to;
    w->status = o->status;
    snprintf(w->error, sizeof w->error, "%s", o->error);
    w->release = release;
    w->start_release = o->start_release;
    memcpy(w->key, key, key_len);
    w->key_len = key_len;
    struct chord_buf rec;
    chord_buf_init(&rec);
    struct chord_lock_state copy = *st;
    copy.lease_left_ms = 0;
    if (chord_lock_state_encode(&copy, &rec) != 0 ||
        chord_lock_state_encode(st, &w->answer) != 0) {
        chord_buf_free(&rec);
        chord_buf_free(&w->answer);
        struct chord_reply_to t = w->to;
        chord_seq_finish(&n->locks.writes, w);
        reply_to(n, now, &t, CHORD_BUSY, "cannot encode the lock's record",
                 NULL);
        return;
    }
    struct chord_item it = {0};
    it.key.data = key;
    it.key.len = key_len;
    it.value.data = rec.data;
    it.value.len = rec.len;
    struct chord_reply_to wt = {.done = write_done, .op = w->h.id};
    chord__replica_write(n, now, &it, NULL, NULL, consistency, &wt);
    chord_buf_free(&rec);
}

static void write_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_bytes *state)
{
    (void)hint;
    (void)value;
    (void)value_len;
    (void)state;
    struct lock_write *w = chord_seq_find(&n->locks.writes, to->op);
    if (!w)
        return;
    struct lock_write done = *w;
    chord_seq_finish(&n->locks.writes, w);
    if (done.release) {
        /* A release's last write: answer everyone who asked for it. */
        struct lock_release *r =
            chord_seq_find(&n->locks.releases, done.release);
        if (r)
            release_end(n, now, r, status, status == CHORD_OK ? NULL : error,
                        status == CHORD_OK ? &done.answer : NULL);
    } else if (status != CHORD_OK) {
        reply_to(n, now, &done.to, status, error, NULL);
    } else if (done.start_release) {
        release_start(n, now, done.key, done.key_len, &done.to);
    } else {
        reply_to(n, now, &done.to, done.status, done.error, &done.answer);
    }
    chord_buf_free(&done.answer);
}

/* ------------------------------------------------------------------------ */
/* releases                                                                 */

static struct lock_release *release_find(struct chord_node *n,
                                         const uint8_t *key, size_t key_len)
{
    for (size_t i = 0; i < n->locks.releases.len; i++) {
        struct lock_release *r = chord_seq_at(&n->locks.releases, i);
        if (r->h.live && r->key_len == key_len &&
            memcmp(r->key, key, key_len) == 0)
            return r;
    }
    return NULL;
}

static void release_step(struct chord_node *n, uint64_t now, uint64_t id);

static void release_append_done(struct chord_node *n, uint64_t now,
                                uint64_t arg, uint8_t status, const char *error)
{
    struct lock_release *r = chord_seq_find(&n->locks.releases, arg);
    if (!r)
        return;
    if (status != CHORD_OK && status != CHORD_BAD_REQUEST &&
        status != CHORD_TOO_LARGE) {
        /* The ring could not take the append within the operation's
         * deadline: stop here. The record stays `releasing`, so the
         * holder's retry (or any request on the lock) starts the queue
         * again from the top, and request ids keep what landed from
         * landing twice. */
        char why[CHORD_ERRMSG_MAX];
        snprintf(why, sizeof why, "lock release interrupted: %s",
                 error ? error : chord_status_name(status));
        release_end(n, now, r, CHORD_UNAVAILABLE, why, NULL);
        return;
    }
    /* Applied (or applied before: an id too old to tell, which for
     * appends issued one at a time means done); an append over the value
     * cap can never apply and is skipped. */
    if (status == CHORD_TOO_LARGE)
        chord__log(n, CHORD_LOG_WARN,
                   "lock release: queued append %zu skipped: %s", r->next,
                   error ? error : "too large");
    r->next++;
    if (r->stepping) {
        r->again = true; /* release_step goes on: no recursion */
        return;
    }
    release_step(n, now, arg);
}

/* The soft state of `key` belongs to the record the store holds now
 * (after a write of ours). */
static void soft_sync(struct chord_node *n, const uint8_t *key, size_t key_len)
{
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, key, key_len, &fv);
    for (size_t i = 0; e && n->locks.soft && i < CHORD_LOCKS_SOFT_MAX; i++) {
        struct lock_soft *c = &n->locks.soft[i];
        if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0)
            c->version = e->version;
    }
}

/* The next appends of release `id`, then its final record write. */
static void release_step(struct chord_node *n, uint64_t now, uint64_t id)
{
    for (;;) {
        struct lock_release *r = chord_seq_find(&n->locks.releases, id);
        if (!r || r->finishing)
            return;
        if (!chord__owns_now(n, &r->pos, now)) {
            release_end(n, now, r, CHORD_TRY_AGAIN,
                        "the lock moved to another node during its "
                        "release",
                        NULL);
            return;
        }
        if (r->next >= r->st.n_queue)
            break;
        const struct chord_lock_queued *q = &r->st.queue[r->next];
        struct chord_msg *m = chord__msg(n, CHORD_MSG_C_APPEND, 0);
        if (!m) {
            release_end(n, now, r, CHORD_BUSY, "out of memory", NULL);
            return;
        }
        m->key.data = q->key;
        m->key.len = q->key_len;
        m->value.data = q->value;
        m->value.len = q->value_len;
        m->has_rid = true;
        memcpy(m->rid.client, r->rid_client, CHORD_CLIENT_ID_BYTES);
        m->rid.seq = r->next + 1;
        r->stepping = true;
        r->again = false;
        int rc = n->locks.run_op
                     ? n->locks.run_op(n, now, m, release_append_done, id)
                     : -ENOSYS;
        free(m);
        r = chord_seq_find(&n->locks.releases, id);
        if (!r)
            return;
        r->stepping = false;
        if (rc) {
            release_end(n, now, r, CHORD_BUSY,
                        "the node is too busy to apply the lock's queue", NULL);
            return;
        }
        if (!r->again)
            return; /* release_append_done calls back */
    }
    /* All applied: the lock is free. */
    struct lock_release *r = chord_seq_find(&n->locks.releases, id);
    struct chord_lock_state st;
    uint8_t *raw;
    struct chord_version v;
    if (record_read(n, r->key, r->key_len, &st, &raw, &v) != 0 ||
        !st.releasing || st.fence != r->fence) {
        chord_lock_state_clear(&st);
        free(raw);
        release_end(n, now, r, CHORD_UNAVAILABLE,
                    "the lock's record changed during its release", NULL);
        return;
    }
    st.held = false;
    st.releasing = false;
    st.n_queue = 0;
    st.released = r->fence;
    if (st.n_done == CHORD_LOCK_DONE_MAX) { /* forget the oldest */
        memmove(st.done, st.done + 1, (CHORD_LOCK_DONE_MAX - 1) * 8u);
        st.n_done--;
    }
    st.done[st.n_done++] = r->fence;
    r->finishing = true;
    uint8_t key[CHORD_LOCK_KEY_MAX];
    size_t key_len = r->key_len;
    memcpy(key, r->key, key_len);
    struct outcome o = {.status = CHORD_OK};
    record_write(n, now, key, key_len, &st, NULL, &o, id,
                 CHORD_CONSISTENCY_DEFAULT);
    soft_sync(n, key, key_len);
    chord_lock_state_clear(&st);
    free(raw);
}

/* Start applying the queue of the record `key` (found releasing), or join
 * the release already under way; `to` (may be NULL) hears when it is
 * done. */
static void release_start(struct chord_node *n, uint64_t now,
                          const uint8_t *key, size_t key_len,
                          const struct chord_reply_to *to)
{
    struct lock_release *r = release_find(n, key, key_len);
    if (r) {
        if (to && r->n_waiting < RELEASE_WAITERS_MAX)
            r->waiting[r->n_waiting++] = *to;
        else if (to)
            reply_to(n, now, to, CHORD_TRY_AGAIN, "release under way", NULL);
        return;
    }
    r = chord_seq_push(&n->locks.releases);
    if (!r) {
        if (to)
            reply_to(n, now, to, CHORD_BUSY, "out of memory", NULL);
        return;
    }
    memcpy(r->key, key, key_len);
    r->key_len = key_len;
    struct chord_version v;
    if (record_read(n, key, key_len, &r->st, &r->raw, &v) != 0 ||
        !r->st.releasing) {
        bool done = !r->st.releasing;
        release_free(r);
        chord_seq_finish(&n->locks.releases, r);
        if (to)
            reply_to(n, now, to, done ? CHORD_OK : CHORD_UNAVAILABLE,
                     done ? NULL : "the lock's record cannot be read", NULL);
        return;
    }
    r->fence = r->st.fence;
    size_t name_len;
    const uint8_t *name = key_name(key, key_len, &name_len);
    chord__lock_position(&r->pos, name, name_len);
    /* The appends' request ids: the same on every node that runs this
     * release, so none applies twice. */
    uint8_t seed[CHORD_LOCK_KEY_MAX + 32];
    int k = snprintf((char *)seed, 32,
                     "release:%llu:", (unsigned long long)r->fence);
    memcpy(seed + k, name, name_len);
    struct chord_id h;
    chord_id_hash(&h, seed, (size_t)k + name_len);
    memcpy(r->rid_client, h.b, CHORD_CLIENT_ID_BYTES);
    if (to)
        r->waiting[r->n_waiting++] = *to;
    chord__log(n, CHORD_LOG_INFO,
               "lock %.*s: applying %zu queued appends of fence %llu",
               (int)name_len, (const char *)name, r->st.n_queue,
               (unsigned long long)r->fence);
    release_step(n, now, r->h.id);
}

/* ------------------------------------------------------------------------ */

void chord__locks_handle(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m,
                         const struct chord_reply_to *to)
{
    uint8_t key[CHORD_LOCK_KEY_MAX];
    size_t key_len = lock_key(key, m->key.data, m->key.len);
    struct chord_lock_state st;
    uint8_t *raw;
    struct chord_version v;
    int rc = record_read(n, key, key_len, &st, &raw, &v);
    struct lock_soft *s =
        rc == 0 ? soft_get(n, now, key, key_len, &v, &st) : NULL;
    if (rc == -EPROTO || !s) {
        chord_lock_state_clear(&st);
        free(raw);
        reply_to(n, now, to, rc == -EPROTO ? CHORD_UNAVAILABLE : CHORD_BUSY,
                 rc == -EPROTO ? "the lock's record is corrupt"
                               : "out of memory",
                 NULL);
        return;
    }
    struct outcome o = {.status = CHORD_OK};
    o.changed = expire(&st, s, now);
    apply_op(m, &st, s, now, &o);
    st.lease_left_ms = st.held && s->lease_deadline > now
                           ? (uint32_t)(s->lease_deadline - now)
                           : 0;
    if (o.changed) {
        record_write(n, now, key, key_len, &st, to, &o, 0, m->consistency);
        soft_sync(n, key, key_len);
    } else if (o.start_release) {
        release_start(n, now, key, key_len, to); /* answers when done */
    } else {
        struct chord_buf answer;
        chord_buf_init(&answer);
        chord_lock_state_encode(&st, &answer);
        reply_to(n, now, to, o.status, o.error, &answer);
        chord_buf_free(&answer);
    }
    /* A release written before, maybe by a node that crashed since, is
     * driven to its end by whoever owns the lock now. */
    if (st.releasing && !o.start_release && !release_find(n, key, key_len))
        release_start(n, now, key, key_len, NULL);
    chord_lock_state_clear(&st);
    free(raw);
}
