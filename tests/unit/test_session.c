/*
 * test_session.c - what a session sends and how it reads the answers,
 * for the calls of issue 15 (chord/session.h), against the fake nodes of
 * session_fixture.h: request ids (a random client id per session, one
 * sequence number per mutating call, the same on every node a call
 * tries), fences, append, precondition failures (-EPERM with the node's
 * text), and the lock calls (src/client/lock.c): acquire granted at once,
 * after polling while queued, or given up with a CANCEL at wait_ms;
 * renew, append and release carrying the token; status decoding the
 * state; arguments refused before anything is sent.
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

#include "chord/buf.h"
#include "chord/lock.h"
#include "chord/session.h"
#include "core/wire.h"
#include "session_fixture.h"

static const uint8_t zero_id[CHORD_CLIENT_ID_BYTES];

/* The encoding of a state held by `holder` with fence `fence` (and, when
 * `busy`, two waiters and two queued appends), into b. */
static void held_state(struct chord_buf *b, const uint8_t *holder,
                       uint64_t fence, bool busy)
{
    struct chord_lock_waiter w[2];
    memset(w[0].client, 0xa1, CHORD_CLIENT_ID_BYTES);
    w[0].lease_ms = 500;
    memset(w[1].client, 0xa2, CHORD_CLIENT_ID_BYTES);
    w[1].lease_ms = 600;
    struct chord_lock_queued q[2] = {
        {.seq = 4,
         .key = (const uint8_t *)"k1",
         .key_len = 2,
         .value = (const uint8_t *)"v1",
         .value_len = 2},
        {.seq = 5,
         .key = (const uint8_t *)"k2",
         .key_len = 2,
         .value = (const uint8_t *)"\xff\x00",
         .value_len = 2},
    };
    struct chord_lock_state st = {.fence = fence,
                                  .held = true,
                                  .lease_ms = 10000,
                                  .released = fence - 1,
                                  .lease_left_ms = 9000};
    memcpy(st.holder, holder, CHORD_CLIENT_ID_BYTES);
    if (busy) {
        st.n_waiters = 2;
        st.waiters = w;
        st.n_queue = 2;
        st.queue = q;
    }
    chord_buf_reset(b);
    assert_int_equal(chord_lock_state_encode(&st, b), 0);
}

/* Each mutating call carries the session's id and the next sequence
 * number; reads carry none; two sessions draw different ids. */
static void test_request_ids(void **state)
{
    (void)state;
    struct fake *f = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_session *other = open_session(seeds, 1, 3000);
    const uint8_t *id = chord_session_client_id(s);
    assert_memory_not_equal(id, zero_id, CHORD_CLIENT_ID_BYTES);
    assert_memory_not_equal(id, chord_session_client_id(other),
                            CHORD_CLIENT_ID_BYTES);
    chord_session_close(other);

    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), 0);
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), 0);
    free(v);
    assert_int_equal(chord_session_del(s, "k", 1), 0);
    assert_int_equal(chord_session_append(s, "log", 3, "abc", 3), 0);
    chord_session_close(s);
    fake_stop_keep(f);

    assert_int_equal(atomic_load(&f->served), 4);
    static const uint8_t types[] = {CHORD_MSG_C_PUT, CHORD_MSG_C_GET,
                                    CHORD_MSG_C_DEL, CHORD_MSG_C_APPEND};
    uint64_t seq = 0;
    for (int i = 0; i < 4; i++) {
        const struct fake_record *r = &f->rec[i];
        assert_int_equal(r->type, types[i]);
        assert_false(r->has_fence);
        if (r->type == CHORD_MSG_C_GET) {
            assert_false(r->has_rid);
            continue;
        }
        assert_true(r->has_rid);
        assert_memory_equal(r->rid.client, f->rec[0].rid.client,
                            CHORD_CLIENT_ID_BYTES);
        assert_true(r->rid.seq == seq + 1);
        seq = r->rid.seq;
    }
    assert_memory_not_equal(f->rec[0].rid.client, zero_id,
                            CHORD_CLIENT_ID_BYTES);
    assert_int_equal(f->rec[3].key_len, 3);
    assert_memory_equal(f->rec[3].key, "log", 3);
    assert_int_equal(f->rec[3].value_len, 3);
    assert_memory_equal(f->rec[3].value, "abc", 3);
    free(f);
}

/* A call that moves on sends the same request id to the next node: after
 * a node that read the request and never answered (a lost reply), and
 * after one that said it does not serve now. */
