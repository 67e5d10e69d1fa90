/*
 * test_sim_net.c - the simulator's network models, each checked where the
 * right answer is known:
 *  (a) latency matrix: every frame delivered takes exactly the matrix
 *      delay of its (sender host, receiver host), both ways of an
 *      asymmetric matrix, with hosts i % M or placed by hand; a lookup on
 *      a two-node ring takes whole round trips; bad matrices are refused;
 *  (b) the same seed and the same matrix give the same run (digest), a
 *      different matrix another one; choosing a model draws nothing from
 *      the PRNG, so a uniform run is the same after a detour;
 *  (c) FIFO per link holds with a wide uniform range and across a change
 *      of model while frames are in flight;
 *  (d) geo: delays are symmetric, within [2, 20] ms inside a continent and
 *      [40, 147] ms between two, the continents are exactly `clusters`
 *      classes, and a node's place depends only on the seed and its index;
 *  (e) partition: across the cut requests fail and no frame gets through,
 *      on each side they work; after heal a put and a get across the
 *      former cut work again; a crashed node behind the cut gives no
 *      unreachable report (silence, as behind a firewall); frames in
 *      flight when the cut comes are lost.
 *
 * Everything runs in simulated time; nothing sleeps.
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

#include "chord/node.h"
#include "chord/sim.h"
#include "core/routing.h"

#define JOIN_GAP_MS 300
#define SETTLE_MAX_MS 60000
#define GEO_NODES 200

/* ---- shared helpers ----------------------------------------------------- */

static struct chord_sim *sim_with(uint64_t seed, uint32_t client_timeout_ms)
{
    struct chord_sim_config cfg;
    chord_sim_config_default(&cfg);
    cfg.seed = seed;
    if (client_timeout_ms)
        cfg.client_timeout_ms = client_timeout_ms;
    struct chord_sim *sim = NULL;
    assert_int_equal(chord_sim_new(&cfg, &sim), 0);
    return sim;
}

/* Add n nodes (replicas 1, `succ` successors), node 0 creates, the others
 * join through node 0 one at a time, then settle to an exact ring. */
static void ring_build(struct chord_sim *sim, int n, unsigned succ)
{
    struct chord_node_config nc;
    for (int i = 0; i < n; i++) {
        chord_node_config_default(&nc);
        nc.successors = succ;
        nc.replicas = 1;
        nc.seed = 1000 + (uint64_t)i;
        nc.log_level = CHORD_LOG_ERROR;
        int idx = chord_sim_add_node(sim, &nc, NULL);
        assert_true(idx >= 0);
        if (idx == 0)
            assert_int_equal(chord_sim_create(sim, 0), 0);
        else
            assert_int_equal(chord_sim_join(sim, idx, 0), 0);
        chord_sim_run_for(sim, JOIN_GAP_MS);
    }
    char err[256];
    uint64_t t0 = chord_sim_now(sim);
    while (chord_sim_check_ring(sim, err, sizeof err) != 0 &&
           chord_sim_now(sim) - t0 < SETTLE_MAX_MS)
        chord_sim_run_for(sim, 250);
    int wrong = chord_sim_check_ring(sim, err, sizeof err);
    if (wrong)
        fail_msg("ring of %d not exact: %d wrong; first: %s", n, wrong, err);
}

/* What the trace hook saw. */
struct trace_log {
    const struct chord_sim *sim;
    uint64_t frames;
    uint64_t off_model; /* frames whose delay was not the model's */
    char first_bad[160];
    uint64_t out_of_order; /* a frame delivered after a later-sent one */
    uint64_t crossing;     /* frames between two different groups */
    uint64_t per_dir[2];   /* matrix test: frames 0 -> 1 and 1 -> 0 */
    uint64_t last_sent[16][16];
};

