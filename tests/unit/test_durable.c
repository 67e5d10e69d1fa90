/*
 * test_durable.c - group commit and checkpoints on a real libuv loop
 * (src/io/durable.c), on a temporary directory.
 *
 * What a user of the daemon would notice: a change is reported durable
 * only after an fsync covering it (always, batch) and no earlier than the
 * batch window; writes of one loop iteration share one fsync; mode never
 * only writes; a checkpoint runs off the loop and leaves a directory
 * that recovers every record; an fsync error stops the node (fatal, once)
 * and nothing after it is reported; a second opener of the directory is
 * refused with the holder's pid; closing with jobs in flight leaves no
 * handle open. fsync failures are injected by a wrapper around the POSIX
 * disk (struct failing), safe to call from the loop and a pool thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord/node.h"
#include "core/wire.h"
#include "io/disk.h"
#include "io/durable.h"
#include "io/wal.h"

struct rec {
    uint64_t reported; /* highest seq reported */
    unsigned calls;    /* persisted callbacks */
    unsigned fatals;
    char why[CHORD_DURABLE_ERR_MAX];
    bool closed; /* a callback after close would be a bug */
    bool late;
};

static void on_persisted(void *ctx, uint64_t seq)
{
    struct rec *r = ctx;
    if (r->closed)
        r->late = true;
    assert_true(seq > r->reported);
    r->reported = seq;
    r->calls++;
}

static void on_fatal(void *ctx, const char *why)
{
    struct rec *r = ctx;
    if (r->closed)
        r->late = true;
    r->fatals++;
    snprintf(r->why, sizeof r->why, "%s", why);
}

struct fx {
    char dir[256];
    uv_loop_t loop;
    struct rec rec;
    struct chord_durable *d;
    unsigned next_key; /* appended records are items with unique keys */
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/test_durable.XXXXXX",
             tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
}

static int unlink_cb(void *arg, const char *name)
{
    struct chord_disk *d = arg;
    d->unlink(d->ctx, name);
    return 0;
}

static void fx_free(struct fx *f)
{
    struct chord_disk d;
    assert_int_equal(chord_disk_posix_open(f->dir, &d), 0);
    d.list(d.ctx, unlink_cb, &d);
    chord_disk_posix_close(&d);
    rmdir(f->dir);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static int count_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    (void)seq;
    (void)p;
    (void)len;
    (*(uint64_t *)arg)++;
    return 0;
}

/* Open and recover; *records gets how many records came back. */
static void fx_open(struct fx *f, int mode, uint32_t fsync_ms,
                    uint64_t cp_bytes, const struct chord_disk *disk,
                    uint64_t *records)
{
    struct chord_durable_options o;
    chord_durable_options_default(&o);
    o.dir = f->dir;
    o.mode = mode;
    o.fsync_ms = fsync_ms;
    o.checkpoint_bytes = cp_bytes;
    o.disk = disk;
    struct chord_durable_cb cb = {&f->rec, on_persisted, on_fatal, NULL};
    char err[CHORD_DURABLE_ERR_MAX];
    assert_int_equal(chord_durable_open(&f->loop, &o, &cb, err, &f->d), 0);
    struct chord_wal_report rep;
    uint64_t n = 0;
    assert_int_equal(chord_durable_recover(f->d, count_cb, &n, &rep, err), 0);
    if (records)
        *records = n;
}

static void fx_close(struct fx *f)
{
    chord_durable_close(f->d);
    f->d = NULL;
    f->rec.closed = true;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->rec.late);
}

/* Run the loop until *flag-like condition holds; at most 10 s. */
static bool run_until(struct fx *f, bool (*cond)(struct fx *))
{
    uint64_t end = uv_hrtime() + 10000000000ull;
    while (!cond(f) && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    return cond(f);
}

static uint64_t want_seq;
static bool reached(struct fx *f)
{
    return f->rec.reported >= want_seq || f->rec.fatals > 0;
}

/* Append n records, each a store item with a new key (as the node
 * would); the seq of the last. */
static uint64_t append_n(struct fx *f, unsigned n)
{
    uint64_t seq = 0;
    for (unsigned i = 0; i < n; i++) {
        char key[32], val[48];
        int kl = snprintf(key, sizeof key, "key-%u", f->next_key++);
        memset(val, 'v', sizeof val);
        struct chord_item it = {
            .key = {(const uint8_t *)key, (size_t)kl},
            .value = {(const uint8_t *)val, sizeof val},
            .version = {.counter = f->next_key},
        };
        struct chord_buf b;
        chord_buf_init(&b);
        assert_int_equal(chord_item_encode(&it, &b), 0);
        seq = chord_durable_append(f->d, b.data, b.len);
        chord_buf_free(&b);
        assert_true(seq > 0);
    }
    return seq;
}

static void test_always_groups_one_iteration(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    fx_open(&f, CHORD_DURABILITY_ALWAYS, 2, 1u << 30, NULL, NULL);
    /* 100 appends in one iteration: nothing is reported from inside
     * append, and one fsync covers them all. */
    want_seq = append_n(&f, 100);
    assert_true(want_seq == 100);
    assert_int_equal(f.rec.calls, 0);
    assert_true(run_until(&f, reached));
    assert_true(f.rec.reported == 100);
    struct chord_durable_stats st;
    chord_durable_stats(f.d, &st);
    assert_true(st.fsyncs == 1);
    assert_true(st.appended == 100);
    /* Then one more, alone: its own fsync. */
    want_seq = append_n(&f, 1);
    assert_true(run_until(&f, reached));
    chord_durable_stats(f.d, &st);
    assert_true(st.fsyncs == 2);
    fx_close(&f);
    fx_free(&f);
}

static void test_batch_waits_for_window(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    fx_open(&f, CHORD_DURABILITY_BATCH, 60, 1u << 30, NULL, NULL);
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop);
    want_seq = append_n(&f, 10);
    assert_true(run_until(&f, reached));
    uv_update_time(&f.loop);
    assert_true(uv_now(&f.loop) - t0 >= 59);
    assert_true(f.rec.reported == 10);
    struct chord_durable_stats st;
    chord_durable_stats(f.d, &st);
    assert_true(st.fsyncs == 1);
    fx_close(&f);
    fx_free(&f);
}

