/*
 * snapshot.c - dht-sim --snapshot FILE: the simulated ring's final state
 * written as `dht ring --json` writes a live one, so that dht-viz --input
 * draws either (a 10 000-node ring can be looked at without starting
 * 10 000 daemons).
 *
 * The file is a JSON array of status objects (common/status_json.h), one
 * per node that is up at the end, sorted by id, "[\n" OBJ ",\n" OBJ
 * "\n]\n" like `dht ring --json`. One documented difference keeps the
 * file small: of each run of consecutive fingers that name the same node
 * only the first is written (a live node lists all 160; at 10 000 nodes
 * that would be 20 KB a node).
 *
 * Invariants: the file is written to FILE.tmp and renamed over FILE, so
 * a reader never sees half a snapshot; the output is a function of the
 * run (same seed, same bytes). It only reads the simulation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/node.h"
#include "common/status_json.h"
#include "dht_sim.h"

struct snap_ref {
    struct chord_id id;
    int index;
};

static int cmp_ref(const void *a, const void *b)
{
    const struct snap_ref *x = a, *y = b;
    return chord_id_cmp(&x->id, &y->id);
}

/* Keep the first finger of each run naming the same node. */
static void compact_fingers(struct chord_status *s)
{
    unsigned n = s->n_fingers < CHORD_ID_BITS ? s->n_fingers : CHORD_ID_BITS;
    unsigned out = 0;
    for (unsigned i = 0; i < n; i++)
        if (out == 0 ||
            !chord_id_eq(&s->fingers[out - 1].node.id, &s->fingers[i].node.id))
            s->fingers[out++] = s->fingers[i];
    s->n_fingers = (uint8_t)out;
}

/* Write every node of refs to f. 0, or a negative errno. */
static int write_nodes(FILE *f, const struct sim_run *run,
                       const struct snap_ref *refs, size_t n)
{
    struct chord_status *st = malloc(sizeof *st);
    if (!st)
        return -ENOMEM;
    struct chord_json j;
    chord_json_init(&j);
    int rc = 0;
    fputs(n ? "[\n" : "[]\n", f);
    for (size_t k = 0; k < n && rc == 0; k++) {
        chord_node_status(chord_sim_node(run->sim, refs[k].index), st);
        compact_fingers(st);
        chord_json_reset(&j);
        chord_status_json(&j, st);
        rc = chord_json_finish(&j);
        if (rc == 0 && (fputs(k ? ",\n" : "", f) < 0 ||
                        fwrite(j.out.data, 1, j.out.len, f) != j.out.len))
            rc = -EIO;
    }
    if (rc == 0 && n && fputs("\n]\n", f) < 0)
        rc = -EIO;
    chord_json_free(&j);
    free(st);
    return rc;
}

/* FILE.tmp, the name written before the rename. NULL if out of memory. */
static char *tmp_name(const char *path)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (tmp) {
        memcpy(tmp, path, len);
        memcpy(tmp + len, ".tmp", 5);
    }
    return tmp;
}

int dsim_snapshot_probe(const char *path)
{
    char *tmp = tmp_name(path);
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    int err = f ? 0 : tmp ? errno : ENOMEM;
    if (f) {
        fclose(f);
        remove(tmp);
    }
    free(tmp);
    if (err)
        fprintf(stderr, "dht-sim: cannot write the snapshot %s: %s\n", path,
                strerror(err));
    return err ? -1 : 0;
}

int dsim_snapshot_write(const struct sim_run *run, const char *path)
{
    int total = chord_sim_count(run->sim);
    struct snap_ref *refs = calloc(total > 0 ? (size_t)total : 1, sizeof *refs);
    if (!refs) {
        fprintf(stderr, "dht-sim: --snapshot: out of memory\n");
        return -1;
    }
    size_t n = 0;
    for (int i = 0; i < total; i++)
        if (chord_sim_is_up(run->sim, i)) {
            refs[n].id = chord_sim_peer(run->sim, i)->id;
            refs[n++].index = i;
        }
    qsort(refs, n, sizeof *refs, cmp_ref);
    char *tmp = tmp_name(path);
    FILE *f = NULL;
    int rc = -ENOMEM;
    if (tmp) {
        f = fopen(tmp, "w");
        rc = f ? write_nodes(f, run, refs, n) : -errno;
    }
    if (f && fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        fprintf(stderr, "dht-sim: cannot write the snapshot %s: %s\n", path,
                strerror(-rc));
        if (f)
            remove(tmp);
    }
    free(tmp);
    free(refs);
    return rc ? -1 : 0;
}
