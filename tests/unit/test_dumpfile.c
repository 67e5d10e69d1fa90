/*
 * test_dumpfile.c - the dump file format (tools/common/dumpfile.c), what
 * `dht load` relies on to refuse a bad file before writing anything:
 *
 *   - a round trip gives back every record (key, value, version, expiry)
 *     in order, over several blocks, with an empty value and a value of
 *     the largest size;
 *   - any single damaged byte anywhere is refused with an error naming a
 *     byte offset, and never reads as a clean end;
 *   - a file cut at any length is refused ("truncated"), only records of
 *     blocks read whole come out before the error, and never a clean end;
 *   - a newer format version is refused (-ENOTSUP, "newer"); not a dump
 *     and bytes after the end block are refused too;
 *   - the writer refuses records it could not read back (empty key,
 *     version 0, over a cap).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/crc32c.h"
#include "common/dumpfile.h"

#define N_RECORDS 3000

/* The i-th record of the sample: key "key-i", a value of i % 97 bytes
 * (record 2000 the largest value), version (i + 1, writer byte i). */
static size_t value_len_of(int i)
{
    return i == 2000 ? CHORD_VALUE_MAX : (size_t)(i % 97);
}

static void fill_record(int i, char *key, uint8_t *value,
                        struct chord_dump_record *rec)
{
    snprintf(key, 32, "key-%d", i);
    size_t vlen = value_len_of(i);
    for (size_t k = 0; k < vlen; k++)
        value[k] = (uint8_t)(i + k * 31);
    memset(rec, 0, sizeof(*rec));
    rec->r.key = (const uint8_t *)key;
    rec->r.key_len = strlen(key);
    rec->r.value = value;
    rec->r.value_len = vlen;
    rec->r.version.counter = (uint64_t)i + 1;
    memset(rec->r.version.writer.b, i & 0xff, CHORD_ID_BYTES);
    rec->expires_ms = i % 5 == 0 ? 0 : 1700000000000ull + (uint64_t)i;
}

/* A sample file of n records in memory: *len bytes, malloc'd. */
static uint8_t *sample_file(int n, size_t *len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    struct chord_dump_writer *w = NULL;
    assert_int_equal(chord_dump_writer_open(f, 1234567, &w), 0);
    uint8_t *value = malloc(CHORD_VALUE_MAX);
    assert_non_null(value);
    for (int i = 0; i < n; i++) {
        char key[32];
        struct chord_dump_record rec;
        fill_record(i, key, value, &rec);
        assert_int_equal(chord_dump_write(w, &rec), 0);
    }
    assert_true(chord_dump_writer_count(w) == (uint64_t)n);
    assert_int_equal(chord_dump_writer_finish(w), 0);
    chord_dump_writer_free(w);
    free(value);
    long end = ftell(f);
    assert_true(end > 0);
    *len = (size_t)end;
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* Read buf[0..len) as a dump: the reader's final answer (0 clean end, or
 * an error), the records read before it in *count, the error text in err
 * (checking every record read against the sample when `check`). */
static int read_all(const uint8_t *buf, size_t len, uint64_t *count, char *err,
                    size_t errlen, bool check)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(buf, 1, len, f), len);
    rewind(f);
    struct chord_dump_reader *r = NULL;
    *count = 0;
    err[0] = '\0';
    int rc = chord_dump_reader_open(f, &r, err, errlen);
    if (rc) {
        fclose(f);
        return rc;
    }
    assert_true(chord_dump_reader_created(r) == 1234567);
    uint8_t *value = check ? malloc(CHORD_VALUE_MAX) : NULL;
    struct chord_dump_record rec;
    while ((rc = chord_dump_read(r, &rec)) == 1) {
        if (check) {
            char key[32];
            struct chord_dump_record want;
            fill_record((int)*count, key, value, &want);
            assert_int_equal(rec.r.key_len, want.r.key_len);
            assert_memory_equal(rec.r.key, want.r.key, want.r.key_len);
            assert_int_equal(rec.r.value_len, want.r.value_len);
            if (want.r.value_len)
                assert_memory_equal(rec.r.value, want.r.value,
                                    want.r.value_len);
            assert_true(rec.r.version.counter == want.r.version.counter);
            assert_memory_equal(rec.r.version.writer.b, want.r.version.writer.b,
                                CHORD_ID_BYTES);
            assert_true(rec.expires_ms == want.expires_ms);
        }
        (*count)++;
    }
    assert_true(chord_dump_reader_count(r) == *count);
    if (rc < 0)
        snprintf(err, errlen, "%s", chord_dump_reader_error(r));
    else
        assert_string_equal(chord_dump_reader_error(r), "");
    /* after the end or an error, every call says the same */
    assert_int_equal(chord_dump_read(r, &rec), rc);
    free(value);
    chord_dump_reader_free(r);
    fclose(f);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = sample_file(N_RECORDS, &len);
    assert_true(len > CHORD_VALUE_MAX + CHORD_DUMP_BLOCK_TARGET);
    uint64_t n;
    char err[CHORD_DUMP_ERR_MAX];
    assert_int_equal(read_all(buf, len, &n, err, sizeof err, true), 0);
    assert_true(n == N_RECORDS);
    free(buf);

    /* An empty dump is a valid file too. */
    buf = sample_file(0, &len);
    assert_int_equal(len, CHORD_DUMP_HEADER_BYTES +
                              CHORD_DUMP_BLOCK_HEADER_BYTES + 8);
    assert_int_equal(read_all(buf, len, &n, err, sizeof err, true), 0);
    assert_true(n == 0);
    free(buf);
}

