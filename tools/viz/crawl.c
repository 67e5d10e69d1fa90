/*
 * crawl.c - live mode: fill the model from a running ring through the
 * client library, as `dht ring` walks it.
 *
 * The walk starts at one node and follows successor pointers, reading each
 * node's status over a fresh connection with a per-node timeout, for at
 * most VIZ_CRAWL_MAX nodes. A successor that does not answer is kept as
 * unreachable and the walk goes on with the next entry of the successor
 * list; the walk ends when it returns to the start, meets a node again or
 * finds no answering successor (each noted on the model); then the nodes
 * that answering nodes point at (predecessor, successors, fingers) and the
 * walk did not reach are visited too, so every node known is counted.
 * Peers that other nodes suspect or have declared dead are counted; dead
 * ones the walk no longer meets become ghosts at their id (at most
 * VIZ_GHOSTS_MAX).
 *
 * It only reads: it never changes the ring. It does not mark the key
 * trace's replica set (trace.c) nor place anything (layout.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "chord/client.h"
#include "viz.h"

static const char *errtext(int rc)
{
    return rc == -ETIMEDOUT ? "no answer in time" : strerror(-rc);
}

/* Linear search by id, for use before the ring is sorted. */
static int find_id_linear(const struct viz_ring *r, const struct chord_id *id)
{
    for (unsigned i = 0; i < r->n; i++)
        if (chord_id_eq(&r->nodes[i].self.id, id))
            return (int)i;
    return -1;
}

/* Contract in viz.h. */
int viz_fetch_status(const char *addr, int timeout_ms, struct chord_status *st)
{
    struct chord_client *c = NULL;
    int rc = chord_client_connect(addr, timeout_ms, &c);
    if (rc == 0)
        rc = chord_client_status(c, st);
    chord_client_close(c);
    return rc;
}

/* The nodes node i points at: its predecessor, successors and fingers,
 * into refs (CHORD_SUCC_MAX + CHORD_ID_BITS + 1). Returns the count. */
static unsigned node_refs(const struct viz_node *n, struct chord_peer *refs)
{
    unsigned k = 0;
    if (n->has_pred)
        refs[k++] = n->pred;
    for (unsigned s = 0; s < n->n_succ; s++)
        refs[k++] = n->succ[s];
    for (unsigned f = 0; f < n->n_fingers; f++)
        refs[k++] = n->fingers[f].node;
    return k;
}

/*
 * After the walk: visit the nodes that answering nodes point at and the
 * walk did not reach (a walk stopped at a paused node, a node that only
 * some predecessor pointer names), so that every node the ring knows is
 * counted. One that answers is added and swept in turn; one that does not
 * is added as not answering. At most VIZ_CRAWL_MAX nodes. 0 or -ENOMEM.
 */
static int cmp_id(const void *a, const void *b)
{
    return chord_id_cmp(a, b);
}

/* Is id among the nodes of r? The first n_sorted ids are in sorted (a
 * sorted copy), the nodes after n_sorted are searched one by one. */
static bool id_known(const struct viz_ring *r, const struct chord_id *sorted,
                     unsigned n_sorted, const struct chord_id *id)
{
    if (bsearch(id, sorted, n_sorted, sizeof *sorted, cmp_id))
        return true;
    for (unsigned i = n_sorted; i < r->n; i++)
        if (chord_id_eq(&r->nodes[i].self.id, id))
            return true;
    return false;
}

static int crawl_sweep(struct viz_ring *r, const struct viz_opts *o,
                       struct chord_status *st)
{
    /* The walk's ids sorted, so a healthy ring of thousands is checked
     * in n log n, not n^2 times its fingers. */
    unsigned n_sorted = r->n;
    struct chord_peer *refs =
        calloc(CHORD_SUCC_MAX + CHORD_ID_BITS + 1, sizeof *refs);
    struct chord_id *sorted = calloc(n_sorted ? n_sorted : 1, sizeof *sorted);
    if (!refs || !sorted) {
        free(refs);
        free(sorted);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n_sorted; i++)
        sorted[i] = r->nodes[i].self.id;
    qsort(sorted, n_sorted, sizeof *sorted, cmp_id);
    int rc = 0;
    for (unsigned i = 0; i < r->n && r->n < VIZ_CRAWL_MAX && !rc; i++) {
        if (!r->nodes[i].live)
            continue;
        unsigned n_refs = node_refs(&r->nodes[i], refs);
        for (unsigned k = 0; k < n_refs && r->n < VIZ_CRAWL_MAX; k++) {
            if (id_known(r, sorted, n_sorted, &refs[k].id))
                continue;
            int got = viz_fetch_status(refs[k].addr, o->timeout_ms, st);
            if (got == 0 && id_known(r, sorted, n_sorted, &st->self.id))
                continue;
            struct viz_node *n = viz_ring_add(r, &refs[k]);
            if (!n || (got == 0 && viz_node_from_status(n, st))) {
                rc = -ENOMEM;
                break;
            }
            if (got)
                viz_ring_note(r, "%s did not answer (%s)", refs[k].addr,
                              errtext(got));
        }
    }
    free(sorted);
    free(refs);
    return rc;
}