static void trace_cb(void *arg, int from, int to, uint64_t sent_ms,
                     uint64_t now_ms, size_t len)
{
    struct trace_log *t = arg;
    (void)len;
    t->frames++;
    uint32_t lo = 0, hi = 0;
    assert_int_equal(chord_sim_link_delay(t->sim, from, to, &lo, &hi), 0);
    uint64_t d = now_ms - sent_ms;
    if (d < lo || d > hi) {
        if (t->off_model == 0)
            snprintf(t->first_bad, sizeof t->first_bad,
                     "%d -> %d sent %llu delivered %llu: %llu ms, model "
                     "[%u, %u]",
                     from, to, (unsigned long long)sent_ms,
                     (unsigned long long)now_ms, (unsigned long long)d, lo, hi);
        t->off_model++;
    }
    if (from < 16 && to < 16) {
        if (sent_ms < t->last_sent[from][to])
            t->out_of_order++;
        t->last_sent[from][to] = sent_ms;
    }
    if (chord_sim_group(t->sim, from) != chord_sim_group(t->sim, to))
        t->crossing++;
    if (from == 0 && to == 1)
        t->per_dir[0]++;
    if (from == 1 && to == 0)
        t->per_dir[1]++;
}

/* Trace every delivered frame of sim into a new log (free() it). */
static struct trace_log *trace_start(struct chord_sim *sim)
{
    struct trace_log *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->sim = sim;
    chord_sim_set_trace(sim, trace_cb, t);
    return t;
}

static void assert_on_model(const struct trace_log *t)
{
    assert_true(t->frames > 0);
    if (t->off_model)
        fail_msg("%llu of %llu frames off the model; first: %s",
                 (unsigned long long)t->off_model,
                 (unsigned long long)t->frames, t->first_bad);
}

/* A key (its text in buf) whose true owner is node `want`. */
static const char *key_owned_by(const struct chord_sim *sim, int want,
                                char *buf, size_t len)
{
    for (int k = 0; k < 100000; k++) {
        snprintf(buf, len, "key-%d", k);
        struct chord_id id;
        chord_id_hash(&id, buf, strlen(buf));
        if (chord_sim_owner(sim, &id) == want)
            return buf;
    }
    fail_msg("no key owned by node %d", want);
    return NULL;
}

/* ---- (a) latency matrix -------------------------------------------------- */

/* Host 0 -> 1 takes 7 ms, 1 -> 0 takes 30; a host to itself 0 (taken as
 * 1 ms). */
static const uint32_t asym[4] = {0, 7, 30, 0};

static void test_matrix_delivery(void **state)
{
    (void)state;
    struct chord_sim *sim = sim_with(21, 0);
    assert_int_equal(chord_sim_set_latency_matrix(sim, asym, 2), 0);
    struct trace_log *t = trace_start(sim);
    ring_build(sim, 2, 2);

    uint32_t lo, hi;
    assert_int_equal(chord_sim_link_delay(sim, 0, 1, &lo, &hi), 0);
    assert_int_equal(lo, 7);
    assert_int_equal(hi, 7);
    assert_int_equal(chord_sim_link_delay(sim, 1, 0, &lo, &hi), 0);
    assert_int_equal(lo, 30);
    assert_int_equal(chord_sim_link_delay(sim, 0, 0, &lo, &hi), 0);
    assert_int_equal(lo, 1); /* 0 in the matrix */

    /* Every frame of the build took exactly its matrix delay. */
    assert_on_model(t);
    assert_true(t->per_dir[0] > 0 && t->per_dir[1] > 0);

    /* Through node 0, on a key node 1 owns: every chain of messages starts
     * and ends at node 0, so a request takes whole round trips of 7 + 30
     * ms; a put must reach node 1, so it takes at least one. */
    char key[32];
    key_owned_by(sim, 1, key, sizeof key);
    struct chord_lookup_result lr;
    uint64_t t0 = chord_sim_now(sim);
    assert_int_equal(chord_sim_lookup(sim, 0, key, strlen(key), &lr), CHORD_OK);
    assert_int_equal((chord_sim_now(sim) - t0) % 37, 0);
    assert_string_equal(lr.owner.addr, chord_sim_peer(sim, 1)->addr);
    t0 = chord_sim_now(sim);
    assert_int_equal(chord_sim_put(sim, 0, key, strlen(key), "v", 1), CHORD_OK);
    uint64_t took = chord_sim_now(sim) - t0;
    assert_true(took >= 37);
    assert_int_equal(took % 37, 0);
    assert_on_model(t);
    chord_sim_free(sim);
    free(t);
}

