/*
 * test_client.c - the blocking client library against a scripted fake node,
 * chord_addr_parse, and the JSON writer's escaping.
 *
 * The fake node is a blocking server on 127.0.0.1 (port 0, then
 * getsockname) run in a thread. It accepts one connection, decodes each
 * request with the real codec, records what it saw, and answers as the
 * test scripted: a normal reply (optionally dribbled out a few bytes per
 * write), an error, a reply with a wrong request id before the right one,
 * a wrong reply type, garbage, silence, or a close. Every wait of the fake
 * node is bounded (FAKE_WAIT_MS), so a broken client cannot hang the test;
 * the test joins the thread after closing its client and only then reads
 * what the fake node recorded.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "chord/client.h"
#include "common/json.h"
#include "chord/buf.h"
#include "core/wire.h"

#define FAKE_WAIT_MS 5000     /* the longest the fake node waits for I/O */
#define FAKE_RECORD_MAX 8192u /* bytes of a request value recorded */
#define TEST_TIMEOUT_MS 2000  /* client timeout in tests that get answers */

enum fake_mode {
    FAKE_REPLY,          /* answer every request as scripted */
    FAKE_WRONG_ID_FIRST, /* a reply with another req_id, then the real one */
    FAKE_WRONG_TYPE,     /* answer with a reply of the wrong type */
    FAKE_GARBAGE,        /* answer with bytes that are not a frame */
    FAKE_SILENT,         /* read the request, never answer */
    FAKE_CLOSE,          /* read the request, close without answering */
};

struct fake_node {
    int lfd;
    char addr[CHORD_ADDR_MAX];
    pthread_t thread;

    /* The script, set before fake_start(). */
    enum fake_mode mode;
    size_t chunk;      /* bytes per write of a reply; 0: all at once */
    uint8_t status;    /* status of C_RESULT / C_LOOKUP_RESULT */
    const char *error; /* error text of the reply, or NULL */
    const void *value; /* value of C_RESULT */
    size_t value_len;
    const struct chord_lookup_result *lookup;    /* for C_LOOKUP_RESULT */
    const struct chord_status *status_rep;       /* for C_STATUS_RESULT */
    const struct chord_status *stale_status_rep; /* FAKE_WRONG_ID_FIRST */

    /* What the fake node saw, read after fake_join(). */
    unsigned n_requests;
    size_t bytes_received;
    uint8_t last_type;
    uint64_t req_ids[8];
    uint8_t key[CHORD_KEY_MAX];
    size_t key_len;
    uint8_t req_value[FAKE_RECORD_MAX];
    size_t req_value_len;
    bool saw_malformed;
};

