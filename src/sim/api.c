/*
 * api.c - the simulator's public entry points that belong to no single
 * model: its life (config, new, free), adding nodes and their lifecycle
 * calls, queries, and the blocking client helpers, which run the event
 * loop until their reply (sim.h holds the contracts).
 *
 * Randomness comes from one splitmix64 generator whose state lives in
 * struct chord_sim (no globals); it draws uniform link latencies, losses,
 * the PRNG seeds of nodes added with a NULL config and disk crashes. With
 * the event order fixed by the queue (heap.c), the same seed and the same
 * calls give the same run, bit for bit.
 *
 * The top of src/sim/: it calls the other files; none of them calls it.
 * It does no real I/O except optional log lines on stderr.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

void chord_sim_config_default(struct chord_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->min_delay_ms = 1;
    cfg->max_delay_ms = 5;
    cfg->loss = 0.0;
    cfg->client_timeout_ms = 10000;
    cfg->log_stderr = false;
    cfg->log_level = CHORD_LOG_INFO;
}

int chord_sim_new(const struct chord_sim_config *cfg, struct chord_sim **out)
{
    *out = NULL;
    if (cfg->min_delay_ms == 0 || cfg->max_delay_ms < cfg->min_delay_ms ||
        !(cfg->loss >= 0.0 && cfg->loss < 1.0) || cfg->client_timeout_ms == 0)
        return -EINVAL;
    struct chord_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return -ENOMEM;
    sim->cfg = *cfg;
    sim->rng = cfg->seed;
    chord_sim__latency_init(sim);
    sim->free_head = SIM_NO_SLOT;
    sim->scratch = chord_node_scratch_new();
    if (!sim->scratch || chord_sim__oracle_init(sim) != 0) {
        chord_node_scratch_free(sim->scratch);
        free(sim);
        return -ENOMEM;
    }
    *out = sim;
    return 0;
}

void chord_sim_free(struct chord_sim *sim)
{
    if (!sim)
        return;
    for (uint32_t i = 0; i < sim->n_nodes; i++) {
        if (sim->nodes[i]->node)
            chord_node_free(sim->nodes[i]->node);
        free(sim->nodes[i]);
    }
    chord_sim__heap_free(sim);
    chord_sim__durable_free_all(sim);
    free(sim->nodes);
    free(sim->addr_map);
    free(sim->links);
    free(sim->reqs);
    free(sim->matrix);
    chord_sim__oracle_free(sim);
    chord_node_scratch_free(sim->scratch);
    chord_buf_free(&sim->scratch_out);
    free(sim);
}

int chord_sim_add_node(struct chord_sim *sim,
                       const struct chord_node_config *cfg,
                       const struct chord_id *explicit_id)
{
    return chord_sim__node_add(sim, cfg, explicit_id);
}

/* Call `fn` on live node i at the current time, then let its host catch
 * up (chord_sim__node_after). 0, -EINVAL or -EHOSTDOWN. */
static int sim_drive(struct chord_sim *sim, int i,
                     void (*fn)(struct chord_node *, uint64_t))
{
    struct sim_node *sn;
    int rc = chord_sim__live(sim, i, &sn);
    if (rc)
        return rc;
    fn(sn->node, sim->now);
    chord_sim__node_after(sim, sn, false);
    return 0;
}

int chord_sim_create(struct chord_sim *sim, int i)
{
    return sim_drive(sim, i, chord_node_create);
}

int chord_sim_join(struct chord_sim *sim, int i, int seed_index)
{
    struct sim_node *sn;
    struct sim_node *seed = chord_sim__at(sim, seed_index);
    int rc = chord_sim__live(sim, i, &sn);
    if (rc)
        return rc;
    if (!seed)
        return -EINVAL;
    rc = chord_node_join(sn->node, sim->now, seed->self.addr);
    chord_sim__node_after(sim, sn, false);
    return rc;
}

int chord_sim_leave(struct chord_sim *sim, int i)
{
    return sim_drive(sim, i, chord_node_leave);
}