static void test_same_id_on_every_node(void **state)
{
    (void)state;
    struct fake *silent = fake_silent();
    struct fake *busy = fake_start(CHORD_TRY_AGAIN, NULL, NULL, "leaving");
    struct fake *ok = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {silent->addr, busy->addr, ok->addr};
    struct chord_session *s = open_session(seeds, 3, 1500);
    assert_int_equal(chord_session_append(s, "k", 1, "x", 1), 0);
    assert_string_equal(chord_session_node(s), ok->addr);
    /* The next call is a new request: a new sequence number. */
    assert_int_equal(chord_session_put(s, "k", 1, "y", 1), 0);
    chord_session_close(s);
    fake_stop_keep(silent);
    fake_stop_keep(busy);
    fake_stop_keep(ok);

    assert_int_equal(atomic_load(&silent->served), 1);
    assert_int_equal(atomic_load(&busy->served), 1);
    assert_int_equal(atomic_load(&ok->served), 2);
    const struct fake_record *a = &silent->rec[0], *b = &busy->rec[0],
                             *c = &ok->rec[0];
    assert_true(a->has_rid && b->has_rid && c->has_rid);
    assert_memory_equal(a->rid.client, b->rid.client, CHORD_CLIENT_ID_BYTES);
    assert_memory_equal(a->rid.client, c->rid.client, CHORD_CLIENT_ID_BYTES);
    assert_true(a->rid.seq == b->rid.seq && a->rid.seq == c->rid.seq);
    assert_int_equal(c->type, CHORD_MSG_C_APPEND);
    assert_true(ok->rec[1].rid.seq == c->rid.seq + 1);
    free(silent);
    free(busy);
    free(ok);
}

/* A fence set on the session goes with put, del and append (not with a
 * lock operation or a read) until it is cleared; bad fences are refused. */
static void test_fence(void **state)
{
    (void)state;
    char refused[CHORD_ADDR_MAX];
    refused_addr(refused);
    const char *nowhere[] = {refused};
    struct chord_session *s = open_session(nowhere, 1, 1000);
    char long_name[CHORD_LOCK_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(chord_session_set_fence(s, "", 1), -EINVAL);
    assert_int_equal(chord_session_set_fence(s, long_name, 1), -EINVAL);
    assert_int_equal(chord_session_set_fence(s, "L", 0), -EINVAL);
    long_name[CHORD_LOCK_NAME_MAX] = '\0'; /* at the cap: fine */
    assert_int_equal(chord_session_set_fence(s, long_name, 1), 0);
    chord_session_close(s);

    struct fake *f = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr};
    s = open_session(seeds, 1, 3000);
    assert_int_equal(chord_session_set_fence(s, "printer", 7), 0);
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), 0);
    assert_int_equal(chord_session_del(s, "k", 1), 0);
    assert_int_equal(chord_session_append(s, "k", 1, "v", 1), 0);
    struct chord_lock_token t = {.fence = 7};
    memcpy(t.client, chord_session_client_id(s), CHORD_CLIENT_ID_BYTES);
    assert_int_equal(chord_lock_renew(s, "printer", &t), 0);
    assert_int_equal(chord_session_set_fence(s, NULL, 0), 0);
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), 0);
    chord_session_close(s);
    fake_stop_keep(f);

    assert_int_equal(atomic_load(&f->served), 5);
    for (int i = 0; i < 3; i++) {
        assert_true(f->rec[i].has_fence);
        assert_string_equal(f->rec[i].fence_name, "printer");
        assert_true(f->rec[i].fence == 7);
        assert_true(f->rec[i].has_rid);
    }
    assert_int_equal(f->rec[3].type, CHORD_MSG_C_LOCK);
    assert_false(f->rec[3].has_fence);
    assert_false(f->rec[4].has_fence);
    assert_true(f->rec[4].has_rid);
    free(f);
}

/* PRECONDITION is the ring's answer: -EPERM with the node's line, and
 * the next seed is not asked. */
static void test_precondition_is_eperm(void **state)
{
    (void)state;
    struct fake *f = fake_start(CHORD_PRECONDITION, NULL, NULL,
                                "fence 3 of lock printer is older than 5");
    struct fake *other = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr, other->addr};
    struct chord_session *s = open_session(seeds, 2, 3000);
    assert_int_equal(chord_session_set_fence(s, "printer", 3), 0);
    assert_int_equal(chord_session_append(s, "k", 1, "v", 1), -EPERM);
    assert_string_equal(chord_session_error(s),
                        "fence 3 of lock printer is older than 5");
    struct chord_lock_token t = {.fence = 2};
    assert_int_equal(chord_lock_release(s, "printer", &t), -EPERM);
    chord_session_close(s);
    fake_stop(f);
    assert_int_equal(atomic_load(&other->served), 0);
    fake_stop(other);
}

