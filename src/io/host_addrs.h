/*
 * host_addrs.h - the addresses a host (host.c) works with: the seed it
 * joins, the address it advertises (its core names are made from it) and
 * the one its listener is bound to. Split out of host.c; used by it only.
 */
#ifndef CHORD_IO_HOST_ADDRS_H
#define CHORD_IO_HOST_ADDRS_H

#include <stdbool.h>

#include "chord/host.h"
#include "chord/types.h"
#include "io/transport.h"

struct chord_host_addrs {
    bool has_join;
    char join[CHORD_ADDR_MAX];  /* canonical, when has_join */
    char addr[CHORD_ADDR_MAX];  /* advertised address */
    char bound[CHORD_ADDR_MAX]; /* the listener's "ip:port" */
    bool has_advertise;         /* addr was given (opt.advertise) */
    bool listen_name;           /* opt.listen names a host to resolve */
};

/* Check the join, listen and advertise addresses before anything opens,
 * keeping the join and advertised ones in canonical form in *h. 0, or
 * -EINVAL with the reason in err. */
int chord__host_check_addrs(struct chord_host_addrs *h,
                            const struct chord_host_options *opt,
                            char err[CHORD_HOST_ERR_MAX]);

/* Once listening: the address the node advertises (the one given; else a
 * listen name with the port picked; else the bound address), and the
 * source of tr's outbound connections (the bound IP, when concrete). */
void chord__host_advertise(struct chord_host_addrs *h,
                           struct chord_transport *tr,
                           const struct chord_host_options *opt);

#endif
