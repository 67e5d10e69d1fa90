/*
 * node.c - one Chord node as a pure state machine (see include/chord/node.h):
 * the public entry points, the dispatch of what arrives to the part of
 * the node it concerns, the tick that runs every part's timers, and the
 * status report.
 *
 * This file holds no protocol rule of its own; the rules live in the
 * files node_internal.h lists, each with its part of the state. Requests
 * this node sent are settled here: an answer of the type its kind expects
 * (anything else is ignored), or a failure (a timeout, or the host saying
 * the peer is unreachable), goes to the module that sent it.
 *
 * This file does no I/O and reads no clock: every entry point gets `now`.
 */
#include "chord/node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/dedup.h"
#include "core/node_internal.h"

/* ------------------------------------------------------------------------ */
/* settling requests                                                        */

/* Hand request r's answer m (or its failure: m NULL, `why`) to its
 * module. */
static void settle(struct chord_node *n, uint64_t now, const struct rpc *r,
                   const struct chord_msg *m, const char *why)
{
    switch (r->kind) {
    case RPC_STAB_SUCC:
    case RPC_STAB_CAND:
    case RPC_PRED_PING:
    case RPC_HEARTBEAT:
    case RPC_LOOKUP_FINGER:
        if (m)
            chord__ring_answer(n, now, r, m);
        else
            chord__ring_failed(n, now, r, why);
        return;
    case RPC_JOIN_LOOKUP:
    case RPC_JOIN:
    case RPC_LEAVE:
        if (m)
            chord__member_answer(n, now, r, m);
        else
            chord__member_failed(n, now, r, why);
        return;
    case RPC_LOOKUP_OP:
    case RPC_STORE:
        if (m)
            chord__coord_answer(n, now, r, m);
        else
            chord__coord_failed(n, now, r, why);
        return;
    case RPC_TRANSFER:
        chord__transfer_answer(n, now, r, m);
        return;
    case RPC_REPLICATE:
    case RPC_REPLICA_GET:
    case RPC_REPAIR:
        chord__replica_answer(n, now, r, m);
        return;
    case RPC_SYNC:
    case RPC_LOOKUP_ORPHAN:
        chord__sync_answer(n, now, r, m);
        return;
    case RPC_PNS_NB:
    case RPC_PNS_PROBE:
        chord__pns_answer(n, now, r, m);
        return;
    case RPC_MERGE_PROBE:
    case RPC_MERGE_CHECK:
    case RPC_MERGE_LOOKUP:
        chord__merge_answer(n, now, r, m);
        return;
    }
}

/* An answer to one of our requests (anything but FOUND_SUCC). */
static void handle_answer(struct chord_node *n, uint64_t now,
                          const struct chord_msg *m)
{
    struct rpc *rp = chord_seq_find(&n->peer.rpcs, m->req_id);
    if (!rp) { /* late, or not ours; a late answer still proves life */
        chord__peer_heard(n, m->from.addr, -1, now);
        return;
    }
    if (!chord__peer_same(&rp->peer, &m->from) && rp->kind != RPC_JOIN) {
        chord__log(n, CHORD_LOG_DEBUG, "%s answered a request sent to %s",
                   m->from.addr, rp->peer.addr);
        chord__peer_heard(n, m->from.addr, -1, now);
        return;
    }
    struct rpc r = *rp;
    chord_seq_finish(&n->peer.rpcs, rp);
    chord__peer_heard(n, m->from.addr, (int64_t)(now - r.sent_at), now);
    chord__metrics_rpc_answered(n, now - r.sent_at);
    chord__lease_answered(n, r.peer.addr, r.sent_at);
    if (m->type == chord__rpc_answer_type(r.kind))
        settle(n, now, &r, m, NULL);
}

/* ------------------------------------------------------------------------ */
/* life cycle                                                               */

void chord_node_config_default(struct chord_node_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->successors = 8;
    cfg->stabilize_ms = 250;
    cfg->fix_fingers_ms = 100;
    cfg->rpc_timeout_ms = 1000;
    cfg->op_timeout_ms = 8000;
    cfg->hop_limit = 32;
    cfg->max_ops = 4096;
    cfg->replicas = 3;
    cfg->heartbeat_ms = 200;
    cfg->sync_ms = 1000;
    cfg->tombstone_ttl_ms = 600000;
    cfg->log_level = CHORD_LOG_INFO;
    cfg->seed = 1;
    cfg->owner_reads = true;
}

