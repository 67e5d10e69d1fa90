/*
 * tls_args.c - the client tools' TLS options (see tls_args.h).
 *
 * Invariant: the three flags win over the environment, field by field.
 * It does no I/O but reading the files through chord_tls_new().
 */
#include "common/tls_args.h"

#include <stdio.h>

#include "chord/client.h"
#include "common/exit.h"

bool chord_tls_args_take(struct chord_tls_options *o, int code, const char *val)
{
    switch (code) {
    case CHORD_TLS_OPT_CA:
        o->ca = val;
        return true;
    case CHORD_TLS_OPT_CERT:
        o->cert = val;
        return true;
    case CHORD_TLS_OPT_KEY:
        o->key = val;
        return true;
    default:
        return false;
    }
}

int chord_tls_args_setup(const char *prog, struct chord_tls_options *o,
                         struct chord_tls **out)
{
    *out = NULL;
    chord_tls_options_from_env(o);
    if (!chord_tls_options_enabled(o))
        return 0;
    char err[CHORD_TLS_ERR_MAX];
    if (chord_tls_new(o, false, err, out) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return CHORD_EXIT_USAGE;
    }
    chord_client_tls_default(*out);
    return 0;
}
