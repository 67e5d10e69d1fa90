/*
 * test_topology.c - the topology file parser (tools/common/topology.c):
 * every file shipped in topologies/ parses into what its comment says,
 * a scenario comes out with the right times, actions and node indexes,
 * and each malformed input of a table is refused with the right
 * FILE:LINE:COLUMN and a message that names the problem.
 *
 * The shipped files are found next to this source file (__FILE__ is the
 * absolute path CMake compiles), so the test needs no build-system help.
 * Nothing here touches the network or the clock.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "chord/id.h"
#include "common/topology.h"

#define PATH_CAP 4096

/* The topologies/ directory of the source tree: ../../topologies from the
 * directory of this file. */
static void topologies_dir(char out[PATH_CAP])
{
    const char *self = __FILE__;
    const char *slash = strrchr(self, '/');
    size_t n = slash ? (size_t)(slash - self) : 0;
    if (n == 0)
        snprintf(out, PATH_CAP, "../../topologies");
    else
        snprintf(out, PATH_CAP, "%.*s/../../topologies", (int)n, self);
}

/* Parse a shipped topology by name; fails the test with the parser's
 * message when it does not parse. */
static void load_shipped(const char *name, struct chord_topology *t)
{
    char dir[PATH_CAP], path[PATH_CAP + 64], err[CHORD_TOPO_ERR_MAX];
    topologies_dir(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = chord_topology_load(path, t, err);
    if (rc)
        fail_msg("%s does not parse: %s", path, err);
}

/* Every regular file in topologies/ parses and lists at least one node;
 * the six examples are among them. */
static void test_every_shipped_file_parses(void **state)
{
    (void)state;
    char dir[PATH_CAP];
    topologies_dir(dir);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s: %s", dir, strerror(errno));
    static const char *const wanted[] = {"single", "ring5",   "ring16",
                                         "ring64", "churn16", "hosts8"};
    unsigned found = 0, parsed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_CAP + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        struct chord_topology t;
        char err[CHORD_TOPO_ERR_MAX];
        int rc = chord_topology_load(path, &t, err);
        if (rc)
            fail_msg("%s does not parse: %s", path, err);
        assert_true(t.n_listed >= 1);
        assert_true(t.n_nodes >= t.n_listed);
        chord_topology_free(&t);
        parsed++;
        for (size_t k = 0; k < sizeof wanted / sizeof wanted[0]; k++)
            if (strcmp(e->d_name, wanted[k]) == 0)
                found++;
    }
    closedir(d);
    assert_int_equal(found, sizeof wanted / sizeof wanted[0]);
    assert_true(parsed >= found);
}

/* The shipped files hold what their names promise. */
static void test_shipped_contents(void **state)
{
    (void)state;
    struct chord_topology t;

    load_shipped("single", &t);
    assert_int_equal(t.n_listed, 1);
    assert_int_equal(t.n_steps, 0);
    chord_topology_free(&t);

    load_shipped("ring5", &t);
    assert_int_equal(t.n_listed, 5);
    assert_string_equal(t.nodes[0].addr, "127.0.0.1:7000");
    assert_string_equal(t.nodes[4].addr, "127.0.0.1:7004");
    assert_int_equal(t.ring.successors, 8);
    assert_int_equal(t.ring.stabilize_ms, 250);
    chord_topology_free(&t);

    load_shipped("ring16", &t);
    assert_int_equal(t.n_listed, 16);
    chord_topology_free(&t);

    load_shipped("ring64", &t);
    assert_int_equal(t.n_listed, 64);
    /* A node's id is SHA-1 of its address when id= is not given. */
    struct chord_id want;
    chord_id_hash(&want, "127.0.0.1:7263", strlen("127.0.0.1:7263"));
    assert_true(chord_id_eq(&t.nodes[63].id, &want));
    assert_false(t.nodes[63].has_id);
    chord_topology_free(&t);

    /* hosts8: eight distinct loopback hosts. */
    load_shipped("hosts8", &t);
    assert_int_equal(t.n_listed, 8);
    for (unsigned i = 0; i < 8; i++) {
        char want_addr[32];
        snprintf(want_addr, sizeof want_addr, "127.0.0.%u:", i + 1);
        assert_memory_equal(t.nodes[i].addr, want_addr, strlen(want_addr));
    }
    chord_topology_free(&t);

    /* churn16: a scenario under load with every kind of failure. */
    load_shipped("churn16", &t);
    assert_int_equal(t.n_listed, 16);
    assert_true(t.n_nodes > 16); /* it joins a node */
    assert_int_equal(t.ring.replicas, 3);
    bool seen[CHORD_TOPO_CHECK + 1];
    memset(seen, 0, sizeof seen);
    for (unsigned i = 0; i < t.n_steps; i++) {
        seen[t.steps[i].action] = true;
        if (i)
            assert_true(t.steps[i].at_ms >= t.steps[i - 1].at_ms);
    }
    for (int a = 0; a <= CHORD_TOPO_CHECK; a++)
        if (!seen[a])
            fail_msg("churn16 has no '%s' step", chord_topo_action_name(a));
    assert_int_equal(t.steps[t.n_steps - 1].action, CHORD_TOPO_CHECK);
    for (unsigned i = 0; i < t.n_listed; i++)
        assert_true(t.nodes[i].data[0] != '\0');
    chord_topology_free(&t);
}

