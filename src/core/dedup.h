/*
 * dedup.h - the requests a node knows were applied, by request id, so a
 * retry is answered with the first outcome instead of being applied again.
 *
 * A mutating request carries (client id, seq) (chord/types.h struct
 * chord_rid); the change it makes carries the same id to the log and to
 * the replicas (struct chord_item's origin), and every node that applies
 * the change records it here: the owner, each replica, and a node
 * replaying its log at start. So a retry that reaches the owner, or the
 * replica that took over from a crashed owner, finds it.
 *
 * Bounds (documented in the README): per client, the newest
 * CHORD_DEDUP_WINDOW sequence numbers are told apart; an older one is
 * "too old to tell" (a client of the library has one request in flight at
 * a time, so anything older was answered long ago). A client not seen for
 * CHORD_DEDUP_TTL_MS is forgotten; at most CHORD_DEDUP_CLIENTS clients are
 * kept, the least recently seen giving way to a new one. A log checkpoint
 * keeps keys, not ids: after a restart a node knows the ids of the changes
 * logged since its last checkpoint (and those its replicas send).
 *
 * Pure: no I/O, no clock (times are the caller's `now`).
 */
#ifndef CHORD_CORE_DEDUP_H
#define CHORD_CORE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "chord/types.h"

#define CHORD_DEDUP_WINDOW 64u
#define CHORD_DEDUP_CLIENTS 4096u
#define CHORD_DEDUP_TTL_MS (10u * 60u * 1000u)

struct chord_dedup;

/* An empty table (NULL: out of memory). */
struct chord_dedup *chord__dedup_new(void);
void chord__dedup_free(struct chord_dedup *d);

enum chord_dedup_answer {
    CHORD_DEDUP_NEW = 0,     /* not applied here: apply it */
    CHORD_DEDUP_APPLIED = 1, /* applied already: answer OK, apply nothing */
    CHORD_DEDUP_TOO_OLD = 2, /* older than the client's window: cannot tell */
};

/* What the table knows of rid (now: to forget idle clients first). */
enum chord_dedup_answer chord__dedup_check(struct chord_dedup *d,
                                           const struct chord_rid *rid,
                                           uint64_t now);
/* Record rid as applied at `now`. 0, or -ENOMEM (nothing recorded). */
int chord__dedup_record(struct chord_dedup *d, const struct chord_rid *rid,
                        uint64_t now);
/* Clients remembered now. */
size_t chord__dedup_clients(const struct chord_dedup *d);

#endif
