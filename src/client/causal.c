/*
 * causal.c - reads and writes with version vectors (chord/session.h:
 * chord_session_read, chord_session_put_opts, chord_session_del_opts,
 * and chord_session_get, which reads through them when the session
 * keeps a token).
 *
 * Each call builds one request with its causal trailer (core/wire.h) and
 * runs it through the session (session.c: failover, the request id, the
 * fence, the token), which sends the same request on every attempt. A
 * read decodes the reply's state blob (core/dvv.h): its live siblings
 * are the values, its vector the context. The bytes a read's answer
 * points to are kept by the session until its next read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/session.h"
#include "client/request.h"
#include "client/session_request.h"
#include "core/dvv.h"
#include "core/wire.h"

/* Wall-clock milliseconds since the epoch (values' deadlines). */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fill *out from a read's reply (its state, else its value alone: a
 * reply without a state is one value and an empty context). The
 * buffers go to the session. 0, -ENOENT (no live value), -EPROTO,
 * -ENOMEM. */
static int take_read(struct chord_session *s, struct chord_client_result *res,
                     int rc, struct chord_read *out)
{
    struct chord_buf ctx;
    chord_buf_init(&ctx);
    if (!res->has_state) {
        if (rc == 0)
            out->values[out->n_values++] =
                (struct chord_value){res->value, res->value_len, 0};
        chord__session_keep(s, res->value, res->state, NULL);
        *res = (struct chord_client_result){0};
        return out->n_values ? 0 : -ENOENT;
    }
    struct chord_dvv *d = malloc(sizeof(*d));
    int err = d ? 0 : -ENOMEM;
    if (err == 0 && chord_dvv_decode(res->state, res->state_len, d) != 0)
        err = -EPROTO;
    if (err == 0)
        err = chord_dvv_context_encode(d, &ctx);
    uint64_t now = wall_ms();
    for (unsigned i = 0; err == 0 && i < d->n_sib; i++) {
        if (!chord_dvv_sibling_live(d, i, now))
            continue;
        const struct chord_sibling *sib = &d->sib[i];
        /* Siblings with equal bytes are one value to the reader (a
         * retried write applied on both sides of a partition). */
        if (!chord_dvv_repeats(d, i, now))
            out->values[out->n_values++] = (struct chord_value){
                sib->value.data, sib->value.len, sib->deadline};
    }
    free(d);
    if (err) {
        chord_buf_free(&ctx);
        out->n_values = 0;
        return err;
    }
    out->context = ctx.data;
    out->context_len = ctx.len;
    chord__session_keep(s, res->state, res->value, ctx.data);
    *res = (struct chord_client_result){0};
    return out->n_values ? 0 : -ENOENT;
}

int chord_session_read(struct chord_session *s, const void *key, size_t key_len,
                       struct chord_read *out)
{
    memset(out, 0, sizeof(*out));
    if (key_len > CHORD_KEY_MAX)
        return -EMSGSIZE;
    if (key_len && !key)
        return -EINVAL;
    struct chord_msg *req = malloc(sizeof(*req));
    if (!req)
        return -ENOMEM;
    chord_msg_init(req, CHORD_MSG_C_GET, 0);
    req->key = (struct chord_bytes){key, key_len};
    req->causal = CHORD_CAUSAL_WANT;
    struct chord_client_result res;
    int rc = chord__session_query(s, req, &res);
    free(req);
    if (rc == 0 || rc == -ENOENT) {
        rc = take_read(s, &res, rc, out);
        if (rc == -EPROTO)
            chord__session_set_error(s, "%s sent a state that does not decode",
                                     chord_session_node(s));
    }
    chord__session_result_free(&res);
    return rc;
}

int chord_session_get(struct chord_session *s, const void *key, size_t key_len,
                      uint8_t **value, size_t *value_len)
{
    *value = NULL;
    *value_len = 0;
    if (!chord__session_has_token(s))
        return chord__session_get_plain(s, key, key_len, value, value_len);
    struct chord_read r;
    int rc = chord_session_read(s, key, key_len, &r);
    if (rc)
        return rc;
    if (r.n_values > 1) {
        chord__session_set_error(s, "the key has %u concurrent values",
                                 r.n_values);
        return -ENOTUNIQ;
    }
    *value = malloc(r.values[0].len ? r.values[0].len : 1);
    if (!*value)
        return -ENOMEM;
    if (r.values[0].len)
        memcpy(*value, r.values[0].data, r.values[0].len);
    *value_len = r.values[0].len;
    return 0;
}

/* Are these options of a put (or a del: no TTL) well formed? */
static bool opts_ok(const struct chord_write_opts *o, bool is_del)
{
    if (o->context_len > CHORD_DVV_CONTEXT_MAX ||
        (o->context_len == 0) != !o->context)
        return false;
    if (o->if_context && (!o->context || o->if_absent))
        return false;
    if (is_del && o->ttl_s)
        return false;
    if (o->context) {
        struct chord_dvv *d = malloc(sizeof(*d));
        bool ok = d && chord_dvv_decode(o->context, o->context_len, d) == 0 &&
                  d->n_sib == 0;
        free(d);
        return ok;
    }
    return true;
}

/* Give a put or del the causal trailer of its options `arg`. */
static void dress(struct chord_msg *req, const void *arg)
{
    const struct chord_write_opts *o = arg;
    if (o->context) {
        req->causal |=
            o->if_context ? CHORD_CAUSAL_IF_CONTEXT : CHORD_CAUSAL_CONTEXT;
        req->context = (struct chord_bytes){o->context, o->context_len};
    }
    if (o->if_absent)
        req->causal |= CHORD_CAUSAL_IF_ABSENT;
    if (o->ttl_s) {
        req->causal |= CHORD_CAUSAL_TTL;
        req->ttl_s = o->ttl_s;
    }
}

/* A put (type C_PUT) or del (C_DEL) with options (see chord/session.h). */
static int write_opts(struct chord_session *s, uint8_t type, const void *key,
                      size_t key_len, const void *value, size_t value_len,
                      const struct chord_write_opts *o)
{
    if (o && !opts_ok(o, type == CHORD_MSG_C_DEL))
        return -EINVAL;
    int rc = chord__session_mutation(s, type, key, key_len, value, value_len,
                                     o ? dress : NULL, o);
    if (rc == -EPERM && o && (o->if_context || o->if_absent))
        return -ECANCELED;
    return rc;
}

int chord_session_put_opts(struct chord_session *s, const void *key,
                           size_t key_len, const void *value, size_t value_len,
                           const struct chord_write_opts *opts)
{
    return write_opts(s, CHORD_MSG_C_PUT, key, key_len, value, value_len, opts);
}

int chord_session_del_opts(struct chord_session *s, const void *key,
                           size_t key_len, const struct chord_write_opts *opts)
{
    return write_opts(s, CHORD_MSG_C_DEL, key, key_len, NULL, 0, opts);
}
