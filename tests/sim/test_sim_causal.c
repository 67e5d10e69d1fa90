/*
 * test_sim_causal.c - version vectors and session guarantees in the
 * simulator (issue 14's acceptance):
 *
 *  (a) split and heal, 20 seeds: a ring of 8 is cut into two arcs, the
 *      same keys are written on both sides (each side re-formed a ring of
 *      its own and accepts them), the cut heals: after anti-entropy every
 *      acknowledged value is there as a sibling, and a put with the
 *      context the read returned leaves exactly one value.
 *  (b) sessions: with consistency one, a write reaches one side of a cut
 *      only (its replication cannot cross). A session that wrote through
 *      node A and reads through node B on the other side is never shown
 *      the older value: its read waits (the owner asks every replica and
 *      retries) until the cut heals and then returns its write; the same
 *      read without the session returns the older value at once (the
 *      anomaly the session prevents, so the test can fail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "chord/buf.h"
#include "chord/id.h"
#include "core/dvv.h"
#include "core/routing.h"
#include "core/wire.h"
#include "sim_util.h"

#define N 8
#define JOIN_GAP_MS 300
#define SETTLE_MAX_MS 60000
#define SPLIT_SETTLE_MS 15000 /* each side detects the other and re-forms */
#define HEAL_SYNC_MS 30000    /* anti-entropy and orphan returns after heal */
#define KEYS 6
#define SEEDS 20

/* One reply, copied out of the callback. */
struct reply {
    bool done;
    int err, status;
    uint8_t *value;
    size_t value_len;
    uint8_t *state;
    size_t state_len;
    char error[CHORD_ERRMSG_MAX];
};

static void reply_clear(struct reply *r)
{
    free(r->value);
    free(r->state);
    memset(r, 0, sizeof *r);
}

static uint8_t *copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len)
        memcpy(c, p, len);
    return c;
}

static void on_reply(void *arg, const struct chord_sim_reply *r)
{
    struct reply *out = arg;
    out->done = true;
    out->err = r->err;
    out->status = r->status;
    if (r->has_value) {
        out->value = copy(r->value, r->value_len);
        out->value_len = r->value_len;
    }
    if (r->state) {
        out->state = copy(r->state, r->state_len);
        out->state_len = r->state_len;
    }
    snprintf(out->error, sizeof out->error, "%s", r->error);
}

/* Send a request and run the simulation until its reply. */
static void request(struct chord_sim *sim, int node, enum chord_sim_op op,
                    const char *key, const char *value,
                    const struct chord_sim_causal *c, struct reply *out)
{
    reply_clear(out);
    assert_int_equal(chord_sim_request_causal(sim, node, op, key, strlen(key),
                                              value, value ? strlen(value) : 0,
                                              c, on_reply, out),
                     0);
    uint64_t t0 = chord_sim_now(sim);
    while (!out->done && chord_sim_now(sim) - t0 < 60000)
        chord_sim_run_for(sim, 5);
    assert_true(out->done);
}

/* The live values of a reply's state, and its context (encoded) into
 * ctx (may be NULL). Returns how many live values; vals[i] borrow from
 * r->state. */
static unsigned live_values(const struct reply *r, uint64_t wall,
                            struct chord_bytes *vals, struct chord_buf *ctx)
{
    struct chord_dvv *d = malloc(sizeof *d);
    assert_non_null(d);
    assert_non_null(r->state);
    assert_int_equal(chord_dvv_decode(r->state, r->state_len, d), 0);
    unsigned k = 0;
    for (unsigned i = 0; i < d->n_sib; i++)
        if (chord_dvv_sibling_live(d, i, wall))
            vals[k++] = d->sib[i].value;
    if (ctx) {
        chord_buf_reset(ctx);
        assert_int_equal(chord_dvv_context_encode(d, ctx), 0);
    }
    free(d);
    return k;
}

/* The reply's one live value is `want`. */
static void assert_value(const struct reply *r, uint64_t wall, const char *want)
{
    struct chord_bytes vals[CHORD_DVV_SIBLINGS];
    unsigned n = live_values(r, wall, vals, NULL);
    if (n != 1 || vals[0].len != strlen(want) ||
        memcmp(vals[0].data, want, vals[0].len) != 0)
        fail_msg("want the one value %s, got %u values (first %.*s)", want, n,
                 n ? (int)vals[0].len : 0, n ? (const char *)vals[0].data : "");
}

static bool has_value(const struct chord_bytes *vals, unsigned n,
                      const char *want)
{
    for (unsigned i = 0; i < n; i++)
        if (vals[i].len == strlen(want) &&
            memcmp(vals[i].data, want, vals[i].len) == 0)
            return true;
    return false;
}

/* Run until every successor list is right (bounded). */
static void settle(struct chord_sim *sim)
{
    char err[256];
    uint64_t t0 = chord_sim_now(sim);
    while (chord_sim_check_successors(sim, err, sizeof err) != 0 &&
           chord_sim_now(sim) - t0 < SETTLE_MAX_MS)
        chord_sim_run_for(sim, 250);
    if (chord_sim_check_successors(sim, err, sizeof err) != 0)
        fail_msg("successor lists still wrong: %s", err);
}