int chord_node_new(const struct chord_node_config *cfg,
                   const struct chord_node_io *io, uint64_t now,
                   struct chord_node **out)
{
    if (!cfg || !io || !io->send || !io->reply || cfg->self.addr[0] == '\0' ||
        cfg->successors < 1 || cfg->successors > CHORD_SUCC_MAX ||
        cfg->stabilize_ms == 0 || cfg->fix_fingers_ms == 0 ||
        cfg->rpc_timeout_ms == 0 || cfg->op_timeout_ms == 0 ||
        cfg->hop_limit == 0 || cfg->hop_limit >= CHORD_PATH_MAX ||
        cfg->max_ops == 0 || cfg->replicas == 0 ||
        cfg->replicas > cfg->successors + 1 || cfg->heartbeat_ms == 0 ||
        cfg->sync_ms == 0 || cfg->tombstone_ttl_ms == 0 ||
        memchr(cfg->self.addr, '\0', CHORD_ADDR_MAX) == NULL)
        return -EINVAL;
    struct chord_node *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->store = chord_store_new();
    n->in = io->scratch ? NULL : malloc(sizeof(*n->in));
    n->dedup = chord__dedup_new();
    /* Predecessors kept: the replication factor, at least CHORD_PREDS_MIN;
     * a virtual node needs r other processes, maybe further back. */
    unsigned preds_cap =
        cfg->replicas > CHORD_PREDS_MIN ? cfg->replicas : CHORD_PREDS_MIN;
    if (strchr(cfg->self.addr, '#') && cfg->successors > preds_cap)
        preds_cap = cfg->successors;
    if (!n->store || (!n->in && !io->scratch) || !n->dedup ||
        chord_routing_init(&n->rt, &cfg->self, cfg->successors, preds_cap)) {
        chord_store_free(n->store);
        chord__dedup_free(n->dedup);
        free(n->in);
        free(n);
        return -ENOMEM;
    }
    n->cfg = *cfg;
    n->io = *io;
    n->state = CHORD_NODE_INIT;
    n->rng = cfg->seed ^ 0x5eed5eed5eedull;
    struct chord_fd_config fdc;
    chord_fd_config_default(&fdc);
    fdc.heartbeat_ms = cfg->heartbeat_ms;
    fdc.pause_ms = 2 * cfg->heartbeat_ms; /* we tick every heartbeat */
    chord_fd_init(&n->fd, &fdc);
    chord__peers_init(&n->peer);
    if (io->scratch_out)
        n->peer.out = io->scratch_out;
    chord__commit_init(&n->commit);
    chord__lookups_init(&n->lookup);
    chord__replicas_init(&n->rep);
    chord__sync_init(&n->sync);
    chord__coord_init(&n->coord);
    chord__locks_init(&n->locks);
    n->locks.run_op = chord__coord_internal;
    chord__ring_init(&n->ring);
    chord__merge_init(&n->merge);
    chord__member_init(&n->member);
    n->now = now;
    *out = n;
    return 0;
}

void chord_node_free(struct chord_node *n)
{
    if (!n)
        return;
    chord__coord_free(&n->coord);
    chord__locks_free(&n->locks);
    chord__merge_free(&n->merge);
    chord__dedup_free(n->dedup);
    chord__transfers_free(&n->xfer);
    chord__lookups_free(&n->lookup);
    chord__replicas_free(&n->rep);
    chord__commit_free(&n->commit);
    chord__peers_free(&n->peer);
    chord_store_free(n->store);
    chord_routing_free(&n->rt);
    chord_fd_free(&n->fd);
    chord__lease_free(&n->lease);
    chord__member_free(&n->member);
    free(n->in);
    free(n);
}

struct chord_msg *chord_node_scratch_new(void)
{
    return malloc(sizeof(struct chord_msg));
}

