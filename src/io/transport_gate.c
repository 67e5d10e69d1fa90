/*
 * transport_gate.c - the transport's defences as bookkeeping (see
 * transport_gate.h for the contract).
 *
 * Each pool is an intrusive doubly-linked list, most recently active
 * first, so touching a member, admitting a newcomer and finding the idle
 * ones cost O(1) each (the idle end is the tail). Only finding the largest
 * holder of a budget walks the pools: that happens when a budget
 * overflows, and each time it names a connection to close.
 *
 * Invariants: count[p] is the length of pool p's list; charged is the sum
 * of every linked slot's charge and client_charged that of NEW and CLIENT
 * slots; an unlinked slot is charged nothing.
 *
 * It does no I/O, allocates nothing and reads no clock.
 */
#include "io/transport_gate.h"

#include <errno.h>
#include <string.h>

#include "core/wire.h"

static bool is_client_side(int pool)
{
    return pool == CHORD_GATE_NEW || pool == CHORD_GATE_CLIENT;
}

void chord_gate_limits_default(struct chord_gate_limits *l)
{
    memset(l, 0, sizeof *l);
    l->max[CHORD_GATE_NEW] = CHORD_GATE_NEW_MAX;
    l->max[CHORD_GATE_CLIENT] = CHORD_GATE_CLIENT_MAX;
    l->max[CHORD_GATE_PEER] = CHORD_GATE_PEER_MAX;
    l->max[CHORD_GATE_OUT] = CHORD_GATE_OUT_MAX;
    l->idle_timeout_ms = CHORD_GATE_IDLE_TIMEOUT_MS;
    l->evict_idle_ms = CHORD_GATE_EVICT_IDLE_MS;
    l->budget = CHORD_GATE_BUDGET;
    l->client_budget = CHORD_GATE_CLIENT_BUDGET;
    l->min_rate = CHORD_GATE_MIN_RATE;
    l->grace_ms = CHORD_GATE_GRACE_MS;
    l->turn_conn_max = CHORD_GATE_TURN_CONN_MAX;
    l->turn_max = CHORD_GATE_TURN_MAX;
    l->reconnect_fresh_ms = CHORD_GATE_RECONNECT_FRESH_MS;
}

void chord_gate_set_limits(struct chord_gate *g,
                           const struct chord_gate_limits *l)
{
    static const uint32_t most[CHORD_GATE_POOLS] = {
        CHORD_GATE_NEW_MAX, CHORD_GATE_CLIENT_MAX, CHORD_GATE_PEER_MAX,
        CHORD_GATE_OUT_MAX};
    g->lim = *l;
    for (int p = 0; p < CHORD_GATE_POOLS; p++)
        if (g->lim.max[p] > most[p])
            g->lim.max[p] = most[p];
    if (g->lim.client_budget > g->lim.budget)
        g->lim.client_budget = g->lim.budget;
}

void chord_gate_init(struct chord_gate *g, const struct chord_gate_limits *l,
                     bool (*busy)(const struct chord_gate_slot *s))
{
    memset(g, 0, sizeof *g);
    g->busy = busy;
    chord_gate_set_limits(g, l);
}

/* ---- pools -------------------------------------------------------------- */

static void unlink_slot(struct chord_gate *g, struct chord_gate_slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        g->head[s->pool] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        g->tail[s->pool] = s->prev;
    s->prev = s->next = NULL;
    g->count[s->pool]--;
}

static void link_head(struct chord_gate *g, struct chord_gate_slot *s)
{
    s->prev = NULL;
    s->next = g->head[s->pool];
    if (s->next)
        s->next->prev = s;
    else
        g->tail[s->pool] = s;
    g->head[s->pool] = s;
    g->count[s->pool]++;
}

int chord_gate_admit(const struct chord_gate *g, int pool, uint64_t now,
                     struct chord_gate_slot **victim)
{
    *victim = NULL;
    if (g->count[pool] < g->lim.max[pool])
        return 0;
    unsigned looked = 0;
    for (struct chord_gate_slot *s = g->tail[pool];
         s && looked < CHORD_GATE_EVICT_SCAN; s = s->prev, looked++) {
        if (now - s->active_ms < g->lim.evict_idle_ms)
            break; /* every one nearer the head is more recent still */
        if (!g->busy || !g->busy(s)) {
            *victim = s;
            return 1;
        }
    }
    return -ENOBUFS;
}

void chord_gate_add(struct chord_gate *g, struct chord_gate_slot *s, int pool,
                    uint64_t now)
{
    s->pool = (uint8_t)pool;
    s->linked = true;
    s->opened_ms = s->active_ms = now;
    link_head(g, s);
}

void chord_gate_move(struct chord_gate *g, struct chord_gate_slot *s, int pool,
                     uint64_t now)
{
    if (!s->linked)
        return;
    unlink_slot(g, s);
    if (is_client_side(s->pool) && !is_client_side(pool))
        g->client_charged -= s->charged;
    else if (!is_client_side(s->pool) && is_client_side(pool))
        g->client_charged += s->charged;
    s->pool = (uint8_t)pool;
    s->active_ms = now;
    link_head(g, s);
}

void chord_gate_remove(struct chord_gate *g, struct chord_gate_slot *s)
{
    if (!s->linked)
        return;
    unlink_slot(g, s);
    g->charged -= s->charged;
    if (is_client_side(s->pool))
        g->client_charged -= s->charged;
    s->charged = 0;
    s->linked = false;
}

