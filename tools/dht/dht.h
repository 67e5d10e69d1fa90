/*
 * dht.h - what the files of the `dht` command-line client share (the
 * program's contract is in main.c's banner and DESIGN.md).
 *
 * The files, lowest first; each calls only the ones above it:
 *
 *   output.c     text and JSON printing: ids, keys, status, ring lines
 *   commands.c   put/get/del/append/lookup/status/ring through a
 *                session; the seed bench starts from
 *   lock.c       `dht lock`: acquire, renew, append, release, status
 *   backup.c         what dump and load share (rate, JSON head)
 *   dump.c       `dht dump`: walk the ring's ranges into a dump file
 *   load.c       `dht load`: check a dump file, write its keys back
 *   bench_cli.c  `dht bench`: its option parsers, run and report
 *   main.c       the command line: options, arguments, dispatch, exit code
 *
 * The load generator itself is bench.h (bench*.c in this folder).
 */
#ifndef CHORD_TOOLS_DHT_H
#define CHORD_TOOLS_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chord/client.h"
#include "chord/lock.h"
#include "chord/session.h"
#include "chord/tls.h"
#include "chord/types.h"
#include "common/json.h"
#include "common/status_json.h"
#include "dht/bench.h"

#define DHT_DEFAULT_NODE "127.0.0.1:7000"
#define DHT_DEFAULT_TIMEOUT_MS 5000
#define DHT_TIMEOUT_MAX_MS 3600000L /* one hour */
#define DHT_SEEDS_MAX 32u           /* --node options accepted */
#define DHT_RING_MAX 4096u          /* nodes a ring walk visits at most */
#define DHT_SHORT_ID 8              /* hex digits of an id in text output */
#define DHT_BENCH_TIME_LIMIT_MAX_S 86400u /* bench --time-limit, seconds */
#define DHT_LOCK_WAIT_DEFAULT_MS 10000    /* lock acquire --wait-ms */
#define DHT_CONTEXT_MAX                                                        \
    4096u /* bytes of a decoded --context (the library                         \
             checks the real cap) */

struct dht_opts {
    const char *seeds[DHT_SEEDS_MAX];
    size_t n_seeds;
    int timeout_ms;
    bool json;
    const char *file; /* put, append --file: where the value comes from
                         ("-": stdin), borrowed from argv; NULL: the
                         argument */
    /* put, del, append --fence NAME:N (fence_name NULL: none; the name
     * points into argv, fence_name_len bytes of it). */
    const char *fence_name;
    size_t fence_name_len;
    uint64_t fence;
    /* lock acquire --lease-ms (0: the node's default) and --wait-ms; the
     * first of them seen (to refuse them elsewhere). */
    uint32_t lease_ms;
    int wait_ms;
    const char *lock_opt;
    /* bench: its configuration, and the first bench-only option seen (to
     * refuse it with any other command). */
    struct chord_bench_config bench;
    const char *bench_opt;
    const char *output; /* dump --output */
    /* --session FILE or $DHT_SESSION: the session token's file (NULL:
     * none; chord_session_use_token). */
    const char *session;
    bool all; /* get --all */
    /* put, del: --context CTX or --if-context CTX (context_arg the base64,
     * borrowed from argv; if_context for the second), put --if-absent,
     * put --ttl SECONDS (0: none); causal_opt is the first of them seen,
     * to refuse it with other commands. */
    const char *context_arg;
    bool if_context;
    bool if_absent;
    uint32_t ttl_s;
    const char *causal_opt;
    struct chord_tls_options tls; /* --tls-* or $DHT_TLS_* */
    struct chord_tls *tls_ctx;    /* made from `tls`, or NULL */
};

/* The subcommands of `dht lock`. */
enum dht_lock_sub {
    DHT_LOCK_ACQUIRE,
    DHT_LOCK_RENEW,
    DHT_LOCK_APPEND,
    DHT_LOCK_RELEASE,
    DHT_LOCK_STATUS,
};

