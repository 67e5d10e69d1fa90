/*
 * lock.c - `dht lock`: acquire, renew, append, release and status of a
 * lock of the ring (chord/lock.h), through a session (chord/session.h:
 * chord_lock_*, each call with its request id and failover).
 *
 *   dht lock acquire NAME [--lease-ms MS] [--wait-ms MS]   prints a token
 *   dht lock renew NAME TOKEN
 *   dht lock append NAME TOKEN KEY VALUE   (VALUE '-' reads stdin)
 *   dht lock release NAME TOKEN
 *   dht lock status NAME
 *
 * A token is "<32 hex digits>:<fence>" (the holder's client id and the
 * fence of its grant), as acquire prints it; a malformed one is a usage
 * error. Exit codes: 0 done; 2 usage; 3 the ring failed or cannot be
 * reached; 4 not the holder (the node's line); 5 acquire not granted
 * within --wait-ms (the place in the queue is given up).
 *
 * Output: acquire prints the token (with --json {"name", "token",
 * "client", "fence"}); renew, append and release print nothing (with
 * --json {"name", "ok": true}); status prints the state as lines, or as
 * {"name", "held", "holder", "fence", "lease_left_ms", "lease_ms",
 * "releasing", "queued": [{"key", "value"}...], "waiters": [...]}, keys
 * and values that are not ASCII as base64 with "key_encoding" /
 * "encoding": "base64" (as get prints them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/lock.h"
#include "chord/session.h"
#include "common/exit.h"
#include "common/json.h"
#include "dht/dht.h"

static const struct {
    const char *name;
    enum dht_lock_sub sub;
    int n_args; /* after the subcommand, VALUE included */
    bool token;
} subs[] = {
    {"acquire", DHT_LOCK_ACQUIRE, 1, false},
    {"renew", DHT_LOCK_RENEW, 2, true},
    {"append", DHT_LOCK_APPEND, 4, true},
    {"release", DHT_LOCK_RELEASE, 2, true},
    {"status", DHT_LOCK_STATUS, 1, false},
};

int dht_lock_parse(const struct dht_opts *o, char **args, int n_args,
                   struct dht_req *r, const char **value_arg)
{
    *value_arg = NULL;
    if (n_args < 1)
        return dht_usage(o->json, "lock: missing subcommand (acquire, renew, "
                                  "append, release or status)");
    size_t k = 0, n_subs = sizeof(subs) / sizeof(subs[0]);
    while (k < n_subs && strcmp(args[0], subs[k].name) != 0)
        k++;
    if (k == n_subs)
        return dht_usage(o->json, "lock: unknown subcommand '%s'", args[0]);
    const char *sub = subs[k].name;
    if (n_args - 1 < subs[k].n_args)
        return dht_usage(o->json, "lock %s: missing argument", sub);
    if (n_args - 1 > subs[k].n_args)
        return dht_usage(o->json, "lock %s: too many arguments", sub);
    if (o->lock_opt && subs[k].sub != DHT_LOCK_ACQUIRE)
        return dht_usage(o->json, "option %s is only for lock acquire",
                         o->lock_opt);
    r->lock_sub = subs[k].sub;
    r->lock_name = args[1];
    size_t len = strlen(args[1]);
    if (len == 0 || len > CHORD_LOCK_NAME_MAX)
        return dht_usage(o->json, "lock %s: the name must be 1 to %u bytes",
                         sub, CHORD_LOCK_NAME_MAX);
    if (subs[k].token && chord_lock_token_parse(args[2], &r->token) != 0)
        return dht_usage(o->json,
                         "lock %s: bad token '%.*s' (want 32 hex digits, "
                         "':', a fence number above 0, as lock acquire "
                         "prints)",
                         sub, CHORD_LOCK_TOKEN_MAX, args[2]);
    if (r->lock_sub != DHT_LOCK_APPEND)
        return 0;
    r->key = args[3];
    r->key_len = strlen(args[3]);
    if (r->key_len == 0)
        return dht_usage(o->json, "lock append: the key is empty");
    if (r->key_len > CHORD_KEY_MAX)
        return dht_fail(o->json, CHORD_EXIT_USAGE,
                        "key is %zu bytes, the limit is %u", r->key_len,
                        CHORD_KEY_MAX);
    *value_arg = args[4];
    return 0;
}

