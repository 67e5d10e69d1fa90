/*
 * addr.c - the one parser of node addresses (see include/chord/addr.h for
 * the forms taken and the canonical form written).
 *
 * The port is read by hand (decimal digits, at most five, no leading
 * zero), the IP forms by inet_pton (strict for IPv4: no short forms such
 * as "127.1", no leading zeros) and written back by inet_ntop, names by
 * the RFC 1123 label rules. Invariant: whatever chord_addr_split accepts,
 * chord_addr_format writes back within CHORD_ADDR_MAX and
 * chord_addr_split accepts again unchanged.
 *
 * It does no I/O and never resolves a name.
 */
#include "chord/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

_Static_assert(CHORD_ADDR_MAX == 64, "chord_addr_strerror says 63 bytes");

/* Longest DNS name (RFC 1035), longest label. */
#define ADDR_NAME_MAX 253u
#define ADDR_LABEL_MAX 63u

/* Read a port: 0 with *port set, -EINVAL when not plain decimal, -ERANGE
 * when over 65535 or 0 where not allowed. */
static int port_parse(const char *p, unsigned flags, uint16_t *port)
{
    size_t n = strlen(p);
    if (n == 0)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        if (i >= 5)
            return -ERANGE;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (n > 1 && p[0] == '0')
        return -EINVAL;
    if (v > 65535 || (v == 0 && !(flags & CHORD_ADDR_ANY_PORT)))
        return -ERANGE;
    *port = (uint16_t)v;
    return 0;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Is `h` a DNS name by RFC 1123 (and not a would-be dotted quad)? */
static bool name_ok(const char *h, size_t n)
{
    if (n == 0 || n > ADDR_NAME_MAX)
        return false;
    bool only_digits_dots = true;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? h[i] : '.';
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (c != '-' && !is_alnum(c))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > ADDR_LABEL_MAX)
            return false;
        if (!(c >= '0' && c <= '9'))
            only_digits_dots = false;
    }
    return !only_digits_dots;
}

int chord_addr_split(const char *s, unsigned flags, struct chord_addr *out)
{
    if (!s)
        return -EINVAL;
    size_t n = strnlen(s, CHORD_ADDR_MAX);
    if (n >= CHORD_ADDR_MAX)
        return -ENAMETOOLONG;
    struct chord_addr a;
    memset(&a, 0, sizeof a);
    const char *host, *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        host = s + 1;
        hl = (size_t)(close - host);
        colon = close + 1;
        a.kind = CHORD_ADDR_V6;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -EINVAL;
        host = s;
        hl = (size_t)(colon - s);
    }
    if (hl == 0)
        return -EINVAL;
    int rc = port_parse(colon + 1, flags, &a.port);
    if (rc)
        return rc;

    char h[CHORD_ADDR_MAX];
    memcpy(h, host, hl);
    h[hl] = '\0';
    if (a.kind == CHORD_ADDR_V6) {
        struct in6_addr in6;
        if (inet_pton(AF_INET6, h, &in6) != 1 ||
            !inet_ntop(AF_INET6, &in6, a.host, sizeof a.host))
            return -EINVAL;
    } else if (memchr(h, ':', hl)) {
        return -EINVAL; /* an IPv6 address without brackets */
    } else {
        struct in_addr in;
        if (inet_pton(AF_INET, h, &in) == 1) {
            a.kind = CHORD_ADDR_V4;
            memcpy(a.host, h, hl + 1);
        } else if (name_ok(h, hl)) {
            a.kind = CHORD_ADDR_NAME;
            for (size_t i = 0; i <= hl; i++)
                a.host[i] = (h[i] >= 'A' && h[i] <= 'Z')
                                ? (char)(h[i] - 'A' + 'a')
                                : h[i];
        } else {
            return -EINVAL;
        }
    }
    if (out)
        *out = a;
    return 0;
}

int chord_addr_format(const struct chord_addr *a, char out[CHORD_ADDR_MAX])
{
    int n = snprintf(out, CHORD_ADDR_MAX,
                     a->kind == CHORD_ADDR_V6 ? "[%s]:%u" : "%s:%u", a->host,
                     (unsigned)a->port);
    return n < 0 || (unsigned)n >= CHORD_ADDR_MAX ? -ENAMETOOLONG : 0;
}

int chord_addr_canonical(const char *s, unsigned flags,
                         char out[CHORD_ADDR_MAX])
{
    struct chord_addr a;
    int rc = chord_addr_split(s, flags, &a);
    return rc ? rc : chord_addr_format(&a, out);
}

bool chord_addr_is_loopback(const struct chord_addr *a)
{
    if (a->kind == CHORD_ADDR_NAME)
        return strcmp(a->host, "localhost") == 0;
    if (a->kind == CHORD_ADDR_V4)
        return strncmp(a->host, "127.", 4) == 0;
    struct in6_addr in6;
    if (inet_pton(AF_INET6, a->host, &in6) != 1)
        return false;
    return IN6_IS_ADDR_LOOPBACK(&in6) ||
           (IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127);
}

bool chord_addr_is_wildcard(const struct chord_addr *a)
{
    return (a->kind == CHORD_ADDR_V4 && strcmp(a->host, "0.0.0.0") == 0) ||
           (a->kind == CHORD_ADDR_V6 && strcmp(a->host, "::") == 0);
}

const char *chord_addr_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case -ENAMETOOLONG:
        return "longer than 63 bytes";
    case -ERANGE:
        return "port out of range (1-65535; 0 only to listen)";
    default:
        return "not HOST:PORT (HOST an IPv4 address, [IPv6] or a name)";
    }
}

int chord_addr_vnode_split(const char *s, char base[CHORD_ADDR_MAX], int *vnode)
{
    if (!s)
        return -EINVAL;
    size_t n = strnlen(s, CHORD_ADDR_MAX);
    if (n >= CHORD_ADDR_MAX)
        return -ENAMETOOLONG;
    const char *hash = memchr(s, '#', n);
    size_t bl = hash ? (size_t)(hash - s) : n;
    int v = -1;
    if (hash) {
        const char *d = hash + 1;
        size_t dl = n - bl - 1;
        if (dl == 0 || dl > 3 || (dl > 1 && d[0] == '0'))
            return -EINVAL;
        v = 0;
        for (size_t i = 0; i < dl; i++) {
            if (d[i] < '0' || d[i] > '9')
                return -EINVAL;
            v = v * 10 + (d[i] - '0');
        }
        if (v > CHORD_ADDR_VNODE_MAX)
            return -EINVAL;
    }
    if (bl == 0)
        return -EINVAL;
    if (base) {
        memcpy(base, s, bl);
        base[bl] = '\0';
    }
    if (vnode)
        *vnode = v;
    return 0;
}

int chord_addr_vnode_format(const char *base, unsigned i,
                            char out[CHORD_ADDR_MAX])
{
    int n = snprintf(out, CHORD_ADDR_MAX, "%s#%u", base, i);
    return n < 0 || (unsigned)n >= CHORD_ADDR_MAX ? -ENAMETOOLONG : 0;
}

bool chord_addr_same_process(const char *a, const char *b)
{
    size_t la = strcspn(a, "#"), lb = strcspn(b, "#");
    return la == lb && memcmp(a, b, la) == 0;
}
