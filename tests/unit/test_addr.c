/*
 * test_addr.c - the one parser of node addresses (src/core/addr.c): the
 * three host forms and their canonical spelling, ports and their bounds,
 * the length cap, loopback and wildcard tests, and garbage of every kind
 * refused without touching the output.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chord/addr.h"

/* Parse `in` (port 0 allowed) and check its kind and canonical form. */
static void expect_canon(const char *in, int kind, const char *canon)
{
    struct chord_addr a;
    int rc = chord_addr_split(in, CHORD_ADDR_ANY_PORT, &a);
    if (rc)
        fail_msg("'%s' refused (%d)", in, rc);
    if (a.kind != kind)
        fail_msg("'%s': kind %d, expected %d", in, a.kind, kind);
    char out[CHORD_ADDR_MAX];
    assert_int_equal(chord_addr_format(&a, out), 0);
    if (strcmp(out, canon) != 0)
        fail_msg("'%s' written '%s', expected '%s'", in, out, canon);
    /* The canonical form parses again into itself. */
    char again[CHORD_ADDR_MAX];
    assert_int_equal(chord_addr_canonical(out, CHORD_ADDR_ANY_PORT, again), 0);
    assert_string_equal(again, out);
}

static void test_ipv4(void **state)
{
    (void)state;
    expect_canon("127.0.0.1:7000", CHORD_ADDR_V4, "127.0.0.1:7000");
    expect_canon("192.0.2.255:65535", CHORD_ADDR_V4, "192.0.2.255:65535");
    expect_canon("0.0.0.0:0", CHORD_ADDR_V4, "0.0.0.0:0");
    struct chord_addr a;
    assert_int_equal(chord_addr_split("192.0.2.7:1", 0, &a), 0);
    assert_string_equal(a.host, "192.0.2.7");
    assert_int_equal(a.port, 1);
}

static void test_ipv6(void **state)
{
    (void)state;
    expect_canon("[::1]:7000", CHORD_ADDR_V6, "[::1]:7000");
    expect_canon("[2001:DB8:0:0:0:0:0:1]:80", CHORD_ADDR_V6,
                 "[2001:db8::1]:80");
    expect_canon("[::]:7000", CHORD_ADDR_V6, "[::]:7000");
    expect_canon("[::ffff:192.0.2.1]:9", CHORD_ADDR_V6, "[::ffff:192.0.2.1]:9");
    struct chord_addr a;
    assert_int_equal(chord_addr_split("[2001:db8::5]:7000", 0, &a), 0);
    assert_string_equal(a.host, "2001:db8::5"); /* without brackets */
}

static void test_names(void **state)
{
    (void)state;
    expect_canon("localhost:7000", CHORD_ADDR_NAME, "localhost:7000");
    expect_canon("Node-1.Example.ORG:7000", CHORD_ADDR_NAME,
                 "node-1.example.org:7000");
    expect_canon("n3:1", CHORD_ADDR_NAME, "n3:1");
    expect_canon("3com.example:1", CHORD_ADDR_NAME, "3com.example:1");
    /* A label of 63 bytes is fine. */
    char name[CHORD_ADDR_MAX];
    memset(name, 'a', 57);
    strcpy(name + 57, ":7000");
    struct chord_addr a;
    assert_int_equal(chord_addr_split(name, 0, &a), 0);
}

static void test_ports(void **state)
{
    (void)state;
    struct chord_addr a;
    assert_int_equal(chord_addr_split("127.0.0.1:0", 0, &a), -ERANGE);
    assert_int_equal(chord_addr_split("127.0.0.1:0", CHORD_ADDR_ANY_PORT, &a),
                     0);
    assert_int_equal(a.port, 0);
    assert_int_equal(
        chord_addr_split("127.0.0.1:65536", CHORD_ADDR_ANY_PORT, &a), -ERANGE);
    assert_int_equal(chord_addr_split("[::1]:700000", 0, &a), -ERANGE);
    static const char *const bad[] = {
        "127.0.0.1:",    "127.0.0.1:-1",  "127.0.0.1:+80", "127.0.0.1:80x",
        "127.0.0.1: 80", "127.0.0.1:080", "127.0.0.1:00",  "[::1]:",
        "[::1]",         "host:0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (chord_addr_split(bad[i], CHORD_ADDR_ANY_PORT, &a) != -EINVAL)
            fail_msg("accepted bad port in '%s'", bad[i]);
}

static void test_too_long(void **state)
{
    (void)state;
    /* 63 bytes is the most; 64 is refused as too long, not cut. */
    char s[CHORD_ADDR_MAX + 8];
    memset(s, 'a', sizeof s);
    memcpy(s + CHORD_ADDR_MAX - 1 - 5, ":7000", 6); /* 63 bytes */
    s[20] = '.';
    assert_int_equal(strlen(s), CHORD_ADDR_MAX - 1);
    assert_int_equal(chord_addr_split(s, 0, NULL), 0);
    memset(s, 'a', sizeof s);
    s[20] = '.';
    memcpy(s + CHORD_ADDR_MAX - 5, ":7000", 6); /* 64 bytes */
    assert_int_equal(chord_addr_split(s, 0, NULL), -ENAMETOOLONG);
    assert_non_null(strstr(chord_addr_strerror(-ENAMETOOLONG), "63"));
    /* A name label over 63 bytes is not a name. */
    memset(s, 'b', 64);
    strcpy(s + 64, ":1");
    assert_int_not_equal(chord_addr_split(s, 0, NULL), 0);
}

static void test_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        ":",
        ":7000",
        "7000",
        "127.0.0.1",
        "127.1:80",
        "256.0.0.1:80",
        "1.2.3.4.5:80",
        "127.0.0.01:80",
        "::1:80",
        "[::1:80",
        "[]:80",
        "[::1]x:80",
        "[fe80::1%eth0]:80",
        "[192.0.2.1]:80",
        "[nodename]:80",
        "exa_mple.com:80",
        "-node.example:80",
        "node-.example:80",
        "node..example:80",
        ".node:80",
        "node.example.:80",
        "no de:80",
        "node\x01:80",
        "n\xc3\xa9:80",
        "1.2.3:80",
        "127.0.0.1:8080:9",
    };
    struct chord_addr a;
    memset(&a, 0x5a, sizeof a);
    struct chord_addr untouched = a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = chord_addr_split(bad[i], CHORD_ADDR_ANY_PORT, &a);
        if (rc == 0)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(chord_addr_strerror(rc));
    }
    assert_int_equal(chord_addr_split(NULL, 0, &a), -EINVAL);
    assert_memory_equal(&a, &untouched, sizeof a);
}

