/*
 * test_locks.c - writes at the owner and locks (mutation.c, locks.c,
 * dedup.c) on node_net's hand-driven ring of protocol cores:
 *   - append creates and extends a key; a retried append (same request
 *     id) is applied once, also when the retry reaches the replica that
 *     took over from a dead owner;
 *   - a fenced write older than the key's fence is refused and changes
 *     nothing; an unfenced write keeps the fence;
 *   - a lock is granted first come, first served, with fences that grow;
 *     the holder's queued appends land in order when it releases, once
 *     even if the release is retried; an expired lease discards the
 *     queue; a waiter that stops asking leaves the queue;
 *   - the lock's record survives its owner's death: the node that takes
 *     over finishes a release the dead owner had started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/lock.h"
#include "chord/node.h"
#include "core/store.h"
#include "node_net.h"

static const uint8_t POS[] = {20, 90, 160, 230};
#define NPOS 4

static struct chord_rid rid_of(uint8_t client, uint64_t seq)
{
    struct chord_rid r;
    memset(r.client, client, sizeof r.client);
    r.seq = seq;
    return r;
}

/* A client write of `type` (C_PUT, C_DEL, C_APPEND) with a request id and
 * an optional fence, sent to node i: the reply's status. */
static uint8_t write_req(struct net *net, int i, uint8_t type, const char *key,
                         const char *value, struct chord_rid rid,
                         const char *fence_name, uint64_t fence)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, type, 7);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    if (value) {
        m->value.data = (const uint8_t *)value;
        m->value.len = strlen(value);
    }
    m->has_rid = true;
    m->rid = rid;
    if (fence_name) {
        m->has_fence = true;
        m->fence_name.data = (const uint8_t *)fence_name;
        m->fence_name.len = strlen(fence_name);
        m->fence = fence;
    }
    client_msg(net, i, m);
    free(m);
    return net->last_reply.status;
}

/* The value of key as a quorum read through node i sees it ("" if none). */
static const char *read_value(struct net *net, int i, const char *key)
{
    static char buf[256];
    client(net, i, CHORD_MSG_C_GET, key, NULL);
    buf[0] = '\0';
    if (net->last_reply.status == CHORD_OK) {
        size_t n = net->last_reply.value.len;
        assert_true(n < sizeof buf);
        memcpy(buf, net->last_reply.value.data, n);
        buf[n] = '\0';
    }
    return buf;
}

struct lock_reply {
    uint8_t status;
    struct chord_lock_state st;
    uint8_t *raw;
};

/* A lock operation through node i by client `c` (token fence `fence`),
 * with request id seq; the reply and the lock's state it carries. */
static struct lock_reply lock_req(struct net *net, int i, uint8_t op,
                                  const char *name, uint8_t c, uint64_t fence,
                                  uint32_t lease_ms, const char *key,
                                  const char *value, uint64_t seq)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_LOCK, 8);
    m->key.data = (const uint8_t *)name;
    m->key.len = strlen(name);
    m->lock_op = op;
    memset(m->lock_client, c, sizeof m->lock_client);
    m->lock_fence = fence;
    m->lease_ms = lease_ms;
    if (key) {
        m->key2.data = (const uint8_t *)key;
        m->key2.len = strlen(key);
        m->value.data = (const uint8_t *)value;
        m->value.len = strlen(value);
    }
    m->has_rid = true;
    m->rid = rid_of(c, seq);
    client_msg(net, i, m);
    free(m);
    struct lock_reply r = {.status = net->last_reply.status};
    /* the harness keeps 64 bytes of a value: decode the frame again */
    struct chord_msg *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    size_t len = 4 + ((size_t)net->reply_frame[0] << 24 |
                      (size_t)net->reply_frame[1] << 16 |
                      (size_t)net->reply_frame[2] << 8 | net->reply_frame[3]);
    assert_int_equal(chord_msg_decode(net->reply_frame, len, d), (ssize_t)len);
    r.raw = malloc(d->value.len + 1);
    assert_non_null(r.raw);
    memcpy(r.raw, d->value.data, d->value.len);
    if (d->value.len)
        assert_int_equal(chord_lock_state_decode(r.raw, d->value.len, &r.st),
                         0);
    else
        memset(&r.st, 0, sizeof r.st);
    free(d);
    return r;
}

static void lock_reply_free(struct lock_reply *r)
{
    chord_lock_state_clear(&r->st);
    free(r->raw);
}

static uint8_t holder_byte(const struct lock_reply *r)
{
    return r->st.held ? r->st.holder[0] : 0;
}

/* ------------------------------------------------------------------------ */

