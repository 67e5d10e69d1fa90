/*
 * latency.c - the latency models of the simulated network (sim.h,
 * "network models"): how long a frame takes from one node to another.
 *
 *  - uniform (the default): each frame's delay is drawn from the
 *    simulator's PRNG in [min_delay_ms, max_delay_ms] (net.c draws it;
 *    this file only gives the bounds);
 *  - matrix: an entry of an m * m table by (sender's host, receiver's
 *    host), node i on host i % m unless placed;
 *  - geo: the distance between two points of a synthetic plane of a few
 *    continents, each node's point a pure function of (seed, index)
 *    hashed with its own splitmix64 stream.
 * The matrix and geo models draw nothing from the simulator's PRNG, so
 * choosing a model never shifts the PRNG's sequence; all arithmetic is in
 * integers, the same on every machine. sim->lat_min..lat_max bound every
 * delay the current model gives. Caps: CHORD_SIM_HOSTS_MAX hosts, entries
 * up to CHORD_SIM_DELAY_MAX_MS.
 *
 * It does not send, queue or order frames (net.c keeps links FIFO) and
 * calls no other file.
 */
#include <stdlib.h>

#include "sim/sim_internal.h"

/* Geo model (sim.h): continent centres in microseconds, the vertices of a
 * regular heptagon of radius 65 ms (vertex k at angle 2*pi*k/7 from the
 * y axis), in the order 0, 3, 5, 1, 6, 2, 4 so that the first few are
 * far apart. Any two are 56404 to 126741 us apart. */
static const int32_t geo_centre[CHORD_SIM_GEO_CLUSTERS_MAX][2] = {
    {0, 65000},      {28202, -58563}, {-63370, -14464}, {50819, 40527},
    {-50819, 40527}, {63370, -14464}, {-28202, -58563},
};
#define GEO_RADIUS_US 9000 /* a node sits this close to its centre */
#define GEO_TRIES 64       /* rejection-sampling draws, then the centre */
#define GEO_SALT UINT64_C(0x67656f2d6c61742e) /* "geo-lat." */

/* floor(sqrt(v)), in integers so that it is the same on every machine. */
static uint64_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = UINT64_C(1) << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/* Node idx's point on the geo plane, in microseconds: a pure function of
 * the seed, idx and the cluster count (its own splitmix64 stream). */
static void geo_pos(const struct chord_sim *sim, uint32_t idx, int64_t *x,
                    int64_t *y)
{
    uint64_t st = sim->geo_seed ^ mix64((uint64_t)idx + 1);
    uint32_t c = (uint32_t)(splitmix_next(&st) % sim->geo_clusters);
    int64_t dx = 0, dy = 0;
    const int64_t r = GEO_RADIUS_US, span = 2 * GEO_RADIUS_US + 1;
    for (int k = 0; k < GEO_TRIES; k++) {
        uint64_t h = splitmix_next(&st);
        int64_t a = (int64_t)((h & 0xffffffffu) % (uint64_t)span) - r;
        int64_t b = (int64_t)((h >> 32) % (uint64_t)span) - r;
        if (a * a + b * b <= r * r) {
            dx = a;
            dy = b;
            break;
        }
    }
    *x = geo_centre[c][0] + dx;
    *y = geo_centre[c][1] + dy;
}

static uint32_t geo_delay(const struct chord_sim *sim, uint32_t a, uint32_t b)
{
    int64_t xa, ya, xb, yb;
    geo_pos(sim, a, &xa, &ya);
    geo_pos(sim, b, &xb, &yb);
    int64_t dx = xa - xb, dy = ya - yb;
    uint64_t d = isqrt64((uint64_t)(dx * dx + dy * dy)); /* us */
    return CHORD_SIM_GEO_BASE_MS + (uint32_t)((d + 500) / 1000);
}

static uint32_t node_host(const struct chord_sim *sim, uint32_t idx)
{
    uint32_t h = sim->nodes[idx]->host;
    return h == SIM_HOST_AUTO ? idx % sim->matrix_m : h;
}