static void test_loopback_and_wildcard(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool loopback, wildcard;
    } cases[] = {
        {"127.0.0.1:1", true, false},
        {"127.9.8.7:1", true, false},
        {"128.0.0.1:1", false, false},
        {"192.0.2.1:1", false, false},
        {"[::1]:1", true, false},
        {"[::ffff:127.0.0.2]:1", true, false},
        {"[2001:db8::1]:1", false, false},
        {"localhost:1", true, false},
        {"node.example:1", false, false},
        {"0.0.0.0:1", false, true},
        {"[::]:1", false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chord_addr a;
        assert_int_equal(chord_addr_split(cases[i].s, 0, &a), 0);
        if (chord_addr_is_loopback(&a) != cases[i].loopback ||
            chord_addr_is_wildcard(&a) != cases[i].wildcard)
            fail_msg("'%s': loopback %d wildcard %d", cases[i].s,
                     chord_addr_is_loopback(&a), chord_addr_is_wildcard(&a));
    }
}

/* Random strings over the parser's alphabet (a fixed-seed xorshift, so
 * every run is the same): whatever is accepted is written back within the
 * cap and parses again into the same parts; nothing reads past the NUL
 * (ASan watches). */
static void test_random_round_trip(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789abcdefABXYZ:.[]-_% x";
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned accepted = 0;
    for (int n = 0; n < 200000; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = (size_t)(x % 72);
        char s[80];
        uint64_t y = x;
        for (size_t i = 0; i < len; i++) {
            y = y * 6364136223846793005u + 1442695040888963407u;
            s[i] = alphabet[(y >> 33) % (sizeof alphabet - 1)];
        }
        s[len] = '\0';
        if (n % 3 == 0 && len > 8) { /* often end in a port */
            memcpy(s + len - 5, ":7000", 6);
        }
        struct chord_addr a, b;
        if (chord_addr_split(s, CHORD_ADDR_ANY_PORT, &a) != 0)
            continue;
        accepted++;
        char out[CHORD_ADDR_MAX];
        assert_int_equal(chord_addr_format(&a, out), 0);
        assert_int_equal(chord_addr_split(out, CHORD_ADDR_ANY_PORT, &b), 0);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.port, b.port);
        assert_string_equal(a.host, b.host);
    }
    assert_true(accepted > 100); /* the generator does reach the parser */
}

/* "host:port#i" names position i of a process: split into the base and
 * i, written back, compared by process. */
static void test_vnode_suffix(void **state)
{
    (void)state;
    char base[CHORD_ADDR_MAX], out[CHORD_ADDR_MAX];
    int v = 7;
    static const struct {
        const char *in, *base;
        int vnode;
    } good[] = {
        {"127.0.0.1:7000", "127.0.0.1:7000", -1},
        {"127.0.0.1:7000#0", "127.0.0.1:7000", 0},
        {"[::1]:7000#255", "[::1]:7000", 255},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(chord_addr_vnode_split(good[i].in, base, &v), 0);
        assert_string_equal(base, good[i].base);
        assert_int_equal(v, good[i].vnode);
    }
    const char *bad[] = {"a:1#",   "a:1#256", "a:1#01",  "a:1#-1",
                         "a:1#1x", "#3",      "a:1#1#2", "a:1# 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(chord_addr_vnode_split(bad[i], base, &v), -EINVAL);
    assert_int_equal(chord_addr_vnode_format("127.0.0.1:7000", 63, out), 0);
    assert_string_equal(out, "127.0.0.1:7000#63");
    assert_int_equal(chord_addr_vnode_split(out, base, &v), 0);
    assert_int_equal(v, 63);
    /* A suffix that would not fit CHORD_ADDR_MAX is refused, never cut. */
    char longest[CHORD_ADDR_MAX];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_int_equal(chord_addr_vnode_format(longest, 1, out), -ENAMETOOLONG);
    assert_true(chord_addr_same_process("h:1#0", "h:1#5"));
    assert_true(chord_addr_same_process("h:1", "h:1#5"));
    assert_true(chord_addr_same_process("h:1", "h:1"));
    assert_false(chord_addr_same_process("h:1#0", "h:10#0"));
    assert_false(chord_addr_same_process("h:1", "h:2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_loopback_and_wildcard),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_vnode_suffix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
