/*
 * node_internal.h - the node's state and the helpers its modules share.
 *
 * The protocol core of one node is split by concern:
 *   node.c     ring membership and routing (join, stabilize, rectify,
 *              fingers, lookups, leave), client operations, dispatch
 *   replica.c  what happens to a key at its owner: replicated writes with
 *              write quorums, reads with read quorums and read repair,
 *              anti-entropy between replicas, hand-back of keys a node no
 *              longer replicates, tombstone collection, durability waits
 * Both see struct chord_node through this header; nothing outside
 * src/core includes it. Internal functions are named chord__* (libuv's
 * uv__ convention). Everything here is pure: no I/O, no clock.
 */
#ifndef CHORD_NODE_INTERNAL_H
#define CHORD_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chord/node.h"
#include "chord/buf.h"
#include "core/fd.h"
#include "core/routing.h"
#include "core/seq.h"
#include "core/store.h"
#include "core/wire.h"

/* Tunables that are not worth a flag. */
#define SUCC_PROBE_FAILURES 3 /* silent stabilize probes before a drop */
#define JOIN_ATTEMPTS 8       /* lookups/JOINs tried before FAILED */
#define JOIN_RETRY_MS 250     /* pause between join attempts (+ jitter) */
#define OP_RETRY_MS 50        /* pause before an operation retries */
#define TRANSFER_BATCH_BYTES (1u << 20) /* a TRANSFER frame's items */
#define TRANSFER_RETRIES 3              /* resends of an unanswered batch */
#define DEAD_MEMORY_MS 5000      /* how long an unreachable peer is shunned */
#define DEAD_MAX 64              /* unreachable peers remembered */
#define FWD_MEMORY_MS 1000 /* a forwarded lookup is re-routed if its next hop
                              proves unreachable or suspected this soon */
#define FWD_MAX 4096       /* forwarded lookups remembered at once */
#define RCACHE_MAX 64         /* owner ranges a node remembers */
#define RCACHE_TTL_MS 10000   /* ... for this long */
#define LEASE_TICK_SLACK_MS 25 /* silent longer than the heartbeat period
                                  plus this: we stalled, no lease */
#define ORPHAN_EVERY 5           /* orphan checks happen every 5 sync periods */
#define DEFERRED_MAX (64u << 20) /* bytes of acks waiting for durability */

enum rpc_kind {
    RPC_STAB_SUCC = 1, /* GET_NEIGHBORS to the successor */
    RPC_STAB_CAND,     /* GET_NEIGHBORS to its predecessor (candidate) */
    RPC_PRED_PING,     /* PING to our predecessor during rectify */
    RPC_JOIN_LOOKUP,   /* FIND_SUCC(self) through the seed */
    RPC_JOIN,          /* JOIN to the successor found */
    RPC_LOOKUP_OP,     /* FIND_SUCC for a client operation */
    RPC_LOOKUP_FINGER, /* FIND_SUCC for fix_fingers */
    RPC_STORE,         /* STORE_* for a client operation */
    RPC_TRANSFER,      /* one TRANSFER batch */
    RPC_LEAVE,         /* LEAVE to a neighbour */
    RPC_HEARTBEAT,     /* PING to a monitored peer */
    RPC_REPLICATE,     /* one replicated write to a replica */
    RPC_REPLICA_GET,   /* a replica's copy, for a quorum read */
    RPC_REPAIR,        /* read repair: a newer copy for a stale replica */
    RPC_SYNC,          /* anti-entropy digests */
    RPC_LOOKUP_ORPHAN, /* who owns keys we no longer replicate */
    RPC_PNS_NB,        /* GET_NEIGHBORS to a finger: candidates near it */
    RPC_PNS_PROBE,     /* PING to a finger candidate: its round trip */
};

#define PNS_CANDIDATES 4 /* nodes of a finger's interval we measure */

struct rpc {
    struct chord_seq_hdr h;
    uint8_t kind;
    uint64_t deadline;
    uint64_t sent_at;
    struct chord_peer peer; /* who was asked (first hop for lookups) */
    uint64_t arg;           /* op id, finger index, transfer id, ... */
};

/* A lookup this node forwarded: enough to forward it again, elsewhere,
 * should the next hop turn out to be down. The path is as it reached us
 * (without this node), on the heap. */