/* A scenario parses into the times, actions, indexes and counts written. */
static void test_scenario_values(void **state)
{
    (void)state;
    static const char text[] =
        "# a comment line\n"
        "ring successors=4 replicas=3 heartbeat_ms=100\r\n"
        "ring stabilize_ms=50 sync_ms=500   # trailing comment\n"
        "node 127.0.0.1:7000\n"
        "\tnode   127.0.0.2:7000 id=00000000000000000000000000000000000000aB\n"
        "node 127.0.0.3:7001 data=disk/n3\n"
        "\n"
        "at 0 load put 200 rate=50\n"
        "at 0 load get 10\n"
        "at 2.5 kill 1\n"
        "at 2.5 pause 127.0.0.3:7001\n"
        "at 3.25 resume 2\n"
        "at 4 restart 127.0.0.2:7000\n"
        "at 5 join 127.0.0.9:7009 data=j9\n"
        "at 6 leave 3\n"
        "at 6.001 kill 127.0.0.9:7009\n"
        "at 7 check\n";
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_parse(text, sizeof text - 1, "s", &t, err);
    if (rc)
        fail_msg("unexpected error: %s", err);
    assert_int_equal(t.ring.successors, 4);
    assert_int_equal(t.ring.replicas, 3);
    assert_int_equal(t.ring.heartbeat_ms, 100);
    assert_int_equal(t.ring.stabilize_ms, 50);
    assert_int_equal(t.ring.sync_ms, 500);
    assert_int_equal(t.n_listed, 3);
    assert_int_equal(t.n_nodes, 4);
    assert_true(t.nodes[1].has_id);
    assert_int_equal(t.nodes[1].id.b[19], 0xab);
    assert_string_equal(t.nodes[2].data, "disk/n3");
    assert_true(t.nodes[3].joined);
    assert_string_equal(t.nodes[3].addr, "127.0.0.9:7009");
    assert_string_equal(t.nodes[3].data, "j9");
    assert_int_equal(t.nodes[3].line, 14);

    assert_int_equal(t.n_steps, 10);
    static const struct {
        uint32_t at_ms;
        int action;
        unsigned node;
    } want[] = {
        {0, CHORD_TOPO_LOAD_PUT, 0},  {0, CHORD_TOPO_LOAD_GET, 0},
        {2500, CHORD_TOPO_KILL, 1},   {2500, CHORD_TOPO_PAUSE, 2},
        {3250, CHORD_TOPO_RESUME, 2}, {4000, CHORD_TOPO_RESTART, 1},
        {5000, CHORD_TOPO_JOIN, 3},   {6000, CHORD_TOPO_LEAVE, 3},
        {6001, CHORD_TOPO_KILL, 3},   {7000, CHORD_TOPO_CHECK, 0},
    };
    for (unsigned i = 0; i < t.n_steps; i++) {
        assert_int_equal(t.steps[i].at_ms, want[i].at_ms);
        assert_int_equal(t.steps[i].action, want[i].action);
        if (want[i].action != CHORD_TOPO_LOAD_PUT &&
            want[i].action != CHORD_TOPO_LOAD_GET &&
            want[i].action != CHORD_TOPO_CHECK)
            assert_int_equal(t.steps[i].node, want[i].node);
        assert_int_equal(t.steps[i].line, 8 + i);
    }
    assert_int_equal(t.steps[0].count, 200);
    assert_int_equal(t.steps[0].rate, 50);
    assert_int_equal(t.steps[1].count, 10);
    assert_int_equal(t.steps[1].rate, 0);

    assert_int_equal(chord_topology_find(&t, "0"), 0);
    assert_int_equal(chord_topology_find(&t, "3"), 3);
    assert_int_equal(chord_topology_find(&t, "127.0.0.3:7001"), 2);
    assert_int_equal(chord_topology_find(&t, "4"), -ENOENT);
    assert_int_equal(chord_topology_find(&t, "127.0.0.3:7002"), -ENOENT);
    assert_string_equal(chord_topo_action_name(CHORD_TOPO_LOAD_GET),
                        "load get");
    chord_topology_free(&t);
}

