/*
 * sim.h - a deterministic network simulator that runs many protocol-core
 * nodes (struct chord_node) in one process.
 *
 * The simulator owns a virtual clock (milliseconds, starting at 0), an
 * event queue and a seeded PRNG. Nodes talk through simulated links with a
 * latency drawn uniformly from [min_delay_ms, max_delay_ms], an optional
 * loss probability, and TCP-like FIFO order per (sender, receiver) link.
 * Nothing is ever opened: addresses are plain strings. The same config
 * (seed included) and the same sequence of calls give the same run, bit
 * for bit; chord_sim_stats().digest summarises a run so two can be
 * compared.
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
    uint32_t min_delay_ms;      /* one-way link latency, lower bound >= 1 (1) */
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
int chord_sim_join(struct chord_sim *sim, int i, int seed_index);
int chord_sim_leave(struct chord_sim *sim, int i);
/* Stop node i abruptly: it is freed without a word to anyone. Frames in
 * flight to it, and frames sent to it later, make the sender's host report
 * it unreachable (after min_delay_ms). Its pending client requests fail
 * with -ECONNRESET. */
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
int chord_sim_check_ring(const struct chord_sim *sim, char *err,
                         size_t errlen);
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
    uint64_t events;       /* events processed */
    uint64_t delivered;    /* node-to-node frames delivered */
    uint64_t dropped;      /* frames lost by the loss model or a full queue */
    uint64_t unreachable;  /* unreachable reports made to senders */
    uint64_t proto_errors; /* frames a node refused with -EPROTO */
    uint64_t stray_replies;/* replies for no live client request */
    uint64_t digest;       /* hash of every processed event (time, kind,
                              endpoints, bytes): equal runs, equal digest */
};
void chord_sim_stats(const struct chord_sim *sim, struct chord_sim_stats *out);

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

/*
 * Blocking helpers: send the request and run the simulation until its
 * reply or its timeout. Each returns the reply's status code (>= 0, enum
 * chord_status_code) or a negative errno (those of chord_sim_request and
 * of chord_sim_reply.err; -EBUSY when called from a reply callback).
 * chord_sim_get: on CHORD_OK, *value is malloc'd (the caller frees it; it
 * may be non-NULL for an empty value) and *value_len set; else *value is
 * NULL. chord_sim_lookup: on CHORD_OK, *out is filled.
 */
int chord_sim_put(struct chord_sim *sim, int i, const void *key,
                  size_t key_len, const void *value, size_t value_len);
int chord_sim_get(struct chord_sim *sim, int i, const void *key,
                  size_t key_len, uint8_t **value, size_t *value_len);
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
