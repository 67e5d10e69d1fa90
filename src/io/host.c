/*
 * host.c - one node on one libuv loop (see include/chord/host.h for the
 * contract; the option defaults and parsers are in host_options.c).
 *
 * Every loop callback that feeds the node (frame, unreachable, timer,
 * signal) first updates the loop time, then calls the node, then runs
 * after_event(), which looks at the node's state: LEFT starts the bounded
 * flush, FAILED stops the host, anything else re-arms the one node timer
 * at chord_node_next_deadline(). Once stopping, no more events reach the
 * node, so it is never fed after it reported LEFT or FAILED.
 *
 * Invariants: the host's own handles (node timer, flush timer, two signal
 * handles) are closed exactly once, by host_shutdown(), which also closes
 * the transport; chord_host_run() frees the node and the host only after
 * uv_run() has returned, that is after every close callback has run.
 *
 * With a data directory, the durable log (io/durable.c) is opened and
 * locked before anything else, so a second node on the same directory is
 * refused before it binds its port; the log is recovered into the node
 * right after the node is made, before it creates or joins a ring. The
 * log's `persisted` reports are node events like the others (update time,
 * call the node, after_event); its `fatal` report stops the host. The
 * peers keeper (io/peers_keeper.c) is opened after recovery; its list
 * decides at start between create, join (plus remember) and rejoin, and
 * it collects the node's known peers until a leave starts.
 *
 * It does not decode frames (the node does) nor retry anything itself.
 */
#include "chord/host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "chord/addr.h"
#include "chord/types.h"
#include "core/wire.h"
#include "io/durable.h"
#include "io/host_addrs.h"
#include "io/host_vnodes.h"
#include "io/log_line.h"
#include "io/metrics_http.h"
#include "io/metrics_text.h"
#include "io/service.h"
#include "io/peers_file.h"
#include "io/peers_keeper.h"
#include "io/transport.h"

/* Longest sleep between node timer checks (ms), whatever the deadline. */
#define CHORD_HOST_MAX_SLEEP_MS 60000u
/* After LEFT, wait at most this long for queued frames to be written. */
#define CHORD_HOST_FLUSH_MS 500u
/* How often the flush checks whether the write queues are empty (ms). */
#define CHORD_HOST_FLUSH_POLL_MS 10u
/* Longest log line written (longer ones are cut). */
#define CHORD_HOST_LOG_LINE_MAX 2048u
/* glibc: allocations from this size on are mmap'd and unmapped when freed.
 * Fixed, because glibc otherwise raises the threshold to the size of each
 * large block freed, after which frame buffers come from the heap and a
 * flood of large frames leaves tens of MB behind. */
#define CHORD_HOST_MMAP_THRESHOLD (128 * 1024)
/* Known peers of a core looked through when a process is unreachable. */
#define CHORD_HOST_KNOWN_MAX 256u
/* Descriptors wanted beyond the transport's connections: listener, log
 * files, signals, the loop's own. */
#define CHORD_HOST_FDS_SPARE 64u

/* One protocol core: the process's only node, or one of its vnodes. */
struct host_core {
    struct chord_host *h;
    unsigned idx;              /* its vnode index (0 without vnodes) */
    struct chord_node *node;   /* NULL until made */
    char addr[CHORD_ADDR_MAX]; /* advertised, "#i" with vnodes */
};

struct chord_host {
    uv_loop_t *loop;
    struct chord_transport *tr; /* NULL once closed */
    struct chord_node *node;    /* cores[0].node */
    struct host_core cores[CHORD_HOST_VNODES_MAX];
    unsigned n_cores; /* opt.vnodes (1 without vnodes) */
    /* The core of each vnode index, plus 1 (0: not run here). */
    uint8_t core_of[CHORD_ADDR_VNODE_MAX + 1];
    uint64_t frames_sent;      /* node-to-node frames handed to the transport */
    unsigned n_started;        /* cores told to create, join or rejoin */
    uint64_t join_at;          /* when the next core joins (0: not set yet) */
    uint32_t stabilize_ms;     /* opt.node.stabilize_ms */
    struct chord_durable *dur; /* the log; NULL if memory-only or closed */
    /* The known peers kept in the data directory; NULL if none or closed. */
    struct chord_peers_keeper *keeper;
    /* The /metrics and /healthz server; NULL if none or stopped. */
    struct chord_metrics_http *metrics;
    struct chord_service svc; /* the service manager (systemd), if any */
    bool want_sd;             /* opt.sd_notify */
    int durability;           /* enum chord_durability */
    uv_timer_t timer;         /* the node's next deadline */
    uv_timer_t flush;         /* polls the write queues after LEFT */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_handle_t *opened[5]; /* those above initialised, and svc's watchdog */
    size_t n_opened;
    bool stopping;    /* no more events go to the node */
    bool shut;        /* host_shutdown() ran */
    unsigned signals; /* SIGINT/SIGTERM received */
    uint64_t flush_until;
    int log_level;
    int log_format;            /* enum chord_log_format */
    struct chord_host_addrs a; /* join, advertised and bound addresses */
    struct chord_tls *tls;     /* NULL: plaintext */
    bool explicit_id;          /* opt.has_id: ids are not SHA-1(addr) */
    bool opt_client_auth_none; /* TLS: clients without certificates too */
    enum chord_host_outcome outcome;
    char err[CHORD_HOST_ERR_MAX];
};

