/*
 * test_node.c - the ring rules of the protocol core, one at a time.
 *
 * A hand-driven "network": every frame a node sends is queued; the test
 * delivers the queue in order (pump), or drops frames to chosen addresses
 * to play a dead or frozen peer. Time only moves when the test says so.
 * Node ids are chosen explicitly on a small circle (the value sits in the
 * top byte) so the expected ring is obvious from the numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "core/routing.h"
#include "core/store.h"
#include "core/wire.h"

#define MAXN 8
#define QMAX 4096

struct frame {
    int to;        /* node index, or -1 for a client reply */
    uint64_t conn; /* client replies */
    char addr[CHORD_ADDR_MAX];
    uint8_t *data;
    size_t len;
};

struct net {
    struct chord_node *node[MAXN];
    char addr[MAXN][CHORD_ADDR_MAX];
    bool down[MAXN];    /* frames to it vanish (a frozen peer) */
    bool refused[MAXN]; /* frames to it bounce as unreachable */
    int n;
    uint64_t now;
    struct frame q[QMAX];
    int qlen;
    /* client replies captured */
    struct chord_msg last_reply;
    uint8_t reply_value[64];
    int replies;
    unsigned sent[256]; /* frames sent, by message type */
};

static bool owner_reads = true; /* given to the nodes add_node_r makes */

struct ioctx {
    struct net *net;
    int self;
};
static struct ioctx ctxs[MAXN];

static int index_of(struct net *net, const char *addr)
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
    f->to = index_of(net, addr);
    snprintf(f->addr, sizeof(f->addr), "%s", addr);
    f->data = malloc(len);
    memcpy(f->data, frame, len);
    f->len = len;
    f->conn = (uint64_t)c->self; /* remember the sender */
    if (len > 5)
        net->sent[frame[5]]++; /* u32 length, u8 version, u8 type */
}

static void io_reply(void *ctx, uint64_t conn, const uint8_t *frame, size_t len)
{
    struct ioctx *c = ctx;
    (void)conn;
    struct net *net = c->net;
    net->last_reply.status_out = NULL;
    assert_int_equal(chord_msg_decode(frame, len, &net->last_reply),
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

/* An id whose top byte is v: a point on a 256-slot circle. */
static struct chord_id small_id(uint8_t v)
{
    struct chord_id id;
    memset(&id, 0, sizeof(id));
    id.b[0] = v;
    return id;
}

static int add_node_r(struct net *net, uint8_t pos, unsigned replicas);

static int add_node(struct net *net, uint8_t pos)
{
    return add_node_r(net, pos, 1); /* the ring tests: one copy per key */
}

static int add_node_r(struct net *net, uint8_t pos, unsigned replicas)
{
    int i = net->n++;
    snprintf(net->addr[i], CHORD_ADDR_MAX, "127.0.0.1:%d", 9000 + pos);
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.self.id = small_id(pos);
    snprintf(cfg.self.addr, CHORD_ADDR_MAX, "%s", net->addr[i]);
    cfg.successors = 3;
    cfg.replicas = replicas;
    cfg.seed = pos;
    cfg.owner_reads = owner_reads;
    ctxs[i].net = net;
    ctxs[i].self = i;
    struct chord_node_io io = {&ctxs[i], io_send, io_reply, io_log, NULL};
    assert_int_equal(chord_node_new(&cfg, &io, net->now, &net->node[i]), 0);
    return i;
}

/* Deliver queued frames in order until none are left (bounded). */
static void pump(struct net *net)
{
    for (int rounds = 0; rounds < 10000 && net->qlen > 0; rounds++) {
        struct frame f = net->q[0];
        memmove(&net->q[0], &net->q[1], (size_t)(net->qlen - 1) * sizeof(f));
        net->qlen--;
        int from = (int)f.conn;
        if (f.to < 0 || net->refused[f.to]) {
            if (net->node[from])
                chord_node_unreachable(net->node[from], net->now, f.addr);
        } else if (!net->down[f.to] && net->node[f.to]) {
            int rc = chord_node_receive(net->node[f.to], net->now, 1000 + from,
                                        f.data, f.len);
            assert_int_equal(rc, 0);
        }
        free(f.data);
    }
    assert_int_equal(net->qlen, 0);
}

/* Advance time in steps, ticking every node and delivering traffic. */
static void run_for(struct net *net, uint64_t ms)
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

static void net_free(struct net *net)
{
    for (int i = 0; i < net->n; i++)
        chord_node_free(net->node[i]);
    for (int i = 0; i < net->qlen; i++)
        free(net->q[i].data);
    free(net);
}

static struct net *net_new(void)
{
    struct net *net = calloc(1, sizeof(*net));
    assert_non_null(net);
    net->now = 1000;
    return net;
}

static const struct chord_routing *rt(struct net *net, int i)
{
    return chord_node_routing(net->node[i]);
}

static uint8_t pos_of(const struct chord_peer *p)
{
    return p->id.b[0];
}

/* Send a client request frame to node i and pump until the reply. */
static void client(struct net *net, int i, uint8_t type, const char *key,
                   const char *value)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    chord_msg_init(m, type, 77);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    if (value) {
        m->value.data = (const uint8_t *)value;
        m->value.len = strlen(value);
    }
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_msg_encode(m, &b), 0);
    int before = net->replies;
    assert_int_equal(
        chord_node_receive(net->node[i], net->now, 1, b.data, b.len), 0);
    chord_buf_free(&b);
    free(m);
    for (int k = 0; k < 1000 && net->replies == before; k++)
        run_for(net, 10);
    assert_int_equal(net->replies, before + 1);
}

