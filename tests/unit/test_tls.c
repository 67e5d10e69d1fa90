/*
 * test_tls.c - mutual TLS on memory buffers (chord/tls.h): two sessions
 * talk through this test, which moves the ciphertext between them.
 *
 * The certificates are made at test time by tools/dht-certs (the openssl
 * command) in a fresh temporary directory: one CA with nodes 127.0.0.1,
 * 127.0.0.5, [::1] and node.example, and a second, unrelated CA with its
 * own 127.0.0.1. No key is checked in. An expired certificate (which the
 * openssl command cannot make) is made with the OpenSSL API, signed by the
 * first CA.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "chord/buf.h"
#include "chord/tls.h"

#ifndef DHT_CERTS
#error "DHT_CERTS: the path of tools/dht-certs"
#endif

static char dir[64];    /* the temporary directory */
static char path[4096]; /* scratch for path() */

/* DIR/name, in a static buffer (one use at a time per argument list). */
static const char *p(const char *name, char *out)
{
    snprintf(out, 256, "%s/%s", dir, name);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/chord-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path,
             "%s %s/a 127.0.0.1:7000 127.0.0.5:7000 '[::1]:7000' "
             "node.example:7000 >/dev/null && %s %s/b 127.0.0.1:7000 "
             ">/dev/null",
             DHT_CERTS, dir, DHT_CERTS, dir);
    return system(path) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    return system(path) == 0 ? 0 : -1;
}

/* A context from files of DIR (NULL names: not given). */
static int ctx(const char *ca, const char *cert, const char *key, bool server,
               int auth, struct chord_tls **out, char *err)
{
    char a[256], b[256], c[256];
    struct chord_tls_options o = {
        .ca = ca ? p(ca, a) : NULL,
        .cert = cert ? p(cert, b) : NULL,
        .key = key ? p(key, c) : NULL,
        .client_auth = auth,
    };
    return chord_tls_new(&o, server, err, out);
}

static struct chord_tls *ctx_ok(const char *ca, const char *cert,
                                const char *key, bool server, int auth)
{
    char err[CHORD_TLS_ERR_MAX];
    struct chord_tls *t = NULL;
    int rc = ctx(ca, cert, key, server, auth, &t, err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    return t;
}

/* Move ciphertext from `from` to `to`; true if any moved. */
static bool move(struct chord_tls_conn *from, struct chord_tls_conn *to)
{
    struct chord_buf b;
    chord_buf_init(&b);
    assert_int_equal(chord_tls_conn_take(from, &b), 0);
    bool any = b.len > 0;
    if (any)
        assert_int_equal(chord_tls_conn_feed(to, b.data, b.len), 0);
    chord_buf_free(&b);
    return any;
}

/* Plaintext both sides received during a pump. */
struct got {
    char c[256], s[256];
    size_t cn, sn;
    ssize_t crc, src; /* the last read's result when <= 0 */
};

/* Pump bytes both ways until nothing moves (bounded). */
static void pump(struct chord_tls_conn *c, struct chord_tls_conn *s,
                 struct got *g)
{
    for (int round = 0; round < 20; round++) {
        bool moved = move(c, s);
        ssize_t n;
        while ((n = chord_tls_conn_read(s, (uint8_t *)g->s + g->sn,
                                        sizeof g->s - 1 - g->sn)) > 0)
            g->sn += (size_t)n;
        g->src = n;
        moved |= move(s, c);
        while ((n = chord_tls_conn_read(c, (uint8_t *)g->c + g->cn,
                                        sizeof g->c - 1 - g->cn)) > 0)
            g->cn += (size_t)n;
        g->crc = n;
        if (!moved)
            break;
    }
    g->c[g->cn] = g->s[g->sn] = '\0';
}

/* A node's context: CA, certificate and key of `host` from directory
 * `d` ("a" or "b"). */
static struct chord_tls *node_ctx(const char *d, const char *host, int auth)
{
    char ca[64], cert[64], key[64];
    snprintf(ca, sizeof ca, "%s/ca.crt", d);
    snprintf(cert, sizeof cert, "%s/%s_7000.crt", d, host);
    snprintf(key, sizeof key, "%s/%s_7000.key", d, host);
    return ctx_ok(ca, cert, key, true, auth);
}

/* A client's context trusting CA `ca_dir`, showing the client
 * certificate of `cert_dir` (NULL: none). */
static struct chord_tls *client_ctx(const char *ca_dir, const char *cert_dir)
{
    char ca[64], cert[64], key[64];
    snprintf(ca, sizeof ca, "%s/ca.crt", ca_dir);
    snprintf(cert, sizeof cert, "%s/client.crt", cert_dir ? cert_dir : "");
    snprintf(key, sizeof key, "%s/client.key", cert_dir ? cert_dir : "");
    return ctx_ok(ca, cert_dir ? cert : NULL, cert_dir ? key : NULL, false, 0);
}

/* A client session dialling `addr` and a server session, pumped until
 * quiet. */
struct duo {
    struct chord_tls_conn *c, *s;
    struct got g;
};

static void duo_run(struct duo *d, struct chord_tls *srv, struct chord_tls *cli,
                    const char *addr)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(chord_tls_conn_new(cli, false, addr, &d->c), 0);
    assert_int_equal(chord_tls_conn_new(srv, true, NULL, &d->s), 0);
    pump(d->c, d->s, &d->g);
}