/* Write all of buf in pieces of `chunk` bytes (0: one piece). */
static int write_chunks(int fd, const uint8_t *buf, size_t len, size_t chunk)
{
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (chunk && n > chunk)
            n = chunk;
        ssize_t w = send(fd, buf + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The reply type that answers a request type. */
static uint8_t reply_type_for(uint8_t req)
{
    switch (req) {
    case CHORD_MSG_C_LOOKUP:
        return CHORD_MSG_C_LOOKUP_RESULT;
    case CHORD_MSG_C_STATUS:
        return CHORD_MSG_C_STATUS_RESULT;
    default:
        return CHORD_MSG_C_RESULT;
    }
}

/* Encode the scripted reply of type `type` to request `req_id`. 0 or -1.
 * (The fake node runs in its own thread: it reports failures by stopping,
 * which fails the test in the main thread, never by a cmocka assertion.) */
static int encode_reply(struct fake_node *f, uint8_t type, uint64_t req_id,
                        const struct chord_status *st, struct chord_buf *out)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    chord_msg_init(m, type, req_id);
    m->status = f->status;
    if (f->error)
        snprintf(m->error, sizeof(m->error), "%s", f->error);
    if (type == CHORD_MSG_C_RESULT) {
        m->value.data = f->value;
        m->value.len = f->value_len;
    } else if (type == CHORD_MSG_C_LOOKUP_RESULT && f->lookup) {
        m->lookup = *f->lookup;
    } else if (type == CHORD_MSG_C_STATUS_RESULT) {
        m->status_in = st;
    }
    int rc = chord_msg_encode(m, out);
    free(m);
    return rc == 0 ? 0 : -1;
}

/* Answer one decoded request as scripted. 0, or -1 to stop serving. */
static int fake_answer(struct fake_node *f, int fd, const struct chord_msg *req)
{
    struct chord_buf out;
    chord_buf_init(&out);
    uint8_t type = reply_type_for(req->type);
    int rc = 0;
    switch (f->mode) {
    case FAKE_REPLY:
        rc = encode_reply(f, type, req->req_id, f->status_rep, &out);
        break;
    case FAKE_WRONG_ID_FIRST: {
        /* The stale reply carries other contents: if the client took it,
         * the test would see them. */
        const void *v = f->value;
        size_t vl = f->value_len;
        f->value = "stale";
        f->value_len = 5;
        rc = encode_reply(f, type, req->req_id + 1000, f->stale_status_rep,
                          &out);
        f->value = v;
        f->value_len = vl;
        if (rc == 0)
            rc = encode_reply(f, type, req->req_id, f->status_rep, &out);
        break;
    }
    case FAKE_WRONG_TYPE:
        rc = encode_reply(f,
                          type == CHORD_MSG_C_RESULT ? CHORD_MSG_C_LOOKUP_RESULT
                                                     : CHORD_MSG_C_RESULT,
                          req->req_id, f->status_rep, &out);
        break;
    case FAKE_GARBAGE: {
        static const uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 1, 69};
        rc = chord_buf_append(&out, junk, sizeof(junk)) == 0 ? 0 : -1;
        break;
    }
    case FAKE_SILENT:
        break;
    case FAKE_CLOSE:
        rc = -1;
        break;
    }
    if (rc == 0 && out.len)
        rc = write_chunks(fd, out.data, out.len, f->chunk);
    chord_buf_free(&out);
    return rc;
}

/* Record a request, then answer it. */
static int fake_handle(struct fake_node *f, int fd, const struct chord_msg *m)
{
    if (f->n_requests < sizeof(f->req_ids) / sizeof(f->req_ids[0]))
        f->req_ids[f->n_requests] = m->req_id;
    f->n_requests++;
    f->last_type = m->type;
    f->key_len = m->key.len;
    if (m->key.len)
        memcpy(f->key, m->key.data, m->key.len);
    f->req_value_len = m->value.len;
    if (m->value.len)
        memcpy(f->req_value, m->value.data,
               m->value.len < FAKE_RECORD_MAX ? m->value.len : FAKE_RECORD_MAX);
    return fake_answer(f, fd, m);
}

/* Serve one connection until the client closes it or FAKE_WAIT_MS of
 * silence passes. */
static void *fake_main(void *arg)
{
    struct fake_node *f = arg;
    struct pollfd pl = {.fd = f->lfd, .events = POLLIN};
    if (poll(&pl, 1, FAKE_WAIT_MS) != 1)
        return NULL;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct chord_buf in;
    chord_buf_init(&in);
    struct chord_msg *m = calloc(1, sizeof(*m));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, FAKE_WAIT_MS) != 1)
            break;
        if (chord_buf_reserve(&in, 65536) != 0)
            break;
        ssize_t n = recv(fd, in.data + in.len, in.cap - in.len, 0);
        if (n <= 0)
            break; /* the client closed */
        in.len += (size_t)n;
        f->bytes_received += (size_t)n;
        bool stop = false;
        while (!stop && in.len) {
            m->status_out = NULL;
            ssize_t used = chord_msg_decode(in.data, in.len, m);
            if (used == CHORD_DECODE_PARTIAL)
                break;
            if (used < 0) {
                f->saw_malformed = true;
                stop = true;
                break;
            }
            if (fake_handle(f, fd, m) != 0)
                stop = true;
            chord_buf_consume(&in, (size_t)used);
        }
        if (stop)
            break;
    }
    free(m);
    chord_buf_free(&in);
    close(fd);
    return NULL;
}

