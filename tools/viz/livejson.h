/*
 * livejson.h - the JSON of the live page's nodes and geometry
 * (livejson.c), shared by feed.c. Coordinates are in tenths of SVG user
 * units of layout.c's drawing.
 */
#ifndef CHORD_TOOLS_VIZ_LIVEJSON_H
#define CHORD_TOOLS_VIZ_LIVEJSON_H

#include "common/json.h"
#include "render.h"
#include "viz.h"

/* Node i of the laid-out ring r as one JSON object; lab is its label,
 * `by` the addresses (", "-separated) of the nodes that suspect it or
 * declared it dead. */
void viz_livejson_node(struct chord_json *j, const struct viz_ring *r,
                       unsigned i, const struct viz_label *lab, const char *by);

/* The geometry of the drawing: centre, radii, node radius, and the
 * viewBox that holds the ring and every shown label. */
void viz_livejson_geometry(struct chord_json *j, const struct viz_ring *r,
                           const struct viz_label *lab);

#endif
