/*
 * vnode_choice.h - which ring positions a joining process with virtual
 * nodes takes, chosen with the ring in view.
 *
 * A process running K positions names them "address#i" (chord/addr.h), so
 * every position's id is still SHA-1 of the name it advertises and anyone
 * can check it. The names are not fixed to #0..#K-1: the process may take
 * any K of its candidates #0..#CHORD_ADDR_VNODE_MAX, and picks the K whose
 * ids split the ring most evenly between the processes already there and
 * itself. K hashed names leave a process a sum of K random arcs (max/mean
 * about 1.47 over 16 processes at K = 16); choosing brings it near 1.
 *
 * The rule, greedy, one pick at a time (all shares are fractions of the
 * circle, the ring view updated after each pick):
 *   T     = 1 / (P + 1), P the processes in the view (the joiner's fair share);
 *   want  = (T - share of the joiner so far) / (picks left);
 *   for each candidate that does not land in an arc the joiner already
 *   owns: gain = the part of the arc it takes (from the position before
 *   it), owner = the process of the position after it;
 *   score = -|gain - want| + (share of owner - T),
 * so a pick takes about what is still wanted, preferably from the process
 * with the most. The best score wins, ties to the lower index; when every
 * candidate left lands in the joiner's own arcs, the lowest index left.
 * An empty view (the first process) takes #0..#K-1.
 *
 * Pure: no I/O, no clock, no randomness; the same view and candidates
 * give the same picks. It does not walk the ring (the caller does) and
 * judges only the view it is given: two processes choosing at the same
 * moment do not see each other, which costs balance, never correctness.
 */
#ifndef CHORD_CORE_VNODE_CHOICE_H
#define CHORD_CORE_VNODE_CHOICE_H

#include <stddef.h>

#include "chord/id.h"

/* One position of the ring view: its id and its process, numbered
 * 0..n_procs-1 by the caller (positions with the same "host:port" base
 * share a number). */
struct chord_vnode_pos {
    struct chord_id id;
    unsigned proc;
};

/*
 * Choose k of the n_cand candidates (cand[i]: the id of "address#i") for
 * a process joining a ring whose positions are ring[0..n_ring-1] (not the
 * joiner's own; borrowed, not changed) belonging to n_procs processes.
 * Writes the chosen indices, distinct and < n_cand, into out[0..k-1] in
 * the order picked. 0, -EINVAL (k == 0, k > n_cand, or a proc >= n_procs),
 * or -ENOMEM.
 */
int chord_vnode_choose(const struct chord_vnode_pos *ring, size_t n_ring,
                       unsigned n_procs, const struct chord_id *cand,
                       unsigned n_cand, unsigned k, unsigned *out);

#endif
