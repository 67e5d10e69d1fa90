/*
 * peer.c - messages out, requests in flight, and the dead-peer rule (see
 * peer.h). Everything here sits below every other part of the node: it
 * calls only the failure detector, the codec and the request queue.
 *
 * Pure: no I/O, no clock.
 */
#include "core/peer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/node_internal.h"

void chord__peers_init(struct chord_peers *p)
{
    chord_seq_init(&p->rpcs, sizeof(struct rpc));
    chord_buf_init(&p->own);
    p->out = &p->own;
    p->spare = NULL;
}

void chord__peers_free(struct chord_peers *p)
{
    chord_seq_free(&p->rpcs);
    chord_buf_free(&p->own);
    free(p->spare);
    p->spare = NULL;
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

void chord__log(struct chord_node *n, int level, const char *fmt, ...)
{
    if (!n->io.log || level > n->cfg.log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n->io.log(n->io.ctx, level, line);
}

uint64_t chord__random(struct chord_node *n)
{
    /* splitmix64 */
    uint64_t z = (n->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t chord__jitter(struct chord_node *n, uint32_t period)
{
    uint64_t half = period / 2 ? period / 2 : 1;
    return period - period / 4 + chord__random(n) % half;
}

const char *chord__short_id(const struct chord_id *id, char buf[9])
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    memcpy(buf, hex, 8);
    buf[8] = '\0';
    return buf;
}

bool chord__is_self(const struct chord_node *n, const struct chord_peer *p)
{
    return chord_id_eq(&p->id, &n->rt.self.id);
}

bool chord__peer_same(const struct chord_peer *a, const struct chord_peer *b)
{
    return chord_id_eq(&a->id, &b->id) && strcmp(a->addr, b->addr) == 0;
}

int chord_peer_from_addr(struct chord_peer *p, const char *addr)
{
    size_t len = strlen(addr);
    if (len == 0 || len >= CHORD_ADDR_MAX)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    memcpy(p->addr, addr, len);
    chord_id_hash(&p->id, addr, len);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* dead peers                                                               */

void chord__peer_dead(struct chord_node *n, const char *addr, uint64_t now)
{
    chord_fd_dead_until(&n->fd, addr, now, now + CHORD_PEER_DEAD_MS);
}

bool chord__is_dead(const struct chord_node *n, const char *addr, uint64_t now)
{
    return chord_fd_is_dead(&n->fd, addr, now);
}

bool chord__usable(const struct chord_node *n, const char *addr, uint64_t now)
{
    return !chord__is_dead(n, addr, now) && chord_fd_usable(&n->fd, addr);
}

bool chord__usable_filter(void *ctx, const struct chord_peer *p)
{
    const struct chord_usable_ctx *u = ctx;
    return chord__usable(u->n, p->addr, u->now);
}

void chord__peer_heard(struct chord_node *n, const char *addr, int64_t rtt_ms,
                       uint64_t now)
{
    const struct chord_fd_peer *p = chord_fd_find(&n->fd, addr);
    bool restarted = p && p->state == CHORD_PEER_DEAD && p->refused;
    if (!chord_fd_heard(&n->fd, addr, rtt_ms, now))
        return;
    if (n->io.reconnect) /* its connection may be stuck: start afresh */
        n->io.reconnect(n->io.ctx, addr);
    p = chord_fd_find(&n->fd, addr);
    if (restarted)
        chord__log(n, CHORD_LOG_INFO, "%s is back (it had been unreachable)",
                   addr);
    else
        n->metrics.false_suspicions++;
    if (!restarted)
        chord__log(n, CHORD_LOG_WARN,
                   "%s is alive after all: false suspicion #%u, timeout now "
                   "%u ms",
                   addr, p ? p->false_suspicions : 0,
                   p ? chord_fd_timeout(&n->fd, p) : 0);
}

/* ------------------------------------------------------------------------ */
/* messages out                                                             */

/* Encode m into the scratch buffer; false (logged) if it cannot be. */
static bool encode_out(struct chord_node *n, const struct chord_msg *m,
                       const char *to)
{
    struct chord_buf *out = n->peer.out;
    chord_buf_reset(out);
    int rc = chord_msg_encode(m, out);
    if (rc)
        chord__log(n, CHORD_LOG_ERROR, "cannot encode %s for %s: %s",
                   chord_msg_type_name(m->type), to, strerror(-rc));
    return rc == 0;
}

void chord__send(struct chord_node *n, const char *addr,
                 const struct chord_msg *m)
{
    if (encode_out(n, m, addr))
        n->io.send(n->io.ctx, addr, n->peer.out->data, n->peer.out->len);
}

void chord__reply(struct chord_node *n, uint64_t conn,
                  const struct chord_msg *m)
{
    if (encode_out(n, m, "a client"))
        n->io.reply(n->io.ctx, conn, n->peer.out->data, n->peer.out->len);
}

struct chord_msg *chord__msg(struct chord_node *n, uint8_t type, uint64_t req)
{
    struct chord_msg *m = n->peer.spare;
    if (m)
        n->peer.spare = NULL;
    else if (!(m = malloc(sizeof(*m))))
        return NULL;
    chord_msg_init(m, type, req);
    m->from = n->rt.self;
    return m;
}

void chord__msg_free(struct chord_node *n, struct chord_msg *m)
{
    if (m && !n->peer.spare)
        n->peer.spare = m;
    else
        free(m);
}

uint64_t chord__rpc_record(struct chord_node *n, uint64_t now, uint8_t kind,
                           const struct chord_peer *to, uint64_t arg,
                           chord_found_fn found)
{
    struct rpc *r = chord_seq_push(&n->peer.rpcs);
    if (!r)
        return 0;
    r->kind = kind;
    r->deadline = now + n->cfg.rpc_timeout_ms;
    r->sent_at = now;
    r->peer = *to;
    r->arg = arg;
    r->found = found;
    return r->h.id;
}

uint64_t chord__rpc(struct chord_node *n, uint64_t now, uint8_t kind,
                    const struct chord_peer *to, uint64_t arg,
                    struct chord_msg *m)
{
    uint64_t id = chord__rpc_record(n, now, kind, to, arg, NULL);
    if (!id) {
        chord__log(n, CHORD_LOG_ERROR, "out of memory for a request to %s",
                   to->addr);
        return 0;
    }
    m->req_id = id;
    chord__send(n, to->addr, m);
    n->metrics.rpcs_sent++;
    return id;
}

uint8_t chord__rpc_answer_type(uint8_t kind)
{
    switch (kind) {
    case RPC_STAB_SUCC:
    case RPC_STAB_CAND:
    case RPC_PNS_NB:
        return CHORD_MSG_NEIGHBORS;
    case RPC_PRED_PING:
    case RPC_HEARTBEAT:
    case RPC_PNS_PROBE:
    case RPC_MERGE_PROBE:
        return CHORD_MSG_PONG;
    case RPC_JOIN:
        return CHORD_MSG_JOIN_ACK;
    case RPC_LEAVE:
        return CHORD_MSG_LEAVE_ACK;
    case RPC_STORE:
    case RPC_REPLICA_GET:
        return CHORD_MSG_STORE_RESULT;
    case RPC_TRANSFER:
    case RPC_REPLICATE:
    case RPC_REPAIR:
        return CHORD_MSG_TRANSFER_ACK;
    case RPC_SYNC:
        return CHORD_MSG_SYNC_REPLY;
    default: /* lookups: answered by FOUND_SUCC, see lookup.c */
        return CHORD_MSG_FOUND_SUCC;
    }
}

bool chord__rpc_take(struct chord_node *n, uint64_t id, struct rpc *out)
{
    struct rpc *r = chord_seq_find(&n->peer.rpcs, id);
    if (!r)
        return false;
    *out = *r;
    chord_seq_finish(&n->peer.rpcs, r);
    return true;
}
