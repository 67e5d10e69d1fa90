/*
 * hub.c - what dht-viz --serve's crawler thread hands its HTTP threads:
 * the full snapshot (JSON), the last VIZ_HUB_LOG updates with their
 * sequence numbers, and a table of nodes and successors for lookups.
 *
 * Invariants: every field is read and written under `mu`; the crawler
 * (one thread) is the only writer; a reader copies what it needs and
 * works on the copy after unlocking, so no HTTP thread holds the mutex
 * while it writes to a socket or waits for a node. Update `seq` lives in
 * log[(seq - 1) % VIZ_HUB_LOG] while it is among the last VIZ_HUB_LOG. A
 * reader that falls further behind gets the snapshot again. The snapshot
 * and the update that led to it are replaced together, so a new reader
 * never misses nor repeats an update.
 *
 * It does not build the JSON (feed.c) nor speak HTTP (serve.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/client.h"
#include "chord/id.h"
#include "common/json.h"
#include "live.h"

int viz_hub_init(struct viz_hub *h, const char *seed, int timeout_ms)
{
    memset(h, 0, sizeof *h);
    snprintf(h->seed, sizeof h->seed, "%s", seed);
    h->timeout_ms = timeout_ms;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca))
        return -ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc)
        return -rc;
    rc = pthread_mutex_init(&h->mu, NULL);
    if (rc) {
        pthread_cond_destroy(&h->cv);
        return -rc;
    }
    return 0;
}

void viz_hub_free(struct viz_hub *h)
{
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->snapshot);
    for (unsigned i = 0; i < VIZ_HUB_LOG; i++)
        free(h->log[i]);
    free(h->table);
    memset(h, 0, sizeof *h);
}

void viz_hub_commit(struct viz_hub *h, char *json, struct viz_hub_node *table,
                    unsigned n, unsigned replicas, char *update)
{
    pthread_mutex_lock(&h->mu);
    free(h->snapshot);
    h->snapshot = json;
    free(h->table);
    h->table = table;
    h->n_table = n;
    h->replicas = replicas;
    if (update) {
        unsigned slot = (unsigned)(h->seq % VIZ_HUB_LOG);
        free(h->log[slot]);
        h->log[slot] = update;
        h->seq++;
    }
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void viz_hub_stop(struct viz_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* "event: NAME\ndata: JSON\n\n", malloc'd, or NULL. */
static char *sse(const char *name, const char *json)
{
    size_t n = strlen(name) + strlen(json) + 32;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "event: %s\ndata: %s\n\n", name, json);
    return s;
}

int viz_hub_next(struct viz_hub *h, uint64_t *seq, char **out)
{
    *out = NULL;
    pthread_mutex_lock(&h->mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += VIZ_KEEPALIVE_S;
    for (;;) {
        if (h->stop) {
            pthread_mutex_unlock(&h->mu);
            return 1;
        }
        /* *seq is the next update the reader wants; update k is in
         * log[(k - 1) % VIZ_HUB_LOG] while k > h->seq - VIZ_HUB_LOG. */
        bool fresh =
            *seq == 0 || (h->seq >= *seq && h->seq - *seq >= VIZ_HUB_LOG);
        if (fresh && h->snapshot) {
            *out = sse("snapshot", h->snapshot);
            /* The snapshot already holds updates up to h->seq. */
            *seq = h->seq + 1;
            break;
        }
        if (!fresh && *seq <= h->seq) {
            *out = sse("update", h->log[(*seq - 1) % VIZ_HUB_LOG]);
            (*seq)++;
            break;
        }
        if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT) {
            *out = strdup(": keepalive\n\n");
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return *out ? 0 : -ENOMEM;
}

char *viz_hub_snapshot(struct viz_hub *h)
{
    pthread_mutex_lock(&h->mu);
    char *s = h->snapshot ? strdup(h->snapshot) : NULL;
    pthread_mutex_unlock(&h->mu);
    return s;
}

/* An answering node to ask (the seed when none is known), and the
 * replica set of the node at `owner`: itself and its successors, up to
 * `replicas` in all. Under the mutex. */
static void pick_contact(struct viz_hub *h, char contact[CHORD_ADDR_MAX])
{
    snprintf(contact, CHORD_ADDR_MAX, "%s", h->seed);
    for (unsigned i = 0; i < h->n_table; i++)
        if (h->table[i].answered) {
            memcpy(contact, h->table[i].addr, CHORD_ADDR_MAX);
            return;
        }
}

static void replica_set(struct viz_hub *h, const char *owner,
                        struct chord_json *j)
{
    chord_json_arr_begin(j);
    chord_json_str(j, owner);
    for (unsigned i = 0; i < h->n_table; i++) {
        const struct viz_hub_node *t = &h->table[i];
        if (strcmp(t->addr, owner) != 0)
            continue;
        for (unsigned k = 0; k < t->n_succ && k + 1 < h->replicas; k++)
            if (strcmp(t->succ[k], owner) != 0)
                chord_json_str(j, t->succ[k]);
        break;
    }
    chord_json_arr_end(j);
}

/* Why a lookup failed, for the page (strerror is not thread-safe). */
static const char *why(int rc)
{
    switch (rc) {
    case -ETIMEDOUT:
        return "no answer in time";
    case -ECONNREFUSED:
        return "connection refused";
    case -EHOSTUNREACH:
        return "host unreachable";
    case -ENOMEM:
        return "out of memory";
    case -EPROTO:
        return "the node answered with something that is not a reply";
    default:
        return "the ring cannot be reached";
    }
}

char *viz_hub_lookup(struct viz_hub *h, const char *key, size_t key_len)
{
    char contact[CHORD_ADDR_MAX];
    int timeout_ms;
    pthread_mutex_lock(&h->mu);
    pick_contact(h, contact);
    timeout_ms = h->timeout_ms;
    pthread_mutex_unlock(&h->mu);

    struct chord_lookup_result *res = calloc(1, sizeof *res);
    struct chord_client *c = NULL;
    int rc = res ? chord_client_connect(contact, timeout_ms * 4, &c) : -ENOMEM;
    if (rc == 0)
        rc = chord_client_lookup(c, key, key_len, res);
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "key");
    chord_json_strn(&j, key, key_len);
    chord_json_key(&j, "via");
    chord_json_str(&j, contact);
    if (rc == 0) {
        chord_json_key(&j, "key_id");
        chord_json_id(&j, &res->key_id);
        chord_json_key(&j, "owner");
        res->owner.addr[CHORD_ADDR_MAX - 1] = '\0';
        chord_json_str(&j, res->owner.addr);
        chord_json_key(&j, "hops");
        chord_json_uint(&j, res->hops);
        chord_json_key(&j, "path");
        chord_json_arr_begin(&j);
        for (unsigned i = 0; i < res->path.n && i < CHORD_PATH_MAX; i++) {
            res->path.addr[i][CHORD_ADDR_MAX - 1] = '\0';
            chord_json_str(&j, res->path.addr[i]);
        }
        chord_json_arr_end(&j);
        chord_json_key(&j, "replicas");
        pthread_mutex_lock(&h->mu);
        replica_set(h, res->owner.addr, &j);
        pthread_mutex_unlock(&h->mu);
    } else {
        chord_json_key(&j, "error");
        chord_json_str(&j, rc == -EIO ? chord_client_error(c) : why(rc));
    }
    chord_json_obj_end(&j);
    chord_client_close(c);
    free(res);
    if (chord_json_finish(&j)) {
        chord_json_free(&j);
        return NULL;
    }
    return (char *)j.out.data; /* the writer's buffer, NUL-terminated */
}