/* One malformed input and where and how it must be refused. */
struct bad_case {
    const char *text;
    unsigned line, col;
    const char *says; /* a phrase the message must contain */
};

static void test_malformed_inputs(void **state)
{
    (void)state;
    static char long_line[1200];
    memset(long_line, 0, sizeof long_line);
    strcpy(long_line, "node 127.0.0.1:7000 ");
    memset(long_line + strlen(long_line), '#', 1100);

    /* The id SHA-1("127.0.0.1:7000"), given explicitly to a second node. */
    struct chord_id same;
    chord_id_hash(&same, "127.0.0.1:7000", 14);
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(&same, hex);
    char dup_id[200];
    snprintf(dup_id, sizeof dup_id,
             "node 127.0.0.1:7000\nnode 127.0.0.1:7001 id=%s\n", hex);

    const struct bad_case cases[] = {
        {"node 127.0.0.01:7000\n", 1, 6, "is not HOST:PORT"},
        {"node local_host:7000\n", 1, 6, "is not HOST:PORT"},
        {"node ::1:7000\n", 1, 6, "is not HOST:PORT"},
        {"node [::1:7000\n", 1, 6, "is not HOST:PORT"},
        {"node [2001:db8::g]:7000\n", 1, 6, "is not HOST:PORT"},
        {"node -a.example:7000\n", 1, 6, "is not HOST:PORT"},
        {"node a.example.:7000\n", 1, 6, "is not HOST:PORT"},
        {"node [::1]:65536\n", 1, 12, "port 65536 is out of range"},
        {"node "
         "a-very-long-host-name.in-a-very-long-domain.of.the.example.org:"
         "7000\n",
         1, 6, "longer than 63 bytes"},
        {"node Node1.example:7000\nnode node1.EXAMPLE:7000\n", 2, 6,
         "node1.example:7000 is already node 0"},
        {"node [2001:db8::1]:7000\nnode [2001:DB8:0::1]:7000\n", 2, 6,
         "[2001:db8::1]:7000 is already node 0"},
        {"\tnode 127.0.0.1:70000\n", 1, 17, "port 70000 is out of range"},
        {"node 127.0.0.1:0\n", 1, 16, "port 0 is out of range"},
        {"ring successors=40\nnode 127.0.0.1:7000\n", 1, 17,
         "successors must be a number from 1 to 32"},
        {"ring bogus=1\nnode 127.0.0.1:7000\n", 1, 6,
         "unknown ring parameter 'bogus'"},
        {"ring successors\n", 1, 6, "expected key=value"},
        {"ring\n", 1, 5, "expected key=value after 'ring'"},
        {"ring successors=8\nring successors=4\n", 2, 6,
         "successors is given twice (first on line 1)"},
        {"ring replicas=10 successors=4\nnode 127.0.0.1:7000\n", 1, 15,
         "replicas=10 needs a successor list of at least 9"},
        {"ring replicas=10\nnode 127.0.0.1:7000\n", 1, 15, "(successors is 8)"},
        {"node 127.0.0.1:7000 id=xyz\n", 1, 24, "id must be 40 hex digits"},
        {"node 127.0.0.1:7000 id=00\n", 1, 24, "id must be 40 hex digits"},
        {dup_id, 2, 24, "equals the id of node 0"},
        {"node 127.0.0.1:7000 data=../x\n", 1, 26, "data= must be"},
        {"node 127.0.0.1:7000 data=/var/x\n", 1, 26, "data= must be"},
        {"node 127.0.0.1:7000 data=a\nnode 127.0.0.1:7001 data=a\n", 2, 26,
         "data directory 'a' is already used by node 0"},
        {"node 127.0.0.1:7000 weight=3\n", 1, 21, "unexpected 'weight=3'"},
        {"node 127.0.0.1:7000\nnode 127.0.0.1:7000\n", 2, 6,
         "127.0.0.1:7000 is already node 0 (line 1)"},
        {"node\n", 1, 5, "expected HOST:PORT after 'node'"},
        {"# only comments\n\n", 1, 1, "no node listed"},
        {"", 1, 1, "no node listed"},
        {"node 127.0.0.1:7000 # fine\nfrob 1\n", 2, 1,
         "unknown statement 'frob'"},
        {"node 127.0.0.1:7000\x01\n", 1, 20, "control character 0x01"},
        {"node 127.0.0.1:7000 # \x1b[2J\n", 1, 23, "control character 0x1b"},
        {long_line, 1, 1025, "longer than 1024 bytes"},
        {"at 1 check\nnode 127.0.0.1:7000\n", 1, 1, "a scenario needs nodes"},
        {"node 127.0.0.1:7000\nat 1 check\nnode 127.0.0.1:7001\n", 3, 1,
         "node lines must come before the scenario (the first 'at' is on "
         "line 2)"},
        {"node 127.0.0.1:7000\nat 1 check\nring replicas=2\n", 3, 1,
         "ring lines must come before the scenario"},
        {"node 127.0.0.1:7000\nat\n", 2, 3, "expected a time in seconds"},
        {"node 127.0.0.1:7000\nat soon check\n", 2, 4,
         "expected a time in seconds"},
        {"node 127.0.0.1:7000\nat 2.5555 check\n", 2, 4,
         "expected a time in seconds"},
        {"node 127.0.0.1:7000\nat 86401 check\n", 2, 4,
         "expected a time in seconds"},
        {"node 127.0.0.1:7000\nat 5\n", 2, 5, "expected an action"},
        {"node 127.0.0.1:7000\nat 5 check\nat 3 check\n", 3, 4,
         "scenario lines must be in time order"},
        {"node 127.0.0.1:7000\nat 5 explode 0\n", 2, 6,
         "unknown action 'explode'"},
        {"node 127.0.0.1:7000\nat 5 kill\n", 2, 10, "expected a node"},
        {"node 127.0.0.1:7000\nat 5 kill 3\n", 2, 11, "no node '3'"},
        {"node 127.0.0.1:7000\nat 5 pause 0 1\n", 2, 14, "unexpected '1'"},
        {"node 127.0.0.1:7000\nat 1 kill 127.0.0.1:7001\n"
         "at 2 join 127.0.0.1:7001\n",
         2, 11, "no node '127.0.0.1:7001'"},
        {"node 127.0.0.1:7000\nat 1 join 127.0.0.1:7001\n"
         "at 2 kill 127.0.0.1:7001\nat 3 leave 2\n",
         4, 12, "no node '2'"},
        {"node 127.0.0.1:7000\nat 1 join 127.0.0.1:7000\n", 2, 11,
         "is already node 0"},
        {"node 127.0.0.1:7000\nat 1 join\n", 2, 10,
         "expected HOST:PORT after 'join'"},
        {"node 127.0.0.1:7000\nat 1 load\n", 2, 10, "expected put or get"},
        {"node 127.0.0.1:7000\nat 1 load del 5\n", 2, 11,
         "expected put or get after 'load', not 'del'"},
        {"node 127.0.0.1:7000\nat 1 load put\n", 2, 14,
         "expected a number of operations"},
        {"node 127.0.0.1:7000\nat 1 load put 0\n", 2, 15,
         "the number of operations must be from 1"},
        {"node 127.0.0.1:7000\nat 1 load get 10 speed=3\n", 2, 18,
         "unexpected 'speed=3' (a load takes rate=R)"},
        {"node 127.0.0.1:7000\nat 1 load get 10 rate=0\n", 2, 23,
         "rate must be a number"},
        {"node 127.0.0.1:7000\nat 1 load get 10 rate=5 x\n", 2, 25,
         "unexpected 'x'"},
        {"node 127.0.0.1:7000\nat 1 check now\n", 2, 12, "unexpected 'now'"},
        {"node 127.0.0.1:7000 a b c d e f g h i j k l m n o p q\n", 1, 49,
         "more than 16 words"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *c = &cases[i];
        struct chord_topology t;
        char err[CHORD_TOPO_ERR_MAX];
        int rc =
            chord_topology_parse(c->text, strlen(c->text), "bad.topo", &t, err);
        if (rc != -EINVAL)
            fail_msg("case %zu (%s): expected -EINVAL, got %d", i, c->says, rc);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "bad.topo:%u:%u: ", c->line, c->col);
        if (strncmp(err, prefix, strlen(prefix)) != 0 ||
            strstr(err, c->says) == NULL)
            fail_msg("case %zu: expected \"%s...%s\", got \"%s\"", i, prefix,
                     c->says, err);
        /* A failed parse leaves nothing to free. */
        assert_null(t.nodes);
        assert_null(t.steps);
        assert_int_equal(t.n_nodes, 0);
    }
}

