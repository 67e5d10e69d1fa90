/*
 * legend.c - the words around the drawing: the legend (only the symbols
 * that can appear in this drawing, and the key shading), the summary
 * column of a standalone SVG (the ring, the key trace, the crawl's notes)
 * and its title line.
 *
 * Invariants: outside strings are escaped and long ones cut (the key to
 * 28 bytes, a note to 56) with an ellipsis, so the column keeps its
 * width; the legend uses the markers the drawing defines (svg.c) and
 * defines none of its own, so the HTML page can show it a second time.
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

/* The legend: symbols (only those that can appear) and the key shading.
 * Returns the height used. */
double viz_svg_legend(struct viz_out *o, const struct viz_ring *r, double x,
                      double y)
{
    double y0 = y;
    viz_out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                   "font-weight=\"bold\" fill=\"#1a202c\">Legend</text>\n",
                   x, y);
    y += 24;
    legend_row(o, x, y,
               "<circle cx=\"10\" r=\"7\" fill=\"#1a365d\" stroke=\"#fff\"/>",
               r->live ? "node (answers)" : "node, at the angle of its id");
    y += 22;
    if (r->live) {
        legend_row(o, x, y, "<circle cx=\"10\" r=\"7\" fill=\"#dd6b20\"/>",
                   "suspected by a peer");
        y += 22;
        legend_row(o, x, y, "<circle cx=\"10\" r=\"7\" fill=\"#c53030\"/>",
                   "declared dead by a peer");
        y += 22;
        legend_row(o, x, y,
                   "<circle cx=\"10\" r=\"7\" fill=\"#fff\" "
                   "stroke=\"#c53030\" stroke-width=\"2\"/><path d=\"M6 -4 "
                   "L14 4 M6 4 L14 -4\" stroke=\"#c53030\" "
                   "stroke-width=\"2\"/>",
                   "did not answer (or gone: dashed)");
        y += 22;
    }
    legend_row(o, x, y,
               "<path d=\"M0 0 L18 0\" stroke=\"#718096\" "
               "stroke-width=\"1.5\" marker-end=\"url(#arrow-succ)\"/>",
               "successor pointer");
    y += 22;
    if (r->live) {
        legend_row(o, x, y,
                   "<path d=\"M0 0 L18 0\" stroke=\"#e53e3e\" "
                   "stroke-width=\"2\" stroke-dasharray=\"4 3\" "
                   "marker-end=\"url(#arrow-bad)\"/>",
                   "successor that skips a live node");
        y += 22;
    }
    if (r->has_key) {
        legend_row(o, x, y,
                   "<path d=\"M0 0 L18 0\" stroke=\"#6b46c1\" "
                   "stroke-width=\"3\" marker-end=\"url(#arrow-path)\"/>",
                   "lookup hop (numbered)");
        y += 22;
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
    if (r->live) {
        viz_out_printf(
            o,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
            "fill=\"#2d3748\">range a node owns, by keys held:</text>\n"
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"180\" height=\"12\" "
            "fill=\"url(#keys-grad)\" stroke=\"#cbd5e0\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "fill=\"#4a5568\">0</text><text x=\"%.1f\" y=\"%.1f\" "
            "font-size=\"11\" fill=\"#4a5568\" "
            "text-anchor=\"end\">%llu</text>\n",
            x, y + 4, x, y + 12, x, y + 38, x + 180, y + 38,
            (unsigned long long)r->max_keys);
        y += 44;
    } else {
        viz_out_printf(
            o,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
            "fill=\"#2d3748\">bands: the range each node owns</text>\n",
            x, y + 4);
        y += 20;
    }
    return y - y0;
}

/* Summary lines under the legend of a standalone SVG. */
void viz_svg_summary(struct viz_out *o, const struct viz_ring *r, double x,
                     double y)
{
    viz_out_printf(o, "<g font-size=\"12\" fill=\"#2d3748\">\n");
    viz_out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                   "font-weight=\"bold\" fill=\"#1a202c\">Ring</text>\n",
                   x, y);
    y += 22;
    unsigned members = viz_ring_members(r);
    viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%u node%s", x, y, members,
                   members == 1 ? "" : "s");
    if (r->live)
        viz_out_printf(o, ", %u answered", r->n_answer);
    viz_out_puts(o, "</text>\n");
    y += 18;
    if (r->live) {
        viz_out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\">%llu keys (owned), %u "
                       "copies each</text>\n",
                       x, y, (unsigned long long)r->total_keys, r->replicas);
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
        viz_out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s: %u hop%s</text>\n",
                       x, y,
                       r->key_computed ? "path (computed)" : "lookup path",
                       r->hops, r->hops == 1 ? "" : "s");
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
}

/* The title line: what is drawn and from where. */
void viz_svg_title(struct viz_out *o, const struct viz_ring *r)
{
    unsigned members = viz_ring_members(r);
    viz_out_printf(
        o,
        "<text x=\"20\" y=\"30\" font-size=\"18\" font-weight=\"bold\" "
        "fill=\"#1a202c\">Chord ring \xc2\xb7 %u node%s</text>\n",
        members, members == 1 ? "" : "s");
    viz_out_puts(o,
                 "<text x=\"20\" y=\"50\" font-size=\"12\" fill=\"#4a5568\">");
    if (r->live) {
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
