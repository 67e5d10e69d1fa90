/*
 * test_sim_replica.c - replication under failure, in the simulator.
 *
 * 16 nodes with r = 3 on a network that delays (1-5 ms) and loses 0.1% of
 * node-to-node frames. 2000 writes at quorum; then two adjacent nodes
 * crash at once. What a user would notice, and what is asserted:
 *  - every write that was acknowledged is readable afterwards (and none
 *    that was refused is counted);
 *  - after the ring repairs itself, every key has exactly r = 3 live
 *    copies, on exactly the owner and its next two successors;
 *  - a delete survives the crash of a replica (no resurrection).
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

#define NODES 16
#define KEYS 2000
#define R 3

static int random_active(const struct chord_sim *sim, uint64_t *rs)
{
    int n = chord_sim_count(sim);
    for (int tries = 0; tries < 1000; tries++) {
        int i = (int)(rnd(rs) % (uint64_t)n);
        if (sim_active(sim, i))
            return i;
    }
    fail_msg("no active node");
    return -1;
}

/* A ring of `nodes` nodes with r = R, joined one by one, then settled. */
static void build_ring(struct chord_sim *sim, uint64_t *rs, int nodes)
{
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.replicas = R;
    for (int i = 0; i < nodes; i++) {
        cfg.seed = rnd(rs);
        assert_int_equal(chord_sim_add_node(sim, &cfg, NULL), i);
        if (i == 0)
            assert_int_equal(chord_sim_create(sim, 0), 0);
        else
            assert_int_equal(chord_sim_join(sim, i, random_active(sim, rs)), 0);
        chord_sim_run_for(sim, 300);
    }
    char err[256];
    int wrong = 1;
    for (int t = 0; t < 60 && wrong; t++) {
        chord_sim_run_for(sim, 500);
        wrong = chord_sim_check_ring(sim, err, sizeof err);
    }
    if (wrong)
        fail_msg("ring not exact: %s", err);
}

static void key_of(char *buf, size_t len, int k)
{
    snprintf(buf, len, "user:%05d", k);
}

