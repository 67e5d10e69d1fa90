/*
 * dht_viz.c - dht-viz: draw a Chord ring, live or from a topology file, as
 * SVG, a self-contained HTML page, Graphviz DOT or a table for terminals.
 *
 *   dht-viz [--node H:P | --topology FILE] [--format svg|html|dot|text]
 *           [--output FILE] [--highlight ADDR] [--key KEY]
 *           [--watch N [--count M]] [--timeout-ms N]
 *   dht-viz --check-topology FILE   validate a topology file
 *   dht-viz --dump-topology FILE    print it normalised (for tools/dht-topo)
 *
 * Live mode walks successor pointers from one node, as `dht ring` does,
 * reading each node's status with a per-node timeout, for at most
 * VIZ_NODES_MAX nodes. A successor that does not answer is drawn as
 * unreachable and the walk goes on with the next entry of the successor
 * list. Peers that other nodes suspect or have declared dead are marked;
 * dead ones the walk no longer meets are drawn as ghosts at their id. With
 * --key the contacted node is asked for the lookup: its path is drawn hop
 * by hop, and the owner and its next r-1 successors as the replica set.
 *
 * Topology mode places the listed nodes by id (SHA-1 of the address, or the
 * explicit id) and derives what a correct ring would hold: predecessors,
 * successor lists, fingers and, with --key, the path a lookup from the
 * first listed node takes. It contacts nobody.
 *
 * Invariants: every string that comes from outside (addresses, the key, a
 * file name) is escaped for the output format; the HTML page refers to
 * nothing outside itself (inline SVG, CSS and script, no URL); every loop is
 * bounded (nodes, ghosts, path, watch rounds); an output file is replaced
 * atomically (a temporary file renamed over it).
 *
 * It never changes the ring and never starts or stops a process. Exit
 * status: 0 ok, 1 a malformed topology file or an output that cannot be
 * written, 2 a usage error, 3 the ring cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chord/client.h"
#include "chord/id.h"
#include "chord/types.h"
#include "common/args.h"
#include "common/exit.h"
#include "common/json.h"
#include "common/topology.h"
#include "chord/buf.h"

#define VIZ_NODES_MAX 4096u /* nodes a crawl visits (ghosts apart) */
#define VIZ_GHOSTS_MAX 256u /* dead peers drawn beside the ring */
#define VIZ_NOTES_MAX 6u    /* remarks about the crawl kept */
#define VIZ_NOTE_LEN 200u
#define VIZ_TIMEOUT_MS 2000 /* per node, default of --timeout-ms */
#define VIZ_TIMEOUT_MAX_MS 60000
#define VIZ_WATCH_MAX_S 86400u  /* --watch N: at most a day */
#define VIZ_COUNT_MAX 1000000u  /* --count M */
#define VIZ_PATH_NAME_MAX 1024u /* an output or topology path */
#define VIZ_DEFAULT_NODE "127.0.0.1:7000"
#define VIZ_DEFAULT_REPLICAS 3u   /* dhtd's default --replicas */
#define VIZ_DEFAULT_SUCCESSORS 8u /* dhtd's default --successors */
#define VIZ_SHORT 8               /* hex digits of a short id */
#define VIZ_LABELS_TWO_LINES 24u  /* up to this many: address + id labels */
#define VIZ_LABELS_MAX 64u        /* beyond this, only notable nodes */

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

enum viz_format { VIZ_SVG, VIZ_HTML, VIZ_DOT, VIZ_TEXT };

enum viz_health {
    VIZ_OK = 0,
    VIZ_SUSPECTED,  /* some peer suspects it */
    VIZ_DEAD,       /* some peer has declared it dead */
    VIZ_UNREACHABLE /* it did not answer the crawl */
};

static const char *const health_names[] = {"ok", "suspected", "dead",
                                           "unreachable"};

/* A run of fingers that name the same node: bits first..last. */
struct viz_finger {
    unsigned first_bit, last_bit;
    struct chord_id start; /* self + 2^first_bit */
    struct chord_peer node;
};

struct viz_node {
    struct chord_peer self;
    bool live;  /* answered (live mode), or derived (topology mode) */
    bool ghost; /* known only from other nodes' peer tables */
    uint8_t state;
    uint8_t health; /* enum viz_health */
    unsigned suspected_by, dead_by;
    bool has_pred;
    struct chord_peer pred;
    unsigned n_succ;
    struct chord_peer *succ;
    unsigned n_fingers;
    struct viz_finger *fingers;
    uint64_t keys, primary_keys;
    unsigned replicas;
    unsigned n_peers;
    struct chord_peer_info *peers;
    double frac; /* position on the circle, [0, 1) */
    double x, y;
    bool bad_succ; /* its successor is not the next answering node */
    bool owner, replica, highlight;
    int path_pos; /* the first hop number that reaches it, or -1 */
};

struct viz_ring {
    bool live;
    char source[VIZ_PATH_NAME_MAX];
    char when[40];
    unsigned n, cap;
    struct viz_node *nodes; /* sorted by id once built */
    unsigned *by_addr;      /* node indexes sorted by address */
    unsigned n_answer;
    unsigned replicas;
    uint64_t max_keys, total_keys;
    unsigned n_notes;
    char notes[VIZ_NOTES_MAX][VIZ_NOTE_LEN];
    /* The key trace (--key). */
    bool has_key, key_computed;
    const char *key;
    size_t key_len;
    struct chord_id key_id;
    char owner_addr[CHORD_ADDR_MAX];
    int owner;
    unsigned hops, n_path;
    char path_addr[CHORD_PATH_MAX][CHORD_ADDR_MAX];
    int path[CHORD_PATH_MAX];
    unsigned n_rep;
    int rep[CHORD_SUCC_MAX + 1];
    int highlight;
};

struct viz_opts {
    const char *node;
    const char *topology;
    int format;
    bool format_given;
    const char *output;
    const char *highlight;
    const char *key;
    unsigned watch, count;
    int timeout_ms;
};

/* ------------------------------------------------------------------ */
/* Output: a growable buffer with a sticky error, and escaping.         */

struct viz_out {
    struct chord_buf b;
    int err; /* first error, sticky */
};

static void out_raw(struct viz_out *o, const char *s, size_t n)
{
    if (!o->err)
        o->err = chord_buf_append(&o->b, s, n);
}

static void out_puts(struct viz_out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

static void out_printf(struct viz_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct viz_out *o, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->err = o->err ? o->err : -EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        out_raw(o, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        o->err = o->err ? o->err : -ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out_raw(o, big, (size_t)n);
    free(big);
}

/*
 * Bytes as XML/HTML text or attribute content: the five markup characters
 * become entities, and any byte that is not printable ASCII is shown as
 * \xHH, so the output is ASCII and well-formed whatever the input.
 */
static void out_xml(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            out_puts(o, "&amp;");
            break;
        case '<':
            out_puts(o, "&lt;");
            break;
        case '>':
            out_puts(o, "&gt;");
            break;
        case '"':
            out_puts(o, "&quot;");
            break;
        case '\'':
            out_puts(o, "&#39;");
            break;
        default:
            if (c < 0x20 || c >= 0x7f)
                out_printf(o, "\\x%02x", c);
            else
                out_raw(o, (const char *)&s[i], 1);
        }
    }
}

static void out_xmls(struct viz_out *o, const char *s)
{
    out_xml(o, s, strlen(s));
}

/* Bytes inside a DOT double-quoted string: quote and backslash escaped,
 * anything not printable ASCII shown as '?'. */
static void out_dot(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            out_raw(o, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            out_raw(o, "?", 1);
        } else {
            out_raw(o, (const char *)&s[i], 1);
        }
    }
}

/* Bytes for a terminal: printable ASCII as is, anything else as \xHH. */
static void out_plain(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            out_printf(o, "\\x%02x", c);
        else
            out_raw(o, (const char *)&s[i], 1);
    }
}

/* ------------------------------------------------------------------ */
/* The ring model.                                                      */

static void short_id(const struct chord_id *id, char out[VIZ_SHORT + 1])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(out, hex, VIZ_SHORT);
    out[VIZ_SHORT] = '\0';
}

