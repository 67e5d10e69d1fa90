/*
 * dedup.c - the table of applied request ids (contract in dedup.h).
 *
 * Clients sit in a dense array; an open-addressed index (linear probing,
 * twice the clients' capacity, rebuilt whenever a client leaves) finds
 * them by id. Per client: the newest sequence number applied and a
 * bitmap of the CHORD_DEDUP_WINDOW numbers below and at it (bit 0 = the
 * newest). Both grow on demand, so a node that never sees a request id
 * spends nothing.
 *
 * Invariants: n <= cap <= CHORD_DEDUP_CLIENTS; n_slots is 0 or a power of
 * two >= 2 * cap; every client has exactly one slot holding its index + 1.
 */
#include "core/dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct client {
    uint8_t id[CHORD_CLIENT_ID_BYTES];
    uint64_t seen; /* `now` of its last request */
    uint64_t top;  /* newest seq applied */
    uint64_t bits; /* bit i: top - i applied */
};

struct chord_dedup {
    struct client *clients;
    size_t n, cap;
    uint32_t *slots; /* client index + 1, 0 empty */
    size_t n_slots;
    uint64_t swept; /* `now` of the last sweep of idle clients */
};

struct chord_dedup *chord__dedup_new(void)
{
    return calloc(1, sizeof(struct chord_dedup));
}

void chord__dedup_free(struct chord_dedup *d)
{
    if (!d)
        return;
    free(d->clients);
    free(d->slots);
    free(d);
}

size_t chord__dedup_clients(const struct chord_dedup *d)
{
    return d->n;
}

/* Ids are random: their first bytes are a good hash. */
static size_t slot_of(const struct chord_dedup *d, const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h ^ (h >> 29)) & (d->n_slots - 1);
}

static void index_rebuild(struct chord_dedup *d)
{
    memset(d->slots, 0, d->n_slots * sizeof *d->slots);
    for (size_t i = 0; i < d->n; i++) {
        size_t s = slot_of(d, d->clients[i].id);
        while (d->slots[s])
            s = (s + 1) & (d->n_slots - 1);
        d->slots[s] = (uint32_t)(i + 1);
    }
}

static struct client *find(const struct chord_dedup *d, const uint8_t *id)
{
    if (d->n_slots == 0)
        return NULL;
    for (size_t s = slot_of(d, id);; s = (s + 1) & (d->n_slots - 1)) {
        uint32_t v = d->slots[s];
        if (v == 0)
            return NULL;
        if (memcmp(d->clients[v - 1].id, id, CHORD_CLIENT_ID_BYTES) == 0)
            return &d->clients[v - 1];
    }
}

/* Drop clients idle longer than the TTL (at most once a second). */
static void sweep(struct chord_dedup *d, uint64_t now)
{
    if (d->n == 0 || now < d->swept + 1000)
        return;
    d->swept = now;
    size_t kept = 0;
    for (size_t i = 0; i < d->n; i++)
        if (now - d->clients[i].seen < CHORD_DEDUP_TTL_MS ||
            d->clients[i].seen > now)
            d->clients[kept++] = d->clients[i];
    if (kept != d->n) {
        d->n = kept;
        index_rebuild(d);
    }
}

enum chord_dedup_answer chord__dedup_check(struct chord_dedup *d,
                                           const struct chord_rid *rid,
                                           uint64_t now)
{
    sweep(d, now);
    const struct client *c = find(d, rid->client);
    if (!c || rid->seq > c->top)
        return CHORD_DEDUP_NEW;
    uint64_t back = c->top - rid->seq;
    if (back >= CHORD_DEDUP_WINDOW)
        return CHORD_DEDUP_TOO_OLD;
    return (c->bits >> back) & 1u ? CHORD_DEDUP_APPLIED : CHORD_DEDUP_NEW;
}

/* Room for one more client: grow, or let the least recently seen go. */
static int make_room(struct chord_dedup *d)
{
    if (d->n < d->cap)
        return 0;
    if (d->cap < CHORD_DEDUP_CLIENTS) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct client *c = realloc(d->clients, cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        d->clients = c;
        uint32_t *slots = malloc(cap * 2 * sizeof *slots);
        if (!slots)
            return -ENOMEM;
        free(d->slots);
        d->slots = slots;
        d->n_slots = cap * 2;
        d->cap = cap;
        index_rebuild(d);
        return 0;
    }
    size_t lru = 0;
    for (size_t i = 1; i < d->n; i++)
        if (d->clients[i].seen < d->clients[lru].seen)
            lru = i;
    d->clients[lru] = d->clients[--d->n];
    index_rebuild(d);
    return 0;
}

int chord__dedup_record(struct chord_dedup *d, const struct chord_rid *rid,
                        uint64_t now)
{
    struct client *c = find(d, rid->client);
    if (!c) {
        int rc = make_room(d);
        if (rc)
            return rc;
        c = &d->clients[d->n];
        memcpy(c->id, rid->client, CHORD_CLIENT_ID_BYTES);
        c->top = rid->seq;
        c->bits = 1;
        c->seen = now;
        size_t s = slot_of(d, c->id);
        while (d->slots[s])
            s = (s + 1) & (d->n_slots - 1);
        d->slots[s] = (uint32_t)(++d->n);
        return 0;
    }
    c->seen = now;
    if (rid->seq > c->top) {
        uint64_t shift = rid->seq - c->top;
        c->bits = shift >= 64 ? 0 : c->bits << shift;
        c->bits |= 1;
        c->top = rid->seq;
    } else if (c->top - rid->seq < CHORD_DEDUP_WINDOW) {
        c->bits |= (uint64_t)1 << (c->top - rid->seq);
    }
    return 0;
}
