/*
 * test_sim_ring.c - whole rings of protocol-core nodes in the simulator:
 * a ring built by joins converges to the exact sorted ring (successors,
 * predecessors, every finger); runs are reproducible from their seed;
 * puts, gets, deletes and lookups work through any node and reach the
 * key's true owner in few hops; joins move keys to their new owners; and
 * graceful leaves hand keys over and leave an exact ring behind.
 *
 * Everything runs in simulated time, so the tests never sleep. Set
 * CHORD_SIM_LOG=1 in the environment to see every node's log lines
 * (debug level) on stderr, prefixed with sim time and node address.
 *
 * This file tests the core through the simulator; it does not test the
 * simulator's latency model in isolation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_util.h"

#include "chord/node.h"
#include "chord/sim.h"
#include "core/store.h"

#define KEYS 300            /* keys stored by the data tests */
#define JOIN_GAP_MS 300     /* time between two joins */
#define SETTLE_MAX_MS 20000 /* a ring must be exact within this long */
#define SETTLE_STEP_MS 250
#define HOP_SLACK 3 /* hops allowed beyond log2(N) */

/* ---- helpers ------------------------------------------------------------ */

/* A random up ACTIVE node among 0..below-1, other than `not`. */
static int pick_active(const struct chord_sim *sim, uint64_t *rs, int below,
                       int not )
{
    int cand[1024];
    int n = 0;
    for (int i = 0; i < below && n < 1024; i++)
        if (i != not &&sim_active(sim, i))
            cand[n++] = i;
    assert_true(n > 0);
    return cand[rnd(rs) % (uint64_t)n];
}

/* Run until node i is ACTIVE, at most 10 s; fail with its state if not. */
static void wait_active(struct chord_sim *sim, int i)
{
    for (int t = 0; t < 10000 && !sim_active(sim, i); t += 50)
        chord_sim_run_for(sim, 50);
    if (!sim_active(sim, i))
        fail_msg("node %d is %s (up=%d) at t=%llu ms, expected active", i,
                 chord_node_state_name(chord_sim_state(sim, i)),
                 chord_sim_is_up(sim, i),
                 (unsigned long long)chord_sim_now(sim));
}

/* Add nodes until there are `total`; each joins through a random earlier
 * ACTIVE node, JOIN_GAP_MS after the previous one; then wait until all
 * of them are ACTIVE. Node 0 creates the ring when the sim is empty. */
static void grow_ring(struct chord_sim *sim, uint64_t *rs, int total)
{
    int first = chord_sim_count(sim);
    if (first == 0) {
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), 0);
        assert_int_equal(chord_sim_create(sim, 0), 0);
        assert_int_equal(chord_sim_state(sim, 0), CHORD_NODE_ACTIVE);
        first = 1;
        chord_sim_run_for(sim, JOIN_GAP_MS);
    }
    for (int i = first; i < total; i++) {
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), i);
        int seed = pick_active(sim, rs, i, -1);
        assert_int_equal(chord_sim_join(sim, i, seed), 0);
        chord_sim_run_for(sim, JOIN_GAP_MS);
    }
    for (int i = first; i < total; i++)
        wait_active(sim, i);
}

/* Run until the ring is exact, at most SETTLE_MAX_MS; fail otherwise.
 * Returns the simulated time it took. */
static uint64_t settle(struct chord_sim *sim)
{
    char err[256];
    uint64_t t0 = chord_sim_now(sim);
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    while (wrong != 0 && chord_sim_now(sim) - t0 < SETTLE_MAX_MS) {
        chord_sim_run_for(sim, SETTLE_STEP_MS);
        wrong = chord_sim_check_ring(sim, err, sizeof err);
    }
    if (wrong != 0)
        fail_msg("ring not exact %llu ms after t=%llu: %d wrong entries; "
                 "first: %s",
                 (unsigned long long)(chord_sim_now(sim) - t0),
                 (unsigned long long)t0, wrong, err);
    return chord_sim_now(sim) - t0;
}

static void key_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "key-%04d", k);
}

static void value_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "value of key %d, %s", k, k % 2 ? "odd" : "even");
}

/* Put KEYS keys, each through a random ACTIVE node; all must succeed. */
static void put_keys(struct chord_sim *sim, uint64_t *rs)
{
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        key_name(key, sizeof key, k);
        value_name(val, sizeof val, k);
        int via = pick_active(sim, rs, chord_sim_count(sim), -1);
        int rc = chord_sim_put(sim, via, key, strlen(key), val, strlen(val));
        if (rc != CHORD_OK)
            fail_msg("put %s via node %d at t=%llu: %d (%s)", key, via,
                     (unsigned long long)chord_sim_now(sim), rc,
                     rc >= 0 ? chord_status_name(rc) : "errno");
    }
}

