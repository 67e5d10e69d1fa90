/*
 * dump.c - `dht dump --output FILE`: every key of the ring, with its
 * version, into a dump file (common/dumpfile.h; docs/dump-format.md).
 *
 * The walk. The dump starts at the id of the first seed that answers
 * (c0) and goes once round the ring, clockwise, with a cursor `after`
 * (an id; first c0). Each step asks one node for the page after the
 * cursor (chord_client_scan): the node that owns the id after the cursor
 * answers with its range (lo, owner], the keys after the cursor in it
 * (as many as fit in a page), the id the page reaches, and its
 * successor. The cursor moves to that id; when the page ends the range,
 * the walk goes on at the successor. A node that does not own the id
 * after the cursor names one to ask instead (followed at once); a node
 * that cannot be reached, or says it does not serve now, is asked again
 * through the node before it (which then names the new owner) after a
 * pause. The walk ends when a page reaches c0; keys past c0 (a range that
 * grew over it while the walk went round) are left out, they were in the
 * first pages.
 *
 * Consistency. One page is what its owner held at one instant. A range
 * that fits in one page (about 1 MiB of keys by default) is therefore a
 * snapshot of that range; a larger one is several snapshots, one per
 * page. Because the cursor is a key id, every key that exists for the
 * whole dump is written exactly once, whatever joins, leaves or writes
 * happen meanwhile; a key written during the dump is there with its old
 * or its new version, one created or deleted during the dump may or may
 * not be. When a page shows that ownership moved (its range is not the
 * one the previous page of that range showed, or the owner redirects
 * mid-range), the walk counts it and simply goes on from the cursor at
 * the new owner: what was read before came from the owner of its time,
 * so there is nothing to redo. Pages read the owner's copy (the primary),
 * not a quorum.
 *
 * The file is written under FILE.partial-PID beside FILE, flushed to
 * disk and renamed to FILE only when the walk is complete: a failed dump
 * leaves no file that looks whole.
 *
 * It gives up when no page arrives for --timeout-ms (default 5 s) or the
 * walk takes more than DHT_DUMP_PAGES_MAX pages; one connect or page may
 * take a quarter of that (at least 200 ms), so that a frozen owner leaves
 * time to ask again once the ring has noticed.

 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chord/client.h"
#include "chord/id.h"
#include "common/clock.h"
#include "common/dumpfile.h"
#include "common/exit.h"
#include "common/json.h"
#include "common/progress.h"
#include "dht/dht.h"

#define DHT_DUMP_PAGE_BYTES 0          /* ask for the node's page size */
#define DHT_DUMP_PAGES_MAX 100000000ul /* a bound on any walk */
#define DHT_DUMP_REDIRECTS_MAX 64u     /* in a row, before a pause */
#define DHT_DUMP_PAUSE_MS 100          /* before asking again */
#define DHT_DUMP_REQUEST_SHARE 4       /* of --timeout-ms, per request */
#define DHT_DUMP_REQUEST_MIN_MS 200

/* The state of one walk. */
struct walk {
    const struct dht_opts *o;
    struct chord_dump_writer *w;
    struct chord_id c0;            /* where the lap starts and ends */
    struct chord_id after;         /* the cursor */
    char target[CHORD_ADDR_MAX];   /* the node asked next */
    char previous[CHORD_ADDR_MAX]; /* the node that named it */
    struct chord_client *c;        /* connected to c_addr, or NULL */
    char c_addr[CHORD_ADDR_MAX];
    /* the range the last page showed, to notice ownership moving */
    bool have_range;
    struct chord_peer range_owner;
    struct chord_id range_lo;
    uint64_t pages, ranges, moves, redirects, retries;
    int write_err;
    char why[CHORD_ERRMSG_MAX + 2 * CHORD_ADDR_MAX]; /* last failure */
    struct chord_progress progress;
};

static void copy_addr(char dst[CHORD_ADDR_MAX], const char *src)
{
    snprintf(dst, CHORD_ADDR_MAX, "%s", src);
}

/* One record of a page: keep it unless it lies past the end of the lap. */
static int on_record(void *arg, const struct chord_record *rec)
{
    struct walk *k = arg;
    struct chord_id kid;
    chord_id_hash(&kid, rec->key, rec->key_len);
    if (!chord_id_in_oc(&kid, &k->after, &k->c0))
        return 0;
    struct chord_dump_record dr = {*rec, 0}; /* no TTL in the store yet */
    int rc = chord_dump_write(k->w, &dr);
    if (rc)
        k->write_err = rc;
    return rc;
}

/* The time one connect or one page may take: a share of --timeout-ms,
 * so that a frozen node leaves time to ask another before the walk gives
 * up. */