/* What a command works on, checked before connecting. */
struct dht_req {
    const char *key; /* NUL-terminated argument; its bytes are the key */
    size_t key_len;
    uint8_t *value; /* put, append: a copy of the value (argv or stdin),
                       owned */
    size_t value_len;
    /* lock: the subcommand, the lock's name, the token (renew, append,
     * release); lock append's KEY and VALUE are key and value above. */
    /* put, del: the decoded --context / --if-context. */
    uint8_t context[DHT_CONTEXT_MAX];
    size_t context_len;
    enum dht_lock_sub lock_sub;
    const char *lock_name;
    struct chord_lock_token token;
};

/* ---- output.c ---- */

/* The first DHT_SHORT_ID hex digits of an id. */
void dht_short_id(const struct chord_id *id, char out[DHT_SHORT_ID + 1]);
/* Print a key for a human: as is when it is printable ASCII, else as an
 * escaped, quoted JSON string (so terminal control bytes never pass). */
void dht_print_key(FILE *f, const char *key, size_t len);
/* Say "dht: KEY: not found" on stderr (with --json {"key": KEY, "error":
 * "not found", "exit": 1}); returns CHORD_EXIT_NOT_FOUND. */
int dht_not_found(const struct dht_opts *o, const struct dht_req *r);
/* An error as one line on stderr: "dht: MESSAGE", or with json
 * {"error": MESSAGE, "exit": code}. Returns code. */
