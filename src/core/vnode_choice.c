/*
 * vnode_choice.c - the greedy choice of a joining process's positions
 * (see vnode_choice.h for the rule).
 *
 * The view is copied into one array sorted by id, with each position's
 * place on the circle as a fraction (chord_id_fraction: 53 bits, far finer
 * than any arc that matters) and the share of each process kept beside
 * it; a pick is inserted in place, so after each pick the arcs and shares
 * are those of the ring with it. Cost: k picks x n_cand candidates x a
 * binary search, plus k insertions; for K = 16 and a few thousand
 * positions, well under a millisecond.
 *
 * Invariant: every index written is < n_cand and written once.
 */
#include "core/vnode_choice.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    struct chord_id id; /* first: chord_id_successor_at */
    double at;          /* chord_id_fraction(id), in [0, 1) */
    unsigned proc;      /* n_procs: the joiner */
};

static int slot_cmp(const void *a, const void *b)
{
    return chord_id_cmp(&((const struct slot *)a)->id,
                        &((const struct slot *)b)->id);
}

/* The arc from a to b going up the circle, as a fraction; the whole
 * circle when a and b are one position (a ring of one). */
static double arc_between(double a, double b, bool same)
{
    if (same)
        return 1.0;
    double d = b - a;
    return d < 0 ? d + 1.0 : d;
}

int chord_vnode_choose(const struct chord_vnode_pos *ring, size_t n_ring,
                       unsigned n_procs, const struct chord_id *cand,
                       unsigned n_cand, unsigned k, unsigned *out)
{
    if (k == 0 || k > n_cand)
        return -EINVAL;
    for (size_t i = 0; i < n_ring; i++)
        if (ring[i].proc >= n_procs)
            return -EINVAL;
    if (n_ring == 0) { /* the first process: nothing to balance against */
        for (unsigned i = 0; i < k; i++)
            out[i] = i;
        return 0;
    }
    struct slot *s = malloc((n_ring + k) * sizeof *s);
    double *share = calloc((size_t)n_procs + 1, sizeof *share);
    bool *used = calloc(n_cand, sizeof *used);
    if (!s || !share || !used) {
        free(s);
        free(share);
        free(used);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_ring; i++)
        s[i] = (struct slot){ring[i].id, chord_id_fraction(&ring[i].id),
                             ring[i].proc};
    qsort(s, n_ring, sizeof *s, slot_cmp);
    size_t n = n_ring;
    for (size_t i = 0; i < n; i++)
        share[s[i].proc] += arc_between(s[(i + n - 1) % n].at, s[i].at, n == 1);
    /* Processes in the view: those with a position (whose arc is not 0
     * unless two ids are equal). */
    unsigned procs = 0;
    for (unsigned p = 0; p < n_procs; p++)
        procs += share[p] > 0;
    const unsigned me = n_procs;
    const double target = 1.0 / (procs + 1);

    for (unsigned pick = 0; pick < k; pick++) {
        double want = (target - share[me]) / (double)(k - pick);
        long best = -1;
        double best_score = 0;
        size_t best_at = 0;
        double best_gain = 0;
        for (unsigned c = 0; c < n_cand; c++) {
            if (used[c])
                continue;
            size_t j = chord_id_successor_at(s, n, sizeof *s, &cand[c]);
            if (s[j].proc == me || chord_id_eq(&s[j].id, &cand[c]))
                continue;
            size_t before = (j + n - 1) % n;
            double gain =
                arc_between(s[before].at, chord_id_fraction(&cand[c]), false);
            double score = -fabs(gain - want) + (share[s[j].proc] - target);
            if (best < 0 || score > best_score) {
                best = c;
                best_score = score;
                best_at = j;
                best_gain = gain;
            }
        }
        if (best < 0) { /* every candidate left lands in our own arcs */
            for (unsigned c = 0; c < n_cand && best < 0; c++)
                if (!used[c])
                    best = c;
            best_at = chord_id_successor_at(s, n, sizeof *s, &cand[best]);
            best_gain = 0;
        } else {
            share[s[best_at].proc] -= best_gain;
            share[me] += best_gain;
        }
        used[best] = true;
        out[pick] = (unsigned)best;
        /* Insert before best_at (at the end when it wrapped to 0 and the
         * candidate is past the last id). */
        size_t at = best_at;
        if (at == 0 && chord_id_cmp(&cand[best], &s[0].id) > 0)
            at = n;
        memmove(&s[at + 1], &s[at], (n - at) * sizeof *s);
        s[at] = (struct slot){cand[best], chord_id_fraction(&cand[best]), me};
        n++;
    }
    free(s);
    free(share);
    free(used);
    return 0;
}
