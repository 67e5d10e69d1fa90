/*
 * durable.c - group commit and checkpoints of the write-ahead log on a
 * libuv loop (contract in durable.h).
 *
 * Appends only frame the record into the log's pending buffer (no I/O on
 * the loop at all: a write can wait for an ext4 journal commit that a
 * concurrent fsync started, for tens of milliseconds) and start one idle
 * handle, `kick`, which runs the policy once per loop iteration, so all
 * the changes one iteration made share a decision: modes always and
 * never start a sync job if none is running, batch arms the window
 * timer. A sync job (chord_wal_sync_run: write the pending bytes, then
 * fdatasync unless in mode never) and a checkpoint job
 * (chord_wal_checkpoint_run) go to the thread pool; their completion
 * callbacks finish them on the loop with chord_wal_*_end(), which alone
 * touch the log's state. A checkpoint starts in two steps: the kick that
 * sees the segment over the size rotates the log (one file creation on
 * the loop, timed), and the first sync completion after the closed
 * segment was written plans the merge.
 *
 * Invariants: at most one sync job and one checkpoint job in flight; a
 * seq is reported only after a sync covering it succeeded (mode never:
 * after its write); once an fsync failed, nothing more is reported and
 * `fatal` has been called exactly once. After chord_durable_close() no
 * callback reaches the host: every completion checks `closing` first, and
 * the struct is freed only when both handles are closed and no job is in
 * flight (a running uv_work cannot be cancelled).
 *
 * It does not retry a failed fsync (the kernel may have dropped the dirty
 * pages: a retry could succeed and lie), and it never blocks the loop on
 * the disk except for the appends themselves and the last fsync at close.
 */
#include "io/durable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"

struct sync_work {
    uv_work_t req;
    struct chord_wal_sync job;
    int rc;
    uint64_t started_ns;
};

static const uint64_t us_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_US_BOUNDS;
static const uint64_t ms_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_MS_BOUNDS;

struct cp_work {
    uv_work_t req;
    struct chord_wal_checkpoint cp;
    int rc;
    uint64_t started_ns;
    uint64_t rotate_us;
};

struct chord_durable {
    uv_loop_t *loop;
    struct chord_durable_options opt;
    char dir[CHORD_DISK_PATH_MAX];
    struct chord_durable_cb cb;
    struct chord_disk disk;
    bool disk_open;
    struct chord_wal *wal; /* NULL until recovered, and after close */

    uv_idle_t kick;   /* runs the policy after appends */
    uv_timer_t batch; /* the batch window */
    bool kick_init, batch_init;
    unsigned closing_handles;

    struct sync_work sync;
    bool sync_running;
    bool sync_wanted; /* the batch window ended while a sync ran */
    struct cp_work cpw;
    bool cp_running;
    bool cp_wanted; /* rotated: merge once the closed segment is written */
    uint64_t cp_rotate_us;

    uint64_t first_pending_ms; /* loop time of the oldest unsynced append */
    bool failed;               /* fatal was called */
    bool closing;
    struct chord_durable_stats stats;
};

void chord_durable_options_default(struct chord_durable_options *o)
{
    memset(o, 0, sizeof *o);
    o->mode = CHORD_DURABILITY_BATCH;
    o->fsync_ms = CHORD_DURABLE_FSYNC_MS;
    o->checkpoint_bytes = (uint64_t)CHORD_DURABLE_CHECKPOINT_MB << 20;
}

int chord_durability_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "always") == 0)
        return CHORD_DURABILITY_ALWAYS;
    if (strcmp(s, "batch") == 0)
        return CHORD_DURABILITY_BATCH;
    if (strcmp(s, "never") == 0)
        return CHORD_DURABILITY_NEVER;
    return -1;
}

const char *chord_durability_name(int mode)
{
    switch (mode) {
    case CHORD_DURABILITY_ALWAYS:
        return "always";
    case CHORD_DURABILITY_BATCH:
        return "batch";
    case CHORD_DURABILITY_NEVER:
        return "never";
    default:
        return "memory";
    }
}