int chord_sim_crash(struct chord_sim *sim, int i)
{
    struct sim_node *sn;
    int rc = chord_sim__live(sim, i, &sn);
    if (rc)
        return rc;
    chord_sim__logf(sim, sn->self.addr, "crashed", "");
    chord_sim__node_stop(sim, sn);
    return 0;
}

uint64_t chord_sim_now(const struct chord_sim *sim)
{
    return sim->now;
}

int chord_sim_count(const struct chord_sim *sim)
{
    return (int)sim->n_nodes;
}

bool chord_sim_is_up(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    return sn && sn->node;
}

struct chord_node *chord_sim_node(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    return sn ? sn->node : NULL;
}

const struct chord_peer *chord_sim_peer(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    return sn ? &sn->self : NULL;
}

int chord_sim_state(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    if (!sn)
        return -EINVAL;
    return sn->node ? (int)chord_node_state(sn->node) : sn->last_state;
}

void chord_sim_stats(const struct chord_sim *sim, struct chord_sim_stats *out)
{
    *out = sim->stats;
}

/* State of one blocking call. */
struct sim_wait {
    bool done;
    int rc; /* status (>= 0) or negative errno */
    bool want_value;
    uint8_t *value;
    size_t value_len;
    struct chord_lookup_result *lookup; /* where to copy a lookup, or NULL */
};

static void sim_wait_cb(void *arg, const struct chord_sim_reply *r)
{
    struct sim_wait *w = arg;
    w->done = true;
    w->rc = r->err ? r->err : r->status;
    if (r->err)
        return;
    if (w->want_value && r->has_value) {
        w->value = malloc(r->value_len ? r->value_len : 1);
        if (!w->value) {
            w->rc = -ENOMEM;
            return;
        }
        if (r->value_len)
            memcpy(w->value, r->value, r->value_len);
        w->value_len = r->value_len;
    }
    if (w->lookup && r->status == CHORD_OK)
        *w->lookup = r->lookup;
}

/* Send a request and run the simulation until it completes. Its TIMEOUT
 * event is queued, so the loop always ends. */
static int sim_wait_op(struct chord_sim *sim, int i, enum chord_sim_op op,
                       const void *key, size_t key_len, const void *value,
                       size_t value_len, struct sim_wait *w)
{
    if (sim->in_callback)
        return -EBUSY;
    int rc = chord_sim_request(sim, i, op, key, key_len, value, value_len,
                               sim_wait_cb, w);
    if (rc)
        return rc;
    while (!w->done && sim->heap_len > 0)
        chord_sim__step(sim);
    return w->done ? w->rc : -ETIMEDOUT;
}

int chord_sim_put(struct chord_sim *sim, int i, const void *key, size_t key_len,
                  const void *value, size_t value_len)
{
    struct sim_wait w = {0};
    return sim_wait_op(sim, i, CHORD_SIM_PUT, key, key_len, value, value_len,
                       &w);
}

int chord_sim_get(struct chord_sim *sim, int i, const void *key, size_t key_len,
                  uint8_t **value, size_t *value_len)
{
    struct sim_wait w = {0};
    w.want_value = true;
    int rc = sim_wait_op(sim, i, CHORD_SIM_GET, key, key_len, NULL, 0, &w);
    if (rc != CHORD_OK || !w.value) {
        free(w.value);
        *value = NULL;
        *value_len = 0;
        return rc == CHORD_OK ? -EPROTO : rc;
    }
    *value = w.value;
    *value_len = w.value_len;
    return rc;
}

int chord_sim_del(struct chord_sim *sim, int i, const void *key, size_t key_len)
{
    struct sim_wait w = {0};
    return sim_wait_op(sim, i, CHORD_SIM_DEL, key, key_len, NULL, 0, &w);
}

int chord_sim_lookup(struct chord_sim *sim, int i, const void *key,
                     size_t key_len, struct chord_lookup_result *out)
{
    struct sim_wait w = {0};
    w.lookup = out;
    return sim_wait_op(sim, i, CHORD_SIM_LOOKUP, key, key_len, NULL, 0, &w);
}
