/*
 * test_fd_table.c - the failure detector's peer table (src/core/fd.c):
 * peers known only from traffic or no longer monitored are never
 * convicted, monitoring again starts afresh, forget clears an entry, the
 * least recently used unmonitored slot is recycled (monitored ones never
 * are, nor, while others are free, ones within their dead window), the
 * dead window survives forget and closes when the peer is heard, and
 * addresses that cannot be stored are ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fd_sim.h"

static void test_unmonitored_never_convicted(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    struct chord_fd_event ev[4];
    const char *a = "127.0.0.1:7001";
    const char *b = "127.0.0.1:7002";
    /* Known only from traffic: heartbeats "sent" to it are ignored. */
    chord_fd_heard(&fd, a, 2, 100);
    chord_fd_sent(&fd, a, 200);
    assert_int_equal(chord_fd_find(&fd, a)->pending_since, 0);
    /* Monitored with a pending heartbeat, then no longer monitored. */
    chord_fd_monitor(&fd, b, true, 100);
    chord_fd_sent(&fd, b, 200);
    chord_fd_monitor(&fd, b, false, 300);
    assert_int_equal(chord_fd_next_deadline(&fd), UINT64_MAX);
    for (uint64_t t = 300; t < 10000; t += 100)
        assert_int_equal(chord_fd_tick(&fd, t, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, a)->state, CHORD_PEER_ALIVE);
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_ALIVE);
    /* Monitoring again starts afresh: no stale heartbeat. */
    chord_fd_monitor(&fd, b, true, 10000);
    assert_int_equal(chord_fd_find(&fd, b)->pending_since, 0);

    /* Suspected, then no longer monitored: never promoted to DEAD, and
     * unusable until heard from. */
    chord_fd_sent(&fd, b, 10000);
    chord_fd_tick(&fd, 10500, ev, 4);
    chord_fd_tick(&fd, 10000 + 1001, ev, 4); /* initial timeout 1000 */
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    chord_fd_monitor(&fd, b, false, 11001);
    for (uint64_t t = 11100; t < 20000; t += 100)
        assert_int_equal(chord_fd_tick(&fd, t, ev, 4), 0);
    assert_int_equal(chord_fd_find(&fd, b)->state, CHORD_PEER_SUSPECTED);
    assert_false(chord_fd_usable(&fd, b));
    assert_true(chord_fd_heard(&fd, b, 3, 20000));
    assert_true(chord_fd_usable(&fd, b));
    /* sent() for an unknown peer creates nothing. */
    chord_fd_sent(&fd, "127.0.0.1:7003", 10000);
    assert_null(chord_fd_find(&fd, "127.0.0.1:7003"));
    /* Forget clears the entry. */
    chord_fd_forget(&fd, b);
    assert_null(chord_fd_find(&fd, b));
    chord_fd_free(&fd);
}

static void addr_of(char *buf, int i)
{
    snprintf(buf, CHORD_ADDR_MAX, "127.0.%d.%d:7000", i / 200, 1 + i % 200);
}

