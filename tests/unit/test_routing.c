/*
 * test_routing.c - the routing table: successor-list rules, the closest
 * preceding peer compared with a brute-force scan, fingers filled the way
 * fix_fingers fills them compared with the true successors of a known
 * member set, removal and key ownership.
 *
 * Two kinds of identifiers are used: SHA-1 ids of loopback addresses
 * (random-looking, as in a real ring) and "small" ids whose top byte holds
 * a value and whose other bytes are zero, which make hand-checked cases
 * and wrap-around easy to write. Randomness is a seeded xorshift.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/routing.h"

/* A small deterministic PRNG (xorshift64*). */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A peer whose id is v * 2^152 (top byte v, the rest zero). */
static struct chord_peer small_peer(uint8_t v)
{
    struct chord_peer p;
    memset(&p, 0, sizeof(p));
    p.id.b[0] = v;
    snprintf(p.addr, sizeof(p.addr), "127.0.0.1:%u", 7000u + v);
    return p;
}

/* A peer whose id is the SHA-1 of its loopback address, as in dhtd. */
static struct chord_peer hashed_peer(unsigned port)
{
    struct chord_peer p;
    memset(&p, 0, sizeof(p));
    snprintf(p.addr, sizeof(p.addr), "127.0.0.%u:%u", 1 + port / 60000,
             1024 + port % 60000);
    chord_id_hash(&p.id, p.addr, strlen(p.addr));
    return p;
}

static struct chord_id small_id(uint8_t v)
{
    return small_peer(v).id;
}

/* The clockwise distance from a to b. */
static struct chord_id dist(const struct chord_id *a, const struct chord_id *b)
{
    struct chord_id d;
    chord_id_sub(&d, b, a);
    return d;
}

static bool id_is_zero(const struct chord_id *id)
{
    static const struct chord_id zero;
    return chord_id_eq(id, &zero);
}

/* The first member at or after x clockwise (the Chord successor of x). */
static const struct chord_peer *
true_successor(const struct chord_peer *m, size_t n, const struct chord_id *x)
{
    const struct chord_peer *best = NULL;
    struct chord_id best_d;
    for (size_t k = 0; k < n; k++) {
        struct chord_id d = dist(x, &m[k].id);
        if (!best || chord_id_cmp(&d, &best_d) < 0) {
            best = &m[k];
            best_d = d;
        }
    }
    return best;
}

/* A set of banned ids for the `usable` filter. */
struct banned {
    size_t n;
    struct chord_id ids[256];
    unsigned calls;
};

static bool usable_not_banned(void *ctx, const struct chord_peer *p)
{
    struct banned *b = ctx;
    b->calls++;
    for (size_t k = 0; k < b->n; k++)
        if (chord_id_eq(&b->ids[k], &p->id))
            return false;
    return true;
}

/*
 * Brute force: among cands, the one not banned whose distance from self
 * is positive and below the distance to target (the whole ring but self
 * when target is self), the largest such distance.
 */
static const struct chord_peer *
brute_closest(const struct chord_id *self, const struct chord_peer *cands,
              size_t n, const struct chord_id *target, const struct banned *ban)
{
    const struct chord_peer *best = NULL;
    struct chord_id best_d;
    struct chord_id dt = dist(self, target);
    for (size_t k = 0; k < n; k++) {
        struct chord_id d = dist(self, &cands[k].id);
        if (id_is_zero(&d))
            continue;
        if (!id_is_zero(&dt) && chord_id_cmp(&d, &dt) >= 0)
            continue;
        bool banned = false;
        for (size_t b = 0; ban && b < ban->n; b++)
            banned |= chord_id_eq(&ban->ids[b], &cands[k].id);
        if (banned)
            continue;
        if (!best || chord_id_cmp(&d, &best_d) > 0) {
            best = &cands[k];
            best_d = d;
        }
    }
    return best;
}

static void assert_peer_is(const struct chord_peer *got,
                           const struct chord_peer *want)
{
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_true(chord_id_eq(&got->id, &want->id));
    assert_string_equal(got->addr, want->addr);
}

/* A table for the tests: declared zeroed, (re)initialized here (what a
 * previous init allocated is freed), freed with chord_routing_free. */
