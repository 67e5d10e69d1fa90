/*
 * status_json.c - one node's status report as JSON (see status_json.h):
 * the objects of `dht status --json`, `dht ring --json` and
 * `dht-sim --snapshot`.
 *
 * Invariants: the field names and their order are the CLI contract
 * (DESIGN.md); fields may be added, never renamed. It writes only to the
 * JSON writer.
 */
#include "chord/durable.h"
#include "common/status_json.h"

void chord_status_json_peer(struct chord_json *j, const struct chord_peer *p)
{
    chord_json_obj_begin(j);
    chord_json_key(j, "id");
    chord_json_id(j, &p->id);
    chord_json_key(j, "addr");
    chord_json_str(j, p->addr);
    chord_json_obj_end(j);
}

void chord_status_json(struct chord_json *j, const struct chord_status *s)
{
    chord_json_obj_begin(j);
    chord_json_key(j, "id");
    chord_json_id(j, &s->self.id);
    chord_json_key(j, "addr");
    chord_json_str(j, s->self.addr);
    chord_json_key(j, "state");
    chord_json_str(j, chord_node_state_name(s->state));
    chord_json_key(j, "predecessor");
    if (s->has_pred)
        chord_status_json_peer(j, &s->pred);
    else
        chord_json_null(j);

    chord_json_key(j, "successors");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_succ && i < CHORD_SUCC_MAX; i++)
        chord_status_json_peer(j, &s->succ[i]);
    chord_json_arr_end(j);

    chord_json_key(j, "fingers");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_fingers && i < CHORD_ID_BITS; i++) {
        const struct chord_finger_info *f = &s->fingers[i];
        chord_json_obj_begin(j);
        chord_json_key(j, "start");
        chord_json_id(j, &f->start);
        chord_json_key(j, "id");
        chord_json_id(j, &f->node.id);
        chord_json_key(j, "addr");
        chord_json_str(j, f->node.addr);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);

    chord_json_key(j, "keys");
    chord_json_uint(j, s->keys);
    chord_json_key(j, "primary_keys");
    chord_json_uint(j, s->primary_keys);
    chord_json_key(j, "replicas");
    chord_json_uint(j, s->replicas);
    chord_json_key(j, "durability");
    chord_json_str(j, chord_durability_name(s->durability));
    chord_json_key(j, "status_requests");
    chord_json_uint(j, s->status_served);

    chord_json_key(j, "peers");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < s->n_peers && i < CHORD_PEERS_MAX; i++) {
        const struct chord_peer_info *p = &s->peers[i];
        chord_json_obj_begin(j);
        chord_json_key(j, "addr");
        chord_json_str(j, p->addr);
        chord_json_key(j, "state");
        chord_json_str(j, chord_peer_state_name(p->state));
        chord_json_key(j, "rtt_ms");
        chord_json_uint(j, p->rtt_ms);
        chord_json_key(j, "timeout_ms");
        chord_json_uint(j, p->timeout_ms);
        chord_json_key(j, "false_suspicions");
        chord_json_uint(j, p->false_suspicions);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_obj_end(j);
}