/* Write one log line (text or JSON, see io/log_line.h) to stderr with a
 * single write, if `level` passes the filter. */
static void host_log_as(struct chord_host *h, const char *who, int level,
                        const char *msg)
{
    if (level > h->log_level)
        return;
    char line[CHORD_HOST_LOG_LINE_MAX];
    size_t len = chord_log_line_format(line, sizeof line, h->log_format, level,
                                       who, msg);
    fwrite(line, 1, len, stderr);
}

static void host_log(struct chord_host *h, int level, const char *msg)
{
    host_log_as(h, h->a.addr, level, msg);
}

static void host_logf(struct chord_host *h, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_logf(struct chord_host *h, int level, const char *fmt, ...)
{
    if (level > h->log_level)
        return;
    char msg[CHORD_HOST_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    host_log(h, level, msg);
}

/* ---- node io callbacks (called from inside node entry points) ----------- */

/* A frame for "host:port#i" goes to host:port with i stamped in its
 * header (core/wire.h); one connection serves every vnode of a process. */
static void node_send(void *ctx, const char *addr, const uint8_t *frame,
                      size_t len)
{
    struct chord_host *h = ((struct host_core *)ctx)->h;
    char base[CHORD_ADDR_MAX];
    int vnode;
    if (!h->tr || chord_addr_vnode_split(addr, base, &vnode) != 0)
        return;
    h->frames_sent++;
    if (vnode <= 0 || len < CHORD_FRAME_HEADER) {
        chord_transport_send(h->tr, base, frame, len);
        return;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, frame, len);
    chord_frame_set_vnode(copy, (unsigned)vnode);
    chord_transport_send(h->tr, base, copy, len);
    free(copy);
}

static void node_reply(void *ctx, uint64_t conn, const uint8_t *frame,
                       size_t len)
{
    struct chord_host *h = ((struct host_core *)ctx)->h;
    if (h->tr)
        chord_transport_reply(h->tr, conn, frame, len);
}

/* The service's log lines (ctx is the host itself, not a core). */
static void service_log(void *ctx, int level, const char *line)
{
    host_log(ctx, level, line);
}

static void node_log(void *ctx, int level, const char *line)
{
    struct host_core *c = ctx;
    host_log_as(c->h, c->addr, level, line);
}

/* A peer the node had suspected speaks again: drop the connection to it,
 * which may be stuck in TCP back-off; the next send opens a fresh one. */
static void node_reconnect(void *ctx, const char *addr)
{
    struct chord_host *h = ((struct host_core *)ctx)->h;
    char base[CHORD_ADDR_MAX];
    if (h->tr && chord_addr_vnode_split(addr, base, NULL) == 0)
        chord_transport_reconnect(h->tr, base);
}

/* The node hands over a change: log it (0 refuses the change). */
static uint64_t node_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct chord_host *h = ((struct host_core *)ctx)->h;
    return h->dur ? chord_durable_append(h->dur, rec, len) : 0;
}

/* ---- stopping ------------------------------------------------------------ */

/* Nothing to free: the handles live in the host, which chord_host_run()
 * frees after uv_run() has returned, that is after this callback. */
static void on_handle_close(uv_handle_t *handle)
{
    (void)handle;
}

/* Close the transport and every handle of the host, once. uv_run() then
 * returns when libuv has finished closing them. */
static void host_shutdown(struct chord_host *h)
{
    if (h->shut)
        return;
    h->shut = true;
    h->stopping = true;
    chord_service_stopping(&h->svc);
    if (h->tr) {
        chord_transport_close(h->tr);
        h->tr = NULL;
    }
    if (h->dur) {
        chord_durable_close(h->dur); /* finishes from loop callbacks */
        h->dur = NULL;
    }
    chord_peers_keeper_close(h->keeper); /* a save in flight finishes */
    h->keeper = NULL;
    chord_metrics_http_stop(h->metrics); /* joins its thread */
    h->metrics = NULL;
    for (size_t i = 0; i < h->n_opened; i++)
        if (!uv_is_closing(h->opened[i]))
            uv_close(h->opened[i], on_handle_close);
}

/* Stop because of a failure: keep the first explanation. */
static void host_fail(struct chord_host *h, enum chord_host_outcome outcome,
                      const char *why)
{
    if (h->outcome == CHORD_HOST_LEFT) {
        h->outcome = outcome;
        snprintf(h->err, sizeof h->err, "%s", why);
    }
    host_shutdown(h);
}

static void on_flush(uv_timer_t *timer)
{
    struct chord_host *h = timer->data;
    uv_update_time(h->loop);
    size_t left = h->tr ? chord_transport_pending(h->tr) : 0;
    if (left == 0 || uv_now(h->loop) >= h->flush_until) {
        if (left)
            host_logf(h, CHORD_LOG_WARN, "exiting with %zu bytes unsent", left);
        host_shutdown(h);
    }
}

/* The node has LEFT: stop feeding it, give the writes a moment, stop. */
static void host_begin_flush(struct chord_host *h)
{
    h->stopping = true;
    uv_timer_stop(&h->timer);
    host_log(h, CHORD_LOG_DEBUG, "leave complete: flushing and exiting");
    h->flush_until = uv_now(h->loop) + CHORD_HOST_FLUSH_MS;
    if (!h->tr || chord_transport_pending(h->tr) == 0) {
        host_shutdown(h);
        return;
    }
    uv_timer_start(&h->flush, on_flush, CHORD_HOST_FLUSH_POLL_MS,
                   CHORD_HOST_FLUSH_POLL_MS);
}

/* ---- events -------------------------------------------------------------- */

static void on_timer(uv_timer_t *timer);

/* The state of the process's cores taken together: FAILED if one failed,
 * LEFT once all have left, ACTIVE once all are, else core 0's. */
static int host_state(const struct chord_host *h)
{
    unsigned left = 0, active = 0;
    for (unsigned i = 0; i < h->n_cores; i++) {
        int st = chord_node_state(h->cores[i].node);
        if (st == CHORD_NODE_FAILED)
            return st;
        left += st == CHORD_NODE_LEFT;
        active += st == CHORD_NODE_ACTIVE;
    }
    if (left == h->n_cores)
        return CHORD_NODE_LEFT;
    if (active == h->n_cores)
        return CHORD_NODE_ACTIVE;
    int st0 = chord_node_state(h->node);
    return st0 == CHORD_NODE_ACTIVE || st0 == CHORD_NODE_LEFT
               ? CHORD_NODE_JOINING
               : st0;
}

/* Vnodes join one at a time, through vnode 0, each two stabilize periods
 * after the one before became ACTIVE: joined faster than the ring
 * stabilizes, a lookup ends at a successor far past the joiner's place
 * (the nodes' successor pointers lag), and the walk back from there one
 * predecessor at a time runs out of hops. */
static void host_join_next(struct chord_host *h)
{
    if (h->n_started >= h->n_cores || h->signals ||
        chord_node_state(h->cores[h->n_started - 1].node) != CHORD_NODE_ACTIVE)
        return;
    uint64_t now = uv_now(h->loop);
    if (h->join_at == 0)
        h->join_at = now + 2 * (uint64_t)h->stabilize_ms;
    if (now < h->join_at)
        return;
    h->join_at = 0;
    struct host_core *c = &h->cores[h->n_started++];
    chord_node_join(c->node, now, h->cores[0].addr);
}

/* After every event given to the node: act on its state or re-arm the
 * node timer at its next deadline. */
static void after_event(struct chord_host *h)
{
    if (h->stopping)
        return;
    host_join_next(h);
    switch (host_state(h)) {
    case CHORD_NODE_LEFT:
        host_begin_flush(h);
        return;
    case CHORD_NODE_FAILED: {
        char why[CHORD_HOST_ERR_MAX];
        if (h->a.has_join)
            snprintf(why, sizeof why, "cannot join %s: unreachable", h->a.join);
        else
            snprintf(why, sizeof why, "the node failed");
        host_log(h, CHORD_LOG_ERROR, why);
        host_fail(h, CHORD_HOST_JOIN_FAILED, why);
        return;
    }
    case CHORD_NODE_ACTIVE:
        if (!h->signals)
            chord_service_ready(&h->svc, h->a.addr);
        break;
    default:
        break;
    }
    uint64_t now = uv_now(h->loop);
    uint64_t deadline = UINT64_MAX;
    for (unsigned i = 0; i < h->n_cores; i++) {
        uint64_t d = chord_node_next_deadline(h->cores[i].node);
        if (d < deadline)
            deadline = d;
    }
    if (h->join_at && h->join_at < deadline)
        deadline = h->join_at;
    uint64_t delay = deadline > now ? deadline - now : 0;
    if (delay > CHORD_HOST_MAX_SLEEP_MS)
        delay = CHORD_HOST_MAX_SLEEP_MS;
    uv_timer_start(&h->timer, on_timer, delay, 0);
}

/* Tell the cores the wall clock (TTL deadlines are wall-clock times);
 * cheap, so at every timer rather than on a schedule of its own. */
static void host_wall_clock(struct chord_host *h, uint64_t now)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return;
    uint64_t wall =
        (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (unsigned i = 0; i < h->n_cores; i++)
        chord_node_set_wall_clock(h->cores[i].node, now, wall);
}

static void on_timer(uv_timer_t *timer)
{
    struct chord_host *h = timer->data;
    if (h->stopping)
        return;
    uv_update_time(h->loop);
    uint64_t now = uv_now(h->loop);
    host_wall_clock(h, now);
    for (unsigned i = 0; i < h->n_cores; i++)
        if (chord_node_next_deadline(h->cores[i].node) <= now)
            chord_node_tick(h->cores[i].node, now);
    after_event(h);
}

/* With TLS: may connection `conn` deliver this frame? A node-to-node
 * frame must come from a connection whose certificate names the sender
 * it claims, with the id that address hashes to; FIND_SUCC and MERGE
 * carry their origin, so they need a verified certificate only. Client
 * frames (and frames whose sender does not decode, which the node
 * refuses) pass. */
static bool frame_vouched(struct chord_host *h, uint64_t conn,
                          const uint8_t *frame, size_t len)
{
    struct chord_peer from;
    uint8_t type;
    if (!h->tls || chord_frame_from(frame, len, &from, &type) != 0)
        return true;
    bool relayed = type == CHORD_MSG_FIND_SUCC || type == CHORD_MSG_MERGE;
    char base[CHORD_ADDR_MAX]; /* certificates name processes */
    if (chord_addr_vnode_split(from.addr, base, NULL) != 0)
        return false; /* a sender no certificate can name */
    int v = chord_transport_conn_vouches(h->tr, conn, relayed ? NULL : base);
    if (v == 1 && !relayed && !h->explicit_id) {
        struct chord_id id;
        chord_id_hash(&id, from.addr, strlen(from.addr));
        if (chord_id_cmp(&id, &from.id) != 0) {
            host_logf(h, CHORD_LOG_WARN,
                      "refusing %s from %s: its id is not SHA-1 of its "
                      "address",
                      chord_msg_type_name(type), from.addr);
            return false;
        }
    }
    if (v == 0)
        host_logf(h, CHORD_LOG_WARN,
                  "refusing %s claiming to come from %s: the connection's "
                  "certificate does not name it",
                  chord_msg_type_name(type), from.addr);
    return v == 1;
}

static int on_frame(void *ctx, uint64_t conn, const uint8_t *frame, size_t len)
{
    struct chord_host *h = ctx;
    if (h->stopping)
        return 0;
    if (!frame_vouched(h, conn, frame, len))
        return -EPROTO;
    int core = chord__host_vnode_route(h->core_of, frame, len);
    if (core < 0)
        return core == -ENOENT ? 0 : core;
    uv_update_time(h->loop);
    int rc = chord_node_receive(h->cores[core].node, uv_now(h->loop), conn,
                                frame, len);
    after_event(h);
    return rc == -EPROTO ? -EPROTO : 0;
}

/* The transport is about to write this loop turn's frames: the cores
 * send what they held to coalesce (the turn's replica copies, one frame
 * per replica), and the node timer is re-armed when they did. */
static void on_turn(void *ctx)
{
    struct chord_host *h = ctx;
    if (h->stopping)
        return;
    unsigned sent = 0;
    for (unsigned i = 0; i < h->n_cores; i++)
        if (h->cores[i].node)
            sent += chord_node_flush(h->cores[i].node, uv_now(h->loop));
    if (sent)
        after_event(h);
}

static void on_unreachable(void *ctx, const char *addr)
{
    struct chord_host *h = ctx;
    if (h->stopping)
        return;
    uv_update_time(h->loop);
    uint64_t now = uv_now(h->loop);
    /* The transport knows processes: every position of that process
     * each core knows of ("addr#i") is unreachable, and addr itself. */
    char(*known)[CHORD_ADDR_MAX] = malloc(CHORD_HOST_KNOWN_MAX * sizeof *known);
    for (unsigned i = 0; i < h->n_cores; i++) {
        struct chord_node *n = h->cores[i].node;
        chord_node_unreachable(n, now, addr);
        size_t k =
            known ? chord_node_known_peers(n, known, CHORD_HOST_KNOWN_MAX) : 0;
        for (size_t j = 0; j < k; j++)
            if (strcmp(known[j], addr) != 0 &&
                chord_addr_same_process(known[j], addr))
                chord_node_unreachable(n, now, known[j]);
    }
    free(known);
    after_event(h);
}

static void on_transport_log(void *ctx, int level, const char *line)
{
    host_log(ctx, level, line);
}

/* The log is durable up to `seq`: the node may send what waited for it. */
static void on_persisted(void *ctx, uint64_t seq)
{
    struct chord_host *h = ctx;
    if (h->stopping)
        return;
    uv_update_time(h->loop);
    chord_node_persisted(h->node, uv_now(h->loop), seq);
    after_event(h);
}

/* The log failed (an fsync error): never acknowledge anything again. */
static void on_durable_fatal(void *ctx, const char *why)
{
    struct chord_host *h = ctx;
    host_log(h, CHORD_LOG_ERROR, why);
    host_fail(h, CHORD_HOST_ERROR, why);
}

static void on_durable_log(void *ctx, int level, const char *line)
{
    host_log(ctx, level, line);
}

/* Recovery hands each surviving record to the node. */
static int host_restore(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    struct chord_host *h = arg;
    (void)seq;
    return chord_node_restore(h->node, rec, len);
}

/* Open and lock the data directory. 0, or an error explained in err. */
static int host_open_log(struct chord_host *h,
                         const struct chord_host_options *opt,
                         char err[CHORD_HOST_ERR_MAX])
{
    struct chord_durable_cb cb = {
        .ctx = h,
        .persisted = on_persisted,
        .fatal = on_durable_fatal,
        .log = on_durable_log,
    };
    char why[CHORD_DURABLE_ERR_MAX];
    int rc = chord_durable_open(h->loop, &opt->durable, &cb, why, &h->dur);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "%s", why);
        return rc;
    }
    h->durability = opt->durable.mode;
    return 0;
}