static void ring_note(struct viz_ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remember a remark about the crawl (the first VIZ_NOTES_MAX). */
static void ring_note(struct viz_ring *r, const char *fmt, ...)
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

static void ring_free(struct viz_ring *r)
{
    for (unsigned i = 0; i < r->n; i++)
        node_free(&r->nodes[i]);
    free(r->nodes);
    free(r->by_addr);
    memset(r, 0, sizeof *r);
}

/* Append a blank node for `p`. NULL when out of memory or over the cap
 * (VIZ_NODES_MAX + VIZ_GHOSTS_MAX). */
static struct viz_node *ring_add(struct viz_ring *r, const struct chord_peer *p)
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

/* Append a finger for bit `bit` naming `p`, merging it with the previous
 * run when that names the same node. `fingers` holds CHORD_ID_BITS. */
static void finger_push(struct viz_finger *fingers, unsigned *n, unsigned bit,
                        const struct chord_id *start,
                        const struct chord_peer *p)
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

/* Copy what the viewer needs from a status report into `n`. */
static int node_from_status(struct viz_node *n, const struct chord_status *s)
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
        finger_push(n->fingers, &n->n_fingers,
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
static int ring_index(struct viz_ring *r)
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
static int find_addr(const struct viz_ring *r, const char *addr)
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
static int find_id(const struct viz_ring *r, const struct chord_id *id)
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

/* Linear search by id, for use before the ring is sorted. */
static int find_id_linear(const struct viz_ring *r, const struct chord_id *id)
{
    for (unsigned i = 0; i < r->n; i++)
        if (chord_id_eq(&r->nodes[i].self.id, id))
            return (int)i;
    return -1;
}

/* Is node i a member of the ring (not a ghost)? */
static bool member(const struct viz_ring *r, unsigned i)
{
    return !r->nodes[i].ghost;
}

/* The member following i by id, wrapping; i itself when alone. With
 * `answering`, skip members that did not answer. */
static unsigned next_member(const struct viz_ring *r, unsigned i,
                            bool answering)
{
    for (unsigned k = 1; k <= r->n; k++) {
        unsigned j = (i + k) % r->n;
        if (member(r, j) && (!answering || r->nodes[j].live))
            return j;
    }
    return i;
}

static unsigned prev_member(const struct viz_ring *r, unsigned i)
{
    for (unsigned k = 1; k <= r->n; k++) {
        unsigned j = (i + r->n - k) % r->n;
        if (member(r, j))
            return j;
    }
    return i;
}

/* The member that owns `id`: the first member whose id is >= id. */
static int owner_of(const struct viz_ring *r, const struct chord_id *id,
                    bool answering)
{
    int first = -1;
    for (unsigned i = 0; i < r->n; i++) {
        if (!member(r, i) || (answering && !r->nodes[i].live))
            continue;
        if (first < 0)
            first = (int)i;
        if (chord_id_cmp(&r->nodes[i].self.id, id) >= 0)
            return (int)i;
    }
    return first;
}

/* ------------------------------------------------------------------ */
/* Live mode: crawl the ring.                                           */

static const char *errtext(int rc)
{
    return rc == -ETIMEDOUT ? "no answer in time" : strerror(-rc);
}

/* Read the status of `addr` over a fresh connection. 0 or negative errno. */
static int fetch_status(const char *addr, int timeout_ms,
                        struct chord_status *st)
{
    struct chord_client *c = NULL;
    int rc = chord_client_connect(addr, timeout_ms, &c);
    if (rc == 0)
        rc = chord_client_status(c, st);
    chord_client_close(c);
    return rc;
}

/*
 * Walk successors from o->node and fill r with the nodes met. Returns 0,
 * -EHOSTUNREACH after printing why when the start node does not answer,
 * or -ENOMEM.
 */
static int crawl(struct viz_ring *r, const struct viz_opts *o)
{
    struct chord_status *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = fetch_status(o->node, o->timeout_ms, st);
    if (rc) {
        fprintf(stderr, "dht-viz: cannot reach the ring at %s: %s\n", o->node,
                errtext(rc));
        free(st);
        return -EHOSTUNREACH;
    }
    struct chord_id start = st->self.id;
    struct viz_node *n = ring_add(r, &st->self);
    if (!n || node_from_status(n, st)) {
        free(st);
        return -ENOMEM;
    }
    unsigned cur = 0;
    for (;;) {
        /* Copy the successor list: adding nodes may move r->nodes. */
        struct chord_peer succ[CHORD_SUCC_MAX];
        unsigned ns = r->nodes[cur].n_succ;
        memcpy(succ, r->nodes[cur].succ, ns * sizeof *succ);
        char cur_addr[CHORD_ADDR_MAX];
        memcpy(cur_addr, r->nodes[cur].self.addr, CHORD_ADDR_MAX);
        bool advanced = false, closed = false;
        for (unsigned k = 0; k < ns && !advanced && !closed; k++) {
            if (chord_id_eq(&succ[k].id, &start)) {
                closed = true;
                break;
            }
            int seen = find_id_linear(r, &succ[k].id);
            if (seen >= 0) {
                if (r->nodes[seen].live) {
                    ring_note(r,
                              "the walk met %s again before returning "
                              "to the start",
                              succ[k].addr);
                    closed = true;
                }
                continue;
            }
            if (r->n >= VIZ_NODES_MAX) {
                ring_note(r, "the walk stopped after %u nodes", VIZ_NODES_MAX);
                closed = true;
                break;
            }
            rc = fetch_status(succ[k].addr, o->timeout_ms, st);
            if (rc == 0 && chord_id_eq(&st->self.id, &start)) {
                closed = true;
                break;
            }
            if (rc == 0 && find_id_linear(r, &st->self.id) >= 0) {
                ring_note(r, "%s reports the id of a node already met",
                          succ[k].addr);
                closed = true;
                break;
            }
            n = ring_add(r, &succ[k]);
            if (!n) {
                free(st);
                return -ENOMEM;
            }
            if (rc == 0) {
                if (node_from_status(n, st)) {
                    free(st);
                    return -ENOMEM;
                }
                cur = r->n - 1;
                advanced = true;
            } else {
                ring_note(r, "%s did not answer (%s)", succ[k].addr,
                          errtext(rc));
            }
        }
        if (closed)
            break;
        if (!advanced) {
            if (r->n > 1 || ns > 0)
                ring_note(r,
                          "the walk stopped at %s: no successor of it "
                          "answered",
                          cur_addr);
            break;
        }
    }
    free(st);
    return 0;
}

/*
 * After a crawl: add the peers that some node suspects or declared dead
 * and the walk did not meet (ghosts), count the reports about every node
 * and set its health. The id of a ghost is the one some node lists for its
 * address, else SHA-1 of the address. 0 or -ENOMEM.
 */
static int crawl_health(struct viz_ring *r)
{
    unsigned n_walk = r->n, ghosts = 0;
    for (unsigned i = 0; i < n_walk; i++) {
        for (unsigned p = 0; p < r->nodes[i].n_peers; p++) {
            struct chord_peer_info pi = r->nodes[i].peers[p];
            if (pi.state == CHORD_PEER_ALIVE)
                continue;
            pi.addr[CHORD_ADDR_MAX - 1] = '\0';
            bool known = false;
            for (unsigned k = 0; k < r->n && !known; k++)
                known = strcmp(r->nodes[k].self.addr, pi.addr) == 0;
            if (known || ghosts >= VIZ_GHOSTS_MAX)
                continue;
            struct chord_peer g;
            memset(&g, 0, sizeof g);
            memcpy(g.addr, pi.addr, CHORD_ADDR_MAX);
            bool have_id = false;
            for (unsigned k = 0; k < n_walk && !have_id; k++) {
                const struct viz_node *m = &r->nodes[k];
                for (unsigned s = 0; s < m->n_succ && !have_id; s++)
                    if (strcmp(m->succ[s].addr, g.addr) == 0) {
                        g.id = m->succ[s].id;
                        have_id = true;
                    }
                if (!have_id && m->has_pred &&
                    strcmp(m->pred.addr, g.addr) == 0) {
                    g.id = m->pred.id;
                    have_id = true;
                }
            }
            if (!have_id)
                chord_id_hash(&g.id, g.addr, strlen(g.addr));
            if (find_id_linear(r, &g.id) >= 0)
                continue;
            struct viz_node *gn = ring_add(r, &g);
            if (!gn)
                return -ENOMEM;
            gn->ghost = true;
            ghosts++;
        }
    }
    int rc = ring_index(r);
    if (rc)
        return rc;
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *m = &r->nodes[i];
        for (unsigned p = 0; p < m->n_peers; p++) {
            int j = find_addr(r, m->peers[p].addr);
            if (j < 0 || (unsigned)j == i)
                continue;
            if (m->peers[p].state == CHORD_PEER_DEAD)
                r->nodes[j].dead_by++;
            else if (m->peers[p].state == CHORD_PEER_SUSPECTED)
                r->nodes[j].suspected_by++;
        }
    }
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *m = &r->nodes[i];
        if (!m->live && !m->ghost)
            m->health = VIZ_UNREACHABLE;
        else if (m->dead_by)
            m->health = VIZ_DEAD;
        else if (m->suspected_by || m->ghost)
            m->health = VIZ_SUSPECTED;
        else
            m->health = VIZ_OK;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Topology mode: the ring a correct Chord would build.                 */

/* The member at or after `id` (sorted ring, all members). */
static unsigned successor_of(const struct viz_ring *r,
                             const struct chord_id *id)
{
    for (unsigned i = 0; i < r->n; i++)
        if (chord_id_cmp(&r->nodes[i].self.id, id) >= 0)
            return i;
    return 0;
}

/* Fill r from a topology file's listed nodes. 0, -ENOMEM, or -EINVAL
 * after printing the parser's message. */
static int from_topology(struct viz_ring *r, const char *path)
{
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_load(path, &t, err);
    if (rc) {
        fprintf(stderr, "dht-viz: %s\n", err);
        return rc == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    unsigned succ_len =
        t.ring.successors ? t.ring.successors : VIZ_DEFAULT_SUCCESSORS;
    r->replicas = t.ring.replicas ? t.ring.replicas : VIZ_DEFAULT_REPLICAS;
    rc = 0;
    for (unsigned i = 0; i < t.n_listed && rc == 0; i++) {
        struct chord_peer p;
        memset(&p, 0, sizeof p);
        p.id = t.nodes[i].id;
        snprintf(p.addr, sizeof p.addr, "%s", t.nodes[i].addr);
        struct viz_node *n = ring_add(r, &p);
        if (!n)
            rc = -ENOMEM;
        else {
            n->live = true;
            n->state = CHORD_NODE_ACTIVE;
            n->replicas = r->replicas;
        }
    }
    /* The first listed node starts lookups; remember it across sorting. */
    char first[CHORD_ADDR_MAX];
    snprintf(first, sizeof first, "%s", t.nodes[0].addr);
    chord_topology_free(&t);
    if (rc == 0)
        rc = ring_index(r);
    for (unsigned i = 0; i < r->n && rc == 0; i++) {
        struct viz_node *n = &r->nodes[i];
        unsigned ns = r->n - 1 < succ_len ? r->n - 1 : succ_len;
        n->succ = calloc(ns ? ns : 1, sizeof *n->succ);
        n->fingers = calloc(CHORD_ID_BITS, sizeof *n->fingers);
        n->peers = calloc(1, sizeof *n->peers);
        if (!n->succ || !n->fingers || !n->peers) {
            rc = -ENOMEM;
            break;
        }
        for (unsigned k = 0; k < ns; k++)
            n->succ[k] = r->nodes[(i + 1 + k) % r->n].self;
        n->n_succ = ns;
        n->has_pred = true;
        n->pred = r->nodes[(i + r->n - 1) % r->n].self;
        for (unsigned b = 0; b < CHORD_ID_BITS; b++) {
            struct chord_id start;
            chord_id_add_pow2(&start, &n->self.id, b);
            unsigned j = successor_of(r, &start);
            finger_push(n->fingers, &n->n_fingers, b, &start,
                        &r->nodes[j].self);
        }
    }
    if (rc == 0) {
        snprintf(r->source, sizeof r->source, "%s", path);
        r->n_answer = r->n;
        int f = find_addr(r, first);
        r->owner = f; /* the lookup start, until key_trace() */
    }
    return rc;
}

/* The path a lookup of r->key_id from node `start` takes in a correct ring
 * (recursive, closest preceding finger), into r->path. */
static void simulate_lookup(struct viz_ring *r, unsigned start)
{
    unsigned cur = start;
    r->n_path = 0;
    for (unsigned hop = 0; hop < CHORD_PATH_MAX; hop++) {
        r->path[r->n_path++] = (int)cur;
        const struct viz_node *c = &r->nodes[cur];
        unsigned succ = (cur + 1) % r->n;
        unsigned pred = (cur + r->n - 1) % r->n;
        if (r->n == 1 ||
            chord_id_in_oc(&r->key_id, &r->nodes[pred].self.id, &c->self.id))
            break; /* cur owns it */
        if (chord_id_in_oc(&r->key_id, &c->self.id, &r->nodes[succ].self.id)) {
            if (r->n_path < CHORD_PATH_MAX)
                r->path[r->n_path++] = (int)succ;
            break;
        }
        unsigned next = succ;
        for (unsigned f = c->n_fingers; f-- > 0;) {
            if (chord_id_in_oo(&c->fingers[f].node.id, &c->self.id,
                               &r->key_id)) {
                int j = find_id(r, &c->fingers[f].node.id);
                if (j >= 0)
                    next = (unsigned)j;
                break;
            }
        }
        cur = next;
    }
    for (unsigned i = 0; i < r->n_path; i++)
        snprintf(r->path_addr[i], CHORD_ADDR_MAX, "%s",
                 r->nodes[r->path[i]].self.addr);
    r->hops = r->n_path ? r->n_path - 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Roles: the key trace, the highlight, geometry and summaries.         */

/*
 * Resolve the key trace: in live mode ask the contacted node; in topology
 * mode simulate the lookup from the first listed node (whose index
 * from_topology left in r->owner). Then mark the owner, the path and the
 * replica set.
 */
static void key_trace(struct viz_ring *r, const struct viz_opts *o)
{
    r->has_key = true;
    r->key = o->key;
    r->key_len = strlen(o->key);
    chord_id_hash(&r->key_id, r->key, r->key_len);
    if (r->live) {
        struct chord_lookup_result *res = calloc(1, sizeof *res);
        struct chord_client *c = NULL;
        int rc =
            res ? chord_client_connect(o->node, o->timeout_ms, &c) : -ENOMEM;
        if (rc == 0)
            rc = chord_client_lookup(c, r->key, r->key_len, res);
        if (rc == 0) {
            r->key_id = res->key_id;
            snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
                     res->owner.addr);
            r->hops = res->hops;
            r->n_path =
                res->path.n < CHORD_PATH_MAX ? res->path.n : CHORD_PATH_MAX;
            for (unsigned i = 0; i < r->n_path; i++) {
                memcpy(r->path_addr[i], res->path.addr[i], CHORD_ADDR_MAX);
                r->path_addr[i][CHORD_ADDR_MAX - 1] = '\0';
                r->path[i] = find_addr(r, r->path_addr[i]);
            }
            r->owner = find_id(r, &res->owner.id);
            if (r->owner < 0)
                r->owner = find_addr(r, r->owner_addr);
        } else {
            ring_note(r,
                      "the lookup of the key failed (%s): its owner is "
                      "computed from the ids",
                      rc == -EIO ? chord_client_error(c) : errtext(rc));
            r->key_computed = true;
            r->owner = owner_of(r, &r->key_id, true);
            r->n_path = 0;
            if (r->owner >= 0)
                snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
                         r->nodes[r->owner].self.addr);
        }
        chord_client_close(c);
        free(res);
    } else {
        r->key_computed = true;
        unsigned start = r->owner >= 0 ? (unsigned)r->owner : 0;
        simulate_lookup(r, start);
        r->owner = r->path[r->n_path - 1];
        snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
                 r->nodes[r->owner].self.addr);
    }
    for (unsigned i = 0; i < r->n_path; i++)
        if (r->path[i] >= 0 && r->nodes[r->path[i]].path_pos < 0)
            r->nodes[r->path[i]].path_pos = (int)i;
    if (r->owner < 0)
        return;
    /* The replica set: the owner and the first r-1 of its successors (its
     * own list when it answered, else the next answering members). */
    struct viz_node *ow = &r->nodes[r->owner];
    unsigned rep = ow->replicas ? ow->replicas : r->replicas;
    if (rep == 0)
        rep = VIZ_DEFAULT_REPLICAS;
    if (rep > CHORD_SUCC_MAX + 1)
        rep = CHORD_SUCC_MAX + 1;
    ow->owner = true;
    r->rep[r->n_rep++] = r->owner;
    if (ow->live && ow->n_succ) {
        for (unsigned k = 0; k < ow->n_succ && r->n_rep < rep; k++) {
            int j = find_id(r, &ow->succ[k].id);
            if (j < 0 || j == r->owner)
                continue;
            bool dup = false;
            for (unsigned m = 0; m < r->n_rep; m++)
                dup = dup || r->rep[m] == j;
            if (!dup)
                r->rep[r->n_rep++] = j;
        }
    } else {
        unsigned j = (unsigned)r->owner;
        for (unsigned k = 0; k < r->n && r->n_rep < rep; k++) {
            j = next_member(r, j, true);
            if ((int)j == r->owner)
                break;
            r->rep[r->n_rep++] = (int)j;
        }
    }
    for (unsigned m = 1; m < r->n_rep; m++)
        r->nodes[r->rep[m]].replica = true;
}

/* Positions, totals, wrong successors, the highlight. */
static void ring_finish(struct viz_ring *r, const struct viz_opts *o)
{
    r->max_keys = r->total_keys = 0;
    r->n_answer = 0;
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        n->frac = chord_id_fraction(&n->self.id);
        double a = 2.0 * VIZ_PI * n->frac - VIZ_PI / 2.0;
        n->x = VIZ_CX + VIZ_R * cos(a);
        n->y = VIZ_CY + VIZ_R * sin(a);
        if (n->live && !n->ghost) {
            r->n_answer++;
            r->total_keys += n->primary_keys;
            if (n->keys > r->max_keys)
                r->max_keys = n->keys;
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
        int j = find_id(r, &n->succ[0].id);
        if (j < 0 || (unsigned)j == i)
            continue;
        for (unsigned k = (i + 1) % r->n; k != (unsigned)j; k = (k + 1) % r->n)
            if (member(r, k) && r->nodes[k].live) {
                n->bad_succ = true;
                break;
            }
    }
    r->highlight = -1;
    if (o->highlight) {
        r->highlight = find_addr(r, o->highlight);
        if (r->highlight < 0)
            fprintf(stderr,
                    "dht-viz: warning: --highlight %s is not a node "
                    "of the ring\n",
                    o->highlight);
        else
            r->nodes[r->highlight].highlight = true;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->when, sizeof r->when, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The share of the identifier space node i owns (from the previous member),
 * in percent. */
static double owned_percent(const struct viz_ring *r, unsigned i)
{
    unsigned p = prev_member(r, i);
    if (p == i)
        return 100.0;
    double d = r->nodes[i].frac - r->nodes[p].frac;
    if (d <= 0)
        d += 1.0;
    return 100.0 * d;
}

/* ------------------------------------------------------------------ */
/* SVG.                                                                 */

struct viz_box {
    double x0, y0, x1, y1;
};

static bool box_overlap(const struct viz_box *a, const struct viz_box *b)
{
    const double pad = 2.0;
    return a->x0 < b->x1 + pad && b->x0 < a->x1 + pad && a->y0 < b->y1 + pad &&
           b->y0 < a->y1 + pad;
}

/* A label placed: its box, and where its leader line ends. */
struct viz_label {
    bool shown;
    struct viz_box box;
    bool leader;
    double lx, ly; /* leader end (on the box side facing the node) */
};

static double node_radius(const struct viz_ring *r)
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
static void label_detail(const struct viz_ring *r, const struct viz_node *n,
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
static void place_labels(const struct viz_ring *r, struct viz_label *lab,
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
        label_detail(r, n, detail);
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

/* The fill of an owned range with `keys` keys (a light-to-dark blue). */
static void keys_colour(const struct viz_ring *r, uint64_t keys, char out[8])
{
    double t = r->max_keys ? (double)keys / (double)r->max_keys : 0.0;
    if (t > 1.0)
        t = 1.0;
    int cr = (int)lround(0xe8 + (0x2b - 0xe8) * t);
    int cg = (int)lround(0xf0 + (0x6c - 0xf0) * t);
    int cb = (int)lround(0xfa + (0xb0 - 0xfa) * t);
    snprintf(out, 8, "#%02x%02x%02x", cr & 0xff, cg & 0xff, cb & 0xff);
}

static void polar(double rad, double frac, double *x, double *y)
{
    double a = 2.0 * VIZ_PI * frac - VIZ_PI / 2.0;
    *x = VIZ_CX + rad * cos(a);
    *y = VIZ_CY + rad * sin(a);
}

/* An arc of radius rad from fraction f0 clockwise to f1 (path data). */
static void arc_path(struct viz_out *o, double rad, double f0, double f1)
{
    double d = f1 - f0;
    while (d <= 0)
        d += 1.0;
    double x0, y0, x1, y1;
    polar(rad, f0, &x0, &y0);
    polar(rad, f0 + d, &x1, &y1);
    out_printf(o, "M%.1f %.1f A%.1f %.1f 0 %d 1 %.1f %.1f", x0, y0, rad, rad,
               d > 0.5 ? 1 : 0, x1, y1);
}

static const char *health_fill(const struct viz_node *n)
{
    switch (n->health) {
    case VIZ_SUSPECTED:
        return "#dd6b20";
    case VIZ_DEAD:
        return "#c53030";
    case VIZ_UNREACHABLE:
        return "#ffffff";
    default:
        return "#1a365d";
    }
}

static void svg_defs(struct viz_out *o)
{
    out_puts(o, "<defs>\n"
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

/* The owned ranges, shaded by keys (topology mode: two neutral greys). */
static void svg_arcs(struct viz_out *o, const struct viz_ring *r)
{
    out_puts(o, "<g id=\"arcs\" fill=\"none\">\n");
    out_printf(o,
               "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" stroke=\"#edf2f7\" "
               "stroke-width=\"%.1f\"/>\n",
               VIZ_CX, VIZ_CY, VIZ_R, VIZ_ARC_W);
    unsigned parity = 0;
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        if (!member(r, i))
            continue;
        char colour[8];
        if (!n->live)
            snprintf(colour, sizeof colour, "#fde2e2");
        else if (r->live)
            keys_colour(r, n->keys, colour);
        else
            snprintf(colour, sizeof colour, "%s",
                     parity++ % 2 ? "#cbd5e0" : "#e2e8f0");
        unsigned p = prev_member(r, i);
        out_puts(o, "<path class=\"arc\" d=\"");
        if (p == i) {
            /* Alone: the whole circle, as two half arcs. */
            arc_path(o, VIZ_R, n->frac, n->frac + 0.5);
            out_puts(o, " ");
            arc_path(o, VIZ_R, n->frac + 0.5, n->frac);
        } else {
            arc_path(o, VIZ_R, r->nodes[p].frac, n->frac);
        }
        out_printf(o, "\" stroke=\"%s\" stroke-width=\"%.1f\"><title>", colour,
                   VIZ_ARC_W);
        out_xmls(o, n->self.addr);
        if (r->live && n->live)
            out_printf(o,
                       " owns %.2f%% of the ids: %llu keys held, %llu "
                       "as owner",
                       owned_percent(r, i), (unsigned long long)n->keys,
                       (unsigned long long)n->primary_keys);
        else
            out_printf(o, " owns %.2f%% of the ids", owned_percent(r, i));
        out_puts(o, "</title></path>\n");
    }
    /* Thin separators between ranges. */
    for (unsigned i = 0; i < r->n && r->n > 1; i++) {
        if (!member(r, i))
            continue;
        double x0, y0, x1, y1;
        polar(VIZ_R - VIZ_ARC_W / 2, r->nodes[i].frac, &x0, &y0);
        polar(VIZ_R + VIZ_ARC_W / 2, r->nodes[i].frac, &x1, &y1);
        out_printf(o,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n",
                   x0, y0, x1, y1);
    }
    out_puts(o, "</g>\n");
    /* Quarter marks of the identifier space. */
    static const char *const quarter[] = {
        "0", "4000\xe2\x80\xa6", "8000\xe2\x80\xa6", "c000\xe2\x80\xa6"};
    out_puts(o, "<g id=\"ticks\" font-size=\"10\" fill=\"#a0aec0\" "
                "text-anchor=\"middle\">\n");
    for (unsigned q = 0; q < 4; q++) {
        double x0, y0, x1, y1, tx, ty;
        polar(VIZ_R - VIZ_ARC_W / 2 - 2, q / 4.0, &x0, &y0);
        polar(VIZ_R - VIZ_ARC_W / 2 - 9, q / 4.0, &x1, &y1);
        polar(VIZ_R - 62, q / 4.0, &tx, &ty);
        out_printf(o,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#a0aec0\"/><text x=\"%.1f\" y=\"%.1f\">%s"
                   "</text>\n",
                   x0, y0, x1, y1, tx, ty + 3.5, quarter[q]);
    }
    out_puts(o, "</g>\n");
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
    out_printf(o, "M%.1f %.1f Q%.1f %.1f %.1f %.1f", x0, y0, qx, qy, x1, y1);
    if (mx)
        *mx = 0.25 * x0 + 0.5 * qx + 0.25 * x1;
    if (my)
        *my = 0.25 * y0 + 0.5 * qy + 0.25 * y1;
}

static void svg_successors(struct viz_out *o, const struct viz_ring *r)
{
    double nr = node_radius(r);
    out_puts(o, "<g id=\"succ\" fill=\"none\">\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        if (!n->live || n->ghost || n->n_succ == 0)
            continue;
        int j = find_id(r, &n->succ[0].id);
        if (j < 0 || (unsigned)j == i)
            continue;
        const struct viz_node *s = &r->nodes[j];
        if (n->bad_succ) {
            out_puts(o, "<path d=\"");
            chord_curve(o, n->x, n->y, s->x, s->y, 0.3, nr + 3, NULL, NULL);
            out_puts(o, "\" stroke=\"#e53e3e\" stroke-width=\"2\" "
                        "stroke-dasharray=\"6 4\" "
                        "marker-end=\"url(#arrow-bad)\"><title>");
            out_xmls(o, n->self.addr);
            out_puts(o, " points at ");
            out_xmls(o, s->self.addr);
            out_puts(o, ", not at the next node by id</title></path>\n");
            continue;
        }
        double d = s->frac - n->frac;
        if (d <= 0)
            d += 1.0;
        double eps = (nr + 4.0) / (2.0 * VIZ_PI * VIZ_SUCC_R);
        if (d < 3.0 * eps)
            eps = d / 4.0;
        out_puts(o, "<path d=\"");
        arc_path(o, VIZ_SUCC_R, n->frac + eps, s->frac - eps);
        out_puts(o, "\" stroke=\"#718096\" stroke-width=\"1.5\" "
                    "marker-end=\"url(#arrow-succ)\"/>\n");
    }
    out_puts(o, "</g>\n");
}

/* The lookup path (numbered hops) and the key's position. */
static void svg_key(struct viz_out *o, const struct viz_ring *r)
{
    if (!r->has_key)
        return;
    double nr = node_radius(r);
    out_puts(o, "<g id=\"lookup\">\n");
    for (unsigned k = 0; k + 1 < r->n_path; k++) {
        int a = r->path[k], b = r->path[k + 1];
        if (a < 0 || b < 0 || a == b)
            continue;
        const struct viz_node *na = &r->nodes[a], *nb = &r->nodes[b];
        double mx, my;
        out_puts(o, "<path d=\"");
        chord_curve(o, na->x, na->y, nb->x, nb->y, 0.45, nr + 4, &mx, &my);
        out_printf(o,
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
    polar(VIZ_R, kf, &kx, &ky);
    polar(VIZ_R - 100, kf, &tx, &ty);
    out_printf(o,
               "<path d=\"M%.1f %.1f l7 7 l-7 7 l-7 -7 z\" fill=\"#6b46c1\" "
               "stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n",
               kx, ky - 7);
    out_printf(o,
               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#6b46c1\" stroke-dasharray=\"2 3\"/>\n",
               kx, ky, tx, ty);
    out_printf(o,
               "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
               "font-weight=\"bold\" fill=\"#553c9a\" "
               "text-anchor=\"middle\" stroke=\"#ffffff\" stroke-width=\"4\" "
               "stroke-linejoin=\"round\" paint-order=\"stroke\">key "
               "\xe2\x80\x9c",
               tx, ty + (ty > VIZ_CY ? -6 : 14));
    size_t shown = r->key_len > 40 ? 40 : r->key_len;
    out_xml(o, r->key, shown);
    out_puts(o, r->key_len > shown ? "\xe2\x80\xa6\xe2\x80\x9d</text>\n"
                                   : "\xe2\x80\x9d</text>\n");
    out_puts(o, "</g>\n");
}

/* One node: halo, role rings, the dot, crosses; a <g> for the HTML page. */
static void svg_node(struct viz_out *o, const struct viz_ring *r, unsigned i)
{
    const struct viz_node *n = &r->nodes[i];
    double nr = node_radius(r);
    char sid[VIZ_SHORT + 1];
    short_id(&n->self.id, sid);
    out_printf(o, "<g class=\"node\" data-i=\"%u\"><title>", i);
    out_xmls(o, n->self.addr);
    out_printf(o, " (id %s)", sid);
    if (n->ghost)
        out_printf(o, ": %s by %u peer%s, not in the ring",
                   health_names[n->health],
                   n->dead_by ? n->dead_by : n->suspected_by,
                   (n->dead_by ? n->dead_by : n->suspected_by) == 1 ? "" : "s");
    else if (!n->live)
        out_puts(o, ": did not answer");
    else if (r->live)
        out_printf(o, ": %s, %llu keys, %u successors, %u finger nodes",
                   chord_node_state_name(n->state), (unsigned long long)n->keys,
                   n->n_succ, n->n_fingers);
    if (n->suspected_by || (n->dead_by && !n->ghost))
        out_printf(o, "; suspected by %u, declared dead by %u", n->suspected_by,
                   n->dead_by);
    out_puts(o, "</title>");
    if (n->highlight)
        out_printf(o,
                   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
                   "fill=\"#fefcbf\" stroke=\"#d69e2e\" stroke-width=\"2\"/>",
                   n->x, n->y, nr + 12);
    if (n->owner || n->replica)
        out_printf(o,
                   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" "
                   "stroke=\"%s\" stroke-width=\"3.5\"/>",
                   n->x, n->y, nr + 5, n->owner ? "#d69e2e" : "#38a169");
    if (n->ghost) {
        out_printf(o,
                   "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
                   "fill=\"#ffffff\" stroke=\"%s\" stroke-width=\"1.5\" "
                   "stroke-dasharray=\"2 2\"/>",
                   n->x, n->y, nr, health_fill(n));
    } else {
        out_printf(o,
                   "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
                   "fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"/>",
                   n->x, n->y, nr, health_fill(n),
                   n->health == VIZ_UNREACHABLE ? "#c53030" : "#ffffff",
                   n->health == VIZ_UNREACHABLE ? "2" : "1.5");
    }
    if (n->health == VIZ_UNREACHABLE || n->ghost) {
        double c = nr * 0.6;
        out_printf(o,
                   "<path d=\"M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f\" "
                   "stroke=\"#c53030\" stroke-width=\"2\"/>",
                   n->x - c, n->y - c, n->x + c, n->y + c, n->x - c, n->y + c,
                   n->x + c, n->y - c);
    }
    out_puts(o, "</g>\n");
}

static void svg_labels(struct viz_out *o, const struct viz_ring *r,
                       const struct viz_label *lab)
{
    bool two = r->n <= VIZ_LABELS_TWO_LINES;
    /* Leader lines first, under every label. */
    out_puts(o, "<g id=\"leaders\" stroke=\"#a0aec0\" "
                "stroke-width=\"0.8\">\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        if (!lab[i].shown || !lab[i].leader)
            continue;
        double a = 2.0 * VIZ_PI * n->frac - VIZ_PI / 2.0;
        out_printf(o,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                   "y2=\"%.1f\"/>\n",
                   VIZ_CX + (VIZ_R + VIZ_ARC_W / 2 + 1) * cos(a),
                   VIZ_CY + (VIZ_R + VIZ_ARC_W / 2 + 1) * sin(a), lab[i].lx,
                   lab[i].ly);
    }
    out_puts(o, "</g>\n");
    /* A white outline under the glyphs keeps a label readable where a
     * leader line or a curve passes behind it. */
    out_puts(o, "<g id=\"labels\" stroke=\"#ffffff\" stroke-width=\"3\" "
                "stroke-linejoin=\"round\" paint-order=\"stroke\">\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        const struct viz_label *l = &lab[i];
        if (!l->shown)
            continue;
        const char *weight = n->highlight || n->owner ? "bold" : "normal";
        const char *colour = n->health == VIZ_OK ? "#1a202c" : "#c53030";
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%s\" "
                   "font-weight=\"%s\" fill=\"%s\">",
                   l->box.x0 + 2, l->box.y0 + 11.5, two ? "12" : "11", weight,
                   colour);
        out_xmls(o, n->self.addr);
        out_puts(o, "</text>\n");
        if (two) {
            char detail[64], sid[VIZ_SHORT + 1];
            label_detail(r, n, detail);
            short_id(&n->self.id, sid);
            out_printf(o,
                       "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                       "fill=\"#4a5568\">%s",
                       l->box.x0 + 2, l->box.y0 + 25.5, sid);
            if (detail[0]) {
                out_puts(o, " \xc2\xb7 ");
                out_xmls(o, detail);
            }
            out_puts(o, "</text>\n");
        }
    }
    out_puts(o, "</g>\n");
}

/* One legend row: a symbol at (x, y) and its text. */
static void legend_row(struct viz_out *o, double x, double y,
                       const char *symbol, const char *text)
{
    out_printf(o, "<g transform=\"translate(%.1f %.1f)\">%s", x, y, symbol);
    out_printf(o,
               "<text x=\"30\" y=\"4\" font-size=\"12\" fill=\"#2d3748\">"
               "%s</text></g>\n",
               text);
}

/* The legend: symbols (only those that can appear) and the key shading.
 * Returns the height used. */
static double svg_legend(struct viz_out *o, const struct viz_ring *r, double x,
                         double y)
{
    double y0 = y;
    out_printf(o,
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
        out_printf(o,
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
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                   "fill=\"#2d3748\">bands: the range each node owns</text>\n",
                   x, y + 4);
        y += 20;
    }
    return y - y0;
}

/* Summary lines under the legend of a standalone SVG. */
static void svg_summary(struct viz_out *o, const struct viz_ring *r, double x,
                        double y)
{
    out_printf(o, "<g font-size=\"12\" fill=\"#2d3748\">\n");
    out_printf(o,
               "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
               "font-weight=\"bold\" fill=\"#1a202c\">Ring</text>\n",
               x, y);
    y += 22;
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += member(r, i);
    out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%u node%s", x, y, members,
               members == 1 ? "" : "s");
    if (r->live)
        out_printf(o, ", %u answered", r->n_answer);
    out_puts(o, "</text>\n");
    y += 18;
    if (r->live) {
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\">%llu keys (owned), %u "
                   "copies each</text>\n",
                   x, y, (unsigned long long)r->total_keys, r->replicas);
        y += 18;
    } else {
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\">%u copies of each key"
                   "</text>\n",
                   x, y, r->replicas);
        y += 18;
    }
    if (r->has_key) {
        y += 10;
        char kid[VIZ_SHORT + 1];
        short_id(&r->key_id, kid);
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                   "font-weight=\"bold\" fill=\"#553c9a\">Key \xe2\x80\x9c",
                   x, y);
        size_t shown = r->key_len > 28 ? 28 : r->key_len;
        out_xml(o, r->key, shown);
        out_printf(o, "%s\xe2\x80\x9d</text>\n",
                   r->key_len > shown ? "\xe2\x80\xa6" : "");
        y += 20;
        out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">id %s\xe2\x80\xa6, owner ",
                   x, y, kid);
        out_xmls(o, r->owner_addr[0] ? r->owner_addr : "unknown");
        out_puts(o, "</text>\n");
        y += 18;
        out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s: %u hop%s</text>\n", x, y,
                   r->key_computed ? "path (computed)" : "lookup path", r->hops,
                   r->hops == 1 ? "" : "s");
        y += 18;
        for (unsigned k = 0; k < r->n_path && k < 12; k++) {
            out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">%s%u. ", x + 10, y, "",
                       k);
            out_xmls(o, r->path_addr[k]);
            out_puts(o, "</text>\n");
            y += 16;
        }
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\">replica set (%u):"
                   "</text>\n",
                   x, y, r->n_rep);
        y += 16;
        for (unsigned k = 0; k < r->n_rep && k < 8; k++) {
            out_printf(o, "<text x=\"%.1f\" y=\"%.1f\">", x + 10, y);
            out_xmls(o, r->nodes[r->rep[k]].self.addr);
            out_puts(o, k == 0 ? " (owner)</text>\n" : "</text>\n");
            y += 16;
        }
    }
    for (unsigned k = 0; k < r->n_notes; k++) {
        y += 6;
        out_printf(o,
                   "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c53030\" "
                   "font-size=\"11\">",
                   x, y);
        out_xml(o, r->notes[k], strnlen(r->notes[k], 56));
        out_puts(o, strlen(r->notes[k]) > 56 ? "\xe2\x80\xa6</text>\n"
                                             : "</text>\n");
        y += 12;
    }
    out_puts(o, "</g>\n");
}

