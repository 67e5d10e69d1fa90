/*
 * test_transport_gate.c - the transport's defences as bookkeeping, without
 * sockets: pools and their caps, eviction of idle members, the input
 * budgets, buffer growth, the minimum frame rate, the idle timeout and the
 * per-turn read share. Times are made up; nothing sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/wire.h"
#include "io/transport_gate.h"

#define SLOTS 16

struct fx {
    struct chord_gate g;
    struct chord_gate_slot s[SLOTS];
    bool busy[SLOTS];
};

static struct fx *the_fx; /* for busy(), which gets a slot only */

static bool slot_busy(const struct chord_gate_slot *s)
{
    return the_fx->busy[s - the_fx->s];
}

/* A gate with small caps: 3 per pool, budget 100, client budget 60. */
static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    struct chord_gate_limits l;
    chord_gate_limits_default(&l);
    for (int p = 0; p < CHORD_GATE_POOLS; p++)
        l.max[p] = 3;
    l.budget = 100;
    l.client_budget = 60;
    l.evict_idle_ms = 1000;
    l.idle_timeout_ms = 5000;
    l.min_rate = 1000; /* bytes per second */
    l.grace_ms = 2000;
    l.turn_conn_max = 100;
    l.turn_max = 250;
    chord_gate_init(&f.g, &l, slot_busy);
    the_fx = &f;
    *state = &f;
    return 0;
}

/* The defaults are the documented constants, and the caps a caller gives
 * are clamped to them (the transport sizes its tables by them). */
static void test_defaults_and_clamps(void **state)
{
    (void)state;
    struct chord_gate_limits l;
    chord_gate_limits_default(&l);
    assert_int_equal(l.max[CHORD_GATE_CLIENT], CHORD_GATE_CLIENT_MAX);
    assert_int_equal(l.max[CHORD_GATE_PEER], CHORD_GATE_PEER_MAX);
    assert_int_equal(l.idle_timeout_ms, CHORD_GATE_IDLE_TIMEOUT_MS);
    assert_true(l.client_budget < l.budget);
    l.max[CHORD_GATE_PEER] = 1u << 30;
    l.client_budget = l.budget * 2;
    struct chord_gate g;
    chord_gate_init(&g, &l, NULL);
    assert_int_equal(g.lim.max[CHORD_GATE_PEER], CHORD_GATE_PEER_MAX);
    assert_int_equal(g.lim.client_budget, g.lim.budget);
}

/* A buffer grows with what arrived: not before it is nearly full, by half
 * of what it holds (at least IN_START), and never past the most. */
static void test_grow(void **state)
{
    (void)state;
    size_t most = 1000000;
    assert_int_equal(chord_gate_grow(0, 0, most), CHORD_GATE_IN_START);
    /* Room enough: no growth. */
    assert_int_equal(chord_gate_grow(8192, 4000, most), 8192);
    /* Nearly full: half again. */
    assert_int_equal(chord_gate_grow(8192, 8000, most), 12288);
    assert_int_equal(chord_gate_grow(100000, 99500, most), 150000);
    /* Capped. */
    assert_int_equal(chord_gate_grow(900000, 899500, most), most);
    /* From a 4 KiB start to 2 MiB: a few dozen steps, each at most half
     * again over the bytes held (so never preallocated). */
    size_t cap = 0, len = 0, steps = 0;
    while (len < (2u << 20)) {
        size_t next = chord_gate_grow(cap, len, 3u << 20);
        assert_true(next <= len + len / 2 + CHORD_GATE_IN_START + 1024);
        cap = next;
        len = cap; /* the read filled it */
        steps++;
    }
    assert_true(steps < 40);
}

/* Each pool has its own cap: a full client pool leaves the peer pool
 * open, and the reverse. A full pool admits a newcomer only by closing its
 * least recently active member, and only one idle long enough. */
static void test_pools_and_eviction(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    struct chord_gate_slot *victim;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 100, &victim),
                         0);
        chord_gate_add(g, &f->s[i], CHORD_GATE_CLIENT, 100 + (uint64_t)i);
    }
    /* Full, and everybody active within the last second: refused. */
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 500, &victim),
                     -ENOBUFS);
    /* Peers are not locked out by clients (nor new connections). */
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_PEER, 500, &victim), 0);
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_NEW, 500, &victim), 0);
    /* Later, the least recently active (s[0]) makes room... */
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1200, &victim), 1);
    assert_ptr_equal(victim, &f->s[0]);
    /* ...unless it was active since: then s[1]. */
    chord_gate_touch(g, &f->s[0], 1150);
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1200, &victim), 1);
    assert_ptr_equal(victim, &f->s[1]);
    /* A busy member (a reply owed) is passed over. */
    f->busy[1] = true;
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1200, &victim), 1);
    assert_ptr_equal(victim, &f->s[2]);
    f->busy[2] = true;
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1200, &victim),
                     -ENOBUFS);
    /* Removing one makes room; removing twice is harmless. */
    chord_gate_remove(g, &f->s[1]);
    chord_gate_remove(g, &f->s[1]);
    assert_int_equal(g->count[CHORD_GATE_CLIENT], 2);
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1200, &victim), 0);

    /* The reverse: peers fill their pool, clients still come in. */
    for (int i = 3; i < 6; i++)
        chord_gate_add(g, &f->s[i], CHORD_GATE_PEER, 1200);
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_PEER, 1300, &victim),
                     -ENOBUFS);
    assert_int_equal(chord_gate_admit(g, CHORD_GATE_CLIENT, 1300, &victim), 0);
}

