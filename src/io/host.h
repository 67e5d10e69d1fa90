/*
 * host.h - runs one protocol-core node (chord/node.h) on a libuv loop over
 * the TCP transport: the driver that dhtd is made of.
 *
 * The host turns loop events into node events and node actions into
 * transport calls: a frame from the transport goes to chord_node_receive()
 * (a -EPROTO answer closes that connection), an unreachable peer to
 * chord_node_unreachable(), one uv timer always armed at
 * chord_node_next_deadline() drives chord_node_tick(); the node's send and
 * reply go to the transport and its log lines to stderr, one line each:
 *
 *     2025-01-31T12:00:00.123Z INFO 127.0.0.1:7000 message
 *
 * The clock given to the node is uv_now() of the loop (milliseconds).
 * SIGINT/SIGTERM start a graceful leave; once the node reports LEFT the
 * host flushes pending writes for a bounded time and stops. A second
 * signal stops at once. A node that FAILED to join stops the host too.
 *
 * With a data directory (opt->durable.dir), the host locks it, recovers
 * the write-ahead log into the node with chord_node_restore() before the
 * node creates or joins a ring, hands the node's records to the log
 * (io/durable.h) and reports them durable with chord_node_persisted(). An
 * fsync failure stops the host with CHORD_HOST_ERROR. Without one, the
 * node is memory-only and says so in its first log line.
 *
 * It does not parse command lines or print anything but log lines (dhtd
 * does).
 */
#ifndef CHORD_IO_HOST_H
#define CHORD_IO_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "chord/id.h"
#include "chord/node.h"
#include "io/durable.h"

/* Longest one-line explanation the host gives of a failure (room for a
 * data directory path and a corrupt file named in it). */
#define CHORD_HOST_ERR_MAX 640u

struct chord_host_options {
    /* Tunables for the node; `self` is filled in by the host from the
     * listen address (and `id` below), whatever it holds here. */
    struct chord_node_config node;
    const char *listen; /* "host:port" to bind; port 0 picks one */
    const char *join;   /* seed "host:port", or NULL to create a ring */
    bool has_id;        /* use `id` instead of SHA-1(addr) (tests only) */
    struct chord_id id;
    int log_level; /* lines above this enum chord_log_level are dropped */
    /* The write-ahead log; durable.dir == NULL means memory-only. Set it
     * up with chord_durable_options_default(). */
    struct chord_durable_options durable;
};

/* How chord_host_run() ended. */
enum chord_host_outcome {
    CHORD_HOST_LEFT = 0,        /* graceful leave finished */
    CHORD_HOST_JOIN_FAILED = 1, /* the seed could not be reached */
    CHORD_HOST_INTERRUPTED = 2, /* second signal: stopped without leaving */
    CHORD_HOST_ERROR = 3,       /* could not start (bad join address...),
                                   or the log failed (fsync error) */
};

struct chord_host;

/*
 * Lock the data directory (if any), bind the listener, make the node and
 * recover its log into it (not started yet). The options are copied. The
 * advertised address is the listen address with "localhost" written 127.0.0.1
 * and port 0 replaced by the bound port, and the node id is SHA-1 of it unless
 * opt->has_id. Returns 0, or a negative errno / libuv error with a one-line
 * explanation in err (e.g. "cannot listen on 127.0.0.1:7000: address already in
 * use", "/data is in use by another node (pid 42)", or a corrupt log file and
 * byte offset); on failure every handle it opened has been closed and the loop
 * run until they are gone.
 */
int chord_host_new(uv_loop_t *loop, const struct chord_host_options *opt,
                   char err[CHORD_HOST_ERR_MAX], struct chord_host **out);

/* The address the node advertises (valid until chord_host_run returns). */
const char *chord_host_addr(const struct chord_host *h);

/*
 * Start the node (create a ring, or join opt->join), run the loop until
 * the host stops, close every handle it opened, free the node and `h`.
 * Returns the outcome; for anything but CHORD_HOST_LEFT, err holds a one
 * line explanation (e.g. "cannot join 127.0.0.1:7000: unreachable").
 */
enum chord_host_outcome chord_host_run(struct chord_host *h,
                                       char err[CHORD_HOST_ERR_MAX]);

/* Parse "error", "warn", "info" or "debug": the level, or -1. */
int chord_log_level_parse(const char *s);

#endif
