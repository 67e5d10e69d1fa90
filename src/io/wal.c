/*
 * wal.c - the write-ahead log: record framing, segments, snapshots,
 * recovery, and the sync and checkpoint jobs (contract and file formats in
 * wal.h).
 *
 * Reading. Files are read through a window (struct rdr) at least one
 * largest record wide, so a record never has to be assembled from two
 * reads, and a whole file is never held in memory. When a record of a
 * segment does not decode, find_valid_after() looks for any valid record
 * later in the same file; one with a plausible sequence number, a length
 * inside the file and a matching CRC means the damage is corruption, none
 * means a torn tail. A record with seq s can only be followed by seqs
 * s+1, s+2..., so candidates are filtered by that before any CRC is
 * computed, and the scan stays cheap on a tail of zeros or garbage.
 *
 * Writing. An append frames the record at the end of the current
 * segment's pending buffer, no I/O. A sync job takes the pending buffers
 * (of the segments rotated out since the last job, then of the current
 * one) and writes each at the offset reserved for it, then fdatasyncs;
 * the log's thread meanwhile fills fresh buffers. A job that fails breaks
 * the log for good. Snapshots are written through a 1 MiB buffer to
 * "<name>.tmp", fsynced, renamed, and the directory fsynced, before
 * anything they replace is deleted. Every repair first copies the damaged
 * file aside ("<name>.damaged", via a temporary and a rename), then
 * replaces the original atomically, so at every instant the original name
 * holds either the old or the repaired file.
 *
 * Invariants: segs[] is sorted by first seq and its last entry is the
 * segment being appended to (fd); its bytes [0, written) were handed to
 * jobs and pend holds the rest, up to seq next_seq - 1; synced_seq <=
 * next_seq - 1; the retired[] segments are the newest closed ones, oldest
 * first, each with the pending bytes no job has taken yet, released only
 * after a job wrote and synced them; a checkpoint only reads segments
 * older than every retired one.
 *
 * The log knows nothing of libuv or threads: the caller runs the *_run
 * halves of jobs wherever it likes (see wal.h).
 */
#include "io/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "core/wire.h"

/* Bytes read or written per disk call when streaming a file. */
#define WAL_CHUNK (1u << 20)
/* Window of a reader: a chunk plus the largest record. */
#define WAL_WINDOW (WAL_CHUNK + CHORD_WAL_HEADER + CHORD_WAL_PAYLOAD_MAX)
/* The end marker of a snapshot: magic, record count, seq. */
#define SNAP_MAGIC "CHORDSNP"
#define SNAP_FOOTER_LEN 24u
/* Suffixes of temporary and set-aside files. */
#define SUFFIX_TMP ".tmp"
#define SUFFIX_DAMAGED ".damaged"

/* CRC-32C table for the reflected polynomial 0x82F63B78: entry i is the
 * CRC of the byte i (generated, and checked against RFC 3720 vectors by
 * tests/unit/test_wal.c). */
static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu,
    0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu,
    0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u,
    0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu,
    0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u,
    0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
    0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu,
    0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u, 0xc288cab2u,
    0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u,
    0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu,
    0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u,
    0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
    0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u, 0x96bf4dccu,
    0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u,
    0x0f36e6f7u, 0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u,
    0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u,
    0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu, 0x90a324fau,
    0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu,
    0xceb018deu, 0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu,
    0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u, 0xb7072f64u, 0xa457dc90u,
    0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u,
    0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu,
    0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
    0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u,
    0x97baa1bau, 0x84ea524eu, 0x7681d14du, 0x2892ed69u, 0xdaf96e6au,
    0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u,
    0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au,
    0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u,
    0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
    0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu, 0x8ecee914u,
    0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u,
    0x07198540u, 0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u,
    0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au,
    0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u,
    0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u,
    0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u,
    0x988c474du, 0x6ae7c44eu, 0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u,
    0xad7d5351u,
};

uint32_t chord_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len >= 4) {
        crc = crc32c_table[(crc ^ p[0]) & 0xffu] ^ (crc >> 8);
        crc = crc32c_table[(crc ^ p[1]) & 0xffu] ^ (crc >> 8);
        crc = crc32c_table[(crc ^ p[2]) & 0xffu] ^ (crc >> 8);
        crc = crc32c_table[(crc ^ p[3]) & 0xffu] ^ (crc >> 8);
        p += 4;
        len -= 4;
    }
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- big-endian fields --------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- records ------------------------------------------------------------- */

/* The CRC a record with this header (length and seq already in place) and
 * payload must carry. */
static uint32_t record_crc(const uint8_t *hdr, const uint8_t *payload,
                           size_t len)
{
    uint32_t c = chord_crc32c(0, hdr, 4);
    c = chord_crc32c(c, hdr + 8, 8);
    return chord_crc32c(c, payload, len);
}

/* Fill the 16-byte header at hdr for the payload that follows it. */
static void record_seal(uint8_t *hdr, uint64_t seq, size_t len)
{
    put32(hdr, (uint32_t)len);
    put64(hdr + 8, seq);
    put32(hdr + 4, record_crc(hdr, hdr + CHORD_WAL_HEADER, len));
}

int chord_wal_record_encode(uint64_t seq, const void *payload, size_t len,
                            struct chord_buf *out)
{
    if (len > CHORD_WAL_PAYLOAD_MAX)
        return -EMSGSIZE;
    int rc = chord_buf_reserve(out, CHORD_WAL_HEADER + len);
    if (rc)
        return rc;
    uint8_t *hdr = out->data + out->len;
    if (len)
        memcpy(hdr + CHORD_WAL_HEADER, payload, len);
    record_seal(hdr, seq, len);
    out->len += CHORD_WAL_HEADER + len;
    return 0;
}

ssize_t chord_wal_record_decode(const uint8_t *buf, size_t len,
                                struct chord_wal_record *out)
{
    if (len < CHORD_WAL_HEADER)
        return CHORD_WAL_DECODE_PARTIAL;
    uint32_t plen = get32(buf);
    if (plen > CHORD_WAL_PAYLOAD_MAX)
        return CHORD_WAL_DECODE_BAD;
    if (len - CHORD_WAL_HEADER < plen)
        return CHORD_WAL_DECODE_PARTIAL;
    if (record_crc(buf, buf + CHORD_WAL_HEADER, plen) != get32(buf + 4))
        return CHORD_WAL_DECODE_BAD;
    out->seq = get64(buf + 8);
    out->payload = buf + CHORD_WAL_HEADER;
    out->len = plen;
    return (ssize_t)(CHORD_WAL_HEADER + plen);
}

