/*
 * test_scan.c - the owner's side of a dump and a load (scan.c and the
 * restore path of coord.c and replica.c), on node_net's hand-driven ring:
 *
 *   - a scan page holds exactly the live keys of the owner's range after
 *     the cursor, in ring order, and names the range and the successor;
 *   - pages of one key each walk the same keys in the same order, each
 *     page reaching the id of its last key;
 *   - a node asked for a range it does not own redirects to the owner's
 *     side, and a deleted key is not in any page;
 *   - a restore keeps the version it carries, repeating it changes
 *     nothing, an older one does not overwrite a newer copy, the owner's
 *     clock moves past it (a later put is newer), and a restore without a
 *     version is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chord/node.h"
#include "core/dvv.h"
#include "core/store.h"
#include "node_net.h"

#define N_KEYS 60

static const uint8_t pos3[] = {10, 100, 200};

/* Put N_KEYS keys "k0".."k59" through node 0. */
static void put_keys(struct net *net)
{
    for (int i = 0; i < N_KEYS; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        client(net, 0, CHORD_MSG_C_PUT, key, value);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
}

/* Send C_SCAN(after, max) to node i; the reply is net->last_reply. */
static void scan(struct net *net, int i, const struct chord_id *after,
                 uint32_t max)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_SCAN, 5);
    m->range_lo = *after;
    m->scan_max = max;
    client_msg(net, i, m);
    free(m);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_SCAN_RESULT);
}

/* The ids of the keys of the last page, checked to lie in (lo, hi] and
 * to come in ring order from lo; how many. */
static unsigned page_ids(struct net *net, const struct chord_id *lo,
                         struct chord_id *ids, unsigned cap)
{
    struct chord_bytes cur = net->last_reply.items_raw;
    struct chord_item it;
    unsigned n = 0;
    struct chord_id prev_dist;
    while (chord_items_next(&cur, &it) == 1) {
        assert_true(n < cap);
        assert_false(it.tombstone);
        chord_id_hash(&ids[n], it.key.data, it.key.len);
        assert_true(chord_id_in_oc(&ids[n], lo, &net->last_reply.range_hi));
        struct chord_id dist;
        chord_id_sub(&dist, &ids[n], lo);
        if (n > 0)
            assert_true(chord_id_cmp(&prev_dist, &dist) < 0);
        prev_dist = dist;
        n++;
    }
    assert_int_equal(n, net->last_reply.n_items);
    return n;
}

/* How many of the keys k0.. have ids in (lo, hi]. */
static unsigned keys_in(const struct chord_id *lo, const struct chord_id *hi)
{
    unsigned n = 0;
    for (int i = 0; i < N_KEYS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        n += chord_id_in_oc(&kid, lo, hi);
    }
    return n;
}

static void test_page_is_the_owners_range(void **state)
{
    (void)state;
    struct net *net = ring(pos3, 3);
    put_keys(net);
    struct chord_id lo = small_id(10), hi = small_id(100);
    scan(net, 1, &lo, 0);
    const struct chord_msg *r = &net->last_reply;
    assert_int_equal(r->status, CHORD_OK);
    assert_int_equal(pos_of(&r->owner), 100);
    assert_true(chord_id_eq(&r->range_lo, &lo));
    assert_true(chord_id_eq(&r->range_hi, &hi)); /* the range is done */
    assert_int_equal(pos_of(&r->hint), 200);     /* where the walk goes */
    struct chord_id ids[N_KEYS];
    unsigned n = page_ids(net, &lo, ids, N_KEYS);
    assert_int_equal(n, keys_in(&lo, &hi));
    assert_true(n > 0);

    /* From a cursor inside the range: only what follows it. */
    struct chord_id mid = small_id(50);
    scan(net, 1, &mid, 0);
    assert_int_equal(net->last_reply.status, CHORD_OK);
    assert_int_equal(page_ids(net, &mid, ids, N_KEYS), keys_in(&mid, &hi));
    net_free(net);
}

static void test_small_pages_walk_the_same_keys(void **state)
{
    (void)state;
    struct net *net = ring(pos3, 3);
    put_keys(net);
    struct chord_id lo = small_id(100), hi = small_id(200);
    scan(net, 2, &lo, 0);
    struct chord_id whole[N_KEYS], paged[N_KEYS];
    unsigned n = page_ids(net, &lo, whole, N_KEYS);
    assert_true(n > 1);

    struct chord_id cursor = lo;
    unsigned got = 0;
    for (unsigned pages = 0; pages <= n; pages++) {
        scan(net, 2, &cursor, 1); /* 1 byte: one key per page */
        assert_int_equal(net->last_reply.status, CHORD_OK);
        unsigned k = page_ids(net, &cursor, paged + got, N_KEYS - got);
        if (chord_id_eq(&net->last_reply.range_hi, &hi)) {
            assert_true(k <= 1);
            got += k;
            break;
        }
        assert_int_equal(k, 1);
        /* a page that stops early reaches its last key exactly */
        assert_true(chord_id_eq(&net->last_reply.range_hi, &paged[got]));
        cursor = net->last_reply.range_hi;
        got += k;
    }
    assert_int_equal(got, n);
    assert_memory_equal(whole, paged, n * sizeof(whole[0]));
    net_free(net);
}

