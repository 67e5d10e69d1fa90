/*
 * layout.c - where things go in the drawing: each node on the circle at
 * the angle of its id (0 at the top, clockwise), the size of the dots,
 * the key's label, the id ticks, and the node labels, placed so that no
 * two overlap.
 *
 * Labels sit outside the ring. Which nodes get one: every node up to
 * VIZ_LABELS_TWO_LINES nodes (address, then short id and detail); beyond,
 * only the notable ones (highlighted, on the key's path or replica set,
 * or not OK), at most VIZ_LABELS_MAX, the rest being named by hover
 * titles. The collision pass takes them in ring order after the widest
 * gap; each tries its natural spot (just outside the band, at its node's
 * angle), then spots moved along the circle, then the same at growing
 * radii (reached by a leader line), each ring of spots reaching further
 * along the circle than the one inside it (a crowd of adjacent ids fans
 * out around the ring rather than straight out), and takes the first whose box
 * meets no box placed before, nor the key's label, nor the id ticks. The search
 * is bounded; a label that finds no spot is not shown (its node keeps its
 * hover title), so labels never overlap.
 *
 * Invariants: the placement depends only on the model; the boxes are
 * estimates of DejaVu Sans text (a per-character width table, rounded
 * up), which the drawing uses as well. It writes no output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

#define LABEL_GAP 8.0     /* from the band's outer edge to a label */
#define LABEL_PAD 2.0     /* free space kept around every box */
#define LEVEL_STEP 12.0   /* radius between two rings of spots */
#define LEVELS_MAX 200u   /* rings of spots tried */
#define SHIFT_STEP 7.0    /* arc length between two spots on a ring */
#define SHIFTS 8          /* spots each way along the first ring */
#define SHIFTS_GROW 6     /* more spots each way on each further ring */
#define SHIFTS_MAX 60     /* spots each way at most */
#define LEADER_SHIFT 14.0 /* moved further than this: a leader line */
#define KEY_LABEL_R (VIZ_R - 100.0)

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

void viz_polar(double rad, double frac, double *x, double *y)
{
    double a = 2.0 * VIZ_PI * frac - VIZ_PI / 2.0;
    *x = VIZ_CX + rad * cos(a);
    *y = VIZ_CY + rad * sin(a);
}

double viz_node_radius(const struct viz_ring *r)
{
    return r->n <= 64 ? 7.0 : r->n <= 256 ? 5.0 : 3.0;
}

bool viz_layout_dense(const struct viz_ring *r)
{
    return r->n >= VIZ_DENSITY_MIN;
}

bool viz_labels_two_lines(const struct viz_ring *r)
{
    return r->n <= VIZ_LABELS_TWO_LINES;
}

/* How much a node asks for a label: 0 (only when every node has one),
 * 1 not OK, 2 on the key's path or replica set, 3 highlighted or owner. */
static int label_priority(const struct viz_node *n)
{
    if (n->highlight || n->owner)
        return 3;
    if (n->replica || n->path_pos >= 0)
        return 2;
    return n->health != VIZ_OK ? 1 : 0;
}

bool viz_label_wanted(const struct viz_ring *r, const struct viz_node *n)
{
    return r->n <= VIZ_LABELS_TWO_LINES || label_priority(n) > 0;
}

/* The second line of a label, after the short id and a middle dot: why
 * the node is marked, else what it owns ("" when nothing to add). */
void viz_label_detail(const struct viz_ring *r, const struct viz_node *n,
                      char out[64])
{
    if (n->ghost)
        snprintf(out, 64, "%s, gone",
                 n->health == VIZ_DEAD ? "dead" : "suspected");
    else if (n->health == VIZ_SUSPECTED || n->health == VIZ_DEAD)
        snprintf(out, 64, "%s", viz_health_names[n->health]);
    else if (!n->live)
        snprintf(out, 64, "no answer");
    else if (r->live)
        snprintf(out, 64, "owns %llu %s", (unsigned long long)n->primary_keys,
                 viz_plural(n->primary_keys, "key", "keys"));
    else
        out[0] = '\0';
}

