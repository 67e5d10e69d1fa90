/*
 * bench_hist.c - the load generator's latency histogram: log-linear
 * buckets at most 1/64 (1.6%) wide, so a percentile is reported as the
 * midpoint of its bucket, within 0.8% of the exact value, in constant
 * memory whatever the number of requests.
 *
 * Invariant: count is the sum of the buckets; max_ns is exact and no
 * quantile is reported above it. It does not know what it measures.
 */
#include <stdint.h>

#include "dht/bench_internal.h"

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    unsigned shift = msb - (HIST_SUB_BITS - 1u);       /* >= 1 */
    return HIST_SUB + (shift - 1u) * HIST_HALF +
           (unsigned)((v >> shift) - HIST_HALF);
}

/* The midpoint of bucket idx, in the histogram's unit. */
static double hist_mid(unsigned idx)
{
    if (idx < HIST_SUB)
        return (double)idx;
    unsigned shift = (idx - HIST_SUB) / HIST_HALF + 1u;
    uint64_t sub = (idx - HIST_SUB) % HIST_HALF + HIST_HALF;
    double lo = (double)(sub << shift);
    return lo + ((double)(1ull << shift) - 1.0) / 2.0;
}

void bench_hist_add(struct hist *h, uint64_t v)
{
    h->bucket[hist_index(v)]++;
    h->count++;
    h->sum_ns += v;
    if (v > h->max_ns)
        h->max_ns = v;
}

double bench_hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    double want = q * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            double v = hist_mid(i);
            return v > (double)h->max_ns ? (double)h->max_ns : v;
        }
    }
    return (double)h->max_ns;
}
