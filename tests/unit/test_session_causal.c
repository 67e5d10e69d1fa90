/*
 * test_session_causal.c - the session's calls of issue 14 (version
 * vectors: chord/session.h) against the fake nodes of session_fixture.h:
 * what a read, a put or del with options sends (the causal trailer) and
 * how the answers read (the live siblings and the context of a state, a
 * false precondition as -ECANCELED, siblings as -ENOTUNIQ), the same
 * trailer on every node a call tries, options refused before anything is
 * sent, and the session token: attached to every keyed request once it
 * holds the key, merged with the reply's state, saved, and a session the
 * node cannot cover reported as -ETIME.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord/buf.h"
#include "chord/session.h"
#include "core/dvv.h"
#include "core/wire.h"
#include "session_fixture.h"

static struct chord_id writer(uint8_t b)
{
    struct chord_id id;
    memset(id.b, b, sizeof id.b);
    return id;
}

/* A state of writers A (counter a) and B (counter 4): siblings "red"
 * (A, a), a tombstone (B, 3), "blue" (B, 4) with deadline `deadline`;
 * with two_live false, "blue" is a tombstone too. */
static void state(struct chord_buf *b, uint64_t a, uint64_t deadline,
                  bool two_live)
{
    struct chord_dvv d;
    chord_dvv_init(&d);
    d.n_vv = 2;
    d.vv[0] = (struct chord_dvv_entry){writer(0xa0), a};
    d.vv[1] = (struct chord_dvv_entry){writer(0xb0), 4};
    d.n_sib = 3;
    d.sib[0] = (struct chord_sibling){
        .writer = 0, .counter = a, .value = {(const uint8_t *)"red", 3}};
    d.sib[1] =
        (struct chord_sibling){.writer = 1, .counter = 3, .tombstone = true};
    d.sib[2] = (struct chord_sibling){
        .writer = 1,
        .counter = 4,
        .tombstone = !two_live,
        .deadline = two_live ? deadline : 0,
        .value = {(const uint8_t *)"blue", two_live ? 4u : 0u}};
    chord_buf_reset(b);
    assert_int_equal(chord_dvv_encode(&d, b), 0);
}

/* The context of that state (its vector alone). */
static void context_of(struct chord_buf *ctx, const struct chord_buf *st)
{
    struct chord_dvv d;
    assert_int_equal(chord_dvv_decode(st->data, st->len, &d), 0);
    chord_buf_reset(ctx);
    assert_int_equal(chord_dvv_context_encode(&d, ctx), 0);
}

/* Fresh buffers with state(7, no TTL, two live values) and its
 * context. */
static void two_values(struct chord_buf *st, struct chord_buf *ctx)
{
    chord_buf_init(st);
    chord_buf_init(ctx);
    state(st, 7, 0, true);
    context_of(ctx, st);
}

static struct fake *fake_with_state(uint8_t status, const char *error,
                                    const struct chord_buf *st)
{
    struct fake *f = fake_start(status, NULL, NULL, error);
    f->state = st ? st->data : NULL; /* before the first request */
    f->state_len = st ? st->len : 0;
    return f;
}

/* A read asks for the state (WANT, no request id) and answers its live
 * values with their deadlines and its vector as the context. */
static void test_read(void **unused)
{
    (void)unused;
    struct chord_buf st, ctx;
    chord_buf_init(&st);
    chord_buf_init(&ctx);
    uint64_t deadline = 4102444800000u; /* 2100: live */
    state(&st, 7, deadline, true);
    context_of(&ctx, &st);
    struct fake *f = fake_with_state(CHORD_OK, NULL, &st);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_read r;
    assert_int_equal(chord_session_read(s, "colour", 6, &r), 0);
    assert_int_equal(r.n_values, 2);
    assert_int_equal(r.values[0].len, 3);
    assert_memory_equal(r.values[0].data, "red", 3);
    assert_true(r.values[0].deadline_ms == 0);
    assert_int_equal(r.values[1].len, 4);
    assert_memory_equal(r.values[1].data, "blue", 4);
    assert_true(r.values[1].deadline_ms == deadline);
    assert_int_equal(r.context_len, ctx.len);
    assert_memory_equal(r.context, ctx.data, ctx.len);

    chord_session_close(s);
    fake_stop_keep(f);
    const struct fake_record *rec = &f->rec[0];
    assert_int_equal(rec->type, CHORD_MSG_C_GET);
    assert_int_equal(rec->causal, CHORD_CAUSAL_WANT);
    assert_false(rec->has_rid);
    assert_int_equal(rec->key_len, 6);
    free(f);

    /* An expired value is not live. */
    state(&st, 2, 1000, true); /* "blue" expired in 1970 */
    f = fake_with_state(CHORD_OK, NULL, &st);
    const char *seeds2[] = {f->addr};
    s = open_session(seeds2, 1, 3000);
    assert_int_equal(chord_session_read(s, "colour", 6, &r), 0);
    assert_int_equal(r.n_values, 1);
    chord_session_close(s);
    fake_stop(f);
    chord_buf_free(&st);
    chord_buf_free(&ctx);
}

