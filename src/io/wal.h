/*
 * wal.h - the write-ahead log of a node's store: log segments of framed
 * records, snapshots, recovery after a crash, group-commit and checkpoint
 * jobs that may run on another thread.
 *
 * Record (all integers big-endian, like the wire):
 *
 *     u32 length   bytes of payload (<= CHORD_WAL_PAYLOAD_MAX)
 *     u32 crc      CRC-32C (Castagnoli) of the length field, the seq
 *                  field and the payload, in that order
 *     u64 seq      sequence number (> 0 in a log, see snapshots below)
 *     ... payload  one store change, as chord_item_encode() writes it
 *
 * A directory holds log segments "wal-<16 hex digits of the first seq>.log"
 * whose records have consecutive sequence numbers starting at the one in
 * the name, and snapshots "snap-<16 hex seq>.dat" holding the newest
 * version of every key (tombstones included) as of that seq: every record
 * carries the snapshot's seq, and a last record with seq 0 and payload
 * "CHORDSNP", u64 record count, u64 seq marks a complete snapshot.
 * Snapshots are written to "<name>.tmp", fsynced, renamed, and the
 * directory fsynced; old segments and snapshots are deleted only after.
 *
 * Recovery (chord_wal_open) loads the newest snapshot, replays the records
 * of later segments in order, deletes what a newer snapshot covers and
 * leftover temporary files, and starts a new segment. Damage to a record
 * of a segment (a short record, a bad length or a CRC mismatch) with no
 * valid record after it in that file is a torn tail: the file is cut
 * there and recovery goes on, reporting it. Damage with a valid record
 * after it, any damage to a snapshot, a record out of sequence, or log
 * records missing after the snapshot is corruption: recovery refuses
 * (-EBADMSG) with a message naming the file and byte offset, unless
 * `repair` is set; then the damaged file is copied to "<name>.damaged",
 * the records before the damage are kept (rewritten atomically under the
 * original name) and recovery goes on.
 *
 * Appends do no I/O: a record is framed into the current segment's
 * pending buffer and gets its sequence number at once. A sync job takes
 * the pending bytes, writes them at the end of their segment and (unless
 * in mode "never") fdatasyncs it; only then is the record durable. So the
 * thread that appends never waits for the file system, not even for a
 * write that a concurrent journal commit holds up (ext4 does: up to 58 ms
 * measured here). A crash loses what no job has written yet, which was
 * never reported durable.
 *
 * The log does all of its I/O through struct chord_disk and never through
 * libuv, so the simulator can run it on a simulated disk. Appends, the
 * begin/end halves of jobs and every query are for one thread (the loop);
 * chord_wal_sync_run() and chord_wal_checkpoint_run() touch only the disk
 * and their job, so they may run on a worker thread meanwhile. At most one
 * sync job and one checkpoint job are in flight at a time.
 *
 * It does not decide when to sync or checkpoint (durable.c or the caller
 * does), and it does not apply records to a store except inside a
 * checkpoint, which merges records as chord items.
 */
#ifndef CHORD_IO_WAL_H
#define CHORD_IO_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chord/crc32c.h"
#include "chord/types.h"
#include "chord/buf.h"
#include "core/dvv.h"
#include "io/disk.h"

#define CHORD_WAL_HEADER 16u /* length, crc, seq */
/* Largest payload: one item with a full key and a full state blob (a
 * state is capped above a value: CHORD_DVV_STATE_MAX > CHORD_VALUE_MAX),
 * and room to spare for its fixed fields. */
#define CHORD_WAL_PAYLOAD_MAX (CHORD_KEY_MAX + CHORD_DVV_STATE_MAX + 256u)
/* Log segments and snapshots one directory may hold. */
#define CHORD_WAL_FILES_MAX 65536u
/* Closed segments whose write and fsync are still due (a rotation waits
 * beyond). */
#define CHORD_WAL_RETIRED_MAX 8u
/* Bytes of records appended but not yet handed to a sync job; appends
 * beyond are refused (-ENOBUFS) until a job takes them. */
#define CHORD_WAL_PENDING_MAX (32u << 20)
/* Bytes of a recovery or job message. */
#define CHORD_WAL_NOTE_MAX 512u

