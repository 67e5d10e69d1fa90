/*
 * test_wal.c - the write-ahead log (src/io/wal.c) and the two disks it
 * runs on (src/io/disk_posix.c, src/io/disk_mem.c).
 *
 * Every behavioural test runs twice: on a temporary directory through the
 * POSIX disk, and on the in-memory disk. A "crash" on the POSIX disk is a
 * process crash (whatever was written stays); on the memory disk it is a
 * power loss that keeps only what was synced, plus torn prefixes of the
 * rest drawn from a seeded PRNG. Failures at an exact step are injected
 * by a wrapper disk (struct faulty) that fails every mutating operation
 * after a count, the way a process that died there would stop.
 *
 * The reference for "the store after recovery" is a chord_store that saw
 * every change directly; recovery must rebuild exactly it (and, after a
 * crash, at least every change whose durability was reported).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"
#include "core/wire.h"
#include "io/disk.h"
#include "io/wal.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* A disk to test on: the POSIX one on a fresh temp dir, or the memory one. */
struct fx {
    bool mem;
    struct chord_disk disk;
    char dir[256];
};

static void fx_init(struct fx *f, bool mem)
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

static void fx_free(struct fx *f)
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
static void fx_crash(struct fx *f, uint64_t *prng)
{
    if (f->mem)
        chord_disk_mem_crash(&f->disk, prng);
}

static bool file_exists(const struct chord_disk *d, const char *name)
{
    int fd = d->open(d->ctx, name, 0);
    if (fd < 0)
        return false;
    d->close(d->ctx, fd);
    return true;
}

static uint64_t file_size(const struct chord_disk *d, const char *name)
{
    int fd = d->open(d->ctx, name, 0);
    assert_true(fd >= 0);
    uint64_t n = 0;
    assert_int_equal(d->size(d->ctx, fd, &n), 0);
    d->close(d->ctx, fd);
    return n;
}

/* Flip bits of one byte of a file through the disk interface. */
static void file_poke(const struct chord_disk *d, const char *name,
                      uint64_t off, uint8_t xor_mask)
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
static uint8_t *file_read(const struct chord_disk *d, const char *name,
                          uint64_t *len)
{
    *len = file_size(d, name);
    uint8_t *p = malloc(*len ? *len : 1);
    int fd = d->open(d->ctx, name, 0);
    assert_true(fd >= 0);
    assert_int_equal(d->pread(d->ctx, fd, p, *len, 0), (ssize_t)*len);
    d->close(d->ctx, fd);
    return p;
}

static void file_write(const struct chord_disk *d, const char *name,
                       const uint8_t *p, uint64_t len)
{
    int fd = d->open(d->ctx, name,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(d->pwrite(d->ctx, fd, p, len, 0), 0);
    d->close(d->ctx, fd);
}

/* ---- a workload of store changes ----------------------------------------- */

/* One change: an item with its own key/value storage. */
struct change {
    uint8_t key[16];
    uint8_t val[64];
    struct chord_item it;
};

/* A random change on one of `nkeys` keys; versions grow, but one change in
 * eight is a stale copy (an older version) that must lose. */
static void change_make(uint64_t *prng, unsigned nkeys, uint64_t *clock,
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
    /* The writer bytes carry the change's number: versions are unique,
     * as the node's are. */
    c->it.version.writer.b[0] = (uint8_t)(rnd(prng) % 3);
    for (int i = 0; i < 8; i++)
        c->it.version.writer.b[1 + i] = (uint8_t)(*clock >> (8 * i));
}

/* Append a change to the log and apply it to the reference store. */
static uint64_t log_change(struct chord_wal *w, struct chord_store *ref,
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
static int apply_store(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    (void)seq;
    struct chord_item it;
    if (chord_item_decode(p, len, &it))
        return -EPROTO;
    return chord_store_apply(arg, &it) < 0 ? -ENOMEM : 0;
}

/* A recovery callback that records sequence numbers. */
struct seqs {
    uint64_t v[4096];
    size_t n;
};

static int apply_seq(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    struct seqs *s = arg;
    if (s->n < 4096)
        s->v[s->n++] = seq;
    return 0;
}

static void assert_store_equal(const struct chord_store *want,
                               const struct chord_store *got)
{
    assert_int_equal(chord_store_size(want), chord_store_size(got));
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(want, &cur)) != NULL) {
        const struct chord_store_entry *g =
            chord_store_find(got, e->key, e->key_len);
        assert_non_null(g);
        assert_int_equal(chord_version_cmp(&e->version, &g->version), 0);
        assert_int_equal(e->tombstone, g->tombstone);
        assert_int_equal(e->value_len, g->value_len);
        if (e->value_len)
            assert_memory_equal(e->value, g->value, e->value_len);
    }
}

