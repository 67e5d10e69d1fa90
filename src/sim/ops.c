/*
 * ops.c - client operations issued through the simulator: put, get, del
 * and lookup sent to a node as by a client on the same host.
 *
 * Design. A request gets a slot in a table and a connection number
 * conn = (slot generation << 32 | slot); node-to-node frames carry
 * SIM_PEER_CONN instead, so the two can never be confused. The request
 * frame is delivered at once (a CLIENT event: no latency, no loss), the
 * node's reply is queued as a REPLY event at the current time and decoded
 * there, and a TIMEOUT event ends requests that get no reply; a RESET
 * ends those whose node went down. Callbacks run from the event loop
 * only, never from inside a node's entry point. A slot's generation
 * changes before the slot is used again, so a stale event finds nothing.
 *
 * Caps: CHORD_SIM_REQUESTS_MAX requests in flight.
 *
 * It does not run the simulation (the blocking helpers in api.c do) and
 * calls only heap.c.
 */
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "core/wire.h"
#include "sim/sim_internal.h"

#define SIM_REQ_GEN_MAX 0x7fffffffu

struct sim_request {
    bool used;
    uint8_t op;   /* enum chord_sim_op */
    uint32_t gen; /* 1..SIM_REQ_GEN_MAX, part of the conn number */
    uint32_t node;
    uint32_t next_free; /* free list link while unused */
    chord_sim_reply_fn cb;
    void *arg;
    uint64_t sent_ms;
};

void chord_sim__ops_reply(void *ctx, uint64_t conn, const uint8_t *frame,
                          size_t len)
{
    struct sim_node *sn = ctx;
    struct chord_sim *sim = sn->sim;
    if (conn & SIM_PEER_CONN) {
        sim->stats.stray_replies++;
        return;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        sim->stats.dropped++;
        return;
    }
    memcpy(copy, frame, len);
    chord_sim__schedule(sim, sim->now, EV_REPLY, sn->index, sn->index, conn,
                        copy, len);
}

static struct sim_request *req_find(struct chord_sim *sim, uint64_t conn)
{
    if (conn & SIM_PEER_CONN)
        return NULL;
    uint32_t slot = (uint32_t)conn;
    if (slot >= sim->reqs_len)
        return NULL;
    struct sim_request *r = &sim->reqs[slot];
    if (!r->used || r->gen != (uint32_t)(conn >> 32))
        return NULL;
    return r;
}

/* Free request `r` and hand `reply` to its callback. */
static void req_complete(struct chord_sim *sim, struct sim_request *r,
                         struct chord_sim_reply *reply)
{
    chord_sim_reply_fn cb = r->cb;
    void *arg = r->arg;
    reply->sent_ms = r->sent_ms;
    reply->done_ms = sim->now;
    uint32_t slot = (uint32_t)(r - sim->reqs);
    r->used = false;
    r->cb = NULL;
    r->next_free = sim->free_head;
    sim->free_head = slot;
    sim->in_callback++;
    cb(arg, reply); /* may queue requests: r may move */
    sim->in_callback--;
}

static void req_fail(struct chord_sim *sim, struct sim_request *r, int err)
{
    struct chord_sim_reply *reply = calloc(1, sizeof *reply);
    if (!reply) {
        /* Nothing sensible is left: still free the slot. The callback
         * gets a minimal reply on the stack instead. */
        struct chord_sim_reply small;
        memset(&small, 0, sizeof small);
        small.err = err;
        req_complete(sim, r, &small);
        return;
    }
    reply->err = err;
    req_complete(sim, r, reply);
    free(reply);
}

/* Decode a node's reply for request r and complete it. */
static void sim_handle_reply(struct chord_sim *sim, struct sim_request *r,
                             uint64_t conn, const uint8_t *frame, size_t len)
{
    struct chord_msg *m = calloc(1, sizeof *m);
    struct chord_sim_reply *reply = calloc(1, sizeof *reply);
    if (!m || !reply) {
        free(m);
        free(reply);
        req_fail(sim, r, -ENOMEM);
        return;
    }
    uint8_t want = r->op == CHORD_SIM_LOOKUP ? CHORD_MSG_C_LOOKUP_RESULT
                                             : CHORD_MSG_C_RESULT;
    ssize_t n = chord_msg_decode(frame, len, m);
    if (n != (ssize_t)len || m->type != want || m->req_id != conn) {
        sim->stats.proto_errors++;
        reply->err = -EPROTO;
    } else {
        reply->status = m->status;
        memcpy(reply->error, m->error, sizeof reply->error);
        reply->error[sizeof reply->error - 1] = '\0';
        if (r->op == CHORD_SIM_GET && m->status == CHORD_OK) {
            reply->has_value = true;
            reply->value = m->value.data;
            reply->value_len = m->value.len;
        }
        if (r->op == CHORD_SIM_LOOKUP)
            reply->lookup = m->lookup;
        if (m->causal & CHORD_CAUSAL_STATE) {
            reply->state = m->state.data;
            reply->state_len = m->state.len;
        }
    }
    req_complete(sim, r, reply); /* the value borrows from `frame` */
    free(reply);
    free(m);
}

bool chord_sim__ops_arrive(struct chord_sim *sim, const struct sim_event *ev)
{
    struct sim_request *r = req_find(sim, ev->aux);
    if (!r)
        return false;
    struct sim_node *sn = sim->nodes[ev->dst];
    if (!sn->node) {
        req_fail(sim, r, -ECONNRESET);
        return false;
    }
    if (chord_node_receive(sn->node, sim->now, ev->aux, ev->data, ev->len) <
        0) {
        sim->stats.proto_errors++;
        req_fail(sim, r, -EPROTO);
    }
    return true;
}