struct fwd {
    struct chord_seq_hdr h;
    uint64_t expires;
    char next[CHORD_ADDR_MAX]; /* the hop it went to */
    struct chord_peer origin;
    uint64_t req;
    struct chord_id target;
    uint8_t hops;
    uint8_t flags;
    uint8_t path_n;
    char (*path)[CHORD_ADDR_MAX];
};

/* An owner's range (lo, owner.id], learned from a lookup: a client
 * operation on a key in it goes straight to the owner, which checks it
 * still owns the key (a stale entry costs one redirect). */
struct rcache_entry {
    struct chord_id lo;
    struct chord_peer owner;
    uint64_t expires; /* 0: free */
};

enum op_state { OP_LOOKUP = 1, OP_STORE, OP_WAIT };

/* A client operation coordinated by this node. */
struct op {
    struct chord_seq_hdr h;
    uint8_t type; /* CHORD_MSG_C_PUT .. C_LOOKUP */
    uint8_t state;
    uint8_t consistency;
    uint64_t conn, client_req;
    uint64_t deadline;
    uint64_t retry_at;
    uint64_t rpc; /* request in flight, 0 if none */
    unsigned attempts, redirects;
    struct chord_id key_id;
    uint8_t *key; /* owned copies */
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    char last_error[96];
};

/* Why a transfer runs (what its end means). */
enum transfer_purpose {
    XFER_JOIN = 0, /* keys a joiner now owns (LAST ends its join) */
    XFER_HANDOFF,  /* everything, to the successor, when leaving */
    XFER_SYNC,     /* anti-entropy: a replica's differing buckets */
    XFER_ORPHAN,   /* keys we no longer replicate, to their owner */
};

/* An outgoing stream of keys to one peer, in batches. */
struct transfer {
    struct transfer *next;
    uint64_t id;
    struct chord_peer to;
    uint8_t flags;   /* CHORD_TRANSFER_* sent with every batch */
    uint8_t purpose; /* enum transfer_purpose */
    uint8_t **keys;  /* copies of the keys to send */
    size_t *key_lens;
    size_t n_keys, pos; /* keys[pos..] not yet acknowledged */
    size_t batch_end;   /* keys[pos..batch_end) in flight */
    unsigned retries;
    size_t sent_items;
};

/* Selects the store entries a transfer sends. */
typedef bool (*chord_want_fn)(struct chord_node *n,
                              const struct chord_store_entry *e,
                              const void *ctx);

struct dead_peer {
    char addr[CHORD_ADDR_MAX];
    uint64_t until;
};

/* Where the outcome of a store request goes: a client operation this node
 * coordinates (op != 0), or the coordinator that sent STORE_*. */
struct chord_reply_to {
    uint64_t op;
    char addr[CHORD_ADDR_MAX];
    uint64_t req;
};

/* A replicated write waiting for its write quorum. */
struct pwrite {
    struct chord_seq_hdr h;
    uint64_t deadline;
    struct chord_reply_to to;
    unsigned needed;    /* W: acknowledgements needed, ours included */
    unsigned acks;      /* durable copies confirmed so far */
    unsigned pending;   /* replicas (and our own log) yet to answer */
    uint64_t local_seq; /* our log record, 0 once durable */
    struct chord_version version;
};

/* A quorum read collecting replicas' versions. */
struct pread {
    struct chord_seq_hdr h;
    uint64_t deadline;
    struct chord_reply_to to;
    bool answered;     /* the client has its answer; repair goes on */
    uint64_t hedge_at; /* ask one more replica then if still short */
    unsigned needed;   /* R: copies to compare, ours included */
    unsigned got;      /* copies compared so far, ours included */
    unsigned pending;  /* replicas yet to answer */
    uint8_t *key;
    size_t key_len;
    /* the newest copy seen */
    bool found; /* some copy (live or tombstone) exists */
    bool tombstone;
    struct chord_version version;
    uint8_t *value;
    size_t value_len;
    /* the replicas, in order; the first n_asked were asked, and the
     * version each one had */
    unsigned n_targets;
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned n_asked;
    struct chord_peer asked[CHORD_SUCC_MAX];
    struct chord_version seen[CHORD_SUCC_MAX];
    bool answered_by[CHORD_SUCC_MAX];
};

/* An acknowledgement held until the log is durable up to `seq`. */
struct deferred {
    struct deferred *next;
    uint64_t seq;
    char addr[CHORD_ADDR_MAX];
    size_t len;
    uint8_t data[]; /* the encoded frame */
};

