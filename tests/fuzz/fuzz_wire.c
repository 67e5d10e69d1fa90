/*
 * fuzz_wire.c - libFuzzer target for the frame decoder.
 *
 * Each input is decoded as one frame (with storage for a status report,
 * so the C_STATUS_RESULT path is parsed in full). The decoder must answer
 * PARTIAL, MALFORMED or a length within the input. A frame it accepts is
 * re-encoded: the encoding is canonical, so this must succeed and give
 * back exactly the bytes consumed, and that copy must decode to the same
 * length again. Any violation aborts, which libFuzzer reports as a crash;
 * the sanitizers catch out-of-bounds reads. The target keeps no state
 * between inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/buf.h"
#include "core/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_wire: %s\n", what);
        abort();
    }
}

/* Re-encode *m (decoded from frame[0..len)) and check it is the same. */
static void check_reencode(const struct chord_msg *m, const uint8_t *frame,
                           size_t len, struct chord_status *st2)
{
    struct chord_msg copy = *m;
    struct chord_item *items = NULL;
    if ((m->type == CHORD_MSG_TRANSFER || m->type == CHORD_MSG_C_SCAN_RESULT) &&
        m->n_items > 0) {
        items = calloc(m->n_items, sizeof *items);
        check(items != NULL, "out of memory");
        struct chord_bytes cur = m->items_raw;
        for (uint32_t i = 0; i < m->n_items; i++)
            check(chord_items_next(&cur, &items[i]) == 1, "item walk short");
        check(chord_items_next(&cur, &items[0]) == 0, "item walk long");
    }
    copy.items = items;
    copy.status_in = m->status_out;

    struct chord_buf out;
    chord_buf_init(&out);
    check(chord_msg_encode(&copy, &out) == 0, "re-encode failed");
    check(out.len == len, "re-encoded length differs");
    /* The header's vnode byte routes a frame to a core of the process; it
     * is not part of the message, so the copy takes the frame's. */
    check(chord_frame_vnode(out.data) == 0, "re-encoded with a vnode");
    chord_frame_set_vnode(out.data, chord_frame_vnode(frame));
    check(memcmp(out.data, frame, len) == 0, "re-encoded bytes differ");

    struct chord_msg again;
    again.status_out = st2;
    check(chord_msg_decode(out.data, out.len, &again) == (ssize_t)len,
          "second decode differs");
    check(again.type == m->type && again.req_id == m->req_id,
          "second decode header differs");

    chord_buf_free(&out);
    free(items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chord_status *st = malloc(sizeof *st);
    struct chord_status *st2 = malloc(sizeof *st2);
    struct chord_msg *m = malloc(sizeof *m);
    check(st && st2 && m, "out of memory");

    m->status_out = st;
    ssize_t rc = chord_msg_decode(data, size, m);
    check(rc == CHORD_DECODE_PARTIAL || rc == CHORD_DECODE_MALFORMED ||
              (rc > 0 && (size_t)rc <= size),
          "decode returned an impossible value");
    if (rc > 0)
        check_reencode(m, data, (size_t)rc, st2);
    /* The sender the host reads without decoding (TLS identity) must be
     * the one the decoder finds. */
    struct chord_peer from;
    uint8_t type;
    if (rc > 0 && chord_frame_from(data, (size_t)rc, &from, &type) == 0)
        check(strcmp(from.addr, m->from.addr) == 0 &&
                  memcmp(&from.id, &m->from.id, sizeof from.id) == 0 &&
                  type == m->type,
              "chord_frame_from differs from the decoder");

    free(m);
    free(st2);
    free(st);
    return 0;
}