static void duo_end(struct duo *d)
{
    chord_tls_conn_free(d->c);
    chord_tls_conn_free(d->s);
}

/* ---- tests --------------------------------------------------------------- */

/* A node and a client: the handshake completes, data flows both ways, the
 * server sees the client's certificate, and a second connection to the
 * same address resumes without a certificate exchange. */
static void test_handshake_data_resume(void **state)
{
    (void)state;
    struct chord_tls *srv =
        ctx_ok("a/ca.crt", "a/127.0.0.1_7000.crt", "a/127.0.0.1_7000.key", true,
               CHORD_TLS_CLIENT_AUTH_REQUIRED);
    struct chord_tls *cli = ctx_ok("a/ca.crt", "a/client.crt", "a/client.key",
                                   false, CHORD_TLS_CLIENT_AUTH_REQUIRED);
    for (int round = 0; round < 2; round++) {
        struct chord_tls_conn *c, *s;
        assert_int_equal(chord_tls_conn_new(cli, false, "127.0.0.1:7000", &c),
                         0);
        assert_int_equal(chord_tls_conn_new(srv, true, NULL, &s), 0);
        assert_int_equal(chord_tls_conn_write(c, (const uint8_t *)"x", 1),
                         -EAGAIN);
        struct got g = {0};
        pump(c, s, &g);
        assert_true(chord_tls_conn_ready(c));
        assert_true(chord_tls_conn_ready(s));
        assert_int_equal(chord_tls_conn_resumed(c), round == 1);
        assert_int_equal(chord_tls_conn_write(c, (const uint8_t *)"ping", 4),
                         0);
        assert_int_equal(chord_tls_conn_write(s, (const uint8_t *)"pong!", 5),
                         0);
        pump(c, s, &g);
        assert_string_equal(g.s, "ping");
        assert_string_equal(g.c, "pong!");
        /* The client's certificate names no address; the server's does. */
        assert_true(chord_tls_conn_has_peer_cert(s));
        assert_false(chord_tls_conn_vouches(s, "127.0.0.1:7000"));
        assert_true(chord_tls_conn_vouches(c, "127.0.0.1:7000"));
        assert_true(chord_tls_conn_vouches(c, "127.0.0.1:9"));
        assert_false(chord_tls_conn_vouches(c, "127.0.0.5:7000"));
        chord_tls_conn_free(c);
        chord_tls_conn_free(s);
    }
    chord_tls_free(cli);
    chord_tls_free(srv);
}

/* Two nodes: each side's certificate vouches for its own address only. */
static void test_node_to_node_names(void **state)
{
    (void)state;
    struct chord_tls *n1 =
        ctx_ok("a/ca.crt", "a/127.0.0.5_7000.crt", "a/127.0.0.5_7000.key", true,
               CHORD_TLS_CLIENT_AUTH_REQUIRED);
    struct chord_tls *n2 =
        ctx_ok("a/ca.crt", "a/node.example_7000.crt", "a/node.example_7000.key",
               true, CHORD_TLS_CLIENT_AUTH_NONE);
    struct chord_tls_conn *c, *s;
    assert_int_equal(chord_tls_conn_new(n1, false, "node.example:7000", &c), 0);
    assert_int_equal(chord_tls_conn_new(n2, true, NULL, &s), 0);
    struct got g = {0};
    pump(c, s, &g);
    assert_true(chord_tls_conn_ready(c) && chord_tls_conn_ready(s));
    assert_true(chord_tls_conn_vouches(s, "127.0.0.5:7001"));
    assert_false(chord_tls_conn_vouches(s, "127.0.0.1:7001"));
    assert_false(chord_tls_conn_vouches(s, "node.example:7000"));
    assert_true(chord_tls_conn_vouches(c, "node.example:7000"));
    assert_false(chord_tls_conn_vouches(c, "other.example:7000"));
    assert_false(chord_tls_conn_vouches(c, "garbage"));
    chord_tls_conn_free(c);
    chord_tls_conn_free(s);
    chord_tls_free(n1);
    chord_tls_free(n2);
}

