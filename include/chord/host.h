/*
 * host.h - run one Chord node on a libuv loop: the embedding API that
 * dhtd is made of. Another C program runs a node the same way:
 *
 *     struct chord_host_options opt;
 *     chord_host_options_default(&opt);
 *     opt.listen = "127.0.0.1:7000";          // and opt.join for a seed
 *     opt.durable.dir = "/var/lib/chord";     // optional: a data directory
 *     char err[CHORD_HOST_ERR_MAX];
 *     struct chord_host *h;
 *     if (chord_host_new(loop, &opt, err, &h) == 0)
 *         outcome = chord_host_run(h, err);   // returns when it has left
 *
 * The host drives a protocol-core node (chord/node.h) from the loop: TCP
 * frames from the transport go to chord_node_receive() (a malformed one
 * closes that connection only), an unreachable peer to
 * chord_node_unreachable(), one uv timer armed at
 * chord_node_next_deadline() drives chord_node_tick(); the node's sends
 * and replies go to the transport and its log lines to stderr, one line
 * each:
 *
 *     2025-01-31T12:00:00.123Z INFO 127.0.0.1:7000 message
 *
 * or, with opt.log_format JSON, one object per line for log shippers:
 *
 *     {"time":"2025-01-31T12:00:00.123Z","level":"info",
 *      "node":"127.0.0.1:7000","message":"..."}
 *
 * The clock given to the node is uv_now() of the loop (milliseconds).
 * SIGINT/SIGTERM start a graceful leave; once the node reports LEFT the
 * host flushes pending writes for a bounded time and stops. A second
 * signal stops at once. A node that FAILED to join stops the host too.
 *
 * Addresses (chord/addr.h: IPv4, [IPv6] or a name): the node listens on
 * opt.listen (a name is resolved once, at start) and advertises
 * opt.advertise when given; otherwise a listen name with the port picked,
 * or else the address it is bound to ("localhost" written 127.0.0.1, port
 * 0 replaced by the port picked). A wildcard listen address (0.0.0.0,
 * [::]) needs opt.advertise. Its id is SHA-1 of the advertised address
 * (canonical form) unless opt.has_id. Its outbound connections are bound
 * to the listen address's IP when that is concrete and of the peer's
 * family (port picked by the kernel), so a peer, a log line or a firewall
 * rule sees which node called.
 *
 * Protected mode: without opt.insecure the node accepts connections from
 * this host only (from loopback, 127.0.0.0/8 and ::1, or from the address
 * they reached); others are closed at accept and counted in the
 * transport's summary line. With opt.insecure it accepts
 * plaintext from anywhere, and says so in one WARN line at start.
 *
 * Limits (the numbers are in src/io/transport_gate.h): the transport
 * keeps separate caps for client and peer connections (told apart by
 * their first frame), a budget for buffered input, a minimum rate for a
 * frame in progress and closes idle client connections after
 * opt.idle_timeout_ms. With opt.tune_process (dhtd sets it; a program
 * that embeds a node decides for itself) the host raises the process's
 * open-file limit to what those caps need (up to the hard limit), and on
 * glibc fixes the mmap threshold so that large frame buffers go back to
 * the system when they are freed: both are process-wide settings.
 *
 * TLS (opt.tls): every inbound and outbound connection runs mutual TLS
 * 1.3 with certificates from one CA. An outbound connection checks that
 * the peer's certificate names the address dialled; on any connection, a
 * node-to-node frame whose claimed sender (`from`) the connection's
 * certificate does not name, or whose sender id is not SHA-1 of that
 * address, is refused and the connection closed (FIND_SUCC and MERGE,
 * which carry their origin rather than their sender, need a verified
 * certificate only). Clients need a certificate from the CA unless
 * opt.tls.client_auth is NONE.
 *
 * Fast reconnect: when the node says a peer it had suspected speaks again
 * (chord_node_io.reconnect), the host closes its connection to that peer,
 * which may be stuck in TCP back-off, and the next frame opens a new one.
 *
 * Durability (chord/durable.h): with opt.durable.dir the host locks the
 * directory, recovers its write-ahead log into the node before the node
 * creates or joins a ring, logs every change before it is acknowledged,
 * and stops with CHORD_HOST_ERROR if an fsync fails. Without it the node
 * is memory-only and says so in its first log line.
 *
 * Restart memory: with a data directory the host also keeps the peers the
 * node knows (chord_node_known_peers) in DIR/peers, rewritten atomically
 * off the loop when the set changed (checked every few seconds) and when
 * a graceful leave starts. chord_host_run() then starts the node thus:
 * opt.join given: join it, and remember the listed peers (so the node
 * still finds the rest of its ring); no opt.join but a list: rejoin
 * through it (chord_node_rejoin: alone, still looking for them, when none
 * answers); neither: create a new ring. It logs which. A list that cannot
 * be read or is corrupt is one WARN line and counts as none; a failed save
 * is a WARN line too; neither stops the node.
 *
 * systemd (opt.sd_notify): when $NOTIFY_SOCKET is set, the host sends
 * READY=1 once the node is ACTIVE (created its ring, or joined and got
 * its keys), STOPPING=1 when the leave starts, and, when $WATCHDOG_USEC is
 * set (and $WATCHDOG_PID, if set, is this process), WATCHDOG=1 from a loop
 * timer at half that period, so a stuck loop stops the pings.
 *
 * Metrics (opt.metrics_listen): an HTTP server (libmicrohttpd, its own
 * thread) answers GET /metrics with the node's counters (chord_node_metrics
 * plus the host's transport and log figures) in the Prometheus text format
 * 0.0.4, and GET /healthz with 200 "ok" while the node is ACTIVE, 503
 * otherwise. The text is rendered on the loop thread at each request (the
 * HTTP thread waits for it, boundedly: a loop that does not answer in
 * time gets a 503), so nothing of the node is read off its thread.
 *
 * Virtual nodes (opt.vnodes = K > 1): the host runs K protocol cores on
 * one listener and one transport. Each core is a ring position
 * "address#i" (chord/addr.h), i in 0..CHORD_ADDR_VNODE_MAX, its id SHA-1
 * of that name. Which K names: #0..#K-1 for a process that creates the
 * ring or has no view of it; a process given the ring's positions
 * (opt.ring, a walk made before the start) takes the K names that share
 * the circle most evenly between the processes there and itself
 * (core/vnode_choice.h). A frame the host sends to "host:port#i" goes to
 * host:port with i in the high byte of its header flags, and a frame
 * received goes to the core its flags name. Frames naming none (0, as
 * sent to the plain "host:port": clients, a joiner's seed) go to #0, or
 * to the first core when the process does not run #0 (a node that asked
 * "host:port#0" then refuses the answer from another name, as it does any
 * answer from a peer it did not ask). A frame naming another position
 * the process does not run is dropped when it comes from a node (meant
 * for an earlier process at this address: its sender finds that position
 * dead) and closes the connection when it comes from a client. The
 * cores' replica sets skip positions of the same process
 * (core/placement.c). The first core
 * creates, joins or rejoins as a lone node would; the others then join
 * through it one at a time, two stabilize periods apart. The transport's
 * "unreachable" names a process: every core hears it for each position
 * of that process it knows. The timer sleeps until the earliest core
 * deadline; a signal makes every core leave; the host is ACTIVE (ready,
 * healthy) once all cores are; /metrics shows the first core plus the
 * process's node-to-node frames and its number of vnodes. Durability is
 * per process, not per core, so the host refuses a data directory with
 * vnodes.
 *
 * The process must ignore SIGPIPE (libuv writes with write(2)). The host
 * owns the SIGINT/SIGTERM handling of its loop while it runs. It does not
 * parse command lines or print anything but log lines (dhtd does).
 */
