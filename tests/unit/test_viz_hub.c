/*
 * test_viz_hub.c - what dht-viz --serve's HTTP threads read from the
 * crawler (tools/viz/hub.c): a new reader gets the snapshot and then
 * every later update once, in order; a reader that falls more than
 * VIZ_HUB_LOG updates behind gets the snapshot again instead of a gap;
 * a stopped hub ends every stream. One thread, no network: every call here
 * returns at once because something is always ready (the keepalive wait is
 * never reached).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "live.h"

/* A malloc'd copy of s. */
static char *dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* Commit snapshot `snap` and update `upd` (NULL: none). */
static void commit(struct viz_hub *h, const char *snap, const char *upd)
{
    struct viz_hub_node *t = calloc(1, sizeof *t);
    assert_non_null(t);
    viz_hub_commit(h, dup(snap), t, 1, 3, upd ? dup(upd) : NULL);
}

/* The next text for the reader at *seq; fails unless it starts with
 * `want`. */
static void expect_next(struct viz_hub *h, uint64_t *seq, const char *want)
{
    char *out = NULL;
    assert_int_equal(viz_hub_next(h, seq, &out), 0);
    assert_non_null(out);
    if (strncmp(out, want, strlen(want)) != 0)
        fail_msg("got %s, expected it to start with %s", out, want);
    free(out);
}

static void test_snapshot_then_updates(void **state)
{
    (void)state;
    struct viz_hub h;
    assert_int_equal(viz_hub_init(&h, "127.0.0.1:1", 500), 0);
    commit(&h, "{\"s\":1}", "{\"u\":1}");
    uint64_t seq = 0;
    /* The snapshot already holds update 1: not sent again. */
    expect_next(&h, &seq, "event: snapshot\ndata: {\"s\":1}\n\n");
    commit(&h, "{\"s\":2}", "{\"u\":2}");
    commit(&h, "{\"s\":3}", NULL); /* nothing new to send */
    commit(&h, "{\"s\":4}", "{\"u\":3}");
    expect_next(&h, &seq, "event: update\ndata: {\"u\":2}\n\n");
    expect_next(&h, &seq, "event: update\ndata: {\"u\":3}\n\n");
    /* A second reader starts from the newest snapshot. */
    uint64_t seq2 = 0;
    expect_next(&h, &seq2, "event: snapshot\ndata: {\"s\":4}");
    viz_hub_free(&h);
}

static void test_reader_behind_gets_snapshot(void **state)
{
    (void)state;
    struct viz_hub h;
    assert_int_equal(viz_hub_init(&h, "127.0.0.1:1", 500), 0);
    commit(&h, "{\"s\":0}", NULL);
    uint64_t seq = 0;
    expect_next(&h, &seq, "event: snapshot");
    char snap[32], upd[32];
    for (unsigned i = 1; i <= VIZ_HUB_LOG + 5; i++) {
        snprintf(snap, sizeof snap, "{\"s\":%u}", i);
        snprintf(upd, sizeof upd, "{\"u\":%u}", i);
        commit(&h, snap, upd);
    }
    snprintf(snap, sizeof snap, "event: snapshot\ndata: {\"s\":%u}",
             VIZ_HUB_LOG + 5);
    expect_next(&h, &seq, snap);
    commit(&h, "{\"s\":999}", "{\"u\":999}");
    expect_next(&h, &seq, "event: update\ndata: {\"u\":999}");
    viz_hub_free(&h);
}

static void test_stop_ends_streams(void **state)
{
    (void)state;
    struct viz_hub h;
    assert_int_equal(viz_hub_init(&h, "127.0.0.1:1", 500), 0);
    commit(&h, "{}", NULL);
    viz_hub_stop(&h);
    uint64_t seq = 0;
    char *out = (char *)1;
    assert_int_equal(viz_hub_next(&h, &seq, &out), 1);
    assert_null(out);
    viz_hub_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_then_updates),
        cmocka_unit_test(test_reader_behind_gets_snapshot),
        cmocka_unit_test(test_stop_ends_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
