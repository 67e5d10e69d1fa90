/*
 * input.c - --input mode: fill the model from a file holding what `dht
 * ring --json` prints or what `dht-sim --snapshot` writes (a JSON array
 * of status objects, tools/common/status_json.h), so a ring that was
 * crawled earlier, or a simulated one of 10 000 nodes, can be drawn.
 *
 * Each object becomes an answering node, as if the crawl had read its
 * status; then the ghosts, the index and the health are made as after a
 * crawl (viz_crawl_health). Unknown fields are skipped, so a superset of
 * the shape is read too; a missing id or address, a bad id, a repeated
 * id or more than VIZ_NODES_MAX nodes is refused with FILE:LINE:COLUMN.
 *
 * Invariants: the file is read whole, at most VIZ_INPUT_MAX bytes; every
 * string is cut to its field's size. It contacts nobody.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/jread.h"
#include "viz.h"

/* The whole file in a NUL-terminated buffer. 0, -ENOMEM, or -EINVAL
 * after printing why. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "dht-viz: cannot read %s: %s\n", path, strerror(errno));
        return -EINVAL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (n == cap) {
            if (cap >= VIZ_INPUT_MAX) {
                fprintf(stderr, "dht-viz: %s is over %u bytes\n", path,
                        VIZ_INPUT_MAX);
                rc = -EINVAL;
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "dht-viz: cannot read %s: %s\n", path,
                        strerror(errno));
                rc = -EINVAL;
            }
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* A {"id", "addr"} object into p. */
static int read_peer(struct chord_jread *j, struct chord_peer *p)
{
    char key[32], hex[CHORD_ID_HEX_LEN + 2];
    bool have_id = false;
    memset(p, 0, sizeof *p);
    if (chord_jread_obj_begin(j))
        return j->err;
    while (chord_jread_obj_next(j, key, sizeof key)) {
        if (strcmp(key, "id") == 0) {
            if (chord_jread_str(j, hex, sizeof hex) == 0 &&
                chord_id_from_hex(&p->id, hex))
                return chord_jread_fail(j, "an id is not 40 hex digits");
            have_id = true;
        } else if (strcmp(key, "addr") == 0)
            chord_jread_str(j, p->addr, sizeof p->addr);
        else
            chord_jread_skip(j);
    }
    if (!j->err && (!have_id || !p->addr[0]))
        return chord_jread_fail(j, "a peer without an id or an address");
    return j->err;
}

/* An array of peers into out (at most max kept); the count in *n. */
static void read_peers(struct chord_jread *j, struct chord_peer *out,
                       unsigned max, uint8_t *n)
{
    *n = 0;
    if (chord_jread_arr_begin(j))
        return;
    while (chord_jread_arr_next(j)) {
        struct chord_peer p;
        if (read_peer(j, &p))
            return;
        if (*n < max)
            out[(*n)++] = p;
    }
}

/* The index of name in names[0..n), or -1. */
static int name_index(const char *name, const char *(*name_of)(int), int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, name_of(i)) == 0)
            return i;
    return -1;
}

static void read_fingers(struct chord_jread *j, struct chord_status *s)
{
    char key[32], hex[CHORD_ID_HEX_LEN + 2];
    s->n_fingers = 0;
    if (chord_jread_arr_begin(j))
        return;
    while (chord_jread_arr_next(j)) {
        struct chord_finger_info f;
        memset(&f, 0, sizeof f);
        if (chord_jread_obj_begin(j))
            return;
        while (chord_jread_obj_next(j, key, sizeof key)) {
            struct chord_id *id = strcmp(key, "start") == 0 ? &f.start
                                  : strcmp(key, "id") == 0  ? &f.node.id
                                                            : NULL;
            if (id) {
                if (chord_jread_str(j, hex, sizeof hex) == 0 &&
                    chord_id_from_hex(id, hex)) {
                    chord_jread_fail(j, "a finger id is not 40 hex digits");
                    return;
                }
            } else if (strcmp(key, "addr") == 0)
                chord_jread_str(j, f.node.addr, sizeof f.node.addr);
            else
                chord_jread_skip(j);
        }
        if (s->n_fingers < CHORD_ID_BITS)
            s->fingers[s->n_fingers++] = f;
    }
}

static void read_peer_infos(struct chord_jread *j, struct chord_status *s)
{
    char key[32], state[16];
    uint64_t v;
    s->n_peers = 0;
    if (chord_jread_arr_begin(j))
        return;
    while (chord_jread_arr_next(j)) {
        struct chord_peer_info p;
        memset(&p, 0, sizeof p);
        if (chord_jread_obj_begin(j))
            return;
        while (chord_jread_obj_next(j, key, sizeof key)) {
            if (strcmp(key, "addr") == 0)
                chord_jread_str(j, p.addr, sizeof p.addr);
            else if (strcmp(key, "state") == 0) {
                if (chord_jread_str(j, state, sizeof state) == 0) {
                    int k = name_index(state, chord_peer_state_name, 3);
                    if (k < 0) {
                        chord_jread_fail(j, "unknown peer state");
                        return;
                    }
                    p.state = (uint8_t)k;
                }
            } else if (strcmp(key, "rtt_ms") == 0 &&
                       chord_jread_uint(j, UINT32_MAX, &v) == 0)
                p.rtt_ms = (uint32_t)v;
            else if (strcmp(key, "timeout_ms") == 0 &&
                     chord_jread_uint(j, UINT32_MAX, &v) == 0)
                p.timeout_ms = (uint32_t)v;
            else if (strcmp(key, "false_suspicions") == 0 &&
                     chord_jread_uint(j, UINT32_MAX, &v) == 0)
                p.false_suspicions = (uint32_t)v;
            else if (!j->err && strcmp(key, "rtt_ms") != 0 &&
                     strcmp(key, "timeout_ms") != 0 &&
                     strcmp(key, "false_suspicions") != 0)
                chord_jread_skip(j);
        }
        if (s->n_peers < CHORD_PEERS_MAX)
            s->peers[s->n_peers++] = p;
    }
}