/* The title line: what is drawn and from where. */
static void svg_title(struct viz_out *o, const struct viz_ring *r)
{
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += member(r, i);
    out_printf(o,
               "<text x=\"20\" y=\"30\" font-size=\"18\" font-weight=\"bold\" "
               "fill=\"#1a202c\">Chord ring \xc2\xb7 %u node%s</text>\n",
               members, members == 1 ? "" : "s");
    out_puts(o, "<text x=\"20\" y=\"50\" font-size=\"12\" fill=\"#4a5568\">");
    if (r->live) {
        out_puts(o, "crawled from ");
        out_xmls(o, r->source);
        out_printf(o, " at %s", r->when);
    } else {
        out_puts(o, "topology ");
        out_xmls(o, r->source);
        out_puts(o, " (ids only, no live data)");
    }
    out_puts(o, "</text>\n");
}

/*
 * The drawing. standalone: an SVG document (XML declaration, namespace,
 * legend column); otherwise the <svg> element to inline in the HTML page
 * (no namespace URI: the HTML parser knows <svg>; no legend column).
 */
static void render_svg(struct viz_out *o, const struct viz_ring *r,
                       bool standalone)
{
    struct viz_label *lab = calloc(r->n ? r->n : 1, sizeof *lab);
    if (!lab) {
        o->err = o->err ? o->err : -ENOMEM;
        return;
    }
    place_labels(r, lab, r->n <= VIZ_LABELS_TWO_LINES);
    /* A standalone drawing has a fixed frame with a title and a legend;
     * an inline one is cropped to the circle and its labels, so the page
     * shows it as large as it can. */
    double vx = 0, vy = 0, vw = VIZ_RING_W + VIZ_LEGEND_W, vh = VIZ_H;
    if (!standalone) {
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
        vx = bb.x0 - 10;
        vy = bb.y0 - 10;
        vw = bb.x1 - bb.x0 + 20;
        vh = bb.y1 - bb.y0 + 20;
    }
    if (standalone)
        out_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" ");
    else
        out_puts(o, "<svg ");
    out_printf(o,
               "id=\"ring-svg\" viewBox=\"%.0f %.0f %.0f %.0f\" "
               "width=\"%.0f\" height=\"%.0f\" font-family=\"DejaVu Sans, "
               "Verdana, Arial, sans-serif\">\n",
               vx, vy, vw, vh, vw, vh);
    svg_defs(o);
    out_printf(o,
               "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
               "fill=\"#ffffff\"/>\n",
               vx, vy, vw, vh);
    if (standalone)
        svg_title(o, r);
    svg_arcs(o, r);
    svg_successors(o, r);
    out_puts(o, "<g id=\"sel-layer\"></g>\n");
    svg_key(o, r);
    svg_labels(o, r, lab);
    free(lab);
    out_puts(o, "<g id=\"nodes\">\n");
    for (unsigned i = 0; i < r->n; i++)
        svg_node(o, r, i);
    out_puts(o, "</g>\n");
    if (standalone) {
        out_printf(o,
                   "<line x1=\"%.0f\" y1=\"20\" x2=\"%.0f\" y2=\"%.0f\" "
                   "stroke=\"#e2e8f0\"/>\n",
                   VIZ_RING_W, VIZ_RING_W, VIZ_H - 20);
        double hgt = svg_legend(o, r, VIZ_RING_W + 30, 40);
        svg_summary(o, r, VIZ_RING_W + 30, 40 + hgt + 30);
    }
    out_puts(o, "</svg>\n");
}