/*
 * Walk successors from o->node and fill r with the nodes met. Returns 0,
 * -EHOSTUNREACH after printing why when the start node does not answer,
 * or -ENOMEM.
 */
int viz_crawl(struct viz_ring *r, const struct viz_opts *o)
{
    struct chord_status *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = viz_fetch_status(o->node, o->timeout_ms, st);
    if (rc) {
        fprintf(stderr, "dht-viz: cannot reach the ring at %s: %s\n", o->node,
                errtext(rc));
        free(st);
        return -EHOSTUNREACH;
    }
    struct chord_id start = st->self.id;
    struct viz_node *n = viz_ring_add(r, &st->self);
    if (!n || viz_node_from_status(n, st)) {
        free(st);
        return -ENOMEM;
    }
    unsigned cur = 0;
    for (;;) {
        /* Copy the successor list: adding nodes may move r->nodes. */
        struct chord_peer succ[CHORD_SUCC_MAX];
        unsigned ns = r->nodes[cur].n_succ;
        memcpy(succ, r->nodes[cur].succ, ns * sizeof *succ);
        char cur_addr[CHORD_ADDR_MAX];
        memcpy(cur_addr, r->nodes[cur].self.addr, CHORD_ADDR_MAX);
        bool advanced = false, closed = false;
        for (unsigned k = 0; k < ns && !advanced && !closed; k++) {
            if (chord_id_eq(&succ[k].id, &start)) {
                closed = true;
                break;
            }
            int seen = find_id_linear(r, &succ[k].id);
            if (seen >= 0) {
                if (r->nodes[seen].live) {
                    viz_ring_note(r,
                                  "the walk met %s again before returning "
                                  "to the start",
                                  succ[k].addr);
                    closed = true;
                }
                continue;
            }
            if (r->n >= VIZ_CRAWL_MAX) {
                viz_ring_note(r, "the walk stopped after %u nodes",
                              VIZ_CRAWL_MAX);
                closed = true;
                break;
            }
            rc = viz_fetch_status(succ[k].addr, o->timeout_ms, st);
            if (rc == 0 && chord_id_eq(&st->self.id, &start)) {
                closed = true;
                break;
            }
            if (rc == 0 && find_id_linear(r, &st->self.id) >= 0) {
                viz_ring_note(r, "%s reports the id of a node already met",
                              succ[k].addr);
                closed = true;
                break;
            }
            n = viz_ring_add(r, &succ[k]);
            if (!n) {
                free(st);
                return -ENOMEM;
            }
            if (rc == 0) {
                if (viz_node_from_status(n, st)) {
                    free(st);
                    return -ENOMEM;
                }
                cur = r->n - 1;
                advanced = true;
            } else {
                viz_ring_note(r, "%s did not answer (%s)", succ[k].addr,
                              errtext(rc));
            }
        }
        if (closed)
            break;
        if (!advanced) {
            if (r->n > 1 || ns > 0)
                viz_ring_note(r,
                              "the walk stopped at %s: no successor of it "
                              "answered",
                              cur_addr);
            break;
        }
    }
    rc = crawl_sweep(r, o, st);
    free(st);
    return rc;
}

/*
 * After a crawl: add the peers that some node suspects or declared dead
 * and the walk did not meet (ghosts), count the reports about every node
 * and set its health. The id of a ghost is the one some node lists for its
 * address, else SHA-1 of the address. 0 or -ENOMEM.
 */
