/*
 * wire_fixture.h - what the frame codec's tests share (test_wire*.c):
 * every message type, a seeded PRNG, random sample messages that fill
 * every field with non-trivial values, a field-by-field comparison of a
 * decoded message with the one encoded, and a hand-made frame builder.
 *
 * The builder (fb_*) writes big-endian fields into a chord_buf on its own,
 * independent of wire.c, so tests that decode its frames also pin down the
 * byte layout wire.c documents. Every helper fails the running cmocka
 * test on an unexpected error; nothing here tests anything by itself.
 */
#ifndef CHORD_TEST_WIRE_FIXTURE_H
#define CHORD_TEST_WIRE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord/buf.h"
#include "core/dvv.h"
#include "core/wire.h"

/* Every message type, in protocol order. */
static const uint8_t all_types[] = {
    CHORD_MSG_PING,
    CHORD_MSG_PONG,
    CHORD_MSG_GET_NEIGHBORS,
    CHORD_MSG_NEIGHBORS,
    CHORD_MSG_RECTIFY,
    CHORD_MSG_JOIN,
    CHORD_MSG_JOIN_ACK,
    CHORD_MSG_FIND_SUCC,
    CHORD_MSG_FOUND_SUCC,
    CHORD_MSG_STORE_PUT,
    CHORD_MSG_STORE_GET,
    CHORD_MSG_STORE_DEL,
    CHORD_MSG_STORE_RESULT,
    CHORD_MSG_TRANSFER,
    CHORD_MSG_TRANSFER_ACK,
    CHORD_MSG_LEAVE,
    CHORD_MSG_LEAVE_ACK,
    CHORD_MSG_REPLICA_GET,
    CHORD_MSG_SYNC,
    CHORD_MSG_SYNC_REPLY,
    CHORD_MSG_MERGE,
    CHORD_MSG_STORE_RESTORE,
    CHORD_MSG_STORE_APPEND,
    CHORD_MSG_STORE_LOCK,
    CHORD_MSG_C_PUT,
    CHORD_MSG_C_GET,
    CHORD_MSG_C_DEL,
    CHORD_MSG_C_LOOKUP,
    CHORD_MSG_C_STATUS,
    CHORD_MSG_C_RESULT,
    CHORD_MSG_C_LOOKUP_RESULT,
    CHORD_MSG_C_STATUS_RESULT,
    CHORD_MSG_C_SCAN,
    CHORD_MSG_C_SCAN_RESULT,
    CHORD_MSG_C_RESTORE,
    CHORD_MSG_C_APPEND,
    CHORD_MSG_C_LOCK,
};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

#define SAMPLE_ITEMS 6
#define SAMPLE_ITEM_BYTES 48
#define SAMPLE_VALUE 600
#define SAMPLE_KEY 80

/* ---- deterministic randomness ------------------------------------------ */

/* The next number of a seeded xorshift64* (the seed must not be 0). */
uint64_t prng_next(uint64_t *s);
/* Uniform-enough integer in [0, n), n > 0. */
unsigned prng_below(uint64_t *s, unsigned n);
/* Fill p[0, n) with random bytes. */
void prng_fill(uint64_t *s, void *p, size_t n);
/* A random string of 0..cap-1 printable characters (no NUL) into out. */
void rand_str(uint64_t *r, char *out, size_t cap);
/* A random peer: random id, a loopback address or a random string. */
void rand_peer(uint64_t *r, struct chord_peer *p);

/* ---- sample messages ---------------------------------------------------- */

/* Limits on counts drawn for a sample (the caps, or less for speed). */
struct scale {
    unsigned succ, path, fingers, peers, key, value;
};
/* Every count up to its protocol cap; and small ones, for speed. */
extern const struct scale full_scale;
extern const struct scale small_scale;

/* A message together with the storage it borrows. */
struct sample {
    struct chord_msg m;
    uint8_t key[SAMPLE_KEY];
    uint8_t key2[SAMPLE_KEY];
    uint8_t value[SAMPLE_VALUE];
    uint8_t fence_name[CHORD_LOCK_NAME_MAX];
    struct chord_item items[SAMPLE_ITEMS];
    uint8_t item_key[SAMPLE_ITEMS][SAMPLE_ITEM_BYTES];
    uint8_t item_value[SAMPLE_ITEMS][SAMPLE_ITEM_BYTES];
    uint8_t item_state[SAMPLE_ITEMS][SAMPLE_ITEM_BYTES];
    uint8_t context[CHORD_DVV_CONTEXT_MAX];
    uint8_t session[CHORD_DVV_CONTEXT_MAX];
    uint8_t state[SAMPLE_VALUE];
    struct chord_status status;
};