void chord_node_scratch_free(struct chord_msg *m)
{
    free(m);
}

void chord_node_create(struct chord_node *n, uint64_t now)
{
    n->now = now;
    char a[9];
    chord_routing_set_successors(&n->rt, NULL, NULL, 0);
    n->rt.has_pred = false;
    chord__ring_activate(n, now);
    chord__log(n, CHORD_LOG_INFO, "created a new ring as %s (%s)",
               n->rt.self.addr, chord__short_id(&n->rt.self.id, a));
}

void chord_node_start_static(struct chord_node *n, uint64_t now,
                             const struct chord_peer *succ, unsigned n_succ,
                             const struct chord_peer *preds, unsigned n_preds,
                             chord_successor_fn successor_of, void *ctx)
{
    n->now = now;
    chord_routing_set_successors(&n->rt, NULL, succ, n_succ);
    n->rt.has_pred = n_preds > 0;
    n->rt.n_preds = 0;
    for (unsigned i = 0;
         i < n_preds && i < n->rt.preds_cap && !chord__is_self(n, &preds[i]);
         i++)
        n->rt.preds[n->rt.n_preds++] = preds[i];
    if (n_preds)
        n->rt.pred = preds[0];
    for (unsigned i = 0; i < CHORD_ID_BITS;) {
        struct chord_id start;
        chord_routing_finger_start(&n->rt, i, &start);
        const struct chord_peer *p = successor_of(ctx, &start);
        if (!p)
            break;
        i = chord_routing_set_finger(&n->rt, i, p);
    }
    chord__ring_activate(n, now);
}

int chord_node_join(struct chord_node *n, uint64_t now, const char *seed_addr)
{
    size_t len = strlen(seed_addr);
    if (len == 0 || len >= CHORD_ADDR_MAX)
        return -EINVAL;
    if (strcmp(seed_addr, n->rt.self.addr) == 0)
        return -EINVAL;
    return chord__member_join(n, now, seed_addr);
}

int chord_node_rejoin(struct chord_node *n, uint64_t now,
                      const char *const *addrs, size_t k)
{
    if (k == 0)
        return -EINVAL;
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(addrs[i]);
        if (len == 0 || len >= CHORD_ADDR_MAX)
            return -EINVAL;
    }
    n->now = now;
    return chord__member_rejoin(n, now, addrs, k);
}

int chord_node_remember(struct chord_node *n, uint64_t now, const char *addr)
{
    size_t len = strlen(addr);
    if (len == 0 || len >= CHORD_ADDR_MAX || strcmp(addr, n->rt.self.addr) == 0)
        return -EINVAL;
    chord__merge_remember(n, now, addr);
    return 0;
}

void chord_node_leave(struct chord_node *n, uint64_t now)
{
    n->now = now;
    chord__member_leave(n, now);
}

/*
 * Every entry point starts here. An active node is entered at least every
 * heartbeat period (its tick), and far more often when busy; a longer
 * silence means the process stalled (a pause, a frozen process), and its
 * successor may have suspected it and served its range meanwhile: the
 * owner's read lease starts over (see read_lease.h).
 */
static void enter(struct chord_node *n, uint64_t now)
{
    if (n->last_entry_at && now > n->last_entry_at + n->cfg.heartbeat_ms +
                                      CHORD_LEASE_TICK_SLACK_MS)
        chord__lease_drop(n);
    if (now > n->last_entry_at)
        n->last_entry_at = now;
    n->now = now;
}

/* ------------------------------------------------------------------------ */
/* what arrives                                                             */

static void handle_client(struct chord_node *n, uint64_t now, uint64_t conn,
                          const struct chord_msg *m)
{
    if (m->type == CHORD_MSG_C_SCAN) {
        chord__scan_handle(n, now, conn, m);
        return;
    }
    if (m->type != CHORD_MSG_C_STATUS) {
        chord__coord_client(n, now, conn, m);
        return;
    }
    struct chord_msg *r = malloc(sizeof(*r));
    struct chord_status *st = malloc(sizeof(*st));
    if (r && st) {
        chord_msg_init(r, CHORD_MSG_C_STATUS_RESULT, m->req_id);
        n->metrics.status_served++;
        chord_node_status(n, st);
        r->status = CHORD_OK;
        r->status_in = st;
        chord__reply(n, conn, r);
    }
    free(st);
    free(r);
}