/* Listen on 127.0.0.1:0 and start serving in a thread. */
static void fake_start(struct fake_node *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u",
             (unsigned)ntohs(sa.sin_port));
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_join(struct fake_node *f)
{
    assert_int_equal(pthread_join(f->thread, NULL), 0);
    close(f->lfd);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Requests and replies.                                               */

static void test_put_get_del_roundtrip(void **state)
{
    (void)state;
    struct fake_node f = {
        .mode = FAKE_REPLY, .status = CHORD_OK, .value = "v1", .value_len = 2};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);

    assert_int_equal(chord_client_put(c, "k1", 2, "hello", 5), 0);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(chord_client_get(c, "k1", 2, &v, &vl), 0);
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "v1", 2);
    free(v);
    assert_int_equal(chord_client_del(c, "k1", 2), 0);
    assert_string_equal(chord_client_error(c), "");
    chord_client_close(c);
    fake_join(&f);

    assert_int_equal(f.n_requests, 3);
    assert_int_equal(f.last_type, CHORD_MSG_C_DEL);
    assert_int_equal(f.key_len, 2);
    assert_memory_equal(f.key, "k1", 2);
    /* Each request had its own id. */
    assert_true(f.req_ids[0] != f.req_ids[1]);
    assert_true(f.req_ids[1] != f.req_ids[2]);
    assert_true(f.req_ids[0] != f.req_ids[2]);
}

static void test_put_sends_key_and_value(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_OK};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    const uint8_t key[] = {'a', 0, 0xff, '\n'};
    const uint8_t val[] = {0, 1, 2, 0x80, 0};
    assert_int_equal(chord_client_put(c, key, sizeof(key), val, sizeof(val)),
                     0);
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.n_requests, 1);
    assert_int_equal(f.last_type, CHORD_MSG_C_PUT);
    assert_int_equal(f.key_len, sizeof(key));
    assert_memory_equal(f.key, key, sizeof(key));
    assert_int_equal(f.req_value_len, sizeof(val));
    assert_memory_equal(f.req_value, val, sizeof(val));
}

static void test_get_reply_in_small_writes(void **state)
{
    (void)state;
    enum { N = 3000 };
    uint8_t *big = malloc(N);
    assert_non_null(big);
    for (size_t i = 0; i < N; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    struct fake_node f = {.mode = FAKE_REPLY,
                          .status = CHORD_OK,
                          .value = big,
                          .value_len = N,
                          .chunk = 7};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(chord_client_get(c, "big", 3, &v, &vl), 0);
    assert_int_equal(vl, N);
    assert_memory_equal(v, big, N);
    free(v);
    chord_client_close(c);
    fake_join(&f);
    free(big);
}

static void test_get_empty_value(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_OK};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    uint8_t *v = NULL;
    size_t vl = 99;
    assert_int_equal(chord_client_get(c, "e", 1, &v, &vl), 0);
    assert_int_equal(vl, 0);
    free(v);
    chord_client_close(c);
    fake_join(&f);
}

static void test_error_reply_keeps_text(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY,
                          .status = CHORD_UNAVAILABLE,
                          .error = "no replica of the key answered"};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    assert_int_equal(chord_client_put(c, "k", 1, "v", 1), -EIO);
    assert_string_equal(chord_client_error(c),
                        "no replica of the key answered");
    /* The connection is still usable after an error reply. */
    struct chord_lookup_result res;
    assert_int_equal(chord_client_lookup(c, "k", 1, &res), -EIO);
    assert_string_equal(chord_client_error(c),
                        "no replica of the key answered");
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.n_requests, 2);
}

/* append sends C_APPEND with its key and value (and no request id: the
 * one-node client has none); a precondition the node found false is
 * -EPERM with the node's line, and the connection stays usable. */
