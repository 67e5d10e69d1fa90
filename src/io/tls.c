/*
 * tls.c - mutual TLS 1.3 on memory BIOs (see chord/tls.h for the
 * contract).
 *
 * A context is one SSL_CTX (TLS 1.3 only, the CA as the only trust
 * anchor, peer verification always on) plus a small cache of client
 * session tickets keyed by the address dialled. A session is one SSL
 * between two memory BIOs: `rbio` holds the ciphertext fed in and not yet
 * decrypted, `wbio` the ciphertext produced and not yet taken. Neither
 * BIO ever blocks (an empty rbio is "retry"), so the handshake advances
 * exactly as far as the bytes fed allow.
 *
 * A client session pins the host it dialled in its verify parameters
 * (an IP SAN for a literal, a DNS SAN for a name), so OpenSSL refuses a
 * certificate that names another host during the handshake. Failure
 * reasons are OpenSSL's last error reason, with the verification result
 * when there is one.
 *
 * Invariants: a session that failed stays failed (every later call says
 * so); the ticket cache holds one reference to each SSL_SESSION it keeps.
 * It does not touch sockets, clocks or files after chord_tls_new().
 */
#include "chord/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "chord/types.h"

/* Tickets a server issues after a full handshake (one is enough: a
 * client keeps only the newest per address). */
#define TLS_TICKETS 1

struct ticket {
    char key[CHORD_ADDR_MAX];
    SSL_SESSION *sess; /* one reference, or NULL */
};

struct chord_tls {
    SSL_CTX *ctx;
    bool server;
    int client_auth;
    unsigned next_slot; /* round-robin replacement in `cache` */
    struct ticket cache[CHORD_TLS_CACHE_MAX];
};

struct chord_tls_conn {
    struct chord_tls *tls;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool server;
    bool ready;
    bool failed;
    char cache_key[CHORD_ADDR_MAX]; /* client: the address dialled */
    char host[CHORD_ADDR_MAX];      /* client: the host dialled */
    char vouched[CHORD_ADDR_MAX];   /* the last address vouched for */
    char error[CHORD_TLS_ERR_MAX];
};

/* ---- options ------------------------------------------------------------- */

void chord_tls_options_from_env(struct chord_tls_options *opt)
{
    static const char *const names[] = {"DHT_TLS_CA", "DHT_TLS_CERT",
                                        "DHT_TLS_KEY"};
    const char **fields[] = {&opt->ca, &opt->cert, &opt->key};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (!*fields[i] && v && *v)
            *fields[i] = v;
    }
}

bool chord_tls_options_enabled(const struct chord_tls_options *opt)
{
    return opt && (opt->cert || opt->key || opt->ca);
}

/* ---- context ------------------------------------------------------------- */

/* OpenSSL's reason for the last error, or `fallback`; clears the queue. */
static const char *ssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

/* Can `path` be opened for reading? 0 or a negative errno. */
static int readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fclose(f);
    return 0;
}

/* Check that the file given for `flag` can be read: 0, or an error in err. */
static int check_file(const char *flag, const char *path, char *err)
{
    int rc = readable(path);
    if (rc)
        snprintf(err, CHORD_TLS_ERR_MAX, "cannot read %s %s: %s", flag, path,
                 strerror(-rc));
    return rc;
}

/* A client session got a ticket: keep it under its address. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct chord_tls_conn *s = SSL_get_app_data(ssl);
    if (!s || s->server || !s->cache_key[0])
        return 0;
    struct chord_tls *tls = s->tls;
    struct ticket *slot = NULL;
    for (unsigned i = 0; i < CHORD_TLS_CACHE_MAX && !slot; i++)
        if (tls->cache[i].sess && strcmp(tls->cache[i].key, s->cache_key) == 0)
            slot = &tls->cache[i];
    if (!slot) {
        slot = &tls->cache[tls->next_slot];
        tls->next_slot = (tls->next_slot + 1) % CHORD_TLS_CACHE_MAX;
    }
    if (slot->sess)
        SSL_SESSION_free(slot->sess);
    slot->sess = sess; /* returning 1 hands us the reference */
    snprintf(slot->key, sizeof slot->key, "%s", s->cache_key);
    return 1;
}

