/*
 * ring_view.c - walk the ring once before dhtd starts (see ring_view.h).
 *
 * The walk ends when a successor is the start again (complete), and fails
 * when a position does not answer, has no successor, repeats before the
 * start comes back, or the cap or the deadline is passed: a partial view
 * would make the choice worse than hashed names, so it is all or nothing.
 */
#include "ring_view.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/client.h"
#include "chord/id.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One status of `addr` into *st, within the deadline. */
static int status_of(const char *addr, struct chord_tls *tls, int64_t deadline,
                     struct chord_status *st)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return -ETIMEDOUT;
    int ms = left < DHTD_RING_VIEW_CALL_MS ? (int)left : DHTD_RING_VIEW_CALL_MS;
    struct chord_client *c = NULL;
    int rc = chord_client_connect_tls(addr, ms, tls, &c);
    if (rc == 0)
        rc = chord_client_status(c, st);
    chord_client_close(c);
    return rc;
}

static bool met(const struct chord_peer *v, size_t n, const struct chord_id *id)
{
    for (size_t i = 0; i < n; i++)
        if (chord_id_eq(&v[i].id, id))
            return true;
    return false;
}

/* The walk itself, with a client context made (or NULL). */
static int walk(const char *seed, struct chord_tls *tls, struct chord_peer *v,
                size_t *n, char *why, size_t why_len)
{
    int64_t deadline = now_ms() + DHTD_RING_VIEW_DEADLINE_MS;
    struct chord_status *st = malloc(sizeof *st);
    if (!st)
        return -ENOMEM;
    char at[CHORD_ADDR_MAX]; /* whom the last call asked */
    snprintf(at, sizeof at, "%s", seed);
    int rc = status_of(at, tls, deadline, st);
    while (rc == 0) {
        if (met(v, *n, &st->self.id)) {
            snprintf(why, why_len, "%s repeats before the walk is back",
                     st->self.addr);
            rc = -EPROTO;
            break;
        }
        if (*n >= DHTD_RING_VIEW_MAX) {
            snprintf(why, why_len, "the ring has over %u positions",
                     DHTD_RING_VIEW_MAX);
            rc = -E2BIG;
            break;
        }
        v[(*n)++] = st->self;
        if (st->n_succ == 0 && *n > 1) {
            snprintf(why, why_len, "%s has no successor", st->self.addr);
            rc = -EPROTO;
            break;
        }
        if (st->n_succ == 0 || chord_id_eq(&st->succ[0].id, &v[0].id))
            break; /* back at the start: complete */
        memcpy(at, st->succ[0].addr, sizeof at);
        rc = status_of(at, tls, deadline, st);
    }
    free(st);
    if (rc && !why[0])
        snprintf(why, why_len, "no status from %s (%s)", at,
                 now_ms() >= deadline ? "the walk's deadline passed"
                                      : strerror(-rc));
    return rc;
}

int dhtd_ring_view(const char *seed, const struct chord_tls_options *tls,
                   struct chord_peer **out, size_t *n, char *why,
                   size_t why_len)
{
    *out = NULL;
    *n = 0;
    why[0] = '\0';
    struct chord_tls *ctx = NULL;
    char terr[CHORD_TLS_ERR_MAX];
    if (chord_tls_options_enabled(tls) &&
        chord_tls_new(tls, false, terr, &ctx) != 0) {
        snprintf(why, why_len, "TLS: %s", terr);
        return -EINVAL;
    }
    struct chord_peer *v = malloc(DHTD_RING_VIEW_MAX * sizeof *v);
    int rc = v ? walk(seed, ctx, v, n, why, why_len) : -ENOMEM;
    chord_tls_free(ctx);
    if (rc) {
        free(v);
        *n = 0;
        if (!why[0])
            snprintf(why, why_len, "%s", strerror(-rc));
        return rc;
    }
    *out = v;
    return 0;
}
