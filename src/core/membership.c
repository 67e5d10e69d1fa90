/*
 * membership.c - joining and leaving the ring (see membership.h).
 *
 * Pure: no I/O, no clock.
 */
#include "core/membership.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/lookup.h"
#include "core/merge.h"
#include "core/node_internal.h"
#include "core/peer.h"
#include "core/placement.h"
#include "core/ring.h"
#include "core/transfer.h"

void chord__member_init(struct chord_membership *m)
{
    memset(m, 0, sizeof(*m));
    m->join_retry_at = m->join_deadline = m->leave_deadline = UINT64_MAX;
}

/* ------------------------------------------------------------------------ */
/* join                                                                     */

static void join_retry(struct chord_node *n, uint64_t now, const char *why)
{
    chord__log(n, CHORD_LOG_WARN, "join attempt %u failed: %s",
               n->member.join_attempts, why);
    n->member.join_acked = false;
    n->member.join_retry_at = now + chord__jitter(n, CHORD_JOIN_RETRY_MS);
}

static void join_send(struct chord_node *n, uint64_t now,
                      const struct chord_peer *s)
{
    if (chord__is_self(n, s)) {
        join_retry(n, now, "the ring named us as our own successor");
        return;
    }
    n->member.join_succ = *s;
    struct chord_msg *m = chord__msg(n, CHORD_MSG_JOIN, 0);
    if (m) {
        chord__rpc(n, now, RPC_JOIN, s, 0, m);
        free(m);
    }
}

/* The lookup of our successor, sent through the seed, ended. */
static void join_found(struct chord_node *n, uint64_t now, const struct rpc *r,
                       const struct chord_found *f)
{
    (void)r;
    if (n->state != CHORD_NODE_JOINING)
        return;
    if (!f->ok) {
        join_retry(n, now, "lookup of our successor failed");
        return;
    }
    join_send(n, now, &f->owner);
}

/* No one answered a rejoin: start a ring alone, and keep looking for the
 * old one (merge.c unifies the rings when they meet). */
static void rejoin_alone(struct chord_node *n, uint64_t now)
{
    struct chord_membership *mb = &n->member;
    chord__log(n, CHORD_LOG_WARN,
               "none of the %u peers known before answered: starting a "
               "ring alone, still looking for them",
               mb->n_seeds);
    chord_routing_set_successors(&n->rt, NULL, NULL, 0);
    n->rt.has_pred = false;
    chord__ring_activate(n, now);
    for (unsigned i = 0; i < mb->n_seeds; i++)
        chord__merge_remember(n, now, mb->seeds[i]);
}

static void join_attempt(struct chord_node *n, uint64_t now)
{
    struct chord_membership *mb = &n->member;
    unsigned limit =
        mb->n_seeds > CHORD_JOIN_ATTEMPTS ? mb->n_seeds : CHORD_JOIN_ATTEMPTS;
    /* A rejoin no peer has answered for CHORD_REJOIN_MS goes alone: when
     * a whole ring restarts at once, every peer is itself rejoining and
     * answers nobody, and merge.c unites the lone nodes sooner than the
     * attempts would run out. */
    bool out_of_time = mb->rejoin && mb->join_attempts > 0 &&
                       n->rt.n_succ == 0 && now >= mb->rejoin_until;
    if (++mb->join_attempts > limit || out_of_time) {
        mb->join_retry_at = mb->join_deadline = UINT64_MAX;
        if (mb->rejoin) {
            rejoin_alone(n, now);
            return;
        }
        n->state = CHORD_NODE_FAILED;
        chord__log(n, CHORD_LOG_ERROR,
                   "cannot join %s: no answer after %u attempts", mb->seeds[0],
                   CHORD_JOIN_ATTEMPTS);
        return;
    }
    mb->join_acked = false;
    mb->join_redirects = 0;
    mb->join_retry_at = UINT64_MAX;
    mb->join_deadline = UINT64_MAX;
    if (n->rt.n_succ > 0) {
        /* An earlier JOIN was answered: the ring may already route to us,
         * so ask our successor again rather than look ourselves up. */
        struct chord_peer s = n->rt.succ[0];
        join_send(n, now, &s);
        return;
    }
    struct chord_msg *m = chord__msg(n, CHORD_MSG_FIND_SUCC, 0);
    if (!m)
        return;
    struct chord_peer seed;
    chord_peer_from_addr(&seed,
                         mb->seeds[(mb->join_attempts - 1) % mb->n_seeds]);
    /* Look up the successor of id + 1: the first node strictly after us.
     * Asking for our own id would answer "you" once an earlier attempt's
     * JOIN was accepted but its answer lost. */
    chord_id_add_pow2(&m->target, &n->rt.self.id, 0);
    m->hops = 0;
    uint64_t id =
        chord__rpc_record(n, now, RPC_JOIN_LOOKUP, &seed, 0, join_found);
    if (id) {
        m->req_id = id;
        chord__send(n, seed.addr, m);
    }
    free(m);
}

