/*
 * dvv.h - a key's causal state: a dotted version vector set (Preguiça,
 * Baquero et al., "Dotted version vectors", 2012; the form Riak 2.0
 * keeps per key).
 *
 * A state is a version vector `vv` (the causal context: for each writer,
 * the highest counter of its writes to this key that the state has seen)
 * and the siblings: the values no write has superseded yet, each tagged
 * with the dot (writer, counter) of the write that made it. Writers are
 * the nodes that owned the key when a write reached it; a dot's counter
 * comes from the writer's Lamport clock, so a writer's dots for one key
 * only grow (they may jump, which "covered" below allows).
 *
 *   - A dot (w, c) is covered by a vector when c <= vv[w].
 *   - A write at writer w with context C (what the client saw; the
 *     owner's own vv when the client gave none) drops the siblings C
 *     covers, sets vv = max(vv, C), vv[w] = c for its new dot, and adds
 *     its sibling. Siblings C does not cover stay: they are concurrent.
 *   - Merging two states (replication, read repair, anti-entropy,
 *     hand-off, log replay) keeps a sibling of either side unless the
 *     other side's vv covers its dot without holding it, and takes the
 *     entry-wise max of the vectors. It is commutative, associative and
 *     idempotent, and never drops a value neither side superseded.
 *   - Two siblings with the same dot are the same write; when one of them
 *     is a tombstone (a value collected after its TTL, see below) the
 *     tombstone is kept.
 *
 * Invariants of a state (chord_dvv_decode checks them, every operation
 * keeps them): vv sorted by writer id, ids distinct, counters > 0; every
 * sibling's writer indexes vv and its counter is <= that entry; siblings
 * sorted by (writer id, counter), dots distinct. So one state has one
 * encoding, and equal states encode to equal bytes.
 *
 * A sibling is a value or a tombstone (a delete). A value may carry an
 * absolute deadline (wall-clock milliseconds since the epoch, 0: none):
 * it is live until then. Collecting an expired value turns it into a
 * tombstone with the same dot (chord_dvv_collect), so a late copy of the
 * value cannot bring it back.
 *
 * Encoding of a state (big-endian), the "state blob":
 *     u8 n_vv, n_vv x (id[20], u64 counter),
 *     u8 n_sib, n_sib x (u8 writer index, u64 counter, u8 flags
 *                        [1: tombstone, 2: deadline], [u64 deadline],
 *                        u32 value length, value bytes)
 * A context (what a client holds and sends back) is the same with
 * n_sib = 0: a version vector alone.
 *
 * A simple state is one writer, one sibling whose dot is that writer's
 * entry: it travels and is stored as a plain item (version = the dot,
 * value or tombstone, deadline), the state blob only for the others.
 *
 * Values are borrowed: a decoded state points into the decoded buffer, a
 * merged or written state into the states and siblings it came from. The
 * caller keeps those alive while it uses the result.
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef CHORD_CORE_DVV_H
#define CHORD_CORE_DVV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "chord/types.h"
#include "core/wire.h"

#define CHORD_DVV_WRITERS 32  /* vector entries a state may hold */
#define CHORD_DVV_SIBLINGS 16 /* siblings a state may hold */
/* An encoded state (all its values and the vector) fits in this many
 * bytes, so it fits in one frame beside a key and the frame's other
 * fields. */
#define CHORD_DVV_STATE_MAX (CHORD_FRAME_MAX - 64u * 1024u)
/* Bytes a context takes at most: u8 n_vv, the entries, u8 n_sib (0). */
#define CHORD_DVV_CONTEXT_MAX (2u + CHORD_DVV_WRITERS * 28u)

#define CHORD_SIB_TOMBSTONE 0x01u
#define CHORD_SIB_DEADLINE 0x02u

struct chord_dvv_entry {
    struct chord_id writer;
    uint64_t counter; /* > 0 */
};

struct chord_sibling {
    uint8_t writer;   /* index into the state's vv of the dot's writer */
    uint64_t counter; /* the dot's counter */
    bool tombstone;
    uint64_t deadline;        /* wall-clock ms; 0: no TTL */
    struct chord_bytes value; /* borrowed; empty for a tombstone */
};

struct chord_dvv {
    uint8_t n_vv;
    struct chord_dvv_entry vv[CHORD_DVV_WRITERS];
    uint8_t n_sib;
    struct chord_sibling sib[CHORD_DVV_SIBLINGS];
};

/* The empty state (no vector, no siblings: a key never written). */
void chord_dvv_init(struct chord_dvv *d);

/* Decode a state blob (or a context: n_sib 0) of exactly len bytes,
 * checking every invariant above; values borrow from buf. 0 or -EPROTO. */
