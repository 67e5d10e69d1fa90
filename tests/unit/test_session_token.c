/*
 * test_session_token.c - the session token of chord_session_use_token
 * (src/client/token.h): merging the contexts of replies per key, the
 * bound of CHORD_TOKEN_KEYS least recently used keys, and its file:
 * saved and loaded back, a missing file an empty token, a corrupt,
 * truncated or foreign file refused with one line naming it (the token
 * unchanged), saving atomically (no temporary file left, the old file
 * kept when the save fails), and the session call over it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord/buf.h"
#include "chord/session.h"
#include "client/token.h"
#include "core/dvv.h"

struct dir {
    char path[64];
    char file[96];
};

static void dir_make(struct dir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/test_token.XXXXXX");
    assert_non_null(mkdtemp(d->path));
    snprintf(d->file, sizeof d->file, "%s/session.tok", d->path);
}

/* Remove the directory and what is in it. */
static void dir_remove(struct dir *d)
{
    DIR *dh = opendir(d->path);
    assert_non_null(dh);
    struct dirent *e;
    char p[400];
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
        unlink(p);
    }
    closedir(dh);
    rmdir(d->path);
}

/* Files in the directory. */
static int dir_count(const struct dir *d)
{
    DIR *dh = opendir(d->path);
    assert_non_null(dh);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dh);
    return n;
}

static struct chord_id writer(uint8_t b)
{
    struct chord_id id;
    memset(id.b, b, sizeof id.b);
    return id;
}

static struct chord_id key_id(const char *key)
{
    struct chord_id id;
    chord_key_id(&id, key, strlen(key));
    return id;
}

/* The context (writers 0x10 * i for i in 1..n, counters c[i-1]) into b. */
static void context(struct chord_buf *b, unsigned n, const uint64_t *c)
{
    struct chord_dvv d;
    chord_dvv_init(&d);
    for (unsigned i = 0; i < n; i++) {
        d.vv[d.n_vv].writer = writer((uint8_t)(0x10 * (i + 1)));
        d.vv[d.n_vv++].counter = c[i];
    }
    chord_buf_reset(b);
    assert_int_equal(chord_dvv_context_encode(&d, b), 0);
}

/* The counter the token holds for key and writer 0x10 * i (0: none). */
static uint64_t held(struct chord_token *t, const char *key, unsigned i)
{
    struct chord_id id = key_id(key);
    size_t len;
    const uint8_t *ctx = chord__token_find(t, &id, &len);
    if (!ctx)
        return 0;
    struct chord_dvv d;
    assert_int_equal(chord_dvv_decode(ctx, len, &d), 0);
    assert_int_equal(d.n_sib, 0);
    struct chord_id w = writer((uint8_t)(0x10 * i));
    for (unsigned k = 0; k < d.n_vv; k++)
        if (chord_id_eq(&d.vv[k].writer, &w))
            return d.vv[k].counter;
    return 0;
}

static void merge(struct chord_token *t, const char *key, unsigned n,
                  const uint64_t *c)
{
    struct chord_buf b;
    chord_buf_init(&b);
    context(&b, n, c);
    struct chord_id id = key_id(key);
    assert_int_equal(chord__token_merge(t, &id, b.data, b.len), 0);
    chord_buf_free(&b);
}

/* A reply's state (siblings and all) merges as its vector. */
static void test_merge_takes_the_max(void **state)
{
    (void)state;
    struct chord_token *t;
    assert_int_equal(chord__token_new(&t), 0);
    merge(t, "k", 2, (uint64_t[]){5, 2});
    merge(t, "k", 3, (uint64_t[]){3, 7, 1});
    assert_int_equal(held(t, "k", 1), 5);
    assert_int_equal(held(t, "k", 2), 7);
    assert_int_equal(held(t, "k", 3), 1);
    assert_int_equal(held(t, "other", 1), 0);
    assert_int_equal(chord__token_count(t), 1);

    /* A state with a sibling counts for its vector. */
    struct chord_dvv d;
    chord_dvv_init(&d);
    d.vv[0].writer = writer(0x10);
    d.vv[0].counter = 9;
    d.n_vv = 1;
    d.sib[0] = (struct chord_sibling){
        .writer = 0, .counter = 9, .value = {(const uint8_t *)"v", 1}};
    d.n_sib = 1;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_dvv_encode(&d, &b), 0);
    struct chord_id id = key_id("k");
    assert_int_equal(chord__token_merge(t, &id, b.data, b.len), 0);
    assert_int_equal(held(t, "k", 1), 9);
    assert_int_equal(held(t, "k", 2), 7);

    /* Garbage is refused and changes nothing. */
    static const uint8_t junk[] = {3, 1, 2};
    assert_int_equal(chord__token_merge(t, &id, junk, sizeof junk), -EPROTO);
    assert_int_equal(held(t, "k", 1), 9);
    chord_buf_free(&b);
    chord__token_free(t);
}

/* At most CHORD_TOKEN_KEYS keys; the least recently used one goes. */
static void test_bounded_lru(void **state)
{
    (void)state;
    struct chord_token *t;
    assert_int_equal(chord__token_new(&t), 0);
    char key[32];
    for (unsigned i = 0; i < CHORD_TOKEN_KEYS; i++) {
        snprintf(key, sizeof key, "key-%u", i);
        merge(t, key, 1, (uint64_t[]){i + 1});
    }
    assert_int_equal(chord__token_count(t), CHORD_TOKEN_KEYS);
    assert_int_equal(held(t, "key-0", 1), 1); /* used: key-1 is now oldest */
    merge(t, "one more", 1, (uint64_t[]){1});
    assert_int_equal(chord__token_count(t), CHORD_TOKEN_KEYS);
    assert_int_equal(held(t, "key-0", 1), 1);
    assert_int_equal(held(t, "key-1", 1), 0);
    assert_int_equal(held(t, "key-2", 1), 3);
    assert_int_equal(held(t, "one more", 1), 1);
    chord__token_free(t);
}

