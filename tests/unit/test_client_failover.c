/*
 * test_client_failover.c - a call through several nodes: the plan of a
 * call (src/client/failover.c: candidate order, the budget's split,
 * redirects, the summary), without a network; and the session
 * (chord/session.h) against fake nodes on 127.0.0.1: a frozen node (a
 * listening socket nobody accepts on: the connection opens, no answer
 * ever comes), a refused port, and scripted nodes that answer every
 * request with one status (OK, REDIRECT with a hint, TRY_AGAIN, a
 * failure, not found), all from session_fixture.h.
 *
 * Timings are checked with slack for slow (sanitizer) builds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "chord/node.h"
#include "chord/session.h"
#include "client/failover.h"
#include "session_fixture.h"

/* ---- the plan, without a network ---------------------------------------- */

static void test_plan_order(void **state)
{
    (void)state;
    struct chord_failover f;
    const char *seeds[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
                           "127.0.0.1:1"};
    chord_failover_init(&f, "127.0.0.1:3", seeds, 4, 0, 1000);
    assert_int_equal(f.n, 3); /* the connected node first, no repeats */
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:3");
    assert_string_equal(chord_failover_next(&f, 1), "127.0.0.1:1");
    assert_string_equal(chord_failover_next(&f, 2), "127.0.0.1:2");
    assert_null(chord_failover_next(&f, 3));

    chord_failover_init(&f, NULL, seeds, 2, 0, 1000);
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:1");
    assert_null(chord_failover_next(&f, 1000)); /* the budget is spent */
    assert_int_equal(chord_failover_share(&f, 1000), 0);
    assert_int_equal(chord_failover_left(&f, 1200), 0);
}

/* Each attempt gets time left / candidates left, at least the minimum,
 * never more than what is left; the last gets all that remains. */
static void test_plan_share(void **state)
{
    (void)state;
    struct chord_failover f;
    const char *two[] = {"127.0.0.1:1", "127.0.0.1:2"};
    chord_failover_init(&f, NULL, two, 2, 1000, 1500);
    assert_non_null(chord_failover_next(&f, 1000));
    assert_int_equal(chord_failover_share(&f, 1000), 750);
    assert_non_null(chord_failover_next(&f, 1750));
    assert_int_equal(chord_failover_share(&f, 1750), 750);
    /* The first answered fast: the second gets the rest. */
    chord_failover_init(&f, NULL, two, 2, 0, 1500);
    assert_non_null(chord_failover_next(&f, 0));
    assert_non_null(chord_failover_next(&f, 10));
    assert_int_equal(chord_failover_share(&f, 10), 1490);

    const char *three[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};
    chord_failover_init(&f, NULL, three, 3, 0, 300);
    assert_non_null(chord_failover_next(&f, 0));
    assert_int_equal(chord_failover_share(&f, 0),
                     CHORD_FAILOVER_ATTEMPT_MIN_MS); /* not 100 */
    assert_non_null(chord_failover_next(&f, 200));
    assert_int_equal(chord_failover_share(&f, 200), 100); /* what is left */
    assert_null(chord_failover_next(&f, 300));
}

static void test_plan_redirect(void **state)
{
    (void)state;
    struct chord_failover f;
    const char *seeds[] = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};
    chord_failover_init(&f, NULL, seeds, 3, 0, 10000);
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:1");
    assert_false(chord_failover_redirect(&f, ""));
    assert_false(chord_failover_redirect(&f, NULL));
    assert_false(chord_failover_redirect(&f, "127.0.0.1:1")); /* tried */
    assert_true(chord_failover_redirect(&f, "127.0.0.1:9"));  /* a new one */
    assert_int_equal(f.n, 4);
    /* The redirect counts as a candidate in the split. */
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:9");
    assert_int_equal(chord_failover_share(&f, 0), 10000 / 3);
    /* A seed not tried yet moves forward instead of repeating. */
    assert_true(chord_failover_redirect(&f, "127.0.0.1:3"));
    assert_int_equal(f.n, 4);
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:3");
    assert_string_equal(chord_failover_next(&f, 0), "127.0.0.1:2");
    assert_null(chord_failover_next(&f, 0));

    /* At most CHORD_FAILOVER_REDIRECTS per call. */
    chord_failover_init(&f, NULL, seeds, 1, 0, 10000);
    char addr[CHORD_ADDR_MAX];
    for (unsigned i = 0; i < CHORD_FAILOVER_REDIRECTS; i++) {
        assert_non_null(chord_failover_next(&f, 0));
        snprintf(addr, sizeof addr, "127.0.0.2:%u", 100 + i);
        assert_true(chord_failover_redirect(&f, addr));
    }
    assert_string_equal(chord_failover_next(&f, 0), addr);
    assert_false(chord_failover_redirect(&f, "127.0.0.3:1"));
    assert_null(chord_failover_next(&f, 0));
}

