/*
 * load.c - `dht load FILE`: write the keys of a dump back into a ring,
 * each with the version it was dumped with; and the command-line entry
 * of dump and load (dht_cmd_backup).
 *
 * First the whole file is read and checked (every block's checksum and
 * length, the record count in the end block, no expiry set: the store
 * has no TTL to keep one), so a damaged, truncated or newer-version file
 * is refused before anything is written, with the byte offset at fault.
 * Then the file is read again and each record is sent as a restore
 * (chord_session_restore, through the seeds with failover): the owner
 * keeps whichever of its copy and the record is newer. So loading a file
 * twice changes nothing the second time, and a key written in the ring
 * after the dump is not overwritten by its older copy. A restore the ring
 * refuses stops the load with the count written so far (every record
 * before it is in the ring; running load again finishes the job).
 *
 * Restores go DHT_LOAD_STREAMS at a time (one session each, over the
 * same seeds), records dealt round-robin, so the load is not one round
 * trip per key. All of them through one coordinator is on purpose: on one
 * host, streams spread over several nodes went at half the rate (a busy
 * coordinator batches its writes); sending each key straight to its owner
 * would save a hop and is not done yet.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/session.h"
#include "common/clock.h"
#include "common/dumpfile.h"
#include "common/exit.h"
#include "common/json.h"
#include "common/progress.h"
#include "dht/dht.h"

#define DHT_LOAD_STREAMS 8u /* concurrent restore sessions */
#define DHT_LOAD_BATCH 256u /* records handed to the streams at a time */

/* One stream: a session and its share of the current batch. */
struct stream {
    struct chord_session *s;
    const struct chord_dump_record *recs; /* the batch */
    size_t n, first, step;                /* records first, first+step... */
    int rc;                               /* first failure, 0 if none */
    char why[CHORD_ERRMSG_MAX];
};

static void *stream_run(void *arg)
{
    struct stream *st = arg;
    for (size_t i = st->first; i < st->n && st->rc == 0; i += st->step) {
        int rc = chord_session_restore(st->s, &st->recs[i].r);
        if (rc) {
            st->rc = rc;
            snprintf(st->why, sizeof(st->why), "%s",
                     chord_session_error(st->s)[0] ? chord_session_error(st->s)
                                                   : strerror(-rc));
        }
    }
    return NULL;
}

/* Records of a batch: copied out of the reader (it reuses its block). */
struct batch {
    struct chord_dump_record recs[DHT_LOAD_BATCH];
    uint8_t *bytes[DHT_LOAD_BATCH];
    size_t n;
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->bytes[i]);
    b->n = 0;
}

static int batch_add(struct batch *b, const struct chord_dump_record *rec)
{
    size_t len = rec->r.key_len + rec->r.value_len;
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, rec->r.key, rec->r.key_len);
    if (rec->r.value_len)
        memcpy(p + rec->r.key_len, rec->r.value, rec->r.value_len);
    b->recs[b->n] = *rec;
    b->recs[b->n].r.key = p;
    b->recs[b->n].r.value = p + rec->r.key_len;
    b->bytes[b->n++] = p;
    return 0;
}

/* Send one batch through the streams. 0, or the first failure (its text
 * in why). */
static int batch_send(struct stream *sts, unsigned n_st, struct batch *b,
                      char *why, size_t why_len)
{
    pthread_t th[DHT_LOAD_STREAMS];
    bool started[DHT_LOAD_STREAMS] = {false};
    for (unsigned i = 0; i < n_st; i++) {
        sts[i].recs = b->recs;
        sts[i].n = b->n;
        sts[i].first = i;
        sts[i].step = n_st;
        started[i] =
            i > 0 && pthread_create(&th[i], NULL, stream_run, &sts[i]) == 0;
    }
    stream_run(&sts[0]);
    for (unsigned i = 1; i < n_st; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            stream_run(&sts[i]); /* no thread: do its share here */
    }
    for (unsigned i = 0; i < n_st; i++)
        if (sts[i].rc) {
            snprintf(why, why_len, "%s", sts[i].why);
            return sts[i].rc;
        }
    return 0;
}

/* Check the whole file. 0 with *count set, or an exit code after saying
 * why nothing was loaded. */
static int verify(bool json, FILE *f, const char *path, uint64_t *count)
{
    char err[CHORD_DUMP_ERR_MAX];
    struct chord_dump_reader *r = NULL;
    if (chord_dump_reader_open(f, &r, err, sizeof(err)) != 0) {
        return dht_fail(json, CHORD_EXIT_USAGE,
                        "load: %s: %s; nothing was loaded", path, err);
    }
    struct chord_dump_record rec;
    int rc;
    while ((rc = chord_dump_read(r, &rec)) == 1) {
        if (rec.expires_ms != 0) {
            dht_fail(json, CHORD_EXIT_USAGE,
                     "load: %s: record %llu has an expiry, and this "
                     "ring keeps no TTLs; nothing was loaded",
                     path, (unsigned long long)chord_dump_reader_count(r));
            chord_dump_reader_free(r);
            return CHORD_EXIT_USAGE;
        }
    }
    if (rc < 0) {
        int code = rc == -EIO ? CHORD_EXIT_FAILED : CHORD_EXIT_USAGE;
        dht_fail(json, code, "load: %s: %s; nothing was loaded", path,
                 chord_dump_reader_error(r));
        chord_dump_reader_free(r);
        return code;
    }
    *count = chord_dump_reader_count(r);
    chord_dump_reader_free(r);
    return 0;
}