/* The delays the model can give a frame src -> dst: [*lo, *hi]. */
void chord_sim__link_delay(const struct chord_sim *sim, uint32_t src,
                           uint32_t dst, uint32_t *lo, uint32_t *hi)
{
    switch (sim->lat_model) {
    case LAT_MATRIX:
        *lo = *hi = sim->matrix[(size_t)node_host(sim, src) * sim->matrix_m +
                                node_host(sim, dst)];
        return;
    case LAT_GEO:
        *lo = *hi = geo_delay(sim, src, dst);
        return;
    default:
        *lo = sim->cfg.min_delay_ms;
        *hi = sim->cfg.max_delay_ms;
        return;
    }
}

/* Forget the matrix (and the hosts placed on it). */
static void matrix_clear(struct chord_sim *sim)
{
    free(sim->matrix);
    sim->matrix = NULL;
    sim->matrix_m = 0;
    for (uint32_t i = 0; i < sim->n_nodes; i++)
        sim->nodes[i]->host = SIM_HOST_AUTO;
}

void chord_sim__latency_init(struct chord_sim *sim)
{
    sim->lat_model = LAT_UNIFORM;
    sim->lat_min = sim->cfg.min_delay_ms;
    sim->lat_max = sim->cfg.max_delay_ms;
    sim->geo_seed = mix64(sim->cfg.seed ^ GEO_SALT);
}

int chord_sim_set_latency_uniform(struct chord_sim *sim, uint32_t min_ms,
                                  uint32_t max_ms)
{
    if (min_ms == 0 || max_ms < min_ms)
        return -EINVAL;
    matrix_clear(sim);
    sim->lat_model = LAT_UNIFORM;
    sim->cfg.min_delay_ms = min_ms;
    sim->cfg.max_delay_ms = max_ms;
    sim->lat_min = min_ms;
    sim->lat_max = max_ms;
    return 0;
}

int chord_sim_set_latency_matrix(struct chord_sim *sim, const uint32_t *ms,
                                 unsigned m)
{
    if (!ms || m == 0 || m > CHORD_SIM_HOSTS_MAX)
        return -EINVAL;
    size_t cells = (size_t)m * m;
    for (size_t k = 0; k < cells; k++)
        if (ms[k] > CHORD_SIM_DELAY_MAX_MS)
            return -EINVAL;
    uint32_t *copy = malloc(cells * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t k = 0; k < cells; k++) {
        copy[k] = ms[k] ? ms[k] : 1;
        lo = copy[k] < lo ? copy[k] : lo;
        hi = copy[k] > hi ? copy[k] : hi;
    }
    matrix_clear(sim);
    sim->matrix = copy;
    sim->matrix_m = m;
    sim->lat_model = LAT_MATRIX;
    sim->lat_min = lo;
    sim->lat_max = hi;
    return 0;
}

int chord_sim_set_host(struct chord_sim *sim, int i, unsigned host)
{
    struct sim_node *sn = chord_sim__at(sim, i);
    if (!sn || sim->lat_model != LAT_MATRIX || host >= sim->matrix_m)
        return -EINVAL;
    sn->host = host;
    return 0;
}

int chord_sim_set_latency_geo(struct chord_sim *sim, unsigned clusters)
{
    if (clusters == 0 || clusters > CHORD_SIM_GEO_CLUSTERS_MAX)
        return -EINVAL;
    matrix_clear(sim);
    sim->lat_model = LAT_GEO;
    sim->geo_clusters = clusters;
    sim->lat_min = CHORD_SIM_GEO_BASE_MS;
    sim->lat_max =
        clusters == 1 ? CHORD_SIM_GEO_INTRA_MAX_MS : CHORD_SIM_GEO_INTER_MAX_MS;
    return 0;
}

int chord_sim_link_delay(const struct chord_sim *sim, int from, int to,
                         uint32_t *lo, uint32_t *hi)
{
    if (!chord_sim__at(sim, from) || !chord_sim__at(sim, to))
        return -EINVAL;
    chord_sim__link_delay(sim, (uint32_t)from, (uint32_t)to, lo, hi);
    return 0;
}
