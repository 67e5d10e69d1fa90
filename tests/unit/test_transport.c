/*
 * test_transport.c - the TCP transport over real loopback sockets.
 *
 * Two transports share one loop and bind 127.0.0.1 port 0 (the kernel
 * picks a free port, read back with chord_transport_port()), so tests
 * never collide with each other or with running daemons. Raw blocking
 * sockets play clients that misbehave: writing a frame one byte at a time
 * or sending garbage. Every test runs under a guard timer that fails it
 * after a few seconds, and every teardown checks that closing the
 * transports leaves nothing behind (uv_loop_close() == 0; ASan checks the
 * memory). The fixture is in transport_fixture.c.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "chord/node.h"
#include "chord/buf.h"
#include "core/wire.h"
#include "io/transport.h"
#include "transport_fixture.h"

/* ---- tests --------------------------------------------------------------- */

/* A sends to B, B sends to A, and B replies on the connection A's frame
 * came in on, which A reads as a frame on its outbound connection. */
static void test_exchange_both_ways(void **state)
{
    struct fx *f = *state;
    struct chord_buf f1, f2, f3;
    make_frame(&f1, 1, 10, 'a');
    make_frame(&f2, 2, 20, 'b');
    make_frame(&f3, 3, 30, 'c');

    assert_int_equal(chord_transport_send(f->a.t, f->addr_b, f1.data, f1.len),
                     0);
    RUN_UNTIL(f, f->b.frames == 1);
    assert_frame_eq(&f->b, 0, &f1);
    assert_true(f->b.conn[0] != 0);

    assert_int_equal(chord_transport_send(f->b.t, f->addr_a, f2.data, f2.len),
                     0);
    RUN_UNTIL(f, f->a.frames == 1);
    assert_frame_eq(&f->a, 0, &f2);

    assert_int_equal(
        chord_transport_reply(f->b.t, f->b.conn[0], f3.data, f3.len), 0);
    RUN_UNTIL(f, f->a.frames == 2);
    assert_frame_eq(&f->a, 1, &f3);
    assert_true(f->a.conn[1] != f->a.conn[0]);

    /* A reply for a connection that does not exist is dropped. */
    assert_int_equal(chord_transport_reply(f->b.t, 999999, f3.data, f3.len),
                     -ENOTCONN);
    assert_int_equal(f->a.unreachable + f->b.unreachable, 0);
    assert_int_equal(f->a.warnings + f->b.warnings, 0);

    chord_buf_free(&f1);
    chord_buf_free(&f2);
    chord_buf_free(&f3);
}

/* A frame carrying a 1 MiB value arrives whole and in order with the small
 * frames around it, over one pooled connection. */
static void test_large_frame(void **state)
{
    struct fx *f = *state;
    struct chord_buf small1, big, small2;
    make_frame(&small1, 1, 1, 'x');
    make_frame(&big, 2, CHORD_VALUE_MAX, 0x5a);
    make_frame(&small2, 3, 1, 'y');
    assert_true(big.len > CHORD_VALUE_MAX);

    chord_transport_send(f->a.t, f->addr_b, small1.data, small1.len);
    chord_transport_send(f->a.t, f->addr_b, big.data, big.len);
    chord_transport_send(f->a.t, f->addr_b, small2.data, small2.len);
    RUN_UNTIL(f, f->b.frames == 3);
    assert_frame_eq(&f->b, 0, &small1);
    assert_frame_eq(&f->b, 1, &big);
    assert_frame_eq(&f->b, 2, &small2);
    /* One outbound connection on A, one inbound on B. */
    assert_int_equal(chord_transport_conn_count(f->a.t), 1);
    assert_int_equal(chord_transport_conn_count(f->b.t), 1);
    RUN_UNTIL(f, chord_transport_pending(f->a.t) == 0);

    chord_buf_free(&small1);
    chord_buf_free(&big);
    chord_buf_free(&small2);
}

/* A frame dribbled in one byte per read is delivered exactly once, and
 * only when its last byte has arrived. */