static int report(const struct dht_opts *o, const char *path, uint64_t n,
                  uint64_t ms)
{
    if (!o->json) {
        printf("loaded %llu keys from %s in %llu ms (%llu keys/s)\n",
               (unsigned long long)n, path, (unsigned long long)ms,
               (unsigned long long)dht_keys_per_s(n, ms));
        return CHORD_EXIT_OK;
    }
    struct chord_json j;
    dht_json_backup_begin(&j, path, n, ms);
    chord_json_obj_end(&j);
    return dht_json_print(&j);
}

/* Write every record of f (checked already) back. */
static int load_records(const struct dht_opts *o, FILE *f, const char *path,
                        uint64_t total, struct stream *sts, struct batch *b)
{
    char err[CHORD_DUMP_ERR_MAX], why[CHORD_ERRMSG_MAX] = "";
    struct chord_dump_reader *r = NULL;
    if (chord_dump_reader_open(f, &r, err, sizeof(err)) != 0) {
        return dht_fail(o->json, CHORD_EXIT_FAILED,
                        "load: %s: %s; nothing was loaded", path, err);
    }
    struct chord_progress pr;
    chord_progress_start(&pr, "load", total, o->json);
    uint64_t t0 = chord_mono_ms(), done = 0;
    struct chord_dump_record rec;
    int rc = 0, more = 0;
    while (rc == 0 && (more = chord_dump_read(r, &rec)) == 1) {
        rc = batch_add(b, &rec);
        if (rc == 0 && b->n == DHT_LOAD_BATCH) {
            rc = batch_send(sts, DHT_LOAD_STREAMS, b, why, sizeof(why));
            done += rc ? 0 : b->n;
            batch_clear(b);
            chord_progress_update(&pr, done);
        }
    }
    if (rc == 0 && more < 0) {
        rc = more; /* the file changed since it was checked */
        snprintf(why, sizeof(why), "%s", chord_dump_reader_error(r));
    }
    if (rc == 0 && b->n) {
        rc = batch_send(sts, DHT_LOAD_STREAMS, b, why, sizeof(why));
        done += rc ? 0 : b->n;
    }
    batch_clear(b);
    chord_progress_update(&pr, done);
    chord_progress_finish(&pr);
    chord_dump_reader_free(r);
    if (rc) {
        dht_fail(o->json, CHORD_EXIT_FAILED,
                 "load: stopped after %llu of %llu keys: %s (load "
                 "again to finish: it is idempotent)",
                 (unsigned long long)done, (unsigned long long)total,
                 why[0] ? why : strerror(-rc));
        return CHORD_EXIT_FAILED;
    }
    return report(o, path, done, chord_mono_ms() - t0);
}

int dht_cmd_load(const struct dht_opts *o, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return dht_fail(o->json, CHORD_EXIT_USAGE, "load: cannot open %s: %s",
                        path, strerror(errno));
    }
    uint64_t total = 0;
    int code = verify(o->json, f, path, &total);
    if (code == 0 && fseek(f, 0, SEEK_SET) != 0) {
        code =
            dht_fail(o->json, CHORD_EXIT_FAILED,
                     "load: cannot read %s again: %s", path, strerror(errno));
    }
    struct stream *sts = NULL;
    struct batch *b = NULL;
    if (code == 0) {
        sts = calloc(DHT_LOAD_STREAMS, sizeof(*sts));
        b = calloc(1, sizeof(*b));
        for (unsigned i = 0; sts && i < DHT_LOAD_STREAMS; i++) {
            if (chord_session_open(o->seeds, o->n_seeds, o->timeout_ms,
                                   &sts[i].s) != 0)
                break;
            chord_session_set_consistency(sts[i].s, o->bench.consistency);
        }
        if (!sts || !b || !sts[DHT_LOAD_STREAMS - 1].s) {
            fputs("dht: out of memory\n", stderr);
            code = CHORD_EXIT_FAILED;
        }
    }
    if (code == 0)
        code = load_records(o, f, path, total, sts, b);
    for (unsigned i = 0; sts && i < DHT_LOAD_STREAMS; i++)
        chord_session_close(sts[i].s);
    free(sts);
    free(b);
    fclose(f);
    return code;
}

int dht_cmd_backup(const struct dht_opts *o, const char *name, char **args,
                   int n_args)
{
    if (o->bench_opt)
        return dht_usage(o->json, "option %s is only for bench", o->bench_opt);
    if (strcmp(name, "dump") == 0) {
        if (n_args > 0)
            return dht_usage(o->json, "dump: too many arguments");
        if (!o->output || !o->output[0])
            return dht_usage(o->json, "dump needs --output FILE");
        return dht_cmd_dump(o, o->output);
    }
    if (n_args < 1)
        return dht_usage(o->json, "load: missing argument FILE");
    if (n_args > 1)
        return dht_usage(o->json, "load: too many arguments");
    return dht_cmd_load(o, args[0]);
}