static void test_plan_summary(void **state)
{
    (void)state;
    struct chord_failover f;
    const char *seeds[] = {"127.0.0.1:1"};
    chord_failover_init(&f, NULL, seeds, 1, 0, 1000);
    chord_failover_note(&f, "127.0.0.1:1", "no answer within 500 ms");
    chord_failover_note(&f, "127.0.0.1:2", "connection refused");
    assert_string_equal(f.tried, "127.0.0.1:1: no answer within 500 ms; "
                                 "127.0.0.1:2: connection refused");
    char why[200];
    memset(why, 'w', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    for (int i = 0; i < 10; i++)
        chord_failover_note(&f, "127.0.0.1:3", why);
    size_t len = strlen(f.tried);
    assert_true(len < sizeof f.tried);
    assert_string_equal(f.tried + len - 3, "...");
}

/* ---- fake nodes ---------------------------------------------------------- */

/* ---- sessions ------------------------------------------------------------ */

/* A frozen first seed costs its share of the budget; the second serves. */
static void test_frozen_seed_then_next(void **state)
{
    (void)state;
    struct fake *frozen = fake_frozen();
    struct fake *ok = fake_start(CHORD_OK, "v1", NULL, NULL);
    const char *seeds[] = {frozen->addr, ok->addr};
    struct chord_session *s = open_session(seeds, 2, 1200);
    uint8_t *v = NULL;
    size_t len = 0;
    int64_t t0 = now_ms();
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), 0);
    int64_t took = now_ms() - t0;
    assert_true(took >= 590 && took < 600 + SLACK_MS);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "v1", 2);
    free(v);
    assert_string_equal(chord_session_node(s), ok->addr);
    /* The next call stays with the node that served. */
    t0 = now_ms();
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), 0);
    assert_true(now_ms() - t0 < SLACK_MS);
    assert_int_equal(atomic_load(&ok->served), 2);
    chord_session_close(s);
    fake_stop(ok);
    fake_stop(frozen);
}

/* Every seed frozen: the call ends with the budget, naming each. */
static void test_all_frozen_within_budget(void **state)
{
    (void)state;
    struct fake *a = fake_frozen(), *b = fake_frozen();
    const char *seeds[] = {a->addr, b->addr};
    struct chord_session *s = open_session(seeds, 2, 700);
    int64_t t0 = now_ms();
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), -ETIMEDOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 690 && took < 700 + SLACK_MS);
    const char *e = chord_session_error(s);
    assert_non_null(strstr(e, "cannot reach the ring within 700 ms"));
    assert_non_null(strstr(e, a->addr));
    assert_non_null(strstr(e, b->addr));
    assert_null(strchr(e, '\n'));
    assert_string_equal(chord_session_node(s), "");
    chord_session_close(s);
    fake_stop(a);
    fake_stop(b);
}

/* A refused seed costs nothing; a node that says TRY_AGAIN (it does not
 * serve now, names nobody) is passed over too. */
static void test_refused_and_try_again_move_on(void **state)
{
    (void)state;
    char refused[CHORD_ADDR_MAX];
    refused_addr(refused);
    struct fake *busy =
        fake_start(CHORD_TRY_AGAIN, NULL, NULL, "node X is failed");
    struct fake *ok = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {refused, busy->addr, ok->addr};
    struct chord_session *s = open_session(seeds, 3, 3000);
    int64_t t0 = now_ms();
    assert_int_equal(chord_session_del(s, "k", 1), 0);
    assert_true(now_ms() - t0 < SLACK_MS);
    assert_string_equal(chord_session_node(s), ok->addr);
    assert_int_equal(atomic_load(&busy->served), 1);
    chord_session_close(s);
    fake_stop(busy);
    fake_stop(ok);
}

/* A joining node's REDIRECT is followed to the node it names, even one
 * that is not a seed. */