static void rt_init(struct chord_routing *rt, const struct chord_peer *self,
                    unsigned r)
{
    chord_routing_free(rt);
    assert_int_equal(chord_routing_init(rt, self, r, CHORD_SUCC_MAX), 0);
}

/* Finger i's node (NULL: unset). */
static const struct chord_peer *fnode(const struct chord_routing *rt,
                                      unsigned i)
{
    return chord_routing_finger(rt, i);
}

/* start(i), in one of a few rotating buffers (enough for one statement). */
static const struct chord_id *fstart(const struct chord_routing *rt, unsigned i)
{
    static struct chord_id buf[4];
    static unsigned k;
    struct chord_id *s = &buf[k++ % 4];
    chord_routing_finger_start(rt, i, s);
    return s;
}

static void test_init(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = hashed_peer(1);
    rt_init(&rt, &self, 3);
    assert_int_equal(rt.r, 3);
    assert_int_equal(rt.n_succ, 0);
    assert_false(rt.has_pred);
    assert_peer_is(chord_routing_successor(&rt), &self);
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        assert_false(fnode(&rt, i) != NULL);
        /* start(i) - self == 2^i: exactly one bit set, bit i. */
        struct chord_id d = dist(&self.id, fstart(&rt, i));
        unsigned byte = CHORD_ID_BYTES - 1 - i / 8;
        for (unsigned b = 0; b < CHORD_ID_BYTES; b++)
            assert_int_equal(d.b[b], b == byte ? 1u << (i % 8) : 0);
    }
    /* Small ids: start(159) = self + 2^159 wraps around. */
    struct chord_peer top = small_peer(0xC0);
    rt_init(&rt, &top, 0);
    assert_int_equal(rt.r, 1);
    struct chord_id want = small_id(0x40);
    assert_true(chord_id_eq(fstart(&rt, 159), &want));
    rt_init(&rt, &top, 1000);
    assert_int_equal(rt.r, CHORD_SUCC_MAX);
    /* Alone, a node owns every key and has nobody to route to. */
    assert_true(chord_routing_owns(&rt, &want));
    assert_true(chord_routing_owns(&rt, &top.id));
    assert_null(chord_routing_closest_preceding(&rt, &want, NULL, NULL));
    chord_routing_free(&rt);
}

static void assert_succ_list(const struct chord_routing *rt,
                             const uint8_t *want, unsigned n)
{
    assert_int_equal(rt->n_succ, n);
    for (unsigned k = 0; k < n; k++) {
        struct chord_peer p = small_peer(want[k]);
        assert_peer_is(&rt->succ[k], &p);
    }
}

static void set_small_succ(struct chord_routing *rt, const uint8_t *head,
                           const uint8_t *tail, unsigned n_tail)
{
    struct chord_peer t[64];
    struct chord_peer h;
    for (unsigned k = 0; k < n_tail; k++)
        t[k] = small_peer(tail[k]);
    if (head)
        h = small_peer(*head);
    chord_routing_set_successors(rt, head ? &h : NULL, t, n_tail);
}