/* Replay the log into the node and say what came back. */
static int host_recover(struct chord_host *h,
                        const struct chord_host_options *opt,
                        char err[CHORD_HOST_ERR_MAX])
{
    struct chord_wal_report rep;
    char why[CHORD_DURABLE_ERR_MAX];
    uint64_t t0 = uv_hrtime();
    int rc = chord_durable_recover(h->dur, host_restore, h, &rep, why);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "%s", why);
        return rc;
    }
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    if (rep.note[0])
        host_logf(h, CHORD_LOG_WARN, "log recovery: %s", rep.note);
    host_logf(h, CHORD_LOG_INFO,
              "recovered %zu keys from snapshot %s and %llu log records "
              "(%llu dropped) in %llu ms",
              chord_node_key_count(h->node),
              rep.snapshot[0] ? rep.snapshot : "(none)",
              (unsigned long long)rep.log_records,
              (unsigned long long)rep.dropped, (unsigned long long)ms);
    host_logf(h, CHORD_LOG_INFO,
              "data directory %s: fsync %s (window %u ms), checkpoint "
              "every %llu MiB of log",
              opt->durable.dir, chord_durability_name(opt->durable.mode),
              (unsigned)opt->durable.fsync_ms,
              (unsigned long long)(opt->durable.checkpoint_bytes >> 20));
    return 0;
}