/* A NEW connection is classified by its first frame's type. */
static void test_classify_and_move(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    assert_int_equal(chord_gate_classify(CHORD_MSG_C_GET), CHORD_GATE_CLIENT);
    assert_int_equal(chord_gate_classify(CHORD_MSG_C_STATUS),
                     CHORD_GATE_CLIENT);
    assert_int_equal(chord_gate_classify(CHORD_MSG_PING), CHORD_GATE_PEER);
    assert_int_equal(chord_gate_classify(CHORD_MSG_TRANSFER), CHORD_GATE_PEER);

    chord_gate_add(g, &f->s[0], CHORD_GATE_NEW, 0);
    struct chord_gate_slot *v;
    assert_int_equal(chord_gate_charge(g, &f->s[0], 40, &v), 0);
    assert_int_equal(g->client_charged, 40);
    chord_gate_move(g, &f->s[0], CHORD_GATE_PEER, 10);
    assert_int_equal(g->count[CHORD_GATE_NEW], 0);
    assert_int_equal(g->count[CHORD_GATE_PEER], 1);
    assert_int_equal(g->client_charged, 0);
    assert_int_equal(g->charged, 40);
    chord_gate_remove(g, &f->s[0]);
    assert_int_equal(g->charged, 0);

    /* Client requests are owed a reply on CLIENT connections only. */
    chord_gate_add(g, &f->s[1], CHORD_GATE_CLIENT, 0);
    chord_gate_request(&f->s[1], CHORD_MSG_C_PUT);
    chord_gate_request(&f->s[1], CHORD_MSG_C_GET);
    assert_int_equal(f->s[1].unanswered, 2);
    chord_gate_replied(g, &f->s[1], 5);
    chord_gate_replied(g, &f->s[1], 5);
    chord_gate_replied(g, &f->s[1], 5);
    assert_int_equal(f->s[1].unanswered, 0);
    chord_gate_add(g, &f->s[2], CHORD_GATE_PEER, 0);
    chord_gate_request(&f->s[2], CHORD_MSG_C_PUT);
    assert_int_equal(f->s[2].unanswered, 0);
}

/* The budgets: clients may hold at most client_budget, everybody budget;
 * an overflow names the largest holder, or refuses the one growing when
 * it holds the most; shrinking always succeeds. */
static void test_budget(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    struct chord_gate_slot *v;
    chord_gate_add(g, &f->s[0], CHORD_GATE_CLIENT, 0);
    chord_gate_add(g, &f->s[1], CHORD_GATE_CLIENT, 0);
    chord_gate_add(g, &f->s[2], CHORD_GATE_PEER, 0);
    assert_int_equal(chord_gate_charge(g, &f->s[0], 50, &v), 0);
    /* s[1] would take clients over 60: s[0] holds the most, name it. */
    assert_int_equal(chord_gate_charge(g, &f->s[1], 20, &v), 1);
    assert_ptr_equal(v, &f->s[0]);
    assert_int_equal(f->s[1].charged, 0); /* nothing charged yet */
    /* s[0] growing past the client budget holds the most itself. */
    assert_int_equal(chord_gate_charge(g, &f->s[0], 70, &v), -ENOBUFS);
    assert_int_equal(f->s[0].charged, 50);
    /* Peers are not held back by the client budget. */
    assert_int_equal(chord_gate_charge(g, &f->s[2], 45, &v), 0);
    assert_int_equal(g->charged, 95);
    /* Past the whole budget: the largest of all (s[0]) is named. */
    assert_int_equal(chord_gate_charge(g, &f->s[2], 49, &v), 0);
    assert_int_equal(chord_gate_charge(g, &f->s[1], 5, &v), 1);
    assert_ptr_equal(v, &f->s[0]);
    chord_gate_remove(g, &f->s[0]);
    assert_int_equal(chord_gate_charge(g, &f->s[1], 5, &v), 0);
    assert_int_equal(g->charged, 54);
    assert_int_equal(g->client_charged, 5);
    /* Shrinking. */
    assert_int_equal(chord_gate_charge(g, &f->s[2], 0, &v), 0);
    assert_int_equal(g->charged, 5);
    /* A slot not in a pool is charged nothing. */
    assert_int_equal(chord_gate_charge(g, &f->s[9], 10, &v), 0);
    assert_int_equal(f->s[9].charged, 0);
    assert_int_equal(g->charged, 5);
}

/* A frame must arrive at min_rate once grace_ms have passed since its
 * first byte; a completed frame starts the clock again. */
