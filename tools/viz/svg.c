/*
 * svg.c - the drawing of the ring as SVG: the owned ranges as a band
 * around the identifier circle (shaded by what each node owns: its
 * primary keys, or its share of the ids when there are no keys; a large
 * ring as density arcs instead), the successor pointers as arrows inside
 * it (dashed red when one skips a live node), the key's lookup path as
 * numbered chords, the nodes in the symbols of their states (style.c),
 * and the labels where layout.c put them.
 *
 * Invariants: every outside string is escaped (viz_out_xml); ids inside
 * the document are unique, so the same <svg> can be inlined in the HTML
 * page, whose script draws into the empty "sel-layer" group; the <svg>
 * has a viewBox that holds every label and no fixed size, so it scales
 * to its window; a standalone document also carries the title, the
 * legend and the summary (legend.c), placed around what the labels
 * take. Node groups carry class "node state-STATE" (and "ghost"),
 * labels class "label", so a script or a test reads them from the DOM.
 *
 * It does not decide positions (layout.c) and writes only to the buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* The fill for share t of the maximum (a light-to-dark blue). */
static void shade_colour(double t, char out[8])
{
    if (t < 0.0)
        t = 0.0;
    if (t > 1.0)
        t = 1.0;
    int cr = (int)lround(0xe8 + (0x2b - 0xe8) * t);
    int cg = (int)lround(0xf0 + (0x6c - 0xf0) * t);
    int cb = (int)lround(0xfa + (0xb0 - 0xfa) * t);
    snprintf(out, 8, "#%02x%02x%02x", cr & 0xff, cg & 0xff, cb & 0xff);
}

/* An arc of radius rad from fraction f0 clockwise to f1 (path data). */
static void arc_path(struct viz_out *o, double rad, double f0, double f1)
{
    double d = f1 - f0;
    while (d <= 0)
        d += 1.0;
    double x0, y0, x1, y1;
    viz_polar(rad, f0, &x0, &y0);
    viz_polar(rad, f0 + d, &x1, &y1);
    viz_out_printf(o, "M%.1f %.1f A%.1f %.1f 0 %d 1 %.1f %.1f", x0, y0, rad,
                   rad, d > 0.5 ? 1 : 0, x1, y1);
}

static void svg_defs(struct viz_out *o)
{
    viz_out_puts(
        o, "<defs>\n"
           "<marker id=\"arrow-succ\" viewBox=\"0 0 10 10\" refX=\"9\" "
           "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
           "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" "
           "fill=\"#718096\"/></marker>\n"
           "<marker id=\"arrow-bad\" viewBox=\"0 0 10 10\" refX=\"9\" "
           "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
           "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" "
           "fill=\"#e53e3e\"/></marker>\n"
           "<marker id=\"arrow-path\" viewBox=\"0 0 10 10\" refX=\"9\" "
           "refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" "
           "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" "
           "fill=\"#6b46c1\"/></marker>\n"
           "<marker id=\"arrow-finger\" viewBox=\"0 0 10 10\" refX=\"9\" "
           "refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" "
           "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" "
           "fill=\"#2c7a7b\"/></marker>\n"
           "<linearGradient id=\"keys-grad\" x1=\"0\" x2=\"1\" y1=\"0\" "
           "y2=\"0\"><stop offset=\"0\" stop-color=\"#e8f0fa\"/>"
           "<stop offset=\"1\" stop-color=\"#2b6cb0\"/></linearGradient>\n"
           "</defs>\n");
}

/* Quarter marks of the identifier space, their labels where layout.c
 * keeps them free of node labels. */
static void svg_ticks(struct viz_out *o)
{
    static const char *const quarter[] = {
        "0", "4000\xe2\x80\xa6", "8000\xe2\x80\xa6", "c000\xe2\x80\xa6"};
    viz_out_puts(o, "<g id=\"ticks\" font-size=\"10\" fill=\"#a0aec0\" "
                    "text-anchor=\"middle\">\n");
    for (unsigned q = 0; q < 4; q++) {
        double x0, y0, x1, y1, tx, ty;
        struct viz_box box;
        viz_polar(VIZ_R - VIZ_ARC_W / 2 - 2, q / 4.0, &x0, &y0);
        viz_polar(VIZ_R - VIZ_ARC_W / 2 - 9, q / 4.0, &x1, &y1);
        viz_tick_label(q, &tx, &ty, &box);
        viz_out_printf(o,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#a0aec0\"/><text class=\"tick\" x=\"%.1f\" "
                       "y=\"%.1f\">%s</text>\n",
                       x0, y0, x1, y1, tx, ty, quarter[q]);
    }
    viz_out_puts(o, "</g>\n");
}

