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

#define VIZ_LABELS_TWO_LINES 24u /* up to this many nodes: all labelled */
#define VIZ_LABELS_MAX 256u      /* labels placed at most, notable first */
#define VIZ_DENSITY_MIN 512u     /* nodes from which density arcs are drawn */
#define VIZ_DENSITY_BINS 360u    /* arcs of the density drawing */
#define VIZ_KEY_SHOWN 40u        /* bytes of the key in its label */
#define VIZ_SILENT_FILL                                                        \
    "#fde2e2" /* the range of a node that did not answer                       \
               */

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

/* A label placed: its box, and its leader line (when it was moved away
 * from its node) from (ax, ay), just outside the band at the node's
 * angle, to (lx, ly), the point of the box nearest to that. */
struct viz_label {
    bool shown;
    struct viz_box box;
    bool leader;
    double lx, ly;  /* leader end (on the box side facing the node) */
    double ax, ay;  /* leader start */
    bool two_lines; /* address, then short id and detail */
};

/* Place every node on the circle at the angle of its id (frac, x, y). */
void viz_layout_place(struct viz_ring *r);

/* The point at radius rad and fraction frac of the circle (0 at the top,
 * clockwise). */
void viz_polar(double rad, double frac, double *x, double *y);

/* The radius of a node's dot: smaller as the ring grows. */
double viz_node_radius(const struct viz_ring *r);

/* Is the ring drawn as density arcs (VIZ_DENSITY_MIN nodes or more),
 * with dots and labels only for notable nodes? */
bool viz_layout_dense(const struct viz_ring *r);

/* Do labels have two lines (address; short id and detail)? */
bool viz_labels_two_lines(const struct viz_ring *r);

/* Does node n ask for a label (every node of a small ring; beyond, the
 * highlighted, key-trace and not-OK ones)? The others are named by hover
 * titles. */
bool viz_label_wanted(const struct viz_ring *r, const struct viz_node *n);

/* The second line of a label, after the short id and a middle dot: why
 * the node is marked, else what it owns ("" when there is nothing to
 * add). */
void viz_label_detail(const struct viz_ring *r, const struct viz_node *n,
                      char out[64]);

/* An estimate, rounded up, of the width of len bytes of text in DejaVu
 * Sans at font size fs (SVG units). */
double viz_text_width(const char *s, size_t len, double fs, bool bold);

/* The label of quarter q (0..3) of the id space: its anchor (middle of
 * the baseline) and its box. */
void viz_tick_label(unsigned q, double *x, double *y, struct viz_box *box);

/* The key's label (after viz_key_trace): its anchor (middle of the
 * baseline) and its box, inside the ring. */
void viz_key_label(const struct viz_ring *r, double *x, double *y,
                   struct viz_box *box);

/*
 * Place the labels of r (lab holds r->n): the wanted ones (at most
 * VIZ_LABELS_MAX, notable first) outside the ring, moved along the circle
 * and then outwards with a leader line until their box meets no other
 * label, the key's label or an id tick. A label that finds no spot, or
 * every label when out of memory, is left unshown: placed boxes never
 * overlap.
 */
void viz_place_labels(const struct viz_ring *r, struct viz_label *lab,
                      bool two_lines);

/* ------------------------------------------------------------------ */
/* style.c: how each node state is drawn, and the words of counts.      */

/* one when n is 1, else many ("1 key", "2 keys", "0 keys"). */
const char *viz_plural(uint64_t n, const char *one, const char *many);

/* The colour of a state (enum viz_health), as its dot or outline. */
const char *viz_health_colour(unsigned health);

/* What the legend says a state means (live: the ring was crawled or
 * read from a snapshot; else topology mode). */
const char *viz_health_legend(unsigned health, bool live);

/* The symbol of a node in state `health` (a ghost: dashed outline) at
 * (cx, cy) with radius r: what the drawing and the legend both draw. */
void viz_style_symbol(struct viz_out *o, unsigned health, bool ghost, double cx,
                      double cy, double r);

/* The colour of the process a vnode position belongs to ("host:port#i":
 * the same for every position of host:port, one of a dozen hues), or
 * NULL for a node without the suffix. */
const char *viz_process_colour(const char *addr);

/* The nodes that are not OK, by state: "1 suspected, 2 dead" ("" when
 * every node is OK). */
void viz_state_summary(const struct viz_ring *r, char *out, size_t size);

/* Is the band shaded by the keys each node owns (a live ring holding
 * keys), rather than by each node's share of the ids? */
bool viz_arc_by_keys(const struct viz_ring *r);

/* What shades member i's range (primary keys, or percent of the ids),
 * and its largest value among the answering members. */
double viz_arc_value(const struct viz_ring *r, unsigned i);
double viz_arc_max(const struct viz_ring *r);

/* The density arc a node falls in, and the most members one arc holds. */
unsigned viz_density_bin(const struct viz_node *n);
unsigned viz_density_max(const struct viz_ring *r);

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

/* legend.c: summary lines under the legend of a standalone SVG. Returns
 * the height used. */
double viz_svg_summary(struct viz_out *o, const struct viz_ring *r, double x,
                       double y);

/* legend.c: the title of a standalone SVG, at (20, 30) and (20, 50):
 * every node known, those not OK by state, and from where. */
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
