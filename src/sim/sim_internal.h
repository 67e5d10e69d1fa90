/*
 * sim_internal.h - what the simulator's files share (the public API and
 * the model are in include/chord/sim.h).
 *
 * The simulator is one struct chord_sim split by noun over src/sim/:
 *
 *   heap.c     the event queue: a min-heap ordered by (time, seq)
 *   latency.c  the latency models: uniform, matrix, geo
 *   net.c      the network: address map, FIFO links, loss, partitions,
 *              sending and arriving frames
 *   ops.c      client operations: the request table, replies, timeouts
 *   host.c     each node's simulated host: the node table, its io
 *              callbacks, its timer, stopping it, log lines
 *   oracle.c   the ring oracle and Zave's invariant
 *   durable.c  durable nodes: a write-ahead log on a simulated disk
 *   static_ring.c  chord_sim_start_static: nodes started in an exact ring
 *   loop.c     the event loop: pops events, hands them to the files above,
 *              the run digest, chord_sim_run_*
 *   api.c      the simulator's life, node lifecycle calls, queries, the
 *              blocking client helpers
 *
 * Calls go down this list's dependency order and never back up: heap and
 * latency call nobody; net calls heap and latency; ops calls heap; host
 * calls heap, net and ops; oracle calls net; durable calls heap and host;
 * static_ring calls host and oracle;
 * loop calls all of those; api calls loop and the rest. No two files call
 * each other.
 *
 * Determinism: every draw goes through sim_rand() on sim->rng, in the
 * order the event loop reaches it; the helpers here only move code, they
 * never add or reorder a draw.
 *
 * Not a public header: programs use include/chord/sim.h only.
 */
#ifndef CHORD_SIM_INTERNAL_H
#define CHORD_SIM_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/sim.h"

#define SIM_TIME_NONE UINT64_MAX
#define SIM_PEER_CONN                                                          \
    (UINT64_C(1) << 63)          /* conn bit of node-to-node frames            \
                                  */
#define SIM_NO_SLOT UINT32_MAX   /* end of the request free list */
#define SIM_HOST_AUTO UINT32_MAX /* matrix host: index % m */

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

/* Latency models (sim.h, "network models"; latency.c). */
enum sim_latency {
    LAT_UNIFORM = 0, /* PRNG draw in [cfg.min_delay_ms, cfg.max_delay_ms] */
    LAT_MATRIX,      /* matrix[host(src) * m + host(dst)] */
    LAT_GEO,         /* distance on the geo model's plane */
};

enum sim_event_kind {
    EV_DELIVER = 1, /* node-to-node frame src -> dst, sent at time aux */
    EV_UNREACH,     /* tell node dst that address `data` is unreachable */
    EV_TICK,        /* run node dst's timers if aux is its tick generation */
    EV_CLIENT,      /* client request frame for node dst on conn aux */
    EV_REPLY,       /* a node's reply frame for the request on conn aux */
    EV_TIMEOUT,     /* the request on conn aux gives up */
    EV_RESET,       /* the request on conn aux lost its node */
    EV_DISK,        /* node dst's log is due to sync (durable.c) */
};

struct sim_event {
    uint64_t time;
    uint64_t seq;
    uint64_t aux;  /* conn, tick generation or send time: see the kinds */
    uint8_t *data; /* owned: a frame, or a NUL-terminated address */
    uint32_t len;
    uint32_t dst;
    uint32_t src;
    uint8_t kind;
};

struct sim_node {
    struct chord_sim *sim;
    struct chord_node *node; /* NULL when down */
    uint32_t index;
    uint32_t host;     /* matrix host, or SIM_HOST_AUTO: index % m */
    uint8_t group;     /* partition group (0 = the default) */
    int last_state;    /* enum chord_node_state, kept after down */
    bool pns;          /* its config asked for proximity routing */
    uint64_t tick_at;  /* due time of the live TICK, or NONE */
    uint64_t tick_gen; /* generation of the live TICK */
    struct chord_peer self;
};

struct sim_request; /* ops.c */
struct sim_link;    /* net.c */
struct sim_members; /* oracle.c */
struct sim_durable; /* durable.c */

struct chord_sim {
    struct chord_sim_config cfg;
    uint64_t now;
    uint64_t seq;
    uint64_t rng;

