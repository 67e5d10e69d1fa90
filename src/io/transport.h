/*
 * transport.h - TCP framing on libuv: a listener, an outbound connection
 * pool keyed by peer address, and replies by connection id.
 *
 * The transport moves whole frames (see core/wire.h) and nothing else. It
 * accumulates the bytes of every connection, splits them into frames with
 * the wire decoder, and hands each complete frame to the `frame` callback
 * together with a nonzero connection id. A malformed frame closes that one
 * connection and logs why; every other connection keeps serving.
 *
 * Sending is by peer address ("host:port"): the first frame for a peer
 * opens one outbound connection, frames wait in a queue while it connects,
 * and every later frame for the same peer goes down the same connection.
 * When a peer cannot be reached (connect failure, write error, end of
 * stream or reset, queue over CHORD_TRANSPORT_QUEUE_MAX), the connection
 * is closed, its queue dropped and `unreachable` is called once for it.
 * `unreachable` is always called from a later loop iteration, never from
 * inside chord_transport_send(), so a caller may send from anywhere.
 * Frames that arrive on an outbound connection are delivered like inbound
 * ones.
 *
 * Invariants: every uv handle the transport opens is closed exactly once
 * and its memory freed only in its close callback; the transport itself is
 * freed when its last handle has closed after chord_transport_close().
 * Every queue and table has a cap (see the constants in transport.c).
 *
 * Limits (io/transport_gate.h has the policy and the defaults): inbound
 * connections are classified by their first frame (client request types
 * or node-to-node) and each kind has its own cap, so clients can never
 * lock peers out nor the reverse; an input buffer grows with the bytes
 * that arrived, within a global budget; a frame must arrive at a minimum
 * rate; an idle client connection is closed; one connection reads a
 * bounded share of each loop turn. Connections refused, evicted or timed
 * out are told in one summary line per second, not one line each.
 * Outbound connections may be bound to the node's own address
 * (chord_transport_set_source), so peers see which node called.
 *
 * What it does not do: it does not know message types beyond telling
 * client requests from node traffic, retry, time out requests or
 * reconnect on its own (the next send reconnects; chord_transport_
 * reconnect() drops a connection that may be stuck). It does not
 * ignore SIGPIPE: a process using it must (signal(SIGPIPE, SIG_IGN)), as
 * libuv writes with write(2).
 *
 * Addresses are those of chord/addr.h: IPv4, [IPv6] or a name.
 * "localhost" is 127.0.0.1 without a look-up. Any other name is resolved
 * with uv_getaddrinfo, off the loop thread, each time an outbound
 * connection to it opens (nothing cached: a failed connection reconnects
 * through a fresh look-up); the first address returned is used, of the
 * source's family when a source is set. Sockets are IPv4 or IPv6 as the
 * address is; a listener on [::] takes IPv4 too where the system allows.
 *
 * Protected mode: unless chord_transport_set_open(t, true), a connection
 * accepted from another host is closed at once and counted in the summary
 * line. From this host means from loopback (127.0.0.0/8, ::1, or 127.x
 * mapped into IPv6) or from the very address the connection reached.
 */
#ifndef CHORD_IO_TRANSPORT_H
#define CHORD_IO_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/addr.h"
#include "chord/tls.h"
#include "io/transport_gate.h"

struct chord_transport;

struct chord_transport_cb {
    void *ctx; /* passed back to every callback */
    /* One complete, well-formed frame (borrowed: valid only during the
     * call) arrived on connection `conn`. Return 0, or -EPROTO to have the
     * transport close that connection. Required. */
    int (*frame)(void *ctx, uint64_t conn, const uint8_t *frame, size_t len);
    /* The peer at `addr` (the string given to chord_transport_send) could
     * not be reached; the frames queued for it are lost. Called once per
     * failure, from a loop callback. May be NULL. */
    void (*unreachable)(void *ctx, const char *addr);
    /* One log line without a newline, level as enum chord_log_level. May
     * be NULL. */
    void (*log)(void *ctx, int level, const char *line);
    /* The frames queued in this loop turn are about to be written (once
     * before the loop polls, once after it handled what the poll
     * brought): the last moment to queue more that go in the same
     * writes; it may send and reply. May be NULL. */
    void (*turn)(void *ctx);
};

/*
 * Parse "host:port" as the transport takes it: chord_addr_split() with
 * port 0 allowed (a listener picks one; send() refuses it). Fills *out
 * (may be NULL to validate only); 0 or the errors of chord_addr_split.
 */
int chord_transport_addr_parse(const char *addr, struct chord_addr *out);

/*
 * Make a transport on `loop`. The callbacks struct is copied. 0, -EINVAL
 * (no frame callback), -ENOMEM, or a libuv error.
 */
int chord_transport_new(uv_loop_t *loop, const struct chord_transport_cb *cb,
                        struct chord_transport **out);

/*
 * Bind and listen on `addr` ("host:port"; port 0 picks a free port, see
 * chord_transport_port()). At most once per transport. 0, -EINVAL /
 * -EADDRNOTAVAIL for a bad address, -EALREADY if already listening, or the
 * libuv error (UV_EADDRINUSE, UV_EACCES...), which uv_strerror() explains.
 * On failure the transport is as before and may be closed normally.
 */
int chord_transport_listen(struct chord_transport *t, const char *addr);

