/*
 * host_vnodes.h - the names a host's virtual nodes take: #0..#K-1, or the
 * K of "address#0".."address#CHORD_ADDR_VNODE_MAX" the core's choice
 * (core/vnode_choice.h) picks for the ring a walk saw. Split out of
 * host.c; used by it only. It turns names into what the pure choice
 * takes (ids, processes numbered by "host:port" base), and routes a
 * received frame to the core its header names.
 */
#ifndef CHORD_IO_HOST_VNODES_H
#define CHORD_IO_HOST_VNODES_H

#include <stddef.h>
#include <stdint.h>

#include "chord/addr.h"

#include "chord/host.h"

/* Room for the line chord__host_vnode_names writes. */
#define CHORD_HOST_VNODES_SAID_MAX 512u

/*
 * The opt->vnodes (k) vnode indices for the process advertising `addr`,
 * ascending, into idx[0..k-1]: chosen against opt->ring (positions whose
 * base is addr are left out: an earlier process at this address), or
 * 0..k-1 when that leaves no position. `said` gets one line for the log
 * naming them and how they were chosen (or opt->ring_note). 0, -EINVAL
 * (k over the candidates addr leaves room for) or -ENOMEM.
 */
int chord__host_vnode_names(const char *addr, unsigned k,
                            const struct chord_host_options *opt, unsigned *idx,
                            char said[CHORD_HOST_VNODES_SAID_MAX]);

/*
 * The core (0-based) a received frame goes to, from the vnode its header
 * names and core_of (core_of[i]: 1 + the core named #i, 0 when #i is not
 * run here): naming none (0) and no #0 here, the first core; -ENOENT
 * (drop it) for a node's frame naming a position not run here, -EPROTO
 * (close the connection) for a client's. chord/host.h says why.
 */
int chord__host_vnode_route(const uint8_t core_of[CHORD_ADDR_VNODE_MAX + 1],
                            const uint8_t *frame, size_t len);

#endif