static void test_matrix_hosts(void **state)
{
    (void)state;
    /* Three hosts, all delays different. */
    static const uint32_t m3[9] = {0, 11, 12, 21, 0, 23, 31, 32, 0};
    struct chord_sim *sim = sim_with(22, 0);
    assert_int_equal(chord_sim_set_latency_matrix(sim, m3, 3), 0);
    struct trace_log *t = trace_start(sim);
    ring_build(sim, 6, 2);
    uint32_t lo, hi;
    /* Node i on host i % 3: node 4 is on host 1, node 2 on host 2. */
    assert_int_equal(chord_sim_link_delay(sim, 4, 2, &lo, &hi), 0);
    assert_int_equal(lo, 23);
    assert_int_equal(chord_sim_link_delay(sim, 2, 4, &lo, &hi), 0);
    assert_int_equal(lo, 32);
    /* Moved by hand: node 4 to host 2, next to node 2. */
    assert_int_equal(chord_sim_set_host(sim, 4, 2), 0);
    assert_int_equal(chord_sim_link_delay(sim, 4, 2, &lo, &hi), 0);
    assert_int_equal(lo, 1);
    assert_int_equal(chord_sim_link_delay(sim, 4, 0, &lo, &hi), 0);
    assert_int_equal(lo, 31);
    chord_sim_run_for(sim, 3000);
    assert_on_model(t);
    assert_int_equal(t->out_of_order, 0);

    /* A new matrix puts every node back on host i % m. */
    assert_int_equal(chord_sim_set_latency_matrix(sim, m3, 3), 0);
    assert_int_equal(chord_sim_link_delay(sim, 4, 2, &lo, &hi), 0);
    assert_int_equal(lo, 23);

    /* Refusals. */
    assert_int_equal(chord_sim_set_host(sim, 4, 3), -EINVAL);
    assert_int_equal(chord_sim_set_host(sim, 99, 0), -EINVAL);
    assert_int_equal(chord_sim_set_latency_matrix(sim, NULL, 3), -EINVAL);
    assert_int_equal(chord_sim_set_latency_matrix(sim, m3, 0), -EINVAL);
    assert_int_equal(
        chord_sim_set_latency_matrix(sim, m3, CHORD_SIM_HOSTS_MAX + 1),
        -EINVAL);
    uint32_t huge[1] = {CHORD_SIM_DELAY_MAX_MS + 1};
    assert_int_equal(chord_sim_set_latency_matrix(sim, huge, 1), -EINVAL);
    assert_int_equal(chord_sim_link_delay(sim, 0, 6, &lo, &hi), -EINVAL);
    assert_int_equal(chord_sim_set_latency_uniform(sim, 0, 5), -EINVAL);
    assert_int_equal(chord_sim_set_latency_uniform(sim, 6, 5), -EINVAL);
    /* Back to uniform: no matrix, so no host either. */
    assert_int_equal(chord_sim_set_latency_uniform(sim, 2, 9), 0);
    assert_int_equal(chord_sim_set_host(sim, 0, 0), -EINVAL);
    assert_int_equal(chord_sim_link_delay(sim, 4, 2, &lo, &hi), 0);
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 9);
    chord_sim_set_trace(sim, NULL, NULL);
    chord_sim_free(sim);
    free(t);
}

/* ---- (b) determinism ----------------------------------------------------- */