struct chord_node {
    struct chord_node_config cfg;
    struct chord_node_io io;
    enum chord_node_state state;
    struct chord_routing rt;
    struct chord_store *store;
    uint64_t lamport;
    uint64_t rng;

    struct chord_seq rpcs;   /* struct rpc */
    struct chord_seq ops;    /* struct op */
    struct chord_seq fwds;   /* struct fwd */
    /* Proximity routing (cfg.pns): the measured round trip to each
     * finger's node, in ms (0: not measured). */
    uint32_t finger_rtt[CHORD_ID_BITS];
    struct rcache_entry *rcache; /* RCACHE_MAX entries, made on first use */
    uint64_t op_waiting;     /* ops in OP_WAIT */
    struct chord_seq writes; /* struct pwrite */
    struct chord_seq reads;  /* struct pread */

    /* timers (absolute ms; UINT64_MAX = off) */
    uint64_t next_stabilize;
    uint64_t next_fix;
    uint64_t next_heartbeat;
    uint64_t next_sync;
    uint64_t next_gc;
    uint64_t join_retry_at;
    uint64_t join_deadline;
    uint64_t leave_deadline;

    uint64_t stab_rpc;      /* the stabilize round's request, 0: none */
    unsigned succ_silent;   /* consecutive unanswered successor probes */
    bool pred_ping_pending; /* rectify is testing the predecessor */
    struct chord_peer rectify_cand;
    bool finger_pending;
    unsigned next_finger;

    /* predecessors, nearest first (from the predecessor's RECTIFY) */
    unsigned n_preds;
    struct chord_peer preds[CHORD_SUCC_MAX];

    /* failure detector */
    struct chord_fd fd;

    /* replication */
    unsigned sync_rr;     /* which replica the next SYNC goes to */

    /* Owner reads (replica.c, "the owner's lease"). The range (lease_lo,
     * self] was taken over at lease_since; lease_synced[i] says replica
     * lease_targets[i] answered a SYNC sent since with equal digests. */
    bool lease_range;
    struct chord_id lease_lo;
    uint64_t lease_since;
    unsigned lease_nt;
    struct chord_peer lease_targets[CHORD_SUCC_MAX];
    bool lease_synced[CHORD_SUCC_MAX];
    uint64_t last_entry_at; /* the latest time any entry point was given */
    uint64_t lease_sync_at; /* next SYNC to the replicas the lease waits on */
    unsigned lease_tries;   /* such rounds since the lease started over */
    /* The newest request our successor answered, and when it was sent:
     * the successor heard from us after that. */
    char succ_proof_addr[CHORD_ADDR_MAX];
    uint64_t succ_proof_sent;
    unsigned sync_rounds; /* SYNC periods since the last orphan check */
    bool orphan_busy;     /* an orphan lookup or transfer is running */

    /* durability */
    uint64_t durable_seq; /* the host's log is durable up to here */
    struct deferred *deferred, *deferred_tail;
    size_t deferred_bytes;
    struct chord_buf rec; /* scratch for log records */

    /* join */
    char join_seed[CHORD_ADDR_MAX];
    unsigned join_attempts;
    unsigned join_redirects;
    struct chord_peer join_succ;
    bool join_acked;

    /* leave */
    unsigned leave_acks_pending;

    struct transfer *transfers;
    uint64_t next_transfer_id;

    struct dead_peer dead[DEAD_MAX];

    uint64_t now;         /* the latest time an entry point was given */
    struct chord_buf out; /* scratch for encoding */
    struct chord_msg *in; /* scratch for decoding (large: on the heap) */
};

/* --- node.c: helpers shared with replica.c ------------------------------ */

/* Copy an address (always shorter than CHORD_ADDR_MAX by construction;
 * cut there otherwise) into dst. */