static void test_append_and_precondition(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_OK};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    assert_int_equal(chord_client_append(c, "log", 3, "+x", 2), 0);
    assert_int_equal(chord_client_append(c, "k", CHORD_KEY_MAX + 1, "v", 1),
                     -EMSGSIZE);
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.n_requests, 1);
    assert_int_equal(f.last_type, CHORD_MSG_C_APPEND);
    assert_int_equal(f.key_len, 3);
    assert_memory_equal(f.key, "log", 3);
    assert_int_equal(f.req_value_len, 2);
    assert_memory_equal(f.req_value, "+x", 2);

    struct fake_node g = {.mode = FAKE_REPLY,
                          .status = CHORD_PRECONDITION,
                          .error = "fence 3 of lock L is older than 5"};
    fake_start(&g);
    assert_int_equal(chord_client_connect(g.addr, TEST_TIMEOUT_MS, &c), 0);
    assert_int_equal(chord_client_put(c, "k", 1, "v", 1), -EPERM);
    assert_string_equal(chord_client_error(c),
                        "fence 3 of lock L is older than 5");
    assert_int_equal(chord_client_append(c, "k", 1, "v", 1), -EPERM);
    chord_client_close(c);
    fake_join(&g);
    assert_int_equal(g.n_requests, 2);
}

static void test_error_reply_without_text(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_BUSY};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    assert_int_equal(chord_client_del(c, "k", 1), -EIO);
    assert_string_equal(chord_client_error(c), chord_status_name(CHORD_BUSY));
    chord_client_close(c);
    fake_join(&f);
}

static void test_get_not_found(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_NOT_FOUND};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    uint8_t *v = (uint8_t *)&f; /* must be reset by the call */
    size_t vl = 5;
    assert_int_equal(chord_client_get(c, "missing", 7, &v, &vl), -ENOENT);
    assert_null(v);
    assert_int_equal(vl, 0);
    chord_client_close(c);
    fake_join(&f);
}

static void test_wrong_req_id_is_skipped(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_WRONG_ID_FIRST,
                          .status = CHORD_OK,
                          .value = "right",
                          .value_len = 5,
                          .chunk = 3};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    for (int i = 0; i < 2; i++) {
        uint8_t *v = NULL;
        size_t vl = 0;
        assert_int_equal(chord_client_get(c, "k", 1, &v, &vl), 0);
        assert_int_equal(vl, 5);
        assert_memory_equal(v, "right", 5);
        free(v);
    }
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.n_requests, 2);
}

static void test_lookup_result(void **state)
{
    (void)state;
    struct chord_lookup_result *want = calloc(1, sizeof(*want));
    assert_non_null(want);
    chord_id_hash(&want->key_id, "k", 1);
    chord_id_hash(&want->owner.id, "127.0.0.1:7002", 14);
    strcpy(want->owner.addr, "127.0.0.1:7002");
    want->hops = 2;
    want->path.n = 3;
    strcpy(want->path.addr[0], "127.0.0.1:7000");
    strcpy(want->path.addr[1], "127.0.0.1:7001");
    strcpy(want->path.addr[2], "127.0.0.1:7002");
    struct fake_node f = {
        .mode = FAKE_REPLY, .status = CHORD_OK, .lookup = want};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    struct chord_lookup_result *got = calloc(1, sizeof(*got));
    assert_non_null(got);
    assert_int_equal(chord_client_lookup(c, "k", 1, got), 0);
    assert_true(chord_id_eq(&got->key_id, &want->key_id));
    assert_true(chord_id_eq(&got->owner.id, &want->owner.id));
    assert_string_equal(got->owner.addr, "127.0.0.1:7002");
    assert_int_equal(got->hops, 2);
    assert_int_equal(got->path.n, 3);
    assert_string_equal(got->path.addr[1], "127.0.0.1:7001");
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.last_type, CHORD_MSG_C_LOOKUP);
    free(got);
    free(want);
}

