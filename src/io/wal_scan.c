/*
 * wal_scan.c - reading the files of a log: a record at a time through a
 * window, checking sequence numbers and snapshot end markers, and looking
 * past damage for valid records.
 *
 * Files are read through a window (struct rdr) at least one largest
 * record wide, so a record never has to be assembled from two reads, and
 * a whole file is never held in memory. When a record of a segment does
 * not decode, chord__wal_find_valid_after() looks for any valid record
 * later in the same file; one with a plausible sequence number, a length
 * inside the file and a matching CRC means the damage is corruption, none
 * means a torn tail. A record with seq s can only be followed by seqs
 * s+1, s+2..., so candidates are filtered by that before any CRC is
 * computed, and the scan stays cheap on a tail of zeros or garbage.
 *
 * A scan describes damage and stops; it never writes, cuts or repairs a
 * file, and it does not decide whether damage is a torn tail or
 * corruption (recovery and checkpoints do, each by its own rule).
 */
#include "io/wal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/wal_shared.h"

/* ---- reading a file through a window ------------------------------------- */

enum { RD_EOF = 0, RD_REC = 1, RD_BAD = 2, RD_SHORT = 3 };

struct rdr {
    const struct chord_disk *disk;
    int fd;
    uint64_t size; /* bytes in the file */
    uint8_t *buf;  /* WAL_WINDOW bytes */
    size_t len;    /* valid bytes in buf */
    size_t pos;    /* the next record starts at buf[pos] */
    uint64_t base; /* file offset of buf[0] */
};

/* A reader of fd from byte `from`. 0 or -ENOMEM. */
static int rdr_init(struct rdr *r, const struct chord_disk *disk, int fd,
                    uint64_t size, uint64_t from)
{
    *r = (struct rdr){disk, fd, size, NULL, 0, 0, from};
    r->buf = malloc(WAL_WINDOW);
    return r->buf ? 0 : -ENOMEM;
}

static void rdr_free(struct rdr *r)
{
    free(r->buf);
    r->buf = NULL;
}

/*
 * The next record: RD_REC with *rec (borrowing the window until the next
 * call), RD_EOF at a clean end, RD_BAD (bad length or CRC) or RD_SHORT (a
 * record cut by the end of the file); *off is the record's file offset.
 * A negative errno when a read fails.
 */
static int rdr_next(struct rdr *r, struct chord_wal_record *rec, uint64_t *off)
{
    for (;;) {
        *off = r->base + r->pos;
        ssize_t n =
            chord_wal_record_decode(r->buf + r->pos, r->len - r->pos, rec);
        if (n > 0) {
            r->pos += (size_t)n;
            return RD_REC;
        }
        if (n == CHORD_WAL_DECODE_BAD)
            return RD_BAD;
        if (r->base + r->len >= r->size)
            return r->pos == r->len ? RD_EOF : RD_SHORT;
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += r->pos;
        r->len -= r->pos;
        r->pos = 0;
        uint64_t left = r->size - (r->base + r->len);
        size_t want = WAL_WINDOW - r->len;
        if (want > left)
            want = (size_t)left;
        ssize_t got = r->disk->pread(r->disk->ctx, r->fd, r->buf + r->len, want,
                                     r->base + r->len);
        if (got < 0)
            return (int)got;
        if (got == 0)
            r->size = r->base + r->len; /* the file shrank under us */
        r->len += (size_t)got;
    }
}

/* ---- looking past damage ------------------------------------------------- */

/*
 * Is there a valid record at some offset in (from, size) whose seq is at
 * least min_seq (and not absurdly far beyond it)? 1 with *where, 0, or
 * -errno.
 */
int chord__wal_find_valid_after(const struct chord_disk *disk, int fd,
                                uint64_t size, uint64_t from, uint64_t min_seq,
                                uint64_t *where)
{
    if (size < CHORD_WAL_HEADER || from + 1 > size - CHORD_WAL_HEADER)
        return 0;
    uint64_t max_seq = min_seq + (size - from) / CHORD_WAL_HEADER + 1;
    uint8_t *buf = malloc(WAL_CHUNK + CHORD_WAL_HEADER);
    uint8_t *payload = malloc(CHORD_WAL_PAYLOAD_MAX);
    int found = -ENOMEM;
    if (!buf || !payload)
        goto out;
    found = 0;
    for (uint64_t p0 = from + 1; p0 + CHORD_WAL_HEADER <= size && found == 0;
         p0 += WAL_CHUNK) {
        ssize_t got =
            disk->pread(disk->ctx, fd, buf, WAL_CHUNK + CHORD_WAL_HEADER, p0);
        if (got < 0) {
            found = (int)got;
            break;
        }
        for (size_t i = 0; i < WAL_CHUNK && i + CHORD_WAL_HEADER <= (size_t)got;
             i++) {
            const uint8_t *h = buf + i;
            uint32_t len = get32(h);
            uint64_t seq = get64(h + 8);
            uint64_t at = p0 + i;
            if (seq < min_seq || seq > max_seq || len > CHORD_WAL_PAYLOAD_MAX ||
                at + CHORD_WAL_HEADER + len > size)
                continue;
            ssize_t pl =
                disk->pread(disk->ctx, fd, payload, len, at + CHORD_WAL_HEADER);
            if (pl < 0) {
                found = (int)pl;
                break;
            }
            if ((size_t)pl == len &&
                chord__wal_record_crc(h, payload, len) == get32(h + 4)) {
                *where = at;
                found = 1;
                break;
            }
        }
    }
out:
    free(buf);
    free(payload);
    return found;
}