/* Begin joining through mb->seeds (set by the caller). */
static void join_begin(struct chord_node *n, uint64_t now)
{
    n->state = CHORD_NODE_JOINING;
    n->member.join_attempts = 0;
    join_attempt(n, now);
    /* The periodic timers start now; they act only once ACTIVE. */
    n->ring.next_stabilize = now + n->cfg.stabilize_ms;
    n->ring.next_fix = now + n->cfg.fix_fingers_ms;
}

void chord__member_free(struct chord_membership *m)
{
    free(m->seeds);
    m->seeds = NULL;
    m->n_seeds = 0;
}

/* Room for k seeds (the list is then empty); false without memory. */
static bool seeds_reserve(struct chord_membership *mb, size_t k)
{
    void *p = realloc(mb->seeds, (k ? k : 1) * sizeof(mb->seeds[0]));
    if (!p)
        return false;
    mb->seeds = p;
    mb->n_seeds = 0;
    return true;
}

int chord__member_join(struct chord_node *n, uint64_t now,
                       const char *seed_addr)
{
    struct chord_membership *mb = &n->member;
    if (!seeds_reserve(mb, 1))
        return -ENOMEM;
    chord__addr_copy(mb->seeds[0], seed_addr);
    mb->n_seeds = 1;
    mb->rejoin = false;
    chord__log(n, CHORD_LOG_INFO, "joining the ring through %s", seed_addr);
    join_begin(n, now);
    return 0;
}

int chord__member_rejoin(struct chord_node *n, uint64_t now,
                         const char *const *addrs, size_t k)
{
    struct chord_membership *mb = &n->member;
    if (!seeds_reserve(mb, k < CHORD_REJOIN_SEEDS ? k : CHORD_REJOIN_SEEDS))
        return -ENOMEM;
    for (size_t i = 0; i < k && mb->n_seeds < CHORD_REJOIN_SEEDS; i++)
        if (strcmp(addrs[i], n->rt.self.addr) != 0)
            chord__addr_copy(mb->seeds[mb->n_seeds++], addrs[i]);
    mb->rejoin = true;
    mb->rejoin_until = now + CHORD_REJOIN_MS;
    if (mb->n_seeds == 0) {
        rejoin_alone(n, now);
        return 0;
    }
    chord__log(n, CHORD_LOG_INFO,
               "rejoining the ring through the %u peers known before",
               mb->n_seeds);
    join_begin(n, now);
    return 0;
}