/* Every key readable, with its value, through a random ACTIVE node other
 * than the key's owner (so the read has to cross the ring). */
static void check_keys_readable(struct chord_sim *sim, uint64_t *rs)
{
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        key_name(key, sizeof key, k);
        value_name(val, sizeof val, k);
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        int owner = chord_sim_owner(sim, &kid);
        int via = pick_active(sim, rs, chord_sim_count(sim), owner);
        uint8_t *got = NULL;
        size_t got_len = 0;
        int rc = chord_sim_get(sim, via, key, strlen(key), &got, &got_len);
        if (rc != CHORD_OK)
            fail_msg("get %s via node %d (owner %d) at t=%llu: %d (%s)", key,
                     via, owner, (unsigned long long)chord_sim_now(sim), rc,
                     rc >= 0 ? chord_status_name(rc) : "errno");
        assert_int_equal(got_len, strlen(val));
        assert_memory_equal(got, val, got_len);
        free(got);
    }
}

/* Every key is held, live and with its value, by its true owner. */
static void check_keys_at_owner(struct chord_sim *sim)
{
    struct chord_store_entry fv;
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        key_name(key, sizeof key, k);
        value_name(val, sizeof val, k);
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        int owner = chord_sim_owner(sim, &kid);
        assert_true(owner >= 0);
        const struct chord_store *st =
            chord_node_store(chord_sim_node(sim, owner));
        const struct chord_store_entry *e =
            chord_store_find(st, key, strlen(key), &fv);
        if (!e || e->tombstone)
            fail_msg("%s is %s at its owner, node %d (%s)", key,
                     e ? "a tombstone" : "missing", owner,
                     chord_sim_peer(sim, owner)->addr);
        assert_int_equal(e->value_len, strlen(val));
        assert_memory_equal(e->value, val, e->value_len);
    }
}

static unsigned log2_ceil(unsigned n)
{
    unsigned b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

/* ---- (a) a ring built by joins converges to the exact ring -------------- */

static void test_ring_converges(void **state)
{
    (void)state;
    uint64_t rs = 1001;
    struct chord_sim *sim = test_sim_new(7, 0);
    grow_ring(sim, &rs, 32);
    uint64_t took = settle(sim);
    print_message("32-node ring exact %llu ms after the last join settled\n",
                  (unsigned long long)took);

    /* It stays exact: maintenance does not disturb a correct ring. */
    chord_sim_run_for(sim, 5000);
    char err[256];
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong)
        fail_msg("ring drifted: %d wrong; first: %s", wrong, err);

    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    assert_true(st.delivered > 0);
    assert_int_equal(st.proto_errors, 0);
    assert_int_equal(st.stray_replies, 0);

    /* The checker notices a ring that is not exact: right after a crash
     * the dead node's neighbours still point at it. */
    assert_int_equal(chord_sim_crash(sim, 5), 0);
    assert_false(chord_sim_is_up(sim, 5));
    assert_null(chord_sim_node(sim, 5));
    assert_true(chord_sim_check_ring(sim, err, sizeof err) > 0);
    assert_true(strlen(err) > 0);
    chord_sim_free(sim);
}

/* ---- (b) the same seed gives the same run ------------------------------- */

struct run_digest {
    uint64_t delivered;
    uint64_t events;
    uint64_t digest;
    uint64_t paths; /* hash of 50 lookup paths and owners */
};

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return (h ^ 0xff) * UINT64_C(0x100000001b3);
}

static void run_scenario(uint64_t seed, struct run_digest *out)
{
    uint64_t rs = seed ^ 0x5555;
    struct chord_sim *sim = test_sim_new(seed, 0);
    grow_ring(sim, &rs, 16);
    chord_sim_run_for(sim, 3000);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int k = 0; k < 50; k++) {
        char key[32];
        key_name(key, sizeof key, k);
        int via = (int)(rnd(&rs) % 16);
        struct chord_lookup_result *res = calloc(1, sizeof *res);
        assert_non_null(res);
        assert_int_equal(chord_sim_lookup(sim, via, key, strlen(key), res),
                         CHORD_OK);
        h = hash_str(h, res->owner.addr);
        for (unsigned p = 0; p < res->path.n; p++)
            h = hash_str(h, res->path.addr[p]);
        h = (h ^ res->hops) * UINT64_C(0x100000001b3);
        free(res);
    }
    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    out->delivered = st.delivered;
    out->events = st.events;
    out->digest = st.digest;
    out->paths = h;
    chord_sim_free(sim);
}

