/*
 * peer.h - how a node deals with other nodes: messages out (send, reply,
 * requests that expect an answer), who a peer is (address helpers), and
 * the one rule for when a peer is dead, routed around, and trusted again.
 *
 * Requests. A request this node sends and expects an answer to is a
 * `struct rpc` in the node's FIFO `rpcs`, keyed by its request id; all
 * share one timeout (cfg.rpc_timeout_ms), so they expire in order. The
 * answer (or the failure: a timeout, or the host saying the address is
 * unreachable) is settled by node.c, which hands it to the module whose
 * `kind` it is. A lookup's request may carry `found`: the function its
 * answer goes to (see lookup.h).
 *
 * Dead peers: one table and one rule. The table is the failure
 * detector's (fd.h): every peer the node has reason to judge has one
 * entry there, holding both the detector's state and the time until which
 * the peer counts as dead. The rule:
 *  - A peer is *dead* for CHORD_PEER_DEAD_MS after it was last found
 *    dead: the host reported it unreachable, it failed a request sent to
 *    it directly (a stabilize probe, STORE, JOIN, a predecessor ping), it
 *    announced it leaves, or the detector promoted a suspicion to DEAD.
 *    A dead peer is kept out of successor lists, transfers to it are
 *    given up, and it is routed around.
 *  - A peer is *usable* (for routing, replica sets, stabilize targets)
 *    when it is not dead and the detector neither suspects it nor holds
 *    it DEAD. After the dead window a neighbour's report may bring a peer
 *    the detector still holds DEAD back into the successor list, where
 *    heartbeats probe it again: that is how a peer that was cut off is
 *    found again.
 *  - Anything heard from a peer (any message, any answer) trusts it
 *    again at once: the dead window closes and the detector makes it
 *    ALIVE (counting a false suspicion if it had suspected it).
 *
 * Pure: no I/O, no clock. Internal to src/core (names chord__*).
 */
#ifndef CHORD_CORE_PEER_H
#define CHORD_CORE_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chord/buf.h"
#include "chord/node.h"
#include "core/seq.h"
#include "core/wire.h"

#define CHORD_PEER_DEAD_MS 5000 /* how long a peer found dead is shunned */

/* What a request is for: the module that sent it settles its answer. */
enum rpc_kind {
    /* ring.c */
    RPC_STAB_SUCC = 1, /* GET_NEIGHBORS to the successor */
    RPC_STAB_CAND,     /* GET_NEIGHBORS to its predecessor (candidate) */
    RPC_PRED_PING,     /* PING to our predecessor during rectify */
    RPC_JOIN_LOOKUP,   /* FIND_SUCC(self) through the seed */
    RPC_JOIN,          /* JOIN to the successor found */
    RPC_LOOKUP_FINGER, /* FIND_SUCC for fix_fingers */
    RPC_LEAVE,         /* LEAVE to a neighbour */
    RPC_HEARTBEAT,     /* PING to a monitored peer */
    /* coord.c */
    RPC_LOOKUP_OP, /* FIND_SUCC for a client operation */
    RPC_STORE,     /* STORE_* for a client operation */
    /* transfer.c */
    RPC_TRANSFER, /* one TRANSFER batch */
    /* replica.c */
    RPC_REPLICATE,   /* one replicated write to a replica */
    RPC_REPLICA_GET, /* a replica's copy, for a quorum read */
    RPC_REPAIR,      /* read repair: a newer copy for a stale replica */
    /* sync.c */
    RPC_SYNC,          /* anti-entropy digests */
    RPC_LOOKUP_ORPHAN, /* who owns keys we no longer replicate */
    /* merge.c */
    RPC_MERGE_PROBE,  /* PING to a peer we look for */
    RPC_MERGE_CHECK,  /* FIND_SUCC(its id) in our ring: is it on it? */
    RPC_MERGE_LOOKUP, /* FIND_SUCC(self + 1) through the other ring */
    /* lookup.c (proximity routing) */
    RPC_PNS_NB,    /* GET_NEIGHBORS to a finger: candidates near it */
    RPC_PNS_PROBE, /* PING to a finger candidate: its round trip */
};

struct rpc;
struct chord_found;

/* Where a lookup's result goes (lookup.h). */
typedef void (*chord_found_fn)(struct chord_node *n, uint64_t now,
                               const struct rpc *r,
                               const struct chord_found *f);

