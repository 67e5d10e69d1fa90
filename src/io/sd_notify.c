/*
 * sd_notify.c - the service manager's notification socket (see
 * sd_notify.h for the protocol).
 *
 * Invariant: n->fd >= 0 only with a valid addr/addr_len; an abstract name
 * is stored with its leading NUL and its length counted exactly (no
 * trailing NUL), as the kernel compares abstract names byte for byte.
 *
 * It keeps no global state: the host owns its struct chord_sd_notify.
 */
#include "io/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest $WATCHDOG_USEC taken (an hour); larger values mean no pings. */
#define SD_WATCHDOG_USEC_MAX 3600000000ull

/* Parse a decimal u64 (digits only). 0, or -EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* The watchdog period asked of this process, or 0. */
static uint64_t watchdog_usec(void)
{
    uint64_t usec, pid;
    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) || usec == 0 ||
        usec > SD_WATCHDOG_USEC_MAX)
        return 0;
    const char *p = getenv("WATCHDOG_PID");
    if (p && *p && (parse_u64(p, &pid) || pid != (uint64_t)getpid()))
        return 0;
    return usec;
}

int chord_sd_notify_open(struct chord_sd_notify *n)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name)
        return 0;
    if (strncmp(name, "vsock:", 6) == 0)
        return -EAFNOSUPPORT;
    size_t len = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || len < 2 ||
        len >= sizeof n->addr.sun_path)
        return -EINVAL;
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, name, len);
    if (name[0] == '@') {
        n->addr.sun_path[0] = '\0';
        n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        n->addr_len =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    n->fd = fd;
    n->watchdog_usec = watchdog_usec();
    return 0;
}

int chord_sd_notify_send(const struct chord_sd_notify *n, const char *state)
{
    if (n->fd < 0)
        return 0;
    ssize_t w = sendto(n->fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&n->addr, n->addr_len);
    return w < 0 ? -errno : 0;
}

void chord_sd_notify_close(struct chord_sd_notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}
