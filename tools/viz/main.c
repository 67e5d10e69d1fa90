/*
 * main.c - dht-viz: draw a Chord ring, live or from a topology file, as
 * SVG, a self-contained HTML page, Graphviz DOT or a table for terminals.
 *
 *   dht-viz [--node H:P | --topology FILE | --input FILE]
 *           [--format svg|html|dot|text]
 *           [--output FILE] [--highlight ADDR] [--key KEY]
 *           [--watch N [--count M]] [--timeout-ms N]
 *   dht-viz --serve HOST:PORT [--serve-any] [--rate N] [--node H:P]
 *   dht-viz --check-topology FILE   validate a topology file
 *   dht-viz --dump-topology FILE    print it normalised (for tools/dht-topo)
 *
 * This file reads the options, checks them (every usage error is one line
 * through chord_usage_error, exit 2) and hands over to output.c (the
 * drawings), serve.c (--serve, the live page) or topology.c (the two
 * topology commands). The other files:
 * model.c (the ring model), crawl.c (live mode), topology.c (topology
 * mode), input.c (--input: a `dht ring --json` or dht-sim snapshot),
 * style.c (how each node state is drawn), trace.c (--key), layout.c (positions
 * and labels), out.c (the output buffer and escaping), svg.c and legend.c,
 * html.c, dot.c, text.c.
 *
 * Invariants of the program: every string that comes from outside is
 * escaped for the markup formats; the HTML page refers to nothing outside
 * itself; every loop is bounded (nodes, ghosts, path, watch rounds); an
 * output file is replaced atomically. It never changes the ring and never
 * starts or stops a process. Exit status: 0 ok, 1 a malformed topology
 * or snapshot file or an output that cannot be written, 2 a usage error,
 * 3 the ring cannot be reached.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/addr.h"
#include "chord/client.h"
#include "common/args.h"
#include "common/exit.h"
#include "live.h"
#include "common/tls_args.h"
#include "viz.h"

static void usage(FILE *f)
{
    fputs(
        "usage: dht-viz [--node HOST:PORT | --topology FILE | --input FILE]\n"
        "               [--format svg|html|dot|text]\n"
        "               [--output FILE] [--highlight HOST:PORT] [--key KEY]\n"
        "               [--watch N [--count M]] [--timeout-ms N]\n"
        "       dht-viz --serve HOST:PORT [--serve-any] [--rate N] [--node "
        "HOST:PORT]\n"
        "       dht-viz --check-topology FILE | --dump-topology FILE\n"
        "\n"
        "Draw a Chord ring: crawl a live ring from one node (walking "
        "successors,\n"
        "reading each node's status), or place the nodes of a topology file "
        "by id.\n"
        "\n"
        "  -n, --node HOST:PORT a node of the live ring (default: the first\n"
        "                       of $DHT_NODE, else " VIZ_DEFAULT_NODE ")\n"
        "  --topology FILE      draw a topology file instead (no live data)\n"
        "  --input FILE         draw a snapshot: what `dht ring --json` "
        "prints or\n"
        "                       `dht-sim --snapshot FILE` writes (large "
        "rings are\n"
        "                       drawn as density arcs)\n"
        "  -f, --format F           svg, html (one self-contained page), dot "
        "(Graphviz)\n"
        "                       or text; default: from the --output "
        "extension,\n"
        "                       else text\n"
        "  -o, --output FILE    write there (replaced atomically); default "
        "stdout\n"
        "  --highlight ADDR     emphasise one node\n"
        "  --key KEY            trace a key: its lookup path and replica set\n"
        "  --watch N            redraw every N seconds until interrupted "
        "(needs\n"
        "                       --output; an HTML page reloads itself)\n"
        "  --count M            with --watch: stop after M drawings\n"
        "  --timeout-ms N       wait at most N ms for each node (default "
        "2000)\n"
        "  --serve HOST:PORT    serve a live page of the ring on "
        "http://HOST:PORT/\n"
        "                       (port 0 picks one; the URL is printed); it "
        "updates\n"
        "                       itself (Server-Sent Events) as nodes join, "
        "are\n"
        "                       suspected, die or leave; lookups from the "
        "page.\n"
        "                       Loopback addresses only, unless:\n"
        "  --serve-any          allow --serve on an address that is not "
        "loopback\n"
        "                       (anyone who reaches it sees the ring and runs "
        "lookups)\n"
        "  --rate N             with --serve: at most N status requests per "
        "second to\n"
        "                       the ring in total, 1-1000 (default 20); each "
        "node is\n"
        "                       asked in turn, new ones first; --timeout-ms "
        "defaults\n"
        "                       to 500 there\n"
        "  --tls-ca/--tls-cert/--tls-key FILE  TLS, as dht takes them "
        "(default\n"
        "                       $DHT_TLS_CA, $DHT_TLS_CERT, $DHT_TLS_KEY)\n"
        "  --check-topology F   check a topology file; errors are "
        "FILE:LINE:COLUMN\n"
        "  --dump-topology F    print a topology file normalised, one record "
        "a line\n"
        "                       (ring/node/step; for tools/dht-topo)\n"
        "  -h, --help           this text\n"
        "  -V, --version        the version\n"
        "\n"
        "exit status: 0 ok, 1 a malformed topology or snapshot, or an output "
        "that\n"
        "cannot be written, 2 usage error, 3 the ring cannot be reached\n",
        f);
}

static int format_from_name(const char *s)
{
    static const char *const names[] = {"svg", "html", "dot", "text"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The format an output file name suggests, or -1. */
