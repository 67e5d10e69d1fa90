/*
 * test_wal_checkpoint.c - checkpoints of the write-ahead log
 * (src/io/wal_checkpoint.c): snapshots taken among appends and reopenings
 * rebuild exactly the store that saw every change, and a crash between
 * any two steps of a checkpoint (the temporary write, its fsync, the
 * rename, the deletions, the directory syncs) loses nothing and leaves a
 * directory the next checkpoint can work in.
 *
 * Both tests run on both disks (ON_BOTH_DISKS in wal_fixture.h); the
 * crash points are injected by the faulty wrapper disk, then the memory
 * disk loses power with torn, partial name changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include "wal_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_replay_posix),
        cmocka_unit_test(test_snapshot_replay_mem),
        cmocka_unit_test(test_checkpoint_crash_posix),
        cmocka_unit_test(test_checkpoint_crash_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