/* A ring of nodes at the given positions, joined one by one. */
static struct net *ring_r(const uint8_t *pos, int n, unsigned replicas)
{
    struct net *net = net_new();
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

static struct net *ring(const uint8_t *pos, int n)
{
    return ring_r(pos, n, 1);
}

/* ------------------------------------------------------------------------ */

static void test_single_node_owns_everything(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 100);
    chord_node_create(net->node[0], net->now);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_ACTIVE);
    client(net, 0, CHORD_MSG_C_PUT, "k", "v");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    client(net, 0, CHORD_MSG_C_GET, "k", NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v", 1);
    client(net, 0, CHORD_MSG_C_LOOKUP, "k", NULL);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_LOOKUP_RESULT);
    assert_int_equal(net->last_reply.lookup.hops, 0);
    assert_string_equal(net->last_reply.lookup.owner.addr, net->addr[0]);
    client(net, 0, CHORD_MSG_C_GET, "missing", NULL);
    assert_int_equal(net->last_reply.status, CHORD_NOT_FOUND);
    net_free(net);
}

static void test_two_nodes_form_a_ring(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    assert_int_equal(rt(net, 0)->n_succ, 1);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 1)->succ[0]), 10);
    assert_true(rt(net, 0)->has_pred);
    assert_int_equal(pos_of(&rt(net, 0)->pred), 200);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 10);
    net_free(net);
}

static void test_ring_of_five_is_sorted(void **state)
{
    (void)state;
    const uint8_t pos[] = {50, 10, 200, 120, 90};
    const uint8_t sorted[] = {10, 50, 90, 120, 200};
    struct net *net = ring(pos, 5);
    for (int i = 0; i < 5; i++) {
        uint8_t me = pos[i];
        int k = 0;
        while (sorted[k] != me)
            k++;
        const struct chord_routing *r = rt(net, i);
        assert_int_equal(r->n_succ, 3);
        for (int j = 0; j < 3; j++)
            assert_int_equal(pos_of(&r->succ[j]), sorted[(k + 1 + j) % 5]);
        assert_int_equal(pos_of(&r->pred), sorted[(k + 4) % 5]);
    }
    net_free(net);
}

/* Rectify adopts a closer predecessor, ignores a farther one while the
 * current predecessor answers, and replaces it only once it fails. */