int viz_crawl_health(struct viz_ring *r)
{
    unsigned n_walk = r->n, ghosts = 0;
    for (unsigned i = 0; i < n_walk; i++) {
        for (unsigned p = 0; p < r->nodes[i].n_peers; p++) {
            struct chord_peer_info pi = r->nodes[i].peers[p];
            if (pi.state == CHORD_PEER_ALIVE)
                continue;
            pi.addr[CHORD_ADDR_MAX - 1] = '\0';
            bool known = false;
            for (unsigned k = 0; k < r->n && !known; k++)
                known = strcmp(r->nodes[k].self.addr, pi.addr) == 0;
            if (known || ghosts >= VIZ_GHOSTS_MAX)
                continue;
            struct chord_peer g;
            memset(&g, 0, sizeof g);
            memcpy(g.addr, pi.addr, CHORD_ADDR_MAX);
            bool have_id = false;
            for (unsigned k = 0; k < n_walk && !have_id; k++) {
                const struct viz_node *m = &r->nodes[k];
                for (unsigned s = 0; s < m->n_succ && !have_id; s++)
                    if (strcmp(m->succ[s].addr, g.addr) == 0) {
                        g.id = m->succ[s].id;
                        have_id = true;
                    }
                if (!have_id && m->has_pred &&
                    strcmp(m->pred.addr, g.addr) == 0) {
                    g.id = m->pred.id;
                    have_id = true;
                }
            }
            if (!have_id)
                chord_id_hash(&g.id, g.addr, strlen(g.addr));
            if (find_id_linear(r, &g.id) >= 0)
                continue;
            struct viz_node *gn = viz_ring_add(r, &g);
            if (!gn)
                return -ENOMEM;
            gn->ghost = true;
            ghosts++;
        }
    }
    int rc = viz_ring_index(r);
    if (rc)
        return rc;
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *m = &r->nodes[i];
        for (unsigned p = 0; p < m->n_peers; p++) {
            int j = viz_ring_find_addr(r, m->peers[p].addr);
            if (j < 0 || (unsigned)j == i)
                continue;
            if (m->peers[p].state == CHORD_PEER_DEAD)
                r->nodes[j].dead_by++;
            else if (m->peers[p].state == CHORD_PEER_SUSPECTED)
                r->nodes[j].suspected_by++;
        }
    }
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *m = &r->nodes[i];
        /* The precedence of enum viz_health: what peers report first. */
        if (m->dead_by)
            m->health = VIZ_DEAD;
        else if (m->suspected_by || m->ghost)
            m->health = VIZ_SUSPECTED;
        else if (!m->live)
            m->health = VIZ_UNREACHABLE;
        else
            m->health = VIZ_OK;
    }
    return 0;
}

/* The key trace in live mode: the contacted node is asked for the lookup
 * (see viz.h). */
void viz_crawl_lookup(struct viz_ring *r, const struct viz_opts *o)
{
    struct chord_lookup_result *res = calloc(1, sizeof *res);
    struct chord_client *c = NULL;
    int rc = res ? chord_client_connect(o->node, o->timeout_ms, &c) : -ENOMEM;
    if (rc == 0)
        rc = chord_client_lookup(c, r->key, r->key_len, res);
    if (rc == 0) {
        r->key_id = res->key_id;
        snprintf(r->owner_addr, sizeof r->owner_addr, "%s", res->owner.addr);
        r->hops = res->hops;
        r->n_path = res->path.n < CHORD_PATH_MAX ? res->path.n : CHORD_PATH_MAX;
        for (unsigned i = 0; i < r->n_path; i++) {
            memcpy(r->path_addr[i], res->path.addr[i], CHORD_ADDR_MAX);
            r->path_addr[i][CHORD_ADDR_MAX - 1] = '\0';
            r->path[i] = viz_ring_find_addr(r, r->path_addr[i]);
        }
        r->owner = viz_ring_find_id(r, &res->owner.id);
        if (r->owner < 0)
            r->owner = viz_ring_find_addr(r, r->owner_addr);
    } else {
        viz_ring_note(r,
                      "the lookup of the key failed (%s): its owner is "
                      "computed from the ids",
                      rc == -EIO ? chord_client_error(c) : errtext(rc));
        r->key_computed = true;
        r->owner = viz_ring_owner_of(r, &r->key_id, true);
        r->n_path = 0;
        if (r->owner >= 0)
            snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
                     r->nodes[r->owner].self.addr);
    }
    chord_client_close(c);
    free(res);
}