/* ------------------------------------------------------------------ */
/* HTML: the SVG inline, the data as JSON, a small script, no URL.      */

static const char html_css[] =
    "body{margin:0;font:14px/1.45 'DejaVu Sans',Verdana,Arial,sans-serif;"
    "color:#1a202c;background:#f7fafc}\n"
    "header{padding:10px 16px 0}\n"
    "h1{font-size:20px;margin:0}\n"
    ".sub{color:#4a5568;margin:2px 0 0;font-size:13px}\n"
    "#wrap{display:flex;gap:14px;padding:10px 16px;align-items:flex-start}\n"
    "#ring{flex:1 1 auto;min-width:0;background:#fff;border:1px solid "
    "#e2e8f0;border-radius:8px}\n"
    "#ring svg{width:100%;height:auto;display:block}\n"
    "#panel{flex:0 0 350px;background:#fff;border:1px solid #e2e8f0;"
    "border-radius:8px;padding:10px 14px;max-height:92vh;overflow:auto}\n"
    "#panel h2{font-size:16px;margin:4px 0}\n"
    "#panel h3{font-size:13px;margin:12px 0 4px;color:#2d3748}\n"
    "#panel ol,#panel ul{margin:0;padding-left:22px;font-size:12px}\n"
    ".node{cursor:pointer}\n"
    ".node.sel .dot{stroke:#d69e2e;stroke-width:4}\n"
    "path.finger{fill:none;stroke:#2c7a7b;stroke-width:2;"
    "stroke-dasharray:6 4;opacity:.9}\n"
    "circle.succ-mark{fill:none;stroke:#3182ce;stroke-width:2}\n"
    "circle.rep-mark{fill:none;stroke:#38a169;stroke-width:3.5}\n"
    "text.succ-num{font-size:11px;fill:#2b6cb0;font-weight:bold}\n"
    "table{border-collapse:collapse;font-size:12px;width:100%}\n"
    "th,td{text-align:left;padding:2px 5px;border-bottom:1px solid #edf2f7}\n"
    "th{color:#4a5568;font-weight:normal}\n"
    ".mono{font-family:'DejaVu Sans Mono',monospace}\n"
    ".hint{color:#718096}\n"
    ".note{color:#c53030;font-size:12px}\n"
    ".suspected{color:#c05621}.dead,.unreachable{color:#c53030}\n";

