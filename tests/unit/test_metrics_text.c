/*
 * test_metrics_text.c - chord_hist_observe() and the Prometheus text a
 * scrape gets (io/metrics_text.c): buckets land where their bounds say,
 * the text's buckets are cumulative and end at +Inf = _count, latencies
 * come out in seconds, and every family has HELP and TYPE before its
 * samples.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chord/metrics.h"
#include "chord/types.h"
#include "io/metrics_text.h"

static const uint64_t ms_bounds[CHORD_HIST_BUCKETS - 1] = CHORD_HIST_MS_BOUNDS;

static void test_observe(void **state)
{
    (void)state;
    struct chord_hist h = {0};
    chord_hist_observe(&h, ms_bounds, 0);     /* le 1 */
    chord_hist_observe(&h, ms_bounds, 1);     /* le 1 (inclusive) */
    chord_hist_observe(&h, ms_bounds, 2);     /* le 2 */
    chord_hist_observe(&h, ms_bounds, 7);     /* le 10 */
    chord_hist_observe(&h, ms_bounds, 10001); /* +Inf */
    assert_true(h.count == 5 && h.sum == 10011);
    assert_true(h.bucket[0] == 2 && h.bucket[1] == 1 && h.bucket[3] == 1);
    assert_true(h.bucket[CHORD_HIST_BUCKETS - 1] == 1);
}

/* Render a view with a few known numbers into a NUL-terminated text. */
static void render(struct chord_buf *b, bool with_log)
{
    static struct chord_node_metrics m;
    memset(&m, 0, sizeof m);
    m.state = CHORD_NODE_ACTIVE;
    m.client_requests[CHORD_METRIC_OP_GET][CHORD_NOT_FOUND] = 3;
    chord_hist_observe(&m.client_ms[CHORD_METRIC_OP_PUT], ms_bounds, 4);
    chord_hist_observe(&m.client_ms[CHORD_METRIC_OP_PUT], ms_bounds, 40);
    m.keys = 12;
    m.peers[CHORD_PEER_SUSPECTED] = 1;
    struct chord_transport_stats net = {.bytes_in = 100, .bytes_out = 200};
    struct chord_durable_stats log;
    memset(&log, 0, sizeof log);
    log.segment_bytes = 4096;
    struct chord_metrics_view v = {
        .node = &m, .net = &net, .conns_open = 2, .log = with_log ? &log : 0};
    chord_buf_init(b);
    assert_int_equal(chord_metrics_text_render(b, &v), 0);
    assert_int_equal(chord_buf_append(b, "", 1), 0);
}

/* A histogram's sample (NAME_bucket, _sum, _count) belongs to family
 * NAME: cut the suffix when NAME is announced as a histogram in t. */
static void strip_hist_suffix(char *fam, const char *t)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t fl = strlen(fam), sl = strlen(sfx[i]);
        if (fl <= sl || strcmp(fam + fl - sl, sfx[i]) != 0)
            continue;
        char type[192];
        snprintf(type, sizeof type, "# TYPE %.*s histogram\n", (int)(fl - sl),
                 fam);
        if (strstr(t, type))
            fam[fl - sl] = '\0';
        return;
    }
}

static void test_text(void **state)
{
    (void)state;
    struct chord_buf b;
    render(&b, true);
    const char *t = (const char *)b.data;
    const char *want[] = {
        "chord_client_requests_total{op=\"get\",outcome=\"not_found\"} 3\n",
        "chord_client_request_duration_seconds_bucket{op=\"put\",le=\"0.005\"}"
        " 1\n",
        "chord_client_request_duration_seconds_bucket{op=\"put\",le=\"0.05\"}"
        " 2\n",
        "chord_client_request_duration_seconds_bucket{op=\"put\",le=\"+Inf\"}"
        " 2\n",
        "chord_client_request_duration_seconds_sum{op=\"put\"} 0.044000\n",
        "chord_client_request_duration_seconds_count{op=\"put\"} 2\n",
        "chord_node_state{state=\"active\"} 1\n",
        "chord_node_state{state=\"joining\"} 0\n",
        "chord_keys_stored 12\n",
        "chord_peers{state=\"suspected\"} 1\n",
        "chord_network_bytes_total{direction=\"out\"} 200\n",
        "chord_connections_open 2\n",
        "chord_wal_segment_bytes 4096\n",
        "# TYPE chord_client_request_duration_seconds histogram\n",
        "# TYPE chord_keys_stored gauge\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(t, want[i]))
            fail_msg("missing: %s", want[i]);
    /* Every sample's family was announced (HELP and TYPE) before it. */
    for (const char *line = t; *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        if (line[0] != '#') {
            char fam[128];
            size_t n = strcspn(line, "{ ");
            assert_true(n < sizeof fam);
            memcpy(fam, line, n);
            fam[n] = '\0';
            strip_hist_suffix(fam, t);
            char help[160], type[160];
            snprintf(help, sizeof help, "# HELP %s ", fam);
            snprintf(type, sizeof type, "# TYPE %s ", fam);
            const char *h = strstr(t, help), *ty = strstr(t, type);
            if (!h || !ty || h > line || ty > line)
                fail_msg("no HELP/TYPE before %.*s", (int)(end - line), line);
        }
        line = end + 1;
    }
    chord_buf_free(&b);
    render(&b, false); /* memory-only: no log families */
    assert_null(strstr((const char *)b.data, "chord_wal_"));
    chord_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
