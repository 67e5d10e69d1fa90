/*
 * peers_keeper.h - keeps the peers a node knows in its data directory
 * (io/peers_file.h), on a libuv loop, so that a node restarted without
 * --join can rejoin its ring through them.
 *
 * CHORD_PEERS_KEEP_FIRST_MS after start, then every CHORD_PEERS_KEEP_MS,
 * the keeper asks its owner for the peers the node knows now (the
 * `collect` callback: chord_node_known_peers) and,
 * when the set differs from the one last saved, saves it on the libuv
 * thread pool; so the file is rewritten at most once per period, and not
 * at all while the ring is stable. An empty set is never saved: a node
 * that lost every peer keeps the old list, which is still the best guess
 * of where its ring is. chord_peers_keeper_flush() saves at once (the host
 * calls it when a graceful leave starts, while the node still knows its
 * neighbours).
 *
 * A file that cannot be read or is corrupt is one WARN line and is treated
 * as absent; a save that fails is one WARN line (repeated only when the
 * error changes) and is tried again at the next change. Neither stops the
 * node: the list is an optimisation of a restart, not data.
 *
 * It does not know the node (the owner collects) and does not lock the
 * directory (the write-ahead log already holds the lock).
 */
#ifndef CHORD_IO_PEERS_KEEPER_H
#define CHORD_IO_PEERS_KEEPER_H

#include <stddef.h>

#include <uv.h>

#include "chord/types.h"

/* How often the known peers are compared with the saved list (ms). */
#define CHORD_PEERS_KEEP_MS 2000u
/* The first comparison after start (ms): a ring killed soon after it
 * formed is remembered too. */
#define CHORD_PEERS_KEEP_FIRST_MS 500u

struct chord_peers_keeper_cb {
    void *ctx;
    /* The peers known now, at most `max`, into out: how many (0 when
     * there is nothing worth saving). Required. */
    size_t (*collect)(void *ctx, char (*out)[CHORD_ADDR_MAX], size_t max);
    /* One log line, level as enum chord_log_level. May be NULL. */
    void (*log)(void *ctx, int level, const char *line);
};

struct chord_peers_keeper;

/*
 * A keeper for data directory `dir` (copied; created if missing). The
 * callbacks are copied. 0, -ENOMEM, or the -errno of opening the
 * directory. Nothing is read or written yet.
 */
int chord_peers_keeper_open(uv_loop_t *loop, const char *dir,
                            const struct chord_peers_keeper_cb *cb,
                            struct chord_peers_keeper **out);

/*
 * Read the saved list (blocking: call at start, before
 * chord_peers_keeper_start) into out[0..max): how many, 0 when there is no
 * file or it is unreadable or corrupt (then logged once at WARN). The list
 * read counts as saved: the same set is not written again.
 */
size_t chord_peers_keeper_load(struct chord_peers_keeper *k,
                               char (*out)[CHORD_ADDR_MAX], size_t max);

/* The path of the list, for log lines ("DIR/peers"). */
const char *chord_peers_keeper_path(const struct chord_peers_keeper *k);

/* Start the periodic comparison. 0 or a libuv error. */
int chord_peers_keeper_start(struct chord_peers_keeper *k);

/* Collect now and save if the set changed (a save in flight is followed
 * by another when needed). */
void chord_peers_keeper_flush(struct chord_peers_keeper *k);

/*
 * Stop: `collect` and `log` are not called again. A save in flight (and
 * one a flush asked for) finishes on the thread pool; the memory is freed
 * from loop callbacks (keep running the loop). NULL is allowed.
 */
void chord_peers_keeper_close(struct chord_peers_keeper *k);

#endif
