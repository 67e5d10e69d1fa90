/*
 * text.c - the ring as a table for terminals: one line per node (address,
 * short id, health, keys, owned share, predecessor, successor), then the
 * key trace and the crawl's notes.
 *
 * Invariants: the source and the key are shown as printable ASCII
 * (viz_out_plain); the columns are padded to fixed widths and separated
 * by two spaces; the line format is what tests/system/test_viz.py reads.
 *
 * It writes only to the buffer.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "render.h"

void viz_render_text(struct viz_out *o, const struct viz_ring *r)
{
    char states[96];
    viz_state_summary(r, states, sizeof states);
    if (r->live) {
        viz_out_printf(o, "Chord ring: %u %s (%u answered%s%s), %s ", r->n,
                       viz_plural(r->n, "node", "nodes"), r->n_answer,
                       states[0] ? "; " : "", states,
                       r->snapshot ? "snapshot" : "crawled from");
        viz_out_plain(o, r->source, strlen(r->source));
        viz_out_printf(o, " %s %s\n", r->snapshot ? "of" : "at", r->when);
    } else {
        viz_out_printf(o, "Chord ring: %u %s from topology ", r->n,
                       viz_plural(r->n, "node", "nodes"));
        viz_out_plain(o, r->source, strlen(r->source));
        viz_out_puts(o, " (ids only)\n");
    }
    viz_out_printf(o, "%4s  %-21s  %-8s  %-11s  %7s  %7s  %6s  %-21s  %s\n",
                   "#", "ADDRESS", "ID", "HEALTH", "KEYS", "OWNED", "SPACE%",
                   "PREDECESSOR", "SUCCESSOR");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char sid[VIZ_SHORT + 1], keys[24], owned[24], space[16];
        viz_short_id(&n->self.id, sid);
        if (r->live && n->live && !n->ghost) {
            snprintf(keys, sizeof keys, "%llu", (unsigned long long)n->keys);
            snprintf(owned, sizeof owned, "%llu",
                     (unsigned long long)n->primary_keys);
        } else {
            snprintf(keys, sizeof keys, "-");
            snprintf(owned, sizeof owned, "-");
        }
        if (viz_ring_member(r, i))
            snprintf(space, sizeof space, "%.1f", viz_ring_owned_percent(r, i));
        else
            snprintf(space, sizeof space, "-");
        char health[24];
        snprintf(health, sizeof health, "%s%s", viz_health_names[n->health],
                 n->ghost ? "*" : "");
        viz_out_printf(o, "%4u  %-21s  %-8s  %-11s  %7s  %7s  %6s  %-21s  %s",
                       i, n->self.addr, sid, health, keys, owned, space,
                       n->has_pred ? n->pred.addr : "-",
                       n->n_succ ? n->succ[0].addr : "-");
        if (n->bad_succ)
            viz_out_puts(o, "  (skips a node)");
        if (n->highlight)
            viz_out_puts(o, "  <== highlighted");
        viz_out_puts(o, "\n");
    }
    bool ghosts = false;
    for (unsigned i = 0; i < r->n; i++)
        ghosts = ghosts || r->nodes[i].ghost;
    if (ghosts)
        viz_out_puts(o, "(*: not in the ring; known from peers' reports)\n");
    if (r->has_key) {
        char kid[VIZ_SHORT + 1];
        viz_short_id(&r->key_id, kid);
        viz_out_puts(o, "key ");
        viz_out_plain(o, r->key, r->key_len);
        viz_out_printf(o, " (id %s): owner %s, %u hop%s%s:", kid,
                       r->owner_addr[0] ? r->owner_addr : "unknown", r->hops,
                       r->hops == 1 ? "" : "s",
                       r->key_computed ? " (computed)" : "");
        for (unsigned k = 0; k < r->n_path; k++)
            viz_out_printf(o, "%s%s", k ? " -> " : " ", r->path_addr[k]);
        viz_out_puts(o, "\nreplica set:");
        for (unsigned k = 0; k < r->n_rep; k++)
            viz_out_printf(o, " %s", r->nodes[r->rep[k]].self.addr);
        viz_out_puts(o, "\n");
    }
    for (unsigned k = 0; k < r->n_notes; k++)
        viz_out_printf(o, "note: %s\n", r->notes[k]);
}