static int request_ms(const struct walk *k)
{
    int ms = k->o->timeout_ms / DHT_DUMP_REQUEST_SHARE;
    return ms < DHT_DUMP_REQUEST_MIN_MS ? DHT_DUMP_REQUEST_MIN_MS : ms;
}

/* A client connected to `addr` (kept between pages of one node). */
static struct chord_client *client_for(struct walk *k, const char *addr,
                                       int *rc)
{
    if (k->c && strcmp(k->c_addr, addr) == 0)
        return k->c;
    chord_client_close(k->c);
    k->c = NULL;
    *rc = chord_client_connect(addr, request_ms(k), &k->c);
    if (*rc) {
        k->c = NULL;
        return NULL;
    }
    copy_addr(k->c_addr, addr);
    return k->c;
}

static void drop_client(struct walk *k)
{
    chord_client_close(k->c);
    k->c = NULL;
    k->c_addr[0] = '\0';
}

/* A page arrived: note the range, move the cursor. True when the lap is
 * complete. */
static bool page_done(struct walk *k, const struct chord_scan_page *pg)
{
    bool same_range = k->have_range &&
                      chord_id_eq(&k->range_lo, &pg->range_lo) &&
                      chord_id_eq(&k->range_owner.id, &pg->owner.id);
    bool mid_range =
        k->have_range && !chord_id_eq(&k->after, &k->range_owner.id);
    if (!same_range) {
        k->ranges++;
        if (mid_range)
            k->moves++; /* the range we were reading changed hands */
    }
    k->have_range = true;
    k->range_owner = pg->owner;
    k->range_lo = pg->range_lo;
    k->pages++;

    bool done = chord_id_in_oc(&k->c0, &k->after, &pg->range_hi);
    k->after = pg->range_hi;
    if (!done && chord_id_eq(&pg->range_hi, &pg->owner.id)) {
        copy_addr(k->previous, pg->owner.addr);
        copy_addr(k->target, pg->next.addr[0] ? pg->next.addr : pg->owner.addr);
    }
    return done;
}