/* The density drawing of a large ring: VIZ_DENSITY_BINS arcs, each
 * shaded by how many members have their id in it. */
static void svg_density(struct viz_out *o, const struct viz_ring *r)
{
    unsigned count[VIZ_DENSITY_BINS], most = viz_density_max(r);
    uint64_t keys[VIZ_DENSITY_BINS];
    memset(count, 0, sizeof count);
    memset(keys, 0, sizeof keys);
    for (unsigned i = 0; i < r->n; i++) {
        if (!viz_ring_member(r, i))
            continue;
        unsigned b = viz_density_bin(&r->nodes[i]);
        count[b]++;
        keys[b] += r->nodes[i].primary_keys;
    }
    for (unsigned b = 0; b < VIZ_DENSITY_BINS; b++) {
        if (!count[b])
            continue;
        char colour[8];
        shade_colour(most ? (double)count[b] / most : 0.0, colour);
        viz_out_puts(o, "<path class=\"density\" d=\"");
        arc_path(o, VIZ_R, (double)b / VIZ_DENSITY_BINS,
                 (double)(b + 1) / VIZ_DENSITY_BINS);
        viz_out_printf(
            o,
            "\" stroke=\"%s\" stroke-width=\"%.1f\"><title>%u "
            "%s in ids %05.1f%%-%05.1f%%, %llu %s owned</title>"
            "</path>\n",
            colour, VIZ_ARC_W, count[b], viz_plural(count[b], "node", "nodes"),
            100.0 * b / VIZ_DENSITY_BINS, 100.0 * (b + 1) / VIZ_DENSITY_BINS,
            (unsigned long long)keys[b], viz_plural(keys[b], "key", "keys"));
    }
}

/* The owned ranges, shaded by what each node owns (topology mode: two
 * neutral greys); a large ring as density arcs. */
static void svg_arcs(struct viz_out *o, const struct viz_ring *r)
{
    viz_out_puts(o, "<g id=\"arcs\" fill=\"none\">\n");
    viz_out_printf(
        o,
        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" stroke=\"#edf2f7\" "
        "stroke-width=\"%.1f\"/>\n",
        VIZ_CX, VIZ_CY, VIZ_R, VIZ_ARC_W);
    if (viz_layout_dense(r)) {
        svg_density(o, r);
        viz_out_puts(o, "</g>\n");
        svg_ticks(o);
        return;
    }
    double most = viz_arc_max(r);
    unsigned parity = 0;
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        if (!viz_ring_member(r, i))
            continue;
        char colour[8];
        if (!n->live)
            snprintf(colour, sizeof colour, "%s", VIZ_SILENT_FILL);
        else if (r->live)
            shade_colour(most > 0 ? viz_arc_value(r, i) / most : 0.0, colour);
        else
            snprintf(colour, sizeof colour, "%s",
                     parity++ % 2 ? "#cbd5e0" : "#e2e8f0");
        unsigned p = viz_ring_prev_member(r, i);
        viz_out_puts(o, "<path class=\"arc\" d=\"");
        if (p == i) {
            /* Alone: the whole circle, as two half arcs. */
            arc_path(o, VIZ_R, n->frac, n->frac + 0.5);
            viz_out_puts(o, " ");
            arc_path(o, VIZ_R, n->frac + 0.5, n->frac);
        } else {
            arc_path(o, VIZ_R, r->nodes[p].frac, n->frac);
        }
        viz_out_printf(o, "\" stroke=\"%s\" stroke-width=\"%.1f\"><title>",
                       colour, VIZ_ARC_W);
        viz_out_xmls(o, n->self.addr);
        viz_out_printf(o, " owns %.2f%% of the ids",
                       viz_ring_owned_percent(r, i));
        if (r->live && n->live)
            viz_out_printf(o, " and %llu %s; holds %llu %s with the copies",
                           (unsigned long long)n->primary_keys,
                           viz_plural(n->primary_keys, "key", "keys"),
                           (unsigned long long)n->keys,
                           viz_plural(n->keys, "key", "keys"));
        viz_out_puts(o, "</title></path>\n");
    }
    /* Thin separators between ranges. */
    for (unsigned i = 0; i < r->n && r->n > 1; i++) {
        if (!viz_ring_member(r, i))
            continue;
        double x0, y0, x1, y1;
        viz_polar(VIZ_R - VIZ_ARC_W / 2, r->nodes[i].frac, &x0, &y0);
        viz_polar(VIZ_R + VIZ_ARC_W / 2, r->nodes[i].frac, &x1, &y1);
        viz_out_printf(o,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n",
                       x0, y0, x1, y1);
    }
    viz_out_puts(o, "</g>\n");
    svg_ticks(o);
}

