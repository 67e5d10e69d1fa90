/*
 * test_transport_limits.c - the transport's defences over real loopback
 * sockets: input buffers that grow with what arrived and go back when
 * empty, the input budget, separate caps for client and peer connections,
 * the idle timeout, the minimum frame rate, the per-turn read share,
 * outbound connections bound to the node's address, and reconnect.
 *
 * Raw non-blocking client sockets play the flooders; the limits are set
 * small (chord_transport_set_limits) so each test stays fast. The fixture
 * (two recording transports, a guard timer) is in transport_fixture.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "chord/buf.h"
#include "core/wire.h"
#include "io/transport.h"
#include "transport_fixture.h"

/* The 16-byte header of a frame of `type` announcing `len` bytes in all
 * (header included), then `body` bytes of filler: what a flooder sends. */
static void header(uint8_t out[CHORD_FRAME_HEADER], uint8_t type, size_t len)
{
    uint32_t rest = (uint32_t)(len - 4);
    memset(out, 0, CHORD_FRAME_HEADER);
    out[0] = (uint8_t)(rest >> 24), out[1] = (uint8_t)(rest >> 16);
    out[2] = (uint8_t)(rest >> 8), out[3] = (uint8_t)rest;
    out[4] = CHORD_PROTOCOL_VERSION;
    out[5] = type;
    out[15] = 1; /* req id */
}

/* Write n bytes to the raw socket fd without blocking the loop: what the
 * kernel does not take now is written after a loop turn. False when the
 * transport closed the connection first. */
static bool feed(struct fx *f, int fd, const uint8_t *p, size_t n)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (n > 0 && !f->timed_out) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w, n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_run(&f->loop, UV_RUN_ONCE);
        } else {
            return false;
        }
    }
    assert_false(f->timed_out);
    return true;
}

/* Send `body` filler bytes on fd (after its header). */
static bool feed_filler(struct fx *f, int fd, size_t body)
{
    uint8_t *p = malloc(body);
    assert_non_null(p);
    memset(p, 0x61, body);
    bool ok = feed(f, fd, p, body);
    free(p);
    return ok;
}

/* A raw connection that announced a frame of `type` and `len` bytes. */
static int announce(struct fx *f, const char *addr, uint8_t type, size_t len)
{
    int fd = raw_connect(port_of(addr));
    uint8_t h[CHORD_FRAME_HEADER];
    header(h, type, len);
    assert_true(feed(f, fd, h, sizeof h));
    return fd;
}

/* A raw connection that sent one whole frame of `type` (filler body). */
static int whole_frame(struct fx *f, const char *addr, uint8_t type)
{
    int fd = announce(f, addr, type, CHORD_FRAME_HEADER + 8);
    assert_true(feed_filler(f, fd, 8));
    return fd;
}

/* Small limits on transport a: caps of `per_pool` and budgets. */
static void small_limits(struct fx *f, uint32_t per_pool, size_t budget,
                         size_t client_budget, struct chord_gate_limits *l)
{
    chord_gate_limits_default(l);
    for (int p = 0; p < CHORD_GATE_POOLS; p++)
        l->max[p] = per_pool;
    l->budget = budget;
    l->client_budget = client_budget;
    chord_transport_set_limits(f->a.t, l);
}

/* ---- input buffers ------------------------------------------------------ */

/* A 2 MiB length prefix allocates nothing: the buffer grows with the bytes
 * that came (at most half again), and goes back when the frame is whole
 * or the connection closes. */
static void test_input_grows_with_arrival(void **state)
{
    struct fx *f = *state;
    int fd = announce(f, f->addr_a, CHORD_MSG_C_PUT, CHORD_FRAME_MAX);
    assert_true(feed_filler(f, fd, 10 << 10));
    RUN_UNTIL(f, chord_transport_input_bytes(f->a.t) >= (10u << 10));
    run_for(f, 20);
    assert_true(chord_transport_input_bytes(f->a.t) < (32u << 10));
    assert_true(feed_filler(f, fd, 500 << 10));
    RUN_UNTIL(f, chord_transport_input_bytes(f->a.t) >= (510u << 10));
    run_for(f, 20);
    size_t held = chord_transport_input_bytes(f->a.t);
    assert_true(held < (800u << 10));
    close(fd);
    RUN_UNTIL(f, chord_transport_conn_count(f->a.t) == 0);
    assert_int_equal(chord_transport_input_bytes(f->a.t), 0);

    /* A whole 300 KiB frame: delivered, then nothing held. */
    struct chord_buf fr;
    make_frame(&fr, 9, 300 << 10, 'g');
    fd = raw_connect(port_of(f->addr_a));
    assert_true(feed(f, fd, fr.data, fr.len));
    RUN_UNTIL(f, f->a.frames == 1);
    assert_frame_eq(&f->a, 0, &fr);
    assert_int_equal(chord_transport_input_bytes(f->a.t), 0);
    assert_int_equal(f->a.warnings, 0);
    close(fd);
    chord_buf_free(&fr);
}