static void test_byte_at_a_time(void **state)
{
    struct fx *f = *state;
    struct chord_buf fr;
    make_frame(&fr, 7, 40, 'z');
    int fd = raw_connect(port_of(f->addr_a));
    RUN_UNTIL(f, chord_transport_conn_count(f->a.t) == 1);

    for (size_t i = 0; i < fr.len; i++) {
        raw_write(fd, fr.data + i, 1);
        run_for(f, 1);
        if (i + 1 < fr.len)
            assert_int_equal(f->a.frames, 0);
    }
    RUN_UNTIL(f, f->a.frames == 1);
    run_for(f, 20);
    assert_int_equal(f->a.frames, 1);
    assert_frame_eq(&f->a, 0, &fr);
    close(fd);
    chord_buf_free(&fr);
}

/* Garbage on one connection closes that connection only, with one warning
 * naming the peer; another client keeps being served before and after. */
static void test_garbage_closes_only_that_conn(void **state)
{
    struct fx *f = *state;
    struct chord_buf good1, good2;
    make_frame(&good1, 1, 5, 'g');
    make_frame(&good2, 2, 5, 'h');
    int bad = raw_connect(port_of(f->addr_a));
    int ok = raw_connect(port_of(f->addr_a));
    RUN_UNTIL(f, chord_transport_conn_count(f->a.t) == 2);

    raw_write(ok, good1.data, good1.len);
    RUN_UNTIL(f, f->a.frames == 1);

    /* A header claiming protocol version 99: malformed. */
    uint8_t junk[32];
    memset(junk, 0xee, sizeof junk);
    junk[0] = 0, junk[1] = 0, junk[2] = 0, junk[3] = 28;
    junk[4] = 99;
    raw_write(bad, junk, sizeof junk);
    RUN_UNTIL(f, chord_transport_conn_count(f->a.t) == 1);
    RUN_UNTIL(f, raw_closed(bad));
    assert_int_equal(f->a.warnings, 1);
    assert_non_null(strstr(f->a.last_warning, "malformed"));
    struct sockaddr_in me;
    socklen_t sl = sizeof me;
    getsockname(bad, (struct sockaddr *)&me, &sl);
    char peer[64];
    snprintf(peer, sizeof peer, "127.0.0.1:%u", (unsigned)ntohs(me.sin_port));
    assert_non_null(strstr(f->a.last_warning, peer));

    raw_write(ok, good2.data, good2.len);
    RUN_UNTIL(f, f->a.frames == 2);
    assert_frame_eq(&f->a, 1, &good2);
    assert_false(raw_closed(ok));
    assert_int_equal(f->a.unreachable, 0);

    close(bad);
    close(ok);
    chord_buf_free(&good1);
    chord_buf_free(&good2);
}

/* A frame the callback rejects (-EPROTO) closes its connection; frames
 * before it on the same connection were delivered. */
static void test_rejected_frame_closes_conn(void **state)
{
    struct fx *f = *state;
    struct chord_buf good, evil;
    make_frame(&good, 1, 5, 'g');
    make_frame(&evil, 666, 5, 'e');
    f->b.reject_req_id = 666;
    int fd = raw_connect(port_of(f->addr_b));
    uint8_t both[256];
    memcpy(both, good.data, good.len);
    memcpy(both + good.len, evil.data, evil.len);
    raw_write(fd, both, good.len + evil.len);
    RUN_UNTIL(f, raw_closed(fd));
    assert_int_equal(f->b.frames, 2);
    assert_int_equal(f->b.warnings, 1);
    assert_non_null(strstr(f->b.last_warning, "rejected"));
    assert_int_equal(chord_transport_conn_count(f->b.t), 0);
    close(fd);
    chord_buf_free(&good);
    chord_buf_free(&evil);
}

/* Frames for a port where nobody listens: exactly one unreachable report
 * for the failed connection, and another for a later failed attempt. */
