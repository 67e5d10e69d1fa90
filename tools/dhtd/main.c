/*
 * main.c - dhtd, the daemon: one Chord node listening on TCP.
 *
 *   dhtd --listen HOST:PORT [--join HOST:PORT] [--successors R]
 *        [--stabilize-ms T] [--replicas R] [--heartbeat-ms T] [--sync-ms T]
 *        [--tombstone-ttl S] [--owner-reads 0|1] [--pns 0|1]
 *        [--idle-timeout-ms N]
 *        [--log-level error|warn|info|debug] [--log-format text|json]
 *        [--metrics-listen HOST:PORT] [--config FILE]
 *        [--data DIR [--fsync always|batch|never] [--fsync-ms N]
 *        [--checkpoint-mb N] [--repair]] [--id HEX40] [--help] [--version]
 *
 * Without --join it creates a new ring, unless --data DIR lists the peers
 * it knew before (DIR/peers): then it rejoins their ring; with --join it
 * joins the ring of that node. It runs until SIGINT/SIGTERM, then leaves
 * gracefully (a second signal stops at once). Log lines go to stderr (see
 * chord/host.h). With
 * --data the node keeps a write-ahead log in DIR and recovers it at start
 * (see chord/durable.h); without it the node is memory-only.
 *
 * Exit status (common/exit.h): 0 after a graceful leave (and for
 * --help/--version), 1 (CHORD_EXIT_NODE_FAILED) when it cannot run
 * (cannot listen, cannot join, data directory locked or corrupt, fsync
 * failure, interrupted mid-leave), 2 for a usage error. Every error is one
 * line on stderr starting "dhtd: "; a usage error ends "(see dhtd --help)".
 *
 * This file only runs the node and maps outcomes to exit codes: options.c
 * reads the command line, ring_view.c walks the ring a process with
 * virtual nodes joins, the public embedding API (chord/host.h) does the
 * work.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "chord/durable.h"
#include "chord/host.h"
#include "chord/id.h"
#include "chord/node.h"
#include "chord/types.h"
#include "common/exit.h"
#include "options.h"
#include "ring_view.h"

int main(int argc, char **argv)
{
    struct dhtd_options o;
    dhtd_options_default(&o);
    int status = dhtd_options_parse(&o, argc, argv);
    if (status >= 0) {
        dhtd_options_free(&o);
        return status;
    }
    struct chord_host_options opt = o.host;
    opt.node.log_level = opt.log_level;
    opt.node.seed = uv_hrtime() ^ ((uint64_t)getpid() << 32);

    /* libuv writes with write(2): a peer that went away must give EPIPE,
     * not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc) {
        fprintf(stderr, "dhtd: cannot start the event loop: %s\n",
                uv_strerror(rc));
        dhtd_options_free(&o);
        return CHORD_EXIT_NODE_FAILED;
    }
    /* Virtual nodes joining a ring choose their names with the ring in
     * view: walk it first (ring_view.h says why before the loop). */
    struct chord_peer *ring = NULL;
    char note[CHORD_HOST_ERR_MAX];
    if (opt.vnodes > 1 && opt.join) {
        char why[CHORD_HOST_ERR_MAX - 64];
        if (dhtd_ring_view(opt.join, &opt.tls, &ring, &opt.n_ring, why,
                           sizeof why) == 0) {
            opt.ring = ring;
        } else {
            snprintf(note, sizeof note, "not chosen, no view of the ring: %s",
                     why);
            opt.ring_note = note;
        }
    }
    char err[CHORD_HOST_ERR_MAX];
    struct chord_host *h;
    rc = chord_host_new(&loop, &opt, err, &h);
    free(ring); /* the host keeps no pointer into it */
    if (rc) {
        fprintf(stderr, "dhtd: %s\n", err);
        uv_loop_close(&loop);
        dhtd_options_free(&o);
        return CHORD_EXIT_NODE_FAILED;
    }
    enum chord_host_outcome outcome = chord_host_run(h, err);
    dhtd_options_free(&o);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "dhtd: warning: event loop closed with handles "
                        "open\n");
    if (outcome != CHORD_HOST_LEFT) {
        fprintf(stderr, "dhtd: %s\n", err);
        return CHORD_EXIT_NODE_FAILED;
    }
    return CHORD_EXIT_OK;
}
