/*
 * loop.c - the simulator's event loop: pops the earliest event, moves the
 * clock to it, adds it to the run digest and hands it to the file of its
 * noun (net.c, ops.c, durable.c) and to the node; chord_sim_run_*.
 *
 * Time is a uint64 count of simulated milliseconds and only moves forward.
 * The digest (stats.digest) hashes every processed event (time, kind,
 * endpoints, aux, bytes) a 64-bit word at a time, reading bytes as
 * little-endian words whatever the host, so equal runs give equal digests
 * on every machine.
 *
 * It runs nothing from inside a client callback (in_callback), and calls
 * heap.c, net.c, ops.c, host.c and durable.c; none of them calls it.
 */
#include <stdlib.h>

#include "sim/sim_internal.h"

/* The run digest takes a word at a time: it hashes every frame's bytes,
 * so it must cost little more than reading them. One multiply and one
 * shift per 64-bit word; not a cryptographic hash. */
#define DIGEST_MUL UINT64_C(0x9e3779b97f4a7c15)

static uint64_t digest_u64(uint64_t h, uint64_t v)
{
    h = (h ^ v) * DIGEST_MUL;
    return h ^ (h >> 32);
}

/* Bytes are read as little-endian words whatever the host, so a digest
 * means the same on every machine. */
static uint64_t digest_bytes(uint64_t h, const uint8_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--)
            w = w << 8 | b[i + (size_t)k];
        h = digest_u64(h, w);
    }
    uint64_t w = 0;
    for (size_t k = n; k > i; k--)
        w = w << 8 | b[k - 1];
    return digest_u64(h, w ^ (uint64_t)(n - i) << 56);
}

static void sim_digest(struct chord_sim *sim, const struct sim_event *ev)
{
    uint64_t h = sim->stats.digest ? sim->stats.digest : FNV_OFFSET;
    h = digest_u64(h, ev->time);
    h = digest_u64(h, (uint64_t)ev->kind << 56 ^ (uint64_t)ev->dst << 24 ^
                          ev->src);
    /* A DELIVER's aux is its send time, which the other fields and the
     * earlier events already fix; it was 0 before the trace hook. */
    h = digest_u64(h, ev->kind == EV_DELIVER ? 0 : ev->aux);
    h = digest_u64(h, ev->len);
    if (ev->data)
        h = digest_bytes(h, ev->data, ev->len);
    sim->stats.digest = h;
}

void chord_sim__step(struct chord_sim *sim)
{
    struct sim_event ev;
    chord_sim__heap_pop(sim, &ev);
    if (ev.time > sim->now)
        sim->now = ev.time;
    sim->stats.events++;
    sim_digest(sim, &ev);

    struct sim_node *sn = ev.kind == EV_DELIVER || ev.kind == EV_UNREACH ||
                                  ev.kind == EV_TICK || ev.kind == EV_CLIENT
                              ? sim->nodes[ev.dst]
                              : NULL;
    switch (ev.kind) {
    case EV_DELIVER:
        if (!chord_sim__net_arrive(sim, &ev))
            break;
        if (chord_node_receive(sn->node, sim->now, SIM_PEER_CONN | ev.src,
                               ev.data, ev.len) < 0) {
            sim->stats.proto_errors++;
            chord_sim__logf(sim, sn->self.addr, "refused a frame from ",
                            sim->nodes[ev.src]->self.addr);
        }
        chord_sim__node_after(sim, sn, false);
        break;
    case EV_UNREACH:
        if (sn->node) {
            chord_node_unreachable(sn->node, sim->now, (const char *)ev.data);
            chord_sim__node_after(sim, sn, false);
        }
        break;
    case EV_TICK:
        if (sn->node && ev.aux == sn->tick_gen) {
            sn->tick_at = SIM_TIME_NONE;
            chord_node_tick(sn->node, sim->now);
            chord_sim__node_after(sim, sn, true);
        }
        break;
    case EV_CLIENT:
        if (chord_sim__ops_arrive(sim, &ev))
            chord_sim__node_after(sim, sn, false);
        break;
    case EV_REPLY:
    case EV_TIMEOUT:
    case EV_RESET:
        chord_sim__ops_event(sim, &ev);
        break;
    case EV_DISK:
        chord_sim__disk_event(sim, &ev);
        break;
    default:
        break;
    }
    free(ev.data);
}

void chord_sim_run_until(struct chord_sim *sim, uint64_t t)
{
    if (sim->in_callback)
        return;
    while (sim->heap_len > 0 && sim->heap[0].time <= t)
        chord_sim__step(sim);
    if (t > sim->now)
        sim->now = t;
}

uint64_t chord_sim_run_events(struct chord_sim *sim, uint64_t t,
                              uint64_t max_events)
{
    if (sim->in_callback)
        return 0;
    uint64_t done = 0;
    while (done < max_events && sim->heap_len > 0 && sim->heap[0].time <= t) {
        chord_sim__step(sim);
        done++;
    }
    if (!(sim->heap_len > 0 && sim->heap[0].time <= t) && t > sim->now)
        sim->now = t;
    return done;
}

void chord_sim_run_for(struct chord_sim *sim, uint64_t ms)
{
    chord_sim_run_until(sim, ms > SIM_TIME_NONE - sim->now ? SIM_TIME_NONE
                                                           : sim->now + ms);
}
