/*
 * tls_args.h - the TLS options the client tools share (dht, dht-viz):
 * --tls-ca FILE, --tls-cert FILE, --tls-key FILE, each falling back on
 * $DHT_TLS_CA, $DHT_TLS_CERT, $DHT_TLS_KEY.
 *
 * A tool adds CHORD_TLS_ARGS_LONGOPTS to its getopt_long table, hands
 * each of those options to chord_tls_args_take(), and once the command
 * line is read calls chord_tls_args_setup(), which makes the client
 * context and gives it to every chord_client_connect() of the process.
 * It keeps no state of its own beyond the struct the tool owns.
 */
#ifndef CHORD_TLS_ARGS_H
#define CHORD_TLS_ARGS_H

#include <stdbool.h>

#include "chord/tls.h"

/* getopt_long codes of the three options (above any tool's own). */
enum {
    CHORD_TLS_OPT_CA = 0x7100,
    CHORD_TLS_OPT_CERT,
    CHORD_TLS_OPT_KEY,
};

/* Rows for a struct option table. */
#define CHORD_TLS_ARGS_LONGOPTS                                                \
    {"tls-ca", required_argument, NULL, CHORD_TLS_OPT_CA},                     \
        {"tls-cert", required_argument, NULL, CHORD_TLS_OPT_CERT},             \
    {                                                                          \
        "tls-key", required_argument, NULL, CHORD_TLS_OPT_KEY                  \
    }

/* The usage lines of the three options. */
#define CHORD_TLS_ARGS_USAGE                                                   \
    "  --tls-ca FILE     TLS: the CA the nodes' certificates chain to\n"       \
    "                    (default $DHT_TLS_CA; without it: plaintext)\n"       \
    "  --tls-cert FILE   TLS: this client's certificate ($DHT_TLS_CERT)\n"     \
    "  --tls-key FILE    TLS: its private key ($DHT_TLS_KEY)\n"

/* Is `code` one of the three? Then store `val` in *o and say true. */
bool chord_tls_args_take(struct chord_tls_options *o, int code,
                         const char *val);

/*
 * Fill what the flags left unset from the environment; with any of the
 * three set, make the client context (*out, freed by the caller after
 * every client has closed) and make it chord_client_connect's default.
 * Without TLS *out is NULL. Returns 0, or the usage exit code after one
 * line "PROG: why" on stderr (a missing or unreadable file...).
 */
int chord_tls_args_setup(const char *prog, struct chord_tls_options *o,
                         struct chord_tls **out);

#endif