void chord__member_handle_join(struct chord_node *n, uint64_t now,
                               const struct chord_msg *m)
{
    struct chord_msg *r = chord__msg(n, CHORD_MSG_JOIN_ACK, m->req_id);
    if (!r)
        return;
    const struct chord_peer *j = &m->from;
    if (chord__is_self(n, j)) {
        free(r);
        return;
    }
    bool is_pred = n->rt.has_pred && chord__peer_same(&n->rt.pred, j);
    if (n->state != CHORD_NODE_ACTIVE) {
        r->status = CHORD_TRY_AGAIN;
    } else if (!is_pred && !chord_routing_owns(&n->rt, &j->id)) {
        r->status = CHORD_REDIRECT;
        r->hint = *chord__redirect_hint(n, &j->id, now);
        chord__log(n, CHORD_LOG_DEBUG, "JOIN of %s: not ours (pred %s), to %s",
                   j->addr, n->rt.has_pred ? n->rt.pred.addr : "-",
                   r->hint.addr);
    } else {
        struct chord_neighbors old;
        chord__ring_neighbors(n, &old);
        chord__ring_set_pred(n, now, j);
        if (n->rt.n_succ == 0)
            chord_routing_set_successors(&n->rt, j, NULL, 0);
        r->status = CHORD_OK;
        r->nb = old;
        if (is_pred) /* a repeated JOIN: report our predecessor's view */
            r->nb.has_pred = false;
        chord__send(n, j->addr, r);
        free(r);
        /* The joiner's range: (old predecessor, joiner]. A repeated JOIN
         * no longer knows the old predecessor: send all we do not own. */
        if (!is_pred && old.has_pred) {
            struct chord_range c = {old.pred.id, j->id};
            chord__transfer_start(n, now, j, 0, XFER_JOIN, chord__want_range,
                                  &c, NULL);
        } else {
            chord__transfer_start(n, now, j, 0, XFER_JOIN,
                                  chord__want_not_owned, NULL, NULL);
        }
        return;
    }
    chord__send(n, j->addr, r);
    free(r);
}

static void handle_join_ack(struct chord_node *n, uint64_t now,
                            const struct chord_msg *m)
{
    struct chord_membership *mb = &n->member;
    switch (m->status) {
    case CHORD_OK:
        mb->join_acked = true;
        mb->join_succ = m->from;
        chord__ring_adopt(n, now, &m->from, &m->nb);
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred))
            chord__ring_set_pred(n, now, &m->nb.pred);
        else if (!n->rt.has_pred)
            chord__ring_set_pred(n, now, &m->from);
        mb->join_deadline = now + 2 * n->cfg.rpc_timeout_ms;
        return;
    case CHORD_REDIRECT:
        if (++mb->join_redirects <= n->cfg.hop_limit) {
            join_send(n, now, &m->hint);
            return;
        }
        join_retry(n, now, "too many redirects");
        return;
    default:
        join_retry(n, now, chord_status_name(m->status));
    }
}

void chord__member_transfer_received(struct chord_node *n, uint64_t now,
                                     const struct chord_msg *m)
{
    struct chord_membership *mb = &n->member;
    bool from_succ = n->state == CHORD_NODE_JOINING && mb->join_acked &&
                     !(m->flags & CHORD_TRANSFER_REPLICA) &&
                     chord__peer_same(&m->from, &mb->join_succ);
    if (from_succ) /* the keys are coming: keep waiting */
        mb->join_deadline = now + 2 * n->cfg.rpc_timeout_ms;
    if ((m->flags & CHORD_TRANSFER_LAST) && from_succ) {
        chord__ring_activate(n, now);
        for (unsigned i = 0; i < mb->n_seeds; i++) /* found again later */
            chord__merge_remember(n, now, mb->seeds[i]);
        mb->join_deadline = UINT64_MAX;
        n->ring.next_stabilize = now;
        n->ring.next_fix = now;
        chord__log(n, CHORD_LOG_INFO,
                   "joined the ring: successor %s, predecessor %s, %zu keys",
                   mb->join_succ.addr, n->rt.has_pred ? n->rt.pred.addr : "-",
                   chord_store_live(n->store));
    }
}

