/*
 * sd_notify.h - tell a service manager (systemd, Type=notify) how the
 * process is doing, without libsystemd.
 *
 * The protocol is the one systemd documents as stable for
 * reimplementation (sd_notify(3), "Notes"): $NOTIFY_SOCKET names an
 * AF_UNIX datagram socket, a file system path ("/run/...") or an abstract
 * name ("@name": the '@' stands for a leading NUL byte); each state
 * change is one datagram of newline-separated VAR=VALUE lines, e.g.
 * "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...". $WATCHDOG_USEC,
 * when set, asks for a "WATCHDOG=1" at least that often; $WATCHDOG_PID,
 * when set, says which process is meant (another PID: no watchdog).
 *
 * Invariants: with no $NOTIFY_SOCKET every call is a no-op returning 0;
 * sends never block (MSG_DONTWAIT) and never raise SIGPIPE. It reads the
 * environment once, at open, and does not unset it.
 *
 * What it does not do: decide when to notify (the host does), pass file
 * descriptors, or speak vsock addresses (refused with -EAFNOSUPPORT).
 */
#ifndef CHORD_IO_SD_NOTIFY_H
#define CHORD_IO_SD_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct chord_sd_notify {
    int fd; /* -1: nobody to tell */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_usec; /* 0: no watchdog asked for */
};

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and open the
 * socket. 0 (n->fd is -1 when the variable is unset or empty), or
 * -EINVAL (a name that is neither a path nor "@name", or too long),
 * -EAFNOSUPPORT (vsock) or the socket's -errno; n->fd is -1 then too.
 */
int chord_sd_notify_open(struct chord_sd_notify *n);

/* Send `state` (e.g. "READY=1\nSTATUS=serving") as one datagram. 0, or
 * -errno (the manager gone, the buffer full); a no-op when n->fd < 0. */
int chord_sd_notify_send(const struct chord_sd_notify *n, const char *state);

/* Close the socket (idempotent). */
void chord_sd_notify_close(struct chord_sd_notify *n);

#endif
