/*
 * wal_recover.c - recovery of a log after a crash: load the newest
 * snapshot, replay the segments after it in order, cut torn tails, and
 * refuse corruption unless told to repair it (the rules are in wal.h).
 *
 * Damage with no valid record after it in its segment is a torn tail
 * (the last write did not finish): the file is cut there. Anything else
 * is corruption: recovery stops with a message naming the file and the
 * byte offset, or, with `repair`, first copies the damaged file aside
 * ("<name>.damaged", via a temporary and a rename), then replaces the
 * original atomically with what precedes the damage, so at every instant
 * the original name holds either the old or the repaired file. Files are
 * deleted only once the names they are deleted on the strength of are
 * durable (the directory is fsynced first).
 *
 * It fills the log's segment list and snapshot name and reports what it
 * did; it does not open the segment to append to (wal.c does), and it
 * applies records only through the caller's function.
 */
#include "io/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/wal_shared.h"

/* ---- copying and repairing files ----------------------------------------- */

/* Copy bytes [0, len) of src into a new file `dst` through dst.tmp
 * (fsynced, renamed), then append `tail` (may be empty) after them. */
static int write_copy(const struct chord_disk *disk, int src, uint64_t len,
                      const uint8_t *tail, size_t tail_len, const char *dst)
{
    char tmp[CHORD_DISK_NAME_MAX];
    int rc = chord__wal_name_with(tmp, dst, SUFFIX_TMP);
    if (rc)
        return rc;
    int fd =
        disk->open(disk->ctx, tmp,
                   CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    if (fd < 0)
        return fd;
    uint8_t *buf = malloc(WAL_CHUNK);
    rc = buf ? 0 : -ENOMEM;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t want = len - off < WAL_CHUNK ? (size_t)(len - off) : WAL_CHUNK;
        ssize_t got = disk->pread(disk->ctx, src, buf, want, off);
        if (got <= 0) {
            rc = got < 0 ? (int)got : -EIO;
            break;
        }
        rc = disk->pwrite(disk->ctx, fd, buf, (size_t)got, off);
        off += (uint64_t)got;
    }
    free(buf);
    if (rc == 0 && tail_len)
        rc = disk->pwrite(disk->ctx, fd, tail, tail_len, len);
    if (rc == 0)
        rc = disk->fsync(disk->ctx, fd);
    disk->close(disk->ctx, fd);
    if (rc == 0)
        rc = disk->rename(disk->ctx, tmp, dst);
    if (rc)
        disk->unlink(disk->ctx, tmp);
    return rc;
}

/*
 * Set a damaged file aside and keep what precedes the damage: copy it
 * whole to "<name>.damaged", then replace it with its first `keep` bytes
 * followed by `tail`, then fsync the directory. 0 or -errno.
 */
static int repair_file(const struct chord_disk *disk, const char *name, int fd,
                       uint64_t size, uint64_t keep, const uint8_t *tail,
                       size_t tail_len)
{
    char aside[CHORD_DISK_NAME_MAX];
    int rc = chord__wal_name_with(aside, name, SUFFIX_DAMAGED);
    if (rc == 0)
        rc = write_copy(disk, fd, size, NULL, 0, aside);
    if (rc == 0)
        rc = write_copy(disk, fd, keep, tail, tail_len, name);
    if (rc == 0)
        rc = disk->sync_dir(disk->ctx);
    return rc;
}

