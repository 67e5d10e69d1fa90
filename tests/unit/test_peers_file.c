/*
 * test_peers_file.c - the list of known peers a node keeps in its data
 * directory (src/io/peers_file.c) and the keeper that saves it from a
 * libuv loop (src/io/peers_keeper.c).
 *
 * What a user would notice: a saved list reads back in the same order;
 * a missing file is "no list" (-ENOENT); a damaged one (another format,
 * a line cut short, a line over-long, garbage, too many lines) yields
 * nothing at all and one sentence naming the line; a save survives a
 * power loss once it returned, and a save that failed half-way (or a
 * crash in the middle of one) leaves the previous list whole. The keeper
 * saves what the node knows when it changed, never an empty set, and
 * closing it with a save in flight finishes the save and leaves no
 * handle behind.
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

#include "io/disk.h"
#include "io/peers_file.h"
#include "io/peers_keeper.h"

static const char addrs3[3][CHORD_ADDR_MAX] = {
    "127.0.0.1:7002", "127.0.0.1:7000", "127.0.0.9:65535"};

/* Write `text` as the peers file of disk d, durably. */
static void put_file(struct chord_disk *d, const char *text)
{
    int fd = d->open(d->ctx, CHORD_PEERS_FILE_NAME,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    assert_true(fd >= 0);
    if (text[0]) /* disk_mem.c: a 0-byte write to an empty file is UB */
        assert_int_equal(d->pwrite(d->ctx, fd, text, strlen(text), 0), 0);
    assert_int_equal(d->fsync(d->ctx, fd), 0);
    assert_int_equal(d->close(d->ctx, fd), 0);
    assert_int_equal(d->sync_dir(d->ctx), 0);
}

/* Load and expect exactly want[0..n). */
static void expect_list(struct chord_disk *d,
                        const char (*want)[CHORD_ADDR_MAX], size_t n)
{
    char got[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
    char why[CHORD_PEERS_FILE_ERR_MAX];
    size_t k = 99;
    assert_int_equal(
        chord_peers_file_load(d, got, CHORD_PEERS_FILE_MAX, &k, why), 0);
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

/* Load a damaged file: -EBADMSG, nothing listed, `why` contains `says`. */
static void expect_corrupt(const char *text, const char *says)
{
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    put_file(&d, text);
    char got[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
    char why[CHORD_PEERS_FILE_ERR_MAX];
    size_t k = 99;
    assert_int_equal(
        chord_peers_file_load(&d, got, CHORD_PEERS_FILE_MAX, &k, why),
        -EBADMSG);
    assert_int_equal(k, 0);
    if (!strstr(why, says))
        fail_msg("why is \"%s\", expected it to say \"%s\"", why, says);
    chord_disk_mem_free(&d);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    assert_int_equal(chord_peers_file_save(&d, addrs3, 3), 0);
    expect_list(&d, addrs3, 3);
    /* The text an operator reads. */
    int fd = d.open(d.ctx, CHORD_PEERS_FILE_NAME, 0);
    assert_true(fd >= 0);
    char text[256] = {0};
    assert_true(d.pread(d.ctx, fd, text, sizeof text - 1, 0) > 0);
    d.close(d.ctx, fd);
    assert_string_equal(text, "chord-peers 1\n127.0.0.1:7002\n127.0.0.1:7000\n"
                              "127.0.0.9:65535\n");
    /* A second save replaces the list. */
    assert_int_equal(chord_peers_file_save(&d, addrs3 + 1, 1), 0);
    expect_list(&d, addrs3 + 1, 1);
    /* A reader with less room takes the first ones. */
    char got[2][CHORD_ADDR_MAX];
    char why[CHORD_PEERS_FILE_ERR_MAX];
    size_t k = 0;
    assert_int_equal(chord_peers_file_save(&d, addrs3, 3), 0);
    assert_int_equal(chord_peers_file_load(&d, got, 2, &k, why), 0);
    assert_int_equal(k, 2);
    assert_string_equal(got[1], addrs3[1]);
    chord_disk_mem_free(&d);
}

static void test_full_list_and_repeats(void **state)
{
    (void)state;
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    static char many[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
    for (unsigned i = 0; i < CHORD_PEERS_FILE_MAX; i++) /* longest form */
        snprintf(many[i], CHORD_ADDR_MAX, "%055u:%05u", i, 60000 + i);
    assert_int_equal(chord_peers_file_save(&d, many, CHORD_PEERS_FILE_MAX), 0);
    expect_list(&d, many, CHORD_PEERS_FILE_MAX);
    /* One more than the cap, or none, is refused before any write. */
    static char over[CHORD_PEERS_FILE_MAX + 1][CHORD_ADDR_MAX];
    assert_int_equal(chord_peers_file_save(&d, over, CHORD_PEERS_FILE_MAX + 1),
                     -EINVAL);
    assert_int_equal(chord_peers_file_save(&d, many, 0), -EINVAL);
    expect_list(&d, many, CHORD_PEERS_FILE_MAX);
    /* Repeats (an operator's edit) are read once. */
    put_file(&d, "chord-peers 1\n127.0.0.1:7002\n127.0.0.1:7002\n"
                 "127.0.0.1:7000\n");
    expect_list(&d, addrs3, 2);
    /* A header alone is a valid list of none. */
    put_file(&d, "chord-peers 1\n");
    expect_list(&d, addrs3, 0);
    chord_disk_mem_free(&d);
}

static void test_bad_addresses_refused(void **state)
{
    (void)state;
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    assert_int_equal(chord_peers_file_save(&d, addrs3, 3), 0);
    static const char *bad[] = {"", "no-port", "127.0.0.1 :7000",
                                "127.0.0.1:7000\n127.0.0.2:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char one[1][CHORD_ADDR_MAX];
        snprintf(one[0], CHORD_ADDR_MAX, "%s", bad[i]);
        assert_false(chord_peers_file_addr_ok(one[0]));
        assert_int_equal(chord_peers_file_save(&d, one, 1), -EINVAL);
    }
    expect_list(&d, addrs3, 3); /* untouched */
    chord_disk_mem_free(&d);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    char got[4][CHORD_ADDR_MAX];
    char why[CHORD_PEERS_FILE_ERR_MAX];
    size_t k = 99;
    assert_int_equal(chord_peers_file_load(&d, got, 4, &k, why), -ENOENT);
    assert_int_equal(k, 0);
    /* A save never made durable is missing after a power loss. */
    chord_disk_mem_fail(&d, CHORD_DISK_MEM_OP_SYNC, 0, -EIO);
    assert_int_equal(chord_peers_file_save(&d, addrs3, 3), -EIO);
    chord_disk_mem_crash(&d, NULL);
    assert_int_equal(chord_peers_file_load(&d, got, 4, &k, why), -ENOENT);
    chord_disk_mem_free(&d);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    expect_corrupt("", "empty");
    expect_corrupt("chord-peers 2\n127.0.0.1:7000\n", "line 1");
    expect_corrupt("127.0.0.1:7000\n", "line 1");
    expect_corrupt("chord-peers 1\n127.0.0.1:7000\n127.0.0.1:70",
                   "line 3 is not ended");
    expect_corrupt("chord-peers 1\n127.0.0.1:7000\nhello world:1\n",
                   "line 3 is not a host:port");
    expect_corrupt("chord-peers 1\n127.0.0.1\n", "line 2 is not a host:port");
    expect_corrupt("chord-peers 1\n\n", "line 2 is not a host:port");
    char text[CHORD_PEERS_FILE_BYTES_MAX];
    snprintf(text, sizeof text, "chord-peers 1\n127.0.0.1:7000\n");
    size_t len = strlen(text);
    for (unsigned i = 0; i < CHORD_PEERS_FILE_MAX; i++, len += 4)
        memcpy(text + len, "a:1\n", 5);
    expect_corrupt(text, "more than 64 addresses");
    /* Binary garbage, and a file larger than any list. */
    expect_corrupt("chord-peers 1\n\x01\x02:\xff\n", "line 2");
    static char big[CHORD_PEERS_FILE_BYTES_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    expect_corrupt(big, "bytes long");
}

static void test_over_long_line(void **state)
{
    (void)state;
    char text[256];
    char host[CHORD_ADDR_MAX + 1];
    memset(host, '1', CHORD_ADDR_MAX - 2);
    host[CHORD_ADDR_MAX - 2] = '\0';
    /* 62 + ":1" = 64 bytes: one more than an address can take. */
    snprintf(text, sizeof text, "chord-peers 1\n127.0.0.1:7000\n%s:1\n", host);
    expect_corrupt(text, "line 3 is longer than 63 bytes");
    /* 63 bytes is the longest an address can be. */
    struct chord_disk d;
    assert_int_equal(chord_disk_mem_new(&d), 0);
    char ok[1][CHORD_ADDR_MAX];
    snprintf(ok[0], CHORD_ADDR_MAX, "%.61s:1", host);
    assert_int_equal(strlen(ok[0]), CHORD_ADDR_MAX - 1);
    assert_int_equal(chord_peers_file_save(&d, ok, 1), 0);
    expect_list(&d, ok, 1);
    chord_disk_mem_free(&d);
}

/* Every way a save can fail or be cut by a crash leaves a whole list:
 * the old one or the new one, and the new one once the save returned 0
 * (even after a power loss). */
static void test_save_atomic(void **state)
{
    (void)state;
    unsigned olds = 0;
    for (uint64_t after = 0; after < 12; after++) {
        for (int crash = 0; crash < 2; crash++) {
            struct chord_disk d;
            assert_int_equal(chord_disk_mem_new(&d), 0);
            assert_int_equal(chord_peers_file_save(&d, addrs3, 3), 0);
            chord_disk_mem_fail(&d, CHORD_DISK_MEM_OP_ALL, after, -EIO);
            int rc = chord_peers_file_save(&d, addrs3 + 2, 1);
            if (crash) {
                uint64_t prng = 0x9e3779b97f4a7c15ull + after;
                chord_disk_mem_crash(&d, &prng);
            }
            if (rc == 0) {
                expect_list(&d, addrs3 + 2, 1);
            } else { /* failed or cut short: the old list or the new, whole */
                char got[4][CHORD_ADDR_MAX];
                char why[CHORD_PEERS_FILE_ERR_MAX];
                size_t k = 0;
                assert_int_equal(chord_peers_file_load(&d, got, 4, &k, why), 0);
                if (k == 3)
                    expect_list(&d, addrs3, 3);
                else
                    expect_list(&d, addrs3 + 2, 1);
                olds += k == 3;
            }
            chord_disk_mem_free(&d);
        }
    }
    assert_true(olds >= 8); /* most failures come before the rename */
}

/* ---- the keeper on a loop ------------------------------------------------ */

struct owner {
    size_t n; /* what collect reports */
    char addrs[3][CHORD_ADDR_MAX];
    unsigned collects;
    unsigned warns;
};

static size_t collect(void *ctx, char (*out)[CHORD_ADDR_MAX], size_t max)
{
    struct owner *o = ctx;
    o->collects++;
    size_t n = o->n < max ? o->n : max;
    memcpy(out, o->addrs, n * CHORD_ADDR_MAX);
    return n;
}

static void keeper_log(void *ctx, int level, const char *line)
{
    struct owner *o = ctx;
    if (level <= 1) /* WARN */
        o->warns++;
    (void)line;
}

static void test_keeper(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_peers_file.XXXXXX";
    assert_non_null(mkdtemp(dir));
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct owner o = {0};
    memcpy(o.addrs, addrs3, sizeof o.addrs);
    struct chord_peers_keeper_cb cb = {
        .ctx = &o, .collect = collect, .log = keeper_log};
    struct chord_peers_keeper *k;
    assert_int_equal(chord_peers_keeper_open(&loop, dir, &cb, &k), 0);
    char got[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
    assert_int_equal(chord_peers_keeper_load(k, got, CHORD_PEERS_FILE_MAX), 0);
    assert_int_equal(o.warns, 0); /* a missing file is not a warning */
    struct chord_disk d;
    assert_int_equal(chord_disk_posix_open(dir, &d), 0);

    /* Nothing known: nothing written. (The keeper's timer is not started
     * here, so the loop runs only while a save is in flight.) */
    chord_peers_keeper_flush(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(o.collects, 1);
    assert_int_equal(d.open(d.ctx, CHORD_PEERS_FILE_NAME, 0), -ENOENT);

    /* Three known: saved off the loop. */
    o.n = 3;
    chord_peers_keeper_flush(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    expect_list(&d, addrs3, 3);

    /* The same set in another order is not written again; an empty one
     * never replaces the list. */
    assert_int_equal(d.unlink(d.ctx, CHORD_PEERS_FILE_NAME), 0);
    memcpy(o.addrs[0], addrs3[2], CHORD_ADDR_MAX);
    memcpy(o.addrs[2], addrs3[0], CHORD_ADDR_MAX);
    chord_peers_keeper_flush(k);
    o.n = 0;
    chord_peers_keeper_flush(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.open(d.ctx, CHORD_PEERS_FILE_NAME, 0), -ENOENT);

    /* A change, then close at once: the save in flight finishes and
     * every handle is gone. */
    o.n = 2;
    chord_peers_keeper_flush(k);
    chord_peers_keeper_close(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    expect_list(&d, o.addrs, 2);
    assert_int_equal(o.warns, 0);

    /* A restarted keeper reads it back; a corrupt file is one warning. */
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(chord_peers_keeper_open(&loop, dir, &cb, &k), 0);
    assert_int_equal(chord_peers_keeper_load(k, got, CHORD_PEERS_FILE_MAX), 2);
    assert_string_equal(got[0], addrs3[2]);
    put_file(&d, "chord-peers 1\ngarbage\n");
    assert_int_equal(chord_peers_keeper_load(k, got, CHORD_PEERS_FILE_MAX), 0);
    assert_int_equal(o.warns, 1);
    chord_peers_keeper_close(k);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    d.unlink(d.ctx, CHORD_PEERS_FILE_NAME);
    d.unlink(d.ctx, CHORD_PEERS_FILE_TMP);
    chord_disk_posix_close(&d);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_full_list_and_repeats),
        cmocka_unit_test(test_bad_addresses_refused),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_over_long_line),
        cmocka_unit_test(test_save_atomic),
        cmocka_unit_test(test_keeper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