/* The keeper asks for the peers to keep: none once the node is leaving
 * (what it knows then is the ring without it). */
static size_t keeper_collect(void *ctx, char (*out)[CHORD_ADDR_MAX], size_t max)
{
    struct chord_host *h = ctx;
    if (h->stopping || h->signals)
        return 0;
    return chord_node_known_peers(h->node, out, max);
}

/* Keep the known peers in the data directory. Without the keeper the node
 * runs as before (a restart without --join then starts a new ring). */
static void host_open_keeper(struct chord_host *h,
                             const struct chord_host_options *opt)
{
    struct chord_peers_keeper_cb cb = {
        .ctx = h,
        .collect = keeper_collect,
        .log = on_durable_log,
    };
    int rc =
        chord_peers_keeper_open(h->loop, opt->durable.dir, &cb, &h->keeper);
    if (rc)
        host_logf(h, CHORD_LOG_WARN,
                  "cannot keep the known peers in %s: %s (a restart "
                  "without --join will start a new ring)",
                  opt->durable.dir, strerror(-rc));
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct chord_host *h = sig->data;
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    h->signals++;
    if (h->stopping) {
        host_logf(h, CHORD_LOG_INFO, "received %s: stopping now", name);
        host_shutdown(h);
        return;
    }
    if (h->signals > 1) {
        host_logf(h, CHORD_LOG_WARN,
                  "received %s again: stopping without "
                  "finishing the leave",
                  name);
        host_fail(h, CHORD_HOST_INTERRUPTED,
                  "interrupted before the leave finished");
        return;
    }
    host_logf(h, CHORD_LOG_INFO, "received %s: leaving the ring", name);
    chord_service_stopping(&h->svc);
    if (h->keeper) /* while the node still knows its neighbours */
        chord_peers_keeper_flush(h->keeper);
    uv_update_time(h->loop);
    for (unsigned i = 0; i < h->n_cores; i++)
        chord_node_leave(h->cores[i].node, uv_now(h->loop));
    after_event(h);
}

