/*
 * replica.h - a key at its owner: replicated writes with write quorums,
 * reads with read quorums, hedged requests and read repair.
 *
 * Writes. The owner applies the write to the key's causal state
 * (core/dvv.h): a new dot (its Lamport counter, its own id), the
 * siblings the write's context covers superseded (no context: all the
 * owner holds). It logs and applies the new state (commit.h) and sends it
 * to the replicas (placement.h) in a TRANSFER with the REPLICA flag, one
 * frame per replica for all the writes of one turn (replica_batch.h); a
 * replica merges it into its copy. A replica acknowledges once its copy
 * is durable. The write succeeds when W copies
 * are durable (ours included): W = 1, a majority of the factor, or all of
 * it, for consistency one / quorum / all. If W copies cannot be had
 * before the deadline the writer is told so; copies that did land are not
 * undone (anti-entropy spreads them), as in Dynamo: a failed write may
 * still become visible.
 *
 * Reads. The owner reads its copy (alone, under the read lease: see
 * read_lease.h) and asks R-1 replicas (REPLICA_GET), and the next one
 * whenever one fails or is slow to answer (a hedged request: after a few
 * of its round trips); the answer is the merge of the R states
 * (tombstones included, so a delete is not undone by a stale copy;
 * concurrent values all kept), values past their TTL collected. A read
 * with a session context (the least state the client may be shown) is
 * answered only by a merged state covering it: short of that the owner
 * asks every replica, and if none brings it up to date it answers
 * TRY_AGAIN (the coordinator retries until the operation's deadline).
 * Once every asked replica has answered (or the deadline passed),
 * replicas seen with a state lacking something of the merge get it (read
 * repair), and so does the owner; the replicas not asked are
 * anti-entropy's business (sync.h).
 *
 * Outcomes go to the `done` function the request carries (struct
 * chord_reply_to): replica.c never calls the coordinator.
 *
 * Pure: no I/O, no clock. Calls peer.c, commit.c, placement.c,
 * read_lease.c, keystate.c and dvv.c.
 */
#ifndef CHORD_CORE_REPLICA_H
#define CHORD_CORE_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dvv.h"
#include "core/replica_batch.h"
#include "core/seq.h"
#include "core/wire.h"

struct chord_node;
struct rpc;
struct chord_reply_to;

/* Where a store outcome goes: status (CHORD_OK, NOT_FOUND, SIBLINGS,
 * PRECONDITION, REDIRECT with a hint, TRY_AGAIN, UNAVAILABLE, BUSY...),
 * an error text or NULL, for a read the value (or a lock's record), and
 * the key's state blob after the operation (core/dvv.h) when the asker
 * wants it (want_state) or NULL; all borrowed for the call. */
typedef void (*chord_store_done_fn)(struct chord_node *n, uint64_t now,
                                    const struct chord_reply_to *to,
                                    uint8_t status, const char *error,
                                    const struct chord_peer *hint,
                                    const uint8_t *value, size_t value_len,
                                    const struct chord_bytes *state);

/* Who asked, and where the outcome goes. */
struct chord_reply_to {
    chord_store_done_fn done;
    uint64_t op;               /* a client operation of this node, or 0 */
    char addr[CHORD_ADDR_MAX]; /* ... else the coordinator that asked */
    uint64_t req;              /* ... and its request id */
    bool want_state;           /* the outcome carries the key's state */
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
    uint8_t *state;     /* the state written, encoded (want_state), owned */
    size_t state_len;
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
    /* the merge of the states seen so far, encoded (owned) */
    uint8_t *state;
    size_t state_len;
    uint64_t own_hash; /* of our own state when the read began */
    uint8_t *session;  /* the session context to cover (owned), or NULL */
    size_t session_len;
    /* the replicas, in order; the first n_asked were asked, and the
     * hash of the state each one had */
    unsigned n_targets;
    struct chord_peer targets[CHORD_SUCC_MAX];
    unsigned n_asked;
    struct chord_peer asked[CHORD_SUCC_MAX];
    uint64_t seen[CHORD_SUCC_MAX];
    bool answered_by[CHORD_SUCC_MAX];
};

struct chord_replicas {
    struct chord_seq writes;     /* struct pwrite */
    struct chord_seq reads;      /* struct pread */
    struct chord_rbatches batch; /* copies on their way (replica_batch.h) */
};

void chord__replicas_init(struct chord_replicas *r);
/* Send the copies held for the replicas (chord_node_flush): how many
 * frames went out. */
unsigned chord__replica_flush(struct chord_node *n, uint64_t now);
/* Free what pending reads and writes hold (no outcome is delivered). */
void chord__replicas_free(struct chord_replicas *r);

/* Owner side of a write (the caller checked that this node owns the key
 * and the write's preconditions). `item` is the new sibling: key, value
 * or tombstone, deadline, origin, fence (its version and state are
 * ignored). `state` is the key's stored state as the caller loaded it
 * (chord__keystate_load; changed in place into the new one), or NULL to
 * have it loaded here. The write supersedes the siblings `ctx` covers
 * (NULL: every sibling the owner holds); the outcome goes to to->done,
 * maybe before the call returns, with the new state when
 * to->want_state. */
void chord__replica_write(struct chord_node *n, uint64_t now,
                          const struct chord_item *item,
                          struct chord_dvv *state, const struct chord_dvv *ctx,
                          uint8_t consistency, const struct chord_reply_to *to);
/* A restore: `item` keeps its version and is ordered by it alone (the
 * legacy newest-wins rule, chord_dvv_merge_legacy): when the stored state
 * is as new it answers OK and changes nothing (a restore repeated is a
 * no-op), else it is written and replicated like any write. */
void chord__replica_restore(struct chord_node *n, uint64_t now,
                            const struct chord_item *item, uint8_t consistency,
                            const struct chord_reply_to *to);
/* Owner side of a read. `session` (may be NULL or empty): a context the
 * answer must cover. */
void chord__replica_read(struct chord_node *n, uint64_t now, const uint8_t *key,
                         size_t key_len, uint8_t consistency,
                         const struct chord_bytes *session,
                         const struct chord_reply_to *to);
/* REPLICA_GET arrived: answer with our copy. */
void chord__replica_handle_get(struct chord_node *n, const struct chord_msg *m);
/* The answer (m) or failure (m == NULL) of RPC_REPLICATE, RPC_REPLICA_GET
 * and RPC_REPAIR. */
void chord__replica_answer(struct chord_node *n, uint64_t now,
                           const struct rpc *r, const struct chord_msg *m);
/* The log became durable up to commit.durable_seq. */
void chord__replica_persisted(struct chord_node *n, uint64_t now);
/* Deadlines and hedges (and copies held: sent); the earliest time one
 * is due. */
void chord__replica_tick(struct chord_node *n, uint64_t now);
uint64_t chord__replica_deadline(const struct chord_node *n);

#endif
