/*
 * render.h - what dht-viz's renderers share: the output buffer and its
 * escaping (out.c), the geometry of the drawing and the label placement
 * (layout.c), and the entry points of each format (svg.c, legend.c,
 * html.c, dot.c, text.c).
 *
 * Every renderer reads a finished model (viz.h) and appends to a
 * struct viz_out; none prints, opens a file or changes the model. A
 * renderer that fails sets the buffer's sticky error and the caller
 * reports it once.
 */
#ifndef CHORD_TOOLS_VIZ_RENDER_H
#define CHORD_TOOLS_VIZ_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "chord/buf.h"
#include "viz.h"

#define VIZ_LABELS_TWO_LINES 24u /* up to this many: address + id labels */
#define VIZ_LABELS_MAX 64u       /* beyond this, only notable nodes */

/* Geometry of the drawing, in SVG user units. */
#define VIZ_RING_W 1000.0  /* the ring's square */
#define VIZ_LEGEND_W 400.0 /* the legend column of a standalone SVG */
#define VIZ_H 1000.0
#define VIZ_CX 500.0
#define VIZ_CY 520.0
#define VIZ_R 315.0               /* the identifier circle */
#define VIZ_ARC_W 22.0            /* width of the owned-range band */
#define VIZ_SUCC_R (VIZ_R - 28.0) /* radius of the successor arrows */
#define VIZ_PI 3.14159265358979323846

/* ------------------------------------------------------------------ */
/* out.c: a growable buffer with a sticky error, and escaping.          */

struct viz_out {
    struct chord_buf b;
    int err; /* first error, sticky */
};

/* Append n bytes as they are. */
void viz_out_raw(struct viz_out *o, const char *s, size_t n);

/* Append a NUL-terminated string as it is. */
void viz_out_puts(struct viz_out *o, const char *s);

/* Append printf(fmt, ...). */
void viz_out_printf(struct viz_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Bytes as XML/HTML text or attribute content: the five markup characters
 * become entities, and any byte that is not printable ASCII is shown as
 * \xHH, so the output is ASCII and well-formed whatever the input.
 */
void viz_out_xml(struct viz_out *o, const char *s, size_t len);

/* viz_out_xml of a NUL-terminated string. */
void viz_out_xmls(struct viz_out *o, const char *s);

/* Bytes inside a DOT double-quoted string: quote and backslash escaped,
 * anything not printable ASCII shown as '?'. */
void viz_out_dot(struct viz_out *o, const char *s, size_t len);

/* Bytes for a terminal: printable ASCII as is, anything else (and the
 * backslash) as \xHH. */
void viz_out_plain(struct viz_out *o, const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* layout.c: positions, angles and labels.                              */

struct viz_box {
    double x0, y0, x1, y1;
};

/* A label placed: its box, and where its leader line ends. */
struct viz_label {
    bool shown;
    struct viz_box box;
    bool leader;
    double lx, ly; /* leader end (on the box side facing the node) */
};

/* Place every node on the circle at the angle of its id (frac, x, y). */
void viz_layout_place(struct viz_ring *r);

/* The point at radius rad and fraction frac of the circle (0 at the top,
 * clockwise). */
void viz_polar(double rad, double frac, double *x, double *y);

/* The radius of a node's dot: smaller as the ring grows. */
double viz_node_radius(const struct viz_ring *r);

/* The second line of a label, after the short id and a middle dot: what
 * the node holds or why it is marked ("" when there is nothing to add). */
void viz_label_detail(const struct viz_ring *r, const struct viz_node *n,
                      char out[64]);

/*
 * Place the labels of r (lab holds r->n) greedily in ring order, after the
 * widest gap, so that no two overlap where that can be helped. Leaves
 * every label unshown when out of memory.
 */
void viz_place_labels(const struct viz_ring *r, struct viz_label *lab,
                      bool two_lines);

/* ------------------------------------------------------------------ */
/* The formats.                                                         */

/*
 * svg.c: the drawing. standalone: an SVG document (XML declaration,
 * namespace, legend column); otherwise the <svg> element to inline in the
 * HTML page (no namespace URI: the HTML parser knows <svg>; no legend
 * column).
 */
void viz_render_svg(struct viz_out *o, const struct viz_ring *r,
                    bool standalone);

/* legend.c: the legend at (x, y): symbols (only those that can appear)
 * and the key shading. Returns the height used. */
double viz_svg_legend(struct viz_out *o, const struct viz_ring *r, double x,
                      double y);

/* legend.c: summary lines under the legend of a standalone SVG. */
void viz_svg_summary(struct viz_out *o, const struct viz_ring *r, double x,
                     double y);

/* legend.c: the title line of a standalone SVG: what is drawn and from
 * where. */
void viz_svg_title(struct viz_out *o, const struct viz_ring *r);

/* html.c: one self-contained page (inline SVG, CSS, data and script; no
 * URL). refresh_s > 0: the page reloads itself every refresh_s seconds. */
void viz_render_html(struct viz_out *o, const struct viz_ring *r,
                     unsigned refresh_s);

/* dot.c: a Graphviz digraph, nodes pinned on a circle for neato. */
void viz_render_dot(struct viz_out *o, const struct viz_ring *r);

/* text.c: a table for terminals, one node a line. */
void viz_render_text(struct viz_out *o, const struct viz_ring *r);

#endif