bool chord__member_redirect(const struct chord_node *n, struct chord_peer *to)
{
    const struct chord_membership *mb = &n->member;
    if (n->state == CHORD_NODE_JOINING && mb->join_acked) {
        *to = mb->join_succ;
        return true;
    }
    if (n->state == CHORD_NODE_JOINING && mb->n_seeds > 0)
        return chord_peer_from_addr(
                   to, mb->seeds[mb->join_attempts
                                     ? (mb->join_attempts - 1) % mb->n_seeds
                                     : 0]) == 0;
    if (n->state == CHORD_NODE_LEAVING && n->rt.n_succ > 0 &&
        !chord__is_self(n, &n->rt.succ[0])) {
        *to = n->rt.succ[0];
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* what a restart needs                                                     */

/* Add addr to out[0..k) unless it is there (or empty, or ours). */
static size_t known_add(const struct chord_node *n, char (*out)[CHORD_ADDR_MAX],
                        size_t k, size_t max, const char *addr)
{
    if (k >= max || !addr[0] || strcmp(addr, n->rt.self.addr) == 0)
        return k;
    for (size_t i = 0; i < k; i++)
        if (strcmp(out[i], addr) == 0)
            return k;
    chord__addr_copy(out[k], addr);
    return k + 1;
}

size_t chord_node_known_peers(const struct chord_node *n,
                              char (*out)[CHORD_ADDR_MAX], size_t max)
{
    size_t k = 0;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        k = known_add(n, out, k, max, n->rt.succ[i].addr);
    if (n->rt.has_pred)
        k = known_add(n, out, k, max, n->rt.pred.addr);
    for (unsigned i = 0; i < n->rt.n_preds; i++)
        k = known_add(n, out, k, max, n->rt.preds[i].addr);
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        const struct chord_peer *f = chord_routing_finger(&n->rt, i);
        if (f)
            k = known_add(n, out, k, max, f->addr);
    }
    /* merge_known skips repeats of what is already in out */
    return chord__merge_known(n, out, k, max);
}

/* ------------------------------------------------------------------------ */
/* leave                                                                    */

static void leave_finish(struct chord_node *n)
{
    n->state = CHORD_NODE_LEFT;
    n->member.leave_deadline = UINT64_MAX;
    chord__log(n, CHORD_LOG_INFO, "left the ring");
}

/* After the hand-off: tell both neighbours how to close the gap. */
static void leave_notify(struct chord_node *n, uint64_t now)
{
    struct chord_msg *m = chord__msg(n, CHORD_MSG_LEAVE, 0);
    if (!m) {
        leave_finish(n);
        return;
    }
    chord__ring_neighbors(n, &m->nb);
    struct chord_peer to[2];
    unsigned k = 0;
    if (n->rt.n_succ)
        to[k++] = n->rt.succ[0];
    if (n->rt.has_pred && !chord__is_self(n, &n->rt.pred) &&
        !(k && chord__peer_same(&to[0], &n->rt.pred)))
        to[k++] = n->rt.pred;
    n->member.leave_acks_pending = k;
    for (unsigned i = 0; i < k; i++)
        chord__rpc(n, now, RPC_LEAVE, &to[i], 0, m);
    chord__ring_quiet(n); /* gone, as far as the ring is concerned */
    free(m);
    if (k == 0)
        leave_finish(n);
}

/* The hand-off to our successor ended. */
static void leave_handed_off(struct chord_node *n, uint64_t now, bool ok)
{
    if (n->state != CHORD_NODE_LEAVING)
        return;
    if (!ok) {
        /* The successor failed: hand the keys to the next one. */
        const struct chord_peer *s = chord__next_process(n);
        if (s)
            chord_routing_remove(&n->rt, &s->id);
        if ((s = chord__next_process(n)) != NULL) {
            struct chord_peer to = *s;
            chord__transfer_start(n, now, &to, CHORD_TRANSFER_HANDOFF,
                                  XFER_HANDOFF, chord__want_all, NULL,
                                  leave_handed_off);
            return;
        }
        chord__log(n, CHORD_LOG_ERROR,
                   "no successor took the keys; %zu keys lost",
                   chord_store_live(n->store));
    }
    leave_notify(n, now);
}

void chord__member_leave(struct chord_node *n, uint64_t now)
{
    if (n->state == CHORD_NODE_LEAVING || n->state == CHORD_NODE_LEFT)
        return;
    /* The keys go to the successor that will own them: with vnodes the
     * first of another process, as ours all leave together. */
    const struct chord_peer *next = chord__next_process(n);
    if (n->state != CHORD_NODE_ACTIVE || !next) {
        if (n->state == CHORD_NODE_ACTIVE && chord_store_live(n->store))
            chord__log(n, CHORD_LOG_WARN,
                       "last node leaving: %zu keys go with it",
                       chord_store_live(n->store));
        leave_finish(n);
        return;
    }
    n->state = CHORD_NODE_LEAVING;
    n->member.leave_deadline = now + n->cfg.op_timeout_ms;
    chord__log(n, CHORD_LOG_INFO, "leaving: handing %zu keys to %s",
               chord_store_live(n->store), next->addr);
    struct chord_peer s = *next;
    chord__transfer_start(n, now, &s, CHORD_TRANSFER_HANDOFF, XFER_HANDOFF,
                          chord__want_all, NULL, leave_handed_off);
}

void chord__member_handle_leave(struct chord_node *n, uint64_t now,
                                const struct chord_msg *m)
{
    const struct chord_peer *l = &m->from;
    char a[9];
    chord__log(n, CHORD_LOG_INFO, "%s (%s) is leaving", l->addr,
               chord__short_id(&l->id, a));
    chord__peer_dead(n, l->addr, now);
    if (n->rt.has_pred && chord__peer_same(&n->rt.pred, l)) {
        if (m->nb.has_pred && !chord__is_self(n, &m->nb.pred) &&
            !chord__peer_same(&m->nb.pred, l))
            chord__ring_set_pred(n, now, &m->nb.pred);
        else if (n->rt.n_succ <= 1)
            n->rt.has_pred = false; /* we are alone now */
    }
    if (n->rt.n_succ && chord__peer_same(&n->rt.succ[0], l)) {
        struct chord_neighbors nb = m->nb;
        nb.has_pred = false;
        chord__ring_adopt(n, now, NULL, &nb);
    }
    chord_routing_remove(&n->rt, &l->id);
    if (n->rt.n_succ == 0)
        n->rt.has_pred = false;
    struct chord_msg *r = chord__msg(n, CHORD_MSG_LEAVE_ACK, m->req_id);
    if (r) {
        chord__send(n, l->addr, r);
        free(r);
    }
}

/* ------------------------------------------------------------------------ */
/* answers, failures, timers                                                */

void chord__member_answer(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const struct chord_msg *m)
{
    if (r->kind == RPC_JOIN && n->state == CHORD_NODE_JOINING)
        handle_join_ack(n, now, m);
    else if (r->kind == RPC_LEAVE && n->member.leave_acks_pending &&
             --n->member.leave_acks_pending == 0)
        leave_finish(n);
}

void chord__member_failed(struct chord_node *n, uint64_t now,
                          const struct rpc *r, const char *why)
{
    switch (r->kind) {
    case RPC_JOIN_LOOKUP:
    case RPC_JOIN:
        if (n->state == CHORD_NODE_JOINING && !n->member.join_acked)
            join_retry(n, now, why);
        return;
    case RPC_LEAVE:
        if (n->member.leave_acks_pending && --n->member.leave_acks_pending == 0)
            leave_finish(n);
        return;
    default:
        return;
    }
}

void chord__member_tick(struct chord_node *n, uint64_t now)
{
    struct chord_membership *mb = &n->member;
    switch (n->state) {
    case CHORD_NODE_JOINING:
        if (mb->join_retry_at <= now)
            join_attempt(n, now);
        else if (mb->join_deadline <= now) {
            mb->join_deadline = UINT64_MAX;
            chord__log(n, CHORD_LOG_WARN,
                       "keys from %s did not arrive: joining again",
                       mb->join_succ.addr);
            join_attempt(n, now);
        }
        break;
    case CHORD_NODE_LEAVING:
        if (mb->leave_deadline <= now) {
            chord__log(n, CHORD_LOG_WARN,
                       "leave did not finish in %u ms: leaving anyway",
                       n->cfg.op_timeout_ms);
            leave_finish(n);
        }
        break;
    default:
        break;
    }
}

uint64_t chord__member_deadline(const struct chord_node *n)
{
    const struct chord_membership *mb = &n->member;
    uint64_t t = mb->join_retry_at;
    if (mb->join_deadline < t)
        t = mb->join_deadline;
    if (mb->leave_deadline < t)
        t = mb->leave_deadline;
    return t;
}