#ifndef CHORD_HOST_H
#define CHORD_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "chord/durable.h"
#include "chord/id.h"
#include "chord/node.h"
#include "chord/tls.h"

/* Longest one-line explanation the host gives of a failure (room for a
 * data directory path and a corrupt file named in it). */
#define CHORD_HOST_ERR_MAX 640u

/* Default of opt.idle_timeout_ms: a client connection with no activity
 * (no byte read, no reply written) for this long is closed (ms). */
#define CHORD_HOST_IDLE_TIMEOUT_MS 60000u
/* Longest idle timeout accepted (ms): one day. */
#define CHORD_HOST_IDLE_TIMEOUT_MAX_MS 86400000u

/* Most virtual nodes one process runs (opt.vnodes). */
#define CHORD_HOST_VNODES_MAX 64u

struct chord_host_options {
    /* Tunables for the node; `self` is filled in by the host from the
     * listen address (and `id` below), whatever it holds here. */
    struct chord_node_config node;
    const char *listen; /* "host:port" to bind; port 0 picks one */
    /* "host:port" the others reach this node at, or NULL: the listen
     * address (required when that is a wildcard). */
    const char *advertise;
    /* Accept plaintext connections from any address, not loopback only
     * (false). */
    bool insecure;
    const char *join; /* seed "host:port", or NULL to create a ring */
    bool has_id;      /* use `id` instead of SHA-1(addr) (tests only) */
    struct chord_id id;
    int log_level; /* lines above this enum chord_log_level are dropped */
    /* The write-ahead log; durable.dir == NULL means memory-only. */
    struct chord_durable_options durable;
    /* A client connection idle this long is closed (ms, at most
     * CHORD_HOST_IDLE_TIMEOUT_MAX_MS; 0: never). Peer connections are
     * not timed out. */
    uint32_t idle_timeout_ms;
    /* May the host change process-wide settings (the open-file limit,
     * glibc's mmap threshold) to fit the connection caps? (false) */
    bool tune_process;
    int log_format; /* enum chord_log_format (TEXT) */
    /* "host:port" to serve Prometheus metrics on (/metrics, /healthz),
     * or NULL for none (see "Metrics" above). */
    const char *metrics_listen;
    /* Tell a service manager how the node is doing (READY=1 once joined
     * and serving, STOPPING=1 when it leaves, WATCHDOG=1 pings) over
     * $NOTIFY_SOCKET, when that is set (see "systemd" above). (false) */
    bool sd_notify;
    /* Mutual TLS for every connection, peers and clients, when any field
     * is set (then cert, key and ca all are; see chord/tls.h). Files are
     * read by chord_host_new. */
    struct chord_tls_options tls;
    /* Ring positions this process takes (0 or 1: one, named by the
     * advertised address; K in 2..CHORD_HOST_VNODES_MAX: K protocol
     * cores behind the one listener, core i named "address#i" with id
     * SHA-1 of that, see "Virtual nodes" above). Not with durable.dir. */
    unsigned vnodes;
    /* With vnodes > 1 and join: the ring's positions (id and name) as a
     * walk from the seed found them, to choose the names with (borrowed
     * during chord_host_new; positions of this process's own address are
     * ignored). n_ring 0: the names #0..#K-1, and ring_note (NULL: none)
     * is logged to say why there was no view. */
    const struct chord_peer *ring;
    size_t n_ring;
    const char *ring_note;
};

