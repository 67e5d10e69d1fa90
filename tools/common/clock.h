/*
 * clock.h - the programs' one monotonic clock, in milliseconds (rates,
 * deadlines and progress lines). For programs only: the protocol core
 * reads no clock, and the client library keeps its own.
 */
#ifndef CHORD_TOOLS_CLOCK_H
#define CHORD_TOOLS_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC (an arbitrary origin). */
uint64_t chord_mono_ms(void);

#endif