static void test_min_rate(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    struct chord_gate_slot *s = &f->s[0];
    chord_gate_add(g, s, CHORD_GATE_CLIENT, 0);
    assert_false(chord_gate_too_slow(g, s, 100000)); /* no frame: fine */
    chord_gate_progress(s, 10, false, 1000);
    assert_int_equal(s->frame_start_ms, 1000);
    assert_false(chord_gate_too_slow(g, s, 3000)); /* in the grace */
    /* 1.5 s after the grace, 1500 bytes are owed; 10 arrived. */
    assert_true(chord_gate_too_slow(g, s, 4500));
    chord_gate_progress(s, 1600, false, 4500);
    assert_int_equal(s->frame_start_ms, 1000); /* the same frame */
    assert_false(chord_gate_too_slow(g, s, 4500));
    /* The frame completed and a new one began at 4600. */
    chord_gate_progress(s, 5, true, 4600);
    assert_int_equal(s->frame_start_ms, 4600);
    assert_false(chord_gate_too_slow(g, s, 6000));
    chord_gate_progress(s, 0, true, 4700);
    assert_false(chord_gate_too_slow(g, s, 100000));
    /* min_rate 0: never too slow. */
    g->lim.min_rate = 0;
    chord_gate_progress(s, 1, false, 0);
    assert_false(chord_gate_too_slow(g, s, 100000));
}

/* NEW and CLIENT connections idle past the timeout are named oldest
 * first; PEER and OUT ones never; a timeout of 0 names none. */
static void test_idle(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    chord_gate_add(g, &f->s[0], CHORD_GATE_PEER, 0);
    chord_gate_add(g, &f->s[1], CHORD_GATE_OUT, 0);
    chord_gate_add(g, &f->s[2], CHORD_GATE_CLIENT, 100);
    chord_gate_add(g, &f->s[3], CHORD_GATE_NEW, 50);
    assert_null(chord_gate_idle(g, 5000));
    assert_ptr_equal(chord_gate_idle(g, 5050), &f->s[3]);
    chord_gate_remove(g, &f->s[3]);
    assert_null(chord_gate_idle(g, 5050));
    chord_gate_touch(g, &f->s[2], 4000);
    assert_null(chord_gate_idle(g, 8999));
    assert_ptr_equal(chord_gate_idle(g, 9000), &f->s[2]);
    chord_gate_remove(g, &f->s[2]);
    assert_null(chord_gate_idle(g, 1000000)); /* peers stay */
    g->lim.idle_timeout_ms = 0;
    chord_gate_add(g, &f->s[4], CHORD_GATE_CLIENT, 0);
    assert_null(chord_gate_idle(g, 1000000));
}

/* One connection reads at most turn_conn_max per loop turn, all of them
 * turn_max; a new turn starts the counts over. */
static void test_read_turns(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    for (int i = 0; i < 4; i++)
        chord_gate_add(g, &f->s[i], CHORD_GATE_PEER, 0);
    chord_gate_new_turn(g);
    assert_int_equal(chord_gate_turn_left(g, &f->s[0]), 100);
    assert_false(chord_gate_read(g, &f->s[0], 60, 1));
    assert_int_equal(chord_gate_turn_left(g, &f->s[0]), 40);
    assert_true(chord_gate_read(g, &f->s[0], 40, 1)); /* its 100 */
    assert_false(chord_gate_read(g, &f->s[1], 90, 1));
    assert_true(chord_gate_read(g, &f->s[2], 90, 1)); /* all: 280 >= 250 */
    assert_int_equal(f->s[2].active_ms, 1);
    assert_ptr_equal(g->head[CHORD_GATE_PEER], &f->s[2]); /* touched */
    chord_gate_new_turn(g);
    assert_false(chord_gate_read(g, &f->s[0], 60, 2));
    assert_false(chord_gate_read(g, &f->s[2], 60, 2));
}

/* Trimming is suggested once after a peak of buffered bytes has gone. */
static void test_trim(void **state)
{
    struct fx *f = *state;
    struct chord_gate *g = &f->g;
    g->lim.budget = g->lim.client_budget = 64u << 20;
    struct chord_gate_slot *v;
    chord_gate_add(g, &f->s[0], CHORD_GATE_CLIENT, 0);
    assert_false(chord_gate_trim(g));
    assert_int_equal(chord_gate_charge(g, &f->s[0], CHORD_GATE_TRIM_PEAK, &v),
                     0);
    assert_false(chord_gate_trim(g)); /* still held */
    chord_gate_remove(g, &f->s[0]);
    assert_true(chord_gate_trim(g));
    assert_false(chord_gate_trim(g)); /* once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_clamps),
        cmocka_unit_test(test_grow),
        cmocka_unit_test_setup(test_pools_and_eviction, setup),
        cmocka_unit_test_setup(test_classify_and_move, setup),
        cmocka_unit_test_setup(test_budget, setup),
        cmocka_unit_test_setup(test_min_rate, setup),
        cmocka_unit_test_setup(test_idle, setup),
        cmocka_unit_test_setup(test_read_turns, setup),
        cmocka_unit_test_setup(test_trim, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