static void test_unreachable_once(void **state)
{
    struct fx *f = *state;
    /* A socket bound but not listening holds the port and refuses. */
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(hold, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(hold, (struct sockaddr *)&sa, &sl);
    char dead[CHORD_ADDR_MAX];
    snprintf(dead, sizeof dead, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

    struct chord_buf fr;
    make_frame(&fr, 1, 100, 'u');
    for (int i = 0; i < 3; i++)
        assert_int_equal(chord_transport_send(f->a.t, dead, fr.data, fr.len),
                         0);
    assert_int_equal(f->a.unreachable, 0); /* never synchronously */
    RUN_UNTIL(f, f->a.unreachable == 1);
    assert_string_equal(f->a.unreachable_addr, dead);
    run_for(f, 100);
    assert_int_equal(f->a.unreachable, 1);
    assert_int_equal(chord_transport_pending(f->a.t), 0);
    assert_int_equal(chord_transport_conn_count(f->a.t), 0);

    /* The next send tries again and fails again: one more report. */
    chord_transport_send(f->a.t, dead, fr.data, fr.len);
    RUN_UNTIL(f, f->a.unreachable == 2);
    run_for(f, 50);
    assert_int_equal(f->a.unreachable, 2);

    /* A malformed address is reported too, from the loop. */
    assert_true(chord_transport_send(f->a.t, "nowhere", fr.data, fr.len) < 0);
    assert_int_equal(f->a.unreachable, 2);
    RUN_UNTIL(f, f->a.unreachable == 3);
    assert_string_equal(f->a.unreachable_addr, "nowhere");
    close(hold);
    chord_buf_free(&fr);
}

/* A peer that goes away (EOF on the outbound connection) is reported
 * unreachable once. */
static void test_peer_gone_is_unreachable(void **state)
{
    struct fx *f = *state;
    struct chord_buf fr;
    make_frame(&fr, 1, 10, 'p');
    chord_transport_send(f->a.t, f->addr_b, fr.data, fr.len);
    RUN_UNTIL(f, f->b.frames == 1);
    chord_transport_close(f->b.t);
    f->b.t = NULL;
    RUN_UNTIL(f, f->a.unreachable == 1);
    assert_string_equal(f->a.unreachable_addr, f->addr_b);
    run_for(f, 50);
    assert_int_equal(f->a.unreachable, 1);
    assert_int_equal(chord_transport_conn_count(f->a.t), 0);
    chord_buf_free(&fr);
}

/* A peer that accepts but never reads: the queue for it is capped; going
 * over the cap drops the connection and reports the peer once. */
static void test_queue_cap(void **state)
{
    struct fx *f = *state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char slow[CHORD_ADDR_MAX];
    snprintf(slow, sizeof slow, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

    struct chord_buf big;
    make_frame(&big, 1, CHORD_VALUE_MAX, 's');
    assert_int_equal(chord_transport_send(f->a.t, slow, big.data, big.len), 0);
    run_for(f, 20); /* connected, the kernel took what it takes */
    int i, rc = 0;
    for (i = 0; i < 128 && rc == 0; i++)
        rc = chord_transport_send(f->a.t, slow, big.data, big.len);
    assert_int_equal(rc, -ENOBUFS);
    assert_true(i > 32); /* 64 MiB were accepted first */
    assert_int_equal(chord_transport_conn_count(f->a.t), 0);
    RUN_UNTIL(f, f->a.unreachable == 1);
    assert_string_equal(f->a.unreachable_addr, slow);
    assert_int_equal(chord_transport_pending(f->a.t), 0);
    run_for(f, 20);
    assert_int_equal(f->a.unreachable, 1);
    close(lfd);
    chord_buf_free(&big);
}

/* Closing in the middle of everything (a large write in flight, frames
 * queued on a connection still connecting) makes no callback and leaves
 * nothing open (the teardown checks uv_loop_close()). */
static void test_close_with_work_in_flight(void **state)
{
    struct fx *f = *state;
    struct chord_buf big;
    make_frame(&big, 1, CHORD_VALUE_MAX, 'w');
    chord_transport_send(f->a.t, f->addr_b, big.data, big.len);
    chord_transport_send(f->a.t, "127.0.0.1:1", big.data, big.len);
    chord_transport_send(f->a.t, "bad address", big.data, big.len);
    assert_true(chord_transport_pending(f->a.t) > 0);
    chord_transport_close(f->a.t);
    f->a.t = NULL;
    run_for(f, 50);
    assert_int_equal(f->a.unreachable, 0);
    chord_buf_free(&big);
}

/* ---- many peers ------------------------------------------------------------
 */

#define MANY_PEERS 200 /* live peers, each at its own address */
#define MANY_DEAD 20   /* addresses that refuse connections */
#define MANY_ROUNDS 4

/* One receiving peer. Frame req ids are round * 1000 + its index. */
struct many_peer {
    struct chord_transport *t;
    char addr[CHORD_ADDR_MAX];
    unsigned index;
    unsigned frames;
    unsigned wrong;    /* frames meant for another peer */
    uint64_t conn;     /* the connection the last frame came on */
    unsigned expected; /* unreachable reports the sender owes for it */
};

struct many {
    struct chord_transport *sender;
    struct many_peer peer[MANY_PEERS];
    char dead[MANY_DEAD][CHORD_ADDR_MAX];
    int dead_fd[MANY_DEAD];
    unsigned reports[MANY_PEERS + MANY_DEAD]; /* per address, by the sender */
    unsigned stray_reports;                   /* for an address not listed */
    unsigned total_reports;
};

static int many_frame(void *ctx, uint64_t conn, const uint8_t *frame,
                      size_t len)
{
    struct many_peer *p = ctx;
    (void)len;
    if (frame_req_id(frame) % 1000 != p->index)
        p->wrong++;
    p->frames++;
    p->conn = conn;
    return 0;
}

static int many_sender_frame(void *ctx, uint64_t conn, const uint8_t *frame,
                             size_t len)
{
    (void)ctx, (void)conn, (void)frame, (void)len;
    return 0;
}

static void many_unreachable(void *ctx, const char *addr)
{
    struct many *m = ctx;
    m->total_reports++;
    for (unsigned i = 0; i < MANY_PEERS; i++)
        if (strcmp(m->peer[i].addr, addr) == 0) {
            m->reports[i]++;
            return;
        }
    for (unsigned i = 0; i < MANY_DEAD; i++)
        if (strcmp(m->dead[i], addr) == 0) {
            m->reports[MANY_PEERS + i]++;
            return;
        }
    m->stray_reports++;
}

static unsigned many_frames(const struct many *m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < MANY_PEERS; i++)
        n += m->peer[i].frames;
    return n;
}

static unsigned many_expected_reports(const struct many *m, unsigned rounds)
{
    unsigned n = MANY_DEAD * rounds;
    for (unsigned i = 0; i < MANY_PEERS; i++)
        n += m->peer[i].expected;
    return n;
}

/* Close the sender and every peer (no callback follows), free `m`. */
static void many_free(struct many *m)
{
    if (m->sender)
        chord_transport_close(m->sender);
    for (unsigned i = 0; i < MANY_PEERS; i++)
        if (m->peer[i].t)
            chord_transport_close(m->peer[i].t);
    for (unsigned i = 0; i < MANY_DEAD; i++)
        if (m->dead_fd[i] >= 0)
            close(m->dead_fd[i]);
    free(m);
}

static void many_cleanup(void *m)
{
    many_free(m);
}

/*
 * One sender, 200 peers at 200 distinct addresses on 50 loopback IPs, and
 * 20 addresses that refuse. Each round sends one frame to every address;
 * between rounds a different third of the peers drop their connection.
 * Every frame must reach the peer it was addressed to; a peer that kept
 * its connection must get the next frame on that same connection (the
 * sender found it by address) and a peer that dropped it on a new one;
 * the sender reports exactly the dropped and refusing addresses, once
 * each time, and holds exactly one connection per live peer.
 */
static void test_many_peers_churn(void **state)
{
    struct fx *f = *state;
    uv_timer_start(&f->guard, on_guard, 60000, 0); /* slow under ASan */
    struct many *m = calloc(1, sizeof *m);
    assert_non_null(m);
    for (unsigned i = 0; i < MANY_DEAD; i++)
        m->dead_fd[i] = -1;
    f->cleanup = many_cleanup;
    f->cleanup_arg = m;

    for (unsigned i = 0; i < MANY_PEERS; i++) {
        struct many_peer *p = &m->peer[i];
        p->index = i;
        struct chord_transport_cb cb = {.ctx = p, .frame = many_frame};
        assert_int_equal(chord_transport_new(&f->loop, &cb, &p->t), 0);
        char listen_at[CHORD_ADDR_MAX];
        snprintf(listen_at, sizeof listen_at, "127.0.0.%u:0", 10 + i % 50);
        assert_int_equal(chord_transport_listen(p->t, listen_at), 0);
        snprintf(p->addr, sizeof p->addr, "127.0.0.%u:%u", 10 + i % 50,
                 (unsigned)chord_transport_port(p->t));
    }
    for (unsigned i = 0; i < MANY_DEAD; i++) {
        /* Bound, not listening: holds the port and refuses. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        m->dead_fd[i] = fd;
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(0x7f000000u | (70u + i));
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        socklen_t sl = sizeof sa;
        getsockname(fd, (struct sockaddr *)&sa, &sl);
        snprintf(m->dead[i], sizeof m->dead[i], "127.0.0.%u:%u", 70 + i,
                 (unsigned)ntohs(sa.sin_port));
    }
    struct chord_transport_cb scb = {
        .ctx = m, .frame = many_sender_frame, .unreachable = many_unreachable};
    assert_int_equal(chord_transport_new(&f->loop, &scb, &m->sender), 0);
    struct chord_transport *s = m->sender;

    uint64_t last_conn[MANY_PEERS] = {0};
    bool dropped[MANY_PEERS] = {false};
    for (unsigned round = 0; round < MANY_ROUNDS; round++) {
        /* Every send is queued before the loop runs: 220 connections
         * are opening at once. */
        for (unsigned i = 0; i < MANY_PEERS + MANY_DEAD; i++) {
            struct chord_buf fr;
            unsigned k = i < MANY_PEERS ? i : 999;
            make_frame(&fr, round * 1000u + k, 8, (uint8_t)i);
            const char *to =
                i < MANY_PEERS ? m->peer[i].addr : m->dead[i - MANY_PEERS];
            assert_int_equal(chord_transport_send(s, to, fr.data, fr.len), 0);
            chord_buf_free(&fr);
        }
        assert_int_equal(chord_transport_conn_count(s), MANY_PEERS + MANY_DEAD);
        RUN_UNTIL(f,
                  many_frames(m) == (round + 1) * MANY_PEERS &&
                      m->total_reports == many_expected_reports(m, round + 1));
        assert_int_equal(chord_transport_conn_count(s), MANY_PEERS);
        for (unsigned i = 0; i < MANY_PEERS; i++) {
            struct many_peer *p = &m->peer[i];
            assert_int_equal(p->frames, round + 1);
            assert_int_equal(p->wrong, 0);
            if (round > 0 && dropped[i])
                assert_true(p->conn != last_conn[i]);
            else if (round > 0)
                assert_true(p->conn == last_conn[i]);
            last_conn[i] = p->conn;
            assert_int_equal(m->reports[i], p->expected);
        }
        for (unsigned i = 0; i < MANY_DEAD; i++)
            assert_int_equal(m->reports[MANY_PEERS + i], round + 1);
        assert_int_equal(m->stray_reports, 0);

        /* Churn: a different third of the peers drops its connection. */
        unsigned n_dropped = 0;
        for (unsigned i = 0; i < MANY_PEERS; i++) {
            dropped[i] = (i + round) % 3 == 0;
            if (dropped[i]) {
                chord_transport_close_conn(m->peer[i].t, m->peer[i].conn);
                m->peer[i].expected++;
                n_dropped++;
            }
        }
        RUN_UNTIL(f, m->total_reports == many_expected_reports(m, round + 1));
        assert_int_equal(chord_transport_conn_count(s), MANY_PEERS - n_dropped);
        for (unsigned i = 0; i < MANY_PEERS; i++)
            assert_int_equal(m->reports[i], m->peer[i].expected);
    }
    run_for(f, 20);
    assert_int_equal(m->total_reports, many_expected_reports(m, MANY_ROUNDS));
    assert_int_equal(m->stray_reports, 0);

    /* The teardown closes everything (also after a failed assertion). */
}

/* Addresses: what chord/addr.h takes, with port 0 for a listener; no
 * host is refused for being outside loopback. */
static void test_addr_parse(void **state)
{
    (void)state;
    struct chord_addr a;
    assert_int_equal(chord_transport_addr_parse("127.0.0.1:7000", &a), 0);
    assert_int_equal(a.port, 7000);
    assert_int_equal(chord_transport_addr_parse("localhost:0", &a), 0);
    assert_int_equal(a.kind, CHORD_ADDR_NAME);
    assert_int_equal(chord_transport_addr_parse("203.0.113.1:7000", &a), 0);
    assert_int_equal(chord_transport_addr_parse("[::]:7000", &a), 0);
    assert_true(chord_addr_is_wildcard(&a));
    assert_int_equal(chord_transport_addr_parse("127.0.0.1:65536", &a),
                     -ERANGE);
    assert_int_equal(chord_transport_addr_parse("127.0.0.1:", &a), -EINVAL);
    assert_int_equal(chord_transport_addr_parse("127.0.0.1:-1", &a), -EINVAL);
    assert_int_equal(chord_transport_addr_parse(":7000", &a), -EINVAL);
    assert_int_equal(chord_transport_addr_parse("127.0.0.1", &a), -EINVAL);
    assert_int_equal(chord_transport_addr_parse("127.1:7000", &a), -EINVAL);
}

/* The IPv6 recorder of test_ipv6, closed by the teardown's cleanup. */
static struct rx v6;

static void v6_cleanup(void *arg)
{
    struct rx *r = arg;
    if (r->t)
        chord_transport_close(r->t);
    r->t = NULL;
    for (int i = 0; i < RX_KEEP; i++)
        free(r->copy[i]);
}

/* IPv6: a transport listening on [::1] names itself "[::1]:PORT", is
 * reached by that address, and a sender whose source address is IPv4
 * connects unbound (a source of the other family is not used). */
static void test_ipv6(void **state)
{
    struct fx *f = *state;
    memset(&v6, 0, sizeof v6);
    struct chord_transport_cb cb = {
        .ctx = &v6,
        .frame = rx_frame,
        .unreachable = rx_unreachable,
        .log = rx_log,
    };
    assert_int_equal(chord_transport_new(&f->loop, &cb, &v6.t), 0);
    f->cleanup = v6_cleanup;
    f->cleanup_arg = &v6;
    if (chord_transport_listen(v6.t, "[::1]:0") != 0)
        skip(); /* no IPv6 loopback here */
    char addr[CHORD_ADDR_MAX], want[CHORD_ADDR_MAX];
    assert_int_equal(chord_transport_bound(v6.t, addr), 0);
    snprintf(want, sizeof want, "[::1]:%u",
             (unsigned)chord_transport_port(v6.t));
    assert_string_equal(addr, want);

    assert_int_equal(chord_transport_set_source(f->a.t, f->addr_a), 0);
    struct chord_buf fr;
    make_frame(&fr, 7, 100, 'v');
    assert_int_equal(chord_transport_send(f->a.t, addr, fr.data, fr.len), 0);
    RUN_UNTIL(f, v6.frames == 1);
    assert_frame_eq(&v6, 0, &fr);
    /* And back, over the same pooled connection. */
    assert_int_equal(chord_transport_reply(v6.t, v6.conn[0], fr.data, fr.len),
                     0);
    RUN_UNTIL(f, f->a.frames == 1);
    assert_int_equal(f->a.unreachable + v6.unreachable, 0);
    assert_int_equal(f->a.warnings + v6.warnings, 0);
    chord_buf_free(&fr);
}

/* Sending to a wildcard address, or to port 0, is refused as a bad
 * address and reported unreachable. */
static void test_send_wildcard(void **state)
{
    struct fx *f = *state;
    struct chord_buf fr;
    make_frame(&fr, 8, 10, 'w');
    assert_int_equal(
        chord_transport_send(f->a.t, "0.0.0.0:7000", fr.data, fr.len), -EINVAL);
    assert_int_equal(
        chord_transport_send(f->a.t, "127.0.0.1:0", fr.data, fr.len), -ERANGE);
    RUN_UNTIL(f, f->a.unreachable == 2);
    chord_buf_free(&fr);
}

/* Binding a port that is in use fails with EADDRINUSE and leaves the
 * transport usable and closable. */
static void test_listen_in_use(void **state)
{
    struct fx *f = *state;
    struct chord_transport_cb cb = {.ctx = &f->a, .frame = rx_frame};
    struct chord_transport *t;
    assert_int_equal(chord_transport_new(&f->loop, &cb, &t), 0);
    assert_int_equal(chord_transport_listen(t, f->addr_a), UV_EADDRINUSE);
    assert_int_equal(chord_transport_port(t), 0);
    chord_transport_close(t);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_conn,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_frame_closes_conn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone_is_unreachable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_work_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listen_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_peers_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
