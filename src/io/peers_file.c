/*
 * peers_file.c - reading and atomically replacing the list of known peers
 * in a data directory (format and contract in peers_file.h).
 *
 * The reader takes the whole file into one buffer (it is small and capped)
 * and checks every line before it fills anything in, so a corrupt file
 * yields no addresses at all. The writer builds the whole text first and
 * refuses bad input before it touches the disk; every failed step after
 * that leaves the old list in place (the rename is the commit point).
 *
 * It keeps no state and never logs: the caller turns `why` into a line.
 */
#include "io/peers_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool chord_peers_file_addr_ok(const char *addr)
{
    size_t len = strnlen(addr, CHORD_ADDR_MAX);
    if (len == 0 || len >= CHORD_ADDR_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (addr[i] <= ' ' || addr[i] > '~')
            return false;
    return strchr(addr, ':') != NULL;
}

/* Write `len` bytes as the temporary file and make them durable. */
static int write_tmp(const struct chord_disk *d, const char *text, size_t len)
{
    int fd = d->open(d->ctx, CHORD_PEERS_FILE_TMP,
                     CHORD_DISK_WRITE | CHORD_DISK_CREATE | CHORD_DISK_TRUNC);
    if (fd < 0)
        return fd;
    int rc = d->pwrite(d->ctx, fd, text, len, 0);
    if (rc == 0)
        rc = d->fsync(d->ctx, fd);
    int crc = d->close(d->ctx, fd);
    return rc ? rc : crc;
}

int chord_peers_file_save(const struct chord_disk *d,
                          const char (*addrs)[CHORD_ADDR_MAX], size_t n)
{
    if (n == 0 || n > CHORD_PEERS_FILE_MAX)
        return -EINVAL;
    char *text = malloc(CHORD_PEERS_FILE_BYTES_MAX);
    if (!text)
        return -ENOMEM;
    size_t len = (size_t)snprintf(text, CHORD_PEERS_FILE_BYTES_MAX, "%s\n",
                                  CHORD_PEERS_FILE_HEADER);
    for (size_t i = 0; i < n; i++) {
        if (!chord_peers_file_addr_ok(addrs[i])) {
            free(text);
            return -EINVAL;
        }
        /* fits: the header and n < MAX lines of < CHORD_ADDR_MAX bytes */
        len += (size_t)snprintf(text + len, CHORD_PEERS_FILE_BYTES_MAX - len,
                                "%s\n", addrs[i]);
    }
    int rc = write_tmp(d, text, len);
    free(text);
    if (rc == 0)
        rc = d->rename(d->ctx, CHORD_PEERS_FILE_TMP, CHORD_PEERS_FILE_NAME);
    if (rc == 0)
        rc = d->sync_dir(d->ctx);
    else
        d->unlink(d->ctx, CHORD_PEERS_FILE_TMP); /* best effort */
    return rc;
}

/* The whole file into a new buffer (NUL-terminated) of *len bytes.
 * 0, -ENOENT, -EBADMSG (too large), or -errno; explained in why. */
static int read_all(const struct chord_disk *d, char **out, size_t *len,
                    char why[CHORD_PEERS_FILE_ERR_MAX])
{
    int fd = d->open(d->ctx, CHORD_PEERS_FILE_NAME, 0);
    if (fd < 0) {
        snprintf(why, CHORD_PEERS_FILE_ERR_MAX, "cannot open it: %s",
                 strerror(-fd));
        return fd;
    }
    uint64_t size = 0;
    int rc = d->size(d->ctx, fd, &size);
    char *buf = NULL;
    if (rc == 0 && size > CHORD_PEERS_FILE_BYTES_MAX) {
        snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                 "it is %llu bytes long, more than the %zu a list can take",
                 (unsigned long long)size, (size_t)CHORD_PEERS_FILE_BYTES_MAX);
        rc = -EBADMSG;
    } else if (rc == 0 && !(buf = malloc((size_t)size + 1))) {
        rc = -ENOMEM;
    } else if (rc == 0) {
        ssize_t got = d->pread(d->ctx, fd, buf, (size_t)size, 0);
        if (got < 0)
            rc = (int)got;
        else
            size = (uint64_t)got; /* shorter if it shrank meanwhile */
    }
    if (rc && rc != -EBADMSG)
        snprintf(why, CHORD_PEERS_FILE_ERR_MAX, "cannot read it: %s",
                 strerror(-rc));
    d->close(d->ctx, fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *out = buf;
    *len = (size_t)size;
    return 0;
}

/* Check the text and, when it is valid, copy its addresses into out. */
static int parse(const char *text, size_t len, char (*out)[CHORD_ADDR_MAX],
                 size_t max, size_t *n, char why[CHORD_PEERS_FILE_ERR_MAX])
{
    /* First pass checks, second pass copies: all or nothing. */
    for (int copy = 0; copy < 2; copy++) {
        size_t pos = 0, k = 0;
        for (unsigned line = 1; pos < len; line++) {
            const char *s = text + pos;
            const char *nl = memchr(s, '\n', len - pos);
            size_t l = nl ? (size_t)(nl - s) : len - pos;
            pos += l + 1;
            if (!copy && !nl) {
                snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                         "line %u is not ended by a newline (cut short?)",
                         line);
                return -EBADMSG;
            }
            if (line == 1) {
                if (!copy && (l != strlen(CHORD_PEERS_FILE_HEADER) ||
                              memcmp(s, CHORD_PEERS_FILE_HEADER, l) != 0)) {
                    snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                             "line 1 is not \"%s\" (another format or "
                             "version)",
                             CHORD_PEERS_FILE_HEADER);
                    return -EBADMSG;
                }
                continue;
            }
            if (!copy && l >= CHORD_ADDR_MAX) {
                snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                         "line %u is longer than %u bytes", line,
                         CHORD_ADDR_MAX - 1);
                return -EBADMSG;
            }
            char addr[CHORD_ADDR_MAX];
            memcpy(addr, s, l);
            addr[l] = '\0';
            if (!copy &&
                (memchr(s, '\0', l) || !chord_peers_file_addr_ok(addr))) {
                snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                         "line %u is not a host:port address", line);
                return -EBADMSG;
            }
            if (!copy && line - 1 > CHORD_PEERS_FILE_MAX) {
                snprintf(why, CHORD_PEERS_FILE_ERR_MAX,
                         "it lists more than %u addresses",
                         CHORD_PEERS_FILE_MAX);
                return -EBADMSG;
            }
            if (!copy)
                continue;
            bool dup = false;
            for (size_t i = 0; i < k && !dup; i++)
                dup = strcmp(out[i], addr) == 0;
            if (!dup && k < max)
                memcpy(out[k++], addr, l + 1);
        }
        if (!copy && len == 0) {
            snprintf(why, CHORD_PEERS_FILE_ERR_MAX, "it is empty");
            return -EBADMSG;
        }
        if (copy)
            *n = k;
    }
    return 0;
}

int chord_peers_file_load(const struct chord_disk *d,
                          char (*out)[CHORD_ADDR_MAX], size_t max, size_t *n,
                          char why[CHORD_PEERS_FILE_ERR_MAX])
{
    *n = 0;
    why[0] = '\0';
    char *text = NULL;
    size_t len = 0;
    int rc = read_all(d, &text, &len, why);
    if (rc)
        return rc;
    rc = parse(text, len, out, max, n, why);
    free(text);
    return rc;
}