static void test_append_exactly_once(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    assert_int_equal(write_req(net, 0, CHORD_MSG_C_APPEND, "log", "a",
                               rid_of(1, 1), NULL, 0),
                     CHORD_OK);
    assert_int_equal(write_req(net, 1, CHORD_MSG_C_APPEND, "log", "b",
                               rid_of(1, 2), NULL, 0),
                     CHORD_OK);
    /* The same request again (its reply was lost), through another node. */
    assert_int_equal(write_req(net, 2, CHORD_MSG_C_APPEND, "log", "b",
                               rid_of(1, 2), NULL, 0),
                     CHORD_OK);
    assert_string_equal(read_value(net, 3, "log"), "ab");
    /* A retried put does not undo a later write of someone else. */
    assert_int_equal(
        write_req(net, 0, CHORD_MSG_C_PUT, "k", "first", rid_of(2, 1), NULL, 0),
        CHORD_OK);
    assert_int_equal(write_req(net, 0, CHORD_MSG_C_PUT, "k", "second",
                               rid_of(3, 1), NULL, 0),
                     CHORD_OK);
    assert_int_equal(
        write_req(net, 1, CHORD_MSG_C_PUT, "k", "first", rid_of(2, 1), NULL, 0),
        CHORD_OK);
    assert_string_equal(read_value(net, 2, "k"), "second");
    net_free(net);
}

/* The owner of "log" dies after applying an append whose reply was lost:
 * the retry reaches the replica that took over, which knows the id. */
static void test_retry_after_owner_death(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    char key[16];
    key_owned_by(POS, NPOS, 90, key, sizeof key);
    int owner = net_index(net, "127.0.0.1:9090");
    assert_true(owner >= 0);
    assert_int_equal(
        write_req(net, 0, CHORD_MSG_C_APPEND, key, "x", rid_of(4, 1), NULL, 0),
        CHORD_OK);
    net->down[owner] = true;
    run_for(net, 3000); /* the ring routes around it */
    assert_int_equal(
        write_req(net, 0, CHORD_MSG_C_APPEND, key, "x", rid_of(4, 1), NULL, 0),
        CHORD_OK);
    assert_int_equal(
        write_req(net, 0, CHORD_MSG_C_APPEND, key, "y", rid_of(4, 2), NULL, 0),
        CHORD_OK);
    assert_string_equal(read_value(net, 3, key), "xy");
    net_free(net);
}

static void test_fence(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    assert_int_equal(
        write_req(net, 0, CHORD_MSG_C_PUT, "f", "v5", rid_of(5, 1), "L", 5),
        CHORD_OK);
    assert_int_equal(
        write_req(net, 1, CHORD_MSG_C_PUT, "f", "v4", rid_of(5, 2), "L", 4),
        CHORD_PRECONDITION);
    assert_non_null(strstr(net->last_reply.error, "fence"));
    assert_string_equal(read_value(net, 2, "f"), "v5");
    /* An unfenced write keeps the key's fence; another lock's is apart. */
    assert_int_equal(
        write_req(net, 1, CHORD_MSG_C_APPEND, "f", "+", rid_of(5, 3), NULL, 0),
        CHORD_OK);
    assert_int_equal(
        write_req(net, 2, CHORD_MSG_C_DEL, "f", NULL, rid_of(5, 4), "L", 3),
        CHORD_PRECONDITION);
    assert_string_equal(read_value(net, 3, "f"), "v5+");
    assert_int_equal(
        write_req(net, 2, CHORD_MSG_C_PUT, "f", "v6", rid_of(5, 5), "L", 6),
        CHORD_OK);
    assert_string_equal(read_value(net, 0, "f"), "v6");
    net_free(net);
}

/* First come, first served; growing fences; queued appends applied on
 * release, in order and once. */
