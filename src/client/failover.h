/*
 * failover.h - the plan of one call through several nodes: which node to
 * try next, how much of the call's time budget the attempt may take, and
 * a summary of what was tried. Internal to the client library
 * (session.c); pure: no I/O, and the clock is an argument.
 *
 * Candidates: the node the session is connected to (when there is one),
 * then the seeds in their order, without repeats; a redirect puts the
 * node it names next (at most CHORD_FAILOVER_REDIRECTS per call, never a
 * node already tried in this call).
 *
 * Budget: the call ends at `deadline`. An attempt gets the time left
 * divided by the candidates not tried yet (itself included), but at least
 * CHORD_FAILOVER_ATTEMPT_MIN_MS, and never more than what is left. So a
 * node that does not answer costs its share, not the whole budget, and
 * the last candidate gets all that remains.
 *
 * Invariants: n <= CHORD_FAILOVER_MAX; next <= n; cand[0..next) were
 * handed out by chord_failover_next() in that order; `tried` is always
 * NUL-terminated and never overflows (a long summary ends in "...").
 */
#ifndef CHORD_CLIENT_FAILOVER_H
#define CHORD_CLIENT_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/types.h"

#define CHORD_FAILOVER_SEEDS_MAX 32 /* seeds a session takes */
#define CHORD_FAILOVER_REDIRECTS 4  /* redirects followed per call */
#define CHORD_FAILOVER_MAX                                                     \
    (CHORD_FAILOVER_SEEDS_MAX + 1 + CHORD_FAILOVER_REDIRECTS)
#define CHORD_FAILOVER_ATTEMPT_MIN_MS 200 /* the least an attempt gets */
#define CHORD_FAILOVER_TRIED_MAX 480      /* bytes of the summary */

struct chord_failover {
    char cand[CHORD_FAILOVER_MAX][CHORD_ADDR_MAX];
    unsigned n;         /* candidates */
    unsigned next;      /* index of the next one to hand out */
    unsigned redirects; /* followed in this call */
    int64_t deadline;   /* the call's end, on the caller's clock (ms) */
    char tried[CHORD_FAILOVER_TRIED_MAX]; /* "A: why; B: why" */
};

/*
 * Plan a call that starts at `now` and may take budget_ms: candidates are
 * `first` (may be NULL or "": the node already connected), then
 * seeds[0..n_seeds) (at most CHORD_FAILOVER_SEEDS_MAX are taken), without
 * repeats. The strings are copied.
 */
void chord_failover_init(struct chord_failover *f, const char *first,
                         const char *const *seeds, size_t n_seeds, int64_t now,
                         int budget_ms);

/* The next candidate to try (owned by f), or NULL when none is left or
 * the deadline has passed. */
const char *chord_failover_next(struct chord_failover *f, int64_t now);

/* The ms the attempt at the candidate just handed out may take (see the
 * banner); 0 when the deadline has passed. */
int chord_failover_share(const struct chord_failover *f, int64_t now);

/* Milliseconds left before the deadline (0 when past). */
int chord_failover_left(const struct chord_failover *f, int64_t now);

/*
 * A node answered "ask `hint` instead": make hint the next candidate.
 * Returns false (and changes nothing) when hint is empty, is a candidate
 * already handed out, or the call has followed CHORD_FAILOVER_REDIRECTS
 * redirects; a candidate not tried yet moves forward.
 */
bool chord_failover_redirect(struct chord_failover *f, const char *hint);

/* Add "addr: why" to the summary of what was tried. */
void chord_failover_note(struct chord_failover *f, const char *addr,
                         const char *why);

#endif