/* ---- file names ---------------------------------------------------------- */

void chord_wal_segment_name(uint64_t first, char out[CHORD_DISK_NAME_MAX])
{
    snprintf(out, CHORD_DISK_NAME_MAX, "wal-%016" PRIx64 ".log", first);
}

void chord_wal_snapshot_name(uint64_t seq, char out[CHORD_DISK_NAME_MAX])
{
    snprintf(out, CHORD_DISK_NAME_MAX, "snap-%016" PRIx64 ".dat", seq);
}

/* Parse "<prefix><16 lower-case hex><suffix>" exactly: 0 and *seq, or -1. */
static int parse_name(const char *name, const char *prefix, const char *suffix,
                      uint64_t *seq)
{
    size_t np = strlen(prefix), ns = strlen(suffix);
    if (strlen(name) != np + 16 + ns || strncmp(name, prefix, np) != 0 ||
        strcmp(name + np + 16, suffix) != 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = np; i < np + 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return 0;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

/* "<name><suffix>" into out; -ENAMETOOLONG if it does not fit. */
static int name_with(char out[CHORD_DISK_NAME_MAX], const char *name,
                     const char *suffix)
{
    int n = snprintf(out, CHORD_DISK_NAME_MAX, "%s%s", name, suffix);
    return n < 0 || (size_t)n >= CHORD_DISK_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* ---- messages ------------------------------------------------------------ */

static void note_set(char *note, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_set(char *note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, CHORD_WAL_NOTE_MAX, fmt, ap);
    va_end(ap);
}

/* Append "; <text>" (or just the text to an empty note), cut to fit. */
static void note_add(char *note, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_add(char *note, const char *fmt, ...)
{
    size_t n = strlen(note);
    if (n && n + 2 < CHORD_WAL_NOTE_MAX) {
        memcpy(note + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= CHORD_WAL_NOTE_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + n, CHORD_WAL_NOTE_MAX - n, fmt, ap);
    va_end(ap);
}

static const char *dpath(const struct chord_disk *d)
{
    return d->path(d->ctx);
}

/* ---- reading a file through a window ------------------------------------- */

enum { RD_EOF = 0, RD_REC = 1, RD_BAD = 2, RD_SHORT = 3 };

struct rdr {
    const struct chord_disk *disk;
    int fd;
    uint64_t size; /* bytes in the file */
    uint8_t *buf;  /* WAL_WINDOW bytes */
    size_t len;    /* valid bytes in buf */
    size_t pos;    /* the next record starts at buf[pos] */
    uint64_t base; /* file offset of buf[0] */
};

/* A reader of fd from byte `from`. 0 or -ENOMEM. */
static int rdr_init(struct rdr *r, const struct chord_disk *disk, int fd,
                    uint64_t size, uint64_t from)
{
    *r = (struct rdr){disk, fd, size, NULL, 0, 0, from};
    r->buf = malloc(WAL_WINDOW);
    return r->buf ? 0 : -ENOMEM;
}

static void rdr_free(struct rdr *r)
{
    free(r->buf);
    r->buf = NULL;
}

/*
 * The next record: RD_REC with *rec (borrowing the window until the next
 * call), RD_EOF at a clean end, RD_BAD (bad length or CRC) or RD_SHORT (a
 * record cut by the end of the file); *off is the record's file offset.
 * A negative errno when a read fails.
 */
static int rdr_next(struct rdr *r, struct chord_wal_record *rec, uint64_t *off)
{
    for (;;) {
        *off = r->base + r->pos;
        ssize_t n =
            chord_wal_record_decode(r->buf + r->pos, r->len - r->pos, rec);
        if (n > 0) {
            r->pos += (size_t)n;
            return RD_REC;
        }
        if (n == CHORD_WAL_DECODE_BAD)
            return RD_BAD;
        if (r->base + r->len >= r->size)
            return r->pos == r->len ? RD_EOF : RD_SHORT;
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += r->pos;
        r->len -= r->pos;
        r->pos = 0;
        uint64_t left = r->size - (r->base + r->len);
        size_t want = WAL_WINDOW - r->len;
        if (want > left)
            want = (size_t)left;
        ssize_t got = r->disk->pread(r->disk->ctx, r->fd, r->buf + r->len, want,
                                     r->base + r->len);
        if (got < 0)
            return (int)got;
        if (got == 0)
            r->size = r->base + r->len; /* the file shrank under us */
        r->len += (size_t)got;
    }
}

/*
 * Is there a valid record at some offset in (from, size) whose seq is at
 * least min_seq (and not absurdly far beyond it)? 1 with *where, 0, or
 * -errno.
 */
static int find_valid_after(const struct chord_disk *disk, int fd,
                            uint64_t size, uint64_t from, uint64_t min_seq,
                            uint64_t *where)
{
    if (size < CHORD_WAL_HEADER || from + 1 > size - CHORD_WAL_HEADER)
        return 0;
    uint64_t max_seq = min_seq + (size - from) / CHORD_WAL_HEADER + 1;
    uint8_t *buf = malloc(WAL_CHUNK + CHORD_WAL_HEADER);
    uint8_t *payload = malloc(CHORD_WAL_PAYLOAD_MAX);
    int found = -ENOMEM;
    if (!buf || !payload)
        goto out;
    found = 0;
    for (uint64_t p0 = from + 1; p0 + CHORD_WAL_HEADER <= size && found == 0;
         p0 += WAL_CHUNK) {
        ssize_t got =
            disk->pread(disk->ctx, fd, buf, WAL_CHUNK + CHORD_WAL_HEADER, p0);
        if (got < 0) {
            found = (int)got;
            break;
        }
        for (size_t i = 0; i < WAL_CHUNK && i + CHORD_WAL_HEADER <= (size_t)got;
             i++) {
            const uint8_t *h = buf + i;
            uint32_t len = get32(h);
            uint64_t seq = get64(h + 8);
            uint64_t at = p0 + i;
            if (seq < min_seq || seq > max_seq || len > CHORD_WAL_PAYLOAD_MAX ||
                at + CHORD_WAL_HEADER + len > size)
                continue;
            ssize_t pl =
                disk->pread(disk->ctx, fd, payload, len, at + CHORD_WAL_HEADER);
            if (pl < 0) {
                found = (int)pl;
                break;
            }
            if ((size_t)pl == len &&
                record_crc(h, payload, len) == get32(h + 4)) {
                *where = at;
                found = 1;
                break;
            }
        }
    }
out:
    free(buf);
    free(payload);
    return found;
}

/* Valid records one after another from `from`: how many, or -errno. */
static int64_t count_from(const struct chord_disk *disk, int fd, uint64_t size,
                          uint64_t from)
{
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, from))
        return -ENOMEM;
    int64_t n = 0;
    struct chord_wal_record rec;
    uint64_t off;
    int rc;
    while ((rc = rdr_next(&r, &rec, &off)) == RD_REC)
        n++;
    rdr_free(&r);
    return rc < 0 ? rc : n;
}

/* What a scan of one file found. */
struct scan {
    uint64_t records;  /* records applied (or counted) */
    uint64_t last_seq; /* seq of the last good record, 0 if none */
    uint64_t expected; /* seq the next record should carry */
    bool damaged;
    bool out_of_seq; /* the damage is a valid record with a wrong seq */
    uint64_t off;    /* where the damage starts */
    const char *why; /* what it is */
};

/*
 * Read a segment whose first record should carry `first`, applying the
 * records with seq > skip_upto through fn (may be NULL). Stops at the
 * first damage and describes it in *s. 0, -errno (read), or fn's error.
 */
static int scan_segment(const struct chord_disk *disk, int fd, uint64_t size,
                        uint64_t first, uint64_t skip_upto,
                        chord_wal_apply_fn fn, void *arg, struct scan *s)
{
    memset(s, 0, sizeof *s);
    s->expected = first;
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, 0))
        return -ENOMEM;
    int rc;
    for (;;) {
        struct chord_wal_record rec;
        uint64_t off;
        rc = rdr_next(&r, &rec, &off);
        if (rc < 0 || rc == RD_EOF)
            break;
        if (rc == RD_REC && rec.seq != s->expected) {
            s->out_of_seq = true;
            s->why = "a record out of sequence";
        } else if (rc == RD_BAD) {
            s->why = "a bad length or CRC mismatch";
        } else if (rc == RD_SHORT) {
            s->why = "an incomplete record";
        }
        if (rc != RD_REC || s->out_of_seq) {
            s->damaged = true;
            s->off = off;
            rc = 0;
            break;
        }
        if (rec.seq > skip_upto && fn) {
            rc = fn(arg, rec.seq, rec.payload, rec.len);
            if (rc)
                break;
            s->records++;
        }
        s->last_seq = rec.seq;
        s->expected = rec.seq + 1;
    }
    rdr_free(&r);
    return rc;
}

/*
 * Read the snapshot of `seq`, applying its records through fn. Any flaw is
 * damage: a record that does not decode, a wrong seq, no end marker, an
 * end marker that disagrees, bytes after it. 0, -errno, or fn's error.
 */
static int scan_snapshot(const struct chord_disk *disk, int fd, uint64_t size,
                         uint64_t seq, chord_wal_apply_fn fn, void *arg,
                         struct scan *s)
{
    memset(s, 0, sizeof *s);
    struct rdr r;
    if (rdr_init(&r, disk, fd, size, 0))
        return -ENOMEM;
    bool ended = false;
    int rc;
    for (;;) {
        struct chord_wal_record rec;
        uint64_t off;
        rc = rdr_next(&r, &rec, &off);
        if (rc < 0)
            break;
        s->off = off;
        if (rc == RD_EOF) {
            if (!ended) {
                s->damaged = true;
                s->why = "no end marker (an incomplete snapshot)";
            }
            rc = 0;
            break;
        }
        if (rc != RD_REC) {
            s->damaged = true;
            s->why = rc == RD_BAD ? "a bad length or CRC mismatch"
                                  : "an incomplete record";
            rc = 0;
            break;
        }
        if (ended) {
            s->damaged = true;
            s->why = "data after the end marker";
            rc = 0;
            break;
        }
        if (rec.seq == 0) {
            if (rec.len != SNAP_FOOTER_LEN ||
                memcmp(rec.payload, SNAP_MAGIC, 8) != 0 ||
                get64(rec.payload + 8) != s->records ||
                get64(rec.payload + 16) != seq) {
                s->damaged = true;
                s->why = "an end marker that does not match";
                rc = 0;
                break;
            }
            ended = true;
            continue;
        }
        if (rec.seq != seq) {
            s->damaged = true;
            s->why = "a record of another snapshot";
            rc = 0;
            break;
        }
        if (fn) {
            rc = fn(arg, rec.seq, rec.payload, rec.len);
            if (rc)
                break;
        }
        s->records++;
    }
    rdr_free(&r);
    return rc;
}

static void snap_footer(uint8_t out[SNAP_FOOTER_LEN], uint64_t records,
                        uint64_t seq)
{
    memcpy(out, SNAP_MAGIC, 8);
    put64(out + 8, records);
    put64(out + 16, seq);
}

/* ---- copying and repairing files ----------------------------------------- */

/* Copy bytes [0, len) of src into a new file `dst` through dst.tmp
 * (fsynced, renamed), then append `tail` (may be empty) after them. */
static int write_copy(const struct chord_disk *disk, int src, uint64_t len,
                      const uint8_t *tail, size_t tail_len, const char *dst)
{
    char tmp[CHORD_DISK_NAME_MAX];
    int rc = name_with(tmp, dst, SUFFIX_TMP);
    if (rc)
        return rc;
    int fd =
        disk->open(disk->ctx, tmp,
                   CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    if (fd < 0)
        return fd;
    uint8_t *buf = malloc(WAL_CHUNK);
    rc = buf ? 0 : -ENOMEM;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t want = len - off < WAL_CHUNK ? (size_t)(len - off) : WAL_CHUNK;
        ssize_t got = disk->pread(disk->ctx, src, buf, want, off);
        if (got <= 0) {
            rc = got < 0 ? (int)got : -EIO;
            break;
        }
        rc = disk->pwrite(disk->ctx, fd, buf, (size_t)got, off);
        off += (uint64_t)got;
    }
    free(buf);
    if (rc == 0 && tail_len)
        rc = disk->pwrite(disk->ctx, fd, tail, tail_len, len);
    if (rc == 0)
        rc = disk->fsync(disk->ctx, fd);
    disk->close(disk->ctx, fd);
    if (rc == 0)
        rc = disk->rename(disk->ctx, tmp, dst);
    if (rc)
        disk->unlink(disk->ctx, tmp);
    return rc;
}

/*
 * Set a damaged file aside and keep what precedes the damage: copy it
 * whole to "<name>.damaged", then replace it with its first `keep` bytes
 * followed by `tail`, then fsync the directory. 0 or -errno.
 */
static int repair_file(const struct chord_disk *disk, const char *name, int fd,
                       uint64_t size, uint64_t keep, const uint8_t *tail,
                       size_t tail_len)
{
    char aside[CHORD_DISK_NAME_MAX];
    int rc = name_with(aside, name, SUFFIX_DAMAGED);
    if (rc == 0)
        rc = write_copy(disk, fd, size, NULL, 0, aside);
    if (rc == 0)
        rc = write_copy(disk, fd, keep, tail, tail_len, name);
    if (rc == 0)
        rc = disk->sync_dir(disk->ctx);
    return rc;
}

/* ---- the log ------------------------------------------------------------- */

struct wal_seg {
    uint64_t first;
    char name[CHORD_DISK_NAME_MAX];
};

struct wal_retired {
    int fd;
    char name[CHORD_DISK_NAME_MAX];
    struct chord_buf pend; /* bytes no job has taken yet */
    uint64_t off;          /* where they go */
};

struct chord_wal {
    const struct chord_disk *disk;
    struct chord_wal_options opt;
    struct wal_seg *segs; /* sorted; the last is the current segment */
    size_t n_segs, cap_segs;
    int fd;                 /* the current segment, -1 before it is open */
    uint64_t written;       /* bytes of it handed to sync jobs */
    struct chord_buf pend;  /* framed records after those */
    struct chord_buf spare; /* an empty buffer to swap in (recycled) */
    uint64_t next_seq;      /* seq of the next append */
    uint64_t synced_seq;
    char snap[CHORD_DISK_NAME_MAX]; /* "" when none */
    uint64_t snap_seq;
    struct wal_retired retired[CHORD_WAL_RETIRED_MAX];
    unsigned n_retired;
    bool dir_dirty; /* a segment was created since the last sync */
    bool sync_busy, cp_busy;
    bool broken;
};

/* Room for one more element in arr (*cap elements of esz bytes, n used),
 * doubling from `first`: the array (maybe moved), or NULL without memory
 * (arr is then left as it was). */
static void *grow(void *arr, size_t *cap, size_t n, size_t esz, size_t first)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(arr, ncap * esz);
    if (p)
        *cap = ncap;
    return p;
}

