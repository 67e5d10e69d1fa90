/*
 * wal_record.c - one log record on disk: framing, checking, and the end
 * marker of a snapshot (the format is in wal.h).
 *
 * A record is a 16-byte header (length, CRC-32C, seq) and its payload;
 * the CRC covers the length, the seq and the payload, so a record that
 * decodes is one that was written whole. Decoding checks the length
 * against CHORD_WAL_PAYLOAD_MAX before it looks at the payload, and never
 * reads past `len`: a record cut by the end of the buffer is "partial",
 * not "bad", and the reader decides what that means.
 *
 * It does no I/O and allocates only through chord_buf; it knows nothing
 * of files, segments or sequence rules (wal_scan.c checks those).
 */
#include "io/wal.h"

#include <errno.h>
#include <string.h>

#include "io/wal_shared.h"

/* ---- records ------------------------------------------------------------- */

/* The CRC a record with this header (length and seq already in place) and
 * payload must carry. */
uint32_t chord__wal_record_crc(const uint8_t *hdr, const uint8_t *payload,
                               size_t len)
{
    uint32_t c = chord_crc32c(0, hdr, 4);
    c = chord_crc32c(c, hdr + 8, 8);
    return chord_crc32c(c, payload, len);
}

/* Fill the 16-byte header at hdr for the payload that follows it. */
void chord__wal_record_seal(uint8_t *hdr, uint64_t seq, size_t len)
{
    put32(hdr, (uint32_t)len);
    put64(hdr + 8, seq);
    put32(hdr + 4, chord__wal_record_crc(hdr, hdr + CHORD_WAL_HEADER, len));
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
    chord__wal_record_seal(hdr, seq, len);
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
    if (chord__wal_record_crc(buf, buf + CHORD_WAL_HEADER, plen) !=
        get32(buf + 4))
        return CHORD_WAL_DECODE_BAD;
    out->seq = get64(buf + 8);
    out->payload = buf + CHORD_WAL_HEADER;
    out->len = plen;
    return (ssize_t)(CHORD_WAL_HEADER + plen);
}

void chord__wal_snap_footer(uint8_t out[SNAP_FOOTER_LEN], uint64_t records,
                            uint64_t seq)
{
    memcpy(out, SNAP_MAGIC, 8);
    put64(out + 8, records);
    put64(out + 16, seq);
}
