/*
 * node.h - one Chord node as a pure state machine (the protocol core).
 *
 * The node does no I/O, reads no clock and keeps no global state. Its
 * driver (the libuv host in dhtd, or the simulator) feeds it events:
 *
 *   chord_node_receive()      a complete frame arrived on connection `conn`
 *   chord_node_unreachable()  the host could not deliver to an address
 *   chord_node_tick()         time passed; call at chord_node_next_deadline()
 *   chord_node_flush()        the host's loop turn ends: send what is held
 *
 * and the node answers through the callbacks in struct chord_node_io:
 * send a frame to a peer address, reply on a client connection, log a line.
 * Every entry point takes `now`, a monotonic time in milliseconds.
 *
 * Node-to-node messages are addressed by the peer's advertised address and
 * matched by request id, like datagrams; a reply to a peer goes to the
 * `from` address inside the request, not back on the connection it came
 * in on. Client requests (C_* frames) are answered on their connection.
 *
 * Callbacks may be invoked from inside any entry point, never later; they
 * must not call back into the node.
 */
#ifndef CHORD_NODE_H
#define CHORD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/metrics.h"
#include "chord/types.h"

struct chord_node;
struct chord_msg; /* a decoded message (src/core/wire.h) */

enum chord_log_level {
    CHORD_LOG_ERROR = 0,
    CHORD_LOG_WARN = 1,
    CHORD_LOG_INFO = 2,
    CHORD_LOG_DEBUG = 3,
};

struct chord_node_io {
    void *ctx; /* passed back to every callback */
    /* Deliver `frame` (borrowed: copy it) to the node listening at `addr`.
     * Best effort; when the host learns the address cannot be reached it
     * calls chord_node_unreachable(). Never called with the node's own
     * address. */
    void (*send)(void *ctx, const char *addr, const uint8_t *frame, size_t len);
    /* Answer a client on connection `conn` (frame borrowed). A reply for
     * a connection that has gone away is dropped by the host. */
    void (*reply)(void *ctx, uint64_t conn, const uint8_t *frame, size_t len);
    /* One log line without a trailing newline; may be NULL. */
    void (*log)(void *ctx, int level, const char *line);
    /* Durability; NULL means the node keeps its data in memory only.
     * Every change to the store (a write or delete this node owns, a copy
     * or hand-off received from a peer) is first handed over as a record,
     * the change encoded by chord_item_encode() (src/core/wire.h), which
     * is borrowed. Returns the record's log sequence number (> 0, larger
     * than any before), or 0 if it could not be logged: the change is then
     * refused. Acknowledgements of the change (to the client, to the
     * coordinator, to the sender of a transfer) are held until
     * chord_node_persisted() reports that sequence durable. */
    uint64_t (*persist)(void *ctx, const uint8_t *rec, size_t len);
    /* The peer at `addr` had been suspected or found unreachable and has
     * spoken again: any connection the host holds to it may be stuck
     * (TCP back-off after a partition), so the host should close it and
     * connect afresh on the next send. May be NULL. */
    void (*reconnect)(void *ctx, const char *addr);
    /* A decode buffer from chord_node_scratch_new() that several nodes
     * driven by one thread may share (a node uses it only inside
     * chord_node_receive(), which no callback re-enters), so that each
     * does not keep its own (about 15 KB). Borrowed: it must outlive the
     * nodes. NULL: the node allocates its own. */
    struct chord_msg *scratch;
    /* An encode buffer that several nodes driven by one thread may share
     * (a node fills it and hands its bytes to send, reply or persist,
     * which copy what they keep; none of them re-enters a node), so that
     * each does not keep its own (about 1 KB). Borrowed: it must outlive
     * the nodes. NULL: the node keeps its own. */
    struct chord_buf *scratch_out;
};

/* A decode buffer for struct chord_node_io.scratch, or NULL (no memory);
 * freed by chord_node_scratch_free() (NULL is accepted). */
struct chord_msg *chord_node_scratch_new(void);
void chord_node_scratch_free(struct chord_msg *m);