/* The script: clicking a node draws its fingers as chords, marks its
 * successor list and replica set, and lists them with its peers. It uses
 * no URL and no external code; it builds text with textContent only. */
static const char html_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var data = JSON.parse(document.getElementById('ring-data')"
    ".textContent);\n"
    "  var svg = document.getElementById('ring-svg');\n"
    "  var NS = svg.namespaceURI;\n"
    "  var layer = document.getElementById('sel-layer');\n"
    "  var info = document.getElementById('info');\n"
    "  var byAddr = {};\n"
    "  data.nodes.forEach(function (n) { byAddr[n.addr] = n; });\n"
    "  function el(tag, attrs, parent) {\n"
    "    var e = document.createElementNS(NS, tag);\n"
    "    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, "
    "attrs[k]); });\n"
    "    parent.appendChild(e);\n"
    "    return e;\n"
    "  }\n"
    "  function h(tag, text, parent, cls) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (text !== null && text !== undefined) e.textContent = "
    "String(text);\n"
    "    if (cls) e.className = cls;\n"
    "    if (parent) parent.appendChild(e);\n"
    "    return e;\n"
    "  }\n"
    "  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); "
    "}\n"
    "  function table(parent, head, rows) {\n"
    "    var t = h('table', null, parent);\n"
    "    var tr = h('tr', null, t);\n"
    "    head.forEach(function (c) { h('th', c, tr); });\n"
    "    rows.forEach(function (r) {\n"
    "      var row = h('tr', null, t);\n"
    "      r.forEach(function (c, k) { var td = h('td', c, row); "
    "if (k === 0) td.className = 'mono'; });\n"
    "    });\n"
    "  }\n"
    "  function chord(a, b) {\n"
    "    var mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;\n"
    "    var qx = mx + (data.cx - mx) * 0.35, qy = my + (data.cy - my) * "
    "0.35;\n"
    "    el('path', {d: 'M' + a.x + ' ' + a.y + ' Q' + qx + ' ' + qy + ' ' "
    "+ b.x + ' ' + b.y, 'class': 'finger', 'marker-end': "
    "'url(#arrow-finger)'}, layer);\n"
    "  }\n"
    "  function replicaSet(n) {\n"
    "    var set = [n];\n"
    "    var r = n.replicas || data.replicas;\n"
    "    n.succ.forEach(function (s) {\n"
    "      var t = byAddr[s];\n"
    "      if (t && set.length < r && set.indexOf(t) < 0) set.push(t);\n"
    "    });\n"
    "    return set;\n"
    "  }\n"
    "  function select(i) {\n"
    "    clear(layer);\n"
    "    clear(info);\n"
    "    Array.prototype.forEach.call(svg.querySelectorAll('.node'), "
    "function (g) { g.classList.remove('sel'); });\n"
    "    var n = data.nodes[i];\n"
    "    if (i < 0 || !n) {\n"
    "      h('p', 'Click a node to see its fingers (drawn as chords), its "
    "successor list, its replica set and its peers\\u2019 timeouts.', info, "
    "'hint');\n"
    "      return;\n"
    "    }\n"
    "    var g = svg.querySelector('.node[data-i=\"' + i + '\"]');\n"
    "    if (g) g.classList.add('sel');\n"
    "    n.fingers.forEach(function (f) {\n"
    "      var t = byAddr[f.addr];\n"
    "      if (t && t !== n) chord(n, t);\n"
    "    });\n"
    "    n.succ.forEach(function (s, k) {\n"
    "      var t = byAddr[s];\n"
    "      if (!t) return;\n"
    "      el('circle', {cx: t.x, cy: t.y, r: 12, 'class': 'succ-mark'}, "
    "layer);\n"
    "      var dx = t.x - data.cx, dy = t.y - data.cy, d = Math.sqrt(dx * dx "
    "+ dy * dy) || 1;\n"
    "      el('text', {x: t.x - dx / d * 24 - 4, y: t.y - dy / d * 24 + 4, "
    "'class': 'succ-num'}, layer).textContent = String(k + 1);\n"
    "    });\n"
    "    var reps = replicaSet(n);\n"
    "    reps.forEach(function (t) { el('circle', {cx: t.x, cy: t.y, r: 17, "
    "'class': 'rep-mark'}, layer); });\n"
    "    h('h2', n.addr, info, 'mono');\n"
    "    h('div', 'id ' + n.id, info, 'mono');\n"
    "    var st = n.ghost ? 'not in the ring (' + n.health + ')' : n.live ? "
    "n.state + ', ' + n.health : 'did not answer';\n"
    "    h('div', st, info, n.health);\n"
    "    if (data.live && n.live && !n.ghost) h('div', n.keys + ' keys held, "
    "' + n.primary_keys + ' as owner; owns ' + n.owned + '% of the ids', "
    "info);\n"
    "    if (n.suspected_by || n.dead_by) h('div', 'suspected by ' + "
    "n.suspected_by + ', declared dead by ' + n.dead_by + ' peer(s)', info, "
    "'note');\n"
    "    h('h3', 'Predecessor', info);\n"
    "    h('div', n.pred || 'none', info, 'mono');\n"
    "    h('h3', 'Successor list (' + n.succ.length + ')', info);\n"
    "    var ol = h('ol', null, info, 'mono');\n"
    "    n.succ.forEach(function (s) { h('li', s, ol); });\n"
    "    h('h3', 'Replica set (r = ' + (n.replicas || data.replicas) + ')', "
    "info);\n"
    "    var ul = h('ul', null, info, 'mono');\n"
    "    reps.forEach(function (t, k) { h('li', t.addr + (k === 0 ? ' "
    "(this node)' : ''), ul); });\n"
    "    h('h3', 'Fingers (' + n.fingers.length + ' distinct nodes)', "
    "info);\n"
    "    table(info, ['node', 'bits', 'start'], n.fingers.map(function (f) "
    "{ return [f.addr, f.bits, f.start]; }));\n"
    "    if (data.live) {\n"
    "      h('h3', 'Peers (' + n.peers.length + ')', info);\n"
    "      if (n.peers.length) table(info, ['peer', 'state', 'rtt', "
    "'timeout', 'false susp.'], n.peers.map(function (p) { return [p.addr, "
    "p.state, p.rtt_ms + ' ms', p.timeout_ms + ' ms', p.false_suspicions]; "
    "}));\n"
    "      else h('div', 'none', info, 'hint');\n"
    "    }\n"
    "    try { history.replaceState(null, '', '#n=' + "
    "encodeURIComponent(n.addr)); } catch (e) { location.hash = 'n=' + "
    "encodeURIComponent(n.addr); }\n"
    "  }\n"
    "  svg.addEventListener('click', function (ev) {\n"
    "    var g = ev.target.closest ? ev.target.closest('.node') : null;\n"
    "    select(g ? Number(g.getAttribute('data-i')) : -1);\n"
    "  });\n"
    "  document.addEventListener('keydown', function (ev) { if (ev.key === "
    "'Escape') select(-1); });\n"
    "  var m = /^#n=(.+)$/.exec(location.hash);\n"
    "  var want = m ? byAddr[decodeURIComponent(m[1])] : null;\n"
    "  select(want ? want.i : data.highlight);\n"
    "})();\n";

/* Finish the JSON in j and append it so that it is safe inside <script>:
 * '<', '>', '&' and '/' (which occur only inside strings) are escaped. */
static void out_json_for_html(struct viz_out *o, struct chord_json *j)
{
    int rc = chord_json_finish(j);
    if (rc) {
        o->err = o->err ? o->err : rc;
        return;
    }
    const char *s = (const char *)j->out.data;
    size_t start = 0;
    for (size_t i = 0; i < j->out.len; i++) {
        const char *rep = s[i] == '<'   ? "\\u003c"
                          : s[i] == '>' ? "\\u003e"
                          : s[i] == '&' ? "\\u0026"
                          : s[i] == '/' ? "\\/"
                                        : NULL;
        if (!rep)
            continue;
        out_raw(o, s + start, i - start);
        out_puts(o, rep);
        start = i + 1;
    }
    out_raw(o, s + start, j->out.len - start);
}

/* The data the script needs, as JSON. */
static void html_data(struct viz_out *o, const struct viz_ring *r)
{
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "live");
    chord_json_bool(&j, r->live);
    chord_json_key(&j, "replicas");
    chord_json_uint(&j, r->replicas);
    chord_json_key(&j, "highlight");
    chord_json_int(&j, r->highlight);
    chord_json_key(&j, "cx");
    chord_json_uint(&j, (uint64_t)VIZ_CX);
    chord_json_key(&j, "cy");
    chord_json_uint(&j, (uint64_t)VIZ_CY);
    chord_json_key(&j, "nodes");
    chord_json_arr_begin(&j);
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char num[32];
        chord_json_obj_begin(&j);
        chord_json_key(&j, "i");
        chord_json_uint(&j, i);
        chord_json_key(&j, "addr");
        chord_json_str(&j, n->self.addr);
        chord_json_key(&j, "id");
        chord_json_id(&j, &n->self.id);
        /* The node's position in the drawing, rounded to whole units
         * (the JSON writer has integers only; a unit is far below a
         * pixel at any zoom the page uses). */
        chord_json_key(&j, "x");
        chord_json_int(&j, lround(n->x));
        chord_json_key(&j, "y");
        chord_json_int(&j, lround(n->y));
        chord_json_key(&j, "live");
        chord_json_bool(&j, n->live);
        chord_json_key(&j, "ghost");
        chord_json_bool(&j, n->ghost);
        chord_json_key(&j, "state");
        chord_json_str(&j, chord_node_state_name(n->state));
        chord_json_key(&j, "health");
        chord_json_str(&j, health_names[n->health]);
        chord_json_key(&j, "suspected_by");
        chord_json_uint(&j, n->suspected_by);
        chord_json_key(&j, "dead_by");
        chord_json_uint(&j, n->dead_by);
        chord_json_key(&j, "keys");
        chord_json_uint(&j, n->keys);
        chord_json_key(&j, "primary_keys");
        chord_json_uint(&j, n->primary_keys);
        chord_json_key(&j, "replicas");
        chord_json_uint(&j, n->replicas);
        chord_json_key(&j, "owned");
        snprintf(num, sizeof num, "%.2f",
                 member(r, i) ? owned_percent(r, i) : 0.0);
        chord_json_str(&j, num);
        chord_json_key(&j, "pred");
        if (n->has_pred)
            chord_json_str(&j, n->pred.addr);
        else
            chord_json_null(&j);
        chord_json_key(&j, "succ");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_succ; k++)
            chord_json_str(&j, n->succ[k].addr);
        chord_json_arr_end(&j);
        chord_json_key(&j, "fingers");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_fingers; k++) {
            const struct viz_finger *f = &n->fingers[k];
            char bits[32], start[VIZ_SHORT + 1];
            if (f->first_bit == f->last_bit)
                snprintf(bits, sizeof bits, "%u", f->first_bit);
            else
                snprintf(bits, sizeof bits, "%u-%u", f->first_bit, f->last_bit);
            short_id(&f->start, start);
            chord_json_obj_begin(&j);
            chord_json_key(&j, "addr");
            chord_json_str(&j, f->node.addr);
            chord_json_key(&j, "bits");
            chord_json_str(&j, bits);
            chord_json_key(&j, "start");
            chord_json_str(&j, start);
            chord_json_obj_end(&j);
        }
        chord_json_arr_end(&j);
        chord_json_key(&j, "peers");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_peers; k++) {
            const struct chord_peer_info *p = &n->peers[k];
            chord_json_obj_begin(&j);
            chord_json_key(&j, "addr");
            chord_json_strn(&j, p->addr, strnlen(p->addr, CHORD_ADDR_MAX));
            chord_json_key(&j, "state");
            chord_json_str(&j, chord_peer_state_name(p->state));
            chord_json_key(&j, "rtt_ms");
            chord_json_uint(&j, p->rtt_ms);
            chord_json_key(&j, "timeout_ms");
            chord_json_uint(&j, p->timeout_ms);
            chord_json_key(&j, "false_suspicions");
            chord_json_uint(&j, p->false_suspicions);
            chord_json_obj_end(&j);
        }
        chord_json_arr_end(&j);
        chord_json_obj_end(&j);
    }
    chord_json_arr_end(&j);
    chord_json_obj_end(&j);
    out_json_for_html(o, &j);
    chord_json_free(&j);
}