static void test_rectify_rules(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    int c = 2; /* node 200: its predecessor is 100 */
    assert_int_equal(pos_of(&rt(net, c)->pred), 100);

    /* A new node at 150 lies in (100, 200): adopted by rectify. */
    int b = add_node(net, 150);
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_RECTIFY, 0);
    m.from = *chord_node_self(net->node[b]);
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    assert_int_equal(pos_of(&rt(net, c)->pred), 150);

    /* 100 is not in (150, 200): it is ignored while 150 answers pings. */
    chord_buf_reset(&buf);
    m.from = *chord_node_self(net->node[1]);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    chord_node_create(net->node[b], net->now); /* 150 answers pings */
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    pump(net);
    run_for(net, 10); /* the ping is answered */
    assert_int_equal(pos_of(&rt(net, c)->pred), 150);

    /* 150 freezes: the next rectify from 100 pings it, the ping times
     * out, and 100 becomes the predecessor again. Never "none". */
    net->down[b] = true;
    assert_int_equal(
        chord_node_receive(net->node[c], net->now, 5, buf.data, buf.len), 0);
    assert_true(rt(net, c)->has_pred);
    run_for(net, 1500);
    assert_true(rt(net, c)->has_pred);
    assert_int_equal(pos_of(&rt(net, c)->pred), 100);
    chord_buf_free(&buf);
    net_free(net);
}

/* A predecessor that dies without anyone claiming its place is kept:
 * the predecessor is never reset to none. */
static void test_predecessor_never_nil(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    net->down[1] = true; /* 100 dies silently */
    run_for(net, 400);
    assert_true(rt(net, 2)->has_pred);
    /* Then 10 (whose successor 100 died) stabilizes onto 200 and
     * rectifies it: 200's predecessor becomes 10. */
    run_for(net, 4000);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 2)->pred), 10);
    net_free(net);
}

/* Stabilize learns of a node between itself and its successor, but
 * adopts it only after that node answers. */
static void test_stabilize_checks_liveness(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    /* A "ghost" at 100 told 200 that it is its predecessor, then froze. */
    int g = add_node(net, 100);
    net->down[g] = true;
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_RECTIFY, 0);
    m.from = *chord_node_self(net->node[g]);
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    assert_int_equal(
        chord_node_receive(net->node[1], net->now, 5, buf.data, buf.len), 0);
    chord_buf_free(&buf);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 100);
    /* 10 hears of 100 from 200 but 100 never answers: 10 keeps 200, at
     * every moment (an unverified node is never adopted, even briefly). */
    for (int step = 0; step < 300; step++) {
        run_for(net, 10);
        for (unsigned k = 0; k < rt(net, 0)->n_succ; k++)
            assert_int_not_equal(pos_of(&rt(net, 0)->succ[k]), 100);
    }
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    net_free(net);
}

/* A successor that stops answering is dropped; the next one takes over. */
static void test_successor_failure(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200, 250};
    struct net *net = ring(pos, 4);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 100);
    /* A frozen successor is suspected within a heartbeat (200 ms) plus
     * its timeout (the 250 ms floor on a fast link), and stabilize then
     * proceeds from the next successor: routed around within a second. */
    net->down[1] = true;
    run_for(net, 300);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 100); /* not yet */
    run_for(net, 700);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    for (unsigned i = 0; i < rt(net, 0)->n_succ; i++)
        assert_int_not_equal(pos_of(&rt(net, 0)->succ[i]), 100);
    /* Refused connections are noticed at once. */
    net->refused[2] = true;
    run_for(net, 600);
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 250);
    net_free(net);
}

/* Keys follow ownership when a node joins, and a node that does not own
 * a key redirects the coordinator instead of answering. */
