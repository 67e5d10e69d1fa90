/*
 * backup.c - what `dht dump` (dump.c) and `dht load` (load.c) share: the
 * rate and the common head of their JSON summaries. Their clock is
 * tools/common/clock.h's, their progress lines tools/common/progress.h's.
 */
#include <stdio.h>

#include "dht/dht.h"

uint64_t dht_keys_per_s(uint64_t keys, uint64_t ms)
{
    return ms ? keys * 1000u / ms : keys;
}

void dht_json_backup_begin(struct chord_json *j, const char *path,
                           uint64_t keys, uint64_t ms)
{
    chord_json_init(j);
    chord_json_obj_begin(j);
    chord_json_key(j, "file");
    chord_json_str(j, path);
    chord_json_key(j, "keys");
    chord_json_uint(j, keys);
    chord_json_key(j, "ms");
    chord_json_uint(j, ms);
    chord_json_key(j, "keys_per_s");
    chord_json_uint(j, dht_keys_per_s(keys, ms));
}
