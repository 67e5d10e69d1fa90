/*
 * bench.c - the load generator behind `dht bench` (see bench.h for the
 * contract: what is counted, how latency is measured, how keys are routed):
 * its configuration and the set-up and tear-down of one run.
 *
 * Design. One private uv loop runs every client. A client is a set of
 * request slots (its pipeline) and, per target node, at most one socket;
 * without `direct` the only target is the seed, with it the targets are
 * the ring's nodes in id order plus the seed last (used only to re-send a
 * redirected request). The work is split by concern (bench_internal.h
 * lists the files): sockets (bench_sock.c), routing (bench_ring.c), the
 * requests and operations (bench_load.c), the histogram (bench_hist.c).
 * Requests are encoded and replies decoded with the public client codec
 * (chord/frame.h), so none of this needs the library's private headers.
 *
 * Here: check the configuration, contact the seed (and, with `direct`,
 * walk the ring) with the blocking client, make sure the sockets fit the
 * descriptor limit, allocate every client's slots and socket table, run
 * the loop until the last operation tears everything down, and check that
 * uv_loop_close() succeeds.
 *
 * It does not verify values read, retry failed requests, or print
 * anything: the caller (tools/dht/bench_cli.c) formats the report. The
 * process must ignore SIGPIPE (libuv writes with write(2)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "dht/bench_internal.h"

const char *chord_bench_op_name(int op)
{
    switch (op) {
    case CHORD_BENCH_PUT:
        return "put";
    case CHORD_BENCH_GET:
        return "get";
    case CHORD_BENCH_DEL:
        return "del";
    default:
        return "?";
    }
}

void chord_bench_config_default(struct chord_bench_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->clients = 50;
    cfg->requests = 100000;
    cfg->value_bytes = 16;
    cfg->ops = (1u << CHORD_BENCH_PUT) | (1u << CHORD_BENCH_GET);
    cfg->pipeline = 1;
    cfg->keyspace = 10000;
    cfg->request_timeout_ms = 5000;
    cfg->time_limit_ms = 120000;
    cfg->seed = 1;
    cfg->progress = true;
}

static int check_config(const struct chord_bench_config *c,
                        char err[CHORD_BENCH_ERR_MAX])
{
    const char *bad = NULL;
    if (!c->node)
        bad = "no node to contact";
    else if (c->clients < 1 || c->clients > CHORD_BENCH_CLIENTS_MAX)
        bad = "clients out of range";
    else if (c->requests < 1 || c->requests > CHORD_BENCH_REQUESTS_MAX)
        bad = "requests out of range";
    else if (c->value_bytes > CHORD_VALUE_MAX)
        bad = "value size over the limit";
    else if (c->ops == 0 || c->ops >= (1u << CHORD_BENCH_OPS))
        bad = "no operation to run";
    else if (c->pipeline < 1 || c->pipeline > CHORD_BENCH_PIPELINE_MAX)
        bad = "pipeline out of range";
    else if ((uint64_t)c->clients * c->pipeline > CHORD_BENCH_INFLIGHT_MAX)
        bad = "clients x pipeline over the limit";
    else if (c->keyspace < 1 || c->keyspace > CHORD_BENCH_KEYSPACE_MAX)
        bad = "keyspace out of range";
    else if (c->consistency > CHORD_CONSISTENCY_ALL)
        bad = "unknown consistency level";
    else if (c->request_timeout_ms == 0 || c->time_limit_ms == 0 ||
             c->time_limit_ms > CHORD_BENCH_TIME_LIMIT_MAX_MS)
        bad = "timeouts out of range";
    if (bad) {
        bench_set_err(err, "bad benchmark configuration: %s", bad);
        return -EINVAL;
    }
    return 0;
}

/* Make sure `socks` sockets fit under the descriptor limit, raising the
 * soft limit when the hard one allows. */
static int fd_room(size_t socks, char err[CHORD_BENCH_ERR_MAX])
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0; /* unknown: let socket creation report it */
    rlim_t need = (rlim_t)socks + BENCH_FD_SPARE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
            rl.rlim_cur = need;
            if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                return 0;
        }
        bench_set_err(err,
                      "%zu sockets needed, the file limit allows %llu "
                      "(use fewer clients)",
                      socks, (unsigned long long)rl.rlim_cur);
        return -EMFILE;
    }
    return 0;
}