static void test_set_successors(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = small_peer(0x10);
    rt_init(&rt, &self, 4);

    uint8_t h = 0x20;
    set_small_succ(&rt, &h, (uint8_t[]){0x30, 0x40}, 2);
    assert_succ_list(&rt, (uint8_t[]){0x20, 0x30, 0x40}, 3);
    assert_peer_is(chord_routing_successor(&rt), &rt.succ[0]);
    assert_int_equal(rt.succ[0].id.b[0], 0x20);

    /* Duplicates are skipped and do not use up the capacity. */
    set_small_succ(&rt, &h,
                   (uint8_t[]){0x20, 0x30, 0x30, 0x20, 0x40, 0x50, 0x60}, 7);
    assert_succ_list(&rt, (uint8_t[]){0x20, 0x30, 0x40, 0x50}, 4);

    /* The capacity r caps the list. */
    set_small_succ(&rt, NULL, (uint8_t[]){0x11, 0x12, 0x13, 0x14, 0x15, 0x16},
                   6);
    assert_succ_list(&rt, (uint8_t[]){0x11, 0x12, 0x13, 0x14}, 4);

    /* Self closes the list: what follows it is a second lap. */
    set_small_succ(&rt, &h, (uint8_t[]){0x30, 0x10, 0x20, 0x30}, 4);
    assert_succ_list(&rt, (uint8_t[]){0x20, 0x30}, 2);
    uint8_t hs = 0x10;
    set_small_succ(&rt, &hs, (uint8_t[]){0x20, 0x30}, 2);
    assert_succ_list(&rt, NULL, 0);
    assert_peer_is(chord_routing_successor(&rt), &self);

    /* Head NULL: the tail alone; an empty tail too. */
    set_small_succ(&rt, NULL, (uint8_t[]){0x50, 0x60}, 2);
    assert_succ_list(&rt, (uint8_t[]){0x50, 0x60}, 2);
    set_small_succ(&rt, &h, NULL, 0);
    assert_succ_list(&rt, (uint8_t[]){0x20}, 1);
    set_small_succ(&rt, NULL, NULL, 0);
    assert_succ_list(&rt, NULL, 0);

    /* The tail may be the table's own list (stabilize prepends a peer). */
    set_small_succ(&rt, NULL, (uint8_t[]){0x30, 0x40, 0x50, 0x60}, 4);
    struct chord_peer p = small_peer(0x20);
    chord_routing_set_successors(&rt, &p, rt.succ, rt.n_succ);
    assert_succ_list(&rt, (uint8_t[]){0x20, 0x30, 0x40, 0x50}, 4);

    /* At the largest capacity, a longer input is cut at CHORD_SUCC_MAX. */
    rt_init(&rt, &self, CHORD_SUCC_MAX);
    struct chord_peer many[CHORD_SUCC_MAX + 8];
    for (unsigned k = 0; k < CHORD_SUCC_MAX + 8; k++)
        many[k] = hashed_peer(100 + k);
    chord_routing_set_successors(&rt, NULL, many, CHORD_SUCC_MAX + 8);
    assert_int_equal(rt.n_succ, CHORD_SUCC_MAX);
    for (unsigned k = 0; k < CHORD_SUCC_MAX; k++)
        assert_peer_is(&rt.succ[k], &many[k]);
    chord_routing_free(&rt);
}

static void test_closest_preceding_cases(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = small_peer(0xC8); /* 200 */
    rt_init(&rt, &self, 4);
    /* Successors across zero: 250, 5, 40. */
    set_small_succ(&rt, NULL, (uint8_t[]){250, 5, 40}, 3);

    struct chord_id t = small_id(10);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 5);
    t = small_id(5); /* open interval: 5 itself does not precede 5 */
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 250);
    t = small_id(250); /* between self and its successor: nobody */
    assert_null(chord_routing_closest_preceding(&rt, &t, NULL, NULL));
    t = small_id(201);
    assert_null(chord_routing_closest_preceding(&rt, &t, NULL, NULL));
    t = small_id(100); /* beyond every known peer: the farthest */
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 40);
    t = small_id(199);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 40);
    /* Target self: (self, self) is the ring but self. */
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &self.id, NULL, NULL)->id.b[0],
        40);

    /* A finger beyond the list wins; a finger equal to self never does. */
    struct chord_peer f = small_peer(90);
    chord_routing_set_finger(&rt, 158, &f);
    t = small_id(100);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 90);
    chord_routing_set_finger(&rt, 159, &self);
    t = small_id(199);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 90);

    /* The filter: skip 90 and 40, then everyone. */
    struct banned ban = {.n = 2};
    ban.ids[0] = small_id(90);
    ban.ids[1] = small_id(40);
    t = small_id(100);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, usable_not_banned, &ban)
            ->id.b[0],
        5);
    assert_true(ban.calls > 0);
    ban.ids[ban.n++] = small_id(5);
    ban.ids[ban.n++] = small_id(250);
    assert_null(
        chord_routing_closest_preceding(&rt, &t, usable_not_banned, &ban));
    chord_routing_free(&rt);
}

/*
 * Random rings: a table holding a successor list and arbitrary (even
 * wrong) fingers; closest_preceding must pick what a scan over the same
 * peers picks, for targets at, just after and between peers.
 */
