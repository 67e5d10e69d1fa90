/*
 * fd.c - the failure detector: per-peer liveness from request/response
 * heartbeats, with an RFC 6298 timeout, a floor, and a penalty that grows
 * after every false suspicion and decays while the peer behaves.
 *
 * Why RTO and not phi-accrual. The phi-accrual detector (Hayashibara et
 * al., "The phi accrual failure detector", SRDS 2004) models the
 * inter-arrival times of one-way heartbeats with a distribution fitted over
 * a window of samples and convicts when phi = -log10(P(a heartbeat this
 * late)) passes a threshold. Our heartbeats are requests that the peer
 * answers, so we measure the round trip itself, and on loopback and LANs
 * that round trip is tiny (well under a millisecond to a few ms) and
 * steady. RFC 6298's estimator (SRTT and RTTVAR with gains 1/8 and 1/4,
 * RTO = SRTT + 4 * RTTVAR), as Bamboo's DHT uses it, needs one sample per
 * heartbeat and no window, and with a floor it gives a bound we can state:
 * a crashed peer is suspected within heartbeat + timeout of the crash.
 * Phi's threshold is harder to turn into a fixed detection target: Akka's
 * defaults (threshold 8, heartbeat about 1 s, plus its acceptable pause)
 * convict after about 4.5 s, and Cassandra's (phi 8 over gossip rounds)
 * after about 18 s. Our target is a mean detection of at most 0.5 s with no
 * false suspicion on a healthy ring, so the defaults are a 200 ms
 * heartbeat and a 250 ms floor: detection within 450 ms after the crash
 * plus at most 1 ms of clock resolution (mean about 350 ms), while a
 * round trip has to exceed 250 ms to cause a suspicion.
 *
 * The eventually perfect detector of the course notes: a suspicion proved
 * wrong (the peer speaks again) makes the peer trusted at once and raises
 * its timeout; here the penalty grows by max(penalty_ms, the timeout that
 * proved too short), so the timeout at least doubles, and repeated
 * mistakes push it towards the ceiling until the detector stops making
 * them. Unlike the textbook version the growth is not permanent: the
 * penalty halves every penalty_halflife_ms (60 s) of good behaviour
 * (continuous exponential decay while the peer is ALIVE), so a peer that
 * was slow once does not keep a long timeout forever.
 *
 * Invariants: a slot is free iff addr[0] == '\0'; pending_since != 0 only
 * for monitored peers; only monitored peers change state in tick();
 * next_deadline() is computed from exactly the quantities tick() compares,
 * so it is exact; index[] holds exactly the used slots. Slots are
 * numbered as in a fixed table of CHORD_FD_PEERS: a new peer takes the
 * first free slot, and the table grows only when every slot is used, so
 * the new slot is the one a full-size table would have given. This file
 * does no I/O and reads no clock; it does not decide what to do with a
 * dead peer (the node does).
 */
#include "core/fd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defaults (see chord_fd_config_default). */
#define FD_DEFAULT_HEARTBEAT_MS 200u
#define FD_DEFAULT_FLOOR_MS 250u
#define FD_DEFAULT_CEIL_MS 10000u
#define FD_DEFAULT_INITIAL_MS 1000u
#define FD_DEFAULT_DEAD_AFTER_MS 1500u
#define FD_DEFAULT_PENALTY_MS 250u
#define FD_DEFAULT_HALFLIFE_MS 60000u
#define FD_PAUSE_HEARTBEATS 5u /* pause_ms = this many heartbeats */

/* RFC 6298: alpha = 1/8, beta = 1/4, K = 4, clock granularity G = 1 ms. */
#define FD_ALPHA 0.125
#define FD_BETA 0.25
#define FD_K 4.0
#define FD_GRANULARITY_MS 1.0

/* Rounding the timeout up to whole ms ignores a fraction below this, so
 * that float noise (an SRTT settled at 5 + 1e-15) does not cost a ms. */
#define FD_ROUND_SLACK_MS 1e-6

/* A decayed penalty below this is dropped, so the timeout returns exactly
 * to its RTO-based value. */
#define FD_PENALTY_EPSILON_MS 0.5