/* Load the snapshot `f` (repairing it if allowed). */
static int load_snapshot(struct chord_wal *w, const struct wal_dir_file *f,
                         chord_wal_apply_fn fn, void *arg,
                         struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    struct wal_file file = {f->name, true, 0, f->seq};
    struct wal_scan s;
    int rc = chord__wal_scan_open(d, &file, 0, fn, arg, &s, rep->note);
    if (rc)
        return rc;
    int fd = s.fd;
    uint64_t size = s.size;
    rep->snapshot_records = s.records;
    snprintf(rep->snapshot, sizeof rep->snapshot, "%s", f->name);
    rep->snapshot_seq = f->seq;
    if (s.damaged && !w->opt.repair) {
        chord__wal_note_set(
            rep->note,
            "%s/%s is corrupt at byte offset %" PRIu64 " (%s); "
            "start with --repair to keep the %" PRIu64 " records before it",
            chord__wal_dpath(d), f->name, s.off, s.why, s.records);
        d->close(d->ctx, fd);
        return -EBADMSG;
    }
    if (s.damaged) {
        int64_t lost = chord__wal_count_from(d, fd, size, s.off);
        uint8_t footer[CHORD_WAL_HEADER + SNAP_FOOTER_LEN];
        chord__wal_snap_footer(footer + CHORD_WAL_HEADER, s.records, f->seq);
        chord__wal_record_seal(footer, 0, SNAP_FOOTER_LEN);
        rc = repair_file(d, f->name, fd, size, s.off, footer, sizeof footer);
        if (rc) {
            chord__wal_note_set(rep->note, "cannot repair %s/%s: %s",
                                chord__wal_dpath(d), f->name, strerror(-rc));
            d->close(d->ctx, fd);
            return rc;
        }
        rep->repaired++;
        rep->dropped += lost > 0 ? (uint64_t)lost : 1;
        rep->cut_bytes += size - s.off;
        chord__wal_note_add(rep->note,
                            "%s was corrupt at byte offset %" PRIu64
                            " (%s): kept the %" PRIu64 " records before it, "
                            "the damaged file is %s%s",
                            f->name, s.off, s.why, s.records, f->name,
                            SUFFIX_DAMAGED);
    }
    d->close(d->ctx, fd);
    return 0;
}

/* Replay one segment after the snapshot of seq S, cutting a torn tail or
 * handling corruption. Updates *last with the newest seq seen. */
static int replay_segment(struct chord_wal *w, const struct wal_seg *seg,
                          uint64_t S, chord_wal_apply_fn fn, void *arg,
                          struct chord_wal_report *rep, uint64_t *last)
{
    const struct chord_disk *d = w->disk;
    struct wal_file file = {seg->name, false, seg->first, S};
    struct wal_scan s;
    int rc = chord__wal_scan_open(d, &file, CHORD_DISK_WRITE, fn, arg, &s,
                                  rep->note);
    if (rc)
        return rc;
    int fd = s.fd;
    uint64_t size = s.size;
    rep->log_records += s.records;
    if (s.last_seq > *last)
        *last = s.last_seq;
    if (!s.damaged) {
        if (w->opt.fsync)
            rc = d->fsync(d->ctx, fd);
        if (rc)
            chord__wal_note_set(rep->note, "cannot fsync %s/%s: %s",
                                chord__wal_dpath(d), seg->name, strerror(-rc));
        goto out;
    }

    uint64_t valid_at = 0;
    int found = 1;
    if (!s.out_of_seq) {
        found = chord__wal_find_valid_after(d, fd, size, s.off, s.expected,
                                            &valid_at);
        if (found < 0) {
            rc = found;
            chord__wal_note_set(rep->note, "cannot read %s/%s: %s",
                                chord__wal_dpath(d), seg->name, strerror(-rc));
            goto out;
        }
    }
    if (!found) {
        /* A torn tail: the last write did not finish. Cut it. */
        rc = d->truncate(d->ctx, fd, s.off);
        if (rc == 0)
            rc = d->fsync(d->ctx, fd);
        if (rc) {
            chord__wal_note_set(rep->note,
                                "cannot cut the torn tail of %s/%s: %s",
                                chord__wal_dpath(d), seg->name, strerror(-rc));
            goto out;
        }
        rep->torn++;
        rep->dropped++;
        rep->cut_bytes += size - s.off;
        chord__wal_note_add(rep->note,
                            "%s: cut a torn tail of %" PRIu64
                            " bytes at byte offset "
                            "%" PRIu64 " (%s)",
                            seg->name, size - s.off, s.off, s.why);
        goto out;
    }
    if (!w->opt.repair) {
        chord__wal_note_set(
            rep->note,
            "%s/%s is corrupt at byte offset %" PRIu64
            " (%s, with valid records after it); start with --repair "
            "to keep the records before it",
            chord__wal_dpath(d), seg->name, s.off, s.why);
        rc = -EBADMSG;
        goto out;
    }
    int64_t lost =
        chord__wal_count_from(d, fd, size, s.out_of_seq ? s.off : valid_at);
    rc = repair_file(d, seg->name, fd, size, s.off, NULL, 0);
    if (rc) {
        chord__wal_note_set(rep->note, "cannot repair %s/%s: %s",
                            chord__wal_dpath(d), seg->name, strerror(-rc));
        goto out;
    }
    rep->repaired++;
    rep->dropped += (lost > 0 ? (uint64_t)lost : 0) + (s.out_of_seq ? 0 : 1);
    rep->cut_bytes += size - s.off;
    chord__wal_note_add(rep->note,
                        "%s was corrupt at byte offset %" PRIu64
                        " (%s): kept the "
                        "records before it, the damaged file is %s%s",
                        seg->name, s.off, s.why, seg->name, SUFFIX_DAMAGED);
out:
    d->close(d->ctx, fd);
    return rc;
}

