/*
 * sim.h - a deterministic network simulator that runs many protocol-core
 * nodes (struct chord_node) in one process.
 *
 * The simulator owns a virtual clock (milliseconds, starting at 0), an
 * event queue and a seeded PRNG. Nodes talk through simulated links with
 * a one-way delay from a latency model, an optional loss probability,
 * optional partitions, and TCP-like FIFO order per (sender, receiver)
 * link (a frame is never delivered before an earlier one on its link).
 * Nothing is ever opened: addresses are plain strings. The same config
 * (seed included) and the same sequence of calls give the same run, bit
 * for bit; chord_sim_stats().digest summarises a run so two can be
 * compared.
 *
 * Latency models (see "network models" below): uniform (the default:
 * each frame draws its delay from [min_delay_ms, max_delay_ms]; const
 * when the two are equal), a latency matrix between M hosts, or "geo", a
 * synthetic Internet of a few continents. Partitions put nodes into
 * groups; a frame between two groups is silently dropped.
 *
 * Node i listens at "127.0.0.1:<20000+i>" (for i >= 40000 the last octet
 * of the host grows: 127.0.0.<1+i/40000>:<20000+i%40000>), and its id is
 * SHA-1 of that address unless the caller gives an explicit id. Indexes
 * are never reused: a crashed or departed node keeps its index and is
 * simply "down".
 *
 * A node whose state becomes LEFT or FAILED is stopped by the simulator at
 * once, as the daemon exits then: it is freed and goes down, and
 * chord_sim_state() keeps reporting that final state.
 *
 * Client operations model a client on the same host as the node: the
 * request reaches the node at once (no latency, no loss) and the reply
 * comes back at once. The blocking helpers (chord_sim_put/get/del/lookup)
 * run the whole simulation until the reply arrives or the client timeout
 * passes; chord_sim_request() is the asynchronous form.
 *
 * Not thread-safe. Nothing here does real I/O or reads a real clock.
 */
#ifndef CHORD_SIM_H
#define CHORD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/node.h"
#include "chord/types.h"

/* Caps. */
#define CHORD_SIM_NODES_MAX (1u << 20)    /* nodes one simulator may add */
#define CHORD_SIM_EVENTS_MAX (1u << 24)   /* events queued at once */
#define CHORD_SIM_REQUESTS_MAX (1u << 16) /* client requests in flight */

struct chord_sim;

struct chord_sim_config {
    uint64_t seed;              /* PRNG seed: latencies, loss, node seeds (1) */
    uint32_t min_delay_ms;      /* one-way link latency of the uniform
                                   model, lower bound >= 1 (1) */
    uint32_t max_delay_ms;      /* upper bound >= min_delay_ms (5) */
    double loss;                /* probability in [0, 1) that a node-to-node
                                   message is silently lost (0) */
    uint32_t client_timeout_ms; /* a client request gives up after (10000) */
    bool log_stderr;            /* print node log lines to stderr, prefixed
                                   with sim time and node address (false) */
    int log_level;              /* log level given to nodes added with a
                                   NULL config (CHORD_LOG_INFO) */
};

/* Fill *cfg with the defaults noted above. */
void chord_sim_config_default(struct chord_sim_config *cfg);

/* Make an empty simulator at time 0 (the config is copied). 0, -EINVAL
 * (delays out of order, min_delay_ms == 0, loss outside [0, 1)), -ENOMEM. */
int chord_sim_new(const struct chord_sim_config *cfg, struct chord_sim **out);

/* Free every node, every queued event and the simulator. Pending client
 * callbacks are not called. NULL is allowed. */
void chord_sim_free(struct chord_sim *sim);

/*
 * Add a node with the next index (0, 1, ...), in state INIT, and return
 * that index (>= 0) or a negative errno: -ENOSPC past CHORD_SIM_NODES_MAX,
 * -EINVAL when chord_node_new refuses the config, -ENOMEM.
 * `cfg` (copied) may be NULL for chord_node_config_default() with a seed
 * drawn from the simulator's PRNG and the simulator's log level; its
 * `self` is always overwritten with the simulated address and id.
 * `explicit_id` (copied), when not NULL, replaces SHA-1(address).
 */
int chord_sim_add_node(struct chord_sim *sim,
                       const struct chord_node_config *cfg,
                       const struct chord_id *explicit_id);

