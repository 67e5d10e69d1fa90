/*
 * host.c - each simulated node's host: the node table, the io callbacks a
 * node is made with, its one timer, stopping it, and log lines.
 *
 * Design.
 *  - Nodes live in an array of pointers indexed by node number; indexes
 *    are never reused. Node i listens at "127.0.0.<1+i/40000>:<20000 +
 *    i%40000>".
 *  - Timers: after every event given to node i the simulator reads
 *    chord_node_next_deadline() and keeps at most one live TICK event per
 *    node. A TICK carries the node's tick generation; bumping the
 *    generation makes every older TICK stale (it is skipped when popped).
 *    A tick is only rescheduled when the deadline moved earlier; a later
 *    deadline is served by the earlier tick, which finds nothing due and
 *    reschedules. A node whose deadline is still <= now after a tick is
 *    ticked again 1 ms later, so time always moves on. Each event is
 *    one turn of the node's host: before reading the deadline the node
 *    is flushed (chord_node_flush), as dhtd does once per loop turn.
 *  - A node that reaches LEFT or FAILED is freed at once (the daemon
 *    would exit); a crashed node is freed the same way, and its client
 *    requests are reset (ops.c).
 *
 * Caps: CHORD_SIM_NODES_MAX nodes.
 *
 * It never drives a node from inside one of that node's callbacks, and
 * calls only heap.c, net.c and ops.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define SIM_PORT_BASE 20000u
#define SIM_PORTS_PER_HOST 40000u

void chord_sim__logf(struct chord_sim *sim, const char *who, const char *prefix,
                     const char *text)
{
    if (sim->cfg.log_stderr)
        fprintf(stderr, "[%8" PRIu64 " ms] %s: %s%s\n", sim->now, who, prefix,
                text);
}

static void io_log(void *ctx, int level, const char *line)
{
    static const char *const names[] = {"ERROR ", "WARN ", "INFO ", "DEBUG "};
    struct sim_node *sn = ctx;
    const char *lv = level >= 0 && level <= CHORD_LOG_DEBUG ? names[level] : "";
    chord_sim__logf(sn->sim, sn->self.addr, lv, line);
}

void chord_sim__node_io(struct sim_node *sn, struct chord_node_io *io)
{
    memset(io, 0, sizeof *io);
    io->ctx = sn;
    io->send = chord_sim__net_send;
    io->reply = chord_sim__ops_reply;
    io->log = sn->sim->cfg.log_stderr ? io_log : NULL;
    io->scratch = sn->sim->scratch;
    io->scratch_out = &sn->sim->scratch_out;
}

void chord_sim__node_config(struct chord_sim *sim,
                            const struct chord_node_config *cfg,
                            struct chord_node_config *out)
{
    if (cfg) {
        *out = *cfg;
    } else {
        chord_node_config_default(out);
        out->seed = sim_rand(sim);
        out->log_level = sim->cfg.log_level;
    }
}

int chord_sim__node_add(struct chord_sim *sim,
                        const struct chord_node_config *cfg,
                        const struct chord_id *explicit_id)
{
    if (sim->n_nodes >= CHORD_SIM_NODES_MAX)
        return -ENOSPC;
    if (sim->n_nodes == sim->cap_nodes) {
        uint32_t cap = sim->cap_nodes ? sim->cap_nodes * 2 : 64;
        struct sim_node **v = realloc(sim->nodes, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        sim->nodes = v;
        sim->cap_nodes = cap;
    }
    struct sim_node *sn = calloc(1, sizeof *sn);
    if (!sn)
        return -ENOMEM;
    uint32_t idx = sim->n_nodes;
    sn->sim = sim;
    sn->index = idx;
    sn->host = SIM_HOST_AUTO;
    sn->group = 0;
    sn->tick_at = SIM_TIME_NONE;
    sn->last_state = CHORD_NODE_INIT;
    char addr[CHORD_ADDR_MAX];
    snprintf(addr, sizeof addr, "127.0.0.%u:%u", 1 + idx / SIM_PORTS_PER_HOST,
             SIM_PORT_BASE + idx % SIM_PORTS_PER_HOST);
    int rc = chord_peer_from_addr(&sn->self, addr);
    if (rc) {
        free(sn);
        return rc;
    }
    if (explicit_id)
        sn->self.id = *explicit_id;

    struct chord_node_config c;
    chord_sim__node_config(sim, cfg, &c);
    c.self = sn->self;
    sn->pns = c.pns;
    struct chord_node_io io;
    chord_sim__node_io(sn, &io);
    rc = chord_node_new(&c, &io, sim->now, &sn->node);
    if (rc) {
        free(sn);
        return rc;
    }
    sim->nodes[idx] = sn;
    sim->n_nodes++;
    rc = chord_sim__addr_add(sim, idx);
    if (rc) {
        sim->n_nodes--;
        chord_node_free(sn->node);
        free(sn);
        return rc;
    }
    chord_sim__node_after(sim, sn, false);
    return (int)idx;
}

void chord_sim__node_stop(struct chord_sim *sim, struct sim_node *sn)
{
    if (!sn->node)
        return;
    sn->last_state = (int)chord_node_state(sn->node);
    sim->members_gen++;
    chord_node_free(sn->node);
    sn->node = NULL;
    sn->tick_gen++;
    sn->tick_at = SIM_TIME_NONE;
    chord_sim__ops_node_down(sim, sn->index);
}

void chord_sim__node_after(struct chord_sim *sim, struct sim_node *sn,
                           bool was_tick)
{
    if (!sn->node)
        return;
    int st = (int)chord_node_state(sn->node);
    if (st != sn->last_state)
        sim->members_gen++;
    sn->last_state = st;
    if (st == CHORD_NODE_LEFT || st == CHORD_NODE_FAILED) {
        chord_sim__logf(sim, sn->self.addr, "stopped in state ",
                        chord_node_state_name(st));
        chord_sim__node_stop(sim, sn);
        return;
    }
    /* Each event is one turn of this node's host: what it held to
     * coalesce goes out now (one frame per replica). */
    chord_node_flush(sn->node, sim->now);
    uint64_t d = chord_node_next_deadline(sn->node);
    if (d == SIM_TIME_NONE)
        return;
    if (d <= sim->now)
        d = was_tick ? sim->now + 1 : sim->now;
    if (sn->tick_at != SIM_TIME_NONE && sn->tick_at <= d)
        return; /* the live tick comes first and will reschedule */
    sn->tick_gen++;
    sn->tick_at = d;
    if (chord_sim__schedule(sim, d, EV_TICK, sn->index, sn->index, sn->tick_gen,
                            NULL, 0) != 0)
        sn->tick_at = SIM_TIME_NONE;
}