/* ---- metrics (called on the loop thread by io/metrics_http.c) ----------- */

static int metrics_render(void *ctx, struct chord_buf *out)
{
    struct chord_host *h = ctx;
    struct chord_node_metrics nm;
    chord_node_metrics(h->node, &nm);
    struct chord_transport_stats net = {0};
    struct chord_durable_stats log;
    struct chord_metrics_view v = {.node = &nm,
                                   .net = &net,
                                   .peer_frames_sent = h->frames_sent,
                                   .vnodes = h->n_cores};
    if (h->tr) {
        chord_transport_stats(h->tr, &net);
        v.conns_open = chord_transport_conn_count(h->tr);
        v.input_bytes = chord_transport_input_bytes(h->tr);
        v.pending_bytes = chord_transport_pending(h->tr);
    }
    if (h->dur) {
        chord_durable_stats(h->dur, &log);
        v.log = &log;
    }
    return chord_metrics_text_render(out, &v);
}

/* Healthy: the node is a member serving requests and not leaving. */
static bool metrics_healthy(void *ctx, char *why, size_t len)
{
    struct chord_host *h = ctx;
    int state = host_state(h);
    if (state == CHORD_NODE_ACTIVE && !h->stopping && !h->signals)
        return true;
    snprintf(why, len, "not serving: %s",
             h->signals && state == CHORD_NODE_ACTIVE
                 ? "leaving"
                 : chord_node_state_name(state));
    return false;
}

