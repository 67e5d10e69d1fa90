/*
 * transport_read.c - the transport's read path and the limits it enforces
 * (the policy and its numbers are in transport_gate.h).
 *
 * Reading: libuv reads into the tail of the conn's input buffer, so bytes
 * are not copied; after each read the wire decoder splits off every
 * complete frame. The buffer grows with the bytes that arrived, never from
 * a length prefix, within the gate's budget (a connection holding more is
 * closed to make room, or this one when it holds the most); it is freed
 * whenever it is empty, so an idle connection holds no input memory. The
 * decoder rejects a length prefix over CHORD_FRAME_MAX before the body
 * arrives, so a buffer never holds more than one frame plus one read.
 *
 * The first frame header of an inbound connection classifies it (client
 * request or node-to-node) and moves it to that pool. A conn that has read
 * its share of a loop turn stops reading until the prepare handle of the
 * next turn starts it again, so timers (heartbeats) run between turns
 * however many bytes are waiting. A sweep timer closes the conns whose
 * frame arrives under the minimum rate and the idle ones, and gives memory
 * back to the system after a flood.
 *
 * It does not write, accept or connect (transport_conn.c, transport.c).
 */
#include "io/transport_shared.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "chord/node.h"
#include "core/wire.h"

/* ---- loop turns --------------------------------------------------------- */

/* Start reading again on every conn paused in the last turn. */
static void resume_paused(struct chord_transport *t)
{
    while (t->paused) {
        struct conn *c = t->paused;
        t->paused = c->paused_next;
        c->paused_next = NULL;
        c->paused = false;
        int rc = uv_read_start((uv_stream_t *)&c->tcp, chord__conn_on_alloc,
                               chord__conn_on_read);
        if (rc)
            chord__conn_fail(c, CHORD_LOG_WARN, "read: %s", uv_strerror(rc));
    }
    uv_unref((uv_handle_t *)&t->flush_prepare);
}

/* Before the loop polls: a new turn (paused conns read again), and the
 * frames timers queued are written (after the `turn` callback). */
void chord__transport_on_prepare(uv_prepare_t *h)
{
    struct chord_transport *t = h->data;
    chord_gate_new_turn(&t->gate);
    resume_paused(t);
    if (t->cb.turn)
        t->cb.turn(t->cb.ctx);
    chord__transport_flush_all(t);
}

/* ---- reading ------------------------------------------------------------ */

/* Release the input buffer of `c` when it holds nothing, so an idle
 * connection keeps no memory and no budget. */
static void conn_release_input(struct conn *c)
{
    if (c->in.len != 0 || c->in.cap == 0)
        return;
    struct chord_gate_slot *none;
    chord_buf_free(&c->in);
    chord_gate_charge(&c->t->gate, &c->slot, 0, &none);
}

/* A NEW connection's first frame header says what it is: move it to the
 * client or the peer pool, closing an idle member there to make room, or
 * itself when there is none. False when `c` was closed. */
static bool conn_classify(struct conn *c, uint8_t type)
{
    struct chord_transport *t = c->t;
    int pool = chord_gate_classify(type);
    uint64_t now = uv_now(t->loop);
    struct chord_gate_slot *victim;
    int rc = chord_gate_admit(&t->gate, pool, now, &victim);
    if (rc == 1) {
        t->note_evicted++;
        chord__conn_close(CONN_OF(victim));
    } else if (rc < 0) {
        t->note_refused++;
        chord__transport_log(t, CHORD_LOG_DEBUG,
                             "closing connection from %s: %u %s "
                             "connections open",
                             c->peer, t->gate.lim.max[pool],
                             pool == CHORD_GATE_CLIENT ? "client" : "peer");
        chord__conn_close(c);
        return false;
    }
    chord_gate_move(&t->gate, &c->slot, pool, now);
    return true;
}

/* Split every complete frame off the input and deliver it. Stops at the
 * first malformed or rejected frame (closing the conn), or when the conn or
 * the transport starts closing inside the callback. The first frame header
 * of an inbound connection classifies it (conn_classify). */
