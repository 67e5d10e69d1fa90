/*
 * sim.c - the deterministic network simulator (API and model: see sim.h).
 *
 * Design.
 *  - Time is a uint64 count of simulated milliseconds. Everything that
 *    happens is an event in one queue: a binary min-heap ordered by
 *    (time, sequence number). The sequence number grows with every push,
 *    so events due at the same millisecond run in the order they were
 *    made, and the run order is a pure function of the calls made.
 *  - Randomness comes from one splitmix64 generator whose state lives in
 *    struct chord_sim (no globals). It draws uniform link latencies,
 *    losses and the PRNG seeds of nodes added with a NULL config. The geo
 *    model places nodes with a hash of (seed, index) instead, and the
 *    matrix and geo models draw nothing, so choosing a model never shifts
 *    the PRNG's sequence. Hash maps below are only ever probed, never
 *    iterated in an order that matters, so the same seed gives the same
 *    run bit for bit.
 *  - Nodes live in an array of pointers indexed by node number, and an
 *    open-addressing map takes an address string to a node number, so
 *    delivering a frame costs O(1) however many nodes there are.
 *  - send(addr, frame): the frame is copied into a DELIVER event due at
 *    now + delay, the delay given by the latency model (link_delay():
 *    uniform in [min_delay_ms, max_delay_ms], a matrix entry by host, or
 *    the geo model's distance). Links are FIFO like TCP: a frame on link
 *    (a, b) is never due before the previous one (a map keeps each link's
 *    last due time; entries already in the past are dropped whenever the
 *    map is rebuilt, so it holds only links with frames in flight), which
 *    holds whatever the model and across model changes. A frame whose
 *    two ends are in different partition groups, when it is sent or when
 *    it arrives, is dropped without a word. Otherwise it may be lost with
 *    probability `loss`. When the destination is unknown or down, at send
 *    time or at delivery time, the sender instead gets an UNREACH event
 *    (the address) after the link's smallest delay, as a failed connect
 *    would tell it. A DELIVER event carries its send time in `aux` (left
 *    out of the digest, which predates it) for the trace hook.
 *  - Timers: after every event given to node i the simulator reads
 *    chord_node_next_deadline() and keeps at most one live TICK event per
 *    node. A TICK carries the node's tick generation; bumping the
 *    generation makes every older TICK stale (it is skipped when popped).
 *    A tick is only rescheduled when the deadline moved earlier; a later
 *    deadline is served by the earlier tick, which finds nothing due and
 *    reschedules. A node whose deadline is still <= now after a tick is
 *    ticked again 1 ms later, so time always moves on.
 *  - Clients: a request gets a slot in a table and a connection number
 *    conn = (slot generation << 32 | slot). Node-to-node frames are given
 *    to chord_node_receive() with conn = bit 63 | sender index, so the two
 *    can never be confused. The request frame is delivered at once (a
 *    CLIENT event), the node's reply is queued as a REPLY event at the
 *    current time and decoded there, and a TIMEOUT event ends requests
 *    that get no reply. Callbacks run from the event loop only, never from
 *    inside a node's entry point.
 *  - A node that reaches LEFT or FAILED is freed at once (the daemon
 *    would exit); a crashed node is freed the same way. Indexes are never
 *    reused, and events naming a node that is down are handled as the
 *    network would handle them.
 *
 * Caps: CHORD_SIM_NODES_MAX nodes, CHORD_SIM_EVENTS_MAX queued events (a
 * frame that does not fit is counted as dropped), CHORD_SIM_REQUESTS_MAX
 * client requests in flight, CHORD_SIM_HOSTS_MAX hosts in a latency
 * matrix; the link map holds at most one entry per queued event.
 *
 * This file does no real I/O except optional log lines on stderr, and
 * never drives a node from inside one of that node's callbacks.
 */
#include "chord/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "core/routing.h"
#include "core/wire.h"
#include "io/disk.h"
#include "io/wal.h"

#define SIM_TIME_NONE UINT64_MAX
#define SIM_PEER_CONN (UINT64_C(1) << 63) /* conn bit of node-to-node frames */
#define SIM_PORT_BASE 20000u
#define SIM_PORTS_PER_HOST 40000u
#define SIM_MAP_MIN 64u       /* smallest capacity of the two hash maps */
#define SIM_REQ_GEN_MAX 0x7fffffffu
#define SIM_NO_SLOT UINT32_MAX
#define SIM_HOST_AUTO UINT32_MAX

/* Latency models (sim.h, "network models"). */
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
    EV_DISK,        /* node dst's log is due to sync (see the end) */
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
    uint32_t host;           /* matrix host, or SIM_HOST_AUTO: index % m */
    uint8_t group;           /* partition group (0 = the default) */
    int last_state;          /* enum chord_node_state, kept after down */
    bool pns;                /* its config asked for proximity routing */
    uint64_t tick_at;        /* due time of the live TICK, or NONE */
    uint64_t tick_gen;       /* generation of the live TICK */
    struct chord_peer self;
};

struct sim_request {
    bool used;
    uint8_t op;         /* enum chord_sim_op */
    uint32_t gen;       /* 1..SIM_REQ_GEN_MAX, part of the conn number */
    uint32_t node;
    uint32_t next_free; /* free list link while unused */
    chord_sim_reply_fn cb;
    void *arg;
    uint64_t sent_ms;
};

struct sim_link {
    uint64_t key;  /* (src + 1) << 32 | dst; 0 marks an empty slot */
    uint64_t last; /* due time of the newest frame on the link */
};

/* An ACTIVE node in the ring oracle's sorted view. */
struct sim_member {
    struct chord_id id;
    uint32_t idx;
};

/* The ring oracle's view: the up ACTIVE nodes sorted by id, rebuilt only
 * when the membership generation has moved since it was built. */
struct sim_members {
    bool valid;
    uint64_t gen;   /* sim->members_gen when built */
    size_t n, cap;
    struct sim_member *v;
};

struct chord_sim {
    struct chord_sim_config cfg;
    uint64_t now;
    uint64_t seq;
    uint64_t rng;

    /* Latency model; lat_min..lat_max bound every delay it gives. */
    uint8_t lat_model;       /* enum sim_latency */
    uint32_t *matrix;        /* LAT_MATRIX: m * m delays, entries >= 1 */
    uint32_t matrix_m;
    uint32_t geo_clusters;   /* LAT_GEO */
    uint64_t geo_seed;       /* LAT_GEO: hashed from cfg.seed */
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
     * below knows when its sorted view is stale. The view is a cache
     * behind a pointer: the const query functions may refresh it. */
    uint64_t members_gen;
    struct sim_members *members;

    /* Simulated disks, by node index (NULL: memory-only); see the end. */
    struct sim_durable **dur;
    uint32_t dur_cap;
};

static void sim_disk_event(struct chord_sim *sim, const struct sim_event *ev);
static void sim_durable_free_all(struct chord_sim *sim);

/* ---- PRNG and hashing --------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood): one 64-bit state, full period. The
 * simulator's PRNG is one such state; the geo model runs its own. */
static uint64_t splitmix_next(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t sim_rand(struct chord_sim *sim)
{
    return splitmix_next(&sim->rng);
}

/* Uniform in [lo, hi] (hi - lo < 2^32, so the modulo bias is < 2^-32). */
static uint64_t sim_rand_range(struct chord_sim *sim, uint64_t lo, uint64_t hi)
{
    return lo + sim_rand(sim) % (hi - lo + 1);
}

/* Uniform in [0, 1). */
static double sim_rand_unit(struct chord_sim *sim)
{
    return (double)(sim_rand(sim) >> 11) * 0x1p-53;
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* The run digest takes a word at a time: it hashes every frame's bytes,
 * so it must cost little more than reading them. One multiply and one
 * shift per 64-bit word; not a cryptographic hash. */
#define DIGEST_MUL UINT64_C(0x9e3779b97f4a7c15)

static uint64_t digest_u64(uint64_t h, uint64_t v)
{
    h = (h ^ v) * DIGEST_MUL;
    return h ^ (h >> 32);
}

/* Bytes are read as little-endian words whatever the host, so a digest
 * means the same on every machine. */
static uint64_t digest_bytes(uint64_t h, const uint8_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--)
            w = w << 8 | b[i + (size_t)k];
        h = digest_u64(h, w);
    }
    uint64_t w = 0;
    for (size_t k = n; k > i; k--)
        w = w << 8 | b[k - 1];
    return digest_u64(h, w ^ (uint64_t)(n - i) << 56);
}