static void ring_build(struct chord_sim *sim, uint64_t seed)
{
    struct chord_node_config nc;
    for (int i = 0; i < N; i++) {
        chord_node_config_default(&nc);
        nc.seed = seed * 100 + (uint64_t)i;
        nc.log_level = CHORD_LOG_ERROR;
        nc.op_timeout_ms = 20000;
        int idx = chord_sim_add_node(sim, &nc, NULL);
        assert_true(idx >= 0);
        if (idx == 0)
            assert_int_equal(chord_sim_create(sim, 0), 0);
        else
            assert_int_equal(chord_sim_join(sim, idx, 0), 0);
        chord_sim_run_for(sim, JOIN_GAP_MS);
    }
    settle(sim);
}

/* The ring in id order: v[0] = node 0, v[k+1] = v[k]'s successor. */
static void ring_order(struct chord_sim *sim, int v[N])
{
    v[0] = 0;
    for (int k = 1; k < N; k++) {
        v[k] = chord_sim_find(
            sim,
            chord_node_routing(chord_sim_node(sim, v[k - 1]))->succ[0].addr);
        assert_true(v[k] >= 0);
    }
}

/* A put through `node` that is retried (a side may still be re-forming)
 * a few times; true when acknowledged. */
static bool put_acked(struct chord_sim *sim, int node, const char *key,
                      const char *value, struct reply *r)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        request(sim, node, CHORD_SIM_PUT, key, value, NULL, r);
        if (r->err == 0 && r->status == CHORD_OK)
            return true;
        chord_sim_run_for(sim, 2000);
    }
    return false;
}

/* ---- (a) split and heal ------------------------------------------------- */

static void split_heal_one(uint64_t seed, unsigned *acked_total)
{
    struct chord_sim *sim = test_sim_new(seed, 0);
    ring_build(sim, seed);
    int v[N];
    ring_order(sim, v);
    struct reply r = {0};
    char key[32], val[64];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "split-%d", k);
        assert_true(put_acked(sim, v[0], key, "before", &r));
    }
    chord_sim_run_for(sim, 2000);

    uint8_t group[N] = {0};
    for (int k = N / 2; k < N; k++)
        group[v[k]] = 1;
    assert_int_equal(chord_sim_partition(sim, group, N), 0);
    chord_sim_run_for(sim, SPLIT_SETTLE_MS);

    /* The same keys on both sides. */
    bool acked[KEYS][2];
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "split-%d", k);
        for (int side = 0; side < 2; side++) {
            snprintf(val, sizeof val, "side-%d-of-%d", side, k);
            acked[k][side] =
                put_acked(sim, v[side * (N / 2) + 1], key, val, &r);
            *acked_total += acked[k][side];
        }
    }
    chord_sim_heal(sim);
    settle(sim);
    chord_sim_run_for(sim, HEAL_SYNC_MS);

    struct chord_sim_causal want = {0};
    struct chord_bytes vals[CHORD_DVV_SIBLINGS];
    struct chord_buf ctx;
    chord_buf_init(&ctx);
    uint64_t wall = chord_sim_now(sim);
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "split-%d", k);
        request(sim, v[2], CHORD_SIM_GET, key, NULL, &want, &r);
        assert_int_equal(r.err, 0);
        unsigned n = live_values(&r, wall, vals, &ctx);
        for (int side = 0; side < 2; side++) {
            snprintf(val, sizeof val, "side-%d-of-%d", side, k);
            if (acked[k][side] && !has_value(vals, n, val))
                fail_msg("seed %llu key %s: acknowledged %s is missing "
                         "(%u values)",
                         (unsigned long long)seed, key, val, n);
        }
        if (acked[k][0] && acked[k][1])
            assert_int_equal(n, 2); /* "before" was superseded on both */

        /* Resolve with the context read: exactly one value remains. */
        struct chord_sim_causal put = {.bits = CHORD_CAUSAL_CONTEXT,
                                       .context = ctx.data,
                                       .context_len = ctx.len};
        request(sim, v[6], CHORD_SIM_PUT, key, "resolved", &put, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.status, CHORD_OK);
        chord_sim_run_for(sim, 1000);
        request(sim, v[3], CHORD_SIM_GET, key, NULL, &want, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.status, CHORD_OK);
        n = live_values(&r, chord_sim_now(sim), vals, NULL);
        assert_int_equal(n, 1);
        assert_true(has_value(vals, n, "resolved"));
    }
    chord_buf_free(&ctx);
    reply_clear(&r);
    chord_sim_free(sim);
}

static void test_split_heal_keeps_every_acknowledged_write(void **state)
{
    (void)state;
    unsigned acked = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++)
        split_heal_one(seed, &acked);
    /* Most writes on both sides were acknowledged: the test tested. */
    assert_true(acked >= SEEDS * KEYS);
}

/* ---- (b) sessions ------------------------------------------------------- */

