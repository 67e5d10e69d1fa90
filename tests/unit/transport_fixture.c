/*
 * transport_fixture.c - what the transport's socket tests share (see
 * transport_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chord/node.h"
#include "core/wire.h"
#include "transport_fixture.h"

uint64_t frame_req_id(const uint8_t *f)
{
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | f[i];
    return v;
}

int rx_frame(void *ctx, uint64_t conn, const uint8_t *frame, size_t len)
{
    struct rx *r = ctx;
    if (r->frames < RX_KEEP) {
        r->copy[r->frames] = malloc(len);
        memcpy(r->copy[r->frames], frame, len);
        r->copy_len[r->frames] = len;
        r->conn[r->frames] = conn;
    }
    r->frames++;
    if (r->reconnect_addr)
        chord_transport_reconnect(r->t, r->reconnect_addr);
    if (r->reject_req_id && frame_req_id(frame) == r->reject_req_id)
        return -EPROTO;
    return 0;
}

void rx_unreachable(void *ctx, const char *addr)
{
    struct rx *r = ctx;
    r->unreachable++;
    snprintf(r->unreachable_addr, sizeof r->unreachable_addr, "%s", addr);
}

void rx_log(void *ctx, int level, const char *line)
{
    struct rx *r = ctx;
    if (level <= CHORD_LOG_WARN) {
        r->warnings++;
        snprintf(r->last_warning, sizeof r->last_warning, "%s", line);
    }
}

void on_guard(uv_timer_t *timer)
{
    struct fx *f = timer->data;
    f->timed_out = true;
}

static void on_pause(uv_timer_t *timer)
{
    *(bool *)timer->data = true;
}

static void close_and_free(uv_handle_t *h)
{
    free(h);
}

/* Run the loop for about `ms` milliseconds. */
void run_for(struct fx *f, uint64_t ms)
{
    bool done = false;
    uv_timer_t *t = malloc(sizeof *t);
    uv_timer_init(&f->loop, t);
    t->data = &done;
    uv_timer_start(t, on_pause, ms, 0);
    RUN_UNTIL(f, done);
    uv_close((uv_handle_t *)t, close_and_free);
}

void rx_open(struct fx *f, struct rx *r, char *addr)
{
    struct chord_transport_cb cb = {
        .ctx = r,
        .frame = rx_frame,
        .unreachable = rx_unreachable,
        .log = rx_log,
    };
    assert_int_equal(chord_transport_new(&f->loop, &cb, &r->t), 0);
    assert_int_equal(chord_transport_listen(r->t, "127.0.0.1:0"), 0);
    uint16_t port = chord_transport_port(r->t);
    assert_true(port != 0);
    snprintf(addr, CHORD_ADDR_MAX, "127.0.0.1:%u", (unsigned)port);
}

int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->guard);
    f->guard.data = f;
    uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
    rx_open(f, &f->a, f->addr_a);
    rx_open(f, &f->b, f->addr_b);
    *state = f;
    return 0;
}

int teardown(void **state)
{
    struct fx *f = *state;
    if (f->cleanup)
        f->cleanup(f->cleanup_arg);
    if (f->a.t)
        chord_transport_close(f->a.t);
    if (f->b.t)
        chord_transport_close(f->b.t);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    for (int i = 0; i < RX_KEEP; i++) {
        free(f->a.copy[i]);
        free(f->b.copy[i]);
    }
    free(f);
    return 0;
}

/* Encode a C_PUT frame with a `value_len`-byte value of `fill` bytes. */
void make_frame(struct chord_buf *out, uint64_t req_id, size_t value_len,
                uint8_t fill)
{
    uint8_t *value = malloc(value_len ? value_len : 1);
    assert_non_null(value);
    memset(value, fill, value_len);
    struct chord_msg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_PUT, req_id);
    m->key.data = (const uint8_t *)"key";
    m->key.len = 3;
    m->value.data = value;
    m->value.len = value_len;
    chord_buf_init(out);
    assert_int_equal(chord_msg_encode(m, out), 0);
    free(m);
    free(value);
}

void assert_frame_eq(const struct rx *r, unsigned i,
                     const struct chord_buf *want)
{
    assert_true(i < r->frames);
    assert_int_equal(r->copy_len[i], want->len);
    assert_memory_equal(r->copy[i], want->data, want->len);
}

/* A blocking client socket connected to `port` on 127.0.0.1. */
int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

void raw_write(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

uint16_t port_of(const char *addr)
{
    return (uint16_t)atoi(strrchr(addr, ':') + 1);
}

/* Has the server closed the client socket `fd` (EOF or reset)? */
bool raw_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}
