/*
 * fd.h - the failure detector: per-peer liveness from heartbeats, with a
 * timeout that adapts to the measured round trip and grows when it proved
 * too short (an eventually perfect detector).
 *
 * The node sends a heartbeat (PING) to each monitored peer every
 * heartbeat period and reports to the detector what it sent and what it
 * heard. A peer whose oldest unanswered heartbeat is older than its
 * timeout becomes SUSPECTED; one suspected for longer than `dead_after_ms`
 * becomes DEAD (the node then removes it from routing and repairs its
 * data). Any message from a suspected or dead peer makes it ALIVE again at
 * once: that suspicion was false, so the peer's timeout grows (a penalty
 * that decays slowly while the peer behaves).
 *
 * The timeout is RFC 6298's retransmission timeout, RTO = SRTT +
 * max(1 ms, 4 * RTTVAR) (gains 1/8 and 1/4; `initial_ms` until the first
 * sample), raised to the floor, plus the penalty, capped at the ceiling:
 * timeout = min(ceil, max(floor, RTO) + penalty), rounded up to whole ms.
 * The penalty sits above the floor so that a false suspicion really
 * doubles the timeout even when the RTO is far below the floor.
 * See fd.c's banner for why RTO rather than phi-accrual.
 *
 * Local pause guard: if chord_fd_tick() is called after a gap much longer
 * than the heartbeat period, this node was stalled (stopped, swapped,
 * starved); the silence it saw was its own doing, so every pending
 * heartbeat is treated as sent at the end of the gap and no one is
 * convicted for it.
 *
 * Pure: no I/O, no clock (every call takes `now` in ms, from a monotonic
 * clock, never 0: 0 means "never" in the fields below). The table grows
 * with the peers it holds, CHORD_FD_GROW slots at a time, up to
 * CHORD_FD_PEERS (a node watches a dozen and hears from two dozen), and
 * an index hashed by address finds a peer in O(1); a peer that cannot be
 * given a slot (out of memory) is not tracked, as below. Pointers to
 * entries are valid until the next call that may create one (monitor,
 * heard, unreachable, dead_until). When the table is full, a new peer takes
 * the slot of the least recently used unmonitored one (one outside its
 * dead window, if any is); when every slot is
 * monitored, the new peer is not tracked at all: calls about it do
 * nothing, chord_fd_find() returns NULL and chord_fd_usable() true.
 * An address longer than CHORD_ADDR_MAX - 1 bytes is never tracked.
 *
 * The table also holds each peer's dead window (`dead_until`): the node's
 * one record of peers it found dead (see peer.h for the rule). Hearing
 * from a peer closes its window; forgetting a peer keeps the window (a
 * peer that left stays shunned for a while) but drops its history.
 */
#ifndef CHORD_FD_H
#define CHORD_FD_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/types.h"

#define CHORD_FD_PEERS 64  /* slots at most */
#define CHORD_FD_GROW 4    /* slots added at a time */
#define CHORD_FD_INDEX 128 /* hash index entries (2 x CHORD_FD_PEERS) */

struct chord_fd_config {
    uint32_t heartbeat_ms;  /* period between heartbeats (200) */
    uint32_t floor_ms;      /* lowest timeout (250) */
    uint32_t ceil_ms;       /* highest timeout (10000) */
    uint32_t initial_ms;    /* timeout before any round trip is known (1000) */
    uint32_t dead_after_ms; /* suspected this long -> dead (1500) */
    uint32_t penalty_ms;    /* added per false suspicion (timeout doubles
                               at least); decays by half every
                               `penalty_halflife_ms` of good behaviour */
    uint32_t penalty_halflife_ms; /* (60000) */
    uint32_t pause_ms;            /* a tick gap beyond this is a local pause
                                     (heartbeat_ms * 5; the node, which ticks
                                     every heartbeat, uses 2) */
};
/* chord_fd_init() replaces every zero field by its default (pause_ms by
 * 5 * heartbeat_ms of the given config) and raises ceil_ms to floor_ms
 * if it is lower. */

struct chord_fd_peer {
    char addr[CHORD_ADDR_MAX]; /* "" = free slot */
    uint32_t addr_hash;        /* fd.c's hash of addr, looked at first */
    bool monitored;            /* heartbeats are being sent to it */
    uint8_t state;             /* enum chord_peer_state */
    bool refused;              /* DEAD because the host reported it
                                  unreachable, not by timeout: hearing
                                  from it again is a restart, not a false
                                  suspicion */
    bool rtt_known;
    double srtt_ms, rttvar_ms;
    double penalty_ms;
    uint32_t false_suspicions;
    uint64_t last_heard;    /* last message from the peer */
    uint64_t pending_since; /* oldest unanswered heartbeat, 0 = none */
    uint64_t state_since;   /* when the state last changed */
    uint64_t penalty_at;    /* when the penalty was last decayed */
    uint64_t last_used;     /* for recycling slots */
    uint64_t dead_until;    /* found dead: shunned until then (0: not) */
};