static void test_closest_preceding_random(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed0101;
    unsigned port = 0;
    for (int round = 0; round < 200; round++) {
        struct chord_peer self = hashed_peer(port++);
        unsigned r = 1 + (unsigned)(rng_next(&rng) % CHORD_SUCC_MAX);
        struct chord_routing rt = {0};
        rt_init(&rt, &self, r);

        /* Members, some of them shared between list and fingers. */
        size_t n_mem = 1 + rng_next(&rng) % 60;
        struct chord_peer mem[60];
        for (size_t k = 0; k < n_mem; k++)
            mem[k] = hashed_peer(port++);
        chord_routing_set_successors(&rt, NULL, mem,
                                     (unsigned)(rng_next(&rng) % (n_mem + 1)));
        unsigned n_fingers = (unsigned)(rng_next(&rng) % 40);
        for (unsigned k = 0; k < n_fingers; k++) {
            unsigned i = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
            chord_routing_put_finger(&rt, i, &mem[rng_next(&rng) % n_mem]);
        }
        if (rng_next(&rng) % 4 == 0) { /* a finger at self is never used */
            unsigned i = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
            chord_routing_put_finger(&rt, i, &self);
        }

        /* The candidates the table holds. */
        struct chord_peer cands[CHORD_SUCC_MAX + CHORD_ID_BITS];
        size_t n_c = 0;
        for (unsigned k = 0; k < rt.n_succ; k++)
            cands[n_c++] = rt.succ[k];
        for (unsigned i = 0; i < CHORD_ID_BITS; i++)
            if (fnode(&rt, i) != NULL)
                cands[n_c++] = *fnode(&rt, i);

        struct banned ban = {.n = 0};
        if (round % 2)
            for (size_t k = 0; k < n_mem; k++)
                if (rng_next(&rng) % 3 == 0)
                    ban.ids[ban.n++] = mem[k].id;

        for (int q = 0; q < 60; q++) {
            struct chord_id t;
            switch (q % 4) {
            case 0: /* a random id */
                for (int b = 0; b < CHORD_ID_BYTES; b++)
                    t.b[b] = (uint8_t)rng_next(&rng);
                break;
            case 1: /* exactly a member */
                t = mem[rng_next(&rng) % n_mem].id;
                break;
            case 2: /* just after a member */
                chord_id_add_pow2(&t, &mem[rng_next(&rng) % n_mem].id, 0);
                break;
            default: /* self */
                t = self.id;
                break;
            }
            const struct chord_peer *want =
                brute_closest(&self.id, cands, n_c, &t, &ban);
            const struct chord_peer *got = chord_routing_closest_preceding(
                &rt, &t, ban.n ? usable_not_banned : NULL, &ban);
            assert_peer_is(got, want);
        }
        chord_routing_free(&rt);
    }
}

/* A filter that judges a peer by its contents (as dhtd's does, by
 * address): banned addresses. */
struct banned_addr {
    size_t n;
    char addr[64][CHORD_ADDR_MAX];
};

static bool usable_addr(void *ctx, const struct chord_peer *p)
{
    const struct banned_addr *b = ctx;
    for (size_t k = 0; k < b->n; k++)
        if (strcmp(b->addr[k], p->addr) == 0)
            return false;
    return true;
}

/*
 * The straightforward definition: every set finger from the top down, then
 * every successor; keep a peer in (self, target) that passes the filter
 * and is strictly farther from self than the best so far.
 */
static const struct chord_peer *
reference_closest(const struct chord_routing *rt, const struct chord_id *t,
                  chord_peer_filter usable, void *ctx)
{
    const struct chord_peer *best = NULL;
    struct chord_id best_d;
    const struct chord_peer *all[CHORD_ID_BITS + CHORD_SUCC_MAX];
    size_t n = 0;
    for (unsigned i = CHORD_ID_BITS; i-- > 0;)
        if (fnode(rt, i) != NULL)
            all[n++] = fnode(rt, i);
    for (unsigned k = 0; k < rt->n_succ; k++)
        all[n++] = &rt->succ[k];
    for (size_t k = 0; k < n; k++) {
        const struct chord_peer *p = all[k];
        if (!chord_id_in_oo(&p->id, &rt->self.id, t))
            continue;
        if (usable && !usable(ctx, p))
            continue;
        struct chord_id d = dist(&rt->self.id, &p->id);
        if (!best || chord_id_cmp(&d, &best_d) > 0) {
            best = p;
            best_d = d;
        }
    }
    return best;
}