/* chord_wal_record_decode() answers besides a length. */
#define CHORD_WAL_DECODE_BAD (-1)     /* bad length or CRC mismatch */
#define CHORD_WAL_DECODE_PARTIAL (-2) /* the record goes past `len` */

/* chord_crc32c(): the checksum of records, in chord/crc32c.h. */

/* Append the record (seq, payload) to `out`. 0, -EMSGSIZE (payload over
 * CHORD_WAL_PAYLOAD_MAX; nothing appended) or -ENOMEM. */
int chord_wal_record_encode(uint64_t seq, const void *payload, size_t len,
                            struct chord_buf *out);

struct chord_wal_record {
    uint64_t seq;
    const uint8_t *payload; /* borrowed from the decoded buffer */
    size_t len;
};

/* Decode the record at the start of buf[0..len): its size (> 0), or
 * CHORD_WAL_DECODE_PARTIAL / CHORD_WAL_DECODE_BAD. */
ssize_t chord_wal_record_decode(const uint8_t *buf, size_t len,
                                struct chord_wal_record *out);

/* The file names of a segment starting at `first` and of a snapshot. */
void chord_wal_segment_name(uint64_t first, char out[CHORD_DISK_NAME_MAX]);
void chord_wal_snapshot_name(uint64_t seq, char out[CHORD_DISK_NAME_MAX]);

struct chord_wal_options {
    bool fsync;  /* false: sync jobs write but never fsync (mode "never");
                    snapshots are still fsynced before old segments go */
    bool repair; /* recover past corruption (see the banner) */
};

/* What recovery found and did. */
struct chord_wal_report {
    char snapshot[CHORD_DISK_NAME_MAX]; /* loaded, "" when none */
    uint64_t snapshot_seq;
    uint64_t snapshot_records;     /* records loaded from it */
    uint64_t log_records;          /* records replayed from segments */
    uint64_t dropped;              /* records lost to torn tails and repair */
    uint64_t cut_bytes;            /* bytes cut or set aside */
    unsigned torn;                 /* torn tails cut */
    unsigned repaired;             /* damaged files set aside */
    uint64_t last_seq;             /* newest sequence number recovered */
    char note[CHORD_WAL_NOTE_MAX]; /* what was cut or repaired, or why
                                      recovery refused; "" if nothing */
};

/* Receives one recovered record (payload borrowed for the call). A
 * nonzero return stops recovery and is returned by chord_wal_open. */
typedef int (*chord_wal_apply_fn)(void *arg, uint64_t seq,
                                  const uint8_t *payload, size_t len);

struct chord_wal;

/*
 * Recover the log in `disk` (borrowed; it must outlive the log) and open
 * it for appending: apply every surviving record through fn (snapshot
 * records first, then log records in order), then start a new segment.
 * The options are copied; *rep is always filled. Returns 0; -EBADMSG for
 * corruption (rep->note names the file and byte offset); fn's error; or
 * another -errno (rep->note says which file).
 */
int chord_wal_open(const struct chord_disk *disk,
                   const struct chord_wal_options *opt, chord_wal_apply_fn fn,
                   void *arg, struct chord_wal_report *rep,
                   struct chord_wal **out);

/* Close the files (without syncing) and free the log. NULL is allowed.
 * No job may be in flight. */
void chord_wal_close(struct chord_wal *w);

/*
 * Append one record to the current segment's pending bytes (no I/O). Sets
 * *seq to its sequence number. 0; -EMSGSIZE (too large); -ENOBUFS (over
 * CHORD_WAL_PENDING_MAX pending); -ENOMEM; -EIO once the log is broken
 * (a sync job failed, see chord_wal_broken). Nothing is kept on an error.
 */
int chord_wal_append(struct chord_wal *w, const void *payload, size_t len,
                     uint64_t *seq);

/* The last seq appended; the last one durable (in mode never: written). */
uint64_t chord_wal_last_seq(const struct chord_wal *w);
uint64_t chord_wal_synced_seq(const struct chord_wal *w);
/* Bytes of the current segment, pending ones included, and its name. */
uint64_t chord_wal_segment_bytes(const struct chord_wal *w);
const char *chord_wal_segment(const struct chord_wal *w);
bool chord_wal_broken(const struct chord_wal *w);

/* ---- group commit ------------------------------------------------------- */