/* Lifecycle calls on node i, made at the current simulated time. Each
 * returns 0, -EINVAL for a bad index (of i or of the seed), or -EHOSTDOWN
 * when node i is down. A seed that is down is allowed: the joiner learns
 * it is unreachable, as it would from a real host. */
int chord_sim_create(struct chord_sim *sim, int i);
/* Instead of create and joins: every node that is up and not yet started
 * becomes a member of one exact ring at once (successor lists,
 * predecessors and fingers as chord_sim_check_ring() expects them), with
 * no message sent and no simulated time spent. 0, -EINVAL (no such node)
 * or -ENOMEM. */
int chord_sim_start_static(struct chord_sim *sim);
int chord_sim_join(struct chord_sim *sim, int i, int seed_index);
int chord_sim_leave(struct chord_sim *sim, int i);
/* Stop node i abruptly: it is freed without a word to anyone. Frames in
 * flight to it, and frames sent to it later, make the sender's host report
 * it unreachable (after the link's smallest delay: min_delay_ms in the
 * uniform model; never across a partition). Its pending client requests
 * fail with -ECONNRESET. */
int chord_sim_crash(struct chord_sim *sim, int i);

/* Process every event due at or before `t`, then set the clock to t (the
 * clock never goes back: t < now does nothing). */
void chord_sim_run_until(struct chord_sim *sim, uint64_t t);
/* Like chord_sim_run_until(), but stop after `max_events` events. Returns
 * the number processed; when it is below max_events every event due by t
 * was run and the clock is at t (as after chord_sim_run_until), else the
 * clock is at the last event run and more may be due. Lets a caller check
 * invariants every K events. 0 from inside a client callback. */
uint64_t chord_sim_run_events(struct chord_sim *sim, uint64_t t,
                              uint64_t max_events);
/* Change the loss probability of node-to-node messages from now on (for
 * instance: build a ring on a clean network, then measure on a lossy
 * one). 0, or -EINVAL outside [0, 1). */
int chord_sim_set_loss(struct chord_sim *sim, double loss);
/* chord_sim_run_until(sim, now + ms). */
void chord_sim_run_for(struct chord_sim *sim, uint64_t ms);
uint64_t chord_sim_now(const struct chord_sim *sim);

/* Nodes ever added (indexes are 0 .. count-1). */
int chord_sim_count(const struct chord_sim *sim);
bool chord_sim_is_up(const struct chord_sim *sim, int i);
/* The node, or NULL when i is bad or the node is down. Borrowed: valid
 * until the node goes down; do not drive it directly. */
struct chord_node *chord_sim_node(const struct chord_sim *sim, int i);
/* Node i's address and id (also when down), or NULL for a bad index. */
const struct chord_peer *chord_sim_peer(const struct chord_sim *sim, int i);
/* Node i's state; for a node that is down, the state it was last in
 * (LEFT or FAILED when the simulator stopped it). -EINVAL for a bad i. */
int chord_sim_state(const struct chord_sim *sim, int i);
/* The index of the node at `addr`, or -1. */
int chord_sim_find(const struct chord_sim *sim, const char *addr);

/*
 * The true owner of `key`: the first up node in state ACTIVE whose id is
 * at or after key (clockwise). Its index, or -1 when no node is ACTIVE.
 * The sorted membership is cached and re-sorted only after a node changed
 * state or went down, so between changes a query is a binary search.
 */
int chord_sim_owner(const struct chord_sim *sim, const struct chord_id *key);

/*
 * Check every up node in state ACTIVE against the ideal ring of exactly
 * those nodes sorted by id: its successor list must be the next
 * min(r, N-1) members (r = its list capacity), its predecessor the
 * previous member (a lone node may have none or itself), and every finger
 * i must be set to the member that succeeds start(i) (a finger whose true
 * successor is the node itself may instead be unset). Returns the number
 * of wrong entries (0 = a perfect ring) and describes the first one in
 * err (if errlen > 0; "" when none), or -ENOMEM.
 */
int chord_sim_check_ring(const struct chord_sim *sim, char *err, size_t errlen);
/* The same without the fingers: successor lists and predecessors only
 * (what lookups need to be correct; fingers only make them short). */
int chord_sim_check_successors(const struct chord_sim *sim, char *err,
                               size_t errlen);

