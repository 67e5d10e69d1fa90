/*
 * args.h - what the command-line tools (dhtd, dht, dht-sim, dht-viz)
 * share to read their arguments.
 */
#ifndef CHORD_ARGS_H
#define CHORD_ARGS_H

#include <stdint.h>

/* A decimal number in [min, max]: digits only (no sign, no space), no
 * overflow. 0, or -EINVAL (*out untouched). */
int chord_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
