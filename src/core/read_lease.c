/*
 * read_lease.c - the owner's read lease (see read_lease.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/read_lease.h"

#include <stdlib.h>
#include <string.h>

#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"

void chord__lease_free(struct chord_read_lease *l)
{
    free(l->targets);
    l->targets = NULL;
    l->range = false;
}

void chord__lease_drop(struct chord_node *n)
{
    n->lease.range = false;
}

/* Follow the range: a new one starts the lease over. */
static void lease_track(struct chord_node *n, uint64_t now)
{
    struct chord_read_lease *l = &n->lease;
    if (n->state != CHORD_NODE_ACTIVE || !n->rt.has_pred ||
        chord__is_self(n, &n->rt.pred)) {
        l->range = false;
        return;
    }
    if (l->range && chord_id_cmp(&l->lo, &n->rt.pred.id) == 0)
        return;
    if (!l->targets) {
        l->targets = malloc(n->cfg.replicas * sizeof(l->targets[0]));
        if (!l->targets)
            return; /* no lease: reads ask a quorum */
    }
    l->range = true;
    l->lo = n->rt.pred.id;
    l->since = now;
    unsigned r = chord__replica_factor(n);
    l->nt = chord__replica_targets(n, now, l->targets, r - 1);
    memset(l->synced, 0, sizeof(l->synced));
    l->tries = 0;
    l->sync_at = now;
}

bool chord__lease_holds(struct chord_node *n, uint64_t now)
{
    struct chord_read_lease *l = &n->lease;
    /* The stall check at every entry point needs ticks (every heartbeat)
     * closer together than the successor's quickest suspicion. */
    if (!n->cfg.owner_reads ||
        n->cfg.heartbeat_ms + CHORD_LEASE_TICK_SLACK_MS >= n->fd.cfg.floor_ms)
        return false;
    lease_track(n, now);
    if (!l->range || l->nt == 0 || !chord__usable(n, n->rt.pred.addr, now))
        return false;
    for (unsigned i = 0; i < l->nt; i++)
        if (!l->synced[i])
            return false;
    const struct chord_peer *s = chord__next_process(n);
    if (!s || !chord__usable(n, s->addr, now) ||
        strcmp(l->succ_proof_addr, s->addr) != 0)
        return false;
    uint64_t margin = n->fd.cfg.floor_ms / 8;
    const struct chord_fd_peer *fp = chord_fd_find(&n->fd, s->addr);
    if (fp && fp->rtt_known)
        margin += (uint64_t)fp->srtt_ms + 1;
    return now + margin < l->succ_proof_sent + n->fd.cfg.floor_ms;
}

void chord__lease_synced(struct chord_node *n, uint64_t now,
                         const struct rpc *r, uint64_t mask)
{
    struct chord_read_lease *l = &n->lease;
    lease_track(n, now);
    if (!l->range || mask != 0 || r->sent_at < l->since)
        return;
    for (unsigned i = 0; i < l->nt; i++)
        if (chord__peer_same(&l->targets[i], &r->peer))
            l->synced[i] = true;
}

void chord__lease_answered(struct chord_node *n, const char *addr,
                           uint64_t sent_at)
{
    struct chord_read_lease *l = &n->lease;
    const struct chord_peer *s = chord__next_process(n);
    if (s && strcmp(addr, s->addr) == 0 &&
        (strcmp(l->succ_proof_addr, addr) != 0 ||
         sent_at > l->succ_proof_sent)) {
        chord__addr_copy(l->succ_proof_addr, addr);
        l->succ_proof_sent = sent_at;
    }
}

unsigned chord__lease_due(struct chord_node *n, uint64_t now,
                          struct chord_peer *out)
{
    struct chord_read_lease *l = &n->lease;
    if (!n->cfg.owner_reads || n->cfg.replicas < 2 || now < l->sync_at)
        return 0;
    lease_track(n, now);
    if (!l->range)
        return 0;
    unsigned k = 0;
    for (unsigned i = 0; i < l->nt; i++)
        if (!l->synced[i] && chord__usable(n, l->targets[i].addr, now))
            out[k++] = l->targets[i];
    if (k) {
        unsigned shift = l->tries < 2 ? l->tries++ : 2;
        l->sync_at = now + ((uint64_t)(n->cfg.sync_ms / 4 + 1) << shift);
    } else {
        l->sync_at = now + 50; /* held, or no replica to ask */
    }
    return k;
}