static void test_slot_recycling(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    char addr[CHORD_ADDR_MAX];
    for (int i = 0; i < CHORD_FD_PEERS; i++) {
        addr_of(addr, i);
        chord_fd_heard(&fd, addr, 1, 100 + (uint64_t)i);
    }
    /* Peer 0 is used again: peer 1 becomes the least recently used. */
    addr_of(addr, 0);
    chord_fd_heard(&fd, addr, 1, 1000);
    addr_of(addr, CHORD_FD_PEERS);
    chord_fd_heard(&fd, addr, 1, 1001);
    assert_non_null(chord_fd_find(&fd, addr));
    addr_of(addr, 1);
    assert_null(chord_fd_find(&fd, addr));
    addr_of(addr, 0);
    assert_non_null(chord_fd_find(&fd, addr));

    /* Monitored peers are never recycled. */
    addr_of(addr, 2);
    chord_fd_monitor(&fd, addr, true, 1002);
    for (int i = 3; i < CHORD_FD_PEERS; i++) {
        char other[CHORD_ADDR_MAX];
        addr_of(other, i);
        chord_fd_monitor(&fd, other, true, 1002);
    }
    addr_of(addr, 0);
    chord_fd_monitor(&fd, addr, true, 1002);
    addr_of(addr, CHORD_FD_PEERS);
    chord_fd_monitor(&fd, addr, true, 1002);
    /* Now all 64 slots are monitored: a newcomer is not tracked. */
    addr_of(addr, 500);
    chord_fd_monitor(&fd, addr, true, 2000);
    assert_false(chord_fd_heard(&fd, addr, 1, 2000));
    chord_fd_unreachable(&fd, addr, 2000);
    assert_null(chord_fd_find(&fd, addr));
    assert_true(chord_fd_usable(&fd, addr));
    addr_of(addr, 2);
    assert_non_null(chord_fd_find(&fd, addr));

    /* Unmonitoring one frees a slot for recycling. */
    addr_of(addr, 7);
    chord_fd_monitor(&fd, addr, false, 2001);
    addr_of(addr, 500);
    chord_fd_unreachable(&fd, addr, 2002);
    assert_false(chord_fd_usable(&fd, addr));
    addr_of(addr, 7);
    assert_null(chord_fd_find(&fd, addr));

    /* Addresses that cannot be stored are ignored. */
    char longaddr[CHORD_ADDR_MAX + 8];
    memset(longaddr, 'x', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    chord_fd_forget(&fd, "127.0.0.1:7000");
    chord_fd_unreachable(&fd, longaddr, 3000);
    assert_null(chord_fd_find(&fd, longaddr));
    assert_true(chord_fd_usable(&fd, longaddr));
    chord_fd_unreachable(&fd, "", 3000);
    assert_null(chord_fd_find(&fd, ""));
    chord_fd_free(&fd);
}

/* The dead window the node keeps in this table (core/peer.h's rule). */

/* Forgetting a peer drops its history but keeps a live window; without a
 * window the slot is freed. */
static void test_fd_forget_keeps_the_window(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    chord_fd_monitor(&fd, "a:1", true, 100);
    chord_fd_heard(&fd, "a:1", 3, 100);
    chord_fd_unreachable(&fd, "a:1", 200);
    chord_fd_dead_until(&fd, "a:1", 200, 5200);
    chord_fd_forget(&fd, "a:1");
    const struct chord_fd_peer *p = chord_fd_find(&fd, "a:1");
    assert_non_null(p);
    assert_false(p->monitored);
    assert_false(p->rtt_known);
    assert_true(chord_fd_is_dead(&fd, "a:1", 300));
    assert_true(chord_fd_is_dead(&fd, "a:1", 5199));
    assert_false(chord_fd_is_dead(&fd, "a:1", 5200));

    chord_fd_heard(&fd, "b:1", 3, 100);
    chord_fd_forget(&fd, "b:1");
    assert_null(chord_fd_find(&fd, "b:1"));
    assert_false(chord_fd_is_dead(&fd, "b:1", 300));
    chord_fd_free(&fd);
}

/* Hearing from a peer closes its window and makes it ALIVE; an earlier
 * end never shortens a window, a later one extends it. */
static void test_fd_heard_closes_the_window(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    chord_fd_unreachable(&fd, "a:1", 100);
    chord_fd_dead_until(&fd, "a:1", 100, 5100);
    chord_fd_dead_until(&fd, "a:1", 100, 3000); /* ignored */
    assert_true(chord_fd_is_dead(&fd, "a:1", 4000));
    chord_fd_dead_until(&fd, "a:1", 200, 5200); /* extends */
    assert_true(chord_fd_is_dead(&fd, "a:1", 5150));
    assert_false(chord_fd_usable(&fd, "a:1"));
    chord_fd_heard(&fd, "a:1", -1, 300);
    assert_false(chord_fd_is_dead(&fd, "a:1", 300));
    assert_true(chord_fd_usable(&fd, "a:1"));

    /* A window alone (no detector verdict) closes the same way. */
    chord_fd_dead_until(&fd, "b:1", 100, 5100);
    assert_true(chord_fd_usable(&fd, "b:1"));
    assert_true(chord_fd_is_dead(&fd, "b:1", 200));
    chord_fd_heard(&fd, "b:1", 2, 200);
    assert_false(chord_fd_is_dead(&fd, "b:1", 200));
    chord_fd_free(&fd);
}

/* A full table recycles the least recently used slot outside its window;
 * only when every unmonitored slot is within its window does it take the
 * least recently used of those. */
static void test_fd_recycling_spares_dead_windows(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    char addr[CHORD_ADDR_MAX];
    for (int i = 0; i < CHORD_FD_PEERS; i++) {
        addr_of(addr, i);
        chord_fd_heard(&fd, addr, 1, 100 + (uint64_t)i);
    }
    /* Peers 0 and 1, the least recently used, are within a window. */
    addr_of(addr, 0);
    chord_fd_dead_until(&fd, addr, 100, 10000);
    addr_of(addr, 1);
    chord_fd_dead_until(&fd, addr, 101, 10000);
    addr_of(addr, 100);
    chord_fd_heard(&fd, addr, 1, 1000);
    addr_of(addr, 2); /* the least recently used outside a window */
    assert_null(chord_fd_find(&fd, addr));
    addr_of(addr, 0);
    assert_true(chord_fd_is_dead(&fd, addr, 1000));
    addr_of(addr, 1);
    assert_true(chord_fd_is_dead(&fd, addr, 1000));

    /* Every unmonitored slot within a window: the oldest goes. */
    for (int i = 3; i < CHORD_FD_PEERS; i++) {
        addr_of(addr, i);
        chord_fd_dead_until(&fd, addr, 2000, 10000);
    }
    addr_of(addr, 100);
    chord_fd_dead_until(&fd, addr, 2000, 10000);
    addr_of(addr, 101);
    chord_fd_heard(&fd, addr, 1, 3000);
    addr_of(addr, 0);
    assert_null(chord_fd_find(&fd, addr));
    addr_of(addr, 1);
    assert_non_null(chord_fd_find(&fd, addr));

    /* After the windows end, they are ordinary again: the LRU goes. */
    addr_of(addr, 102);
    chord_fd_heard(&fd, addr, 1, 20000);
    addr_of(addr, 1);
    assert_null(chord_fd_find(&fd, addr));
    chord_fd_free(&fd);
}

/* A message that answers nothing, from a peer with no entry, makes none
 * (it would say no more than the absence); answers, monitoring and
 * unreachable reports do, and a known peer's entry is kept up to date. */
static void test_plain_message_makes_no_entry(void **state)
{
    (void)state;
    struct chord_fd fd;
    chord_fd_init(&fd, NULL);
    const char *a = "127.0.0.1:7001", *b = "127.0.0.1:7002";
    const char *c = "127.0.0.1:7003", *d = "127.0.0.1:7004";
    assert_false(chord_fd_heard(&fd, a, -1, 100));
    assert_null(chord_fd_find(&fd, a));
    assert_true(chord_fd_usable(&fd, a));
    assert_int_equal(fd.n_slots, 0);
    chord_fd_heard(&fd, b, 4, 100); /* an answer: its round trip */
    assert_non_null(chord_fd_find(&fd, b));
    assert_true(chord_fd_find(&fd, b)->rtt_known);
    chord_fd_monitor(&fd, c, true, 100);
    chord_fd_unreachable(&fd, d, 100);
    assert_false(chord_fd_usable(&fd, d));
    /* Known peers: a plain message revives the unreachable one. */
    assert_true(chord_fd_heard(&fd, d, -1, 200));
    assert_true(chord_fd_usable(&fd, d));
    assert_int_equal(chord_fd_find(&fd, c)->last_heard, 0);
    chord_fd_heard(&fd, c, -1, 300);
    assert_int_equal(chord_fd_find(&fd, c)->last_heard, 300);
    assert_null(chord_fd_find(&fd, a));
    chord_fd_free(&fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmonitored_never_convicted),
        cmocka_unit_test(test_slot_recycling),
        cmocka_unit_test(test_fd_forget_keeps_the_window),
        cmocka_unit_test(test_fd_heard_closes_the_window),
        cmocka_unit_test(test_fd_recycling_spares_dead_windows),
        cmocka_unit_test(test_plain_message_makes_no_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