/* Append a segment to segs[] (kept sorted by the callers). */
static int segs_push(struct chord_wal *w, uint64_t first, const char *name)
{
    if (w->n_segs >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    struct wal_seg *v = grow(w->segs, &w->cap_segs, w->n_segs, sizeof *v, 16);
    if (!v)
        return -ENOMEM;
    w->segs = v;
    w->segs[w->n_segs].first = first;
    snprintf(w->segs[w->n_segs].name, CHORD_DISK_NAME_MAX, "%s", name);
    w->n_segs++;
    return 0;
}

/* A file found in the directory at recovery. */
struct dir_file {
    int kind; /* FILE_SEG, FILE_SNAP, FILE_TMP */
    uint64_t seq;
    char name[CHORD_DISK_NAME_MAX];
};

enum { FILE_SEG, FILE_SNAP, FILE_TMP };

struct dir_list {
    struct dir_file *v;
    size_t n, cap;
};

static int collect_file(void *arg, const char *name)
{
    struct dir_list *l = arg;
    struct dir_file f;
    memset(&f, 0, sizeof f);
    if (parse_name(name, "wal-", ".log", &f.seq) == 0)
        f.kind = FILE_SEG;
    else if (parse_name(name, "snap-", ".dat", &f.seq) == 0)
        f.kind = FILE_SNAP;
    else if ((strncmp(name, "wal-", 4) == 0 ||
              strncmp(name, "snap-", 5) == 0) &&
             has_suffix(name, SUFFIX_TMP))
        f.kind = FILE_TMP;
    else
        return 0; /* the lock, *.damaged, anything else: not ours to touch */
    if (l->n >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    struct dir_file *v = grow(l->v, &l->cap, l->n, sizeof *v, 32);
    if (!v)
        return -ENOMEM;
    l->v = v;
    snprintf(f.name, sizeof f.name, "%s", name);
    l->v[l->n++] = f;
    return 0;
}

static int dir_file_cmp(const void *a, const void *b)
{
    const struct dir_file *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Load the snapshot `f` (repairing it if allowed). */
static int load_snapshot(struct chord_wal *w, const struct dir_file *f,
                         chord_wal_apply_fn fn, void *arg,
                         struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    int fd = d->open(d->ctx, f->name, 0);
    if (fd < 0) {
        note_set(rep->note, "cannot open %s/%s: %s", dpath(d), f->name,
                 strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    struct scan s;
    int rc = d->size(d->ctx, fd, &size);
    if (rc == 0)
        rc = scan_snapshot(d, fd, size, f->seq, fn, arg, &s);
    if (rc) {
        if (rc < 0)
            note_set(rep->note, "cannot read %s/%s: %s", dpath(d), f->name,
                     strerror(-rc));
        else
            note_set(rep->note, "%s/%s: a record could not be applied",
                     dpath(d), f->name);
        d->close(d->ctx, fd);
        return rc;
    }
    rep->snapshot_records = s.records;
    snprintf(rep->snapshot, sizeof rep->snapshot, "%s", f->name);
    rep->snapshot_seq = f->seq;
    if (s.damaged && !w->opt.repair) {
        note_set(rep->note,
                 "%s/%s is corrupt at byte offset %" PRIu64 " (%s); "
                 "start with --repair to keep the %" PRIu64
                 " records before it",
                 dpath(d), f->name, s.off, s.why, s.records);
        d->close(d->ctx, fd);
        return -EBADMSG;
    }
    if (s.damaged) {
        int64_t lost = count_from(d, fd, size, s.off);
        uint8_t footer[CHORD_WAL_HEADER + SNAP_FOOTER_LEN];
        snap_footer(footer + CHORD_WAL_HEADER, s.records, f->seq);
        record_seal(footer, 0, SNAP_FOOTER_LEN);
        rc = repair_file(d, f->name, fd, size, s.off, footer, sizeof footer);
        if (rc) {
            note_set(rep->note, "cannot repair %s/%s: %s", dpath(d), f->name,
                     strerror(-rc));
            d->close(d->ctx, fd);
            return rc;
        }
        rep->repaired++;
        rep->dropped += lost > 0 ? (uint64_t)lost : 1;
        rep->cut_bytes += size - s.off;
        note_add(rep->note,
                 "%s was corrupt at byte offset %" PRIu64
                 " (%s): kept the %" PRIu64 " records before it, "
                 "the damaged file is %s%s",
                 f->name, s.off, s.why, s.records, f->name, SUFFIX_DAMAGED);
    }
    d->close(d->ctx, fd);
    return 0;
}

/* Replay one segment after the snapshot of seq S, cutting a torn tail or
 * handling corruption. Updates *last with the newest seq seen. */
static int replay_segment(struct chord_wal *w, const struct wal_seg *seg,
                          uint64_t S, chord_wal_apply_fn fn, void *arg,
                          struct chord_wal_report *rep, uint64_t *last)
{
    const struct chord_disk *d = w->disk;
    int fd = d->open(d->ctx, seg->name, CHORD_DISK_WRITE);
    if (fd < 0) {
        note_set(rep->note, "cannot open %s/%s: %s", dpath(d), seg->name,
                 strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    struct scan s;
    int rc = d->size(d->ctx, fd, &size);
    if (rc == 0)
        rc = scan_segment(d, fd, size, seg->first, S, fn, arg, &s);
    if (rc) {
        if (rc < 0)
            note_set(rep->note, "cannot read %s/%s: %s", dpath(d), seg->name,
                     strerror(-rc));
        else
            note_set(rep->note, "%s/%s: a record could not be applied",
                     dpath(d), seg->name);
        goto out;
    }
    rep->log_records += s.records;
    if (s.last_seq > *last)
        *last = s.last_seq;
    if (!s.damaged) {
        if (w->opt.fsync)
            rc = d->fsync(d->ctx, fd);
        if (rc)
            note_set(rep->note, "cannot fsync %s/%s: %s", dpath(d), seg->name,
                     strerror(-rc));
        goto out;
    }

    uint64_t valid_at = 0;
    int found = 1;
    if (!s.out_of_seq) {
        found = find_valid_after(d, fd, size, s.off, s.expected, &valid_at);
        if (found < 0) {
            rc = found;
            note_set(rep->note, "cannot read %s/%s: %s", dpath(d), seg->name,
                     strerror(-rc));
            goto out;
        }
    }
    if (!found) {
        /* A torn tail: the last write did not finish. Cut it. */
        rc = d->truncate(d->ctx, fd, s.off);
        if (rc == 0)
            rc = d->fsync(d->ctx, fd);
        if (rc) {
            note_set(rep->note, "cannot cut the torn tail of %s/%s: %s",
                     dpath(d), seg->name, strerror(-rc));
            goto out;
        }
        rep->torn++;
        rep->dropped++;
        rep->cut_bytes += size - s.off;
        note_add(rep->note,
                 "%s: cut a torn tail of %" PRIu64 " bytes at byte offset "
                 "%" PRIu64 " (%s)",
                 seg->name, size - s.off, s.off, s.why);
        goto out;
    }
    if (!w->opt.repair) {
        note_set(rep->note,
                 "%s/%s is corrupt at byte offset %" PRIu64
                 " (%s, with valid records after it); start with --repair "
                 "to keep the records before it",
                 dpath(d), seg->name, s.off, s.why);
        rc = -EBADMSG;
        goto out;
    }
    int64_t lost = count_from(d, fd, size, s.out_of_seq ? s.off : valid_at);
    rc = repair_file(d, seg->name, fd, size, s.off, NULL, 0);
    if (rc) {
        note_set(rep->note, "cannot repair %s/%s: %s", dpath(d), seg->name,
                 strerror(-rc));
        goto out;
    }
    rep->repaired++;
    rep->dropped += (lost > 0 ? (uint64_t)lost : 0) + (s.out_of_seq ? 0 : 1);
    rep->cut_bytes += size - s.off;
    note_add(rep->note,
             "%s was corrupt at byte offset %" PRIu64 " (%s): kept the "
             "records before it, the damaged file is %s%s",
             seg->name, s.off, s.why, seg->name, SUFFIX_DAMAGED);
out:
    d->close(d->ctx, fd);
    return rc;
}

/* Recovery proper (see the banner of wal.h). Fills w->segs (the segments
 * kept, oldest first), w->snap and rep. */
static int recover(struct chord_wal *w, chord_wal_apply_fn fn, void *arg,
                   struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    struct dir_list l = {NULL, 0, 0};
    int rc = d->list(d->ctx, collect_file, &l);
    if (rc) {
        note_set(rep->note, "cannot list %s: %s", dpath(d),
                 rc == -EMFILE ? "too many log files" : strerror(-rc));
        goto out;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, dir_file_cmp);
    size_t n_seg = 0, n_snap = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].kind == FILE_TMP) {
            /* A snapshot or repair that did not finish: never renamed,
             * so nothing refers to it. */
            rc = d->unlink(d->ctx, l.v[i].name);
            if (rc && rc != -ENOENT) {
                note_set(rep->note, "cannot delete %s/%s: %s", dpath(d),
                         l.v[i].name, strerror(-rc));
                goto out;
            }
        } else if (l.v[i].kind == FILE_SEG) {
            n_seg++;
        } else {
            n_snap++;
        }
    }
    /* Whatever names the last run made visible become durable before we
     * delete anything on their strength. */
    rc = d->sync_dir(d->ctx);
    if (rc) {
        note_set(rep->note, "cannot fsync %s: %s", dpath(d), strerror(-rc));
        goto out;
    }

    struct dir_file *segs = l.v;          /* kinds sort SEG, SNAP, TMP */
    struct dir_file *snaps = l.v + n_seg; /* oldest first */
    uint64_t S = 0;
    if (n_snap) {
        const struct dir_file *newest = &snaps[n_snap - 1];
        rc = load_snapshot(w, newest, fn, arg, rep);
        if (rc)
            goto out;
        S = newest->seq;
        snprintf(w->snap, sizeof w->snap, "%s", newest->name);
        w->snap_seq = S;
        for (size_t i = 0; i + 1 < n_snap; i++)
            d->unlink(d->ctx, snaps[i].name); /* replaced by the newest */
    }

    /* Segments whose every record the snapshot holds go; the rest are
     * replayed in order. */
    uint64_t last = S;
    bool first_kept = true;
    for (size_t i = 0; i < n_seg; i++) {
        if (i + 1 < n_seg && segs[i + 1].seq - 1 <= S) {
            d->unlink(d->ctx, segs[i].name);
            continue;
        }
        if (first_kept && segs[i].seq > S + 1) {
            if (!w->opt.repair) {
                note_set(rep->note,
                         "%s: log records %" PRIu64 " to %" PRIu64
                         " are missing (the first log after %s is %s); start "
                         "with --repair to go on without them",
                         dpath(d), S + 1, segs[i].seq - 1,
                         n_snap ? snaps[n_snap - 1].name : "the start",
                         segs[i].name);
                rc = -EBADMSG;
                goto out;
            }
            note_add(rep->note,
                     "log records %" PRIu64 " to %" PRIu64 " were missing",
                     S + 1, segs[i].seq - 1);
        }
        first_kept = false;
        struct wal_seg seg;
        seg.first = segs[i].seq;
        snprintf(seg.name, sizeof seg.name, "%s", segs[i].name);
        rc = replay_segment(w, &seg, S, fn, arg, rep, &last);
        if (rc == 0)
            rc = segs_push(w, seg.first, seg.name);
        if (rc)
            goto out;
    }
    rc = d->sync_dir(d->ctx);
    if (rc)
        note_set(rep->note, "cannot fsync %s: %s", dpath(d), strerror(-rc));
    rep->last_seq = last;
out:
    free(l.v);
    return rc;
}

/* Open segment wal-<first>.log as the current one: the last kept segment
 * when it has that name (it is then empty), else a new file. */
static int start_segment(struct chord_wal *w, uint64_t first,
                         struct chord_wal_report *rep)
{
    const struct chord_disk *d = w->disk;
    char name[CHORD_DISK_NAME_MAX];
    chord_wal_segment_name(first, name);
    bool reuse = w->n_segs && w->segs[w->n_segs - 1].first == first;
    int fd = d->open(d->ctx, name, CHORD_DISK_WRITE | CHORD_DISK_CREATE);
    if (fd < 0) {
        note_set(rep->note, "cannot create %s/%s: %s", dpath(d), name,
                 strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    int rc = d->size(d->ctx, fd, &size);
    if (rc == 0 && size != 0)
        rc = -EEXIST; /* it would hold records beyond the last one */
    if (rc == 0 && !reuse)
        rc = segs_push(w, first, name);
    if (rc == 0)
        rc = d->sync_dir(d->ctx);
    if (rc) {
        note_set(rep->note, "cannot start %s/%s: %s", dpath(d), name,
                 strerror(-rc));
        d->close(d->ctx, fd);
        return rc;
    }
    w->fd = fd;
    w->written = 0;
    return 0;
}

static void wal_free(struct chord_wal *w)
{
    const struct chord_disk *d = w->disk;
    for (unsigned i = 0; i < w->n_retired; i++) {
        d->close(d->ctx, w->retired[i].fd);
        chord_buf_free(&w->retired[i].pend);
    }
    if (w->fd >= 0)
        d->close(d->ctx, w->fd);
    chord_buf_free(&w->pend);
    chord_buf_free(&w->spare);
    free(w->segs);
    free(w);
}

int chord_wal_open(const struct chord_disk *disk,
                   const struct chord_wal_options *opt, chord_wal_apply_fn fn,
                   void *arg, struct chord_wal_report *rep,
                   struct chord_wal **out)
{
    memset(rep, 0, sizeof *rep);
    *out = NULL;
    struct chord_wal *w = calloc(1, sizeof *w);
    if (!w) {
        note_set(rep->note, "out of memory");
        return -ENOMEM;
    }
    w->disk = disk;
    w->opt = *opt;
    w->fd = -1;
    int rc = recover(w, fn, arg, rep);
    /* The next seq follows the last record; a kept segment named beyond
     * that holds no record (repair emptied it) and is reused. */
    uint64_t next = rep->last_seq + 1;
    if (rc == 0 && w->n_segs && w->segs[w->n_segs - 1].first > next)
        next = w->segs[w->n_segs - 1].first;
    if (rc == 0)
        rc = start_segment(w, next, rep);
    if (rc) {
        wal_free(w);
        return rc;
    }
    w->next_seq = next;
    w->synced_seq = next - 1;
    *out = w;
    return 0;
}

void chord_wal_close(struct chord_wal *w)
{
    if (w)
        wal_free(w);
}

int chord_wal_append(struct chord_wal *w, const void *payload, size_t len,
                     uint64_t *seq)
{
    if (w->broken)
        return -EIO;
    if (len > CHORD_WAL_PAYLOAD_MAX)
        return -EMSGSIZE;
    if (w->pend.len + CHORD_WAL_HEADER + len > CHORD_WAL_PENDING_MAX)
        return -ENOBUFS;
    int rc = chord_wal_record_encode(w->next_seq, payload, len, &w->pend);
    if (rc)
        return rc;
    *seq = w->next_seq++;
    return 0;
}

uint64_t chord_wal_last_seq(const struct chord_wal *w)
{
    return w->next_seq - 1;
}

uint64_t chord_wal_synced_seq(const struct chord_wal *w)
{
    return w->synced_seq;
}

uint64_t chord_wal_segment_bytes(const struct chord_wal *w)
{
    return w->written + w->pend.len;
}

const char *chord_wal_segment(const struct chord_wal *w)
{
    return w->segs[w->n_segs - 1].name;
}

bool chord_wal_broken(const struct chord_wal *w)
{
    return w->broken;
}

/* ---- group commit -------------------------------------------------------- */

bool chord_wal_sync_due(const struct chord_wal *w)
{
    return !w->broken &&
           (w->next_seq - 1 != w->synced_seq || w->n_retired > 0 ||
            w->pend.len > 0 || (w->dir_dirty && w->opt.fsync));
}

int chord_wal_sync_begin(struct chord_wal *w, struct chord_wal_sync *job)
{
    if (w->broken)
        return -EIO;
    if (w->sync_busy)
        return -EBUSY;
    if (!chord_wal_sync_due(w))
        return 0;
    uint64_t last = w->next_seq - 1;
    bool dir = w->dir_dirty && w->opt.fsync;
    memset(job, 0, sizeof *job);
    /* Closed segments first, oldest first: their records come before. */
    for (unsigned i = 0; i < w->n_retired; i++) {
        struct wal_retired *r = &w->retired[i];
        struct chord_wal_sync_file *f = &job->files[job->n_files++];
        f->fd = r->fd;
        memcpy(f->name, r->name, CHORD_DISK_NAME_MAX);
        f->data = r->pend;
        f->off = r->off;
        r->off += r->pend.len;
        chord_buf_init(&r->pend);
    }
    job->n_retired = w->n_retired;
    struct chord_wal_sync_file *f = &job->files[job->n_files++];
    f->fd = w->fd;
    memcpy(f->name, w->segs[w->n_segs - 1].name, CHORD_DISK_NAME_MAX);
    f->data = w->pend;
    f->off = w->written;
    w->written += w->pend.len;
    w->pend = w->spare;
    chord_buf_init(&w->spare);
    job->fsync = w->opt.fsync;
    job->dir = dir;
    job->seq = last;
    w->dir_dirty = false;
    w->sync_busy = true;
    return 1;
}

int chord_wal_sync_run(const struct chord_disk *disk,
                       struct chord_wal_sync *job)
{
    job->err[0] = '\0';
    for (unsigned i = 0; i < job->n_files; i++) {
        const struct chord_wal_sync_file *f = &job->files[i];
        int rc = 0;
        if (f->data.len)
            rc = disk->pwrite(disk->ctx, f->fd, f->data.data, f->data.len,
                              f->off);
        if (rc) {
            note_set(job->err, "write to %s/%s failed: %s", dpath(disk),
                     f->name, strerror(-rc));
            return rc;
        }
        if (job->fsync && (rc = disk->fsync(disk->ctx, f->fd)) != 0) {
            note_set(job->err, "fsync of %s/%s failed: %s", dpath(disk),
                     f->name, strerror(-rc));
            return rc;
        }
    }
    if (job->dir) {
        int rc = disk->sync_dir(disk->ctx);
        if (rc) {
            note_set(job->err, "fsync of the directory %s failed: %s",
                     dpath(disk), strerror(-rc));
            return rc;
        }
    }
    return 0;
}

void chord_wal_sync_end(struct chord_wal *w, struct chord_wal_sync *job, int rc)
{
    w->sync_busy = false;
    /* Keep the current segment's buffer for the next round. */
    struct chord_wal_sync_file *cur = &job->files[job->n_files - 1];
    if (w->spare.cap == 0 && cur->data.cap <= WAL_CHUNK) {
        chord_buf_reset(&cur->data);
        w->spare = cur->data;
    } else {
        chord_buf_free(&cur->data);
    }
    for (unsigned i = 0; i < job->n_retired; i++)
        chord_buf_free(&job->files[i].data);
    job->n_files = 0;
    if (rc) {
        w->broken = true;
        return;
    }
    if (job->seq > w->synced_seq)
        w->synced_seq = job->seq;
    /* The closed segments the job covered are written and durable; a
     * segment closed since keeps waiting for the next job. */
    const struct chord_disk *d = w->disk;
    unsigned n = job->n_retired;
    for (unsigned i = 0; i < n; i++) {
        d->close(d->ctx, w->retired[i].fd);
        chord_buf_free(&w->retired[i].pend);
    }
    memmove(w->retired, w->retired + n,
            (w->n_retired - n) * sizeof *w->retired);
    w->n_retired -= n;
}

int chord_wal_sync(struct chord_wal *w)
{
    struct chord_wal_sync job;
    int rc = chord_wal_sync_begin(w, &job);
    if (rc <= 0)
        return rc;
    rc = chord_wal_sync_run(w->disk, &job);
    chord_wal_sync_end(w, &job, rc);
    return rc;
}

/* ---- checkpoints --------------------------------------------------------- */

int chord_wal_rotate(struct chord_wal *w)
{
    const struct chord_disk *d = w->disk;
    if (w->broken)
        return -EIO;
    if (chord_wal_segment_bytes(w) == 0)
        return -EALREADY;
    if (w->n_retired >= CHORD_WAL_RETIRED_MAX)
        return -EBUSY;
    if (w->n_segs >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    char name[CHORD_DISK_NAME_MAX];
    chord_wal_segment_name(w->next_seq, name);
    int fd = d->open(d->ctx, name,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_EXCL);
    if (fd < 0)
        return fd;
    int rc = segs_push(w, w->next_seq, name);
    if (rc) {
        d->close(d->ctx, fd);
        d->unlink(d->ctx, name);
        return rc;
    }
    struct wal_retired *r = &w->retired[w->n_retired++];
    r->fd = w->fd;
    memcpy(r->name, w->segs[w->n_segs - 2].name, CHORD_DISK_NAME_MAX);
    r->pend = w->pend;
    r->off = w->written;
    chord_buf_init(&w->pend);
    w->dir_dirty = true;
    w->fd = fd;
    w->written = 0;
    return 0;
}

int chord_wal_checkpoint_begin(struct chord_wal *w,
                               struct chord_wal_checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    if (w->broken)
        return -EIO;
    if (w->cp_busy)
        return -EBUSY;
    /* Closed segments older than every one still waiting for its job:
     * their bytes are all in the files. */
    size_t n = w->n_segs - 1 - w->n_retired;
    if (n == 0)
        return 0;
    cp->segs = malloc(n * sizeof *cp->segs);
    if (!cp->segs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        memcpy(cp->segs[i], w->segs[i].name, CHORD_DISK_NAME_MAX);
    cp->n_segs = n;
    memcpy(cp->snap_old, w->snap, CHORD_DISK_NAME_MAX);
    cp->snap_old_seq = w->snap_seq;
    cp->seq = w->segs[n].first - 1;
    if (cp->seq < w->snap_seq)
        cp->seq = w->snap_seq;
    chord_wal_snapshot_name(cp->seq, cp->snap_new);
    w->cp_busy = true;
    return 1;
}

/* Merge one recovered record into the checkpoint's store. */
static int apply_to_store(void *arg, uint64_t seq, const uint8_t *payload,
                          size_t len)
{
    (void)seq;
    struct chord_item it;
    if (chord_item_decode(payload, len, &it))
        return -EBADMSG;
    int rc = chord_store_apply(arg, &it);
    return rc < 0 ? rc : 0;
}

/* Read one file of a checkpoint into the store. */
static int cp_read(const struct chord_disk *disk, const char *name,
                   bool is_snap, uint64_t seq, struct chord_store *st,
                   struct chord_wal_checkpoint *cp)
{
    int fd = disk->open(disk->ctx, name, 0);
    if (fd < 0) {
        note_set(cp->err, "cannot open %s/%s: %s", dpath(disk), name,
                 strerror(-fd));
        return fd;
    }
    uint64_t size = 0, first = 0;
    struct scan s;
    int rc = disk->size(disk->ctx, fd, &size);
    if (rc == 0 && is_snap)
        rc = scan_snapshot(disk, fd, size, seq, apply_to_store, st, &s);
    else if (rc == 0 && parse_name(name, "wal-", ".log", &first) == 0)
        rc = scan_segment(disk, fd, size, first, seq, apply_to_store, st, &s);
    else if (rc == 0)
        rc = -EINVAL;
    disk->close(disk->ctx, fd);
    if (rc) {
        note_set(cp->err, "cannot read %s/%s: %s", dpath(disk), name,
                 rc == -EBADMSG ? "a record is not a store item"
                                : strerror(-rc));
        return rc;
    }
    if (s.damaged) {
        note_set(cp->err, "%s/%s is damaged at byte offset %" PRIu64 " (%s)",
                 dpath(disk), name, s.off, s.why);
        return -EBADMSG;
    }
    cp->records += s.records;
    return 0;
}

/* A buffered writer of records to one file. */
struct wtr {
    const struct chord_disk *disk;
    int fd;
    struct chord_buf buf;
    uint64_t off; /* file offset of buf.data[0] */
};

static int wtr_flush(struct wtr *w)
{
    if (w->buf.len == 0)
        return 0;
    int rc =
        w->disk->pwrite(w->disk->ctx, w->fd, w->buf.data, w->buf.len, w->off);
    w->off += w->buf.len;
    chord_buf_reset(&w->buf);
    return rc;
}

/* Frame one store entry into the buffer (flushed past WAL_CHUNK). */
static int wtr_entry(struct wtr *w, uint64_t seq,
                     const struct chord_store_entry *e)
{
    struct chord_item it;
    chord_store_entry_item(e, &it);
    size_t at = w->buf.len;
    int rc = chord_buf_reserve(&w->buf, CHORD_WAL_HEADER);
    if (rc)
        return rc;
    w->buf.len += CHORD_WAL_HEADER;
    rc = chord_item_encode(&it, &w->buf);
    if (rc) {
        w->buf.len = at;
        return rc;
    }
    record_seal(w->buf.data + at, seq, w->buf.len - at - CHORD_WAL_HEADER);
    return w->buf.len >= WAL_CHUNK ? wtr_flush(w) : 0;
}

/* Write every entry of `st` and the end marker to `tmp`, and fsync it. */
static int cp_write(const struct chord_disk *disk, const char *tmp,
                    const struct chord_store *st,
                    struct chord_wal_checkpoint *cp)
{
    struct wtr w = {disk, -1, {NULL, 0, 0}, 0};
    w.fd = disk->open(disk->ctx, tmp,
                      CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    if (w.fd < 0)
        return w.fd;
    int rc = 0;
    size_t cursor = 0;
    const struct chord_store_entry *e;
    while (rc == 0 && (e = chord_store_next(st, &cursor)) != NULL) {
        rc = wtr_entry(&w, cp->seq, e);
        cp->keys++;
    }
    uint8_t footer[SNAP_FOOTER_LEN];
    snap_footer(footer, cp->keys, cp->seq);
    if (rc == 0)
        rc = chord_wal_record_encode(0, footer, sizeof footer, &w.buf);
    if (rc == 0)
        rc = wtr_flush(&w);
    if (rc == 0)
        rc = disk->fsync(disk->ctx, w.fd);
    cp->bytes = w.off;
    disk->close(disk->ctx, w.fd);
    chord_buf_free(&w.buf);
    return rc;
}

int chord_wal_checkpoint_run(const struct chord_disk *disk,
                             struct chord_wal_checkpoint *cp)
{
    cp->err[0] = '\0';
    cp->records = cp->keys = cp->bytes = 0;
    cp->written = false;
    bool same = cp->snap_old[0] && cp->seq == cp->snap_old_seq;
    int rc = 0;
    if (!same) {
        /* Merge: the newest version of every key wins, as in the node. */
        struct chord_store *st = chord_store_new();
        if (!st) {
            note_set(cp->err, "out of memory");
            return -ENOMEM;
        }
        if (cp->snap_old[0])
            rc = cp_read(disk, cp->snap_old, true, cp->snap_old_seq, st, cp);
        for (size_t i = 0; rc == 0 && i < cp->n_segs; i++)
            rc = cp_read(disk, cp->segs[i], false, cp->snap_old_seq, st, cp);
        char tmp[CHORD_DISK_NAME_MAX];
        if (rc == 0 && (rc = name_with(tmp, cp->snap_new, SUFFIX_TMP)) == 0) {
            rc = cp_write(disk, tmp, st, cp);
            if (rc == 0)
                rc = disk->rename(disk->ctx, tmp, cp->snap_new);
            if (rc) {
                note_set(cp->err, "cannot write %s/%s: %s", dpath(disk),
                         cp->snap_new, strerror(-rc));
                disk->unlink(disk->ctx, tmp);
            }
        }
        chord_store_free(st);
        if (rc)
            return rc;
        /* The new snapshot's name must be durable before anything it
         * replaces goes. */
        rc = disk->sync_dir(disk->ctx);
        if (rc) {
            note_set(cp->err, "fsync of the directory %s failed: %s",
                     dpath(disk), strerror(-rc));
            return rc;
        }
    }
    cp->written = true;
    for (size_t i = 0; rc == 0 && i < cp->n_segs; i++) {
        rc = disk->unlink(disk->ctx, cp->segs[i]);
        if (rc == -ENOENT)
            rc = 0;
    }
    if (rc == 0 && !same && cp->snap_old[0]) {
        rc = disk->unlink(disk->ctx, cp->snap_old);
        if (rc == -ENOENT)
            rc = 0;
    }
    if (rc == 0)
        rc = disk->sync_dir(disk->ctx);
    if (rc)
        note_set(cp->err, "cannot delete the files %s replaces in %s: %s",
                 cp->snap_new, dpath(disk), strerror(-rc));
    return rc;
}

void chord_wal_checkpoint_end(struct chord_wal *w,
                              struct chord_wal_checkpoint *cp, int rc)
{
    (void)rc;
    w->cp_busy = false;
    /* Once the new snapshot is durable it is the one to build on, even if
     * deleting what it replaces failed (the next recovery finishes that). */
    if (cp->written) {
        memcpy(w->snap, cp->snap_new, CHORD_DISK_NAME_MAX);
        w->snap_seq = cp->seq;
        size_t n = cp->n_segs < w->n_segs ? cp->n_segs : 0;
        memmove(w->segs, w->segs + n, (w->n_segs - n) * sizeof *w->segs);
        w->n_segs -= n;
    }
    free(cp->segs);
    cp->segs = NULL;
    cp->n_segs = 0;
}

int chord_wal_checkpoint(struct chord_wal *w)
{
    int rc = chord_wal_rotate(w);
    if (rc && rc != -EALREADY)
        return rc;
    rc = chord_wal_sync(w);
    if (rc)
        return rc;
    struct chord_wal_checkpoint cp;
    rc = chord_wal_checkpoint_begin(w, &cp);
    if (rc <= 0)
        return rc;
    rc = chord_wal_checkpoint_run(w->disk, &cp);
    chord_wal_checkpoint_end(w, &cp, rc);
    return rc;
}