double viz_text_width(const char *s, size_t len, double fs, bool bold)
{
    double em = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && c < 0xc0)
            continue; /* a UTF-8 continuation byte */
        if (c < 0x20 || c == 0x7f)
            em += 4 * 0.64; /* shown as \xHH */
        else if (c >= '0' && c <= '9')
            em += 0.64;
        else if (strchr(".,:;|!'ijl", c))
            em += 0.34;
        else if (c == ' ')
            em += 0.32;
        else if (strchr("ftrI-()[]", c))
            em += 0.42;
        else if (strchr("mwMW@", c))
            em += 1.0;
        else if (c >= 'A' && c <= 'Z')
            em += 0.78;
        else
            em += 0.64;
    }
    return em * fs * (bold ? 1.12 : 1.04) + 2.0;
}

static bool box_overlap(const struct viz_box *a, const struct viz_box *b)
{
    return a->x0 < b->x1 + LABEL_PAD && b->x0 < a->x1 + LABEL_PAD &&
           a->y0 < b->y1 + LABEL_PAD && b->y0 < a->y1 + LABEL_PAD;
}

void viz_tick_label(unsigned q, double *x, double *y, struct viz_box *box)
{
    double tx, ty;
    viz_polar(VIZ_R - 62, q / 4.0, &tx, &ty);
    *x = tx;
    *y = ty + 3.5; /* the baseline; text-anchor middle, font 10 */
    double w = q == 0 ? 10.0 : 40.0;
    box->x0 = tx - w / 2;
    box->x1 = tx + w / 2;
    box->y0 = *y - 10.0;
    box->y1 = *y + 3.0;
}

void viz_key_label(const struct viz_ring *r, double *x, double *y,
                   struct viz_box *box)
{
    size_t shown = r->key_len > VIZ_KEY_SHOWN ? VIZ_KEY_SHOWN : r->key_len;
    double w = viz_text_width(r->key, shown, 13.0, true) +
               viz_text_width("key \"\"\xe2\x80\xa6", 9, 13.0, true);
    double kf = chord_id_fraction(&r->key_id);
    /* Start at KEY_LABEL_R towards the key and move in until the box is
     * well inside the band (a long key near 3 or 9 o'clock) and clear of
     * the id ticks. */
    double inner = VIZ_R - VIZ_ARC_W / 2 - 12.0;
    for (double rad = KEY_LABEL_R; rad >= 0; rad -= 10.0) {
        double tx, ty;
        viz_polar(rad, kf, &tx, &ty);
        double base = ty + (ty > VIZ_CY ? -6 : 14);
        struct viz_box b = {tx - w / 2, base - 13.0, tx + w / 2, base + 4.0};
        *x = tx;
        *y = base;
        *box = b;
        double fx = fmax(fabs(b.x0 - VIZ_CX), fabs(b.x1 - VIZ_CX));
        double fy = fmax(fabs(b.y0 - VIZ_CY), fabs(b.y1 - VIZ_CY));
        bool free = hypot(fx, fy) <= inner;
        for (unsigned q = 0; q < 4 && free; q++) {
            double qx, qy;
            struct viz_box tick;
            viz_tick_label(q, &qx, &qy, &tick);
            free = !box_overlap(&b, &tick);
        }
        if (free)
            return;
    }
}

static double clamp1(double v)
{
    return v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
}

/* The box of a w x h label anchored at radius rad, angle a: on the outer
 * side of its anchor (its corner facing the centre at the anchor, sliding
 * to centred near the axes), so it never covers the circle. */
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

/* The size of node n's label. */
static void label_size(const struct viz_ring *r, const struct viz_node *n,
                       bool two_lines, double *w, double *h)
{
    bool bold = n->highlight || n->owner;
    const char *a = n->self.addr;
    *w = viz_text_width(a, strlen(a), two_lines ? 12.0 : 11.0, bold);
    *h = two_lines ? 29.0 : 15.0;
    if (two_lines) {
        char detail[64], line[96];
        viz_label_detail(r, n, detail);
        snprintf(line, sizeof line, "00000000%s%s", detail[0] ? " . " : "",
                 detail);
        double w2 = viz_text_width(line, strlen(line), 11.0, false);
        if (w2 > *w)
            *w = w2;
    }
}