static void test_status_result(void **state)
{
    (void)state;
    struct chord_status *want = calloc(1, sizeof(*want));
    assert_non_null(want);
    strcpy(want->self.addr, "127.0.0.1:7000");
    chord_id_hash(&want->self.id, want->self.addr, strlen(want->self.addr));
    want->state = CHORD_NODE_ACTIVE;
    want->has_pred = true;
    strcpy(want->pred.addr, "127.0.0.1:7003");
    want->n_succ = 2;
    strcpy(want->succ[0].addr, "127.0.0.1:7001");
    strcpy(want->succ[1].addr, "127.0.0.1:7002");
    want->n_fingers = 1;
    want->fingers[0].node = want->succ[0];
    want->keys = 42;
    want->n_peers = 1;
    strcpy(want->peers[0].addr, "127.0.0.1:7001");
    want->peers[0].state = CHORD_PEER_SUSPECTED;
    want->peers[0].rtt_ms = 3;
    want->peers[0].timeout_ms = 250;
    want->peers[0].false_suspicions = 1;
    /* A status with another request id comes first, in split writes:
     * the client must skip it and return the real one. */
    struct chord_status *stale = calloc(1, sizeof(*stale));
    assert_non_null(stale);
    strcpy(stale->self.addr, "127.0.0.1:6666");
    stale->keys = 666;
    struct fake_node f = {.mode = FAKE_WRONG_ID_FIRST,
                          .status_rep = want,
                          .stale_status_rep = stale,
                          .chunk = 11};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    struct chord_status *got = calloc(1, sizeof(*got));
    assert_non_null(got);
    assert_int_equal(chord_client_status(c, got), 0);
    assert_string_equal(got->self.addr, "127.0.0.1:7000");
    assert_true(chord_id_eq(&got->self.id, &want->self.id));
    assert_int_equal(got->state, CHORD_NODE_ACTIVE);
    assert_true(got->has_pred);
    assert_string_equal(got->pred.addr, "127.0.0.1:7003");
    assert_int_equal(got->n_succ, 2);
    assert_string_equal(got->succ[1].addr, "127.0.0.1:7002");
    assert_int_equal(got->n_fingers, 1);
    assert_int_equal(got->keys, 42);
    assert_int_equal(got->n_peers, 1);
    assert_int_equal(got->peers[0].state, CHORD_PEER_SUSPECTED);
    assert_int_equal(got->peers[0].timeout_ms, 250);
    chord_client_close(c);
    fake_join(&f);
    free(got);
    free(stale);
    free(want);
}

/* ------------------------------------------------------------------ */
/* Failures.                                                           */

static void test_silent_node_times_out(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_SILENT};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, 300, &c), 0);
    int64_t t0 = mono_ms();
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(chord_client_get(c, "k", 1, &v, &vl), -ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    assert_true(took >= 290);
    assert_true(took < 2000);
    assert_null(v);
    /* The stream may be mid-frame now: the client refuses to reuse it. */
    assert_true(chord_client_del(c, "k", 1) < 0);
    chord_client_close(c);
    fake_join(&f);
    assert_int_equal(f.n_requests, 1);
}

static void test_wrong_reply_type_is_eproto(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_WRONG_TYPE, .status = CHORD_OK};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    assert_int_equal(chord_client_put(c, "k", 1, "v", 1), -EPROTO);
    chord_client_close(c);
    fake_join(&f);
}

static void test_garbage_reply_is_eproto(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_GARBAGE};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    struct chord_status *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    assert_int_equal(chord_client_status(c, st), -EPROTO);
    free(st);
    chord_client_close(c);
    fake_join(&f);
}

static void test_close_without_reply(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_CLOSE};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);
    int64_t t0 = mono_ms();
    int rc = chord_client_put(c, "k", 1, "v", 1);
    assert_true(rc == -ECONNRESET || rc == -EPIPE);
    assert_true(mono_ms() - t0 < 1000); /* noticed at once, not timed out */
    chord_client_close(c);
    fake_join(&f);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* A bound socket that does not listen: the kernel answers SYN with
     * RST, and nobody else can take the port while it is bound. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char addr[CHORD_ADDR_MAX];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    struct chord_client *c = (struct chord_client *)&sa;
    assert_int_equal(chord_client_connect(addr, 1000, &c), -ECONNREFUSED);
    assert_null(c);
    close(fd);
}

static void test_connect_bad_address(void **state)
{
    (void)state;
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect("nowhere", 1000, &c), -EINVAL);
    assert_null(c);
    assert_int_equal(chord_client_connect("127.0.0.1:1", 0, &c), -EINVAL);
    assert_null(c);
}

