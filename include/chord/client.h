/*
 * client.h - a blocking client for one node, used by the `dht` CLI, the
 * tools and the system tests.
 *
 * One struct chord_client is one TCP connection to one node. Each call
 * sends one request frame and waits for its reply, bounded by the
 * connection's timeout. Errors are negative errno values:
 *   -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT  cannot reach the node
 *   -ENOENT      the key does not exist (get)
 *   -EIO         the ring answered but the operation failed; the node's
 *                one-line explanation is in chord_client_error()
 *   -EPERM       a condition of the request was false (a fenced write
 *                older than the key's fence, a lock operation by someone
 *                who does not hold the lock): nothing was written; the
 *                node's line is in chord_client_error()
 *   -ENOTUNIQ    a get of a key with several concurrent values
 *                (siblings, status CHORD_SIBLINGS): the node's line
 *                says how many; chord_session_read (chord/session.h)
 *                reads them all
 *   -EMSGSIZE    key or value over its cap (checked before sending; or
 *                the node's answer TOO_LARGE, its text kept: an append
 *                whose result would be over the cap)
 *   -EPROTO      the node answered with something that is not a reply
 *   -ECONNABORTED     TLS failed (a certificate refused either way);
 *                     chord_client_tls_error() says why
 *   -EPROTONOSUPPORT  one side speaks TLS and the other does not;
 *                     chord_client_tls_error() says which
 * After -ETIMEDOUT, -EPROTO or a TLS error the connection is unusable:
 * close it.
 *
 * TLS: with a context (chord/tls.h, made with server = false) the
 * connection runs TLS 1.3 under the same deadlines: the handshake is part
 * of connecting, and the node's certificate must name the host of the
 * address dialled. chord_client_tls_default() gives chord_client_connect()
 * (and so chord/session.h and the tools) a process-wide context.
 *
 * This client talks to one node and never moves on; chord/session.h is a
 * client of the ring through several seeds, with failover and a budget.
 */
#ifndef CHORD_CLIENT_H
#define CHORD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/types.h"

struct chord_client;
struct chord_tls;

/* Parse "host:port" as chord/addr.h says (a dotted quad, [IPv6] or a
 * name; port 1..65535): host gets the canonical host without brackets.
 * 0, or the errors of chord_addr_split (-EINVAL, -ERANGE,
 * -ENAMETOOLONG). */
int chord_addr_parse(const char *addr, char host[CHORD_ADDR_MAX],
                     uint16_t *port);

/* Connect to `addr` ("host:port"; a name is resolved with getaddrinfo,
 * which blocks, and each address it returns is tried in turn within
 * timeout_ms); every later call on the client waits at most timeout_ms for
 * its reply. 0, -EINVAL (a bad address), -EADDRNOTAVAIL (a name that does
 * not resolve) or the last connect error. */
int chord_client_connect(const char *addr, int timeout_ms,
                         struct chord_client **out);
void chord_client_close(struct chord_client *c);

/* What chord_client_error() says when the node closed the connection
 * before its first reply: most often a node that takes plaintext clients
 * from its own host only (protected mode). */
#define CHORD_CLIENT_CLOSED_AT_ONCE                                            \
    "the node closed the connection before answering (a node without "         \
    "TLS or --insecure accepts only clients on its own host; a TLS node "      \
    "needs --tls-ca, --tls-cert and --tls-key, or $DHT_TLS_*)"

/* Like chord_client_connect, over TLS with `tls` (borrowed for the life
 * of the client; NULL: plaintext). */
int chord_client_connect_tls(const char *addr, int timeout_ms,
                             struct chord_tls *tls, struct chord_client **out);

/* The context chord_client_connect uses from now on, process-wide
 * (borrowed: it must outlive every client; NULL: plaintext again). Not
 * thread-safe: set it before connecting. */
void chord_client_tls_default(struct chord_tls *tls);

/* Did this client's TLS session resume an earlier one (false without
 * TLS)? */