static void test_join_moves_keys(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    char key[16];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        client(net, i % 2, CHORD_MSG_C_PUT, key, key);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    add_node(net, 100);
    assert_int_equal(chord_node_join(net->node[2], net->now, net->addr[1]), 0);
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[2]), CHORD_NODE_ACTIVE);
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        const struct chord_store *st = chord_node_store(net->node[i]);
        size_t cur = 0;
        const struct chord_store_entry *e;
        while ((e = chord_store_next(st, &cur)) != NULL) {
            assert_true(chord_routing_owns(rt(net, i), &e->key_id));
            total++;
        }
    }
    assert_int_equal(total, 64);
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        client(net, (i + 1) % 3, CHORD_MSG_C_GET, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
        assert_memory_equal(net->last_reply.value.data, key, strlen(key));
    }
    net_free(net);
}

/* A graceful leave hands every key to the successor. */
static void test_leave_hands_off(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring(pos, 3);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        client(net, i % 3, CHORD_MSG_C_PUT, key, key);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    chord_node_leave(net->node[1], net->now);
    for (int k = 0;
         k < 100 && chord_node_state(net->node[1]) != CHORD_NODE_LEFT; k++)
        run_for(net, 10);
    assert_int_equal(chord_node_state(net->node[1]), CHORD_NODE_LEFT);
    net->refused[1] = true;
    assert_int_equal(pos_of(&rt(net, 0)->succ[0]), 200);
    assert_int_equal(pos_of(&rt(net, 2)->pred), 10);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        client(net, i % 2 ? 0 : 2, CHORD_MSG_C_GET, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    net_free(net);
}

/* A store request for a key the node does not own gets REDIRECT. */
static void test_redirect_when_not_owner(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 200};
    struct net *net = ring(pos, 2);
    /* Find a key owned by 200 (in (10, 200]) and ask 10 to store it. */
    char key[16];
    struct chord_id kid;
    int i = 0;
    do {
        snprintf(key, sizeof(key), "x%d", i++);
        chord_id_hash(&kid, key, strlen(key));
    } while (!(kid.b[0] > 10 && kid.b[0] <= 200));
    struct chord_msg m;
    chord_msg_init(&m, CHORD_MSG_STORE_PUT, 9);
    m.from = *chord_node_self(net->node[1]);
    m.key.data = (const uint8_t *)key;
    m.key.len = strlen(key);
    m.value.data = (const uint8_t *)"v";
    m.value.len = 1;
    struct chord_buf buf;
    chord_buf_init(&buf);
    assert_int_equal(chord_msg_encode(&m, &buf), 0);
    net->down[1] = true; /* capture the answer instead of delivering it */
    assert_int_equal(
        chord_node_receive(net->node[0], net->now, 5, buf.data, buf.len), 0);
    chord_buf_free(&buf);
    assert_int_equal(net->qlen, 1);
    struct chord_msg r;
    r.status_out = NULL;
    assert_int_equal(chord_msg_decode(net->q[0].data, net->q[0].len, &r),
                     (ssize_t)net->q[0].len);
    assert_int_equal(r.type, CHORD_MSG_STORE_RESULT);
    assert_int_equal(r.status, CHORD_REDIRECT);
    assert_int_equal(pos_of(&r.hint), 200);
    assert_null(
        chord_store_find(chord_node_store(net->node[0]), key, strlen(key)));
    net_free(net);
}

/* Garbage is refused with -EPROTO and the node keeps working. */
static void test_malformed_frame(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 1);
    chord_node_create(net->node[0], net->now);
    uint8_t junk[32];
    for (unsigned i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(
        chord_node_receive(net->node[0], net->now, 3, junk, sizeof(junk)),
        -EPROTO);
    client(net, 0, CHORD_MSG_C_PUT, "a", "b");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    net_free(net);
}

/* Joining through an address nobody answers ends in FAILED, in bounded
 * time. */
static void test_join_unreachable_seed_fails(void **state)
{
    (void)state;
    struct net *net = net_new();
    add_node(net, 1);
    assert_int_equal(chord_node_join(net->node[0], net->now, "127.0.0.1:1"), 0);
    run_for(net, 10000);
    assert_int_equal(chord_node_state(net->node[0]), CHORD_NODE_FAILED);
    net_free(net);
}