/* Start a JSON document: an object whose first member is the lock's
 * name. */
static void json_begin_named(struct chord_json *j, const char *name)
{
    chord_json_init(j);
    chord_json_obj_begin(j);
    dht_json_bytes(j, "name", "name_encoding", name, strlen(name));
}

/* A client id as 32 lowercase hex digits. */
static void client_hex(const uint8_t *id,
                       char out[2 * CHORD_CLIENT_ID_BYTES + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < CHORD_CLIENT_ID_BYTES; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 0xf];
    }
    out[2 * CHORD_CLIENT_ID_BYTES] = '\0';
}

/* A failed lock call: as dht_report_failure, and an answer without the
 * lock state it should carry (-EPROTO from lock.c, no text) said so. */
static int lock_failure(const struct dht_opts *o, const char *what,
                        const struct chord_session *s, int rc)
{
    if (rc == -EPROTO && !*chord_session_error(s))
        return dht_fail(o->json, CHORD_EXIT_FAILED,
                        "%s: the ring's answer carries no lock state this "
                        "client can read (do its nodes support locks?)",
                        what);
    return dht_report_failure(o, what, s, rc);
}

static int cmd_acquire(struct chord_session *s, const struct dht_opts *o,
                       const struct dht_req *r)
{
    struct chord_lock_token t;
    int rc = chord_lock_acquire(s, r->lock_name, o->lease_ms, o->wait_ms, &t);
    if (rc == -ETIME)
        return dht_fail(o->json, CHORD_EXIT_TIMEOUT,
                        "lock acquire: %s not granted within %d ms (left "
                        "the queue)",
                        r->lock_name, o->wait_ms);
    if (rc)
        return lock_failure(o, "lock acquire", s, rc);
    char token[CHORD_LOCK_TOKEN_MAX];
    chord_lock_token_format(&t, token);
    if (!o->json) {
        printf("%s\n", token);
        return CHORD_EXIT_OK;
    }
    char hex[2 * CHORD_CLIENT_ID_BYTES + 1];
    client_hex(t.client, hex);
    struct chord_json j;
    json_begin_named(&j, r->lock_name);
    chord_json_key(&j, "token");
    chord_json_str(&j, token);
    chord_json_key(&j, "client");
    chord_json_str(&j, hex);
    chord_json_key(&j, "fence");
    chord_json_uint(&j, t.fence);
    chord_json_obj_end(&j);
    return dht_json_print(&j);
}

/* renew, append, release: the token's call, then {"name", "ok"}. */
static int cmd_holder(struct chord_session *s, const struct dht_opts *o,
                      const struct dht_req *r)
{
    int rc;
    const char *what;
    switch (r->lock_sub) {
    case DHT_LOCK_RENEW:
        what = "lock renew";
        rc = chord_lock_renew(s, r->lock_name, &r->token);
        break;
    case DHT_LOCK_APPEND:
        what = "lock append";
        rc = chord_lock_append(s, r->lock_name, &r->token, r->key, r->key_len,
                               r->value, r->value_len);
        break;
    default:
        what = "lock release";
        rc = chord_lock_release(s, r->lock_name, &r->token);
        break;
    }
    if (rc)
        return dht_report_failure(o, what, s, rc);
    if (!o->json)
        return CHORD_EXIT_OK;
    struct chord_json j;
    json_begin_named(&j, r->lock_name);
    chord_json_key(&j, "ok");
    chord_json_bool(&j, true);
    chord_json_obj_end(&j);
    return dht_json_print(&j);
}