/* Mark the labels wanted, at most VIZ_LABELS_MAX, the most notable
 * first. */
static void choose_labels(const struct viz_ring *r, struct viz_label *lab)
{
    unsigned taken = 0;
    for (int p = 3; p >= 0; p--)
        for (unsigned i = 0; i < r->n; i++) {
            const struct viz_node *n = &r->nodes[i];
            if (label_priority(n) != p || !viz_label_wanted(r, n))
                continue;
            if (taken < VIZ_LABELS_MAX) {
                lab[i].shown = true;
                taken++;
            }
        }
}

/* Does b meet an obstacle or a placed box? */
static bool clashes(const struct viz_box *b, const struct viz_box *placed,
                    unsigned n)
{
    for (unsigned m = 0; m < n; m++)
        if (box_overlap(b, &placed[m]))
            return true;
    return false;
}

/* Find a spot for a w x h label of the node at angle a0; false if none. */
static bool find_spot(double a0, double w, double h,
                      const struct viz_box *placed, unsigned n_placed,
                      struct viz_label *l)
{
    double base = VIZ_R + VIZ_ARC_W / 2 + LABEL_GAP;
    for (unsigned level = 0; level < LEVELS_MAX; level++) {
        double rad = base + LEVEL_STEP * level;
        int shifts = SHIFTS + SHIFTS_GROW * (int)level;
        shifts = shifts < SHIFTS_MAX ? shifts : SHIFTS_MAX;
        for (int k = 0; k <= 2 * shifts; k++) {
            int s = (k + 1) / 2 * (k % 2 ? 1 : -1);
            double a = a0 + s * SHIFT_STEP / rad;
            struct viz_box b = label_box(rad, a, w, h);
            if (clashes(&b, placed, n_placed))
                continue;
            l->box = b;
            l->leader = level > 0 || fabs(s * SHIFT_STEP) > LEADER_SHIFT;
            return true;
        }
    }
    return false;
}

void viz_place_labels(const struct viz_ring *r, struct viz_label *lab,
                      bool two_lines)
{
    memset(lab, 0, (r->n ? r->n : 1) * sizeof *lab);
    if (r->n == 0)
        return;
    choose_labels(r, lab);
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
    struct viz_box *placed =
        calloc(VIZ_LABELS_MAX + 8, sizeof *placed); /* labels + obstacles */
    if (!placed) {
        memset(lab, 0, r->n * sizeof *lab);
        return;
    }
    unsigned n_placed = 0;
    double tx, ty;
    for (unsigned q = 0; q < 4; q++)
        viz_tick_label(q, &tx, &ty, &placed[n_placed++]);
    if (r->has_key)
        viz_key_label(r, &tx, &ty, &placed[n_placed++]);
    for (unsigned k = 0; k < r->n; k++) {
        unsigned i = (start + k) % r->n;
        const struct viz_node *n = &r->nodes[i];
        struct viz_label *l = &lab[i];
        if (!l->shown)
            continue;
        double w, h;
        label_size(r, n, two_lines, &w, &h);
        l->two_lines = two_lines;
        double a0 = 2.0 * VIZ_PI * n->frac - VIZ_PI / 2.0;
        if (!find_spot(a0, w, h, placed, n_placed, l)) {
            l->shown = false;
            continue;
        }
        double out = VIZ_R + VIZ_ARC_W / 2 + 1;
        l->ax = VIZ_CX + out * cos(a0);
        l->ay = VIZ_CY + out * sin(a0);
        /* The leader ends at the point of the box nearest the node. */
        l->lx = fmin(fmax(l->ax, l->box.x0), l->box.x1);
        l->ly = fmin(fmax(l->ay, l->box.y0), l->box.y1);
        placed[n_placed++] = l->box;
    }
    free(placed);
}
