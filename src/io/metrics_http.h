/*
 * metrics_http.h - the HTTP endpoint of a node's metrics: GET /metrics
 * and GET /healthz, served by libmicrohttpd.
 *
 * Threading (the rule): libmicrohttpd runs its own thread; the node
 * belongs to the loop thread. A request never reads the node: the HTTP
 * thread posts it to the loop (uv_async) and waits, at most
 * CHORD_METRICS_WAIT_MS, for the loop to answer through the callbacks
 * below (called on the loop thread, with the server's mutex held). A loop
 * that does not answer in time gets a 503, so /healthz also fails when the
 * loop is stuck. Only one request is in the hands of the loop at a time
 * (libmicrohttpd calls handlers one after another on its one thread).
 *
 *   GET /metrics   200, text/plain; version=0.0.4, what render() wrote
 *   GET /healthz   200 "ok" when healthy() says so, else 503 with why
 *   other paths    404; methods other than GET/HEAD 405
 *
 * What it does not do: format metrics (metrics_text.c) or know the node.
 */
#ifndef CHORD_IO_METRICS_HTTP_H
#define CHORD_IO_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "chord/buf.h"

/* Longest the HTTP thread waits for the loop to answer (ms). */
#define CHORD_METRICS_WAIT_MS 2000u
/* Room for a one-line error from chord_metrics_http_start(). */
#define CHORD_METRICS_ERR_MAX 256u

struct chord_metrics_http_cb {
    void *ctx; /* passed back to both */
    /* Append the /metrics text to out: 0, or < 0 for a 500. */
    int (*render)(void *ctx, struct chord_buf *out);
    /* Healthy (joined and serving)? If not, write why into why[len]. */
    bool (*healthy)(void *ctx, char *why, size_t len);
};

struct chord_metrics_http;

/*
 * Serve on `addr` ("host:port" as chord_transport_addr_parse takes it;
 * port 0 picks one). The callbacks are copied. 0 with *out, or a negative
 * errno / libuv error with a one-line explanation in err.
 */
int chord_metrics_http_start(uv_loop_t *loop, const char *addr,
                             const struct chord_metrics_http_cb *cb,
                             char err[CHORD_METRICS_ERR_MAX],
                             struct chord_metrics_http **out);

/* The port served on (the one picked when the address said 0). */
unsigned chord_metrics_http_port(const struct chord_metrics_http *m);

/* Stop serving: requests waiting get a 503, the HTTP thread is joined,
 * then the async handle closes and the memory is freed from its close
 * callback (keep running the loop). NULL is allowed. Loop thread only. */
void chord_metrics_http_stop(struct chord_metrics_http *m);

#endif