static void test_not_owner_redirects_and_deleted_keys_are_left_out(void **state)
{
    (void)state;
    struct net *net = ring(pos3, 3);
    put_keys(net);
    struct chord_id after = small_id(150);
    scan(net, 1, &after, 0); /* 151.. belongs to 200 */
    assert_int_equal(net->last_reply.status, CHORD_REDIRECT);
    assert_int_equal(pos_of(&net->last_reply.hint), 200);
    assert_int_equal(net->last_reply.n_items, 0);

    /* Delete every key, then no page holds one. */
    for (int i = 0; i < N_KEYS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        client(net, 0, CHORD_MSG_C_DEL, key, NULL);
        assert_int_equal(net->last_reply.status, CHORD_OK);
    }
    for (int i = 0; i < 3; i++) {
        struct chord_id lo = small_id(pos3[(i + 2) % 3]);
        scan(net, i, &lo, 0);
        assert_int_equal(net->last_reply.status, CHORD_OK);
        assert_int_equal(net->last_reply.n_items, 0);
    }
    net_free(net);
}

/* Send C_RESTORE of key/value at version (counter, writer byte) to node
 * 0 and return the reply's status. */
static uint8_t restore(struct net *net, const char *key, const char *value,
                       uint64_t counter, uint8_t writer)
{
    struct chord_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    chord_msg_init(m, CHORD_MSG_C_RESTORE, 6);
    m->key.data = (const uint8_t *)key;
    m->key.len = strlen(key);
    m->value.data = (const uint8_t *)value;
    m->value.len = strlen(value);
    m->version.counter = counter;
    memset(m->version.writer.b, writer, CHORD_ID_BYTES);
    client_msg(net, 0, m);
    free(m);
    assert_int_equal(net->last_reply.type, CHORD_MSG_C_RESULT);
    return net->last_reply.status;
}

/* The owner's copy of key (node index of the owner among pos3). */
/* The one live value of entry e (a restore that superseded another
 * writer's version leaves a state whose vector names both): its bytes
 * and length, asserted to be exactly one. */
static struct chord_bytes live_value(const struct chord_store_entry *e)
{
    static struct chord_dvv d; /* the value borrows from the store */
    struct chord_item it = {0};
    chord_store_entry_item(e, &it);
    assert_int_equal(chord_dvv_from_item(&it, &d), 0);
    assert_int_equal(chord_dvv_live(&d, 0), 1);
    for (unsigned i = 0; i < d.n_sib; i++)
        if (chord_dvv_sibling_live(&d, i, 0))
            return d.sib[i].value;
    return (struct chord_bytes){0};
}

static const struct chord_store_entry *owner_copy(struct net *net,
                                                  const char *key)
{
    static struct chord_store_entry fv; /* the view outlives the call */
    for (int i = 0; i < 3; i++) {
        struct chord_id kid;
        chord_id_hash(&kid, key, strlen(key));
        struct chord_id lo = small_id(pos3[(i + 2) % 3]);
        struct chord_id hi = small_id(pos3[i]);
        if (chord_id_in_oc(&kid, &lo, &hi))
            return chord_store_find(chord_node_store(net->node[i]), key,
                                    strlen(key), &fv);
    }
    return NULL;
}

static void test_restore_keeps_versions_and_is_idempotent(void **state)
{
    struct chord_store_entry fv;
    (void)state;
    struct net *net = ring_r(pos3, 3, 3);
    assert_int_equal(restore(net, "r1", "old", 5000, 0xab), CHORD_OK);
    const struct chord_store_entry *e = owner_copy(net, "r1");
    assert_non_null(e);
    assert_true(e->version.counter == 5000);
    assert_int_equal(e->version.writer.b[0], 0xab);
    assert_int_equal(e->value_len, 3);
    assert_memory_equal(e->value, "old", 3);
    /* every replica holds the same copy */
    for (int i = 0; i < 3; i++) {
        const struct chord_store_entry *c =
            chord_store_find(chord_node_store(net->node[i]), "r1", 2, &fv);
        assert_non_null(c);
        assert_true(c->version.counter == 5000);
    }

    /* Again: nothing changes; an older version: nothing changes. */
    assert_int_equal(restore(net, "r1", "old", 5000, 0xab), CHORD_OK);
    assert_int_equal(restore(net, "r1", "older", 4999, 0xff), CHORD_OK);
    e = owner_copy(net, "r1");
    assert_true(e->version.counter == 5000);
    assert_int_equal(e->value_len, 3);

    /* A newer one wins; a put after it is newer still. */
    assert_int_equal(restore(net, "r1", "newer", 5001, 0x01), CHORD_OK);
    e = owner_copy(net, "r1");
    assert_true(e->version.counter == 5001);
    assert_int_equal(live_value(e).len, 5);
    client(net, 0, CHORD_MSG_C_PUT, "r1", "put");
    assert_int_equal(net->last_reply.status, CHORD_OK);
    e = owner_copy(net, "r1");
    assert_true(e->version.counter > 5001);
    assert_int_equal(live_value(e).len, 3);
    assert_memory_equal(live_value(e).data, "put", 3);

    /* No version: refused. */
    assert_int_equal(restore(net, "r2", "x", 0, 0), CHORD_BAD_REQUEST);
    assert_null(owner_copy(net, "r2"));
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_is_the_owners_range),
        cmocka_unit_test(test_small_pages_walk_the_same_keys),
        cmocka_unit_test(
            test_not_owner_redirects_and_deleted_keys_are_left_out),
        cmocka_unit_test(test_restore_keeps_versions_and_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
