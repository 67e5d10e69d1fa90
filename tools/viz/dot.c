/*
 * dot.c - the ring as a Graphviz digraph: one box per node, pinned evenly
 * on a circle in ring order for neato (not at their ids' angles, which may
 * crowd), successor edges (red when one skips a live node), fingers as
 * dashed grey edges and the key's lookup path as numbered purple edges.
 *
 * A ring of VIZ_DENSITY_MIN nodes or more gets no finger edges: Graphviz
 * would spend minutes on them, and nobody reads them at that size.
 *
 * Invariants: every outside string is escaped for a DOT string
 * (viz_out_dot); node names are n<index>, so no outside string becomes an
 * identifier.
 *
 * It writes only to the buffer.
 */
#include <math.h>
#include <string.h>

#include "render.h"

void viz_render_dot(struct viz_out *o, const struct viz_ring *r)
{
    /* Nodes sit evenly around a circle in ring order (not at their ids'
     * angles, which may crowd), pinned for neato. */
    double rad = (double)r->n * 2.4 / (2.0 * VIZ_PI);
    if (rad < 3.0)
        rad = 3.0;
    /* Spline routing around 1000 pinned boxes takes Graphviz minutes:
     * straight edges for a dense ring. */
    viz_out_printf(o,
                   "digraph chord {\n"
                   "  graph [layout=neato, splines=%s, overlap=true, "
                   "outputorder=edgesfirst, fontname=\"DejaVu Sans\", "
                   "labelloc=t, label=\"",
                   viz_layout_dense(r) ? "false" : "true");
    if (r->snapshot) {
        viz_out_puts(o, "Chord ring snapshot ");
        viz_out_dot(o, r->source, strlen(r->source));
    } else if (r->live) {
        viz_out_puts(o, "Chord ring crawled from ");
        viz_out_dot(o, r->source, strlen(r->source));
        viz_out_printf(o, " at %s", r->when);
    } else {
        viz_out_puts(o, "Chord ring of topology ");
        viz_out_dot(o, r->source, strlen(r->source));
    }
    viz_out_puts(o, "\"];\n"
                    "  node [shape=box, style=\"rounded,filled\", "
                    "fontname=\"DejaVu Sans Mono\", fontsize=10, "
                    "fillcolor=\"#ebf4ff\", color=\"#1a365d\"];\n"
                    "  edge [color=\"#4a5568\"];\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char sid[VIZ_SHORT + 1];
        viz_short_id(&n->self.id, sid);
        double a =
            2.0 * VIZ_PI * (double)i / (double)(r->n ? r->n : 1) - VIZ_PI / 2.0;
        viz_out_printf(o, "  n%u [pos=\"%.2f,%.2f!\", label=\"", i,
                       rad * cos(a), -rad * sin(a));
        viz_out_dot(o, n->self.addr, strlen(n->self.addr));
        viz_out_printf(o, "\\n%s", sid);
        if (r->live && n->live && !n->ghost)
            viz_out_printf(o, " owns %llu %s",
                           (unsigned long long)n->primary_keys,
                           viz_plural(n->primary_keys, "key", "keys"));
        viz_out_puts(o, "\"");
        if (n->health == VIZ_SUSPECTED)
            viz_out_puts(o, ", fillcolor=\"#fbd38d\", color=\"#dd6b20\"");
        else if (n->health != VIZ_OK)
            viz_out_puts(o, ", fillcolor=\"#fed7d7\", color=\"#c53030\"");
        if (n->ghost || n->health == VIZ_UNREACHABLE)
            viz_out_puts(o, ", style=\"rounded,filled,dashed\"");
        if (n->highlight)
            viz_out_puts(o, ", fillcolor=\"#fefcbf\", penwidth=3");
        if (n->owner)
            viz_out_puts(o, ", peripheries=2, color=\"#d69e2e\", penwidth=2");
        else if (n->replica)
            viz_out_puts(o, ", peripheries=2, color=\"#38a169\", penwidth=2");
        viz_out_puts(o, "];\n");
    }
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        int s = n->n_succ ? viz_ring_find_id(r, &n->succ[0].id) : -1;
        if (s >= 0 && (unsigned)s != i)
            viz_out_printf(o, "  n%u -> n%d [penwidth=1.6%s];\n", i, s,
                           n->bad_succ ? ", color=\"#e53e3e\"" : "");
        /* A dense ring: successors only (fingers would swamp Graphviz). */
        for (unsigned k = 0; k < n->n_fingers && !viz_layout_dense(r); k++) {
            int f = viz_ring_find_id(r, &n->fingers[k].node.id);
            if (f < 0 || (unsigned)f == i || f == s)
                continue;
            viz_out_printf(o,
                           "  n%u -> n%d [style=dashed, color=\"#a0aec0\", "
                           "arrowsize=0.6];\n",
                           i, f);
        }
    }
    for (unsigned k = 0; k + 1 < r->n_path; k++)
        if (r->path[k] >= 0 && r->path[k + 1] >= 0 &&
            r->path[k] != r->path[k + 1])
            viz_out_printf(o,
                           "  n%d -> n%d [color=\"#6b46c1\", penwidth=3, "
                           "label=\"%u\", fontcolor=\"#6b46c1\"];\n",
                           r->path[k], r->path[k + 1], k + 1);
    viz_out_puts(o, "}\n");
}