/* Indexes of the up ACTIVE nodes sorted by id (insertion sort: N is small). */
static int sorted_members(const struct chord_sim *sim, int *out)
{
    int n = 0;
    for (int i = 0; i < chord_sim_count(sim); i++) {
        if (!sim_active(sim, i))
            continue;
        int j = n++;
        while (j > 0 && chord_id_cmp(&chord_sim_peer(sim, out[j - 1])->id,
                                     &chord_sim_peer(sim, i)->id) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return n;
}

/* Count copies of key k and check they sit exactly on the owner and its
 * next R-1 successors. Returns the number of live copies. */
static int copies_of(const struct chord_sim *sim, const char *key, bool *placed)
{
    struct chord_store_entry fv;
    int members[NODES * 2];
    int n = sorted_members(sim, members);
    struct chord_id kid;
    chord_id_hash(&kid, key, strlen(key));
    int owner_pos = 0;
    for (int p = 0; p < n; p++)
        if (chord_id_cmp(&chord_sim_peer(sim, members[p])->id, &kid) >= 0) {
            owner_pos = p;
            break;
        }
    int copies = 0;
    *placed = true;
    for (int p = 0; p < n; p++) {
        const struct chord_store *st =
            chord_node_store(chord_sim_node(sim, members[p]));
        const struct chord_store_entry *e =
            chord_store_find(st, key, strlen(key), &fv);
        bool held = e && !e->tombstone;
        int dist = (p - owner_pos + n) % n;
        if (held)
            copies++;
        if (held != (dist < R))
            *placed = false;
    }
    return copies;
}

/* Run (up to 60 s) until every acknowledged key has exactly R live copies
 * in place; fail, naming `when`, otherwise. */
static void wait_exact_copies(struct chord_sim *sim, const bool *acked,
                              const char *when)
{
    char key[32];
    int bad = 0, worst = 0;
    for (int round = 0; round < 60; round++) {
        chord_sim_run_for(sim, 1000);
        bad = 0;
        for (int k = 0; k < KEYS; k++) {
            if (!acked[k])
                continue;
            key_of(key, sizeof key, k);
            bool placed;
            int c = copies_of(sim, key, &placed);
            if (c != R || !placed) {
                bad++;
                worst = c;
            }
        }
        if (bad == 0)
            return;
    }
    fail_msg("%s: %d keys without exactly %d copies in place (e.g. %d "
             "copies) at t=%llu",
             when, bad, R, worst, (unsigned long long)chord_sim_now(sim));
}

static void test_two_adjacent_crashes_lose_nothing(void **state)
{
    (void)state;
    uint64_t rs = 31337;
    struct chord_sim *sim = test_sim_new(7, 0.001);
    build_ring(sim, &rs, NODES);

    static bool acked[KEYS];
    int n_acked = 0;
    char key[32], val[32];
    for (int k = 0; k < KEYS; k++) {
        key_of(key, sizeof key, k);
        snprintf(val, sizeof val, "v%d", k);
        int rc = chord_sim_put(sim, random_active(sim, &rs), key, strlen(key),
                               val, strlen(val));
        acked[k] = rc == CHORD_OK;
        n_acked += acked[k];
    }
    /* With 0.1% loss nearly everything is acknowledged. */
    assert_true(n_acked >= KEYS * 99 / 100);
    /* Crash right after the writes: only copies in flight (a few ms)
     * get to land, so what survives is what the write path replicated,
     * not what anti-entropy spread later. */
    chord_sim_run_for(sim, 50);

    /* Delete one key, so the test can check it stays deleted. */
    key_of(key, sizeof key, 0);
    assert_int_equal(
        chord_sim_del(sim, random_active(sim, &rs), key, strlen(key)),
        CHORD_OK);
    acked[0] = false;

    /* Crash two adjacent nodes: the owner of some key and its successor. */
    int members[NODES];
    int n = sorted_members(sim, members);
    assert_int_equal(n, NODES);
    int a = members[5], b = members[6];
    assert_int_equal(chord_sim_crash(sim, a), 0);
    assert_int_equal(chord_sim_crash(sim, b), 0);

    /* Every acknowledged key is readable, soon: reads go on while the
     * ring repairs. */
    chord_sim_run_for(sim, 2000);
    int lost = 0;
    for (int k = 0; k < KEYS; k++) {
        if (!acked[k])
            continue;
        key_of(key, sizeof key, k);
        uint8_t *v = NULL;
        size_t vl = 0;
        int rc = chord_sim_get(sim, random_active(sim, &rs), key, strlen(key),
                               &v, &vl);
        snprintf(val, sizeof val, "v%d", k);
        if (rc != CHORD_OK || vl != strlen(val) || memcmp(v, val, vl) != 0) {
            if (lost++ < 5)
                print_message("lost %s: status %d\n", key, rc);
        }
        free(v);
    }
    assert_int_equal(lost, 0);
    key_of(key, sizeof key, 0);
    uint8_t *v = NULL;
    size_t vl;
    assert_int_equal(
        chord_sim_get(sim, random_active(sim, &rs), key, strlen(key), &v, &vl),
        CHORD_NOT_FOUND);

    /* After repair, every key has exactly R live copies, in place. */
    wait_exact_copies(sim, acked, "after the crashes");

    /* Two nodes join: replica sets shift, copies move to the newcomers
     * and the nodes that are no longer replicas hand theirs back. Again
     * exactly R copies in place, and everything readable. */
    struct chord_node_config cfg;
    chord_node_config_default(&cfg);
    cfg.replicas = R;
    for (int j = 0; j < 2; j++) {
        int i = chord_sim_add_node(sim, &cfg, NULL);
        assert_true(i >= 0);
        assert_int_equal(chord_sim_join(sim, i, random_active(sim, &rs)), 0);
        chord_sim_run_for(sim, 1000);
        assert_true(sim_active(sim, i));
    }
    wait_exact_copies(sim, acked, "after the joins");
    print_message("exactly %d copies of every key at t=%llu ms\n", R,
                  (unsigned long long)chord_sim_now(sim));
    chord_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_adjacent_crashes_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