void chord_sim__ops_event(struct chord_sim *sim, const struct sim_event *ev)
{
    struct sim_request *r = req_find(sim, ev->aux);
    if (ev->kind == EV_REPLY) {
        if (!r)
            sim->stats.stray_replies++;
        else
            sim_handle_reply(sim, r, ev->aux, ev->data, ev->len);
    } else if (r) {
        req_fail(sim, r, ev->kind == EV_TIMEOUT ? -ETIMEDOUT : -ECONNRESET);
    }
}

void chord_sim__ops_node_down(struct chord_sim *sim, uint32_t idx)
{
    for (uint32_t s = 0; s < sim->reqs_len; s++) {
        struct sim_request *r = &sim->reqs[s];
        if (r->used && r->node == idx)
            chord_sim__schedule(sim, sim->now, EV_RESET, idx, idx,
                                (uint64_t)r->gen << 32 | s, NULL, 0);
    }
}

int chord_sim_request(struct chord_sim *sim, int i, enum chord_sim_op op,
                      const void *key, size_t key_len, const void *value,
                      size_t value_len, chord_sim_reply_fn cb, void *arg)
{
    return chord_sim_request_causal(sim, i, op, key, key_len, value, value_len,
                                    NULL, cb, arg);
}

int chord_sim_request_causal(struct chord_sim *sim, int i, enum chord_sim_op op,
                             const void *key, size_t key_len, const void *value,
                             size_t value_len,
                             const struct chord_sim_causal *causal,
                             chord_sim_reply_fn cb, void *arg)
{
    static const uint8_t types[] = {
        [CHORD_SIM_PUT] = CHORD_MSG_C_PUT,
        [CHORD_SIM_GET] = CHORD_MSG_C_GET,
        [CHORD_SIM_DEL] = CHORD_MSG_C_DEL,
        [CHORD_SIM_LOOKUP] = CHORD_MSG_C_LOOKUP,
    };
    struct sim_node *sn;
    int rc = chord_sim__live(sim, i, &sn);
    if (rc)
        return rc;
    if (!cb || (unsigned)op > CHORD_SIM_LOOKUP)
        return -EINVAL;
    if (key_len > CHORD_KEY_MAX ||
        (op == CHORD_SIM_PUT && value_len > CHORD_VALUE_MAX))
        return -EMSGSIZE;

    /* A slot: from the free list, else a new one. */
    uint32_t slot = sim->free_head;
    if (slot == SIM_NO_SLOT) {
        if (sim->reqs_len >= CHORD_SIM_REQUESTS_MAX)
            return -EBUSY;
        if (sim->reqs_len == sim->reqs_cap) {
            uint32_t cap = sim->reqs_cap ? sim->reqs_cap * 2 : 64;
            struct sim_request *v = realloc(sim->reqs, cap * sizeof *v);
            if (!v)
                return -ENOMEM;
            sim->reqs = v;
            sim->reqs_cap = cap;
        }
        slot = sim->reqs_len;
        memset(&sim->reqs[slot], 0, sizeof sim->reqs[slot]);
        sim->reqs_len++;
    } else {
        sim->free_head = sim->reqs[slot].next_free;
    }
    struct sim_request *r = &sim->reqs[slot];
    r->gen = r->gen % SIM_REQ_GEN_MAX + 1;
    uint64_t conn = (uint64_t)r->gen << 32 | slot;

    struct chord_msg *m = calloc(1, sizeof *m);
    struct chord_buf buf;
    chord_buf_init(&buf);
    rc = -ENOMEM;
    if (m) {
        chord_msg_init(m, types[op], conn);
        m->key.data = key;
        m->key.len = key_len;
        if (op == CHORD_SIM_PUT) {
            m->value.data = value;
            m->value.len = value_len;
        }
        if (causal && op != CHORD_SIM_LOOKUP) {
            m->causal = (uint8_t)(causal->bits | CHORD_CAUSAL_WANT);
            m->context.data = causal->context;
            m->context.len = causal->context_len;
            m->session.data = causal->session;
            m->session.len = causal->session_len;
            m->ttl_s = causal->ttl_s;
            m->consistency = causal->consistency;
        }
        rc = chord_msg_encode(m, &buf);
        free(m);
    }
    if (rc == 0)
        rc = chord_sim__schedule(sim, sim->now + sim->cfg.client_timeout_ms,
                                 EV_TIMEOUT, sn->index, sn->index, conn, NULL,
                                 0);
    if (rc == 0) {
        rc = chord_sim__schedule(sim, sim->now, EV_CLIENT, sn->index, sn->index,
                                 conn, buf.data, buf.len);
        buf.data = NULL; /* taken, even on error */
        /* On error the TIMEOUT event left behind is stale: the slot's
         * generation changes before the slot is used again. */
    }
    chord_buf_free(&buf);
    if (rc) {
        r->next_free = sim->free_head;
        sim->free_head = slot;
        return rc == -ENOSPC ? -ENOMEM : rc;
    }
    r->used = true;
    r->op = (uint8_t)op;
    r->node = sn->index;
    r->cb = cb;
    r->arg = arg;
    r->sent_ms = sim->now;
    return 0;
}