/* A quadratic curve between two nodes, bent towards the centre by `bend`
 * (0: straight, 1: through the centre); its midpoint goes to *mx, *my. */
static void chord_curve(struct viz_out *o, double x0, double y0, double x1,
                        double y1, double bend, double shorten, double *mx,
                        double *my)
{
    double qx = (x0 + x1) / 2, qy = (y0 + y1) / 2;
    qx += (VIZ_CX - qx) * bend;
    qy += (VIZ_CY - qy) * bend;
    /* Pull both ends towards the control point so the arrowhead stops at
     * the node's edge. */
    double d0 = hypot(qx - x0, qy - y0), d1 = hypot(qx - x1, qy - y1);
    if (d0 > shorten * 2) {
        x0 += (qx - x0) * shorten / d0;
        y0 += (qy - y0) * shorten / d0;
    }
    if (d1 > shorten * 2) {
        x1 += (qx - x1) * shorten / d1;
        y1 += (qy - y1) * shorten / d1;
    }
    viz_out_printf(o, "M%.1f %.1f Q%.1f %.1f %.1f %.1f", x0, y0, qx, qy, x1,
                   y1);
    if (mx)
        *mx = 0.25 * x0 + 0.5 * qx + 0.25 * x1;
    if (my)
        *my = 0.25 * y0 + 0.5 * qy + 0.25 * y1;
}

static void svg_successors(struct viz_out *o, const struct viz_ring *r)
{
    double nr = viz_node_radius(r);
    viz_out_puts(o, "<g id=\"succ\" fill=\"none\">\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        if (!n->live || n->ghost || n->n_succ == 0)
            continue;
        int j = viz_ring_find_id(r, &n->succ[0].id);
        if (j < 0 || (unsigned)j == i)
            continue;
        const struct viz_node *s = &r->nodes[j];
        if (!n->bad_succ && viz_layout_dense(r))
            continue; /* a dense ring: only the wrong pointers */
        if (n->bad_succ) {
            viz_out_puts(o, "<path d=\"");
            chord_curve(o, n->x, n->y, s->x, s->y, 0.3, nr + 3, NULL, NULL);
            viz_out_puts(o, "\" stroke=\"#e53e3e\" stroke-width=\"2\" "
                            "stroke-dasharray=\"6 4\" "
                            "marker-end=\"url(#arrow-bad)\"><title>");
            viz_out_xmls(o, n->self.addr);
            viz_out_puts(o, " points at ");
            viz_out_xmls(o, s->self.addr);
            viz_out_puts(o, ", not at the next node by id</title></path>\n");
            continue;
        }
        double d = s->frac - n->frac;
        if (d <= 0)
            d += 1.0;
        double eps = (nr + 4.0) / (2.0 * VIZ_PI * VIZ_SUCC_R);
        if (d < 3.0 * eps)
            eps = d / 4.0;
        viz_out_puts(o, "<path d=\"");
        arc_path(o, VIZ_SUCC_R, n->frac + eps, s->frac - eps);
        viz_out_puts(o, "\" stroke=\"#718096\" stroke-width=\"1.5\" "
                        "marker-end=\"url(#arrow-succ)\"/>\n");
    }
    viz_out_puts(o, "</g>\n");
}