/* Fill *cfg with the defaults listed in fd.h. */
void chord_fd_config_default(struct chord_fd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->heartbeat_ms = FD_DEFAULT_HEARTBEAT_MS;
    cfg->floor_ms = FD_DEFAULT_FLOOR_MS;
    cfg->ceil_ms = FD_DEFAULT_CEIL_MS;
    cfg->initial_ms = FD_DEFAULT_INITIAL_MS;
    cfg->dead_after_ms = FD_DEFAULT_DEAD_AFTER_MS;
    cfg->penalty_ms = FD_DEFAULT_PENALTY_MS;
    cfg->penalty_halflife_ms = FD_DEFAULT_HALFLIFE_MS;
    cfg->pause_ms = FD_PAUSE_HEARTBEATS * FD_DEFAULT_HEARTBEAT_MS;
}

/*
 * An empty detector. `cfg` is copied (NULL means the defaults); zero
 * fields take their default, pause_ms defaults to 5 heartbeats of the
 * given config, and a ceiling below the floor is raised to it.
 */
void chord_fd_init(struct chord_fd *fd, const struct chord_fd_config *cfg)
{
    struct chord_fd_config def;
    chord_fd_config_default(&def);
    memset(fd, 0, sizeof(*fd));
    fd->cfg = cfg ? *cfg : def;
    struct chord_fd_config *c = &fd->cfg;
    if (!c->heartbeat_ms)
        c->heartbeat_ms = def.heartbeat_ms;
    if (!c->floor_ms)
        c->floor_ms = def.floor_ms;
    if (!c->ceil_ms)
        c->ceil_ms = def.ceil_ms;
    if (c->ceil_ms < c->floor_ms)
        c->ceil_ms = c->floor_ms;
    if (!c->initial_ms)
        c->initial_ms = def.initial_ms;
    if (!c->dead_after_ms)
        c->dead_after_ms = def.dead_after_ms;
    if (!c->penalty_ms)
        c->penalty_ms = def.penalty_ms;
    if (!c->penalty_halflife_ms)
        c->penalty_halflife_ms = def.penalty_halflife_ms;
    if (!c->pause_ms)
        c->pause_ms = c->heartbeat_ms > UINT32_MAX / FD_PAUSE_HEARTBEATS
                          ? UINT32_MAX
                          : c->heartbeat_ms * FD_PAUSE_HEARTBEATS;
}

void chord_fd_free(struct chord_fd *fd)
{
    free(fd->peers);
    fd->peers = NULL;
    fd->n_slots = 0;
    memset(fd->index, 0, sizeof(fd->index));
}

/* Is addr a string we can track (non-empty, fits a slot with its NUL)? */
static bool fd_addr_ok(const char *addr)
{
    return addr && addr[0] && strnlen(addr, CHORD_ADDR_MAX) < CHORD_ADDR_MAX;
}

/* FNV-1a of an address: compared before the address itself, since many
 * addresses share a long prefix ("192.0.2.1:70.." in a cluster). */
static uint32_t fd_hash(const char *addr)
{
    uint32_t h = 2166136261u;
    for (; *addr; addr++)
        h = (h ^ (uint8_t)*addr) * 16777619u;
    return h;
}

/* Enter used slot i in the index. */
static void fd_index_add(struct chord_fd *fd, unsigned i)
{
    unsigned pos = fd->peers[i].addr_hash & (CHORD_FD_INDEX - 1);
    while (fd->index[pos])
        pos = (pos + 1) & (CHORD_FD_INDEX - 1);
    fd->index[pos] = (uint8_t)(i + 1);
}

/* Rebuild the index after a slot was freed or given another address. */
static void fd_index_rebuild(struct chord_fd *fd)
{
    memset(fd->index, 0, sizeof(fd->index));
    for (unsigned i = 0; i < fd->n_slots; i++)
        if (fd->peers[i].addr[0])
            fd_index_add(fd, i);
}

/* Store addr (with its hash) in cleared slot i and index it. */
static void fd_set_addr(struct chord_fd *fd, unsigned i, const char *addr)
{
    struct chord_fd_peer *p = &fd->peers[i];
    memcpy(p->addr, addr, strlen(addr) + 1);
    p->addr_hash = fd_hash(addr);
    fd_index_add(fd, i);
}