/* The summary column of the page: the ring, the key trace, the notes. */
static void html_summary(struct viz_out *o, const struct viz_ring *r)
{
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += member(r, i);
    out_printf(o, "<section id=\"summary\"><h2>Ring</h2><div>%u node%s",
               members, members == 1 ? "" : "s");
    if (r->live)
        out_printf(o, ", %u answered; %llu keys (owned), %u copies each",
                   r->n_answer, (unsigned long long)r->total_keys, r->replicas);
    else
        out_printf(o, "; %u copies of each key", r->replicas);
    out_puts(o, "</div>\n");
    if (r->has_key) {
        char kid[VIZ_SHORT + 1];
        short_id(&r->key_id, kid);
        out_puts(o, "<h3>Key \xe2\x80\x9c<span class=\"mono\">");
        out_xml(o, r->key, r->key_len > 200 ? 200 : r->key_len);
        out_printf(o,
                   "</span>\xe2\x80\x9d</h3><div>id <span class=\"mono\">"
                   "%s\xe2\x80\xa6</span>, owner <span class=\"mono\">",
                   kid);
        out_xmls(o, r->owner_addr[0] ? r->owner_addr : "unknown");
        out_printf(o,
                   "</span></div><div>%s, %u hop%s:</div><ol "
                   "class=\"mono\" start=\"0\">",
                   r->key_computed ? "path computed from the ids"
                                   : "lookup path",
                   r->hops, r->hops == 1 ? "" : "s");
        for (unsigned k = 0; k < r->n_path; k++) {
            out_puts(o, "<li>");
            out_xmls(o, r->path_addr[k]);
            out_puts(o, "</li>");
        }
        out_puts(o, "</ol><div>replica set:</div><ul class=\"mono\">");
        for (unsigned k = 0; k < r->n_rep; k++) {
            out_puts(o, "<li>");
            out_xmls(o, r->nodes[r->rep[k]].self.addr);
            out_puts(o, k == 0 ? " (owner)</li>" : "</li>");
        }
        out_puts(o, "</ul>\n");
    }
    for (unsigned k = 0; k < r->n_notes; k++) {
        out_puts(o, "<div class=\"note\">");
        out_xmls(o, r->notes[k]);
        out_puts(o, "</div>\n");
    }
    out_puts(o, "</section>\n");
}