/* Finalizer of murmur3: spreads a 64-bit key over the table. */
static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

/* ---- event heap --------------------------------------------------------- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return a->seq < b->seq;
}

/* Queue *ev (its seq is assigned here; its data is taken on success).
 * 0, -ENOSPC (queue at its cap) or -ENOMEM; on error the caller still
 * owns ev->data. */
static int heap_push(struct chord_sim *sim, struct sim_event *ev)
{
    if (sim->heap_len == sim->heap_cap) {
        if (sim->heap_cap >= CHORD_SIM_EVENTS_MAX)
            return -ENOSPC;
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        if (cap > CHORD_SIM_EVENTS_MAX)
            cap = CHORD_SIM_EVENTS_MAX;
        struct sim_event *h = realloc(sim->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        sim->heap = h;
        sim->heap_cap = cap;
    }
    ev->seq = sim->seq++;
    size_t i = sim->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(ev, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = *ev;
    return 0;
}

/* Remove the earliest event into *out. The heap must not be empty. */
static void heap_pop(struct chord_sim *sim, struct sim_event *out)
{
    *out = sim->heap[0];
    struct sim_event last = sim->heap[--sim->heap_len];
    size_t n = sim->heap_len, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!ev_before(&sim->heap[c], &last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    if (n > 0)
        sim->heap[i] = last;
}

/* Queue an event of `kind`; `data` (may be NULL) is taken in all cases:
 * freed, and counted as dropped, when the queue refuses it. */
static int sim_schedule(struct chord_sim *sim, uint64_t time, uint8_t kind,
                        uint32_t dst, uint32_t src, uint64_t aux,
                        uint8_t *data, size_t len)
{
    struct sim_event ev = {
        .time = time, .aux = aux, .data = data, .len = (uint32_t)len,
        .dst = dst, .src = src, .kind = kind,
    };
    int rc = heap_push(sim, &ev);
    if (rc) {
        free(data);
        sim->stats.dropped++;
    }
    return rc;
}

/* ---- address map -------------------------------------------------------- */

static uint64_t addr_hash(const char *addr)
{
    return fnv_bytes(FNV_OFFSET, addr, strlen(addr));
}

static void addr_map_insert_raw(uint32_t *map, size_t cap,
                                const struct chord_sim *sim, uint32_t idx)
{
    size_t mask = cap - 1;
    size_t i = addr_hash(sim->nodes[idx]->self.addr) & mask;
    while (map[i])
        i = (i + 1) & mask;
    map[i] = idx + 1;
}

/* Add node idx (already in sim->nodes) to the map. 0 or -ENOMEM. */
static int addr_map_add(struct chord_sim *sim, uint32_t idx)
{
    if ((size_t)(idx + 1) * 2 > sim->addr_cap) {
        size_t cap = sim->addr_cap ? sim->addr_cap * 2 : SIM_MAP_MIN;
        uint32_t *map = calloc(cap, sizeof *map);
        if (!map)
            return -ENOMEM;
        for (size_t i = 0; i < sim->addr_cap; i++)
            if (sim->addr_map[i])
                addr_map_insert_raw(map, cap, sim, sim->addr_map[i] - 1);
        free(sim->addr_map);
        sim->addr_map = map;
        sim->addr_cap = cap;
    }
    addr_map_insert_raw(sim->addr_map, sim->addr_cap, sim, idx);
    return 0;
}

static int addr_map_find(const struct chord_sim *sim, const char *addr)
{
    if (!sim->addr_cap)
        return -1;
    size_t mask = sim->addr_cap - 1;
    for (size_t i = addr_hash(addr) & mask; sim->addr_map[i];
         i = (i + 1) & mask) {
        uint32_t idx = sim->addr_map[i] - 1;
        if (strcmp(sim->nodes[idx]->self.addr, addr) == 0)
            return (int)idx;
    }
    return -1;
}

/* ---- link FIFO map ------------------------------------------------------ */

static void links_insert_raw(struct sim_link *tab, size_t cap, uint64_t key,
                             uint64_t last)
{
    size_t mask = cap - 1;
    size_t i = mix64(key) & mask;
    while (tab[i].key && tab[i].key != key)
        i = (i + 1) & mask;
    tab[i].key = key;
    tab[i].last = last;
}

/* Rebuild the link map keeping only entries still in the future, sized
 * for them plus `extra` more. 0 or -ENOMEM (the old map then stays). */
static int links_rebuild(struct chord_sim *sim, size_t extra)
{
    size_t live = 0;
    for (size_t i = 0; i < sim->links_cap; i++)
        if (sim->links[i].key && sim->links[i].last > sim->now)
            live++;
    size_t cap = SIM_MAP_MIN;
    while (cap < 4 * (live + extra))
        cap *= 2;
    struct sim_link *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return -ENOMEM;
    for (size_t i = 0; i < sim->links_cap; i++)
        if (sim->links[i].key && sim->links[i].last > sim->now)
            links_insert_raw(tab, cap, sim->links[i].key, sim->links[i].last);
    free(sim->links);
    sim->links = tab;
    sim->links_cap = cap;
    sim->links_used = live;
    return 0;
}

/* The due time a frame on link src -> dst gets when its own latency would
 * make it due at `t`: never before the previous frame on that link. */
static uint64_t link_fifo_time(struct chord_sim *sim, uint32_t src,
                               uint32_t dst, uint64_t t)
{
    uint64_t key = ((uint64_t)src + 1) << 32 | dst;
    if (sim->links_cap) {
        size_t mask = sim->links_cap - 1;
        for (size_t i = mix64(key) & mask; sim->links[i].key;
             i = (i + 1) & mask) {
            if (sim->links[i].key == key) {
                if (sim->links[i].last > t)
                    t = sim->links[i].last;
                sim->links[i].last = t;
                return t;
            }
        }
    }
    if ((sim->links_used + 1) * 2 > sim->links_cap &&
        links_rebuild(sim, 1) != 0) {
        /* Out of memory: without an entry FIFO order cannot be kept, so
         * keep it the blunt way, by the largest delay. */
        return sim->now + sim->lat_max > t ? sim->now + sim->lat_max : t;
    }
    links_insert_raw(sim->links, sim->links_cap, key, t);
    sim->links_used++;
    return t;
}

/* ---- latency models ----------------------------------------------------- */

/* Geo model (sim.h): continent centres in microseconds, the vertices of a
 * regular heptagon of radius 65 ms (vertex k at angle 2*pi*k/7 from the
 * y axis), in the order 0, 3, 5, 1, 6, 2, 4 so that the first few are
 * far apart. Any two are 56404 to 126741 us apart. */
static const int32_t geo_centre[CHORD_SIM_GEO_CLUSTERS_MAX][2] = {
    {0, 65000},      {28202, -58563}, {-63370, -14464}, {50819, 40527},
    {-50819, 40527}, {63370, -14464}, {-28202, -58563},
};
#define GEO_RADIUS_US 9000 /* a node sits this close to its centre */
#define GEO_TRIES 64       /* rejection-sampling draws, then the centre */
#define GEO_SALT UINT64_C(0x67656f2d6c61742e) /* "geo-lat." */

/* floor(sqrt(v)), in integers so that it is the same on every machine. */
static uint64_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = UINT64_C(1) << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/* Node idx's point on the geo plane, in microseconds: a pure function of
 * the seed, idx and the cluster count (its own splitmix64 stream). */
static void geo_pos(const struct chord_sim *sim, uint32_t idx, int64_t *x,
                    int64_t *y)
{
    uint64_t st = sim->geo_seed ^ mix64((uint64_t)idx + 1);
    uint32_t c = (uint32_t)(splitmix_next(&st) % sim->geo_clusters);
    int64_t dx = 0, dy = 0;
    const int64_t r = GEO_RADIUS_US, span = 2 * GEO_RADIUS_US + 1;
    for (int k = 0; k < GEO_TRIES; k++) {
        uint64_t h = splitmix_next(&st);
        int64_t a = (int64_t)((h & 0xffffffffu) % (uint64_t)span) - r;
        int64_t b = (int64_t)((h >> 32) % (uint64_t)span) - r;
        if (a * a + b * b <= r * r) {
            dx = a;
            dy = b;
            break;
        }
    }
    *x = geo_centre[c][0] + dx;
    *y = geo_centre[c][1] + dy;
}

static uint32_t geo_delay(const struct chord_sim *sim, uint32_t a, uint32_t b)
{
    int64_t xa, ya, xb, yb;
    geo_pos(sim, a, &xa, &ya);
    geo_pos(sim, b, &xb, &yb);
    int64_t dx = xa - xb, dy = ya - yb;
    uint64_t d = isqrt64((uint64_t)(dx * dx + dy * dy)); /* us */
    return CHORD_SIM_GEO_BASE_MS + (uint32_t)((d + 500) / 1000);
}

static uint32_t node_host(const struct chord_sim *sim, uint32_t idx)
{
    uint32_t h = sim->nodes[idx]->host;
    return h == SIM_HOST_AUTO ? idx % sim->matrix_m : h;
}

/* The delays the model can give a frame src -> dst: [*lo, *hi]. */
static void link_delay(const struct chord_sim *sim, uint32_t src, uint32_t dst,
                       uint32_t *lo, uint32_t *hi)
{
    switch (sim->lat_model) {
    case LAT_MATRIX:
        *lo = *hi = sim->matrix[(size_t)node_host(sim, src) * sim->matrix_m +
                                node_host(sim, dst)];
        return;
    case LAT_GEO:
        *lo = *hi = geo_delay(sim, src, dst);
        return;
    default:
        *lo = sim->cfg.min_delay_ms;
        *hi = sim->cfg.max_delay_ms;
        return;
    }
}

/* Forget the matrix (and the hosts placed on it). */
static void matrix_clear(struct chord_sim *sim)
{
    free(sim->matrix);
    sim->matrix = NULL;
    sim->matrix_m = 0;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->host = SIM_HOST_AUTO;
}

/* ---- node plumbing ------------------------------------------------------ */

/* With log_stderr, print "[time] who: prefix text" on stderr. */
static void sim_logf(struct chord_sim *sim, const char *who,
                     const char *prefix, const char *text)
{
    if (sim->cfg.log_stderr)
        fprintf(stderr, "[%8" PRIu64 " ms] %s: %s%s\n", sim->now, who, prefix,
                text);
}

/* Queue an UNREACH for node `to` about `addr`, due after `delay` ms. */
static void sim_unreach(struct chord_sim *sim, uint32_t to, uint32_t about,
                        const char *addr, uint32_t delay)
{
    size_t alen = strlen(addr) + 1;
    uint8_t *copy = malloc(alen);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, addr, alen);
    sim->stats.unreachable++;
    sim_schedule(sim, sim->now + delay, EV_UNREACH, to, about, 0, copy, alen);
}

static void io_send(void *ctx, const char *addr, const uint8_t *frame,
                    size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    int dst = addr_map_find(sim, addr);
    if (dst < 0) {
        /* No such host: refused after the model's smallest delay. */
        sim_unreach(sim, sn->index, sn->index, addr, sim->lat_min);
        return;
    }
    struct sim_node *to = sim->nodes[dst];
    if (to->group != sn->group) {
        sim->stats.partitioned++; /* dropped: the sender hears nothing */
        return;
    }
    uint32_t lo, hi;
    link_delay(sim, sn->index, (uint32_t)dst, &lo, &hi);
    if (!to->node) {
        sim_unreach(sim, sn->index, sn->index, addr, lo);
        return;
    }
    if (sim->cfg.loss > 0 && sim_rand_unit(sim) < sim->cfg.loss) {
        sim->stats.dropped++;
        return;
    }
    /* The uniform model always draws, even when lo == hi, so that a
     * const run keeps the PRNG sequence it always had. */
    uint64_t t =
        sim->now +
        (sim->lat_model == LAT_UNIFORM ? sim_rand_range(sim, lo, hi) : lo);
    t = link_fifo_time(sim, sn->index, (uint32_t)dst, t);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, frame, len);
    sim_schedule(sim, t, EV_DELIVER, (uint32_t)dst, sn->index, sim->now, copy,
                 len);
}

static void io_reply(void *ctx, uint64_t conn, const uint8_t *frame,
                     size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    if (conn & SIM_PEER_CONN) {
        sim->stats.stray_replies++;
        return;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, frame, len);
    sim_schedule(sim, sim->now, EV_REPLY, sn->index, sn->index, conn, copy,
                 len);
}

static void io_log(void *ctx, int level, const char *line)
{
    static const char *const names[] = {"ERROR ", "WARN ", "INFO ", "DEBUG "};
    struct sim_node *sn = ctx;
    const char *lv = level >= 0 && level <= CHORD_LOG_DEBUG ? names[level] : "";
    sim_logf(sn->sim, sn->self.addr, lv, line);
}

static struct sim_request *req_find(struct chord_sim *sim, uint64_t conn)
{
    if (conn & SIM_PEER_CONN)
        return NULL;
    uint32_t slot = (uint32_t)conn;
    if (slot >= sim->reqs_len)
        return NULL;
    struct sim_request *r = &sim->reqs[slot];
    if (!r->used || r->gen != (uint32_t)(conn >> 32))
        return NULL;
    return r;
}

/* Free request `r` and hand `reply` to its callback. */
static void req_complete(struct chord_sim *sim, struct sim_request *r,
                         struct chord_sim_reply *reply)
{
    chord_sim_reply_fn cb = r->cb;
    void *arg = r->arg;
    reply->sent_ms = r->sent_ms;
    reply->done_ms = sim->now;
    uint32_t slot = (uint32_t)(r - sim->reqs);
    r->used = false;
    r->cb = NULL;
    r->next_free = sim->free_head;
    sim->free_head = slot;
    sim->in_callback++;
    cb(arg, reply); /* may queue requests: r may move */
    sim->in_callback--;
}

static void req_fail(struct chord_sim *sim, struct sim_request *r, int err)
{
    struct chord_sim_reply *reply = calloc(1, sizeof *reply);
    if (!reply) {
        /* Nothing sensible is left: still free the slot. The callback
         * gets a minimal reply on the stack instead. */
        struct chord_sim_reply small;
        memset(&small, 0, sizeof small);
        small.err = err;
        req_complete(sim, r, &small);
        return;
    }
    reply->err = err;
    req_complete(sim, r, reply);
    free(reply);
}

/* Take node sn down: free it, invalidate its tick, and queue a RESET for
 * each client request it still had. */
static void node_stop(struct chord_sim *sim, struct sim_node *sn)
{
    if (!sn->node)
        return;
    sn->last_state = (int)chord_node_state(sn->node);
    sim->members_gen++;
    chord_node_free(sn->node);
    sn->node = NULL;
    sn->tick_gen++;
    sn->tick_at = SIM_TIME_NONE;
    for (uint32_t s = 0; s < sim->reqs_len; s++) {
        struct sim_request *r = &sim->reqs[s];
        if (r->used && r->node == sn->index)
            sim_schedule(sim, sim->now, EV_RESET, sn->index, sn->index,
                         (uint64_t)r->gen << 32 | s, NULL, 0);
    }
}

/* After node sn handled an event: stop it if it is done, else make sure a
 * tick is queued for its next deadline. */
static void node_after_event(struct chord_sim *sim, struct sim_node *sn,
                             bool was_tick)
{
    if (!sn->node)
        return;
    int st = (int)chord_node_state(sn->node);
    if (st != sn->last_state)
        sim->members_gen++;
    sn->last_state = st;
    if (st == CHORD_NODE_LEFT || st == CHORD_NODE_FAILED) {
        sim_logf(sim, sn->self.addr, "stopped in state ",
                 chord_node_state_name(st));
        node_stop(sim, sn);
        return;
    }
    uint64_t d = chord_node_next_deadline(sn->node);
    if (d == SIM_TIME_NONE)
        return;
    if (d <= sim->now)
        d = was_tick ? sim->now + 1 : sim->now;
    if (sn->tick_at != SIM_TIME_NONE && sn->tick_at <= d)
        return; /* the live tick comes first and will reschedule */
    sn->tick_gen++;
    sn->tick_at = d;
    if (sim_schedule(sim, d, EV_TICK, sn->index, sn->index, sn->tick_gen,
                     NULL, 0) != 0)
        sn->tick_at = SIM_TIME_NONE;
}

/* ---- event processing --------------------------------------------------- */

/* Decode a node's reply for request r and complete it. */
static void sim_handle_reply(struct chord_sim *sim, struct sim_request *r,
                             uint64_t conn, const uint8_t *frame, size_t len)
{
    struct chord_msg *m = calloc(1, sizeof *m);
    struct chord_sim_reply *reply = calloc(1, sizeof *reply);
    if (!m || !reply) {
        free(m);
        free(reply);
        req_fail(sim, r, -ENOMEM);
        return;
    }
    uint8_t want = r->op == CHORD_SIM_LOOKUP ? CHORD_MSG_C_LOOKUP_RESULT
                                             : CHORD_MSG_C_RESULT;
    ssize_t n = chord_msg_decode(frame, len, m);
    if (n != (ssize_t)len || m->type != want || m->req_id != conn) {
        sim->stats.proto_errors++;
        reply->err = -EPROTO;
    } else {
        reply->status = m->status;
        memcpy(reply->error, m->error, sizeof reply->error);
        reply->error[sizeof reply->error - 1] = '\0';
        if (r->op == CHORD_SIM_GET && m->status == CHORD_OK) {
            reply->has_value = true;
            reply->value = m->value.data;
            reply->value_len = m->value.len;
        }
        if (r->op == CHORD_SIM_LOOKUP)
            reply->lookup = m->lookup;
    }
    req_complete(sim, r, reply); /* the value borrows from `frame` */
    free(reply);
    free(m);
}

static void sim_digest(struct chord_sim *sim, const struct sim_event *ev)
{
    uint64_t h = sim->stats.digest ? sim->stats.digest : FNV_OFFSET;
    h = digest_u64(h, ev->time);
    h = digest_u64(h, (uint64_t)ev->kind << 56 ^ (uint64_t)ev->dst << 24 ^
                       ev->src);
    /* A DELIVER's aux is its send time, which the other fields and the
     * earlier events already fix; it was 0 before the trace hook. */
    h = digest_u64(h, ev->kind == EV_DELIVER ? 0 : ev->aux);
    h = digest_u64(h, ev->len);
    if (ev->data)
        h = digest_bytes(h, ev->data, ev->len);
    sim->stats.digest = h;
}

/* Pop and handle the earliest event. The heap must not be empty. */
static void sim_step(struct chord_sim *sim)
{
    struct sim_event ev;
    heap_pop(sim, &ev);
    if (ev.time > sim->now)
        sim->now = ev.time;
    sim->stats.events++;
    sim_digest(sim, &ev);

    struct sim_node *sn = ev.kind == EV_DELIVER || ev.kind == EV_UNREACH ||
                                  ev.kind == EV_TICK || ev.kind == EV_CLIENT
                              ? sim->nodes[ev.dst]
                              : NULL;
    switch (ev.kind) {
    case EV_DELIVER:
        if (sim->nodes[ev.src]->group != sn->group) {
            sim->stats.partitioned++; /* cut while in flight */
            break;
        }
        if (!sn->node) {
            /* The connection breaks: the sender's host notices. */
            struct sim_node *from = sim->nodes[ev.src];
            if (from->node) {
                uint32_t lo, hi;
                link_delay(sim, ev.dst, ev.src, &lo, &hi);
                sim_unreach(sim, ev.src, ev.dst, sn->self.addr, lo);
            }
            break;
        }
        sim->stats.delivered++;
        if (sim->trace) {
            sim->in_callback++;
            sim->trace(sim->trace_arg, (int)ev.src, (int)ev.dst, ev.aux,
                       sim->now, ev.len);
            sim->in_callback--;
        }
        if (chord_node_receive(sn->node, sim->now, SIM_PEER_CONN | ev.src,
                               ev.data, ev.len) < 0) {
            sim->stats.proto_errors++;
            sim_logf(sim, sn->self.addr, "refused a frame from ",
                     sim->nodes[ev.src]->self.addr);
        }
        node_after_event(sim, sn, false);
        break;
    case EV_UNREACH:
        if (sn->node) {
            chord_node_unreachable(sn->node, sim->now, (const char *)ev.data);
            node_after_event(sim, sn, false);
        }
        break;
    case EV_TICK:
        if (sn->node && ev.aux == sn->tick_gen) {
            sn->tick_at = SIM_TIME_NONE;
            chord_node_tick(sn->node, sim->now);
            node_after_event(sim, sn, true);
        }
        break;
    case EV_CLIENT: {
        struct sim_request *r = req_find(sim, ev.aux);
        if (!r)
            break;
        if (!sn->node) {
            req_fail(sim, r, -ECONNRESET);
            break;
        }
        if (chord_node_receive(sn->node, sim->now, ev.aux, ev.data, ev.len) <
            0) {
            sim->stats.proto_errors++;
            req_fail(sim, r, -EPROTO);
        }
        node_after_event(sim, sn, false);
        break;
    }
    case EV_REPLY: {
        struct sim_request *r = req_find(sim, ev.aux);
        if (!r)
            sim->stats.stray_replies++;
        else
            sim_handle_reply(sim, r, ev.aux, ev.data, ev.len);
        break;
    }
    case EV_TIMEOUT:
    case EV_RESET: {
        struct sim_request *r = req_find(sim, ev.aux);
        if (r)
            req_fail(sim, r, ev.kind == EV_TIMEOUT ? -ETIMEDOUT : -ECONNRESET);
        break;
    }
    case EV_DISK:
        sim_disk_event(sim, &ev);
        break;
    default:
        break;
    }
    free(ev.data);
}

/* ---- public API --------------------------------------------------------- */

void chord_sim_config_default(struct chord_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->min_delay_ms = 1;
    cfg->max_delay_ms = 5;
    cfg->loss = 0.0;
    cfg->client_timeout_ms = 10000;
    cfg->log_stderr = false;
    cfg->log_level = CHORD_LOG_INFO;
}

int chord_sim_new(const struct chord_sim_config *cfg, struct chord_sim **out)
{
    *out = NULL;
    if (cfg->min_delay_ms == 0 || cfg->max_delay_ms < cfg->min_delay_ms ||
        !(cfg->loss >= 0.0 && cfg->loss < 1.0) || cfg->client_timeout_ms == 0)
        return -EINVAL;
    struct chord_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return -ENOMEM;
    sim->cfg = *cfg;
    sim->rng = cfg->seed;
    sim->lat_model = LAT_UNIFORM;
    sim->lat_min = cfg->min_delay_ms;
    sim->lat_max = cfg->max_delay_ms;
    sim->geo_seed = mix64(cfg->seed ^ GEO_SALT);
    sim->free_head = SIM_NO_SLOT;
    sim->members = calloc(1, sizeof *sim->members);
    if (!sim->members) {
        free(sim);
        return -ENOMEM;
    }
    *out = sim;
    return 0;
}

void chord_sim_free(struct chord_sim *sim)
{
    if (!sim)
        return;
    for (uint32_t i = 0; i < sim->n_nodes; i++) {
        if (sim->nodes[i]->node)
            chord_node_free(sim->nodes[i]->node);
        free(sim->nodes[i]);
    }
    for (size_t i = 0; i < sim->heap_len; i++)
        free(sim->heap[i].data);
    sim_durable_free_all(sim);
    free(sim->nodes);
    free(sim->addr_map);
    free(sim->heap);
    free(sim->links);
    free(sim->reqs);
    free(sim->matrix);
    if (sim->members)
        free(sim->members->v);
    free(sim->members);
    free(sim);
}

int chord_sim_add_node(struct chord_sim *sim,
                       const struct chord_node_config *cfg,
                       const struct chord_id *explicit_id)
{
    if (sim->n_nodes >= CHORD_SIM_NODES_MAX)
        return -ENOSPC;
    if (sim->n_nodes == sim->cap_nodes) {
        uint32_t cap = sim->cap_nodes ? sim->cap_nodes * 2 : 64;
        struct sim_node **v = realloc(sim->nodes, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        sim->nodes = v;
        sim->cap_nodes = cap;
    }
    struct sim_node *sn = calloc(1, sizeof *sn);
    if (!sn)
        return -ENOMEM;
    uint32_t idx = sim->n_nodes;
    sn->sim = sim;
    sn->index = idx;
    sn->host = SIM_HOST_AUTO;
    sn->group = 0;
    sn->tick_at = SIM_TIME_NONE;
    sn->last_state = CHORD_NODE_INIT;
    char addr[CHORD_ADDR_MAX];
    snprintf(addr, sizeof addr, "127.0.0.%u:%u", 1 + idx / SIM_PORTS_PER_HOST,
             SIM_PORT_BASE + idx % SIM_PORTS_PER_HOST);
    int rc = chord_peer_from_addr(&sn->self, addr);
    if (rc) {
        free(sn);
        return rc;
    }
    if (explicit_id)
        sn->self.id = *explicit_id;

    struct chord_node_config c;
    if (cfg) {
        c = *cfg;
    } else {
        chord_node_config_default(&c);
        c.seed = sim_rand(sim);
        c.log_level = sim->cfg.log_level;
    }
    c.self = sn->self;
    sn->pns = c.pns;
    struct chord_node_io io = {
        .ctx = sn,
        .send = io_send,
        .reply = io_reply,
        .log = sim->cfg.log_stderr ? io_log : NULL,
    };
    rc = chord_node_new(&c, &io, sim->now, &sn->node);
    if (rc) {
        free(sn);
        return rc;
    }
    sim->nodes[idx] = sn;
    sim->n_nodes++;
    rc = addr_map_add(sim, idx);
    if (rc) {
        sim->n_nodes--;
        chord_node_free(sn->node);
        free(sn);
        return rc;
    }
    node_after_event(sim, sn, false);
    return (int)idx;
}

/* Node i if the index is valid, else NULL. */
static struct sim_node *sim_at(const struct chord_sim *sim, int i)
{
    if (i < 0 || (uint32_t)i >= sim->n_nodes)
        return NULL;
    return sim->nodes[i];
}

/* Shared checks of the lifecycle calls: 0, -EINVAL or -EHOSTDOWN. */
static int sim_live(const struct chord_sim *sim, int i, struct sim_node **out)
{
    struct sim_node *sn = sim_at(sim, i);
    if (!sn)
        return -EINVAL;
    if (!sn->node)
        return -EHOSTDOWN;
    *out = sn;
    return 0;
}

int chord_sim_create(struct chord_sim *sim, int i)
{
    struct sim_node *sn;
    int rc = sim_live(sim, i, &sn);
    if (rc)
        return rc;
    chord_node_create(sn->node, sim->now);
    node_after_event(sim, sn, false);
    return 0;
}

int chord_sim_join(struct chord_sim *sim, int i, int seed_index)
{
    struct sim_node *sn;
    struct sim_node *seed = sim_at(sim, seed_index);
    int rc = sim_live(sim, i, &sn);
    if (rc)
        return rc;
    if (!seed)
        return -EINVAL;
    rc = chord_node_join(sn->node, sim->now, seed->self.addr);
    node_after_event(sim, sn, false);
    return rc;
}

int chord_sim_leave(struct chord_sim *sim, int i)
{
    struct sim_node *sn;
    int rc = sim_live(sim, i, &sn);
    if (rc)
        return rc;
    chord_node_leave(sn->node, sim->now);
    node_after_event(sim, sn, false);
    return 0;
}

int chord_sim_crash(struct chord_sim *sim, int i)
{
    struct sim_node *sn;
    int rc = sim_live(sim, i, &sn);
    if (rc)
        return rc;
    sim_logf(sim, sn->self.addr, "crashed", "");
    node_stop(sim, sn);
    return 0;
}

void chord_sim_run_until(struct chord_sim *sim, uint64_t t)
{
    if (sim->in_callback)
        return;
    while (sim->heap_len > 0 && sim->heap[0].time <= t)
        sim_step(sim);
    if (t > sim->now)
        sim->now = t;
}

uint64_t chord_sim_run_events(struct chord_sim *sim, uint64_t t,
                              uint64_t max_events)
{
    if (sim->in_callback)
        return 0;
    uint64_t done = 0;
    while (done < max_events && sim->heap_len > 0 && sim->heap[0].time <= t) {
        sim_step(sim);
        done++;
    }
    if (!(sim->heap_len > 0 && sim->heap[0].time <= t) && t > sim->now)
        sim->now = t;
    return done;
}

int chord_sim_set_loss(struct chord_sim *sim, double loss)
{
    if (!(loss >= 0.0 && loss < 1.0))
        return -EINVAL;
    sim->cfg.loss = loss;
    return 0;
}

/* ---- network models ----------------------------------------------------- */

int chord_sim_set_latency_uniform(struct chord_sim *sim, uint32_t min_ms,
                                  uint32_t max_ms)
{
    if (min_ms == 0 || max_ms < min_ms)
        return -EINVAL;
    matrix_clear(sim);
    sim->lat_model = LAT_UNIFORM;
    sim->cfg.min_delay_ms = min_ms;
    sim->cfg.max_delay_ms = max_ms;
    sim->lat_min = min_ms;
    sim->lat_max = max_ms;
    return 0;
}

int chord_sim_set_latency_matrix(struct chord_sim *sim, const uint32_t *ms,
                                 unsigned m)
{
    if (!ms || m == 0 || m > CHORD_SIM_HOSTS_MAX)
        return -EINVAL;
    size_t cells = (size_t)m * m;
    for (size_t k = 0; k < cells; k++)
        if (ms[k] > CHORD_SIM_DELAY_MAX_MS)
            return -EINVAL;
    uint32_t *copy = malloc(cells * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t k = 0; k < cells; k++) {
        copy[k] = ms[k] ? ms[k] : 1;
        lo = copy[k] < lo ? copy[k] : lo;
        hi = copy[k] > hi ? copy[k] : hi;
    }
    matrix_clear(sim);
    sim->matrix = copy;
    sim->matrix_m = m;
    sim->lat_model = LAT_MATRIX;
    sim->lat_min = lo;
    sim->lat_max = hi;
    return 0;
}

int chord_sim_set_host(struct chord_sim *sim, int i, unsigned host)
{
    struct sim_node *sn = sim_at(sim, i);
    if (!sn || sim->lat_model != LAT_MATRIX || host >= sim->matrix_m)
        return -EINVAL;
    sn->host = host;
    return 0;
}

int chord_sim_set_latency_geo(struct chord_sim *sim, unsigned clusters)
{
    if (clusters == 0 || clusters > CHORD_SIM_GEO_CLUSTERS_MAX)
        return -EINVAL;
    matrix_clear(sim);
    sim->lat_model = LAT_GEO;
    sim->geo_clusters = clusters;
    sim->lat_min = CHORD_SIM_GEO_BASE_MS;
    sim->lat_max =
        clusters == 1 ? CHORD_SIM_GEO_INTRA_MAX_MS : CHORD_SIM_GEO_INTER_MAX_MS;
    return 0;
}

int chord_sim_link_delay(const struct chord_sim *sim, int from, int to,
                         uint32_t *lo, uint32_t *hi)
{
    if (!sim_at(sim, from) || !sim_at(sim, to))
        return -EINVAL;
    link_delay(sim, (uint32_t)from, (uint32_t)to, lo, hi);
    return 0;
}

int chord_sim_set_group(struct chord_sim *sim, int i, unsigned group)
{
    struct sim_node *sn = sim_at(sim, i);
    if (!sn || group > UINT8_MAX)
        return -EINVAL;
    sn->group = (uint8_t)group;
    return 0;
}

int chord_sim_group(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    return sn ? sn->group : -EINVAL;
}

int chord_sim_partition(struct chord_sim *sim, const uint8_t *group_of_index,
                        size_t n)
{
    if (n > sim->n_nodes || (n > 0 && !group_of_index))
        return -EINVAL;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->group = i < n ? group_of_index[i] : 0;
    return 0;
}

void chord_sim_heal(struct chord_sim *sim)
{
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->group = 0;
}

void chord_sim_set_trace(struct chord_sim *sim, chord_sim_trace_fn fn,
                         void *arg)
{
    sim->trace = fn;
    sim->trace_arg = fn ? arg : NULL;
}

void chord_sim_run_for(struct chord_sim *sim, uint64_t ms)
{
    chord_sim_run_until(sim, ms > SIM_TIME_NONE - sim->now ? SIM_TIME_NONE
                                                           : sim->now + ms);
}

uint64_t chord_sim_now(const struct chord_sim *sim) { return sim->now; }

int chord_sim_count(const struct chord_sim *sim) { return (int)sim->n_nodes; }

bool chord_sim_is_up(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    return sn && sn->node;
}

struct chord_node *chord_sim_node(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    return sn ? sn->node : NULL;
}

const struct chord_peer *chord_sim_peer(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    return sn ? &sn->self : NULL;
}

int chord_sim_state(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    if (!sn)
        return -EINVAL;
    return sn->node ? (int)chord_node_state(sn->node) : sn->last_state;
}

int chord_sim_find(const struct chord_sim *sim, const char *addr)
{
    return addr_map_find(sim, addr);
}

void chord_sim_stats(const struct chord_sim *sim, struct chord_sim_stats *out)
{
    *out = sim->stats;
}

/* ---- ring oracle -------------------------------------------------------- */

static int member_cmp(const void *a, const void *b)
{
    const struct sim_member *x = a, *y = b;
    int c = chord_id_cmp(&x->id, &y->id);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * The up ACTIVE nodes sorted by id (*n of them), borrowed from the cache:
 * valid until the next state change. The sort is redone only when the
 * membership generation moved, so oracle queries between two changes
 * cost a binary search, not O(N log N). NULL with *n == 0 when there are
 * none; NULL with *n == SIZE_MAX when out of memory.
 */
static const struct sim_member *sim_members(const struct chord_sim *sim,
                                            size_t *n)
{
    struct sim_members *c = sim->members;
    if (!c->valid || c->gen != sim->members_gen) {
        c->valid = false;
        c->n = 0;
        if (c->cap < sim->n_nodes) {
            size_t cap = sim->n_nodes;
            struct sim_member *v = realloc(c->v, cap * sizeof *v);
            if (!v) {
                *n = SIZE_MAX;
                return NULL;
            }
            c->v = v;
            c->cap = cap;
        }
        for (uint32_t i = 0; i < sim->n_nodes; i++)
            if (sim->nodes[i]->node &&
                chord_node_state(sim->nodes[i]->node) == CHORD_NODE_ACTIVE) {
                c->v[c->n].id = sim->nodes[i]->self.id;
                c->v[c->n].idx = i;
                c->n++;
            }
        if (c->n > 1)
            qsort(c->v, c->n, sizeof *c->v, member_cmp);
        c->gen = sim->members_gen;
        c->valid = true;
    }
    *n = c->n;
    return c->n ? c->v : NULL;
}

/* Position in v[0..n) of the first member with id >= key, wrapping to 0. */
static size_t member_successor(const struct sim_member *v, size_t n,
                               const struct chord_id *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (chord_id_cmp(&v[mid].id, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == n ? 0 : lo;
}

int chord_sim_owner(const struct chord_sim *sim, const struct chord_id *key)
{
    size_t n;
    const struct sim_member *v = sim_members(sim, &n);
    if (!v)
        return -1;
    return (int)v[member_successor(v, n, key)].idx;
}

static bool peer_is(const struct chord_peer *p, const struct sim_node *sn)
{
    return chord_id_eq(&p->id, &sn->self.id) &&
           strcmp(p->addr, sn->self.addr) == 0;
}

/* Count one wrong entry; describe it if it is the first. */
static void ring_wrong(int *wrong, char *err, size_t errlen,
                       const struct sim_node *sn, const char *what,
                       const char *found, const char *expected)
{
    if (*wrong == 0 && errlen > 0)
        snprintf(err, errlen, "node %" PRIu32 " (%s): %s is %s, expected %s",
                 sn->index, sn->self.addr, what, found, expected);
    (*wrong)++;
}

/* With proximity routing, finger i may be any member of its interval
 * [start(i), start(i+1)) (start(160) being the node itself). */
static bool pns_finger_ok(const struct chord_sim *sim,
                          const struct sim_node *sn, unsigned i,
                          const struct chord_id *start,
                          const struct chord_finger *f)
{
    int j = chord_sim_find(sim, f->node.addr);
    if (j < 0 || !sim->nodes[j]->node ||
        chord_node_state(sim->nodes[j]->node) != CHORD_NODE_ACTIVE ||
        !peer_is(&f->node, sim->nodes[j]))
        return false;
    struct chord_id end = sn->self.id;
    if (i + 1 < CHORD_ID_BITS)
        chord_id_add_pow2(&end, &sn->self.id, i + 1);
    return chord_id_eq(&f->node.id, start) ||
           chord_id_in_oo(&f->node.id, start, &end);
}

/* The checks of chord_sim_check_ring; fingers only when `fingers`. */
static int check_ring(const struct chord_sim *sim, bool fingers, char *err,
                      size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    size_t n;
    const struct sim_member *v = sim_members(sim, &n);
    if (!v)
        return n == SIZE_MAX ? -ENOMEM : 0;
    int wrong = 0;
    char what[48];
    for (size_t k = 0; k < n; k++) {
        const struct sim_node *sn = sim->nodes[v[k].idx];
        const struct chord_routing *rt = chord_node_routing(sn->node);

        /* Successor list: the next min(r, N-1) members, in order. */
        size_t want = rt->r < n - 1 ? rt->r : n - 1;
        size_t have = rt->n_succ;
        for (size_t j = 0; j < (want > have ? want : have); j++) {
            snprintf(what, sizeof what, "successor[%zu]", j);
            const struct sim_node *exp =
                j < want ? sim->nodes[v[(k + 1 + j) % n].idx] : NULL;
            if (j >= have)
                ring_wrong(&wrong, err, errlen, sn, what, "missing",
                           exp->self.addr);
            else if (!exp)
                ring_wrong(&wrong, err, errlen, sn, what, rt->succ[j].addr,
                           "nothing (list too long)");
            else if (!peer_is(&rt->succ[j], exp))
                ring_wrong(&wrong, err, errlen, sn, what, rt->succ[j].addr,
                           exp->self.addr);
        }

        /* Predecessor: the previous member. */
        const struct sim_node *prev = sim->nodes[v[(k + n - 1) % n].idx];
        if (n == 1) {
            if (rt->has_pred && !peer_is(&rt->pred, sn))
                ring_wrong(&wrong, err, errlen, sn, "predecessor",
                           rt->pred.addr, "none or itself");
        } else if (!rt->has_pred) {
            ring_wrong(&wrong, err, errlen, sn, "predecessor", "none",
                       prev->self.addr);
        } else if (!peer_is(&rt->pred, prev)) {
            ring_wrong(&wrong, err, errlen, sn, "predecessor", rt->pred.addr,
                       prev->self.addr);
        }

        /* Fingers: finger i is the member that succeeds self + 2^i. */
        for (unsigned i = 0; fingers && i < CHORD_ID_BITS; i++) {
            struct chord_id start;
            chord_id_add_pow2(&start, &sn->self.id, i);
            const struct sim_node *exp =
                sim->nodes[v[member_successor(v, n, &start)].idx];
            const struct chord_finger *f = &rt->finger[i];
            if (exp == sn && (!f->set || peer_is(&f->node, sn)))
                continue;
            if (f->set && peer_is(&f->node, exp))
                continue;
            if (sn->pns && f->set && pns_finger_ok(sim, sn, i, &start, f))
                continue;
            snprintf(what, sizeof what, "finger[%u]", i);
            ring_wrong(&wrong, err, errlen, sn, what,
                       f->set ? f->node.addr : "unset", exp->self.addr);
        }
    }
    return wrong;
}

int chord_sim_check_ring(const struct chord_sim *sim, char *err, size_t errlen)
{
    return check_ring(sim, true, err, errlen);
}

int chord_sim_check_successors(const struct chord_sim *sim, char *err,
                               size_t errlen)
{
    return check_ring(sim, false, err, errlen);
}

/* A member in the sense of the invariant: up and ACTIVE or LEAVING. */
static bool is_member(const struct sim_node *sn)
{
    if (!sn->node)
        return false;
    enum chord_node_state st = chord_node_state(sn->node);
    return st == CHORD_NODE_ACTIVE || st == CHORD_NODE_LEAVING;
}

int chord_sim_check_invariant(const struct chord_sim *sim, char *err,
                              size_t errlen, unsigned *members)
{
    if (errlen > 0)
        err[0] = '\0';
    unsigned count = 0;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        if (is_member(sim->nodes[i]))
            count++;
    if (members)
        *members = count;
    int bad = 0;
    for (uint32_t i = 0; i < sim->n_nodes && count > 1; i++) {
        const struct sim_node *sn = sim->nodes[i];
        if (!is_member(sn))
            continue;
        const struct chord_routing *rt = chord_node_routing(sn->node);
        bool live = false;
        for (unsigned j = 0; j < rt->n_succ && !live; j++) {
            int k = addr_map_find(sim, rt->succ[j].addr);
            live = k >= 0 && sim->nodes[k]->node != NULL;
        }
        if (live)
            continue;
        if (bad == 0 && errlen > 0) {
            if (rt->n_succ == 0)
                snprintf(err, errlen,
                         "node %" PRIu32 " (%s) has no successor although "
                         "the ring has %u members",
                         sn->index, sn->self.addr, count);
            else
                snprintf(err, errlen,
                         "node %" PRIu32 " (%s): all %u successor entries "
                         "are down (first %s)",
                         sn->index, sn->self.addr, rt->n_succ,
                         rt->succ[0].addr);
        }
        bad++;
    }
    return bad;
}

/* ---- client operations -------------------------------------------------- */

int chord_sim_request(struct chord_sim *sim, int i, enum chord_sim_op op,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, chord_sim_reply_fn cb, void *arg)
{
    static const uint8_t types[] = {
        [CHORD_SIM_PUT] = CHORD_MSG_C_PUT,
        [CHORD_SIM_GET] = CHORD_MSG_C_GET,
        [CHORD_SIM_DEL] = CHORD_MSG_C_DEL,
        [CHORD_SIM_LOOKUP] = CHORD_MSG_C_LOOKUP,
    };
    struct sim_node *sn;
    int rc = sim_live(sim, i, &sn);
    if (rc)
        return rc;
    if (!cb || (unsigned)op > CHORD_SIM_LOOKUP)
        return -EINVAL;
    if (key_len > CHORD_KEY_MAX ||
        (op == CHORD_SIM_PUT && value_len > CHORD_VALUE_MAX))
        return -EMSGSIZE;

    /* A slot: from the free list, else a new one. */
    uint32_t slot = sim->free_head;
    if (slot == SIM_NO_SLOT) {
        if (sim->reqs_len >= CHORD_SIM_REQUESTS_MAX)
            return -EBUSY;
        if (sim->reqs_len == sim->reqs_cap) {
            uint32_t cap = sim->reqs_cap ? sim->reqs_cap * 2 : 64;
            struct sim_request *v = realloc(sim->reqs, cap * sizeof *v);
            if (!v)
                return -ENOMEM;
            sim->reqs = v;
            sim->reqs_cap = cap;
        }
        slot = sim->reqs_len;
        memset(&sim->reqs[slot], 0, sizeof sim->reqs[slot]);
        sim->reqs_len++;
    } else {
        sim->free_head = sim->reqs[slot].next_free;
    }
    struct sim_request *r = &sim->reqs[slot];
    r->gen = r->gen % SIM_REQ_GEN_MAX + 1;
    uint64_t conn = (uint64_t)r->gen << 32 | slot;

    struct chord_msg *m = calloc(1, sizeof *m);
    struct chord_buf buf;
    chord_buf_init(&buf);
    rc = -ENOMEM;
    if (m) {
        chord_msg_init(m, types[op], conn);
        m->key.data = key;
        m->key.len = key_len;
        if (op == CHORD_SIM_PUT) {
            m->value.data = value;
            m->value.len = value_len;
        }
        rc = chord_msg_encode(m, &buf);
        free(m);
    }
    if (rc == 0)
        rc = sim_schedule(sim, sim->now + sim->cfg.client_timeout_ms,
                          EV_TIMEOUT, sn->index, sn->index, conn, NULL, 0);
    if (rc == 0) {
        rc = sim_schedule(sim, sim->now, EV_CLIENT, sn->index, sn->index,
                          conn, buf.data, buf.len);
        buf.data = NULL; /* taken, even on error */
        /* On error the TIMEOUT event left behind is stale: the slot's
         * generation changes before the slot is used again. */
    }
    chord_buf_free(&buf);
    if (rc) {
        r->next_free = sim->free_head;
        sim->free_head = slot;
        return rc == -ENOSPC ? -ENOMEM : rc;
    }
    r->used = true;
    r->op = (uint8_t)op;
    r->node = sn->index;
    r->cb = cb;
    r->arg = arg;
    r->sent_ms = sim->now;
    return 0;
}

/* State of one blocking call. */
struct sim_wait {
    bool done;
    int rc; /* status (>= 0) or negative errno */
    bool want_value;
    uint8_t *value;
    size_t value_len;
    struct chord_lookup_result *lookup; /* where to copy a lookup, or NULL */
};

static void sim_wait_cb(void *arg, const struct chord_sim_reply *r)
{
    struct sim_wait *w = arg;
    w->done = true;
    w->rc = r->err ? r->err : r->status;
    if (r->err)
        return;
    if (w->want_value && r->has_value) {
        w->value = malloc(r->value_len ? r->value_len : 1);
        if (!w->value) {
            w->rc = -ENOMEM;
            return;
        }
        if (r->value_len)
            memcpy(w->value, r->value, r->value_len);
        w->value_len = r->value_len;
    }
    if (w->lookup && r->status == CHORD_OK)
        *w->lookup = r->lookup;
}

/* Send a request and run the simulation until it completes. Its TIMEOUT
 * event is queued, so the loop always ends. */
static int sim_wait_op(struct chord_sim *sim, int i, enum chord_sim_op op,
                       const void *key, size_t key_len, const void *value,
                       size_t value_len, struct sim_wait *w)
{
    if (sim->in_callback)
        return -EBUSY;
    int rc = chord_sim_request(sim, i, op, key, key_len, value, value_len,
                               sim_wait_cb, w);
    if (rc)
        return rc;
    while (!w->done && sim->heap_len > 0)
        sim_step(sim);
    return w->done ? w->rc : -ETIMEDOUT;
}

int chord_sim_put(struct chord_sim *sim, int i, const void *key,
                  size_t key_len, const void *value, size_t value_len)
{
    struct sim_wait w = {0};
    return sim_wait_op(sim, i, CHORD_SIM_PUT, key, key_len, value, value_len,
                       &w);
}

int chord_sim_get(struct chord_sim *sim, int i, const void *key,
                  size_t key_len, uint8_t **value, size_t *value_len)
{
    struct sim_wait w = {0};
    w.want_value = true;
    int rc = sim_wait_op(sim, i, CHORD_SIM_GET, key, key_len, NULL, 0, &w);
    if (rc != CHORD_OK || !w.value) {
        free(w.value);
        *value = NULL;
        *value_len = 0;
        return rc == CHORD_OK ? -EPROTO : rc;
    }
    *value = w.value;
    *value_len = w.value_len;
    return rc;
}

int chord_sim_del(struct chord_sim *sim, int i, const void *key,
                  size_t key_len)
{
    struct sim_wait w = {0};
    return sim_wait_op(sim, i, CHORD_SIM_DEL, key, key_len, NULL, 0, &w);
}

int chord_sim_lookup(struct chord_sim *sim, int i, const void *key,
                     size_t key_len, struct chord_lookup_result *out)
{
    struct sim_wait w = {0};
    w.lookup = out;
    return sim_wait_op(sim, i, CHORD_SIM_LOOKUP, key, key_len, NULL, 0, &w);
}

/* ---- durable nodes: a write-ahead log on a simulated disk ---------------
 *
 * A node added with chord_sim_add_durable_node() logs every change to its
 * own in-memory disk (io/disk.h) through the same write-ahead log as dhtd
 * (io/wal.h). Group commit is simulated with EV_DISK events: the first
 * append after a sync queues one, due SIM_FSYNC_MS later in mode always,
 * fsync_ms later in batch, at once in never; it syncs the log (instantly,
 * in simulated time) and reports the synced seq to the node, which then
 * sends the acknowledgements that waited. chord_sim_crash() leaves the
 * disk as it is; chord_sim_restart() first makes it lose power (unsynced
 * bytes and name changes lost or torn, drawn from the simulator's PRNG),
 * then recovers the log into a new node in state INIT. An EV_DISK carries
 * the disk's generation, so one queued before a restart is ignored.
 */

#define SIM_FSYNC_MS 1u /* simulated fsync latency in mode always */

struct sim_durable {
    struct chord_disk disk;
    struct chord_wal *wal; /* NULL when the log could not be opened */
    struct chord_sim_durability opt;
    struct chord_node_config cfg; /* to make the node again at restart */
    uint64_t gen;                 /* bumped at every restart */
    bool sync_queued;             /* an EV_DISK of this gen is queued */
    uint64_t recovered;           /* records recovered at the last start */
};

static struct sim_durable *sim_dur(const struct chord_sim *sim, uint32_t i)
{
    return i < sim->dur_cap && sim->dur ? sim->dur[i] : NULL;
}

/* The node logs a change: append it and make sure a sync is queued. */
static uint64_t sim_io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    struct sim_durable *sd = sim_dur(sim, sn->index);
    uint64_t seq = 0;
    if (!sd || !sd->wal || chord_wal_append(sd->wal, rec, len, &seq) != 0)
        return 0;
    if (!sd->sync_queued) {
        uint64_t delay = 0; /* never: reported at once */
        if (sd->opt.mode == CHORD_DURABILITY_ALWAYS)
            delay = SIM_FSYNC_MS;
        else if (sd->opt.mode == CHORD_DURABILITY_BATCH)
            delay = sd->opt.fsync_ms;
        if (sim_schedule(sim, sim->now + delay, EV_DISK, sn->index, sn->index,
                         sd->gen, NULL, 0) == 0)
            sd->sync_queued = true;
    }
    return seq;
}

static void sim_disk_event(struct chord_sim *sim, const struct sim_event *ev)
{
    struct sim_node *sn = sim->nodes[ev->dst];
    struct sim_durable *sd = sim_dur(sim, ev->dst);
    if (!sd || ev->aux != sd->gen)
        return;
    sd->sync_queued = false;
    if (!sn->node || !sd->wal)
        return;
    uint64_t seq = chord_wal_last_seq(sd->wal);
    if (sd->opt.mode != CHORD_DURABILITY_NEVER) {
        if (chord_wal_sync(sd->wal) != 0) {
            /* dhtd would exit: so does the node. */
            sim_logf(sim, sn->self.addr, "stopped: ", "an fsync failed");
            node_stop(sim, sn);
            return;
        }
        seq = chord_wal_synced_seq(sd->wal);
    }
    chord_node_persisted(sn->node, sim->now, seq);
    if (sd->opt.checkpoint_bytes &&
        chord_wal_segment_bytes(sd->wal) >= sd->opt.checkpoint_bytes)
        chord_wal_checkpoint(sd->wal); /* a failure keeps the old files */
    node_after_event(sim, sn, false);
}

static int sim_restore(void *arg, uint64_t seq, const uint8_t *rec,
                       size_t len)
{
    (void)seq;
    return chord_node_restore(arg, rec, len);
}

/* Make node sn from sd->cfg on its disk: recover the log into it. */
static int sim_durable_start(struct chord_sim *sim, struct sim_node *sn,
                             struct sim_durable *sd)
{
    struct chord_node_io io = {
        .ctx = sn,
        .send = io_send,
        .reply = io_reply,
        .log = sim->cfg.log_stderr ? io_log : NULL,
        .persist = sim_io_persist,
    };
    struct chord_node *node;
    int rc = chord_node_new(&sd->cfg, &io, sim->now, &node);
    if (rc)
        return rc;
    struct chord_wal_options wo = {
        .fsync = sd->opt.mode != CHORD_DURABILITY_NEVER,
        .repair = false,
    };
    struct chord_wal_report rep;
    rc = chord_wal_open(&sd->disk, &wo, sim_restore, node, &rep, &sd->wal);
    if (rc) {
        sim_logf(sim, sn->self.addr, "cannot recover its log: ", rep.note);
        chord_node_free(node);
        return rc;
    }
    sd->recovered = rep.snapshot_records + rep.log_records;
    sn->node = node;
    sn->last_state = CHORD_NODE_INIT;
    sn->tick_gen++;
    sn->tick_at = SIM_TIME_NONE;
    sim->members_gen++;
    node_after_event(sim, sn, false);
    return 0;
}

static void sim_durable_free_all(struct chord_sim *sim)
{
    for (uint32_t i = 0; i < sim->dur_cap && sim->dur; i++) {
        struct sim_durable *sd = sim->dur[i];
        if (!sd)
            continue;
        chord_wal_close(sd->wal);
        chord_disk_mem_free(&sd->disk);
        free(sd);
    }
    free(sim->dur);
    sim->dur = NULL;
    sim->dur_cap = 0;
}

int chord_sim_add_durable_node(struct chord_sim *sim,
                               const struct chord_node_config *cfg,
                               const struct chord_id *explicit_id,
                               const struct chord_sim_durability *opt)
{
    if (!opt || opt->mode < CHORD_DURABILITY_ALWAYS ||
        opt->mode > CHORD_DURABILITY_NEVER)
        return -EINVAL;
    struct chord_node_config c;
    if (cfg) {
        c = *cfg;
    } else {
        chord_node_config_default(&c);
        c.seed = sim_rand(sim);
        c.log_level = sim->cfg.log_level;
    }
    c.durability = (uint8_t)opt->mode;
    int idx = chord_sim_add_node(sim, &c, explicit_id);
    if (idx < 0)
        return idx;
    struct sim_node *sn = sim->nodes[idx];
    c.self = sn->self;

    if ((uint32_t)idx >= sim->dur_cap) {
        uint32_t cap = sim->dur_cap ? sim->dur_cap : 64;
        while (cap <= (uint32_t)idx)
            cap *= 2;
        struct sim_durable **v = realloc(sim->dur, cap * sizeof *v);
        if (!v)
            goto fail;
        memset(v + sim->dur_cap, 0, (cap - sim->dur_cap) * sizeof *v);
        sim->dur = v;
        sim->dur_cap = cap;
    }
    struct sim_durable *sd = calloc(1, sizeof *sd);
    if (!sd)
        goto fail;
    if (chord_disk_mem_new(&sd->disk) != 0) {
        free(sd);
        goto fail;
    }
    sd->opt = *opt;
    sd->cfg = c;
    sim->dur[idx] = sd;

    /* Replace the memory-only node chord_sim_add_node made. */
    chord_node_free(sn->node);
    sn->node = NULL;
    int rc = sim_durable_start(sim, sn, sd);
    if (rc) {
        sn->last_state = CHORD_NODE_FAILED;
        return rc;
    }
    return idx;

fail:
    /* The node stays, memory-only and down: the index is used. */
    node_stop(sim, sn);
    return -ENOMEM;
}

int chord_sim_restart(struct chord_sim *sim, int i)
{
    struct sim_node *sn = sim_at(sim, i);
    struct sim_durable *sd = sn ? sim_dur(sim, (uint32_t)i) : NULL;
    if (!sd)
        return -EINVAL;
    if (sn->node)
        return -EBUSY;
    /* Power loss: what was not synced may be lost or torn. */
    chord_wal_close(sd->wal);
    sd->wal = NULL;
    uint64_t prng = sim_rand(sim) | 1;
    chord_disk_mem_crash(&sd->disk, &prng);
    sd->gen++;
    sd->sync_queued = false;
    sim_logf(sim, sn->self.addr, "restarted from its disk", "");
    return sim_durable_start(sim, sn, sd);
}

int64_t chord_sim_recovered(const struct chord_sim *sim, int i)
{
    struct sim_durable *sd = i >= 0 ? sim_dur(sim, (uint32_t)i) : NULL;
    return sd ? (int64_t)sd->recovered : -EINVAL;
}

int chord_sim_disk_fail(struct chord_sim *sim, int i, unsigned ops,
                        uint64_t after)
{
    struct sim_durable *sd = i >= 0 ? sim_dur(sim, (uint32_t)i) : NULL;
    if (!sd)
        return -EINVAL;
    chord_disk_mem_fail(&sd->disk, ops, after, -EIO);
    return 0;
}
