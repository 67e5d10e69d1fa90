/*
 * main.c - dht-tlsbench: how many TLS handshakes per second one node
 * takes. One loop connects to the node through the client library
 * (chord_client_connect_tls: TCP connect, then the TLS 1.3 handshake with
 * the client certificate), closes, and starts again, for -n connections
 * or --seconds, whichever ends first. Full handshakes by default (the
 * client forgets its ticket each time); with --resume every connection
 * also asks the node's status, so the client reads the session ticket
 * that follows the handshake, and the next connection resumes with it
 * (an OpenSSL client uses a TLS 1.3 ticket once).
 *
 *     dht-tlsbench --node HOST:PORT [-n N] [--seconds S] [--resume]
 *                  [--tls-ca F --tls-cert F --tls-key F] [--json]
 *
 * It prints one line (or a JSON object): connections, seconds,
 * handshakes per second, how many resumed (per the client), failures.
 * Exit status: 0 ok, 2 usage error, 3 no handshake succeeded.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chord/client.h"
#include "chord/tls.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/tls_args.h"

#define TLSBENCH_TIMEOUT_MS 5000
#define TLSBENCH_MAX_N 10000000u
#define TLSBENCH_MAX_S 3600u

static const char usage_text[] =
    "usage: dht-tlsbench --node HOST:PORT [-n N] [--seconds S] [--resume]\n"
    "                    [--json] [--tls-ca F --tls-cert F --tls-key F]\n"
    "connect + TLS handshake + close in a loop against one node; prints\n"
    "handshakes per second (default -n 2000, --seconds "
    "10)\n" CHORD_TLS_ARGS_USAGE;

/* Seconds of the programs' monotonic clock. */
static double now_s(void)
{
    return (double)chord_mono_ms() / 1000.0;
}

int main(int argc, char **argv)
{
    enum { OPT_NODE = 256, OPT_SECONDS, OPT_RESUME, OPT_JSON, OPT_HELP };
    static const struct option longopts[] = {
        {"node", required_argument, NULL, OPT_NODE},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        CHORD_TLS_ARGS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *node = NULL;
    uint64_t n = 2000, seconds = 10;
    bool resume = false, json = false;
    struct chord_tls_options topt = {0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
        if (chord_tls_args_take(&topt, c, optarg))
            continue;
        switch (c) {
        case OPT_NODE:
            node = optarg;
            break;
        case 'n':
            if (chord_parse_u64(optarg, 1, TLSBENCH_MAX_N, &n))
                return chord_usage_error("dht-tlsbench", "bad -n '%s'", optarg);
            break;
        case OPT_SECONDS:
            if (chord_parse_u64(optarg, 1, TLSBENCH_MAX_S, &seconds))
                return chord_usage_error("dht-tlsbench", "bad --seconds '%s'",
                                         optarg);
            break;
        case OPT_RESUME:
            resume = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return CHORD_EXIT_OK;
        default:
            return chord_usage_error("dht-tlsbench", "bad option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (!node)
        return chord_usage_error("dht-tlsbench", "--node HOST:PORT is needed");
    struct chord_tls *tls = NULL;
    int code = chord_tls_args_setup("dht-tlsbench", &topt, &tls);
    if (code)
        return code;
    if (!tls)
        return chord_usage_error("dht-tlsbench",
                                 "give --tls-ca (and a client certificate)");

    uint64_t ok = 0, failed = 0, resumed = 0;
    int last_rc = 0;
    double t0 = now_s(), end = t0 + (double)seconds, t1 = t0;
    while (ok + failed < n && (t1 = now_s()) < end) {
        if (!resume)
            chord_tls_forget_tickets(tls);
        struct chord_client *cl = NULL;
        int rc = chord_client_connect_tls(node, TLSBENCH_TIMEOUT_MS, tls, &cl);
        if (rc) {
            failed++;
            last_rc = rc;
            continue;
        }
        ok++;
        resumed += chord_client_tls_resumed(cl);
        if (resume) {
            struct chord_status st;
            (void)chord_client_status(cl, &st);
        }
        chord_client_close(cl);
    }
    t1 = now_s();
    double rate = (double)ok / (t1 - t0);
    if (json)
        printf("{\"handshakes\":%llu,\"seconds\":%.3f,\"per_second\":%.1f,"
               "\"resumed\":%llu,\"failed\":%llu}\n",
               (unsigned long long)ok, t1 - t0, rate,
               (unsigned long long)resumed, (unsigned long long)failed);
    else
        printf("%llu handshakes in %.2f s: %.1f per second (%llu resumed, "
               "%llu failed)\n",
               (unsigned long long)ok, t1 - t0, rate,
               (unsigned long long)resumed, (unsigned long long)failed);
    if (failed)
        fprintf(stderr, "dht-tlsbench: last failure: %s\n",
                last_rc == -ECONNABORTED || last_rc == -EPROTONOSUPPORT
                    ? chord_client_tls_error()
                    : strerror(-last_rc));
    chord_tls_free(tls);
    return ok ? CHORD_EXIT_OK : CHORD_EXIT_FAILED;
}