/* How log lines are written. */
enum chord_log_format {
    CHORD_LOG_FORMAT_TEXT = 0, /* TIME LEVEL node message */
    CHORD_LOG_FORMAT_JSON = 1, /* {"time":..,"level":..,"node":..,
                                  "message":..} */
};

/* Fill *opt with the defaults: the node's (chord_node_config_default),
 * the log's (chord_durable_options_default: no directory), log level
 * INFO, no listen, advertise or join address, loopback clients only, no
 * explicit id, idle timeout CHORD_HOST_IDLE_TIMEOUT_MS, process settings left
 * alone. */
void chord_host_options_default(struct chord_host_options *opt);

/* How chord_host_run() ended. */
enum chord_host_outcome {
    CHORD_HOST_LEFT = 0,        /* graceful leave finished */
    CHORD_HOST_JOIN_FAILED = 1, /* the seed could not be reached */
    CHORD_HOST_INTERRUPTED = 2, /* second signal: stopped without leaving */
    CHORD_HOST_ERROR = 3,       /* could not start (bad join address...),
                                   or the log failed (fsync error) */
};

struct chord_host;

/*
 * Check an address as the host takes it: "host:port" as chord/addr.h
 * says (IPv4, [IPv6] or a name) with port 0..65535. Returns 0 with *port
 * set (port may be NULL), or the errors of chord_addr_split (-EINVAL,
 * -ERANGE, -ENAMETOOLONG; chord_addr_strerror words them). A join or
 * advertised address must also have a port other than 0 and a concrete
 * host (not 0.0.0.0 or [::]).
 */
int chord_host_addr_parse(const char *addr, uint16_t *port);

/*
 * Lock the data directory (if any), bind the listener, make the node and
 * recover its log into it (not started yet). The options are copied.
 * Returns 0, or a negative errno / libuv error with a one-line explanation
 * in err (e.g. "cannot listen on 127.0.0.1:7000: address already in use",
 * "/data is in use by another node (pid 42)", or a corrupt log file and
 * byte offset); on failure every handle it opened has been closed and the
 * loop run until they are gone.
 */
int chord_host_new(uv_loop_t *loop, const struct chord_host_options *opt,
                   char err[CHORD_HOST_ERR_MAX], struct chord_host **out);

/* The address the node advertises (valid until chord_host_run returns). */
const char *chord_host_addr(const struct chord_host *h);

/*
 * Start the node (create a ring, join opt->join, or rejoin through the
 * peers the data directory lists: see "Restart memory"), run the loop until
 * the host stops, close every handle it opened, free the node and `h`.
 * Returns the outcome; for anything but CHORD_HOST_LEFT, err holds a one
 * line explanation (e.g. "cannot join 127.0.0.1:7000: unreachable").
 */
enum chord_host_outcome chord_host_run(struct chord_host *h,
                                       char err[CHORD_HOST_ERR_MAX]);

/* Parse "error", "warn", "info" or "debug": the level, or -1. */
int chord_log_level_parse(const char *s);

/* Parse "text" or "json": the enum chord_log_format, or -1. */
int chord_log_format_parse(const char *s);

#endif