/* One file of a sync job: bytes to write at `off`, then an fdatasync. */
struct chord_wal_sync_file {
    int fd;
    char name[CHORD_DISK_NAME_MAX];
    struct chord_buf data; /* owned by the job */
    uint64_t off;
};

/* One sync job: the segments (and the directory) to write and sync. */
struct chord_wal_sync {
    struct chord_wal_sync_file files[CHORD_WAL_RETIRED_MAX + 1];
    unsigned n_files;
    unsigned n_retired; /* files[0..n_retired) are closed segments */
    bool fsync;         /* false in mode never: write only */
    bool dir;           /* fsync the directory (a segment was created) */
    uint64_t seq;       /* everything up to it is durable on success */
    char err[CHORD_WAL_NOTE_MAX]; /* set by run on failure */
};

/* Plan a job for everything appended so far. 1 (planned: run it, then
 * end it), 0 (nothing to do), -EBUSY (a job is in flight), -EIO
 * (broken). */
int chord_wal_sync_begin(struct chord_wal *w, struct chord_wal_sync *job);
/* Write and fsync (any thread): 0, or the first -errno (job->err says
 * what failed on which file). */
int chord_wal_sync_run(const struct chord_disk *disk,
                       struct chord_wal_sync *job);
/* Finish a job on the log's thread with run's result: on success the
 * synced seq advances and closed segments are released; on failure the
 * log is broken (a failed write or fsync cannot be retried: the kernel
 * may have dropped the dirty pages). Frees the job's buffers. */
void chord_wal_sync_end(struct chord_wal *w, struct chord_wal_sync *job,
                        int rc);
/* begin + run + end, on the calling thread. 0 or -errno. */
int chord_wal_sync(struct chord_wal *w);
/* Would chord_wal_sync_begin() plan a job (ignoring one in flight)? */
bool chord_wal_sync_due(const struct chord_wal *w);

/* ---- checkpoints -------------------------------------------------------- */

/* One checkpoint job: merge the previous snapshot and the closed segments
 * into snapshot `snap_new`, then delete them. */
struct chord_wal_checkpoint {
    char snap_old[CHORD_DISK_NAME_MAX]; /* "" when none */
    uint64_t snap_old_seq;
    char (*segs)[CHORD_DISK_NAME_MAX]; /* closed segments, oldest first */
    size_t n_segs;
    uint64_t seq; /* the new snapshot holds every record up to it */
    char snap_new[CHORD_DISK_NAME_MAX];
    /* Set by run: */
    bool written;     /* the new snapshot is durable (even if deleting
                         what it replaces then failed) */
    uint64_t records; /* records read */
    uint64_t keys;    /* records written (keys and tombstones) */
    uint64_t bytes;   /* size of the new snapshot */
    char err[CHORD_WAL_NOTE_MAX];
};

/*
 * Close the current segment for appending and start the next one (one
 * file creation). The closed segment's pending bytes are written by the
 * next sync job. 0; -EALREADY (the current segment is empty); -EBUSY
 * (CHORD_WAL_RETIRED_MAX closed segments await their job); -EIO (broken);
 * or the -errno of creating the file (the log goes on in the current one).
 */
int chord_wal_rotate(struct chord_wal *w);

/*
 * Plan a checkpoint on the log's thread, of every closed segment whose
 * bytes a sync job has written (not those rotated since). Returns 1
 * (planned: run it, then end it), 0 (nothing to merge), -EBUSY (one in
 * flight), -EIO (broken).
 */
int chord_wal_checkpoint_begin(struct chord_wal *w,
                               struct chord_wal_checkpoint *cp);
/* Write the snapshot and delete what it replaces (any thread). 0 or
 * -errno with cp->err set; on failure the old files are all kept. */
int chord_wal_checkpoint_run(const struct chord_disk *disk,
                             struct chord_wal_checkpoint *cp);
/* Finish on the log's thread with run's result; frees the job's memory. */
void chord_wal_checkpoint_end(struct chord_wal *w,
                              struct chord_wal_checkpoint *cp, int rc);
/* Rotate, sync, then begin + run + end, on the calling thread. 0 (also
 * when there was nothing to do) or -errno. */
int chord_wal_checkpoint(struct chord_wal *w);

#endif