static void test_corrupt_byte_is_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = sample_file(40, &len); /* one block, then the end */
    uint64_t n;
    char err[CHORD_DUMP_ERR_MAX];
    for (size_t at = 0; at < len; at++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            buf[at] ^= (uint8_t)(1u << bit);
            int rc = read_all(buf, len, &n, err, sizeof err, false);
            buf[at] ^= (uint8_t)(1u << bit);
            if (rc == 0)
                fail_msg("a flipped bit %u at byte %zu read as a good file",
                         bit, at);
            assert_true(rc == -EPROTO || rc == -ENOTSUP);
            assert_non_null(strstr(err, "offset"));
            /* the one block is damaged, or the header or the end: no
             * record of a damaged block ever comes out */
            if (at >= CHORD_DUMP_HEADER_BYTES &&
                at < len - CHORD_DUMP_BLOCK_HEADER_BYTES - 8)
                assert_true(n == 0);
        }
    }
    free(buf);
}

static void test_truncated_file_is_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = sample_file(40, &len);
    uint64_t n;
    char err[CHORD_DUMP_ERR_MAX];
    for (size_t cut = 0; cut < len; cut++) {
        int rc = read_all(buf, cut, &n, err, sizeof err, true);
        if (rc == 0)
            fail_msg("the file cut at %zu of %zu read as complete", cut, len);
        assert_int_equal(rc, -EPROTO);
        if (cut >= CHORD_DUMP_HEADER_BYTES) {
            assert_non_null(strstr(err, "truncated"));
            assert_non_null(strstr(err, "offset"));
        }
        /* records come out only once their whole block was read */
        if (cut < len - CHORD_DUMP_BLOCK_HEADER_BYTES - 8)
            assert_true(n == 0);
        else
            assert_true(n == 40);
    }
    free(buf);
}

static void test_other_files_are_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = sample_file(3, &len);
    uint64_t n;
    char err[CHORD_DUMP_ERR_MAX];

    /* A newer version (its header checksum made right: a real newer
     * file, not a damaged one). */
    uint8_t *newer = malloc(len);
    memcpy(newer, buf, len);
    newer[9] = CHORD_DUMP_VERSION + 1;
    uint32_t crc = chord_crc32c(0, newer, 28);
    newer[28] = (uint8_t)(crc >> 24);
    newer[29] = (uint8_t)(crc >> 16);
    newer[30] = (uint8_t)(crc >> 8);
    newer[31] = (uint8_t)crc;
    assert_int_equal(read_all(newer, len, &n, err, sizeof err, false),
                     -ENOTSUP);
    assert_non_null(strstr(err, "newer"));
    assert_true(n == 0);
    free(newer);

    /* Not a dump at all. */
    const char *text = "put k v\nput k2 v2\n";
    assert_int_equal(read_all((const uint8_t *)text, strlen(text), &n, err,
                              sizeof err, false),
                     -EPROTO);
    assert_non_null(strstr(err, "not a dht dump"));

    /* Bytes after the end block. */
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    assert_int_equal(read_all(more, len + 1, &n, err, sizeof err, false),
                     -EPROTO);
    assert_non_null(strstr(err, "after the end block"));
    free(more);
    free(buf);
}

static void test_writer_refuses_bad_records(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    struct chord_dump_writer *w = NULL;
    assert_int_equal(chord_dump_writer_open(f, 0, &w), 0);
    char key[32];
    uint8_t value[100];
    struct chord_dump_record rec;
    fill_record(1, key, value, &rec);
    rec.r.key_len = 0;
    assert_int_equal(chord_dump_write(w, &rec), -EINVAL);
    fill_record(1, key, value, &rec);
    rec.r.version.counter = 0;
    assert_int_equal(chord_dump_write(w, &rec), -EINVAL);
    fill_record(1, key, value, &rec);
    rec.r.key_len = CHORD_KEY_MAX + 1;
    assert_int_equal(chord_dump_write(w, &rec), -EMSGSIZE);
    assert_true(chord_dump_writer_count(w) == 0);
    chord_dump_writer_free(w);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt_byte_is_refused),
        cmocka_unit_test(test_truncated_file_is_refused),
        cmocka_unit_test(test_other_files_are_refused),
        cmocka_unit_test(test_writer_refuses_bad_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