/* Load the CA, and the certificate and key when given, into tls->ctx. */
static int load_files(struct chord_tls *tls, const struct chord_tls_options *o,
                      char *err)
{
    int rc = check_file("--tls-ca", o->ca, err);
    if (rc)
        return rc;
    if (SSL_CTX_load_verify_locations(tls->ctx, o->ca, NULL) != 1) {
        snprintf(err, CHORD_TLS_ERR_MAX, "--tls-ca %s: no CA certificate: %s",
                 o->ca, ssl_reason("not PEM"));
        return -EPROTO;
    }
    if (!o->cert)
        return 0;
    if ((rc = check_file("--tls-cert", o->cert, err)) != 0 ||
        (rc = check_file("--tls-key", o->key, err)) != 0)
        return rc;
    if (SSL_CTX_use_certificate_chain_file(tls->ctx, o->cert) != 1) {
        snprintf(err, CHORD_TLS_ERR_MAX, "--tls-cert %s: not a certificate: %s",
                 o->cert, ssl_reason("not PEM"));
        return -EPROTO;
    }
    if (SSL_CTX_use_PrivateKey_file(tls->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        const char *why = ssl_reason("not PEM");
        if (strstr(why, "values mismatch") || strstr(why, "mismatch"))
            snprintf(err, CHORD_TLS_ERR_MAX,
                     "--tls-key %s does not match --tls-cert %s", o->key,
                     o->cert);
        else
            snprintf(err, CHORD_TLS_ERR_MAX,
                     "--tls-key %s: not a private key: %s", o->key, why);
        return -EPROTO;
    }
    if (SSL_CTX_check_private_key(tls->ctx) != 1) {
        ERR_clear_error();
        snprintf(err, CHORD_TLS_ERR_MAX,
                 "--tls-key %s does not match --tls-cert %s", o->key, o->cert);
        return -EPROTO;
    }
    return 0;
}

/* The options a context needs: 0, or -EINVAL with the reason in err. */
static int check_options(const struct chord_tls_options *o, bool server,
                         char *err)
{
    if (!o->ca) {
        snprintf(err, CHORD_TLS_ERR_MAX,
                 "TLS needs --tls-ca (the CA that signed the nodes)");
        return -EINVAL;
    }
    if (server && (!o->cert || !o->key)) {
        snprintf(err, CHORD_TLS_ERR_MAX,
                 "a TLS node needs --tls-cert, --tls-key and --tls-ca");
        return -EINVAL;
    }
    if (!o->cert != !o->key) {
        snprintf(err, CHORD_TLS_ERR_MAX,
                 "--tls-cert and --tls-key go together");
        return -EINVAL;
    }
    if (o->client_auth != CHORD_TLS_CLIENT_AUTH_REQUIRED &&
        o->client_auth != CHORD_TLS_CLIENT_AUTH_NONE) {
        snprintf(err, CHORD_TLS_ERR_MAX, "bad client_auth %d", o->client_auth);
        return -EINVAL;
    }
    return 0;
}

int chord_tls_new(const struct chord_tls_options *opt, bool server,
                  char err[CHORD_TLS_ERR_MAX], struct chord_tls **out)
{
    *out = NULL;
    err[0] = '\0';
    int rc = check_options(opt, server, err);
    if (rc)
        return rc;
    struct chord_tls *tls = calloc(1, sizeof *tls);
    if (!tls || !(tls->ctx = SSL_CTX_new(TLS_method()))) {
        free(tls);
        snprintf(err, CHORD_TLS_ERR_MAX, "TLS: out of memory");
        return -ENOMEM;
    }
    tls->server = server;
    tls->client_auth = opt->client_auth;
    SSL_CTX *ctx = tls->ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* No SSL_MODE_RELEASE_BUFFERS: it frees and re-allocates the record
     * buffers around every read and write of a busy connection. */
    /* AES-128-GCM first: frames are small and many, so the per-record
     * cost counts more than the key length (all three stay allowed). */
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
                                  "TLS_AES_256_GCM_SHA384:"
                                  "TLS_CHACHA20_POLY1305_SHA256");
    static const unsigned char sid_ctx[] = "chord";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_SERVER |
                                            SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_num_tickets(ctx, TLS_TICKETS);
    rc = load_files(tls, opt, err);
    if (rc) {
        chord_tls_free(tls);
        return rc;
    }
    *out = tls;
    return 0;
}

