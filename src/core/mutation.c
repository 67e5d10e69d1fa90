/*
 * mutation.c - a write at its key's owner (see mutation.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/mutation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/id.h"
#include "core/dedup.h"
#include "core/dvv.h"
#include "core/keystate.h"
#include "core/node_internal.h"
#include "core/replica.h"
#include "core/store.h"

uint64_t chord__fence_name(const uint8_t *name, size_t len)
{
    struct chord_id h;
    chord_id_hash(&h, name, len);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h.b[i];
    return v;
}

static void answer(struct chord_node *n, uint64_t now,
                   const struct chord_reply_to *to, uint8_t status,
                   const char *error)
{
    to->done(n, now, to, status, error, NULL, NULL, 0, NULL);
}

/* Is the write's fence older than the key's? Then say why into why. */
static bool fence_refused(const struct chord_msg *m,
                          const struct chord_store_entry *e, uint64_t name,
                          char *why, size_t cap)
{
    if (!m->has_fence || !e || !e->has_fence || e->fence_name != name ||
        m->fence >= e->fence)
        return false;
    snprintf(why, cap,
             "fenced write refused: the key has seen fence %llu of lock "
             "%.*s, this write carries %llu",
             (unsigned long long)e->fence, (int)m->fence_name.len,
             (const char *)m->fence_name.data, (unsigned long long)m->fence);
    return true;
}

/* Decode the write's context (CONTEXT or IF_CONTEXT) into *ctx: 1 when
 * there is one, 0 when not, -1 (answered) when it does not decode. */
static int write_context(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m,
                         const struct chord_reply_to *to, struct chord_dvv *ctx)
{
    if (!(m->causal & (CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_IF_CONTEXT)))
        return 0;
    if (chord_dvv_decode(m->context.data, m->context.len, ctx) == 0 &&
        ctx->n_sib == 0)
        return 1;
    answer(n, now, to, CHORD_BAD_REQUEST,
           "the context does not decode (pass the one a get printed)");
    return -1;
}

/* The session's context, if any, is covered by *state; else answer
 * TRY_AGAIN after starting a read of every replica (whose repair brings
 * this owner up to date for the coordinator's retry). */
static bool session_covered(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m,
                            const struct chord_reply_to *to,
                            const struct chord_dvv *state,
                            struct chord_dvv *scratch)
{
    if (!(m->causal & CHORD_CAUSAL_SESSION))
        return true;
    if (chord_dvv_decode(m->session.data, m->session.len, scratch) != 0) {
        answer(n, now, to, CHORD_BAD_REQUEST,
               "the session's context does not decode");
        return false;
    }
    if (chord_dvv_covers(state, scratch))
        return true;
    struct chord_reply_to quiet = {.done = chord__mutation_ignore};
    chord__replica_read(n, now, m->key.data, m->key.len, CHORD_CONSISTENCY_ALL,
                        NULL, &quiet);
    answer(n, now, to, CHORD_TRY_AGAIN,
           "session: the key's owner has not yet seen what this session "
           "has; it is catching up");
    return false;
}

void chord__mutation_ignore(struct chord_node *n, uint64_t now,
                            const struct chord_reply_to *to, uint8_t status,
                            const char *error, const struct chord_peer *hint,
                            const uint8_t *value, size_t value_len,
                            const struct chord_bytes *state)
{
    (void)n, (void)now, (void)to, (void)status, (void)error, (void)hint;
    (void)value, (void)value_len, (void)state;
}

/* A compare-and-set that fails: why into why (false: it holds). */
static bool precondition_fails(const struct chord_msg *m,
                               const struct chord_dvv *state,
                               const struct chord_dvv *ctx, uint64_t wall,
                               char *why, size_t cap)
{
    if (m->causal & CHORD_CAUSAL_IF_ABSENT) {
        unsigned live = chord_dvv_live(state, wall);
        if (live == 0)
            return false;
        snprintf(why, cap, "the key has %s: --if-absent refused",
                 live == 1 ? "a value" : "values");
        return true;
    }
    if ((m->causal & CHORD_CAUSAL_IF_CONTEXT) &&
        !chord_dvv_covers(ctx, state)) {
        snprintf(why, cap,
                 "the key changed since the context was read: "
                 "--if-context refused");
        return true;
    }
    return false;
}