    /* Latency model (latency.c); lat_min..lat_max bound every delay it
     * gives. */
    uint8_t lat_model; /* enum sim_latency */
    uint32_t *matrix;  /* LAT_MATRIX: m * m delays, entries >= 1 */
    uint32_t matrix_m;
    uint32_t geo_clusters; /* LAT_GEO */
    uint64_t geo_seed;     /* LAT_GEO: hashed from cfg.seed */
    uint32_t lat_min, lat_max;

    chord_sim_trace_fn trace; /* NULL: no tracing */
    void *trace_arg;

    struct sim_node **nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *addr_map; /* node index + 1, 0 = empty; capacity power of 2 */
    size_t addr_cap;

    struct sim_event *heap;
    size_t heap_len, heap_cap;

    struct sim_link *links;
    size_t links_cap, links_used;

    struct sim_request *reqs;
    uint32_t reqs_len, reqs_cap, free_head;

    unsigned in_callback; /* > 0 while a client callback runs */
    struct chord_sim_stats stats;

    /* Bumped whenever a node changes state or goes down, so the oracle
     * knows when its sorted view is stale. The view is a cache behind a
     * pointer: the const query functions may refresh it. */
    uint64_t members_gen;
    struct sim_members *members;

    /* Simulated disks, by node index (NULL: memory-only); durable.c. */
    struct sim_durable **dur;
    uint32_t dur_cap;
    /* The decode buffer every node shares (struct chord_node_io.scratch):
     * one thread runs them, one event at a time. */
    struct chord_msg *scratch;
    struct chord_buf scratch_out; /* ... and encode buffer (.scratch_out) */
};

/* ---- PRNG and hashing (inline: every file draws from the same state) --- */

/* splitmix64 (Steele, Lea, Flood): one 64-bit state, full period. The
 * simulator's PRNG is one such state; the geo model runs its own. */
static inline uint64_t splitmix_next(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t sim_rand(struct chord_sim *sim)
{
    return splitmix_next(&sim->rng);
}

/* Uniform in [lo, hi] (hi - lo < 2^32, so the modulo bias is < 2^-32). */
static inline uint64_t sim_rand_range(struct chord_sim *sim, uint64_t lo,
                                      uint64_t hi)
{
    return lo + sim_rand(sim) % (hi - lo + 1);
}

/* Uniform in [0, 1). */
static inline double sim_rand_unit(struct chord_sim *sim)
{
    return (double)(sim_rand(sim) >> 11) * 0x1p-53;
}

/* Finalizer of murmur3: spreads a 64-bit key over a table. */
static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

/* ---- node indexes ------------------------------------------------------- */

/* Node i if the index is valid, else NULL. */
static inline struct sim_node *chord_sim__at(const struct chord_sim *sim, int i)
{
    if (i < 0 || (uint32_t)i >= sim->n_nodes)
        return NULL;
    return sim->nodes[i];
}

/* Shared checks of the calls on a live node: 0, -EINVAL (bad index) or
 * -EHOSTDOWN; *out is set on 0 only. */
static inline int chord_sim__live(const struct chord_sim *sim, int i,
                                  struct sim_node **out)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    if (!sn)
        return -EINVAL;
    if (!sn->node)
        return -EHOSTDOWN;
    *out = sn;
    return 0;
}

/* ---- heap.c: the event queue -------------------------------------------- */

/* Queue an event of `kind` due at `time`; `data` (may be NULL) is taken in
 * all cases: freed, and counted in stats.dropped, when the queue refuses
 * it. 0, -ENOSPC (CHORD_SIM_EVENTS_MAX queued) or -ENOMEM. */
int chord_sim__schedule(struct chord_sim *sim, uint64_t time, uint8_t kind,
                        uint32_t dst, uint32_t src, uint64_t aux, uint8_t *data,
                        size_t len);
/* Remove the earliest event into *out (its data now owned by the caller).
 * The queue must not be empty. */
void chord_sim__heap_pop(struct chord_sim *sim, struct sim_event *out);
/* Free every queued event's data and the queue. */
void chord_sim__heap_free(struct chord_sim *sim);

/* ---- latency.c: the latency models -------------------------------------- */

/* Start in the uniform model of sim->cfg and seed the geo model. */
void chord_sim__latency_init(struct chord_sim *sim);
/* The delays the model can give a frame src -> dst: [*lo, *hi]. Both
 * indexes must be valid. */
void chord_sim__link_delay(const struct chord_sim *sim, uint32_t src,
                           uint32_t dst, uint32_t *lo, uint32_t *hi);

