/*
 * options.h - dhtd's command line: one table of options, read with
 * getopt_long into a struct chord_host_options.
 *
 * Every option dhtd takes is a row of the table in options.c (long name,
 * short letter when it has one, what value it takes, its bounds) and one
 * case of dhtd_options_apply(), so an option is added in one place and
 * --help (dhtd_options_usage) lists it. A usage error is one line on
 * stderr, "dhtd: ... (see dhtd --help)", and exit status 2.
 *
 * What it does not do: it starts nothing and opens nothing; main.c runs
 * the node with what was parsed.
 */
#ifndef DHTD_OPTIONS_H
#define DHTD_OPTIONS_H

#include "chord/host.h"
#include "config_file.h"

/* What the parse produced besides the host options. */
struct dhtd_options {
    struct chord_host_options host;
    /* The --config file read, if any: the host options' strings may
     * point into it, so it lives until dhtd_options_free(). */
    struct dhtd_config config;
};

/* Defaults: chord_host_options_default(), with tune_process set (dhtd is
 * the node's whole process). */
void dhtd_options_default(struct dhtd_options *o);

/*
 * Fill *o from argv (argv[0] is the program). Returns -1 to go on and run
 * the node, or an exit status: CHORD_EXIT_OK after --help/--version (their
 * text already printed on stdout), CHORD_EXIT_USAGE after a usage error
 * (already explained on stderr). Checks the combinations too (--listen is
 * required, log options need --data, replicas fit the successor list).
 * `--config FILE` applies the file's lines where it stands (see
 * config_file.h), so later options override them; an error in the file
 * names FILE:LINE. Call dhtd_options_free() after, whatever it returned.
 */
int dhtd_options_parse(struct dhtd_options *o, int argc, char **argv);

/* Free what the parse kept (the --config file's text); the host options'
 * strings that came from the file are invalid afterwards. */
void dhtd_options_free(struct dhtd_options *o);

#endif