/* Clients may hold at most the client budget: a growing flood loses its
 * largest member first (one warning each), a small frame still gets in,
 * and peers keep the rest of the budget. */
static void test_budget(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 64, 1u << 20, 512u << 10, &l);
    int c1 = announce(f, f->addr_a, CHORD_MSG_C_PUT, CHORD_FRAME_MAX);
    assert_true(feed_filler(f, c1, 300 << 10));
    RUN_UNTIL(f, chord_transport_input_bytes(f->a.t) >= (300u << 10));
    int c2 = announce(f, f->addr_a, CHORD_MSG_C_PUT, CHORD_FRAME_MAX);
    feed_filler(f, c2, 300 << 10);
    RUN_UNTIL(f, raw_closed(c1));
    assert_false(raw_closed(c2));
    assert_int_equal(f->a.warnings, 1);
    assert_non_null(strstr(f->a.last_warning, "over budget"));
    assert_true(chord_transport_input_bytes(f->a.t) <= l.client_budget);

    /* c2 growing past the client budget holds the most itself. */
    feed_filler(f, c2, 300 << 10);
    RUN_UNTIL(f, raw_closed(c2));
    assert_non_null(strstr(f->a.last_warning, "over budget"));
    assert_true(chord_transport_input_bytes(f->a.t) <= l.client_budget);

    /* A small client frame is served. */
    int c3 = whole_frame(f, f->addr_a, CHORD_MSG_C_GET);
    RUN_UNTIL(f, f->a.frames == 1);

    /* A peer may use the rest of the budget: 600 KiB, more than clients
     * may ever hold. */
    int p1 = announce(f, f->addr_a, CHORD_MSG_TRANSFER, CHORD_FRAME_MAX);
    assert_true(feed_filler(f, p1, 600 << 10));
    RUN_UNTIL(f, chord_transport_input_bytes(f->a.t) >= (600u << 10));
    assert_false(raw_closed(p1));
    assert_true(chord_transport_input_bytes(f->a.t) <= l.budget);
    close(c1), close(c2), close(c3), close(p1);
    RUN_UNTIL(f, chord_transport_input_bytes(f->a.t) == 0);
}

/* ---- pools -------------------------------------------------------------- */

/* Busy clients fill the client pool and idle connections the new pool:
 * another client is refused, a peer is still served; once the idle ones
 * have been idle long enough, one of them gives way to a newcomer. */
static void test_clients_cannot_lock_out_peers(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 2, 1u << 20, 512u << 10, &l);
    l.evict_idle_ms = 60000;
    chord_transport_set_limits(f->a.t, &l);
    /* Two clients with a request each, never answered: busy. */
    int c1 = whole_frame(f, f->addr_a, CHORD_MSG_C_GET);
    int c2 = whole_frame(f, f->addr_a, CHORD_MSG_C_GET);
    RUN_UNTIL(f, f->a.frames == 2);
    assert_int_equal(chord_transport_pool_count(f->a.t, CHORD_GATE_CLIENT), 2);
    int c3 = whole_frame(f, f->addr_a, CHORD_MSG_C_GET);
    RUN_UNTIL(f, raw_closed(c3));
    assert_int_equal(f->a.frames, 2);
    /* A peer gets in. */
    int p1 = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    RUN_UNTIL(f, f->a.frames == 3);
    assert_int_equal(chord_transport_pool_count(f->a.t, CHORD_GATE_PEER), 1);

    /* Two idle connections fill the new pool; a third is refused. */
    int i1 = raw_connect(port_of(f->addr_a));
    int i2 = raw_connect(port_of(f->addr_a));
    RUN_UNTIL(f, chord_transport_pool_count(f->a.t, CHORD_GATE_NEW) == 2);
    int i3 = raw_connect(port_of(f->addr_a));
    RUN_UNTIL(f, raw_closed(i3));
    /* Once they have been idle long enough, the oldest gives way. */
    l.evict_idle_ms = 100;
    chord_transport_set_limits(f->a.t, &l);
    run_for(f, 150);
    int p2 = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    RUN_UNTIL(f, f->a.frames == 4);
    RUN_UNTIL(f, raw_closed(i1));
    assert_false(raw_closed(i2));
    assert_int_equal(chord_transport_pool_count(f->a.t, CHORD_GATE_PEER), 2);
    assert_true(f->a.warnings <= 1); /* one summary line, not one a conn */
    close(c1), close(c2), close(c3), close(p1), close(p2);
    close(i1), close(i2), close(i3);
}

