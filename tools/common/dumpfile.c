/*
 * dumpfile.c - writer and reader of the dump file format (the layout is
 * in dumpfile.h and docs/dump-format.md).
 *
 * The writer collects records in one block buffer and writes a block when
 * the next record would take it past CHORD_DUMP_BLOCK_TARGET (a record
 * larger than that gets a block of its own). The reader reads one whole
 * block, checks its length against CHORD_DUMP_BLOCK_MAX before allocating,
 * checks its checksum, then parses every record of it before handing out
 * the first one, so a damaged block yields no record at all.
 *
 * Invariants: after an error the writer or reader stays failed (every
 * later call returns the same error); the reader's error text always
 * names the byte offset of the header or block at fault. Neither opens,
 * closes nor seeks the FILE.
 */
#include "common/dumpfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "chord/crc32c.h"

#define KIND_RECORDS 'R'
#define KIND_END 'E'
/* A record's fixed part: two lengths, counter, writer, expiry, flags. */
#define RECORD_FIXED (4u + 4u + 8u + CHORD_ID_BYTES + 8u + 1u)

/* ---- big-endian helpers ------------------------------------------------ */

static void be_put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t be_get(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- writer ------------------------------------------------------------ */

struct chord_dump_writer {
    FILE *f;
    struct chord_buf block; /* payload of the block being filled */
    uint32_t in_block;      /* records in it */
    uint64_t count;         /* records written, all blocks */
    int err;                /* sticky */
};

static int write_all(struct chord_dump_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        w->err = -EIO;
    return w->err;
}

/* Write one block of `kind` with the payload given. */
static int write_block(struct chord_dump_writer *w, uint8_t kind,
                       uint32_t count, const uint8_t *payload, size_t len)
{
    uint8_t h[CHORD_DUMP_BLOCK_HEADER_BYTES] = {0};
    h[0] = kind;
    be_put(h + 4, count, 4);
    be_put(h + 8, len, 4);
    uint32_t crc = chord_crc32c(0, h, 12);
    crc = chord_crc32c(crc, payload, len);
    be_put(h + 12, crc, 4);
    if (write_all(w, h, sizeof(h)) == 0)
        write_all(w, payload, len);
    return w->err;
}

static int flush_block(struct chord_dump_writer *w)
{
    if (w->err || w->in_block == 0)
        return w->err;
    write_block(w, KIND_RECORDS, w->in_block, w->block.data, w->block.len);
    chord_buf_reset(&w->block);
    w->in_block = 0;
    return w->err;
}

int chord_dump_writer_open(FILE *f, uint64_t created_ms,
                           struct chord_dump_writer **out)
{
    *out = NULL;
    struct chord_dump_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->f = f;
    chord_buf_init(&w->block);
    uint8_t h[CHORD_DUMP_HEADER_BYTES] = {0};
    memcpy(h, CHORD_DUMP_MAGIC, 8);
    be_put(h + 8, CHORD_DUMP_VERSION, 2);
    be_put(h + 12, created_ms, 8);
    be_put(h + 28, chord_crc32c(0, h, 28), 4);
    int rc = write_all(w, h, sizeof(h));
    if (rc) {
        chord_dump_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int chord_dump_write(struct chord_dump_writer *w,
                     const struct chord_dump_record *rec)
{
    if (w->err)
        return w->err;
    const struct chord_record *r = &rec->r;
    if (r->key_len == 0 || !r->key || (r->value_len && !r->value) ||
        r->version.counter == 0)
        return -EINVAL;
    if (r->key_len > CHORD_KEY_MAX || r->value_len > CHORD_VALUE_MAX)
        return -EMSGSIZE;
    size_t size = RECORD_FIXED + r->key_len + r->value_len;
    if (w->in_block > 0 && w->block.len + size > CHORD_DUMP_BLOCK_TARGET &&
        flush_block(w) != 0)
        return w->err;
    uint8_t fixed[8 + CHORD_ID_BYTES + 8 + 1];
    uint8_t len[4];
    int rc = chord_buf_reserve(&w->block, size);
    if (rc)
        return rc;
    be_put(len, r->key_len, 4);
    chord_buf_append(&w->block, len, 4);
    chord_buf_append(&w->block, r->key, r->key_len);
    be_put(len, r->value_len, 4);
    chord_buf_append(&w->block, len, 4);
    chord_buf_append(&w->block, r->value, r->value_len);
    be_put(fixed, r->version.counter, 8);
    memcpy(fixed + 8, r->version.writer.b, CHORD_ID_BYTES);
    be_put(fixed + 8 + CHORD_ID_BYTES, rec->expires_ms, 8);
    fixed[sizeof(fixed) - 1] = 0; /* flags */
    chord_buf_append(&w->block, fixed, sizeof(fixed));
    w->in_block++;
    w->count++;
    return 0;
}

int chord_dump_writer_finish(struct chord_dump_writer *w)
{
    if (flush_block(w) != 0)
        return w->err;
    uint8_t total[8];
    be_put(total, w->count, 8);
    if (write_block(w, KIND_END, 0, total, sizeof(total)) != 0)
        return w->err;
    if (fflush(w->f) != 0 || ferror(w->f))
        w->err = -EIO;
    return w->err;
}

uint64_t chord_dump_writer_count(const struct chord_dump_writer *w)
{
    return w->count;
}

void chord_dump_writer_free(struct chord_dump_writer *w)
{
    if (!w)
        return;
    chord_buf_free(&w->block);
    free(w);
}

/* ---- reader ------------------------------------------------------------ */

struct chord_dump_reader {
    FILE *f;
    uint64_t offset;  /* bytes consumed from f */
    uint64_t created; /* from the header */
    uint64_t count;   /* records handed out */
    uint8_t *block;   /* payload of the current block */
    size_t block_cap;
    size_t block_len, pos; /* parse position in it */
    uint32_t left;         /* records of the block not handed out yet */
    uint64_t block_at;     /* offset of the current block */
    int state;             /* 0 reading, 1 at the end, < 0 failed */
    char err[CHORD_DUMP_ERR_MAX];
};

static int fail(struct chord_dump_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct chord_dump_reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->state = code;
    return code;
}

/* Read exactly n bytes: 1, 0 when the file ends first (*got says how many
 * came), or -EIO. */
static int read_exact(struct chord_dump_reader *r, void *p, size_t n,
                      size_t *got)
{
    *got = fread(p, 1, n, r->f);
    r->offset += *got;
    if (*got == n)
        return 1;
    return ferror(r->f) ? -EIO : 0;
}

int chord_dump_reader_open(FILE *f, struct chord_dump_reader **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    struct chord_dump_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->f = f;
    uint8_t h[CHORD_DUMP_HEADER_BYTES];
    size_t got;
    int rc = read_exact(r, h, sizeof(h), &got);
    if (rc < 0) {
        fail(r, -EIO, "cannot read the header: %s", strerror(errno));
    } else if (got < 8 || memcmp(h, CHORD_DUMP_MAGIC, 8) != 0) {
        fail(r, -EPROTO, "not a dht dump file (no \"%s\" at offset 0)",
             CHORD_DUMP_MAGIC);
    } else if (got >= 10 && be_get(h + 8, 2) > CHORD_DUMP_VERSION) {
        fail(r, -ENOTSUP,
             "format version %u at offset 8: written by a newer dht (this "
             "one reads up to version %u), or the header is damaged",
             (unsigned)be_get(h + 8, 2), CHORD_DUMP_VERSION);
    } else if (rc == 0) {
        fail(r, -EPROTO, "truncated header: the file ends at offset %zu", got);
    } else if (be_get(h + 28, 4) != chord_crc32c(0, h, 28)) {
        fail(r, -EPROTO, "damaged header at offset 0 (checksum mismatch)");
    } else if (be_get(h + 8, 2) == 0 || be_get(h + 10, 2) != 0 ||
               be_get(h + 20, 8) != 0) {
        fail(r, -EPROTO,
             "bad header at offset 0 (version 0, or flags or reserved "
             "bytes set)");
    }
    if (r->state < 0) {
        snprintf(err, errlen, "%s", r->err);
        rc = r->state;
        chord_dump_reader_free(r);
        return rc;
    }
    r->created = be_get(h + 12, 8);
    *out = r;
    return 0;
}

/* Check the records of the block just read, without handing them out. */
static int check_records(struct chord_dump_reader *r)
{
    size_t pos = 0;
    for (uint32_t i = 0; i < r->left; i++) {
        const uint8_t *p = r->block + pos;
        size_t rest = r->block_len - pos;
        if (rest < 4)
            goto short_block;
        uint64_t klen = be_get(p, 4);
        if (klen == 0 || klen > CHORD_KEY_MAX)
            return fail(r, -EPROTO,
                        "bad key length %" PRIu64 " in record %u of the "
                        "block at offset %" PRIu64,
                        klen, i, r->block_at);
        if (rest < 4 + klen + 4)
            goto short_block;
        uint64_t vlen = be_get(p + 4 + klen, 4);
        if (vlen > CHORD_VALUE_MAX)
            return fail(r, -EPROTO,
                        "bad value length %" PRIu64 " in record %u of the "
                        "block at offset %" PRIu64,
                        vlen, i, r->block_at);
        size_t size = RECORD_FIXED + (size_t)klen + (size_t)vlen;
        if (rest < size)
            goto short_block;
        const uint8_t *fixed = p + 8 + klen + vlen;
        if (be_get(fixed, 8) == 0 || fixed[8 + CHORD_ID_BYTES + 8] != 0)
            return fail(r, -EPROTO,
                        "bad record %u in the block at offset %" PRIu64
                        " (version 0 or unknown flags)",
                        i, r->block_at);
        pos += size;
    }
    if (pos != r->block_len)
        return fail(r, -EPROTO,
                    "block at offset %" PRIu64 " has %zu bytes after its "
                    "records",
                    r->block_at, r->block_len - pos);
    return 0;
short_block:
    return fail(r, -EPROTO,
                "block at offset %" PRIu64 " holds fewer records than it "
                "says",
                r->block_at);
}

/* Read the next block into r->block and check it. 0, or an error. */
static int next_block(struct chord_dump_reader *r)
{
    uint8_t h[CHORD_DUMP_BLOCK_HEADER_BYTES];
    size_t got;
    r->block_at = r->offset;
    int rc = read_exact(r, h, sizeof(h), &got);
    if (rc < 0)
        return fail(r, -EIO, "cannot read at offset %" PRIu64 ": %s",
                    r->block_at, strerror(errno));
    if (rc == 0)
        return fail(r, -EPROTO,
                    "truncated file: it ends at offset %" PRIu64
                    " without its end block (%" PRIu64 " records before)",
                    r->offset, r->count);
    uint8_t kind = h[0];
    uint64_t count = be_get(h + 4, 4), len = be_get(h + 8, 4);
    if ((kind != KIND_RECORDS && kind != KIND_END) || h[1] || h[2] || h[3] ||
        len > CHORD_DUMP_BLOCK_MAX)
        return fail(r, -EPROTO,
                    "damaged block header at offset %" PRIu64
                    " (kind 0x%02x, %" PRIu64 " bytes)",
                    r->block_at, kind, len);
    if (len > r->block_cap) {
        uint8_t *nb = realloc(r->block, len);
        if (!nb)
            return fail(r, -ENOMEM, "out of memory");
        r->block = nb;
        r->block_cap = len;
    }
    rc = read_exact(r, r->block, len, &got);
    if (rc < 0)
        return fail(r, -EIO, "cannot read at offset %" PRIu64 ": %s", r->offset,
                    strerror(errno));
    if (rc == 0)
        return fail(r, -EPROTO,
                    "truncated file: the block at offset %" PRIu64
                    " needs %" PRIu64 " bytes, the file ends at %" PRIu64
                    " (%" PRIu64 " records before it)",
                    r->block_at, len, r->offset, r->count);
    uint32_t crc = chord_crc32c(chord_crc32c(0, h, 12), r->block, len);
    if (crc != be_get(h + 12, 4))
        return fail(r, -EPROTO,
                    "damaged block at offset %" PRIu64 " (checksum mismatch)",
                    r->block_at);
    r->block_len = len;
    r->pos = 0;
    if (kind == KIND_END) {
        if (count != 0 || len != 8)
            return fail(r, -EPROTO, "bad end block at offset %" PRIu64,
                        r->block_at);
        uint64_t total = be_get(r->block, 8);
        if (total != r->count)
            return fail(r, -EPROTO,
                        "end block at offset %" PRIu64 " counts %" PRIu64
                        " records, the file holds %" PRIu64,
                        r->block_at, total, r->count);
        if (fgetc(r->f) != EOF)
            return fail(r, -EPROTO,
                        "bytes after the end block (offset %" PRIu64 ")",
                        r->offset);
        r->state = 1;
        return 0;
    }
    if (count == 0)
        return fail(r, -EPROTO, "empty record block at offset %" PRIu64,
                    r->block_at);
    r->left = (uint32_t)count;
    return check_records(r);
}

int chord_dump_read(struct chord_dump_reader *r, struct chord_dump_record *rec)
{
    while (r->state == 0 && r->left == 0) {
        int rc = next_block(r);
        if (rc < 0)
            return rc;
    }
    if (r->state != 0)
        return r->state < 0 ? r->state : 0;
    /* The block was checked whole: these reads cannot go out of it. */
    const uint8_t *p = r->block + r->pos;
    size_t klen = (size_t)be_get(p, 4);
    size_t vlen = (size_t)be_get(p + 4 + klen, 4);
    const uint8_t *fixed = p + 8 + klen + vlen;
    memset(rec, 0, sizeof(*rec));
    rec->r.key = p + 4;
    rec->r.key_len = klen;
    rec->r.value = p + 8 + klen;
    rec->r.value_len = vlen;
    rec->r.version.counter = be_get(fixed, 8);
    memcpy(rec->r.version.writer.b, fixed + 8, CHORD_ID_BYTES);
    rec->expires_ms = be_get(fixed + 8 + CHORD_ID_BYTES, 8);
    r->pos += RECORD_FIXED + klen + vlen;
    r->left--;
    r->count++;
    return 1;
}

const char *chord_dump_reader_error(const struct chord_dump_reader *r)
{
    return r->state < 0 ? r->err : "";
}

uint64_t chord_dump_reader_count(const struct chord_dump_reader *r)
{
    return r->count;
}

uint64_t chord_dump_reader_created(const struct chord_dump_reader *r)
{
    return r->created;
}

void chord_dump_reader_free(struct chord_dump_reader *r)
{
    if (!r)
        return;
    free(r->block);
    free(r);
}
