/*
 * tls.h - mutual TLS 1.3 without sockets: a context made from PEM files
 * (certificate, key, the CA that signs every node and client) and
 * per-connection sessions that run on memory buffers, so the caller moves
 * the bytes itself (the node's libuv transport, the blocking client, the
 * load generator) and nothing ever blocks:
 *
 *     chord_tls_conn_feed(s, bytes_from_the_socket, n);
 *     while ((n = chord_tls_conn_read(s, plain, sizeof plain)) > 0)
 *         ... plaintext ...
 *     chord_tls_conn_write(s, frame, len);   once the handshake is done
 *     chord_tls_conn_take(s, &out);          ciphertext to send
 *
 * After every feed, read or write the caller takes the ciphertext the
 * session produced (handshake messages, records, alerts) and sends it.
 *
 * Identity: every certificate is checked against the one CA; a client
 * session also checks that the server's certificate names the host it
 * dialled (an IP address SAN for a literal IPv4/IPv6 host, a DNS SAN for
 * a name). A server asks every client for a certificate and verifies the
 * one it gets; with client_auth REQUIRED a client without one fails the
 * handshake. chord_tls_conn_vouches() says whether the peer's certificate
 * names a given "host:port" (the port is not part of a certificate).
 *
 * Resumption: a context keeps the session tickets servers sent to its
 * client sessions, CHORD_TLS_CACHE_MAX of them keyed by the address
 * dialled (the oldest replaced), so a reconnect skips the certificate
 * exchange. Servers issue tickets (stateless, a key per context).
 *
 * Errors: 0 or a negative errno; a context that cannot be made and a
 * session that failed explain themselves in one line. A context is not
 * thread-safe beyond what OpenSSL's SSL_CTX is: one loop or thread uses
 * it. It does not open sockets, time anything out or retry.
 */
#ifndef CHORD_TLS_H
#define CHORD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chord/buf.h"

/* Longest one-line explanation of a failure. */
#define CHORD_TLS_ERR_MAX 320u
/* Client session tickets kept per context, by address. */
#define CHORD_TLS_CACHE_MAX 64u

/* What a server asks of its clients. */
enum chord_tls_client_auth {
    CHORD_TLS_CLIENT_AUTH_REQUIRED = 0, /* a certificate from the CA */
    CHORD_TLS_CLIENT_AUTH_NONE = 1,     /* any client; peers still verified */
};

struct chord_tls_options {
    const char *cert; /* PEM certificate file (NULL: none, client only) */
    const char *key;  /* PEM private key of `cert` */
    const char *ca;   /* PEM CA certificate(s) every peer must chain to */
    int client_auth;  /* enum chord_tls_client_auth (servers) */
};

struct chord_tls;
struct chord_tls_conn;

/*
 * Fill the fields of *opt left NULL from $DHT_TLS_CA, $DHT_TLS_CERT and
 * $DHT_TLS_KEY (unset or empty: left NULL).
 */
void chord_tls_options_from_env(struct chord_tls_options *opt);

/* Does *opt ask for TLS at all (any of cert, key, ca set)? */
bool chord_tls_options_enabled(const struct chord_tls_options *opt);

/*
 * Make a context. `server`: it will accept connections too, so cert, key
 * and ca are all required; otherwise ca is, and cert with key optional
 * (both or neither). Returns 0, -EINVAL (a missing option, a bad
 * client_auth), -ENOENT / -EACCES (a file that cannot be read), -EPROTO
 * (a file that is not what it should be, or a key that does not match its
 * certificate), -ENOMEM; err says which file and why in one line.
 */
int chord_tls_new(const struct chord_tls_options *opt, bool server,
                  char err[CHORD_TLS_ERR_MAX], struct chord_tls **out);

/* Drop every kept ticket, so the next sessions make full handshakes
 * (benchmarks; a certificate rotation). */
void chord_tls_forget_tickets(struct chord_tls *tls);

/* Free a context (NULL is fine). Its sessions must be freed first. */
void chord_tls_free(struct chord_tls *tls);

/*
 * A session on `tls`. `server`: the accepting side (a server context
 * only; `addr` is ignored). Otherwise the connecting side: `addr` is the
 * address dialled ("host:port", "[v6]:port"), whose host the server's
 * certificate must name (an IP SAN for a literal, a DNS SAN for a name),
 * and under which the ticket for a resumption is kept. The client starts
 * the handshake at once: take its first bytes. 0, -EINVAL (a bad address)
 * or -ENOMEM.
 */
int chord_tls_conn_new(struct chord_tls *tls, bool server, const char *addr,
                       struct chord_tls_conn **out);

/* Free a session (NULL is fine). */
void chord_tls_conn_free(struct chord_tls_conn *s);

/* Ciphertext that arrived from the peer (copied). 0 or -ENOMEM. */
int chord_tls_conn_feed(struct chord_tls_conn *s, const uint8_t *data,
                        size_t len);

/*
 * Advance the handshake and decrypt what was fed: the number of plaintext
 * bytes put in out[0..cap) (> 0), 0 when there is none yet (handshake in
 * progress or a partial record: feed more), -ECONNRESET when the peer
 * closed the session, or -EPROTO when the handshake or a record failed
 * (chord_tls_conn_error() says why; the session is then unusable).
 */
ssize_t chord_tls_conn_read(struct chord_tls_conn *s, uint8_t *out, size_t cap);

/* Has the handshake finished successfully? */
bool chord_tls_conn_ready(const struct chord_tls_conn *s);

/* Did this session resume an earlier one (no certificate exchange)? */
bool chord_tls_conn_resumed(const struct chord_tls_conn *s);

/*
 * Encrypt `len` plaintext bytes (all of them, or nothing). 0, -EAGAIN
 * before the handshake has finished, -EPROTO when the session failed, or
 * -ENOMEM.
 */
int chord_tls_conn_write(struct chord_tls_conn *s, const uint8_t *data,
                         size_t len);

/* Append every ciphertext byte waiting to be sent to `out` and forget
 * them: 0, or -ENOMEM / -EMSGSIZE (nothing taken). */
int chord_tls_conn_take(struct chord_tls_conn *s, struct chord_buf *out);

/* Ciphertext bytes waiting to be taken. */
size_t chord_tls_conn_pending(const struct chord_tls_conn *s);

/* Why the session failed: one line, "" while it has not. */
const char *chord_tls_conn_error(const struct chord_tls_conn *s);

/*
 * Does the peer's verified certificate name the host of `addr`
 * ("host:port", "[v6]:port")? False before the handshake, without a
 * certificate, or for a malformed address. The last address vouched for
 * is remembered, so asking again for it is cheap.
 */
bool chord_tls_conn_vouches(struct chord_tls_conn *s, const char *addr);

/* Did the peer present a certificate that verified? */
bool chord_tls_conn_has_peer_cert(const struct chord_tls_conn *s);

#endif
