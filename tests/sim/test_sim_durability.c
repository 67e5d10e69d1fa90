/*
 * test_sim_durability.c - durable nodes in the simulator: every node logs
 * to its own simulated disk (src/io/disk_mem.c through src/io/wal.c), and
 * the whole ring loses power at random points while clients write.
 *
 * What a user would notice, and what is asserted:
 *  - with --fsync always and batch, every write that was acknowledged
 *    before a power loss of all nodes at once is readable, with its value,
 *    once the nodes restarted from their disks and formed the ring again
 *    (replicas cannot help: every copy lost power too); several rounds,
 *    with checkpoints happening along the way;
 *  - the restarted nodes did recover records from their own logs;
 *  - a node whose fsync fails stops (as dhtd exits), and the ring carries
 *    on without it.
 * Deterministic: seeded simulator, seeded client choices.
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
#include "io/disk.h"

#define NODES 5
#define ROUNDS 4
#define PUTS_PER_ROUND 300
#define MAX_KEYS (ROUNDS * PUTS_PER_ROUND)

static int random_active(const struct chord_sim *sim, uint64_t *rs)
{
    for (int tries = 0; tries < 1000; tries++) {
        int i = (int)(rnd(rs) % (uint64_t)chord_sim_count(sim));
        if (sim_active(sim, i))
            return i;
    }
    return -1;
}

/* Node 0 creates the ring, the others join it; wait until the successor
 * lists are right (bounded). */
static void form_ring(struct chord_sim *sim)
{
    assert_int_equal(chord_sim_create(sim, 0), 0);
    chord_sim_run_for(sim, 100);
    for (int i = 1; i < NODES; i++) {
        assert_int_equal(chord_sim_join(sim, i, 0), 0);
        chord_sim_run_for(sim, 300);
    }
    char err[256] = "";
    int wrong = 1;
    for (int t = 0; t < 60 && wrong; t++) {
        chord_sim_run_for(sim, 500);
        wrong = chord_sim_check_successors(sim, err, sizeof err);
    }
    if (wrong)
        fail_msg("ring not formed: %s", err);
}

struct ack {
    bool acked;
    char value[24];
};

static void on_put(void *arg, const struct chord_sim_reply *r)
{
    struct ack *a = arg;
    a->acked = r->err == 0 && r->status == CHORD_OK;
}

static void key_of(char *buf, size_t len, int k)
{
    snprintf(buf, len, "dur:%05d", k);
}

static void run_power_losses(int mode, uint64_t seed)
{
    struct chord_sim *sim = test_sim_new(seed, 0);
    uint64_t rs = seed * 7 + 1;
    struct chord_sim_durability d = {mode, 2, 16 * 1024};
    for (int i = 0; i < NODES; i++)
        assert_int_equal(chord_sim_add_durable_node(sim, NULL, NULL, &d), i);
    form_ring(sim);

    struct ack *acks = calloc(MAX_KEYS, sizeof *acks);
    int next = 0, total_acked = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Clients write unique keys through random nodes, a request every
         * 0-2 ms; at a random point every node loses power. */
        int crash_at = (int)(rnd(&rs) % PUTS_PER_ROUND);
        for (int j = 0; j < PUTS_PER_ROUND; j++) {
            if (j == crash_at)
                for (int i = 0; i < NODES; i++)
                    chord_sim_crash(sim, i);
            int via = random_active(sim, &rs);
            if (via >= 0) {
                char key[32];
                key_of(key, sizeof key, next);
                struct ack *a = &acks[next];
                snprintf(a->value, sizeof a->value, "v%d-%d", round,
                         (int)(rnd(&rs) % 100000));
                assert_int_equal(chord_sim_request(sim, via, CHORD_SIM_PUT, key,
                                                   strlen(key), a->value,
                                                   strlen(a->value), on_put, a),
                                 0);
                next++;
            }
            chord_sim_run_for(sim, rnd(&rs) % 3);
        }
        chord_sim_run_for(sim, 100); /* every request ends (reset) */

        /* Restart all from their disks; they recovered their own logs. */
        int64_t recovered = 0;
        for (int i = 0; i < NODES; i++) {
            assert_int_equal(chord_sim_restart(sim, i), 0);
            recovered += chord_sim_recovered(sim, i);
        }
        assert_true(round == 0 || recovered > 0);
        form_ring(sim);

        /* Every acknowledged write so far is there, with its value. */
        int acked = 0;
        for (int k = 0; k < next; k++) {
            if (!acks[k].acked)
                continue;
            acked++;
            char key[32];
            key_of(key, sizeof key, k);
            uint8_t *val = NULL;
            size_t vlen = 0;
            int rc = chord_sim_get(sim, random_active(sim, &rs), key,
                                   strlen(key), &val, &vlen);
            if (rc != CHORD_OK || vlen != strlen(acks[k].value) ||
                memcmp(val, acks[k].value, vlen) != 0)
                fail_msg("round %d: acknowledged %s=%s came back as %d "
                         "'%.*s'",
                         round, key, acks[k].value, rc, (int)vlen,
                         val ? (const char *)val : "");
            free(val);
        }
        total_acked = acked;
    }
    /* The test means something: most writes issued before the power
     * losses were acknowledged (the rest were in flight). */
    assert_true(total_acked >= 100 && 2 * total_acked > next);
    free(acks);
    chord_sim_free(sim);
}

static void test_power_loss_always(void **state)
{
    (void)state;
    run_power_losses(CHORD_DURABILITY_ALWAYS, 11);
}

static void test_power_loss_batch(void **state)
{
    (void)state;
    run_power_losses(CHORD_DURABILITY_BATCH, 12);
}

/* A node whose fsync fails stops; the others carry on and serve. */
static void test_fsync_failure_stops_node(void **state)
{
    (void)state;
    struct chord_sim *sim = test_sim_new(5, 0);
    struct chord_sim_durability d = {CHORD_DURABILITY_ALWAYS, 2, 0};
    for (int i = 0; i < NODES; i++)
        assert_int_equal(chord_sim_add_durable_node(sim, NULL, NULL, &d), i);
    form_ring(sim);
    assert_int_equal(chord_sim_disk_fail(sim, 2, CHORD_DISK_MEM_OP_SYNC, 0), 0);
    uint64_t rs = 3;
    char key[32];
    for (int k = 0; k < 30; k++) {
        key_of(key, sizeof key, k);
        int via = random_active(sim, &rs);
        chord_sim_put(sim, via, key, strlen(key), "x", 1);
    }
    assert_false(chord_sim_is_up(sim, 2));
    /* Restarted on a healthy disk, it comes back with what it synced. */
    assert_int_equal(chord_sim_restart(sim, 2), 0);
    assert_true(chord_sim_is_up(sim, 2));
    assert_int_equal(chord_sim_join(sim, 2, 0), 0);
    chord_sim_run_for(sim, 3000);
    assert_int_equal(chord_sim_state(sim, 2), CHORD_NODE_ACTIVE);
    assert_int_equal(chord_sim_restart(sim, 2), -EBUSY);
    assert_int_equal(chord_sim_restart(sim, NODES + 3), -EINVAL);
    chord_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_loss_always),
        cmocka_unit_test(test_power_loss_batch),
        cmocka_unit_test(test_fsync_failure_stops_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
