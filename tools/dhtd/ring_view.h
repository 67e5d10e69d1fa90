/*
 * ring_view.h - the ring's positions as dhtd sees them before it starts:
 * a walk from the seed, successor by successor, asking each position its
 * status (as `dht ring` does), so that a process with virtual nodes can
 * choose its names with the ring in view (chord/host.h, opt.ring).
 *
 * Why before the loop, blocking: the process has no position to serve
 * until its names are chosen, and the choice needs the whole ring, so
 * nothing waits on the walk but the start itself; done with the blocking
 * client (chord/client.h) under one deadline it needs no state machine
 * in the host and cannot interleave with the joins it decides. A ring of
 * a few hundred positions on a LAN takes well under a second.
 */
#ifndef DHTD_RING_VIEW_H
#define DHTD_RING_VIEW_H

#include <stddef.h>

#include "chord/tls.h"
#include "chord/types.h"

/* Most positions walked; a larger ring is not walked (names #0..#K-1). */
#define DHTD_RING_VIEW_MAX 4096u
/* The whole walk's deadline (ms), and each status call's at most. */
#define DHTD_RING_VIEW_DEADLINE_MS 10000
#define DHTD_RING_VIEW_CALL_MS 2000

/*
 * Walk the ring of `seed` ("host:port"), over TLS when tls has its
 * fields set (the node's own certificate serves as the client's). On
 * success *out (malloc'd, freed by the caller) holds the *n positions
 * met, in ring order, and 0 is returned; otherwise a negative errno and
 * `why` says in a few words why there is no view (unreachable, a broken
 * walk, over DHTD_RING_VIEW_MAX, past the deadline).
 */
int dhtd_ring_view(const char *seed, const struct chord_tls_options *tls,
                   struct chord_peer **out, size_t *n, char *why,
                   size_t why_len);

#endif