void chord_tls_forget_tickets(struct chord_tls *tls)
{
    for (unsigned i = 0; i < CHORD_TLS_CACHE_MAX; i++)
        if (tls->cache[i].sess) {
            SSL_SESSION_free(tls->cache[i].sess);
            tls->cache[i].sess = NULL;
        }
}

void chord_tls_free(struct chord_tls *tls)
{
    if (!tls)
        return;
    chord_tls_forget_tickets(tls);
    SSL_CTX_free(tls->ctx);
    free(tls);
}

/* ---- sessions ------------------------------------------------------------ */

/* Split the host out of "host:port" or "[v6]:port" (brackets dropped). */
static int addr_host(const char *addr, char host[CHORD_ADDR_MAX])
{
    size_t n = strnlen(addr, CHORD_ADDR_MAX);
    if (n == 0 || n >= CHORD_ADDR_MAX)
        return -EINVAL;
    const char *start = addr, *end;
    if (addr[0] == '[') {
        start = addr + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(addr, ':');
    }
    if (!end || end == start)
        return -EINVAL;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    return 0;
}

/* Is `host` an IPv4 or IPv6 literal? */
static bool is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* Find the ticket kept for `key`, or NULL. */
static SSL_SESSION *ticket_find(struct chord_tls *tls, const char *key)
{
    for (unsigned i = 0; i < CHORD_TLS_CACHE_MAX; i++)
        if (tls->cache[i].sess && strcmp(tls->cache[i].key, key) == 0)
            return tls->cache[i].sess;
    return NULL;
}

/* Pin the host of the dialled address in a client session's
 * verification, and key its ticket by the address. */
static int pin_host(struct chord_tls_conn *s, const char *addr)
{
    char h[CHORD_ADDR_MAX];
    if (addr_host(addr, h) != 0)
        return -EINVAL;
    X509_VERIFY_PARAM *p = SSL_get0_param(s->ssl);
    int ok = is_ip(h) ? X509_VERIFY_PARAM_set1_ip_asc(p, h)
                      : X509_VERIFY_PARAM_set1_host(p, h, 0);
    if (ok != 1) {
        ERR_clear_error();
        return -EINVAL;
    }
    snprintf(s->host, sizeof s->host, "%s", h);
    snprintf(s->cache_key, sizeof s->cache_key, "%s", addr);
    return 0;
}

