/*
 * layout.c - where things go in the drawing: each node on the circle at
 * the angle of its id (0 at the top, clockwise), the size of the dots, and
 * the labels, placed so that they do not overlap where that can be helped.
 *
 * Invariants: a label box sits on the outer side of its node and inside
 * the drawing (below the title band); labels are placed in ring order
 * after the widest gap, each at the first free position from near to far,
 * so the placement depends only on the model.
 *
 * It writes no output (svg.c draws what it places).
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "render.h"

void viz_layout_place(struct viz_ring *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        n->frac = chord_id_fraction(&n->self.id);
        double a = 2.0 * VIZ_PI * n->frac - VIZ_PI / 2.0;
        n->x = VIZ_CX + VIZ_R * cos(a);
        n->y = VIZ_CY + VIZ_R * sin(a);
    }
}

static bool box_overlap(const struct viz_box *a, const struct viz_box *b)
{
    const double pad = 2.0;
    return a->x0 < b->x1 + pad && b->x0 < a->x1 + pad && a->y0 < b->y1 + pad &&
           b->y0 < a->y1 + pad;
}

double viz_node_radius(const struct viz_ring *r)
{
    return r->n <= 64 ? 7.0 : r->n <= 256 ? 5.0 : 3.0;
}

static bool label_wanted(const struct viz_ring *r, const struct viz_node *n)
{
    if (r->n <= VIZ_LABELS_MAX)
        return true;
    return n->highlight || n->owner || n->replica || n->path_pos >= 0 ||
           n->health != VIZ_OK;
}

/* The second line of a label, after the short id and a middle dot: what
 * the node holds or why it is marked ("" when there is nothing to add). */
void viz_label_detail(const struct viz_ring *r, const struct viz_node *n,
                      char out[64])
{
    if (n->ghost)
        snprintf(out, 64, "%s", n->health == VIZ_DEAD ? "dead" : "suspected");
    else if (!n->live)
        snprintf(out, 64, "no answer");
    else if (r->live)
        snprintf(out, 64, "%llu key%s", (unsigned long long)n->keys,
                 n->keys == 1 ? "" : "s");
    else
        out[0] = '\0';
}

static double clamp1(double v)
{
    return v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
}

/* Label box for a label of size w x h anchored at radius rad, angle a: the
 * box sits on the outer side of its anchor (its corner facing the centre
 * at the anchor, sliding to centred near the axes), so it never covers the
 * circle. */
static struct viz_box label_box(double rad, double a, double w, double h)
{
    double ax = VIZ_CX + rad * cos(a), ay = VIZ_CY + rad * sin(a);
    struct viz_box b;
    b.x0 = ax - w / 2.0 + clamp1(3.0 * cos(a)) * w / 2.0;
    b.y0 = ay - h / 2.0 + clamp1(3.0 * sin(a)) * h / 2.0;
    b.x1 = b.x0 + w;
    b.y1 = b.y0 + h;
    return b;
}

/*
 * Place the labels greedily in ring order, starting after the widest gap:
 * each takes the first position, from near to far (radius steps, then
 * small angle shifts), whose box overlaps no label already placed and stays
 * in the drawing. A label that finds none keeps its nearest position.
 */
void viz_place_labels(const struct viz_ring *r, struct viz_label *lab,
                      bool two_lines)
{
    double fs = two_lines ? 12.0 : 11.0;
    double h = two_lines ? 29.0 : 14.0;
    unsigned start = 0;
    double widest = -1;
    for (unsigned i = 0; i < r->n; i++) {
        double next =
            i + 1 < r->n ? r->nodes[i + 1].frac : r->nodes[0].frac + 1.0;
        if (next - r->nodes[i].frac > widest) {
            widest = next - r->nodes[i].frac;
            start = (i + 1) % r->n;
        }
    }
    struct viz_box *placed = calloc(r->n ? r->n : 1, sizeof *placed);
    unsigned n_placed = 0;
    if (!placed)
        return;
    static const double shifts[] = {0, 1.5, -1.5, 3, -3, 4.5, -4.5, 6, -6};
    for (unsigned k = 0; k < r->n; k++) {
        unsigned i = (start + k) % r->n;
        const struct viz_node *n = &r->nodes[i];
        lab[i].shown = label_wanted(r, n);
        if (!lab[i].shown)
            continue;
        char detail[64];
        viz_label_detail(r, n, detail);
        size_t chars = strlen(n->self.addr);
        size_t chars2 = VIZ_SHORT + (detail[0] ? 3 + strlen(detail) : 0);
        if (two_lines && chars2 > chars)
            chars = chars2;
        double w = (double)chars * fs * 0.62 + 4.0;
        double a0 = 2.0 * VIZ_PI * n->frac - VIZ_PI / 2.0;
        struct viz_box best = label_box(VIZ_R + 22.0, a0, w, h);
        bool found = false;
        double fa = a0, frad = VIZ_R + 22.0;
        for (unsigned step = 0; step < 10 && !found; step++) {
            double rad = VIZ_R + 22.0 + 15.0 * step;
            for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
                double a = a0 + shifts[s] * VIZ_PI / 180.0;
                struct viz_box b = label_box(rad, a, w, h);
                if (b.x0 < 4 || b.x1 > VIZ_RING_W - 4 || b.y0 < 44 ||
                    b.y1 > VIZ_H - 4)
                    continue;
                bool clash = false;
                for (unsigned m = 0; m < n_placed && !clash; m++)
                    clash = box_overlap(&b, &placed[m]);
                if (!clash) {
                    best = b;
                    fa = a;
                    frad = rad;
                    found = true;
                    break;
                }
            }
        }
        lab[i].box = best;
        lab[i].leader = frad > VIZ_R + 22.0 || fa != a0;
        /* The leader ends at the point of the box nearest the node. */
        lab[i].lx = n->x < best.x0 ? best.x0 : n->x > best.x1 ? best.x1 : n->x;
        lab[i].ly = n->y < best.y0 ? best.y0 : n->y > best.y1 ? best.y1 : n->y;
        placed[n_placed++] = best;
    }
    free(placed);
}

void viz_polar(double rad, double frac, double *x, double *y)
{
    double a = 2.0 * VIZ_PI * frac - VIZ_PI / 2.0;
    *x = VIZ_CX + rad * cos(a);
    *y = VIZ_CY + rad * sin(a);
}