static void test_follows_redirect(void **state)
{
    (void)state;
    struct fake *ok = fake_start(CHORD_OK, NULL, NULL, NULL);
    struct fake *joining =
        fake_start(CHORD_REDIRECT, NULL, ok->addr, "node J is joining");
    const char *seeds[] = {joining->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), 0);
    assert_string_equal(chord_session_node(s), ok->addr);
    assert_int_equal(atomic_load(&joining->served), 1);
    assert_int_equal(atomic_load(&ok->served), 1);
    chord_session_close(s);
    fake_stop(joining);
    fake_stop(ok);
}

/* Two nodes that send each other's clients back and forth: each is tried
 * once, and the call ends at once with both named. */
static void test_redirect_loop_ends(void **state)
{
    (void)state;
    struct fake *a = fake_start(CHORD_REDIRECT, NULL, NULL, "a is joining");
    struct fake *b = fake_start(CHORD_REDIRECT, NULL, a->addr, "b is joining");
    /* Before any request reaches a (which reads it then). */
    assert_int_equal(chord_peer_from_addr(&a->hint, b->addr), 0);
    const char *seeds[] = {a->addr};
    struct chord_session *s = open_session(seeds, 1, 3000);
    int64_t t0 = now_ms();
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), -EAGAIN);
    assert_true(now_ms() - t0 < SLACK_MS);
    const char *e = chord_session_error(s);
    assert_non_null(strstr(e, "cannot reach the ring (tried "));
    assert_non_null(strstr(e, "a is joining"));
    assert_non_null(strstr(e, "b is joining"));
    assert_int_equal(atomic_load(&a->served), 1);
    assert_int_equal(atomic_load(&b->served), 1);
    chord_session_close(s);
    fake_stop(a);
    fake_stop(b);
}

/* The ring's own answers end the call: a failure the node explains, and
 * not found; the next seed is never asked. */
static void test_ring_answers_are_final(void **state)
{
    (void)state;
    struct fake *fail =
        fake_start(CHORD_UNAVAILABLE, NULL, NULL, "only 1 of 3 replicas");
    struct fake *missing = fake_start(CHORD_NOT_FOUND, NULL, NULL, NULL);
    struct fake *other = fake_start(CHORD_OK, NULL, NULL, NULL);
    const char *seeds[] = {fail->addr, other->addr};
    struct chord_session *s = open_session(seeds, 2, 3000);
    assert_int_equal(chord_session_put(s, "k", 1, "v", 1), -EIO);
    assert_string_equal(chord_session_error(s), "only 1 of 3 replicas");
    chord_session_close(s);
    const char *seeds2[] = {missing->addr, other->addr};
    s = open_session(seeds2, 2, 3000);
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(chord_session_get(s, "k", 1, &v, &len), -ENOENT);
    assert_null(v);
    chord_session_close(s);
    assert_int_equal(atomic_load(&other->served), 0);
    fake_stop(fail);
    fake_stop(missing);
    fake_stop(other);
}

static void test_open_checks(void **state)
{
    (void)state;
    struct chord_session *s = NULL;
    const char *bad[] = {"127.0.0.1:1", "nohost"};
    assert_int_equal(chord_session_open(bad, 2, 1000, &s), -EINVAL);
    assert_null(s);
    assert_int_equal(chord_session_open(bad, 1, 0, &s), -EINVAL);
    assert_int_equal(chord_session_open(bad, 0, 1000, &s), -EINVAL);
    assert_int_equal(chord_session_open(bad, 1, 1000, &s), 0);
    assert_int_equal(chord_session_set_consistency(s, 99), -EINVAL);
    assert_int_equal(chord_session_set_consistency(s, CHORD_CONSISTENCY_ALL),
                     0);
    chord_session_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_order),
        cmocka_unit_test(test_plan_share),
        cmocka_unit_test(test_plan_redirect),
        cmocka_unit_test(test_plan_summary),
        cmocka_unit_test(test_frozen_seed_then_next),
        cmocka_unit_test(test_all_frozen_within_budget),
        cmocka_unit_test(test_refused_and_try_again_move_on),
        cmocka_unit_test(test_follows_redirect),
        cmocka_unit_test(test_redirect_loop_ends),
        cmocka_unit_test(test_ring_answers_are_final),
        cmocka_unit_test(test_open_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
