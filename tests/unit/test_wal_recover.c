/*
 * test_wal_recover.c - recovery of the write-ahead log
 * (src/io/wal_recover.c, src/io/wal_scan.c): torn tails are cut at every
 * byte offset, damage in a segment or a snapshot is refused with the file
 * and the byte offset named, or with repair set aside and cut, a missing
 * segment is noticed, and what a snapshot covers is cleaned up.
 *
 * The behavioural tests run on both disks (ON_BOTH_DISKS in
 * wal_fixture.h): the POSIX one on a temporary directory and the memory
 * one. Damage is made through the disk interface (file_poke, file_write).
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

#include "wal_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_posix),
        cmocka_unit_test(test_torn_tail_mem),
        cmocka_unit_test(test_corruption_posix),
        cmocka_unit_test(test_corruption_mem),
        cmocka_unit_test(test_snapshot_corruption_posix),
        cmocka_unit_test(test_snapshot_corruption_mem),
        cmocka_unit_test(test_recovery_cleans_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