static void conn_drain(struct conn *c)
{
    struct chord_transport *t = c->t;
    size_t off = 0;
    c->draining = true;
    while (off < c->in.len && !c->closing && !t->closing) {
        /* The header is checked here; the body by whoever decodes the
         * frame (the node refuses a bad one with -EPROTO). */
        const uint8_t *p = c->in.data + off;
        size_t avail = c->in.len - off;
        ssize_t n = chord_frame_length(p, avail);
        if (n == CHORD_DECODE_PARTIAL && avail < 8)
            break;
        if (n <= 0 && n != CHORD_DECODE_PARTIAL) {
            if (!c->tls && off == 0 && p[0] == 0x16 && p[1] == 0x03)
                chord__conn_fail(c, CHORD_LOG_WARN,
                                 "malformed frame: a TLS handshake, and "
                                 "this node does not use TLS");
            else
                chord__conn_fail(c, CHORD_LOG_WARN, "malformed frame");
            break;
        }
        if (c->slot.pool == CHORD_GATE_NEW && !conn_classify(c, p[5]))
            break;
        if (n == CHORD_DECODE_PARTIAL)
            break;
        chord_gate_request(&c->slot, p[5]);
        int rc = t->cb.frame(t->cb.ctx, c->id, p, (size_t)n);
        off += (size_t)n;
        if (rc == -EPROTO) {
            chord__conn_fail(c, CHORD_LOG_WARN, "frame rejected by the node");
            break;
        }
    }
    c->draining = false;
    if (c->retired && !c->closing)
        chord__conn_close(c);
    if (c->closing || t->closing)
        return;
    chord_buf_consume(&c->in, off);
    chord_gate_progress(&c->slot, c->in.len, off > 0, uv_now(t->loop));
    conn_release_input(c);
}

/* Room at the end of the input buffer of `c`, grown with the bytes that
 * arrived (chord_gate_grow) within the budget: a member holding more of
 * the budget is closed to make room; when `c` holds the most itself, or
 * memory runs out, there is none (0; `over_budget` tells which). */
static size_t conn_input_room(struct conn *c)
{
    struct chord_transport *t = c->t;
    size_t cap =
        chord_gate_grow(c->in.cap, c->in.len, CHORD_TRANSPORT_INPUT_MAX);
    if (cap > c->in.cap) {
        struct chord_gate_slot *victim;
        int rc;
        while ((rc = chord_gate_charge(&t->gate, &c->slot, cap, &victim)) ==
               1) {
            struct conn *v = CONN_OF(victim);
            chord__conn_fail(v, CHORD_LOG_WARN,
                             "holding %zu bytes of a frame, the most, while "
                             "inbound buffers are over budget",
                             v->in.len);
        }
        if (rc < 0) {
            c->over_budget = true;
            return 0;
        }
        uint8_t *p = realloc(c->in.data, cap);
        if (!p) {
            struct chord_gate_slot *none;
            chord_gate_charge(&t->gate, &c->slot, c->in.cap, &none);
            return 0;
        }
        c->in.data = p;
        c->in.cap = cap;
    }
    return c->in.cap - c->in.len;
}

/* Give libuv room for one read: at the end of the input buffer
 * (conn_input_room), or for a TLS conn the transport's ciphertext buffer,
 * decrypted into the input buffer by chord__conn_on_read. Within the
 * conn's share of this loop turn (ciphertext counts for a TLS conn). When
 * there is no room chord__conn_on_read sees UV_ENOBUFS and closes it. */
void chord__conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    struct chord_transport *t = c->t;
    (void)suggested;
    *buf = uv_buf_init(NULL, 0);
    size_t room = c->tls ? sizeof t->tls_in : conn_input_room(c);
    if (room > CHORD_TRANSPORT_READ_CHUNK)
        room = CHORD_TRANSPORT_READ_CHUNK;
    size_t left = chord_gate_turn_left(&t->gate, &c->slot);
    if (room > left)
        room = left;
    char *base = c->tls ? (char *)t->tls_in : (char *)c->in.data + c->in.len;
    *buf = uv_buf_init(room ? base : NULL, (unsigned)room);
}