static int format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    dot++;
    if (strcmp(dot, "svg") == 0)
        return VIZ_SVG;
    if (strcmp(dot, "html") == 0 || strcmp(dot, "htm") == 0)
        return VIZ_HTML;
    if (strcmp(dot, "dot") == 0 || strcmp(dot, "gv") == 0)
        return VIZ_DOT;
    if (strcmp(dot, "txt") == 0)
        return VIZ_TEXT;
    return -1;
}

int main(int argc, char **argv)
{
    enum {
        OPT_NODE = 256,
        OPT_TOPOLOGY,
        OPT_INPUT,
        OPT_FORMAT,
        OPT_OUTPUT,
        OPT_HIGHLIGHT,
        OPT_KEY,
        OPT_WATCH,
        OPT_COUNT,
        OPT_TIMEOUT,
        OPT_CHECK,
        OPT_DUMP,
        OPT_HELP,
        OPT_VERSION,
        OPT_SERVE,
        OPT_SERVE_ANY,
        OPT_RATE,
    };
    static const struct option longopts[] = {
        {"node", required_argument, NULL, OPT_NODE},
        {"topology", required_argument, NULL, OPT_TOPOLOGY},
        {"input", required_argument, NULL, OPT_INPUT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"highlight", required_argument, NULL, OPT_HIGHLIGHT},
        {"key", required_argument, NULL, OPT_KEY},
        {"watch", required_argument, NULL, OPT_WATCH},
        {"count", required_argument, NULL, OPT_COUNT},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"check-topology", required_argument, NULL, OPT_CHECK},
        {"dump-topology", required_argument, NULL, OPT_DUMP},
        {"serve", required_argument, NULL, OPT_SERVE},
        {"serve-any", no_argument, NULL, OPT_SERVE_ANY},
        {"rate", required_argument, NULL, OPT_RATE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        CHORD_TLS_ARGS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct chord_tls_options tls_opt = {0};
    struct viz_opts o;
    memset(&o, 0, sizeof o);
    o.format = -1;
    o.timeout_ms = VIZ_TIMEOUT_MS;
    const char *check = NULL, *dump = NULL;
    bool count_given = false, timeout_given = false;
    struct viz_serve_opts so = {NULL, false, VIZ_RATE_DEFAULT, NULL, 0};
    bool rate_given = false;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, ":hVn:f:o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
        case OPT_NODE:
            o.node = optarg;
            break;
        case OPT_TOPOLOGY:
            o.topology = optarg;
            break;
        case OPT_INPUT:
            o.input = optarg;
            break;
        case 'f':
        case OPT_FORMAT:
            o.format = format_from_name(optarg);
            if (o.format < 0)
                return chord_usage_error("dht-viz",
                                         "--format must be svg, html, dot or "
                                         "text, not '%s'",
                                         optarg);
            o.format_given = true;
            break;
        case 'o':
        case OPT_OUTPUT:
            o.output = optarg;
            break;
        case OPT_HIGHLIGHT:
            o.highlight = optarg;
            break;
        case OPT_KEY:
            o.key = optarg;
            break;
        case OPT_WATCH:
            if (chord_parse_u64(optarg, 1, VIZ_WATCH_MAX_S, &v))
                return chord_usage_error("dht-viz",
                                         "--watch must be a number of seconds "
                                         "from 1 to 86400, not '%s'",
                                         optarg);
            o.watch = (unsigned)v;
            break;
        case OPT_COUNT:
            if (chord_parse_u64(optarg, 1, VIZ_COUNT_MAX, &v))
                return chord_usage_error("dht-viz",
                                         "--count must be a number from 1 to "
                                         "1000000, not '%s'",
                                         optarg);
            o.count = (unsigned)v;
            count_given = true;
            break;
        case OPT_TIMEOUT:
            if (chord_parse_u64(optarg, 1, VIZ_TIMEOUT_MAX_MS, &v))
                return chord_usage_error("dht-viz",
                                         "--timeout-ms must be a number from 1 "
                                         "to 60000, not '%s'",
                                         optarg);
            o.timeout_ms = (int)v;
            timeout_given = true;
            break;
        case OPT_SERVE:
            so.listen = optarg;
            break;
        case OPT_SERVE_ANY:
            so.any = true;
            break;
        case OPT_RATE:
            if (chord_parse_u64(optarg, 1, VIZ_RATE_MAX, &v))
                return chord_usage_error("dht-viz",
                                         "--rate must be a number of status "
                                         "requests per second from 1 to 1000, "
                                         "not '%s'",
                                         optarg);
            so.rate = (unsigned)v;
            rate_given = true;
            break;
        case OPT_CHECK:
            check = optarg;
            break;
        case OPT_DUMP:
            dump = optarg;
            break;
        case CHORD_TLS_OPT_CA:
        case CHORD_TLS_OPT_CERT:
        case CHORD_TLS_OPT_KEY:
            chord_tls_args_take(&tls_opt, c, optarg);
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return CHORD_EXIT_OK;
        case 'V':
        case OPT_VERSION:
            printf("dht-viz %s\n", CHORD_VERSION);
            return CHORD_EXIT_OK;
        case ':':
            if (optopt > 0 && optopt < 256)
                return chord_usage_error("dht-viz", "option -%c needs a value",
                                         optopt);
            for (size_t k = 0; longopts[k].name; k++)
                if (longopts[k].val == optopt)
                    return chord_usage_error("dht-viz",
                                             "option --%s needs a value",
                                             longopts[k].name);
            return chord_usage_error("dht-viz", "option %s needs a value",
                                     argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 256)
                return chord_usage_error("dht-viz", "unknown option '-%c'",
                                         optopt);
            return chord_usage_error("dht-viz", "unknown option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind < argc)
        return chord_usage_error("dht-viz", "unexpected argument '%s'",
                                 argv[optind]);
    if (check || dump) {
        if (check && dump)
            return chord_usage_error("dht-viz", "%s",
                                     "give --check-topology or "
                                     "--dump-topology, not both");
        return viz_topology_command(check ? check : dump, dump != NULL);
    }
    if ((o.node != NULL) + (o.topology != NULL) + (o.input != NULL) > 1)
        return chord_usage_error("dht-viz", "%s",
                                 "give one of --node, --topology and --input");
    if (o.input && o.watch)
        return chord_usage_error("dht-viz", "%s",
                                 "--input draws a snapshot once: no --watch");
    if (o.input && strlen(o.input) >= VIZ_PATH_NAME_MAX)
        return chord_usage_error("dht-viz", "%s", "the input path is too long");
    if ((so.any || rate_given) && !so.listen)
        return chord_usage_error("dht-viz", "%s",
                                 "--serve-any and --rate go with --serve");
    if (so.listen && (o.topology || o.input || o.output || o.format_given ||
                      o.watch || o.key || o.highlight))
        return chord_usage_error("dht-viz", "%s",
                                 "--serve takes only --node, --rate, "
                                 "--serve-any and --timeout-ms");
    char env_first[CHORD_ADDR_MAX]; /* $DHT_NODE's first entry */
    if (!o.topology && !o.node && !o.input) {
        /* $DHT_NODE may list several seeds, as for dht: crawl from the
         * first. */
        const char *env = getenv("DHT_NODE");
        o.node = env && *env ? env : VIZ_DEFAULT_NODE;
        size_t n = strcspn(o.node, ",");
        if (o.node[n] == ',' && n < sizeof(env_first)) {
            memcpy(env_first, o.node, n);
            env_first[n] = '\0';
            o.node = env_first;
        }
    }
    if (o.node) {
        char host[CHORD_ADDR_MAX];
        uint16_t port;
        int rc = chord_addr_parse(o.node, host, &port);
        if (rc)
            return chord_usage_error("dht-viz", "'%.*s': %s",
                                     (int)CHORD_ADDR_MAX, o.node,
                                     chord_addr_strerror(rc));
    }
    if (so.listen) {
        so.node = o.node;
        so.timeout_ms = timeout_given ? o.timeout_ms : VIZ_LIVE_TIMEOUT_MS;
        return viz_serve(&so);
    }
    if (o.key && strlen(o.key) > CHORD_KEY_MAX)
        return chord_usage_error("dht-viz", "%s", "the key is over 1024 bytes");
    if (o.output && strlen(o.output) >= VIZ_PATH_NAME_MAX)
        return chord_usage_error("dht-viz", "%s",
                                 "the output path is too long");
    if (o.topology && strlen(o.topology) >= VIZ_PATH_NAME_MAX)
        return chord_usage_error("dht-viz", "%s",
                                 "the topology path is too long");
    bool to_stdout = !o.output || strcmp(o.output, "-") == 0;
    if (o.watch && to_stdout)
        return chord_usage_error("dht-viz", "%s",
                                 "--watch needs --output FILE");
    if (count_given && !o.watch)
        return chord_usage_error("dht-viz", "%s", "--count goes with --watch");
    if (!o.format_given) {
        o.format = to_stdout ? -1 : format_from_path(o.output);
        if (o.format < 0)
            o.format = to_stdout ? VIZ_TEXT : VIZ_SVG;
    }
    struct chord_tls *tls = NULL;
    int code = chord_tls_args_setup("dht-viz", &tls_opt, &tls);
    if (code)
        return code;
    code = viz_run(&o);
    chord_tls_free(tls);
    return code;
}
