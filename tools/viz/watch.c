/*
 * watch.c - the live model of dht-viz --serve: the nodes the server
 * knows and each one's last status, refreshed one status request at a
 * time.
 *
 * Each step polls at most one node, chosen so that the ring is covered
 * evenly: a node never polled comes first (that is how a join is seen
 * quickly), then the one polled longest ago. No node is polled twice
 * within VIZ_NODE_MIN_GAP_MS, and a node that did not answer waits
 * VIZ_RETRY_MS times its failures in a row (at most VIZ_RETRY_MAX_MS), so
 * a paused node does not eat the budget. The caller paces the steps (the
 * total rate is its business: serve.c's --rate). A status names other
 * nodes (predecessor, successors, fingers, peers); the ones not known
 * yet are added (at most VIZ_LIVE_NODES_MAX), and a node that neither
 * answers nor is named by an answering node for VIZ_FORGET_MS is
 * forgotten (one node, the last, is always kept as the way back in).
 *
 * It only reads the ring. It does not derive health or events (feed.c)
 * and shares nothing with other threads (serve.c's main thread owns it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chord/client.h"
#include "chord/node.h"
#include "live.h"

/* Contract in live.h. */
int viz_watch_init(struct viz_watch *w, const char *seed, int timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->timeout_ms = timeout_ms;
    w->cap = 16;
    w->nodes = calloc(w->cap, sizeof *w->nodes);
    if (!w->nodes)
        return -ENOMEM;
    if (chord_peer_from_addr(&w->nodes[0].self, seed)) {
        free(w->nodes);
        w->nodes = NULL;
        return -EINVAL;
    }
    w->n = 1;
    return 0;
}

void viz_watch_free(struct viz_watch *w)
{
    for (unsigned i = 0; i < w->n; i++)
        free(w->nodes[i].st);
    free(w->nodes);
    memset(w, 0, sizeof *w);
}

static int find_addr(const struct viz_watch *w, const char *addr)
{
    for (unsigned i = 0; i < w->n; i++)
        if (strcmp(w->nodes[i].self.addr, addr) == 0)
            return (int)i;
    return -1;
}

/* Note that `p` was named now; add it when new. 0 or -ENOMEM. */
static int named(struct viz_watch *w, const struct chord_peer *p, bool add,
                 uint64_t now)
{
    if (!p->addr[0] || memchr(p->addr, '\0', CHORD_ADDR_MAX) == NULL)
        return 0;
    int i = find_addr(w, p->addr);
    if (i >= 0) {
        w->nodes[i].named_at = now;
        return 0;
    }
    if (!add || w->n >= VIZ_LIVE_NODES_MAX)
        return 0;
    if (w->n == w->cap) {
        struct viz_live_node *nn =
            realloc(w->nodes, 2 * w->cap * sizeof *w->nodes);
        if (!nn)
            return -ENOMEM;
        w->nodes = nn;
        w->cap *= 2;
    }
    struct viz_live_node *m = &w->nodes[w->n++];
    memset(m, 0, sizeof *m);
    m->self = *p;
    m->named_at = now;
    return 0;
}

/* Is node i due for a poll at `now`? */
static bool due(const struct viz_live_node *m, uint64_t now)
{
    if (m->polled_at == 0)
        return true;
    uint64_t gap = VIZ_NODE_MIN_GAP_MS;
    if (m->fails) {
        uint64_t back = (uint64_t)VIZ_RETRY_MS * m->fails;
        gap = back < VIZ_RETRY_MAX_MS ? back : VIZ_RETRY_MAX_MS;
    }
    return now >= m->polled_at + gap;
}

/* The node to poll next, or -1. */
static int pick(const struct viz_watch *w, uint64_t now)
{
    int best = -1;
    for (unsigned i = 0; i < w->n; i++) {
        const struct viz_live_node *m = &w->nodes[i];
        if (!due(m, now))
            continue;
        if (m->polled_at == 0)
            return (int)i;
        if (best < 0 || m->polled_at < w->nodes[best].polled_at)
            best = (int)i;
    }
    return best;
}

/* Record what node i's status names. 0 or -ENOMEM. */
static int discover(struct viz_watch *w, const struct chord_status *st,
                    uint64_t now)
{
    int rc = 0;
    if (st->has_pred)
        rc |= named(w, &st->pred, true, now);
    for (unsigned k = 0; k < st->n_succ && k < CHORD_SUCC_MAX; k++)
        rc |= named(w, &st->succ[k], true, now);
    for (unsigned k = 0; k < st->n_fingers && k < CHORD_ID_BITS; k++)
        rc |= named(w, &st->fingers[k].node, true, now);
    /* A peer table names nodes by address only: it keeps a silent node
     * known while a detector still watches it (the verdicts about it
     * matter), it adds none; a dead verdict keeps nothing (it stays in
     * the table for the dead window, long after the node is gone). */
    for (unsigned k = 0; k < st->n_peers && k < CHORD_PEERS_MAX; k++) {
        if (st->peers[k].state == CHORD_PEER_DEAD)
            continue;
        struct chord_peer p;
        memset(&p, 0, sizeof p);
        memcpy(p.addr, st->peers[k].addr, CHORD_ADDR_MAX);
        p.addr[CHORD_ADDR_MAX - 1] = '\0';
        rc |= named(w, &p, false, now);
    }
    return rc ? -ENOMEM : 0;
}

/* Forget the silent nodes nobody names. */
static void forget(struct viz_watch *w, uint64_t now)
{
    unsigned out = 0;
    for (unsigned i = 0; i < w->n; i++) {
        struct viz_live_node *m = &w->nodes[i];
        bool stale = !m->answered && m->fails >= 2 &&
                     now > m->named_at + VIZ_FORGET_MS && w->n - i + out > 1;
        if (stale) {
            free(m->st);
            continue;
        }
        w->nodes[out++] = *m;
    }
    w->n = out;
}

/* Contract in live.h. */
int viz_watch_step(struct viz_watch *w, uint64_t now)
{
    if (now == 0)
        now = 1;
    w->last_ms = now;
    int i = pick(w, now);
    if (i < 0)
        return 0;
    struct viz_live_node *m = &w->nodes[i];
    if (!m->st) {
        m->st = calloc(1, sizeof *m->st);
        if (!m->st)
            return -ENOMEM;
    }
    struct chord_status *st = malloc(sizeof *st);
    if (!st)
        return -ENOMEM;
    w->polls++;
    int rc = viz_fetch_status(m->self.addr, w->timeout_ms, st);
    m->polled_at = now;
    if (rc == 0 && strcmp(st->self.addr, m->self.addr) == 0) {
        memcpy(m->st, st, sizeof *st);
        m->self = st->self;
        m->answered = true;
        m->fails = 0;
        m->named_at = now;
        rc = discover(w, st, now);
    } else {
        m->answered = false;
        m->fails++;
        rc = 0;
    }
    free(st);
    if (rc)
        return rc;
    forget(w, now);
    /* The first round is over once every node met has been polled; it
     * stays over. */
    bool all = true;
    for (unsigned k = 0; k < w->n && all && !w->settled; k++)
        all = w->nodes[k].polled_at != 0;
    if (all)
        w->settled = true;
    return 1;
}