int chord_dvv_decode(const uint8_t *buf, size_t len, struct chord_dvv *out);
/* Append the encoding of *d to out: 0, -EMSGSIZE (over
 * CHORD_DVV_STATE_MAX; nothing appended), -ENOMEM. */
int chord_dvv_encode(const struct chord_dvv *d, struct chord_buf *out);
/* Append the context of *d (its vector alone) to out: 0 or -ENOMEM. */
int chord_dvv_context_encode(const struct chord_dvv *d, struct chord_buf *out);
/* Bytes chord_dvv_encode would append. */
size_t chord_dvv_encoded_size(const struct chord_dvv *d);

/* The state an item holds: its blob (item->state) when it has one, else
 * the simple state of its version, value or tombstone and deadline (an
 * item with version.counter 0 is the empty state). 0 or -EPROTO. Values
 * borrow from the item. */
int chord_dvv_from_item(const struct chord_item *it, struct chord_dvv *out);
/* Describe *d in *it: a simple state in version/value/tombstone/deadline
 * (state left empty), any other in a blob appended to `scratch`
 * (it->state points into scratch: do not grow scratch again while *it is
 * in use) with version = the newest dot and tombstone = no live value
 * (at any time). Key, origin and fence are left as they are. 0,
 * -EMSGSIZE, -ENOMEM. */
int chord_dvv_to_item(const struct chord_dvv *d, struct chord_buf *scratch,
                      struct chord_item *it);

/* Is *d a simple state (see above)? The empty state is not. */
bool chord_dvv_is_simple(const struct chord_dvv *d);

/*
 * Merge *other into *into. Returns 1 when *into changed, 0 when it
 * already held everything *other has (so `other` needs nothing from
 * `into` exactly when merging the other way returns 0), or -ENOSPC when
 * the result would exceed CHORD_DVV_WRITERS or CHORD_DVV_SIBLINGS or
 * CHORD_DVV_STATE_MAX (then *into is unchanged).
 */
int chord_dvv_merge(struct chord_dvv *into, const struct chord_dvv *other);

/*
 * Merge a legacy item's simple state (written before version vectors,
 * ordered by Lamport version alone) into *into: when its dot's counter
 * is higher than every counter of into's vector, or equal with a
 * greater writer id, it supersedes every sibling (as the old newest-wins
 * rule did); else it changes nothing. 1 changed, 0 not, -ENOSPC.
 */
int chord_dvv_merge_legacy(struct chord_dvv *into,
                           const struct chord_dvv *legacy);

/*
 * A write at `writer` with the new dot's `counter` (greater than every
 * counter in the state's vector: a Lamport clock past them) and the
 * sibling `sib` (its value, tombstone and deadline; its dot fields are
 * ignored): the siblings `ctx` covers are dropped (ctx NULL: the state's
 * own vector, so every sibling is superseded), vv = max(vv, ctx),
 * vv[writer] = counter, and the new sibling added. 0, -EINVAL (counter
 * not past the vector), -ENOSPC (too many writers or siblings, or over
 * CHORD_DVV_STATE_MAX; *d unchanged).
 */
int chord_dvv_write(struct chord_dvv *d, const struct chord_dvv *ctx,
                    const struct chord_id *writer, uint64_t counter,
                    const struct chord_sibling *sib);

/* Does ctx's vector cover every entry of d's vector (d has seen nothing
 * ctx has not)? "The key is unchanged since ctx" for a compare-and-set;
 * "d is at least as new as ctx" is chord_dvv_covers(d, ctx). */
bool chord_dvv_covers(const struct chord_dvv *ctx, const struct chord_dvv *d);

/* Is sibling i live at wall-clock time `wall_ms`: not a tombstone and
 * not past its deadline? */
bool chord_dvv_sibling_live(const struct chord_dvv *d, unsigned i,
                            uint64_t wall_ms);
/* Is sibling i live at wall_ms with the same bytes as a live sibling
 * before it (one value written twice concurrently, which a reader sees
 * once)? */
bool chord_dvv_repeats(const struct chord_dvv *d, unsigned i, uint64_t wall_ms);
/* The live sibling with the highest counter at wall_ms, or -1. */
int chord_dvv_newest_live(const struct chord_dvv *d, uint64_t wall_ms);

/* The number of live siblings at wall_ms. */
unsigned chord_dvv_live(const struct chord_dvv *d, uint64_t wall_ms);

/* Turn the values whose deadline is <= wall_ms into tombstones with
 * their dots (values dropped). Returns how many. */
unsigned chord_dvv_collect(struct chord_dvv *d, uint64_t wall_ms);

/* The highest counter of d's vector (0 when empty): a Lamport clock
 * must move past it. */
uint64_t chord_dvv_max_counter(const struct chord_dvv *d);

/* Sum of the siblings' value bytes. */
size_t chord_dvv_value_bytes(const struct chord_dvv *d);

#endif