/* Set up clients and their storage for the current targets. */
static int bench_alloc(struct bench *b)
{
    const struct chord_bench_config *c = b->cfg;
    size_t n_slots = (size_t)c->clients * c->pipeline;
    size_t n_socks = (size_t)c->clients * b->n_targets;
    b->n_clients = c->clients;
    b->clients = calloc(c->clients, sizeof(*b->clients));
    b->slots = calloc(n_slots, sizeof(*b->slots));
    b->free_stack = calloc(n_slots, sizeof(*b->free_stack));
    b->sockv = calloc(n_socks, sizeof(*b->sockv));
    /* One settle pass holds its batch plus the sockets opened while
     * flushing it (at most one per live socket): twice the sockets. */
    b->dirty = calloc(2 * n_socks, sizeof(*b->dirty));
    b->dirty_cap = 2 * n_socks;
    b->value = malloc(c->value_bytes ? c->value_bytes : 1);
    if (!b->clients || !b->slots || !b->free_stack || !b->sockv || !b->dirty ||
        !b->value)
        return -ENOMEM;
    memset(b->value, 'x', c->value_bytes);
    for (unsigned i = 0; i < c->clients; i++) {
        struct bench_client *cl = &b->clients[i];
        cl->b = b;
        cl->idx = i;
        cl->slots = &b->slots[(size_t)i * c->pipeline];
        cl->free_stack = &b->free_stack[(size_t)i * c->pipeline];
        cl->socks = &b->sockv[(size_t)i * b->n_targets];
        /* Popped from the top: slot 0 is used first. */
        for (unsigned k = 0; k < c->pipeline; k++)
            cl->free_stack[k] = (uint16_t)(c->pipeline - 1u - k);
        cl->n_free = c->pipeline;
    }
    return 0;
}

static void bench_free(struct bench *b)
{
    free(b->clients);
    free(b->slots);
    free(b->free_stack);
    free(b->sockv);
    free(b->dirty);
    free(b->value);
    free(b->targets);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL); /* not expected: everything is closed already */
}

int chord_bench_run(const struct chord_bench_config *cfg,
                    struct chord_bench_report *out,
                    char err[CHORD_BENCH_ERR_MAX])
{
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    int rc = check_config(cfg, err);
    if (rc)
        return rc;

    struct bench *b = calloc(1, sizeof(*b));
    if (!b) {
        bench_set_err(err, "out of memory");
        return -ENOMEM;
    }
    b->cfg = cfg;
    b->rep = out;
    b->phase_op = -1;
    b->next_seq = 1;
    b->rng = cfg->seed;
    bench_load_attach(b);

    /* The seed answers (and, ring-aware, the ring is learnt) first. */
    struct chord_status *st = calloc(1, sizeof(*st));
    rc = st ? bench_fetch_status(cfg->node, (int)cfg->request_timeout_ms, st,
                                 err)
            : -ENOMEM;
    if (rc == -ENOMEM)
        bench_set_err(err, "out of memory");
    if (rc == 0)
        out->replicas = st->replicas;
    free(st);
    if (rc)
        goto out_free;
    if (cfg->direct) {
        rc = bench_ring_learn(cfg->node, &b->targets, &b->ring_n, err);
        if (rc)
            goto out_free;
        b->n_targets = b->ring_n + 1;
        out->ring_nodes = b->ring_n;
    } else {
        b->targets = calloc(1, sizeof(*b->targets));
        if (!b->targets) {
            bench_set_err(err, "out of memory");
            rc = -ENOMEM;
            goto out_free;
        }
        b->n_targets = 1;
    }
    b->seed_target = b->n_targets - 1;
    rc = bench_target_set(&b->targets[b->seed_target], NULL, cfg->node);
    if (rc) {
        bench_set_err(err, "bad node address '%s'", cfg->node);
        goto out_free;
    }
    size_t socks = (size_t)cfg->clients * b->n_targets;
    if (socks > CHORD_BENCH_CONNS_MAX) {
        bench_set_err(err,
                      "%zu sockets needed (clients x targets), the cap is %u",
                      socks, CHORD_BENCH_CONNS_MAX);
        rc = -EINVAL;
        goto out_free;
    }
    rc = fd_room(socks, err);
    if (rc)
        goto out_free;
    rc = bench_alloc(b);
    if (rc) {
        bench_set_err(err, "out of memory");
        goto out_free;
    }

    rc = uv_loop_init(&b->loop);
    if (rc) {
        bench_set_err(err, "cannot make an event loop: %s", uv_strerror(rc));
        goto out_free;
    }
    uv_timer_init(&b->loop, &b->tick);
    uv_timer_init(&b->loop, &b->limit);
    b->tick.data = b->limit.data = b;
    uint64_t tick = cfg->request_timeout_ms / 4u;
    if (tick < BENCH_TICK_MIN_MS)
        tick = BENCH_TICK_MIN_MS;
    if (tick > BENCH_TICK_MAX_MS)
        tick = BENCH_TICK_MAX_MS;
    uv_timer_start(&b->tick, bench_on_tick, tick, tick);
    uv_timer_start(&b->limit, bench_on_limit, cfg->time_limit_ms, 0);

    unsigned n_ops = 0;
    for (int op = 0; op < CHORD_BENCH_OPS; op++)
        n_ops += (cfg->ops >> op) & 1u;
    chord_progress_start(&b->progress, "bench", cfg->requests * n_ops,
                         !cfg->progress);
    b->running = true;
    bench_phase_start(b, 0);
    bench_settle(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    chord_progress_update(&b->progress, b->finished_all);
    chord_progress_finish(&b->progress);

    /* Everything was closed by the teardown; make sure of it. */
    rc = uv_loop_close(&b->loop);
    if (rc == UV_EBUSY) {
        uv_walk(&b->loop, on_walk_close, NULL);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        rc = uv_loop_close(&b->loop);
    }
    if (rc) {
        bench_set_err(err, "the event loop did not close: %s", uv_strerror(rc));
        rc = -EBUSY;
    }
out_free:
    bench_free(b);
    free(b);
    return rc;
}
