/*
 * service.h - a node's dialogue with its service manager (systemd's
 * Type=notify): READY=1 once when the node serves, STOPPING=1 once when it
 * goes away, and WATCHDOG=1 pings from the event loop, so that a stuck
 * loop stops the pings and the manager restarts the process.
 *
 * It speaks through io/sd_notify.h (the datagram protocol) and does
 * nothing when the process was not started with $NOTIFY_SOCKET. The
 * watchdog timer is the caller's to close with its other handles
 * (chord_service_open hands it over); the service never closes handles.
 *
 * What it does not do: it does not decide when the node is ready or
 * leaving (the host says so), and it never fails the node: a message that
 * cannot be sent is logged once and forgotten.
 */
#ifndef CHORD_IO_SERVICE_H
#define CHORD_IO_SERVICE_H

#include <stdbool.h>

#include <uv.h>

#include "io/sd_notify.h"

/* One log line (level as enum chord_log_level), without a newline. */
typedef void (*chord_service_log_fn)(void *ctx, int level, const char *line);

struct chord_service {
    struct chord_sd_notify sd; /* fd -1: no service manager */
    bool ready, stopping;      /* READY=1 / STOPPING=1 sent */
    uv_timer_t watchdog;       /* WATCHDOG=1 pings, when asked for */
    chord_service_log_fn log;
    void *log_ctx;
};

/* No service manager yet (before chord_service_open, or without one). */
void chord_service_init(struct chord_service *s);

/*
 * Open $NOTIFY_SOCKET if the process has one and start the watchdog pings
 * at half of $WATCHDOG_USEC when it is set. Returns the watchdog timer for
 * the caller to close with its handles (uv_close, then free nothing), or
 * NULL when none was started. An unusable socket is logged and ignored.
 */
uv_handle_t *chord_service_open(struct chord_service *s, uv_loop_t *loop,
                                chord_service_log_fn log, void *log_ctx);

/* The node is joined and serving as `addr`: READY=1, once. */
void chord_service_ready(struct chord_service *s, const char *addr);

/* The node is going away: STOPPING=1, once. */
void chord_service_stopping(struct chord_service *s);

/* Close the socket (the watchdog timer must be closed by then). */
void chord_service_close(struct chord_service *s);

#endif