static uint64_t matrix_run_digest(uint64_t seed, const uint32_t *m,
                                  unsigned hosts)
{
    struct chord_sim *sim = sim_with(seed, 0);
    if (m)
        assert_int_equal(chord_sim_set_latency_matrix(sim, m, hosts), 0);
    ring_build(sim, 6, 2);
    char key[32];
    for (int k = 0; k < 20; k++) {
        snprintf(key, sizeof key, "k%d", k);
        assert_int_equal(chord_sim_put(sim, k % 6, key, strlen(key), "v", 1),
                         CHORD_OK);
    }
    chord_sim_run_for(sim, 2000);
    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    assert_true(st.events > 0);
    chord_sim_free(sim);
    return st.digest;
}

static void test_matrix_determinism(void **state)
{
    (void)state;
    static const uint32_t a[9] = {0, 15, 40, 15, 0, 25, 40, 25, 0};
    static const uint32_t b[9] = {0, 15, 41, 15, 0, 25, 40, 25, 0};
    uint64_t d1 = matrix_run_digest(5, a, 3);
    uint64_t d2 = matrix_run_digest(5, a, 3);
    uint64_t d3 = matrix_run_digest(5, b, 3);
    assert_true(d1 == d2);
    assert_true(d1 != d3);
}

/* Setting a model draws nothing from the PRNG: a uniform run after a
 * detour through geo and a matrix is the run it would have been. */
static void test_uniform_unchanged(void **state)
{
    (void)state;
    uint64_t plain = matrix_run_digest(9, NULL, 0);

    struct chord_sim *sim = sim_with(9, 0);
    static const uint32_t one[1] = {50};
    assert_int_equal(chord_sim_set_latency_geo(sim, 3), 0);
    assert_int_equal(chord_sim_set_latency_matrix(sim, one, 1), 0);
    assert_int_equal(chord_sim_set_latency_uniform(sim, 1, 5), 0);
    ring_build(sim, 6, 2);
    char key[32];
    for (int k = 0; k < 20; k++) {
        snprintf(key, sizeof key, "k%d", k);
        assert_int_equal(chord_sim_put(sim, k % 6, key, strlen(key), "v", 1),
                         CHORD_OK);
    }
    chord_sim_run_for(sim, 2000);
    struct chord_sim_stats st;
    chord_sim_stats(sim, &st);
    chord_sim_free(sim);
    assert_true(st.digest == plain);
}

/* ---- (c) FIFO per link -------------------------------------------------- */

static void test_fifo(void **state)
{
    (void)state;
    /* A wide range would reorder most back-to-back frames without FIFO. */
    struct chord_sim *sim = sim_with(31, 0);
    assert_int_equal(chord_sim_set_latency_uniform(sim, 1, 80), 0);
    struct trace_log *t = trace_start(sim);
    ring_build(sim, 8, 3);
    chord_sim_run_for(sim, 2000);
    assert_true(t->frames > 500);
    assert_int_equal(t->out_of_order, 0);
    assert_on_model(t); /* FIFO never pushes a frame past max */

    /* Slow links, then fast ones while the slow frames are in flight: a
     * fast frame must wait behind the slow one on its link. */
    static const uint32_t slow[1] = {400}, fast[1] = {1};
    uint64_t before = t->frames;
    for (int round = 0; round < 10; round++) {
        assert_int_equal(chord_sim_set_latency_matrix(sim, slow, 1), 0);
        chord_sim_run_for(sim, 150);
        assert_int_equal(chord_sim_set_latency_matrix(sim, fast, 1), 0);
        chord_sim_run_for(sim, 150);
    }
    chord_sim_run_for(sim, 1000);
    assert_true(t->frames - before > 100);
    assert_int_equal(t->out_of_order, 0);
    chord_sim_set_trace(sim, NULL, NULL);
    chord_sim_free(sim);
    free(t);
}

/* ---- (d) geo ------------------------------------------------------------ */

static struct chord_sim *geo_sim(uint64_t seed, unsigned clusters,
                                 bool model_first)
{
    struct chord_sim *sim = sim_with(seed, 0);
    if (model_first)
        assert_int_equal(chord_sim_set_latency_geo(sim, clusters), 0);
    for (int i = 0; i < GEO_NODES; i++)
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), i);
    if (!model_first)
        assert_int_equal(chord_sim_set_latency_geo(sim, clusters), 0);
    return sim;
}