/* Granted at once: the request is an ACQUIRE from this session with the
 * lease asked for, and the token is the session's id and the state's
 * fence. */
static void test_acquire_granted(void **state)
{
    (void)state;
    struct fake_reply reply = {.status = CHORD_OK};
    struct fake *f = fake_scripted(&reply, 1, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_buf b;
    chord_buf_init(&b);
    held_state(&b, chord_session_client_id(s), 5, false);
    reply.value = b.data; /* before the first request reaches the fake */
    reply.value_len = b.len;
    struct chord_lock_token t;
    assert_int_equal(chord_lock_acquire(s, "printer", 2500, 1000, &t), 0);
    assert_memory_equal(t.client, chord_session_client_id(s),
                        CHORD_CLIENT_ID_BYTES);
    assert_true(t.fence == 5);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 1);
    const struct fake_record *r = &f->rec[0];
    assert_int_equal(r->type, CHORD_MSG_C_LOCK);
    assert_int_equal(r->lock_op, CHORD_LOCK_ACQUIRE);
    assert_int_equal(r->key_len, 7);
    assert_memory_equal(r->key, "printer", 7);
    assert_memory_equal(r->lock_client, t.client, CHORD_CLIENT_ID_BYTES);
    assert_true(r->lock_fence == 0);
    assert_int_equal(r->lease_ms, 2500);
    assert_true(r->has_rid);
    assert_memory_equal(r->rid.client, t.client, CHORD_CLIENT_ID_BYTES);
    free(f);
    chord_buf_free(&b);
}

/* An OK whose state does not name this session the holder is checked
 * with a STATUS: an OK alone (how an owner answers a retry it recognises
 * by its request id) is a grant when the state then names this session;
 * another holder in both is no grant. */
static void test_acquire_grant_must_name_me(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    uint8_t someone[CHORD_CLIENT_ID_BYTES];
    memset(someone, 0x77, sizeof someone);
    held_state(&b, someone, 5, false);
    struct fake_reply reply = {CHORD_OK, b.data, b.len, NULL};
    struct fake *f = fake_scripted(&reply, 1, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_lock_token t;
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 1000, &t), -EPROTO);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 2);
    assert_int_equal(f->rec[0].lock_op, CHORD_LOCK_ACQUIRE);
    assert_int_equal(f->rec[1].lock_op, CHORD_LOCK_STATUS);
    free(f);

    struct fake_reply script[2] = {{.status = CHORD_OK}, {.status = CHORD_OK}};
    f = fake_scripted(script, 2, NULL);
    const char *seeds2[] = {f->addr};
    s = open_session(seeds2, 1, 3000);
    held_state(&b, chord_session_client_id(s), 8, false);
    script[1].value = b.data;
    script[1].value_len = b.len;
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 1000, &t), 0);
    assert_true(t.fence == 8);
    chord_session_close(s);
    fake_stop(f);
    chord_buf_free(&b);
}

/* TOO_LARGE (a lock's full queue, an append whose value would pass the
 * cap) is -EMSGSIZE with the node's text. */
static void test_too_large(void **state)
{
    (void)state;
    struct fake *f = fake_start(CHORD_TOO_LARGE, NULL, NULL,
                                "the lock's queue of appends is full");
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_lock_token t = {.fence = 3};
    assert_int_equal(chord_lock_append(s, "printer", &t, "k", 1, "v", 1),
                     -EMSGSIZE);
    assert_string_equal(chord_session_error(s),
                        "the lock's queue of appends is full");
    chord_session_close(s);
    fake_stop(f);
}

/* Queued twice, then granted: each poll is a new request (a new sequence
 * number), the pauses between them at least CHORD_LOCK_POLL_MS. */
