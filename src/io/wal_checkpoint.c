/*
 * wal_checkpoint.c - checkpoints: merge the previous snapshot and the
 * closed segments into a new snapshot, then delete what it replaces
 * (formats in wal.h).
 *
 * The merge loads every record into a chord_store, where the newest
 * version of every key wins as in the node, and writes the store out as
 * records carrying the snapshot's seq, through a 1 MiB buffer, to
 * "<name>.tmp", then an end marker; the file is fsynced, renamed, and
 * the directory fsynced before anything it replaces is deleted. A
 * damaged file is an error here, never cut or repaired: what a
 * checkpoint reads was written and synced by this log.
 *
 * The begin and end halves run on the log's thread; the run half touches
 * only the disk and its job, so it may run on a worker thread meanwhile.
 */
#include "io/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "core/wire.h"
#include "io/wal_shared.h"

int chord_wal_checkpoint_begin(struct chord_wal *w,
                               struct chord_wal_checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    if (w->broken)
        return -EIO;
    if (w->cp_busy)
        return -EBUSY;
    /* Closed segments older than every one still waiting for its job:
     * their bytes are all in the files. */
    size_t n = w->n_segs - 1 - w->n_retired;
    if (n == 0)
        return 0;
    cp->segs = malloc(n * sizeof *cp->segs);
    if (!cp->segs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        memcpy(cp->segs[i], w->segs[i].name, CHORD_DISK_NAME_MAX);
    cp->n_segs = n;
    memcpy(cp->snap_old, w->snap, CHORD_DISK_NAME_MAX);
    cp->snap_old_seq = w->snap_seq;
    cp->seq = w->segs[n].first - 1;
    if (cp->seq < w->snap_seq)
        cp->seq = w->snap_seq;
    chord_wal_snapshot_name(cp->seq, cp->snap_new);
    w->cp_busy = true;
    return 1;
}

/* Merge one recovered record into the checkpoint's store. */
static int apply_to_store(void *arg, uint64_t seq, const uint8_t *payload,
                          size_t len)
{
    (void)seq;
    struct chord_item it;
    if (chord_item_decode(payload, len, &it))
        return -EBADMSG;
    int rc = chord_store_apply(arg, &it);
    return rc < 0 ? rc : 0;
}

/* Read one file of a checkpoint into the store. */
static int cp_read(const struct chord_disk *disk, const char *name,
                   bool is_snap, uint64_t seq, struct chord_store *st,
                   struct chord_wal_checkpoint *cp)
{
    struct wal_file f = {name, is_snap, 0, seq};
    if (!is_snap &&
        chord__wal_parse_name(name, "wal-", ".log", &f.first) != 0) {
        chord__wal_note_set(cp->err, "cannot read %s/%s: %s",
                            chord__wal_dpath(disk), name, strerror(EINVAL));
        return -EINVAL;
    }
    struct wal_scan s;
    int rc = chord__wal_scan_open(disk, &f, 0, apply_to_store, st, &s, cp->err);
    if (rc == -EBADMSG) /* apply_to_store: a payload that is no item */
        chord__wal_note_set(cp->err, "cannot read %s/%s: %s",
                            chord__wal_dpath(disk), name,
                            "a record is not a store item");
    if (rc)
        return rc;
    disk->close(disk->ctx, s.fd);
    if (s.damaged) {
        chord__wal_note_set(cp->err,
                            "%s/%s is damaged at byte offset %" PRIu64 " (%s)",
                            chord__wal_dpath(disk), name, s.off, s.why);
        return -EBADMSG;
    }
    cp->records += s.records;
    return 0;
}

/* A buffered writer of records to one file. */
struct wtr {
    const struct chord_disk *disk;
    int fd;
    struct chord_buf buf;
    uint64_t off; /* file offset of buf.data[0] */
};

static int wtr_flush(struct wtr *w)
{
    if (w->buf.len == 0)
        return 0;
    int rc =
        w->disk->pwrite(w->disk->ctx, w->fd, w->buf.data, w->buf.len, w->off);
    w->off += w->buf.len;
    chord_buf_reset(&w->buf);
    return rc;
}

/* Frame one store entry into the buffer (flushed past WAL_CHUNK). */
static int wtr_entry(struct wtr *w, uint64_t seq,
                     const struct chord_store_entry *e)
{
    struct chord_item it;
    chord_store_entry_item(e, &it);
    size_t at = w->buf.len;
    int rc = chord_buf_reserve(&w->buf, CHORD_WAL_HEADER);
    if (rc)
        return rc;
    w->buf.len += CHORD_WAL_HEADER;
    rc = chord_item_encode(&it, &w->buf);
    if (rc) {
        w->buf.len = at;
        return rc;
    }
    chord__wal_record_seal(w->buf.data + at, seq,
                           w->buf.len - at - CHORD_WAL_HEADER);
    return w->buf.len >= WAL_CHUNK ? wtr_flush(w) : 0;
}

/* Write every entry of `st` and the end marker to `tmp`, and fsync it. */
static int cp_write(const struct chord_disk *disk, const char *tmp,
                    const struct chord_store *st,
                    struct chord_wal_checkpoint *cp)
{
    struct chord_store_entry ev;
    struct wtr w = {disk, -1, {NULL, 0, 0}, 0};
    w.fd = disk->open(disk->ctx, tmp,
                      CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    if (w.fd < 0)
        return w.fd;
    int rc = 0;
    size_t cursor = 0;
    const struct chord_store_entry *e;
    while (rc == 0 && (e = chord_store_next(st, &cursor, &ev)) != NULL) {
        rc = wtr_entry(&w, cp->seq, e);
        cp->keys++;
    }
    uint8_t footer[SNAP_FOOTER_LEN];
    chord__wal_snap_footer(footer, cp->keys, cp->seq);
    if (rc == 0)
        rc = chord_wal_record_encode(0, footer, sizeof footer, &w.buf);
    if (rc == 0)
        rc = wtr_flush(&w);
    if (rc == 0)
        rc = disk->fsync(disk->ctx, w.fd);
    cp->bytes = w.off;
    disk->close(disk->ctx, w.fd);
    chord_buf_free(&w.buf);
    return rc;
}

int chord_wal_checkpoint_run(const struct chord_disk *disk,
                             struct chord_wal_checkpoint *cp)
{
    cp->err[0] = '\0';
    cp->records = cp->keys = cp->bytes = 0;
    cp->written = false;
    bool same = cp->snap_old[0] && cp->seq == cp->snap_old_seq;
    int rc = 0;
    if (!same) {
        /* Merge: the newest version of every key wins, as in the node. */
        struct chord_store *st = chord_store_new();
        if (!st) {
            chord__wal_note_set(cp->err, "out of memory");
            return -ENOMEM;
        }
        if (cp->snap_old[0])
            rc = cp_read(disk, cp->snap_old, true, cp->snap_old_seq, st, cp);
        for (size_t i = 0; rc == 0 && i < cp->n_segs; i++)
            rc = cp_read(disk, cp->segs[i], false, cp->snap_old_seq, st, cp);
        char tmp[CHORD_DISK_NAME_MAX];
        if (rc == 0 &&
            (rc = chord__wal_name_with(tmp, cp->snap_new, SUFFIX_TMP)) == 0) {
            rc = cp_write(disk, tmp, st, cp);
            if (rc == 0)
                rc = disk->rename(disk->ctx, tmp, cp->snap_new);
            if (rc) {
                chord__wal_note_set(cp->err, "cannot write %s/%s: %s",
                                    chord__wal_dpath(disk), cp->snap_new,
                                    strerror(-rc));
                disk->unlink(disk->ctx, tmp);
            }
        }
        chord_store_free(st);
        if (rc)
            return rc;
        /* The new snapshot's name must be durable before anything it
         * replaces goes. */
        rc = disk->sync_dir(disk->ctx);
        if (rc) {
            chord__wal_note_set(cp->err, "fsync of the directory %s failed: %s",
                                chord__wal_dpath(disk), strerror(-rc));
            return rc;
        }
    }
    cp->written = true;
    for (size_t i = 0; rc == 0 && i < cp->n_segs; i++) {
        rc = disk->unlink(disk->ctx, cp->segs[i]);
        if (rc == -ENOENT)
            rc = 0;
    }
    if (rc == 0 && !same && cp->snap_old[0]) {
        rc = disk->unlink(disk->ctx, cp->snap_old);
        if (rc == -ENOENT)
            rc = 0;
    }
    if (rc == 0)
        rc = disk->sync_dir(disk->ctx);
    if (rc)
        chord__wal_note_set(
            cp->err, "cannot delete the files %s replaces in %s: %s",
            cp->snap_new, chord__wal_dpath(disk), strerror(-rc));
    return rc;
}

void chord_wal_checkpoint_end(struct chord_wal *w,
                              struct chord_wal_checkpoint *cp, int rc)
{
    (void)rc;
    w->cp_busy = false;
    /* Once the new snapshot is durable it is the one to build on, even if
     * deleting what it replaces failed (the next recovery finishes that). */
    if (cp->written) {
        memcpy(w->snap, cp->snap_new, CHORD_DISK_NAME_MAX);
        w->snap_seq = cp->seq;
        size_t n = cp->n_segs < w->n_segs ? cp->n_segs : 0;
        memmove(w->segs, w->segs + n, (w->n_segs - n) * sizeof *w->segs);
        w->n_segs -= n;
    }
    free(cp->segs);
    cp->segs = NULL;
    cp->n_segs = 0;
}

int chord_wal_checkpoint(struct chord_wal *w)
{
    int rc = chord_wal_rotate(w);
    if (rc && rc != -EALREADY)
        return rc;
    rc = chord_wal_sync(w);
    if (rc)
        return rc;
    struct chord_wal_checkpoint cp;
    rc = chord_wal_checkpoint_begin(w, &cp);
    if (rc <= 0)
        return rc;
    rc = chord_wal_checkpoint_run(w->disk, &cp);
    chord_wal_checkpoint_end(w, &cp, rc);
    return rc;
}