static void dlog(struct chord_durable *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dlog(struct chord_durable *d, int level, const char *fmt, ...)
{
    if (!d->cb.log || d->closing)
        return;
    char line[CHORD_DURABLE_ERR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->cb.log(d->cb.ctx, level, line);
}

/* The log cannot be trusted any more: tell the host, once. */
static void durable_fail(struct chord_durable *d, const char *why)
{
    if (d->failed || d->closing)
        return;
    d->failed = true;
    uv_idle_stop(&d->kick);
    uv_timer_stop(&d->batch);
    d->cb.fatal(d->cb.ctx, why);
}

static void report(struct chord_durable *d, uint64_t seq)
{
    if (d->closing || d->failed || seq <= d->stats.reported)
        return;
    d->stats.reported = seq;
    d->cb.persisted(d->cb.ctx, seq);
}

/* ---- freeing ------------------------------------------------------------ */

/* Close the log and the disk (after a last fsync, when it can be
 * trusted) once no job uses them. */
static void finish_files(struct chord_durable *d)
{
    if (d->sync_running || d->cp_running)
        return;
    if (d->wal) {
        /* Write (and in modes always/batch fsync) what is pending. */
        if (!d->failed && !chord_wal_broken(d->wal))
            chord_wal_sync(d->wal);
        chord_wal_close(d->wal);
        d->wal = NULL;
    }
    if (d->disk_open) {
        chord_disk_posix_close(&d->disk);
        d->disk_open = false;
    }
}

static void maybe_free(struct chord_durable *d)
{
    if (!d->closing || d->sync_running || d->cp_running ||
        d->closing_handles > 0)
        return;
    finish_files(d);
    free(d);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct chord_durable *d = h->data;
    d->closing_handles--;
    maybe_free(d);
}

/* ---- group commit ------------------------------------------------------- */

static void start_sync(struct chord_durable *d);

/* On a pool thread: the job touches only the disk and its own fds. */
static void sync_work_cb(uv_work_t *req)
{
    struct chord_durable *d = req->data;
    d->sync.rc = chord_wal_sync_run(&d->disk, &d->sync.job);
}

static void sync_after_cb(uv_work_t *req, int status);

static void batch_cb(uv_timer_t *t)
{
    struct chord_durable *d = t->data;
    if (d->sync_running)
        d->sync_wanted = true;
    else
        start_sync(d);
}

/* Appends are pending: in batch mode arm the window (from the oldest
 * pending append), unless it is armed or a sync will follow anyway. */
static void arm_batch(struct chord_durable *d)
{
    if (uv_is_active((uv_handle_t *)&d->batch) || d->sync_wanted)
        return;
    uint64_t now = uv_now(d->loop);
    uint64_t due = d->first_pending_ms + d->opt.fsync_ms;
    uv_timer_start(&d->batch, batch_cb, due > now ? due - now : 0, 0);
}

static void start_sync(struct chord_durable *d)
{
    if (d->closing || d->failed || d->sync_running || !d->wal)
        return;
    d->sync_wanted = false;
    int rc = chord_wal_sync_begin(d->wal, &d->sync.job);
    if (rc == 0)
        return;
    if (rc < 0) {
        durable_fail(d, "the log is broken after an earlier write error");
        return;
    }
    d->first_pending_ms = 0;
    d->sync.req.data = d;
    d->sync.started_ns = uv_hrtime();
    rc = uv_queue_work(d->loop, &d->sync.req, sync_work_cb, sync_after_cb);
    if (rc) {
        /* No thread: do it here rather than lose durability. */
        d->sync.rc = chord_wal_sync_run(&d->disk, &d->sync.job);
        d->sync_running = true;
        sync_after_cb(&d->sync.req, 0);
        return;
    }
    d->sync_running = true;
}

static void maybe_start_checkpoint(struct chord_durable *d);

static void sync_after_cb(uv_work_t *req, int status)
{
    struct chord_durable *d = req->data;
    (void)status; /* jobs are never cancelled */
    d->sync_running = false;
    bool fsynced = d->sync.job.fsync;
    if (d->closing) {
        if (d->wal)
            chord_wal_sync_end(d->wal, &d->sync.job, d->sync.rc);
        maybe_free(d);
        return;
    }
    chord_wal_sync_end(d->wal, &d->sync.job, d->sync.rc);
    if (d->sync.rc) {
        char why[CHORD_DURABLE_ERR_MAX];
        snprintf(why, sizeof why, "%s: stopping, the log is no longer safe",
                 d->sync.job.err);
        durable_fail(d, why);
        return;
    }
    if (fsynced) {
        d->stats.fsyncs++;
        chord_hist_observe(&d->stats.fsync_us, us_bounds,
                           (uv_hrtime() - d->sync.started_ns) / 1000u);
    }
    report(d, d->sync.job.seq);
    if (d->closing || d->failed || !d->wal)
        return;
    maybe_start_checkpoint(d);
    /* Appends that came while the job ran, or a segment closed since. */
    if (chord_wal_sync_due(d->wal)) {
        if (d->opt.mode != CHORD_DURABILITY_BATCH || d->sync_wanted)
            start_sync(d);
        else
            arm_batch(d);
    }
}

/* ---- checkpoints -------------------------------------------------------- */

static void cp_work_cb(uv_work_t *req)
{
    struct chord_durable *d = req->data;
    d->cpw.rc = chord_wal_checkpoint_run(&d->disk, &d->cpw.cp);
}

static void cp_after_cb(uv_work_t *req, int status)
{
    struct chord_durable *d = req->data;
    (void)status;
    d->cp_running = false;
    if (d->wal)
        chord_wal_checkpoint_end(d->wal, &d->cpw.cp, d->cpw.rc);
    if (d->closing) {
        maybe_free(d);
        return;
    }
    uint64_t ms = (uv_hrtime() - d->cpw.started_ns) / 1000000u;
    if (d->cpw.rc) {
        dlog(d, CHORD_LOG_WARN,
             "checkpoint failed (the log is intact and "
             "will be retried): %s",
             d->cpw.cp.err);
        return;
    }
    d->stats.checkpoints++;
    chord_hist_observe(&d->stats.checkpoint_ms, ms_bounds, ms);
    dlog(d, CHORD_LOG_INFO,
         "checkpoint: %s holds %" PRIu64 " keys (%" PRIu64 " bytes) "
         "merged from %" PRIu64 " records in %" PRIu64 " ms on the thread "
         "pool; the loop paused %" PRIu64 " us to rotate the log",
         d->cpw.cp.snap_new, d->cpw.cp.keys, d->cpw.cp.bytes, d->cpw.cp.records,
         ms, d->cpw.rotate_us);
}

/* The current segment is over the size: close it (the next sync job
 * writes what it still holds), and merge once that is done. */
static void maybe_rotate(struct chord_durable *d)
{
    if (d->cp_running || d->cp_wanted || d->closing || d->failed || !d->wal ||
        chord_wal_segment_bytes(d->wal) < d->opt.checkpoint_bytes)
        return;
    uint64_t t0 = uv_hrtime();
    int rc = chord_wal_rotate(d->wal);
    uint64_t us = (uv_hrtime() - t0) / 1000u;
    if (us > d->stats.max_rotate_us)
        d->stats.max_rotate_us = us;
    if (rc == -EBUSY)
        return; /* closed segments still await their job; next time */
    if (rc) {
        dlog(d, CHORD_LOG_WARN, "cannot start a checkpoint: %s", strerror(-rc));
        return;
    }
    d->cp_wanted = true;
    d->cp_rotate_us = us;
}

/* Merge the closed segments that are written into a new snapshot, on the
 * thread pool. */
static void maybe_start_checkpoint(struct chord_durable *d)
{
    if (!d->cp_wanted || d->cp_running || d->closing || d->failed || !d->wal)
        return;
    int rc = chord_wal_checkpoint_begin(d->wal, &d->cpw.cp);
    if (rc == 0 || rc == -EBUSY)
        return; /* the closed segment is not written yet */
    d->cp_wanted = false;
    if (rc < 0) {
        dlog(d, CHORD_LOG_WARN, "cannot start a checkpoint: %s", strerror(-rc));
        return;
    }
    d->cpw.rotate_us = d->cp_rotate_us;
    d->cpw.started_ns = uv_hrtime();
    d->cpw.req.data = d;
    rc = uv_queue_work(d->loop, &d->cpw.req, cp_work_cb, cp_after_cb);
    if (rc) {
        chord_wal_checkpoint_end(d->wal, &d->cpw.cp, rc);
        dlog(d, CHORD_LOG_WARN, "cannot start a checkpoint: %s",
             uv_strerror(rc));
        return;
    }
    d->cp_running = true;
}

/* ---- the policy, once per loop iteration -------------------------------- */

static void kick_cb(uv_idle_t *idle)
{
    struct chord_durable *d = idle->data;
    uv_idle_stop(idle);
    if (d->closing || d->failed || !d->wal)
        return;
    maybe_rotate(d); /* first: the job below then writes the closed one */
    if (d->opt.mode == CHORD_DURABILITY_BATCH) {
        if (!d->sync_running)
            arm_batch(d);
    } else {
        start_sync(d);
    }
}

/* ---- public API ---------------------------------------------------------- */

int chord_durable_open(uv_loop_t *loop, const struct chord_durable_options *opt,
                       const struct chord_durable_cb *cb,
                       char err[CHORD_DURABLE_ERR_MAX],
                       struct chord_durable **out)
{
    err[0] = '\0';
    *out = NULL;
    if (!opt->dir || !*opt->dir || !cb->persisted || !cb->fatal ||
        opt->mode < CHORD_DURABILITY_ALWAYS ||
        opt->mode > CHORD_DURABILITY_NEVER) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "invalid durability options");
        return -EINVAL;
    }
    if (strlen(opt->dir) >= CHORD_DISK_PATH_MAX) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "data directory name too long");
        return -ENAMETOOLONG;
    }
    struct chord_durable *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    d->loop = loop;
    d->opt = *opt;
    snprintf(d->dir, sizeof d->dir, "%s", opt->dir);
    d->opt.dir = d->dir;
    d->cb = *cb;

    int rc = 0;
    if (opt->disk)
        d->disk = *opt->disk;
    else
        rc = chord_disk_posix_open(d->dir, &d->disk);
    if (rc) {
        snprintf(err, CHORD_DURABLE_ERR_MAX,
                 "cannot use %.400s as a data directory: %s", d->dir,
                 strerror(-rc));
        free(d);
        return rc;
    }
    d->disk_open = opt->disk == NULL;
    long holder = 0;
    rc = d->disk.lock(d->disk.ctx, &holder);
    if (rc == -EBUSY) {
        if (holder > 0)
            snprintf(err, CHORD_DURABLE_ERR_MAX,
                     "%.400s is in use by another node (pid %ld)", d->dir,
                     holder);
        else
            snprintf(err, CHORD_DURABLE_ERR_MAX,
                     "%.400s is in use by another node", d->dir);
    } else if (rc) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "cannot lock %.400s/%s: %s",
                 d->dir, CHORD_DISK_LOCK_NAME, strerror(-rc));
    }
    if (rc) {
        if (d->disk_open)
            chord_disk_posix_close(&d->disk);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int chord_durable_recover(struct chord_durable *d, chord_wal_apply_fn fn,
                          void *arg, struct chord_wal_report *rep,
                          char err[CHORD_DURABLE_ERR_MAX])
{
    err[0] = '\0';
    if (d->wal || d->kick_init)
        return -EALREADY;
    struct chord_wal_options wo = {
        .fsync = d->opt.mode != CHORD_DURABILITY_NEVER,
        .repair = d->opt.repair,
    };
    int rc = chord_wal_open(&d->disk, &wo, fn, arg, rep, &d->wal);
    if (rc) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "%s",
                 rep->note[0] ? rep->note : strerror(-rc));
        return rc;
    }
    d->kick.data = d->batch.data = d;
    rc = uv_idle_init(d->loop, &d->kick);
    d->kick_init = rc == 0;
    if (rc == 0) {
        rc = uv_timer_init(d->loop, &d->batch);
        d->batch_init = rc == 0;
    }
    if (rc) {
        snprintf(err, CHORD_DURABLE_ERR_MAX, "cannot start the log: %s",
                 uv_strerror(rc));
        return rc;
    }
    return 0;
}

