/*
 * net.c - the simulated network between nodes: addresses, links, loss,
 * partitions, and the fate of every node-to-node frame.
 *
 * Design.
 *  - An open-addressing map takes an address string to a node index, so
 *    sending a frame costs O(1) however many nodes there are.
 *  - send(addr, frame): the frame is copied into a DELIVER event due at
 *    now + delay, the delay given by the latency model (latency.c). Links
 *    are FIFO like TCP: a frame on link (a, b) is never due before the
 *    previous one (a map keeps each link's last due time; entries already
 *    in the past are dropped whenever the map is rebuilt, so it holds only
 *    links with frames in flight), which holds whatever the model and
 *    across model changes. A frame whose two ends are in different
 *    partition groups, when it is sent or when it arrives, is dropped
 *    without a word. Otherwise it may be lost with probability `loss`.
 *    When the destination is unknown or down, at send time or at delivery
 *    time, the sender instead gets an UNREACH event (the address) after
 *    the link's smallest delay, as a failed connect would tell it. A
 *    DELIVER event carries its send time in `aux` for the trace hook.
 *  - PRNG draws, in this order per frame: the loss draw (only when loss >
 *    0), then the uniform model's delay draw (always in that model, even
 *    when min == max, so that a const run keeps its sequence).
 *
 * Caps: the link map holds at most one entry per queued event; both maps
 * are only probed, never iterated in an order that matters.
 *
 * It does not hand frames to nodes (loop.c does, after
 * chord_sim__net_arrive) and calls only heap.c and latency.c.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define SIM_MAP_MIN 64u /* smallest capacity of the two hash maps */

struct sim_link {
    uint64_t key;  /* (src + 1) << 32 | dst; 0 marks an empty slot */
    uint64_t last; /* due time of the newest frame on the link */
};

/* ---- address map -------------------------------------------------------- */

#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t addr_hash(const char *addr)
{
    return fnv_bytes(FNV_OFFSET, addr, strlen(addr));
}

static void addr_map_insert_raw(uint32_t *map, size_t cap,
                                const struct chord_sim *sim, uint32_t idx)
{
    size_t mask = cap - 1;
    size_t i = addr_hash(sim->nodes[idx]->self.addr) & mask;
    while (map[i])
        i = (i + 1) & mask;
    map[i] = idx + 1;
}

/* Add node idx (already in sim->nodes) to the map. 0 or -ENOMEM. */
int chord_sim__addr_add(struct chord_sim *sim, uint32_t idx)
{
    if ((size_t)(idx + 1) * 2 > sim->addr_cap) {
        size_t cap = sim->addr_cap ? sim->addr_cap * 2 : SIM_MAP_MIN;
        uint32_t *map = calloc(cap, sizeof *map);
        if (!map)
            return -ENOMEM;
        for (size_t i = 0; i < sim->addr_cap; i++)
            if (sim->addr_map[i])
                addr_map_insert_raw(map, cap, sim, sim->addr_map[i] - 1);
        free(sim->addr_map);
        sim->addr_map = map;
        sim->addr_cap = cap;
    }
    addr_map_insert_raw(sim->addr_map, sim->addr_cap, sim, idx);
    return 0;
}

int chord_sim__addr_find(const struct chord_sim *sim, const char *addr)
{
    if (!sim->addr_cap)
        return -1;
    size_t mask = sim->addr_cap - 1;
    for (size_t i = addr_hash(addr) & mask; sim->addr_map[i];
         i = (i + 1) & mask) {
        uint32_t idx = sim->addr_map[i] - 1;
        if (strcmp(sim->nodes[idx]->self.addr, addr) == 0)
            return (int)idx;
    }
    return -1;
}

/* ---- link FIFO map ------------------------------------------------------ */

static void links_insert_raw(struct sim_link *tab, size_t cap, uint64_t key,
                             uint64_t last)
{
    size_t mask = cap - 1;
    size_t i = mix64(key) & mask;
    while (tab[i].key && tab[i].key != key)
        i = (i + 1) & mask;
    tab[i].key = key;
    tab[i].last = last;
}

/* Rebuild the link map keeping only entries still in the future, sized
 * for them plus `extra` more. 0 or -ENOMEM (the old map then stays). */
static int links_rebuild(struct chord_sim *sim, size_t extra)
{
    size_t live = 0;
    for (size_t i = 0; i < sim->links_cap; i++)
        if (sim->links[i].key && sim->links[i].last > sim->now)
            live++;
    size_t cap = SIM_MAP_MIN;
    while (cap < 4 * (live + extra))
        cap *= 2;
    struct sim_link *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return -ENOMEM;
    for (size_t i = 0; i < sim->links_cap; i++)
        if (sim->links[i].key && sim->links[i].last > sim->now)
            links_insert_raw(tab, cap, sim->links[i].key, sim->links[i].last);
    free(sim->links);
    sim->links = tab;
    sim->links_cap = cap;
    sim->links_used = live;
    return 0;
}

/* The due time a frame on link src -> dst gets when its own latency would
 * make it due at `t`: never before the previous frame on that link. */
