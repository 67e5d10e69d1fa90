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
    if (m->type == CHORD_MSG_STORE_DEL && (!e || e->tombstone) &&
        n->cfg.replicas <= 1 && !m->has_fence) {
        /* Deleting nothing is not an error; with replicas a tombstone is
         * still written, in case a replica holds a copy we lack. */
        answer(n, now, to, CHORD_OK, NULL);
        return;
    }

    struct chord_item it = {0};
    it.key = m->key;
    it.tombstone = m->type == CHORD_MSG_STORE_DEL;
    uint8_t *joined = NULL;
    if (m->type == CHORD_MSG_STORE_APPEND && e && !e->tombstone &&
        e->value_len > 0) {
        if (e->value_len + m->value.len > CHORD_VALUE_MAX) {
            snprintf(why, sizeof why,
                     "the value would be %zu bytes, over the cap of %u",
                     e->value_len + m->value.len, CHORD_VALUE_MAX);
            answer(n, now, to, CHORD_TOO_LARGE, why);
            return;
        }
        joined = malloc(e->value_len + m->value.len + 1);
        if (!joined) {
            answer(n, now, to, CHORD_BUSY, "out of memory");
            return;
        }
        memcpy(joined, e->value, e->value_len);
        if (m->value.len)
            memcpy(joined + e->value_len, m->value.data, m->value.len);
        it.value.data = joined;
        it.value.len = e->value_len + m->value.len;
    } else if (!it.tombstone) {
        it.value = m->value;
    }
    if (m->has_rid && m->type != CHORD_MSG_STORE_RESTORE) {
        it.has_origin = true;
        it.origin = m->rid;
    }
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
    if (m->type == CHORD_MSG_STORE_RESTORE)
        it.version = m->version;
    chord__replica_write(n, now, &it, m->type == CHORD_MSG_STORE_RESTORE,
                         m->consistency, to);
    free(joined);
}
