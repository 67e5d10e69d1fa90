/*
 * host_vnodes.c - which names a process's vnodes take (see
 * host_vnodes.h; the rule is core/vnode_choice.c's).
 *
 * The ring view's positions are numbered by process: sorted by their
 * "host:port" base, each new base a new number. The candidates are the
 * ids of "address#i" for every i the vnode byte of a frame header can
 * carry (chord/addr.h) whose name fits CHORD_ADDR_MAX. Frames are routed
 * back to cores by that byte (chord__host_vnode_route).
 */
#include "io/host_vnodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chord/addr.h"
#include "chord/id.h"
#include "core/vnode_choice.h"
#include "core/wire.h"

struct named {
    const struct chord_peer *p;
    char base[CHORD_ADDR_MAX];
};

static int named_cmp(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->base,
                  ((const struct named *)b)->base);
}

static int idx_cmp(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

/* The view without our own positions, numbered by process, into *out
 * (malloc'd; *n positions, *procs processes). */
static int view_of(const char *addr, const struct chord_peer *ring,
                   size_t n_ring, struct chord_vnode_pos **out, size_t *n,
                   unsigned *procs)
{
    struct named *nm = malloc((n_ring ? n_ring : 1) * sizeof *nm);
    struct chord_vnode_pos *v = malloc((n_ring ? n_ring : 1) * sizeof *v);
    if (!nm || !v) {
        free(nm);
        free(v);
        return -ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n_ring; i++) {
        nm[m].p = &ring[i];
        if (chord_addr_vnode_split(ring[i].addr, nm[m].base, NULL) == 0 &&
            strcmp(nm[m].base, addr) != 0)
            m++;
    }
    qsort(nm, m, sizeof *nm, named_cmp);
    unsigned p = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && strcmp(nm[i].base, nm[i - 1].base) != 0)
            p++;
        v[i] = (struct chord_vnode_pos){nm[i].p->id, p};
    }
    free(nm);
    *out = v;
    *n = m;
    *procs = m ? p + 1 : 0;
    return 0;
}

int chord__host_vnode_names(const char *addr, unsigned k,
                            const struct chord_host_options *opt, unsigned *idx,
                            char said[CHORD_HOST_VNODES_SAID_MAX])
{
    struct chord_id cand[CHORD_ADDR_VNODE_MAX + 1];
    char name[CHORD_ADDR_MAX];
    unsigned n_cand = 0;
    while (n_cand <= CHORD_ADDR_VNODE_MAX &&
           chord_addr_vnode_format(addr, n_cand, name) == 0) {
        chord_id_hash(&cand[n_cand], name, strlen(name));
        n_cand++;
    }
    struct chord_vnode_pos *view;
    size_t n;
    unsigned procs;
    int rc = view_of(addr, opt->ring, opt->n_ring, &view, &n, &procs);
    if (rc)
        return rc;
    rc = chord_vnode_choose(view, n, procs, cand, n_cand, k, idx);
    free(view);
    if (rc)
        return rc;
    qsort(idx, k, sizeof *idx, idx_cmp);
    size_t at =
        (size_t)snprintf(said, CHORD_HOST_VNODES_SAID_MAX, "virtual nodes");
    for (unsigned i = 0; i < k && at < CHORD_HOST_VNODES_SAID_MAX; i++)
        at += (size_t)snprintf(said + at, CHORD_HOST_VNODES_SAID_MAX - at,
                               "%s#%u", i ? "," : " ", idx[i]);
    if (at >= CHORD_HOST_VNODES_SAID_MAX)
        return 0;
    if (procs)
        snprintf(said + at, CHORD_HOST_VNODES_SAID_MAX - at,
                 ": chosen to share the circle evenly with the %zu "
                 "positions of %u other process%s seen",
                 n, procs, procs == 1 ? "" : "es");
    else if (opt->ring_note)
        snprintf(said + at, CHORD_HOST_VNODES_SAID_MAX - at, ": %s",
                 opt->ring_note);
    return 0;
}

int chord__host_vnode_route(const uint8_t core_of[CHORD_ADDR_VNODE_MAX + 1],
                            const uint8_t *frame, size_t len)
{
    unsigned vnode = len >= CHORD_FRAME_HEADER ? chord_frame_vnode(frame) : 0;
    if (core_of[vnode])
        return core_of[vnode] - 1;
    if (vnode == 0)
        return 0;
    struct chord_peer from;
    uint8_t type;
    return chord_frame_from(frame, len, &from, &type) == 0 ? -ENOENT : -EPROTO;
}