int chord_tls_conn_new(struct chord_tls *tls, bool server, const char *addr,
                       struct chord_tls_conn **out)
{
    *out = NULL;
    if (!tls || (server && !tls->server) || (!server && !addr))
        return -EINVAL;
    struct chord_tls_conn *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->tls = tls;
    s->server = server;
    s->ssl = SSL_new(tls->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        free(s);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_mem_eof_return(s->rbio, -1); /* empty: retry, not EOF */
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_app_data(s->ssl, s);
    if (server) {
        int mode = SSL_VERIFY_PEER;
        if (tls->client_auth == CHORD_TLS_CLIENT_AUTH_REQUIRED)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_set_verify(s->ssl, mode, NULL);
        SSL_set_accept_state(s->ssl);
        *out = s;
        return 0;
    }
    if (pin_host(s, addr) != 0) {
        chord_tls_conn_free(s);
        return -EINVAL;
    }
    SSL_SESSION *t = ticket_find(tls, addr);
    if (t)
        SSL_set_session(s->ssl, t);
    SSL_set_connect_state(s->ssl);
    (void)chord_tls_conn_read(s, NULL, 0); /* the ClientHello */
    *out = s;
    return 0;
}

void chord_tls_conn_free(struct chord_tls_conn *s)
{
    if (!s)
        return;
    /* A session that ends without close_notify is "bad" to OpenSSL, which
     * would mark its ticket unusable: connections here end by closing
     * the socket, so say the shutdown happened. */
    if (s->ready && !s->failed)
        SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(s->ssl); /* frees both BIOs */
    free(s);
}

int chord_tls_conn_feed(struct chord_tls_conn *s, const uint8_t *data,
                        size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int n = BIO_write(s->rbio, data, chunk);
        if (n <= 0) {
            ERR_clear_error();
            return -ENOMEM;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Record why the session failed, from OpenSSL's error queue and the
 * verification result. Returns -EPROTO. */
static int conn_fail(struct chord_tls_conn *s, int ssl_err)
{
    if (s->failed)
        return -EPROTO;
    s->failed = true;
    long vr = SSL_get_verify_result(s->ssl);
    const char *why = ssl_err == SSL_ERROR_SYSCALL
                          ? ssl_reason("unexpected end of the handshake")
                          : ssl_reason("protocol error");
    if (vr != X509_V_OK && !s->ready) {
        const char *v = X509_verify_cert_error_string(vr);
        if (vr == X509_V_ERR_IP_ADDRESS_MISMATCH ||
            vr == X509_V_ERR_HOSTNAME_MISMATCH)
            snprintf(s->error, sizeof s->error,
                     "%s: the certificate does not name %s", why, s->host);
        else
            snprintf(s->error, sizeof s->error, "%s: %s", why, v);
    } else {
        snprintf(s->error, sizeof s->error, "%s", why);
    }
    return -EPROTO;
}

ssize_t chord_tls_conn_read(struct chord_tls_conn *s, uint8_t *out, size_t cap)
{
    if (s->failed)
        return -EPROTO;
    ERR_clear_error();
    if (!s->ready) {
        int r = SSL_do_handshake(s->ssl);
        if (r != 1) {
            int e = SSL_get_error(s->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            return conn_fail(s, e);
        }
        s->ready = true;
    }
    if (cap == 0)
        return 0;
    size_t n = 0;
    if (SSL_read_ex(s->ssl, out, cap, &n) == 1)
        return (ssize_t)n;
    int e = SSL_get_error(s->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
        return -ECONNRESET;
    return conn_fail(s, e);
}

bool chord_tls_conn_ready(const struct chord_tls_conn *s)
{
    return s->ready && !s->failed;
}

bool chord_tls_conn_resumed(const struct chord_tls_conn *s)
{
    return s->ready && SSL_session_reused(s->ssl) == 1;
}

int chord_tls_conn_write(struct chord_tls_conn *s, const uint8_t *data,
                         size_t len)
{
    if (s->failed)
        return -EPROTO;
    if (!s->ready)
        return -EAGAIN;
    ERR_clear_error();
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        if (SSL_write_ex(s->ssl, data + done, len - done, &n) != 1) {
            int e = SSL_get_error(s->ssl, 0);
            return e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL
                       ? conn_fail(s, e)
                       : -ENOMEM;
        }
        done += n;
    }
    return 0;
}

int chord_tls_conn_take(struct chord_tls_conn *s, struct chord_buf *out)
{
    size_t n = BIO_ctrl_pending(s->wbio);
    if (n == 0)
        return 0;
    int rc = chord_buf_reserve(out, n);
    if (rc)
        return rc;
    int got = BIO_read(s->wbio, out->data + out->len, (int)n);
    if (got > 0)
        out->len += (size_t)got;
    return 0;
}

size_t chord_tls_conn_pending(const struct chord_tls_conn *s)
{
    return BIO_ctrl_pending(s->wbio);
}

const char *chord_tls_conn_error(const struct chord_tls_conn *s)
{
    return s->error;
}

bool chord_tls_conn_has_peer_cert(const struct chord_tls_conn *s)
{
    return s->ready && !s->failed && SSL_get0_peer_certificate(s->ssl) &&
           SSL_get_verify_result(s->ssl) == X509_V_OK;
}

bool chord_tls_conn_vouches(struct chord_tls_conn *s, const char *addr)
{
    if (!chord_tls_conn_has_peer_cert(s))
        return false;
    if (s->vouched[0] && strncmp(s->vouched, addr, sizeof s->vouched) == 0)
        return true;
    char host[CHORD_ADDR_MAX];
    if (addr_host(addr, host) != 0)
        return false;
    X509 *cert = SSL_get0_peer_certificate(s->ssl);
    int ok = is_ip(host) ? X509_check_ip_asc(cert, host, 0)
                         : X509_check_host(cert, host, strlen(host), 0, NULL);
    ERR_clear_error();
    if (ok != 1)
        return false;
    snprintf(s->vouched, sizeof s->vouched, "%s", addr);
    return true;
}