/* Lookups report their path: contacted node first, owner last. */
static void test_lookup_path(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 60, 110, 160, 210};
    struct net *net = ring(pos, 5);
    client(net, 0, CHORD_MSG_C_LOOKUP, "some key", NULL);
    const struct chord_lookup_result *lr = &net->last_reply.lookup;
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_string_equal(lr->path.addr[0], net->addr[0]);
    assert_string_equal(lr->path.addr[lr->path.n - 1], lr->owner.addr);
    assert_int_equal(lr->hops, lr->path.n - 1);
    /* The owner is the true successor of the key id: the first node
     * position above the key's top byte (node ids have zero low bytes,
     * a SHA-1 key id almost surely not), wrapping to the smallest. */
    uint8_t k = lr->key_id.b[0];
    uint8_t want = pos[0]; /* pos is sorted */
    for (int i = 0; i < 5; i++)
        if (pos[i] > k) {
            want = pos[i];
            break;
        }
    assert_int_equal(pos_of(&lr->owner), want);
    net_free(net);
}

/* A key owned by the node at `owner` in a ring of the given positions. */
static void key_owned_by(const uint8_t *pos, int n, uint8_t owner, char *key,
                         size_t len)
{
    for (int k = 0;; k++) {
        snprintf(key, len, "key%d", k);
        struct chord_id id;
        chord_id_hash(&id, key, strlen(key));
        uint8_t want = 255, min = 255;
        for (int i = 0; i < n; i++) {
            if (pos[i] < min)
                min = pos[i];
            if (pos[i] > id.b[0] && pos[i] < want)
                want = pos[i];
        }
        if (want == 255)
            want = min;
        if (want == owner)
            return;
    }
}

/* With r = 3, a write is acknowledged only once a quorum (2) of copies is
 * durable: when both replicas are frozen the client is told it failed,
 * and with one of them back it succeeds and reaches all three. */
static void test_quorum_write(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring_r(pos, 3, 3);
    char key[16];
    key_owned_by(pos, 3, 100, key, sizeof key);

    net->down[0] = net->down[2] = true; /* both replicas of 100 freeze */
    client(net, 1, CHORD_MSG_C_PUT, key, "v1");
    assert_int_equal(net->last_reply.status, CHORD_UNAVAILABLE);
    assert_non_null(strstr(net->last_reply.error, "replicas"));

    net->down[2] = false; /* 200 comes back: quorum is 100 and 200 */
    run_for(net, 3000);
    client(net, 1, CHORD_MSG_C_PUT, key, "v2");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    const struct chord_store_entry *e =
        chord_store_find(chord_node_store(net->node[2]), key, strlen(key));
    assert_non_null(e);
    assert_memory_equal(e->value, "v2", 2);

    /* 10 comes back too: anti-entropy gives it the newest copy. */
    net->down[0] = false;
    run_for(net, 8000);
    e = chord_store_find(chord_node_store(net->node[0]), key, strlen(key));
    assert_non_null(e);
    assert_memory_equal(e->value, "v2", 2);
    net_free(net);
}

/* A quorum read returns the newest copy and repairs a stale replica. */
static void test_read_repair(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    struct net *net = ring_r(pos, 3, 3);
    char key[16];
    key_owned_by(pos, 3, 100, key, sizeof key);
    client(net, 0, CHORD_MSG_C_PUT, key, "old");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    run_for(net, 100);
    /* 10 misses the second write (frozen), then returns. */
    net->down[0] = true;
    client(net, 1, CHORD_MSG_C_PUT, key, "new");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    net->down[0] = false;
    const struct chord_store_entry *e =
        chord_store_find(chord_node_store(net->node[0]), key, strlen(key));
    assert_memory_equal(e->value, "old", 3);
    /* Read at ALL: all three copies compared, the newest returned, the
     * stale one repaired. */
    struct chord_msg *m = calloc(1, sizeof(*m));
    chord_msg_init(m, CHORD_MSG_C_GET, 78);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    m->consistency = CHORD_CONSISTENCY_ALL;
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_msg_encode(m, &b), 0);
    int before = net->replies;
    assert_int_equal(
        chord_node_receive(net->node[1], net->now, 1, b.data, b.len), 0);
    for (int k = 0; k < 100 && net->replies == before; k++)
        run_for(net, 10);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "new", 3);
    run_for(net, 50);
    e = chord_store_find(chord_node_store(net->node[0]), key, strlen(key));
    assert_memory_equal(e->value, "new", 3);
    chord_buf_free(&b);
    free(m);
    net_free(net);
}

