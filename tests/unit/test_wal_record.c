/*
 * test_wal_record.c - the checksum and the record codec of the
 * write-ahead log (src/io/crc32c.c, src/io/wal_record.c), and the file
 * names of segments and snapshots (src/io/wal_dir.c).
 *
 * CRC-32C is checked against the RFC 3720 vectors and a bit-at-a-time
 * definition; the record codec by a round trip, every strict prefix
 * (partial) and every single-bit flip (refused). No disk is involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "wal_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_record_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
