/*
 * scan.h - the owner's side of C_SCAN: one page of the keys a node owns
 * as primary, in ring order, for `dht dump` (a client walking the ring).
 *
 * A request names a cursor `after` (an id). The node that owns the id
 * just after the cursor answers with the range it owns now, (lo, self],
 * its successor (where the walk goes on), and the live keys (no
 * tombstones) whose ids lie in (after, self], in increasing distance from
 * the cursor, as many as fit in the page (at least one): range_hi is the
 * id the page reaches, so the next page starts after it; range_hi == self
 * means the range is done. Any other node answers REDIRECT with the node
 * to ask instead (placement's redirect hint); a node that does not serve
 * now answers as for any client request (coord.h).
 *
 * One page is built from the store in one call, so it is what the owner
 * held at one instant. Pages of one range are read at different instants;
 * the cursor is a key id, so a key is in exactly one page of a walk even
 * when writes or ownership changes come between pages (the client sees
 * the range in each answer and goes to the new owner of what is left).
 * Key ids are taken to be distinct (SHA-1): two keys of one id could be
 * split across pages and the second one skipped.
 *
 * Cost: each page sorts the node's keys in the range after the cursor,
 * O(k log k) for k such keys, so a range of P pages costs P sorts.
 *
 * Pure: no I/O, no clock. Calls placement.c, coord.c (the not-serving
 * answer), peer.c and the store.
 */
#ifndef CHORD_CORE_SCAN_H
#define CHORD_CORE_SCAN_H

#include <stdint.h>

#include "core/wire.h"

struct chord_node;

/* Bytes of items a page holds at most (its frame stays under
 * CHORD_FRAME_MAX; a single item of the largest size always fits). */
#define CHORD_SCAN_PAGE_MAX (CHORD_FRAME_MAX - 4096u)
/* ... and by default, when the request says 0. */
#define CHORD_SCAN_PAGE_DEFAULT (1u << 20)

/* C_SCAN on client connection conn: answer it (C_SCAN_RESULT). */
void chord__scan_handle(struct chord_node *n, uint64_t now, uint64_t conn,
                        const struct chord_msg *m);

#endif
