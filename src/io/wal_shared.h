/*
 * wal_shared.h - what the files of the write-ahead log share (the
 * contract and the file formats are in wal.h).
 *
 * The log is split by concern, each file calling only those above it:
 *   crc32c.c          the checksum
 *   wal_record.c      encode and decode one record, the snapshot end marker
 *   wal_dir.c         the log directory: file names, listing, the segment
 *                     list, and the messages that name its files
 *   wal_scan.c        read a file through a window, scan a segment or a
 *                     snapshot, look past damage for valid records
 *   wal_recover.c     recovery: load the snapshot, replay the segments, cut
 *                     torn tails, refuse or repair corruption
 *   wal.c             the log: open, append, group commit, rotation
 *   wal_checkpoint.c  merge a snapshot and closed segments into a new one
 * Nothing outside src/io/wal*.c and crc32c.c includes this header.
 * Internal functions are named chord__wal_* (libuv's uv__ convention).
 *
 * Invariants of struct chord_wal: segs[] is sorted by first seq and its
 * last entry is the segment being appended to (fd); its bytes [0, written)
 * were handed to jobs and pend holds the rest, up to seq next_seq - 1;
 * synced_seq <= next_seq - 1; the retired[] segments are the newest
 * closed ones, oldest first, each with the pending bytes no job has taken
 * yet, released only after a job wrote and synced them; a checkpoint only
 * reads segments older than every retired one.
 */
#ifndef CHORD_IO_WAL_SHARED_H
#define CHORD_IO_WAL_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/wal.h"

/* Bytes read or written per disk call when streaming a file. */
#define WAL_CHUNK (1u << 20)
/* Window of a reader: a chunk plus the largest record. */
#define WAL_WINDOW (WAL_CHUNK + CHORD_WAL_HEADER + CHORD_WAL_PAYLOAD_MAX)
/* The end marker of a snapshot: magic, record count, seq. */
#define SNAP_MAGIC "CHORDSNP"
#define SNAP_FOOTER_LEN 24u
/* Suffixes of temporary and set-aside files. */
#define SUFFIX_TMP ".tmp"
#define SUFFIX_DAMAGED ".damaged"

/* ---- big-endian fields --------------------------------------------------- */

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- the log's state ------------------------------------------------------
 */

struct wal_seg {
    uint64_t first;
    char name[CHORD_DISK_NAME_MAX];
};

struct wal_retired {
    int fd;
    char name[CHORD_DISK_NAME_MAX];
    struct chord_buf pend; /* bytes no job has taken yet */
    uint64_t off;          /* where they go */
};

struct chord_wal {
    const struct chord_disk *disk;
    struct chord_wal_options opt;
    struct wal_seg *segs; /* sorted; the last is the current segment */
    size_t n_segs, cap_segs;
    int fd;                 /* the current segment, -1 before it is open */
    uint64_t written;       /* bytes of it handed to sync jobs */
    struct chord_buf pend;  /* framed records after those */
    struct chord_buf spare; /* an empty buffer to swap in (recycled) */
    uint64_t next_seq;      /* seq of the next append */
    uint64_t synced_seq;
    char snap[CHORD_DISK_NAME_MAX]; /* "" when none */
    uint64_t snap_seq;
    struct wal_retired retired[CHORD_WAL_RETIRED_MAX];
    unsigned n_retired;
    bool dir_dirty; /* a segment was created since the last sync */
    bool sync_busy, cp_busy;
    bool broken;
};

/* ---- wal_record.c ---------------------------------------------------------
 */

/* The CRC a record with this header (length and seq already in place) and
 * payload must carry. */
uint32_t chord__wal_record_crc(const uint8_t *hdr, const uint8_t *payload,
                               size_t len);

/* Fill the 16-byte header at hdr for the payload that follows it. */
void chord__wal_record_seal(uint8_t *hdr, uint64_t seq, size_t len);

/* The payload of a snapshot's end marker (a record with seq 0). */
void chord__wal_snap_footer(uint8_t out[SNAP_FOOTER_LEN], uint64_t records,
                            uint64_t seq);

/* ---- wal_dir.c ------------------------------------------------------------
 */

/* Parse "<prefix><16 lower-case hex><suffix>" exactly: 0 and *seq, or -1. */
int chord__wal_parse_name(const char *name, const char *prefix,
                          const char *suffix, uint64_t *seq);

