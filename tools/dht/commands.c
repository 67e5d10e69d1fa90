/*
 * commands.c - the `dht` commands: put, get, del, append, lookup, status
 * and ring, each run through a session over the seeds (chord/session.h: the
 * next seed on a refusal, a timeout or a node that does not serve now, a
 * redirect followed, --timeout-ms the whole budget), and the choice of
 * the seed `bench` starts from.
 *
 * `ring` walks successor pointers (successors[0])
 * from the contacted node, one short connection per node, and stops when
 * it is back at the start, when a node repeats, after DHT_RING_MAX nodes,
 * or at the first node it cannot reach (with a warning); its output is
 * streamed node by node, so its memory does not grow with the ring.
 *
 * get reads all the key's values and its context (chord_session_read):
 * one value prints as ever, several exit 6 with a line saying how many,
 * unless --all (length-prefixed values) or --json (the document of
 * common/read_json.h, printed for a missing key too) shows them. put and
 * del take their --context, --if-context, --if-absent and --ttl through
 * chord_session_put_opts / chord_session_del_opts.
 *
 * Every command returns an exit code of common/exit.h and says what went
 * wrong in one line on stderr (naming every node tried when none served;
 * a write refused by its fence exits 4 with the node's line).
 * It caches nothing (the session token is the library's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/client.h"
#include "chord/id.h"
#include "chord/session.h"
#include "common/exit.h"
#include "common/json.h"
#include "common/read_json.h"
#include "dht/dht.h"

/*
 * Connect to the first reachable seed. On success returns 0 with *out set
 * and *used naming the seed. Otherwise prints the "cannot reach the ring"
 * line and returns -1.
 */
int dht_connect_seeds(const struct dht_opts *o, struct chord_client **out,
                      const char **used)
{
    int rc = 0;
    for (size_t i = 0; i < o->n_seeds; i++) {
        rc = chord_client_connect(o->seeds[i], o->timeout_ms, out);
        if (rc == 0) {
            *used = o->seeds[i];
            chord_client_set_consistency(*out, o->bench.consistency);
            return 0;
        }
    }
    char tried[DHT_SEEDS_MAX * (CHORD_ADDR_MAX + 2)];
    size_t n = 0;
    tried[0] = '\0';
    for (size_t i = 0; i < o->n_seeds && n < sizeof(tried); i++)
        n += (size_t)snprintf(tried + n, sizeof(tried) - n, "%s%s",
                              i ? ", " : "", o->seeds[i]);
    if (rc == -ECONNABORTED || rc == -EPROTONOSUPPORT)
        dht_fail(o->json, CHORD_EXIT_FAILED,
                 "cannot reach the ring (tried %s; last: %s)", tried,
                 chord_client_tls_error());
    else
        dht_fail(o->json, CHORD_EXIT_FAILED, "cannot reach the ring (tried %s)",
                 tried);
    return -1;
}

int dht_report_failure(const struct dht_opts *o, const char *what,
                       const struct chord_session *s, int rc)
{
    const char *why = chord_session_error(s);
    if (rc == -EINVAL && o->context_arg)
        return dht_usage(o->json,
                         "%s: %s is not a context (want the \"context\" of "
                         "get --json)",
                         what, o->if_context ? "--if-context" : "--context");
    int code = CHORD_EXIT_FAILED;
    if (rc == -EPERM || rc == -ECANCELED)
        code = CHORD_EXIT_PRECONDITION;
    else if (rc == -ETIME)
        code = CHORD_EXIT_TIMEOUT;
    else if (rc == -ENOTUNIQ)
        code = CHORD_EXIT_SIBLINGS;
    return dht_fail(o->json, code, "%s: %s", what, *why ? why : strerror(-rc));
}

/* The options of a put or del (NULL when none was given). */
static const struct chord_write_opts *write_opts(const struct dht_opts *o,
                                                 const struct dht_req *r,
                                                 struct chord_write_opts *w)
{
    if (!o->causal_opt)
        return NULL;
    *w = (struct chord_write_opts){.if_context = o->if_context,
                                   .if_absent = o->if_absent,
                                   .ttl_s = o->ttl_s};
    if (o->context_arg) {
        w->context = r->context;
        w->context_len = r->context_len;
    }
    return w;
}