/* A peer-to-peer message (its sender is not us, unless it is a lookup). */
static void handle_peer(struct chord_node *n, uint64_t now,
                        const struct chord_msg *m)
{
    switch (m->type) {
    case CHORD_MSG_PING: {
        struct chord_msg *r = chord__msg(n, CHORD_MSG_PONG, m->req_id);
        if (r) {
            chord__send(n, m->from.addr, r);
            chord__msg_free(n, r);
        }
        break;
    }
    case CHORD_MSG_GET_NEIGHBORS: {
        struct chord_msg *r = chord__msg(n, CHORD_MSG_NEIGHBORS, m->req_id);
        if (r) {
            chord__ring_neighbors(n, &r->nb);
            chord__send(n, m->from.addr, r);
            chord__msg_free(n, r);
        }
        break;
    }
    case CHORD_MSG_RECTIFY:
        chord__ring_rectify(n, now, m);
        break;
    case CHORD_MSG_JOIN:
        chord__member_handle_join(n, now, m);
        break;
    case CHORD_MSG_FIND_SUCC:
        if (n->state == CHORD_NODE_INIT ||
            (n->state == CHORD_NODE_JOINING && n->rt.n_succ == 0))
            chord__lookup_refuse(n, now, m); /* cannot route yet */
        else
            chord__lookup_step(n, now, m);
        break;
    case CHORD_MSG_FOUND_SUCC:
        chord__lookup_answered(n, now, m);
        break;
    case CHORD_MSG_STORE_PUT:
    case CHORD_MSG_STORE_GET:
    case CHORD_MSG_STORE_DEL:
    case CHORD_MSG_STORE_RESTORE:
    case CHORD_MSG_STORE_APPEND:
    case CHORD_MSG_STORE_LOCK:
        chord__coord_store(n, now, m);
        break;
    case CHORD_MSG_TRANSFER:
        if (chord__transfer_receive(n, now, m) == 0)
            chord__member_transfer_received(n, now, m);
        break;
    case CHORD_MSG_LEAVE:
        /* Its history goes; its dead window (set below) stays. */
        chord_fd_forget(&n->fd, m->from.addr);
        chord__member_handle_leave(n, now, m);
        break;
    case CHORD_MSG_REPLICA_GET:
        chord__replica_handle_get(n, m);
        break;
    case CHORD_MSG_MERGE:
        chord__merge_handle(n, now, m);
        break;
    case CHORD_MSG_SYNC:
        if (n->state == CHORD_NODE_ACTIVE)
            chord__sync_handle(n, now, m);
        break;
    default: /* PONG, NEIGHBORS, JOIN_ACK, STORE_RESULT, *_ACK, SYNC_REPLY */
        handle_answer(n, now, m);
        break;
    }
}

int chord_node_receive(struct chord_node *n, uint64_t now, uint64_t conn,
                       const uint8_t *frame, size_t len)
{
    enter(n, now);
    /* receive is not re-entered: the buffer may be shared (node.h) */
    struct chord_msg *m = n->in ? n->in : n->io.scratch;
    m->status_out = NULL;
    ssize_t used = chord_msg_decode(frame, len, m);
    if (used != (ssize_t)len) {
        chord__log(n, CHORD_LOG_WARN,
                   "malformed frame of %zu bytes on connection %llu", len,
                   (unsigned long long)conn);
        return -EPROTO;
    }
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return 0;
    if (chord_msg_is_client_request(m->type)) {
        handle_client(n, now, conn, m);
        return 0;
    }
    if (m->type >= CHORD_MSG_C_PUT) {
        /* a reply type that only clients receive */
        chord__log(n, CHORD_LOG_WARN, "unexpected %s on connection %llu",
                   chord_msg_type_name(m->type), (unsigned long long)conn);
        return -EPROTO;
    }
    if (chord__is_self(n, &m->from) && m->type != CHORD_MSG_FIND_SUCC) {
        /* Only a lookup may come back to its origin; anything else
         * claiming to be from us is ignored. */
        return 0;
    }
    chord__log(n, CHORD_LOG_DEBUG, "%s from %s", chord_msg_type_name(m->type),
               m->from.addr);
    switch (m->type) {
    case CHORD_MSG_LEAVE:     /* it is going: forgotten below */
    case CHORD_MSG_FIND_SUCC: /* `from` is the origin, maybe far away */
    case CHORD_MSG_MERGE:     /* likewise */
    case CHORD_MSG_PONG:      /* answers: handle_answer hears them */
    case CHORD_MSG_NEIGHBORS:
    case CHORD_MSG_JOIN_ACK:
    case CHORD_MSG_STORE_RESULT:
    case CHORD_MSG_TRANSFER_ACK:
    case CHORD_MSG_LEAVE_ACK:
    case CHORD_MSG_SYNC_REPLY:
        break;
    default: /* it spoke: it is alive */
        chord__peer_heard(n, m->from.addr, -1, now);
    }
    handle_peer(n, now, m);
    return 0;
}

