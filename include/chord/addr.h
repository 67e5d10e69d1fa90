/*
 * addr.h - the one parser of node addresses: "host:port" as every program
 * of the project takes it (dhtd --listen/--advertise/--join, dht --node,
 * $DHT_NODE, dht-viz, topology files).
 *
 * host is one of
 *   an IPv4 dotted quad        192.0.2.1        (strict: four decimal
 *                                                fields 0..255, no short
 *                                                forms, no leading zeros)
 *   a bracketed IPv6 address   [2001:db8::1]    (no zone index)
 *   a DNS name                 node1.example    (RFC 1123 labels: letters,
 *                                                digits and '-', 1..63
 *                                                bytes, not starting or
 *                                                ending with '-'; no
 *                                                trailing dot)
 * and port is 0..65535 in plain decimal (no sign, no leading zero); 0 is
 * accepted only with CHORD_ADDR_ANY_PORT (a listener picking a port).
 * A host made only of digits and dots must be a dotted quad ("127.1" is
 * refused, never taken as a name).
 *
 * The whole address, brackets included, is at most CHORD_ADDR_MAX - 1
 * (63) bytes: it travels on the wire and sits in every peer table, so a
 * longer one is refused with -ENAMETOOLONG, never cut.
 *
 * Canonical form (chord_addr_format): names in lower case, IPv6 as
 * inet_ntop writes it (lower case, the longest zero run as "::"), IPv4
 * unchanged. A node's id is SHA-1 of its canonical advertised address, so
 * "Node1:7000" and "node1:7000" are the same node.
 *
 * Pure: no I/O, no resolution, no allocation. Resolving a name is the
 * caller's business (the transport with uv_getaddrinfo, the blocking
 * client with getaddrinfo).
 */
#ifndef CHORD_ADDR_H
#define CHORD_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "chord/types.h"

/* What the host part of an address is. */
enum chord_addr_kind {
    CHORD_ADDR_V4 = 1,   /* dotted quad */
    CHORD_ADDR_V6 = 2,   /* bracketed IPv6 */
    CHORD_ADDR_NAME = 3, /* a DNS name, to be resolved */
};

/* Flags of chord_addr_split. */
#define CHORD_ADDR_ANY_PORT 1u /* accept port 0 (a listener picks one) */

/* An address split in its parts. */
struct chord_addr {
    int kind;                  /* enum chord_addr_kind */
    char host[CHORD_ADDR_MAX]; /* canonical, without brackets */
    uint16_t port;
};

/*
 * Split `s` ("host:port", NUL-terminated) into *out (canonical host; out
 * may be NULL to validate only). Returns 0, -ENAMETOOLONG (longer than
 * CHORD_ADDR_MAX - 1 bytes), -EINVAL (not host:port: no port, a bad host,
 * garbage) or -ERANGE (a port over 65535, or 0 without
 * CHORD_ADDR_ANY_PORT). chord_addr_strerror() words each for a user.
 */
int chord_addr_split(const char *s, unsigned flags, struct chord_addr *out);

/*
 * Write the canonical "host:port" of `a` ("[v6]:port" for IPv6) into out.
 * 0, or -ENAMETOOLONG when it would not fit CHORD_ADDR_MAX.
 */
int chord_addr_format(const struct chord_addr *a, char out[CHORD_ADDR_MAX]);

/*
 * Parse `s` and write its canonical form into out (both may be the same
 * buffer). The errors of chord_addr_split.
 */
int chord_addr_canonical(const char *s, unsigned flags,
                         char out[CHORD_ADDR_MAX]);

/* Is the host a loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.y.z, or
 * the name "localhost"? */
bool chord_addr_is_loopback(const struct chord_addr *a);

/* Is the host a wildcard (0.0.0.0 or ::): fit to listen on, not to
 * advertise or connect to? */
bool chord_addr_is_wildcard(const struct chord_addr *a);

/*
 * Virtual nodes (dhtd --vnodes K): a process with K > 1 ring positions
 * names position i "host:port#i" (i in 0..CHORD_ADDR_VNODE_MAX, plain
 * decimal, no leading zero) and its id is SHA-1 of that string; it is
 * reached at "host:port" (the base), frames for position i carrying i in
 * the high byte of their header flags (core/wire.h). chord_addr_split
 * takes no suffix; these helpers do.
 */
#define CHORD_ADDR_VNODE_MAX 255

/* Split `s` into its base "host:port" (copied into base, may be NULL) and
 * its position (*vnode, may be NULL: the suffix's number, or -1 when s has
 * none). 0, or -EINVAL when a '#' is not followed by a valid number or
 * the base is empty, -ENAMETOOLONG when s is too long. The base is not
 * checked as an address (chord_addr_split does that). */
int chord_addr_vnode_split(const char *s, char base[CHORD_ADDR_MAX],
                           int *vnode);

/* Write "base#i" into out. 0, or -ENAMETOOLONG. */
int chord_addr_vnode_format(const char *base, unsigned i,
                            char out[CHORD_ADDR_MAX]);

/* Do two addresses name positions of the same process (equal bases)? */
bool chord_addr_same_process(const char *a, const char *b);

/* Why chord_addr_split refused an address, in a few words ("not
 * HOST:PORT", "longer than 63 bytes", "port out of range"). */
const char *chord_addr_strerror(int rc);

#endif
