/*
 * legend.c - the words around the drawing: the legend (only the symbols
 * that can appear in this drawing, and the key shading), the summary
 * column of a standalone SVG (the ring, the key trace, the crawl's notes)
 * and its title line.
 *
 * Invariants: outside strings are escaped and long ones cut (the key to
 * 28 bytes, a note to 56) with an ellipsis, so the column keeps its
 * width; the legend uses the markers the drawing defines (svg.c) and
 * defines none of its own, so the HTML page can show it a second time;
 * a node state's row draws the symbol the ring draws (style.c) and says
 * how many nodes are drawn so (class "legend-state", data-state and
 * data-count, for the page and for tests); the counts of the title, the
 * summary and the legend are of every node known (crawled, read, or
 * reported by peers).
 *
 * It writes only to the buffer.
 */
#include <stdio.h>
#include <string.h>

#include "render.h"

/* One legend row: a symbol at (x, y) and its text. */
static void legend_row(struct viz_out *o, double x, double y,
                       const char *symbol, const char *text)
{
    viz_out_printf(o, "<g transform=\"translate(%.1f %.1f)\">%s", x, y, symbol);
    viz_out_printf(o,
                   "<text x=\"30\" y=\"4\" font-size=\"12\" fill=\"#2d3748\">"
                   "%s</text></g>\n",
                   text);
}

/* One row per node state drawn (OK always), with its count, then the
 * dashed ghost outline when there are ghosts. Returns the new y. */
static double legend_states(struct viz_out *o, const struct viz_ring *r,
                            double x, double y)
{
    unsigned counts[VIZ_HEALTH_N];
    unsigned ghosts = viz_ring_count_health(r, counts);
    for (unsigned h = 0; h < VIZ_HEALTH_N; h++) {
        if (h != VIZ_OK && !counts[h])
            continue;
        viz_out_printf(o,
                       "<g class=\"legend-state\" data-state=\"%s\" "
                       "data-count=\"%u\" transform=\"translate(%.1f "
                       "%.1f)\">",
                       viz_health_names[h], counts[h], x, y);
        /* A dense ring draws its OK nodes only in the density arcs. */
        bool in_arcs = h == VIZ_OK && viz_layout_dense(r);
        if (in_arcs)
            viz_out_puts(o, "<rect x=\"2\" y=\"-6\" width=\"16\" "
                            "height=\"12\" fill=\"url(#keys-grad)\"/>");
        else
            viz_style_symbol(o, h, false, 10, 0, 7);
        viz_out_printf(o,
                       "<text x=\"30\" y=\"4\" font-size=\"12\" "
                       "fill=\"#2d3748\">%s: %u%s</text></g>\n",
                       viz_health_legend(h, r->live), counts[h],
                       in_arcs ? " (in the arcs)" : "");
        y += 22;
    }
    if (ghosts) {
        viz_out_printf(o,
                       "<g class=\"legend-ghost\" data-count=\"%u\" "
                       "transform=\"translate(%.1f %.1f)\">",
                       ghosts, x, y);
        viz_style_symbol(o, VIZ_SUSPECTED, true, 10, 0, 7);
        viz_out_printf(o,
                       "<text x=\"30\" y=\"4\" font-size=\"12\" "
                       "fill=\"#2d3748\">dashed: in no successor list, "
                       "known from peers: %u</text></g>\n",
                       ghosts);
        y += 22;
    }
    return y;
}

/* The shading of the band: what it means and its scale. Returns the new
 * y. */
