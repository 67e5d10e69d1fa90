/*
 * bench_err.c - the load generator's one-line explanations: the error of
 * a run that could not take place, and the first error seen during one
 * (kept in the report).
 *
 * Invariant: both are single lines (a node's error text has its line
 * breaks replaced) cut at CHORD_BENCH_ERR_MAX. It keeps no state.
 */
#include <stdarg.h>
#include <stdio.h>

#include "dht/bench_internal.h"

void bench_set_err(char err[CHORD_BENCH_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CHORD_BENCH_ERR_MAX, fmt, ap);
    va_end(ap);
}

void bench_note_error(struct bench *b, const char *fmt, ...)
{
    char *e = b->rep->first_error;
    if (e[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e, CHORD_BENCH_ERR_MAX, fmt, ap);
    va_end(ap);
    for (char *p = e; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}