/* The lookup path (numbered hops) and the key's position. */
static void svg_key(struct viz_out *o, const struct viz_ring *r)
{
    if (!r->has_key)
        return;
    double nr = viz_node_radius(r);
    viz_out_puts(o, "<g id=\"lookup\">\n");
    for (unsigned k = 0; k + 1 < r->n_path; k++) {
        int a = r->path[k], b = r->path[k + 1];
        if (a < 0 || b < 0 || a == b)
            continue;
        const struct viz_node *na = &r->nodes[a], *nb = &r->nodes[b];
        double mx, my;
        viz_out_puts(o, "<path d=\"");
        chord_curve(o, na->x, na->y, nb->x, nb->y, 0.45, nr + 4, &mx, &my);
        viz_out_printf(
            o,
            "\" fill=\"none\" stroke=\"#6b46c1\" stroke-width=\"3\" "
            "stroke-opacity=\"0.85\" marker-end=\"url(#arrow-path)\"/>"
            "\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"9\" "
            "fill=\"#6b46c1\"/><text x=\"%.1f\" y=\"%.1f\" "
            "font-size=\"11\" font-weight=\"bold\" fill=\"#ffffff\" "
            "text-anchor=\"middle\">%u</text>\n",
            mx, my, mx, my + 4, k + 1);
    }
    double kf = chord_id_fraction(&r->key_id);
    double kx, ky, tx, ty;
    struct viz_box kb;
    viz_polar(VIZ_R, kf, &kx, &ky);
    viz_key_label(r, &tx, &ty, &kb);
    viz_out_printf(
        o,
        "<path d=\"M%.1f %.1f l7 7 l-7 7 l-7 -7 z\" fill=\"#6b46c1\" "
        "stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n",
        kx, ky - 7);
    viz_out_printf(o,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#6b46c1\" stroke-dasharray=\"2 3\"/>\n",
                   kx, ky, tx, ty + (ty > VIZ_CY ? 4 : -13));
    viz_out_printf(
        o,
        "<text id=\"key-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
        "font-weight=\"bold\" fill=\"#553c9a\" "
        "text-anchor=\"middle\" stroke=\"#ffffff\" stroke-width=\"4\" "
        "stroke-linejoin=\"round\" paint-order=\"stroke\">key "
        "\xe2\x80\x9c",
        tx, ty);
    size_t shown = r->key_len > VIZ_KEY_SHOWN ? VIZ_KEY_SHOWN : r->key_len;
    viz_out_xml(o, r->key, shown);
    viz_out_puts(o, r->key_len > shown ? "\xe2\x80\xa6\xe2\x80\x9d</text>\n"
                                       : "\xe2\x80\x9d</text>\n");
    viz_out_puts(o, "</g>\n");
}

/* One node: halo, role rings and its state's symbol (style.c); a <g>
 * with its state as a class, for the HTML page and for tests. */