void chord_node_persisted(struct chord_node *n, uint64_t now, uint64_t seq)
{
    enter(n, now);
    if (chord__commit_persisted(n, seq))
        chord__replica_persisted(n, now);
}

void chord_node_set_wall_clock(struct chord_node *n, uint64_t now,
                               uint64_t wall_ms)
{
    n->wall_offset = (int64_t)(wall_ms - now);
}

int chord_node_restore(struct chord_node *n, const uint8_t *rec, size_t len)
{
    struct chord_item it;
    if (chord_item_decode(rec, len, &it) != 0)
        return -EPROTO;
    if (it.version.counter > n->commit.lamport)
        n->commit.lamport = it.version.counter;
    int rc = chord_store_apply(n->store, &it);
    if (rc == 1)
        chord__stamp_tombstone(n, it.key.data, it.key.len);
    if (rc >= 0 && it.has_origin)
        chord__dedup_record(n->dedup, &it.origin, n->now);
    return rc < 0 ? rc : 0;
}

void chord_node_unreachable(struct chord_node *n, uint64_t now,
                            const char *addr)
{
    enter(n, now);
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return;
    chord__log(n, CHORD_LOG_DEBUG, "%s is unreachable", addr);
    chord__peer_dead(n, addr, now);
    chord_fd_unreachable(&n->fd, addr, now);
    /* Fail every request in flight to that address, oldest first. */
    uint64_t last = n->peer.rpcs.next_id; /* not those that failing starts */
    for (uint64_t id = n->peer.rpcs.first_id; id < last; id++) {
        struct rpc *rp = chord_seq_find(&n->peer.rpcs, id);
        if (!rp || strcmp(rp->peer.addr, addr) != 0)
            continue;
        struct rpc r = *rp;
        chord_seq_finish(&n->peer.rpcs, rp);
        n->metrics.rpc_unreachable++;
        settle(n, now, &r, NULL, "unreachable");
        if (n->state == CHORD_NODE_FAILED)
            return;
    }
    /* Route around it from now on (the predecessor is only replaced by
     * rectify), and send the lookups it may have lost on another way. */
    chord__ring_route_around(n, now, addr);
    chord__lookup_reroute(n, now, addr);
}

unsigned chord_node_flush(struct chord_node *n, uint64_t now)
{
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return 0;
    return chord__replica_flush(n, now);
}

/* ------------------------------------------------------------------------ */
/* time                                                                     */

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t chord_node_next_deadline(const struct chord_node *n)
{
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return UINT64_MAX;
    uint64_t t = chord__ring_deadline(n);
    t = min64(t, chord__replica_deadline(n));
    t = min64(t, chord__sync_deadline(n));
    t = min64(t, chord__member_deadline(n));
    t = min64(t, chord__coord_deadline(n));
    t = min64(t, chord__merge_deadline(n));
    /* The head of the request queue expires first (one timeout for all). */
    const struct rpc *r = chord_seq_peek(&n->peer.rpcs);
    if (r)
        t = min64(t, r->deadline);
    return t;
}