static void test_same_seed_same_run(void **state)
{
    (void)state;
    struct run_digest a, b, c;
    run_scenario(11, &a);
    run_scenario(11, &b);
    run_scenario(12, &c);
    assert_int_equal(a.delivered, b.delivered);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.paths, b.paths);
    assert_int_equal(a.digest, b.digest);
    /* The seed matters: another one gives other latencies, another run. */
    assert_int_not_equal(a.digest, c.digest);
}

/* ---- (c) data operations and lookups ------------------------------------ */

static void test_put_get_lookup(void **state)
{
    (void)state;
    const int n = 32;
    uint64_t rs = 2002;
    struct chord_sim *sim = test_sim_new(21, 0);
    grow_ring(sim, &rs, n);
    settle(sim);

    put_keys(sim, &rs);
    check_keys_readable(sim, &rs);

    /* Lookups reach the true owner along a recorded path, in few hops. */
    unsigned max_hops = 0, sum_hops = 0;
    struct chord_lookup_result *res = calloc(1, sizeof *res);
    assert_non_null(res);
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        key_name(key, sizeof key, k);
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        int via = (int)(rnd(&rs) % (uint64_t)n);
        int owner = chord_sim_owner(sim, &kid);
        assert_int_equal(chord_sim_lookup(sim, via, key, strlen(key), res),
                         CHORD_OK);
        assert_true(chord_id_eq(&res->key_id, &kid));
        if (strcmp(res->owner.addr, chord_sim_peer(sim, owner)->addr) != 0)
            fail_msg("lookup %s via node %d: owner %s, expected %s", key, via,
                     res->owner.addr, chord_sim_peer(sim, owner)->addr);
        assert_true(
            chord_id_eq(&res->owner.id, &chord_sim_peer(sim, owner)->id));
        assert_true(res->path.n >= 1);
        assert_string_equal(res->path.addr[0], chord_sim_peer(sim, via)->addr);
        assert_string_equal(res->path.addr[res->path.n - 1], res->owner.addr);
        if (res->hops > log2_ceil((unsigned)n) + HOP_SLACK)
            fail_msg("lookup %s via node %d took %u hops (N=%d)", key, via,
                     res->hops, n);
        if (res->hops > max_hops)
            max_hops = res->hops;
        sum_hops += res->hops;
    }
    free(res);
    print_message("%d lookups on %d nodes: mean %.2f hops, max %u\n", KEYS, n,
                  (double)sum_hops / KEYS, max_hops);

    /* A key never written is not found; a deleted key is gone everywhere. */
    uint8_t *v = NULL;
    size_t vlen = 0;
    assert_int_equal(chord_sim_get(sim, 3, "no such key", 11, &v, &vlen),
                     CHORD_NOT_FOUND);
    assert_null(v);
    for (int k = 0; k < 20; k++) {
        char key[32];
        key_name(key, sizeof key, k);
        int via = (int)(rnd(&rs) % (uint64_t)n);
        assert_int_equal(chord_sim_del(sim, via, key, strlen(key)), CHORD_OK);
        via = (int)(rnd(&rs) % (uint64_t)n);
        assert_int_equal(chord_sim_get(sim, via, key, strlen(key), &v, &vlen),
                         CHORD_NOT_FOUND);
        assert_null(v);
    }
    /* An overwrite wins. */
    assert_int_equal(chord_sim_put(sim, 1, "key-0100", 8, "new", 3), CHORD_OK);
    assert_int_equal(chord_sim_get(sim, 2, "key-0100", 8, &v, &vlen), CHORD_OK);
    assert_int_equal(vlen, 3);
    assert_memory_equal(v, "new", 3);
    free(v);

    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    assert_int_equal(st.proto_errors, 0);
    assert_int_equal(st.stray_replies, 0);
    chord_sim_free(sim);
}

/* ---- (d) joins move keys to their new owners ---------------------------- */

static void test_join_moves_keys(void **state)
{
    (void)state;
    uint64_t rs = 3003;
    struct chord_sim *sim = test_sim_new(31, 0);
    grow_ring(sim, &rs, 8);
    settle(sim);
    put_keys(sim, &rs);
    check_keys_at_owner(sim);

    grow_ring(sim, &rs, 16);
    settle(sim);
    check_keys_at_owner(sim);
    check_keys_readable(sim, &rs);
    chord_sim_free(sim);
}

