/*
 * types.c - the few functions over the plain types of types.h: version
 * order and the names used in logs and JSON.
 */
#include "chord/types.h"

int chord_version_cmp(const struct chord_version *a,
                      const struct chord_version *b)
{
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return chord_id_cmp(&a->writer, &b->writer);
}

const char *chord_status_name(int code)
{
    switch (code) {
    case CHORD_OK:
        return "ok";
    case CHORD_NOT_FOUND:
        return "not found";
    case CHORD_REDIRECT:
        return "not the owner";
    case CHORD_TRY_AGAIN:
        return "try again";
    case CHORD_TOO_LARGE:
        return "too large";
    case CHORD_BAD_REQUEST:
        return "bad request";
    case CHORD_UNAVAILABLE:
        return "unavailable";
    case CHORD_BUSY:
        return "busy";
    case CHORD_PRECONDITION:
        return "precondition failed";
    case CHORD_QUEUED:
        return "queued";
    case CHORD_SIBLINGS:
        return "siblings";
    default:
        return "unknown status";
    }
}

const char *chord_node_state_name(int state)
{
    switch (state) {
    case CHORD_NODE_INIT:
        return "init";
    case CHORD_NODE_JOINING:
        return "joining";
    case CHORD_NODE_ACTIVE:
        return "active";
    case CHORD_NODE_LEAVING:
        return "leaving";
    case CHORD_NODE_LEFT:
        return "left";
    case CHORD_NODE_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

const char *chord_peer_state_name(int state)
{
    switch (state) {
    case CHORD_PEER_ALIVE:
        return "alive";
    case CHORD_PEER_SUSPECTED:
        return "suspected";
    case CHORD_PEER_DEAD:
        return "dead";
    default:
        return "unknown";
    }
}
