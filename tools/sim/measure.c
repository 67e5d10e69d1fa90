/*
 * measure.c - phase 4 of a dht-sim run, the measurement: L lookups of
 * random keys, each sent to a random ACTIVE node at evenly spaced times
 * over T seconds (all at once when T = 0), while churn joins and crashes
 * nodes and a --script applies its events on time. Events due at the same
 * millisecond as a lookup run before it. The run then waits for the
 * lookups still in flight.
 *
 * A lookup fails when the client gets no answer (timeout), the node gives
 * up (status not OK), or the owner it names is not the true owner
 * (chord_sim_owner) at the moment the answer arrives. A lookup whose
 * origin node crashed under it is "aborted": not a protocol failure,
 * reported apart and left out of the other figures. `hops` is the core's
 * count: the path lists the nodes visited from the contacted node to the
 * owner, the owner last, and hops = len(path) - 1 (a node whose
 * successor list reaches the key sends it straight to the owner). The
 * paper counts the nodes traversed until the key's predecessor answers;
 * hops - 1 is given beside ours for comparison. Timeouts: the core retries a
 * lookup only after its request timed out (--rpc-timeout-ms) and a lookup
 * without a timeout takes about hops x latency, far below that, so its timeouts
 * are floor(latency / rpc_timeout_ms). With the geo and matrix models the
 * delays are no longer small next to that timeout, so the delays of the
 * lookup's own messages (along its path, then the owner's answer back to
 * the contacted node; chord_sim_link_delay) are taken off the latency
 * first (path_ms; report.c does the division).
 *
 * Invariants: the window for message rates runs from the first lookup to
 * the last answer (or the end of the duration); live_ms integrates the
 * nodes believed up over that window.
 *
 * It does not compute the figures (report.c) or decide what a churn or
 * script event does (faults.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chord/id.h"
#include "chord/node.h"
#include "chord/sim.h"
#include "common/progress.h"
#include "dht_sim.h"

/* One-way delay of the model from node a to node b (0 for the same node
 * or an address the simulator does not know). */
static uint32_t hop_delay(const struct sim_run *run, int a, int b)
{
    uint32_t lo = 0, hi = 0;
    if (a == b || chord_sim_link_delay(run->sim, a, b, &lo, &hi) != 0)
        return 0;
    return lo;
}

/* The delays of a lookup's own messages in the geo and matrix models:
 * along its path (contacted node first, owner last), then the owner's
 * answer back to the contacted node (a client's lookup is answered by
 * the owner itself). 0 in the uniform model, whose delays are negligible
 * next to rpc_timeout_ms. */
