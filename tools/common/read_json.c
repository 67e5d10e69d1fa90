/*
 * read_json.c - the printed forms of a read (see read_json.h).
 */
#include "common/read_json.h"

#include <errno.h>

void chord_json_text(struct chord_json *j, const char *name,
                     const char *encoding_name, const void *data, size_t len)
{
    chord_json_key(j, name);
    if (chord_json_is_utf8(data, len)) {
        chord_json_utf8(j, data, len);
        return;
    }
    chord_json_base64(j, data, len);
    chord_json_key(j, encoding_name);
    chord_json_str(j, "base64");
}

uint64_t chord_read_ttl_left(uint64_t deadline_ms, uint64_t now_ms)
{
    if (deadline_ms <= now_ms)
        return 0;
    return (deadline_ms - now_ms + 999u) / 1000u;
}

void chord_read_json(struct chord_json *j, const void *key, size_t key_len,
                     const struct chord_read *r, uint64_t now_ms)
{
    chord_json_init(j);
    chord_json_obj_begin(j);
    chord_json_text(j, "key", "key_encoding", key, key_len);
    chord_json_key(j, "values");
    chord_json_arr_begin(j);
    for (unsigned i = 0; i < r->n_values; i++) {
        const struct chord_value *v = &r->values[i];
        chord_json_obj_begin(j);
        chord_json_text(j, "value", "encoding", v->data, v->len);
        chord_json_key(j, "ttl_s");
        if (v->deadline_ms)
            chord_json_uint(j, chord_read_ttl_left(v->deadline_ms, now_ms));
        else
            chord_json_null(j);
        chord_json_obj_end(j);
    }
    chord_json_arr_end(j);
    chord_json_key(j, "context");
    chord_json_base64(j, r->context, r->context_len);
    chord_json_obj_end(j);
}

int chord_read_print_all(FILE *f, const struct chord_read *r)
{
    for (unsigned i = 0; i < r->n_values; i++) {
        const struct chord_value *v = &r->values[i];
        if (fprintf(f, "%zu\n", v->len) < 0 ||
            fwrite(v->data, 1, v->len, f) != v->len || fputc('\n', f) == EOF)
            return -EIO;
    }
    return 0;
}
