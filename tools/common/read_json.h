/*
 * read_json.h - how the tools print a read of a key with its concurrent
 * values (struct chord_read, chord/session.h): `dht get --json`'s
 * document and `dht get --all`'s length-prefixed values.
 */
#ifndef CHORD_TOOLS_READ_JSON_H
#define CHORD_TOOLS_READ_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chord/session.h"
#include "common/json.h"

/* Member `name` holding bytes: a JSON string of their text when they are
 * valid UTF-8, else their base64 followed by member `encoding_name`:
 * "base64". */
void chord_json_text(struct chord_json *j, const char *name,
                     const char *encoding_name, const void *data, size_t len);

/* The seconds a value with deadline_ms has left at now_ms (both
 * wall-clock ms), rounded up: 1 with 1 ms left; 0 when past. */
uint64_t chord_read_ttl_left(uint64_t deadline_ms, uint64_t now_ms);

/*
 * The document of a read into j (initialised here):
 *     {"key": KEY, "values": [{"value": V, "ttl_s": N or null}, ...],
 *      "context": BASE64}
 * KEY and each V as chord_json_text writes them ("key_encoding",
 * "encoding"); ttl_s the seconds left at now_ms, null without a TTL;
 * values empty when the key has none. Finish it with chord_json_finish.
 */
void chord_read_json(struct chord_json *j, const void *key, size_t key_len,
                     const struct chord_read *r, uint64_t now_ms);

/* Every value as "<length>\n<bytes>\n", in order: 0, or -EIO when f
 * fails. */
int chord_read_print_all(FILE *f, const struct chord_read *r);

#endif