/* ---- (e) graceful leaves hand keys over --------------------------------- */

static void test_leave_hands_keys_over(void **state)
{
    (void)state;
    uint64_t rs = 4004;
    struct chord_sim *sim = test_sim_new(41, 0);
    grow_ring(sim, &rs, 16);
    settle(sim);
    put_keys(sim, &rs);

    const int leavers[3] = {3, 9, 14};
    for (int j = 0; j < 3; j++) {
        int i = leavers[j];
        assert_int_equal(chord_sim_leave(sim, i), 0);
        for (int t = 0; t < 10000 && chord_sim_is_up(sim, i); t += 50)
            chord_sim_run_for(sim, 50);
        if (chord_sim_state(sim, i) != CHORD_NODE_LEFT)
            fail_msg("node %d is %s after leaving for 10 s", i,
                     chord_node_state_name(chord_sim_state(sim, i)));
        /* The simulator stops a node that has left, as the daemon exits. */
        assert_false(chord_sim_is_up(sim, i));
        assert_int_equal(chord_sim_leave(sim, i), -EHOSTDOWN);
        check_keys_readable(sim, &rs);
    }
    settle(sim);
    check_keys_at_owner(sim);
    check_keys_readable(sim, &rs);
    chord_sim_free(sim);
}

/* Joins that overlap: 64 nodes join 20 ms apart (each through a random
 * node that is already active), so many join while successor pointers
 * are still settling. Every one must become ACTIVE and the ring exact. */
static void test_concurrent_joins(void **state)
{
    (void)state;
    uint64_t rs = 4242;
    struct chord_sim *sim = test_sim_new(17, 0);
    assert_int_equal(chord_sim_add_node(sim, NULL, NULL), 0);
    assert_int_equal(chord_sim_create(sim, 0), 0);
    for (int i = 1; i < 64; i++) {
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), i);
        assert_int_equal(chord_sim_join(sim, i, pick_active(sim, &rs, i, -1)),
                         0);
        chord_sim_run_for(sim, 20);
    }
    for (int i = 1; i < 64; i++)
        wait_active(sim, i);
    settle(sim);
    chord_sim_free(sim);
}

/* A lossy network (1% of node-to-node frames vanish): the ring still
 * forms and converges, and stored keys stay readable. */
static void test_lossy_network(void **state)
{
    (void)state;
    uint64_t rs = 99;
    struct chord_sim *sim = test_sim_new(9, 0.01);
    grow_ring(sim, &rs, 32);
    settle(sim);
    put_keys(sim, &rs);
    check_keys_readable(sim, &rs);
    chord_sim_free(sim);
}

/* Build a ring of n nodes configured like *base (each with its own
 * seed), joining `gap_ms` apart through random active nodes, then wait
 * until every one is active and the ring is exact. */
static void build_configured(struct chord_sim *sim, uint64_t *rs, int n,
                             const struct chord_node_config *base,
                             uint64_t gap_ms)
{
    for (int i = 0; i < n; i++) {
        struct chord_node_config cfg = *base;
        cfg.seed = rnd(rs);
        assert_int_equal(chord_sim_add_node(sim, &cfg, NULL), i);
        if (i == 0)
            assert_int_equal(chord_sim_create(sim, 0), 0);
        else
            assert_int_equal(
                chord_sim_join(sim, i, pick_active(sim, rs, i, -1)), 0);
        chord_sim_run_for(sim, gap_ms);
    }
    for (int i = 1; i < n; i++)
        wait_active(sim, i);
    settle(sim);
}

/* ---- (f) half the ring crashes at once ------------------------------------
 */

struct half_ctx {
    struct chord_sim *sim;
    int answered, wrong, slow;
    char first_bad[256];
};

static void half_reply(void *arg, const struct chord_sim_reply *r)
{
    struct half_ctx *c = arg;
    c->answered++;
    bool ok = r->err == 0 && r->status == CHORD_OK;
    int owner = ok ? chord_sim_owner(c->sim, &r->lookup.key_id) : -1;
    int named = ok ? chord_sim_find(c->sim, r->lookup.owner.addr) : -1;
    if (!ok || owner != named) {
        if (c->wrong++ == 0)
            snprintf(c->first_bad, sizeof c->first_bad,
                     "err %d status %d: named node %d, true owner %d", r->err,
                     r->status, named, owner);
    }
    /* No lookup may have waited for a request to time out. */
    if (r->done_ms - r->sent_ms >= 1000)
        c->slow++;
}