static double legend_shading(struct viz_out *o, const struct viz_ring *r,
                             double x, double y)
{
    char lo[32], hi[32];
    const char *what;
    if (viz_layout_dense(r)) {
        what = "nodes in each 1/360 of the ids:";
        snprintf(lo, sizeof lo, "1");
        snprintf(hi, sizeof hi, "%u", viz_density_max(r));
    } else if (!r->live) {
        viz_out_printf(
            o,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
            "fill=\"#2d3748\">bands: the range each node owns</text>\n",
            x, y + 4);
        return y + 20;
    } else if (viz_arc_by_keys(r)) {
        what = "range a node owns, by the keys it owns:";
        snprintf(lo, sizeof lo, "0");
        snprintf(hi, sizeof hi, "%.0f", viz_arc_max(r));
    } else {
        what = "range a node owns (no keys), by its share:";
        snprintf(lo, sizeof lo, "0%%");
        snprintf(hi, sizeof hi, "%.1f%%", viz_arc_max(r));
    }
    viz_out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                   "fill=\"#2d3748\">%s</text>\n"
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"180\" "
                   "height=\"12\" fill=\"url(#keys-grad)\" "
                   "stroke=\"#cbd5e0\"/>\n"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                   "fill=\"#4a5568\">%s</text><text x=\"%.1f\" y=\"%.1f\" "
                   "font-size=\"11\" fill=\"#4a5568\" "
                   "text-anchor=\"end\">%s</text>\n",
                   x, y + 4, what, x, y + 12, x, y + 38, lo, x + 180, y + 38,
                   hi);
    y += 44;
    bool silent = false;
    for (unsigned i = 0; i < r->n; i++)
        silent = silent || (viz_ring_member(r, i) && !r->nodes[i].live);
    if (silent) {
        legend_row(o, x, y,
                   "<rect x=\"2\" y=\"-6\" width=\"16\" height=\"12\" "
                   "fill=\"" VIZ_SILENT_FILL "\"/>",
                   "range of a node that did not answer");
        y += 22;
    }
    return y;
}

/* The legend: the node states drawn (with their counts), the symbols
 * that can appear and the band's shading. Returns the height used. */
double viz_svg_legend(struct viz_out *o, const struct viz_ring *r, double x,
                      double y)
{
    double y0 = y;
    viz_out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                   "font-weight=\"bold\" fill=\"#1a202c\">Legend</text>\n",
                   x, y);
    y += 24;
    y = legend_states(o, r, x, y);
    bool bad = false;
    for (unsigned i = 0; i < r->n; i++)
        bad = bad || r->nodes[i].bad_succ;
    if (!viz_layout_dense(r)) {
        legend_row(o, x, y,
                   "<path d=\"M0 0 L18 0\" stroke=\"#718096\" "
                   "stroke-width=\"1.5\" marker-end=\"url(#arrow-succ)\"/>",
                   "successor pointer");
        y += 22;
    }
    if (bad) {
        legend_row(o, x, y,
                   "<path d=\"M0 0 L18 0\" stroke=\"#e53e3e\" "
                   "stroke-width=\"2\" stroke-dasharray=\"4 3\" "
                   "marker-end=\"url(#arrow-bad)\"/>",
                   "successor that skips a live node");
        y += 22;
    }
    if (r->has_key && r->n_path > 1) {
        legend_row(o, x, y,
                   "<path d=\"M0 0 L18 0\" stroke=\"#6b46c1\" "
                   "stroke-width=\"3\" marker-end=\"url(#arrow-path)\"/>",
                   "lookup hop (numbered)");
        y += 22;
    }
    if (r->has_key) {
        legend_row(
            o, x, y,
            "<circle cx=\"10\" r=\"11\" fill=\"none\" stroke=\"#d69e2e\" "
            "stroke-width=\"3.5\"/><circle cx=\"10\" r=\"6\" "
            "fill=\"#1a365d\"/>",
            "owner of the key");
        y += 24;
        legend_row(
            o, x, y,
            "<circle cx=\"10\" r=\"11\" fill=\"none\" stroke=\"#38a169\" "
            "stroke-width=\"3.5\"/><circle cx=\"10\" r=\"6\" "
            "fill=\"#1a365d\"/>",
            "replica of the key");
        y += 24;
        legend_row(o, x, y,
                   "<path d=\"M10 -7 l7 7 l-7 7 l-7 -7 z\" fill=\"#6b46c1\"/>",
                   "the key's id");
        y += 22;
    }
    if (r->highlight >= 0) {
        legend_row(o, x, y,
                   "<circle cx=\"10\" r=\"12\" fill=\"#fefcbf\" "
                   "stroke=\"#d69e2e\" stroke-width=\"2\"/><circle cx=\"10\" "
                   "r=\"6\" fill=\"#1a365d\"/>",
                   "highlighted node");
        y += 24;
    }
    y = legend_shading(o, r, x, y);
    return y - y0;
}

/* Summary lines under the legend of a standalone SVG. Returns the
 * height used. */