/* Serve /metrics and /healthz on opt->metrics_listen. 0, or an error
 * explained in err. */
static int host_start_metrics(struct chord_host *h,
                              const struct chord_host_options *opt,
                              char err[CHORD_HOST_ERR_MAX])
{
    struct chord_metrics_http_cb cb = {
        .ctx = h,
        .render = metrics_render,
        .healthy = metrics_healthy,
    };
    char why[CHORD_METRICS_ERR_MAX];
    int rc = chord_metrics_http_start(h->loop, opt->metrics_listen, &cb, why,
                                      &h->metrics);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "%s", why);
        return rc;
    }
    host_logf(h, CHORD_LOG_INFO,
              "metrics on http://%.*s:%u/metrics (health: /healthz)",
              (int)strcspn(opt->metrics_listen, ":"), opt->metrics_listen,
              chord_metrics_http_port(h->metrics));
    return 0;
}

/* Process-wide settings the limits rely on: enough descriptors for the
 * transport's connection caps (up to the hard limit), and on glibc a fixed
 * mmap threshold so that freed frame buffers go back to the system. */
static void host_tune_process(struct chord_host *h)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, CHORD_HOST_MMAP_THRESHOLD);
#endif
    rlim_t want = (rlim_t)CHORD_GATE_NEW_MAX + CHORD_GATE_CLIENT_MAX +
                  CHORD_GATE_PEER_MAX + CHORD_GATE_OUT_MAX +
                  CHORD_HOST_FDS_SPARE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur =
        rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = was;
    if (rl.rlim_cur < want)
        host_logf(h, CHORD_LOG_WARN,
                  "open-file limit %llu is under the %llu the connection "
                  "caps need: connections past it are refused",
                  (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

/* Make the protocol cores: one named by the advertised address, or with
 * vnodes K of them named "address#i" (host_vnodes.h). */
static int host_make_cores(struct chord_host *h,
                           const struct chord_host_options *opt)
{
    h->n_cores = opt->vnodes > 1 ? opt->vnodes : 1;
    h->stabilize_ms = opt->node.stabilize_ms;
    unsigned idx[CHORD_HOST_VNODES_MAX] = {0};
    char said[CHORD_HOST_VNODES_SAID_MAX];
    int rc = h->n_cores > 1 ? chord__host_vnode_names(h->a.addr, h->n_cores,
                                                      opt, idx, said)
                            : 0;
    if (h->n_cores > 1 && rc == 0)
        host_log(h, CHORD_LOG_INFO, said);
    for (unsigned i = 0; i < h->n_cores && rc == 0; i++) {
        struct host_core *c = &h->cores[i];
        c->h = h;
        c->idx = idx[i];
        h->core_of[idx[i]] = (uint8_t)(i + 1);
        if (h->n_cores == 1)
            snprintf(c->addr, sizeof c->addr, "%s", h->a.addr);
        else if (chord_addr_vnode_format(h->a.addr, idx[i], c->addr) != 0)
            return -ENAMETOOLONG;
        struct chord_node_config cfg = opt->node;
        rc = chord_peer_from_addr(&cfg.self, c->addr);
        if (rc == 0 && opt->has_id && i == 0)
            cfg.self.id = opt->id;
        cfg.durability = (uint8_t)h->durability;
        struct chord_node_io io = {
            .ctx = c,
            .send = node_send,
            .reply = node_reply,
            .log = node_log,
            .persist = h->dur ? node_persist : NULL,
            .reconnect = node_reconnect,
        };
        if (rc == 0)
            rc = chord_node_new(&cfg, &io, uv_now(h->loop), &c->node);
    }
    if (rc == 0)
        host_wall_clock(h, uv_now(h->loop));
    h->node = h->cores[0].node;
    return rc;
}

static void host_free_cores(struct chord_host *h)
{
    for (unsigned i = 0; i < h->n_cores; i++)
        chord_node_free(h->cores[i].node);
}

/* ---- public API ---------------------------------------------------------- */

int chord_host_new(uv_loop_t *loop, const struct chord_host_options *opt,
                   char err[CHORD_HOST_ERR_MAX], struct chord_host **out)
{
    err[0] = '\0';
    struct chord_host *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, CHORD_HOST_ERR_MAX, "out of memory");
        return -ENOMEM;
    }
    h->loop = loop;
    chord_service_init(&h->svc);
    h->want_sd = opt->sd_notify;
    h->log_level = opt->log_level;
    h->log_format = opt->log_format;
    h->outcome = CHORD_HOST_LEFT;
    snprintf(h->a.addr, sizeof h->a.addr, "%s", opt->listen ? opt->listen : "");

    int rc = chord__host_check_addrs(&h->a, opt, err);
    if (rc == 0 && opt->vnodes > CHORD_HOST_VNODES_MAX) {
        snprintf(err, CHORD_HOST_ERR_MAX, "at most %u virtual nodes",
                 CHORD_HOST_VNODES_MAX);
        rc = -EINVAL;
    } else if (rc == 0 && opt->vnodes > 1 && opt->durable.dir) {
        snprintf(err, CHORD_HOST_ERR_MAX,
                 "a data directory is not supported with virtual nodes");
        rc = -EINVAL;
    }
    if (rc) {
        free(h);
        return rc;
    }
    h->explicit_id = opt->has_id;
    h->opt_client_auth_none =
        opt->tls.client_auth == CHORD_TLS_CLIENT_AUTH_NONE;
    if (chord_tls_options_enabled(&opt->tls)) {
        char why[CHORD_TLS_ERR_MAX];
        rc = chord_tls_new(&opt->tls, true, why, &h->tls);
        if (rc) {
            snprintf(err, CHORD_HOST_ERR_MAX, "%s", why);
            free(h);
            return rc;
        }
    }
    /* The lock first: a second node on the same directory must hear
     * about the directory, not about a port. */
    if (opt->durable.dir && (rc = host_open_log(h, opt, err)) != 0) {
        chord_tls_free(h->tls);
        free(h);
        return rc;
    }

    struct chord_transport_cb cb = {
        .ctx = h,
        .frame = on_frame,
        .unreachable = on_unreachable,
        .log = on_transport_log,
        .turn = on_turn,
    };
    if (opt->tune_process)
        host_tune_process(h);
    rc = chord_transport_new(loop, &cb, &h->tr);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "cannot start the transport: %s",
                 uv_strerror(rc));
        chord_durable_close(h->dur);
        uv_run(loop, UV_RUN_DEFAULT);
        chord_tls_free(h->tls);
        free(h);
        return rc;
    }
    chord_transport_set_tls(h->tr, h->tls);
    rc = chord_transport_listen(h->tr, opt->listen);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "cannot listen on %s: %s",
                 opt->listen, uv_strerror(rc));
        goto fail;
    }

    chord__host_advertise(&h->a, h->tr, opt);
    struct chord_gate_limits lim;
    chord_gate_limits_default(&lim);
    lim.idle_timeout_ms = opt->idle_timeout_ms;
    chord_transport_set_limits(h->tr, &lim);
    /* Protected mode: a plaintext node takes only its own host unless told
     * otherwise; with TLS the certificates decide who may speak. */
    chord_transport_set_open(h->tr, opt->insecure || h->tls != NULL);
    if (opt->insecure)
        host_logf(h, CHORD_LOG_WARN,
                  "insecure: accepting plaintext connections from any "
                  "address on %s; whoever reaches it can read and write "
                  "every key",
                  h->a.bound);

    rc = host_make_cores(h, opt);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "cannot make the node: %s",
                 rc == -EINVAL ? "invalid configuration" : strerror(-rc));
        goto fail;
    }
    if (h->dur && (rc = host_recover(h, opt, err)) != 0)
        goto fail;
    if (h->dur)
        host_open_keeper(h, opt);
    if (opt->metrics_listen && (rc = host_start_metrics(h, opt, err)) != 0)
        goto fail;
    *out = h;
    return 0;