/* Saved and loaded back, the token holds the same contexts and the same
 * order of use; a missing file is an empty token. */
static void test_save_load(void **state)
{
    (void)state;
    struct dir d;
    dir_make(&d);
    char err[300] = "";
    struct chord_token *t, *u;
    assert_int_equal(chord__token_new(&t), 0);
    assert_int_equal(chord__token_new(&u), 0);
    assert_int_equal(chord__token_load(u, d.file, err, sizeof err), 0);
    assert_int_equal(chord__token_count(u), 0);

    merge(t, "a", 2, (uint64_t[]){4, 8});
    merge(t, "b", 1, (uint64_t[]){1});
    assert_int_equal(chord__token_save(t, d.file, err, sizeof err), 0);
    assert_int_equal(dir_count(&d), 1); /* no temporary file left */
    assert_int_equal(chord__token_load(u, d.file, err, sizeof err), 0);
    assert_int_equal(chord__token_count(u), 2);
    assert_int_equal(held(u, "a", 1), 4);
    assert_int_equal(held(u, "a", 2), 8);
    assert_int_equal(held(u, "b", 1), 1);

    /* Saved again over the old file: still one file, the new contents. */
    merge(u, "b", 1, (uint64_t[]){6});
    assert_int_equal(chord__token_save(u, d.file, err, sizeof err), 0);
    assert_int_equal(dir_count(&d), 1);
    assert_int_equal(chord__token_load(t, d.file, err, sizeof err), 0);
    assert_int_equal(held(t, "b", 1), 6);

    chord__token_free(t);
    chord__token_free(u);
    dir_remove(&d);
}

/* Write n bytes to path. */
static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *get_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* The load of path fails with -EINVAL, one line naming the file and
 * saying `why`, and leaves *t as it was. */
static void refused(struct chord_token *t, const char *path, const char *why)
{
    char err[300] = "";
    assert_int_equal(chord__token_load(t, path, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, why));
    assert_null(strchr(err, '\n'));
    assert_int_equal(chord__token_count(t), 1);
    assert_int_equal(held(t, "kept", 1), 2);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    struct dir d;
    dir_make(&d);
    char err[300];
    struct chord_token *t, *u;
    assert_int_equal(chord__token_new(&t), 0);
    assert_int_equal(chord__token_new(&u), 0);
    merge(t, "a", 3, (uint64_t[]){1, 2, 3});
    merge(t, "b", 1, (uint64_t[]){7});
    assert_int_equal(chord__token_save(t, d.file, err, sizeof err), 0);
    size_t n;
    uint8_t *good = get_file(d.file, &n);
    merge(u, "kept", 1, (uint64_t[]){2});

    put_file(d.file, "garbage\x00\x01", 9);
    refused(u, d.file, "not a session token");
    put_file(d.file, "chord-session-token 2\n\0\0\0\0\0\0\0\0", 30);
    refused(u, d.file, "another version");
    for (size_t cut = 1; cut < n - strlen(CHORD_TOKEN_MAGIC); cut += 7) {
        put_file(d.file, good, n - cut); /* truncated anywhere */
        char e2[300];
        assert_int_equal(chord__token_load(u, d.file, e2, sizeof e2), -EINVAL);
        assert_non_null(strstr(e2, d.file));
    }
    put_file(d.file, good, n - 1);
    refused(u, d.file, "corrupt");
    good[n / 2] ^= 0x40; /* a flipped bit */
    put_file(d.file, good, n);
    refused(u, d.file, "checksum");
    good[n / 2] ^= 0x40;
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, good, n);
    longer[n] = 0;
    put_file(d.file, longer, n + 1);
    refused(u, d.file, "corrupt");
    put_file(d.file, good, n); /* and the good one loads */
    assert_int_equal(chord__token_load(u, d.file, err, sizeof err), 0);
    assert_int_equal(held(u, "a", 3), 3);

    free(longer);
    free(good);
    chord__token_free(t);
    chord__token_free(u);
    dir_remove(&d);
}

/* A save that cannot happen says so, naming the file. */
static void test_save_fails(void **state)
{
    (void)state;
    struct chord_token *t;
    assert_int_equal(chord__token_new(&t), 0);
    char err[300] = "";
    const char *path = "/nonexistent-dir-for-test/session.tok";
    assert_int_equal(chord__token_save(t, path, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, path));
    chord__token_free(t);
}

/* The session call: a missing file is fine, a corrupt one is -EINVAL
 * with a line naming it. */
static void test_session_use_token(void **state)
{
    (void)state;
    struct dir d;
    dir_make(&d);
    const char *seeds[] = {"127.0.0.1:1"};
    struct chord_session *s;
    assert_int_equal(chord_session_open(seeds, 1, 1000, &s), 0);
    assert_int_equal(chord_session_use_token(s, d.file), 0);
    assert_int_equal(dir_count(&d), 0); /* nothing written by a load */
    put_file(d.file, "garbage", 7);
    assert_int_equal(chord_session_use_token(s, d.file), -EINVAL);
    assert_non_null(strstr(chord_session_error(s), d.file));
    chord_session_close(s);
    dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_takes_the_max),
        cmocka_unit_test(test_bounded_lru),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_save_fails),
        cmocka_unit_test(test_session_use_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
