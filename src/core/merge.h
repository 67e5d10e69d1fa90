/*
 * merge.h - ring unification: finding peers again after a partition or a
 * restart, and merging two rings into one.
 *
 * After a network partition each side closes into a ring of its own
 * (stabilize routes around the peers it cannot reach); when the network
 * heals nothing in Chord's maintenance brings the two rings back
 * together, since no node of one knows a node of the other any more. So,
 * after Shafaat, Ghodsi and Haridi ("Handling network partitions and
 * mergers in structured overlay networks", P2P 2007):
 *
 *  - Every node remembers peers it has reason to look for: the peers its
 *    failure detector declared dead (or the host found unreachable), the
 *    seeds it joined through, and the peers it knew before a restart
 *    (chord_node_remember). At most CHORD_MERGE_PEERS, each forgotten
 *    after CHORD_MERGE_FORGET_MS without an answer.
 *  - It probes each with a PING once its dead window is over (peer.h),
 *    backing off from CHORD_MERGE_PROBE_MS while it stays silent: every
 *    2 s at most during its first minute of silence (a healed partition
 *    is found within about 2 s), every 10 s up to ten minutes, then every
 *    minute, so a node that is gone for good costs little.
 *  - When one, q, answers, the node looks q's id up in its own ring. If
 *    the owner is q, q is on this ring: nothing to do (forgotten). If not,
 *    q lives on another ring: the node starts a merge wave.
 *  - A wave is a MERGE message that travels along successors (at most
 *    CHORD_MERGE_WAVE_HOPS nodes; a node handles a wave once). Each node
 *    it reaches asks q's ring for its own successor there (a lookup of
 *    self + 1 sent through q, answered by the owner itself, so the node
 *    named is alive) and offers the answer to stabilize, which adopts it
 *    when it lies between the node and its successor. Then every node of
 *    both rings has its true successor among the union, and stabilize and
 *    rectify settle predecessors, successor lists and, through
 *    anti-entropy and orphan hand-back, the keys.
 *
 * The other ring's nodes remember this one's as dead too, so waves run on
 * both sides. Pure: no I/O, no clock. Calls peer.c, lookup.c and ring.c;
 * called by membership.c and node.c.
 */
#ifndef CHORD_CORE_MERGE_H
#define CHORD_CORE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

struct chord_node;
struct rpc;

#define CHORD_MERGE_PEERS 64 /* peers remembered at once */
#define CHORD_MERGE_PROBE_MS                                                   \
    500                               /* first probe after this long, then     \
                                         doubling up to a cap that grows with  \
                                         the silence: */
#define CHORD_MERGE_CAP_SHORT_MS 2000 /* silent under a minute */
#define CHORD_MERGE_CAP_MID_MS 10000  /* ... under ten minutes */
#define CHORD_MERGE_CAP_LONG_MS 60000 /* ... longer */
#define CHORD_MERGE_FORGET_MS 3600000 /* silent this long: forgotten */
#define CHORD_MERGE_WAVE_HOPS 255     /* nodes a wave visits at most */
#define CHORD_MERGE_WAVES_SEEN 32     /* waves a node remembers handling */
#define CHORD_MERGE_STEP_MS                                                    \
    250 /* a node asks the other ring at most once                             \
           per this long, whatever the waves */

/* A peer to find again. */
struct merge_peer {
    char addr[CHORD_ADDR_MAX]; /* "" = free */
    uint64_t next_probe;       /* when to PING it next */
    uint32_t backoff_ms;       /* the pause after the next silent probe */
    uint64_t heard;            /* last time it answered, or when remembered */
    uint64_t rpc;              /* the probe or check in flight, 0: none */
};

struct merge_wave {
    struct chord_id origin;
    uint64_t id;
};

struct chord_merge {
    /* cap slots, grown MERGE_GROW at a time up to CHORD_MERGE_PEERS as
     * peers are remembered (most nodes never lose one): NULL until then. */
    struct merge_peer *peers;
    unsigned cap;
    /* CHORD_MERGE_WAVES_SEEN waves, allocated at the first wave (NULL
     * until then). */
    struct merge_wave *seen;
    unsigned seen_next; /* ring index into seen */
    uint64_t next_wave; /* ids of the waves this node starts */
    uint64_t last_step; /* the last time it asked another ring */
    uint64_t next_scan; /* when to look for newly dead peers */
};

void chord__merge_init(struct chord_merge *m);
void chord__merge_free(struct chord_merge *m);
/* Remember addr (not ourselves), probing it from now + the first pause. */
void chord__merge_remember(struct chord_node *n, uint64_t now,
                           const char *addr);
/* Up to max remembered addresses into out (after the `have` already in
 * it, skipping repeats of them): the new total. */
size_t chord__merge_known(const struct chord_node *n,
                          char (*out)[CHORD_ADDR_MAX], size_t have, size_t max);
/* MERGE arrived. */
void chord__merge_handle(struct chord_node *n, uint64_t now,
                         const struct chord_msg *m);
/* The answer (of the expected type) or failure of RPC_MERGE_PROBE; the
 * failure of RPC_MERGE_CHECK and RPC_MERGE_LOOKUP (their answers come
 * through the lookup's `found`). */
void chord__merge_answer(struct chord_node *n, uint64_t now,
                         const struct rpc *r, const struct chord_msg *m);
/* Probes that are due (an active node only). */
void chord__merge_tick(struct chord_node *n, uint64_t now);
uint64_t chord__merge_deadline(const struct chord_node *n);

#endif
