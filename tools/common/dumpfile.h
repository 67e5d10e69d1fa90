/*
 * dumpfile.h - the file `dht dump` writes and `dht load` reads: a ring's
 * keys with their versions, in checksummed blocks (docs/dump-format.md).
 *
 * Layout, version 1 (all integers big-endian):
 *
 *   header   8 bytes magic "CHORDDMP", u16 format version (1),
 *            u16 flags (0), u64 created (ms since the Unix epoch),
 *            u64 reserved (0), u32 CRC-32C of the 28 bytes before it
 *   blocks   u8 kind ('R' records, 'E' end), 3 bytes zero,
 *            u32 records in the block, u32 payload bytes
 *            (<= CHORD_DUMP_BLOCK_MAX), u32 CRC-32C of the 12 bytes
 *            before it and the payload; then the payload
 *   record   u32 key length (1..CHORD_KEY_MAX), key,
 *            u32 value length (<= CHORD_VALUE_MAX), value,
 *            u64 version counter (>= 1), 20 bytes version writer id,
 *            u64 expiry (ms since the Unix epoch; 0 = none: the store
 *            has no TTL yet, so version 1 writers always write 0),
 *            u8 flags (0; a reader refuses any bit it does not know)
 *   end      an 'E' block with 0 records and an 8-byte payload: u64
 *            the number of records in the file; nothing may follow it.
 *
 * A reader checks the magic, then the version (a newer one is refused:
 * -ENOTSUP, "written by a newer dht"), then every checksum, length and
 * count; any fault is -EPROTO with the byte offset of the block (or
 * header) at fault in the error text. A file cut short (no end block, or
 * a block past the end of the file) is refused the same way, naming the
 * offset where it stops. A record is handed out only once its whole
 * block has been read and checked; `dht load` reads the whole file once
 * before writing anything, so a bad file is never half-loaded.
 *
 * The writer and reader work on a stdio FILE the caller opened and
 * closes. Nothing here knows the ring.
 */
#ifndef CHORD_TOOLS_DUMPFILE_H
#define CHORD_TOOLS_DUMPFILE_H

#include <stdint.h>
#include <stdio.h>

#include "chord/client.h"

#define CHORD_DUMP_MAGIC "CHORDDMP"
#define CHORD_DUMP_VERSION 1
#define CHORD_DUMP_HEADER_BYTES 32u
#define CHORD_DUMP_BLOCK_HEADER_BYTES 16u
#define CHORD_DUMP_BLOCK_TARGET (256u << 10) /* a writer's block size */
#define CHORD_DUMP_BLOCK_MAX (4u << 20)      /* payload a reader accepts */
#define CHORD_DUMP_ERR_MAX 200u

/* One key of a dump. Its bytes are borrowed: from the caller when
 * writing, from the reader until its next call when reading. */
struct chord_dump_record {
    struct chord_record r; /* key, value, version */
    uint64_t expires_ms;   /* 0: none (the only value version 1 writes) */
};

struct chord_dump_writer;
struct chord_dump_reader;

/* Write the header to f and start a writer. 0, -ENOMEM, -EIO. */
int chord_dump_writer_open(FILE *f, uint64_t created_ms,
                           struct chord_dump_writer **out);
/* Add a record (copied into the current block; a full block is written
 * out). 0, -EINVAL (an empty key, a counter of 0), -EMSGSIZE (over a cap),
 * -ENOMEM, -EIO (the write failed: the file is unusable). */
int chord_dump_write(struct chord_dump_writer *w,
                     const struct chord_dump_record *rec);
/* Write the last block and the end block and flush f. 0 or -EIO. */
int chord_dump_writer_finish(struct chord_dump_writer *w);
/* Records written so far. */
uint64_t chord_dump_writer_count(const struct chord_dump_writer *w);
void chord_dump_writer_free(struct chord_dump_writer *w);

/* Read and check the header of f. 0 with *out set; else -ENOTSUP (a
 * newer version), -EPROTO (not a dump, or a damaged header), -ENOMEM or
 * -EIO, with the reason in err[0..errlen) (one line, no newline). */
int chord_dump_reader_open(FILE *f, struct chord_dump_reader **out, char *err,
                           size_t errlen);
/* The next record: 1 with *rec filled, 0 at the (checked) end of the
 * file, or -EPROTO / -EIO / -ENOMEM with chord_dump_reader_error() set;
 * after an error or the end every call returns the same. */
int chord_dump_read(struct chord_dump_reader *r, struct chord_dump_record *rec);
/* Why the last call failed (one line), "" if it did not. */
const char *chord_dump_reader_error(const struct chord_dump_reader *r);
/* Records handed out so far; the creation time in the header. */
uint64_t chord_dump_reader_count(const struct chord_dump_reader *r);
uint64_t chord_dump_reader_created(const struct chord_dump_reader *r);
void chord_dump_reader_free(struct chord_dump_reader *r);

#endif
