/*
 * node_net.c - the hand-driven network of protocol cores the node-level
 * unit tests share (see node_net.h).
 *
 * Frames are queued in send order and delivered in that order by pump();
 * a frame to a refused node (or to an address no node holds) makes the
 * sender's host report the address unreachable when it is delivered, as
 * a refused connection would. Client replies are decoded at once into
 * net->last_reply (its value copied, at most 64 bytes).
 *
 * Test code: asserts only the harness's own invariants; no test logic.
 */
#include "node_net.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

int net_index(struct net *net, const char *addr)
{
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->addr[i], addr) == 0)
            return i;
    return -1;
}

static void io_send(void *ctx, const char *addr, const uint8_t *frame,
                    size_t len)
{
    struct ioctx *c = ctx;
    struct net *net = c->net;
    assert_true(net->qlen < QMAX);
    assert_string_not_equal(addr, net->addr[c->self]);
    struct frame *f = &net->q[net->qlen++];
    f->to = net_index(net, addr);
    snprintf(f->addr, sizeof(f->addr), "%s", addr);
    f->data = malloc(len);
    assert_non_null(f->data);
    memcpy(f->data, frame, len);
    f->len = len;
    f->conn = (uint64_t)c->self; /* remember the sender */
    if (len > 5)
        net->sent[frame[5]]++; /* u32 length, u8 version, u8 type */
    if (f->to >= 0)
        net->link_sent[c->self][f->to]++;
}

static void io_reply(void *ctx, uint64_t conn, const uint8_t *frame, size_t len)
{
    struct ioctx *c = ctx;
    (void)conn;
    struct net *net = c->net;
    free(net->reply_frame); /* kept whole for the items of a scan page */
    net->reply_frame = malloc(len);
    assert_non_null(net->reply_frame);
    memcpy(net->reply_frame, frame, len);
    net->last_reply.status_out = NULL;
    assert_int_equal(chord_msg_decode(net->reply_frame, len, &net->last_reply),
                     (ssize_t)len);
    size_t vl = net->last_reply.value.len;
    if (vl > sizeof(net->reply_value))
        vl = sizeof(net->reply_value);
    if (vl)
        memcpy(net->reply_value, net->last_reply.value.data, vl);
    net->last_reply.value.data = net->reply_value;
    net->replies++;
}

static void io_log(void *ctx, int level, const char *line)
{
    struct ioctx *c = ctx;
    if (getenv("NODE_LOG"))
        fprintf(stderr, "[%llu] %s L%d %s\n", (unsigned long long)c->net->now,
                c->net->addr[c->self], level, line);
}

struct chord_id small_id(uint8_t v)
{
    struct chord_id id;
    memset(&id, 0, sizeof(id));
    id.b[0] = v;
    return id;
}

uint8_t pos_of(const struct chord_peer *p)
{
    return p->id.b[0];
}

int add_node(struct net *net, uint8_t pos)
{
    return add_node_r(net, pos, 1); /* the ring tests: one copy per key */
}

int add_node_r(struct net *net, uint8_t pos, unsigned replicas)
{
    assert_true(net->n < MAXN);
    int i = net->n++;
    snprintf(net->addr[i], CHORD_ADDR_MAX, "127.0.0.1:%d", 9000 + pos);
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.self.id = small_id(pos);
    snprintf(cfg.self.addr, CHORD_ADDR_MAX, "%s", net->addr[i]);
    cfg.successors = 3;
    cfg.replicas = replicas;
    cfg.seed = pos;
    if (net->tune)
        net->tune(&cfg);
    net->ctx[i].net = net;
    net->ctx[i].self = i;
    struct chord_node_io io = {
        .ctx = &net->ctx[i], .send = io_send, .reply = io_reply, .log = io_log};
    assert_int_equal(chord_node_new(&cfg, &io, net->now, &net->node[i]), 0);
    return i;
}

/* What becomes of frame f from node `from` on its way. */
static enum net_fate fate(struct net *net, int from, const struct frame *f)
{
    if (f->to < 0 || net->refused[f->to])
        return NET_REFUSE;
    enum net_fate x = NET_DELIVER;
    if (net->fault && f->len > 5)
        x = net->fault(net, from, f->to, f->data[5]);
    if (x == NET_DELIVER &&
        (net->down[f->to] || !net->node[f->to] || net->cut[from][f->to]))
        x = NET_LOSE;
    return x;
}

