/*
 * workload.c - the client requests dht-sim sends through the simulator,
 * and the key workload: phase 2 puts M keys through random nodes, and
 * after the measurement every stored key is read back.
 *
 * A request goes to a random ACTIVE node; the tool keeps at most
 * SIM_INFLIGHT_MAX open and waits (in simulated time) for room, also when
 * the simulator itself is busy. Every request ends in its callback, which
 * records an enum sim_outcome in its struct sim_req and decrements
 * run->inflight. Before the keys are read back the ring is given the time
 * a repair takes; keys_lost then counts the keys that cannot be read or
 * come back with another value.
 *
 * It does not send lookups on a schedule or classify them (measure.c),
 * and it does not count the figures (report.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chord/node.h"
#include "chord/sim.h"
#include "dht_sim.h"

/* Run until fewer than `limit` requests are open, or the clock reaches
 * `until`. 0, or -1 on a violation. */
static int wait_inflight(struct sim_run *run, size_t limit, uint64_t until)
{
    while (run->inflight >= limit && chord_sim_now(run->sim) < until) {
        uint64_t t = chord_sim_now(run->sim) + 1;
        if (dsim_advance(run, t < until ? t : until))
            return -1;
    }
    return 0;
}

/* Where a failed request ends up. */
uint8_t dsim_outcome_of(const struct chord_sim_reply *r)
{
    if (r->err == -ETIMEDOUT)
        return OUT_TIMEOUT;
    if (r->err == -ECONNRESET)
        return OUT_ABORTED;
    if (r->err)
        return OUT_ERROR;
    return OUT_UNAVAILABLE;
}

/* Key k of a run with this seed, and its value. */
static void key_text(char *buf, size_t len, uint64_t seed, unsigned k)
{
    snprintf(buf, len, "key-%" PRIu64 "-%u", seed, k);
}

static void value_text(char *buf, size_t len, unsigned k)
{
    snprintf(buf, len, "value of key %u", k);
}

/* A put's answer: stored only on status OK. */
static void on_put(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    q->run->inflight--;
    q->outcome = !r->err && r->status == CHORD_OK ? OUT_OK : dsim_outcome_of(r);
}

/* A get's answer: OK only with the value that was put; "not found" and
 * another value are OUT_WRONG, errors keep their kind. */
static void on_get(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    q->run->inflight--;
    if (r->err || r->status != CHORD_OK || !r->has_value) {
        q->outcome = r->err || r->status != CHORD_NOT_FOUND ? dsim_outcome_of(r)
                                                            : OUT_WRONG;
        return;
    }
    char want[64];
    value_text(want, sizeof want, q->index);
    q->outcome = r->value_len == strlen(want) &&
                         memcmp(r->value, want, r->value_len) == 0
                     ? OUT_OK
                     : OUT_WRONG;
}

/* Send one request to a random ACTIVE node, waiting for room when the
 * tool or the simulator has too many open. 0, -1 on a violation, or a
 * negative errno of chord_sim_request other than -EBUSY. */
int dsim_send_request(struct sim_run *run, enum chord_sim_op op,
                      const char *key, const char *value, chord_sim_reply_fn cb,
                      struct sim_req *q)
{
    for (;;) {
        if (wait_inflight(run, SIM_INFLIGHT_MAX, UINT64_MAX))
            return -1;
        int via = dsim_pick_active(run);
        if (via < 0)
            return -EHOSTUNREACH;
        int rc = chord_sim_request(run->sim, via, op, key, strlen(key), value,
                                   value ? strlen(value) : 0, cb, q);
        if (rc == 0) {
            run->inflight++;
            return 0;
        }
        if (rc != -EBUSY)
            return rc;
        if (dsim_advance(run, chord_sim_now(run->sim) + 1))
            return -1;
    }
}

/* Run until every open request has completed (each has its own client
 * timeout, so this ends). 0 or -1. */
int dsim_drain(struct sim_run *run)
{
    struct chord_sim_config dflt;
    chord_sim_config_default(&dflt);
    uint64_t until =
        chord_sim_now(run->sim) + dflt.client_timeout_ms + DRAIN_SLACK_MS;
    if (wait_inflight(run, 1, until))
        return -1;
    if (run->inflight) {
        fprintf(stderr, "dht-sim: %zu requests never completed\n",
                run->inflight);
        return -1;
    }
    return 0;
}

/* Phase 2: put the keys through random nodes and let replication
 * settle. 0, or -1 after printing why not. */
int dsim_put_keys(struct sim_run *run)
{
    char key[64], val[64];
    for (unsigned k = 0; k < run->o.keys; k++) {
        struct sim_req *q = &run->kv[k];
        q->run = run;
        q->index = k;
        key_text(key, sizeof key, run->o.seed, k);
        value_text(val, sizeof val, k);
        int rc = dsim_send_request(run, CHORD_SIM_PUT, key, val, on_put, q);
        if (rc) {
            if (rc != -1)
                fprintf(stderr, "dht-sim: put: %s\n", strerror(-rc));
            return -1;
        }
    }
    if (dsim_drain(run))
        return -1;
    for (unsigned k = 0; k < run->o.keys; k++) {
        run->kv[k].stored = run->kv[k].outcome == OUT_OK;
        if (run->kv[k].stored)
            run->keys_stored++;
        else
            run->keys_put_failed++;
    }
    /* A put returns once a write quorum has the key; the other replicas
     * may get it later (anti-entropy). Let that finish before failures,
     * so the loss measured is that of a steady ring. */
    struct chord_node_config nd;
    chord_node_config_default(&nd);
    return dsim_advance(run, chord_sim_now(run->sim) +
                                 (uint64_t)KEYS_SYNC_ROUNDS * nd.sync_ms);
}

/* Before the keys are read back, give the ring the time a repair takes:
 * until its successor lists are exact again (at most KEYS_REPAIR_MAX_MS),
 * then KEYS_SYNC_ROUNDS anti-entropy periods, so that keys_lost counts
 * keys that are gone, not keys whose copies are still being moved. */
static int wait_repair(struct sim_run *run)
{
    char err[256];
    uint64_t t0 = chord_sim_now(run->sim);
    while (chord_sim_check_successors(run->sim, err, sizeof err) != 0 &&
           chord_sim_now(run->sim) - t0 < KEYS_REPAIR_MAX_MS)
        if (dsim_advance(run, chord_sim_now(run->sim) + SETTLE_STEP_MS))
            return -1;
    struct chord_node_config nd;
    chord_node_config_default(&nd);
    run->repair_ms = chord_sim_now(run->sim) - t0;
    return dsim_advance(run, chord_sim_now(run->sim) +
                                 (uint64_t)KEYS_SYNC_ROUNDS * nd.sync_ms);
}

/* After the measurement: wait for repair, then read every stored key
 * back through a random node. 0, or -1 after printing why not. */
int dsim_check_keys(struct sim_run *run)
{
    char key[64];
    if (wait_repair(run))
        return -1;
    for (unsigned k = 0; k < run->o.keys; k++) {
        struct sim_req *q = &run->kv[k];
        if (!q->stored)
            continue;
        q->outcome = OUT_PENDING;
        key_text(key, sizeof key, run->o.seed, k);
        int rc = dsim_send_request(run, CHORD_SIM_GET, key, NULL, on_get, q);
        if (rc) {
            if (rc != -1)
                fprintf(stderr, "dht-sim: get: %s\n", strerror(-rc));
            return -1;
        }
    }
    return dsim_drain(run);
}