/* The reverse: peers fill their pool; another peer is refused, clients
 * are still served. */
static void test_peers_cannot_lock_out_clients(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 2, 1u << 20, 512u << 10, &l);
    int p1 = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    int p2 = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    RUN_UNTIL(f, f->a.frames == 2);
    int p3 = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    RUN_UNTIL(f, raw_closed(p3));
    int c1 = whole_frame(f, f->addr_a, CHORD_MSG_C_STATUS);
    RUN_UNTIL(f, f->a.frames == 3);
    assert_false(raw_closed(c1));
    assert_int_equal(chord_transport_pool_count(f->a.t, CHORD_GATE_PEER), 2);
    assert_int_equal(chord_transport_pool_count(f->a.t, CHORD_GATE_CLIENT), 1);
    close(p1), close(p2), close(p3), close(c1);
}

/* ---- time --------------------------------------------------------------- */

/* A connection that sends nothing, and a client whose request was
 * answered, are closed after the idle timeout; a peer connection stays,
 * however silent (closing it would make its node report this one
 * unreachable). A timeout of 0 closes nothing. */
static void test_idle_timeout(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 16, 1u << 20, 512u << 10, &l);
    l.idle_timeout_ms = 300;
    chord_transport_set_limits(f->a.t, &l);
    int idle = raw_connect(port_of(f->addr_a));
    int peer = whole_frame(f, f->addr_a, CHORD_MSG_PING);
    int client = whole_frame(f, f->addr_a, CHORD_MSG_C_GET);
    RUN_UNTIL(f, f->a.frames == 2);
    struct chord_buf reply;
    make_frame(&reply, 1, 4, 'r');
    uint64_t client_conn = f->a.conn[1];
    assert_int_equal(
        chord_transport_reply(f->a.t, client_conn, reply.data, reply.len), 0);
    /* Read the reply, so that what follows it is the end of the stream. */
    uint8_t got[64];
    size_t have = 0;
    while (have < reply.len && !f->timed_out) {
        ssize_t n = recv(client, got, sizeof got, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        else
            uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(have, reply.len);
    RUN_UNTIL(f, raw_closed(idle) && raw_closed(client));
    run_for(f, 500);
    assert_false(raw_closed(peer));
    assert_int_equal(chord_transport_conn_count(f->a.t), 1);
    /* 0 turns the timeout off. */
    l.idle_timeout_ms = 0;
    chord_transport_set_limits(f->a.t, &l);
    int idle2 = raw_connect(port_of(f->addr_a));
    run_for(f, 600);
    assert_false(raw_closed(idle2));
    close(idle), close(peer), close(client), close(idle2);
    chord_buf_free(&reply);
}

/* A frame dribbled under the minimum rate is cut off with one warning; a
 * frame sent in pieces fast enough is delivered. */
static void test_slow_frame(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 16, 1u << 20, 512u << 10, &l);
    l.min_rate = 20u << 10;
    l.grace_ms = 300;
    chord_transport_set_limits(f->a.t, &l);
    int slow = announce(f, f->addr_a, CHORD_MSG_C_PUT, 64u << 10);
    assert_true(feed_filler(f, slow, 1024));
    bool open = true;
    for (int i = 0; i < 40 && open; i++) {
        open = feed_filler(f, slow, 1);
        run_for(f, 50);
        open = open && !raw_closed(slow);
    }
    assert_false(open);
    assert_int_equal(f->a.warnings, 1);
    assert_non_null(strstr(f->a.last_warning, "too slowly"));

    struct chord_buf fr;
    make_frame(&fr, 2, 60u << 10, 'q');
    int fast = raw_connect(port_of(f->addr_a));
    for (size_t off = 0; off < fr.len; off += 4096) {
        size_t n = fr.len - off < 4096 ? fr.len - off : 4096;
        assert_true(feed(f, fast, fr.data + off, n));
        run_for(f, 10);
    }
    RUN_UNTIL(f, f->a.frames == 1);
    assert_frame_eq(&f->a, 0, &fr);
    assert_int_equal(f->a.warnings, 1);
    close(slow), close(fast);
    chord_buf_free(&fr);
}

/* ---- the loop ----------------------------------------------------------- */

