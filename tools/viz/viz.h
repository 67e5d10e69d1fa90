/*
 * viz.h - dht-viz's private declarations: its limits, the ring model the
 * drawing is made from, the options, and the stages that fill the model
 * (crawl.c, topology.c), mark it (model.c, trace.c) and write it out
 * (output.c). What the renderers share is in render.h.
 *
 * The model is built once per drawing: filled by one source, indexed
 * (nodes sorted by id, an address index), finished (totals, wrong
 * successors, the highlight), optionally traced (--key), placed
 * (layout.c), rendered, and freed. Nothing here is shared with the
 * library or another program; nothing keeps state between drawings.
 */
#ifndef CHORD_TOOLS_VIZ_H
#define CHORD_TOOLS_VIZ_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/id.h"
#include "chord/types.h"
#include "common/exit.h"

#define VIZ_NODES_MAX 200000u /* nodes of a model (ghosts apart) */
#define VIZ_CRAWL_MAX 4096u   /* nodes a crawl visits */
#define VIZ_INPUT_MAX (1024u * 1024u * 1024u) /* bytes of an --input file */
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

/* dht-viz's exit status 1: a malformed topology file, or a drawing that
 * cannot be rendered or written. (exit.h names 1 only for "not found";
 * dht-viz has always used it this way and tools/dht-topo relies on it.) */
#define VIZ_EXIT_INVALID 1

enum viz_format { VIZ_SVG, VIZ_HTML, VIZ_DOT, VIZ_TEXT };

/*
 * What the drawing says about a node, one state each, in this order of
 * precedence: a node some peer has declared dead is DEAD; else one some
 * peer suspects is SUSPECTED (whether or not it answered the crawl: a
 * paused node is suspected, not "unreachable"); else one that did not
 * answer the crawl is UNREACHABLE; else OK. style.c draws each state one
 * way, in the drawing and in the legend alike.
 */
enum viz_health {
    VIZ_OK = 0,
    VIZ_SUSPECTED,  /* some peer suspects it */
    VIZ_DEAD,       /* some peer has declared it dead */
    VIZ_UNREACHABLE /* it did not answer, and no peer reports it */
};
#define VIZ_HEALTH_N 4u

/* The names of enum viz_health, as the outputs print them. */
extern const char *const viz_health_names[VIZ_HEALTH_N];

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
    bool live;     /* live data: crawled, or read from a snapshot */
    bool snapshot; /* read from an --input file (source names it) */
    char source[VIZ_PATH_NAME_MAX];
    char when[40];
    unsigned n, cap;
    struct viz_node *nodes; /* sorted by id once built */
    unsigned *by_addr;      /* node indexes sorted by address */
    unsigned n_answer;
    unsigned replicas;
    uint64_t max_keys, total_keys; /* of primary (owned) keys */
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
    const char *input; /* --input FILE: a dht ring --json snapshot */
    int format;
    bool format_given;
    const char *output;
    const char *highlight;
    const char *key;
    unsigned watch, count;
    int timeout_ms;
};

/* ------------------------------------------------------------------ */
/* model.c: the ring model and its queries.                             */

/* The first VIZ_SHORT hex digits of `id`, NUL-terminated. */
void viz_short_id(const struct chord_id *id, char out[VIZ_SHORT + 1]);

/* Remember a remark about the crawl (the first VIZ_NOTES_MAX are kept,
 * each cut to VIZ_NOTE_LEN - 1 bytes). */
