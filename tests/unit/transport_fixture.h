/*
 * transport_fixture.h - what the transport's socket tests share
 * (test_transport.c, test_transport_limits.c): a loop with two transports
 * that record what their callbacks saw, a guard timer, and raw blocking
 * client sockets that play misbehaving clients.
 *
 * The two transports bind 127.0.0.1 port 0 (the kernel picks a free port,
 * read back with chord_transport_port()), so tests never collide with each
 * other or with running daemons. Every test runs under a guard timer that
 * fails it after a few seconds, and every teardown checks that closing the
 * transports leaves nothing behind (uv_loop_close() == 0; ASan checks the
 * memory). Nothing here tests anything by itself.
 */
#ifndef CHORD_TEST_TRANSPORT_FIXTURE_H
#define CHORD_TEST_TRANSPORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/buf.h"
#include "chord/types.h"
#include "io/transport.h"

/* A test that has not finished after this long has failed. */
#define GUARD_MS 5000
/* Frames a recorder keeps copies of. */
#define RX_KEEP 8

/* What one transport's callbacks saw. */
struct rx {
    struct chord_transport *t;
    unsigned frames;
    uint8_t *copy[RX_KEEP]; /* the first RX_KEEP frames, malloc'd */
    size_t copy_len[RX_KEEP];
    uint64_t conn[RX_KEEP];
    uint64_t reject_req_id; /* frames with this req id answer -EPROTO */
    unsigned unreachable;
    char unreachable_addr[CHORD_ADDR_MAX];
    unsigned warnings;
    char last_warning[512];
    /* When set, every frame delivered makes the transport reconnect to
     * this address (chord_transport_reconnect) from inside the callback. */
    const char *reconnect_addr;
};

struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    bool timed_out;
    struct rx a, b;
    char addr_a[CHORD_ADDR_MAX], addr_b[CHORD_ADDR_MAX];
    /* Run by the teardown before the transports close (a test's own
     * transports and sockets, also after a failed assertion). */
    void (*cleanup)(void *arg);
    void *cleanup_arg;
};

/* Run the loop until `cond` holds; fail the test on the guard timer. */
#define RUN_UNTIL(f, cond)                                                     \
    do {                                                                       \
        while (!(cond) && !(f)->timed_out)                                     \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                   \
        assert_false((f)->timed_out);                                          \
    } while (0)

/* The request id of a frame (bytes 8..15). */
uint64_t frame_req_id(const uint8_t *f);

/* The recorder's callbacks (ctx: a struct rx). */
int rx_frame(void *ctx, uint64_t conn, const uint8_t *frame, size_t len);
void rx_unreachable(void *ctx, const char *addr);
void rx_log(void *ctx, int level, const char *line);

/* The guard timer's callback (a test may restart the guard with it). */
void on_guard(uv_timer_t *timer);

/* Run the loop for about `ms` milliseconds. */
void run_for(struct fx *f, uint64_t ms);

/* Make r's transport, listening on 127.0.0.1 port 0; its address in addr. */
void rx_open(struct fx *f, struct rx *r, char *addr);

/* cmocka setup and teardown: a loop, the guard, transports a and b. */
int setup(void **state);
int teardown(void **state);

/* Encode a C_PUT frame with a `value_len`-byte value of `fill` bytes. */
void make_frame(struct chord_buf *out, uint64_t req_id, size_t value_len,
                uint8_t fill);

/* Frame i the recorder kept equals `want`. */
void assert_frame_eq(const struct rx *r, unsigned i,
                     const struct chord_buf *want);

/* A blocking client socket connected to `port` on 127.0.0.1. */
int raw_connect(uint16_t port);
void raw_write(int fd, const void *p, size_t n);
/* The port of "host:port". */
uint16_t port_of(const char *addr);
/* Has the server closed the client socket `fd` (EOF or reset)? */
bool raw_closed(int fd);

#endif
