/*
 * output.c - what `dht` prints: short ids, keys made safe for a terminal,
 * the JSON shapes of the CLI contract (DESIGN.md: lookup, status, ring)
 * and the text summaries of a node's status and of a ring walk.
 *
 * Invariants: JSON output is one document per line, plain ASCII (the
 * writer escapes every byte that is not printable; keys and values that
 * are not ASCII go as base64 with an "encoding" member); a key printed
 * for a human is either plain printable ASCII or an escaped, quoted
 * string. Errors and warnings are one line on stderr: "dht: MESSAGE", or
 * with --json {"error": MESSAGE, "exit": N} / {"warning": MESSAGE}.
 * Field names are never renamed (scripts rely on them); fields may only
 * be added. It does not talk to nodes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/addr.h"
#include "chord/buf.h"
#include "chord/durable.h"
#include "chord/id.h"
#include "common/exit.h"
#include "common/status_json.h"
#include "dht/dht.h"

/* The first DHT_SHORT_ID hex digits of an id. */
void dht_short_id(const struct chord_id *id, char out[DHT_SHORT_ID + 1])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(out, hex, DHT_SHORT_ID);
    out[DHT_SHORT_ID] = '\0';
}

/* Print a key for a human: as is when it is printable ASCII, else as an
 * escaped, quoted JSON string (so terminal control bytes never pass). */
void dht_print_key(FILE *f, const char *key, size_t len)
{
    bool plain = len > 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            plain = false;
    if (plain) {
        fwrite(key, 1, len, f);
        return;
    }
    struct chord_buf b;
    chord_buf_init(&b);
    if (chord_json_escape(&b, key, len) == 0)
        fwrite(b.data, 1, b.len, f);
    chord_buf_free(&b);
}

/* One line on stderr: "dht: MESSAGE" + tail, or as JSON {"error" or
 * "warning": MESSAGE, "exit": code (errors only)}. */
static void say(bool json, const char *member, int code, const char *tail,
                const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (!json) {
        fprintf(stderr, "dht: %s%s\n", msg, tail);
        return;
    }
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, member);
    chord_json_str(&j, msg);
    if (code >= 0) {
        chord_json_key(&j, "exit");
        chord_json_uint(&j, (uint64_t)code);
    }
    chord_json_obj_end(&j);
    if (chord_json_finish(&j) == 0)
        fprintf(stderr, "%s\n", j.out.data);
    else
        fprintf(stderr, "{\"error\": \"out of memory\", \"exit\": %d}\n", code);
    chord_json_free(&j);
}

int dht_fail(bool json, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(json, "error", code, "", fmt, ap);
    va_end(ap);
    return code;
}

int dht_usage(bool json, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(json, "error", CHORD_EXIT_USAGE, " (see dht --help)", fmt, ap);
    va_end(ap);
    return CHORD_EXIT_USAGE;
}

void dht_warn(bool json, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(json, "warning", -1, "", fmt, ap);
    va_end(ap);
}

int dht_not_found(const struct dht_opts *o, const struct dht_req *r)
{
    if (o->json) {
        struct chord_json j;
        dht_json_begin_keyed(&j, r);
        chord_json_key(&j, "error");
        chord_json_str(&j, "not found");
        chord_json_key(&j, "exit");
        chord_json_uint(&j, CHORD_EXIT_NOT_FOUND);
        chord_json_obj_end(&j);
        if (chord_json_finish(&j) == 0)
            fprintf(stderr, "%s\n", j.out.data);
        chord_json_free(&j);
        return CHORD_EXIT_NOT_FOUND;
    }
    fputs("dht: ", stderr);
    dht_print_key(stderr, r->key, r->key_len);
    fputs(": not found\n", stderr);
    return CHORD_EXIT_NOT_FOUND;
}

void dht_json_bytes(struct chord_json *j, const char *name,
                    const char *encoding_name, const void *data, size_t len)
{
    chord_json_key(j, name);
    if (chord_json_is_ascii(data, len)) {
        chord_json_strn(j, data, len);
        return;
    }
    chord_json_base64(j, data, len);
    chord_json_key(j, encoding_name);
    chord_json_str(j, "base64");
}

/* Finish a JSON document and write it with a newline. 0, or -1 after
 * printing why (only out of memory can fail here). */
static int json_emit(struct chord_json *j)
{
    int rc = chord_json_finish(j);
    if (rc) {
        dht_fail(true, CHORD_EXIT_FAILED, "cannot format JSON: %s",
                 strerror(-rc));
        return -1;
    }
    fwrite(j->out.data, 1, j->out.len, stdout);
    fputc('\n', stdout);
    return 0;
}

int dht_json_print(struct chord_json *j)
{
    int code = json_emit(j) ? CHORD_EXIT_FAILED : CHORD_EXIT_OK;
    chord_json_free(j);
    return code;
}

void dht_json_begin_keyed(struct chord_json *j, const struct dht_req *r)
{
    chord_json_init(j);
    chord_json_obj_begin(j);
    dht_json_bytes(j, "key", "key_encoding", r->key, r->key_len);
}

