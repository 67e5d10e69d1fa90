/*
 * exit.h - the exit codes every program of the project shares (the CLI
 * contract in DESIGN.md), and the one way a program reports a usage error.
 *
 * Scripts rely on these numbers; they never change meaning. A program
 * that cannot produce one of the later codes simply never returns it.
 */
#ifndef CHORD_TOOLS_EXIT_H
#define CHORD_TOOLS_EXIT_H

enum chord_exit {
    CHORD_EXIT_OK = 0,
    CHORD_EXIT_NOT_FOUND = 1,    /* the key (or object) does not exist */
    CHORD_EXIT_USAGE = 2,        /* bad arguments: nothing was attempted */
    CHORD_EXIT_FAILED = 3,       /* cannot reach the ring, or it failed */
    CHORD_EXIT_PRECONDITION = 4, /* a condition of the request was false */
    CHORD_EXIT_TIMEOUT = 5,      /* a wait (a lock) timed out */
    CHORD_EXIT_SIBLINGS = 6,     /* the key has concurrent values */
    /* dhtd: the node could not run (cannot listen, cannot join, data
     * directory locked or corrupt, fsync failure, interrupted mid-leave).
     * It shares 1 with NOT_FOUND: the daemon never looks a key up. */
    CHORD_EXIT_NODE_FAILED = 1,
};

/* Print "PROG: <message> (see PROG --help)" as one line on stderr and
 * return CHORD_EXIT_USAGE. The message is printf(fmt, ...). */
int chord_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
