/*
 * trace.c - the key trace (--key): the key's id, the path its lookup
 * takes, its owner and its replica set, marked on the model's nodes.
 *
 * The path itself comes from the mode: in live mode the contacted node is
 * asked (crawl.c), in topology mode the lookup is simulated (topology.c).
 * The replica set is the owner and the first r-1 of its successors: its
 * own successor list when it answered, else the next answering members;
 * r is the owner's replica count, else the ring's, at most
 * CHORD_SUCC_MAX + 1.
 *
 * It does not draw anything; the renderers read the marks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "viz.h"

/*
 * Resolve the key trace: in live mode ask the contacted node; from a
 * snapshot compute the owner from the ids (no path); in topology
 * mode simulate the lookup from the first listed node (whose index
 * viz_topology_load left in r->owner). Then mark the owner, the path and the
 * replica set.
 */
void viz_key_trace(struct viz_ring *r, const struct viz_opts *o)
{
    r->has_key = true;
    r->key = o->key;
    r->key_len = strlen(o->key);
    chord_id_hash(&r->key_id, r->key, r->key_len);
    if (r->snapshot) {
        /* A snapshot cannot be asked: the owner from the ids. */
        r->key_computed = true;
        r->owner = viz_ring_owner_of(r, &r->key_id, true);
        if (r->owner >= 0)
            snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
                     r->nodes[r->owner].self.addr);
    } else if (r->live)
        viz_crawl_lookup(r, o);
    else
        viz_topology_lookup(r);
    for (unsigned i = 0; i < r->n_path; i++)
        if (r->path[i] >= 0 && r->nodes[r->path[i]].path_pos < 0)
            r->nodes[r->path[i]].path_pos = (int)i;
    if (r->owner < 0)
        return;
    /* The replica set: the owner and the first r-1 of its successors (its
     * own list when it answered, else the next answering members). */
    struct viz_node *ow = &r->nodes[r->owner];
    unsigned rep = ow->replicas ? ow->replicas : r->replicas;
    if (rep == 0)
        rep = VIZ_DEFAULT_REPLICAS;
    if (rep > CHORD_SUCC_MAX + 1)
        rep = CHORD_SUCC_MAX + 1;
    ow->owner = true;
    r->rep[r->n_rep++] = r->owner;
    if (ow->live && ow->n_succ) {
        for (unsigned k = 0; k < ow->n_succ && r->n_rep < rep; k++) {
            int j = viz_ring_find_id(r, &ow->succ[k].id);
            if (j < 0 || j == r->owner)
                continue;
            bool dup = false;
            for (unsigned m = 0; m < r->n_rep; m++)
                dup = dup || r->rep[m] == j;
            if (!dup)
                r->rep[r->n_rep++] = j;
        }
    } else {
        unsigned j = (unsigned)r->owner;
        for (unsigned k = 0; k < r->n && r->n_rep < rep; k++) {
            j = viz_ring_next_member(r, j, true);
            if ((int)j == r->owner)
                break;
            r->rep[r->n_rep++] = (int)j;
        }
    }
    for (unsigned m = 1; m < r->n_rep; m++)
        r->nodes[r->rep[m]].replica = true;
}
