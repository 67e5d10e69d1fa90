/*
 * seq.c - FIFO of id-keyed records (see seq.h). The buffer doubles when
 * full and halves when a push finds it three quarters idle; records keep
 * their ids, so either only re-lays them from index 0.
 */
#include "core/seq.h"

#include <stdlib.h>
#include <string.h>

/* Records of a queue's first buffer: most queues of a node hold a few
 * (a simulator runs a hundred thousand nodes, each with several). */
#define SEQ_FIRST_CAP 4u

void chord_seq_init(struct chord_seq *q, size_t esz)
{
    memset(q, 0, sizeof(*q));
    q->esz = esz;
    q->first_id = q->next_id = 1;
}

void chord_seq_free(struct chord_seq *q)
{
    free(q->buf);
    q->buf = NULL;
    q->cap = q->len = q->live = 0;
}

static void *slot(struct chord_seq *q, size_t i)
{
    return q->buf + ((q->head + i) & (q->cap - 1)) * q->esz;
}

void *chord_seq_at(struct chord_seq *q, size_t i)
{
    return slot(q, i);
}

const void *chord_seq_at_const(const struct chord_seq *q, size_t i)
{
    return q->buf + ((q->head + i) & (q->cap - 1)) * q->esz;
}

const void *chord_seq_peek(const struct chord_seq *q)
{
    for (size_t i = 0; i < q->len; i++) {
        const struct chord_seq_hdr *h = chord_seq_at_const(q, i);
        if (h->live)
            return h;
    }
    return NULL;
}

/* Re-lay the records from index 0 in a buffer of cap records (>= len). */
static int relay(struct chord_seq *q, size_t cap)
{
    uint8_t *nb = malloc(cap * q->esz);
    if (!nb)
        return -1;
    for (size_t i = 0; i < q->len; i++)
        memcpy(nb + i * q->esz, slot(q, i), q->esz);
    free(q->buf);
    q->buf = nb;
    q->cap = cap;
    q->head = 0;
    return 0;
}

void *chord_seq_push(struct chord_seq *q)
{
    if (q->len == q->cap && relay(q, q->cap ? q->cap * 2 : SEQ_FIRST_CAP) != 0)
        return NULL;
    /* A burst grew the buffer and most of it is idle again: halve it
     * (pointers are invalidated here anyway). Failing to is harmless. */
    if (q->cap > SEQ_FIRST_CAP && (q->len + 1) * 4 <= q->cap)
        (void)relay(q, q->cap / 2);
    void *rec = slot(q, q->len);
    memset(rec, 0, q->esz);
    struct chord_seq_hdr *h = rec;
    h->live = true;
    h->id = q->next_id++;
    q->len++;
    q->live++;
    return rec;
}

void *chord_seq_find(struct chord_seq *q, uint64_t id)
{
    if (id < q->first_id || id >= q->first_id + q->len)
        return NULL;
    struct chord_seq_hdr *h = slot(q, (size_t)(id - q->first_id));
    return h->live ? h : NULL;
}

void *chord_seq_head(struct chord_seq *q)
{
    while (q->len) {
        struct chord_seq_hdr *h = slot(q, 0);
        if (h->live)
            return h;
        q->head = (q->head + 1) & (q->cap - 1);
        q->len--;
        q->first_id++;
    }
    return NULL;
}

void chord_seq_finish(struct chord_seq *q, void *rec)
{
    struct chord_seq_hdr *h = rec;
    if (h->live) {
        h->live = false;
        q->live--;
    }
    /* Reclaim finished records at the head now, so peek stays O(1). */
    chord_seq_head(q);
}