/* Addresses beyond loopback: IPv4, [IPv6] and host names parse, in
 * canonical form (names lower case, IPv6 compressed), ids are SHA-1 of
 * that form, and a scenario may name a node by any spelling of it. */
static void test_any_address(void **state)
{
    (void)state;
    const char *text = "node 192.0.2.1:7000\n"
                       "node [2001:DB8:0:0::2]:7000\n"
                       "node Node3.Example:7000\n"
                       "node localhost:7001\n"
                       "at 1 kill [2001:db8::2]:7000\n"
                       "at 2 kill NODE3.example:7000\n";
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    int rc = chord_topology_parse(text, strlen(text), "any", &t, err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(t.n_nodes, 4);
    assert_string_equal(t.nodes[0].addr, "192.0.2.1:7000");
    assert_string_equal(t.nodes[1].addr, "[2001:db8::2]:7000");
    assert_string_equal(t.nodes[2].addr, "node3.example:7000");
    assert_string_equal(t.nodes[3].addr, "localhost:7001");
    struct chord_id want;
    chord_id_hash(&want, "[2001:db8::2]:7000", strlen("[2001:db8::2]:7000"));
    assert_true(chord_id_eq(&t.nodes[1].id, &want));
    assert_int_equal(t.n_steps, 2);
    assert_int_equal(t.steps[0].node, 1);
    assert_int_equal(t.steps[1].node, 2);
    assert_int_equal(chord_topology_find(&t, "[2001:db8::0:2]:7000"), 1);
    assert_int_equal(chord_topology_find(&t, "[2001:db8::3]:7000"), -ENOENT);
    chord_topology_free(&t);
}

/* Files: a missing one and one over the size cap are refused by name. */
static void test_load_errors(void **state)
{
    (void)state;
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    assert_int_equal(chord_topology_load("/nonexistent/topo", &t, err),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/topo: "));

    char path[] = "/tmp/test_topology.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("node 127.0.0.1:7000\n", f);
    for (unsigned i = 0; i < CHORD_TOPO_FILE_MAX / 15 + 2; i++)
        fputs("# padding.....\n", f);
    fclose(f);
    assert_int_equal(chord_topology_load(path, &t, err), -EFBIG);
    assert_non_null(strstr(err, "larger than"));
    remove(path);
}

/* Caps: a file with more nodes than CHORD_TOPO_NODES_MAX is refused at
 * the first node over the cap. */
static void test_node_cap(void **state)
{
    (void)state;
    size_t cap = (CHORD_TOPO_NODES_MAX + 1) * 32;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (unsigned i = 0; i <= CHORD_TOPO_NODES_MAX; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "node 127.0.%u.%u:7000\n", i / 250, i % 250);
    struct chord_topology t;
    char err[CHORD_TOPO_ERR_MAX];
    assert_int_equal(chord_topology_parse(text, len, "big", &t, err), -EINVAL);
    char want[64];
    snprintf(want, sizeof want, "big:%u:6: more than %u nodes",
             CHORD_TOPO_NODES_MAX + 1, CHORD_TOPO_NODES_MAX);
    assert_string_equal(err, want);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shipped_file_parses),
        cmocka_unit_test(test_shipped_contents),
        cmocka_unit_test(test_scenario_values),
        cmocka_unit_test(test_malformed_inputs),
        cmocka_unit_test(test_any_address),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_node_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