/* The human summary of one node's status. */
void dht_print_status(const struct chord_status *s)
{
    char id[DHT_SHORT_ID + 1];
    dht_short_id(&s->self.id, id);
    printf("node         %s (id %s) %s, %llu key%s\n", s->self.addr, id,
           chord_node_state_name(s->state), (unsigned long long)s->keys,
           s->keys == 1 ? "" : "s");
    printf("durability   %s%s\n", chord_durability_name(s->durability),
           s->durability == CHORD_DURABILITY_MEMORY
               ? " (no --data: nothing survives a restart)"
           : s->durability == CHORD_DURABILITY_NEVER
               ? " (logged, not fsynced: the OS flushes)"
               : " (acknowledged after fsync)");
    if (s->has_pred) {
        dht_short_id(&s->pred.id, id);
        printf("predecessor  %s (%s)\n", s->pred.addr, id);
    } else {
        printf("predecessor  none\n");
    }
    printf("successors  ");
    if (s->n_succ == 0)
        printf(" none");
    for (unsigned i = 0; i < s->n_succ && i < CHORD_SUCC_MAX; i++) {
        dht_short_id(&s->succ[i].id, id);
        printf("%s %s (%s)", i ? "," : "", s->succ[i].addr, id);
    }
    putchar('\n');

    /* Fingers: how many are set and how many distinct nodes they name. */
    unsigned distinct = 0;
    unsigned n_fingers =
        s->n_fingers < CHORD_ID_BITS ? s->n_fingers : CHORD_ID_BITS;
    for (unsigned i = 0; i < n_fingers; i++) {
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = chord_id_eq(&s->fingers[k].node.id, &s->fingers[i].node.id);
        if (!seen)
            distinct++;
    }
    printf("fingers      %u set, %u distinct node%s\n", n_fingers, distinct,
           distinct == 1 ? "" : "s");

    if (s->n_peers == 0)
        printf("peers        none\n");
    for (unsigned i = 0; i < s->n_peers && i < CHORD_PEERS_MAX; i++) {
        const struct chord_peer_info *p = &s->peers[i];
        printf("%s %-21s %-9s rtt %u ms, timeout %u ms, %u false "
               "suspicion%s\n",
               i ? "            " : "peers       ", p->addr,
               chord_peer_state_name(p->state), (unsigned)p->rtt_ms,
               (unsigned)p->timeout_ms, (unsigned)p->false_suspicions,
               p->false_suspicions == 1 ? "" : "s");
    }
}

/* Count a position under its process (the address before "#"). Out of
 * memory, the table stops growing: the walk itself goes on. */
static void ring_count(struct ring_out *w, const struct chord_status *s)
{
    char base[CHORD_ADDR_MAX];
    int vnode;
    if (chord_addr_vnode_split(s->self.addr, base, &vnode) != 0)
        snprintf(base, sizeof base, "%s", s->self.addr);
    if (vnode >= 0)
        w->vnodes = true;
    struct ring_proc *p = NULL;
    for (unsigned i = 0; i < w->n_procs && !p; i++)
        if (strcmp(w->procs[i].base, base) == 0)
            p = &w->procs[i];
    if (!p) {
        if (w->n_procs == w->cap_procs) {
            unsigned cap = w->cap_procs ? 2 * w->cap_procs : 16;
            struct ring_proc *np = realloc(w->procs, cap * sizeof *np);
            if (!np)
                return;
            w->procs = np;
            w->cap_procs = cap;
        }
        p = &w->procs[w->n_procs++];
        memset(p, 0, sizeof *p);
        snprintf(p->base, sizeof p->base, "%s", base);
    }
    p->positions++;
    p->keys += s->keys;
    p->primary += s->primary_keys;
}

/* Write one node of the walk. 0, or -1 if it could not be formatted. */
int dht_ring_emit(struct ring_out *w, const struct chord_status *s)
{
    if (w->json) {
        chord_json_reset(&w->j);
        chord_status_json(&w->j, s);
        int rc = chord_json_finish(&w->j);
        if (rc) {
            dht_fail(true, CHORD_EXIT_FAILED, "cannot format JSON: %s",
                     strerror(-rc));
            return -1;
        }
        fputs(w->n ? ",\n" : "[\n", stdout);
        fwrite(w->j.out.data, 1, w->j.out.len, stdout);
    } else {
        char id[DHT_SHORT_ID + 1];
        dht_short_id(&s->self.id, id);
        if (w->n == 0)
            printf("%-8s  %-21s  %-21s  %-21s  %s\n", "ID", "ADDR",
                   "PREDECESSOR", "SUCCESSOR", "KEYS");
        printf("%-8s  %-21s  %-21s  %-21s  %llu\n", id, s->self.addr,
               s->has_pred ? s->pred.addr : "-",
               s->n_succ ? s->succ[0].addr : "-", (unsigned long long)s->keys);
    }
    w->n++;
    ring_count(w, s);
    return 0;
}

void dht_ring_end(struct ring_out *w)
{
    if (w->json) {
        fputs(w->n ? "\n]\n" : "[]\n", stdout);
        return;
    }
    if (!w->vnodes) {
        printf("%u node%s\n", w->n, w->n == 1 ? "" : "s");
        return;
    }
    printf("%u positions on %u process%s\n\n", w->n, w->n_procs,
           w->n_procs == 1 ? "" : "es");
    printf("%-21s  %-9s  %-10s  %s\n", "PROCESS", "POSITIONS", "KEYS",
           "PRIMARY");
    for (unsigned i = 0; i < w->n_procs; i++)
        printf("%-21s  %-9u  %-10llu  %llu\n", w->procs[i].base,
               w->procs[i].positions, (unsigned long long)w->procs[i].keys,
               (unsigned long long)w->procs[i].primary);
}
