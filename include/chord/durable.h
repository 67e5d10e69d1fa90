/*
 * durable.h - how a hosted node keeps its data: the options of the
 * write-ahead log that chord/host.h runs beside a node (dhtd's --data,
 * --fsync, --fsync-ms, --checkpoint-mb and --repair).
 *
 * With a data directory the host logs every change before the node
 * acknowledges it and recovers the log at start; without one the node
 * keeps its data in memory only. The fsync mode says when a change counts
 * as durable (group commit):
 *
 *   always  after an fsync that covers it (writes that arrive while one
 *           runs share the next);
 *   batch   after the one fsync that covers the writes of fsync_ms;
 *   never   once written: the OS flushes when it likes.
 *
 * When the current log segment passes checkpoint_bytes, the log rotates
 * and a snapshot is built off the loop. The mechanics are private to the
 * library (src/io/durable.h); this header only says what a caller may
 * choose. Nothing here has behaviour beyond defaults and names.
 */
#ifndef CHORD_DURABLE_H
#define CHORD_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/types.h"

/* Defaults and bounds of the options (dhtd's flags). */
#define CHORD_DURABLE_FSYNC_MS 2u /* --fsync-ms */
#define CHORD_DURABLE_FSYNC_MS_MAX 10000u
#define CHORD_DURABLE_CHECKPOINT_MB 64u /* --checkpoint-mb */
#define CHORD_DURABLE_CHECKPOINT_MB_MAX 65536u

/* A disk implementation (private; tests substitute one). */
struct chord_disk;

struct chord_durable_options {
    const char *dir;           /* the data directory; NULL: memory only */
    int mode;                  /* CHORD_DURABILITY_ALWAYS/BATCH/NEVER */
    uint32_t fsync_ms;         /* batch window, <= FSYNC_MS_MAX */
    uint64_t checkpoint_bytes; /* segment size that starts a checkpoint */
    bool repair;               /* recover past corruption: keep the records
                                  before the damage, move the file aside */
    /* Tests only: use this disk (borrowed; it must be safe to use from
     * the loop and a pool thread at once) instead of opening `dir`,
     * which then only names it in messages. NULL for the real one. */
    const struct chord_disk *disk;
};

/* Fill the defaults: mode batch, 2 ms, 64 MiB, no repair, dir NULL. */
void chord_durable_options_default(struct chord_durable_options *o);

/* "always", "batch", "never" -> the enum chord_durability value, or -1. */
int chord_durability_parse(const char *s);
/* The name of a durability mode: "memory", "always", "batch", "never". */
const char *chord_durability_name(int mode);

#endif
