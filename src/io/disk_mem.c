/*
 * disk_mem.c - a simulated disk in memory (disk.h) that can lose power.
 *
 * Model. A file is an inode with two byte arrays: `cur`, what reads see,
 * and `dur`, what its last fsync made durable. The directory has two name
 * tables: `names`, the current ones, and `dnames`, those the last
 * sync_dir made durable, plus `oplog`, every name change (create, rename,
 * unlink) made since, in order. A crash (chord_disk_mem_crash) rebuilds
 * the directory as dnames with a prefix of oplog applied, and every file
 * that still has a name as its durable bytes followed by a prefix of the
 * bytes appended after them: a torn write. That is the contract of
 * disk.h, and a little harsher than most real file systems.
 *
 * Fault injection (chord_disk_mem_fail) makes every operation of some
 * classes fail after a count, which is how the tests stop a checkpoint
 * between any two of its steps.
 *
 * Invariants: every name points at a live inode; an inode is freed only
 * when no current name, durable name, pending name change or descriptor
 * refers to it (checked by a scan when the inode table is full); every
 * table has a cap (CHORD_DISK_MEM_*). Not thread-safe; no real I/O.
 */
#include "io/disk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mem_inode {
    bool used;
    uint8_t *cur; /* current bytes, cur_len of them valid */
    size_t cur_len, cur_cap;
    uint8_t *dur; /* bytes of the last fsync */
    size_t dur_len;
};

struct mem_name {
    char name[CHORD_DISK_NAME_MAX];
    unsigned ino;
};

enum { OP_CREATE, OP_RENAME, OP_UNLINK };

struct mem_op {
    int kind;
    char a[CHORD_DISK_NAME_MAX]; /* the name created/renamed/unlinked */
    char b[CHORD_DISK_NAME_MAX]; /* the new name of a rename */
    unsigned ino;                /* the inode created */
};

struct mem_fd {
    bool used;
    bool writable;
    unsigned ino;
};

struct mem_table {
    struct mem_name *v;
    size_t n;
};

struct disk_mem {
    struct mem_inode inodes[CHORD_DISK_MEM_FILES_MAX];
    struct mem_table names;  /* current */
    struct mem_table dnames; /* durable */
    struct mem_op *oplog;    /* name changes since the last sync_dir */
    size_t n_ops;
    struct mem_fd fds[CHORD_DISK_MEM_FDS_MAX];
    bool locked;
    uint64_t ops;       /* mutating operations done */
    unsigned fail_mask; /* classes that fail after fail_after more */
    uint64_t fail_after;
    int fail_err;
};

/* ---- helpers ------------------------------------------------------------- */

/* Count one operation of class `cls`: 0 to go ahead, or the injected
 * error. */
static int mem_gate(struct disk_mem *m, unsigned cls)
{
    if (m->fail_mask & cls) {
        if (m->fail_after == 0)
            return m->fail_err;
        m->fail_after--;
    }
    m->ops++;
    return 0;
}

static struct mem_name *table_find(struct mem_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return &t->v[i];
    return NULL;
}

static void table_remove(struct mem_table *t, struct mem_name *e)
{
    *e = t->v[--t->n];
}

/* Add or replace name -> ino. The tables are allocated at full size; a
 * name that does not fit is dropped (callers check the cap first). */
static void table_set(struct mem_table *t, const char *name, unsigned ino)
{
    struct mem_name *e = table_find(t, name);
    if (!e) {
        if (t->n >= CHORD_DISK_MEM_FILES_MAX)
            return;
        e = &t->v[t->n++];
        strcpy(e->name, name);
    }
    e->ino = ino;
}

static bool inode_referenced(const struct disk_mem *m, unsigned ino)
{
    for (size_t i = 0; i < m->names.n; i++)
        if (m->names.v[i].ino == ino)
            return true;
    for (size_t i = 0; i < m->dnames.n; i++)
        if (m->dnames.v[i].ino == ino)
            return true;
    for (size_t i = 0; i < m->n_ops; i++)
        if (m->oplog[i].kind == OP_CREATE && m->oplog[i].ino == ino)
            return true;
    for (size_t i = 0; i < CHORD_DISK_MEM_FDS_MAX; i++)
        if (m->fds[i].used && m->fds[i].ino == ino)
            return true;
    return false;
}

static void inode_free(struct mem_inode *in)
{
    free(in->cur);
    free(in->dur);
    memset(in, 0, sizeof *in);
}

