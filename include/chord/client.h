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
 *   -EMSGSIZE    key or value over its cap (checked before sending)
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

/* Parse "host:port" (IPv4 dotted quad or "localhost"). 0 or -EINVAL. */
int chord_addr_parse(const char *addr, char host[CHORD_ADDR_MAX],
                     uint16_t *port);

/* Connect to `addr` ("host:port"); every later call on the client waits at
 * most timeout_ms for its reply. 0 or a negative errno. */
int chord_client_connect(const char *addr, int timeout_ms,
                         struct chord_client **out);
void chord_client_close(struct chord_client *c);

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
 * after an -ECONNRESET at the first request of a plaintext connection, a
 * hint that the node may require TLS. */
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
int chord_client_lookup(struct chord_client *c, const void *key, size_t key_len,
                        struct chord_lookup_result *out);
int chord_client_status(struct chord_client *c, struct chord_status *out);

#endif
