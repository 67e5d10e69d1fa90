/*
 * host_options.c - what a caller of chord/host.h fills in before it runs a
 * node: the defaults of struct chord_host_options and the two parsers a
 * command line needs (an address as the host takes it, a log level).
 *
 * Invariant: an address this file accepts is one chord_host_new() accepts
 * (both go through chord_transport_addr_parse()), so a program can refuse
 * a bad flag as a usage error before it starts anything.
 *
 * It holds no state and does no I/O.
 */
#include <errno.h>
#include <string.h>

#include "chord/host.h"
#include "io/transport.h"

_Static_assert(CHORD_HOST_IDLE_TIMEOUT_MS == CHORD_GATE_IDLE_TIMEOUT_MS,
               "the host's and the transport's idle timeouts differ");

void chord_host_options_default(struct chord_host_options *opt)
{
    memset(opt, 0, sizeof *opt);
    chord_node_config_default(&opt->node);
    chord_durable_options_default(&opt->durable);
    opt->log_level = CHORD_LOG_INFO;
    opt->idle_timeout_ms = CHORD_HOST_IDLE_TIMEOUT_MS;
}

int chord_host_addr_parse(const char *addr, uint16_t *port)
{
    struct chord_addr a;
    int rc = chord_transport_addr_parse(addr, &a);
    if (rc == 0 && port)
        *port = a.port;
    return rc;
}

int chord_log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int chord_log_format_parse(const char *s)
{
    if (s && strcmp(s, "text") == 0)
        return CHORD_LOG_FORMAT_TEXT;
    if (s && strcmp(s, "json") == 0)
        return CHORD_LOG_FORMAT_JSON;
    return -1;
}