int dht_fail(bool json, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A usage error: as dht_fail with CHORD_EXIT_USAGE, the text form ending
 * in " (see dht --help)". Returns CHORD_EXIT_USAGE. */
int dht_usage(bool json, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A warning (the command goes on): "dht: MESSAGE", or {"warning": ...}. */
void dht_warn(bool json, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Member `name` holding bytes: a JSON string when they are ASCII, else
 * their base64 followed by member `encoding_name`: "base64". */
void dht_json_bytes(struct chord_json *j, const char *name,
                    const char *encoding_name, const void *data, size_t len);
/* Finish a JSON document, write it with a newline and free it. Returns
 * CHORD_EXIT_OK, or CHORD_EXIT_FAILED after printing why (only out of
 * memory can fail here). */
int dht_json_print(struct chord_json *j);
/* Start a document: an object whose first member is "key", r's key. */
void dht_json_begin_keyed(struct chord_json *j, const struct dht_req *r);
/* The human summary of one node's status. */
void dht_print_status(const struct chord_status *s);

/* The positions of one process in a ring walk (vnodes: "host:port#i"). */
struct ring_proc {
    char base[CHORD_ADDR_MAX]; /* host:port */
    unsigned positions;
    uint64_t keys, primary;
};

/* State of a ring walk's output, streamed one node at a time. */
struct ring_out {
    bool json;
    unsigned n; /* nodes written */
    struct chord_json j;
    bool vnodes;             /* some position was named "host:port#i" */
    struct ring_proc *procs; /* per process, in order of first position */
    unsigned n_procs, cap_procs;
};
/* Write one node of the walk. 0, or -1 if it could not be formatted. */
int dht_ring_emit(struct ring_out *w, const struct chord_status *s);
/* End the walk's output: the closing bracket (JSON), or the count and,
 * when positions of one process were seen (vnodes), a table of the
 * processes with their positions and keys. Frees what w holds. */
void dht_ring_end(struct ring_out *w);

/* ---- commands.c ---- */

/* Explain a failed request in one line ("WHAT: " and the node's text, or
 * every node tried and why); returns the exit code: 4 when a condition of
 * the request was false (-EPERM: a fence, not the holder; -ECANCELED:
 * --if-context, --if-absent), 5 when the session token could not be
 * covered in time (-ETIME), 6 for a key with siblings (-ENOTUNIQ), 2 for
 * a context the library refuses (-EINVAL), else 3. */
int dht_report_failure(const struct dht_opts *o, const char *what,
                       const struct chord_session *s, int rc);

/*
 * Connect to the first reachable seed (bench starts there; --timeout-ms
 * per seed). On success returns 0 with *out set and *used naming the
 * seed. Otherwise prints the "cannot reach the ring" line and returns -1.
 */
int dht_connect_seeds(const struct dht_opts *o, struct chord_client **out,
                      const char **used);

/* The commands, each run through a session over the seeds (failover and
 * the --timeout-ms budget: chord/session.h); each returns an exit code
 * after printing its output or its one-line error. */
int dht_cmd_put(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r);
int dht_cmd_get(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r);
int dht_cmd_del(struct chord_session *s, const struct dht_opts *o,
                const struct dht_req *r);
int dht_cmd_append(struct chord_session *s, const struct dht_opts *o,
                   const struct dht_req *r);
int dht_cmd_lookup(struct chord_session *s, const struct dht_opts *o,
                   const struct dht_req *r);
int dht_cmd_status(struct chord_session *s, const struct dht_opts *o,
                   const struct dht_req *r);
int dht_cmd_ring(struct chord_session *s, const struct dht_opts *o,
                 const struct dht_req *r);

/* ---- lock.c ---- */

/*
 * `dht lock SUB NAME ...`: check the subcommand and its arguments
 * (args[0] the subcommand) into *r: the name (1..CHORD_LOCK_NAME_MAX
 * bytes), the token, lock append's KEY; *value_arg is lock append's VALUE
 * argument (NULL for the others), which the caller loads as put's. 0, or
 * the usage exit code after printing why.
 */
int dht_lock_parse(const struct dht_opts *o, char **args, int n_args,
                   struct dht_req *r, const char **value_arg);
/* Run the checked `dht lock` command through the session: the exit code
 * (0 ok; 4 not the holder; 5 not granted within --wait-ms; 3 failed). */
int dht_cmd_lock(struct chord_session *s, const struct dht_opts *o,
                 const struct dht_req *r);

/* ---- backup.c ---- */

/* keys * 1000 / ms (keys when ms is 0). */
uint64_t dht_keys_per_s(uint64_t keys, uint64_t ms);
/* Start the JSON summary of a dump or a load: an open object with
 * "file", "keys", "ms" and "keys_per_s"; the caller adds its own members,
 * closes it and prints it (dht_json_print). */
void dht_json_backup_begin(struct chord_json *j, const char *path,
                           uint64_t keys, uint64_t ms);

/* ---- dump.c, load.c ---- */

/* `dht dump --output FILE`: every key of the ring, with its version, into
 * FILE (written to a temporary name beside it, renamed when complete).
 * `dht load FILE`: check the whole file, then write every key back with
 * its version. Each returns an exit code after its summary or its
 * one-line error. */
int dht_cmd_dump(const struct dht_opts *o, const char *path);
int dht_cmd_load(const struct dht_opts *o, const char *path);
/* `dump` or `load` from the command line (their arguments after the
 * command): checks them, runs the command, returns its exit code. */
int dht_cmd_backup(const struct dht_opts *o, const char *name, char **args,
                   int n_args);

/* ---- bench_cli.c ---- */

/* Parse "one", "quorum" or "all" (enum chord_consistency). 0 or -EINVAL. */
int dht_parse_consistency(const char *s, uint8_t *out);
/* Parse -t: a comma-separated list of put (or set), get, del into a mask
 * of (1 << enum chord_bench_op). 0 or -EINVAL. */
int dht_parse_bench_ops(const char *s, unsigned *out);
/*
 * Run `bench` from the first reachable seed and print its report. Exit
 * code: 0 when every request of every operation completed, 3 when any
 * failed (after the report), when the ring cannot be reached, or when the
 * run could not take place; 2 for a configuration the generator refuses.
 */
int dht_cmd_bench(struct dht_opts *o);

#endif