static void status_json(struct chord_json *j, const char *name,
                        const struct chord_lock_state *st)
{
    char hex[2 * CHORD_CLIENT_ID_BYTES + 1];
    json_begin_named(j, name);
    chord_json_key(j, "held");
    chord_json_bool(j, st->held);
    chord_json_key(j, "holder");
    if (st->held) {
        client_hex(st->holder, hex);
        chord_json_str(j, hex);
    } else {
        chord_json_null(j);
    }
    chord_json_key(j, "fence");
    chord_json_uint(j, st->fence);
    chord_json_key(j, "lease_left_ms");
    chord_json_uint(j, st->held ? st->lease_left_ms : 0);
    chord_json_key(j, "lease_ms");
    chord_json_uint(j, st->lease_ms);
    chord_json_key(j, "releasing");
    chord_json_bool(j, st->releasing);
    chord_json_key(j, "queued");
    chord_json_arr_begin(j);
    for (size_t i = 0; i < st->n_queue; i++) {
        chord_json_obj_begin(j);
        dht_json_bytes(j, "key", "key_encoding", st->queue[i].key,
                       st->queue[i].key_len);
        dht_json_bytes(j, "value", "encoding", st->queue[i].value,
                       st->queue[i].value_len);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_key(j, "waiters");
    chord_json_arr_begin(j);
    for (size_t i = 0; i < st->n_waiters; i++) {
        client_hex(st->waiters[i].client, hex);
        chord_json_str(j, hex);
    }
    chord_json_arr_end(j);
    chord_json_obj_end(j);
}

static void status_text(const char *name, const struct chord_lock_state *st)
{
    char hex[2 * CHORD_CLIENT_ID_BYTES + 1];
    printf("lock         ");
    dht_print_key(stdout, name, strlen(name));
    putchar('\n');
    if (st->held) {
        client_hex(st->holder, hex);
        printf("holder       %s (fence %llu, lease %u ms left of %u)%s\n", hex,
               (unsigned long long)st->fence, (unsigned)st->lease_left_ms,
               (unsigned)st->lease_ms, st->releasing ? ", releasing" : "");
    } else if (st->fence == 0) {
        printf("holder       none (never granted)\n");
    } else {
        printf("holder       none (last fence %llu)\n",
               (unsigned long long)st->fence);
    }
    printf("queued       %zu append%s\n", st->n_queue,
           st->n_queue == 1 ? "" : "s");
    for (size_t i = 0; i < st->n_queue; i++) {
        printf("  %zu. ", i + 1);
        dht_print_key(stdout, (const char *)st->queue[i].key,
                      st->queue[i].key_len);
        printf(" += %zu byte%s\n", st->queue[i].value_len,
               st->queue[i].value_len == 1 ? "" : "s");
    }
    printf("waiters      %zu\n", st->n_waiters);
    for (size_t i = 0; i < st->n_waiters; i++) {
        client_hex(st->waiters[i].client, hex);
        printf("  %zu. %s\n", i + 1, hex);
    }
}

static int cmd_status(struct chord_session *s, const struct dht_opts *o,
                      const struct dht_req *r)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    struct chord_lock_state st;
    int rc = chord_lock_status(s, r->lock_name, &raw, &raw_len, &st);
    if (rc)
        return lock_failure(o, "lock status", s, rc);
    int code = CHORD_EXIT_OK;
    if (o->json) {
        struct chord_json j;
        status_json(&j, r->lock_name, &st);
        code = dht_json_print(&j);
    } else {
        status_text(r->lock_name, &st);
    }
    chord_lock_state_clear(&st);
    free(raw);
    return code;
}

int dht_cmd_lock(struct chord_session *s, const struct dht_opts *o,
                 const struct dht_req *r)
{
    switch (r->lock_sub) {
    case DHT_LOCK_ACQUIRE:
        return cmd_acquire(s, o, r);
    case DHT_LOCK_STATUS:
        return cmd_status(s, o, r);
    default:
        return cmd_holder(s, o, r);
    }
}
