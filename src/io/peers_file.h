/*
 * peers_file.h - the file in a data directory that lists the peers a node
 * knew, so that after a restart it can rejoin its ring without --join.
 *
 * Format (text, so an operator can read and edit it):
 *
 *     chord-peers 1
 *     127.0.0.1:7001
 *     127.0.0.1:7002
 *
 * The first line names the format and its version; then one address per
 * line, each ended by '\n', at most CHORD_PEERS_FILE_MAX of them, each a
 * "host:port" of printable characters without spaces, shorter than
 * CHORD_ADDR_MAX. Anything else makes the whole file corrupt: a reader
 * takes all of it or nothing.
 *
 * Saving replaces the file atomically (write "peers.tmp", fsync it,
 * rename it over "peers", sync the directory), so a crash at any point
 * leaves either the old list or the new one, never a mix.
 *
 * Both functions do blocking I/O through a disk (io/disk.h) and keep no
 * state: the caller chooses the thread (the host saves on the thread
 * pool). They do not decide when to save nor what to do with the list.
 */
#ifndef CHORD_IO_PEERS_FILE_H
#define CHORD_IO_PEERS_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "chord/types.h"
#include "io/disk.h"

#define CHORD_PEERS_FILE_NAME "peers"    /* the list */
#define CHORD_PEERS_FILE_TMP "peers.tmp" /* the next list, until renamed */
#define CHORD_PEERS_FILE_HEADER "chord-peers 1"
#define CHORD_PEERS_FILE_MAX 64u /* addresses in one file */
/* Largest file a reader accepts: the header and MAX full lines. */
#define CHORD_PEERS_FILE_BYTES_MAX                                             \
    (sizeof CHORD_PEERS_FILE_HEADER + CHORD_PEERS_FILE_MAX * CHORD_ADDR_MAX)
/* Longest explanation of a refused file, NUL included. */
#define CHORD_PEERS_FILE_ERR_MAX 160u

/* Is `addr` something the file can hold (non-empty, shorter than
 * CHORD_ADDR_MAX, printable without spaces, with a ':')? */
bool chord_peers_file_addr_ok(const char *addr);

/*
 * Replace the list on disk `d` with addrs[0..n) (borrowed), atomically and
 * durably. 0; -EINVAL when n is 0 or over CHORD_PEERS_FILE_MAX or an
 * address is not acceptable (nothing is written); or the -errno of the
 * disk operation that failed, the file then holding the old list whole
 * (or, when only the last step failed, the new one, maybe not durable).
 */
int chord_peers_file_save(const struct chord_disk *d,
                          const char (*addrs)[CHORD_ADDR_MAX], size_t n);

/*
 * Read the list from disk `d` into out[0..max), repeats dropped, and set
 * *n to how many. 0 (the file holds a valid list, possibly of none);
 * -ENOENT when there is no file; -EBADMSG when it is corrupt, with one
 * sentence in why naming the line ("line 3 is longer than 63 bytes");
 * another -errno when it cannot be read, also explained in why. *n is 0
 * on every failure.
 */
int chord_peers_file_load(const struct chord_disk *d,
                          char (*out)[CHORD_ADDR_MAX], size_t max, size_t *n,
                          char why[CHORD_PEERS_FILE_ERR_MAX]);

#endif