static uint32_t geo_d(const struct chord_sim *sim, int a, int b)
{
    uint32_t lo = 0, hi = 0;
    assert_int_equal(chord_sim_link_delay(sim, a, b, &lo, &hi), 0);
    assert_int_equal(lo, hi);
    return lo;
}

static void test_geo_bounds(void **state)
{
    (void)state;
    for (unsigned clusters = 1; clusters <= CHORD_SIM_GEO_CLUSTERS_MAX;
         clusters++) {
        struct chord_sim *sim = geo_sim(41 + clusters, clusters, true);
        int cls[GEO_NODES];
        int n_cls = 0;
        uint32_t intra_max = 0, inter_min = UINT32_MAX, inter_max = 0;
        for (int i = 0; i < GEO_NODES; i++) {
            cls[i] = -1;
            for (int j = 0; j < i && cls[i] < 0; j++)
                if (geo_d(sim, i, j) <= CHORD_SIM_GEO_INTRA_MAX_MS)
                    cls[i] = cls[j];
            if (cls[i] < 0)
                cls[i] = n_cls++;
        }
        for (int i = 0; i < GEO_NODES; i++) {
            for (int j = 0; j < GEO_NODES; j++) {
                uint32_t d = geo_d(sim, i, j);
                assert_int_equal(d, geo_d(sim, j, i));
                if (cls[i] == cls[j]) {
                    /* Same continent: [2, 20] (the classes are exact:
                     * every pair in one is near, every other far). */
                    assert_in_range(d, CHORD_SIM_GEO_BASE_MS,
                                    CHORD_SIM_GEO_INTRA_MAX_MS);
                    if (i != j && d > intra_max)
                        intra_max = d;
                } else {
                    assert_in_range(d, CHORD_SIM_GEO_INTER_MIN_MS,
                                    CHORD_SIM_GEO_INTER_MAX_MS);
                    inter_min = d < inter_min ? d : inter_min;
                    inter_max = d > inter_max ? d : inter_max;
                }
            }
        }
        /* 200 nodes fill every continent and spread inside each. */
        assert_int_equal(n_cls, (int)clusters);
        assert_true(intra_max >= 14);
        if (clusters >= 5) {
            assert_true(inter_min <= 60);  /* neighbouring continents */
            assert_true(inter_max >= 120); /* opposite ones */
        }
        chord_sim_free(sim);
    }
    struct chord_sim *sim = sim_with(1, 0);
    assert_int_equal(chord_sim_set_latency_geo(sim, 0), -EINVAL);
    assert_int_equal(
        chord_sim_set_latency_geo(sim, CHORD_SIM_GEO_CLUSTERS_MAX + 1),
        -EINVAL);
    chord_sim_free(sim);
}

static void test_geo_determinism(void **state)
{
    (void)state;
    struct chord_sim *a = geo_sim(77, 5, true);
    struct chord_sim *b = geo_sim(77, 5, false); /* model set after adds */
    struct chord_sim *c = geo_sim(78, 5, true);
    int differ = 0;
    for (int i = 0; i < GEO_NODES; i++)
        for (int j = 0; j < GEO_NODES; j += 7) {
            assert_int_equal(geo_d(a, i, j), geo_d(b, i, j));
            differ += geo_d(a, i, j) != geo_d(c, i, j);
        }
    assert_true(differ > GEO_NODES);
    chord_sim_free(a);
    chord_sim_free(b);
    chord_sim_free(c);

    /* A geo ring: every frame takes its pair's delay, and the run is
     * the same twice. */
    uint64_t digest[2];
    for (int r = 0; r < 2; r++) {
        struct chord_sim *sim = sim_with(79, 0);
        assert_int_equal(chord_sim_set_latency_geo(sim, 3), 0);
        struct trace_log *t = calloc(1, sizeof *t);
        assert_non_null(t);
        t->sim = sim;
        chord_sim_set_trace(sim, trace_cb, t);
        ring_build(sim, 8, 3);
        chord_sim_run_for(sim, 2000);
        assert_on_model(t);
        struct chord_sim_stats st;
        chord_sim_stats(sim, &st);
        digest[r] = st.digest;
        chord_sim_free(sim);
        free(t);
    }
    assert_true(digest[0] == digest[1]);
}