struct rpc {
    struct chord_seq_hdr h;
    uint64_t deadline;
    uint64_t sent_at;
    struct chord_peer peer; /* who was asked (first hop for lookups) */
    uint8_t kind;           /* enum rpc_kind (in the peer's padding) */
    uint64_t arg;           /* op id, finger index, transfer id, ... */
    chord_found_fn found;   /* lookups: where FOUND_SUCC goes (or NULL) */
};

/* The node's part for its dealings with peers. */
struct chord_peers {
    struct chord_seq rpcs;   /* struct rpc, in id (and deadline) order */
    struct chord_buf own;    /* the node's own encode buffer ... */
    struct chord_buf *out;   /* ... or the host's shared one: the one used */
    struct chord_msg *spare; /* one message kept by chord__msg_free() */
};

void chord__peers_init(struct chord_peers *p);
void chord__peers_free(struct chord_peers *p);

/* --- small helpers ---------------------------------------------------- */

/* Copy an address (always shorter than CHORD_ADDR_MAX by construction;
 * cut there otherwise) into dst. */
static inline void chord__addr_copy(char dst[CHORD_ADDR_MAX], const char *src)
{
    size_t len = strnlen(src, CHORD_ADDR_MAX - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* A log line through io.log when `level` passes cfg.log_level. */
void chord__log(struct chord_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* `period` scaled by a random factor in [0.75, 1.25) (the node's PRNG). */
uint64_t chord__jitter(struct chord_node *n, uint32_t period);
/* The node's next pseudo-random number (splitmix64 over cfg.seed). */
uint64_t chord__random(struct chord_node *n);
/* The first 8 hex digits of id, in buf. */
const char *chord__short_id(const struct chord_id *id, char buf[9]);
bool chord__is_self(const struct chord_node *n, const struct chord_peer *p);
bool chord__peer_same(const struct chord_peer *a, const struct chord_peer *b);

/* --- dead peers (the rule above) --------------------------------------- */

/* Found dead at `now`: dead for CHORD_PEER_DEAD_MS from now. */
void chord__peer_dead(struct chord_node *n, const char *addr, uint64_t now);
/* Within its dead window? */
bool chord__is_dead(const struct chord_node *n, const char *addr, uint64_t now);
/* Usable for routing and replica sets: not dead, not suspected. */
bool chord__usable(const struct chord_node *n, const char *addr, uint64_t now);
/* Something came from addr: trusted again. `rtt_ms` >= 0 when it answers
 * a request sent that long ago (a round-trip sample), else -1. Logs when
 * a suspicion proves false or an unreachable peer is back, and then asks
 * the host for a fresh connection to it (io.reconnect). */
void chord__peer_heard(struct chord_node *n, const char *addr, int64_t rtt_ms,
                       uint64_t now);
/* routing.c's filter: usable(ctx = struct chord_usable_ctx *, p). */
struct chord_usable_ctx {
    const struct chord_node *n;
    uint64_t now;
};
bool chord__usable_filter(void *ctx, const struct chord_peer *p);

/* --- messages out ------------------------------------------------------ */

/* Encode m and send it to addr / reply it on client connection conn. */
void chord__send(struct chord_node *n, const char *addr,
                 const struct chord_msg *m);
void chord__reply(struct chord_node *n, uint64_t conn,
                  const struct chord_msg *m);
/* A heap message of `type` from this node with request id req, or NULL.
 * Give it back with chord__msg_free() (free() is also right, but the
 * next message is then allocated afresh: a message is about 15 KB, and
 * the request path makes several per operation). */
struct chord_msg *chord__msg(struct chord_node *n, uint8_t type, uint64_t req);
/* Done with a message from chord__msg(): kept for the next one (one per
 * node) or freed. NULL is accepted. */
void chord__msg_free(struct chord_node *n, struct chord_msg *m);
/* Record a request of `kind` to `to` and send m (its req_id is set): the
 * request id, or 0 when out of memory (nothing sent). */
uint64_t chord__rpc(struct chord_node *n, uint64_t now, uint8_t kind,
                    const struct chord_peer *to, uint64_t arg,
                    struct chord_msg *m);
/* Record a request without sending anything (a lookup this node starts
 * itself): its id, or 0. */
uint64_t chord__rpc_record(struct chord_node *n, uint64_t now, uint8_t kind,
                           const struct chord_peer *to, uint64_t arg,
                           chord_found_fn found);
/* The message type that answers a request of `kind` (FOUND_SUCC for the
 * lookups); an answer of another type is ignored. */
uint8_t chord__rpc_answer_type(uint8_t kind);
/* Take the request `id` out of the table into *out: false if there is
 * none (late, or not ours). */
bool chord__rpc_take(struct chord_node *n, uint64_t id, struct rpc *out);

#endif