/* The slot index of addr, or -1. */
static int fd_index(const struct chord_fd *fd, const char *addr)
{
    if (!fd_addr_ok(addr))
        return -1;
    uint32_t h = fd_hash(addr);
    for (unsigned pos = h & (CHORD_FD_INDEX - 1); fd->index[pos];
         pos = (pos + 1) & (CHORD_FD_INDEX - 1)) {
        const struct chord_fd_peer *p = &fd->peers[fd->index[pos] - 1];
        if (p->addr_hash == h && strcmp(p->addr, addr) == 0)
            return fd->index[pos] - 1;
    }
    return -1;
}

/* Add CHORD_FD_GROW free slots (up to CHORD_FD_PEERS); false if none
 * could be added. */
static bool fd_grow(struct chord_fd *fd)
{
    unsigned n = fd->n_slots + CHORD_FD_GROW;
    if (n > CHORD_FD_PEERS)
        n = CHORD_FD_PEERS;
    if (n == fd->n_slots)
        return false;
    struct chord_fd_peer *np = realloc(fd->peers, n * sizeof(*np));
    if (!np)
        return false;
    memset(np + fd->n_slots, 0, (n - fd->n_slots) * sizeof(*np));
    fd->peers = np;
    fd->n_slots = n;
    return true;
}

const struct chord_fd_peer *chord_fd_find(const struct chord_fd *fd,
                                          const char *addr)
{
    int i = fd_index(fd, addr);
    return i < 0 ? NULL : &fd->peers[i];
}

/*
 * The entry for addr, created ALIVE if it is unknown: in a free slot, else
 * in the least recently used unmonitored one. NULL when addr cannot be
 * tracked (bad address, every slot monitored). Marks it used at `now`.
 */
static struct chord_fd_peer *fd_get(struct chord_fd *fd, const char *addr,
                                    uint64_t now)
{
    int i = fd_index(fd, addr);
    if (i < 0) {
        if (!fd_addr_ok(addr))
            return NULL;
        int victim = -1;
        bool victim_dead = false; /* within its dead window */
        for (int k = 0; k < (int)fd->n_slots; k++) {
            const struct chord_fd_peer *q = &fd->peers[k];
            if (!q->addr[0]) {
                victim = k;
                break;
            }
            if (q->monitored)
                continue;
            bool dead = q->dead_until > now;
            if (victim < 0 || (victim_dead && !dead) ||
                (dead == victim_dead &&
                 q->last_used < fd->peers[victim].last_used)) {
                victim = k;
                victim_dead = dead;
            }
        }
        bool free_slot = victim >= 0 && !fd->peers[victim].addr[0];
        if (!free_slot) {
            /* Every slot is used: a larger table's next slot is free. */
            unsigned grown = fd->n_slots;
            if (fd_grow(fd)) {
                victim = (int)grown;
                free_slot = true;
            }
        }
        if (victim < 0)
            return NULL;
        struct chord_fd_peer *p = &fd->peers[victim];
        memset(p, 0, sizeof(*p));
        if (!free_slot)
            fd_index_rebuild(fd); /* the victim's address went */
        fd_set_addr(fd, (unsigned)victim, addr);
        p->state = CHORD_PEER_ALIVE;
        p->state_since = now;
        p->penalty_at = now;
        i = victim;
    }
    fd->peers[i].last_used = now;
    return &fd->peers[i];
}

void chord_fd_monitor(struct chord_fd *fd, const char *addr, bool on,
                      uint64_t now)
{
    if (!on) {
        int i = fd_index(fd, addr);
        if (i >= 0) {
            fd->peers[i].monitored = false;
            fd->peers[i].pending_since = 0;
        }
        return;
    }
    struct chord_fd_peer *p = fd_get(fd, addr, now);
    if (p && !p->monitored) {
        p->monitored = true;
        p->pending_since = 0;
    }
}

void chord_fd_sent(struct chord_fd *fd, const char *addr, uint64_t now)
{
    int i = fd_index(fd, addr);
    if (i < 0 || !fd->peers[i].monitored)
        return;
    struct chord_fd_peer *p = &fd->peers[i];
    p->last_used = now;
    if (!p->pending_since)
        p->pending_since = now ? now : 1;
}