static void test_oversize_rejected_before_sending(void **state)
{
    (void)state;
    struct fake_node f = {.mode = FAKE_REPLY, .status = CHORD_OK};
    fake_start(&f);
    struct chord_client *c = NULL;
    assert_int_equal(chord_client_connect(f.addr, TEST_TIMEOUT_MS, &c), 0);

    char *key = malloc(CHORD_KEY_MAX + 1);
    uint8_t *val = calloc(1, CHORD_VALUE_MAX + 1);
    assert_non_null(key);
    assert_non_null(val);
    memset(key, 'K', CHORD_KEY_MAX + 1);
    uint8_t *v = NULL;
    size_t vl = 0;
    struct chord_lookup_result res;
    assert_int_equal(chord_client_put(c, key, CHORD_KEY_MAX + 1, "v", 1),
                     -EMSGSIZE);
    assert_int_equal(chord_client_put(c, "k", 1, val, CHORD_VALUE_MAX + 1),
                     -EMSGSIZE);
    assert_int_equal(chord_client_get(c, key, CHORD_KEY_MAX + 1, &v, &vl),
                     -EMSGSIZE);
    assert_int_equal(chord_client_del(c, key, CHORD_KEY_MAX + 1), -EMSGSIZE);
    assert_int_equal(chord_client_lookup(c, key, CHORD_KEY_MAX + 1, &res),
                     -EMSGSIZE);
    /* The limits themselves are fine, and the connection still works. */
    assert_int_equal(
        chord_client_put(c, key, CHORD_KEY_MAX, val, CHORD_VALUE_MAX), 0);
    chord_client_close(c);
    fake_join(&f);
    /* Only the legal put reached the node. */
    assert_int_equal(f.n_requests, 1);
    assert_int_equal(f.key_len, CHORD_KEY_MAX);
    assert_int_equal(f.req_value_len, CHORD_VALUE_MAX);
    assert_false(f.saw_malformed);
    free(key);
    free(val);
}

/* ------------------------------------------------------------------ */
/* Addresses.                                                          */

static void test_addr_parse_good(void **state)
{
    (void)state;
    char host[CHORD_ADDR_MAX];
    uint16_t port = 0;
    assert_int_equal(chord_addr_parse("127.0.0.1:7000", host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7000);
    assert_int_equal(chord_addr_parse("localhost:1", host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 1);
    assert_int_equal(chord_addr_parse("127.255.0.9:65535", host, &port), 0);
    assert_string_equal(host, "127.255.0.9");
    assert_int_equal(port, 65535);
    assert_int_equal(chord_addr_parse("[2001:DB8::0:1]:80", host, &port), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(chord_addr_parse("Node-1.Example:80", host, &port), 0);
    assert_string_equal(host, "node-1.example");
    assert_int_equal(port, 80);
}

static void test_addr_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        ":7000",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:700000",
        "127.0.0.1:-1",
        "127.0.0.1:+80",
        "127.0.0.1:80x",
        "127.0.0.1: 80",
        "127.0.0.1:8080:9",
        "127.1:80",
        "256.0.0.1:80",
        "1.2.3.4.5:80",
        "exa_mple.com:80",
        "[::1]80",
        "::1:80",
        "LOCALHOST:80x",
        "127.0.0.1:0000000080",
    };
    char host[CHORD_ADDR_MAX] = "untouched";
    uint16_t port = 4242;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (chord_addr_parse(bad[i], host, &port) == 0)
            fail_msg("accepted bad address '%s'", bad[i]);
    }
    assert_int_equal(chord_addr_parse(NULL, host, &port), -EINVAL);
    /* An address longer than CHORD_ADDR_MAX allows. */
    char longaddr[CHORD_ADDR_MAX + 16];
    memset(longaddr, '1', sizeof(longaddr));
    memcpy(longaddr + sizeof(longaddr) - 6, ":7000", 6);
    assert_int_equal(chord_addr_parse(longaddr, host, &port), -ENAMETOOLONG);
    /* Failures leave the outputs alone. */
    assert_string_equal(host, "untouched");
    assert_int_equal(port, 4242);
}

/* ------------------------------------------------------------------ */
/* JSON.                                                               */

/* The finished text of j (which must be well formed). */
static const char *json_text(struct chord_json *j)
{
    assert_int_equal(chord_json_finish(j), 0);
    return (const char *)j->out.data;
}

