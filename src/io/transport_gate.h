/*
 * transport_gate.h - the transport's defences, as bookkeeping without I/O:
 * which connection may come in, how far an input buffer may grow, which
 * connection is idle or sends its frame too slowly, and how much one
 * connection may read in one turn of the loop.
 *
 * Every connection of a transport embeds one struct chord_gate_slot and
 * sits in exactly one pool:
 *   NEW     inbound, no frame header seen yet;
 *   CLIENT  inbound, its first frame a client request (C_*);
 *   PEER    inbound, its first frame node-to-node;
 *   OUT     outbound (a peer this node called).
 * Each pool has its own cap, so connections of one kind can never lock the
 * other kinds out: clients fill CLIENT and NEW, never PEER. A pool at its
 * cap admits a newcomer only by closing its least recently active member,
 * and only one idle for at least `evict_idle_ms` and not busy (the
 * transport says what busy is: a reply owed or bytes queued), so a flood
 * of idle connections gives way to real ones, and a flood of active ones
 * is refused instead.
 *
 * Input buffers are charged against a budget, all of them against
 * `budget` and those of NEW and CLIENT connections also against
 * `client_budget`, so clients can never take what peers need. A buffer
 * grows with the bytes that actually arrived (chord_gate_grow), never from
 * a length prefix. When growing would go over a budget, the connection
 * holding the most of it is named to be closed: a flood of big partial
 * frames loses its largest member first, a small frame still gets in.
 *
 * A frame in progress must arrive at `min_rate` bytes per second once
 * `grace_ms` have passed since its first byte; a NEW or CLIENT connection
 * with no activity for `idle_timeout_ms` is idle and closed (PEER
 * connections are not: closing one would make its node report this one
 * unreachable). One connection reads at most `turn_conn_max` bytes and all
 * of them `turn_max` in one loop turn before reading pauses until the next
 * turn, so one flood cannot hold the loop.
 *
 * What it does not do: it owns no memory and closes nothing; it names the
 * connections to close and the transport closes them. Times are the
 * loop's milliseconds, given by the caller.
 */
#ifndef CHORD_IO_TRANSPORT_GATE_H
#define CHORD_IO_TRANSPORT_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- defaults (chord_gate_limits_default) --------------------------------
 * The pool caps are also the most a caller may set: the transport sizes its
 * tables by them. */

/* Inbound connections that have not sent a frame header yet. */
#define CHORD_GATE_NEW_MAX 1024u
/* Inbound connections whose first frame was a client request. */
#define CHORD_GATE_CLIENT_MAX 1024u
/* Inbound connections whose first frame was node-to-node: a node's
 * predecessors, the nodes whose fingers name it, lookups forwarded to it. */
#define CHORD_GATE_PEER_MAX 512u
/* Outbound connections (distinct peers this node calls) open at once. */
#define CHORD_GATE_OUT_MAX 256u
/* A NEW or CLIENT connection with no activity for this long is closed
 * (ms; 0: never). Activity: a byte read, a reply queued, a write done. */
#define CHORD_GATE_IDLE_TIMEOUT_MS 60000u
/* A pool at its cap closes its least recently active member for a
 * newcomer only when that one has been idle this long (ms). */
#define CHORD_GATE_EVICT_IDLE_MS 1000u
/* Members looked at from the idle end of a pool for one to close. */
#define CHORD_GATE_EVICT_SCAN 16u
/* Bytes of input buffers over all connections. */
#define CHORD_GATE_BUDGET (24u << 20)
/* Of which NEW and CLIENT connections may hold at most this much. */
#define CHORD_GATE_CLIENT_BUDGET (12u << 20)
/* A frame in progress must arrive at this many bytes per second... */
#define CHORD_GATE_MIN_RATE (32u << 10)
/* ...once this long has passed since its first byte (ms). */
#define CHORD_GATE_GRACE_MS 3000u
/* Bytes one connection reads in one loop turn before it pauses. */
#define CHORD_GATE_TURN_CONN_MAX (256u << 10)
/* Bytes all connections read in one loop turn before each pauses after
 * its next read. */