/* NOT_FOUND with a state: -ENOENT, and the context is the state's. */
static void test_read_not_found(void **unused)
{
    (void)unused;
    struct chord_dvv d;
    chord_dvv_init(&d);
    d.n_vv = 1;
    d.vv[0] = (struct chord_dvv_entry){writer(0xa0), 9};
    d.n_sib = 1;
    d.sib[0] = (struct chord_sibling){.counter = 9, .tombstone = true};
    struct chord_buf st, ctx;
    chord_buf_init(&st);
    chord_buf_init(&ctx);
    assert_int_equal(chord_dvv_encode(&d, &st), 0);
    context_of(&ctx, &st);
    struct fake *f = fake_with_state(CHORD_NOT_FOUND, NULL, &st);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_read r;
    assert_int_equal(chord_session_read(s, "gone", 4, &r), -ENOENT);
    assert_int_equal(r.n_values, 0);
    assert_int_equal(r.context_len, ctx.len);
    assert_memory_equal(r.context, ctx.data, ctx.len);
    chord_session_close(s);
    fake_stop(f);
    chord_buf_free(&st);
    chord_buf_free(&ctx);
}

/* Siblings: a plain get answered CHORD_SIBLINGS is -ENOTUNIQ with the
 * node's line. */
static void test_get_siblings(void **unused)
{
    (void)unused;
    struct fake *f =
        fake_start(CHORD_SIBLINGS, NULL, NULL, "the key has 2 values");
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    uint8_t *v;
    size_t len;
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), -ENOTUNIQ);
    assert_null(v);
    assert_string_equal(chord_session_error(s), "the key has 2 values");
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 1); /* an answer: no retry */
    assert_int_equal(f->rec[0].causal, 0);
    free(f);
}

/* A put with if_context sends IF_CONTEXT, the context, the TTL and a
 * request id; a false precondition is -ECANCELED with the node's line. */
static void test_put_if_context(void **unused)
{
    (void)unused;
    struct chord_buf st, ctx;
    two_values(&st, &ctx);
    struct fake *f =
        fake_start(CHORD_PRECONDITION, NULL, NULL, "changed since the context");
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_write_opts o = {.context = ctx.data,
                                 .context_len = ctx.len,
                                 .if_context = true,
                                 .ttl_s = 30};
    assert_int_equal(chord_session_put_opts(s, "k", 1, "v", 1, &o), -ECANCELED);
    assert_string_equal(chord_session_error(s), "changed since the context");
    o.if_context = false;
    o.if_absent = true;
    o.context = NULL;
    o.context_len = 0;
    assert_int_equal(chord_session_put_opts(s, "k", 1, "v", 1, &o), -ECANCELED);
    /* A plain put refused by a fence stays -EPERM. */
    assert_int_equal(chord_session_put_opts(s, "k", 1, "v", 1, NULL), -EPERM);
    chord_session_close(s);
    fake_stop_keep(f);
    const struct fake_record *r = &f->rec[0];
    assert_int_equal(r->type, CHORD_MSG_C_PUT);
    assert_int_equal(r->causal, CHORD_CAUSAL_IF_CONTEXT | CHORD_CAUSAL_TTL);
    assert_int_equal(r->context_len, ctx.len);
    assert_memory_equal(r->context, ctx.data, ctx.len);
    assert_int_equal(r->ttl_s, 30);
    assert_true(r->has_rid);
    assert_int_equal(f->rec[1].causal,
                     CHORD_CAUSAL_IF_ABSENT | CHORD_CAUSAL_TTL);
    assert_int_equal(f->rec[2].causal, 0);
    free(f);
    chord_buf_free(&st);
    chord_buf_free(&ctx);
}

/* A node that does not serve now: the next one gets the same request,
 * request id, context and TTL included. A del with a context sends
 * CONTEXT. */