/* Tunables. chord_node_config_default() fills the defaults noted. */
struct chord_node_config {
    struct chord_peer self;    /* id + advertised address (required) */
    unsigned successors;       /* successor list length r (8) */
    uint32_t stabilize_ms;     /* stabilize period (250) */
    uint32_t fix_fingers_ms;   /* one finger refreshed per period (100) */
    uint32_t rpc_timeout_ms;   /* a peer that does not answer in this long
                                  is treated as failed for that call (1000) */
    uint32_t op_timeout_ms;    /* a client operation gives up after (8000) */
    unsigned hop_limit;        /* lookups die after this many hops (32) */
    unsigned max_ops;          /* client operations in flight (4096) */
    unsigned replicas;         /* copies of each key, owner included (3);
                                  at most successors + 1 */
    uint32_t heartbeat_ms;     /* failure-detector heartbeat period (200) */
    uint32_t sync_ms;          /* anti-entropy period (1000) */
    uint32_t tombstone_ttl_ms; /* deletes are remembered this long (600000) */
    int log_level;             /* lines above this level are not built (INFO) */
    uint64_t seed;             /* PRNG seed (timer jitter) */
    uint8_t durability;        /* enum chord_durability of the host's log,
                                  copied into the status report (MEMORY) */
    bool owner_reads;          /* the owner answers a quorum read alone while
                                  it holds its lease (see replica.c) (true) */
    bool pns;                  /* proximity routing: each finger is the
                                  nearest (by round trip) of a few nodes of its
                                  interval, and a lookup goes to the known
                                  node with the most progress per ms (false) */
    /* Fault injection for tests (dhtd --test-drop-requests/-replies): the
     * percentage of mutating client requests dropped before they are
     * executed, and of those whose reply is dropped after (0). */
    unsigned test_drop_requests_pct;
    unsigned test_drop_replies_pct;
};

void chord_node_config_default(struct chord_node_config *cfg);

/* Make a node. The config and io structs are copied. 0, -EINVAL (bad
 * config), -ENOMEM. */
int chord_node_new(const struct chord_node_config *cfg,
                   const struct chord_node_io *io, uint64_t now,
                   struct chord_node **out);
/* Free a node and everything it holds. No callbacks are made. */
void chord_node_free(struct chord_node *n);

/* Become the first member of a new ring (state ACTIVE at once). */
void chord_node_create(struct chord_node *n, uint64_t now);

/* The member of the ring that succeeds `id` (possibly the node itself),
 * as the host knows it; NULL: unknown. */
typedef const struct chord_peer *(*chord_successor_fn)(
    void *ctx, const struct chord_id *id);

/* Instead of a join: start as a member of a ring that the host knows
 * whole (a simulator's static start): successors succ[0..n_succ) and
 * predecessors preds[0..n_preds), nearest first (the first is the
 * predecessor; only as many as a RECTIFY would teach are kept), each
 * finger from successor_of(ctx, its start). The node is ACTIVE at once,
 * its store empty, its periodic repairs scheduled as after a join. */
void chord_node_start_static(struct chord_node *n, uint64_t now,
                             const struct chord_peer *succ, unsigned n_succ,
                             const struct chord_peer *preds, unsigned n_preds,
                             chord_successor_fn successor_of, void *ctx);

/* Join the ring that the node at `seed_addr` belongs to. The state is
 * JOINING until the successor is known and its keys have arrived (then
 * ACTIVE), or FAILED when the seed cannot be reached after a few tries.
 * 0, -EINVAL for an empty or over-long address, or -ENOMEM. */
int chord_node_join(struct chord_node *n, uint64_t now, const char *seed_addr);

/* Come back after a restart: join through the first of `addrs` (the
 * peers the node knew before, as chord_node_known_peers() listed them)
 * that answers, trying each in turn. When none answers, the node creates
 * a ring alone (ACTIVE) and keeps probing them, so that a ring whose
 * nodes restart in any order comes back as one (see chord_node_remember).
 * 0, -EINVAL when k == 0 or an address is empty or over-long, or
 * -ENOMEM. */
int chord_node_rejoin(struct chord_node *n, uint64_t now,
                      const char *const *addrs, size_t k);