bool chord_client_tls_resumed(const struct chord_client *c);

/* Why this thread's last TLS failure (-ECONNABORTED, -EPROTONOSUPPORT)
 * happened, in one line; "" when there was none. */
const char *chord_client_tls_error(void);

/* The node's explanation of the last -EIO, or "" (owned by the client);
 * after an -ECONNRESET before any reply on a plaintext connection,
 * CHORD_CLIENT_CLOSED_AT_ONCE. */
const char *chord_client_error(const struct chord_client *c);

/* After a -EIO whose reply said the node does not serve the request now
 * (status REDIRECT or TRY_AGAIN: it is joining or leaving), the address
 * of the node it names to ask instead, or "" when it names none; NULL
 * after any other outcome. Owned by the client, valid until the next
 * call. */
const char *chord_client_redirect(const struct chord_client *c);

/* Make every later call wait at most timeout_ms (> 0). 0 or -EINVAL. */
int chord_client_set_timeout(struct chord_client *c, int timeout_ms);

/* How many replicas later put/get/del wait for (enum chord_consistency;
 * the default is the node's: a quorum). 0 or -EINVAL. */
int chord_client_set_consistency(struct chord_client *c, int level);

int chord_client_put(struct chord_client *c, const void *key, size_t key_len,
                     const void *value, size_t value_len);
/* On success *value is malloc'd (the caller frees it; may be non-NULL for an
 * empty value) and *value_len set. */
int chord_client_get(struct chord_client *c, const void *key, size_t key_len,
                     uint8_t **value, size_t *value_len);
int chord_client_del(struct chord_client *c, const void *key, size_t key_len);
/* Append value to the key's value (creating the key), atomically at the
 * key's owner. This client sends no request id: a retry after a lost
 * reply may append twice (chord_session_append does not). */
int chord_client_append(struct chord_client *c, const void *key, size_t key_len,
                        const void *value, size_t value_len);
int chord_client_lookup(struct chord_client *c, const void *key, size_t key_len,
                        struct chord_lookup_result *out);
int chord_client_status(struct chord_client *c, struct chord_status *out);

/* A stored key with its version, as a dump carries it. The bytes are
 * borrowed (valid during the callback that is given the record). */
struct chord_record {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    struct chord_version version;
};

/* What a scan page says about the node that answered it. */
struct chord_scan_page {
    struct chord_peer owner;  /* the node that answered */
    struct chord_id range_lo; /* it owns (range_lo, owner.id] now */
    struct chord_id range_hi; /* the page covers (after, range_hi] */
    struct chord_peer next;   /* its successor: where a walk goes on */
    size_t n_records;         /* records given to the callback */
};

/* Called once per record of a page, in ring order from the cursor.
 * Returns 0 to go on, or a negative errno that ends the call with it. */
typedef int (*chord_record_fn)(void *arg, const struct chord_record *rec);

/*
 * One page of the keys the node owns as primary (C_SCAN): the live keys
 * (no tombstones) whose ids follow `after`, up to the end of its range,
 * at most max_bytes of them (0: the node's default, about 1 MiB; at least
 * one key per page whatever its size). Each record goes to fn, then
 * *page is filled; when page->range_hi equals page->owner.id the range
 * is done and the walk goes on at page->next. A node that does not own
 * the id after `after` answers -EIO with chord_client_redirect() naming
 * the node to ask instead. One page is read at one instant of the owner.
 */
int chord_client_scan(struct chord_client *c, const struct chord_id *after,
                      uint32_t max_bytes, struct chord_scan_page *page,
                      chord_record_fn fn, void *arg);

/*
 * Write a key back with the version it had (C_RESTORE; a dump's load):
 * the owner keeps whichever of its copy and this one is newer, so a
 * restore repeated changes nothing, and one older than the ring's copy is
 * ignored (both answer 0). rec->version.counter must not be 0.
 */
int chord_client_restore(struct chord_client *c,
                         const struct chord_record *rec);

#endif