/* ---- net.c: the network ------------------------------------------------- */

/* Add node idx (already in sim->nodes) to the address map. 0 or -ENOMEM. */
int chord_sim__addr_add(struct chord_sim *sim, uint32_t idx);
/* The index of the node at `addr`, or -1. */
int chord_sim__addr_find(const struct chord_sim *sim, const char *addr);
/* struct chord_node_io.send: ctx is the sender's struct sim_node. Applies
 * partitions, loss, the latency model and FIFO order, then queues a
 * DELIVER (or an UNREACH back to the sender). */
void chord_sim__net_send(void *ctx, const char *addr, const uint8_t *frame,
                         size_t len);
/* A DELIVER event is due: true when its frame is to be given to node
 * ev->dst (counted delivered and traced), false when a partition cut it
 * or the node is down (the sender is then told, as its host would be). */
bool chord_sim__net_arrive(struct chord_sim *sim, const struct sim_event *ev);

/* ---- ops.c: client operations ------------------------------------------- */

/* struct chord_node_io.reply: ctx is the node's struct sim_node. Queues
 * the frame (copied) as a REPLY event at the current time. */
void chord_sim__ops_reply(void *ctx, uint64_t conn, const uint8_t *frame,
                          size_t len);
/* A CLIENT event is due: give its frame to node ev->dst. True when the
 * node was given it (the caller then runs chord_sim__node_after), false
 * when the request is gone or its node is down (the request then fails
 * with -ECONNRESET). A frame the node refuses fails it with -EPROTO. */
bool chord_sim__ops_arrive(struct chord_sim *sim, const struct sim_event *ev);
/* Handle a REPLY, TIMEOUT or RESET event. */
void chord_sim__ops_event(struct chord_sim *sim, const struct sim_event *ev);
/* Node `idx` went down: queue a RESET for each request it still had. */
void chord_sim__ops_node_down(struct chord_sim *sim, uint32_t idx);

/* ---- host.c: each node's simulated host --------------------------------- */

/* With log_stderr, print "[time] who: prefix text" on stderr. */
void chord_sim__logf(struct chord_sim *sim, const char *who, const char *prefix,
                     const char *text);
/* The io callbacks of node sn (send, reply, log; no persist). */
void chord_sim__node_io(struct sim_node *sn, struct chord_node_io *io);
/* *out = *cfg, or for a NULL cfg the defaults with a seed drawn from the
 * simulator's PRNG and the simulator's log level. */
void chord_sim__node_config(struct chord_sim *sim,
                            const struct chord_node_config *cfg,
                            struct chord_node_config *out);
/* chord_sim_add_node() (see sim.h). */
int chord_sim__node_add(struct chord_sim *sim,
                        const struct chord_node_config *cfg,
                        const struct chord_id *explicit_id);
/* Take node sn down: free it, invalidate its tick, reset its client
 * requests. Nothing when it is already down. */
void chord_sim__node_stop(struct chord_sim *sim, struct sim_node *sn);
/* After node sn handled an event: stop it if it is done, else make sure a
 * tick is queued for its next deadline. */
void chord_sim__node_after(struct chord_sim *sim, struct sim_node *sn,
                           bool was_tick);

/* ---- oracle.c: the ring oracle ------------------------------------------ */

/* A node in a view of the ring sorted by id (the oracle's, the static
 * start's). */
struct sim_member {
    struct chord_id id;
    uint32_t idx;
};
/* qsort order of members: by id, then by index. */
int chord_sim__member_cmp(const void *a, const void *b);
/* Position in v[0..n) (sorted, n > 0) of the first member with id >= key,
 * wrapping to 0. */
size_t chord_sim__member_successor(const struct sim_member *v, size_t n,
                                   const struct chord_id *key);
/* Allocate the oracle's cache. 0 or -ENOMEM. */
int chord_sim__oracle_init(struct chord_sim *sim);
void chord_sim__oracle_free(struct chord_sim *sim);

/* ---- durable.c: durable nodes ------------------------------------------- */

/* Handle an EV_DISK event: sync node ev->dst's log and report it. */
void chord_sim__disk_event(struct chord_sim *sim, const struct sim_event *ev);
/* Free every simulated disk and log. */
void chord_sim__durable_free_all(struct chord_sim *sim);

/* ---- loop.c: the event loop --------------------------------------------- */

/* Pop and handle the earliest event. The queue must not be empty. */
void chord_sim__step(struct chord_sim *sim);

#endif