/* A quorum read asks one replica; when that one is frozen it asks the
 * next one after a few round trips instead of failing at the deadline. */
static void test_hedged_read(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200};
    owner_reads = false; /* else the owner answers alone */
    struct net *net = ring_r(pos, 3, 3);
    owner_reads = true;
    char key[16];
    key_owned_by(pos, 3, 100, key, sizeof key);
    client(net, 1, CHORD_MSG_C_PUT, key, "val");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    run_for(net, 100);
    net->down[2] = true; /* 200, the first replica asked, freezes */
    uint64_t t0 = net->now;
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "val", 3);
    /* far below the read deadline (3/4 of the 1 s request timeout) */
    assert_true(net->now - t0 < 200);
    net_free(net);
}

/* The owner's lease (replica.c): once the owner has synced its range
 * with both replicas, a quorum read is answered from its own copy, with
 * no REPLICA_GET; the lease lapses when its successor has not answered
 * for most of the failure detector's floor (before the successor could
 * suspect it and take the range), and starts over when the range changes,
 * until the owner has synced again. Reads stay correct throughout. */
static void test_owner_lease(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 100, 200, 50};
    struct net *net = ring_r(pos, 3, 3); /* 50 joins later */
    char key[16];
    key_owned_by(pos, 4, 100, key, sizeof key); /* in (50, 100] */
    client(net, 1, CHORD_MSG_C_PUT, key, "v1");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    run_for(net, 3000); /* sync rounds with both replicas */

    unsigned asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The successor (200) freezes. 230 ms later it has not suspected us
     * yet (its timeout is at least 250 ms), but our proof is too old: the
     * read asks the replicas again (200, then 10 by hedging). */
    net->down[2] = true;
    run_for(net, 230);
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    net->down[2] = false;
    run_for(net, 2000);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The owner itself freezes for 300 ms (its successor could suspect
     * it and take writes meanwhile): the first read after it resumes asks
     * a replica again; once it has synced with both replicas (it asks
     * them at once) the lease is back. */
    net->down[1] = true;
    run_for(net, 300);
    net->down[1] = false;
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    run_for(net, 500); /* the catch-up syncs, not the 1 s rounds */
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* The same freeze, but one replica (10) is silent when the owner
     * resumes: the successor's heartbeat answers make the proof fresh at
     * once, yet without a sync with 10 the lease must not come back. */
    net->down[1] = true;
    run_for(net, 300);
    net->down[1] = false;
    net->down[0] = true;
    run_for(net, 50);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    net->down[0] = false;
    run_for(net, 1500);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);

    /* 50 joins: 100's range shrinks to (50, 100], so its lease starts
     * over; until it has synced again, reads ask a replica. */
    add_node_r(net, 50, 3);
    assert_int_equal(chord_node_join(net->node[3], net->now, net->addr[0]), 0);
    for (int k = 0; k < 100 && !(rt(net, 1)->has_pred &&
                                 pos_of(&rt(net, 1)->pred) == 50);
         k++)
        run_for(net, 10);
    assert_int_equal(pos_of(&rt(net, 1)->pred), 50);
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "v1", 2);
    assert_true(net->sent[CHORD_MSG_REPLICA_GET] > asked);
    run_for(net, 500); /* the catch-up syncs, not the 1 s rounds */
    asked = net->sent[CHORD_MSG_REPLICA_GET];
    client(net, 1, CHORD_MSG_C_GET, key, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(net->sent[CHORD_MSG_REPLICA_GET], asked);
    net_free(net);
}

