/*
 * bench_ring.c - where the load generator's requests go: the targets (a
 * node's id, address and socket address), the ring walk that learns every
 * node before a `direct` run, the owner of a key on that map, and the
 * refresh of the map between two operations after a redirect.
 *
 * The walk uses the blocking client (C_STATUS, like `dht ring`), one short
 * connection per node, before the loop runs or between two operations;
 * the owner of a key is found by binary search in the map sorted by id.
 *
 * Invariant: targets[0..ring_n) are the ring's nodes in increasing id
 * order and targets[ring_n] is the seed; each client's socket to a target
 * sits at the target's index. It does not send requests.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/client.h"
#include "dht/bench_internal.h"

int bench_target_set(struct target *t, const struct chord_id *id,
                     const char *addr)
{
    char host[CHORD_ADDR_MAX];
    uint16_t port;
    if (chord_addr_parse(addr, host, &port) != 0)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    /* Resolved once, before the load starts (a name blocks here). */
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    memset(&t->sa, 0, sizeof t->sa);
    memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (id)
        t->id = *id;
    snprintf(t->addr, sizeof(t->addr), "%s", addr);
    return 0;
}

static int target_cmp(const void *a, const void *b)
{
    return chord_id_cmp(&((const struct target *)a)->id,
                        &((const struct target *)b)->id);
}

/* Ask `addr` for its status with the blocking client. 0 or a negative
 * errno with the reason in err. */
int bench_fetch_status(const char *addr, int timeout_ms,
                       struct chord_status *st, char err[CHORD_BENCH_ERR_MAX])
{
    struct chord_client *c = NULL;
    int rc = chord_client_connect(addr, timeout_ms, &c);
    if (rc == 0)
        rc = chord_client_status(c, st);
    if (rc)
        bench_set_err(err, "cannot get the status of %s: %s", addr,
                      rc == -EIO ? chord_client_error(c) : strerror(-rc));
    chord_client_close(c);
    return rc;
}

/*
 * Learn the ring from the seed: walk successor pointers until back at the
 * start (or a repeat, or CHORD_BENCH_RING_MAX nodes), then sort by id.
 * From each node the walk goes to its first successor that answers, so a
 * crashed node the ring has not repaired yet is stepped over. Fills *out
 * (malloc'd, ring nodes followed by one spare entry for the seed) and *n.
 * 0 or a negative errno with err set.
 */
int bench_ring_learn(const char *seed, struct target **out, unsigned *n,
                     char err[CHORD_BENCH_ERR_MAX])
{
    struct chord_status *st = calloc(2, sizeof(*st));
    struct target *t = calloc(CHORD_BENCH_RING_MAX + 1, sizeof(*t));
    int rc = -ENOMEM;
    unsigned count = 0;
    if (!st || !t) {
        bench_set_err(err, "out of memory");
        goto fail;
    }
    rc = bench_fetch_status(seed, BENCH_WALK_TIMEOUT_MS, &st[0], err);
    if (rc)
        goto fail;
    struct chord_id start = st[0].self.id;
    struct chord_status *cur = &st[0], *next = &st[1];
    for (;;) {
        for (unsigned i = 0; i < count; i++) {
            if (chord_id_eq(&t[i].id, &cur->self.id)) {
                bench_set_err(err,
                              "ring walk: %s repeats before returning to the "
                              "start",
                              cur->self.addr);
                rc = -EPROTO;
                goto fail;
            }
        }
        if (count == CHORD_BENCH_RING_MAX) {
            bench_set_err(err, "ring walk: more than %u nodes",
                          CHORD_BENCH_RING_MAX);
            rc = -E2BIG;
            goto fail;
        }
        rc = bench_target_set(&t[count], &cur->self.id, cur->self.addr);
        if (rc) {
            bench_set_err(err, "ring walk: a node names itself '%s'",
                          cur->self.addr);
            goto fail;
        }
        count++;
        /* The first successor that answers; done when it is the start. */
        bool done = cur->n_succ == 0, moved = false;
        unsigned n_succ =
            cur->n_succ < CHORD_SUCC_MAX ? cur->n_succ : CHORD_SUCC_MAX;
        for (unsigned i = 0; i < n_succ && !done && !moved; i++) {
            if (chord_id_eq(&cur->succ[i].id, &start))
                done = true;
            else if (bench_fetch_status(cur->succ[i].addr,
                                        BENCH_WALK_TIMEOUT_MS, next,
                                        err) == 0) {
                if (chord_id_eq(&next->self.id, &start))
                    done = true; /* it calls itself the start: same node */
                else
                    moved = true;
            }
        }
        if (done)
            break;
        if (!moved) {
            rc = -EHOSTUNREACH; /* err names the last successor tried */
            goto fail;
        }
        struct chord_status *tmp = cur;
        cur = next;
        next = tmp;
    }
    qsort(t, count, sizeof(*t), target_cmp);
    free(st);
    *out = t;
    *n = count;
    return 0;
fail:
    free(st);
    free(t);
    return rc;
}