struct chord_fd {
    struct chord_fd_config cfg;
    struct chord_fd_peer *peers; /* n_slots slots, free or used */
    unsigned n_slots;
    /* Open addressing on addr_hash: slot + 1 of each used slot, 0 empty. */
    uint8_t index[CHORD_FD_INDEX];
    uint64_t last_tick;
};

void chord_fd_config_default(struct chord_fd_config *cfg);
void chord_fd_init(struct chord_fd *fd, const struct chord_fd_config *cfg);
/* Release the table (the detector is then empty, as after init). */
void chord_fd_free(struct chord_fd *fd);

/* The entry for addr, or NULL if it is not known. */
const struct chord_fd_peer *chord_fd_find(const struct chord_fd *fd,
                                          const char *addr);

/* Start or stop sending heartbeats to addr (stopping keeps its history
 * and its state, but it is no longer convicted or promoted to DEAD, and
 * its pending heartbeat is dropped; a suspected peer stays unusable until
 * heard from or forgotten). Starting creates the entry, ALIVE. */
void chord_fd_monitor(struct chord_fd *fd, const char *addr, bool on,
                      uint64_t now);

/* A heartbeat was sent to addr at `now`. Only the oldest unanswered one
 * counts for suspicion. Ignored unless addr is monitored. */
void chord_fd_sent(struct chord_fd *fd, const char *addr, uint64_t now);

/*
 * Something arrived from addr at `now` (an unknown addr gets an entry when
 * the message answers something: rtt_ms >= 0).
 * `rtt_ms` >= 0 when it answers a heartbeat (or another request) sent
 * rtt_ms ago, which clears the pending heartbeat (whichever heartbeat it
 * answers) and feeds the estimator (samples capped at ceil_ms); -1 for
 * any other message, which leaves a pending heartbeat pending.
 * It closes the peer's dead window.
 * Returns true when the peer was SUSPECTED or DEAD: it is ALIVE again with
 * no heartbeat pending. If it was SUSPECTED or DEAD by timeout, that was a
 * false suspicion: false_suspicions grew and the penalty by
 * max(penalty_ms, the timeout that proved too short), so the timeout at
 * least doubles. If it was DEAD because it was unreachable (`refused`), it
 * restarted: neither grows.
 */
bool chord_fd_heard(struct chord_fd *fd, const char *addr, int64_t rtt_ms,
                    uint64_t now);

/* The host reported addr unreachable (refused, reset): DEAD at once,
 * `refused` set, no event (the caller knows). Creates the entry if
 * needed, so the peer becomes unusable. */
void chord_fd_unreachable(struct chord_fd *fd, const char *addr, uint64_t now);

/* Forget addr's history (it left gracefully): its slot is freed, unless
 * it is within its dead window, which then stays (and nothing else). */
void chord_fd_forget(struct chord_fd *fd, const char *addr);

/* addr is dead until `until` (creates the entry if needed; a later time
 * than the current window extends it, an earlier one is ignored). */
void chord_fd_dead_until(struct chord_fd *fd, const char *addr, uint64_t now,
                         uint64_t until);

/* Is addr within its dead window at `now`? */
bool chord_fd_is_dead(const struct chord_fd *fd, const char *addr,
                      uint64_t now);

/* The current timeout for a peer (ms); for p == NULL, the timeout an
 * unknown peer would start with. The penalty decays in chord_fd_tick(),
 * so this is the value as of the last tick. */
uint32_t chord_fd_timeout(const struct chord_fd *fd,
                          const struct chord_fd_peer *p);

/* A change of state found by chord_fd_tick(). */
struct chord_fd_event {
    char addr[CHORD_ADDR_MAX];
    uint8_t state; /* new state: SUSPECTED or DEAD */
};

/*
 * Advance to `now`: apply the pause guard, convict monitored peers whose
 * heartbeat is overdue (now - pending_since > timeout: SUSPECTED), promote
 * suspicions older than dead_after_ms (DEAD), then decay the penalties of
 * ALIVE peers. At most one change per peer per call. Writes at most `max`
 * events and returns how many (state changes beyond max are found by the
 * next call). Returns -1 (and no events) when it detected a local pause of
 * this node (now - previous tick > pause_ms): every pending heartbeat and
 * every suspicion then counts as starting at `now`, and no one is
 * convicted. The caller should tick at least every heartbeat period, or
 * an idle gap reads as a pause.
 */
int chord_fd_tick(struct chord_fd *fd, uint64_t now,
                  struct chord_fd_event *events, int max);

/* The earliest time at which chord_fd_tick() could change a state
 * (UINT64_MAX when nothing is pending): a tick before it changes no
 * state, a tick at it changes one (unless that tick is a pause). It may be <=
 * the last tick when a decayed penalty brought a deadline forward: tick again
 * at once. */
uint64_t chord_fd_next_deadline(const struct chord_fd *fd);

/* Is addr usable for routing and replica sets (not suspected or dead)?
 * Unknown peers are usable. */
bool chord_fd_usable(const struct chord_fd *fd, const char *addr);

#endif