double viz_svg_summary(struct viz_out *o, const struct viz_ring *r, double x,
                       double y)
{
    double y0 = y;
    viz_out_printf(o, "<g font-size=\"12\" fill=\"#2d3748\">\n");
    viz_out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                   "font-weight=\"bold\" fill=\"#1a202c\">Ring</text>\n",
                   x, y);
    y += 22;
    char states[96];
    viz_state_summary(r, states, sizeof states);
    viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%u %s", x, y, r->n,
                   viz_plural(r->n, "node", "nodes"));
    if (r->live)
        viz_out_printf(o, ", %u answered", r->n_answer);
    if (states[0])
        viz_out_printf(o, "; %s", states);
    viz_out_puts(o, "</text>\n");
    y += 18;
    if (r->live) {
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\">%llu %s (owned), %u %s "
                       "of each</text>\n",
                       x, y, (unsigned long long)r->total_keys,
                       viz_plural(r->total_keys, "key", "keys"), r->replicas,
                       viz_plural(r->replicas, "copy", "copies"));
        y += 18;
    } else {
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\">%u copies of each key"
                       "</text>\n",
                       x, y, r->replicas);
        y += 18;
    }
    if (r->has_key) {
        y += 10;
        char kid[VIZ_SHORT + 1];
        viz_short_id(&r->key_id, kid);
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                       "font-weight=\"bold\" fill=\"#553c9a\">Key \xe2\x80\x9c",
                       x, y);
        size_t shown = r->key_len > 28 ? 28 : r->key_len;
        viz_out_xml(o, r->key, shown);
        viz_out_printf(o, "%s\xe2\x80\x9d</text>\n",
                       r->key_len > shown ? "\xe2\x80\xa6" : "");
        y += 20;
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\">id %s\xe2\x80\xa6, owner ",
                       x, y, kid);
        viz_out_xmls(o, r->owner_addr[0] ? r->owner_addr : "unknown");
        viz_out_puts(o, "</text>\n");
        y += 18;
        viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s: %u %s</text>\n", x,
                       y, r->key_computed ? "path (computed)" : "lookup path",
                       r->hops, viz_plural(r->hops, "hop", "hops"));
        y += 18;
        for (unsigned k = 0; k < r->n_path && k < 12; k++) {
            viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s%u. ", x + 10, y,
                           "", k);
            viz_out_xmls(o, r->path_addr[k]);
            viz_out_puts(o, "</text>\n");
            y += 16;
        }
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\">replica set (%u):"
                       "</text>\n",
                       x, y, r->n_rep);
        y += 16;
        for (unsigned k = 0; k < r->n_rep && k < 8; k++) {
            viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">", x + 10, y);
            viz_out_xmls(o, r->nodes[r->rep[k]].self.addr);
            viz_out_puts(o, k == 0 ? " (owner)</text>\n" : "</text>\n");
            y += 16;
        }
    }
    for (unsigned k = 0; k < r->n_notes; k++) {
        y += 6;
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c53030\" "
                       "font-size=\"11\">",
                       x, y);
        viz_out_xml(o, r->notes[k], strnlen(r->notes[k], 56));
        viz_out_puts(o, strlen(r->notes[k]) > 56 ? "\xe2\x80\xa6</text>\n"
                                                 : "</text>\n");
        y += 12;
    }
    viz_out_puts(o, "</g>\n");
    return y - y0;
}

/* The title: every node known, those not OK by state, and from where. */
void viz_svg_title(struct viz_out *o, const struct viz_ring *r)
{
    char states[96];
    viz_state_summary(r, states, sizeof states);
    viz_out_printf(o,
                   "<text id=\"title\" x=\"20\" y=\"30\" font-size=\"18\" "
                   "font-weight=\"bold\" fill=\"#1a202c\">Chord ring "
                   "\xc2\xb7 %u %s%s%s%s</text>\n",
                   r->n, viz_plural(r->n, "node", "nodes"),
                   states[0] ? " (" : "", states, states[0] ? ")" : "");
    viz_out_puts(o,
                 "<text x=\"20\" y=\"50\" font-size=\"12\" fill=\"#4a5568\">");
    if (r->snapshot) {
        viz_out_puts(o, "snapshot ");
        viz_out_xmls(o, r->source);
        viz_out_printf(o, " of %s", r->when);
    } else if (r->live) {
        viz_out_puts(o, "crawled from ");
        viz_out_xmls(o, r->source);
        viz_out_printf(o, " at %s", r->when);
    } else {
        viz_out_puts(o, "topology ");
        viz_out_xmls(o, r->source);
        viz_out_puts(o, " (ids only, no live data)");
    }
    viz_out_puts(o, "</text>\n");
}
