/*
 * durable.h - the write-ahead log on a libuv loop: what dhtd uses to make
 * a node's changes durable before they are acknowledged.
 *
 * The host opens a data directory (created if missing, then locked so a
 * second node cannot share it), recovers the log into the node, and from
 * then on hands every change to chord_durable_append(), which writes it to
 * the current log segment at once and returns its sequence number. When
 * the change is durable the `persisted` callback reports the highest seq
 * covered, from a later loop callback, never from inside append. How soon
 * depends on the fsync mode (group commit):
 *
 *   always  an fsync starts as soon as anything is pending and no fsync
 *           is running (the writes that came meanwhile share the next);
 *   batch   the first pending write arms a timer of fsync_ms; when it
 *           fires, one fsync covers everything written until then;
 *   never   no fsync: changes are reported at the end of the loop
 *           iteration that wrote them, and the OS flushes when it likes.
 *
 * fsync runs on the libuv thread pool (uv_queue_work), so the loop never
 * waits for the disk; only the write itself (into the page cache) happens
 * on the loop. An fsync failure is fatal: the `fatal` callback gets one
 * line and the host must stop; nothing after it is reported persisted.
 *
 * Checkpoints: when the current segment passes checkpoint_bytes, the log
 * rotates to a new segment on the loop (one file creation: microseconds),
 * and a thread-pool job merges the previous snapshot and the closed
 * segments into a new snapshot, from the files rather than the live store,
 * then deletes what it replaces. The time the loop spent rotating and the
 * time the job took are logged at INFO.
 *
 * It does not know the node: records are opaque bytes here, and the host
 * makes the calls into the node.
 */
#ifndef CHORD_IO_DURABLE_H
#define CHORD_IO_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/durable.h"
#include "chord/metrics.h"
#include "chord/types.h"
#include "io/wal.h"

/* The options (struct chord_durable_options, their defaults, bounds and
 * mode names) are public: chord/durable.h. */

/* Longest one-line explanation of a failure. */
#define CHORD_DURABLE_ERR_MAX 600u

struct chord_durable_cb {
    void *ctx;
    /* Everything up to `seq` is durable (in mode never: written).
     * Required. */
    void (*persisted)(void *ctx, uint64_t seq);
    /* The log can no longer be trusted (an fsync or a write failed for
     * good): stop the node. `why` is one line. Required. */
    void (*fatal)(void *ctx, const char *why);
    /* One log line, level as enum chord_log_level. May be NULL. */
    void (*log)(void *ctx, int level, const char *line);
};

struct chord_durable;

/*
 * Open and lock the data directory (creating it if needed). The options
 * and callbacks are copied (opt->dir too). Returns 0, or a negative errno
 * with one line in err: -EBUSY "DIR is in use by another node (pid N)",
 * or "cannot use DIR as a data directory: ...". Nothing is recovered yet.
 */
int chord_durable_open(uv_loop_t *loop, const struct chord_durable_options *opt,
                       const struct chord_durable_cb *cb,
                       char err[CHORD_DURABLE_ERR_MAX],
                       struct chord_durable **out);

/*
 * Recover the log: every surviving record goes through fn (see
 * chord_wal_open), then the log is ready for appends. *rep is filled.
 * Returns 0, or a negative errno with one line in err naming the file
 * and byte offset for corruption (-EBADMSG). Call once, after open.
 */
int chord_durable_recover(struct chord_durable *d, chord_wal_apply_fn fn,
                          void *arg, struct chord_wal_report *rep,
                          char err[CHORD_DURABLE_ERR_MAX]);

/*
 * Log one record (borrowed). Its sequence number (> 0), or 0 when it
 * could not be taken (too much pending, no memory, or the log failed):
 * the change must then be refused.
 */
uint64_t chord_durable_append(struct chord_durable *d, const uint8_t *rec,
                              size_t len);

/* Counters, for logs and tests. */
struct chord_durable_stats {
    uint64_t appended;      /* records written */
    uint64_t reported;      /* highest seq reported persisted */
    uint64_t fsyncs;        /* sync jobs that fsynced */
    uint64_t checkpoints;   /* checkpoints completed */
    uint64_t max_rotate_us; /* longest time the loop spent rotating */
    uint64_t max_append_us; /* longest single append (a copy) */
    /* Sync jobs that fsynced, from start to completion (queueing on the
     * thread pool included), in microseconds (CHORD_HIST_US_BOUNDS). */
    struct chord_hist fsync_us;
    /* Checkpoints completed, in milliseconds (CHORD_HIST_MS_BOUNDS). */
    struct chord_hist checkpoint_ms;
    uint64_t segment_bytes; /* size of the log segment being written */
};
void chord_durable_stats(const struct chord_durable *d,
                         struct chord_durable_stats *out);

/*
 * Stop: no callback is made after this call. Jobs in flight finish on the
 * thread pool; then, unless the log is broken or in mode never, a last
 * fsync makes what was written durable, the files are closed, the lock is
 * released and the memory freed, from loop callbacks (keep running the
 * loop until it has no more work). NULL is allowed.
 */
void chord_durable_close(struct chord_durable *d);

#endif