/*
 * Zave's invariant on the members (up nodes in state ACTIVE or LEAVING):
 * when there are at least two, every member has at least one successor
 * entry naming a node that is up. Returns the number of members breaking
 * it (0 = holds) and describes the first in err (if errlen > 0; "" when
 * none); the member count goes to *members (may be NULL). O(N · r) hash
 * probes at worst, O(N) in a healthy ring: cheap enough to run every few
 * thousand events. The "r + 1 principals" half of Zave's assumption is a
 * count the caller compares with its own r.
 */
int chord_sim_check_invariant(const struct chord_sim *sim, char *err,
                              size_t errlen, unsigned *members);

struct chord_sim_stats {
    uint64_t events;        /* events processed */
    uint64_t delivered;     /* node-to-node frames delivered */
    uint64_t dropped;       /* frames lost by the loss model or a full queue */
    uint64_t partitioned;   /* frames dropped by a partition */
    uint64_t unreachable;   /* unreachable reports made to senders */
    uint64_t proto_errors;  /* frames a node refused with -EPROTO */
    uint64_t stray_replies; /* replies for no live client request */
    uint64_t digest;        /* hash of every processed event (time, kind,
                               endpoints, bytes): equal runs, equal digest */
};
void chord_sim_stats(const struct chord_sim *sim, struct chord_sim_stats *out);

/* ---- network models ------------------------------------------------------
 *
 * Every setter below applies from now on, to frames sent later (frames in
 * flight keep their due time) and keeps FIFO order per link across the
 * change. None of them draws from the simulator's PRNG, so setting a
 * model changes a run only through the delays and drops it gives.
 */

#define CHORD_SIM_HOSTS_MAX 4096u       /* hosts of a latency matrix */
#define CHORD_SIM_DELAY_MAX_MS 3600000u /* largest matrix entry */
#define CHORD_SIM_GEO_CLUSTERS_MAX 7u   /* continents of the geo model */
#define CHORD_SIM_GEO_CLUSTERS_DEFAULT 5u
#define CHORD_SIM_GEO_BASE_MS 2u        /* geo: delay at distance 0 */
#define CHORD_SIM_GEO_INTRA_MAX_MS 20u  /* geo: same continent, at most */
#define CHORD_SIM_GEO_INTER_MIN_MS 40u  /* geo: two continents, at least */
#define CHORD_SIM_GEO_INTER_MAX_MS 147u /* geo: two continents, at most */

/* Back to the uniform model: each frame's delay is drawn from the PRNG in
 * [min_ms, max_ms] (as with the config's min_delay_ms / max_delay_ms, which
 * this overwrites). 0, or -EINVAL (min_ms == 0 or max_ms < min_ms). */
int chord_sim_set_latency_uniform(struct chord_sim *sim, uint32_t min_ms,
                                  uint32_t max_ms);

/*
 * The matrix model: `ms` holds m * m one-way delays in milliseconds, row
 * = sender's host, column = receiver's host (ms[s * m + r]); it is
 * copied. An entry of 0 (a host to itself, typically) is taken as 1 ms,
 * the simulator's smallest delay, so that time always moves on. Node i
 * sits on host i % m unless chord_sim_set_host() says otherwise; setting
 * a matrix puts every node back on its default host. 0, -EINVAL (NULL ms,
 * m == 0 or above CHORD_SIM_HOSTS_MAX, an entry above
 * CHORD_SIM_DELAY_MAX_MS), or -ENOMEM (the model is then unchanged).
 */
int chord_sim_set_latency_matrix(struct chord_sim *sim, const uint32_t *ms,
                                 unsigned m);

/* Put node i on host `host` of the current matrix. 0, or -EINVAL (bad
 * index, no matrix model, host >= m). */
int chord_sim_set_host(struct chord_sim *sim, int i, unsigned host);

/*
 * The geo model, a synthetic Internet for runs without a data file. Node
 * i gets a point on a plane whose units are milliseconds, a pure function
 * of the config's seed and of i (drawn from a hash of its own, never from
 * the simulator's PRNG), so that a node keeps its place whenever it is
 * added and runs of the other models keep their event sequence:
 *  - its continent c is uniform in 0..clusters-1;
 *  - continent centres are the vertices of a regular heptagon of radius
 *    65 ms around the origin (taken in an order that spreads the first
 *    few: vertex 0, 3, 5, 1, 6, 2, 4 for c = 0..6; coordinates rounded to
 *    the microsecond);
 *  - the node sits uniformly in the disc of radius 9 ms around its
 *    centre.
 * The one-way delay between nodes a and b, both ways, is
 *     CHORD_SIM_GEO_BASE_MS + round(|p_a - p_b|)    (in ms)
 * (the distance in whole microseconds, rounded down, then to the nearest
 * millisecond, half up; all in integers, the same on every machine), so
 * within a continent it lies in [2, 20] ms (distance <= 18 ms) and
 * between two continents in [40, 147] ms (centres 56.4 to 126.7 ms apart,
 * minus or plus 18). 0, or -EINVAL (clusters outside
 * 1..CHORD_SIM_GEO_CLUSTERS_MAX).
 */
