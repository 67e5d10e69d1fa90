/*
 * service.c - READY, STOPPING and watchdog pings to the service manager
 * (see service.h).
 *
 * Invariants: READY=1 and STOPPING=1 are each sent at most once; the
 * watchdog pings come from a loop timer, so they stop when the loop does.
 */
#include "io/service.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chord/node.h"
#include "chord/types.h"

/* Log one formatted line through the caller's log function, if any. */
static void service_logf(struct chord_service *s, int level, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void service_logf(struct chord_service *s, int level, const char *fmt,
                         ...)
{
    if (!s->log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_ctx, level, line);
}

void chord_service_init(struct chord_service *s)
{
    memset(s, 0, sizeof *s);
    s->sd.fd = -1;
}

/* The loop is alive: ping the watchdog. */
static void on_watchdog(uv_timer_t *timer)
{
    struct chord_service *s = timer->data;
    chord_sd_notify_send(&s->sd, "WATCHDOG=1");
}

uv_handle_t *chord_service_open(struct chord_service *s, uv_loop_t *loop,
                                chord_service_log_fn log, void *log_ctx)
{
    s->log = log;
    s->log_ctx = log_ctx;
    int rc = chord_sd_notify_open(&s->sd);
    if (rc) {
        service_logf(s, CHORD_LOG_WARN,
                     "NOTIFY_SOCKET is set but unusable (%s): not telling "
                     "systemd anything",
                     strerror(-rc));
        return NULL;
    }
    if (s->sd.fd < 0 || s->sd.watchdog_usec == 0)
        return NULL;
    uint64_t ms = s->sd.watchdog_usec / 2000u;
    if (ms == 0)
        ms = 1;
    if (uv_timer_init(loop, &s->watchdog) != 0)
        return NULL;
    s->watchdog.data = s;
    uv_timer_start(&s->watchdog, on_watchdog, 0, ms);
    service_logf(s, CHORD_LOG_INFO, "systemd watchdog: a ping every %llu ms",
                 (unsigned long long)ms);
    return (uv_handle_t *)&s->watchdog;
}

void chord_service_ready(struct chord_service *s, const char *addr)
{
    if (s->ready || s->sd.fd < 0)
        return;
    s->ready = true;
    char msg[CHORD_ADDR_MAX + 64];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving as %s", addr);
    int rc = chord_sd_notify_send(&s->sd, msg);
    if (rc)
        service_logf(s, CHORD_LOG_WARN, "cannot tell systemd READY=1: %s",
                     strerror(-rc));
}

void chord_service_stopping(struct chord_service *s)
{
    if (s->stopping || s->sd.fd < 0)
        return;
    s->stopping = true;
    chord_sd_notify_send(&s->sd, "STOPPING=1\nSTATUS=leaving the ring");
}

void chord_service_close(struct chord_service *s)
{
    chord_sd_notify_close(&s->sd);
}
