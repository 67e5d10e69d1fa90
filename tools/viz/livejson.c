/*
 * livejson.c - the JSON the live page draws from: one node (where
 * layout.c put it and its label, its state and the detectors' verdicts
 * about it, its lists and key counts) and the geometry of the drawing.
 *
 * Coordinates are SVG user units of layout.c's drawing, rounded to
 * tenths and sent as integers (x10), so the page draws exactly what the
 * static SVG would. Every string is escaped by the JSON writer.
 *
 * It does not decide what changed (feed.c) nor hold state.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "livejson.h"
#include "render.h"

/* A coordinate as tenths of a unit. */
static void coord(struct chord_json *j, const char *name, double v)
{
    chord_json_key(j, name);
    chord_json_int(j, (int64_t)lround(v * 10.0));
}

static void uintk(struct chord_json *j, const char *name, uint64_t v)
{
    chord_json_key(j, name);
    chord_json_uint(j, v);
}

static void strk(struct chord_json *j, const char *name, const char *s)
{
    chord_json_key(j, name);
    chord_json_str(j, s);
}

/* The names the page uses for a health (viz_health_names but "unknown"
 * for a node the viewer cannot reach and no detector has judged). */
static const char *health_name(int h)
{
    static const char *const names[] = {"ok", "suspected", "dead", "no-answer"};
    return h >= 0 && h < 4 ? names[h] : "no-answer";
}

void viz_livejson_node(struct chord_json *j, const struct viz_ring *r,
                       unsigned i, const struct viz_label *lab, const char *by)
{
    const struct viz_node *n = &r->nodes[i];
    char sid[VIZ_SHORT + 1], detail[64];
    viz_short_id(&n->self.id, sid);
    viz_label_detail(r, n, detail);
    if (!n->live && (n->health == VIZ_DEAD || n->health == VIZ_SUSPECTED))
        snprintf(detail, sizeof detail, "%s", health_name(n->health));
    chord_json_obj_begin(j);
    strk(j, "addr", n->self.addr);
    chord_json_key(j, "id");
    chord_json_id(j, &n->self.id);
    strk(j, "short", sid);
    strk(j, "state", n->live ? chord_node_state_name(n->state) : "unknown");
    strk(j, "health", health_name(n->health));
    chord_json_key(j, "answered");
    chord_json_bool(j, n->live);
    chord_json_key(j, "ghost");
    chord_json_bool(j, n->ghost);
    strk(j, "by", by);
    chord_json_key(j, "frac");
    chord_json_int(j, (int64_t)lround(n->frac * 1e6));
    coord(j, "x", n->x);
    coord(j, "y", n->y);
    chord_json_key(j, "label");
    if (lab->shown) {
        chord_json_obj_begin(j);
        coord(j, "x0", lab->box.x0);
        coord(j, "y0", lab->box.y0);
        coord(j, "x1", lab->box.x1);
        coord(j, "y1", lab->box.y1);
        chord_json_key(j, "leader");
        chord_json_bool(j, lab->leader);
        coord(j, "lx", lab->lx);
        coord(j, "ly", lab->ly);
        strk(j, "detail", detail);
        chord_json_obj_end(j);
    } else {
        chord_json_null(j);
    }
    uintk(j, "keys", n->keys);
    uintk(j, "primary", n->primary_keys);
    uintk(j, "replicas", n->replicas);
    chord_json_key(j, "bad_succ");
    chord_json_bool(j, n->bad_succ);
    chord_json_key(j, "pred");
    if (n->has_pred)
        chord_json_str(j, n->pred.addr);
    else
        chord_json_null(j);
    chord_json_key(j, "succ");
    chord_json_arr_begin(j);
    for (unsigned k = 0; k < n->n_succ; k++)
        chord_json_str(j, n->succ[k].addr);
    chord_json_arr_end(j);
    chord_json_key(j, "fingers");
    chord_json_arr_begin(j);
    for (unsigned k = 0; k < n->n_fingers; k++) {
        chord_json_obj_begin(j);
        uintk(j, "first", n->fingers[k].first_bit);
        uintk(j, "last", n->fingers[k].last_bit);
        strk(j, "addr", n->fingers[k].node.addr);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_key(j, "peers");
    chord_json_arr_begin(j);
    for (unsigned k = 0; k < n->n_peers; k++) {
        const struct chord_peer_info *p = &n->peers[k];
        chord_json_obj_begin(j);
        strk(j, "addr", p->addr);
        strk(j, "state", chord_peer_state_name(p->state));
        uintk(j, "rtt_ms", p->rtt_ms);
        uintk(j, "timeout_ms", p->timeout_ms);
        uintk(j, "false_suspicions", p->false_suspicions);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_obj_end(j);
}

void viz_livejson_geometry(struct chord_json *j, const struct viz_ring *r,
                           const struct viz_label *lab)
{
    double m = VIZ_R + VIZ_ARC_W + 12.0;
    struct viz_box bb = {VIZ_CX - m, VIZ_CY - m, VIZ_CX + m, VIZ_CY + m};
    for (unsigned i = 0; i < r->n; i++) {
        if (!lab[i].shown)
            continue;
        bb.x0 = fmin(bb.x0, lab[i].box.x0 - 6);
        bb.y0 = fmin(bb.y0, lab[i].box.y0 - 6);
        bb.x1 = fmax(bb.x1, lab[i].box.x1 + 6);
        bb.y1 = fmax(bb.y1, lab[i].box.y1 + 6);
    }
    chord_json_obj_begin(j);
    coord(j, "cx", VIZ_CX);
    coord(j, "cy", VIZ_CY);
    coord(j, "r", VIZ_R);
    coord(j, "arc", VIZ_ARC_W);
    coord(j, "succ_r", VIZ_SUCC_R);
    coord(j, "node_r", viz_node_radius(r));
    chord_json_key(j, "two_lines");
    chord_json_bool(j, r->n <= VIZ_LABELS_TWO_LINES);
    coord(j, "vx", bb.x0);
    coord(j, "vy", bb.y0);
    coord(j, "vw", bb.x1 - bb.x0);
    coord(j, "vh", bb.y1 - bb.y0);
    chord_json_obj_end(j);
}