int chord_sim_set_latency_geo(struct chord_sim *sim, unsigned clusters);

/* The delays the current model can give a frame from node `from` to node
 * `to`: [*lo, *hi] (lo == hi for the matrix and geo models, and for a
 * const uniform one). FIFO order may still hold a frame back behind an
 * earlier one on its link. A host's report that a destination is down
 * comes after *lo. 0, or -EINVAL for a bad index. */
int chord_sim_link_delay(const struct chord_sim *sim, int from, int to,
                         uint32_t *lo, uint32_t *hi);

/*
 * Partitions. Every node is in a group (0 unless set; nodes added later
 * join group 0). A node-to-node frame between two different groups is
 * silently dropped (counted in stats.partitioned), as by a firewall that
 * drops packets: the sender gets no unreachable report, only silence,
 * even when the receiver is down. A frame is checked when it is sent and
 * again when it arrives, so one in flight when a partition starts is lost
 * too. Client requests are local to their node and never cut.
 */
/* Put node i in `group`. 0, or -EINVAL (bad index, group > 255). */
int chord_sim_set_group(struct chord_sim *sim, int i, unsigned group);
/* Node i's group, or -EINVAL for a bad index. */
int chord_sim_group(const struct chord_sim *sim, int i);
/* Node j goes to group_of_index[j] for j < n and to group 0 for the
 * others. 0, or -EINVAL (n above chord_sim_count(), NULL with n > 0). */
int chord_sim_partition(struct chord_sim *sim, const uint8_t *group_of_index,
                        size_t n);
/* Every node back to group 0: the network is whole again. */
void chord_sim_heal(struct chord_sim *sim);

/*
 * Observe every node-to-node frame delivered (each one counted in
 * stats.delivered), as it reaches node `to`: sent by node `from` at
 * sent_ms, delivered now (now_ms), `len` bytes. `fn` must not run the
 * simulation nor add, stop or drive nodes. NULL fn stops tracing.
 */
typedef void (*chord_sim_trace_fn)(void *arg, int from, int to,
                                   uint64_t sent_ms, uint64_t now_ms,
                                   size_t len);
void chord_sim_set_trace(struct chord_sim *sim, chord_sim_trace_fn fn,
                         void *arg);

/* ---- client operations ------------------------------------------------ */

enum chord_sim_op {
    CHORD_SIM_PUT = 0,
    CHORD_SIM_GET = 1,
    CHORD_SIM_DEL = 2,
    CHORD_SIM_LOOKUP = 3,
};

struct chord_sim_reply {
    int err;    /* 0 when the node answered (see status); -ETIMEDOUT (no
                   answer within client_timeout_ms), -ECONNRESET (the node
                   went down), -EPROTO (the answer was not a valid reply) */
    int status; /* enum chord_status_code, when err == 0 */
    bool has_value;
    const uint8_t *value; /* GET: borrowed, valid during the callback */
    size_t value_len;
    char error[CHORD_ERRMSG_MAX];      /* the node's text when status != OK */
    struct chord_lookup_result lookup; /* LOOKUP with status OK */
    uint64_t sent_ms, done_ms;         /* simulated times */
    /* With chord_sim_request_causal: the key's state blob the node
     * answered with (core/dvv.h), borrowed, valid during the callback;
     * NULL when it sent none. */
    const uint8_t *state;
    size_t state_len;
};

/* Called once per request, from inside chord_sim_run_*() or a blocking
 * helper, never from chord_sim_request() itself. It may queue new
 * requests but must not run the simulation nor add, stop or drive nodes. */
typedef void (*chord_sim_reply_fn)(void *arg, const struct chord_sim_reply *r);