/* put, del and append with --json: {"key": KEY, "ok": true} on stdout. */
static int print_done(const struct dht_opts *o, const struct dht_req *r)
{
    if (!o->json)
        return CHORD_EXIT_OK;
    struct chord_json j;
    dht_json_begin_keyed(&j, r);
    chord_json_key(&j, "ok");
    chord_json_bool(&j, true);
    chord_json_obj_end(&j);
    return dht_json_print(&j);
}

int dht_cmd_put(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r)
{
    struct chord_write_opts w;
    int rc = chord_session_put_opts(s, r->key, r->key_len, r->value,
                                    r->value_len, write_opts(o, r, &w));
    if (rc)
        return dht_report_failure(o, "put", s, rc);
    return print_done(o, r);
}

int dht_cmd_append(struct chord_session *s, const struct dht_opts *o,
                   const struct dht_req *r)
{
    int rc =
        chord_session_append(s, r->key, r->key_len, r->value, r->value_len);
    if (rc)
        return dht_report_failure(o, "append", s, rc);
    return print_done(o, r);
}

/* Wall-clock milliseconds since the epoch (a value's TTL). */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int dht_cmd_get(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r)
{
    struct chord_read rd;
    int rc = chord_session_read(s, r->key, r->key_len, &rd);
    if (rc && rc != -ENOENT)
        return dht_report_failure(o, "get", s, rc);
    if (o->json) {
        /* The document, values or none, with the context to write. */
        struct chord_json j;
        chord_read_json(&j, r->key, r->key_len, &rd, wall_ms());
        int code = dht_json_print(&j);
        if (rc == -ENOENT && code == CHORD_EXIT_OK)
            code = dht_not_found(o, r);
        return code;
    }
    if (rc == -ENOENT)
        return dht_not_found(o, r);
    if (o->all) {
        if (chord_read_print_all(stdout, &rd) != 0)
            return CHORD_EXIT_FAILED; /* main() says why */
        return CHORD_EXIT_OK;
    }
    if (rd.n_values > 1) {
        fputs("dht: ", stderr);
        dht_print_key(stderr, r->key, r->key_len);
        fprintf(stderr,
                " has %u values (siblings): see them with --all or --json; "
                "a put with --context resolves them\n",
                rd.n_values);
        return CHORD_EXIT_SIBLINGS;
    }
    fwrite(rd.values[0].data, 1, rd.values[0].len, stdout);
    return CHORD_EXIT_OK;
}

int dht_cmd_del(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r)
{
    struct chord_write_opts w;
    int rc =
        chord_session_del_opts(s, r->key, r->key_len, write_opts(o, r, &w));
    if (rc == -ENOENT)
        return dht_not_found(o, r);
    if (rc)
        return dht_report_failure(o, "del", s, rc);
    return print_done(o, r);
}

int dht_cmd_lookup(struct chord_session *s, const struct dht_opts *o,
                   const struct dht_req *r)
{
    struct chord_lookup_result *res = calloc(1, sizeof(*res));
    if (!res) {
        return dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
    }
    int rc = chord_session_lookup(s, r->key, r->key_len, res);
    if (rc) {
        free(res);
        return dht_report_failure(o, "lookup", s, rc);
    }
    unsigned n_path =
        res->path.n < CHORD_PATH_MAX ? res->path.n : CHORD_PATH_MAX;
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        dht_json_begin_keyed(&j, r);
        chord_json_key(&j, "key_id");
        chord_json_id(&j, &res->key_id);
        chord_json_key(&j, "owner");
        chord_status_json_peer(&j, &res->owner);
        chord_json_key(&j, "path");
        chord_json_arr_begin(&j);
        for (unsigned i = 0; i < n_path; i++)
            chord_json_str(&j, res->path.addr[i]);
        chord_json_arr_end(&j);
        chord_json_key(&j, "hops");
        chord_json_uint(&j, res->hops);
        chord_json_obj_end(&j);
        code = dht_json_print(&j);
    } else {
        char kid[DHT_SHORT_ID + 1], oid[DHT_SHORT_ID + 1];
        dht_short_id(&res->key_id, kid);
        dht_short_id(&res->owner.id, oid);
        dht_print_key(stdout, r->key, r->key_len);
        printf(" (id %s) is owned by %s (id %s), %u hop%s:", kid,
               res->owner.addr, oid, (unsigned)res->hops,
               res->hops == 1 ? "" : "s");
        for (unsigned i = 0; i < n_path; i++)
            printf("%s%s", i ? " -> " : " ", res->path.addr[i]);
        putchar('\n');
    }
    free(res);
    return code;
}