/* The index of the ring node owning key id k: the first id >= k, else the
 * first node (wrap-around). ring_n > 0. */
unsigned bench_ring_owner(const struct bench *b, const struct chord_id *k)
{
    unsigned lo = 0, hi = b->ring_n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (chord_id_cmp(&b->targets[mid].id, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == b->ring_n ? 0 : lo;
}

/* Re-learn the ring between two operations after a redirect, keeping the
 * sockets to nodes that are still there. On failure the old map stays. */
void bench_ring_refresh(struct bench *b)
{
    b->ring_stale = false;
    /* Send what is queued before sockets change places (nothing should
     * be: every request of the operation has finished). */
    for (size_t i = 0; i < b->n_dirty; i++) {
        b->dirty[i]->dirty = false;
        bench_sock_flush(b->dirty[i]);
    }
    b->n_dirty = 0;
    char err[CHORD_BENCH_ERR_MAX];
    struct target *nt = NULL;
    unsigned nn = 0;
    if (bench_ring_learn(b->targets[b->seed_target].addr, &nt, &nn, err) != 0) {
        bench_note_error(b, "%s", err);
        return;
    }
    size_t need = (size_t)b->n_clients * (nn + 1);
    struct bench_sock **nv = calloc(need, sizeof(*nv));
    struct bench_sock **nd = calloc(2 * need, sizeof(*nd));
    if (!nv || !nd || need > CHORD_BENCH_CONNS_MAX) {
        bench_note_error(b, "cannot refresh the ring map (%u nodes)", nn);
        free(nv);
        free(nd);
        free(nt);
        return;
    }
    nt[nn] = b->targets[b->seed_target];
    for (unsigned c = 0; c < b->n_clients; c++) {
        struct bench_client *cl = &b->clients[c];
        struct bench_sock **ns = &nv[(size_t)c * (nn + 1)];
        for (unsigned t = 0; t < b->n_targets; t++) {
            struct bench_sock *s = cl->socks[t];
            if (!s)
                continue;
            unsigned to = nn; /* the seed keeps its place at the end */
            if (t != b->seed_target) {
                for (to = 0; to < nn; to++)
                    if (strcmp(nt[to].addr, b->targets[t].addr) == 0)
                        break;
            }
            if (to < nn || t == b->seed_target) {
                s->target = to;
                ns[to] = s;
                cl->socks[t] = NULL;
            }
        }
        for (unsigned t = 0; t < b->n_targets; t++)
            if (cl->socks[t])
                bench_sock_close(
                    cl->socks[t]); /* a node no longer in the ring */
        cl->socks = ns;
    }
    free(b->sockv);
    free(b->dirty);
    free(b->targets);
    b->sockv = nv;
    b->dirty = nd;
    b->dirty_cap = 2 * need;
    b->targets = nt;
    b->ring_n = nn;
    b->n_targets = nn + 1;
    b->seed_target = nn;
    b->rep->ring_nodes = nn;
}