static uint32_t path_delay(const struct sim_run *run,
                           const struct chord_lookup_path *p)
{
    if (run->o.latency == LATENCY_UNIFORM || p->n < 2)
        return 0;
    int origin = chord_sim_find(run->sim, p->addr[0]);
    int prev = origin;
    uint64_t sum = 0;
    for (unsigned j = 1; j < p->n; j++) {
        int cur = chord_sim_find(run->sim, p->addr[j]);
        sum += hop_delay(run, prev, cur);
        prev = cur;
    }
    sum += hop_delay(run, prev, origin);
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* A lookup's answer: classify it against the oracle's owner now. */
static void on_lookup(void *arg, const struct chord_sim_reply *r)
{
    struct sim_req *q = arg;
    struct sim_run *run = q->run;
    run->inflight--;
    q->latency_ms = (uint32_t)(r->done_ms - r->sent_ms);
    if (r->err || r->status != CHORD_OK) {
        q->outcome = dsim_outcome_of(r);
        return;
    }
    q->hops = r->lookup.hops;
    q->path_ms = path_delay(run, &r->lookup.path);
    int owner = chord_sim_owner(run->sim, &r->lookup.key_id);
    const struct chord_peer *p =
        owner >= 0 ? chord_sim_peer(run->sim, owner) : NULL;
    if (p && chord_id_eq(&p->id, &r->lookup.owner.id) &&
        strcmp(p->addr, r->lookup.owner.addr) == 0) {
        q->outcome = OUT_OK;
        return;
    }
    int named = chord_sim_find(run->sim, r->lookup.owner.addr);
    q->outcome = named >= 0 && !chord_sim_is_up(run->sim, named)
                     ? OUT_WRONG_DOWN
                     : OUT_WRONG;
}

/* When lookup i of the measured phase starting at t0 is sent: evenly
 * spaced over the duration, all at t0 when the duration is 0. */
static uint64_t lookup_time(const struct sim_run *run, uint64_t t0, unsigned i)
{
    if (run->o.lookups <= 1)
        return t0;
    return t0 + run->o.duration * i / run->o.lookups;
}

/* Phase 4: send the lookups on schedule while churn runs, then wait for
 * the last answers. Fills run->lk, the message count and the node-time
 * integral of the window. 0, or -1 (violation, or requests that never
 * completed; printed). */
int dsim_measure(struct sim_run *run)
{
    struct chord_sim_stats st;
    chord_sim_stats(run->sim, &st);
    uint64_t delivered0 = st.delivered;
    uint64_t t0 = chord_sim_now(run->sim);
    uint64_t end = t0 + run->o.duration;
    uint64_t next_churn =
        run->o.churn > 0 ? t0 + dsim_churn_gap(run, run->o.churn) : UINT64_MAX;
    const struct script_ev *script = run->o.script;
    size_t n_script = run->o.n_script, applied = 0;
    unsigned issued = 0;
    char key[64];
    run->t_start = t0;
    /* On a terminal: the lookups sent so far (not with --json). */
    struct chord_progress progress;
    chord_progress_start(&progress, "dht-sim: lookups", run->o.lookups,
                         run->o.json);
    for (;;) {
        uint64_t next_lookup =
            issued < run->o.lookups ? lookup_time(run, t0, issued) : UINT64_MAX;
        uint64_t next_script =
            applied < n_script ? t0 + script[applied].at_ms : UINT64_MAX;
        uint64_t next = next_lookup < next_churn ? next_lookup : next_churn;
        if (next_script < next)
            next = next_script;
        if (next > end)
            next = end;
        uint64_t before = chord_sim_now(run->sim);
        if (dsim_advance(run, next)) {
            chord_progress_finish(&progress);
            return -1;
        }
        if (run->o.churn > 0 || n_script > 0)
            dsim_live_prune(run); /* only churn and scripts take nodes down */
        run->live_ms += (double)run->n_live * (double)(next - before);
        if (next == next_churn && next_churn <= end) {
            dsim_churn_event(run);
            next_churn += dsim_churn_gap(run, run->o.churn);
        }
        while (applied < n_script &&
               t0 + script[applied].at_ms <= chord_sim_now(run->sim))
            if (dsim_script_apply(run, &script[applied++])) {
                chord_progress_finish(&progress);
                return -1;
            }
        while (issued < run->o.lookups &&
               lookup_time(run, t0, issued) <= chord_sim_now(run->sim)) {
            struct sim_req *q = &run->lk[issued];
            q->run = run;
            q->index = issued;
            snprintf(key, sizeof key, "lookup-%" PRIu64 "-%u", run->o.seed,
                     issued);
            int rc = dsim_send_request(run, CHORD_SIM_LOOKUP, key, NULL,
                                       on_lookup, q);
            if (rc == -1) {
                chord_progress_finish(&progress);
                return -1;
            }
            if (rc)
                q->outcome = OUT_ERROR;
            issued++;
        }
        chord_progress_update(&progress, issued);
        if (chord_sim_now(run->sim) >= end && issued == run->o.lookups &&
            applied == n_script)
            break;
    }
    chord_progress_finish(&progress);
    /* Lookups still open finish in the drain; the window for message
     * rates ends when the last one does, or at the end of the duration. */
    uint64_t before = chord_sim_now(run->sim);
    if (dsim_drain(run))
        return -1;
    dsim_live_prune(run);
    run->live_ms +=
        (double)run->n_live * (double)(chord_sim_now(run->sim) - before);
    run->t_end = chord_sim_now(run->sim);
    chord_sim_stats(run->sim, &st);
    run->delivered = st.delivered - delivered0;
    return 0;
}