/* A free inode number, collecting unreferenced ones when none is free.
 * -ENOSPC when every inode is in use. */
static int inode_alloc(struct disk_mem *m)
{
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < CHORD_DISK_MEM_FILES_MAX; i++) {
            if (!m->inodes[i].used) {
                m->inodes[i].used = true;
                return (int)i;
            }
        }
        for (unsigned i = 0; i < CHORD_DISK_MEM_FILES_MAX; i++)
            if (!inode_referenced(m, i))
                inode_free(&m->inodes[i]);
    }
    return -ENOSPC;
}

static int oplog_add(struct disk_mem *m, int kind, const char *a, const char *b,
                     unsigned ino)
{
    if (m->n_ops >= CHORD_DISK_MEM_OPS_MAX)
        return -ENOSPC;
    struct mem_op *op = &m->oplog[m->n_ops++];
    op->kind = kind;
    strcpy(op->a, a);
    strcpy(op->b, b ? b : "");
    op->ino = ino;
    return 0;
}

static struct mem_fd *fd_get(struct disk_mem *m, int fd)
{
    if (fd < 0 || fd >= (int)CHORD_DISK_MEM_FDS_MAX || !m->fds[fd].used)
        return NULL;
    return &m->fds[fd];
}

/* Make room for `len` current bytes. */
static int inode_reserve(struct mem_inode *in, size_t len)
{
    if (len <= in->cur_cap)
        return 0;
    size_t cap = in->cur_cap ? in->cur_cap : 256;
    while (cap < len)
        cap *= 2;
    uint8_t *p = realloc(in->cur, cap);
    if (!p)
        return -ENOMEM;
    in->cur = p;
    in->cur_cap = cap;
    return 0;
}

/* ---- operations ---------------------------------------------------------- */

static const char *mem_path(void *ctx)
{
    (void)ctx;
    return "mem:";
}

static int mem_open(void *ctx, const char *name, unsigned flags)
{
    struct disk_mem *m = ctx;
    if (!chord_disk_name_ok(name))
        return -EINVAL;
    int fd = -1;
    for (unsigned i = 0; i < CHORD_DISK_MEM_FDS_MAX && fd < 0; i++)
        if (!m->fds[i].used)
            fd = (int)i;
    if (fd < 0)
        return -EMFILE;
    struct mem_name *e = table_find(&m->names, name);
    if (e && (flags & CHORD_DISK_CREATE) && (flags & CHORD_DISK_EXCL))
        return -EEXIST;
    unsigned ino;
    if (!e) {
        if (!(flags & CHORD_DISK_CREATE))
            return -ENOENT;
        if (m->names.n >= CHORD_DISK_MEM_FILES_MAX)
            return -ENOSPC;
        int rc = mem_gate(m, CHORD_DISK_MEM_OP_NAME);
        if (rc)
            return rc;
        int a = inode_alloc(m);
        if (a < 0)
            return a;
        ino = (unsigned)a;
        rc = oplog_add(m, OP_CREATE, name, NULL, ino);
        if (rc) {
            m->inodes[ino].used = false;
            return rc;
        }
        table_set(&m->names, name, ino);
    } else {
        ino = e->ino;
        if ((flags & CHORD_DISK_TRUNC) && (flags & CHORD_DISK_WRITE)) {
            int rc = mem_gate(m, CHORD_DISK_MEM_OP_WRITE);
            if (rc)
                return rc;
            m->inodes[ino].cur_len = 0;
        }
    }
    m->fds[fd] = (struct mem_fd){true, (flags & CHORD_DISK_WRITE) != 0, ino};
    return fd;
}

static int mem_close(void *ctx, int fd)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f)
        return -EBADF;
    f->used = false;
    return 0;
}

static ssize_t mem_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f)
        return -EBADF;
    const struct mem_inode *in = &m->inodes[f->ino];
    if (off >= in->cur_len)
        return 0;
    size_t n = in->cur_len - (size_t)off;
    if (n > len)
        n = len;
    memcpy(buf, in->cur + off, n);
    return (ssize_t)n;
}

