/*
 * node_net.h - a hand-driven "network" of protocol cores for the node-level
 * unit tests (test_node, test_membership, test_peer, test_lookup,
 * test_replica, test_read_lease, test_coord).
 *
 * Every frame a node sends is queued; the test delivers the queue in order
 * (pump), or plays a faulty network: frames to a `down` node vanish (a
 * frozen peer), frames to a `refused` node bounce (the sender's host
 * reports it unreachable), frames on a `cut` link vanish, and a `fault`
 * function may lose or refuse chosen frames. Time only moves when the test says
 * so (run_for ticks every node every 10 ms). Node ids are chosen
 * explicitly on a small circle (the value sits in the top byte) so the
 * expected ring is obvious from the numbers.
 *
 * This is test code: it holds no test logic and asserts only its own
 * invariants (a frame is never sent to oneself, a queue never overflows,
 * pump always drains). Its short names (ring, client, pump) are meant for
 * the tests' eyes; nothing else links it. No globals: each struct net
 * carries its nodes' I/O contexts, so tests may build several nets.
 */
#ifndef CHORD_TEST_NODE_NET_H
#define CHORD_TEST_NODE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/node.h"
#include "core/routing.h"
#include "core/wire.h"

#define MAXN 8    /* nodes in one net */
#define QMAX 4096 /* frames queued at once */

struct net;

/* A frame in flight. */
struct frame {
    int to;        /* node index, or -1 for an address no node holds */
    uint64_t conn; /* the sender's index */
    char addr[CHORD_ADDR_MAX];
    uint8_t *data;
    size_t len;
};

/* The I/O context each node is given (its net and its index). */
struct ioctx {
    struct net *net;
    int self;
};

/* Changes the default config of every node the net makes (successors 3,
 * seed = position, the replicas asked for) before it is used. */
typedef void (*net_tune_fn)(struct chord_node_config *cfg);

/* What becomes of a frame (see net_fault_fn). */
enum net_fate {
    NET_DELIVER = 0, /* as usual */
    NET_LOSE,        /* it vanishes */
    NET_REFUSE, /* it bounces: the sender's host reports `to` unreachable */
};

/* The fate of the frame of `type` from node `from` to node `to`. */
typedef enum net_fate (*net_fault_fn)(struct net *net, int from, int to,
                                      uint8_t type);

struct net {
    struct chord_node *node[MAXN];
    char addr[MAXN][CHORD_ADDR_MAX];
    bool down[MAXN];      /* frames to it vanish, it is not ticked (frozen) */
    bool refused[MAXN];   /* frames to it bounce as unreachable */
    bool cut[MAXN][MAXN]; /* frames from [i] to [j] vanish */
    net_fault_fn fault;   /* or NULL */
    /* false: every frame delivered (and every client request and
     * deliver()) is a turn of the receiver's host, flushed after it
     * (chord_node_flush); true: nothing is flushed but by the test (or a
     * tick), so one turn may take many frames */
    bool hold;
    net_tune_fn tune; /* or NULL */
    int n;
    uint64_t now;
    struct frame q[QMAX];
    int qlen;
    /* client replies captured */
    struct chord_msg last_reply;
    uint8_t reply_value[64];
    uint8_t *reply_frame; /* the last reply whole (its items_raw points in) */
    int replies;
    unsigned sent[256];             /* frames sent, by message type */
    unsigned link_sent[MAXN][MAXN]; /* frames sent from [i] to [j] */
    struct ioctx ctx[MAXN];
};

/* An empty net at time 1000 (free with net_free). */
struct net *net_new(void);
/* Free every node and every queued frame, then the net. */
void net_free(struct net *net);

/* An id whose top byte is v: a point on a 256-slot circle. */
struct chord_id small_id(uint8_t v);
/* The position (top byte) of a peer made by add_node. */
uint8_t pos_of(const struct chord_peer *p);

/* Add a node at `pos` (address 127.0.0.1:9000+pos), not yet in a ring:
 * its index. add_node keeps one copy per key (the ring tests). */
int add_node(struct net *net, uint8_t pos);
int add_node_r(struct net *net, uint8_t pos, unsigned replicas);

/* Deliver queued frames in order until none are left (bounded). */
void pump(struct net *net);
/* Advance time in 10 ms steps, ticking every node that is due and not
 * down or refused, and delivering traffic after each step. */
void run_for(struct net *net, uint64_t ms);

/* The index of the node at addr, or -1. */
int net_index(struct net *net, const char *addr);

/* Node i's routing state. */
const struct chord_routing *rt(struct net *net, int i);

/* Send a client request of `type` for key (and value) to node i and run
 * until the reply (in net->last_reply). */
void client(struct net *net, int i, uint8_t type, const char *key,
            const char *value);
/* The same at a given consistency (enum chord_consistency). */
void client_c(struct net *net, int i, uint8_t type, const char *key,
              const char *value, uint8_t consistency);
/* The same for a message the test built. */
void client_msg(struct net *net, int i, const struct chord_msg *m);

/* Hand message m to node i directly, as if from connection 5 (not through
 * the queue). Returns chord_node_receive()'s result. */
int deliver(struct net *net, int i, const struct chord_msg *m);

/* The first queued frame from node `from` to node `to` of `type`, decoded
 * into *out (which then borrows the frame): its queue index, or -1. */
int queued(struct net *net, int from, int to, uint8_t type,
           struct chord_msg *out);

/* A ring of nodes at the given positions, joined one by one through the
 * first; `tune` (or NULL) adjusts every node's config. */
struct net *ring_tuned(const uint8_t *pos, int n, unsigned replicas,
                       net_tune_fn tune);
struct net *ring_r(const uint8_t *pos, int n, unsigned replicas);
struct net *ring(const uint8_t *pos, int n); /* one copy per key */

/* The position (of the given ones) whose node owns id: the first one
 * past the id's top byte, wrapping. */
uint8_t owner_pos(const uint8_t *pos, int n, const struct chord_id *id);
/* A key owned by the node at `owner` in a ring of the given positions. */
void key_owned_by(const uint8_t *pos, int n, uint8_t owner, char *key,
                  size_t len);

#endif