/* One status object into s. */
static int read_status(struct chord_jread *j, struct chord_status *s)
{
    char key[32], hex[CHORD_ID_HEX_LEN + 2], state[16];
    bool have_id = false;
    uint64_t v;
    memset(s, 0, sizeof *s);
    s->state = CHORD_NODE_ACTIVE;
    if (chord_jread_obj_begin(j))
        return j->err;
    while (chord_jread_obj_next(j, key, sizeof key)) {
        if (strcmp(key, "id") == 0) {
            if (chord_jread_str(j, hex, sizeof hex) == 0 &&
                chord_id_from_hex(&s->self.id, hex))
                return chord_jread_fail(j, "the id is not 40 hex digits");
            have_id = true;
        } else if (strcmp(key, "addr") == 0)
            chord_jread_str(j, s->self.addr, sizeof s->self.addr);
        else if (strcmp(key, "state") == 0) {
            if (chord_jread_str(j, state, sizeof state) == 0) {
                int k = name_index(state, chord_node_state_name, 6);
                if (k < 0)
                    return chord_jread_fail(j, "unknown node state");
                s->state = (uint8_t)k;
            }
        } else if (strcmp(key, "predecessor") == 0) {
            s->has_pred = !chord_jread_null(j);
            if (s->has_pred)
                read_peer(j, &s->pred);
        } else if (strcmp(key, "successors") == 0)
            read_peers(j, s->succ, CHORD_SUCC_MAX, &s->n_succ);
        else if (strcmp(key, "fingers") == 0)
            read_fingers(j, s);
        else if (strcmp(key, "peers") == 0)
            read_peer_infos(j, s);
        else if (strcmp(key, "keys") == 0 &&
                 chord_jread_uint(j, UINT64_MAX, &v) == 0)
            s->keys = v;
        else if (strcmp(key, "primary_keys") == 0 &&
                 chord_jread_uint(j, UINT64_MAX, &v) == 0)
            s->primary_keys = v;
        else if (strcmp(key, "replicas") == 0 &&
                 chord_jread_uint(j, CHORD_SUCC_MAX + 1, &v) == 0)
            s->replicas = (uint8_t)v;
        else if (!j->err && strcmp(key, "keys") != 0 &&
                 strcmp(key, "primary_keys") != 0 &&
                 strcmp(key, "replicas") != 0)
            chord_jread_skip(j);
    }
    if (!j->err && (!have_id || !s->self.addr[0]))
        return chord_jread_fail(j, "a node without an id or an address");
    return j->err;
}

/* Parse the array into r. 0, -ENOMEM or -EINVAL (recorded in j). */
static int read_ring(struct chord_jread *j, struct viz_ring *r)
{
    struct chord_status *st = malloc(sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = chord_jread_arr_begin(j);
    while (rc == 0 && chord_jread_arr_next(j)) {
        rc = read_status(j, st);
        if (rc)
            break;
        if (r->n >= VIZ_NODES_MAX) {
            rc = chord_jread_fail(j, "more nodes than dht-viz draws");
            break;
        }
        struct viz_node *n = viz_ring_add(r, &st->self);
        if (!n || viz_node_from_status(n, st)) {
            rc = -ENOMEM;
            break;
        }
    }
    if (rc == 0)
        rc = chord_jread_end(j);
    free(st);
    return rc ? rc : j->err;
}

int viz_input_load(struct viz_ring *r, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);
    if (rc)
        return rc;
    struct chord_jread j;
    chord_jread_init(&j, text, len);
    rc = read_ring(&j, r);
    if (rc == -EINVAL || (rc == 0 && j.err)) {
        char msg[160];
        chord_jread_error(&j, msg, sizeof msg);
        fprintf(stderr, "dht-viz: %s:%s\n", path, msg);
        rc = -EINVAL;
    }
    free(text);
    if (rc)
        return rc;
    if (r->n == 0) {
        fprintf(stderr, "dht-viz: %s: no node in the snapshot\n", path);
        return -EINVAL;
    }
    rc = viz_crawl_health(r);
    if (rc)
        return rc;
    for (unsigned i = 0; i + 1 < r->n; i++)
        if (chord_id_eq(&r->nodes[i].self.id, &r->nodes[i + 1].self.id)) {
            fprintf(stderr, "dht-viz: %s: two nodes have the id of %s\n", path,
                    r->nodes[i].self.addr);
            return -EINVAL;
        }
    struct stat sb;
    if (stat(path, &sb) == 0) {
        struct tm tm;
        gmtime_r(&sb.st_mtime, &tm);
        strftime(r->when, sizeof r->when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    return 0;
}
