/*
 * peers_keeper.c - saving the known peers now and then, off the loop
 * (contract in peers_keeper.h).
 *
 * State: `saved` is the set last written (or read at start), `want` the
 * set last collected; both are kept sorted, so two collections of the same
 * peers in another order compare equal (the file itself keeps the order
 * the node gave, successors first). A save copies `want` into the job and
 * runs chord_peers_file_save() on the thread pool; its completion makes
 * the job's set `saved` when it succeeded and, if a flush came meanwhile
 * and the set still differs, starts the next save.
 *
 * Invariants: at most one save in flight, and only the job touches the
 * files while it runs (the loop reads only at start, before any job); the
 * disk is closed and the struct freed only when the timer is closed and
 * no job is in flight; after close no callback reaches the owner.
 *
 * It does not throttle flushes (the host calls it once, at a leave) and
 * does not retry a failed save other than at the next change.
 */
#include "io/peers_keeper.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"
#include "io/disk.h"
#include "io/peers_file.h"

struct peer_set {
    size_t n;
    char addr[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
};

struct save_work {
    uv_work_t req;
    struct chord_peers_keeper *k; /* only its disk is used off the loop */
    struct peer_set set;          /* in the node's order */
    int rc;
};
struct chord_peers_keeper {
    uv_loop_t *loop;
    struct chord_peers_keeper_cb cb;
    struct chord_disk disk;
    char path[CHORD_DISK_PATH_MAX + sizeof CHORD_PEERS_FILE_NAME];
    uv_timer_t timer;
    bool timer_open;        /* initialised and not yet closed */
    bool running;           /* a save is on the thread pool */
    bool pending;           /* a flush came while it ran */
    bool closing;           /* chord_peers_keeper_close() was called */
    int last_rc;            /* result of the last save, to log changes only */
    struct peer_set saved;  /* sorted */
    struct peer_set want;   /* sorted */
    struct peer_set latest; /* want, in the node's order */
    struct save_work work;
};

static void klog(struct chord_peers_keeper *k, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void klog(struct chord_peers_keeper *k, int level, const char *fmt, ...)
{
    if (!k->cb.log || k->closing)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    k->cb.log(k->cb.ctx, level, line);
}

static int addr_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* *sorted = *set, sorted. */
static void set_sorted(struct peer_set *sorted, const struct peer_set *set)
{
    *sorted = *set;
    qsort(sorted->addr, sorted->n, sizeof sorted->addr[0], addr_cmp);
}

static bool set_same(const struct peer_set *a, const struct peer_set *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->addr[i], b->addr[i]) != 0)
            return false;
    return true;
}

static void maybe_free(struct chord_peers_keeper *k)
{
    if (!k->closing || k->timer_open || k->running)
        return;
    chord_disk_posix_close(&k->disk);
    free(k);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct chord_peers_keeper *k = h->data;
    k->timer_open = false;
    maybe_free(k);
}

static void save_work_cb(uv_work_t *req)
{
    struct save_work *w = req->data;
    w->rc = chord_peers_file_save(&w->k->disk, w->set.addr, w->set.n);
}

static void save_after_cb(uv_work_t *req, int status);

/* Save `latest` on the thread pool. */
static void start_save(struct chord_peers_keeper *k)
{
    k->work.req.data = &k->work;
    k->work.k = k;
    k->work.set = k->latest;
    int rc = uv_queue_work(k->loop, &k->work.req, save_work_cb, save_after_cb);
    if (rc) {
        klog(k, CHORD_LOG_WARN, "cannot save the known peers to %s: %s",
             k->path, uv_strerror(rc));
        return;
    }
    k->running = true;
}

static void save_after_cb(uv_work_t *req, int status)
{
    struct save_work *w = req->data;
    struct chord_peers_keeper *k = w->k;
    k->running = false;
    int rc = status ? status : w->rc;
    if (rc == 0) {
        set_sorted(&k->saved, &w->set);
        if (k->last_rc)
            klog(k, CHORD_LOG_INFO, "saved the known peers to %s again",
                 k->path);
        else
            klog(k, CHORD_LOG_DEBUG, "saved %zu known peers to %s", w->set.n,
                 k->path);
    } else if (rc != k->last_rc) {
        klog(k, CHORD_LOG_WARN,
             "cannot save the known peers to %s: %s (the old list stays; "
             "tried again at the next change)",
             k->path, strerror(-rc));
    }
    k->last_rc = rc;
    if (k->pending) {
        k->pending = false;
        if (!set_same(&k->want, &k->saved))
            start_save(k);
    }
    maybe_free(k);
}

/* Collect the known peers; save them when they differ from the list on
 * disk (after the save in flight, if any). */
static void check(struct chord_peers_keeper *k, bool flush)
{
    if (k->closing)
        return;
    struct peer_set now;
    now.n = k->cb.collect(k->cb.ctx, now.addr, CHORD_PEERS_FILE_MAX);
    size_t kept = 0;
    for (size_t i = 0; i < now.n; i++) /* the file takes host:port only */
        if (chord_peers_file_addr_ok(now.addr[i]))
            memmove(now.addr[kept++], now.addr[i], CHORD_ADDR_MAX);
    now.n = kept;
    if (now.n == 0)
        return; /* never replace a list by nothing */
    k->latest = now;
    set_sorted(&k->want, &now);
    if (set_same(&k->want, &k->saved))
        return;
    if (k->running) {
        k->pending = k->pending || flush;
        return;
    }
    start_save(k);
}

static void on_timer(uv_timer_t *t)
{
    check(t->data, false);
}

int chord_peers_keeper_open(uv_loop_t *loop, const char *dir,
                            const struct chord_peers_keeper_cb *cb,
                            struct chord_peers_keeper **out)
{
    struct chord_peers_keeper *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    int rc = chord_disk_posix_open(dir, &k->disk);
    if (rc) {
        free(k);
        return rc;
    }
    rc = uv_timer_init(loop, &k->timer);
    if (rc) {
        chord_disk_posix_close(&k->disk);
        free(k);
        return rc;
    }
    k->timer.data = k;
    k->timer_open = true;
    k->loop = loop;
    k->cb = *cb;
    snprintf(k->path, sizeof k->path, "%s/%s", dir, CHORD_PEERS_FILE_NAME);
    *out = k;
    return 0;
}

const char *chord_peers_keeper_path(const struct chord_peers_keeper *k)
{
    return k->path;
}

size_t chord_peers_keeper_load(struct chord_peers_keeper *k,
                               char (*out)[CHORD_ADDR_MAX], size_t max)
{
    struct peer_set got;
    char why[CHORD_PEERS_FILE_ERR_MAX];
    int rc = chord_peers_file_load(&k->disk, got.addr, CHORD_PEERS_FILE_MAX,
                                   &got.n, why);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        klog(k, CHORD_LOG_WARN, "ignoring the list of known peers %s: %s",
             k->path, why);
        return 0;
    }
    set_sorted(&k->saved, &got);
    size_t n = got.n < max ? got.n : max;
    memcpy(out, got.addr, n * sizeof got.addr[0]);
    return n;
}

int chord_peers_keeper_start(struct chord_peers_keeper *k)
{
    return uv_timer_start(&k->timer, on_timer, CHORD_PEERS_KEEP_FIRST_MS,
                          CHORD_PEERS_KEEP_MS);
}

void chord_peers_keeper_flush(struct chord_peers_keeper *k)
{
    check(k, true);
}

void chord_peers_keeper_close(struct chord_peers_keeper *k)
{
    if (!k || k->closing)
        return;
    k->closing = true;
    uv_close((uv_handle_t *)&k->timer, on_timer_closed);
}