/* Close `c`: there was no room for its input. */
static void conn_fail_no_room(struct conn *c)
{
    struct chord_transport *t = c->t;
    if (c->over_budget)
        chord__conn_fail(c, CHORD_LOG_WARN,
                         "inbound buffers over budget (%zu of %zu bytes held; "
                         "this connection %zu)",
                         t->gate.charged, t->gate.lim.budget, c->slot.charged);
    else
        chord__conn_fail(c, CHORD_LOG_WARN, "out of memory for input");
}

/* A TLS conn read `n` bytes of ciphertext into t->tls_in: feed them to
 * its session, decrypt into the input buffer and deliver the frames, as
 * much as the plaintext allows; then have the flush send what the
 * session wrote (handshake messages, tickets) and the frames that waited
 * for the handshake. A failed session closes the conn with its reason. */
static void conn_read_tls(struct conn *c, size_t n)
{
    struct chord_transport *t = c->t;
    bool was_ready = chord_tls_conn_ready(c->tls);
    if (chord_tls_conn_feed(c->tls, t->tls_in, n) != 0) {
        chord__conn_fail(c, CHORD_LOG_WARN, "out of memory for input");
        return;
    }
    for (;;) {
        size_t room = conn_input_room(c);
        if (room == 0) {
            conn_fail_no_room(c);
            return;
        }
        ssize_t got = chord_tls_conn_read(c->tls, c->in.data + c->in.len, room);
        if (got == -EPROTO) {
            chord__conn_tls_fail(c);
            return;
        }
        if (got < 0) {
            chord__transport_log(t, CHORD_LOG_DEBUG,
                                 "connection %s %s ended: TLS close",
                                 c->outbound ? "to" : "from", c->peer);
            chord__conn_close(c);
            return;
        }
        if (got == 0)
            break;
        c->in.len += (size_t)got;
        conn_drain(c);
        if (c->closing || t->closing)
            return;
    }
    if (!was_ready && chord_tls_conn_ready(c->tls) && c->pending.len > 0)
        chord__conn_mark_dirty(c);
    if (chord_tls_conn_pending(c->tls) > 0)
        chord__conn_mark_dirty(c);
    conn_release_input(c);
}

/* `c` read its share of this loop turn: stop reading until the prepare
 * handle of the next turn starts it again. */
static void conn_pause(struct conn *c)
{
    struct chord_transport *t = c->t;
    if (c->paused || c->closing)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->paused = true;
    c->paused_next = t->paused;
    t->paused = c;
    /* A stopped reader keeps no loop alive: the prepare handle must. */
    uv_ref((uv_handle_t *)&t->flush_prepare);
}

void chord__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct chord_transport *t = c->t;
    (void)buf; /* it points into c->in, which owns it */
    if (c->closing)
        return;
    if (nread == 0) {
        conn_release_input(c);
        return;
    }
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            conn_fail_no_room(c);
        else if (c->outbound)
            chord__conn_fail(c, CHORD_LOG_INFO, "%s", uv_strerror((int)nread));
        else if (c->tls && !chord_tls_conn_ready(c->tls))
            chord__conn_fail(c, CHORD_LOG_WARN,
                             "TLS handshake failed: the peer closed the "
                             "connection during the handshake (%s)",
                             uv_strerror((int)nread));
        else {
            chord__transport_log(t, CHORD_LOG_DEBUG,
                                 "connection from %s ended: %s", c->peer,
                                 uv_strerror((int)nread));
            chord__conn_close(c);
        }
        return;
    }
    if (c->tls) {
        bool pause =
            chord_gate_read(&t->gate, &c->slot, (size_t)nread, uv_now(t->loop));
        conn_read_tls(c, (size_t)nread);
        if (pause)
            conn_pause(c);
        return;
    }
    c->in.len += (size_t)nread;
    t->stats.bytes_in += (uint64_t)nread;
    bool pause =
        chord_gate_read(&t->gate, &c->slot, (size_t)nread, uv_now(t->loop));
    conn_drain(c);
    if (pause)
        conn_pause(c);
}