void chord_gate_touch(struct chord_gate *g, struct chord_gate_slot *s,
                      uint64_t now)
{
    s->active_ms = now;
    if (!s->linked || g->head[s->pool] == s)
        return;
    unlink_slot(g, s);
    link_head(g, s);
}

int chord_gate_classify(uint8_t msg_type)
{
    return chord_msg_is_client_request(msg_type) ? CHORD_GATE_CLIENT
                                                 : CHORD_GATE_PEER;
}

/* ---- input buffers ------------------------------------------------------ */

size_t chord_gate_grow(size_t cap, size_t len, size_t most)
{
    if (cap >= len && cap - len >= CHORD_GATE_IN_ROOM_MIN)
        return cap;
    size_t want = cap + cap / 2;
    if (want < len + CHORD_GATE_IN_START)
        want = len + CHORD_GATE_IN_START;
    if (want > most)
        want = most > len ? most : len + 1;
    return want < cap ? cap : want;
}

/* The linked member charged the most among those `client_only` selects. */
static struct chord_gate_slot *largest(const struct chord_gate *g,
                                       bool client_only)
{
    struct chord_gate_slot *best = NULL;
    for (int p = 0; p < CHORD_GATE_POOLS; p++) {
        if (client_only && !is_client_side(p))
            continue;
        for (struct chord_gate_slot *s = g->head[p]; s; s = s->next)
            if (!best || s->charged > best->charged)
                best = s;
    }
    return best;
}

int chord_gate_charge(struct chord_gate *g, struct chord_gate_slot *s,
                      size_t cap, struct chord_gate_slot **victim)
{
    *victim = NULL;
    bool client = s->linked && is_client_side(s->pool);
    if (cap > s->charged && s->linked) {
        size_t more = cap - s->charged;
        bool over_client =
            client && g->client_charged + more > g->lim.client_budget;
        bool over_all = g->charged + more > g->lim.budget;
        if (over_client || over_all) {
            struct chord_gate_slot *big = largest(g, over_client && !over_all);
            if (!big || big == s || big->charged <= s->charged)
                return -ENOBUFS;
            *victim = big;
            return 1;
        }
    }
    if (s->linked) {
        g->charged = g->charged - s->charged + cap;
        if (client)
            g->client_charged = g->client_charged - s->charged + cap;
        if (g->charged > g->peak)
            g->peak = g->charged;
    }
    s->charged = s->linked ? cap : 0;
    return 0;
}

/* ---- time --------------------------------------------------------------- */

void chord_gate_progress(struct chord_gate_slot *s, size_t partial,
                         bool frame_done, uint64_t now)
{
    if (partial == 0)
        s->frame_start_ms = 0;
    else if (frame_done || s->partial == 0)
        s->frame_start_ms = now;
    s->partial = partial;
}

bool chord_gate_too_slow(const struct chord_gate *g,
                         const struct chord_gate_slot *s, uint64_t now)
{
    if (s->partial == 0 || g->lim.min_rate == 0 || now < s->frame_start_ms)
        return false;
    uint64_t age = now - s->frame_start_ms;
    if (age <= g->lim.grace_ms)
        return false;
    uint64_t owed = (age - g->lim.grace_ms) * g->lim.min_rate / 1000u;
    return (uint64_t)s->partial < owed;
}

struct chord_gate_slot *chord_gate_idle(const struct chord_gate *g,
                                        uint64_t now)
{
    if (g->lim.idle_timeout_ms == 0)
        return NULL;
    struct chord_gate_slot *oldest = NULL;
    const int pools[] = {CHORD_GATE_NEW, CHORD_GATE_CLIENT};
    for (int i = 0; i < 2; i++) {
        struct chord_gate_slot *s = g->tail[pools[i]];
        if (s && (!oldest || s->active_ms < oldest->active_ms))
            oldest = s;
    }
    if (oldest && now - oldest->active_ms >= g->lim.idle_timeout_ms)
        return oldest;
    return NULL;
}

void chord_gate_request(struct chord_gate_slot *s, uint8_t msg_type)
{
    if (s->pool == CHORD_GATE_CLIENT && chord_msg_is_client_request(msg_type))
        s->unanswered++;
}

void chord_gate_replied(struct chord_gate *g, struct chord_gate_slot *s,
                        uint64_t now)
{
    if (s->unanswered)
        s->unanswered--;
    chord_gate_touch(g, s, now);
}

void chord_gate_new_turn(struct chord_gate *g)
{
    g->turn++;
    g->turn_bytes = 0;
}

size_t chord_gate_turn_left(const struct chord_gate *g,
                            const struct chord_gate_slot *s)
{
    size_t used = s->turn == g->turn ? s->turn_bytes : 0;
    return used < g->lim.turn_conn_max ? g->lim.turn_conn_max - used : 1;
}

bool chord_gate_read(struct chord_gate *g, struct chord_gate_slot *s, size_t n,
                     uint64_t now)
{
    if (s->turn != g->turn) {
        s->turn = g->turn;
        s->turn_bytes = 0;
    }
    s->turn_bytes += n;
    g->turn_bytes += n;
    chord_gate_touch(g, s, now);
    return s->turn_bytes >= g->lim.turn_conn_max ||
           g->turn_bytes >= g->lim.turn_max;
}

bool chord_gate_trim(struct chord_gate *g)
{
    if (g->peak < CHORD_GATE_TRIM_PEAK || g->charged > CHORD_GATE_TRIM_LOW)
        return false;
    g->peak = g->charged;
    return true;
}