static void test_retry_keeps_options(void **unused)
{
    (void)unused;
    struct chord_buf st, ctx;
    two_values(&st, &ctx);
    struct fake *a = fake_start(CHORD_TRY_AGAIN, NULL, NULL, "joining");
    struct fake *b = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {a->addr, b->addr};
    struct chord_session *s = open_session(seeds, 2, 3000);
    struct chord_write_opts o = {
        .context = ctx.data, .context_len = ctx.len, .ttl_s = 5};
    assert_int_equal(chord_session_put_opts(s, "k", 1, "v", 1, &o), 0);
    o.ttl_s = 0;
    assert_int_equal(chord_session_del_opts(s, "k", 1, &o), 0);
    chord_session_close(s);
    fake_stop_keep(a);
    fake_stop_keep(b);
    const struct fake_record *ra = &a->rec[0], *rb = &b->rec[0];
    assert_int_equal(ra->causal, CHORD_CAUSAL_CONTEXT | CHORD_CAUSAL_TTL);
    assert_int_equal(rb->causal, ra->causal);
    assert_int_equal(rb->context_len, ctx.len);
    assert_memory_equal(rb->context, ctx.data, ctx.len);
    assert_int_equal(rb->ttl_s, 5);
    assert_memory_equal(&ra->rid, &rb->rid, sizeof ra->rid);
    const struct fake_record *del = &b->rec[1];
    assert_int_equal(del->type, CHORD_MSG_C_DEL);
    assert_int_equal(del->causal, CHORD_CAUSAL_CONTEXT);
    assert_true(del->rid.seq == rb->rid.seq + 1);
    free(a);
    free(b);
    chord_buf_free(&st);
    chord_buf_free(&ctx);
}

/* Options that exclude each other, and contexts that are not ones, are
 * refused before anything is sent. */
static void test_bad_options(void **unused)
{
    (void)unused;
    struct fake *f = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    static const uint8_t junk[] = {1, 2, 3};
    static const uint8_t empty_ctx[] = {0, 0};
    const struct chord_write_opts bad[] = {
        {.if_context = true},
        {.context = empty_ctx,
         .context_len = 2,
         .if_context = true,
         .if_absent = true},
        {.context = junk, .context_len = sizeof junk},
        {.context = empty_ctx, .context_len = 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(chord_session_put_opts(s, "k", 1, "v", 1, &bad[i]),
                         -EINVAL);
    const struct chord_write_opts ttl = {.ttl_s = 3};
    assert_int_equal(chord_session_del_opts(s, "k", 1, &ttl), -EINVAL);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 0);
    free(f);
}

/* The token: a put through it asks for the state and saves its vector;
 * another session on the same file then sends that vector as SESSION
 * with a get, which reads through the state; a node that cannot cover
 * it is -ETIME. */
static void test_token(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/test_causal.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/tok", dir);
    struct chord_buf st, ctx;
    chord_buf_init(&st);
    chord_buf_init(&ctx);
    state(&st, 7, 0, false); /* one live value, "red" */
    context_of(&ctx, &st);

    struct fake *f = fake_with_state(CHORD_OK, NULL, &st);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    assert_int_equal(chord_session_use_token(s, path), 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing saved yet */
    assert_int_equal(chord_session_put(s, "k", 1, "red", 3), 0);
    assert_int_equal(access(path, F_OK), 0);
    chord_session_close(s);

    s = open_session(seeds, 1, 3000);
    assert_int_equal(chord_session_use_token(s, path), 0);
    uint8_t *v;
    size_t len;
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "red", 3);
    free(v);
    /* Another key is not in the token: no SESSION. */
    assert_int_equal(chord_session_get(s, "other", 5, &v, &len), 0);
    free(v);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(f->rec[0].causal, CHORD_CAUSAL_WANT);
    assert_int_equal(f->rec[1].type, CHORD_MSG_C_GET);
    assert_int_equal(f->rec[1].causal,
                     CHORD_CAUSAL_WANT | CHORD_CAUSAL_SESSION);
    assert_int_equal(f->rec[1].session_len, ctx.len);
    assert_memory_equal(f->rec[1].session, ctx.data, ctx.len);
    assert_int_equal(f->rec[2].causal, CHORD_CAUSAL_WANT);
    free(f);

    /* Two live values through the token: -ENOTUNIQ. */
    state(&st, 7, 0, true);
    f = fake_with_state(CHORD_OK, NULL, &st);
    const char *seeds2[] = {f->addr};
    s = open_session(seeds2, 1, 3000);
    assert_int_equal(chord_session_use_token(s, path), 0);
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), -ENOTUNIQ);
    assert_non_null(strstr(chord_session_error(s), "2 concurrent values"));
    chord_session_close(s);
    fake_stop(f);

    /* A node that cannot cover the token. */
    f = fake_start(CHORD_UNAVAILABLE, NULL, NULL,
                   "session: not caught up within 100 ms");
    const char *seeds3[] = {f->addr};
    s = open_session(seeds3, 1, 3000);
    assert_int_equal(chord_session_use_token(s, path), 0);
    assert_int_equal(chord_session_put(s, "k", 1, "x", 1), -ETIME);
    assert_non_null(strstr(chord_session_error(s), "session: "));
    chord_session_close(s);
    fake_stop(f);

    unlink(path);
    rmdir(dir);
    chord_buf_free(&st);
    chord_buf_free(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_read_not_found),
        cmocka_unit_test(test_get_siblings),
        cmocka_unit_test(test_put_if_context),
        cmocka_unit_test(test_retry_keeps_options),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
