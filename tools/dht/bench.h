/*
 * bench.h - a load generator for a real ring, in the spirit of
 * redis-benchmark: many clients on one libuv loop, each one TCP connection
 * (or, ring-aware, one per node) with up to `pipeline` requests in flight.
 *
 * For each operation asked for (always in the order put, get, del, so that
 * gets find what the puts wrote) exactly `requests` requests are issued in
 * total across the clients, on keys "key:NNNNNNNNNNNN" drawn from a seeded
 * PRNG in [0, keyspace), with values of `value_bytes` bytes. Every request
 * ends in exactly one of: ok, not found (a get or del of a missing key:
 * the ring did the work, so it is a completed operation), or an error
 * (an error status from the node, a failed connection, no answer within
 * the request timeout, or never sent because the run's time limit
 * passed). So, per operation, always:
 *
 *     requests == ok + not_found + errors,   completed = ok + not_found.
 *
 * Latency is uv_hrtime() from the moment a request is queued on its
 * connection to the moment its reply is decoded, for completed requests
 * only; percentiles come from a log-linear histogram whose buckets are at
 * most 1/64 (1.6%) wide, reported as the bucket's midpoint.
 *
 * Every request carries the configured consistency level (how many
 * replicas a put waits for, or a get asks; the node's default is a
 * quorum of its replication factor).
 *
 * Routing: by default every request goes to the seed node, which routes it
 * through the ring. With `direct`, the ring is learnt once before the run
 * (walking successor pointers with C_STATUS, like `dht ring`), each key's
 * owner is computed locally (SHA-1 of the key; the first node id at or
 * after it on the sorted ring) and the request goes straight to that node.
 * A reply with status REDIRECT is counted, the request is re-sent once
 * through the seed node (it keeps its original start time), and the ring is
 * learnt again before the next operation starts; so it is after a failed
 * connection (the request itself counts as failed).
 *
 * It does not retry failed requests, reconnect eagerly (a failed connection
 * is reopened by the next request that needs it), or verify values read.
 * It is part of the dht program, not of the library: it speaks the
 * protocol through the public client codec (chord/frame.h).
 */
#ifndef CHORD_TOOLS_BENCH_H
#define CHORD_TOOLS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/tls.h"
#include "chord/types.h"

#define CHORD_BENCH_CLIENTS_MAX 10000u      /* concurrent clients */
#define CHORD_BENCH_PIPELINE_MAX 1024u      /* requests in flight per client */
#define CHORD_BENCH_INFLIGHT_MAX (1u << 20) /* clients x pipeline */
#define CHORD_BENCH_CONNS_MAX                                                  \
    16384u                         /* sockets open at once (direct:            \
                                      clients x ring nodes) */
#define CHORD_BENCH_RING_MAX 4096u /* nodes a ring walk learns */
#define CHORD_BENCH_KEYSPACE_MAX 1000000000000ull /* keys are 12 digits */
#define CHORD_BENCH_REQUESTS_MAX 1000000000000ull /* per operation */
#define CHORD_BENCH_TIME_LIMIT_MAX_MS 86400000u   /* one day */
#define CHORD_BENCH_ERR_MAX 256u /* a one-line explanation of a failure */

/* The operations, in the order they run. */
enum chord_bench_op {
    CHORD_BENCH_PUT = 0,
    CHORD_BENCH_GET = 1,
    CHORD_BENCH_DEL = 2,
    CHORD_BENCH_OPS = 3,
};

/* "put", "get", "del". */
const char *chord_bench_op_name(int op);

struct chord_bench_config {
    const char *node;    /* the seed "host:port" (borrowed) */
    unsigned clients;    /* 1..CHORD_BENCH_CLIENTS_MAX */
    uint64_t requests;   /* per operation, 1..CHORD_BENCH_REQUESTS_MAX */
    size_t value_bytes;  /* of every put, 0..CHORD_VALUE_MAX */
    unsigned ops;        /* bit (1u << op) for each operation to run */
    unsigned pipeline;   /* 1..CHORD_BENCH_PIPELINE_MAX */
    uint64_t keyspace;   /* 1..CHORD_BENCH_KEYSPACE_MAX */
    bool direct;         /* ring-aware: send each key to its owner */
    uint8_t consistency; /* enum chord_consistency of every request (0: the
                            node's default, a quorum) */
    uint32_t request_timeout_ms; /* one request's answer, > 0 */
    uint32_t time_limit_ms;      /* the whole run, > 0 */
    uint64_t seed;               /* of the key PRNG */
    bool progress; /* a progress line on stderr when it is a terminal
                      (common/progress.h); false for --json */
    struct chord_tls *tls;       /* client TLS context (borrowed), or NULL:
                                    every connection runs TLS with it */
};

/* Fill *cfg with the defaults (50 clients, 100000 requests, 16 bytes,
 * put+get, pipeline 1, keyspace 10000, 5 s per request, 120 s per run,
 * seed 1, progress on); `node` stays NULL. */
void chord_bench_config_default(struct chord_bench_config *cfg);

/* What one operation gave. */
struct chord_bench_result {
    bool ran;           /* asked for (an operation not asked: all zero) */
    uint64_t requests;  /* asked */
    uint64_t completed; /* ok + not_found */
    uint64_t ok;
    uint64_t not_found;
    uint64_t errors;      /* the sum of the four kinds below */
    uint64_t err_status;  /* the node answered with an error status */
    uint64_t err_conn;    /* the connection failed before the answer */
    uint64_t err_timeout; /* no answer within the request timeout */
    uint64_t err_unsent;  /* not sent: the run's time limit passed */
    uint64_t redirects;   /* REDIRECT answers (re-sent via the seed) */
    double seconds;       /* first request queued to last one finished */
    double ops_per_sec;   /* completed / seconds */
    double mean_ms, p50_ms, p99_ms, p999_ms, max_ms; /* completed only */
};

struct chord_bench_report {
    struct chord_bench_result op[CHORD_BENCH_OPS];
    unsigned ring_nodes;  /* direct: nodes learnt (last walk); else 0 */
    unsigned connections; /* sockets opened over the run */
    unsigned replicas;    /* copies per key, as the seed reports them */
    bool timed_out;       /* the time limit stopped the run */
    /* The first error status text or connection error seen, "" if none. */
    char first_error[CHORD_BENCH_ERR_MAX];
};

/*
 * Run the benchmark described by *cfg on a private libuv loop and fill
 * *out. The seed is contacted first (and, with `direct`, the ring walked)
 * with the blocking client; if that fails nothing else happens.
 *
 * Returns 0 when the run took place, whatever its errors (they are in
 * *out; a run stopped by its time limit also returns 0, with timed_out).
 * Otherwise a negative errno with a one-line explanation in err:
 * -EINVAL for a bad configuration, the client's error when the seed
 * cannot be reached or the ring cannot be walked, -EMFILE when the
 * sockets needed exceed the process's file limit, -ENOMEM, or a libuv
 * error. The loop is always closed (uv_loop_close() == 0) before return;
 * if it could not be, -EBUSY.
 */
int chord_bench_run(const struct chord_bench_config *cfg,
                    struct chord_bench_report *out,
                    char err[CHORD_BENCH_ERR_MAX]);

#endif