/* "<name><suffix>" into out; -ENAMETOOLONG if it does not fit. */
int chord__wal_name_with(char out[CHORD_DISK_NAME_MAX], const char *name,
                         const char *suffix);

/* Set a message (cut to CHORD_WAL_NOTE_MAX bytes). */
void chord__wal_note_set(char *note, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append "; <text>" (or just the text to an empty note), cut to fit. */
void chord__wal_note_add(char *note, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The directory of the disk, for messages. */
const char *chord__wal_dpath(const struct chord_disk *d);

/* Append a segment to w->segs[] (kept sorted by the callers). 0, -EMFILE
 * (CHORD_WAL_FILES_MAX) or -ENOMEM. */
int chord__wal_segs_push(struct chord_wal *w, uint64_t first, const char *name);

/* A file of the log found in the directory. */
struct wal_dir_file {
    int kind; /* WAL_FILE_SEG, WAL_FILE_SNAP, WAL_FILE_TMP */
    uint64_t seq;
    char name[CHORD_DISK_NAME_MAX];
};

enum { WAL_FILE_SEG, WAL_FILE_SNAP, WAL_FILE_TMP };

struct wal_dir_list {
    struct wal_dir_file *v; /* owned: free(v) */
    size_t n, cap;
};

/* List the log's files in `disk` into *l (which starts empty), sorted by
 * kind (segments, snapshots, temporaries), then by seq. Other files (the
 * lock, *.damaged) are left out. 0, -EMFILE (over CHORD_WAL_FILES_MAX),
 * -ENOMEM or the disk's -errno; l->v is to be freed in every case. */
int chord__wal_dir_list(const struct chord_disk *disk, struct wal_dir_list *l);

/* ---- wal_scan.c -----------------------------------------------------------
 */

/* A file to scan. */
struct wal_file {
    const char *name;
    bool snap;      /* a snapshot, else a log segment */
    uint64_t first; /* a segment: the seq its first record must carry */
    uint64_t seq;   /* a snapshot: its seq; a segment: records up to this
                       seq are read and checked but not applied */
};

/* What a scan of one file found. */
struct wal_scan {
    uint64_t records;  /* records applied (or counted) */
    uint64_t last_seq; /* seq of the last good record, 0 if none */
    uint64_t expected; /* seq the next record should carry */
    bool damaged;
    bool out_of_seq; /* the damage is a valid record with a wrong seq */
    uint64_t off;    /* where the damage starts */
    const char *why; /* what it is */
    int fd;          /* the file, left open for the caller to close */
    uint64_t size;   /* its size */
};

/*
 * Open f->name (`flags` as for disk->open) and scan it, applying its
 * records through fn (may be NULL). A segment's scan stops at the first
 * damage; in a snapshot any flaw is damage (a record that does not
 * decode, a wrong seq, no end marker, an end marker that disagrees, bytes
 * after it). Damage is described in *s, not an error. Returns 0 with
 * s->fd open (the caller closes it); or, with the file closed and `note`
 * (CHORD_WAL_NOTE_MAX bytes) naming it, the -errno of opening or reading
 * it, or fn's error.
 */
int chord__wal_scan_open(const struct chord_disk *disk,
                         const struct wal_file *f, int flags,
                         chord_wal_apply_fn fn, void *arg, struct wal_scan *s,
                         char *note);

/*
 * Is there a valid record at some offset in (from, size) of fd whose seq
 * is at least min_seq (and not absurdly far beyond it)? 1 with *where, 0,
 * or -errno.
 */
int chord__wal_find_valid_after(const struct chord_disk *disk, int fd,
                                uint64_t size, uint64_t from, uint64_t min_seq,
                                uint64_t *where);

/* Valid records one after another from `from`: how many, or -errno. */
int64_t chord__wal_count_from(const struct chord_disk *disk, int fd,
                              uint64_t size, uint64_t from);

/* ---- wal_recover.c --------------------------------------------------------
 */

/* Recovery proper (see the banner of wal.h). Fills w->segs (the segments
 * kept, oldest first), w->snap and rep. 0 or as chord_wal_open. */
int chord__wal_recover(struct chord_wal *w, chord_wal_apply_fn fn, void *arg,
                       struct chord_wal_report *rep);

#endif