static void test_acquire_polls_while_queued(void **state)
{
    (void)state;
    struct fake_reply script[3] = {{.status = CHORD_QUEUED},
                                   {.status = CHORD_QUEUED},
                                   {.status = CHORD_OK}};
    struct fake *f = fake_scripted(script, 3, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_buf b;
    chord_buf_init(&b);
    held_state(&b, chord_session_client_id(s), 12, true);
    script[2].value = b.data;
    script[2].value_len = b.len;
    struct chord_lock_token t;
    int64_t t0 = now_ms();
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 5000, &t), 0);
    int64_t took = now_ms() - t0;
    assert_true(took >= CHORD_LOCK_POLL_MS * 3 && took < SLACK_MS);
    assert_true(t.fence == 12);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->rec[i].lock_op, CHORD_LOCK_ACQUIRE);
        if (i)
            assert_true(f->rec[i].rid.seq == f->rec[i - 1].rid.seq + 1);
    }
    free(f);
    chord_buf_free(&b);
}

/* Still queued at wait_ms: a CANCEL from this session, then -ETIME; the
 * polls are spaced (at most 40 ms apart, not a busy loop). wait_ms 0 is
 * one try. */
static void test_acquire_times_out(void **state)
{
    (void)state;
    struct fake_reply queued = {.status = CHORD_QUEUED};
    struct fake_reply cancelled = {.status = CHORD_OK};
    struct fake *f = fake_scripted(&queued, 1, &cancelled);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_lock_token t;
    int64_t t0 = now_ms();
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 200, &t), -ETIME);
    int64_t took = now_ms() - t0;
    assert_true(took >= 200 && took < 200 + SLACK_MS);
    int polls = atomic_load(&f->served) - 1; /* and one CANCEL */
    assert_true(polls >= 200 / 40 && polls <= 200 / CHORD_LOCK_POLL_MS + 1);
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 0, &t), -ETIME);
    chord_session_close(s);
    fake_stop_keep(f);
    int n = atomic_load(&f->served);
    assert_int_equal(n, polls + 1 + 2);
    const uint8_t *me = f->rec[0].rid.client;
    for (int i = 0; i < n; i++) {
        assert_int_equal(f->rec[i].lock_op, i == polls || i == n - 1
                                                ? CHORD_LOCK_CANCEL
                                                : CHORD_LOCK_ACQUIRE);
        assert_memory_equal(f->rec[i].lock_client, me, CHORD_CLIENT_ID_BYTES);
    }
    free(f);
}

/* The grant crossed the CANCEL: the CANCEL's answer names this session
 * the holder, and the grant is returned, not left to expire. */
static void test_cancel_finds_grant(void **state)
{
    (void)state;
    struct fake_reply queued = {.status = CHORD_QUEUED};
    struct fake_reply granted = {.status = CHORD_OK};
    struct fake *f = fake_scripted(&queued, 1, &granted);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_buf b;
    chord_buf_init(&b);
    held_state(&b, chord_session_client_id(s), 9, false);
    granted.value = b.data;
    granted.value_len = b.len;
    struct chord_lock_token t;
    assert_int_equal(chord_lock_acquire(s, "printer", 0, 0, &t), 0);
    assert_true(t.fence == 9);
    chord_session_close(s);
    fake_stop(f);
    chord_buf_free(&b);
}

/* renew, append and release send the token given (not the session's
 * id), append its key and value, each with its own request id. */
static void test_holder_ops_send_token(void **state)
{
    (void)state;
    struct fake *f = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    struct chord_lock_token t = {.fence = 42};
    memset(t.client, 0x3e, sizeof t.client);
    assert_int_equal(chord_lock_renew(s, "printer", &t), 0);
    assert_int_equal(chord_lock_append(s, "printer", &t, "k", 1, "v2", 2), 0);
    assert_int_equal(chord_lock_release(s, "printer", &t), 0);
    chord_session_close(s);
    fake_stop_keep(f);
    static const uint8_t ops[] = {CHORD_LOCK_RENEW, CHORD_LOCK_APPEND,
                                  CHORD_LOCK_RELEASE};
    for (int i = 0; i < 3; i++) {
        const struct fake_record *r = &f->rec[i];
        assert_int_equal(r->type, CHORD_MSG_C_LOCK);
        assert_int_equal(r->lock_op, ops[i]);
        assert_memory_equal(r->lock_client, t.client, CHORD_CLIENT_ID_BYTES);
        assert_true(r->lock_fence == 42);
        assert_int_equal(r->key_len, 7);
        assert_true(r->has_rid);
        assert_memory_not_equal(r->rid.client, t.client, CHORD_CLIENT_ID_BYTES);
        assert_int_equal(r->key2_len, i == 1 ? 1 : 0);
        assert_int_equal(r->value_len, i == 1 ? 2 : 0);
    }
    assert_memory_equal(f->rec[1].key2, "k", 1);
    assert_memory_equal(f->rec[1].value, "v2", 2);
    assert_true(f->rec[2].rid.seq == f->rec[0].rid.seq + 2);
    free(f);
}