void viz_ring_note(struct viz_ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free everything r holds and zero it. */
void viz_ring_free(struct viz_ring *r);

/* Append a blank node for `p` (copied). NULL when out of memory or over
 * the cap (VIZ_NODES_MAX + VIZ_GHOSTS_MAX). The pointer is valid until
 * the next viz_ring_add. */
struct viz_node *viz_ring_add(struct viz_ring *r, const struct chord_peer *p);

/* Copy what the viewer needs from a status report into n (live, state,
 * predecessor, successors, fingers merged into runs, keys, peers).
 * 0 or -ENOMEM. */
int viz_node_from_status(struct viz_node *n, const struct chord_status *s);

/* How many nodes of r (members and ghosts) are in each state, into
 * counts[VIZ_HEALTH_N]; returns how many are ghosts. */
unsigned viz_ring_count_health(const struct viz_ring *r,
                               unsigned counts[VIZ_HEALTH_N]);

/* Append a finger for bit `bit` naming `p`, merging it with the previous
 * run when that names the same node. `fingers` holds CHORD_ID_BITS. */
void viz_finger_push(struct viz_finger *fingers, unsigned *n, unsigned bit,
                     const struct chord_id *start, const struct chord_peer *p);

/* Sort the nodes by id and build the address index. 0 or -ENOMEM. */
int viz_ring_index(struct viz_ring *r);

/* The index of the node with address `addr`, or -1 (after viz_ring_index). */
int viz_ring_find_addr(const struct viz_ring *r, const char *addr);

/* The index of the node with id `id`, or -1 (after viz_ring_index). */
int viz_ring_find_id(const struct viz_ring *r, const struct chord_id *id);

/* Is node i a member of the ring (not a ghost)? */
bool viz_ring_member(const struct viz_ring *r, unsigned i);

/* How many members the ring has (ghosts apart). */
unsigned viz_ring_members(const struct viz_ring *r);

/* The member following i by id, wrapping; i itself when alone. With
 * `answering`, skip members that did not answer. */
unsigned viz_ring_next_member(const struct viz_ring *r, unsigned i,
                              bool answering);

/* The member preceding i by id, wrapping; i itself when alone. */
unsigned viz_ring_prev_member(const struct viz_ring *r, unsigned i);

/* The member that owns `id`: the first member whose id is >= id (with
 * `answering`, among those that answered); -1 when there is none. */
int viz_ring_owner_of(const struct viz_ring *r, const struct chord_id *id,
                      bool answering);

/* The share of the identifier space node i owns (from the previous
 * member), in percent. Needs the positions (viz_layout_place). */
double viz_ring_owned_percent(const struct viz_ring *r, unsigned i);

/* After the ring is filled and indexed: totals, wrong successors, the
 * highlight (a warning on stderr when `highlight` is not a node; NULL:
 * none) and the time of the drawing. */
void viz_ring_finish(struct viz_ring *r, const char *highlight);

/* ------------------------------------------------------------------ */
/* crawl.c: live mode, through the client library.                      */

/* Read the status of `addr` over a fresh connection, waiting at most
 * timeout_ms. 0 or a negative errno. */
int viz_fetch_status(const char *addr, int timeout_ms, struct chord_status *st);

/*
 * Walk successors from o->node and fill r with the nodes met. Returns 0,
 * -EHOSTUNREACH after printing why when the start node does not answer,
 * or -ENOMEM.
 */
int viz_crawl(struct viz_ring *r, const struct viz_opts *o);

/*
 * After a crawl: add the peers that some node suspects or declared dead
 * and the walk did not meet (ghosts), index the ring, count the reports
 * about every node and set its health. 0 or -ENOMEM.
 */
int viz_crawl_health(struct viz_ring *r);

/* Ask o->node for the lookup of r->key_id and fill the path, the hops and
 * the owner; when the lookup fails, note it and compute the owner from the
 * ids (r->key_computed, no path). */
void viz_crawl_lookup(struct viz_ring *r, const struct viz_opts *o);

/* ------------------------------------------------------------------ */
/* input.c: --input mode (contacts nobody).                             */

/* Fill r from a file holding what `dht ring --json` or `dht-sim
 * --snapshot` writes: a JSON array of status objects. The nodes are
 * indexed and their health set (as after a crawl). 0, -ENOMEM, or
 * -EINVAL after printing "dht-viz: FILE:LINE:COLUMN: why". */
int viz_input_load(struct viz_ring *r, const char *path);

/* ------------------------------------------------------------------ */
/* topology.c: topology mode (contacts nobody).                         */

/* Fill r from a topology file's listed nodes, indexed, with what a
 * correct ring would hold; r->owner is left at the first listed node (the
 * start of lookups). 0, -ENOMEM, or -EINVAL after printing the parser's
 * message. */
int viz_topology_load(struct viz_ring *r, const char *path);

/* The path a lookup of r->key_id takes in a correct ring from the node
 * viz_topology_load left in r->owner; sets the path, hops and owner. */
void viz_topology_lookup(struct viz_ring *r);

/* --check-topology (dump false) and --dump-topology (dump true): print
 * the verdict or the normalised records on stdout, errors on stderr.
 * Returns an exit status. */
int viz_topology_command(const char *path, bool dump);

/* ------------------------------------------------------------------ */
/* trace.c: the key trace.                                              */

/* Trace o->key: its id, its lookup path (asked in live mode, simulated in
 * topology mode), its owner and replica set, marked on the nodes. */
void viz_key_trace(struct viz_ring *r, const struct viz_opts *o);

/* ------------------------------------------------------------------ */
/* output.c: drawings to files.                                         */

/* Draw once, or every o->watch seconds until o->count drawings or a
 * signal, and write each drawing to o->output. Returns an exit status. */
int viz_run(const struct viz_opts *o);

#endif