/* A node remembers the owner ranges its lookups found (FOUND_SUCC says
 * where the range starts): the next operation on a key of that range
 * goes straight to the owner, without a lookup. When a join has split
 * the range, the old owner redirects and the answer is still right. */
static void test_owner_range_cache(void **state)
{
    (void)state;
    const uint8_t pos[] = {10, 60, 100, 150, 200, 180};
    struct net *net = ring(pos, 5); /* 180 joins later */
    char k1[16], k2[16], k3[16];
    key_owned_by(pos, 5, 200, k1, sizeof k1); /* beyond 10's successors */
    key_owned_by(pos, 6, 180, k3, sizeof k3); /* 180 will take it */
    for (int k = 0;; k++) { /* a second key of 200's, in (180, 200) */
        snprintf(k2, sizeof k2, "other%d", k);
        struct chord_id id;
        chord_id_hash(&id, k2, strlen(k2));
        if (id.b[0] >= 180 && id.b[0] < 200)
            break;
    }

    unsigned finds = net->sent[CHORD_MSG_FIND_SUCC];
    client(net, 0, CHORD_MSG_C_PUT, k1, "one");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_true(net->sent[CHORD_MSG_FIND_SUCC] > finds); /* looked up */

    finds = net->sent[CHORD_MSG_FIND_SUCC];
    unsigned gets = net->sent[CHORD_MSG_STORE_GET];
    client(net, 0, CHORD_MSG_C_GET, k2, NULL);
    assert_int_equal(net->last_reply.status, CHORD_NOT_FOUND);
    client(net, 0, CHORD_MSG_C_GET, k1, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "one", 3);
    assert_int_equal(net->sent[CHORD_MSG_FIND_SUCC], finds); /* no lookup */
    assert_int_equal(net->sent[CHORD_MSG_STORE_GET], gets + 2);

    /* 180 joins and takes (150, 180] from 200; a key there, written
     * through another node, is read through 10, whose memory still says
     * 200 owns it: 200 redirects to 180. */
    add_node_r(net, 180, 1);
    assert_int_equal(chord_node_join(net->node[5], net->now, net->addr[1]), 0);
    run_for(net, 3000);
    assert_int_equal(chord_node_state(net->node[5]), CHORD_NODE_ACTIVE);
    client(net, 2, CHORD_MSG_C_PUT, k3, "three");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    gets = net->sent[CHORD_MSG_STORE_GET];
    client(net, 0, CHORD_MSG_C_GET, k3, NULL);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_memory_equal(net->last_reply.value.data, "three", 5);
    assert_int_equal(net->sent[CHORD_MSG_STORE_GET], gets + 2); /* 200, 180 */
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node_owns_everything),
        cmocka_unit_test(test_two_nodes_form_a_ring),
        cmocka_unit_test(test_ring_of_five_is_sorted),
        cmocka_unit_test(test_rectify_rules),
        cmocka_unit_test(test_predecessor_never_nil),
        cmocka_unit_test(test_stabilize_checks_liveness),
        cmocka_unit_test(test_successor_failure),
        cmocka_unit_test(test_join_moves_keys),
        cmocka_unit_test(test_leave_hands_off),
        cmocka_unit_test(test_redirect_when_not_owner),
        cmocka_unit_test(test_malformed_frame),
        cmocka_unit_test(test_join_unreachable_seed_fails),
        cmocka_unit_test(test_lookup_path),
        cmocka_unit_test(test_quorum_write),
        cmocka_unit_test(test_read_repair),
        cmocka_unit_test(test_hedged_read),
        cmocka_unit_test(test_owner_lease),
        cmocka_unit_test(test_owner_range_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