static const char *key_owned_by(const struct chord_sim *sim, int want,
                                char *buf, size_t len)
{
    for (int k = 0; k < 100000; k++) {
        snprintf(buf, len, "session-%d", k);
        struct chord_id id;
        chord_id_hash(&id, buf, strlen(buf));
        if (chord_sim_owner(sim, &id) == want)
            return buf;
    }
    fail_msg("no key owned by node %d", want);
    return NULL;
}

/* Merge a reply's context into the session token. */
static void token_merge(struct chord_buf *token, const struct reply *r)
{
    struct chord_dvv *d = malloc(2 * sizeof *d);
    assert_non_null(d);
    assert_int_equal(chord_dvv_decode(r->state, r->state_len, d), 0);
    chord_dvv_init(d + 1);
    if (token->len)
        assert_int_equal(chord_dvv_decode(token->data, token->len, d + 1), 0);
    struct chord_buf ctx;
    chord_buf_init(&ctx);
    assert_int_equal(chord_dvv_context_encode(d, &ctx), 0);
    assert_int_equal(chord_dvv_decode(ctx.data, ctx.len, d), 0);
    assert_true(chord_dvv_merge(d + 1, d) >= 0);
    chord_buf_reset(token);
    assert_int_equal(chord_dvv_context_encode(d + 1, token), 0);
    chord_buf_free(&ctx);
    free(d);
}

static void test_session_reads_its_writes_across_a_cut(void **state)
{
    (void)state;
    struct chord_sim *sim = test_sim_new(77, 0);
    ring_build(sim, 77);
    int v[N];
    ring_order(sim, v);
    char key[32];
    key_owned_by(sim, v[2], key, sizeof key);
    struct reply r = {0};
    struct chord_buf token;
    chord_buf_init(&token);

    /* v1 everywhere (the owner v[2] and its replicas v[3], v[4]). */
    struct chord_sim_causal plain = {0};
    request(sim, v[0], CHORD_SIM_PUT, key, "v1", &plain, &r);
    assert_int_equal(r.status, CHORD_OK);
    token_merge(&token, &r);
    chord_sim_run_for(sim, 2000);

    /* Cut {v[1], v[2]} off; v2 is written there with consistency one:
     * its replication cannot reach the replicas. */
    uint8_t group[N] = {0};
    group[v[1]] = group[v[2]] = 1;
    assert_int_equal(chord_sim_partition(sim, group, N), 0);
    struct chord_sim_causal one = {.consistency = CHORD_CONSISTENCY_ONE};
    request(sim, v[1], CHORD_SIM_PUT, key, "v2", &one, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, CHORD_OK);
    token_merge(&token, &r);
    /* Read it back on its side, with the session: v2. */
    struct chord_sim_causal sess = {.bits = CHORD_CAUSAL_SESSION,
                                    .session = token.data,
                                    .session_len = token.len,
                                    .consistency = CHORD_CONSISTENCY_ONE};
    request(sim, v[1], CHORD_SIM_GET, key, NULL, &sess, &r);
    assert_int_equal(r.status, CHORD_OK);
    assert_value(&r, chord_sim_now(sim), "v2");
    token_merge(&token, &r);
    sess.session = token.data;
    sess.session_len = token.len;

    /* The other side re-forms: v[3] owns the key there, with v1. */
    chord_sim_run_for(sim, SPLIT_SETTLE_MS);

    /* Without the session: v1, older than what the client wrote and read
     * (read-your-writes and monotonic reads both broken). */
    request(sim, v[5], CHORD_SIM_GET, key, NULL, &one, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, CHORD_OK);
    assert_value(&r, chord_sim_now(sim), "v1");

    /* With it: no answer while the cut lasts; after the heal, v2. */
    struct reply sr = {0};
    assert_int_equal(chord_sim_request_causal(sim, v[5], CHORD_SIM_GET, key,
                                              strlen(key), NULL, 0, &sess,
                                              on_reply, &sr),
                     0);
    chord_sim_run_for(sim, 3000);
    if (sr.done) /* an error is allowed, an old value is not */
        assert_int_not_equal(sr.status, CHORD_OK);
    chord_sim_heal(sim);
    uint64_t t0 = chord_sim_now(sim);
    while (!sr.done && chord_sim_now(sim) - t0 < 30000)
        chord_sim_run_for(sim, 10);
    assert_true(sr.done);
    if (sr.status == CHORD_OK) {
        assert_value(&sr, chord_sim_now(sim), "v2");
    } else {
        /* It gave up before the heal: a new read with the session now
         * returns v2 through the same node. */
        assert_string_not_equal(sr.error, "");
        settle(sim);
        request(sim, v[5], CHORD_SIM_GET, key, NULL, &sess, &r);
        assert_int_equal(r.status, CHORD_OK);
        assert_value(&r, chord_sim_now(sim), "v2");
    }
    reply_clear(&sr);
    reply_clear(&r);
    chord_buf_free(&token);
    chord_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_heal_keeps_every_acknowledged_write),
        cmocka_unit_test(test_session_reads_its_writes_across_a_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
