/*
 * textfile.c - the line reader of dht-sim's two input files, the latency
 * matrix (--latency matrix:FILE) and the script (--script FILE), and the
 * one form of their error messages: "dht-sim: FILE:LINE: message".
 *
 * Invariants: a line is cut into words in place ('#' ends it; blank lines
 * are skipped); at most FILE_WORDS_MAX words are kept, but all are
 * counted, so a caller sees a line that is too long; a NUL byte or a read
 * error is reported with its line number.
 *
 * It does not know what the words mean (matrix.c and script.c do).
 */
#include "textfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit.h"

/* "dht-sim: FILE:LINE: message" on one line; returns the usage exit code.
 */
int dsim_file_error(const char *file, unsigned line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dht-sim: %s:%u: %s\n", file, line ? line : 1, msg);
    return CHORD_EXIT_USAGE;
}

/* Open a text file. 0, or CHORD_EXIT_USAGE after printing why not. */
int dsim_text_open(struct text_file *tf, const char *name)
{
    memset(tf, 0, sizeof *tf);
    tf->name = name;
    tf->f = fopen(name, "r");
    if (!tf->f) {
        fprintf(stderr, "dht-sim: %s: %s\n", name, strerror(errno));
        return CHORD_EXIT_USAGE;
    }
    return 0;
}

/* The next line with at least one word: 1, or 0 at the end of the file,
 * or CHORD_EXIT_USAGE (-) after printing a read error. */
int dsim_text_next(struct text_file *tf)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&tf->line, &tf->cap, tf->f);
        if (n < 0) {
            if (ferror(tf->f))
                return -dsim_file_error(tf->name, tf->lineno + 1,
                                        "read error: %s",
                                        strerror(errno ? errno : EIO));
            return 0;
        }
        tf->lineno++;
        if ((size_t)n != strlen(tf->line))
            return -dsim_file_error(tf->name, tf->lineno,
                                    "NUL byte in the line");
        char *hash = strchr(tf->line, '#');
        if (hash)
            *hash = '\0';
        tf->n_words = 0;
        char *save = NULL;
        for (char *w = strtok_r(tf->line, " \t\r\n\v\f", &save); w;
             w = strtok_r(NULL, " \t\r\n\v\f", &save)) {
            if (tf->n_words < FILE_WORDS_MAX)
                tf->word[tf->n_words] = w;
            tf->n_words++;
        }
        if (tf->n_words > 0)
            return 1;
    }
}

void dsim_text_close(struct text_file *tf)
{
    if (tf->f)
        fclose(tf->f);
    free(tf->line);
}
