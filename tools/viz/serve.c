/*
 * serve.c - dht-viz --serve HOST:PORT: the live page over HTTP.
 *
 * HTTP is libmicrohttpd's, a thread per connection (at most
 * VIZ_HTTP_CONN_MAX), GET only:
 *   /              the page (live_page.html, self-contained)
 *   /events        Server-Sent Events: "snapshot" (everything), then
 *                  "update" (what changed) as it happens; a comment line
 *                  every VIZ_KEEPALIVE_S seconds of nothing
 *   /state         the snapshot as JSON (for scripts)
 *   /lookup?key=K  the lookup of K through an answering node: path,
 *                  owner, replica set
 * The main thread is the crawler: one status request at a time, paced so
 * that at most --rate requests go out per second in total (a request
 * starts no sooner than 1/rate s after the previous one started), then
 * feed.c tells the page what changed. The model belongs to the main
 * thread; the HTTP threads see only the hub (hub.c, one mutex).
 *
 * Loopback only unless --serve-any: the page shows the ring's addresses
 * and lets anyone who reaches it run lookups. SIGINT, SIGTERM and SIGHUP
 * are blocked in every thread and awaited by the crawler between
 * requests (sigtimedwait is its sleep): no handler, no global flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord/client.h"
#include "common/clock.h"
#include "common/exit.h"
#include "live.h"

/* One /events stream: where the reader is, and the text being sent. */
struct stream {
    struct viz_hub *hub;
    uint64_t seq;
    char *text;
    size_t len, off;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    if (s->off == s->len) {
        free(s->text);
        s->text = NULL;
        s->off = s->len = 0;
        int rc = viz_hub_next(s->hub, &s->seq, &s->text);
        if (rc)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->len = strlen(s->text);
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->text + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    free(s->text);
    free(s);
}

/* Queue response r (NULL: fail the connection) with its type; r is
 * released. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned code,
                             const char *type, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* Queue a response that takes `body` (malloc'd; NULL: 503). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, char *body)
{
    if (!body) {
        static const char busy[] = "out of memory\n";
        code = MHD_HTTP_SERVICE_UNAVAILABLE;
        type = "text/plain";
        body = strdup(busy);
        if (!body)
            return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(body);
    return queue(c, code, type, r);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    (void)version;
    (void)upload;
    struct viz_hub *hub = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     strdup("only GET\n"));
    if (*con_cls == NULL) { /* the headers: wait for the end */
        *con_cls = hub;
        return MHD_YES;
    }
    if (*upload_len)
        return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain",
                     strdup("no body, please\n"));
    if (strcmp(url, "/") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            viz_live_page_len, (void *)viz_live_page, MHD_RESPMEM_PERSISTENT);
        return queue(c, MHD_HTTP_OK, "text/html; charset=utf-8", r);
    }
    if (strcmp(url, "/state") == 0)
        return reply(c, MHD_HTTP_OK, "application/json", viz_hub_snapshot(hub));
    if (strcmp(url, "/lookup") == 0) {
        const char *key =
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
        if (!key || !*key || strlen(key) > CHORD_KEY_MAX)
            return reply(c, MHD_HTTP_BAD_REQUEST, "application/json",
                         strdup("{\"error\":\"give a key of 1 to 1024 "
                                "bytes: /lookup?key=K\"}"));
        return reply(c, MHD_HTTP_OK, "application/json",
                     viz_hub_lookup(hub, key, strlen(key)));
    }
    if (strcmp(url, "/events") == 0) {
        struct stream *s = calloc(1, sizeof *s);
        if (!s)
            return reply(c, 0, NULL, NULL);
        s->hub = hub;
        struct MHD_Response *r = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, s, stream_free);
        if (!r)
            free(s);
        return queue(c, MHD_HTTP_OK, "text/event-stream", r);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found\n"));
}

/* Wait up to ms for one of `set`; true when it came. */
static bool wait_signal(const sigset_t *set, uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return true;
        if (errno != EINTR)
            return false;
    }
}

/* The crawler: poll, tell, sleep to the next slot, until a signal. */
static int crawl_loop(const struct viz_serve_opts *o, struct viz_hub *hub,
                      const sigset_t *stop)
{
    struct viz_watch w;
    struct viz_feed f;
    if (viz_watch_init(&w, o->node, o->timeout_ms) || viz_feed_init(&f)) {
        fprintf(stderr, "dht-viz: out of memory\n");
        viz_watch_free(&w);
        return VIZ_EXIT_INVALID;
    }
    const uint64_t gap = (1000u + o->rate - 1) / o->rate;
    int status = CHORD_EXIT_OK;
    uint64_t next = chord_mono_ms();
    for (;;) {
        uint64_t now = chord_mono_ms();
        if (now < next && wait_signal(stop, next - now))
            break;
        now = chord_mono_ms();
        int rc = viz_watch_step(&w, now);
        if (rc == 1) {
            next = now + gap;
            rc = viz_feed_round(&f, &w, hub);
        } else if (rc == 0) {
            next = now + gap; /* nothing due: look again a slot later */
        }
        if (rc < 0) {
            fprintf(stderr, "dht-viz: out of memory\n");
            status = VIZ_EXIT_INVALID;
            break;
        }
        if (wait_signal(stop, 0))
            break;
    }
    viz_feed_free(&f);
    viz_watch_free(&w);
    return status;
}

/* "HOST:PORT" with a port from 0 (any) to 65535. 0 or -EINVAL. */
static int parse_listen(const char *s, char host[CHORD_ADDR_MAX],
                        uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= CHORD_ADDR_MAX ||
        !colon[1] || strlen(colon + 1) > 5)
        return -EINVAL;
    unsigned long v = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)v;
    return 0;
}

int viz_serve(const struct viz_serve_opts *o)
{
    char host[CHORD_ADDR_MAX];
    uint16_t port;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (parse_listen(o->listen, host, &port) ||
        inet_pton(AF_INET, strcmp(host, "localhost") ? host : "127.0.0.1",
                  &sa.sin_addr) != 1) {
        fprintf(stderr, "dht-viz: --serve '%s' is not HOST:PORT\n", o->listen);
        return CHORD_EXIT_USAGE;
    }
    sa.sin_port = htons(port);
    bool loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && !o->any) {
        fprintf(stderr,
                "dht-viz: --serve %s is not a loopback address: anyone who "
                "reaches it sees the ring and runs lookups (add --serve-any "
                "to allow it)\n",
                o->listen);
        return CHORD_EXIT_USAGE;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigset_t all = stop;
    sigaddset(&all, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* MHD's threads inherit it */

    struct viz_hub hub;
    if (viz_hub_init(&hub, o->node, o->timeout_ms)) {
        fprintf(stderr, "dht-viz: out of memory\n");
        return VIZ_EXIT_INVALID;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
        NULL, NULL, answer, &hub, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)VIZ_HTTP_CONN_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(4 * VIZ_KEEPALIVE_S),
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr,
                "dht-viz: cannot serve on %s (in use, or not an "
                "address of this host)\n",
                o->listen);
        viz_hub_free(&hub);
        return VIZ_EXIT_INVALID;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : port;
    printf("dht-viz: serving the ring of %s on http://%s:%u/ (%u status "
           "requests/s at most)\n",
           o->node, host, bound, o->rate);
    fflush(stdout);
    int status = crawl_loop(o, &hub, &stop);
    viz_hub_stop(&hub);
    MHD_stop_daemon(d);
    viz_hub_free(&hub);
    return status;
}
