/*
 * wal_fixture.c - the shared helpers of the write-ahead log's tests
 * (contracts in wal_fixture.h): the fixture disks, file pokes, the
 * workload of store changes, recovery callbacks and the faulty disk.
 *
 * Moved unchanged out of the former single test_wal.c; it asserts with
 * cmocka, so it runs only inside a cmocka test. It tests nothing itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal_fixture.h"

/* ---- helpers ------------------------------------------------------------- */

uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

void fx_init(struct fx *f, bool mem)
{
    memset(f, 0, sizeof *f);
    f->mem = mem;
    if (mem) {
        assert_int_equal(chord_disk_mem_new(&f->disk), 0);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/test_wal.XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(chord_disk_posix_open(f->dir, &f->disk), 0);
}

static int unlink_cb(void *arg, const char *name)
{
    struct chord_disk *d = arg;
    d->unlink(d->ctx, name);
    return 0;
}

void fx_free(struct fx *f)
{
    if (f->mem) {
        chord_disk_mem_free(&f->disk);
        return;
    }
    f->disk.list(f->disk.ctx, unlink_cb, &f->disk);
    chord_disk_posix_close(&f->disk);
    rmdir(f->dir);
}

/* Lose power (memory disk) or just die (POSIX: the files stay). */
void fx_crash(struct fx *f, uint64_t *prng)
{
    if (f->mem)
        chord_disk_mem_crash(&f->disk, prng);
}

bool file_exists(const struct chord_disk *d, const char *name)
{
    int fd = d->open(d->ctx, name, 0);
    if (fd < 0)
        return false;
    d->close(d->ctx, fd);
    return true;
}

uint64_t file_size(const struct chord_disk *d, const char *name)
{
    int fd = d->open(d->ctx, name, 0);
    assert_true(fd >= 0);
    uint64_t n = 0;
    assert_int_equal(d->size(d->ctx, fd, &n), 0);
    d->close(d->ctx, fd);
    return n;
}

/* Flip bits of one byte of a file through the disk interface. */
void file_poke(const struct chord_disk *d, const char *name, uint64_t off,
               uint8_t xor_mask)
{
    int fd = d->open(d->ctx, name, CHORD_DISK_WRITE);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(d->pread(d->ctx, fd, &b, 1, off), 1);
    b ^= xor_mask;
    assert_int_equal(d->pwrite(d->ctx, fd, &b, 1, off), 0);
    d->close(d->ctx, fd);
}

/* Read a whole file into a malloc'd buffer. */
uint8_t *file_read(const struct chord_disk *d, const char *name, uint64_t *len)
{
    *len = file_size(d, name);
    uint8_t *p = malloc(*len ? *len : 1);
    int fd = d->open(d->ctx, name, 0);
    assert_true(fd >= 0);
    assert_int_equal(d->pread(d->ctx, fd, p, *len, 0), (ssize_t)*len);
    d->close(d->ctx, fd);
    return p;
}

void file_write(const struct chord_disk *d, const char *name, const uint8_t *p,
                uint64_t len)
{
    int fd = d->open(d->ctx, name,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(d->pwrite(d->ctx, fd, p, len, 0), 0);
    d->close(d->ctx, fd);
}

/* ---- a workload of store changes ----------------------------------------- */

/* A random change on one of `nkeys` keys; versions grow, but one change in
 * eight is a stale copy (an older version) that must lose. */
void change_make(uint64_t *prng, unsigned nkeys, uint64_t *clock,
                 struct change *c)
{
    memset(c, 0, sizeof *c);
    int kl = snprintf((char *)c->key, sizeof c->key, "key-%u",
                      (unsigned)(rnd(prng) % nkeys));
    c->it.key.data = c->key;
    c->it.key.len = (size_t)kl;
    c->it.tombstone = rnd(prng) % 10 == 0;
    if (!c->it.tombstone) {
        size_t vl = (size_t)(rnd(prng) % sizeof c->val);
        for (size_t i = 0; i < vl; i++)
            c->val[i] = (uint8_t)rnd(prng);
        c->it.value.data = c->val;
        c->it.value.len = vl;
    }
    (*clock)++;
    c->it.version.counter =
        rnd(prng) % 8 == 0 && *clock > 5 ? *clock - 1 - rnd(prng) % 5 : *clock;
    /* One of three writers, as a ring has few. */
    c->it.version.writer.b[0] = (uint8_t)(rnd(prng) % 3);
    /* Ordered by version alone (the log's tests are about the log, not
     * about concurrent writers, whose versions would all stay as
     * siblings): the legacy item format, which recovery must still read;
     * the reference store applies the same rule in the same order. */
    c->it.legacy = true;
}

/* Append a change to the log and apply it to the reference store. */
uint64_t log_change(struct chord_wal *w, struct chord_store *ref,
                    const struct change *c)
{
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_item_encode(&c->it, &b), 0);
    uint64_t seq = 0;
    assert_int_equal(chord_wal_append(w, b.data, b.len, &seq), 0);
    chord_buf_free(&b);
    if (ref)
        assert_true(chord_store_apply(ref, &c->it) >= 0);
    return seq;
}

/* The recovery callback: decode the item, apply it to a store. */
int apply_store(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    (void)seq;
    struct chord_item it;
    if (chord_item_decode(p, len, &it))
        return -EPROTO;
    return chord_store_apply(arg, &it) < 0 ? -ENOMEM : 0;
}

int apply_seq(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    struct seqs *s = arg;
    if (s->n < 4096)
        s->v[s->n++] = seq;
    return 0;
}

void assert_store_equal(const struct chord_store *want,
                        const struct chord_store *got)
{
    struct chord_store_entry ev;
    struct chord_store_entry fv;
    assert_int_equal(chord_store_size(want), chord_store_size(got));
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(want, &cur, &ev)) != NULL) {
        const struct chord_store_entry *g =
            chord_store_find(got, e->key, e->key_len, &fv);
        assert_non_null(g);
        assert_int_equal(chord_version_cmp(&e->version, &g->version), 0);
        assert_int_equal(e->tombstone, g->tombstone);
        assert_int_equal(e->value_len, g->value_len);
        if (e->value_len)
            assert_memory_equal(e->value, g->value, e->value_len);
    }
}

