/*
 * progress.h - a one-line progress report on stderr for long work
 * (`dht bench`, `dht dump`/`dht load`, `dht-sim`).
 *
 * Contract, for every program that uses it:
 *   struct chord_progress p;
 *   chord_progress_start(&p, "load", total, quiet);   // total 0: unknown
 *   for (...) chord_progress_update(&p, done);        // as often as you like
 *   chord_progress_finish(&p);                        // always, once
 *
 * The report is drawn only when stderr is a terminal and the caller did
 * not ask for quiet (pass quiet=true for --json, --quiet and the like);
 * otherwise every call is a no-op and nothing is written, so scripts and
 * JSON consumers never see it. On a terminal one line is redrawn in place
 * ("\r" + erase-to-end): label, done/total, percent, rate per second and
 * the ETA when the total is known, done and rate when it is not. Redraws
 * are throttled to one per CHORD_PROGRESS_REDRAW_MS, so update() is cheap
 * to call per item. finish() draws the final figures once and ends the
 * line, so later output starts on a fresh line.
 *
 * The struct lives with the caller (no allocation, no globals); the label
 * is borrowed and must outlive finish(). It reads the monotonic clock
 * itself: it is for programs, not for the pure core. It does not print
 * anything on stdout and never fails (a failed write is ignored).
 */
#ifndef CHORD_TOOLS_PROGRESS_H
#define CHORD_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define CHORD_PROGRESS_REDRAW_MS 100u /* at most ten redraws a second */

struct chord_progress {
    const char *label; /* borrowed, e.g. "bench" */
    uint64_t total;    /* 0 if unknown */
    uint64_t done;     /* last value given to update() */
    uint64_t start_ms; /* monotonic, at start() */
    uint64_t drawn_ms; /* monotonic, at the last redraw */
    bool active;       /* stderr is a terminal and not quiet */
};

/* Begin a report of `total` items (0 when the total is not known).
 * quiet=true silences it whatever stderr is. Nothing is drawn yet. */
void chord_progress_start(struct chord_progress *p, const char *label,
                          uint64_t total, bool quiet);

/* `done` items are finished so far (a running count, not an increment).
 * Redraws the line if the last redraw is older than the throttle. */
void chord_progress_update(struct chord_progress *p, uint64_t done);

/* Draw the final figures and end the line; the report is then inactive
 * (later updates do nothing). Call it also on the error path. */
void chord_progress_finish(struct chord_progress *p);

/* The line a redraw would show, as text (no "\r", no newline) into
 * out[cap], truncated if needed. For tests and for callers that log. */
void chord_progress_format(const struct chord_progress *p, uint64_t now_ms,
                           char *out, unsigned cap);

#endif