fail:
    chord_transport_close(h->tr);
    chord_durable_close(h->dur);
    chord_peers_keeper_close(h->keeper);
    uv_run(loop, UV_RUN_DEFAULT);
    host_free_cores(h);
    chord_tls_free(h->tls);
    free(h);
    return rc;
}

const char *chord_host_addr(const struct chord_host *h)
{
    return h->a.addr;
}

/* Initialise the node timer, the flush timer and the signal handlers. */
static int host_handles_init(struct chord_host *h)
{
    int rc = uv_timer_init(h->loop, &h->timer);
    if (rc == 0)
        h->opened[h->n_opened++] = (uv_handle_t *)&h->timer;
    if (rc == 0 && (rc = uv_timer_init(h->loop, &h->flush)) == 0)
        h->opened[h->n_opened++] = (uv_handle_t *)&h->flush;
    if (rc == 0 && (rc = uv_signal_init(h->loop, &h->sigint)) == 0)
        h->opened[h->n_opened++] = (uv_handle_t *)&h->sigint;
    if (rc == 0 && (rc = uv_signal_init(h->loop, &h->sigterm)) == 0)
        h->opened[h->n_opened++] = (uv_handle_t *)&h->sigterm;
    h->timer.data = h->flush.data = h->sigint.data = h->sigterm.data = h;
    if (rc == 0)
        rc = uv_signal_start(&h->sigint, on_signal, SIGINT);
    if (rc == 0)
        rc = uv_signal_start(&h->sigterm, on_signal, SIGTERM);
    return rc;
}