/* Remember `addr` as a peer to find again: the node probes it with
 * back-off (as it does every peer it declared dead), and when it answers
 * but is not on this node's ring, the two rings are merged (ring
 * unification). 0, or -EINVAL for an empty or over-long address or the
 * node's own. */
int chord_node_remember(struct chord_node *n, uint64_t now, const char *addr);

/* The addresses of the peers this node knows now (successors,
 * predecessors, fingers, remembered peers), without repeats, at most
 * `max`, into out: how many. For the host to keep across restarts. */
size_t chord_node_known_peers(const struct chord_node *n,
                              char (*out)[CHORD_ADDR_MAX], size_t max);

/* Leave gracefully: hand every key to the successor, tell the
 * predecessor and the successor, then state LEFT. Bounded in time: after
 * op_timeout_ms the node gives up waiting and becomes LEFT anyway. */
void chord_node_leave(struct chord_node *n, uint64_t now);

/* One complete frame from connection `conn` (any nonzero host-chosen
 * number identifying it). Returns 0, or -EPROTO when the frame is
 * malformed or not acceptable; the host then closes that connection. */
int chord_node_receive(struct chord_node *n, uint64_t now, uint64_t conn,
                       const uint8_t *frame, size_t len);

/* The host's log is durable up to and including `seq`: acknowledgements
 * that waited for it are sent now. */
void chord_node_persisted(struct chord_node *n, uint64_t now, uint64_t seq);

/* Load one recovered record (from a snapshot or a log replay) into the
 * store; call before chord_node_create() or chord_node_join(). The newest
 * version of a key wins, so records may come in any order; persist is not
 * called. 0, -EPROTO (not a record), -ENOMEM. */
int chord_node_restore(struct chord_node *n, const uint8_t *rec, size_t len);

/* The host failed to connect or write to `addr`: frames queued for it are
 * lost. The node stops using that peer. */
void chord_node_unreachable(struct chord_node *n, uint64_t now,
                            const char *addr);

/* Run every timer that is due at `now`. */
void chord_node_tick(struct chord_node *n, uint64_t now);

/* The host is about to write what the node sent during this turn of its
 * loop (after the frames that arrived in the turn were received): the
 * node sends what it held to coalesce, now (the copies of the turn's
 * writes, one frame per replica: see src/core/replica_batch.h). Returns
 * how many frames it sent (0: nothing was held; then the call costs
 * nothing). Optional but cheap: a host that never calls it gets the same
 * frames at the next chord_node_tick(), as anything held makes
 * chord_node_next_deadline() the time it was held. A host that calls it
 * should re-read chord_node_next_deadline() when it returns > 0. */
unsigned chord_node_flush(struct chord_node *n, uint64_t now);

/* The host's wall clock (ms since the epoch) is `wall_ms` at monotonic
 * `now`: TTL deadlines are wall-clock times. Call at start and from time
 * to time (the two clocks drift apart); without a call the wall clock is
 * `now` itself (the simulator's choice). */
void chord_node_set_wall_clock(struct chord_node *n, uint64_t now,
                               uint64_t wall_ms);

/* When chord_node_tick() next has work to do (absolute ms). */
uint64_t chord_node_next_deadline(const struct chord_node *n);

enum chord_node_state chord_node_state(const struct chord_node *n);
const struct chord_peer *chord_node_self(const struct chord_node *n);

/* Fill a status report (what `dht status` prints). */
void chord_node_status(const struct chord_node *n, struct chord_status *out);

/* Live keys held. */
size_t chord_node_key_count(const struct chord_node *n);

/* Copy the node's counters and fill the gauges (keys, bytes, peers by
 * state: O(keys held)) into *out; see chord/metrics.h. */
void chord_node_metrics(const struct chord_node *n,
                        struct chord_node_metrics *out);

/* Read access to the routing table and the store, for tests and the
 * simulator (declared in src/core/routing.h and store.h). */
struct chord_routing;
struct chord_store;
const struct chord_routing *chord_node_routing(const struct chord_node *n);
const struct chord_store *chord_node_store(const struct chord_node *n);

/* Make a peer from an address: id = SHA-1(addr). -EINVAL if too long. */
int chord_peer_from_addr(struct chord_peer *p, const char *addr);

#endif