int dht_cmd_status(struct chord_session *ses, const struct dht_opts *o,
                   const struct dht_req *r)
{
    (void)r;
    struct chord_status *s = calloc(1, sizeof(*s));
    if (!s) {
        return dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
    }
    int rc = chord_session_status(ses, s);
    if (rc) {
        free(s);
        return dht_report_failure(o, "status", ses, rc);
    }
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        chord_json_init(&j);
        chord_status_json(&j, s);
        code = dht_json_print(&j);
    } else {
        dht_print_status(s);
    }
    free(s);
    return code;
}

static bool id_seen(const struct chord_id *ids, unsigned n,
                    const struct chord_id *id)
{
    for (unsigned i = 0; i < n; i++)
        if (chord_id_eq(&ids[i], id))
            return true;
    return false;
}

int dht_cmd_ring(struct chord_session *ses, const struct dht_opts *o,
                 const struct dht_req *r)
{
    (void)r;
    struct chord_status *s = calloc(1, sizeof(*s));
    struct chord_id *seen = calloc(DHT_RING_MAX, sizeof(*seen));
    struct ring_out w = {.json = o->json};
    chord_json_init(&w.j);
    int code = CHORD_EXIT_OK;
    if (!s || !seen) {
        code = dht_fail(o->json, CHORD_EXIT_FAILED, "out of memory");
        goto out;
    }
    int rc = chord_session_status(ses, s);
    if (rc) {
        code = dht_report_failure(o, "ring", ses, rc);
        goto out;
    }
    struct chord_id start = s->self.id;
    unsigned n_seen = 0;
    for (;;) {
        if (dht_ring_emit(&w, s)) {
            code = CHORD_EXIT_FAILED;
            break;
        }
        seen[n_seen++] = s->self.id;
        if (s->n_succ == 0) {
            /* The start node alone is a ring of one; anywhere else a node
             * without successors is a broken ring. */
            if (n_seen > 1)
                dht_warn(o->json, "ring walk stopped: %s has no successor",
                         s->self.addr);
            break;
        }
        struct chord_peer next = s->succ[0];
        if (chord_id_eq(&next.id, &start))
            break; /* back at the start: the walk is complete */
        if (id_seen(seen, n_seen, &next.id)) {
            dht_warn(o->json,
                     "ring walk stopped: %s repeats before the walk "
                     "returns to the start",
                     next.addr);
            break;
        }
        if (n_seen >= DHT_RING_MAX) {
            dht_warn(o->json, "ring walk stopped after %u nodes", DHT_RING_MAX);
            break;
        }
        struct chord_client *nc = NULL;
        rc = chord_client_connect(next.addr, o->timeout_ms, &nc);
        if (rc == 0)
            rc = chord_client_status(nc, s);
        if (rc) {
            dht_warn(o->json,
                     "ring walk stopped: cannot get the status of %s "
                     "(%s)",
                     next.addr,
                     rc == -EIO ? chord_client_error(nc) : strerror(-rc));
            chord_client_close(nc);
            break;
        }
        chord_client_close(nc);
        /* A node may name itself differently from what its predecessor
         * believes; what matters for the walk is the id it reports. */
        if (chord_id_eq(&s->self.id, &start))
            break;
        if (id_seen(seen, n_seen, &s->self.id)) {
            dht_warn(o->json,
                     "ring walk stopped: %s repeats before the walk "
                     "returns to the start",
                     s->self.addr);
            break;
        }
    }
    dht_ring_end(&w);
out:
    chord_json_free(&w.j);
    free(w.procs);
    free(seen);
    free(s);
    return code;
}
