/*
 * wal.c - the log: open (after recovery), append, group commit and
 * rotation (contract and file formats in wal.h; the files that make up
 * the log are listed in wal_shared.h).
 *
 * An append frames the record at the end of the current segment's
 * pending buffer, no I/O. A sync job takes the pending buffers (of the
 * segments rotated out since the last job, then of the current one) and
 * writes each at the offset reserved for it, then fdatasyncs; the log's
 * thread meanwhile fills fresh buffers. A job that fails breaks the log
 * for good: a failed write or fsync cannot be retried, the kernel may
 * have dropped the dirty pages. Rotation closes the current segment for
 * appending and starts the next one; the closed segment waits in
 * retired[] until a job has written and synced its last bytes. The
 * invariants of struct chord_wal are in wal_shared.h.
 *
 * The log knows nothing of libuv or threads: the caller runs the *_run
 * halves of jobs wherever it likes (see wal.h). It does not merge
 * segments into snapshots (wal_checkpoint.c does).
 */
#include "io/wal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/wal_shared.h"

/* Open segment wal-<first>.log as the current one: the last kept segment
 * when it has that name (it is then empty), else a new file. */
static int start_segment(struct chord_wal *w, uint64_t first,
                         struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    char name[CHORD_DISK_NAME_MAX];
    chord_wal_segment_name(first, name);
    bool reuse = w->n_segs && w->segs[w->n_segs - 1].first == first;
    int fd = d->open(d->ctx, name, CHORD_DISK_WRITE | CHORD_DISK_CREATE);
    if (fd < 0) {
        chord__wal_note_set(rep->note, "cannot create %s/%s: %s",
                            chord__wal_dpath(d), name, strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    int rc = d->size(d->ctx, fd, &size);
    if (rc == 0 && size != 0)
        rc = -EEXIST; /* it would hold records beyond the last one */
    if (rc == 0 && !reuse)
        rc = chord__wal_segs_push(w, first, name);
    if (rc == 0)
        rc = d->sync_dir(d->ctx);
    if (rc) {
        chord__wal_note_set(rep->note, "cannot start %s/%s: %s",
                            chord__wal_dpath(d), name, strerror(-rc));
        d->close(d->ctx, fd);
        return rc;
    }
    w->fd = fd;
    w->written = 0;
    return 0;
}

static void wal_free(struct chord_wal *w)
{
    const struct chord_disk *d = w->disk;
    for (unsigned i = 0; i < w->n_retired; i++) {
        d->close(d->ctx, w->retired[i].fd);
        chord_buf_free(&w->retired[i].pend);
    }
    if (w->fd >= 0)
        d->close(d->ctx, w->fd);
    chord_buf_free(&w->pend);
    chord_buf_free(&w->spare);
    free(w->segs);
    free(w);
}

int chord_wal_open(const struct chord_disk *disk,
                   const struct chord_wal_options *opt, chord_wal_apply_fn fn,
                   void *arg, struct chord_wal_report *rep,
                   struct chord_wal **out)
{
    memset(rep, 0, sizeof *rep);
    *out = NULL;
    struct chord_wal *w = calloc(1, sizeof *w);
    if (!w) {
        chord__wal_note_set(rep->note, "out of memory");
        return -ENOMEM;
    }
    w->disk = disk;
    w->opt = *opt;
    w->fd = -1;
    int rc = chord__wal_recover(w, fn, arg, rep);
    /* The next seq follows the last record; a kept segment named beyond
     * that holds no record (repair emptied it) and is reused. */
    uint64_t next = rep->last_seq + 1;
    if (rc == 0 && w->n_segs && w->segs[w->n_segs - 1].first > next)
        next = w->segs[w->n_segs - 1].first;
    if (rc == 0)
        rc = start_segment(w, next, rep);
    if (rc) {
        wal_free(w);
        return rc;
    }
    w->next_seq = next;
    w->synced_seq = next - 1;
    *out = w;
    return 0;
}

void chord_wal_close(struct chord_wal *w)
{
    if (w)
        wal_free(w);
}

int chord_wal_append(struct chord_wal *w, const void *payload, size_t len,
                     uint64_t *seq)
{
    if (w->broken)
        return -EIO;
    if (len > CHORD_WAL_PAYLOAD_MAX)
        return -EMSGSIZE;
    if (w->pend.len + CHORD_WAL_HEADER + len > CHORD_WAL_PENDING_MAX)
        return -ENOBUFS;
    int rc = chord_wal_record_encode(w->next_seq, payload, len, &w->pend);
    if (rc)
        return rc;
    *seq = w->next_seq++;
    return 0;
}

uint64_t chord_wal_last_seq(const struct chord_wal *w)
{
    return w->next_seq - 1;
}

uint64_t chord_wal_synced_seq(const struct chord_wal *w)
{
    return w->synced_seq;
}

uint64_t chord_wal_segment_bytes(const struct chord_wal *w)
{
    return w->written + w->pend.len;
}

const char *chord_wal_segment(const struct chord_wal *w)
{
    return w->segs[w->n_segs - 1].name;
}

bool chord_wal_broken(const struct chord_wal *w)
{
    return w->broken;
}

/* ---- group commit -------------------------------------------------------- */

bool chord_wal_sync_due(const struct chord_wal *w)
{
    return !w->broken &&
           (w->next_seq - 1 != w->synced_seq || w->n_retired > 0 ||
            w->pend.len > 0 || (w->dir_dirty && w->opt.fsync));
}

int chord_wal_sync_begin(struct chord_wal *w, struct chord_wal_sync *job)
{
    if (w->broken)
        return -EIO;
    if (w->sync_busy)
        return -EBUSY;
    if (!chord_wal_sync_due(w))
        return 0;
    uint64_t last = w->next_seq - 1;
    bool dir = w->dir_dirty && w->opt.fsync;
    memset(job, 0, sizeof *job);
    /* Closed segments first, oldest first: their records come before. */
    for (unsigned i = 0; i < w->n_retired; i++) {
        struct wal_retired *r = &w->retired[i];
        struct chord_wal_sync_file *f = &job->files[job->n_files++];
        f->fd = r->fd;
        memcpy(f->name, r->name, CHORD_DISK_NAME_MAX);
        f->data = r->pend;
        f->off = r->off;
        r->off += r->pend.len;
        chord_buf_init(&r->pend);
    }
    job->n_retired = w->n_retired;
    struct chord_wal_sync_file *f = &job->files[job->n_files++];
    f->fd = w->fd;
    memcpy(f->name, w->segs[w->n_segs - 1].name, CHORD_DISK_NAME_MAX);
    f->data = w->pend;
    f->off = w->written;
    w->written += w->pend.len;
    w->pend = w->spare;
    chord_buf_init(&w->spare);
    job->fsync = w->opt.fsync;
    job->dir = dir;
    job->seq = last;
    w->dir_dirty = false;
    w->sync_busy = true;
    return 1;
}

int chord_wal_sync_run(const struct chord_disk *disk,
                       struct chord_wal_sync *job)
{
    job->err[0] = '\0';
    for (unsigned i = 0; i < job->n_files; i++) {
        const struct chord_wal_sync_file *f = &job->files[i];
        int rc = 0;
        if (f->data.len)
            rc = disk->pwrite(disk->ctx, f->fd, f->data.data, f->data.len,
                              f->off);
        if (rc) {
            chord__wal_note_set(job->err, "write to %s/%s failed: %s",
                                chord__wal_dpath(disk), f->name, strerror(-rc));
            return rc;
        }
        if (job->fsync && (rc = disk->fsync(disk->ctx, f->fd)) != 0) {
            chord__wal_note_set(job->err, "fsync of %s/%s failed: %s",
                                chord__wal_dpath(disk), f->name, strerror(-rc));
            return rc;
        }
    }
    if (job->dir) {
        int rc = disk->sync_dir(disk->ctx);
        if (rc) {
            chord__wal_note_set(job->err,
                                "fsync of the directory %s failed: %s",
                                chord__wal_dpath(disk), strerror(-rc));
            return rc;
        }
    }
    return 0;
}

void chord_wal_sync_end(struct chord_wal *w, struct chord_wal_sync *job, int rc)
{
    w->sync_busy = false;
    /* Keep the current segment's buffer for the next round. */
    struct chord_wal_sync_file *cur = &job->files[job->n_files - 1];
    if (w->spare.cap == 0 && cur->data.cap <= WAL_CHUNK) {
        chord_buf_reset(&cur->data);
        w->spare = cur->data;
    } else {
        chord_buf_free(&cur->data);
    }
    for (unsigned i = 0; i < job->n_retired; i++)
        chord_buf_free(&job->files[i].data);
    job->n_files = 0;
    if (rc) {
        w->broken = true;
        return;
    }
    if (job->seq > w->synced_seq)
        w->synced_seq = job->seq;
    /* The closed segments the job covered are written and durable; a
     * segment closed since keeps waiting for the next job. */
    const struct chord_disk *d = w->disk;
    unsigned n = job->n_retired;
    for (unsigned i = 0; i < n; i++) {
        d->close(d->ctx, w->retired[i].fd);
        chord_buf_free(&w->retired[i].pend);
    }
    memmove(w->retired, w->retired + n,
            (w->n_retired - n) * sizeof *w->retired);
    w->n_retired -= n;
}

int chord_wal_sync(struct chord_wal *w)
{
    struct chord_wal_sync job;
    int rc = chord_wal_sync_begin(w, &job);
    if (rc <= 0)
        return rc;
    rc = chord_wal_sync_run(w->disk, &job);
    chord_wal_sync_end(w, &job, rc);
    return rc;
}

/* ---- rotation ----------------------------------------------------------- */

int chord_wal_rotate(struct chord_wal *w)
{
    const struct chord_disk *d = w->disk;
    if (w->broken)
        return -EIO;
    if (chord_wal_segment_bytes(w) == 0)
        return -EALREADY;
    if (w->n_retired >= CHORD_WAL_RETIRED_MAX)
        return -EBUSY;
    if (w->n_segs >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    char name[CHORD_DISK_NAME_MAX];
    chord_wal_segment_name(w->next_seq, name);
    int fd = d->open(d->ctx, name,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_EXCL);
    if (fd < 0)
        return fd;
    int rc = chord__wal_segs_push(w, w->next_seq, name);
    if (rc) {
        d->close(d->ctx, fd);
        d->unlink(d->ctx, name);
        return rc;
    }
    struct wal_retired *r = &w->retired[w->n_retired++];
    r->fd = w->fd;
    memcpy(r->name, w->segs[w->n_segs - 2].name, CHORD_DISK_NAME_MAX);
    r->pend = w->pend;
    r->off = w->written;
    chord_buf_init(&w->pend);
    w->dir_dirty = true;
    w->fd = fd;
    w->written = 0;
    return 0;
}