/* Create a ring, join opt->join, or rejoin through the peers the data
 * directory lists; then start keeping the known peers. */
static void host_start_node(struct chord_host *h, uint64_t now)
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(&chord_node_self(h->node)->id, hex);
    char known[CHORD_PEERS_FILE_MAX][CHORD_ADDR_MAX];
    size_t n = h->keeper ? chord_peers_keeper_load(h->keeper, known,
                                                   CHORD_PEERS_FILE_MAX)
                         : 0;
    if (h->a.has_join) {
        host_logf(h, CHORD_LOG_INFO,
                  "node %s listening on %s: joining "
                  "the ring of %s",
                  hex, h->a.addr, h->a.join);
        int rc = chord_node_join(h->node, now, h->a.join);
        if (rc) {
            char why[CHORD_HOST_ERR_MAX];
            snprintf(why, sizeof why, "cannot join %s: bad address", h->a.join);
            host_fail(h, CHORD_HOST_ERROR, why);
            return;
        }
        if (n)
            host_logf(h, CHORD_LOG_INFO,
                      "also looking for the %zu peers known before (%s)", n,
                      chord_peers_keeper_path(h->keeper));
        for (size_t i = 0; i < n; i++) /* our own address is refused */
            chord_node_remember(h->node, now, known[i]);
    } else if (n) {
        const char *addrs[CHORD_PEERS_FILE_MAX];
        for (size_t i = 0; i < n; i++)
            addrs[i] = known[i];
        host_logf(h, CHORD_LOG_INFO,
                  "node %s listening on %s: rejoining the ring through "
                  "the %zu peers known before (%s)",
                  hex, h->a.addr, n, chord_peers_keeper_path(h->keeper));
        chord_node_rejoin(h->node, now, addrs, n);
    } else {
        host_logf(h, CHORD_LOG_INFO,
                  "node %s listening on %s: created "
                  "a new ring",
                  hex, h->a.addr);
        chord_node_create(h->node, now);
    }
    h->n_started = 1; /* the others join one by one (host_join_next) */
    int rc = h->keeper ? chord_peers_keeper_start(h->keeper) : 0;
    if (rc)
        host_logf(h, CHORD_LOG_WARN, "cannot keep the known peers: %s",
                  uv_strerror(rc));
}

enum chord_host_outcome chord_host_run(struct chord_host *h,
                                       char err[CHORD_HOST_ERR_MAX])
{
    int rc = host_handles_init(h);
    if (rc) {
        char why[CHORD_HOST_ERR_MAX];
        snprintf(why, sizeof why, "cannot handle signals: %s", uv_strerror(rc));
        host_fail(h, CHORD_HOST_ERROR, why);
    } else {
        uv_update_time(h->loop);
        uint64_t now = uv_now(h->loop);
        if (!h->dur)
            host_log(h, CHORD_LOG_INFO,
                     "memory-only: no --data directory, so nothing this "
                     "node stores survives a restart");
        uv_handle_t *wd =
            h->want_sd ? chord_service_open(&h->svc, h->loop, service_log, h)
                       : NULL;
        if (wd)
            h->opened[h->n_opened++] = wd;
        if (h->tls)
            host_logf(h, CHORD_LOG_INFO,
                      "TLS 1.3 on every connection; peers %s",
                      h->opt_client_auth_none
                          ? "need a certificate of the CA, clients do not"
                          : "and clients need a certificate of the CA");
        host_start_node(h, now);
        after_event(h);
    }

    /* Runs until host_shutdown() has closed everything; if someone called
     * uv_stop() on the loop, shut down and finish closing. */
    uv_run(h->loop, UV_RUN_DEFAULT);
    if (!h->shut) {
        host_fail(h, CHORD_HOST_INTERRUPTED, "the event loop was stopped");
        uv_run(h->loop, UV_RUN_DEFAULT);
    }

    enum chord_host_outcome outcome = h->outcome;
    snprintf(err, CHORD_HOST_ERR_MAX, "%s", h->err);
    chord_service_close(&h->svc);
    host_free_cores(h);
    chord_tls_free(h->tls);
    free(h);
    return outcome;
}