/* 64 nodes with r = 2 log2 N successors; 32 crash at the same instant and
 * 300 lookups start right then, through survivors. As in the Chord paper's
 * experiment every lookup must find the right owner, and (crashed nodes
 * being reported unreachable by the network) none may wait for a timeout:
 * a hop whose next node is down sends the lookup another way, and the
 * owner answers for itself, so a dead one is never named. */
static void test_half_crash_lookups(void **state)
{
    (void)state;
    enum { N = 64, LOOKUPS = 300 };
    uint64_t rs = 777;
    struct chord_sim *sim = test_sim_new(31, 0);
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.successors = 2 * log2_ceil(N);
    build_configured(sim, &rs, N, &cfg, 20);

    int crashed = 0;
    while (crashed < N / 2) {
        int i = (int)(rnd(&rs) % N);
        if (chord_sim_is_up(sim, i)) {
            assert_int_equal(chord_sim_crash(sim, i), 0);
            crashed++;
        }
    }
    struct half_ctx c = {.sim = sim};
    char key[32];
    for (int k = 0; k < LOOKUPS; k++) {
        snprintf(key, sizeof key, "half-%d", k);
        int via = pick_active(sim, &rs, N, -1);
        assert_int_equal(chord_sim_request(sim, via, CHORD_SIM_LOOKUP, key,
                                           strlen(key), NULL, 0, half_reply,
                                           &c),
                         0);
    }
    chord_sim_run_for(sim, 5000);
    assert_int_equal(c.answered, LOOKUPS);
    if (c.wrong)
        fail_msg("%d of %d lookups failed; first: %s", c.wrong, LOOKUPS,
                 c.first_bad);
    assert_int_equal(c.slow, 0);
    chord_sim_free(sim);
}

/* ---- (g) proximity routing on an Internet-like latency model ------------- */

struct lat_ctx {
    struct chord_sim *sim;
    int answered, wrong;
    uint64_t total_ms;
};

static void lat_reply(void *arg, const struct chord_sim_reply *r)
{
    struct lat_ctx *c = arg;
    c->answered++;
    bool ok = r->err == 0 && r->status == CHORD_OK;
    if (!ok || chord_sim_owner(c->sim, &r->lookup.key_id) !=
                   chord_sim_find(c->sim, r->lookup.owner.addr))
        c->wrong++;
    c->total_ms += r->done_ms - r->sent_ms;
}

/* Mean latency of 300 lookups on a 128-node ring spread over five
 * continents (the geo model), with or without proximity routing; the
 * ring is built and measured the same way, from the same seeds. */
static double geo_lookup_ms(bool pns)
{
    enum { N = 128, LOOKUPS = 300 };
    uint64_t rs = 2024;
    struct chord_sim *sim = test_sim_new(77, 0);
    assert_int_equal(chord_sim_set_latency_geo(sim, 5), 0);
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.pns = pns;
    build_configured(sim, &rs, N, &cfg, 50); /* PNS fingers: see sim.h */
    chord_sim_run_for(sim, 20000); /* every finger refreshed and measured */
    struct lat_ctx c = {.sim = sim};
    char key[32];
    for (int k = 0; k < LOOKUPS; k++) {
        snprintf(key, sizeof key, "geo-%d", k);
        int via = pick_active(sim, &rs, N, -1);
        assert_int_equal(chord_sim_request(sim, via, CHORD_SIM_LOOKUP, key,
                                           strlen(key), NULL, 0, lat_reply, &c),
                         0);
        chord_sim_run_for(sim, 10);
    }
    chord_sim_run_for(sim, 5000);
    assert_int_equal(c.answered, LOOKUPS);
    assert_int_equal(c.wrong, 0);
    chord_sim_free(sim);
    return (double)c.total_ms / LOOKUPS;
}

/* Proximity routing must find the same owners, faster: at least a
 * quarter less lookup latency than plain Chord on the same network. */
static void test_proximity_routing(void **state)
{
    (void)state;
    double plain = geo_lookup_ms(false);
    double pns = geo_lookup_ms(true);
    print_message("mean lookup latency: %.1f ms plain, %.1f ms with "
                  "proximity routing\n",
                  plain, pns);
    assert_true(pns < 0.75 * plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_converges),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_put_get_lookup),
        cmocka_unit_test(test_join_moves_keys),
        cmocka_unit_test(test_leave_hands_keys_over),
        cmocka_unit_test(test_concurrent_joins),
        cmocka_unit_test(test_lossy_network),
        cmocka_unit_test(test_half_crash_lookups),
        cmocka_unit_test(test_proximity_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
