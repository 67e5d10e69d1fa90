/*
 * session_fixture.c - fake nodes for the session's tests (contract in
 * session_fixture.h). Each scripted or silent node serves one connection
 * at a time in its own thread, decoding requests with the real codec.
 *
 * It asserts with cmocka, so it runs only inside a cmocka test. It tests
 * nothing itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chord/buf.h"
#include "chord/lock.h"
#include "chord/node.h"
#include "core/wire.h"
#include "session_fixture.h"

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int listen_any(char addr[CHORD_ADDR_MAX])
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(addr, CHORD_ADDR_MAX, "127.0.0.1:%u", ntohs(sa.sin_port));
    return fd;
}

void refused_addr(char addr[CHORD_ADDR_MAX])
{
    close(listen_any(addr));
}

/* Wait until fd is readable, the fake is told to stop, or its time is
 * up: true when readable. */
static bool fake_wait(struct fake *f, int fd, int64_t end)
{
    while (!atomic_load(&f->stop) && now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            return true;
    }
    return false;
}

/* Copy up to FAKE_FIELD bytes of b, keeping its length as sent. */
static void record_bytes(uint8_t *out, size_t *len, const struct chord_bytes *b)
{
    *len = b->len;
    if (b->len)
        memcpy(out, b->data, b->len < FAKE_FIELD ? b->len : FAKE_FIELD);
}

/* Record what the n-th request carried. */
static void fake_record(struct fake *f, int n, const struct chord_msg *m)
{
    if (n >= FAKE_RECORDS)
        return;
    struct fake_record *r = &f->rec[n];
    memset(r, 0, sizeof *r);
    r->type = m->type;
    r->has_rid = m->has_rid;
    r->rid = m->rid;
    r->has_fence = m->has_fence;
    if (m->has_fence)
        memcpy(r->fence_name, m->fence_name.data, m->fence_name.len);
    r->fence = m->fence;
    r->lock_op = m->lock_op;
    memcpy(r->lock_client, m->lock_client, CHORD_CLIENT_ID_BYTES);
    r->lock_fence = m->lock_fence;
    r->lease_ms = m->lease_ms;
    record_bytes(r->key, &r->key_len, &m->key);
    record_bytes(r->key2, &r->key2_len, &m->key2);
    record_bytes(r->value, &r->value_len, &m->value);
    r->causal = m->causal;
    record_bytes(r->context, &r->context_len, &m->context);
    record_bytes(r->session, &r->session_len, &m->session);
    r->ttl_s = m->ttl_s;
}

/* Fill the reply to the n-th request, *req, as the script says. */
static void fake_reply_to(const struct fake *f, int n,
                          const struct chord_msg *req, struct chord_msg *rep)
{
    chord_msg_init(rep, CHORD_MSG_C_RESULT, req->req_id);
    if (f->state) {
        rep->causal = CHORD_CAUSAL_STATE;
        rep->state = (struct chord_bytes){f->state, f->state_len};
    }
    const struct fake_reply *r = NULL;
    if (f->cancel && req->type == CHORD_MSG_C_LOCK &&
        req->lock_op == CHORD_LOCK_CANCEL)
        r = f->cancel;
    else if (f->script)
        r = &f->script[(size_t)n < f->n_script ? (size_t)n : f->n_script - 1];
    if (r) {
        rep->status = r->status;
        rep->value = (struct chord_bytes){r->value, r->value_len};
        if (r->error)
            snprintf(rep->error, sizeof rep->error, "%s", r->error);
        return;
    }
    rep->status = f->status;
    if (f->value) {
        rep->value.data = (const uint8_t *)f->value;
        rep->value.len = strlen(f->value);
    }
    if (f->error)
        snprintf(rep->error, sizeof rep->error, "%s", f->error);
    rep->hint = f->hint;
}

/* Answer one connection's requests until it closes. */
static void fake_serve(struct fake *f, int fd, int64_t end)
{
    struct chord_buf in, out;
    chord_buf_init(&in);
    chord_buf_init(&out);
    struct chord_msg *req = calloc(2, sizeof *req);
    assert_non_null(req);
    struct chord_msg *rep = &req[1];
    while (fake_wait(f, fd, end)) {
        uint8_t buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        assert_int_equal(chord_buf_append(&in, buf, (size_t)n), 0);
        req->status_out = NULL;
        ssize_t used = chord_msg_decode(in.data, in.len, req);
        if (used == CHORD_DECODE_PARTIAL)
            continue;
        assert_true(used > 0);
        int nth = atomic_load(&f->served);
        fake_record(f, nth, req);
        if (f->silent) {
            atomic_fetch_add(&f->served, 1);
            chord_buf_consume(&in, (size_t)used);
            continue;
        }
        fake_reply_to(f, nth, req, rep);
        chord_buf_reset(&out);
        assert_int_equal(chord_msg_encode(rep, &out), 0);
        atomic_fetch_add(&f->served, 1); /* before the client can see it */
        assert_int_equal(send(fd, out.data, out.len, MSG_NOSIGNAL),
                         (ssize_t)out.len);
        chord_buf_consume(&in, (size_t)used);
    }
    free(req);
    chord_buf_free(&in);
    chord_buf_free(&out);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int64_t end = now_ms() + FAKE_WAIT_MS;
    while (fake_wait(f, f->lfd, end)) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_serve(f, fd, end);
        close(fd);
    }
    return NULL;
}

/* A fake node listening, not yet serving. */
static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->lfd = listen_any(f->addr);
    return f;
}

static void fake_run(struct fake *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    f->running = true;
}

struct fake *fake_start(uint8_t status, const char *value, const char *hint,
                        const char *error)
{
    struct fake *f = fake_new();
    f->status = status;
    f->value = value;
    f->error = error;
    if (hint)
        assert_int_equal(chord_peer_from_addr(&f->hint, hint), 0);
    fake_run(f);
    return f;
}

struct fake *fake_scripted(const struct fake_reply *script, size_t n,
                           const struct fake_reply *cancel)
{
    assert_true(n > 0);
    struct fake *f = fake_new();
    f->script = script;
    f->n_script = n;
    f->cancel = cancel;
    fake_run(f);
    return f;
}

struct fake *fake_silent(void)
{
    struct fake *f = fake_new();
    f->silent = true;
    fake_run(f);
    return f;
}

struct fake *fake_frozen(void)
{
    return fake_new();
}

void fake_stop_keep(struct fake *f)
{
    atomic_store(&f->stop, true);
    if (f->running)
        pthread_join(f->thread, NULL);
    f->running = false;
    close(f->lfd);
    f->lfd = -1;
}

void fake_stop(struct fake *f)
{
    fake_stop_keep(f);
    free(f);
}

struct chord_session *open_session(const char *const *seeds, size_t n,
                                   int budget_ms)
{
    struct chord_session *s = NULL;
    assert_int_equal(chord_session_open(seeds, n, budget_ms, &s), 0);
    assert_string_equal(chord_session_node(s), "");
    return s;
}