static int mem_pwrite(void *ctx, int fd, const void *buf, size_t len,
                      uint64_t off)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f)
        return -EBADF;
    if (!f->writable)
        return -EBADF;
    if (off > SIZE_MAX / 2 || len > SIZE_MAX / 2)
        return -EFBIG;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_WRITE);
    if (rc)
        return rc;
    struct mem_inode *in = &m->inodes[f->ino];
    size_t end = (size_t)off + len;
    rc = inode_reserve(in, end);
    if (rc)
        return rc;
    if (off > in->cur_len)
        memset(in->cur + in->cur_len, 0, (size_t)off - in->cur_len);
    if (len) /* an empty file has no buffer yet: nothing to copy into */
        memcpy(in->cur + off, buf, len);
    if (end > in->cur_len)
        in->cur_len = end;
    return 0;
}

static int mem_fsync(void *ctx, int fd)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f)
        return -EBADF;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_SYNC);
    if (rc)
        return rc;
    struct mem_inode *in = &m->inodes[f->ino];
    uint8_t *p = NULL;
    if (in->cur_len) {
        p = malloc(in->cur_len);
        if (!p)
            return -ENOMEM;
        memcpy(p, in->cur, in->cur_len);
    }
    free(in->dur);
    in->dur = p;
    in->dur_len = in->cur_len;
    return 0;
}

static int mem_size(void *ctx, int fd, uint64_t *out)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f)
        return -EBADF;
    *out = m->inodes[f->ino].cur_len;
    return 0;
}

static int mem_truncate(void *ctx, int fd, uint64_t len)
{
    struct disk_mem *m = ctx;
    struct mem_fd *f = fd_get(m, fd);
    if (!f || !f->writable)
        return -EBADF;
    if (len > SIZE_MAX / 2)
        return -EFBIG;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_WRITE);
    if (rc)
        return rc;
    struct mem_inode *in = &m->inodes[f->ino];
    rc = inode_reserve(in, (size_t)len);
    if (rc)
        return rc;
    if (len > in->cur_len)
        memset(in->cur + in->cur_len, 0, (size_t)len - in->cur_len);
    in->cur_len = (size_t)len;
    return 0;
}

static int mem_sync_dir(void *ctx)
{
    struct disk_mem *m = ctx;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_SYNC);
    if (rc)
        return rc;
    memcpy(m->dnames.v, m->names.v, m->names.n * sizeof *m->names.v);
    m->dnames.n = m->names.n;
    m->n_ops = 0;
    return 0;
}

static int mem_rename(void *ctx, const char *from, const char *to)
{
    struct disk_mem *m = ctx;
    if (!chord_disk_name_ok(from) || !chord_disk_name_ok(to))
        return -EINVAL;
    struct mem_name *e = table_find(&m->names, from);
    if (!e)
        return -ENOENT;
    if (strcmp(from, to) == 0)
        return 0;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_NAME);
    if (rc)
        return rc;
    rc = oplog_add(m, OP_RENAME, from, to, 0);
    if (rc)
        return rc;
    unsigned ino = e->ino;
    table_remove(&m->names, e);
    table_set(&m->names, to, ino);
    return 0;
}

static int mem_unlink(void *ctx, const char *name)
{
    struct disk_mem *m = ctx;
    if (!chord_disk_name_ok(name))
        return -EINVAL;
    struct mem_name *e = table_find(&m->names, name);
    if (!e)
        return -ENOENT;
    int rc = mem_gate(m, CHORD_DISK_MEM_OP_NAME);
    if (rc)
        return rc;
    rc = oplog_add(m, OP_UNLINK, name, NULL, 0);
    if (rc)
        return rc;
    table_remove(&m->names, e);
    return 0;
}

static int mem_list(void *ctx, chord_disk_list_fn fn, void *arg)
{
    struct disk_mem *m = ctx;
    /* Walk a copy: the callback may change the directory. */
    size_t n = m->names.n;
    if (n == 0)
        return 0;
    struct mem_name *copy = malloc(n * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, m->names.v, n * sizeof *copy);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, copy[i].name);
    free(copy);
    return rc;
}

static int mem_lock(void *ctx, long *holder)
{
    struct disk_mem *m = ctx;
    *holder = 0;
    if (m->locked) {
        *holder = 1;
        return -EBUSY;
    }
    m->locked = true;
    return 0;
}

/* ---- public API ---------------------------------------------------------- */