static void svg_node(struct viz_out *o, const struct viz_ring *r, unsigned i)
{
    const struct viz_node *n = &r->nodes[i];
    double nr = viz_node_radius(r);
    char sid[VIZ_SHORT + 1];
    viz_short_id(&n->self.id, sid);
    viz_out_printf(o, "<g class=\"node state-%s%s\" data-i=\"%u\"><title>",
                   viz_health_names[n->health], n->ghost ? " ghost" : "", i);
    viz_out_xmls(o, n->self.addr);
    viz_out_printf(o, " (id %s)", sid);
    unsigned by = n->dead_by ? n->dead_by : n->suspected_by;
    if (n->ghost)
        viz_out_printf(o, ": %s by %u %s, not in the ring",
                       viz_health_names[n->health], by,
                       viz_plural(by, "peer", "peers"));
    else if (!n->live)
        viz_out_printf(o, ": %s, did not answer", viz_health_names[n->health]);
    else if (r->live)
        viz_out_printf(o,
                       ": %s, %s, owns %llu %s, holds %llu, %u %s, %u "
                       "finger %s",
                       viz_health_names[n->health],
                       chord_node_state_name(n->state),
                       (unsigned long long)n->primary_keys,
                       viz_plural(n->primary_keys, "key", "keys"),
                       (unsigned long long)n->keys, n->n_succ,
                       viz_plural(n->n_succ, "successor", "successors"),
                       n->n_fingers, viz_plural(n->n_fingers, "node", "nodes"));
    if (n->suspected_by || (n->dead_by && !n->ghost))
        viz_out_printf(o, "; suspected by %u, declared dead by %u",
                       n->suspected_by, n->dead_by);
    viz_out_puts(o, "</title>");
    if (n->highlight)
        viz_out_printf(
            o,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
            "fill=\"#fefcbf\" stroke=\"#d69e2e\" stroke-width=\"2\"/>",
            n->x, n->y, nr + 12);
    if (n->owner || n->replica)
        viz_out_printf(
            o,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" "
            "stroke=\"%s\" stroke-width=\"3.5\"/>",
            n->x, n->y, nr + 5, n->owner ? "#d69e2e" : "#38a169");
    const char *proc = viz_process_colour(n->self.addr);
    if (proc) /* a vnode: its process's hue */
        viz_out_printf(o,
                       "<circle class=\"process\" cx=\"%.1f\" cy=\"%.1f\" "
                       "r=\"%.1f\" fill=\"%s\"/>",
                       n->x, n->y, nr + 2.5, proc);
    viz_style_symbol(o, n->health, n->ghost, n->x, n->y, nr);
    viz_out_puts(o, "</g>\n");
}

static void svg_labels(struct viz_out *o, const struct viz_ring *r,
                       const struct viz_label *lab)
{
    /* Leader lines first, under every label. */
    viz_out_puts(o, "<g id=\"leaders\" stroke=\"#a0aec0\" "
                    "stroke-width=\"0.8\">\n");
    for (unsigned i = 0; i < r->n; i++)
        if (lab[i].shown && lab[i].leader)
            viz_out_printf(o,
                           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/>\n",
                           lab[i].ax, lab[i].ay, lab[i].lx, lab[i].ly);
    viz_out_puts(o, "</g>\n");
    /* A white outline under the glyphs keeps a label readable where a
     * leader line or a curve passes behind it. */
    viz_out_puts(o, "<g id=\"labels\" stroke=\"#ffffff\" stroke-width=\"3\" "
                    "stroke-linejoin=\"round\" paint-order=\"stroke\">\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        const struct viz_label *l = &lab[i];
        if (!l->shown)
            continue;
        const char *weight = n->highlight || n->owner ? "bold" : "normal";
        const char *colour =
            n->health == VIZ_OK ? "#1a202c" : viz_health_colour(n->health);
        viz_out_printf(o,
                       "<g class=\"label\" data-i=\"%u\"><text x=\"%.1f\" "
                       "y=\"%.1f\" font-size=\"%s\" font-weight=\"%s\" "
                       "fill=\"%s\">",
                       i, l->box.x0 + 1, l->box.y0 + 11.5,
                       l->two_lines ? "12" : "11", weight, colour);
        viz_out_xmls(o, n->self.addr);
        viz_out_puts(o, "</text>");
        if (l->two_lines) {
            char detail[64], sid[VIZ_SHORT + 1];
            viz_label_detail(r, n, detail);
            viz_short_id(&n->self.id, sid);
            viz_out_printf(o,
                           "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                           "fill=\"#4a5568\">%s",
                           l->box.x0 + 1, l->box.y0 + 25.5, sid);
            if (detail[0]) {
                viz_out_puts(o, " \xc2\xb7 ");
                viz_out_xmls(o, detail);
            }
            viz_out_puts(o, "</text>");
        }
        viz_out_puts(o, "</g>\n");
    }
    viz_out_puts(o, "</g>\n");
}

/* The box the ring and its labels take. */
static struct viz_box content_box(const struct viz_ring *r,
                                  const struct viz_label *lab)
{
    double m = VIZ_R + VIZ_ARC_W / 2 + 14;
    struct viz_box bb = {VIZ_CX - m, VIZ_CY - m, VIZ_CX + m, VIZ_CY + m};
    for (unsigned i = 0; i < r->n; i++) {
        if (!lab[i].shown)
            continue;
        bb.x0 = fmin(bb.x0, lab[i].box.x0);
        bb.y0 = fmin(bb.y0, lab[i].box.y0);
        bb.x1 = fmax(bb.x1, lab[i].box.x1);
        bb.y1 = fmax(bb.y1, lab[i].box.y1);
    }
    return bb;
}

