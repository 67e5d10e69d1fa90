/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of the write-ahead log's
 * records and of a dump file's blocks (tools/common/dumpfile.h).
 *
 * Pure: a constant table, no state, safe on any thread.
 */
#ifndef CHORD_CRC32C_H
#define CHORD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli, reflected, polynomial 0x82F63B78) of buf, going on
 * from `crc` (0 to start): crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
uint32_t chord_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