/* Valid records one after another from `from`: how many, or -errno. */
int64_t chord__wal_count_from(const struct chord_disk *disk, int fd,
                              uint64_t size, uint64_t from)
{
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, from))
        return -ENOMEM;
    int64_t n = 0;
    struct chord_wal_record rec;
    uint64_t off;
    int rc;
    while ((rc = rdr_next(&r, &rec, &off)) == RD_REC)
        n++;
    rdr_free(&r);
    return rc < 0 ? rc : n;
}

/* ---- scanning a file ---------------------------------------------------- */

/*
 * Read a segment whose first record should carry `first`, applying the
 * records with seq > skip_upto through fn (may be NULL). Stops at the
 * first damage and describes it in *s. 0, -errno (read), or fn's error.
 */
static int scan_segment(const struct chord_disk *disk, int fd, uint64_t size,
                        uint64_t first, uint64_t skip_upto,
                        chord_wal_apply_fn fn, void *arg, struct wal_scan *s)
{
    memset(s, 0, sizeof *s);
    s->expected = first;
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, 0))
        return -ENOMEM;
    int rc;
    for (;;) {
        struct chord_wal_record rec;
        uint64_t off;
        rc = rdr_next(&r, &rec, &off);
        if (rc < 0 || rc == RD_EOF)
            break;
        if (rc == RD_REC && rec.seq != s->expected) {
            s->out_of_seq = true;
            s->why = "a record out of sequence";
        } else if (rc == RD_BAD) {
            s->why = "a bad length or CRC mismatch";
        } else if (rc == RD_SHORT) {
            s->why = "an incomplete record";
        }
        if (rc != RD_REC || s->out_of_seq) {
            s->damaged = true;
            s->off = off;
            rc = 0;
            break;
        }
        if (rec.seq > skip_upto && fn) {
            rc = fn(arg, rec.seq, rec.payload, rec.len);
            if (rc)
                break;
            s->records++;
        }
        s->last_seq = rec.seq;
        s->expected = rec.seq + 1;
    }
    rdr_free(&r);
    return rc;
}

/*
 * Read the snapshot of `seq`, applying its records through fn. Any flaw is
 * damage: a record that does not decode, a wrong seq, no end marker, an
 * end marker that disagrees, bytes after it. 0, -errno, or fn's error.
 */
static int scan_snapshot(const struct chord_disk *disk, int fd, uint64_t size,
                         uint64_t seq, chord_wal_apply_fn fn, void *arg,
                         struct wal_scan *s)
{
    memset(s, 0, sizeof *s);
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, 0))
        return -ENOMEM;
    bool ended = false;
    int rc;
    for (;;) {
        struct chord_wal_record rec;
        uint64_t off;
        rc = rdr_next(&r, &rec, &off);
        if (rc < 0)
            break;
        s->off = off;
        if (rc == RD_EOF) {
            if (!ended) {
                s->damaged = true;
                s->why = "no end marker (an incomplete snapshot)";
            }
            rc = 0;
            break;
        }
        if (rc != RD_REC) {
            s->damaged = true;
            s->why = rc == RD_BAD ? "a bad length or CRC mismatch"
                                  : "an incomplete record";
            rc = 0;
            break;
        }
        if (ended) {
            s->damaged = true;
            s->why = "data after the end marker";
            rc = 0;
            break;
        }
        if (rec.seq == 0) {
            if (rec.len != SNAP_FOOTER_LEN ||
                memcmp(rec.payload, SNAP_MAGIC, 8) != 0 ||
                get64(rec.payload + 8) != s->records ||
                get64(rec.payload + 16) != seq) {
                s->damaged = true;
                s->why = "an end marker that does not match";
                rc = 0;
                break;
            }
            ended = true;
            continue;
        }
        if (rec.seq != seq) {
            s->damaged = true;
            s->why = "a record of another snapshot";
            rc = 0;
            break;
        }
        if (fn) {
            rc = fn(arg, rec.seq, rec.payload, rec.len);
            if (rc)
                break;
        }
        s->records++;
    }
    rdr_free(&r);
    return rc;
}

int chord__wal_scan_open(const struct chord_disk *disk,
                         const struct wal_file *f, int flags,
                         chord_wal_apply_fn fn, void *arg, struct wal_scan *s,
                         char *note)
{
    int fd = disk->open(disk->ctx, f->name, flags);
    if (fd < 0) {
        chord__wal_note_set(note, "cannot open %s/%s: %s",
                            chord__wal_dpath(disk), f->name, strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    int rc = disk->size(disk->ctx, fd, &size);
    if (rc == 0 && f->snap)
        rc = scan_snapshot(disk, fd, size, f->seq, fn, arg, s);
    else if (rc == 0)
        rc = scan_segment(disk, fd, size, f->first, f->seq, fn, arg, s);
    if (rc) {
        if (rc < 0)
            chord__wal_note_set(note, "cannot read %s/%s: %s",
                                chord__wal_dpath(disk), f->name, strerror(-rc));
        else
            chord__wal_note_set(note, "%s/%s: a record could not be applied",
                                chord__wal_dpath(disk), f->name);
        disk->close(disk->ctx, fd);
        return rc;
    }
    s->fd = fd;
    s->size = size;
    return 0;
}