/* The timeout as a real number of ms, before rounding. */
static double fd_timeout_exact(const struct chord_fd_config *c,
                               const struct chord_fd_peer *p)
{
    double base = c->initial_ms;
    double penalty = 0;
    if (p && p->rtt_known)
        base = p->srtt_ms + fmax(FD_GRANULARITY_MS, FD_K * p->rttvar_ms);
    if (p)
        penalty = p->penalty_ms;
    double t = fmax(base, (double)c->floor_ms) + penalty;
    return fmin(t, (double)c->ceil_ms);
}

uint32_t chord_fd_timeout(const struct chord_fd *fd,
                          const struct chord_fd_peer *p)
{
    /* Within [floor, ceil], both uint32_t, so the cast is safe. */
    double t = ceil(fd_timeout_exact(&fd->cfg, p) - FD_ROUND_SLACK_MS);
    return t < fd->cfg.floor_ms ? fd->cfg.floor_ms : (uint32_t)t;
}

/* Feed one round-trip sample to the RFC 6298 estimator (section 2). */
static void fd_rtt_sample(const struct chord_fd_config *c,
                          struct chord_fd_peer *p, int64_t rtt_ms)
{
    double r =
        rtt_ms > (int64_t)c->ceil_ms ? (double)c->ceil_ms : (double)rtt_ms;
    if (!p->rtt_known) {
        p->srtt_ms = r;
        p->rttvar_ms = r / 2;
        p->rtt_known = true;
        return;
    }
    p->rttvar_ms =
        (1 - FD_BETA) * p->rttvar_ms + FD_BETA * fabs(p->srtt_ms - r);
    p->srtt_ms = (1 - FD_ALPHA) * p->srtt_ms + FD_ALPHA * r;
}

bool chord_fd_heard(struct chord_fd *fd, const char *addr, int64_t rtt_ms,
                    uint64_t now)
{
    /* A message that answers nothing, from a peer we know nothing of,
     * would make an entry that says no more than its absence: ALIVE,
     * unmonitored, no round trip, no penalty, no dead window. */
    if (rtt_ms < 0 && fd_index(fd, addr) < 0)
        return false;
    struct chord_fd_peer *p = fd_get(fd, addr, now);
    if (!p)
        return false;
    p->last_heard = now;
    p->dead_until = 0;
    bool revived = p->state != CHORD_PEER_ALIVE;
    if (revived) {
        if (!p->refused) {
            /* The timeout that proved too short, before this sample. */
            double grow = fmax((double)fd->cfg.penalty_ms,
                               (double)chord_fd_timeout(fd, p));
            p->penalty_ms = fmin(p->penalty_ms + grow, (double)fd->cfg.ceil_ms);
            p->false_suspicions++;
        }
        p->state = CHORD_PEER_ALIVE;
        p->state_since = now;
        p->refused = false;
        p->penalty_at = now;
        p->pending_since = 0;
    }
    if (rtt_ms >= 0) {
        fd_rtt_sample(&fd->cfg, p, rtt_ms);
        p->pending_since = 0;
    }
    return revived;
}

void chord_fd_unreachable(struct chord_fd *fd, const char *addr, uint64_t now)
{
    struct chord_fd_peer *p = fd_get(fd, addr, now);
    if (!p)
        return;
    if (p->state != CHORD_PEER_DEAD)
        p->state_since = now;
    p->state = CHORD_PEER_DEAD;
    p->refused = true;
    p->pending_since = 0;
}

void chord_fd_forget(struct chord_fd *fd, const char *addr)
{
    int i = fd_index(fd, addr);
    if (i < 0)
        return;
    struct chord_fd_peer *p = &fd->peers[i];
    uint64_t until = p->dead_until;
    memset(p, 0, sizeof(*p));
    fd_index_rebuild(fd);
    if (until) { /* the window outlives the history */
        fd_set_addr(fd, (unsigned)i, addr);
        p->state = CHORD_PEER_ALIVE;
        p->state_since = fd->last_tick;
        p->penalty_at = fd->last_tick;
        p->last_used = fd->last_tick;
        p->dead_until = until;
    }
}