static void test_lock_fifo_and_release(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    struct lock_reply a =
        lock_req(net, 0, CHORD_LOCK_ACQUIRE, "L", 0xA, 0, 0, NULL, NULL, 1);
    assert_int_equal(a.status, CHORD_OK);
    assert_int_equal(holder_byte(&a), 0xA);
    uint64_t fa = a.st.fence;
    assert_true(fa >= 1);
    struct lock_reply b =
        lock_req(net, 1, CHORD_LOCK_ACQUIRE, "L", 0xB, 0, 0, NULL, NULL, 1);
    assert_int_equal(b.status, CHORD_QUEUED);
    struct lock_reply c =
        lock_req(net, 2, CHORD_LOCK_ACQUIRE, "L", 0xC, 0, 0, NULL, NULL, 1);
    assert_int_equal(c.status, CHORD_QUEUED);
    assert_int_equal(c.st.n_waiters, 2);
    assert_int_equal(c.st.waiters[0].client[0], 0xB);
    assert_int_equal(c.st.waiters[1].client[0], 0xC);

    /* Someone else may not queue appends or release. */
    struct lock_reply x =
        lock_req(net, 3, CHORD_LOCK_APPEND, "L", 0xB, fa, 0, "out", "B", 2);
    assert_int_equal(x.status, CHORD_PRECONDITION);
    lock_reply_free(&x);

    struct lock_reply q1 =
        lock_req(net, 3, CHORD_LOCK_APPEND, "L", 0xA, fa, 0, "out", "1", 2);
    assert_int_equal(q1.status, CHORD_OK);
    struct lock_reply q1again =
        lock_req(net, 0, CHORD_LOCK_APPEND, "L", 0xA, fa, 0, "out", "1", 2);
    assert_int_equal(q1again.status, CHORD_OK);
    struct lock_reply q2 =
        lock_req(net, 1, CHORD_LOCK_APPEND, "L", 0xA, fa, 0, "out", "2", 3);
    assert_int_equal(q2.st.n_queue, 2);
    /* Nothing lands before the release. */
    assert_string_equal(read_value(net, 2, "out"), "");

    struct lock_reply rel =
        lock_req(net, 2, CHORD_LOCK_RELEASE, "L", 0xA, fa, 0, NULL, NULL, 4);
    assert_int_equal(rel.status, CHORD_OK);
    assert_string_equal(read_value(net, 3, "out"), "12");
    /* A retried release changes nothing. */
    struct lock_reply rel2 =
        lock_req(net, 3, CHORD_LOCK_RELEASE, "L", 0xA, fa, 0, NULL, NULL, 4);
    assert_int_equal(rel2.status, CHORD_OK);
    assert_string_equal(read_value(net, 0, "out"), "12");

    /* C asks first, but B is at the head of the queue. */
    struct lock_reply c2 =
        lock_req(net, 0, CHORD_LOCK_ACQUIRE, "L", 0xC, 0, 0, NULL, NULL, 2);
    assert_int_equal(c2.status, CHORD_QUEUED);
    struct lock_reply b2 =
        lock_req(net, 1, CHORD_LOCK_ACQUIRE, "L", 0xB, 0, 0, NULL, NULL, 2);
    assert_int_equal(b2.status, CHORD_OK);
    assert_int_equal(holder_byte(&b2), 0xB);
    assert_true(b2.st.fence > fa);
    assert_int_equal(b2.st.n_waiters, 1);

    /* B releases too; A's release repeated after that later grant is
     * still a retry (the record remembers completed releases): ok, and
     * nothing applied again. */
    struct lock_reply relb = lock_req(net, 1, CHORD_LOCK_RELEASE, "L", 0xB,
                                      b2.st.fence, 0, NULL, NULL, 5);
    assert_int_equal(relb.status, CHORD_OK);
    struct lock_reply rel3 =
        lock_req(net, 2, CHORD_LOCK_RELEASE, "L", 0xA, fa, 0, NULL, NULL, 6);
    assert_int_equal(rel3.status, CHORD_OK);
    assert_string_equal(read_value(net, 0, "out"), "12");

    struct lock_reply *all[] = {&a,   &b,    &c,  &q1, &q1again, &q2,
                                &rel, &rel2, &c2, &b2, &relb,    &rel3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lock_reply_free(all[i]);
    net_free(net);
}

/* An expired lease discards the queue and passes the lock on with a
 * higher fence; a waiter that stops asking leaves the queue. */
static void test_lease_and_grace(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    struct lock_reply a =
        lock_req(net, 0, CHORD_LOCK_ACQUIRE, "M", 0xA, 0, 500, NULL, NULL, 1);
    uint64_t fa = a.st.fence;
    struct lock_reply q = lock_req(net, 0, CHORD_LOCK_APPEND, "M", 0xA, fa, 0,
                                   "lost", "never", 2);
    assert_int_equal(q.status, CHORD_OK);
    struct lock_reply d =
        lock_req(net, 1, CHORD_LOCK_ACQUIRE, "M", 0xD, 0, 0, NULL, NULL, 1);
    assert_int_equal(d.status, CHORD_QUEUED); /* D then stops asking */
    struct lock_reply b =
        lock_req(net, 1, CHORD_LOCK_ACQUIRE, "M", 0xB, 0, 0, NULL, NULL, 1);
    assert_int_equal(b.status, CHORD_QUEUED);
    /* B keeps asking; D does not. After the lease and D's grace, B gets
     * the lock. */
    uint8_t got = CHORD_QUEUED;
    struct lock_reply bn = {0};
    for (int k = 0; k < 40 && got == CHORD_QUEUED; k++) {
        run_for(net, 100);
        lock_reply_free(&bn);
        bn =
            lock_req(net, 2, CHORD_LOCK_ACQUIRE, "M", 0xB, 0, 0, NULL, NULL, 1);
        got = bn.status;
    }
    assert_int_equal(got, CHORD_OK);
    assert_int_equal(holder_byte(&bn), 0xB);
    assert_true(bn.st.fence > fa);
    assert_int_equal(bn.st.n_queue, 0);
    assert_int_equal(bn.st.n_waiters, 0); /* D left */
    struct lock_reply late =
        lock_req(net, 3, CHORD_LOCK_RELEASE, "M", 0xA, fa, 0, NULL, NULL, 3);
    assert_int_equal(late.status, CHORD_PRECONDITION);
    assert_string_equal(read_value(net, 0, "lost"), "");
    struct lock_reply *all[] = {&a, &q, &d, &b, &bn, &late};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lock_reply_free(all[i]);
    net_free(net);
}

/* A lock name whose record sits at the node at position `owner`. */
static void lock_owned_by(uint8_t owner, char *name, size_t len)
{
    for (int k = 0;; k++) {
        snprintf(name, len, "lk%d", k);
        char full[32];
        snprintf(full, sizeof full, "lock:%s", name);
        struct chord_id id;
        chord_id_hash(&id, full, strlen(full));
        if (owner_pos(POS, NPOS, &id) == owner)
            return;
    }
}

/* The lock's owner dies with a holder, its queue and a waiter: the node
 * that takes over has them all, and the holder's release lands once. */
static void test_lock_survives_owner(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    char name[16];
    lock_owned_by(160, name, sizeof name);
    int owner = net_index(net, "127.0.0.1:9160");
    int via = owner == 0 ? 1 : 0;
    struct lock_reply a =
        lock_req(net, via, CHORD_LOCK_ACQUIRE, name, 0xA, 0, 0, NULL, NULL, 1);
    assert_int_equal(a.status, CHORD_OK);
    uint64_t fa = a.st.fence;
    struct lock_reply q1 = lock_req(net, via, CHORD_LOCK_APPEND, name, 0xA, fa,
                                    0, "batch", "p", 2);
    struct lock_reply q2 = lock_req(net, via, CHORD_LOCK_APPEND, name, 0xA, fa,
                                    0, "batch", "q", 3);
    struct lock_reply w =
        lock_req(net, via, CHORD_LOCK_ACQUIRE, name, 0xB, 0, 0, NULL, NULL, 1);
    assert_int_equal(w.status, CHORD_QUEUED);
    net->down[owner] = true;
    run_for(net, 3000);
    struct lock_reply st =
        lock_req(net, via, CHORD_LOCK_STATUS, name, 0, 0, 0, NULL, NULL, 9);
    assert_int_equal(st.status, CHORD_OK);
    assert_int_equal(holder_byte(&st), 0xA);
    assert_int_equal(st.st.fence, fa);
    assert_int_equal(st.st.n_queue, 2);
    struct lock_reply rel =
        lock_req(net, via, CHORD_LOCK_RELEASE, name, 0xA, fa, 0, NULL, NULL, 4);
    assert_int_equal(rel.status, CHORD_OK);
    assert_string_equal(read_value(net, via, "batch"), "pq");
    struct lock_reply b =
        lock_req(net, via, CHORD_LOCK_ACQUIRE, name, 0xB, 0, 0, NULL, NULL, 1);
    assert_int_equal(b.status, CHORD_OK);
    assert_true(b.st.fence > fa);
    struct lock_reply *all[] = {&a, &q1, &q2, &w, &st, &rel, &b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lock_reply_free(all[i]);
    net_free(net);
}

/* Clients may not touch the ring's own records. */
static void test_reserved_keys(void **state)
{
    (void)state;
    struct net *net = ring_r(POS, NPOS, 3);
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_PUT, 3);
    static const uint8_t key[] = "\0chord:lock:L";
    m->key.data = key;
    m->key.len = sizeof key - 1;
    m->value.data = key;
    m->value.len = 1;
    client_msg(net, 0, m);
    assert_int_equal(net->last_reply.status, CHORD_BAD_REQUEST);
    assert_non_null(strstr(net->last_reply.error, "reserved"));
    free(m);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_exactly_once),
        cmocka_unit_test(test_retry_after_owner_death),
        cmocka_unit_test(test_fence),
        cmocka_unit_test(test_lock_fifo_and_release),
        cmocka_unit_test(test_lease_and_grace),
        cmocka_unit_test(test_lock_survives_owner),
        cmocka_unit_test(test_reserved_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