#define CHORD_GATE_TURN_MAX (4u << 20)
/* chord_transport_reconnect() keeps an outbound connection opened less
 * than this long ago (ms): it is fresh, not stuck. */
#define CHORD_GATE_RECONNECT_FRESH_MS 1000u

/* ---- fixed -------------------------------------------------------------- */

/* First size of an input buffer, and the least it grows by. */
#define CHORD_GATE_IN_START (4u << 10)
/* A buffer with less room than this grows before the next read. */
#define CHORD_GATE_IN_ROOM_MIN (1u << 10)
/* chord_gate_trim() says yes once after the charged bytes passed the
 * first and fell under the second. */
#define CHORD_GATE_TRIM_PEAK (4u << 20)
#define CHORD_GATE_TRIM_LOW (256u << 10)

enum chord_gate_pool {
    CHORD_GATE_NEW = 0,
    CHORD_GATE_CLIENT = 1,
    CHORD_GATE_PEER = 2,
    CHORD_GATE_OUT = 3,
    CHORD_GATE_POOLS = 4,
};

struct chord_gate_limits {
    uint32_t max[CHORD_GATE_POOLS]; /* connections per pool (clamped to the
                                       defaults, which are the most) */
    uint32_t idle_timeout_ms;       /* 0: never */
    uint32_t evict_idle_ms;
    size_t budget;        /* input buffer bytes, all connections */
    size_t client_budget; /* of which NEW + CLIENT (<= budget) */
    uint32_t min_rate;    /* bytes per second; 0: no minimum */
    uint32_t grace_ms;
    size_t turn_conn_max; /* bytes per connection per loop turn */
    size_t turn_max;      /* bytes per loop turn, all connections */
    uint32_t reconnect_fresh_ms;
};

/* One connection's entry; embedded in the connection, zeroed before
 * chord_gate_add(). The transport reads the fields, only the gate writes
 * them. */
struct chord_gate_slot {
    struct chord_gate_slot *prev, *next; /* in its pool, most recent first */
    uint8_t pool;                        /* enum chord_gate_pool */
    bool linked;                         /* in a pool (between add/remove) */
    uint64_t opened_ms;                  /* chord_gate_add() */
    uint64_t active_ms;                  /* last activity */
    uint64_t frame_start_ms; /* first byte of the frame in progress */
    size_t partial;          /* bytes of that frame held; 0: none */
    size_t charged;          /* input buffer bytes counted */
    unsigned unanswered;     /* client requests delivered, not replied */
    uint64_t turn;           /* the loop turn `turn_bytes` counts */
    size_t turn_bytes;       /* bytes read in that turn */
};

struct chord_gate {
    struct chord_gate_limits lim;
    /* Is this member busy (not to be closed for a newcomer)? */
    bool (*busy)(const struct chord_gate_slot *s);
    struct chord_gate_slot *head[CHORD_GATE_POOLS], *tail[CHORD_GATE_POOLS];
    size_t count[CHORD_GATE_POOLS];
    size_t charged;        /* sum of slot->charged */
    size_t client_charged; /* of NEW + CLIENT slots */
    size_t peak;           /* most charged since the last trim */
    uint64_t turn;         /* loop turns begun */
    size_t turn_bytes;     /* read in this turn, all connections */
};

/* Fill *l with the defaults above. */
void chord_gate_limits_default(struct chord_gate_limits *l);

/* Start an empty gate with a copy of `l` (clamped: pool caps to the
 * defaults, client_budget to budget). `busy` may be NULL (never busy). */
void chord_gate_init(struct chord_gate *g, const struct chord_gate_limits *l,
                     bool (*busy)(const struct chord_gate_slot *s));

/* Replace the limits of a gate in use (clamped as above); members over a
 * new cap stay, newcomers wait for room. */
void chord_gate_set_limits(struct chord_gate *g,
                           const struct chord_gate_limits *l);