void chord_fd_dead_until(struct chord_fd *fd, const char *addr, uint64_t now,
                         uint64_t until)
{
    struct chord_fd_peer *p = fd_get(fd, addr, now);
    if (p && until > p->dead_until)
        p->dead_until = until;
}

bool chord_fd_is_dead(const struct chord_fd *fd, const char *addr, uint64_t now)
{
    const struct chord_fd_peer *p = chord_fd_find(fd, addr);
    return p && p->dead_until > now;
}

/*
 * The time at which tick() changes p's state, or UINT64_MAX: for an ALIVE
 * peer, one ms after its oldest heartbeat is `timeout` old; for a
 * SUSPECTED one, one ms after it has been suspected for dead_after_ms.
 * Sums saturate so that a far-future time never wraps.
 */
static uint64_t fd_peer_deadline(const struct chord_fd *fd,
                                 const struct chord_fd_peer *p)
{
    if (!p->addr[0] || !p->monitored)
        return UINT64_MAX;
    uint64_t base, span;
    if (p->state == CHORD_PEER_ALIVE && p->pending_since) {
        base = p->pending_since;
        span = (uint64_t)chord_fd_timeout(fd, p) + 1;
    } else if (p->state == CHORD_PEER_SUSPECTED) {
        base = p->state_since;
        span = (uint64_t)fd->cfg.dead_after_ms + 1;
    } else {
        return UINT64_MAX;
    }
    return base > UINT64_MAX - span ? UINT64_MAX : base + span;
}

uint64_t chord_fd_next_deadline(const struct chord_fd *fd)
{
    uint64_t best = UINT64_MAX;
    for (unsigned i = 0; i < fd->n_slots; i++) {
        uint64_t d = fd_peer_deadline(fd, &fd->peers[i]);
        if (d < best)
            best = d;
    }
    return best;
}

/* Decay p's penalty for the good behaviour since penalty_at (ALIVE peers
 * only: a suspected or dead peer's clock is held at `now`). */
static void fd_decay(const struct chord_fd_config *c, struct chord_fd_peer *p,
                     uint64_t now)
{
    if (now <= p->penalty_at)
        return;
    if (p->state == CHORD_PEER_ALIVE && p->penalty_ms > 0) {
        double half_lives =
            (double)(now - p->penalty_at) / (double)c->penalty_halflife_ms;
        p->penalty_ms *= exp2(-half_lives);
        if (p->penalty_ms < FD_PENALTY_EPSILON_MS)
            p->penalty_ms = 0;
    }
    p->penalty_at = now;
}

int chord_fd_tick(struct chord_fd *fd, uint64_t now,
                  struct chord_fd_event *events, int max)
{
    if (fd->last_tick && now > fd->last_tick &&
        now - fd->last_tick > fd->cfg.pause_ms) {
        /* This node was stalled: the silence it saw is its own. */
        for (unsigned i = 0; i < fd->n_slots; i++) {
            struct chord_fd_peer *p = &fd->peers[i];
            if (!p->addr[0])
                continue;
            if (p->pending_since)
                p->pending_since = now;
            if (p->state == CHORD_PEER_SUSPECTED)
                p->state_since = now;
        }
        fd->last_tick = now;
        return -1;
    }
    if (now > fd->last_tick)
        fd->last_tick = now;
    if (!events || max < 0)
        max = 0;
    int n = 0;
    for (unsigned i = 0; i < fd->n_slots; i++) {
        struct chord_fd_peer *p = &fd->peers[i];
        if (!p->addr[0])
            continue;
        if (n < max && now >= fd_peer_deadline(fd, p)) {
            p->state = p->state == CHORD_PEER_ALIVE ? CHORD_PEER_SUSPECTED
                                                    : CHORD_PEER_DEAD;
            p->state_since = now;
            p->refused = false;
            memcpy(events[n].addr, p->addr, sizeof(p->addr));
            events[n].state = p->state;
            n++;
        }
        fd_decay(&fd->cfg, p, now);
    }
    return n;
}

bool chord_fd_usable(const struct chord_fd *fd, const char *addr)
{
    const struct chord_fd_peer *p = chord_fd_find(fd, addr);
    return !p || p->state == CHORD_PEER_ALIVE;
}