/* ---- (e) partitions ----------------------------------------------------- */

#define PART_NODES 8
/* A request gives up before anyone is convicted (about 2 s of silence). */
#define PART_CLIENT_TIMEOUT_MS 800
#define HEAL_WAIT_MS 6000 /* past the 5 s the core shuns a silent peer */

static void test_partition(void **state)
{
    (void)state;
    struct chord_sim *sim = sim_with(51, PART_CLIENT_TIMEOUT_MS);
    struct trace_log *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->sim = sim;
    ring_build(sim, PART_NODES, 2);

    /* The ring in id order, from node 0's successor round to node 0. */
    int v[PART_NODES];
    for (int k = 0; k < PART_NODES; k++) {
        v[k] = chord_sim_find(
            sim, chord_node_routing(chord_sim_node(sim, k == 0 ? 0 : v[k - 1]))
                     ->succ[0]
                     .addr);
        assert_true(v[k] >= 0);
    }
    assert_int_equal(v[PART_NODES - 1], 0);
    /* Cut it into two arcs: v[0..3] stay in group 0, v[4..7] go to group
     * 1. A lookup only walks forward from its origin towards the owner,
     * and the owner answers the origin, so one between two nodes of one
     * arc stays in it. */
    uint8_t group[PART_NODES] = {0};
    for (int k = 4; k < PART_NODES; k++)
        group[v[k]] = 1;
    assert_int_equal(chord_sim_partition(sim, group, PART_NODES), 0);
    for (int k = 0; k < PART_NODES; k++)
        assert_int_equal(chord_sim_group(sim, v[k]), k >= 4);
    chord_sim_set_trace(sim, trace_cb, t);
    struct chord_sim_stats s0, s1;
    chord_sim_stats(sim, &s0);

    /* Same side: put and get work (v[0] -> v[2], v[4] -> v[6]). */
    char k0[32], k1[32];
    key_owned_by(sim, v[2], k0, sizeof k0);
    assert_int_equal(chord_sim_put(sim, v[0], k0, strlen(k0), "zero", 4),
                     CHORD_OK);
    key_owned_by(sim, v[6], k1, sizeof k1);
    assert_int_equal(chord_sim_put(sim, v[4], k1, strlen(k1), "one", 3),
                     CHORD_OK);
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(chord_sim_get(sim, v[1], k0, strlen(k0), &val, &vlen),
                     CHORD_OK);
    assert_int_equal(vlen, 4);
    free(val);

    /* Across the cut: the request does not succeed. */
    uint64_t t0 = chord_sim_now(sim);
    int rc = chord_sim_put(sim, v[0], k1, strlen(k1), "new", 3);
    assert_true(rc != CHORD_OK);
    assert_true(chord_sim_now(sim) - t0 <= PART_CLIENT_TIMEOUT_MS);
    chord_sim_stats(sim, &s1);
    assert_true(s1.partitioned > s0.partitioned);
    assert_int_equal(t->crossing, 0); /* nothing got through */
    assert_true(t->frames > 0);

    /* Heal: the put across the former cut works, and both sides read the
     * value. */
    chord_sim_heal(sim);
    for (int k = 0; k < PART_NODES; k++)
        assert_int_equal(chord_sim_group(sim, k), 0);
    chord_sim_run_for(sim, HEAL_WAIT_MS);
    char err[256];
    uint64_t th = chord_sim_now(sim);
    while (chord_sim_check_successors(sim, err, sizeof err) != 0 &&
           chord_sim_now(sim) - th < SETTLE_MAX_MS)
        chord_sim_run_for(sim, 250);
    assert_int_equal(chord_sim_check_successors(sim, err, sizeof err), 0);
    assert_int_equal(chord_sim_put(sim, v[0], k1, strlen(k1), "new", 3),
                     CHORD_OK);
    assert_int_equal(chord_sim_get(sim, v[7], k1, strlen(k1), &val, &vlen),
                     CHORD_OK);
    assert_int_equal(vlen, 3);
    assert_memory_equal(val, "new", 3);
    free(val);
    assert_int_equal(chord_sim_get(sim, v[5], k0, strlen(k0), &val, &vlen),
                     CHORD_OK);
    assert_int_equal(vlen, 4);
    free(val);
    chord_sim_set_trace(sim, NULL, NULL);
    chord_sim_free(sim);
    free(t);
}

