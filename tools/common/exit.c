/*
 * exit.c - the shared usage-error line (see exit.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "common/exit.h"

int chord_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", prog);
    va_end(ap);
    return CHORD_EXIT_USAGE;
}