/* Recovery proper (see the banner of wal.h). Fills w->segs (the segments
 * kept, oldest first), w->snap and rep. */
int chord__wal_recover(struct chord_wal *w, chord_wal_apply_fn fn, void *arg,
                       struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    struct wal_dir_list l = {NULL, 0, 0};
    int rc = chord__wal_dir_list(d, &l);
    if (rc) {
        chord__wal_note_set(
            rep->note, "cannot list %s: %s", chord__wal_dpath(d),
            rc == -EMFILE ? "too many log files" : strerror(-rc));
        goto out;
    }
    size_t n_seg = 0, n_snap = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].kind == WAL_FILE_TMP) {
            /* A snapshot or repair that did not finish: never renamed,
             * so nothing refers to it. */
            rc = d->unlink(d->ctx, l.v[i].name);
            if (rc && rc != -ENOENT) {
                chord__wal_note_set(rep->note, "cannot delete %s/%s: %s",
                                    chord__wal_dpath(d), l.v[i].name,
                                    strerror(-rc));
                goto out;
            }
        } else if (l.v[i].kind == WAL_FILE_SEG) {
            n_seg++;
        } else {
            n_snap++;
        }
    }
    /* Whatever names the last run made visible become durable before we
     * delete anything on their strength. */
    rc = d->sync_dir(d->ctx);
    if (rc) {
        chord__wal_note_set(rep->note, "cannot fsync %s: %s",
                            chord__wal_dpath(d), strerror(-rc));
        goto out;
    }

    struct wal_dir_file *segs = l.v;          /* kinds sort SEG, SNAP, TMP */
    struct wal_dir_file *snaps = l.v + n_seg; /* oldest first */
    uint64_t S = 0;
    if (n_snap) {
        const struct wal_dir_file *newest = &snaps[n_snap - 1];
        rc = load_snapshot(w, newest, fn, arg, rep);
        if (rc)
            goto out;
        S = newest->seq;
        snprintf(w->snap, sizeof w->snap, "%s", newest->name);
        w->snap_seq = S;
        for (size_t i = 0; i + 1 < n_snap; i++)
            d->unlink(d->ctx, snaps[i].name); /* replaced by the newest */
    }

    /* Segments whose every record the snapshot holds go; the rest are
     * replayed in order. */
    uint64_t last = S;
    bool first_kept = true;
    for (size_t i = 0; i < n_seg; i++) {
        if (i + 1 < n_seg && segs[i + 1].seq - 1 <= S) {
            d->unlink(d->ctx, segs[i].name);
            continue;
        }
        if (first_kept && segs[i].seq > S + 1) {
            if (!w->opt.repair) {
                chord__wal_note_set(
                    rep->note,
                    "%s: log records %" PRIu64 " to %" PRIu64
                    " are missing (the first log after %s is %s); start "
                    "with --repair to go on without them",
                    chord__wal_dpath(d), S + 1, segs[i].seq - 1,
                    n_snap ? snaps[n_snap - 1].name : "the start",
                    segs[i].name);
                rc = -EBADMSG;
                goto out;
            }
            chord__wal_note_add(rep->note,
                                "log records %" PRIu64 " to %" PRIu64
                                " were missing",
                                S + 1, segs[i].seq - 1);
        }
        first_kept = false;
        struct wal_seg seg;
        seg.first = segs[i].seq;
        snprintf(seg.name, sizeof seg.name, "%s", segs[i].name);
        rc = replay_segment(w, &seg, S, fn, arg, rep, &last);
        if (rc == 0)
            rc = chord__wal_segs_push(w, seg.first, seg.name);
        if (rc)
            goto out;
    }
    rc = d->sync_dir(d->ctx);
    if (rc)
        chord__wal_note_set(rep->note, "cannot fsync %s: %s",
                            chord__wal_dpath(d), strerror(-rc));
    rep->last_seq = last;
out:
    free(l.v);
    return rc;
}
