/*
 * clock.h - the client library's one clock: milliseconds on the
 * monotonic clock, for deadlines and time budgets (client.c, session.c).
 * Internal to src/client.
 */
#ifndef CHORD_CLIENT_CLOCK_H
#define CHORD_CLIENT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t chord__client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