int chord_disk_mem_new(struct chord_disk *out)
{
    memset(out, 0, sizeof *out);
    struct disk_mem *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->names.v = calloc(CHORD_DISK_MEM_FILES_MAX, sizeof *m->names.v);
    m->dnames.v = calloc(CHORD_DISK_MEM_FILES_MAX, sizeof *m->dnames.v);
    m->oplog = calloc(CHORD_DISK_MEM_OPS_MAX, sizeof *m->oplog);
    if (!m->names.v || !m->dnames.v || !m->oplog) {
        free(m->names.v);
        free(m->dnames.v);
        free(m->oplog);
        free(m);
        return -ENOMEM;
    }
    *out = (struct chord_disk){
        .ctx = m,
        .path = mem_path,
        .open = mem_open,
        .close = mem_close,
        .pread = mem_pread,
        .pwrite = mem_pwrite,
        .fsync = mem_fsync,
        .size = mem_size,
        .truncate = mem_truncate,
        .sync_dir = mem_sync_dir,
        .rename = mem_rename,
        .unlink = mem_unlink,
        .list = mem_list,
        .lock = mem_lock,
    };
    return 0;
}

void chord_disk_mem_free(struct chord_disk *d)
{
    struct disk_mem *m = d->ctx;
    if (!m)
        return;
    for (unsigned i = 0; i < CHORD_DISK_MEM_FILES_MAX; i++)
        inode_free(&m->inodes[i]);
    free(m->names.v);
    free(m->dnames.v);
    free(m->oplog);
    free(m);
    d->ctx = NULL;
}

/* xorshift64: the next value of *s (nonzero). */
static uint64_t mem_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* A number in [0, n] drawn from *prng, or 0 without one. */
static size_t mem_draw(uint64_t *prng, size_t n)
{
    return prng ? (size_t)(mem_rand(prng) % ((uint64_t)n + 1)) : 0;
}

void chord_disk_mem_crash(struct chord_disk *d, uint64_t *prng)
{
    struct disk_mem *m = d->ctx;
    memset(m->fds, 0, sizeof m->fds);
    m->locked = false;
    m->fail_mask = 0;

    /* The directory: durable names, then a prefix of the changes since. */
    size_t keep = mem_draw(prng, m->n_ops);
    for (size_t i = 0; i < keep; i++) {
        const struct mem_op *op = &m->oplog[i];
        struct mem_name *e = table_find(&m->dnames, op->a);
        if (op->kind == OP_CREATE) {
            table_set(&m->dnames, op->a, op->ino);
        } else if (e && op->kind == OP_RENAME) {
            unsigned ino = e->ino;
            table_remove(&m->dnames, e);
            table_set(&m->dnames, op->b, ino);
        } else if (e) {
            table_remove(&m->dnames, e);
        }
    }
    m->n_ops = 0;
    memcpy(m->names.v, m->dnames.v, m->dnames.n * sizeof *m->dnames.v);
    m->names.n = m->dnames.n;

    /* The files: durable bytes, plus a prefix of what was appended after
     * them when nothing before was overwritten. Unnamed inodes go. */
    for (unsigned i = 0; i < CHORD_DISK_MEM_FILES_MAX; i++) {
        struct mem_inode *in = &m->inodes[i];
        if (!in->used)
            continue;
        if (!inode_referenced(m, i)) {
            inode_free(in);
            continue;
        }
        size_t len = in->dur_len;
        bool appended =
            in->cur_len > in->dur_len &&
            (in->dur_len == 0 || memcmp(in->cur, in->dur, in->dur_len) == 0);
        if (appended)
            len += mem_draw(prng, in->cur_len - in->dur_len);
        if (len > in->dur_len) {
            in->cur_len = len; /* cur already holds dur followed by more */
        } else {
            if (in->dur_len && inode_reserve(in, in->dur_len) == 0)
                memcpy(in->cur, in->dur, in->dur_len);
            in->cur_len = in->dur_len;
        }
        uint8_t *p = NULL;
        if (in->cur_len && (p = malloc(in->cur_len)) != NULL)
            memcpy(p, in->cur, in->cur_len);
        if (p || in->cur_len == 0) {
            free(in->dur);
            in->dur = p;
            in->dur_len = in->cur_len;
        }
    }
}

void chord_disk_mem_fail(struct chord_disk *d, unsigned ops, uint64_t after,
                         int err)
{
    struct disk_mem *m = d->ctx;
    m->fail_mask = ops & CHORD_DISK_MEM_OP_ALL;
    m->fail_after = after;
    m->fail_err = err;
}

uint64_t chord_disk_mem_ops(const struct chord_disk *d)
{
    const struct disk_mem *m = d->ctx;
    return m->ops;
}
