/*
 * durable.c - durable nodes: a write-ahead log on a simulated disk.
 *
 * A node added with chord_sim_add_durable_node() logs every change to its
 * own in-memory disk (io/disk.h) through the same write-ahead log as dhtd
 * (io/wal.h). Group commit is simulated with EV_DISK events: the first
 * append after a sync queues one, due SIM_FSYNC_MS later in mode always,
 * fsync_ms later in batch, at once in never; it syncs the log (instantly,
 * in simulated time) and reports the synced seq to the node, which then
 * sends the acknowledgements that waited. chord_sim_crash() leaves the
 * disk as it is; chord_sim_restart() first makes it lose power (unsynced
 * bytes and name changes lost or torn, drawn from the simulator's PRNG),
 * then recovers the log into a new node in state INIT. An EV_DISK carries
 * the disk's generation, so one queued before a restart is ignored.
 *
 * It does not model the disk itself (io/disk_mem.c does) and calls only
 * heap.c and host.c.
 */
#include <stdlib.h>
#include <string.h>

#include "io/disk.h"
#include "io/wal.h"
#include "sim/sim_internal.h"

#define SIM_FSYNC_MS 1u /* simulated fsync latency in mode always */

struct sim_durable {
    struct chord_disk disk;
    struct chord_wal *wal; /* NULL when the log could not be opened */
    struct chord_sim_durability opt;
    struct chord_node_config cfg; /* to make the node again at restart */
    uint64_t gen;                 /* bumped at every restart */
    bool sync_queued;             /* an EV_DISK of this gen is queued */
    uint64_t recovered;           /* records recovered at the last start */
};

static struct sim_durable *sim_dur(const struct chord_sim *sim, uint32_t i)
{
    return i < sim->dur_cap && sim->dur ? sim->dur[i] : NULL;
}

/* The node logs a change: append it and make sure a sync is queued. */
static uint64_t sim_io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    struct sim_durable *sd = sim_dur(sim, sn->index);
    uint64_t seq = 0;
    if (!sd || !sd->wal || chord_wal_append(sd->wal, rec, len, &seq) != 0)
        return 0;
    if (!sd->sync_queued) {
        uint64_t delay = 0; /* never: reported at once */
        if (sd->opt.mode == CHORD_DURABILITY_ALWAYS)
            delay = SIM_FSYNC_MS;
        else if (sd->opt.mode == CHORD_DURABILITY_BATCH)
            delay = sd->opt.fsync_ms;
        if (chord_sim__schedule(sim, sim->now + delay, EV_DISK, sn->index,
                                sn->index, sd->gen, NULL, 0) == 0)
            sd->sync_queued = true;
    }
    return seq;
}

void chord_sim__disk_event(struct chord_sim *sim, const struct sim_event *ev)
{
    struct sim_node *sn = sim->nodes[ev->dst];
    struct sim_durable *sd = sim_dur(sim, ev->dst);
    if (!sd || ev->aux != sd->gen)
        return;
    sd->sync_queued = false;
    if (!sn->node || !sd->wal)
        return;
    uint64_t seq = chord_wal_last_seq(sd->wal);
    if (sd->opt.mode != CHORD_DURABILITY_NEVER) {
        if (chord_wal_sync(sd->wal) != 0) {
            /* dhtd would exit: so does the node. */
            chord_sim__logf(sim, sn->self.addr, "stopped: ", "an fsync failed");
            chord_sim__node_stop(sim, sn);
            return;
        }
        seq = chord_wal_synced_seq(sd->wal);
    }
    chord_node_persisted(sn->node, sim->now, seq);
    if (sd->opt.checkpoint_bytes &&
        chord_wal_segment_bytes(sd->wal) >= sd->opt.checkpoint_bytes)
        chord_wal_checkpoint(sd->wal); /* a failure keeps the old files */
    chord_sim__node_after(sim, sn, false);
}

static int sim_restore(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq;
    return chord_node_restore(arg, rec, len);
}

