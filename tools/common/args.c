/*
 * args.c - see args.h.
 */
#include "common/args.h"

#include <errno.h>

int chord_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL; /* overflow */
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