/* Mode never: reported once written (by a pool job), without an fsync;
 * nothing is reported from inside append. */
static void test_never_writes_without_fsync(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    fx_open(&f, CHORD_DURABILITY_NEVER, 2, 1u << 30, NULL, NULL);
    want_seq = append_n(&f, 5);
    assert_int_equal(f.rec.calls, 0);
    assert_true(run_until(&f, reached));
    assert_true(f.rec.reported == 5);
    struct chord_durable_stats st;
    chord_durable_stats(f.d, &st);
    assert_true(st.fsyncs == 0);
    fx_close(&f);
    fx_free(&f);
}

static bool checkpointed(struct fx *f)
{
    struct chord_durable_stats st;
    chord_durable_stats(f->d, &st);
    return st.checkpoints >= 2 && f->rec.reported >= want_seq;
}

static void test_checkpoint_off_the_loop(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    /* A tiny checkpoint size: every ~4 KiB of log starts one. */
    fx_open(&f, CHORD_DURABILITY_BATCH, 1, 4096, NULL, NULL);
    uint64_t total = 0;
    for (int round = 0; round < 40; round++) {
        want_seq = append_n(&f, 10);
        total += 10;
        assert_true(run_until(&f, reached));
    }
    assert_true(run_until(&f, checkpointed));
    struct chord_durable_stats st;
    chord_durable_stats(f.d, &st);
    assert_true(st.max_rotate_us < 50000); /* the loop never waited long */
    fx_close(&f);

    /* Every key comes back once: from the snapshot or from the log. */
    uint64_t n = 0;
    f.rec = (struct rec){0};
    fx_open(&f, CHORD_DURABILITY_BATCH, 1, 1u << 30, NULL, &n);
    assert_true(n == total);
    fx_close(&f);
    fx_free(&f);
}

/* A POSIX disk whose fsync fails on demand (atomics: used by two
 * threads). */
struct failing {
    struct chord_disk inner;
    atomic_int fail;
};

#define FL(c) ((struct failing *)(c))
static const char *fl_path(void *c)
{
    return FL(c)->inner.path(FL(c)->inner.ctx);
}
static int fl_open(void *c, const char *n, unsigned fl)
{
    return FL(c)->inner.open(FL(c)->inner.ctx, n, fl);
}
static int fl_close(void *c, int fd)
{
    return FL(c)->inner.close(FL(c)->inner.ctx, fd);
}
static ssize_t fl_pread(void *c, int fd, void *b, size_t n, uint64_t o)
{
    return FL(c)->inner.pread(FL(c)->inner.ctx, fd, b, n, o);
}
static int fl_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o)
{
    return FL(c)->inner.pwrite(FL(c)->inner.ctx, fd, b, n, o);
}
static int fl_fsync(void *c, int fd)
{
    if (atomic_load(&FL(c)->fail))
        return -EIO;
    return FL(c)->inner.fsync(FL(c)->inner.ctx, fd);
}
static int fl_size(void *c, int fd, uint64_t *o)
{
    return FL(c)->inner.size(FL(c)->inner.ctx, fd, o);
}
static int fl_truncate(void *c, int fd, uint64_t n)
{
    return FL(c)->inner.truncate(FL(c)->inner.ctx, fd, n);
}
static int fl_sync_dir(void *c)
{
    return FL(c)->inner.sync_dir(FL(c)->inner.ctx);
}
static int fl_rename(void *c, const char *a, const char *b)
{
    return FL(c)->inner.rename(FL(c)->inner.ctx, a, b);
}
static int fl_unlink(void *c, const char *a)
{
    return FL(c)->inner.unlink(FL(c)->inner.ctx, a);
}
static int fl_list(void *c, chord_disk_list_fn fn, void *arg)
{
    return FL(c)->inner.list(FL(c)->inner.ctx, fn, arg);
}
static int fl_lock(void *c, long *h)
{
    return FL(c)->inner.lock(FL(c)->inner.ctx, h);
}

