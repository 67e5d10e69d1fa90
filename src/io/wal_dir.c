/*
 * wal_dir.c - the directory of a log: the names of its files, listing
 * them, the list of segments a log holds, and the messages that name
 * them (formats in wal.h).
 *
 * A segment is "wal-<16 hex of its first seq>.log", a snapshot
 * "snap-<16 hex seq>.dat"; a name is parsed exactly (lower-case hex, no
 * more, no less), so a file someone left beside the log is never taken
 * for a part of it. Temporaries ("wal-*.tmp", "snap-*.tmp") are listed so
 * that recovery can delete them; everything else in the directory (the
 * lock, "*.damaged") is not the log's to touch. Every list has a cap
 * (CHORD_WAL_FILES_MAX) and grows by doubling.
 *
 * It reads the directory, never a file, and decides nothing: recovery
 * (wal_recover.c) says what to keep.
 */
#include "io/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/wal_shared.h"

/* ---- file names ---------------------------------------------------------- */

void chord_wal_segment_name(uint64_t first, char out[CHORD_DISK_NAME_MAX])
{
    snprintf(out, CHORD_DISK_NAME_MAX, "wal-%016" PRIx64 ".log", first);
}

void chord_wal_snapshot_name(uint64_t seq, char out[CHORD_DISK_NAME_MAX])
{
    snprintf(out, CHORD_DISK_NAME_MAX, "snap-%016" PRIx64 ".dat", seq);
}

/* Parse "<prefix><16 lower-case hex><suffix>" exactly: 0 and *seq, or -1. */
int chord__wal_parse_name(const char *name, const char *prefix,
                          const char *suffix, uint64_t *seq)
{
    size_t np = strlen(prefix), ns = strlen(suffix);
    if (strlen(name) != np + 16 + ns || strncmp(name, prefix, np) != 0 ||
        strcmp(name + np + 16, suffix) != 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = np; i < np + 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return 0;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

/* "<name><suffix>" into out; -ENAMETOOLONG if it does not fit. */
int chord__wal_name_with(char out[CHORD_DISK_NAME_MAX], const char *name,
                         const char *suffix)
{
    int n = snprintf(out, CHORD_DISK_NAME_MAX, "%s%s", name, suffix);
    return n < 0 || (size_t)n >= CHORD_DISK_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* ---- messages ------------------------------------------------------------ */

void chord__wal_note_set(char *note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, CHORD_WAL_NOTE_MAX, fmt, ap);
    va_end(ap);
}

/* Append "; <text>" (or just the text to an empty note), cut to fit. */
void chord__wal_note_add(char *note, const char *fmt, ...)
{
    size_t n = strlen(note);
    if (n && n + 2 < CHORD_WAL_NOTE_MAX) {
        memcpy(note + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= CHORD_WAL_NOTE_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + n, CHORD_WAL_NOTE_MAX - n, fmt, ap);
    va_end(ap);
}

const char *chord__wal_dpath(const struct chord_disk *d)
{
    return d->path(d->ctx);
}

/* Room for one more element in arr (*cap elements of esz bytes, n used),
 * doubling from `first`: the array (maybe moved), or NULL without memory
 * (arr is then left as it was). */
static void *grow(void *arr, size_t *cap, size_t n, size_t esz, size_t first)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(arr, ncap * esz);
    if (p)
        *cap = ncap;
    return p;
}

/* ---- the segment list --------------------------------------------------- */

/* Append a segment to segs[] (kept sorted by the callers). */
int chord__wal_segs_push(struct chord_wal *w, uint64_t first, const char *name)
{
    if (w->n_segs >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    struct wal_seg *v = grow(w->segs, &w->cap_segs, w->n_segs, sizeof *v, 16);
    if (!v)
        return -ENOMEM;
    w->segs = v;
    w->segs[w->n_segs].first = first;
    snprintf(w->segs[w->n_segs].name, CHORD_DISK_NAME_MAX, "%s", name);
    w->n_segs++;
    return 0;
}

/* ---- listing ------------------------------------------------------------ */

static int collect_file(void *arg, const char *name)
{
    struct wal_dir_list *l = arg;
    struct wal_dir_file f;
    memset(&f, 0, sizeof f);
    if (chord__wal_parse_name(name, "wal-", ".log", &f.seq) == 0)
        f.kind = WAL_FILE_SEG;
    else if (chord__wal_parse_name(name, "snap-", ".dat", &f.seq) == 0)
        f.kind = WAL_FILE_SNAP;
    else if ((strncmp(name, "wal-", 4) == 0 ||
              strncmp(name, "snap-", 5) == 0) &&
             has_suffix(name, SUFFIX_TMP))
        f.kind = WAL_FILE_TMP;
    else
        return 0; /* the lock, *.damaged, anything else: not ours to touch */
    if (l->n >= CHORD_WAL_FILES_MAX)
        return -EMFILE;
    struct wal_dir_file *v = grow(l->v, &l->cap, l->n, sizeof *v, 32);
    if (!v)
        return -ENOMEM;
    l->v = v;
    snprintf(f.name, sizeof f.name, "%s", name);
    l->v[l->n++] = f;
    return 0;
}

static int dir_file_cmp(const void *a, const void *b)
{
    const struct wal_dir_file *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int chord__wal_dir_list(const struct chord_disk *disk, struct wal_dir_list *l)
{
    int rc = disk->list(disk->ctx, collect_file, l);
    if (rc == 0 && l->n)
        qsort(l->v, l->n, sizeof *l->v, dir_file_cmp);
    return rc;
}