static void test_json_escape(void **state)
{
    (void)state;
    static const char in[] = "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f\x80\xff z\0e";
    struct chord_json j;
    chord_json_init(&j);
    chord_json_strn(&j, in, sizeof(in) - 1);
    assert_string_equal(json_text(&j),
                        "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f"
                        "\\u007f\\u0080\\u00ff z\\u0000e\"");
    chord_json_free(&j);

    /* A string of every byte: only printable ASCII in the output. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_json_escape(&b, all, sizeof(all)), 0);
    for (size_t i = 0; i < b.len; i++)
        assert_true(b.data[i] >= 0x20 && b.data[i] < 0x7f);
    chord_buf_free(&b);
}

static void test_json_document(void **state)
{
    (void)state;
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "k");
    chord_json_str(&j, "v");
    chord_json_key(&j, "n");
    chord_json_arr_begin(&j);
    chord_json_uint(&j, 1);
    chord_json_int(&j, -2);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "x");
    chord_json_null(&j);
    chord_json_obj_end(&j);
    chord_json_arr_end(&j);
    chord_json_key(&j, "e");
    chord_json_arr_begin(&j);
    chord_json_arr_end(&j);
    chord_json_key(&j, "o");
    chord_json_obj_begin(&j);
    chord_json_obj_end(&j);
    chord_json_key(&j, "t");
    chord_json_bool(&j, true);
    chord_json_key(&j, "f");
    chord_json_bool(&j, false);
    chord_json_key(&j, "big");
    chord_json_uint(&j, UINT64_MAX);
    chord_json_obj_end(&j);
    assert_string_equal(json_text(&j),
                        "{\"k\":\"v\",\"n\":[1,-2,{\"x\":null}],\"e\":[],"
                        "\"o\":{},\"t\":true,\"f\":false,"
                        "\"big\":18446744073709551615}");

    /* Reset: a second document in the same writer. */
    chord_json_reset(&j);
    struct chord_id id;
    memset(&id, 0xab, sizeof(id));
    chord_json_arr_begin(&j);
    chord_json_id(&j, &id);
    chord_json_arr_end(&j);
    assert_string_equal(json_text(&j),
                        "[\"abababababababababababababababababababab\"]");
    chord_json_free(&j);
}

static void test_json_misuse(void **state)
{
    (void)state;
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    assert_int_equal(chord_json_finish(&j), -EINVAL); /* still open */
    chord_json_arr_end(&j);                           /* wrong kind */
    assert_int_equal(chord_json_finish(&j), -EINVAL);
    chord_json_free(&j);

    chord_json_init(&j);
    chord_json_arr_begin(&j);
    chord_json_key(&j, "k"); /* a key outside an object */
    assert_int_equal(chord_json_finish(&j), -EINVAL);
    chord_json_free(&j);

    chord_json_init(&j);
    for (unsigned i = 0; i < CHORD_JSON_DEPTH_MAX + 1; i++)
        chord_json_arr_begin(&j);
    assert_true(chord_json_finish(&j) < 0);
    chord_json_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del_roundtrip),
        cmocka_unit_test(test_put_sends_key_and_value),
        cmocka_unit_test(test_get_reply_in_small_writes),
        cmocka_unit_test(test_get_empty_value),
        cmocka_unit_test(test_error_reply_keeps_text),
        cmocka_unit_test(test_append_and_precondition),
        cmocka_unit_test(test_error_reply_without_text),
        cmocka_unit_test(test_get_not_found),
        cmocka_unit_test(test_wrong_req_id_is_skipped),
        cmocka_unit_test(test_lookup_result),
        cmocka_unit_test(test_status_result),
        cmocka_unit_test(test_silent_node_times_out),
        cmocka_unit_test(test_wrong_reply_type_is_eproto),
        cmocka_unit_test(test_garbage_reply_is_eproto),
        cmocka_unit_test(test_close_without_reply),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_bad_address),
        cmocka_unit_test(test_oversize_rejected_before_sending),
        cmocka_unit_test(test_addr_parse_good),
        cmocka_unit_test(test_addr_parse_bad),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_document),
        cmocka_unit_test(test_json_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