/* IPv6: a certificate with IP SAN ::1, dialled as [::1]. */
static void test_ipv6_name(void **state)
{
    (void)state;
    struct chord_tls *srv = node_ctx("a", "__1", 0);
    struct chord_tls *cli = client_ctx("a", "a");
    struct duo d;
    duo_run(&d, srv, cli, "[::1]:7000");
    assert_true(chord_tls_conn_ready(d.c));
    assert_true(chord_tls_conn_vouches(d.c, "[::1]:7000"));
    assert_false(chord_tls_conn_vouches(d.c, "[::2]:7000"));
    duo_end(&d);
    chord_tls_free(cli);
    chord_tls_free(srv);
}

/* A server with a certificate from another CA: the client refuses it and
 * says why; and a client showing the other CA's certificate is refused
 * by a node. */
static void test_wrong_ca_refused(void **state)
{
    (void)state;
    struct chord_tls *srv_b = node_ctx("b", "127.0.0.1", 0);
    struct chord_tls *cli = client_ctx("a", "a");
    struct duo d;
    duo_run(&d, srv_b, cli, "127.0.0.1:7000");
    assert_false(chord_tls_conn_ready(d.c));
    assert_int_equal(d.g.crc, -EPROTO);
    assert_non_null(strstr(chord_tls_conn_error(d.c), "certificate verify"));
    assert_int_equal(chord_tls_conn_write(d.c, (const uint8_t *)"x", 1),
                     -EPROTO);
    duo_end(&d);

    /* The client trusts A (so it accepts the node) but shows B's
     * certificate. */
    struct chord_tls *srv_a =
        node_ctx("a", "127.0.0.1", CHORD_TLS_CLIENT_AUTH_NONE);
    struct chord_tls *cli_mixed = client_ctx("a", "b");
    duo_run(&d, srv_a, cli_mixed, "127.0.0.1:7000");
    assert_false(chord_tls_conn_ready(d.s));
    assert_int_equal(d.g.src, -EPROTO);
    assert_non_null(strstr(chord_tls_conn_error(d.s), "certificate verify"));
    duo_end(&d);
    chord_tls_free(cli_mixed);
    chord_tls_free(srv_a);
    chord_tls_free(cli);
    chord_tls_free(srv_b);
}

/* A node whose certificate names 127.0.0.5, dialled as 127.0.0.1. */
static void test_wrong_name_refused(void **state)
{
    (void)state;
    struct chord_tls *srv = node_ctx("a", "127.0.0.5", 0);
    struct chord_tls *cli = client_ctx("a", "a");
    struct duo d;
    duo_run(&d, srv, cli, "127.0.0.1:7000");
    assert_false(chord_tls_conn_ready(d.c));
    assert_non_null(
        strstr(chord_tls_conn_error(d.c), "does not name 127.0.0.1"));
    duo_end(&d);
    chord_tls_free(cli);
    chord_tls_free(srv);
}

/* DIR/exp.crt and DIR/exp.key: a certificate of CA "a" for 127.0.0.1
 * that expired an hour ago (valid from two hours ago). */