static inline void chord__addr_copy(char dst[CHORD_ADDR_MAX], const char *src)
{
    size_t len = strnlen(src, CHORD_ADDR_MAX - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void chord__log(struct chord_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t chord__jitter(struct chord_node *n, uint32_t period);
const char *chord__short_id(const struct chord_id *id, char buf[9]);
bool chord__is_self(const struct chord_node *n, const struct chord_peer *p);
bool chord__peer_same(const struct chord_peer *a, const struct chord_peer *b);
/* Recently unreachable (or left), or suspected by the failure detector. */
bool chord__is_dead(const struct chord_node *n, const char *addr, uint64_t now);
bool chord__usable(const struct chord_node *n, const char *addr, uint64_t now);
void chord__mark_dead(struct chord_node *n, const char *addr, uint64_t now);
/* Encode m and send it to addr / reply it on conn. */
void chord__send(struct chord_node *n, const char *addr,
                 const struct chord_msg *m);
void chord__reply(struct chord_node *n, uint64_t conn,
                  const struct chord_msg *m);
/* A heap message from this node (free() it), or NULL. */
struct chord_msg *chord__msg(struct chord_node *n, uint8_t type, uint64_t req);
/* Record a request and send m (its req_id is set): the request id, or 0. */
uint64_t chord__rpc(struct chord_node *n, uint64_t now, uint8_t kind,
                    const struct chord_peer *to, uint64_t arg,
                    struct chord_msg *m);
uint64_t chord__lookup_begin(struct chord_node *n, uint64_t now, uint8_t kind,
                             uint64_t arg);
/* flags: CHORD_LOOKUP_TO_OWNER makes the owner answer itself. */
void chord__lookup_run(struct chord_node *n, uint64_t now, uint64_t id,
                       const struct chord_id *target, uint8_t flags);
/* Stream the entries `want` selects to `to`, in acknowledged batches. */
void chord__transfer_start(struct chord_node *n, uint64_t now,
                           const struct chord_peer *to, uint8_t flags,
                           uint8_t purpose, chord_want_fn want,
                           const void *ctx);
/* Deliver a store outcome (local operation or STORE_RESULT). */
void chord__store_done(struct chord_node *n, uint64_t now,
                       const struct chord_reply_to *to, uint8_t status,
                       const char *error, const struct chord_peer *hint,
                       const uint8_t *value, size_t value_len,
                       const struct chord_version *version);

/* --- replica.c ---------------------------------------------------------- */

/* Log an item (when the node is durable) and apply it to the store.
 * *seq is the record to wait for (0: nothing to wait for). 0, -EIO (the
 * host could not log it: nothing applied), -ENOMEM. */
int chord__apply(struct chord_node *n, const struct chord_item *it,
                 uint64_t *seq);
/* Send m to addr once the log is durable up to seq (at once if it is). */
void chord__send_durable(struct chord_node *n, uint64_t seq, const char *addr,
                         const struct chord_msg *m);
/* Is this node one of the replicas of key_id (judged by its predecessor
 * list; with too short a list, yes)? */
bool chord__replica_holds(const struct chord_node *n,
                          const struct chord_id *key_id);
/* The replication factor the ring allows now (<= cfg.replicas). */
unsigned chord__replica_factor(const struct chord_node *n);
/* Owner side of a write or delete (it owns the key: checked by the caller)
 * and of a read. The outcome goes to chord__store_done(). */
void chord__replica_write(struct chord_node *n, uint64_t now, uint8_t type,
                          const uint8_t *key, size_t key_len,
                          const uint8_t *value, size_t value_len,
                          uint8_t consistency, const struct chord_reply_to *to);
void chord__replica_read(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, uint8_t consistency,
                         const struct chord_reply_to *to);
/* Incoming requests. */
void chord__replica_handle_get(struct chord_node *n, const struct chord_msg *m);
void chord__replica_handle_sync(struct chord_node *n, uint64_t now,
                                const struct chord_msg *m);
/* Answers (m) or failures (m == NULL) of replica.c's requests. */
void chord__replica_answer(struct chord_node *n, uint64_t now,
                           const struct rpc *r, const struct chord_msg *m);
/* An orphan lookup finished. */
void chord__replica_orphan_owner(struct chord_node *n, uint64_t now, bool ok,
                                 const struct chord_peer *owner);
/* A transfer of the given purpose ended. */
void chord__replica_transfer_done(struct chord_node *n, uint8_t purpose);
/* The log became durable up to seq. */
void chord__replica_persisted(struct chord_node *n, uint64_t now);
/* Timers: anti-entropy, orphans, tombstones, quorum deadlines. */
void chord__replica_tick(struct chord_node *n, uint64_t now);
uint64_t chord__replica_deadline(const struct chord_node *n);
/* Free what pending reads and writes hold. */
void chord__replica_free(struct chord_node *n);

#endif