static void count_turn(uv_check_t *h)
{
    (*(unsigned *)h->data)++;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* One connection reads at most its share per loop turn: a 1 MiB frame
 * with a 4 KiB share takes hundreds of turns (in which timers run) and
 * arrives whole. */
static void test_read_share(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    small_limits(f, 16, 4u << 20, 2u << 20, &l);
    l.turn_conn_max = 4u << 10;
    chord_transport_set_limits(f->a.t, &l);
    unsigned turns = 0;
    uv_check_t *check = malloc(sizeof *check);
    uv_check_init(&f->loop, check);
    check->data = &turns;
    uv_check_start(check, count_turn);
    struct chord_buf big;
    make_frame(&big, 5, CHORD_VALUE_MAX, 'b');
    assert_int_equal(chord_transport_send(f->b.t, f->addr_a, big.data, big.len),
                     0);
    RUN_UNTIL(f, f->a.frames == 1);
    assert_frame_eq(&f->a, 0, &big);
    assert_true(turns >= 200);
    uv_close((uv_handle_t *)check, free_handle);
    chord_buf_free(&big);
}

/* ---- outbound ----------------------------------------------------------- */

/* Accept one connection on the non-blocking listener lfd, running the
 * loop meanwhile; the peer's IP in dotted form. */
static void accept_from(struct fx *f, int lfd, char ip[INET_ADDRSTRLEN])
{
    int fd = -1;
    while (fd < 0 && !f->timed_out) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_false(f->timed_out);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    assert_int_equal(getpeername(fd, (struct sockaddr *)&sa, &sl), 0);
    inet_ntop(AF_INET, &sa.sin_addr, ip, INET_ADDRSTRLEN);
    close(fd);
}

/* With a source address, the peer sees the connection come from the
 * node's own IP; without, from whatever the kernel picks (127.0.0.1). */
static void test_source_address(void **state)
{
    struct fx *f = *state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(0x7f000003u); /* 127.0.0.3 */
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char to[CHORD_ADDR_MAX];
    snprintf(to, sizeof to, "127.0.0.3:%u", (unsigned)ntohs(sa.sin_port));
    struct chord_buf fr;
    make_frame(&fr, 1, 4, 's');
    char ip[INET_ADDRSTRLEN];

    assert_int_equal(chord_transport_send(f->a.t, to, fr.data, fr.len), 0);
    accept_from(f, lfd, ip);
    assert_string_equal(ip, "127.0.0.1");

    struct chord_transport_cb cb = {.ctx = &f->b, .frame = rx_frame};
    struct chord_transport *t;
    assert_int_equal(chord_transport_new(&f->loop, &cb, &t), 0);
    assert_int_equal(chord_transport_set_source(t, "127.0.0.2:7000"), 0);
    assert_int_equal(chord_transport_send(t, to, fr.data, fr.len), 0);
    accept_from(f, lfd, ip);
    assert_string_equal(ip, "127.0.0.2");
    assert_int_equal(chord_transport_set_source(t, "nowhere"), -EINVAL);
    chord_transport_close(t);
    close(lfd);
    chord_buf_free(&fr);
}

/* reconnect() closes the outbound connection without an unreachable
 * report and the next send opens another; a fresh one is kept; called
 * from a frame callback, the frames already read are still delivered. */
static void test_reconnect(void **state)
{
    struct fx *f = *state;
    struct chord_gate_limits l;
    chord_gate_limits_default(&l);
    l.reconnect_fresh_ms = 0;
    chord_transport_set_limits(f->a.t, &l);
    struct chord_buf fr;
    make_frame(&fr, 1, 4, 'c');
    chord_transport_send(f->a.t, f->addr_b, fr.data, fr.len);
    RUN_UNTIL(f, f->b.frames == 1);
    chord_transport_reconnect(f->a.t, f->addr_b);
    chord_transport_reconnect(f->a.t, "127.0.0.1:1"); /* none: nothing */
    assert_int_equal(chord_transport_conn_count(f->a.t), 0);
    chord_transport_send(f->a.t, f->addr_b, fr.data, fr.len);
    RUN_UNTIL(f, f->b.frames == 2);
    assert_true(f->b.conn[1] != f->b.conn[0]);
    run_for(f, 30);
    assert_int_equal(f->a.unreachable, 0);

    /* Fresh connections are kept. */
    l.reconnect_fresh_ms = 60000;
    chord_transport_set_limits(f->a.t, &l);
    chord_transport_reconnect(f->a.t, f->addr_b);
    assert_int_equal(chord_transport_conn_count(f->a.t), 1);

    /* From inside the frame callback of that very connection: two
     * replies written at once both arrive, then it closes. */
    l.reconnect_fresh_ms = 0;
    chord_transport_set_limits(f->a.t, &l);
    f->a.reconnect_addr = f->addr_b;
    chord_transport_reply(f->b.t, f->b.conn[1], fr.data, fr.len);
    chord_transport_reply(f->b.t, f->b.conn[1], fr.data, fr.len);
    RUN_UNTIL(f, f->a.frames == 2);
    RUN_UNTIL(f, chord_transport_conn_count(f->a.t) == 0);
    run_for(f, 30);
    assert_int_equal(f->a.unreachable, 0);
    chord_buf_free(&fr);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_input_grows_with_arrival, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_cannot_lock_out_peers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_cannot_lock_out_clients,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
