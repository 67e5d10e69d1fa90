/*
 * live.h - dht-viz --serve: the live page's declarations. Four parts,
 * one file each:
 *   watch.c  the model of the ring the server keeps: the nodes it knows,
 *            each node's last status, polled one at a time at a bounded
 *            rate (a pacing of --rate status requests per second in
 *            total), new nodes found in successor lists and fingers;
 *   feed.c   what the page is told: from the model, a struct viz_ring
 *            laid out by layout.c (the same positions and labels as the
 *            static SVG), the JSON of each node, and the differences
 *            since the last round as timeline events;
 *   hub.c    what the crawler thread hands the HTTP threads, under one
 *            mutex: the full snapshot, the recent updates (a bounded
 *            log), and a small table for lookups;
 *   serve.c  the HTTP server (libmicrohttpd, a thread per connection):
 *            `/` the page, `/events` Server-Sent Events, `/state` the
 *            snapshot as JSON, `/lookup?key=` a lookup through the
 *            client library; and the crawler loop in the main thread.
 * The page itself is live_page.html, embedded at build time.
 *
 * Threads: the main thread owns the model (watch.c, feed.c) and is the
 * only writer of the hub; MHD's threads only read the hub, under its
 * mutex, and call the client library for lookups (no model access).
 */
#ifndef CHORD_TOOLS_VIZ_LIVE_H
#define CHORD_TOOLS_VIZ_LIVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/types.h"
#include "viz.h"

#define VIZ_RATE_DEFAULT 20u     /* status requests per second, in total */
#define VIZ_RATE_MAX 1000u       /* --rate cap */
#define VIZ_LIVE_NODES_MAX 1024u /* nodes the live model keeps */
#define VIZ_LIVE_TIMEOUT_MS 500  /* per status request (--timeout-ms) */
#define VIZ_NODE_MIN_GAP_MS 200u /* never poll one node more often */
#define VIZ_RETRY_MS 1000u       /* after a failed poll, times the fails */
#define VIZ_RETRY_MAX_MS 8000u   /* ... capped */
#define VIZ_FORGET_MS 10000u     /* silent and named by nobody: forgotten */
#define VIZ_HUB_LOG 256u         /* updates kept for SSE clients behind */
#define VIZ_TIMELINE_MAX 200u    /* events kept for a new page */
#define VIZ_KEEPALIVE_S 10       /* SSE comment line when nothing happens */
#define VIZ_HTTP_CONN_MAX 32u    /* concurrent HTTP connections */

/* ------------------------------------------------------------------ */
/* watch.c: the model.                                                  */

struct viz_live_node {
    struct chord_peer self;  /* as others name it until it answers */
    struct chord_status *st; /* the last status it answered, or NULL */
    bool answered;           /* its last poll was answered */
    unsigned fails;          /* polls failed in a row */
    uint64_t polled_at;      /* monotonic ms of its last poll, 0: never */
    uint64_t named_at;       /* last time an answering node named it */
};

struct viz_watch {
    unsigned n, cap;
    struct viz_live_node *nodes; /* in the order they were found */
    int timeout_ms;
    uint64_t polls;   /* status requests sent */
    bool settled;     /* every node known has been polled at least once */
    uint64_t last_ms; /* monotonic time of the last step */
};

/* Start a model that knows only `seed` (copied). 0, -EINVAL (not an
 * address) or -ENOMEM. */
int viz_watch_init(struct viz_watch *w, const char *seed, int timeout_ms);

/* Free everything w holds. */
void viz_watch_free(struct viz_watch *w);

/*
 * Poll the node most in need of it (never polled first, then the one
 * polled longest ago; a node not polled in the last VIZ_NODE_MIN_GAP_MS,
 * a silent one not before its back-off), add the nodes it names, forget
 * those silent and named by nobody for VIZ_FORGET_MS. Sends at most one
 * status request. Returns 1 after a poll, 0 when no node was due, or
 * -ENOMEM. now_ms: a monotonic clock.
 */
int viz_watch_step(struct viz_watch *w, uint64_t now_ms);