static uint64_t link_fifo_time(struct chord_sim *sim, uint32_t src,
                               uint32_t dst, uint64_t t)
{
    uint64_t key = ((uint64_t)src + 1) << 32 | dst;
    if (sim->links_cap) {
        size_t mask = sim->links_cap - 1;
        for (size_t i = mix64(key) & mask; sim->links[i].key;
             i = (i + 1) & mask) {
            if (sim->links[i].key == key) {
                if (sim->links[i].last > t)
                    t = sim->links[i].last;
                sim->links[i].last = t;
                return t;
            }
        }
    }
    if ((sim->links_used + 1) * 2 > sim->links_cap &&
        links_rebuild(sim, 1) != 0) {
        /* Out of memory: without an entry FIFO order cannot be kept, so
         * keep it the blunt way, by the largest delay. */
        return sim->now + sim->lat_max > t ? sim->now + sim->lat_max : t;
    }
    links_insert_raw(sim->links, sim->links_cap, key, t);
    sim->links_used++;
    return t;
}

/* Queue an UNREACH for node `to` about `addr`, due after `delay` ms. */
static void sim_unreach(struct chord_sim *sim, uint32_t to, uint32_t about,
                        const char *addr, uint32_t delay)
{
    size_t alen = strlen(addr) + 1;
    uint8_t *copy = malloc(alen);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, addr, alen);
    sim->stats.unreachable++;
    chord_sim__schedule(sim, sim->now + delay, EV_UNREACH, to, about, 0, copy,
                        alen);
}

void chord_sim__net_send(void *ctx, const char *addr, const uint8_t *frame,
                         size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    int dst = chord_sim__addr_find(sim, addr);
    if (dst < 0) {
        /* No such host: refused after the model's smallest delay. */
        sim_unreach(sim, sn->index, sn->index, addr, sim->lat_min);
        return;
    }
    struct sim_node *to = sim->nodes[dst];
    if (to->group != sn->group) {
        sim->stats.partitioned++; /* dropped: the sender hears nothing */
        return;
    }
    uint32_t lo, hi;
    chord_sim__link_delay(sim, sn->index, (uint32_t)dst, &lo, &hi);
    if (!to->node) {
        sim_unreach(sim, sn->index, sn->index, addr, lo);
        return;
    }
    if (sim->cfg.loss > 0 && sim_rand_unit(sim) < sim->cfg.loss) {
        sim->stats.dropped++;
        return;
    }
    /* The uniform model always draws, even when lo == hi, so that a
     * const run keeps the PRNG sequence it always had. */
    uint64_t t =
        sim->now +
        (sim->lat_model == LAT_UNIFORM ? sim_rand_range(sim, lo, hi) : lo);
    t = link_fifo_time(sim, sn->index, (uint32_t)dst, t);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, frame, len);
    chord_sim__schedule(sim, t, EV_DELIVER, (uint32_t)dst, sn->index, sim->now,
                        copy, len);
}

bool chord_sim__net_arrive(struct chord_sim *sim, const struct sim_event *ev)
{
    struct sim_node *sn = sim->nodes[ev->dst];
    if (sim->nodes[ev->src]->group != sn->group) {
        sim->stats.partitioned++; /* cut while in flight */
        return false;
    }
    if (!sn->node) {
        /* The connection breaks: the sender's host notices. */
        struct sim_node *from = sim->nodes[ev->src];
        if (from->node) {
            uint32_t lo, hi;
            chord_sim__link_delay(sim, ev->dst, ev->src, &lo, &hi);
            sim_unreach(sim, ev->src, ev->dst, sn->self.addr, lo);
        }
        return false;
    }
    sim->stats.delivered++;
    if (sim->trace) {
        sim->in_callback++;
        sim->trace(sim->trace_arg, (int)ev->src, (int)ev->dst, ev->aux,
                   sim->now, ev->len);
        sim->in_callback--;
    }
    return true;
}

int chord_sim_set_loss(struct chord_sim *sim, double loss)
{
    if (!(loss >= 0.0 && loss < 1.0))
        return -EINVAL;
    sim->cfg.loss = loss;
    return 0;
}

int chord_sim_set_group(struct chord_sim *sim, int i, unsigned group)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    if (!sn || group > UINT8_MAX)
        return -EINVAL;
    sn->group = (uint8_t)group;
    return 0;
}

int chord_sim_group(const struct chord_sim *sim, int i)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    return sn ? sn->group : -EINVAL;
}

int chord_sim_partition(struct chord_sim *sim, const uint8_t *group_of_index,
                        size_t n)
{
    if (n > sim->n_nodes || (n > 0 && !group_of_index))
        return -EINVAL;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->group = i < n ? group_of_index[i] : 0;
    return 0;
}

void chord_sim_heal(struct chord_sim *sim)
{
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->group = 0;
}

void chord_sim_set_trace(struct chord_sim *sim, chord_sim_trace_fn fn,
                         void *arg)
{
    sim->trace = fn;
    sim->trace_arg = fn ? arg : NULL;
}

int chord_sim_find(const struct chord_sim *sim, const char *addr)
{
    return chord_sim__addr_find(sim, addr);
}