void chord_node_tick(struct chord_node *n, uint64_t now)
{
    enter(n, now);
    if (n->state == CHORD_NODE_LEFT || n->state == CHORD_NODE_FAILED)
        return;

    /* Requests that timed out. */
    struct rpc *rp;
    while ((rp = chord_seq_head(&n->peer.rpcs)) != NULL &&
           rp->deadline <= now) {
        struct rpc r = *rp;
        chord_seq_finish(&n->peer.rpcs, rp);
        /* A peer asked directly for data that did not answer is avoided
         * for a while; probes (stabilize candidates) are simply retried
         * later, and lookups do not say which hop failed. */
        if (r.kind == RPC_STORE || r.kind == RPC_JOIN)
            chord__peer_dead(n, r.peer.addr, now);
        n->metrics.rpc_timeouts++;
        settle(n, now, &r, NULL, "timed out");
        if (n->state == CHORD_NODE_FAILED)
            return;
    }

    chord__coord_tick(n, now);
    chord__lookup_tick(n, now);
    chord__replica_tick(n, now);
    chord__sync_tick(n, now);
    chord__ring_tick(n, now);
    chord__merge_tick(n, now);
    chord__member_tick(n, now);
}

/* ------------------------------------------------------------------------ */
/* what the node shows                                                      */

enum chord_node_state chord_node_state(const struct chord_node *n)
{
    return n->state;
}

const struct chord_peer *chord_node_self(const struct chord_node *n)
{
    return &n->rt.self;
}

size_t chord_node_key_count(const struct chord_node *n)
{
    return chord_store_live(n->store);
}

const struct chord_routing *chord_node_routing(const struct chord_node *n)
{
    return &n->rt;
}

const struct chord_store *chord_node_store(const struct chord_node *n)
{
    return n->store;
}

void chord_node_status(const struct chord_node *n, struct chord_status *st)
{
    struct chord_store_entry ev;
    memset(st, 0, sizeof(*st));
    st->self = n->rt.self;
    st->state = (uint8_t)n->state;
    st->has_pred = n->rt.has_pred;
    if (n->rt.has_pred)
        st->pred = n->rt.pred;
    st->n_succ = (uint8_t)n->rt.n_succ;
    for (unsigned i = 0; i < n->rt.n_succ; i++)
        st->succ[i] = n->rt.succ[i];
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        const struct chord_peer *f = chord_routing_finger(&n->rt, i);
        if (!f)
            continue;
        chord_routing_finger_start(&n->rt, i,
                                   &st->fingers[st->n_fingers].start);
        st->fingers[st->n_fingers].node = *f;
        st->n_fingers++;
    }
    st->keys = chord_store_live(n->store);
    st->replicas = (uint8_t)n->cfg.replicas;
    st->durability = n->cfg.durability;
    st->status_served = n->metrics.status_served;
    size_t cur = 0;
    const struct chord_store_entry *e;
    while ((e = chord_store_next(n->store, &cur, &ev)) != NULL)
        if (!e->tombstone && chord_routing_owns(&n->rt, &e->key_id))
            st->primary_keys++;
    /* Every peer the failure detector monitors (successors, predecessor),
     * and those it declared dead that are still in their dead window (no
     * longer monitored: routing dropped them), so a reader sees the
     * verdict and not only the silence after it. */
    for (unsigned i = 0; i < n->fd.n_slots && st->n_peers < CHORD_PEERS_MAX;
         i++) {
        const struct chord_fd_peer *p = &n->fd.peers[i];
        bool shunned =
            p->addr[0] && p->state == CHORD_PEER_DEAD && p->dead_until > n->now;
        if (!p->monitored && !shunned)
            continue;
        struct chord_peer_info *pi = &st->peers[st->n_peers++];
        memset(pi, 0, sizeof(*pi));
        memcpy(pi->addr, p->addr, CHORD_ADDR_MAX);
        pi->state = p->state;
        pi->rtt_ms = p->rtt_known ? (uint32_t)(p->srtt_ms + 0.5) : 0;
        pi->timeout_ms = chord_fd_timeout(&n->fd, p);
        pi->false_suspicions = p->false_suspicions;
    }
}
