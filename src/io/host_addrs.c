/*
 * host_addrs.c - the host's addresses (see host_addrs.h): the join,
 * listen and advertise options checked before anything opens, and the
 * advertised address settled once the listener is bound.
 *
 * No state of its own; no callbacks.
 */
#include "io/host_addrs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chord/addr.h"

/* Put the canonical form of `s`, an address naming one node (a port, no
 * wildcard), into out: NULL, or why it cannot be one. */
static const char *node_addr_canon(const char *s, char out[CHORD_ADDR_MAX])
{
    struct chord_addr a;
    int rc = chord_addr_split(s, 0, &a);
    if (rc == 0 && chord_addr_is_wildcard(&a))
        return "a wildcard address names no node";
    if (rc == 0)
        rc = chord_addr_format(&a, out);
    return rc ? chord_addr_strerror(rc) : NULL;
}

/* Check the join, listen and advertise addresses before anything opens,
 * keeping the join and advertised ones in canonical form. 0, or -EINVAL
 * with the reason in err. */
int chord__host_check_addrs(struct chord_host_addrs *h,
                            const struct chord_host_options *opt,
                            char err[CHORD_HOST_ERR_MAX])
{
    struct chord_addr a;
    const char *why;
    if (opt->join) {
        if ((why = node_addr_canon(opt->join, h->join)) != NULL) {
            snprintf(err, CHORD_HOST_ERR_MAX, "bad join address '%.*s': %s",
                     (int)CHORD_ADDR_MAX, opt->join, why);
            return -EINVAL;
        }
        h->has_join = true;
    }
    int rc = chord_transport_addr_parse(opt->listen, &a);
    if (rc) {
        snprintf(err, CHORD_HOST_ERR_MAX, "cannot listen on %.*s: %s",
                 (int)CHORD_ADDR_MAX, opt->listen ? opt->listen : "(none)",
                 chord_addr_strerror(rc));
        return -EINVAL;
    }
    h->listen_name =
        a.kind == CHORD_ADDR_NAME && strcmp(a.host, "localhost") != 0;
    if (opt->advertise) {
        if ((why = node_addr_canon(opt->advertise, h->addr)) != NULL) {
            snprintf(err, CHORD_HOST_ERR_MAX, "cannot advertise %.*s: %s",
                     (int)CHORD_ADDR_MAX, opt->advertise, why);
            return -EINVAL;
        }
        h->has_advertise = true;
    } else if (chord_addr_is_wildcard(&a)) {
        snprintf(err, CHORD_HOST_ERR_MAX,
                 "listening on the wildcard address %s needs an address "
                 "for the others to reach this node (advertise HOST:PORT)",
                 opt->listen);
        return -EINVAL;
    }
    return 0;
}

/* Once listening: the address the node advertises (the one given; else a
 * listen name with the port picked; else the bound address), and the
 * source of its outbound connections (the bound IP, when concrete). */
void chord__host_advertise(struct chord_host_addrs *h,
                           struct chord_transport *tr,
                           const struct chord_host_options *opt)
{
    if (chord_transport_bound(tr, h->bound) != 0)
        snprintf(h->bound, sizeof h->bound, "%s", opt->listen);
    if (!h->has_advertise && h->listen_name) {
        struct chord_addr a;
        chord_addr_split(opt->listen, CHORD_ADDR_ANY_PORT, &a);
        a.port = chord_transport_port(tr);
        chord_addr_format(&a, h->addr);
    } else if (!h->has_advertise) {
        snprintf(h->addr, sizeof h->addr, "%s", h->bound);
    }
    /* Peers see this node's own IP as the source of its connections. */
    chord_transport_set_source(tr, h->bound);
}