static void render_html(struct viz_out *o, const struct viz_ring *r,
                        unsigned refresh_s)
{
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += member(r, i);
    out_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                "<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, "
                "initial-scale=1\">\n");
    if (refresh_s)
        out_printf(o, "<meta http-equiv=\"refresh\" content=\"%u\">\n",
                   refresh_s);
    out_printf(o, "<title>Chord ring \xc2\xb7 %u node%s</title>\n<style>\n",
               members, members == 1 ? "" : "s");
    out_puts(o, html_css);
    out_printf(o,
               "</style>\n</head>\n<body>\n<header><h1>Chord ring "
               "\xc2\xb7 %u node%s</h1><p class=\"sub\">",
               members, members == 1 ? "" : "s");
    if (r->live) {
        out_puts(o, "crawled from <span class=\"mono\">");
        out_xmls(o, r->source);
        out_printf(o, "</span> at %s", r->when);
    } else {
        out_puts(o, "topology <span class=\"mono\">");
        out_xmls(o, r->source);
        out_puts(o, "</span>: ids only, no live data");
    }
    if (refresh_s)
        out_printf(o, " \xc2\xb7 refreshed every %u s", refresh_s);
    out_puts(o, "</p></header>\n<div id=\"wrap\">\n<div id=\"ring\">\n");
    render_svg(o, r, false);
    out_puts(o, "</div>\n<aside id=\"panel\">\n");
    html_summary(o, r);
    out_puts(o, "<section id=\"info\"></section>\n<section id=\"legend\">");
    /* The legend as a small SVG of its own (markers are defined again: ids
     * inside one page must be unique, so this copy has none of its own and
     * uses the ring's). */
    out_puts(o, "<svg viewBox=\"-2 0 360 330\" width=\"100%\">\n");
    svg_legend(o, r, 0, 20);
    out_puts(o, "</svg></section>\n</aside>\n</div>\n");
    out_puts(o, "<script type=\"application/json\" id=\"ring-data\">");
    html_data(o, r);
    out_puts(o, "</script>\n<script>\n");
    out_puts(o, html_js);
    out_puts(o, "</script>\n</body>\n</html>\n");
}

/* ------------------------------------------------------------------ */
/* DOT and text.                                                        */

static void render_dot(struct viz_out *o, const struct viz_ring *r)
{
    /* Nodes sit evenly around a circle in ring order (not at their ids'
     * angles, which may crowd), pinned for neato. */
    double rad = (double)r->n * 2.4 / (2.0 * VIZ_PI);
    if (rad < 3.0)
        rad = 3.0;
    out_puts(o, "digraph chord {\n"
                "  graph [layout=neato, splines=true, overlap=true, "
                "outputorder=edgesfirst, fontname=\"DejaVu Sans\", "
                "labelloc=t, label=\"");
    if (r->live) {
        out_puts(o, "Chord ring crawled from ");
        out_dot(o, r->source, strlen(r->source));
        out_printf(o, " at %s", r->when);
    } else {
        out_puts(o, "Chord ring of topology ");
        out_dot(o, r->source, strlen(r->source));
    }
    out_puts(o, "\"];\n"
                "  node [shape=box, style=\"rounded,filled\", "
                "fontname=\"DejaVu Sans Mono\", fontsize=10, "
                "fillcolor=\"#ebf4ff\", color=\"#1a365d\"];\n"
                "  edge [color=\"#4a5568\"];\n");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char sid[VIZ_SHORT + 1];
        short_id(&n->self.id, sid);
        double a =
            2.0 * VIZ_PI * (double)i / (double)(r->n ? r->n : 1) - VIZ_PI / 2.0;
        out_printf(o, "  n%u [pos=\"%.2f,%.2f!\", label=\"", i, rad * cos(a),
                   -rad * sin(a));
        out_dot(o, n->self.addr, strlen(n->self.addr));
        out_printf(o, "\\n%s", sid);
        if (r->live && n->live && !n->ghost)
            out_printf(o, " %llu keys", (unsigned long long)n->keys);
        out_puts(o, "\"");
        if (n->health == VIZ_SUSPECTED)
            out_puts(o, ", fillcolor=\"#fbd38d\", color=\"#dd6b20\"");
        else if (n->health != VIZ_OK)
            out_puts(o, ", fillcolor=\"#fed7d7\", color=\"#c53030\"");
        if (n->ghost || n->health == VIZ_UNREACHABLE)
            out_puts(o, ", style=\"rounded,filled,dashed\"");
        if (n->highlight)
            out_puts(o, ", fillcolor=\"#fefcbf\", penwidth=3");
        if (n->owner)
            out_puts(o, ", peripheries=2, color=\"#d69e2e\", penwidth=2");
        else if (n->replica)
            out_puts(o, ", peripheries=2, color=\"#38a169\", penwidth=2");
        out_puts(o, "];\n");
    }
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        int s = n->n_succ ? find_id(r, &n->succ[0].id) : -1;
        if (s >= 0 && (unsigned)s != i)
            out_printf(o, "  n%u -> n%d [penwidth=1.6%s];\n", i, s,
                       n->bad_succ ? ", color=\"#e53e3e\"" : "");
        for (unsigned k = 0; k < n->n_fingers; k++) {
            int f = find_id(r, &n->fingers[k].node.id);
            if (f < 0 || (unsigned)f == i || f == s)
                continue;
            out_printf(o,
                       "  n%u -> n%d [style=dashed, color=\"#a0aec0\", "
                       "arrowsize=0.6];\n",
                       i, f);
        }
    }
    for (unsigned k = 0; k + 1 < r->n_path; k++)
        if (r->path[k] >= 0 && r->path[k + 1] >= 0 &&
            r->path[k] != r->path[k + 1])
            out_printf(o,
                       "  n%d -> n%d [color=\"#6b46c1\", penwidth=3, "
                       "label=\"%u\", fontcolor=\"#6b46c1\"];\n",
                       r->path[k], r->path[k + 1], k + 1);
    out_puts(o, "}\n");
}

static void render_text(struct viz_out *o, const struct viz_ring *r)
{
    unsigned members = 0;
    for (unsigned i = 0; i < r->n; i++)
        members += member(r, i);
    if (r->live) {
        out_printf(o, "Chord ring: %u node%s (%u answered), crawled from ",
                   members, members == 1 ? "" : "s", r->n_answer);
        out_plain(o, r->source, strlen(r->source));
        out_printf(o, " at %s\n", r->when);
    } else {
        out_printf(o, "Chord ring: %u node%s from topology ", members,
                   members == 1 ? "" : "s");
        out_plain(o, r->source, strlen(r->source));
        out_puts(o, " (ids only)\n");
    }
    out_printf(o, "%4s  %-21s  %-8s  %-11s  %7s  %7s  %6s  %-21s  %s\n", "#",
               "ADDRESS", "ID", "HEALTH", "KEYS", "OWNED", "SPACE%",
               "PREDECESSOR", "SUCCESSOR");
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char sid[VIZ_SHORT + 1], keys[24], owned[24], space[16];
        short_id(&n->self.id, sid);
        if (r->live && n->live && !n->ghost) {
            snprintf(keys, sizeof keys, "%llu", (unsigned long long)n->keys);
            snprintf(owned, sizeof owned, "%llu",
                     (unsigned long long)n->primary_keys);
        } else {
            snprintf(keys, sizeof keys, "-");
            snprintf(owned, sizeof owned, "-");
        }
        if (member(r, i))
            snprintf(space, sizeof space, "%.1f", owned_percent(r, i));
        else
            snprintf(space, sizeof space, "-");
        char health[24];
        snprintf(health, sizeof health, "%s%s", health_names[n->health],
                 n->ghost ? "*" : "");
        out_printf(o, "%4u  %-21s  %-8s  %-11s  %7s  %7s  %6s  %-21s  %s", i,
                   n->self.addr, sid, health, keys, owned, space,
                   n->has_pred ? n->pred.addr : "-",
                   n->n_succ ? n->succ[0].addr : "-");
        if (n->bad_succ)
            out_puts(o, "  (skips a node)");
        if (n->highlight)
            out_puts(o, "  <== highlighted");
        out_puts(o, "\n");
    }
    bool ghosts = false;
    for (unsigned i = 0; i < r->n; i++)
        ghosts = ghosts || r->nodes[i].ghost;
    if (ghosts)
        out_puts(o, "(*: not in the ring; known from peers' reports)\n");
    if (r->has_key) {
        char kid[VIZ_SHORT + 1];
        short_id(&r->key_id, kid);
        out_puts(o, "key ");
        out_plain(o, r->key, r->key_len);
        out_printf(o, " (id %s): owner %s, %u hop%s%s:", kid,
                   r->owner_addr[0] ? r->owner_addr : "unknown", r->hops,
                   r->hops == 1 ? "" : "s",
                   r->key_computed ? " (computed)" : "");
        for (unsigned k = 0; k < r->n_path; k++)
            out_printf(o, "%s%s", k ? " -> " : " ", r->path_addr[k]);
        out_puts(o, "\nreplica set:");
        for (unsigned k = 0; k < r->n_rep; k++)
            out_printf(o, " %s", r->nodes[r->rep[k]].self.addr);
        out_puts(o, "\n");
    }
    for (unsigned k = 0; k < r->n_notes; k++)
        out_printf(o, "note: %s\n", r->notes[k]);
}

/* ------------------------------------------------------------------ */
/* Files.                                                               */

/* Write the buffer to `path` ("-" or NULL: stdout), replacing a file
 * atomically. 0, or -1 after printing why. */
