/*
 * token.h - a session token (chord_session_use_token, chord/session.h):
 * what a client has seen of each key, as a causal context (a version
 * vector, core/dvv.h) per key id, and its file. Internal to src/client;
 * session.c owns one per session.
 *
 * The token maps a key's ring id (chord_key_id) to the merge of the
 * contexts of every reply the client had for that key. It holds the
 * CHORD_TOKEN_KEYS most recently used keys: adding one more forgets the
 * least recently used (looked up or merged) one, whose guarantees are
 * then lost.
 *
 * File (big-endian), versioned by its first line:
 *     CHORD_TOKEN_MAGIC ("chord-session-token 1\n")
 *     u32 n (<= CHORD_TOKEN_KEYS)
 *     n x (id[20], u64 last use, u16 length, context[length])
 *     u32 CRC-32C of every byte before it
 * Each context is checked as chord_dvv_decode checks one (n_sib 0, at
 * most CHORD_DVV_CONTEXT_MAX bytes); a file that fails any check, or has
 * bytes after its checksum, is corrupt. It is written to a temporary file
 * in the same directory, flushed, and renamed over the old one.
 */
#ifndef CHORD_CLIENT_TOKEN_H
#define CHORD_CLIENT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "chord/id.h"

#define CHORD_TOKEN_KEYS 4096u
#define CHORD_TOKEN_MAGIC "chord-session-token 1\n"

struct chord_token;

/* An empty token: 0 or -ENOMEM. */
int chord__token_new(struct chord_token **out);
void chord__token_free(struct chord_token *t);

/* Replace *t's entries with the file's. A missing file is an empty token
 * (0). -EINVAL when the file is corrupt or of another version, or the
 * error of reading it; then err (one line naming the file) says why and
 * *t is unchanged. */
int chord__token_load(struct chord_token *t, const char *path, char *err,
                      size_t err_len);
/* Write *t to path atomically (see the banner): 0, or a negative errno
 * with err (one line naming the file) saying why; the old file is then
 * left as it was. */
int chord__token_save(const struct chord_token *t, const char *path, char *err,
                      size_t err_len);

/* The context held for key id `id` (a use: it becomes the most recently
 * used), or NULL with *len 0 when there is none. Owned by t, valid until
 * the next merge or load. */
const uint8_t *chord__token_find(struct chord_token *t,
                                 const struct chord_id *id, size_t *len);

/* Merge the vector of a state blob or a context (core/dvv.h; siblings
 * ignored) into id's entry, adding it (a use, as above) when there is
 * none. When the merge would hold more than CHORD_DVV_WRITERS writers,
 * the entry becomes the new vector alone. 0, -EPROTO (not a state),
 * -ENOMEM. */
int chord__token_merge(struct chord_token *t, const struct chord_id *id,
                       const uint8_t *state, size_t len);

/* How many keys t holds. */
unsigned chord__token_count(const struct chord_token *t);

#endif
