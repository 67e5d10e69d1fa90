/*
 * style.c - how each node state (enum viz_health) is drawn, in one
 * place: the ring (svg.c) and the legend (legend.c) both draw a node's
 * symbol through viz_style_symbol, so the legend shows exactly what the
 * drawing shows; and the words of counts ("1 key", "2 keys").
 *
 * The states: OK a dark blue dot; SUSPECTED an orange dot; DEAD a red
 * dot; UNREACHABLE (did not answer, and no peer reports it) a white dot
 * with a red ring and cross. A ghost (known only from peers' reports, in
 * no successor list) is drawn as its state's outline, dashed, on white.
 *
 * The shading of the band, also here because the legend explains it:
 * each range by the keys its node owns (primary keys), or by its share
 * of the ids when the ring holds no key; a ring of VIZ_DENSITY_MIN nodes
 * or more by how many nodes each 1/VIZ_DENSITY_BINS of the ids holds.
 *
 * Virtual nodes: the positions of one process ("host:port#i") wear a
 * ring of the process's hue (viz_process_colour), the same for all of
 * them, so a process's positions are found around the ring at a glance.
 *
 * It writes only to the buffer.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "render.h"

static const char *const health_fill[VIZ_HEALTH_N] = {"#1a365d", "#dd6b20",
                                                      "#c53030", "#ffffff"};
static const char *const health_edge[VIZ_HEALTH_N] = {"#1a365d", "#dd6b20",
                                                      "#c53030", "#c53030"};

/* Hues told apart at a glance, none the health colours. */
static const char *const process_hues[] = {
    "#805ad5", "#38b2ac", "#d53f8c", "#3182ce", "#ecc94b", "#48bb78",
    "#ed8936", "#718096", "#9f7aea", "#0bc5ea", "#f687b3", "#68d391",
};

const char *viz_process_colour(const char *addr)
{
    const char *hash = strchr(addr, '#');
    if (!hash)
        return NULL;
    uint32_t h = 2166136261u; /* FNV-1a of the process's address */
    for (const char *c = addr; c < hash; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    return process_hues[h % (sizeof process_hues / sizeof process_hues[0])];
}

const char *viz_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

const char *viz_health_colour(unsigned health)
{
    return health_edge[health < VIZ_HEALTH_N ? health : 0];
}

const char *viz_health_legend(unsigned health, bool live)
{
    switch (health) {
    case VIZ_SUSPECTED:
        return "suspected by a peer (answering or not)";
    case VIZ_DEAD:
        return "declared dead by a peer";
    case VIZ_UNREACHABLE:
        return "did not answer, no peer reports it";
    default:
        return live ? "answers, no peer suspects it"
                    : "node, at the angle of its id";
    }
}

void viz_style_symbol(struct viz_out *o, unsigned health, bool ghost, double cx,
                      double cy, double r)
{
    unsigned h = health < VIZ_HEALTH_N ? health : 0;
    if (ghost) {
        viz_out_printf(o,
                       "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" "
                       "r=\"%.1f\" fill=\"#ffffff\" stroke=\"%s\" "
                       "stroke-width=\"2\" stroke-dasharray=\"2 2\"/>",
                       cx, cy, r, health_edge[h]);
        return;
    }
    bool hollow = h == VIZ_UNREACHABLE;
    viz_out_printf(o,
                   "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
                   "fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"/>",
                   cx, cy, r, health_fill[h], hollow ? health_edge[h] : "#fff",
                   hollow ? "2" : "1.5");
    if (hollow) {
        double c = r * 0.6;
        viz_out_printf(o,
                       "<path d=\"M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f "
                       "%.1f\" stroke=\"%s\" stroke-width=\"2\"/>",
                       cx - c, cy - c, cx + c, cy + c, cx - c, cy + c, cx + c,
                       cy - c, health_edge[h]);
    }
}

void viz_state_summary(const struct viz_ring *r, char *out, size_t size)
{
    unsigned counts[VIZ_HEALTH_N];
    viz_ring_count_health(r, counts);
    size_t len = 0;
    out[0] = '\0';
    for (unsigned h = 0; h < VIZ_HEALTH_N; h++) {
        if (!counts[h] || h == VIZ_OK)
            continue;
        int w = snprintf(out + len, size - len, "%s%u %s", len ? ", " : "",
                         counts[h], viz_health_names[h]);
        if (w < 0 || (size_t)w >= size - len)
            break;
        len += (size_t)w;
    }
}

bool viz_arc_by_keys(const struct viz_ring *r)
{
    return r->live && r->total_keys > 0;
}

double viz_arc_value(const struct viz_ring *r, unsigned i)
{
    return viz_arc_by_keys(r) ? (double)r->nodes[i].primary_keys
                              : viz_ring_owned_percent(r, i);
}

double viz_arc_max(const struct viz_ring *r)
{
    double most = 0;
    for (unsigned i = 0; i < r->n; i++)
        if (viz_ring_member(r, i) && r->nodes[i].live)
            most = fmax(most, viz_arc_value(r, i));
    return most;
}

unsigned viz_density_bin(const struct viz_node *n)
{
    unsigned b = (unsigned)(n->frac * VIZ_DENSITY_BINS);
    return b < VIZ_DENSITY_BINS ? b : VIZ_DENSITY_BINS - 1;
}

unsigned viz_density_max(const struct viz_ring *r)
{
    unsigned count[VIZ_DENSITY_BINS], most = 0;
    memset(count, 0, sizeof count);
    for (unsigned i = 0; i < r->n; i++)
        if (viz_ring_member(r, i)) {
            unsigned b = viz_density_bin(&r->nodes[i]);
            count[b]++;
            most = count[b] > most ? count[b] : most;
        }
    return most;
}