static int write_output(const char *path, const struct chord_buf *b)
{
    if (!path || strcmp(path, "-") == 0) {
        if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len) {
            fprintf(stderr, "dht-viz: cannot write to stdout\n");
            return -1;
        }
        return fflush(stdout) == 0 ? 0 : -1;
    }
    char tmp[VIZ_PATH_NAME_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        fprintf(stderr, "dht-viz: output path too long\n");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "dht-viz: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < b->len) {
        ssize_t w = write(fd, b->data + done, b->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "dht-viz: cannot write %s: %s\n", tmp,
                    strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "dht-viz: cannot write %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* --check-topology and --dump-topology. */
static int topology_command(const char *path, bool dump)
{
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_load(path, &t, err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (!dump) {
        printf("%s: ok (%u node%s, %u scenario step%s)\n", path, t.n_listed,
               t.n_listed == 1 ? "" : "s", t.n_steps,
               t.n_steps == 1 ? "" : "s");
        chord_topology_free(&t);
        return 0;
    }
    /* One record per line, fields separated by single spaces, "-" for an
     * absent value; every field is free of spaces by construction. */
    printf("ring %u %u %u %u %u\n", t.ring.successors, t.ring.stabilize_ms,
           t.ring.replicas, t.ring.heartbeat_ms, t.ring.sync_ms);
    for (unsigned i = 0; i < t.n_nodes; i++) {
        const struct chord_topo_node *n = &t.nodes[i];
        char hex[CHORD_ID_HEX_LEN + 1];
        chord_id_to_hex(&n->id, hex);
        printf("node %u %s %s %s %s %u\n", i, n->addr, n->has_id ? hex : "-",
               n->data[0] ? n->data : "-", n->joined ? "joined" : "listed",
               n->line);
    }
    for (unsigned i = 0; i < t.n_steps; i++) {
        const struct chord_topo_step *s = &t.steps[i];
        static const char *const words[] = {"kill",     "pause",    "resume",
                                            "restart",  "leave",    "join",
                                            "load-put", "load-get", "check"};
        bool has_node = s->action <= CHORD_TOPO_JOIN;
        char node[16];
        snprintf(node, sizeof node, "%u", s->node);
        printf("step %u %u %u %s %s %u %u\n", i + 1, s->line, s->at_ms,
               words[s->action], has_node ? node : "-", s->count, s->rate);
    }
    chord_topology_free(&t);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Command line.                                                        */

static void usage(FILE *f)
{
    fputs(
        "usage: dht-viz [--node HOST:PORT | --topology FILE] [--format "
        "svg|html|dot|text]\n"
        "               [--output FILE] [--highlight HOST:PORT] [--key KEY]\n"
        "               [--watch N [--count M]] [--timeout-ms N]\n"
        "       dht-viz --check-topology FILE | --dump-topology FILE\n"
        "\n"
        "Draw a Chord ring: crawl a live ring from one node (walking "
        "successors,\n"
        "reading each node's status), or place the nodes of a topology file "
        "by id.\n"
        "\n"
        "  --node HOST:PORT     a node of the live ring (default: $DHT_NODE, "
        "else\n"
        "                       " VIZ_DEFAULT_NODE ")\n"
        "  --topology FILE      draw a topology file instead (no live data)\n"
        "  --format F           svg, html (one self-contained page), dot "
        "(Graphviz)\n"
        "                       or text; default: from the --output "
        "extension,\n"
        "                       else text\n"
        "  --output FILE        write there (replaced atomically); default "
        "stdout\n"
        "  --highlight ADDR     emphasise one node\n"
        "  --key KEY            trace a key: its lookup path and replica set\n"
        "  --watch N            redraw every N seconds until interrupted "
        "(needs\n"
        "                       --output; an HTML page reloads itself)\n"
        "  --count M            with --watch: stop after M drawings\n"
        "  --timeout-ms N       wait at most N ms for each node (default "
        "2000)\n"
        "  --check-topology F   check a topology file; errors are "
        "FILE:LINE:COLUMN\n"
        "  --dump-topology F    print a topology file normalised, one record "
        "a line\n"
        "                       (ring/node/step; for tools/dht-topo)\n"
        "\n"
        "exit status: 0 ok, 1 a malformed topology or an output that cannot "
        "be\n"
        "written, 2 usage error, 3 the ring cannot be reached\n",
        f);
}

static int format_from_name(const char *s)
{
    static const char *const names[] = {"svg", "html", "dot", "text"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The format an output file name suggests, or -1. */
static int format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    dot++;
    if (strcmp(dot, "svg") == 0)
        return VIZ_SVG;
    if (strcmp(dot, "html") == 0 || strcmp(dot, "htm") == 0)
        return VIZ_HTML;
    if (strcmp(dot, "dot") == 0 || strcmp(dot, "gv") == 0)
        return VIZ_DOT;
    if (strcmp(dot, "txt") == 0)
        return VIZ_TEXT;
    return -1;
}

/* Build the ring once and render it into out. 0, or an exit status. */
static int draw_once(const struct viz_opts *o, struct viz_out *out)
{
    struct viz_ring r;
    memset(&r, 0, sizeof r);
    r.owner = -1;
    r.highlight = -1;
    int rc;
    if (o->topology) {
        rc = from_topology(&r, o->topology);
        if (rc) {
            ring_free(&r);
            if (rc == -ENOMEM)
                fprintf(stderr, "dht-viz: out of memory\n");
            return 1;
        }
    } else {
        r.live = true;
        snprintf(r.source, sizeof r.source, "%s", o->node);
        rc = crawl(&r, o);
        if (rc == 0)
            rc = crawl_health(&r);
        if (rc) {
            ring_free(&r);
            if (rc == -ENOMEM)
                fprintf(stderr, "dht-viz: out of memory\n");
            return 3;
        }
    }
    ring_finish(&r, o);
    if (o->key)
        key_trace(&r, o);
    chord_buf_reset(&out->b);
    out->err = 0;
    switch (o->format) {
    case VIZ_SVG:
        render_svg(out, &r, true);
        break;
    case VIZ_HTML:
        render_html(out, &r, o->watch);
        break;
    case VIZ_DOT:
        render_dot(out, &r);
        break;
    default:
        render_text(out, &r);
        break;
    }
    ring_free(&r);
    if (out->err) {
        fprintf(stderr, "dht-viz: cannot render: %s\n", strerror(-out->err));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_NODE = 256,
        OPT_TOPOLOGY,
        OPT_FORMAT,
        OPT_OUTPUT,
        OPT_HIGHLIGHT,
        OPT_KEY,
        OPT_WATCH,
        OPT_COUNT,
        OPT_TIMEOUT,
        OPT_CHECK,
        OPT_DUMP,
        OPT_HELP,
        OPT_VERSION,
    };
    static const struct option longopts[] = {
        {"node", required_argument, NULL, OPT_NODE},
        {"topology", required_argument, NULL, OPT_TOPOLOGY},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"highlight", required_argument, NULL, OPT_HIGHLIGHT},
        {"key", required_argument, NULL, OPT_KEY},
        {"watch", required_argument, NULL, OPT_WATCH},
        {"count", required_argument, NULL, OPT_COUNT},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"check-topology", required_argument, NULL, OPT_CHECK},
        {"dump-topology", required_argument, NULL, OPT_DUMP},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct viz_opts o;
    memset(&o, 0, sizeof o);
    o.format = -1;
    o.timeout_ms = VIZ_TIMEOUT_MS;
    const char *check = NULL, *dump = NULL;
    bool count_given = false;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_NODE:
            o.node = optarg;
            break;
        case OPT_TOPOLOGY:
            o.topology = optarg;
            break;
        case OPT_FORMAT:
            o.format = format_from_name(optarg);
            if (o.format < 0)
                return chord_usage_error("dht-viz",
                                         "--format must be svg, html, dot or "
                                         "text, not '%s'",
                                         optarg);
            o.format_given = true;
            break;
        case OPT_OUTPUT:
            o.output = optarg;
            break;
        case OPT_HIGHLIGHT:
            o.highlight = optarg;
            break;
        case OPT_KEY:
            o.key = optarg;
            break;
        case OPT_WATCH:
            if (chord_parse_u64(optarg, 1, VIZ_WATCH_MAX_S, &v))
                return chord_usage_error("dht-viz",
                                         "--watch must be a number of seconds "
                                         "from 1 to 86400, not '%s'",
                                         optarg);
            o.watch = (unsigned)v;
            break;
        case OPT_COUNT:
            if (chord_parse_u64(optarg, 1, VIZ_COUNT_MAX, &v))
                return chord_usage_error("dht-viz",
                                         "--count must be a number from 1 to "
                                         "1000000, not '%s'",
                                         optarg);
            o.count = (unsigned)v;
            count_given = true;
            break;
        case OPT_TIMEOUT:
            if (chord_parse_u64(optarg, 1, VIZ_TIMEOUT_MAX_MS, &v))
                return chord_usage_error("dht-viz",
                                         "--timeout-ms must be a number from 1 "
                                         "to 60000, not '%s'",
                                         optarg);
            o.timeout_ms = (int)v;
            break;
        case OPT_CHECK:
            check = optarg;
            break;
        case OPT_DUMP:
            dump = optarg;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("dht-viz %s\n", CHORD_VERSION);
            return 0;
        default:
            if (optopt)
                for (size_t k = 0; longopts[k].name; k++)
                    if (longopts[k].val == optopt)
                        return chord_usage_error("dht-viz",
                                                 "option --%s needs a value",
                                                 longopts[k].name);
            return chord_usage_error("dht-viz", "unknown option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind < argc)
        return chord_usage_error("dht-viz", "unexpected argument '%s'",
                                 argv[optind]);
    if (check || dump) {
        if (check && dump)
            return chord_usage_error("dht-viz", "%s",
                                     "give --check-topology or "
                                     "--dump-topology, not both");
        return topology_command(check ? check : dump, dump != NULL);
    }
    if (o.node && o.topology)
        return chord_usage_error("dht-viz", "%s",
                                 "give --node or --topology, not both");
    if (!o.topology && !o.node) {
        const char *env = getenv("DHT_NODE");
        o.node = env && *env ? env : VIZ_DEFAULT_NODE;
    }
    if (o.node) {
        char host[CHORD_ADDR_MAX];
        uint16_t port;
        if (strlen(o.node) >= CHORD_ADDR_MAX ||
            chord_addr_parse(o.node, host, &port) || port == 0)
            return chord_usage_error("dht-viz", "'%s' is not HOST:PORT",
                                     o.node);
    }
    if (o.key && strlen(o.key) > CHORD_KEY_MAX)
        return chord_usage_error("dht-viz", "%s", "the key is over 1024 bytes");
    if (o.output && strlen(o.output) >= VIZ_PATH_NAME_MAX)
        return chord_usage_error("dht-viz", "%s",
                                 "the output path is too long");
    if (o.topology && strlen(o.topology) >= VIZ_PATH_NAME_MAX)
        return chord_usage_error("dht-viz", "%s",
                                 "the topology path is too long");
    bool to_stdout = !o.output || strcmp(o.output, "-") == 0;
    if (o.watch && to_stdout)
        return chord_usage_error("dht-viz", "%s",
                                 "--watch needs --output FILE");
    if (count_given && !o.watch)
        return chord_usage_error("dht-viz", "%s", "--count goes with --watch");
    if (!o.format_given) {
        o.format = to_stdout ? -1 : format_from_path(o.output);
        if (o.format < 0)
            o.format = to_stdout ? VIZ_TEXT : VIZ_SVG;
    }

    struct viz_out out;
    memset(&out, 0, sizeof out);
    chord_buf_init(&out.b);
    int status = 0;
    if (!o.watch) {
        status = draw_once(&o, &out);
        if (status == 0 && write_output(o.output, &out.b))
            status = 1;
        chord_buf_free(&out.b);
        return status;
    }

    /* --watch: SIGINT, SIGTERM and SIGHUP are blocked and waited for
     * between drawings, so an interrupt ends the loop cleanly (after the
     * drawing in progress) without a signal handler or a global flag. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    for (unsigned round = 1;; round++) {
        status = draw_once(&o, &out);
        if (status == 0 && write_output(o.output, &out.b))
            status = 1;
        if (status == 0) {
            time_t now = time(NULL);
            struct tm tm;
            char when[16];
            localtime_r(&now, &tm);
            strftime(when, sizeof when, "%H:%M:%S", &tm);
            fprintf(stderr, "dht-viz: %s wrote %s (drawing %u)\n", when,
                    o.output, round);
        }
        if (o.count && round >= o.count)
            break;
        struct timespec ts = {.tv_sec = (time_t)o.watch, .tv_nsec = 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig > 0) {
            fprintf(stderr, "dht-viz: stopped by signal %d\n", sig);
            break;
        }
    }
    chord_buf_free(&out.b);
    return status;
}
