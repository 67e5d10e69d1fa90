/*
 * topology.h - the topology file format: a ring of local dhtd processes,
 * its parameters, and an optional scripted scenario.
 *
 * A topology file is line-oriented text; '#' starts a comment anywhere on a
 * line; words are separated by spaces or tabs. Three statements:
 *
 *   ring key=value ...            parameters given to every dhtd:
 *                                   successors=R (1-32), stabilize_ms=T,
 *                                   replicas=R (1-32, at most successors+1),
 *                                   heartbeat_ms=T, sync_ms=T (10-600000)
 *   node HOST:PORT [id=HEX40] [data=DIR]
 *                                 one node; HOST is an IPv4 address,
 *                                 [IPv6] or a host name (chord/addr.h;
 *                                 kept in canonical form); the first node
 *                                 creates the ring, the others join it;
 *                                 DIR is a relative path under the
 *                                 topology's run directory. dht-topo
 *                                 launches only loopback topologies (it
 *                                 starts local processes); dht-viz draws
 *                                 any
 *   at T ACTION ...               a scenario step at T seconds (decimals
 *                                 allowed, up to ms) after the ring is up;
 *                                 steps are in time order. ACTION is one of
 *                                   kill NODE      SIGKILL (a crash)
 *                                   pause NODE     SIGSTOP
 *                                   resume NODE    SIGCONT
 *                                   restart NODE   start it again (after a
 *                                                  crash if it still runs)
 *                                   leave NODE     SIGTERM (graceful leave)
 *                                   join HOST:PORT [id=HEX40] [data=DIR]
 *                                                  a new node joins
 *                                   load put|get N [rate=R]
 *                                                  N puts or gets in the
 *                                                  background, R per second
 *                                   check          the ring is correct and
 *                                                  every acknowledged key
 *                                                  is readable
 *                                 NODE is an index (0 is the first node line;
 *                                 joined nodes follow the listed ones, in
 *                                 join order) or the HOST:PORT of a node
 *                                 listed above or joined on an earlier line.
 *
 * Node and ring lines come before the first `at` line. Every error names
 * the place as "FILE:LINE:COLUMN: message" (1-based; a column counts bytes,
 * a tab is one column). The parser stops at the first error.
 *
 * Invariants: every table has a cap (below); a parsed topology holds only
 * valid, canonical, distinct addresses, distinct ids and distinct data
 * directories, and steps whose node index is below n_nodes. The parser does
 * no I/O except chord_topology_load() reading the one file; it never
 * starts, signals or contacts a process (tools/dht-topo does).
 */
#ifndef CHORD_CLIENT_TOPOLOGY_H
#define CHORD_CLIENT_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/id.h"
#include "chord/types.h"

#define CHORD_TOPO_FILE_MAX (1u << 20)   /* bytes in a topology file */
#define CHORD_TOPO_LINE_MAX 1024u        /* bytes in one line */
#define CHORD_TOPO_WORDS_MAX 16u         /* words in one statement */
#define CHORD_TOPO_NODES_MAX 4096u       /* nodes, listed and joined */
#define CHORD_TOPO_STEPS_MAX 4096u       /* scenario steps */
#define CHORD_TOPO_DATA_MAX 128u         /* a data= path, NUL included */
#define CHORD_TOPO_TIME_MAX_MS 86400000u /* `at T`: one day at most */
#define CHORD_TOPO_LOAD_MAX 1000000u     /* operations of one load step */
#define CHORD_TOPO_RATE_MAX 10000u       /* load rate=, operations/second */
#define CHORD_TOPO_ERR_MAX 512u          /* bytes of an error message */

/* Ring parameters; 0 means "not given" (dhtd's default applies). */
struct chord_topo_ring {
    unsigned successors;   /* --successors, 1-32 */
    unsigned stabilize_ms; /* --stabilize-ms, 1-600000 */
    unsigned replicas;     /* --replicas, 1-32 and <= successors + 1 */
    unsigned heartbeat_ms; /* --heartbeat-ms, 10-600000 */
    unsigned sync_ms;      /* --sync-ms, 10-600000 */
};

struct chord_topo_node {
    char addr[CHORD_ADDR_MAX];      /* "host:port", canonical */
    bool has_id;                    /* id= given */
    struct chord_id id;             /* the explicit id, or SHA-1 of addr */
    char data[CHORD_TOPO_DATA_MAX]; /* data= directory, "" when none */
    bool joined;                    /* added by a scenario `join` */
    unsigned line;                  /* where it was declared */
};

enum chord_topo_action {
    CHORD_TOPO_KILL = 0,
    CHORD_TOPO_PAUSE,
    CHORD_TOPO_RESUME,
    CHORD_TOPO_RESTART,
    CHORD_TOPO_LEAVE,
    CHORD_TOPO_JOIN,
    CHORD_TOPO_LOAD_PUT,
    CHORD_TOPO_LOAD_GET,
    CHORD_TOPO_CHECK,
};

/* The action's word as written in a file ("kill", ..., "load put"). */
const char *chord_topo_action_name(int action);

struct chord_topo_step {
    uint32_t at_ms; /* milliseconds after the ring is up */
    uint8_t action; /* enum chord_topo_action */
    unsigned node;  /* node actions and join: index into nodes[] */
    uint32_t count; /* load: operations */
    uint32_t rate;  /* load: operations per second, 0 = no limit */
    unsigned line;  /* where it was written */
};

struct chord_topology {
    struct chord_topo_ring ring;
    unsigned n_listed;             /* node lines: started by `up` */
    unsigned n_nodes;              /* listed, then joined in join order */
    struct chord_topo_node *nodes; /* n_nodes entries (owned) */
    unsigned n_steps;
    struct chord_topo_step *steps; /* n_steps entries, in time order */
};

/*
 * Parse `len` bytes of topology text. `file` is the name used in error
 * messages (only read). On success returns 0 and fills *out (free it with
 * chord_topology_free). On a malformed file returns -EINVAL with
 * "FILE:LINE:COLUMN: message" in err; -ENOMEM when out of memory. On
 * failure *out is left empty (nothing to free, freeing is harmless).
 */
int chord_topology_parse(const char *text, size_t len, const char *file,
                         struct chord_topology *out,
                         char err[CHORD_TOPO_ERR_MAX]);

/*
 * Read and parse the file at `path` (at most CHORD_TOPO_FILE_MAX bytes).
 * Errors as chord_topology_parse, plus a negative errno from opening or
 * reading it (-ENOENT...) or -EFBIG, each with "FILE: message" in err.
 */
int chord_topology_load(const char *path, struct chord_topology *out,
                        char err[CHORD_TOPO_ERR_MAX]);

/* Free what a successful parse allocated; *t is then empty. */
void chord_topology_free(struct chord_topology *t);

/*
 * The index of the node named by `ref`: a decimal index below n_nodes, or
 * the address of one of the nodes. -ENOENT when there is none.
 */
int chord_topology_find(const struct chord_topology *t, const char *ref);

#endif
