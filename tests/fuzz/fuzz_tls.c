/*
 * fuzz_tls.c - libFuzzer target for the TLS handshake path (chord/tls.h):
 * the bytes a node's transport would feed a session before any frame.
 *
 * The first input byte picks the side and the chunking: bit 0 set, a
 * client session (its ClientHello taken and dropped) is fed the rest as
 * if the node had answered; clear, a node's server session is fed the
 * rest as if a client had connected. The rest arrives in chunks of
 * 1 + (byte >> 1) bytes, and after each chunk the session is read and
 * its output taken, as the transport does. A session must answer 0,
 * plaintext, -ECONNRESET or -EPROTO with a reason, never anything else,
 * and never crash; the sanitizers catch the rest. Certificates are made
 * once, at initialisation, by tools/dht-certs in a temporary directory
 * removed at exit.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord/buf.h"
#include "chord/tls.h"

#ifndef DHT_CERTS
#error "DHT_CERTS: the path of tools/dht-certs"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct chord_tls *server_ctx, *client_ctx;
static char dir[64];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tls: %s\n", what);
        abort();
    }
}

static void cleanup(void)
{
    char cmd[128];
    chord_tls_free(server_ctx);
    chord_tls_free(client_ctx);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)system(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/chord-fuzz-tls-XXXXXX");
    check(mkdtemp(dir) != NULL, "mkdtemp");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s 127.0.0.1:7000 >/dev/null", DHT_CERTS,
             dir);
    check(system(cmd) == 0, "dht-certs failed");
    char ca[128], cert[128], key[128], ccert[128], ckey[128];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(cert, sizeof cert, "%s/127.0.0.1_7000.crt", dir);
    snprintf(key, sizeof key, "%s/127.0.0.1_7000.key", dir);
    snprintf(ccert, sizeof ccert, "%s/client.crt", dir);
    snprintf(ckey, sizeof ckey, "%s/client.key", dir);
    char err[CHORD_TLS_ERR_MAX];
    struct chord_tls_options so = {.cert = cert, .key = key, .ca = ca};
    struct chord_tls_options co = {.cert = ccert, .key = ckey, .ca = ca};
    check(chord_tls_new(&so, true, err, &server_ctx) == 0, err);
    check(chord_tls_new(&co, false, err, &client_ctx) == 0, err);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool client = data[0] & 1;
    size_t chunk = 1 + (data[0] >> 1);
    data++;
    size--;
    struct chord_tls_conn *s = NULL;
    check(chord_tls_conn_new(client ? client_ctx : server_ctx, !client,
                             "127.0.0.1:7000", &s) == 0,
          "session");
    struct chord_buf out;
    chord_buf_init(&out);
    uint8_t plain[4096];
    check(chord_tls_conn_take(s, &out) == 0, "take");
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        check(chord_tls_conn_feed(s, data + off, n) == 0, "feed");
        off += n;
        ssize_t got;
        while ((got = chord_tls_conn_read(s, plain, sizeof plain)) > 0)
            ;
        check(got == 0 || got == -ECONNRESET || got == -EPROTO,
              "read returned an impossible value");
        check(got != -EPROTO || chord_tls_conn_error(s)[0] != '\0',
              "a failure without a reason");
        chord_buf_reset(&out);
        check(chord_tls_conn_take(s, &out) == 0, "take");
        if (got < 0)
            break;
    }
    chord_buf_free(&out);
    chord_tls_conn_free(s);
    return 0;
}
