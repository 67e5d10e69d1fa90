/*
 * topology.c - topology mode: fill the model from a topology file
 * (tools/common/topology.h) with what a correct Chord ring of its listed
 * nodes would hold, and the --check-topology / --dump-topology commands.
 *
 * The nodes are placed by id (SHA-1 of the address, or the explicit id);
 * predecessors, successor lists (the ring's successors=, else dhtd's
 * default) and fingers are derived from the sorted ids, and a lookup with
 * --key is simulated from the first listed node, hop by hop, by closest
 * preceding finger. The --dump-topology records are a contract with
 * tools/dht-topo: one record a line, fields separated by single spaces,
 * "-" for an absent value.
 *
 * It contacts nobody and starts nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/topology.h"
#include "viz.h"

/* The member at or after `id` (sorted ring, all members). */
static unsigned successor_of(const struct viz_ring *r,
                             const struct chord_id *id)
{
    for (unsigned i = 0; i < r->n; i++)
        if (chord_id_cmp(&r->nodes[i].self.id, id) >= 0)
            return i;
    return 0;
}

/* Fill r from a topology file's listed nodes. 0, -ENOMEM, or -EINVAL
 * after printing the parser's message. */
int viz_topology_load(struct viz_ring *r, const char *path)
{
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_load(path, &t, err);
    if (rc) {
        fprintf(stderr, "dht-viz: %s\n", err);
        return rc == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    unsigned succ_len =
        t.ring.successors ? t.ring.successors : VIZ_DEFAULT_SUCCESSORS;
    r->replicas = t.ring.replicas ? t.ring.replicas : VIZ_DEFAULT_REPLICAS;
    rc = 0;
    for (unsigned i = 0; i < t.n_listed && rc == 0; i++) {
        struct chord_peer p;
        memset(&p, 0, sizeof p);
        p.id = t.nodes[i].id;
        snprintf(p.addr, sizeof p.addr, "%s", t.nodes[i].addr);
        struct viz_node *n = viz_ring_add(r, &p);
        if (!n)
            rc = -ENOMEM;
        else {
            n->live = true;
            n->state = CHORD_NODE_ACTIVE;
            n->replicas = r->replicas;
        }
    }
    /* The first listed node starts lookups; remember it across sorting. */
    char first[CHORD_ADDR_MAX];
    snprintf(first, sizeof first, "%s", t.nodes[0].addr);
    chord_topology_free(&t);
    if (rc == 0)
        rc = viz_ring_index(r);
    for (unsigned i = 0; i < r->n && rc == 0; i++) {
        struct viz_node *n = &r->nodes[i];
        unsigned ns = r->n - 1 < succ_len ? r->n - 1 : succ_len;
        n->succ = calloc(ns ? ns : 1, sizeof *n->succ);
        n->fingers = calloc(CHORD_ID_BITS, sizeof *n->fingers);
        n->peers = calloc(1, sizeof *n->peers);
        if (!n->succ || !n->fingers || !n->peers) {
            rc = -ENOMEM;
            break;
        }
        for (unsigned k = 0; k < ns; k++)
            n->succ[k] = r->nodes[(i + 1 + k) % r->n].self;
        n->n_succ = ns;
        n->has_pred = true;
        n->pred = r->nodes[(i + r->n - 1) % r->n].self;
        for (unsigned b = 0; b < CHORD_ID_BITS; b++) {
            struct chord_id start;
            chord_id_add_pow2(&start, &n->self.id, b);
            unsigned j = successor_of(r, &start);
            viz_finger_push(n->fingers, &n->n_fingers, b, &start,
                            &r->nodes[j].self);
        }
    }
    if (rc == 0) {
        snprintf(r->source, sizeof r->source, "%s", path);
        r->n_answer = r->n;
        int f = viz_ring_find_addr(r, first);
        r->owner = f; /* the lookup start, until viz_key_trace() */
    }
    return rc;
}

/* The path a lookup of r->key_id from node `start` takes in a correct ring
 * (recursive, closest preceding finger), into r->path. */
static void simulate_lookup(struct viz_ring *r, unsigned start)
{
    unsigned cur = start;
    r->n_path = 0;
    for (unsigned hop = 0; hop < CHORD_PATH_MAX; hop++) {
        r->path[r->n_path++] = (int)cur;
        const struct viz_node *c = &r->nodes[cur];
        unsigned succ = (cur + 1) % r->n;
        unsigned pred = (cur + r->n - 1) % r->n;
        if (r->n == 1 ||
            chord_id_in_oc(&r->key_id, &r->nodes[pred].self.id, &c->self.id))
            break; /* cur owns it */
        if (chord_id_in_oc(&r->key_id, &c->self.id, &r->nodes[succ].self.id)) {
            if (r->n_path < CHORD_PATH_MAX)
                r->path[r->n_path++] = (int)succ;
            break;
        }
        unsigned next = succ;
        for (unsigned f = c->n_fingers; f-- > 0;) {
            if (chord_id_in_oo(&c->fingers[f].node.id, &c->self.id,
                               &r->key_id)) {
                int j = viz_ring_find_id(r, &c->fingers[f].node.id);
                if (j >= 0)
                    next = (unsigned)j;
                break;
            }
        }
        cur = next;
    }
    for (unsigned i = 0; i < r->n_path; i++)
        snprintf(r->path_addr[i], CHORD_ADDR_MAX, "%s",
                 r->nodes[r->path[i]].self.addr);
    r->hops = r->n_path ? r->n_path - 1 : 0;
}

/* The key trace in topology mode (see viz.h). */
void viz_topology_lookup(struct viz_ring *r)
{
    r->key_computed = true;
    unsigned start = r->owner >= 0 ? (unsigned)r->owner : 0;
    simulate_lookup(r, start);
    r->owner = r->path[r->n_path - 1];
    snprintf(r->owner_addr, sizeof r->owner_addr, "%s",
             r->nodes[r->owner].self.addr);
}

/* --check-topology and --dump-topology. */
int viz_topology_command(const char *path, bool dump)
{
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_load(path, &t, err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return VIZ_EXIT_INVALID;
    }
    if (!dump) {
        printf("%s: ok (%u node%s, %u scenario step%s)\n", path, t.n_listed,
               t.n_listed == 1 ? "" : "s", t.n_steps,
               t.n_steps == 1 ? "" : "s");
        chord_topology_free(&t);
        return CHORD_EXIT_OK;
    }
    /* One record per line, fields separated by single spaces, "-" for an
     * absent value; every field is free of spaces by construction. */
    printf("ring %u %u %u %u %u\n", t.ring.successors, t.ring.stabilize_ms,
           t.ring.replicas, t.ring.heartbeat_ms, t.ring.sync_ms);
    for (unsigned i = 0; i < t.n_nodes; i++) {
        const struct chord_topo_node *n = &t.nodes[i];
        char hex[CHORD_ID_HEX_LEN + 1];
        chord_id_to_hex(&n->id, hex);
        printf("node %u %s %s %s %s %u\n", i, n->addr, n->has_id ? hex : "-",
               n->data[0] ? n->data : "-", n->joined ? "joined" : "listed",
               n->line);
    }
    for (unsigned i = 0; i < t.n_steps; i++) {
        const struct chord_topo_step *s = &t.steps[i];
        static const char *const words[] = {"kill",     "pause",    "resume",
                                            "restart",  "leave",    "join",
                                            "load-put", "load-get", "check"};
        bool has_node = s->action <= CHORD_TOPO_JOIN;
        char node[16];
        snprintf(node, sizeof node, "%u", s->node);
        printf("step %u %u %u %s %s %u %u\n", i + 1, s->line, s->at_ms,
               words[s->action], has_node ? node : "-", s->count, s->rate);
    }
    chord_topology_free(&t);
    return fflush(stdout) == 0 ? CHORD_EXIT_OK : VIZ_EXIT_INVALID;
}
