/*
 * disk.h - the small disk interface the write-ahead log does its I/O
 * through: one directory of flat files, reached through a struct of
 * function pointers plus a context, so that the daemon can use the real
 * file system (chord_disk_posix_open) and the tests and the simulator an
 * in-memory disk that loses unsynced bytes at a crash (chord_disk_mem_new).
 *
 * Files are named by short plain names (no '/', at most
 * CHORD_DISK_NAME_MAX-1 bytes) inside the disk's directory and reached
 * through small integer descriptors. Every operation returns 0 (or a count)
 * or a negative errno; nothing is stored in errno.
 *
 * Durability rules, which both implementations follow and the log relies
 * on: bytes written to a file survive a crash only after fsync() of that
 * file; a file's name (its creation, a rename, an unlink) survives a crash
 * only after sync_dir(). Changes to names are applied in order, so a crash
 * keeps some prefix of the name changes made since the last sync_dir().
 *
 * Threads: the POSIX disk may be used from several threads at once (the
 * libuv glue fsyncs and writes snapshots on the thread pool while the loop
 * appends), as long as two threads never use the same descriptor for
 * anything but a concurrent fsync and write. The in-memory disk is not
 * thread-safe: it is for single-threaded tests and the simulator.
 *
 * Neither implementation caches, retries or interprets file contents.
 */
#ifndef CHORD_IO_DISK_H
#define CHORD_IO_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest file name inside a disk directory, NUL included. */
#define CHORD_DISK_NAME_MAX 64u
/* Longest directory path a disk accepts, NUL included. */
#define CHORD_DISK_PATH_MAX 1024u
/* Name of the lock file chord_disk.lock() uses. */
#define CHORD_DISK_LOCK_NAME "LOCK"

/* Flags of open(). Without CHORD_DISK_WRITE a file is opened read-only. */
#define CHORD_DISK_WRITE 0x1u  /* read and write */
#define CHORD_DISK_CREATE 0x2u /* create the file when absent */
#define CHORD_DISK_EXCL 0x4u   /* with CREATE: -EEXIST when present */
#define CHORD_DISK_TRUNC 0x8u  /* with WRITE: empty the file */

/* Called once per file name by list(); a nonzero return stops the walk
 * and becomes list()'s result. */
typedef int (*chord_disk_list_fn)(void *arg, const char *name);

struct chord_disk {
    void *ctx; /* passed to every operation */
    /* The directory, for messages ("/var/lib/dht" or "mem:"). */
    const char *(*path)(void *ctx);
    /* Open `name`: a descriptor >= 0, or -ENOENT, -EEXIST, -EINVAL (bad
     * name), -EMFILE... */
    int (*open)(void *ctx, const char *name, unsigned flags);
    /* Close a descriptor (always releases it). 0 or -errno. */
    int (*close)(void *ctx, int fd);
    /* Read up to `len` bytes at `off`: bytes read (fewer only at the end
     * of the file, 0 past it), or -errno. */
    ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t off);
    /* Write all `len` bytes at `off`, extending the file as needed: 0, or
     * -errno (-ENOSPC, -EIO...), after which an unknown prefix of the
     * bytes may have been written. */
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);
    /* Make the file's bytes and size durable (not its times): 0 or
     * -errno. A failure is permanent: the caller must not assume any
     * unsynced byte reached the disk. */
    int (*fsync)(void *ctx, int fd);
    /* The file's size in bytes. */
    int (*size)(void *ctx, int fd, uint64_t *out);
    /* Cut (or extend with zeros) the file to `len` bytes. */
    int (*truncate)(void *ctx, int fd, uint64_t len);
    /* Make the directory's names durable (creations, renames, unlinks). */
    int (*sync_dir)(void *ctx);
    /* Rename atomically, replacing `to` if present. */
    int (*rename)(void *ctx, const char *from, const char *to);
    /* Remove a name; an open descriptor stays usable until closed. */
    int (*unlink)(void *ctx, const char *name);
    /* Call fn for every file name in the directory ("." and ".." are
     * never given), in no particular order. */
    int (*list)(void *ctx, chord_disk_list_fn fn, void *arg);
    /* Take the directory's exclusive lock (file CHORD_DISK_LOCK_NAME) for
     * as long as this disk is open or the process lives. 0; -EBUSY when
     * another holder has it, with *holder set to its pid (0 if unknown);
     * or another -errno. */
    int (*lock)(void *ctx, long *holder);
};

/* Is `name` acceptable as a file name (non-empty, short, no '/', not "."
 * or "..")? */
bool chord_disk_name_ok(const char *name);

/* ---- the real file system ----------------------------------------------- */

/*
 * Open directory `dir` as a disk, creating it (and missing parents, mode
 * 0755) when absent. Fills *out; release with chord_disk_posix_close(),
 * which also drops the lock. 0, -ENAMETOOLONG, -ENOTDIR, -EACCES, -ENOMEM,
 * or the errno of mkdir/open.
 */
int chord_disk_posix_open(const char *dir, struct chord_disk *out);
void chord_disk_posix_close(struct chord_disk *d);

/* ---- the simulated disk ------------------------------------------------- */

/* Caps of the in-memory disk. */
#define CHORD_DISK_MEM_FILES_MAX 4096u /* names and open files */
#define CHORD_DISK_MEM_FDS_MAX 256u    /* descriptors open at once */
#define CHORD_DISK_MEM_OPS_MAX 4096u   /* unsynced name changes kept */

/* Operation classes for chord_disk_mem_fail(). */
#define CHORD_DISK_MEM_OP_WRITE 0x1u /* pwrite, truncate */
#define CHORD_DISK_MEM_OP_SYNC 0x2u  /* fsync, sync_dir */
#define CHORD_DISK_MEM_OP_NAME 0x4u  /* create, rename, unlink */
#define CHORD_DISK_MEM_OP_ALL 0x7u

/*
 * A new empty in-memory disk. Each file keeps its current bytes and its
 * durable bytes (those of its last fsync); the directory keeps its current
 * names and its durable names plus the log of name changes made since.
 * 0 or -ENOMEM. Free with chord_disk_mem_free().
 */
int chord_disk_mem_new(struct chord_disk *out);
void chord_disk_mem_free(struct chord_disk *d);

/*
 * Power loss. Every descriptor becomes invalid (-EBADF) and the lock is
 * released. The names become the durable names plus a prefix of the
 * changes made since the last sync_dir(); each file keeps its durable
 * bytes plus a prefix of the bytes written after them (a torn write).
 * With prng == NULL both prefixes are empty (everything unsynced is
 * lost); otherwise their lengths are drawn from the xorshift state
 * *prng (nonzero), which is advanced. Injected failures are cleared. The
 * disk is then usable again, as after a reboot.
 */
void chord_disk_mem_crash(struct chord_disk *d, uint64_t *prng);

/*
 * Fault injection: after `after` more successful operations of the classes
 * in `ops` (opening with CREATE counts as a name change), every later
 * operation of those classes fails with `err` (a negative errno) without
 * doing anything, until chord_disk_mem_crash(). With ops ==
 * CHORD_DISK_MEM_OP_ALL this models the process dying at that point.
 */
void chord_disk_mem_fail(struct chord_disk *d, unsigned ops, uint64_t after,
                         int err);

/* Mutating operations (classes WRITE, SYNC, NAME) done so far. */
uint64_t chord_disk_mem_ops(const struct chord_disk *d);

#endif