static void make_expired(void)
{
    char a[256], b[256];
    FILE *f = fopen(p("a/ca.crt", a), "r");
    assert_non_null(f);
    X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(p("a/ca.key", b), "r");
    assert_non_null(f);
    EVP_PKEY *ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(ca);
    assert_non_null(ca_key);

    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_gmtime_adj(X509_getm_notBefore(x), -7200);
    X509_gmtime_adj(X509_getm_notAfter(x), -3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
    X509_EXTENSION *san =
        X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(san);
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);

    f = fopen(p("exp.crt", a), "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(p("exp.key", b), "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    X509_free(ca);
}

/* A node whose certificate expired: the client refuses the handshake and
 * says why; and a client showing an expired certificate is refused by a
 * node. */
static void test_expired_refused(void **state)
{
    (void)state;
    make_expired();
    struct chord_tls *srv = ctx_ok("a/ca.crt", "exp.crt", "exp.key", true,
                                   CHORD_TLS_CLIENT_AUTH_REQUIRED);
    struct chord_tls *cli = client_ctx("a", "a");
    struct duo d;
    duo_run(&d, srv, cli, "127.0.0.1:7000");
    assert_false(chord_tls_conn_ready(d.c));
    assert_int_equal(d.g.crc, -EPROTO);
    assert_non_null(strstr(chord_tls_conn_error(d.c), "expired"));
    duo_end(&d);

    struct chord_tls *srv_ok = node_ctx("a", "127.0.0.1", 0);
    struct chord_tls *cli_exp =
        ctx_ok("a/ca.crt", "exp.crt", "exp.key", false, 0);
    duo_run(&d, srv_ok, cli_exp, "127.0.0.1:7000");
    assert_false(chord_tls_conn_ready(d.s));
    assert_int_equal(d.g.src, -EPROTO);
    assert_non_null(strstr(chord_tls_conn_error(d.s), "expired"));
    duo_end(&d);
    chord_tls_free(cli_exp);
    chord_tls_free(srv_ok);
    chord_tls_free(cli);
    chord_tls_free(srv);
}

/* A client without a certificate: refused by a node that requires one,
 * served by one started with client auth "none". */
static void test_client_auth(void **state)
{
    (void)state;
    struct chord_tls *cli = client_ctx("a", NULL);
    for (int auth = 0; auth < 2; auth++) {
        struct chord_tls *srv = node_ctx("a", "127.0.0.1", auth);
        struct duo d;
        duo_run(&d, srv, cli, "127.0.0.1:7000");
        if (auth == CHORD_TLS_CLIENT_AUTH_REQUIRED) {
            assert_false(chord_tls_conn_ready(d.s));
            assert_non_null(strstr(chord_tls_conn_error(d.s), "certificate"));
            /* TLS 1.3: the client hears it from the alert. */
            assert_int_equal(d.g.crc, -EPROTO);
        } else {
            assert_true(chord_tls_conn_ready(d.s));
            assert_false(chord_tls_conn_has_peer_cert(d.s));
            assert_int_equal(
                chord_tls_conn_write(d.c, (const uint8_t *)"get", 3), 0);
            pump(d.c, d.s, &d.g);
            assert_string_equal(d.g.s, "get");
        }
        duo_end(&d);
        chord_tls_free(srv);
    }
    chord_tls_free(cli);
}

/* Plaintext (or garbage) where a ClientHello should be: one failure with
 * a reason, and an alert to send back. */
static void test_garbage_before_handshake(void **state)
{
    (void)state;
    struct chord_tls *srv = ctx_ok("a/ca.crt", "a/127.0.0.1_7000.crt",
                                   "a/127.0.0.1_7000.key", true, 0);
    const char *inputs[] = {"GET / HTTP/1.1\r\n\r\n",
                            "\x00\x00\x00\x10\x01\x40garbage-frame"};
    for (int i = 0; i < 2; i++) {
        struct chord_tls_conn *s;
        assert_int_equal(chord_tls_conn_new(srv, true, NULL, &s), 0);
        size_t n = i == 0 ? strlen(inputs[i]) : 20;
        assert_int_equal(chord_tls_conn_feed(s, (const uint8_t *)inputs[i], n),
                         0);
        uint8_t buf[64];
        assert_int_equal(chord_tls_conn_read(s, buf, sizeof buf), -EPROTO);
        assert_true(strlen(chord_tls_conn_error(s)) > 0);
        assert_int_equal(chord_tls_conn_read(s, buf, sizeof buf), -EPROTO);
        assert_false(chord_tls_conn_ready(s));
        chord_tls_conn_free(s);
    }
    chord_tls_free(srv);
}

/* Half a ClientHello: the server waits for more (no failure, not ready);
 * the rest then completes it. */
static void test_truncated_handshake(void **state)
{
    (void)state;
    struct chord_tls *srv = ctx_ok("a/ca.crt", "a/127.0.0.1_7000.crt",
                                   "a/127.0.0.1_7000.key", true, 0);
    struct chord_tls *cli =
        ctx_ok("a/ca.crt", "a/client.crt", "a/client.key", false, 0);
    struct chord_tls_conn *c, *s;
    assert_int_equal(chord_tls_conn_new(cli, false, "127.0.0.1:7000", &c), 0);
    assert_int_equal(chord_tls_conn_new(srv, true, NULL, &s), 0);
    struct chord_buf hello;
    chord_buf_init(&hello);
    assert_int_equal(chord_tls_conn_take(c, &hello), 0);
    assert_true(hello.len > 20);
    uint8_t buf[64];
    assert_int_equal(chord_tls_conn_feed(s, hello.data, hello.len / 2), 0);
    assert_int_equal(chord_tls_conn_read(s, buf, sizeof buf), 0);
    assert_false(chord_tls_conn_ready(s));
    assert_int_equal(chord_tls_conn_pending(s), 0);
    assert_string_equal(chord_tls_conn_error(s), "");
    assert_int_equal(chord_tls_conn_feed(s, hello.data + hello.len / 2,
                                         hello.len - hello.len / 2),
                     0);
    struct got g = {0};
    pump(c, s, &g);
    assert_true(chord_tls_conn_ready(s) && chord_tls_conn_ready(c));
    chord_buf_free(&hello);
    chord_tls_conn_free(c);
    chord_tls_conn_free(s);
    chord_tls_free(cli);
    chord_tls_free(srv);
}

/* Contexts that cannot be made say which file and why. */
static void test_context_errors(void **state)
{
    (void)state;
    char err[CHORD_TLS_ERR_MAX];
    struct chord_tls *t;
    assert_int_equal(
        ctx("a/nope.crt", "a/client.crt", "a/client.key", false, 0, &t, err),
        -ENOENT);
    assert_non_null(strstr(err, "--tls-ca"));
    assert_non_null(strstr(err, "nope.crt"));
    assert_null(t);
    assert_int_equal(ctx("a/ca.crt", "a/127.0.0.1_7000.crt",
                         "a/127.0.0.5_7000.key", true, 0, &t, err),
                     -EPROTO);
    assert_non_null(strstr(err, "does not match"));
    assert_int_equal(
        ctx("a/ca.crt", "a/ca.key", "a/client.key", true, 0, &t, err), -EPROTO);
    assert_non_null(strstr(err, "--tls-cert"));
    assert_int_equal(ctx("a/ca.crt", NULL, NULL, true, 0, &t, err), -EINVAL);
    assert_non_null(strstr(err, "--tls-cert"));
    assert_int_equal(
        ctx(NULL, "a/client.crt", "a/client.key", false, 0, &t, err), -EINVAL);
    assert_non_null(strstr(err, "--tls-ca"));
    assert_int_equal(ctx("a/ca.crt", "a/client.crt", NULL, false, 0, &t, err),
                     -EINVAL);
    assert_int_equal(
        ctx("a/ca.crt", "a/client.crt", "a/client.key", false, 7, &t, err),
        -EINVAL);
}

/* $DHT_TLS_* fill what the options leave unset, and only that. */
static void test_options_from_env(void **state)
{
    (void)state;
    setenv("DHT_TLS_CA", "/e/ca", 1);
    setenv("DHT_TLS_CERT", "", 1);
    unsetenv("DHT_TLS_KEY");
    struct chord_tls_options o = {.cert = "/flag/cert"};
    assert_false(chord_tls_options_enabled(NULL));
    chord_tls_options_from_env(&o);
    assert_string_equal(o.ca, "/e/ca");
    assert_string_equal(o.cert, "/flag/cert");
    assert_null(o.key);
    assert_true(chord_tls_options_enabled(&o));
    unsetenv("DHT_TLS_CA");
    unsetenv("DHT_TLS_CERT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_data_resume),
        cmocka_unit_test(test_node_to_node_names),
        cmocka_unit_test(test_ipv6_name),
        cmocka_unit_test(test_wrong_ca_refused),
        cmocka_unit_test(test_wrong_name_refused),
        cmocka_unit_test(test_expired_refused),
        cmocka_unit_test(test_client_auth),
        cmocka_unit_test(test_garbage_before_handshake),
        cmocka_unit_test(test_truncated_handshake),
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_options_from_env),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
