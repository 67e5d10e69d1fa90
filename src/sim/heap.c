/*
 * heap.c - the simulator's event queue: everything that happens in a run
 * is an event in one binary min-heap ordered by (time, sequence number).
 *
 * The sequence number grows with every push, so events due at the same
 * millisecond run in the order they were made, and the run order is a
 * pure function of the calls made. The queue holds at most
 * CHORD_SIM_EVENTS_MAX events; an event that does not fit is counted as
 * dropped.
 *
 * It does not interpret events (loop.c does) and calls no other file.
 */
#include <stdlib.h>

#include "sim/sim_internal.h"

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return a->seq < b->seq;
}

/* Queue *ev (its seq is assigned here; its data is taken on success).
 * 0, -ENOSPC (queue at its cap) or -ENOMEM; on error the caller still
 * owns ev->data. */
static int heap_push(struct chord_sim *sim, struct sim_event *ev)
{
    if (sim->heap_len == sim->heap_cap) {
        if (sim->heap_cap >= CHORD_SIM_EVENTS_MAX)
            return -ENOSPC;
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        if (cap > CHORD_SIM_EVENTS_MAX)
            cap = CHORD_SIM_EVENTS_MAX;
        struct sim_event *h = realloc(sim->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        sim->heap = h;
        sim->heap_cap = cap;
    }
    ev->seq = sim->seq++;
    size_t i = sim->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(ev, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = *ev;
    return 0;
}

void chord_sim__heap_pop(struct chord_sim *sim, struct sim_event *out)
{
    *out = sim->heap[0];
    struct sim_event last = sim->heap[--sim->heap_len];
    size_t n = sim->heap_len, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!ev_before(&sim->heap[c], &last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    if (n > 0)
        sim->heap[i] = last;
}

int chord_sim__schedule(struct chord_sim *sim, uint64_t time, uint8_t kind,
                        uint32_t dst, uint32_t src, uint64_t aux, uint8_t *data,
                        size_t len)
{
    struct sim_event ev = {
        .time = time,
        .aux = aux,
        .data = data,
        .len = (uint32_t)len,
        .dst = dst,
        .src = src,
        .kind = kind,
    };
    int rc = heap_push(sim, &ev);
    if (rc) {
        free(data);
        sim->stats.dropped++;
    }
    return rc;
}

void chord_sim__heap_free(struct chord_sim *sim)
{
    for (size_t i = 0; i < sim->heap_len; i++)
        free(sim->heap[i].data);
    free(sim->heap);
}