static unsigned fix_all_fingers(struct chord_routing *rt,
                                const struct chord_peer *mem, size_t n_mem);

/*
 * Random tables built the way a node builds them (fix_fingers against a
 * ring, stale fingers set later, peers removed, the successor list
 * replaced), plus fingers written directly, among them one node seen at
 * two addresses: closest_preceding, which looks at one finger per run,
 * must return the very entry (same pointer) the full scan returns, with
 * and without suspected peers filtered out.
 */
static void test_closest_preceding_matches_full_scan(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed0404;
    unsigned port = 50000;
    unsigned compared = 0, filtered_differs = 0;
    for (int round = 0; round < 300; round++) {
        struct chord_peer self = hashed_peer(port++);
        struct chord_routing rt = {0};
        rt_init(&rt, &self, 1 + (unsigned)(rng_next(&rng) % 8));

        size_t n_mem = 1 + rng_next(&rng) % 64;
        struct chord_peer mem[65];
        for (size_t k = 0; k < n_mem; k++)
            mem[k] = hashed_peer(port++);
        mem[n_mem] = self;
        chord_routing_set_successors(&rt, NULL, mem,
                                     (unsigned)(rng_next(&rng) % (n_mem + 1)));
        if (round % 5 != 4)
            fix_all_fingers(&rt, mem, n_mem + 1);

        /* Stale news: a random member as the successor of a random start. */
        unsigned stale = (unsigned)(rng_next(&rng) % 6);
        for (unsigned k = 0; k < stale; k++)
            chord_routing_set_finger(&rt,
                                     (unsigned)(rng_next(&rng) % CHORD_ID_BITS),
                                     &mem[rng_next(&rng) % n_mem]);
        /* Failures: fingers cleared, leaving gaps between runs. */
        unsigned gone = (unsigned)(rng_next(&rng) % 3);
        for (unsigned k = 0; k < gone; k++)
            chord_routing_remove(&rt, &mem[rng_next(&rng) % n_mem].id);
        /* Fingers written directly: one node at another address inside a
         * run, and scattered entries. */
        if (round % 3 == 0) {
            unsigned i = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
            if (fnode(&rt, i)) {
                struct chord_peer p = *fnode(&rt, i);
                size_t len = strlen(p.addr);
                p.addr[len - 1] = p.addr[len - 1] == '1' ? '2' : '1';
                chord_routing_put_finger(&rt, i, &p);
            }
            for (unsigned k = rng_next(&rng) % 4; k > 0; k--) {
                unsigned j = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
                chord_routing_put_finger(&rt, j, &mem[rng_next(&rng) % n_mem]);
            }
        }

        /* Suspects: a random third of the members and of the finger
         * addresses as they are now. */
        struct banned_addr ban = {.n = 0};
        for (size_t k = 0; k < n_mem && ban.n < 48; k++)
            if (rng_next(&rng) % 3 == 0)
                snprintf(ban.addr[ban.n++], CHORD_ADDR_MAX, "%s", mem[k].addr);
        for (unsigned k = 0; k < 8 && ban.n < 64; k++) {
            unsigned i = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
            if ((fnode(&rt, i) != NULL) && rng_next(&rng) % 2)
                snprintf(ban.addr[ban.n++], CHORD_ADDR_MAX, "%s",
                         fnode(&rt, i)->addr);
        }

        for (int q = 0; q < 80; q++) {
            struct chord_id t;
            switch (q % 4) {
            case 0:
                for (int b = 0; b < CHORD_ID_BYTES; b++)
                    t.b[b] = (uint8_t)rng_next(&rng);
                break;
            case 1:
                t = mem[rng_next(&rng) % n_mem].id;
                break;
            case 2:
                chord_id_add_pow2(&t, &mem[rng_next(&rng) % n_mem].id, 0);
                break;
            default:
                t = self.id;
                break;
            }
            const struct chord_peer *want =
                reference_closest(&rt, &t, NULL, NULL);
            assert_ptr_equal(
                chord_routing_closest_preceding(&rt, &t, NULL, NULL), want);
            const struct chord_peer *want_f =
                reference_closest(&rt, &t, usable_addr, &ban);
            assert_ptr_equal(
                chord_routing_closest_preceding(&rt, &t, usable_addr, &ban),
                want_f);
            compared += 2;
            filtered_differs += want != want_f;
        }
        chord_routing_free(&rt);
    }
    /* The filter mattered in a good share of the queries. */
    assert_true(filtered_differs > compared / 20);
}