void pump(struct net *net)
{
    for (int rounds = 0; rounds < 10000 && net->qlen > 0; rounds++) {
        struct frame f = net->q[0];
        memmove(&net->q[0], &net->q[1], (size_t)(net->qlen - 1) * sizeof(f));
        net->qlen--;
        int from = (int)f.conn;
        enum net_fate x = fate(net, from, &f);
        if (x == NET_REFUSE) {
            if (net->node[from])
                chord_node_unreachable(net->node[from], net->now, f.addr);
        } else if (x == NET_DELIVER) {
            int rc = chord_node_receive(net->node[f.to], net->now, 1000 + from,
                                        f.data, f.len);
            assert_int_equal(rc, 0);
            if (!net->hold) /* one frame, one turn of its host */
                chord_node_flush(net->node[f.to], net->now);
        }
        free(f.data);
    }
    assert_int_equal(net->qlen, 0);
}

void run_for(struct net *net, uint64_t ms)
{
    uint64_t end = net->now + ms;
    while (net->now < end) {
        net->now += 10;
        for (int i = 0; i < net->n; i++)
            if (net->node[i] && !net->down[i] && !net->refused[i] &&
                chord_node_next_deadline(net->node[i]) <= net->now)
                chord_node_tick(net->node[i], net->now);
        pump(net);
    }
}

void net_free(struct net *net)
{
    for (int i = 0; i < net->n; i++)
        chord_node_free(net->node[i]);
    for (int i = 0; i < net->qlen; i++)
        free(net->q[i].data);
    free(net->reply_frame);
    free(net);
}

struct net *net_new(void)
{
    struct net *net = calloc(1, sizeof(*net));
    assert_non_null(net);
    net->now = 1000;
    return net;
}

const struct chord_routing *rt(struct net *net, int i)
{
    return chord_node_routing(net->node[i]);
}

void client_msg(struct net *net, int i, const struct chord_msg *m)
{
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_msg_encode(m, &b), 0);
    int before = net->replies;
    assert_int_equal(
        chord_node_receive(net->node[i], net->now, 1, b.data, b.len), 0);
    chord_buf_free(&b);
    if (!net->hold)
        chord_node_flush(net->node[i], net->now);
    for (int k = 0; k < 1000 && net->replies == before; k++)
        run_for(net, 10);
    assert_int_equal(net->replies, before + 1);
}

void client_c(struct net *net, int i, uint8_t type, const char *key,
              const char *value, uint8_t consistency)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, type, 77);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    if (value) {
        m->value.data = (const uint8_t *)value;
        m->value.len = strlen(value);
    }
    m->consistency = consistency;
    client_msg(net, i, m);
    free(m);
}

void client(struct net *net, int i, uint8_t type, const char *key,
            const char *value)
{
    client_c(net, i, type, key, value, CHORD_CONSISTENCY_DEFAULT);
}

int deliver(struct net *net, int i, const struct chord_msg *m)
{
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_msg_encode(m, &b), 0);
    int rc = chord_node_receive(net->node[i], net->now, 5, b.data, b.len);
    chord_buf_free(&b);
    if (!net->hold)
        chord_node_flush(net->node[i], net->now);
    return rc;
}

int queued(struct net *net, int from, int to, uint8_t type,
           struct chord_msg *out)
{
    for (int k = 0; k < net->qlen; k++) {
        const struct frame *f = &net->q[k];
        if ((int)f->conn != from || f->to != to || f->len <= 5 ||
            f->data[5] != type)
            continue;
        out->status_out = NULL;
        assert_int_equal(chord_msg_decode(f->data, f->len, out),
                         (ssize_t)f->len);
        return k;
    }
    return -1;
}

struct net *ring_tuned(const uint8_t *pos, int n, unsigned replicas,
                       net_tune_fn tune)
{
    struct net *net = net_new();
    net->tune = tune;
    for (int i = 0; i < n; i++)
        add_node_r(net, pos[i], replicas);
    chord_node_create(net->node[0], net->now);
    for (int i = 1; i < n; i++) {
        assert_int_equal(chord_node_join(net->node[i], net->now, net->addr[0]),
                         0);
        run_for(net, 600);
        assert_int_equal(chord_node_state(net->node[i]), CHORD_NODE_ACTIVE);
    }
    run_for(net, 3000);
    return net;
}

struct net *ring_r(const uint8_t *pos, int n, unsigned replicas)
{
    return ring_tuned(pos, n, replicas, NULL);
}

struct net *ring(const uint8_t *pos, int n)
{
    return ring_r(pos, n, 1);
}

uint8_t owner_pos(const uint8_t *pos, int n, const struct chord_id *id)
{
    uint8_t want = 255, min = 255;
    for (int i = 0; i < n; i++) {
        if (pos[i] < min)
            min = pos[i];
        if (pos[i] > id->b[0] && pos[i] < want)
            want = pos[i];
    }
    return want == 255 ? min : want;
}

void key_owned_by(const uint8_t *pos, int n, uint8_t owner, char *key,
                  size_t len)
{
    for (int k = 0;; k++) {
        snprintf(key, len, "key%d", k);
        struct chord_id id;
        chord_id_hash(&id, key, strlen(key));
        if (owner_pos(pos, n, &id) == owner)
            return;
    }
}