static void test_fsync_error_is_fatal(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    struct failing fl;
    assert_int_equal(chord_disk_posix_open(f.dir, &fl.inner), 0);
    atomic_init(&fl.fail, 0);
    struct chord_disk disk = {&fl,         fl_path,     fl_open,   fl_close,
                              fl_pread,    fl_pwrite,   fl_fsync,  fl_size,
                              fl_truncate, fl_sync_dir, fl_rename, fl_unlink,
                              fl_list,     fl_lock};
    fx_open(&f, CHORD_DURABILITY_ALWAYS, 2, 1u << 30, &disk, NULL);
    want_seq = append_n(&f, 3);
    assert_true(run_until(&f, reached));
    assert_true(f.rec.reported == 3);

    atomic_store(&fl.fail, 1);
    want_seq = append_n(&f, 2);
    assert_true(run_until(&f, reached));
    assert_int_equal(f.rec.fatals, 1);
    assert_true(f.rec.reported == 3); /* nothing after the failure */
    assert_non_null(strstr(f.rec.why, "fsync of"));
    assert_non_null(strstr(f.rec.why, "wal-0000000000000001.log"));
    /* The log refuses changes from now on. */
    uint8_t rec[4] = {1, 2, 3, 4};
    assert_true(chord_durable_append(f.d, rec, sizeof rec) == 0);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    assert_int_equal(f.rec.fatals, 1);
    fx_close(&f);
    chord_disk_posix_close(&fl.inner);
    fx_free(&f);
}

static void test_close_with_jobs_in_flight(void **state)
{
    (void)state;
    for (int mode = CHORD_DURABILITY_ALWAYS; mode <= CHORD_DURABILITY_NEVER;
         mode++) {
        struct fx f;
        fx_init(&f);
        fx_open(&f, mode, 5, 2048, NULL, NULL);
        for (int i = 0; i < 5; i++) {
            append_n(&f, 20);
            uv_run(&f.loop, UV_RUN_NOWAIT); /* start a sync/checkpoint */
        }
        fx_close(&f); /* asserts no callback after close */
        /* Everything written is there (a last fsync ran at close). */
        uint64_t n = 0;
        f.rec = (struct rec){0};
        fx_open(&f, mode, 5, 1u << 30, NULL, &n);
        assert_true(n == 100 || mode == CHORD_DURABILITY_NEVER);
        fx_close(&f);
        fx_free(&f);
    }
}

static void test_lock_names_the_holder(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    fx_open(&f, CHORD_DURABILITY_BATCH, 2, 1u << 30, NULL, NULL);
    struct chord_durable_options o;
    chord_durable_options_default(&o);
    o.dir = f.dir;
    struct rec r2 = {0};
    struct chord_durable_cb cb = {&r2, on_persisted, on_fatal, NULL};
    char err[CHORD_DURABLE_ERR_MAX], want[CHORD_DURABLE_ERR_MAX];
    struct chord_durable *d2;
    assert_int_equal(chord_durable_open(&f.loop, &o, &cb, err, &d2), -EBUSY);
    snprintf(want, sizeof want, "%s is in use by another node (pid %ld)", f.dir,
             (long)getpid());
    assert_string_equal(err, want);
    fx_close(&f);
    /* Released at close. */
    assert_int_equal(chord_durable_open(&f.loop, &o, &cb, err, &d2), 0);
    chord_durable_close(d2);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    fx_free(&f);
}

static void test_mode_names(void **state)
{
    (void)state;
    assert_int_equal(chord_durability_parse("always"), CHORD_DURABILITY_ALWAYS);
    assert_int_equal(chord_durability_parse("batch"), CHORD_DURABILITY_BATCH);
    assert_int_equal(chord_durability_parse("never"), CHORD_DURABILITY_NEVER);
    assert_int_equal(chord_durability_parse("sometimes"), -1);
    assert_int_equal(chord_durability_parse(NULL), -1);
    assert_string_equal(chord_durability_name(0), "memory");
    assert_string_equal(chord_durability_name(2), "batch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_groups_one_iteration),
        cmocka_unit_test(test_batch_waits_for_window),
        cmocka_unit_test(test_never_writes_without_fsync),
        cmocka_unit_test(test_checkpoint_off_the_loop),
        cmocka_unit_test(test_fsync_error_is_fatal),
        cmocka_unit_test(test_close_with_jobs_in_flight),
        cmocka_unit_test(test_lock_names_the_holder),
        cmocka_unit_test(test_mode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
