/*
 * test_vnode_choice.c - the choice of a joining process's ring positions
 * (src/core/vnode_choice.c): rings of 16 processes on fixed addresses,
 * each joining in turn with the ring before it in view, balance to within
 * max/mean 1.25 at K = 16 where the hashed names #0..#15 of the same
 * addresses do not; the picks are distinct, in range and the same every
 * time; the first process keeps #0..#K-1.
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

#include "chord/addr.h"
#include "chord/id.h"
#include "core/vnode_choice.h"

#define PROCS 16
#define K_MAX 16
#define CANDS (CHORD_ADDR_VNODE_MAX + 1)

/* The ids of "127.0.0.1:PORT#i" for i < CANDS. */
static void candidates(unsigned port, struct chord_id *cand)
{
    char base[CHORD_ADDR_MAX], name[CHORD_ADDR_MAX];
    snprintf(base, sizeof base, "127.0.0.1:%u", port);
    for (unsigned i = 0; i < CANDS; i++) {
        assert_int_equal(chord_addr_vnode_format(base, i, name), 0);
        chord_id_hash(&cand[i], name, strlen(name));
    }
}

/* Max/mean of the processes' shares of the circle (the arcs ending at
 * their positions). */
static double max_over_mean(const struct chord_vnode_pos *pos, size_t n,
                            unsigned procs)
{
    double share[PROCS] = {0};
    for (size_t i = 0; i < n; i++) {
        /* The position before i: the one with the largest id below it. */
        double at = chord_id_fraction(&pos[i].id), gap = 2.0;
        for (size_t j = 0; j < n; j++) {
            double d = at - chord_id_fraction(&pos[j].id);
            if (d <= 0)
                d += 1.0;
            if (j != i && d < gap)
                gap = d;
        }
        share[pos[i].proc] += gap > 1.0 ? 1.0 : gap;
    }
    double max = 0;
    for (unsigned p = 0; p < procs; p++)
        if (share[p] > max)
            max = share[p];
    return max * procs;
}

/* Build a ring of PROCS processes on ports base, base+step, ..., each
 * choosing k positions with the ring before it in view (chosen) or taking
 * #0..#k-1 (hashed). Returns max/mean of the shares. */
static double build_ring(unsigned base, unsigned step, unsigned k, bool chosen)
{
    static struct chord_vnode_pos pos[PROCS * K_MAX];
    static struct chord_id cand[CANDS];
    size_t n = 0;
    for (unsigned p = 0; p < PROCS; p++) {
        candidates(base + p * step, cand);
        unsigned idx[K_MAX];
        if (chosen) {
            assert_int_equal(chord_vnode_choose(pos, n, p, cand, CANDS, k, idx),
                             0);
        } else {
            for (unsigned i = 0; i < k; i++)
                idx[i] = i;
        }
        bool seen[CANDS] = {false};
        for (unsigned i = 0; i < k; i++) {
            assert_true(idx[i] < CANDS);
            assert_false(seen[idx[i]]); /* distinct */
            seen[idx[i]] = true;
            pos[n++] = (struct chord_vnode_pos){cand[idx[i]], p};
        }
    }
    return max_over_mean(pos, n, PROCS);
}

/* Port sets (base, step) whose hashed names are off balance at K = 16,
 * as most sets are (bench/vnodes.py, BENCHMARKS.md: median 1.47). */
static const unsigned sets[][2] = {
    {7000, 1}, {20000, 1}, {31337, 7}, {40000, 3}, {52011, 1},
};

/* The fixed sets at K = k: each chosen ring within 1.25 and better than
 * hashed names, which at K = 16 are all above 1.25 (so the check can
 * fail). */
static void fixed_sets(unsigned k)
{
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        double hashed = build_ring(sets[s][0], sets[s][1], k, false);
        double chosen = build_ring(sets[s][0], sets[s][1], k, true);
        print_message("ports %u+%u*i, K = %u: max/mean hashed %.3f, chosen "
                      "%.3f\n",
                      sets[s][0], sets[s][1], k, hashed, chosen);
        assert_true(k != 16 || hashed > 1.25);
        assert_true(chosen < hashed);
        assert_true(chosen <= 1.25);
    }
}

static void test_balance_k16(void **state)
{
    (void)state;
    fixed_sets(16);
}