/* Every entry of `acked` is in `got` with a version at least as new. */
void assert_store_covers(const struct chord_store *acked,
                         const struct chord_store *got)
{
    struct chord_store_entry ev;
    struct chord_store_entry fv;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(acked, &cur, &ev)) != NULL) {
        const struct chord_store_entry *g =
            chord_store_find(got, e->key, e->key_len, &fv);
        assert_non_null(g);
        assert_true(chord_version_cmp(&g->version, &e->version) >= 0);
        if (chord_version_cmp(&g->version, &e->version) == 0) {
            assert_int_equal(e->tombstone, g->tombstone);
            assert_int_equal(e->value_len, g->value_len);
        }
    }
}

const struct chord_wal_options opt_sync = {true, false};
const struct chord_wal_options opt_repair = {true, true};

/* Open (recover) into a fresh store; returns the wal, *st the store. */
struct chord_wal *open_into(const struct chord_disk *d,
                            const struct chord_wal_options *opt,
                            struct chord_store **st,
                            struct chord_wal_report *rep)
{
    *st = chord_store_new();
    assert_non_null(*st);
    struct chord_wal *w = NULL;
    int rc = chord_wal_open(d, opt, apply_store, *st, rep, &w);
    if (rc)
        print_error("recovery failed: %d %s\n", rc, rep->note);
    assert_int_equal(rc, 0);
    return w;
}

/* ---- a wrapper disk that dies after N mutating operations --------------- */

static int fz_gate(struct faulty *f)
{
    if (f->dead || f->left == 0) {
        f->dead = true;
        return -EIO;
    }
    f->left--;
    return 0;
}

#define FZ(ctx) ((struct faulty *)(ctx))
#define IN(ctx) (FZ(ctx)->inner)

static const char *fz_path(void *c)
{
    return IN(c).path(IN(c).ctx);
}
static int fz_open(void *c, const char *name, unsigned flags)
{
    if ((flags & (CHORD_DISK_CREATE | CHORD_DISK_TRUNC)) && fz_gate(FZ(c)))
        return -EIO;
    return IN(c).open(IN(c).ctx, name, flags);
}
static int fz_close(void *c, int fd)
{
    return IN(c).close(IN(c).ctx, fd);
}
static ssize_t fz_pread(void *c, int fd, void *b, size_t n, uint64_t o)
{
    return IN(c).pread(IN(c).ctx, fd, b, n, o);
}
static int fz_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o)
{
    if (FZ(c)->short_write) {
        FZ(c)->short_write = false;
        IN(c).pwrite(IN(c).ctx, fd, b, n / 2, o);
        return -ENOSPC;
    }
    return fz_gate(FZ(c)) ? -EIO : IN(c).pwrite(IN(c).ctx, fd, b, n, o);
}
static int fz_fsync(void *c, int fd)
{
    return fz_gate(FZ(c)) ? -EIO : IN(c).fsync(IN(c).ctx, fd);
}
static int fz_size(void *c, int fd, uint64_t *o)
{
    return IN(c).size(IN(c).ctx, fd, o);
}
static int fz_truncate(void *c, int fd, uint64_t n)
{
    return fz_gate(FZ(c)) ? -EIO : IN(c).truncate(IN(c).ctx, fd, n);
}
static int fz_sync_dir(void *c)
{
    return fz_gate(FZ(c)) ? -EIO : IN(c).sync_dir(IN(c).ctx);
}
static int fz_rename(void *c, const char *a, const char *b)
{
    return fz_gate(FZ(c)) ? -EIO : IN(c).rename(IN(c).ctx, a, b);
}
static int fz_unlink(void *c, const char *a)
{
    return fz_gate(FZ(c)) ? -EIO : IN(c).unlink(IN(c).ctx, a);
}
static int fz_list(void *c, chord_disk_list_fn fn, void *arg)
{
    return IN(c).list(IN(c).ctx, fn, arg);
}
static int fz_lock(void *c, long *h)
{
    return IN(c).lock(IN(c).ctx, h);
}

struct chord_disk faulty_wrap(struct faulty *f, const struct chord_disk *inner,
                              uint64_t allowed)
{
    f->inner = *inner;
    f->left = allowed;
    f->dead = false;
    f->short_write = false;
    return (struct chord_disk){f,           fz_path,     fz_open,   fz_close,
                               fz_pread,    fz_pwrite,   fz_fsync,  fz_size,
                               fz_truncate, fz_sync_dir, fz_rename, fz_unlink,
                               fz_list,     fz_lock};
}
