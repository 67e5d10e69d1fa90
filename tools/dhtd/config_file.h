/*
 * config_file.h - dhtd's configuration file (dhtd --config FILE): the
 * same options as the command line, one per line.
 *
 * Format (what dhtd --help and dhtd(8) describe):
 *
 *     # a comment: a line whose first non-blank character is '#'
 *     listen = 127.0.0.1:7000
 *     data = /var/lib/dht/a
 *     repair
 *
 * A line is `name = value` or `name`; blanks around the name, the '=' and
 * the value are dropped; blank lines and '#' lines are skipped. The name
 * is a long option without its "--". The value is the rest of the line
 * (so it may hold '#' or blanks inside: there are no comments at the end
 * of a line); a flag is its name alone, at most DHTD_CONFIG_LINE_MAX
 * bytes a line. This file only splits lines: which names exist and what
 * values they take is options.c's business, which reports a bad line as
 * FILE:LINE.
 *
 * What it does not do: it does not know the options, expand variables,
 * or follow includes.
 */
#ifndef DHTD_CONFIG_FILE_H
#define DHTD_CONFIG_FILE_H

#include <stddef.h>

/* Longest line read (bytes, newline excluded). */
#define DHTD_CONFIG_LINE_MAX 4096u
/* Largest file read (bytes): a configuration, not a data set. */
#define DHTD_CONFIG_SIZE_MAX (1u << 20)
/* Room for the one-line explanation of a failure. */
#define DHTD_CONFIG_ERR_MAX 512u

/* One `name [= value]` line. */
struct dhtd_config_entry {
    unsigned line;     /* 1-based line number in the file */
    const char *name;  /* points into the file's text */
    const char *value; /* points into the file's text; NULL: no '=' */
};

/* A file read and split; its text is owned here and the entries point
 * into it, so every value stays valid until dhtd_config_free(). */
struct dhtd_config {
    char *text;
    struct dhtd_config_entry *entries;
    size_t n;
};

/*
 * Read and split `path`. 0, or -errno with err holding one line that
 * names the file (and the line, for a line that is too long, has an empty
 * name or contains a NUL byte). On failure *cfg holds nothing to free.
 */
int dhtd_config_read(const char *path, struct dhtd_config *cfg,
                     char err[DHTD_CONFIG_ERR_MAX]);

/* Free what dhtd_config_read() made; safe on a zeroed struct. */
void dhtd_config_free(struct dhtd_config *cfg);

#endif