/* status decodes the state the node sends (borrowing from *raw); an
 * empty state is a lock never granted; a state that does not decode is
 * -EPROTO. */
static void test_status(void **state)
{
    (void)state;
    struct chord_buf b;
    chord_buf_init(&b);
    uint8_t holder[CHORD_CLIENT_ID_BYTES];
    memset(holder, 0x5b, sizeof holder);
    held_state(&b, holder, 3, true);
    struct fake_reply script[3] = {{CHORD_OK, b.data, b.len, NULL},
                                   {CHORD_OK, NULL, 0, NULL},
                                   {CHORD_OK, "junk", 4, NULL}};
    struct fake *f = fake_scripted(script, 3, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    struct chord_lock_state st;
    assert_int_equal(chord_lock_status(s, "printer", &raw, &raw_len, &st), 0);
    assert_non_null(raw);
    assert_int_equal(raw_len, b.len);
    assert_true(st.held);
    assert_memory_equal(st.holder, holder, sizeof holder);
    assert_true(st.fence == 3);
    assert_int_equal(st.lease_left_ms, 9000);
    assert_int_equal(st.n_waiters, 2);
    assert_int_equal(st.waiters[1].client[0], 0xa2);
    assert_int_equal(st.n_queue, 2);
    assert_memory_equal(st.queue[0].key, "k1", 2);
    assert_true(st.queue[0].key >= raw && st.queue[0].key < raw + raw_len);
    chord_lock_state_clear(&st);
    free(raw);

    assert_int_equal(chord_lock_status(s, "printer", &raw, &raw_len, &st), 0);
    assert_false(st.held);
    assert_true(st.fence == 0);
    assert_int_equal(st.n_waiters + st.n_queue, 0);
    chord_lock_state_clear(&st);
    free(raw);

    assert_int_equal(chord_lock_status(s, "printer", &raw, &raw_len, &st),
                     -EPROTO);
    assert_null(raw);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(f->rec[0].lock_op, CHORD_LOCK_STATUS);
    free(f);
    chord_buf_free(&b);
}

/* Bad arguments are refused before anything is sent. */
static void test_lock_arguments(void **state)
{
    (void)state;
    struct fake *f = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {f->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    char long_name[CHORD_LOCK_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    struct chord_lock_token t = {.fence = 1};
    assert_int_equal(chord_lock_acquire(s, "", 0, 0, &t), -EINVAL);
    assert_int_equal(chord_lock_acquire(s, NULL, 0, 0, &t), -EINVAL);
    assert_int_equal(chord_lock_acquire(s, long_name, 0, 0, &t), -EINVAL);
    assert_int_equal(
        chord_lock_acquire(s, "L", CHORD_LOCK_LEASE_MAX_MS + 1, 0, &t),
        -EINVAL);
    assert_int_equal(chord_lock_acquire(s, "L", 0, -1, &t), -EINVAL);
    assert_int_equal(chord_lock_renew(s, "", &t), -EINVAL);
    assert_int_equal(chord_lock_release(s, long_name, &t), -EINVAL);
    uint8_t *raw;
    size_t raw_len;
    struct chord_lock_state st;
    assert_int_equal(chord_lock_status(s, "", &raw, &raw_len, &st), -EINVAL);
    static uint8_t big[CHORD_KEY_MAX + 1];
    assert_int_equal(chord_lock_append(s, "L", &t, big, sizeof big, "v", 1),
                     -EMSGSIZE);
    assert_int_equal(chord_session_append(s, big, sizeof big, "v", 1),
                     -EMSGSIZE);
    chord_session_close(s);
    fake_stop_keep(f);
    assert_int_equal(atomic_load(&f->served), 0);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_same_id_on_every_node),
        cmocka_unit_test(test_fence),
        cmocka_unit_test(test_precondition_is_eperm),
        cmocka_unit_test(test_acquire_granted),
        cmocka_unit_test(test_acquire_grant_must_name_me),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_acquire_polls_while_queued),
        cmocka_unit_test(test_acquire_times_out),
        cmocka_unit_test(test_cancel_finds_grant),
        cmocka_unit_test(test_holder_ops_send_token),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_lock_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