/* ---- limits over time --------------------------------------------------- */

/* Busy, for the gate: a reply owed or bytes still to write. Such a conn
 * is not closed to admit another. */
bool chord__conn_busy(const struct chord_gate_slot *s)
{
    const struct conn *c = CONN_OF(s);
    return s->unanswered > 0 || c->queued > 0;
}

/* One summary line for the connections refused, evicted and timed out
 * since the last one, at most every CHORD_TRANSPORT_NOTE_MS. */
static void note_flush(struct chord_transport *t, uint64_t now)
{
    unsigned loud = t->note_refused + t->note_evicted + t->note_accept_errors +
                    t->note_remote;
    if ((loud == 0 && t->note_idle == 0) ||
        now - t->note_at < CHORD_TRANSPORT_NOTE_MS)
        return;
    const struct chord_gate *g = &t->gate;
    chord__transport_log(
        t, loud ? CHORD_LOG_WARN : CHORD_LOG_DEBUG,
        "connections in the last %llu ms: %u refused and %u idle ones "
        "closed for newcomers (open: %zu/%u new, %zu/%u client, %zu/%u "
        "peer), %u idle over %u ms closed, %u accept errors%s%s, %u "
        "refused from other hosts (plaintext needs --insecure)",
        (unsigned long long)(now - t->note_at), t->note_refused,
        t->note_evicted, g->count[CHORD_GATE_NEW], g->lim.max[CHORD_GATE_NEW],
        g->count[CHORD_GATE_CLIENT], g->lim.max[CHORD_GATE_CLIENT],
        g->count[CHORD_GATE_PEER], g->lim.max[CHORD_GATE_PEER], t->note_idle,
        g->lim.idle_timeout_ms, t->note_accept_errors,
        t->note_accept_errors ? ", last: " : "",
        t->note_accept_errors ? uv_strerror(t->note_accept_error) : "",
        t->note_remote);
    t->note_refused = t->note_evicted = t->note_idle = t->note_remote = 0;
    t->note_accept_errors = 0;
    t->note_at = now;
}

/* Every CHORD_TRANSPORT_SWEEP_MS: close the conns whose frame arrives
 * under the minimum rate and the idle ones, give memory back after a
 * flood, and write the summary line. */
void chord__transport_on_sweep(uv_timer_t *timer)
{
    struct chord_transport *t = timer->data;
    uint64_t now = uv_now(t->loop);
    for (struct conn *c = t->conns, *next; c; c = next) {
        next = c->next;
        if (c->tls && !chord_tls_conn_ready(c->tls) &&
            now - c->slot.opened_ms > CHORD_TRANSPORT_HANDSHAKE_MS)
            chord__conn_fail(c, CHORD_LOG_WARN,
                             "TLS handshake failed: not finished within "
                             "%u ms",
                             CHORD_TRANSPORT_HANDSHAKE_MS);
        else if (chord_gate_too_slow(&t->gate, &c->slot, now))
            chord__conn_fail(c, CHORD_LOG_WARN,
                             "frame arriving too slowly: %zu bytes in %llu ms "
                             "(under %u bytes/s)",
                             c->slot.partial,
                             (unsigned long long)(now - c->slot.frame_start_ms),
                             t->gate.lim.min_rate);
    }
    struct chord_gate_slot *s;
    for (unsigned n = 0; n < CHORD_TRANSPORT_SWEEP_CLOSE_MAX &&
                         (s = chord_gate_idle(&t->gate, now)) != NULL;
         n++) {
        t->note_idle++;
        chord__conn_close(CONN_OF(s));
    }
#ifdef __GLIBC__
    if (chord_gate_trim(&t->gate))
        malloc_trim(0);
#endif
    note_flush(t, now);
}
