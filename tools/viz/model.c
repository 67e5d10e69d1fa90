/*
 * model.c - the ring model dht-viz draws: a table of nodes (members of
 * the ring and ghosts known only from peers' reports), its indexes and the
 * queries the stages and renderers ask of it.
 *
 * Invariants: the table holds at most VIZ_NODES_MAX + VIZ_GHOSTS_MAX
 * nodes; once indexed (viz_ring_index) the nodes are sorted by id and
 * by_addr lists them by address, so both lookups are binary searches; a
 * ghost is never a member (it owns no range and succeeds nobody).
 *
 * It does not fill the table (crawl.c, input.c and topology.c do; it
 * only copies one status report into a node for the first two), place
 * the nodes (layout.c) or print anything but the --highlight warning.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viz.h"

const char *const viz_health_names[VIZ_HEALTH_N] = {"ok", "suspected", "dead",
                                                    "unreachable"};

void viz_short_id(const struct chord_id *id, char out[VIZ_SHORT + 1])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(out, hex, VIZ_SHORT);
    out[VIZ_SHORT] = '\0';
}

/* Remember a remark about the crawl (the first VIZ_NOTES_MAX). */
void viz_ring_note(struct viz_ring *r, const char *fmt, ...)
{
    if (r->n_notes >= VIZ_NOTES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->n_notes++], VIZ_NOTE_LEN, fmt, ap);
    va_end(ap);
}

static void node_free(struct viz_node *n)
{
    free(n->succ);
    free(n->fingers);
    free(n->peers);
}

void viz_ring_free(struct viz_ring *r)
{
    for (unsigned i = 0; i < r->n; i++)
        node_free(&r->nodes[i]);
    free(r->nodes);
    free(r->by_addr);
    memset(r, 0, sizeof *r);
}

/* Append a blank node for `p`. NULL when out of memory or over the cap
 * (VIZ_NODES_MAX + VIZ_GHOSTS_MAX). */
struct viz_node *viz_ring_add(struct viz_ring *r, const struct chord_peer *p)
{
    if (r->n >= VIZ_NODES_MAX + VIZ_GHOSTS_MAX)
        return NULL;
    if (r->n == r->cap) {
        unsigned ncap = r->cap ? r->cap * 2 : 32;
        struct viz_node *nn = realloc(r->nodes, ncap * sizeof *nn);
        if (!nn)
            return NULL;
        r->nodes = nn;
        r->cap = ncap;
    }
    struct viz_node *n = &r->nodes[r->n++];
    memset(n, 0, sizeof *n);
    n->self = *p;
    n->path_pos = -1;
    return n;
}

/* Append a finger for bit `bit` naming `p`, merging it with the previous
 * run when that names the same node. `fingers` holds CHORD_ID_BITS. */
void viz_finger_push(struct viz_finger *fingers, unsigned *n, unsigned bit,
                     const struct chord_id *start, const struct chord_peer *p)
{
    if (*n > 0 && chord_id_eq(&fingers[*n - 1].node.id, &p->id)) {
        fingers[*n - 1].last_bit = bit;
        return;
    }
    if (*n >= CHORD_ID_BITS)
        return;
    struct viz_finger *f = &fingers[(*n)++];
    f->first_bit = f->last_bit = bit;
    f->start = *start;
    f->node = *p;
}

/* The finger index i of a finger whose start is self + 2^i. */
static unsigned finger_bit(const struct chord_id *self,
                           const struct chord_id *start)
{
    struct chord_id d;
    chord_id_sub(&d, start, self);
    for (unsigned k = 0; k < CHORD_ID_BYTES; k++) {
        if (d.b[k] == 0)
            continue;
        unsigned bit = 7;
        while (!(d.b[k] & (1u << bit)))
            bit--;
        return (CHORD_ID_BYTES - 1 - k) * 8 + bit;
    }
    return 0;
}

/* Copy what the viewer needs from a status report into `n`. */
int viz_node_from_status(struct viz_node *n, const struct chord_status *s)
{
    n->self = s->self;
    n->live = true;
    n->state = s->state;
    n->has_pred = s->has_pred;
    n->pred = s->pred;
    n->keys = s->keys;
    n->primary_keys = s->primary_keys;
    n->replicas = s->replicas;
    unsigned ns = s->n_succ < CHORD_SUCC_MAX ? s->n_succ : CHORD_SUCC_MAX;
    unsigned nf = s->n_fingers < CHORD_ID_BITS ? s->n_fingers : CHORD_ID_BITS;
    unsigned np = s->n_peers < CHORD_PEERS_MAX ? s->n_peers : CHORD_PEERS_MAX;
    n->succ = calloc(ns ? ns : 1, sizeof *n->succ);
    n->fingers = calloc(nf ? nf : 1, sizeof *n->fingers);
    n->peers = calloc(np ? np : 1, sizeof *n->peers);
    if (!n->succ || !n->fingers || !n->peers)
        return -ENOMEM;
    memcpy(n->succ, s->succ, ns * sizeof *n->succ);
    n->n_succ = ns;
    for (unsigned i = 0; i < nf; i++)
        viz_finger_push(n->fingers, &n->n_fingers,
                        finger_bit(&s->self.id, &s->fingers[i].start),
                        &s->fingers[i].start, &s->fingers[i].node);
    memcpy(n->peers, s->peers, np * sizeof *n->peers);
    n->n_peers = np;
    return 0;
}

static int cmp_node_id(const void *a, const void *b)
{
    const struct viz_node *x = a, *y = b;
    return chord_id_cmp(&x->self.id, &y->self.id);
}

/* qsort has no context argument: the address index is sorted through a
 * small array of (address, index) pairs instead. */
struct viz_addr_ref {
    const char *addr;
    unsigned idx;
};

