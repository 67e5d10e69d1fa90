/*
 * textfile.h - the line reader that dht-sim's matrix and script readers
 * share (textfile.c), private to tools/sim.
 */
#ifndef DHT_SIM_TEXTFILE_H
#define DHT_SIM_TEXTFILE_H

#include <stddef.h>
#include <stdio.h>

/* A text file read line by line: '#' starts a comment, and each line is
 * split into whitespace-separated words (at most FILE_WORDS_MAX of them,
 * more is an error the caller reports). */
#define FILE_WORDS_MAX 4097 /* a matrix row of CHORD_SIM_HOSTS_MAX, + 1 */

struct text_file {
    const char *name; /* borrowed: the caller's file name */
    FILE *f;
    char *line; /* owned: the current line, cut into words */
    size_t cap;
    unsigned lineno;
    char *word[FILE_WORDS_MAX]; /* point into line */
    size_t n_words; /* may exceed FILE_WORDS_MAX: only that many kept */
};

/* Print "dht-sim: FILE:LINE: message" (LINE 0 is printed as 1) as one
 * line on stderr; returns CHORD_EXIT_USAGE. */
int dsim_file_error(const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open a text file (the name is borrowed). 0, or CHORD_EXIT_USAGE after
 * printing why not. */
int dsim_text_open(struct text_file *tf, const char *name);

/* The next line with at least one word: 1, or 0 at the end of the file,
 * or -CHORD_EXIT_USAGE after printing a read error or a NUL byte as
 * FILE:LINE:. */
int dsim_text_next(struct text_file *tf);

/* Close the file and free the line buffer (after a failed open too). */
void dsim_text_close(struct text_file *tf);

#endif
