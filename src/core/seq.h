/*
 * seq.h - a FIFO of fixed-size records keyed by consecutive ids.
 *
 * The node numbers its outstanding requests (and client operations) 1, 2,
 * 3, ... and every record of one queue has the same timeout, so records
 * arrive in id order and expire in id order. A ring buffer indexed by
 * (id - first id) then gives O(1) insert, find, and expiry from the head.
 * A record finished out of order is marked dead in place and reclaimed
 * when it reaches the head.
 *
 * Pointers into the queue are invalidated by chord_seq_push() (it may
 * grow or shrink the buffer); copy a record out before calling code that
 * may push.
 */
#ifndef CHORD_SEQ_H
#define CHORD_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chord_seq {
    uint8_t *buf; /* cap records of esz bytes */
    size_t esz;   /* record size; a record starts with `bool live` */
    size_t cap;   /* power of two */
    size_t head;  /* index of the record with id first_id */
    size_t len;   /* records from first_id to next_id - 1 */
    uint64_t first_id;
    uint64_t next_id;
    size_t live; /* records not yet finished */
};

/* Every record type starts with this header. */
struct chord_seq_hdr {
    bool live;
    uint64_t id;
};

void chord_seq_init(struct chord_seq *q, size_t esz);
void chord_seq_free(struct chord_seq *q);
/* Append a zeroed live record with the next id; NULL on -ENOMEM. */
void *chord_seq_push(struct chord_seq *q);
/* The live record with `id`, or NULL. */
void *chord_seq_find(struct chord_seq *q, uint64_t id);
/* Mark a record finished, and reclaim finished records at the head.
 * Slots from the head move: in a scan by index, re-read q->len and
 * expect indices to shift only when the finished record was the head. */
void chord_seq_finish(struct chord_seq *q, void *rec);
/* The oldest live record (dropping finished ones at the head), or NULL. */
void *chord_seq_head(struct chord_seq *q);
/* The oldest live record without dropping anything, or NULL. */
const void *chord_seq_peek(const struct chord_seq *q);
/* The i-th slot from the head, live or not (for scans); i < q->len. */
void *chord_seq_at(struct chord_seq *q, size_t i);
const void *chord_seq_at_const(const struct chord_seq *q, size_t i);

#endif