/*
 * Send operation `op` on `key` (and `value` for PUT; both copied) to node
 * i as a client. `cb` (required) gets the outcome later. Returns 0, or
 * -EINVAL (bad index or op, NULL cb), -EHOSTDOWN (node down), -EMSGSIZE
 * (over a cap), -EBUSY (CHORD_SIM_REQUESTS_MAX in flight), -ENOMEM; after
 * an error the callback is never called.
 */
int chord_sim_request(struct chord_sim *sim, int i, enum chord_sim_op op,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, chord_sim_reply_fn cb, void *arg);

/* The causal trailer of a request (core/wire.h's CHORD_CAUSAL_* request
 * bits and their fields; borrowed until chord_sim_request_causal returns).
 * The request always asks for the key's state in the reply. */
struct chord_sim_causal {
    uint8_t bits;
    const uint8_t *context; /* CONTEXT or IF_CONTEXT */
    size_t context_len;
    const uint8_t *session; /* SESSION */
    size_t session_len;
    uint32_t ttl_s;      /* TTL */
    uint8_t consistency; /* enum chord_consistency (0: the node's) */
};

/* chord_sim_request with a causal trailer (NULL: none); GET, PUT, DEL. */
int chord_sim_request_causal(struct chord_sim *sim, int i, enum chord_sim_op op,
                             const void *key, size_t key_len, const void *value,
                             size_t value_len,
                             const struct chord_sim_causal *causal,
                             chord_sim_reply_fn cb, void *arg);

/*
 * Blocking helpers: send the request and run the simulation until its
 * reply or its timeout. Each returns the reply's status code (>= 0, enum
 * chord_status_code) or a negative errno (those of chord_sim_request and
 * of chord_sim_reply.err; -EBUSY when called from a reply callback).
 * chord_sim_get: on CHORD_OK, *value is malloc'd (the caller frees it; it
 * may be non-NULL for an empty value) and *value_len set; else *value is
 * NULL. chord_sim_lookup: on CHORD_OK, *out is filled.
 */
int chord_sim_put(struct chord_sim *sim, int i, const void *key, size_t key_len,
                  const void *value, size_t value_len);
int chord_sim_get(struct chord_sim *sim, int i, const void *key, size_t key_len,
                  uint8_t **value, size_t *value_len);
int chord_sim_del(struct chord_sim *sim, int i, const void *key,
                  size_t key_len);
int chord_sim_lookup(struct chord_sim *sim, int i, const void *key,
                     size_t key_len, struct chord_lookup_result *out);

/* ---- durable nodes -------------------------------------------------------
 *
 * A durable node keeps a write-ahead log (the same code as dhtd --data)
 * on its own simulated disk, which loses unsynced bytes when the node
 * restarts after a crash. Group commit takes simulated time: a change is
 * acknowledged 1 ms after it was logged in mode always, fsync_ms after in
 * batch, at once in never (and may then be lost by a crash).
 */
struct chord_sim_durability {
    int mode;                  /* CHORD_DURABILITY_ALWAYS/BATCH/NEVER */
    uint32_t fsync_ms;         /* batch window */
    uint64_t checkpoint_bytes; /* log size that triggers a snapshot; 0 =
                                  never */
};

/* chord_sim_add_node() for a durable node (its status reports the mode).
 * The index, or -EINVAL (bad mode) and the errors of chord_sim_add_node. */
int chord_sim_add_durable_node(struct chord_sim *sim,
                               const struct chord_node_config *cfg,
                               const struct chord_id *explicit_id,
                               const struct chord_sim_durability *opt);

/*
 * Bring durable node i back after chord_sim_crash() (or after it stopped
 * in LEFT or FAILED), under the same index and address: its disk first
 * loses power (what was not synced is lost or torn, drawn from the
 * simulator's PRNG), then the log is recovered into a new node in state
 * INIT; the caller then creates a ring or joins one. 0, -EINVAL (not a
 * durable node), -EBUSY (node i is up), or the recovery's error (the
 * node stays down).
 */
int chord_sim_restart(struct chord_sim *sim, int i);

/* Records node i recovered at its last start, or -EINVAL. */
int64_t chord_sim_recovered(const struct chord_sim *sim, int i);

/* Make node i's disk fail (-EIO) after `after` more operations of the
 * classes in `ops` (CHORD_DISK_MEM_OP_* of src/io/disk.h); a failed sync
 * stops the node as dhtd would. Cleared by the next restart. 0 or
 * -EINVAL. */
int chord_sim_disk_fail(struct chord_sim *sim, int i, unsigned ops,
                        uint64_t after);

#endif