uint64_t chord_durable_append(struct chord_durable *d, const uint8_t *rec,
                              size_t len)
{
    if (!d || d->closing || d->failed || !d->wal)
        return 0;
    uint64_t t0 = uv_hrtime();
    uint64_t seq = 0;
    int rc = chord_wal_append(d->wal, rec, len, &seq);
    uint64_t us = (uv_hrtime() - t0) / 1000u;
    if (us > d->stats.max_append_us)
        d->stats.max_append_us = us;
    if (rc) {
        /* Too much pending (the disk does not keep up) or no memory: the
         * change is refused; the log itself is intact. */
        dlog(d, CHORD_LOG_WARN, "cannot append to the log in %s: %s", d->dir,
             strerror(-rc));
        return 0;
    }
    d->stats.appended++;
    if (d->first_pending_ms == 0)
        d->first_pending_ms = uv_now(d->loop) ? uv_now(d->loop) : 1;
    uv_idle_start(&d->kick, kick_cb);
    return seq;
}

void chord_durable_stats(const struct chord_durable *d,
                         struct chord_durable_stats *out)
{
    *out = d->stats;
    out->segment_bytes = d->wal ? chord_wal_segment_bytes(d->wal) : 0;
}

void chord_durable_close(struct chord_durable *d)
{
    if (!d || d->closing)
        return;
    if (d->wal)
        dlog(d, CHORD_LOG_INFO,
             "log closing: %" PRIu64 " records appended, %" PRIu64
             " fsyncs, %" PRIu64 " checkpoints; longest append %" PRIu64
             " us, longest rotation %" PRIu64 " us on the loop",
             d->stats.appended, d->stats.fsyncs, d->stats.checkpoints,
             d->stats.max_append_us, d->stats.max_rotate_us);
    d->closing = true;
    if (d->kick_init) {
        d->closing_handles++;
        uv_close((uv_handle_t *)&d->kick, on_handle_closed);
    }
    if (d->batch_init) {
        d->closing_handles++;
        uv_close((uv_handle_t *)&d->batch, on_handle_closed);
    }
    maybe_free(d);
}
