/*
 * metrics_http.c - /metrics and /healthz over libmicrohttpd (see
 * metrics_http.h for the contract and the threading rule).
 *
 * Invariants: `want`, `done`, `closing`, `status` and `body` are touched
 * only under `mu`; the HTTP thread sets `want` and waits, the loop thread
 * (async callback) answers only a request still wanted, so a late answer
 * to a request that timed out is dropped. The listening socket is made
 * here (bind errors are ours to explain, and port 0 can be read back) and
 * handed to libmicrohttpd, which closes it when stopped.
 *
 * It does not read the node: the callbacks given by the host do, on the
 * loop thread.
 */
#include "io/metrics_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "io/transport.h"

/* Connections the HTTP thread serves at once, and their idle timeout. */
#define METRICS_CONN_MAX 16u
#define METRICS_CONN_TIMEOUT_S 10u

enum want { WANT_NONE = 0, WANT_METRICS, WANT_HEALTH };

struct chord_metrics_http {
    uv_loop_t *loop;
    uv_async_t async;
    struct MHD_Daemon *mhd;
    struct chord_metrics_http_cb cb;
    unsigned port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int want; /* enum want: the request the loop should answer */
    bool done;
    bool closing;
    unsigned status; /* HTTP status of the answer */
    struct chord_buf body;
};

/* ---- loop thread ---------------------------------------------------- */

static void on_async(uv_async_t *a)
{
    struct chord_metrics_http *m = a->data;
    pthread_mutex_lock(&m->mu);
    if (m->want != WANT_NONE && !m->done) {
        chord_buf_reset(&m->body);
        if (m->want == WANT_METRICS) {
            int rc = m->cb.render(m->cb.ctx, &m->body);
            m->status = rc ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_OK;
            if (rc) {
                chord_buf_reset(&m->body);
                chord_buf_append(&m->body, "cannot render\n", 14);
            }
        } else {
            char why[160] = "";
            bool ok = m->cb.healthy(m->cb.ctx, why, sizeof why);
            m->status = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
            const char *text = ok ? "ok" : why;
            chord_buf_append(&m->body, text, strlen(text));
            chord_buf_append(&m->body, "\n", 1);
        }
        m->done = true;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
}

static void on_async_closed(uv_handle_t *h)
{
    struct chord_metrics_http *m = h->data;
    chord_buf_free(&m->body);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* ---- HTTP thread ---------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
                                 const char *type, const void *data, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Ask the loop for one answer and wait for it, boundedly. Called with mu
 * held; returns with mu held, m->status and m->body set. */
static void ask_loop(struct chord_metrics_http *m, int want)
{
    m->want = want;
    m->done = false;
    uv_async_send(&m->async);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += CHORD_METRICS_WAIT_MS / 1000u;
    until.tv_nsec += (long)(CHORD_METRICS_WAIT_MS % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!m->done && !m->closing)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
            break;
    if (!m->done) {
        chord_buf_reset(&m->body);
        const char *why =
            m->closing ? "stopping\n" : "the node's loop did not answer\n";
        chord_buf_append(&m->body, why, strlen(why));
        m->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    m->want = WANT_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct chord_metrics_http *m = cls;
    (void)version;
    (void)upload;
    (void)req_cls;
    *upload_size = 0;
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n",
                         9);
    int want = strcmp(url, "/metrics") == 0   ? WANT_METRICS
               : strcmp(url, "/healthz") == 0 ? WANT_HEALTH
                                              : WANT_NONE;
    if (want == WANT_NONE)
        return send_text(conn, MHD_HTTP_NOT_FOUND, text,
                         "not found: try /metrics or /healthz\n", 36);
    pthread_mutex_lock(&m->mu);
    ask_loop(m, want);
    enum MHD_Result rc =
        send_text(conn, m->status,
                  want == WANT_METRICS && m->status == MHD_HTTP_OK
                      ? "text/plain; version=0.0.4; charset=utf-8"
                      : text,
                  m->body.data ? (const void *)m->body.data : "", m->body.len);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- start and stop ------------------------------------------------- */

/* A listening TCP socket on addr (IPv4, [IPv6] or a name, resolved once,
 * blocking, at start like the node's own listener): the fd, or a negative
 * errno. */
static int listen_on(const char *addr, unsigned *port)
{
    struct chord_addr a;
    int rc = chord_transport_addr_parse(addr, &a);
    if (rc)
        return rc;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)a.port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(a.host, service, &hints, &res) != 0 || !res)
        return -EADDRNOTAVAIL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        freeaddrinfo(res);
        return rc;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = -errno;
        close(fd);
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    *port = ss.ss_family == AF_INET6
                ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int chord_metrics_http_start(uv_loop_t *loop, const char *addr,
                             const struct chord_metrics_http_cb *cb,
                             char err[CHORD_METRICS_ERR_MAX],
                             struct chord_metrics_http **out)
{
    struct chord_metrics_http *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, CHORD_METRICS_ERR_MAX, "metrics: out of memory");
        return -ENOMEM;
    }
    m->loop = loop;
    m->cb = *cb;
    int fd = listen_on(addr, &m->port);
    if (fd < 0) {
        snprintf(err, CHORD_METRICS_ERR_MAX, "cannot serve metrics on %s: %s",
                 addr, strerror(-fd));
        free(m);
        return fd;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&m->mu, NULL);
    int rc = uv_async_init(loop, &m->async, on_async);
    if (rc) {
        snprintf(err, CHORD_METRICS_ERR_MAX, "cannot serve metrics: %s",
                 uv_strerror(rc));
        close(fd);
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return rc;
    }
    m->async.data = m;
    m->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
        on_request, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT_S,
        MHD_OPTION_END);
    if (!m->mhd) {
        snprintf(err, CHORD_METRICS_ERR_MAX,
                 "cannot serve metrics on %s: libmicrohttpd did not start",
                 addr);
        close(fd);
        uv_close((uv_handle_t *)&m->async, on_async_closed);
        return -EIO;
    }
    *out = m;
    return 0;
}

unsigned chord_metrics_http_port(const struct chord_metrics_http *m)
{
    return m->port;
}

void chord_metrics_http_stop(struct chord_metrics_http *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->closing = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    MHD_stop_daemon(m->mhd); /* joins the HTTP thread, closes the socket */
    uv_close((uv_handle_t *)&m->async, on_async_closed);
}