/* Behind the cut a crash is silence: no unreachable report. In the open
 * the same crash is reported (so the count can see one). */
static void test_partition_silence(void **state)
{
    (void)state;
    for (int cut = 0; cut < 2; cut++) {
        struct chord_sim *sim = sim_with(61, 0);
        ring_build(sim, 4, 2);
        if (cut) {
            assert_int_equal(chord_sim_set_group(sim, 3, 7), 0);
            assert_int_equal(chord_sim_group(sim, 3), 7);
        }
        struct chord_sim_stats a, b;
        chord_sim_stats(sim, &a);
        assert_int_equal(chord_sim_crash(sim, 3), 0);
        chord_sim_run_for(sim, 3000);
        chord_sim_stats(sim, &b);
        if (cut) {
            assert_int_equal(b.unreachable, a.unreachable);
            assert_true(b.partitioned > a.partitioned);
        } else {
            assert_true(b.unreachable > a.unreachable);
            assert_int_equal(b.partitioned, a.partitioned);
        }
        /* A node added later is in group 0. */
        assert_int_equal(chord_sim_add_node(sim, NULL, NULL), 4);
        assert_int_equal(chord_sim_group(sim, 4), 0);
        assert_int_equal(chord_sim_set_group(sim, 4, 256), -EINVAL);
        assert_int_equal(chord_sim_set_group(sim, 5, 1), -EINVAL);
        assert_int_equal(chord_sim_group(sim, 5), -EINVAL);
        uint8_t g[6] = {0};
        assert_int_equal(chord_sim_partition(sim, g, 6), -EINVAL);
        assert_int_equal(chord_sim_partition(sim, NULL, 1), -EINVAL);
        assert_int_equal(chord_sim_partition(sim, NULL, 0), 0);
        chord_sim_free(sim);
    }
}

/* A frame in flight when the cut comes is lost too: with 300 ms links,
 * cut every node off from every other while frames travel. */
static void test_partition_in_flight(void **state)
{
    (void)state;
    struct chord_sim *sim = sim_with(71, 0);
    ring_build(sim, 6, 2);
    static const uint32_t slow[1] = {300};
    assert_int_equal(chord_sim_set_latency_matrix(sim, slow, 1), 0);
    struct trace_log *t = trace_start(sim);
    chord_sim_run_for(sim, 1000); /* frames sent, some delivered */
    assert_true(t->frames > 0);
    uint64_t before = t->frames;
    struct chord_sim_stats a, b;
    chord_sim_stats(sim, &a);
    uint8_t g[6] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(chord_sim_partition(sim, g, 6), 0);
    chord_sim_run_for(sim, 1000);
    chord_sim_stats(sim, &b);
    assert_int_equal(t->frames, before); /* nothing arrived */
    assert_int_equal(t->crossing, 0);
    assert_true(b.partitioned > a.partitioned);
    assert_int_equal(b.delivered, a.delivered);
    chord_sim_set_trace(sim, NULL, NULL);
    chord_sim_free(sim);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_delivery),
        cmocka_unit_test(test_matrix_hosts),
        cmocka_unit_test(test_matrix_determinism),
        cmocka_unit_test(test_uniform_unchanged),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_geo_bounds),
        cmocka_unit_test(test_geo_determinism),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_partition_silence),
        cmocka_unit_test(test_partition_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
