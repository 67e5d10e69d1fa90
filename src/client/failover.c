/*
 * failover.c - the plan of one call through several nodes (see
 * failover.h): candidates in order, the budget's split, redirects, and
 * the summary of what was tried.
 *
 * Pure: no I/O, no clock of its own, nothing allocated.
 */
#include "client/failover.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The index of addr among cand[from..n), or -1. */
static int find(const struct chord_failover *f, unsigned from, const char *addr)
{
    for (unsigned i = from; i < f->n; i++)
        if (strcmp(f->cand[i], addr) == 0)
            return (int)i;
    return -1;
}

/* Append addr as a candidate unless it is empty, known, or there is no
 * room. */
static void add(struct chord_failover *f, const char *addr)
{
    if (!addr || !*addr || f->n == CHORD_FAILOVER_MAX || find(f, 0, addr) >= 0)
        return;
    snprintf(f->cand[f->n++], CHORD_ADDR_MAX, "%s", addr);
}

void chord_failover_init(struct chord_failover *f, const char *first,
                         const char *const *seeds, size_t n_seeds, int64_t now,
                         int budget_ms)
{
    f->n = f->next = f->redirects = 0;
    f->deadline = now + (budget_ms > 0 ? budget_ms : 0);
    f->tried[0] = '\0';
    add(f, first);
    for (size_t i = 0; i < n_seeds && i < CHORD_FAILOVER_SEEDS_MAX; i++)
        add(f, seeds[i]);
}

int chord_failover_left(const struct chord_failover *f, int64_t now)
{
    int64_t left = f->deadline - now;
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

const char *chord_failover_next(struct chord_failover *f, int64_t now)
{
    if (f->next >= f->n || chord_failover_left(f, now) == 0)
        return NULL;
    return f->cand[f->next++];
}

int chord_failover_share(const struct chord_failover *f, int64_t now)
{
    int left = chord_failover_left(f, now);
    unsigned remaining = f->n - f->next + 1; /* the one handed out too */
    int share = left / (int)remaining;
    if (share < CHORD_FAILOVER_ATTEMPT_MIN_MS)
        share = CHORD_FAILOVER_ATTEMPT_MIN_MS;
    return share < left ? share : left;
}

bool chord_failover_redirect(struct chord_failover *f, const char *hint)
{
    if (!hint || !*hint || f->redirects >= CHORD_FAILOVER_REDIRECTS)
        return false;
    int at = find(f, 0, hint);
    if (at >= 0 && (unsigned)at < f->next)
        return false; /* tried in this call already */
    if (at < 0 && f->n == CHORD_FAILOVER_MAX)
        return false;
    /* Open a slot at `next` and put the hint there: a later candidate
     * moves forward, a new one is inserted. */
    unsigned from = at >= 0 ? (unsigned)at : f->n++;
    for (unsigned i = from; i > f->next; i--)
        memcpy(f->cand[i], f->cand[i - 1], CHORD_ADDR_MAX);
    snprintf(f->cand[f->next], CHORD_ADDR_MAX, "%s", hint);
    f->redirects++;
    return true;
}

void chord_failover_note(struct chord_failover *f, const char *addr,
                         const char *why)
{
    static const char more[] = "...";
    size_t len = strlen(f->tried);
    size_t room = sizeof(f->tried) - sizeof(more);
    if (len >= room)
        return; /* already cut short */
    int n = snprintf(f->tried + len, sizeof(f->tried) - len, "%s%s: %s",
                     len ? "; " : "", addr, why);
    if (n < 0 || (size_t)n > room - len)
        memcpy(f->tried + room, more, sizeof(more)); /* ends in "..." */
}