/* A zeroed sample on the heap (the caller frees it). */
struct sample *sample_new(void);
/* Fill every field of s->m with random values within *sc (the type picks
 * what is encoded); s->m borrows s's storage, status_in included. The
 * mutation trailer (request id, fence) is drawn for every type, each part
 * present or not (only a mutating type encodes it); the causal trailer
 * only for a type that takes it, present or not (rand_causal); items
 * carry an origin and a fence, or not, and are legacy ones or carry a
 * deadline and a state blob, or not. */
void sample_fill(struct sample *s, uint8_t type, uint64_t *r,
                 const struct scale *sc);
/* The causal bits a type may carry, restated from wire.h independently
 * of wire.c: the request bits on C_PUT, C_DEL, C_GET, STORE_PUT,
 * STORE_DEL, STORE_GET, REPLICA_GET; STATE on C_RESULT and STORE_RESULT;
 * 0 on any other type. */
unsigned causal_allowed(uint8_t type);
/* Would wire.h's rules accept these causal bits on `type` (fields
 * aside)? Never bits 0; CONTEXT excludes IF_CONTEXT, IF_CONTEXT excludes
 * IF_ABSENT; a reply carries STATE alone. */
bool causal_bits_valid(uint8_t type, unsigned bits);
/* Set s->m's causal trailer to `bits` with random fields of valid sizes
 * (blobs of 1..cap bytes, at most sc->value for the state; ttl_s > 0);
 * the fields whose bit is off hold junk the encoder must ignore. */
void causal_fill(struct sample *s, unsigned bits, uint64_t *r,
                 const struct scale *sc);
/* A random valid causal trailer for s->m's type (0 half the time, and
 * always for a type that takes none). */
void rand_causal(struct sample *s, uint64_t *r, const struct scale *sc);
/* A decoded message carries what the message encoded carried: every field
 * of its type, compared one by one (TRANSFER items through items_raw), and
 * the mutation trailer for a mutating type (none for any other). */
void assert_msg_equal(const struct chord_msg *want,
                      const struct chord_msg *got);

/* Encoding *m must fail with `want` and leave what `out` held (reset to
 * 4 bytes "prev" first) untouched. */
void assert_encode_refused(const struct chord_msg *m, struct chord_buf *out,
                           int want);

/* ---- a hand-made frame builder, independent of wire.c ------------------- */

/* Append n raw bytes; one big-endian u8, u16, u32, u64. */
void fb_raw(struct chord_buf *b, const void *p, size_t n);
void fb_u8(struct chord_buf *b, uint8_t v);
void fb_u16(struct chord_buf *b, uint16_t v);
void fb_u32(struct chord_buf *b, uint32_t v);
void fb_u64(struct chord_buf *b, uint64_t v);
/* An id whose bytes are all `fill`. */
void fb_id(struct chord_buf *b, uint8_t fill);
/* A str of n bytes, all `c`. */
void fb_str(struct chord_buf *b, size_t n, char c);
/* A peer: id 0x11..., address "77777777777777". */
void fb_peer(struct chord_buf *b);
/* A bytes field announcing `announced` bytes and carrying `present`. */
void fb_bytes(struct chord_buf *b, uint32_t announced, size_t present);
/* Reset *b to a frame header (length 0 until fb_finish, req_id
 * 0x0102030405060708). */
void fb_header(struct chord_buf *b, uint8_t version, uint8_t type,
               uint16_t flags);
/* A current-version header with no flags, plus `from` for node types. */
void fb_start(struct chord_buf *b, uint8_t type);
/* Patch the length prefix to cover what was built. */
void fb_finish(struct chord_buf *b);

/* A complete hand-made frame decodes whole (status_out = st, may be
 * NULL); or is MALFORMED. */
void assert_decodes(const struct chord_buf *b, struct chord_msg *m,
                    struct chord_status *st);
void assert_malformed(const struct chord_buf *b, struct chord_msg *m,
                      struct chord_status *st);

#endif
