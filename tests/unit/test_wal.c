/*
 * test_wal.c - the log itself (src/io/wal.c): appending and numbering,
 * reopening, group commit under random crashes, and failures while
 * writing (a failed fsync or a short write breaks the log for good;
 * mode "never" writes without fsync), and the largest record (an item
 * with a state blob at its cap) read back whole. Recovery of damaged logs is in
 * test_wal_recover.c, checkpoints in test_wal_checkpoint.c, the codec in
 * test_wal_record.c, the disks in test_disk.c.
 *
 * Every behavioural test runs twice (ON_BOTH_DISKS): on a temporary
 * directory through the POSIX disk, and on the in-memory disk. A "crash"
 * on the POSIX disk is a process crash (whatever was written stays); on
 * the memory disk it is a power loss that keeps only what was synced,
 * plus torn prefixes of the rest drawn from a seeded PRNG. Failures at an
 * exact step are injected by the memory disk or by the faulty wrapper
 * disk of wal_fixture.h.
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
#include <stdlib.h>
#include <string.h>

#include "wal_fixture.h"

/* ---- appending, reopening, sequence numbers ------------------------------ */

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
    struct chord_store_entry ev;
    struct chord_store_entry fv;
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
            while ((e = chord_store_next(st, &cur, &ev)) != NULL)
                assert_non_null(chord_store_find(all, e->key, e->key_len, &fv));
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

/* ---- the largest record ---------------------------------------------------
 */

/* What recovery handed over: the records' count and a copy of the
 * largest payload. */
struct capture {
    uint64_t records;
    uint64_t big_seq;
    uint8_t *big;
    size_t big_len;
};

static int apply_capture(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
    struct capture *c = arg;
    c->records++;
    if (len > c->big_len) {
        free(c->big);
        c->big = malloc(len);
        assert_non_null(c->big);
        memcpy(c->big, p, len);
        c->big_len = len;
        c->big_seq = seq;
    }
    return 0;
}

/* An item as large as one gets (a key at its cap, origin, fence,
 * deadline and a state blob of CHORD_DVV_STATE_MAX bytes) is one record:
 * appended between two small ones, synced, and read back whole by
 * recovery. */
static void run_largest_record(bool mem)
{
    struct fx f;
    fx_init(&f, mem);
    uint8_t *blob = malloc(CHORD_DVV_STATE_MAX);
    assert_non_null(blob);
    for (size_t i = 0; i < CHORD_DVV_STATE_MAX; i++)
        blob[i] = (uint8_t)(i * 13 + 1);
    uint8_t key[CHORD_KEY_MAX];
    memset(key, 'k', sizeof key);
    const struct chord_item it = {
        .key = {key, sizeof key},
        .version = {.counter = 7},
        .has_origin = true,
        .origin = {.seq = 1},
        .has_fence = true,
        .fence = 2,
        .deadline = 3,
        .state = {blob, CHORD_DVV_STATE_MAX},
    };
    struct chord_buf rec;
    chord_buf_init(&rec);
    assert_int_equal(chord_item_encode(&it, &rec), 0);
    /* Over the cap before version vectors (a full key and value). */
    assert_true(rec.len > CHORD_KEY_MAX + CHORD_VALUE_MAX + 256u);

    struct capture c = {0};
    struct chord_wal_report rep;
    struct chord_wal *w;
    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_capture, &c, &rep, &w), 0);
    uint64_t seq;
    assert_int_equal(chord_wal_append(w, "small", 5, &seq), 0);
    assert_int_equal(chord_wal_append(w, rec.data, rec.len, &seq), 0);
    assert_true(seq == 2);
    assert_int_equal(chord_wal_append(w, "after", 5, &seq), 0);
    assert_int_equal(chord_wal_sync(w), 0);
    chord_wal_close(w);
    fx_crash(&f, NULL);

    assert_int_equal(
        chord_wal_open(&f.disk, &opt_sync, apply_capture, &c, &rep, &w), 0);
    assert_true(c.records == 3);
    assert_true(rep.log_records == 3 && rep.dropped == 0 && rep.torn == 0);
    assert_true(c.big_seq == 2);
    assert_int_equal(c.big_len, rec.len);
    assert_memory_equal(c.big, rec.data, rec.len);
    struct chord_item got;
    assert_int_equal(chord_item_decode(c.big, c.big_len, &got), 0);
    assert_int_equal(got.state.len, CHORD_DVV_STATE_MAX);
    assert_true(got.deadline == 3);
    chord_wal_close(w);

    free(c.big);
    chord_buf_free(&rec);
    free(blob);
    fx_free(&f);
}
ON_BOTH_DISKS(largest_record)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_posix),
        cmocka_unit_test(test_reopen_mem),
        cmocka_unit_test(test_random_crash_always),
        cmocka_unit_test(test_random_crash_batch),
        cmocka_unit_test(test_fsync_failure_is_permanent),
        cmocka_unit_test(test_failed_write_breaks_the_log),
        cmocka_unit_test(test_never_mode),
        cmocka_unit_test(test_largest_record_posix),
        cmocka_unit_test(test_largest_record_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
