/*
 * test_seq.c - the id-keyed record FIFO (src/core/seq.c): records keep
 * their ids and contents while the buffer doubles in a burst and halves
 * again once it is mostly idle, with records finished out of order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/seq.h"

struct rec {
    struct chord_seq_hdr h;
    uint64_t value;
};

/* Every record from first_id on that is live holds value == 7 * id. */
static void assert_contents(struct chord_seq *q)
{
    for (uint64_t id = q->first_id; id < q->next_id; id++) {
        struct rec *r = chord_seq_find(q, id);
        if (r)
            assert_int_equal(r->value, 7 * id);
    }
}

static void push_n(struct chord_seq *q, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        struct rec *r = chord_seq_push(q);
        assert_non_null(r);
        r->value = 7 * r->h.id;
    }
}

static void test_burst_grows_then_shrinks(void **state)
{
    (void)state;
    struct chord_seq q;
    chord_seq_init(&q, sizeof(struct rec));
    push_n(&q, 3);
    size_t small = q.cap;
    assert_true(small >= 3 && small <= 4);

    /* A burst of 100, every third finished at once (out of order). */
    push_n(&q, 100);
    assert_true(q.cap >= 103);
    for (uint64_t id = q.first_id + 1; id < q.next_id; id += 3)
        chord_seq_finish(&q, chord_seq_find(&q, id));
    assert_contents(&q);
    size_t big = q.cap;

    /* Drain from the head, pushing one now and then: the buffer shrinks
     * back while every record left keeps its id and contents. */
    unsigned pushed = 0, steps = 0;
    while (q.live > 2 && steps++ < 1000) {
        struct rec *head = chord_seq_head(&q);
        assert_non_null(head);
        assert_int_equal(head->value, 7 * head->h.id);
        chord_seq_finish(&q, head);
        if (steps % 5 == 0) {
            push_n(&q, 1);
            pushed++;
        }
        assert_contents(&q);
    }
    push_n(&q, 1);
    assert_true(pushed > 0);
    assert_true(q.cap < big);
    assert_true(q.cap <= 8);
    assert_contents(&q);
    assert_int_equal(q.live, 3);
    chord_seq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_grows_then_shrinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