/* Fill the fingers as fix_fingers does, against a known member set. */
static unsigned fix_all_fingers(struct chord_routing *rt,
                                const struct chord_peer *mem, size_t n_mem)
{
    unsigned calls = 0;
    unsigned i = 0;
    while (i < CHORD_ID_BITS) {
        const struct chord_peer *s = true_successor(mem, n_mem, fstart(rt, i));
        unsigned next = chord_routing_set_finger(rt, i, s);
        assert_true(next > i);
        assert_true(next <= CHORD_ID_BITS);
        /* The next index is the first whose successor differs. */
        if (next < CHORD_ID_BITS) {
            const struct chord_peer *s2 =
                true_successor(mem, n_mem, fstart(rt, next));
            assert_false(chord_id_eq(&s2->id, &s->id));
        }
        i = next;
        calls++;
    }
    return calls;
}

static void assert_fingers_true(const struct chord_routing *rt,
                                const struct chord_peer *mem, size_t n_mem)
{
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        assert_true(fnode(rt, i) != NULL);
        assert_peer_is(fnode(rt, i), true_successor(mem, n_mem, fstart(rt, i)));
    }
}

/* Distinct consecutive runs of finger values (one lookup each). */
static unsigned finger_runs(const struct chord_routing *rt)
{
    unsigned runs = 1;
    for (unsigned i = 1; i < CHORD_ID_BITS; i++)
        runs += !chord_id_eq(&fnode(rt, i)->id, &fnode(rt, i - 1)->id);
    return runs;
}

static void test_set_finger_model(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 5, 17, 64, 300};
    uint64_t rng = 0x5eed0202;
    unsigned port = 5000;
    struct chord_peer *mem = calloc(300, sizeof(*mem));
    assert_non_null(mem);
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (int round = 0; round < 20; round++) {
            size_t n = sizes[si];
            for (size_t k = 0; k < n; k++)
                mem[k] = hashed_peer(port++);
            struct chord_routing rt = {0};
            const struct chord_peer *self = &mem[rng_next(&rng) % n];
            rt_init(&rt, self, 3);
            unsigned calls = fix_all_fingers(&rt, mem, n);
            assert_fingers_true(&rt, mem, n);
            /* One set_finger call per distinct run, no more. */
            assert_int_equal(calls, finger_runs(&rt));
            if (n == 1)
                assert_int_equal(calls, 1);

            /* Refreshing single fingers in any order keeps them true. */
            const struct chord_peer *truth[CHORD_ID_BITS];
            for (unsigned j = 0; j < CHORD_ID_BITS; j++)
                truth[j] = true_successor(mem, n, fstart(&rt, j));
            rt_init(&rt, self, 3);
            for (int k = 0; k < 300; k++) {
                unsigned i = (unsigned)(rng_next(&rng) % CHORD_ID_BITS);
                unsigned next = chord_routing_set_finger(&rt, i, truth[i]);
                for (unsigned j = i; j < next; j++)
                    assert_true(fnode(&rt, j) != NULL);
                for (unsigned j = 0; j < CHORD_ID_BITS; j++)
                    if (fnode(&rt, j) != NULL)
                        assert_peer_is(fnode(&rt, j), truth[j]);
            }
            chord_routing_free(&rt);
        }
    }
    free(mem);

    /* Small ids, with members on both sides of zero. */
    static const uint8_t small[] = {0x05, 0x10, 0x11, 0x40, 0x90, 0xF0};
    struct chord_peer sm[6];
    for (int k = 0; k < 6; k++)
        sm[k] = small_peer(small[k]);
    for (int k = 0; k < 6; k++) {
        struct chord_routing rt = {0};
        rt_init(&rt, &sm[k], 2);
        fix_all_fingers(&rt, sm, 6);
        assert_fingers_true(&rt, sm, 6);
        chord_routing_free(&rt);
    }
}