/* ------------------------------------------------------------------ */
/* hub.c: what the crawler thread shares with the HTTP threads.         */

/* A node as a lookup needs it: its address and its successors. */
struct viz_hub_node {
    char addr[CHORD_ADDR_MAX];
    bool answered;
    unsigned n_succ;
    char succ[CHORD_SUCC_MAX][CHORD_ADDR_MAX];
};

struct viz_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    char *snapshot; /* the full state, JSON, NUL-terminated */
    uint64_t seq;   /* updates published so far */
    char *log[VIZ_HUB_LOG];
    unsigned n_table, replicas;
    struct viz_hub_node *table;
    char seed[CHORD_ADDR_MAX];
    int timeout_ms;
};

/* 0 or a negative errno. */
int viz_hub_init(struct viz_hub *h, const char *seed, int timeout_ms);
void viz_hub_free(struct viz_hub *h);

/* Under one lock: replace the snapshot (takes `json`, malloc'd) and the
 * lookup table (takes `table`, malloc'd, n entries), and when `update` is
 * not NULL append it (taken, malloc'd) to the log; wake the readers. */
void viz_hub_commit(struct viz_hub *h, char *json, struct viz_hub_node *table,
                    unsigned n, unsigned replicas, char *update);

/* Wake every reader for good (they end their streams). */
void viz_hub_stop(struct viz_hub *h);

/*
 * For one SSE reader at *seq (0: new): a malloc'd text to send next in
 * *out ("event: ...\ndata: ...\n\n": the snapshot when the reader is new
 * or fell more than VIZ_HUB_LOG updates behind, else the next update; a
 * comment after VIZ_KEEPALIVE_S of nothing). Returns 0, 1 when the hub
 * is stopping (nothing in *out), or -ENOMEM.
 */
int viz_hub_next(struct viz_hub *h, uint64_t *seq, char **out);

/* A copy of the snapshot (malloc'd), or NULL. */
char *viz_hub_snapshot(struct viz_hub *h);

/* The lookup of `key` as JSON (malloc'd) through an answering node of
 * the table, with the replica set from the owner's successors; NULL when
 * out of memory. Calls the client library without holding the mutex. */
char *viz_hub_lookup(struct viz_hub *h, const char *key, size_t key_len);

/* ------------------------------------------------------------------ */
/* feed.c: from the model to the page.                                  */

struct viz_feed_prev; /* what the page was last told, per node */

struct viz_feed {
    struct viz_feed_prev *prev;
    unsigned n_prev;
    unsigned cycles;   /* successor cycles among answering nodes */
    bool settled;      /* the ring as found has been told: now news */
    bool committed;    /* the hub has a snapshot */
    uint64_t t0_ms;    /* wall clock at start */
    unsigned n_events; /* timeline entries kept (newest last) */
    char *events[VIZ_TIMELINE_MAX];
};

/* 0 or -ENOMEM (nothing to free then). */
int viz_feed_init(struct viz_feed *f);
void viz_feed_free(struct viz_feed *f);

/*
 * Compare the model with what the page was last told: publish an update
 * to the hub when anything changed (changed nodes, removed nodes, new
 * timeline events) together with the new snapshot; nothing when nothing
 * changed (after the first round). Timeline events wait
 * until the model has settled (the first round is the ring as found, not
 * news). 0 or -ENOMEM.
 */
int viz_feed_round(struct viz_feed *f, const struct viz_watch *w,
                   struct viz_hub *h);

/* ------------------------------------------------------------------ */
/* serve.c                                                              */

struct viz_serve_opts {
    const char *listen; /* HOST:PORT to serve on */
    bool any;           /* allow an address other than loopback */
    unsigned rate;      /* status requests per second in total */
    const char *node;   /* the seed node */
    int timeout_ms;
};

/* Serve until SIGINT, SIGTERM or SIGHUP. Returns an exit status. */
int viz_serve(const struct viz_serve_opts *o);

/* live_page.c (generated from live_page.html): the page. */
extern const char viz_live_page[];
extern const size_t viz_live_page_len;

#endif
