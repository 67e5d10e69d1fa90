/*
 * test_disk.c - the two disks the log runs on: the POSIX one
 * (src/io/disk_posix.c: its lock file, creating its directory, refusing
 * names that leave it) and the in-memory one (src/io/disk_mem.c: its
 * crash model, where only synced bytes and synced names survive, and its
 * fault injection by operation class).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wal_fixture.h"

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
        cmocka_unit_test(test_posix_lock),
        cmocka_unit_test(test_posix_creates_dir),
        cmocka_unit_test(test_mem_disk_crash_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