/* Pick where to ask after a failure at k->target. */
static void fall_back(struct walk *k, size_t *seed_turn)
{
    drop_client(k);
    if (k->previous[0] && strcmp(k->previous, k->target) != 0) {
        copy_addr(k->target, k->previous);
    } else {
        copy_addr(k->target, k->o->seeds[*seed_turn % k->o->n_seeds]);
        (*seed_turn)++;
    }
    k->previous[0] = '\0';
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Walk the whole ring into k->w. 0, or an exit code after k->why is set
 * (a write error: k->write_err). */
static int walk_ring(struct walk *k)
{
    size_t seed_turn = 1;
    unsigned redirects_in_row = 0;
    uint64_t last_page = chord_mono_ms();
    for (;;) {
        if (k->pages >= DHT_DUMP_PAGES_MAX) {
            snprintf(k->why, sizeof(k->why), "the walk passed %lu pages",
                     DHT_DUMP_PAGES_MAX);
            return CHORD_EXIT_FAILED;
        }
        if (chord_mono_ms() - last_page > (uint64_t)k->o->timeout_ms) {
            char w[sizeof(k->why)];
            memcpy(w, k->why, sizeof(w));
            snprintf(k->why, sizeof(k->why),
                     "no progress for %d ms (last: %.250s)", k->o->timeout_ms,
                     w[0] ? w : "no answer");
            return CHORD_EXIT_FAILED;
        }
        int rc = 0;
        struct chord_client *c = client_for(k, k->target, &rc);
        struct chord_scan_page pg;
        if (c)
            rc = chord_client_scan(c, &k->after, DHT_DUMP_PAGE_BYTES, &pg,
                                   on_record, k);
        if (k->write_err)
            return CHORD_EXIT_FAILED;
        if (rc == 0) {
            last_page = chord_mono_ms();
            redirects_in_row = 0;
            if (page_done(k, &pg))
                return 0;
            chord_progress_update(&k->progress, chord_dump_writer_count(k->w));
            continue;
        }
        const char *hint = c ? chord_client_redirect(c) : NULL;
        if (rc == -EIO && hint && hint[0] &&
            redirects_in_row < DHT_DUMP_REDIRECTS_MAX) {
            /* Not the owner (or not serving): go where it says. */
            redirects_in_row++;
            k->redirects++;
            snprintf(k->why, sizeof(k->why), "%s: %s", k->target,
                     chord_client_error(c));
            copy_addr(k->previous, k->target);
            copy_addr(k->target, hint);
            if (k->have_range && !chord_id_eq(&k->after, &k->range_owner.id))
                k->moves++; /* redirected in the middle of a range */
            k->have_range = false;
            continue;
        }
        k->retries++;
        redirects_in_row = 0;
        if (rc == -EIO)
            snprintf(k->why, sizeof(k->why), "%s: %s", k->target,
                     chord_client_error(c));
        else
            snprintf(k->why, sizeof(k->why), "%s: %s", k->target,
                     rc == -EPROTO ? "sent an invalid page" : strerror(-rc));
        if (rc != -EIO)
            fall_back(k, &seed_turn);
        pause_ms(DHT_DUMP_PAUSE_MS);
    }
}

/* Flush f to disk and close it. 0 or -errno. */
static int close_synced(FILE *f)
{
    int rc = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* The summary line (or JSON object) of a finished dump. */
static int report(const struct walk *k, const char *path, uint64_t ms)
{
    uint64_t keys = chord_dump_writer_count(k->w);
    if (!k->o->json) {
        printf("dumped %llu keys from %llu ranges in %llu ms (%llu keys/s, "
               "%llu pages, %llu ownership moves seen) to %s\n",
               (unsigned long long)keys, (unsigned long long)k->ranges,
               (unsigned long long)ms,
               (unsigned long long)dht_keys_per_s(keys, ms),
               (unsigned long long)k->pages, (unsigned long long)k->moves,
               path);
        return CHORD_EXIT_OK;
    }
    struct chord_json j;
    dht_json_backup_begin(&j, path, keys, ms);
    chord_json_key(&j, "ranges");
    chord_json_uint(&j, k->ranges);
    chord_json_key(&j, "pages");
    chord_json_uint(&j, k->pages);
    chord_json_key(&j, "moves");
    chord_json_uint(&j, k->moves);
    chord_json_key(&j, "redirects");
    chord_json_uint(&j, k->redirects);
    chord_json_obj_end(&j);
    return dht_json_print(&j);
}

/* Find c0 (the id of the first seed that answers) and point the walk at
 * that seed. 0, or an exit code after printing why. */
static int walk_start(struct walk *k)
{
    struct chord_client *c = NULL;
    const char *used = NULL;
    if (dht_connect_seeds(k->o, &c, &used) != 0)
        return CHORD_EXIT_FAILED;
    struct chord_status *st = malloc(sizeof(*st));
    int rc = st ? chord_client_status(c, st) : -ENOMEM;
    if (rc == 0) {
        k->c0 = st->self.id;
        k->after = st->self.id;
        copy_addr(k->target, used);
        k->c = c;
        copy_addr(k->c_addr, used);
    } else {
        dht_fail(k->o->json, CHORD_EXIT_FAILED, "dump: %s: %s", used,
                 rc == -EIO ? chord_client_error(c) : strerror(-rc));
        chord_client_close(c);
    }
    free(st);
    return rc ? CHORD_EXIT_FAILED : 0;
}

int dht_cmd_dump(const struct dht_opts *o, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.partial-%ld", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return dht_usage(o->json, "dump: --output path is too long");
    struct walk *k = calloc(1, sizeof(*k));
    if (!k) {
        fputs("dht: out of memory\n", stderr);
        return CHORD_EXIT_FAILED;
    }
    k->o = o;
    int code = walk_start(k);
    if (code) {
        free(k);
        return code;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        dht_fail(o->json, CHORD_EXIT_FAILED, "dump: cannot create %s: %s", tmp,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        drop_client(k);
        free(k);
        return CHORD_EXIT_FAILED;
    }
    uint64_t t0 = chord_mono_ms();
    int rc = chord_dump_writer_open(f, (uint64_t)time(NULL) * 1000u, &k->w);
    chord_progress_start(&k->progress, "dump", 0, o->json);
    if (rc == 0)
        code = walk_ring(k);
    else
        k->write_err = rc;
    chord_progress_finish(&k->progress);
    if (code == 0 && !k->write_err)
        k->write_err = chord_dump_writer_finish(k->w);
    uint64_t ms = chord_mono_ms() - t0;
    int crc = close_synced(f);
    if (!k->write_err && crc)
        k->write_err = crc;
    if (code == 0 && !k->write_err && rename(tmp, path) != 0)
        k->write_err = -errno;
    if (k->write_err) {
        code = dht_fail(o->json, CHORD_EXIT_FAILED,
                        "dump: cannot write %s: %s; no dump written", path,
                        strerror(-k->write_err));
    } else if (code) {
        dht_fail(o->json, code, "dump: %s; no dump written", k->why);
    } else {
        code = report(k, path, ms);
    }
    if (code != CHORD_EXIT_OK)
        unlink(tmp);
    drop_client(k);
    chord_dump_writer_free(k->w);
    free(k);
    return code;
}