/*
 * May one more connection join `pool` now? 0: there is room. 1: there is
 * room once *victim (the least recently active member idle for at least
 * evict_idle_ms and not busy) is closed and removed. -ENOBUFS: no room.
 */
int chord_gate_admit(const struct chord_gate *g, int pool, uint64_t now,
                     struct chord_gate_slot **victim);

/* Put a zeroed slot in `pool` as its most recent member. */
void chord_gate_add(struct chord_gate *g, struct chord_gate_slot *s, int pool,
                    uint64_t now);

/* Move a member to `pool` (a NEW connection classified), most recent. */
void chord_gate_move(struct chord_gate *g, struct chord_gate_slot *s, int pool,
                     uint64_t now);

/* Take a member out of its pool and out of the budget. Idempotent. */
void chord_gate_remove(struct chord_gate *g, struct chord_gate_slot *s);

/* The member was active now: it becomes the most recent of its pool. */
void chord_gate_touch(struct chord_gate *g, struct chord_gate_slot *s,
                      uint64_t now);

/* The pool a connection belongs in after its first frame header: CLIENT
 * for a client request type, PEER otherwise. */
int chord_gate_classify(uint8_t msg_type);

/*
 * The capacity an input buffer holding `len` bytes in `cap` should have
 * before the next read: `cap` while at least CHORD_GATE_IN_ROOM_MIN bytes
 * are free, else max(cap * 3/2, len + CHORD_GATE_IN_START), at most
 * `most` (but never under len + 1 while len < most).
 */
size_t chord_gate_grow(size_t cap, size_t len, size_t most);

/*
 * Charge member `s` with an input buffer of `cap` bytes instead of what it
 * was charged before. Shrinking always succeeds (0). Growing: 0 when it
 * fits both budgets (the charge is made); 1 with *victim, the member
 * holding the most of the budget that would overflow, when closing that
 * one makes room (nothing charged: close it and call again); -ENOBUFS
 * when `s` itself holds the most: `s` is to be closed.
 */
int chord_gate_charge(struct chord_gate *g, struct chord_gate_slot *s,
                      size_t cap, struct chord_gate_slot **victim);

/* After the bytes of a read were split into frames: `partial` bytes of an
 * unfinished frame are held, and `frame_done` says whether a frame was
 * completed by this read (then the partial one began now). */
void chord_gate_progress(struct chord_gate_slot *s, size_t partial,
                         bool frame_done, uint64_t now);

/* Is the frame in progress of `s` arriving under the minimum rate? */
bool chord_gate_too_slow(const struct chord_gate *g,
                         const struct chord_gate_slot *s, uint64_t now);

/* The least recently active NEW or CLIENT member idle for at least
 * idle_timeout_ms, or NULL. Remove it before asking again. */
struct chord_gate_slot *chord_gate_idle(const struct chord_gate *g,
                                        uint64_t now);

/* A client request was delivered on `s` (counted only on CLIENT). */
void chord_gate_request(struct chord_gate_slot *s, uint8_t msg_type);

/* A reply was queued on `s`: one request less owed, and it is active. */
void chord_gate_replied(struct chord_gate *g, struct chord_gate_slot *s,
                        uint64_t now);

/* A new loop turn begins: the per-turn read counts start over. */
void chord_gate_new_turn(struct chord_gate *g);

/* Bytes `s` may still read in this loop turn (at least 1: a conn asked
 * to read has not been paused, so it may take one byte). */
size_t chord_gate_turn_left(const struct chord_gate *g,
                            const struct chord_gate_slot *s);

/* `n` bytes were read on `s` now (it is active). True when it has read
 * its share of this turn (or all have) and must pause until the next. */
bool chord_gate_read(struct chord_gate *g, struct chord_gate_slot *s, size_t n,
                     uint64_t now);

/* True once each time the charged bytes, after passing
 * CHORD_GATE_TRIM_PEAK, fell under CHORD_GATE_TRIM_LOW: a good moment to
 * give freed memory back to the system. */
bool chord_gate_trim(struct chord_gate *g);

#endif
