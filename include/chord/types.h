/*
 * types.h - plain data shared by the protocol core, the wire codec, the
 * client library and the tools: limits, peers, versions, status reports.
 *
 * Every size cap of the system lives here, so the codec can check a length
 * against it before anything is allocated. Nothing here has behaviour.
 */
#ifndef CHORD_TYPES_H
#define CHORD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/id.h"

/* Limits. A frame carries at most one value, so FRAME_MAX > VALUE_MAX. */
#define CHORD_KEY_MAX 1024u        /* bytes in a key */
#define CHORD_VALUE_MAX (1u << 20) /* bytes in a value (1 MiB) */
#define CHORD_FRAME_MAX (2u << 20) /* bytes in a frame, header included */
#define CHORD_ADDR_MAX 64u         /* "host:port" plus NUL (chord/addr.h) */
#define CHORD_SUCC_MAX 32u         /* successor list capacity */
#define CHORD_PATH_MAX 64u         /* addresses a lookup path records */
#define CHORD_PEERS_MAX 64u        /* peers listed in a status report */
#define CHORD_ERRMSG_MAX 200u      /* bytes of an error message */
#define CHORD_CLIENT_ID_BYTES 16u  /* a client's random id (request ids) */
#define CHORD_LOCK_NAME_MAX 200u   /* bytes in a lock name */

#define CHORD_PROTOCOL_VERSION 1

/* A node as others know it: its id and the address it listens on. */
struct chord_peer {
    struct chord_id id;
    char addr[CHORD_ADDR_MAX]; /* NUL-terminated "host:port" */
};

/* The version of a write: newest wins, compared (counter, writer). */
struct chord_version {
    uint64_t counter;       /* Lamport clock of the owner at the write */
    struct chord_id writer; /* id of the node that assigned it */
};

/* A mutating request's identity: the client's random id and its
 * sequence number, the same on every retry of the request. */
struct chord_rid {
    uint8_t client[CHORD_CLIENT_ID_BYTES];
    uint64_t seq; /* > 0 */
};

/* <0, 0, >0 as a is older, equal, newer than b. */
int chord_version_cmp(const struct chord_version *a,
                      const struct chord_version *b);

/* Outcome of a request, on the wire and in client results. */
enum chord_status_code {
    CHORD_OK = 0,
    CHORD_NOT_FOUND = 1,
    CHORD_REDIRECT = 2,  /* not the owner; `hint` is a better guess */
    CHORD_TRY_AGAIN = 3, /* owner busy joining/leaving; retry shortly */
    CHORD_TOO_LARGE = 4, /* key or value over its cap */
    CHORD_BAD_REQUEST = 5,
    CHORD_UNAVAILABLE = 6,  /* the ring could not complete the operation */
    CHORD_BUSY = 7,         /* node overloaded (pending-operation cap) */
    CHORD_PRECONDITION = 8, /* a condition of the request was false (not
                               the lock's holder, a fence older than the
                               key's); nothing was written */
    CHORD_QUEUED = 9,       /* lock acquire: queued behind the holder */
    CHORD_SIBLINGS = 10,    /* a read without a context found several
                               concurrent values (siblings) */
};

/* A short English name for a status code ("ok", "not found", ...). */
const char *chord_status_name(int code);

/* How many replicas a request waits for (per request; see replica.c). */
enum chord_consistency {
    CHORD_CONSISTENCY_DEFAULT = 0, /* the node's default: quorum */
    CHORD_CONSISTENCY_ONE = 1,
    CHORD_CONSISTENCY_QUORUM = 2, /* a majority of the replicas */
    CHORD_CONSISTENCY_ALL = 3,
};

/* Lifecycle of a node. */
enum chord_node_state {
    CHORD_NODE_INIT = 0, /* created, neither created a ring nor joined */
    CHORD_NODE_JOINING,  /* looking up its successor, receiving keys */
    CHORD_NODE_ACTIVE,   /* a member serving requests */
    CHORD_NODE_LEAVING,  /* handing keys over before exit */
    CHORD_NODE_LEFT,     /* hand-off finished: the host may exit */
    CHORD_NODE_FAILED,   /* could not join: the host should exit */
};
const char *chord_node_state_name(int state);

/* How a node keeps its data (dhtd --data / --fsync). */
enum chord_durability {
    CHORD_DURABILITY_MEMORY = 0, /* no data directory: lost at exit */
    CHORD_DURABILITY_ALWAYS = 1, /* acknowledged after an fsync */
    CHORD_DURABILITY_BATCH = 2,  /* acknowledged after a group fsync */
    CHORD_DURABILITY_NEVER = 3,  /* logged; the OS flushes when it likes */
};

/* A lookup's answer: who owns the id and the route the query took. */
struct chord_lookup_path {
    uint8_t n;                                 /* addresses used */
    char addr[CHORD_PATH_MAX][CHORD_ADDR_MAX]; /* visited, in order */
};

struct chord_lookup_result {
    struct chord_id key_id;
    struct chord_peer owner;
    uint8_t hops;                  /* messages between nodes to resolve it */
    struct chord_lookup_path path; /* contacted node first, owner last */
};

/* Liveness of a monitored peer. */
enum chord_peer_state {
    CHORD_PEER_ALIVE = 0,
    CHORD_PEER_SUSPECTED = 1,
    CHORD_PEER_DEAD = 2,
};
const char *chord_peer_state_name(int state);

struct chord_peer_info {
    char addr[CHORD_ADDR_MAX];
    uint8_t state;             /* enum chord_peer_state */
    uint32_t rtt_ms;           /* smoothed round trip, 0 if unknown */
    uint32_t timeout_ms;       /* current timeout for this peer */
    uint32_t false_suspicions; /* suspicions later proved wrong */
};

struct chord_finger_info {
    struct chord_id start; /* self + 2^i */
    struct chord_peer node;
};

/* What `dht status` shows. Large (~20 KiB): allocate it, do not put many
 * on a stack. */
struct chord_status {
    struct chord_peer self;
    uint8_t state; /* enum chord_node_state */
    bool has_pred;
    struct chord_peer pred;
    uint8_t n_succ;
    struct chord_peer succ[CHORD_SUCC_MAX];
    uint8_t n_fingers; /* fingers that are set, in increasing i */
    struct chord_finger_info fingers[CHORD_ID_BITS];
    uint64_t keys;         /* live keys held, primary and replica copies */
    uint64_t primary_keys; /* of those, the keys this node owns */
    uint8_t replicas;      /* copies kept of each key (configured) */
    uint8_t n_peers;
    struct chord_peer_info peers[CHORD_PEERS_MAX];
    uint8_t durability;     /* enum chord_durability */
    uint64_t status_served; /* status requests this node has answered,
                               this one included, since it started */
};

#endif