void chord__mutation_execute(struct chord_node *n, uint64_t now,
                             const struct chord_msg *m,
                             const struct chord_reply_to *to)
{
    if (m->has_rid && m->type != CHORD_MSG_STORE_RESTORE) {
        switch (chord__dedup_check(n->dedup, &m->rid, now)) {
        case CHORD_DEDUP_APPLIED:
            n->metrics.duplicates++;
            answer(n, now, to, CHORD_OK, NULL);
            return;
        case CHORD_DEDUP_TOO_OLD:
            answer(n, now, to, CHORD_BAD_REQUEST,
                   "request id older than this client's window of "
                   "remembered requests: cannot tell whether it was applied");
            return;
        case CHORD_DEDUP_NEW:
            break;
        }
    }
    struct chord_store_entry fv;
    const struct chord_store_entry *e =
        chord_store_find(n->store, m->key.data, m->key.len, &fv);
    uint64_t fence_name =
        m->has_fence ? chord__fence_name(m->fence_name.data, m->fence_name.len)
                     : 0;
    char why[CHORD_ERRMSG_MAX];
    if (fence_refused(m, e, fence_name, why, sizeof why)) {
        answer(n, now, to, CHORD_PRECONDITION, why);
        return;
    }
    struct chord_item it = {0};
    it.key = m->key;
    if (m->has_fence) {
        it.has_fence = true;
        it.fence_name = fence_name;
        it.fence = m->fence;
        if (e && e->has_fence && e->fence_name == fence_name &&
            e->fence > it.fence)
            it.fence = e->fence;
    } else if (e && e->has_fence) { /* the key keeps its fence */
        it.has_fence = true;
        it.fence_name = e->fence_name;
        it.fence = e->fence;
    }
    if (m->type == CHORD_MSG_STORE_RESTORE) {
        it.value = m->value;
        it.version = m->version;
        chord__replica_restore(n, now, &it, m->consistency, to);
        return;
    }

    /* The state the write starts from, and its preconditions. */
    uint64_t wall = chord__wall(n, now);
    struct chord_dvv *d = malloc(3 * sizeof *d); /* state, context, scratch */
    if (!d) {
        answer(n, now, to, CHORD_BUSY, "out of memory");
        return;
    }
    struct chord_dvv *state = d, *ctx = d + 1;
    chord__keystate_load(n, wall, m->key.data, m->key.len, state);
    int has_ctx = write_context(n, now, m, to, ctx);
    if (has_ctx < 0 || !session_covered(n, now, m, to, state, d + 2)) {
        free(d);
        return;
    }
    if (precondition_fails(m, state, ctx, wall, why, sizeof why)) {
        free(d);
        answer(n, now, to, CHORD_PRECONDITION, why);
        return;
    }
    const uint8_t *cur = NULL;
    size_t cur_len = 0;
    unsigned live = 0;
    chord__keystate_answer(state, wall, &cur, &cur_len, &live);
    if (m->type == CHORD_MSG_STORE_DEL && live == 0 && state->n_sib == 0 &&
        n->cfg.replicas <= 1 && !m->has_fence) {
        /* Deleting nothing is not an error; with replicas a tombstone is
         * still written, in case a replica holds a copy we lack. */
        free(d);
        answer(n, now, to, CHORD_OK, NULL);
        return;
    }

    it.tombstone = m->type == CHORD_MSG_STORE_DEL;
    uint8_t *joined = NULL;
    if (m->type == CHORD_MSG_STORE_APPEND && live > 1) {
        chord__keystate_siblings_error(live, why, sizeof why);
        free(d);
        answer(n, now, to, CHORD_SIBLINGS, why);
        return;
    }
    if (m->type == CHORD_MSG_STORE_APPEND && live == 1 && cur_len > 0) {
        if (cur_len + m->value.len > CHORD_VALUE_MAX) {
            snprintf(why, sizeof why,
                     "the value would be %zu bytes, over the cap of %u",
                     cur_len + m->value.len, CHORD_VALUE_MAX);
            free(d);
            answer(n, now, to, CHORD_TOO_LARGE, why);
            return;
        }
        joined = malloc(cur_len + m->value.len + 1);
        if (!joined) {
            free(d);
            answer(n, now, to, CHORD_BUSY, "out of memory");
            return;
        }
        memcpy(joined, cur, cur_len);
        if (m->value.len)
            memcpy(joined + cur_len, m->value.data, m->value.len);
        it.value.data = joined;
        it.value.len = cur_len + m->value.len;
    } else if (!it.tombstone) {
        it.value = m->value;
    }
    if (!it.tombstone && (m->causal & CHORD_CAUSAL_TTL))
        it.deadline = wall + (uint64_t)m->ttl_s * 1000u;
    if (m->has_rid) {
        it.has_origin = true;
        it.origin = m->rid;
    }
    chord__replica_write(n, now, &it, state, has_ctx ? ctx : NULL,
                         m->consistency, to);
    free(joined);
    free(d);
}