/* Fewer positions balance less well but still better than hashing. */
static void test_balance_k4(void **state)
{
    (void)state;
    fixed_sets(4);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Many port sets (16 distinct ports in 20000..59999 from a fixed
 * generator): every one balanced within 1.25 at K = 16, where hashed
 * names mostly are not. Prints the spread (BENCHMARKS.md quotes it). */
static void spread(unsigned k, double bound)
{
    enum { SETS = 100 };
    static double hashed[SETS], chosen[SETS];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (unsigned s = 0; s < SETS; s++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        unsigned base = 20000 + (unsigned)(x >> 33) % 39000;
        unsigned step = 1 + (unsigned)(x >> 20) % 61;
        hashed[s] = build_ring(base, step, k, false);
        chosen[s] = build_ring(base, step, k, true);
        assert_true(chosen[s] <= bound);
    }
    unsigned fair = 0;
    for (unsigned s = 0; s < SETS; s++)
        fair += hashed[s] <= 1.25;
    qsort(hashed, SETS, sizeof hashed[0], dbl_cmp);
    qsort(chosen, SETS, sizeof chosen[0], dbl_cmp);
    print_message("K = %u, %d port sets: hashed median %.3f (%u %% <= 1.25); "
                  "chosen median %.3f, 90th percentile %.3f, worst %.3f\n",
                  k, SETS, hashed[SETS / 2], fair, chosen[SETS / 2],
                  chosen[SETS * 9 / 10], chosen[SETS - 1]);
    assert_true(hashed[SETS / 2] > 1.25); /* the bound can fail */
}

static void test_spread(void **state)
{
    (void)state;
    spread(16, 1.25);
    spread(4, 1.25);
}

/* The same view and candidates give the same picks. */
static void test_deterministic(void **state)
{
    (void)state;
    static struct chord_id cand[CANDS];
    struct chord_vnode_pos view[3 * 4];
    for (unsigned p = 0; p < 3; p++) {
        candidates(9000 + p, cand);
        for (unsigned i = 0; i < 4; i++)
            view[p * 4 + i] = (struct chord_vnode_pos){cand[i], p};
    }
    candidates(9100, cand);
    unsigned a[8], b[8];
    assert_int_equal(chord_vnode_choose(view, 12, 3, cand, CANDS, 8, a), 0);
    assert_int_equal(chord_vnode_choose(view, 12, 3, cand, CANDS, 8, b), 0);
    assert_memory_equal(a, b, sizeof a);
}

/* The first process (empty view) keeps #0..#K-1; bad arguments refused. */
static void test_first_and_errors(void **state)
{
    (void)state;
    static struct chord_id cand[CANDS];
    candidates(7000, cand);
    unsigned out[K_MAX];
    assert_int_equal(chord_vnode_choose(NULL, 0, 0, cand, CANDS, 5, out), 0);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(out[i], i);
    assert_int_equal(chord_vnode_choose(NULL, 0, 0, cand, 4, 5, out), -EINVAL);
    assert_int_equal(chord_vnode_choose(NULL, 0, 0, cand, 4, 0, out), -EINVAL);
    struct chord_vnode_pos bad = {cand[0], 3};
    assert_int_equal(chord_vnode_choose(&bad, 1, 3, cand + 1, 4, 2, out),
                     -EINVAL);
}

/* A ring of one position: the joiner's picks split its single arc, and a
 * view of one process gets half the circle for the joiner. */
static void test_ring_of_one(void **state)
{
    (void)state;
    static struct chord_id cand[CANDS];
    candidates(7000, cand);
    struct chord_vnode_pos one = {cand[0], 0};
    candidates(7001, cand);
    unsigned out[4];
    assert_int_equal(chord_vnode_choose(&one, 1, 1, cand, CANDS, 4, out), 0);
    struct chord_vnode_pos pos[5] = {one};
    for (unsigned i = 0; i < 4; i++)
        pos[i + 1] = (struct chord_vnode_pos){cand[out[i]], 1};
    double r = max_over_mean(pos, 5, 2);
    print_message("one process + a joiner of 4: max/mean %.3f\n", r);
    assert_true(r <= 1.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balance_k16),
        cmocka_unit_test(test_balance_k4),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_first_and_errors),
        cmocka_unit_test(test_ring_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