/* The address the listener is bound to, "ip:port" or "[ip6]:port" (the
 * port picked when 0 was asked). 0, -ENOTCONN when not listening, or the
 * libuv error. */
int chord_transport_bound(const struct chord_transport *t,
                          char out[CHORD_ADDR_MAX]);

/* The port the listener is bound to, 0 when not listening. */
uint16_t chord_transport_port(const struct chord_transport *t);

/*
 * Queue a copy of `frame` for the peer at `addr`, opening a connection if
 * there is none. Returns 0 when queued; a negative errno when it was not
 * (bad address, pool full, queue over its cap, transport closing), in
 * which case `unreachable(addr)` also follows from the loop, except when
 * the transport is closing. Never calls a callback synchronously.
 */
int chord_transport_send(struct chord_transport *t, const char *addr,
                         const uint8_t *frame, size_t len);

/*
 * Queue a copy of `frame` on connection `conn` (an id given to the frame
 * callback). 0, or -ENOTCONN when that connection has gone (the frame is
 * dropped, nothing else happens), or another negative errno when writing
 * failed and the connection was closed.
 */
int chord_transport_reply(struct chord_transport *t, uint64_t conn,
                          const uint8_t *frame, size_t len);

/*
 * Run every connection opened from now on over TLS with `tls` (borrowed:
 * it must outlive the transport; a server context, see chord/tls.h), or
 * plaintext again with NULL. Set it before listening. Frames are then
 * decrypted before they are split and encrypted when they are written;
 * the frame limits, the input budget and the per-turn read share count
 * plaintext, except that a read's share counts the ciphertext read. A
 * handshake that fails, or has not finished CHORD_TRANSPORT_HANDSHAKE_MS
 * after the connection opened, closes that connection with one log line
 * naming the peer and the reason.
 */
void chord_transport_set_tls(struct chord_transport *t, struct chord_tls *tls);

/*
 * Does connection `conn` speak for `addr`? 1 when the transport has no
 * TLS (anything goes), or when the peer's verified certificate names the
 * host of `addr` (with addr NULL: when the peer showed a verified
 * certificate at all); 0 when not; -ENOTCONN when the connection has gone.
 */
int chord_transport_conn_vouches(struct chord_transport *t, uint64_t conn,
                                 const char *addr);

/* Close connection `conn` if it is still open (no callback follows). */
void chord_transport_close_conn(struct chord_transport *t, uint64_t conn);

/* Bytes accepted by send/reply and not yet handed to the kernel, over all
 * connections (to flush before exit). */
size_t chord_transport_pending(const struct chord_transport *t);

/* Open connections: inbound and outbound (for tests and status). */
size_t chord_transport_conn_count(const struct chord_transport *t);

/* Connections open in one pool (enum chord_gate_pool), for tests. */
size_t chord_transport_pool_count(const struct chord_transport *t, int pool);

/* Bytes of input buffers held over all connections (the budget used). */
size_t chord_transport_input_bytes(const struct chord_transport *t);

/* Counters since the transport was made, for metrics. */
struct chord_transport_stats {
    uint64_t accepted;  /* inbound connections accepted */
    uint64_t connected; /* outbound connections started */
    uint64_t bytes_in;  /* bytes read */
    uint64_t bytes_out; /* bytes written (confirmed by libuv) */
};
void chord_transport_stats(const struct chord_transport *t,
                           struct chord_transport_stats *out);

/*
 * Replace the limits (a copy, clamped as chord_gate_set_limits says). The
 * defaults (chord_gate_limits_default) hold until then. Connections over
 * a lowered cap stay; the new limits apply to what comes next.
 */
void chord_transport_set_limits(struct chord_transport *t,
                                const struct chord_gate_limits *lim);

/*
 * Bind every outbound connection opened from now on to the host of `addr`
 * ("host:port" as chord_transport_addr_parse takes it; the port is
 * ignored, the kernel picks one), so the peer sees this node's address as
 * the source; only connections to a peer of the same family are bound. A
 * wildcard host (0.0.0.0, [::]) or a name unsets it. 0, or the parse
 * error.
 */
int chord_transport_set_source(struct chord_transport *t, const char *addr);

/*
 * Accept connections from any address (open) or from loopback only (the
 * default, "protected mode"). A node turns it on with --insecure or when
 * its connections are authenticated (TLS). Applies to connections
 * accepted from now on.
 */
void chord_transport_set_open(struct chord_transport *t, bool open);

/*
 * The peer at `addr` spoke again after it was suspected or unreachable:
 * close the outbound connection to it (it may be stuck in TCP back-off),
 * dropping what was queued on it, so the next send opens a fresh one. No
 * unreachable report follows. Nothing happens when there is none, or when
 * it was opened less than `reconnect_fresh_ms` ago. When called from a
 * frame callback for that very connection, it is closed once the frames
 * already read from it have been delivered.
 */
void chord_transport_reconnect(struct chord_transport *t, const char *addr);

/*
 * Close the listener and every connection, dropping unwritten frames. No
 * callback is made after this returns. The transport frees itself once
 * libuv has closed its last handle, so `t` must not be used again; run
 * the loop until uv_run() returns, then uv_loop_close() succeeds.
 */
void chord_transport_close(struct chord_transport *t);

#endif