/* The ring itself: ranges, pointers, the key, labels and nodes. */
static void svg_ring(struct viz_out *o, const struct viz_ring *r,
                     const struct viz_label *lab)
{
    svg_arcs(o, r);
    svg_successors(o, r);
    viz_out_puts(o, "<g id=\"sel-layer\"></g>\n");
    svg_key(o, r);
    svg_labels(o, r, lab);
    /* Notable nodes last, on top: a suspected node whose id is next to
     * another's is not hidden under it. A dense ring draws only those. */
    viz_out_puts(o, "<g id=\"nodes\">\n");
    bool dense = viz_layout_dense(r);
    for (int pass = dense ? 1 : 0; pass < 2; pass++)
        for (unsigned i = 0; i < r->n; i++) {
            const struct viz_node *n = &r->nodes[i];
            bool notable = n->health != VIZ_OK || n->highlight || n->owner ||
                           n->replica || n->path_pos >= 0;
            if (notable == (pass == 1))
                svg_node(o, r, i);
        }
    viz_out_puts(o, "</g>\n");
}

/*
 * The drawing. standalone: an SVG document (XML declaration, namespace,
 * title above and legend column right of what the labels take);
 * otherwise the <svg> element to inline in the HTML page (no namespace
 * URI: the HTML parser knows <svg>; no legend column), cropped to the
 * ring and its labels. Either has a viewBox and no fixed size.
 */
void viz_render_svg(struct viz_out *o, const struct viz_ring *r,
                    bool standalone)
{
    struct viz_label *lab = calloc(r->n ? r->n : 1, sizeof *lab);
    if (!lab) {
        o->err = o->err ? o->err : -ENOMEM;
        return;
    }
    viz_place_labels(r, lab, viz_labels_two_lines(r));
    struct viz_box bb = content_box(r, lab);
    struct viz_out side;
    memset(&side, 0, sizeof side);
    chord_buf_init(&side.b);
    double vx = bb.x0 - 10, vy = bb.y0 - 10;
    double vw = bb.x1 - bb.x0 + 20, vh = bb.y1 - bb.y0 + 20;
    if (standalone) {
        /* The title band above, the legend column to the right. */
        double top = bb.y0 - 70, lx = bb.x1 + 40;
        viz_out_printf(&side, "<g transform=\"translate(%.1f %.1f)\">\n",
                       bb.x0 - 20, top);
        viz_svg_title(&side, r);
        viz_out_puts(&side, "</g>\n");
        double hl = viz_svg_legend(&side, r, lx, top + 60);
        double hs = viz_svg_summary(&side, r, lx, top + 60 + hl + 30);
        double bottom = fmax(bb.y1 + 10, top + 60 + hl + 30 + hs + 10);
        viz_out_printf(&side,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#e2e8f0\"/>\n",
                       lx - 20, top + 60, lx - 20, bottom - 10);
        vx = bb.x0 - 30;
        vy = top;
        vw = lx + VIZ_LEGEND_W - vx;
        vh = bottom - top;
        viz_out_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" ");
    } else {
        viz_out_puts(o, "<svg ");
    }
    viz_out_printf(o,
                   "id=\"ring-svg\" viewBox=\"%.0f %.0f %.0f %.0f\" "
                   "preserveAspectRatio=\"xMidYMin meet\" "
                   "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n",
                   floor(vx), floor(vy), ceil(vw), ceil(vh));
    svg_defs(o);
    viz_out_printf(o,
                   "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
                   "fill=\"#ffffff\"/>\n",
                   floor(vx), floor(vy), ceil(vw), ceil(vh));
    svg_ring(o, r, lab);
    free(lab);
    if (side.err)
        o->err = o->err ? o->err : side.err;
    viz_out_raw(o, (const char *)side.b.data, side.b.len);
    chord_buf_free(&side.b);
    viz_out_puts(o, "</svg>\n");
}