/* Make node sn from sd->cfg on its disk: recover the log into it. */
static int sim_durable_start(struct chord_sim *sim, struct sim_node *sn,
                             struct sim_durable *sd)
{
    struct chord_node_io io;
    chord_sim__node_io(sn, &io);
    io.persist = sim_io_persist;
    struct chord_node *node;
    int rc = chord_node_new(&sd->cfg, &io, sim->now, &node);
    if (rc)
        return rc;
    struct chord_wal_options wo = {
        .fsync = sd->opt.mode != CHORD_DURABILITY_NEVER,
        .repair = false,
    };
    struct chord_wal_report rep;
    rc = chord_wal_open(&sd->disk, &wo, sim_restore, node, &rep, &sd->wal);
    if (rc) {
        chord_sim__logf(sim, sn->self.addr,
                        "cannot recover its log: ", rep.note);
        chord_node_free(node);
        return rc;
    }
    sd->recovered = rep.snapshot_records + rep.log_records;
    sn->node = node;
    sn->last_state = CHORD_NODE_INIT;
    sn->tick_gen++;
    sn->tick_at = SIM_TIME_NONE;
    sim->members_gen++;
    chord_sim__node_after(sim, sn, false);
    return 0;
}

void chord_sim__durable_free_all(struct chord_sim *sim)
{
    for (uint32_t i = 0; i < sim->dur_cap && sim->dur; i++) {
        struct sim_durable *sd = sim->dur[i];
        if (!sd)
            continue;
        chord_wal_close(sd->wal);
        chord_disk_mem_free(&sd->disk);
        free(sd);
    }
    free(sim->dur);
    sim->dur = NULL;
    sim->dur_cap = 0;
}

int chord_sim_add_durable_node(struct chord_sim *sim,
                               const struct chord_node_config *cfg,
                               const struct chord_id *explicit_id,
                               const struct chord_sim_durability *opt)
{
    if (!opt || opt->mode < CHORD_DURABILITY_ALWAYS ||
        opt->mode > CHORD_DURABILITY_NEVER)
        return -EINVAL;
    struct chord_node_config c;
    chord_sim__node_config(sim, cfg, &c);
    c.durability = (uint8_t)opt->mode;
    int idx = chord_sim__node_add(sim, &c, explicit_id);
    if (idx < 0)
        return idx;
    struct sim_node *sn = sim->nodes[idx];
    c.self = sn->self;

    if ((uint32_t)idx >= sim->dur_cap) {
        uint32_t cap = sim->dur_cap ? sim->dur_cap : 64;
        while (cap <= (uint32_t)idx)
            cap *= 2;
        struct sim_durable **v = realloc(sim->dur, cap * sizeof *v);
        if (!v)
            goto fail;
        memset(v + sim->dur_cap, 0, (cap - sim->dur_cap) * sizeof *v);
        sim->dur = v;
        sim->dur_cap = cap;
    }
    struct sim_durable *sd = calloc(1, sizeof *sd);
    if (!sd)
        goto fail;
    if (chord_disk_mem_new(&sd->disk) != 0) {
        free(sd);
        goto fail;
    }
    sd->opt = *opt;
    sd->cfg = c;
    sim->dur[idx] = sd;

    /* Replace the memory-only node chord_sim_add_node made. */
    chord_node_free(sn->node);
    sn->node = NULL;
    int rc = sim_durable_start(sim, sn, sd);
    if (rc) {
        sn->last_state = CHORD_NODE_FAILED;
        return rc;
    }
    return idx;

fail:
    /* The node stays, memory-only and down: the index is used. */
    chord_sim__node_stop(sim, sn);
    return -ENOMEM;
}

int chord_sim_restart(struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    struct sim_durable *sd = sn ? sim_dur(sim, (uint32_t)i) : NULL;
    if (!sd)
        return -EINVAL;
    if (sn->node)
        return -EBUSY;
    /* Power loss: what was not synced may be lost or torn. */
    chord_wal_close(sd->wal);
    sd->wal = NULL;
    uint64_t prng = sim_rand(sim) | 1;
    chord_disk_mem_crash(&sd->disk, &prng);
    sd->gen++;
    sd->sync_queued = false;
    chord_sim__logf(sim, sn->self.addr, "restarted from its disk", "");
    return sim_durable_start(sim, sn, sd);
}

int64_t chord_sim_recovered(const struct chord_sim *sim, int i)
{
    struct sim_durable *sd = i >= 0 ? sim_dur(sim, (uint32_t)i) : NULL;
    return sd ? (int64_t)sd->recovered : -EINVAL;
}

int chord_sim_disk_fail(struct chord_sim *sim, int i, unsigned ops,
                        uint64_t after)
{
    struct sim_durable *sd = i >= 0 ? sim_dur(sim, (uint32_t)i) : NULL;
    if (!sd)
        return -EINVAL;
    chord_disk_mem_fail(&sd->disk, ops, after, -EIO);
    return 0;
}
