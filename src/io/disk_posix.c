/*
 * disk_posix.c - the disk interface (disk.h) on a real directory.
 *
 * The context holds a descriptor of the directory; every file operation is
 * relative to it (openat, renameat, unlinkat), so the directory may be
 * named by a relative path and a rename of its parent does not matter.
 * fsync() is fdatasync(): it makes a file's bytes durable together with
 * the metadata needed to read them back (its size), without forcing a
 * journal commit for a changed modification time. Names are made durable
 * by sync_dir(), an fsync of the directory.
 * Interrupted system calls are retried; short writes are continued.
 *
 * The lock is flock(LOCK_EX | LOCK_NB) on the file CHORD_DISK_LOCK_NAME,
 * which then holds the owner's pid in decimal. The kernel drops a flock
 * when its holder dies, so a node killed with kill -9 leaves no stale lock
 * behind, and the pid in the file is only used to explain a refusal.
 *
 * It does not cache or buffer anything, and it never follows a name out
 * of its directory (names with '/' are refused).
 */
#include "io/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct disk_posix {
    int dirfd;  /* the directory, O_DIRECTORY */
    int lockfd; /* the lock file once locked, else -1 */
    char path[CHORD_DISK_PATH_MAX];
};

bool chord_disk_name_ok(const char *name)
{
    size_t n = strnlen(name, CHORD_DISK_NAME_MAX);
    if (n == 0 || n >= CHORD_DISK_NAME_MAX || strchr(name, '/'))
        return false;
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static const char *px_path(void *ctx)
{
    return ((struct disk_posix *)ctx)->path;
}

static int px_open(void *ctx, const char *name, unsigned flags)
{
    struct disk_posix *d = ctx;
    if (!chord_disk_name_ok(name))
        return -EINVAL;
    int of = O_CLOEXEC | ((flags & CHORD_DISK_WRITE) ? O_RDWR : O_RDONLY);
    if (flags & CHORD_DISK_CREATE)
        of |= O_CREAT;
    if (flags & CHORD_DISK_EXCL)
        of |= O_EXCL;
    if ((flags & CHORD_DISK_TRUNC) && (flags & CHORD_DISK_WRITE))
        of |= O_TRUNC;
    int fd;
    do
        fd = openat(d->dirfd, name, of, 0644);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int px_close(void *ctx, int fd)
{
    (void)ctx;
    /* Linux releases the descriptor even when close() fails: never retry. */
    return close(fd) ? -errno : 0;
}

static ssize_t px_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int px_pwrite(void *ctx, int fd, const void *buf, size_t len,
                     uint64_t off)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

static int px_fsync(void *ctx, int fd)
{
    (void)ctx;
    /* No retry on EINTR either: after a failed fsync the kernel may have
     * dropped the dirty pages, so a second call could wrongly succeed.
     * fdatasync covers the size, which is all an append changes that a
     * reader needs. */
    return fdatasync(fd) ? -errno : 0;
}

static int px_size(void *ctx, int fd, uint64_t *out)
{
    (void)ctx;
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    *out = (uint64_t)st.st_size;
    return 0;
}

static int px_truncate(void *ctx, int fd, uint64_t len)
{
    (void)ctx;
    int rc;
    do
        rc = ftruncate(fd, (off_t)len);
    while (rc && errno == EINTR);
    return rc ? -errno : 0;
}

static int px_sync_dir(void *ctx)
{
    struct disk_posix *d = ctx;
    return fsync(d->dirfd) ? -errno : 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
    struct disk_posix *d = ctx;
    if (!chord_disk_name_ok(from) || !chord_disk_name_ok(to))
        return -EINVAL;
    return renameat(d->dirfd, from, d->dirfd, to) ? -errno : 0;
}

static int px_unlink(void *ctx, const char *name)
{
    struct disk_posix *d = ctx;
    if (!chord_disk_name_ok(name))
        return -EINVAL;
    return unlinkat(d->dirfd, name, 0) ? -errno : 0;
}

static int px_list(void *ctx, chord_disk_list_fn fn, void *arg)
{
    struct disk_posix *d = ctx;
    /* fdopendir takes over its descriptor: give it a fresh one. */
    int fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = -errno;
        close(fd);
        return err;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (!e) {
            if (errno)
                rc = -errno;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(arg, e->d_name);
        if (rc)
            break;
    }
    closedir(dir);
    return rc;
}

/* The pid written in an existing lock file, or 0 if unreadable. */
static long lock_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
}

static int px_lock(void *ctx, long *holder)
{
    struct disk_posix *d = ctx;
    *holder = 0;
    if (d->lockfd >= 0)
        return 0;
    int fd = openat(d->dirfd, CHORD_DISK_LOCK_NAME,
                    O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            *holder = lock_holder(fd);
            close(fd);
            return -EBUSY;
        }
        close(fd);
        return -err;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
        int err = -errno;
        close(fd);
        return err ? err : -EIO;
    }
    d->lockfd = fd;
    return 0;
}

/* mkdir -p: make `path` and any missing parent. 0 or -errno. */
static int mkdir_parents(const char *path)
{
    char buf[CHORD_DISK_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -errno;
        buf[i] = saved;
    }
    return 0;
}

int chord_disk_posix_open(const char *dir, struct chord_disk *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(dir) >= CHORD_DISK_PATH_MAX)
        return -ENAMETOOLONG;
    int rc = mkdir_parents(dir);
    if (rc)
        return rc;
    struct disk_posix *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->lockfd = -1;
    snprintf(d->path, sizeof d->path, "%s", dir);
    d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        rc = -errno;
        free(d);
        return rc;
    }
    *out = (struct chord_disk){
        .ctx = d,
        .path = px_path,
        .open = px_open,
        .close = px_close,
        .pread = px_pread,
        .pwrite = px_pwrite,
        .fsync = px_fsync,
        .size = px_size,
        .truncate = px_truncate,
        .sync_dir = px_sync_dir,
        .rename = px_rename,
        .unlink = px_unlink,
        .list = px_list,
        .lock = px_lock,
    };
    return 0;
}

void chord_disk_posix_close(struct chord_disk *d)
{
    struct disk_posix *p = d->ctx;
    if (!p)
        return;
    if (p->lockfd >= 0)
        close(p->lockfd); /* drops the flock */
    close(p->dirfd);
    free(p);
    d->ctx = NULL;
}