static int cmp_addr_ref(const void *a, const void *b)
{
    const struct viz_addr_ref *x = a, *y = b;
    return strcmp(x->addr, y->addr);
}

/* Sort the nodes by id and build the address index. 0 or -ENOMEM. */
int viz_ring_index(struct viz_ring *r)
{
    if (r->n > 1)
        qsort(r->nodes, r->n, sizeof *r->nodes, cmp_node_id);
    free(r->by_addr);
    r->by_addr = NULL;
    if (r->n == 0)
        return 0;
    struct viz_addr_ref *refs = calloc(r->n, sizeof *refs);
    r->by_addr = calloc(r->n, sizeof *r->by_addr);
    if (!refs || !r->by_addr) {
        free(refs);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < r->n; i++) {
        refs[i].addr = r->nodes[i].self.addr;
        refs[i].idx = i;
    }
    qsort(refs, r->n, sizeof *refs, cmp_addr_ref);
    for (unsigned i = 0; i < r->n; i++)
        r->by_addr[i] = refs[i].idx;
    free(refs);
    return 0;
}

/* The index of the node with address `addr`, or -1 (after ring_index). */
int viz_ring_find_addr(const struct viz_ring *r, const char *addr)
{
    unsigned lo = 0, hi = r->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = strcmp(r->nodes[r->by_addr[mid]].self.addr, addr);
        if (c == 0)
            return (int)r->by_addr[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The index of the node with id `id`, or -1 (after ring_index). */
int viz_ring_find_id(const struct viz_ring *r, const struct chord_id *id)
{
    unsigned lo = 0, hi = r->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = chord_id_cmp(&r->nodes[mid].self.id, id);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

unsigned viz_ring_count_health(const struct viz_ring *r,
                               unsigned counts[VIZ_HEALTH_N])
{
    unsigned ghosts = 0;
    memset(counts, 0, VIZ_HEALTH_N * sizeof counts[0]);
    for (unsigned i = 0; i < r->n; i++) {
        counts[r->nodes[i].health < VIZ_HEALTH_N ? r->nodes[i].health : 0]++;
        ghosts += r->nodes[i].ghost;
    }
    return ghosts;
}

/* Is node i a member of the ring (not a ghost)? */
bool viz_ring_member(const struct viz_ring *r, unsigned i)
{
    return !r->nodes[i].ghost;
}

unsigned viz_ring_members(const struct viz_ring *r)
{
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += viz_ring_member(r, i);
    return members;
}

/* The member following i by id, wrapping; i itself when alone. With
 * `answering`, skip members that did not answer. */
unsigned viz_ring_next_member(const struct viz_ring *r, unsigned i,
                              bool answering)
{
    for (unsigned k = 1; k <= r->n; k++) {
        unsigned j = (i + k) % r->n;
        if (viz_ring_member(r, j) && (!answering || r->nodes[j].live))
            return j;
    }
    return i;
}

unsigned viz_ring_prev_member(const struct viz_ring *r, unsigned i)
{
    for (unsigned k = 1; k <= r->n; k++) {
        unsigned j = (i + r->n - k) % r->n;
        if (viz_ring_member(r, j))
            return j;
    }
    return i;
}

/* The member that owns `id`: the first member whose id is >= id. */
int viz_ring_owner_of(const struct viz_ring *r, const struct chord_id *id,
                      bool answering)
{
    int first = -1;
    for (unsigned i = 0; i < r->n; i++) {
        if (!viz_ring_member(r, i) || (answering && !r->nodes[i].live))
            continue;
        if (first < 0)
            first = (int)i;
        if (chord_id_cmp(&r->nodes[i].self.id, id) >= 0)
            return (int)i;
    }
    return first;
}

/* Totals, wrong successors, the highlight. */
void viz_ring_finish(struct viz_ring *r, const char *highlight)
{
    r->max_keys = r->total_keys = 0;
    r->n_answer = 0;
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        if (n->live && !n->ghost) {
            r->n_answer++;
            r->total_keys += n->primary_keys;
            if (n->primary_keys > r->max_keys)
                r->max_keys = n->primary_keys;
        }
        if (!r->replicas && n->live && n->replicas)
            r->replicas = n->replicas;
    }
    if (!r->replicas)
        r->replicas = VIZ_DEFAULT_REPLICAS;
    /* A successor pointer is wrong when an answering member lies strictly
     * between the node and its successor: the ring skips it. (Pointing at
     * a node that stopped answering is drawn by that node's cross.) */
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        if (!n->live || n->ghost || n->n_succ == 0)
            continue;
        int j = viz_ring_find_id(r, &n->succ[0].id);
        if (j < 0 || (unsigned)j == i)
            continue;
        for (unsigned k = (i + 1) % r->n; k != (unsigned)j; k = (k + 1) % r->n)
            if (viz_ring_member(r, k) && r->nodes[k].live) {
                n->bad_succ = true;
                break;
            }
    }
    r->highlight = -1;
    if (highlight) {
        r->highlight = viz_ring_find_addr(r, highlight);
        if (r->highlight < 0)
            fprintf(stderr,
                    "dht-viz: warning: --highlight %s is not a node "
                    "of the ring\n",
                    highlight);
        else
            r->nodes[r->highlight].highlight = true;
    }
    if (!r->when[0]) { /* a snapshot keeps the time of its file */
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(r->when, sizeof r->when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
}

/* The share of the identifier space node i owns (from the previous member),
 * in percent. */
double viz_ring_owned_percent(const struct viz_ring *r, unsigned i)
{
    unsigned p = viz_ring_prev_member(r, i);
    if (p == i)
        return 100.0;
    double d = r->nodes[i].frac - r->nodes[p].frac;
    if (d <= 0)
        d += 1.0;
    return 100.0 * d;
}