static void test_set_finger_edges(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = small_peer(0xF0);
    struct chord_peer past_zero = small_peer(0x05);
    rt_init(&rt, &self, 2);

    /* Wrap-around: 0x05 is 0x15 units (of 2^152) after 0xF0, so starts
     * up to 2^156 (16 units) have it as successor, 2^157 (32) not. */
    assert_int_equal(chord_routing_set_finger(&rt, 0, &past_zero), 157);
    for (unsigned i = 0; i < 157; i++)
        assert_peer_is(fnode(&rt, i), &past_zero);
    assert_false(fnode(&rt, 157) != NULL);
    assert_false(fnode(&rt, 159) != NULL);

    /* A node exactly at a start settles that start but not the next. */
    struct chord_peer at = small_peer(0xF8); /* self + 2^155 */
    rt_init(&rt, &self, 2);
    assert_int_equal(chord_routing_set_finger(&rt, 155, &at), 156);
    assert_true(fnode(&rt, 155) != NULL);
    assert_false(fnode(&rt, 154) != NULL);
    assert_false(fnode(&rt, 156) != NULL);
    assert_int_equal(chord_routing_set_finger(&rt, 0, &at), 156);

    /* A node before start(i) (stale news) settles only finger i. */
    struct chord_peer near = small_peer(0xF1); /* self + 2^152 */
    rt_init(&rt, &self, 2);
    assert_int_equal(chord_routing_set_finger(&rt, 158, &near), 159);
    assert_false(fnode(&rt, 159) != NULL);

    /* Self as the successor (one-node ring): every finger from i on. */
    rt_init(&rt, &self, 2);
    assert_int_equal(chord_routing_set_finger(&rt, 40, &self), CHORD_ID_BITS);
    assert_false(fnode(&rt, 39) != NULL);
    for (unsigned i = 40; i < CHORD_ID_BITS; i++)
        assert_peer_is(fnode(&rt, i), &self);

    /* The last finger, and an index out of range. */
    assert_int_equal(chord_routing_set_finger(&rt, 159, &past_zero),
                     CHORD_ID_BITS);
    assert_int_equal(chord_routing_set_finger(&rt, CHORD_ID_BITS, &past_zero),
                     CHORD_ID_BITS);

    /* The node may be a finger of the same table. */
    rt_init(&rt, &self, 2);
    chord_routing_set_finger(&rt, 157, &past_zero);
    chord_routing_set_finger(&rt, 100, fnode(&rt, 157));
    assert_peer_is(fnode(&rt, 100), &past_zero);
    chord_routing_free(&rt);
}

static void test_remove(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = small_peer(0x10);
    rt_init(&rt, &self, 4);
    set_small_succ(&rt, NULL, (uint8_t[]){0x20, 0x30, 0x40}, 3);
    struct chord_peer members[] = {self, small_peer(0x20), small_peer(0x30),
                                   small_peer(0x40), small_peer(0x80)};
    fix_all_fingers(&rt, members, 5);
    rt.has_pred = true;
    rt.pred = small_peer(0x80);

    struct chord_id gone = small_id(0x30);
    assert_true(chord_routing_remove(&rt, &gone));
    assert_succ_list(&rt, (uint8_t[]){0x20, 0x40}, 2);
    unsigned set = 0;
    for (unsigned i = 0; i < CHORD_ID_BITS; i++) {
        if (!fnode(&rt, i))
            continue;
        set++;
        assert_false(chord_id_eq(&fnode(&rt, i)->id, &gone));
        /* Other fingers keep their true successor. */
        assert_peer_is(fnode(&rt, i),
                       true_successor(members, 5, fstart(&rt, i)));
    }
    /* Starts 0x10+..0x20 lead to 0x20, start 0x30 (finger 157) to 0x30,
     * start 0x50 to 0x80, start 0x90 around to self: only 157 went. */
    assert_false(fnode(&rt, 157) != NULL);
    assert_true(fnode(&rt, 156) != NULL);
    assert_true(fnode(&rt, 158) != NULL);
    assert_int_equal(set, CHORD_ID_BITS - 1);
    /* Routing no longer offers it. */
    struct chord_id t = small_id(0x38);
    assert_int_equal(
        chord_routing_closest_preceding(&rt, &t, NULL, NULL)->id.b[0], 0x20);
    assert_false(chord_routing_remove(&rt, &gone));

    /* The predecessor is kept even when it is the removed peer. */
    struct chord_id pred = small_id(0x80);
    assert_true(chord_routing_remove(&rt, &pred));
    assert_false(fnode(&rt, 158) != NULL);
    assert_true(rt.has_pred);
    assert_int_equal(rt.pred.id.b[0], 0x80);

    /* Removing the successor: the next one takes over, order kept. */
    struct chord_id first = small_id(0x20);
    assert_true(chord_routing_remove(&rt, &first));
    assert_succ_list(&rt, (uint8_t[]){0x40}, 1);
    assert_int_equal(chord_routing_successor(&rt)->id.b[0], 0x40);
    struct chord_id last = small_id(0x40);
    assert_true(chord_routing_remove(&rt, &last));
    assert_peer_is(chord_routing_successor(&rt), &self);
    chord_routing_free(&rt);
}

