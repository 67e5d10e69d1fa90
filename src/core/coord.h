/*
 * coord.h - client operations (put, get, del, lookup) coordinated by the
 * node the client contacted, and the owner's side of STORE_* requests.
 *
 * The coordinator looks the key up (lookup.h), then sends STORE_* to the
 * owner (or executes it itself when it is the owner). The owner checks
 * that it owns the key: if not it answers REDIRECT with a better guess
 * (placement.h); while joining or leaving it answers TRY_AGAIN; else it
 * hands the request to replica.c, whose outcome comes back through the
 * `done` carried in the request. The coordinator retries (after
 * CHORD_OP_RETRY_MS, looking the owner up afresh) until the operation's
 * deadline (cfg.op_timeout_ms), then tells the client why it failed.
 *
 * Owner cache. FOUND_SUCC carries the start of the owner's range; the
 * coordinator remembers up to CHORD_RCACHE_MAX ranges for
 * CHORD_RCACHE_TTL_MS, and sends a first try on a key of a known range
 * straight to its owner (a stale entry costs one redirect).
 *
 * Pure: no I/O, no clock. Calls peer.c, placement.c, lookup.c, replica.c
 * and membership.c (where to send clients while the node is not serving).
 */
#ifndef CHORD_CORE_COORD_H
#define CHORD_CORE_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "chord/lock.h"
#include "core/seq.h"
#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_OP_RETRY_MS 50      /* pause before an operation retries */
#define CHORD_RCACHE_MAX 64       /* owner ranges a node remembers */
#define CHORD_RCACHE_TTL_MS 10000 /* ... for this long */

/* An owner's range (lo, owner.id], learned from a lookup. */
struct rcache_entry {
    struct chord_id lo;
    struct chord_peer owner;
    uint64_t expires; /* 0: free */
};

enum op_state { OP_LOOKUP = 1, OP_STORE, OP_WAIT };

/* Where the outcome of an operation the node started itself goes (a lock
 * release applying its queue): status and the error text (or NULL). */
typedef void (*chord_op_done_fn)(struct chord_node *n, uint64_t now,
                                 uint64_t arg, uint8_t status,
                                 const char *error);

/* A client operation coordinated by this node. */
struct op {
    struct chord_seq_hdr h;
    uint8_t type; /* CHORD_MSG_C_PUT .. C_LOOKUP, C_RESTORE */
    uint8_t state;
    uint8_t consistency;
    uint64_t conn, client_req;
    uint64_t started; /* when the client asked */
    uint64_t deadline;
    uint64_t retry_at;
    uint64_t rpc; /* request in flight, 0 if none */
    unsigned attempts, redirects;
    struct chord_id key_id;
    uint8_t *key; /* owned copies */
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    struct chord_version version; /* C_RESTORE: the version to keep */
    char last_error[96];
    /* Mutations: the request id and fence the client sent. */
    bool has_rid;
    struct chord_rid rid;
    bool has_fence;
    uint8_t *fence_name; /* owned */
    size_t fence_name_len;
    uint64_t fence;
    /* C_LOCK: key is the lock's name (key_id its position). */
    uint8_t lock_op;
    uint8_t lock_client[CHORD_CLIENT_ID_BYTES];
    uint64_t lock_fence;
    uint32_t lease_ms;
    uint8_t *key2; /* owned; lock append's key */
    size_t key2_len;
    /* The causal trailer the client sent (CHORD_CAUSAL_* bits; context
     * and session owned copies). */
    uint8_t causal;
    uint8_t *context;
    size_t context_len;
    uint8_t *session;
    size_t session_len;
    uint32_t ttl_s;
    bool drop_reply;       /* fault injection: the client hears nothing */
    chord_op_done_fn done; /* an operation of the node's own, or NULL */
    uint64_t done_arg;
};

struct chord_coord {
    struct chord_seq ops;        /* struct op, in deadline order */
    uint64_t waiting;            /* ops in OP_WAIT */
    struct rcache_entry *rcache; /* CHORD_RCACHE_MAX, made on first use */
    struct chord_msg *scratch;   /* a store request being built, made on
                                    first use (no 15 KB malloc per op) */
    bool scratch_busy;           /* ... in use: a nested op takes its own */
};

void chord__coord_init(struct chord_coord *c);
void chord__coord_free(struct chord_coord *c);

/* A client request (C_PUT, C_GET, C_DEL, C_LOOKUP, C_RESTORE) on
 * connection conn. C_RESTORE is a put that keeps the version it carries
 * (STORE_RESTORE at the owner: applied only when newer). */
void chord__coord_client(struct chord_node *n, uint64_t now, uint64_t conn,
                         const struct chord_msg *m);
/* Start an operation of the node's own: m is a client request (C_APPEND,
 * C_PUT, C_DEL with its request id), coordinated like a client's; its
 * outcome goes to done(arg) instead of a connection. 0, or -ENOMEM /
 * -EBUSY (nothing started: done is not called). */
int chord__coord_internal(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m, chord_op_done_fn done,
                          uint64_t arg);
/* STORE_PUT / STORE_GET / STORE_DEL / STORE_RESTORE / STORE_APPEND /
 * STORE_LOCK from a coordinator. */
void chord__coord_store(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m);
/* The answer of an RPC_STORE request; the failure of an RPC_STORE or
 * RPC_LOOKUP_OP request. */
void chord__coord_answer(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_msg *m);
void chord__coord_failed(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const char *why);
/* Deadlines and retries; the earliest time one is due. */
void chord__coord_tick(struct chord_node *n, uint64_t now);
/* Fill r (a client reply) for a node that does not serve clients now:
 * REDIRECT naming one that does, else TRY_AGAIN; status and error set. */
void chord__coord_not_serving(const struct chord_node *n, struct chord_msg *r);
uint64_t chord__coord_deadline(const struct chord_node *n);

#endif