/* Every entry of `acked` is in `got` with a version at least as new. */
static void assert_store_covers(const struct chord_store *acked,
                                const struct chord_store *got)
{
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(acked, &cur)) != NULL) {
        const struct chord_store_entry *g =
            chord_store_find(got, e->key, e->key_len);
        assert_non_null(g);
        assert_true(chord_version_cmp(&g->version, &e->version) >= 0);
        if (chord_version_cmp(&g->version, &e->version) == 0) {
            assert_int_equal(e->tombstone, g->tombstone);
            assert_int_equal(e->value_len, g->value_len);
        }
    }
}

static const struct chord_wal_options opt_sync = {true, false};
static const struct chord_wal_options opt_repair = {true, true};

/* Open (recover) into a fresh store; returns the wal, *st the store. */
static struct chord_wal *open_into(const struct chord_disk *d,
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

struct faulty {
    struct chord_disk inner;
    uint64_t left; /* mutating operations still allowed */
    bool dead;
    bool short_write; /* the next pwrite writes half and fails ENOSPC */
};

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

static struct chord_disk
faulty_wrap(struct faulty *f, const struct chord_disk *inner, uint64_t allowed)
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

/* ---- CRC and record codec ------------------------------------------------ */

/* Bit-at-a-time CRC-32C, the definition the table must agree with. */
static uint32_t crc_slow(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    assert_int_equal(chord_crc32c(0, "123456789", 9), 0xe3069283u);
    /* RFC 3720, appendix B.4. */
    memset(buf, 0, sizeof buf);
    assert_int_equal(chord_crc32c(0, buf, 32), 0x8a9136aau);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(chord_crc32c(0, buf, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(chord_crc32c(0, buf, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(chord_crc32c(0, buf, 32), 0x113fdb5cu);
    assert_int_equal(chord_crc32c(0, NULL, 0), 0);

    /* Random buffers: the table agrees with the bitwise definition, and
     * a CRC can be continued piece by piece. */
    uint64_t s = 12345;
    uint8_t big[1000];
    for (int t = 0; t < 50; t++) {
        size_t n = (size_t)(rnd(&s) % sizeof big);
        for (size_t i = 0; i < n; i++)
            big[i] = (uint8_t)rnd(&s);
        uint32_t whole = chord_crc32c(0, big, n);
        assert_int_equal(whole, crc_slow(big, n));
        size_t cut = n ? (size_t)(rnd(&s) % n) : 0;
        assert_int_equal(
            chord_crc32c(chord_crc32c(0, big, cut), big + cut, n - cut), whole);
    }
}

static void test_record_codec(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    const char *p = "a payload of some bytes";
    size_t plen = strlen(p);
    assert_int_equal(chord_wal_record_encode(77, p, plen, &b), 0);
    assert_int_equal(b.len, CHORD_WAL_HEADER + plen);
    /* Layout: u32 length, u32 crc, u64 seq, big-endian. */
    assert_int_equal(b.data[3], plen);
    assert_int_equal(b.data[15], 77);
    struct chord_wal_record r;
    assert_int_equal(chord_wal_record_decode(b.data, b.len, &r),
                     (ssize_t)b.len);
    assert_true(r.seq == 77);
    assert_int_equal(r.len, plen);
    assert_memory_equal(r.payload, p, plen);

    /* Every strict prefix is partial. */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(chord_wal_record_decode(b.data, n, &r),
                         CHORD_WAL_DECODE_PARTIAL);
    /* Every single-bit flip anywhere is caught (length flips either make
     * it partial, over the cap, or fail the CRC). */
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            ssize_t rc = chord_wal_record_decode(b.data, b.len, &r);
            assert_true(rc == CHORD_WAL_DECODE_BAD ||
                        rc == CHORD_WAL_DECODE_PARTIAL);
            b.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* An empty payload is a record; an oversized one is refused. */
    chord_buf_reset(&b);
    assert_int_equal(chord_wal_record_encode(1, NULL, 0, &b), 0);
    assert_int_equal(chord_wal_record_decode(b.data, b.len, &r),
                     CHORD_WAL_HEADER);
    assert_int_equal(
        chord_wal_record_encode(1, p, CHORD_WAL_PAYLOAD_MAX + 1, &b),
        -EMSGSIZE);
    b.data[0] = 0xff; /* length far over the cap */
    assert_int_equal(chord_wal_record_decode(b.data, b.len, &r),
                     CHORD_WAL_DECODE_BAD);
    chord_buf_free(&b);

    char name[CHORD_DISK_NAME_MAX];
    chord_wal_segment_name(0x1234, name);
    assert_string_equal(name, "wal-0000000000001234.log");
    chord_wal_snapshot_name(0xabcdef, name);
    assert_string_equal(name, "snap-0000000000abcdef.dat");
}

/* ---- appending, reopening, sequence numbers ------------------------------ */

/* test_NAME_posix and test_NAME_mem: run_NAME(mem) on the real disk and
 * on the simulated one. */
#define ON_BOTH_DISKS(name)                                                    \
    static void test_##name##_posix(void **state)                             \
    {                                                                          \
        (void)state;                                                           \
        run_##name(false);                                                     \
    }                                                                          \
    static void test_##name##_mem(void **state)                               \
    {                                                                          \
        (void)state;                                                           \
        run_##name(true);                                                      \
    }

static void run_reopen(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    struct chord_wal_report rep;
    struct chord_store *ref = chord_store_new(), *st;
    struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_string_equal(rep.snapshot, "");
    assert_true(rep.log_records == 0 && rep.dropped == 0);
    chord_store_free(st);

    uint64_t s = 99, clock = 0;
    for (int i = 1; i <= 100; i++) {
        struct change c;
        change_make(&s, 20, &clock, &c);
        assert_true(log_change(w, ref, &c) == (uint64_t)i);
    }
    assert_true(chord_wal_last_seq(w) == 100);
    assert_int_equal(chord_wal_sync(w), 0);
    assert_true(chord_wal_synced_seq(w) == 100);
    assert_int_equal(chord_wal_sync(w), 0); /* nothing to do */
    chord_wal_close(w);
    fx_crash(&f, NULL);

    w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_true(rep.log_records == 100);
    assert_true(rep.last_seq == 100);
    assert_int_equal(rep.torn, 0);
    assert_store_equal(ref, st);
    /* Numbering goes on after the recovered records, in a new segment. */
    struct change c;
    change_make(&s, 20, &clock, &c);
    assert_true(log_change(w, ref, &c) == 101);
    assert_string_equal(chord_wal_segment(w), "wal-0000000000000065.log");
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    chord_store_free(st);

    w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_true(rep.log_records == 101);
    assert_store_equal(ref, st);
    chord_wal_close(w);
    chord_store_free(st);
    chord_store_free(ref);
    fx_free(&f);
}

ON_BOTH_DISKS(reopen)

/* ---- torn tails -----------------------------------------------------------
 */

static void run_torn_tail(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    struct chord_wal_report rep;
    struct seqs *got = calloc(1, sizeof *got);
    struct chord_wal *w;
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    const char *seg = "wal-0000000000000001.log";
    uint8_t payload[100];
    memset(payload, 'v', sizeof payload);
    uint64_t seq;
    for (int i = 0; i < 5; i++)
        assert_int_equal(chord_wal_append(w, payload, 10 + (size_t)i, &seq), 0);
    uint64_t end_prev = chord_wal_segment_bytes(w);
    assert_int_equal(chord_wal_append(w, payload, sizeof payload, &seq), 0);
    uint64_t end = chord_wal_segment_bytes(w);
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    uint64_t len;
    uint8_t *orig = file_read(&f.disk, seg, &len);
    assert_true(len == end);

    /* Cut the last record at every byte offset: recovery keeps the five
     * records before it, cuts the rest, and reports one torn tail. The
     * cut at 0 is a clean end, not a tear. */
    for (uint64_t cut = end_prev; cut < end; cut++) {
        file_write(&f.disk, seg, orig, cut);
        /* Leave no newer segment from the previous round. */
        char next[CHORD_DISK_NAME_MAX];
        chord_wal_segment_name(6, next);
        f.disk.unlink(f.disk.ctx, next);
        chord_wal_segment_name(7, next);
        f.disk.unlink(f.disk.ctx, next);
        got->n = 0;
        assert_int_equal(
            chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
        assert_int_equal(got->n, 5);
        assert_true(got->v[4] == 5);
        assert_true(rep.last_seq == 5);
        assert_int_equal(rep.torn, cut > end_prev ? 1 : 0);
        assert_true(rep.dropped == (cut > end_prev ? 1u : 0u));
        assert_true(rep.cut_bytes == cut - end_prev);
        if (cut > end_prev)
            assert_non_null(strstr(rep.note, "torn tail"));
        assert_true(file_size(&f.disk, seg) == end_prev);
        /* The log goes on from seq 6. */
        assert_int_equal(chord_wal_append(w, payload, 3, &seq), 0);
        assert_true(seq == 6);
        chord_wal_close(w);
    }

    /* A last record whose CRC fails and which ends exactly at the end of
     * the file is a torn write too; so is a tail of zeros. */
    for (int variant = 0; variant < 2; variant++) {
        char next[CHORD_DISK_NAME_MAX];
        chord_wal_segment_name(6, next);
        f.disk.unlink(f.disk.ctx, next);
        file_write(&f.disk, seg, orig, end);
        if (variant == 0) {
            file_poke(&f.disk, seg, end - 7, 0x40);
        } else {
            uint8_t zeros[300] = {0};
            int fd = f.disk.open(f.disk.ctx, seg, CHORD_DISK_WRITE);
            assert_int_equal(
                f.disk.pwrite(f.disk.ctx, fd, zeros, sizeof zeros, end_prev),
                0);
            f.disk.close(f.disk.ctx, fd);
        }
        got->n = 0;
        assert_int_equal(
            chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
        assert_int_equal(got->n, 5);
        assert_int_equal(rep.torn, 1);
        assert_true(file_size(&f.disk, seg) == end_prev);
        chord_wal_close(w);
    }
    free(orig);
    free(got);
    fx_free(&f);
}

ON_BOTH_DISKS(torn_tail)

/* ---- corruption -----------------------------------------------------------
 */

static void run_corruption(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    struct chord_wal_report rep;
    struct seqs *got = calloc(1, sizeof *got);
    struct chord_wal *w;
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    const char *seg = "wal-0000000000000001.log";
    uint8_t payload[40];
    memset(payload, 'x', sizeof payload);
    uint64_t seq, off5 = 0;
    for (int i = 1; i <= 10; i++) {
        if (i == 5)
            off5 = chord_wal_segment_bytes(w);
        assert_int_equal(chord_wal_append(w, payload, sizeof payload, &seq), 0);
    }
    uint64_t size = chord_wal_segment_bytes(w);
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    file_poke(&f.disk, seg, off5 + CHORD_WAL_HEADER + 3, 0x01);

    /* Refused, naming the file and the byte offset. */
    got->n = 0;
    int rc = chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w);
    assert_int_equal(rc, -EBADMSG);
    assert_null(w);
    char where[64];
    snprintf(where, sizeof where, "byte offset %" PRIu64, off5);
    assert_non_null(strstr(rep.note, seg));
    assert_non_null(strstr(rep.note, where));
    assert_non_null(strstr(rep.note, "--repair"));
    /* Nothing was changed by the refusal. */
    assert_true(file_size(&f.disk, seg) == size);
    assert_false(file_exists(&f.disk, "wal-0000000000000001.log.damaged"));

    /* With repair: the four records before the damage are kept, the file
     * is set aside whole, and the six from the damage on are dropped. */
    got->n = 0;
    rc = chord_wal_open(&f.disk, &opt_repair, apply_seq, got, &rep, &w);
    assert_int_equal(rc, 0);
    assert_int_equal(got->n, 4);
    assert_int_equal(rep.repaired, 1);
    assert_true(rep.dropped == 6);
    assert_true(rep.last_seq == 4);
    assert_non_null(strstr(rep.note, "damaged"));
    assert_true(file_size(&f.disk, "wal-0000000000000001.log.damaged") == size);
    assert_true(file_size(&f.disk, seg) == off5);
    assert_int_equal(chord_wal_append(w, payload, 5, &seq), 0);
    assert_true(seq == 5);
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    fx_crash(&f, NULL);

    /* A normal start afterwards sees a healthy log: 4 + 1 records. */
    got->n = 0;
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    assert_int_equal(got->n, 5);
    assert_true(got->v[4] == 5);
    chord_wal_close(w);

    /* A deleted log file between the snapshot and the next is noticed. */
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    chord_wal_close(w);
    f.disk.unlink(f.disk.ctx, seg);
    rc = chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w);
    assert_int_equal(rc, -EBADMSG);
    assert_non_null(strstr(rep.note, "missing"));
    free(got);
    fx_free(&f);
}

ON_BOTH_DISKS(corruption)

/* A damaged snapshot is refused; repaired, it keeps the records before the
 * damage and stays a valid snapshot. */
static void run_snapshot_corruption(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    struct chord_wal_report rep;
    struct chord_store *ref = chord_store_new(), *st;
    struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
    chord_store_free(st);
    uint64_t s = 7, clock = 0;
    for (int i = 0; i < 50; i++) {
        struct change c;
        change_make(&s, 1000, &clock, &c);
        log_change(w, ref, &c);
    }
    assert_int_equal(chord_wal_checkpoint(w), 0);
    chord_wal_close(w);
    const char *snap = "snap-0000000000000032.dat";
    uint64_t size = file_size(&f.disk, snap);
    file_poke(&f.disk, snap, size / 2, 0x80);

    struct seqs *got = calloc(1, sizeof *got);
    int rc = chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w);
    assert_int_equal(rc, -EBADMSG);
    assert_non_null(strstr(rep.note, snap));
    assert_non_null(strstr(rep.note, "byte offset"));

    w = open_into(&f.disk, &opt_repair, &st, &rep);
    assert_int_equal(rep.repaired, 1);
    assert_true(rep.snapshot_records > 0 && rep.snapshot_records < 50);
    assert_true(rep.dropped >= 1);
    assert_true(file_exists(&f.disk, "snap-0000000000000032.dat.damaged"));
    uint64_t kept = rep.snapshot_records;
    chord_wal_close(w);
    chord_store_free(st);
    w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_true(rep.snapshot_records == kept);
    assert_int_equal(rep.repaired, 0);
    chord_wal_close(w);
    chord_store_free(st);
    chord_store_free(ref);
    free(got);
    fx_free(&f);
}

ON_BOTH_DISKS(snapshot_corruption)

/* ---- snapshots + logs rebuild the store -----------------------------------
 */

static void run_snapshot_replay(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    struct chord_wal_report rep;
    struct chord_store *ref = chord_store_new(), *st;
    struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
    chord_store_free(st);
    uint64_t s = 2024, clock = 0;
    unsigned checkpoints = 0;
    for (int round = 0; round < 6; round++) {
        int n = 200 + (int)(rnd(&s) % 300);
        for (int i = 0; i < n; i++) {
            struct change c;
            change_make(&s, 300, &clock, &c);
            log_change(w, ref, &c);
            if (rnd(&s) % 97 == 0) {
                assert_int_equal(chord_wal_checkpoint(w), 0);
                checkpoints++;
            }
        }
        assert_int_equal(chord_wal_sync(w), 0);
        /* Reopen from time to time: recovery plus later appends. */
        if (round % 2 == 1) {
            chord_wal_close(w);
            fx_crash(&f, NULL);
            w = open_into(&f.disk, &opt_sync, &st, &rep);
            assert_store_equal(ref, st);
            chord_store_free(st);
        }
    }
    assert_true(checkpoints > 3);
    assert_int_equal(chord_wal_checkpoint(w), 0);
    struct change c;
    change_make(&s, 300, &clock, &c);
    log_change(w, ref, &c);
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    fx_crash(&f, NULL);

    w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_string_not_equal(rep.snapshot, "");
    assert_true(rep.snapshot_records == chord_store_size(ref) ||
                rep.snapshot_records + 1 >= chord_store_size(ref));
    assert_true(rep.log_records == 1);
    assert_store_equal(ref, st);
    chord_wal_close(w);
    chord_store_free(st);
    chord_store_free(ref);
    fx_free(&f);
}

ON_BOTH_DISKS(snapshot_replay)

/* Recovery deletes what a snapshot covers, old snapshots and leftovers. */
static void test_recovery_cleans_up(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    struct chord_wal_report rep;
    struct chord_store *ref = chord_store_new(), *st;
    struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
    chord_store_free(st);
    uint64_t s = 5, clock = 0;
    for (int i = 0; i < 30; i++) {
        struct change c;
        change_make(&s, 10, &clock, &c);
        log_change(w, ref, &c);
    }
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    uint64_t len;
    uint8_t *seg = file_read(&f.disk, "wal-0000000000000001.log", &len);
    w = open_into(&f.disk, &opt_sync, &st, &rep);
    chord_store_free(st);
    assert_int_equal(chord_wal_checkpoint(w), 0);
    chord_wal_close(w);
    /* Put back the covered segment, an older snapshot and temp files, as
     * a crash in the middle of the checkpoint would have left them. */
    file_write(&f.disk, "wal-0000000000000001.log", seg, len);
    file_write(&f.disk, "snap-0000000000000003.dat", seg, 10);
    file_write(&f.disk, "snap-0000000000000040.dat.tmp", seg, 10);
    file_write(&f.disk, "notes.txt", seg, 3);
    w = open_into(&f.disk, &opt_sync, &st, &rep);
    assert_store_equal(ref, st);
    assert_string_equal(rep.snapshot, "snap-000000000000001e.dat");
    assert_true(rep.log_records == 0);
    assert_false(file_exists(&f.disk, "wal-0000000000000001.log"));
    assert_false(file_exists(&f.disk, "snap-0000000000000003.dat"));
    assert_false(file_exists(&f.disk, "snap-0000000000000040.dat.tmp"));
    assert_true(file_exists(&f.disk, "notes.txt")); /* not ours */
    chord_wal_close(w);
    chord_store_free(st);
    chord_store_free(ref);
    free(seg);
    fx_free(&f);
}

/* ---- a crash between every step of a checkpoint ---------------------------
 */

/* Build the same log every time: three segments of synced records, the
 * last reopened, plus an earlier snapshot. Returns the wal. */
static struct chord_wal *build_log(const struct chord_disk *d,
                                   struct chord_store *ref)
{
    struct chord_wal_report rep;
    struct chord_store *st;
    struct chord_wal *w = open_into(d, &opt_sync, &st, &rep);
    chord_store_free(st);
    uint64_t s = 31337, clock = 0;
    for (int part = 0; part < 3; part++) {
        for (int i = 0; i < 40; i++) {
            struct change c;
            change_make(&s, 25, &clock, &c);
            log_change(w, ref, &c);
        }
        assert_int_equal(chord_wal_sync(w), 0);
        if (part == 0)
            assert_int_equal(chord_wal_checkpoint(w), 0);
        else if (part == 1) {
            chord_wal_close(w);
            w = open_into(d, &opt_sync, &st, &rep);
            chord_store_free(st);
        }
    }
    return w;
}

static void run_checkpoint_crash(bool mem)
{
    uint64_t prng = 4242;
    unsigned steps = 0;
    bool finished = false;
    for (uint64_t k = 0; !finished && k < 200; k++) {
        struct fx f;
        fx_init(&f, mem);
        struct chord_store *ref = chord_store_new();
        struct chord_wal *w = build_log(&f.disk, ref);
        chord_wal_close(w);

        /* Reopen through a disk that dies after k more operations, then
         * checkpoint (recovery itself does a few operations too). */
        struct faulty fz;
        struct chord_disk fd = faulty_wrap(&fz, &f.disk, k);
        struct chord_wal_report rep;
        struct chord_store *st = chord_store_new();
        int rc = chord_wal_open(&fd, &opt_sync, apply_store, st, &rep, &w);
        chord_store_free(st);
        if (rc == 0) {
            rc = chord_wal_checkpoint(w);
            chord_wal_close(w);
            finished = rc == 0 && !fz.dead;
            steps++;
        }
        /* Power loss: torn and partial name changes on the memory disk. */
        fx_crash(&f, &prng);
        w = open_into(&f.disk, &opt_sync, &st, &rep);
        assert_store_equal(ref, st);
        chord_store_free(st);
        /* And the directory is healthy for what comes next. */
        struct change c;
        uint64_t s = k + 1, clock = 1000;
        change_make(&s, 25, &clock, &c);
        log_change(w, ref, &c);
        assert_int_equal(chord_wal_sync(w), 0);
        assert_int_equal(chord_wal_checkpoint(w), 0);
        chord_wal_close(w);
        fx_crash(&f, &prng);
        w = open_into(&f.disk, &opt_sync, &st, &rep);
        assert_store_equal(ref, st);
        assert_true(rep.log_records == 0);
        chord_wal_close(w);
        chord_store_free(st);
        chord_store_free(ref);
        fx_free(&f);
    }
    assert_true(finished);
    print_message("checkpoint crash points tried: %u\n", steps);
    assert_true(steps >= 8); /* temp write, fsync, rename, dir fsync,
                                deletes, dir fsync, at least */
}

ON_BOTH_DISKS(checkpoint_crash)

/* ---- random crashes under group commit ------------------------------------
 */

/*
 * Drive the log the way durable.c does: appends, then a sync (after each
 * append: "always"; after a random batch: "batch"); a change counts as
 * acknowledged once a sync covering its seq succeeded. Checkpoints run
 * from time to time. The memory disk dies at a random operation; after
 * the power loss, every acknowledged change must be there.
 */
static void run_random_crashes(bool batch)
{
    uint64_t prng = batch ? 777 : 555;
    for (int trial = 0; trial < 60; trial++) {
        struct fx f;
        fx_init(&f, true);
        struct chord_store *acked = chord_store_new();
        struct chord_store *all = chord_store_new();
        struct change *pending = calloc(64, sizeof *pending);
        uint64_t s = prng + (uint64_t)trial, clock = 0;
        struct chord_wal_report rep;
        struct chord_store *st;
        struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
        chord_store_free(st);
        /* Several lives per trial: write, die, recover, go on. */
        for (int life = 0; life < 4; life++) {
            chord_disk_mem_fail(&f.disk, CHORD_DISK_MEM_OP_ALL,
                                rnd(&prng) % 400, -EIO);
            bool dead = false;
            for (int op = 0; op < 300 && !dead; op++) {
                unsigned n = batch ? 1 + (unsigned)(rnd(&s) % 20) : 1;
                unsigned got = 0;
                for (unsigned i = 0; i < n && !dead; i++) {
                    change_make(&s, 40, &clock, &pending[got]);
                    struct chord_buf b;
                    chord_buf_init(&b);
                    chord_item_encode(&pending[got].it, &b);
                    uint64_t seq;
                    int rc = chord_wal_append(w, b.data, b.len, &seq);
                    chord_buf_free(&b);
                    if (rc) {
                        dead = true;
                        break;
                    }
                    chord_store_apply(all, &pending[got].it);
                    got++;
                }
                if (dead)
                    break;
                if (chord_wal_sync(w)) {
                    dead = true;
                    break;
                }
                for (unsigned i = 0; i < got; i++)
                    chord_store_apply(acked, &pending[i].it);
                if (rnd(&s) % 25 == 0 && chord_wal_checkpoint(w))
                    dead = true;
            }
            chord_wal_close(w);
            fx_crash(&f, &prng);
            w = open_into(&f.disk, &opt_sync, &st, &rep);
            assert_store_covers(acked, st);
            /* Nothing appears that was never written. */
            size_t cur = 0;
            const struct chord_store_entry *e;
            while ((e = chord_store_next(st, &cur)) != NULL)
                assert_non_null(chord_store_find(all, e->key, e->key_len));
            /* What recovery holds is now the truth to build on. */
            chord_store_free(acked);
            acked = st;
        }
        chord_wal_close(w);
        chord_store_free(acked);
        chord_store_free(all);
        free(pending);
        fx_free(&f);
    }
}

static void test_random_crash_always(void **state)
{
    (void)state;
    run_random_crashes(false);
}

static void test_random_crash_batch(void **state)
{
    (void)state;
    run_random_crashes(true);
}

/* ---- failures while writing -----------------------------------------------
 */

static void test_fsync_failure_is_permanent(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    struct chord_wal_report rep;
    struct chord_store *st;
    struct chord_wal *w = open_into(&f.disk, &opt_sync, &st, &rep);
    uint64_t seq;
    assert_int_equal(chord_wal_append(w, "abc", 3, &seq), 0);
    chord_disk_mem_fail(&f.disk, CHORD_DISK_MEM_OP_SYNC, 0, -EIO);
    struct chord_wal_sync job;
    assert_int_equal(chord_wal_sync_begin(w, &job), 1);
    assert_int_equal(chord_wal_sync_begin(w, &job), -EBUSY);
    int rc = chord_wal_sync_run(&f.disk, &job);
    assert_int_equal(rc, -EIO);
    assert_non_null(strstr(job.err, "fsync of mem:/wal-"));
    chord_wal_sync_end(w, &job, rc);
    assert_true(chord_wal_broken(w));
    assert_true(chord_wal_synced_seq(w) == 0);
    assert_int_equal(chord_wal_append(w, "abc", 3, &seq), -EIO);
    assert_int_equal(chord_wal_sync(w), -EIO);
    chord_wal_close(w);
    chord_store_free(st);
    fx_free(&f);
}

/* Appends do no I/O; a sync job's write that fails half-way breaks the
 * log for good (nothing after it is reported durable), and recovery cuts
 * the half-written record as a torn tail, keeping the records before. */
static void test_failed_write_breaks_the_log(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    struct faulty fz;
    struct chord_disk d = faulty_wrap(&fz, &f.disk, UINT64_MAX);
    struct chord_wal_report rep;
    struct seqs *got = calloc(1, sizeof *got);
    struct chord_wal *w;
    assert_int_equal(chord_wal_open(&d, &opt_sync, apply_seq, got, &rep, &w),
                     0);
    uint64_t seq, ops = chord_disk_mem_ops(&f.disk);
    assert_int_equal(chord_wal_append(w, "one", 3, &seq), 0);
    assert_true(chord_disk_mem_ops(&f.disk) == ops); /* no I/O */
    assert_true(chord_wal_segment_bytes(w) == CHORD_WAL_HEADER + 3);
    assert_int_equal(chord_wal_sync(w), 0);
    assert_true(chord_wal_synced_seq(w) == 1);
    assert_int_equal(chord_wal_append(w, "two-two-two", 11, &seq), 0);
    fz.short_write = true;
    struct chord_wal_sync job;
    assert_int_equal(chord_wal_sync_begin(w, &job), 1);
    int rc = chord_wal_sync_run(&d, &job);
    assert_int_equal(rc, -ENOSPC);
    assert_non_null(strstr(job.err, "write to mem:/wal-0000000000000001.log"));
    chord_wal_sync_end(w, &job, rc);
    assert_true(chord_wal_broken(w));
    assert_true(chord_wal_synced_seq(w) == 1);
    assert_int_equal(chord_wal_append(w, "three", 5, &seq), -EIO);
    chord_wal_close(w);

    got->n = 0;
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    assert_int_equal(got->n, 1);
    assert_int_equal(rep.torn, 1);
    chord_wal_close(w);

    /* Too much pending is refused, and nothing of it is kept. */
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_seq, got, &rep, &w), 0);
    static uint8_t big[CHORD_WAL_PAYLOAD_MAX];
    uint64_t before = 0;
    int refused = 0;
    for (int i = 0; i < 64 && !refused; i++) {
        before = chord_wal_segment_bytes(w);
        rc = chord_wal_append(w, big, sizeof big, &seq);
        refused = rc == -ENOBUFS;
    }
    assert_true(refused);
    assert_true(chord_wal_segment_bytes(w) == before);
    assert_false(chord_wal_broken(w));
    assert_int_equal(chord_wal_sync(w), 0); /* drains: appends work again */
    assert_int_equal(chord_wal_append(w, "x", 1, &seq), 0);
    chord_wal_close(w);
    free(got);
    fx_free(&f);
}

/* Mode "never": sync jobs write but never fsync; a power loss loses what
 * the OS had not written, but recovery still works. */
static void test_never_mode(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    const struct chord_wal_options never = {false, false};
    struct chord_wal_report rep;
    struct seqs *got = calloc(1, sizeof *got);
    struct chord_wal *w;
    assert_int_equal(chord_wal_open(&f.disk, &never, apply_seq, got, &rep, &w),
                     0);
    uint64_t seq, ops = chord_disk_mem_ops(&f.disk);
    for (int i = 0; i < 10; i++)
        assert_int_equal(chord_wal_append(w, "x", 1, &seq), 0);
    struct chord_wal_sync job;
    assert_int_equal(chord_wal_sync_begin(w, &job), 1);
    assert_false(job.fsync);
    assert_int_equal(chord_wal_sync_run(&f.disk, &job), 0);
    chord_wal_sync_end(w, &job, 0);
    assert_true(chord_wal_synced_seq(w) == 10);
    /* One write for the ten records, no fsync. */
    assert_true(chord_disk_mem_ops(&f.disk) == ops + 1);
    assert_int_equal(chord_wal_sync_begin(w, &job), 0);
    chord_wal_close(w);
    uint64_t prng = 3;
    fx_crash(&f, &prng);
    got->n = 0;
    assert_int_equal(chord_wal_open(&f.disk, &never, apply_seq, got, &rep, &w),
                     0);
    assert_true(got->n <= 10);
    chord_wal_close(w);
    free(got);
    fx_free(&f);
}

/* ---- the disks themselves -------------------------------------------------
 */

static void test_posix_lock(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    long holder = -1;
    assert_int_equal(f.disk.lock(f.disk.ctx, &holder), 0);
    struct chord_disk other;
    assert_int_equal(chord_disk_posix_open(f.dir, &other), 0);
    assert_int_equal(other.lock(other.ctx, &holder), -EBUSY);
    assert_int_equal(holder, (long)getpid());
    /* Closing the first releases the lock. */
    chord_disk_posix_close(&f.disk);
    assert_int_equal(other.lock(other.ctx, &holder), 0);
    f.disk = other;
    fx_free(&f);
}

static void test_posix_creates_dir(void **state)
{
    (void)state;
    char base[256], deep[300];
    snprintf(base, sizeof base, "/tmp/test_wal_dir.XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(deep, sizeof deep, "%s/a/b", base);
    struct chord_disk d;
    assert_int_equal(chord_disk_posix_open(deep, &d), 0);
    assert_string_equal(d.path(d.ctx), deep);
    int fd = d.open(d.ctx, "../escape", CHORD_DISK_WRITE | CHORD_DISK_CREATE);
    assert_int_equal(fd, -EINVAL);
    chord_disk_posix_close(&d);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", base);
    rmdir(deep);
    rmdir(base);
}

static void test_mem_disk_crash_model(void **state)
{
    (void)state;
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    /* A file whose name was never synced is gone after a crash, even if
     * its bytes were. */
    int fd = d.open(d.ctx, "a", CHORD_DISK_WRITE | CHORD_DISK_CREATE);
    assert_int_equal(d.pwrite(d.ctx, fd, "hello", 5, 0), 0);
    assert_int_equal(d.fsync(d.ctx, fd), 0);
    chord_disk_mem_crash(&d, NULL);
    assert_int_equal(d.open(d.ctx, "a", 0), -ENOENT);
    /* Synced name and bytes survive; unsynced bytes do not. */
    fd = d.open(d.ctx, "a", CHORD_DISK_WRITE | CHORD_DISK_CREATE);
    assert_int_equal(d.pwrite(d.ctx, fd, "hello", 5, 0), 0);
    assert_int_equal(d.fsync(d.ctx, fd), 0);
    assert_int_equal(d.sync_dir(d.ctx), 0);
    assert_int_equal(d.pwrite(d.ctx, fd, " world", 6, 5), 0);
    long h;
    assert_int_equal(d.lock(d.ctx, &h), 0);
    assert_int_equal(d.lock(d.ctx, &h), -EBUSY);
    chord_disk_mem_crash(&d, NULL);
    assert_int_equal(d.pread(d.ctx, fd, &h, 1, 0), -EBADF);
    assert_int_equal(d.lock(d.ctx, &h), 0);
    fd = d.open(d.ctx, "a", 0);
    uint64_t n;
    assert_int_equal(d.size(d.ctx, fd, &n), 0);
    assert_true(n == 5);
    /* An unsynced rename is undone; a synced one stays. */
    assert_int_equal(d.rename(d.ctx, "a", "b"), 0);
    chord_disk_mem_crash(&d, NULL);
    assert_int_equal(d.open(d.ctx, "b", 0), -ENOENT);
    assert_int_equal(d.rename(d.ctx, "a", "b"), 0);
    assert_int_equal(d.sync_dir(d.ctx), 0);
    chord_disk_mem_crash(&d, NULL);
    assert_true(d.open(d.ctx, "b", 0) >= 0);
    assert_int_equal(d.open(d.ctx, "a", 0), -ENOENT);
    /* Fault injection counts operations of the chosen classes. */
    chord_disk_mem_fail(&d, CHORD_DISK_MEM_OP_NAME, 1, -EIO);
    assert_int_equal(d.rename(d.ctx, "b", "c"), 0);
    assert_int_equal(d.rename(d.ctx, "c", "b"), -EIO);
    chord_disk_mem_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_record_codec),
        cmocka_unit_test(test_reopen_posix),
        cmocka_unit_test(test_reopen_mem),
        cmocka_unit_test(test_torn_tail_posix),
        cmocka_unit_test(test_torn_tail_mem),
        cmocka_unit_test(test_corruption_posix),
        cmocka_unit_test(test_corruption_mem),
        cmocka_unit_test(test_snapshot_corruption_posix),
        cmocka_unit_test(test_snapshot_corruption_mem),
        cmocka_unit_test(test_snapshot_replay_posix),
        cmocka_unit_test(test_snapshot_replay_mem),
        cmocka_unit_test(test_recovery_cleans_up),
        cmocka_unit_test(test_checkpoint_crash_posix),
        cmocka_unit_test(test_checkpoint_crash_mem),
        cmocka_unit_test(test_random_crash_always),
        cmocka_unit_test(test_random_crash_batch),
        cmocka_unit_test(test_fsync_failure_is_permanent),
        cmocka_unit_test(test_failed_write_breaks_the_log),
        cmocka_unit_test(test_never_mode),
        cmocka_unit_test(test_posix_lock),
        cmocka_unit_test(test_posix_creates_dir),
        cmocka_unit_test(test_mem_disk_crash_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
