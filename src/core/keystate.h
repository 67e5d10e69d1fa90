/*
 * keystate.h - a key's causal state (core/dvv.h) as this node holds it,
 * seen at a wall-clock instant: what the owner's reads and writes start
 * from, and what a reader is told.
 *
 * The node's wall clock is the host's (chord_node_set_wall_clock): the
 * core reads no clock; it keeps the offset between the host's monotonic
 * `now` and the wall clock, so TTL deadlines are absolute and survive
 * restarts.
 *
 * Pure: no I/O, no clock. Calls the store and dvv.c.
 */
#ifndef CHORD_CORE_KEYSTATE_H
#define CHORD_CORE_KEYSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "core/dvv.h"

struct chord_node;

/* The node's wall-clock time (ms since the epoch) at monotonic `now`. */
uint64_t chord__wall(const struct chord_node *n, uint64_t now);

/*
 * The key's state in *out (the empty state when the node holds no copy),
 * its values past their deadline at wall_ms collected (chord_dvv_collect:
 * turned into tombstones). Values borrow from the store: valid until the
 * store changes. 0, or -EPROTO when the stored blob does not decode (the
 * empty state is given then; it cannot happen for a store that checked
 * what it kept).
 */
int chord__keystate_load(const struct chord_node *n, uint64_t wall_ms,
                         const void *key, size_t key_len,
                         struct chord_dvv *out);

/*
 * What a reader is told about state *d at wall_ms: CHORD_OK with the one
 * live value in *value and *value_len, CHORD_NOT_FOUND (no live value), or
 * CHORD_SIBLINGS (more than one; *value NULL). *n_live gets the count.
 * Live siblings with equal bytes count as one value.
 */
uint8_t chord__keystate_answer(const struct chord_dvv *d, uint64_t wall_ms,
                               const uint8_t **value, size_t *value_len,
                               unsigned *n_live);

/* A hash of an encoded state: equal states encode to equal bytes, so
 * equal hashes (read repair, anti-entropy digests). */
uint64_t chord__state_hash(const uint8_t *blob, size_t len);

/* The live value with the newest dot (highest counter) of *d at wall_ms:
 * true with *value and *value_len set, false when none is live. For the
 * ring's own records (a lock's), which must read as one value. */
bool chord__keystate_newest(const struct chord_dvv *d, uint64_t wall_ms,
                            const uint8_t **value, size_t *value_len);

/* A one-line error for CHORD_SIBLINGS with n values, into buf. */
void chord__keystate_siblings_error(unsigned n, char *buf, size_t cap);

#endif