static void test_owns(void **state)
{
    (void)state;
    struct chord_routing rt = {0};
    struct chord_peer self = small_peer(0x40);
    rt_init(&rt, &self, 3);
    struct chord_id k;

    /* Alone: everything. */
    for (unsigned v = 0; v < 256; v += 15) {
        k = small_id((uint8_t)v);
        assert_true(chord_routing_owns(&rt, &k));
    }

    /* Successors but no predecessor: all but (self, succ]. */
    set_small_succ(&rt, NULL, (uint8_t[]){0x80, 0xC0}, 2);
    k = small_id(0x40);
    assert_true(chord_routing_owns(&rt, &k));
    k = small_id(0x41);
    assert_false(chord_routing_owns(&rt, &k));
    k = small_id(0x80);
    assert_false(chord_routing_owns(&rt, &k));
    k = small_id(0x81);
    assert_true(chord_routing_owns(&rt, &k));
    k = small_id(0x00);
    assert_true(chord_routing_owns(&rt, &k));

    /* With a predecessor: exactly (pred, self], across zero too. */
    rt.has_pred = true;
    rt.pred = small_peer(0xC0);
    for (unsigned v = 0; v < 256; v++) {
        k = small_id((uint8_t)v);
        bool want = v > 0xC0 || v <= 0x40;
        assert_int_equal(chord_routing_owns(&rt, &k), want);
    }
    rt.pred = small_peer(0x20);
    for (unsigned v = 0; v < 256; v++) {
        k = small_id((uint8_t)v);
        bool want = v > 0x20 && v <= 0x40;
        assert_int_equal(chord_routing_owns(&rt, &k), want);
    }
    /* Bits below the top byte count: just after pred is owned. */
    chord_id_add_pow2(&k, &rt.pred.id, 0);
    assert_true(chord_routing_owns(&rt, &k));
    assert_false(chord_routing_owns(&rt, &rt.pred.id));

    /* A predecessor known, the list empty: (pred, self] still rules. */
    chord_routing_set_successors(&rt, NULL, NULL, 0);
    k = small_id(0x10);
    assert_false(chord_routing_owns(&rt, &k));

    /* Random SHA-1 ids against the distance definition. */
    uint64_t rng = 0x5eed0303;
    struct chord_peer hs = hashed_peer(9), hp = hashed_peer(10);
    rt_init(&rt, &hs, 3);
    rt.has_pred = true;
    rt.pred = hp;
    struct chord_id span = dist(&hp.id, &hs.id);
    for (int q = 0; q < 2000; q++) {
        for (int b = 0; b < CHORD_ID_BYTES; b++)
            k.b[b] = (uint8_t)rng_next(&rng);
        if (q % 10 == 0) /* sometimes force the top byte near the pair */
            k.b[0] = (q % 20) ? hs.id.b[0] : hp.id.b[0];
        struct chord_id d = dist(&hp.id, &k);
        bool want = !id_is_zero(&d) && chord_id_cmp(&d, &span) <= 0;
        assert_int_equal(chord_routing_owns(&rt, &k), want);
    }
    chord_routing_free(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_set_successors),
        cmocka_unit_test(test_closest_preceding_cases),
        cmocka_unit_test(test_closest_preceding_random),
        cmocka_unit_test(test_closest_preceding_matches_full_scan),
        cmocka_unit_test(test_set_finger_model),
        cmocka_unit_test(test_set_finger_edges),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_owns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
