/*
 * topology.c - the parser of topology files (format in topology.h), shared
 * by dht-viz and, through `dht-viz --dump-topology`, by tools/dht-topo, so
 * the format has exactly one parser.
 *
 * The text is cut into lines, each line into words (spaces and tabs; a '#'
 * ends it), and each word remembers its column, so every error can point
 * at the byte where the problem starts. A statement is checked completely
 * before it is added: a parse either succeeds with a consistent topology
 * or fails at the first error with nothing allocated.
 *
 * Invariants: no line is read past CHORD_TOPO_LINE_MAX bytes, no table
 * grows past its cap, every number is range-checked before it is stored,
 * and a word is quoted in a message only in a bounded, printable form.
 *
 * It does not start processes or know what dhtd's defaults are: a ring
 * parameter that is not given stays 0 and the launcher leaves it out.
 */
#include "common/topology.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord/addr.h"

/* dhtd's successor list length when `successors` is not given; only used to
 * check `replicas` against it (dhtd refuses replicas > successors + 1). */
#define TOPO_DEFAULT_SUCCESSORS 8u
/* Characters of a word quoted in an error message. */
#define TOPO_SHOW_MAX 48u

/* One word of a line: where it starts, how long it is, its column. */
struct topo_word {
    const char *s;
    size_t len;
    unsigned col; /* 1-based */
};

/* A parse in progress. */
struct topo_parser {
    const char *file;
    char *err; /* CHORD_TOPO_ERR_MAX bytes */
    unsigned line;
    unsigned end_col; /* the column just after the last word of the line */
    struct chord_topology *t;
    unsigned node_cap, step_cap; /* allocated entries */
    unsigned first_at_line;      /* 0 until the first `at` line */
    unsigned param_line[5];      /* where each ring parameter was given */
    unsigned replicas_line, replicas_col;
};

static const char *const action_names[] = {
    "kill", "pause",    "resume",   "restart", "leave",
    "join", "load put", "load get", "check",
};

const char *chord_topo_action_name(int action)
{
    if (action < 0 ||
        (size_t)action >= sizeof action_names / sizeof action_names[0])
        return "unknown";
    return action_names[action];
}

/* Format "FILE:LINE:COL: message" into p->err; returns -EINVAL. */
static int topo_fail(struct topo_parser *p, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int topo_fail(struct topo_parser *p, unsigned col, const char *fmt, ...)
{
    int n = snprintf(p->err, CHORD_TOPO_ERR_MAX, "%s:%u:%u: ", p->file, p->line,
                     col);
    if (n < 0 || (size_t)n >= CHORD_TOPO_ERR_MAX)
        return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, CHORD_TOPO_ERR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A word as a bounded, printable string for messages: bytes that are not
 * printable ASCII become '?', and a long word is cut with "...". */
static const char *topo_show(const struct topo_word *w,
                             char out[TOPO_SHOW_MAX + 4])
{
    size_t n = w->len < TOPO_SHOW_MAX ? w->len : TOPO_SHOW_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w->s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (w->len > n) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static bool word_is(const struct topo_word *w, const char *lit)
{
    return w->len == strlen(lit) && memcmp(w->s, lit, w->len) == 0;
}

/*
 * A decimal number of at most 9 digits in [min, max]. 0, or -EINVAL (not
 * a number, or out of range).
 */
static int parse_num(const char *s, size_t len, unsigned long min,
                     unsigned long max, unsigned long *out)
{
    if (len == 0 || len > 9)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Seconds with up to three decimals ("5", "2.5", "0.250") as ms. */
static int parse_time(const struct topo_word *w, uint32_t *ms)
{
    size_t i = 0;
    unsigned long sec = 0, frac = 0, scale = 1000;
    while (i < w->len && w->s[i] >= '0' && w->s[i] <= '9') {
        if (i >= 6)
            return -EINVAL; /* more than a day anyway */
        sec = sec * 10 + (unsigned long)(w->s[i] - '0');
        i++;
    }
    if (i == 0)
        return -EINVAL;
    if (i < w->len) {
        if (w->s[i] != '.' || i + 1 == w->len || w->len - i - 1 > 3)
            return -EINVAL;
        for (i++; i < w->len; i++) {
            if (w->s[i] < '0' || w->s[i] > '9')
                return -EINVAL;
            scale /= 10;
            frac += (unsigned long)(w->s[i] - '0') * scale;
        }
    }
    unsigned long total = sec * 1000 + frac;
    if (total > CHORD_TOPO_TIME_MAX_MS)
        return -EINVAL;
    *ms = (uint32_t)total;
    return 0;
}

/*
 * Check that a word is HOST:PORT as chord/addr.h takes it (IPv4, [IPv6]
 * or a name; port 1-65535) and copy its canonical form to addr. 0, or an
 * error already formatted (-EINVAL).
 */
static int parse_addr(struct topo_parser *p, const struct topo_word *w,
                      char addr[CHORD_ADDR_MAX])
{
    char show[TOPO_SHOW_MAX + 4];
    char word[CHORD_ADDR_MAX];
    if (w->len >= sizeof word)
        return topo_fail(p, w->col, "'%s' is %s", topo_show(w, show),
                         chord_addr_strerror(-ENAMETOOLONG));
    memcpy(word, w->s, w->len);
    word[w->len] = '\0';
    int rc = chord_addr_canonical(word, 0, addr);
    if (rc == -ERANGE) {
        const char *colon = strrchr(word, ':');
        return topo_fail(p, w->col + (unsigned)(colon + 1 - word),
                         "port %s is out of range (1-65535)", colon + 1);
    }
    if (rc)
        return topo_fail(p, w->col,
                         "'%s' is not HOST:PORT (an IPv4 address, [IPv6] or "
                         "a host name, then ':' and a port)",
                         topo_show(w, show));
    return 0;
}

/* A data= directory: relative, of safe characters, without "..". */
static bool data_dir_ok(const char *s, size_t len)
{
    if (len == 0 || len >= CHORD_TOPO_DATA_MAX || s[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                  c == '/';
        if (!ok)
            return false;
    }
    /* No ".." component: it could leave the run directory. */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (i - start == 2 && s[start] == '.' && s[start + 1] == '.')
                return false;
            start = i + 1;
        }
    }
    return true;
}

/*
 * Make room for one more node or step in `arr` (`used` of `*cap` entries
 * of `size` bytes, at most `max`). *out is the array to use from now on
 * (`arr` itself, or its reallocation). 0, -ENOMEM or -E2BIG; on error the
 * array is unchanged and *out is `arr`.
 */
static int grow(void *arr, unsigned *cap, unsigned used, unsigned max,
                size_t size, void **out)
{
    *out = arr;
    if (used < *cap)
        return 0;
    if (used >= max)
        return -E2BIG;
    unsigned ncap = *cap ? *cap * 2 : 16;
    if (ncap > max)
        ncap = max;
    void *n = realloc(arr, (size_t)ncap * size);
    if (!n)
        return -ENOMEM;
    *out = n;
    *cap = ncap;
    return 0;
}

/*
 * Parse "HOST:PORT [id=HEX40] [data=DIR]" from words[0..n) into a new node
 * appended to the topology (node lines and scenario joins). `what` names
 * the statement in messages.
 */
static int parse_node_spec(struct topo_parser *p, const struct topo_word *w,
                           unsigned n, bool joined, const char *what)
{
    struct chord_topology *t = p->t;
    char show[TOPO_SHOW_MAX + 4];
    if (n == 0)
        return topo_fail(p, p->end_col,
                         "expected HOST:PORT after '%s' (e.g. %s "
                         "127.0.0.1:7000)",
                         what, what);
    struct chord_topo_node node;
    memset(&node, 0, sizeof node);
    node.joined = joined;
    node.line = p->line;
    int rc = parse_addr(p, &w[0], node.addr);
    if (rc)
        return rc;
    unsigned id_col = 0, data_col = 0;
    for (unsigned i = 1; i < n; i++) {
        const char *eq = memchr(w[i].s, '=', w[i].len);
        size_t klen = eq ? (size_t)(eq - w[i].s) : w[i].len;
        const char *val = eq ? eq + 1 : "";
        size_t vlen = eq ? w[i].len - klen - 1 : 0;
        unsigned vcol = w[i].col + (unsigned)klen + 1;
        if (eq && klen == 2 && memcmp(w[i].s, "id", 2) == 0) {
            if (id_col)
                return topo_fail(p, w[i].col, "id= is given twice");
            char hex[CHORD_ID_HEX_LEN + 1];
            if (vlen != CHORD_ID_HEX_LEN)
                return topo_fail(
                    p, vcol, "id must be 40 hex digits, not '%.*s'",
                    (int)(vlen < TOPO_SHOW_MAX ? vlen : TOPO_SHOW_MAX), val);
            memcpy(hex, val, vlen);
            hex[vlen] = '\0';
            if (chord_id_from_hex(&node.id, hex))
                return topo_fail(p, vcol, "id must be 40 hex digits, not '%s'",
                                 hex);
            node.has_id = true;
            id_col = vcol;
        } else if (eq && klen == 4 && memcmp(w[i].s, "data", 4) == 0) {
            if (data_col)
                return topo_fail(p, w[i].col, "data= is given twice");
            if (!data_dir_ok(val, vlen)) {
                struct topo_word v = {val, vlen, vcol};
                return topo_fail(
                    p, vcol,
                    "data= must be a relative directory (letters, digits, "
                    "'.', '_', '-', '/'; no '..'; under %u bytes), not '%s'",
                    CHORD_TOPO_DATA_MAX, topo_show(&v, show));
            }
            memcpy(node.data, val, vlen);
            node.data[vlen] = '\0';
            data_col = vcol;
        } else {
            return topo_fail(p, w[i].col,
                             "unexpected '%s' (a node takes id=HEX40 and "
                             "data=DIR)",
                             topo_show(&w[i], show));
        }
    }
    if (!node.has_id)
        chord_id_hash(&node.id, node.addr, strlen(node.addr));

    for (unsigned k = 0; k < t->n_nodes; k++) {
        const struct chord_topo_node *o = &t->nodes[k];
        if (strcmp(o->addr, node.addr) == 0)
            return topo_fail(p, w[0].col, "%s is already node %u (line %u)",
                             node.addr, k, o->line);
        if (chord_id_eq(&o->id, &node.id))
            return topo_fail(p, id_col ? id_col : w[0].col,
                             "the id of %s equals the id of node %u, %s "
                             "(line %u)",
                             node.addr, k, o->addr, o->line);
        if (node.data[0] && strcmp(o->data, node.data) == 0)
            return topo_fail(p, data_col,
                             "data directory '%s' is already used by node "
                             "%u, %s (line %u)",
                             node.data, k, o->addr, o->line);
    }
    void *arr;
    rc = grow(t->nodes, &p->node_cap, t->n_nodes, CHORD_TOPO_NODES_MAX,
              sizeof node, &arr);
    t->nodes = arr;
    if (rc == -E2BIG)
        return topo_fail(p, w[0].col, "more than %u nodes",
                         CHORD_TOPO_NODES_MAX);
    if (rc)
        return rc;
    t->nodes[t->n_nodes++] = node;
    if (!joined)
        t->n_listed = t->n_nodes;
    return 0;
}

/* `ring key=value ...` */
static int parse_ring(struct topo_parser *p, const struct topo_word *w,
                      unsigned n)
{
    static const struct {
        const char *name;
        unsigned long min, max;
    } params[] = {
        {"successors", 1, CHORD_SUCC_MAX}, {"stabilize_ms", 1, 600000},
        {"replicas", 1, CHORD_SUCC_MAX},   {"heartbeat_ms", 10, 600000},
        {"sync_ms", 10, 600000},
    };
    struct chord_topo_ring *r = &p->t->ring;
    unsigned *slot[] = {&r->successors, &r->stabilize_ms, &r->replicas,
                        &r->heartbeat_ms, &r->sync_ms};
    char show[TOPO_SHOW_MAX + 4];
    if (n == 0)
        return topo_fail(p, p->end_col,
                         "expected key=value after 'ring' (successors, "
                         "stabilize_ms, replicas, heartbeat_ms, sync_ms)");
    for (unsigned i = 0; i < n; i++) {
        const char *eq = memchr(w[i].s, '=', w[i].len);
        if (!eq)
            return topo_fail(p, w[i].col, "expected key=value, not '%s'",
                             topo_show(&w[i], show));
        size_t klen = (size_t)(eq - w[i].s);
        size_t k;
        for (k = 0; k < sizeof params / sizeof params[0]; k++)
            if (klen == strlen(params[k].name) &&
                memcmp(w[i].s, params[k].name, klen) == 0)
                break;
        if (k == sizeof params / sizeof params[0]) {
            struct topo_word kw = {w[i].s, klen, w[i].col};
            return topo_fail(p, w[i].col,
                             "unknown ring parameter '%s' (successors, "
                             "stabilize_ms, replicas, heartbeat_ms, "
                             "sync_ms)",
                             topo_show(&kw, show));
        }
        if (p->param_line[k])
            return topo_fail(p, w[i].col,
                             "%s is given twice (first on line "
                             "%u)",
                             params[k].name, p->param_line[k]);
        unsigned vcol = w[i].col + (unsigned)klen + 1;
        struct topo_word vw = {eq + 1, w[i].len - klen - 1, vcol};
        unsigned long v;
        if (parse_num(vw.s, vw.len, params[k].min, params[k].max, &v))
            return topo_fail(p, vcol,
                             "%s must be a number from %lu to %lu, "
                             "not '%s'",
                             params[k].name, params[k].min, params[k].max,
                             topo_show(&vw, show));
        *slot[k] = (unsigned)v;
        p->param_line[k] = p->line;
        if (slot[k] == &r->replicas) {
            p->replicas_line = p->line;
            p->replicas_col = vcol;
        }
    }
    return 0;
}

/* A NODE reference: an index below n_nodes, or a known address. */
static int parse_node_ref(struct topo_parser *p, const struct topo_word *w,
                          unsigned *out)
{
    char ref[CHORD_ADDR_MAX];
    char show[TOPO_SHOW_MAX + 4];
    int idx = -ENOENT;
    if (w->len < sizeof ref) {
        memcpy(ref, w->s, w->len);
        ref[w->len] = '\0';
        idx = chord_topology_find(p->t, ref);
    }
    if (idx < 0)
        return topo_fail(p, w->col,
                         "no node '%s' (give an index from 0 to %u or the "
                         "HOST:PORT of a node listed above or joined "
                         "earlier)",
                         topo_show(w, show), p->t->n_nodes - 1);
    *out = (unsigned)idx;
    return 0;
}

/* `at T ACTION ...` */
static int parse_at(struct topo_parser *p, const struct topo_word *w,
                    unsigned n)
{
    struct chord_topology *t = p->t;
    char show[TOPO_SHOW_MAX + 4];
    struct chord_topo_step st;
    memset(&st, 0, sizeof st);
    st.line = p->line;
    if (n == 0)
        return topo_fail(p, p->end_col,
                         "expected a time in seconds after 'at' (e.g. at 5 "
                         "kill 3)");
    if (parse_time(&w[0], &st.at_ms))
        return topo_fail(p, w[0].col,
                         "expected a time in seconds (e.g. 5 or 2.5, at "
                         "most 86400), not '%s'",
                         topo_show(&w[0], show));
    if (t->n_steps && st.at_ms < t->steps[t->n_steps - 1].at_ms)
        return topo_fail(p, w[0].col,
                         "time %s is before the previous step's (line %u): "
                         "scenario lines must be in time order",
                         topo_show(&w[0], show), t->steps[t->n_steps - 1].line);
    if (n == 1)
        return topo_fail(p, p->end_col,
                         "expected an action after the time (kill, pause, "
                         "resume, restart, leave, join, load, check)");
    const struct topo_word *a = &w[1];
    unsigned nargs = n - 2;
    const struct topo_word *args = w + 2;
    unsigned max_args = 1;
    int rc;
    if (word_is(a, "kill") || word_is(a, "pause") || word_is(a, "resume") ||
        word_is(a, "restart") || word_is(a, "leave")) {
        st.action = word_is(a, "kill")      ? CHORD_TOPO_KILL
                    : word_is(a, "pause")   ? CHORD_TOPO_PAUSE
                    : word_is(a, "resume")  ? CHORD_TOPO_RESUME
                    : word_is(a, "restart") ? CHORD_TOPO_RESTART
                                            : CHORD_TOPO_LEAVE;
        if (nargs == 0)
            return topo_fail(p, p->end_col,
                             "expected a node (an index or HOST:PORT) after "
                             "'%s'",
                             action_names[st.action]);
        if (nargs > 1)
            return topo_fail(p, args[1].col, "unexpected '%s'",
                             topo_show(&args[1], show));
        rc = parse_node_ref(p, &args[0], &st.node);
        if (rc)
            return rc;
    } else if (word_is(a, "join")) {
        st.action = CHORD_TOPO_JOIN;
        rc = parse_node_spec(p, args, nargs, true, "join");
        if (rc)
            return rc;
        st.node = t->n_nodes - 1;
        max_args = nargs;
    } else if (word_is(a, "load")) {
        if (nargs == 0)
            return topo_fail(p, p->end_col,
                             "expected put or get after 'load' (e.g. load "
                             "put 200)");
        if (word_is(&args[0], "put"))
            st.action = CHORD_TOPO_LOAD_PUT;
        else if (word_is(&args[0], "get"))
            st.action = CHORD_TOPO_LOAD_GET;
        else
            return topo_fail(p, args[0].col,
                             "expected put or get after 'load', not '%s'",
                             topo_show(&args[0], show));
        if (nargs == 1)
            return topo_fail(p, p->end_col,
                             "expected a number of operations after '%s'",
                             action_names[st.action]);
        unsigned long v;
        if (parse_num(args[1].s, args[1].len, 1, CHORD_TOPO_LOAD_MAX, &v))
            return topo_fail(p, args[1].col,
                             "the number of operations must be from 1 to "
                             "%u, not '%s'",
                             CHORD_TOPO_LOAD_MAX, topo_show(&args[1], show));
        st.count = (uint32_t)v;
        if (nargs >= 3) {
            if (args[2].len < 5 || memcmp(args[2].s, "rate=", 5) != 0)
                return topo_fail(p, args[2].col,
                                 "unexpected '%s' (a load takes rate=R)",
                                 topo_show(&args[2], show));
            struct topo_word vw = {args[2].s + 5, args[2].len - 5,
                                   args[2].col + 5};
            if (parse_num(vw.s, vw.len, 1, CHORD_TOPO_RATE_MAX, &v))
                return topo_fail(p, vw.col,
                                 "rate must be a number of operations per "
                                 "second from 1 to %u, not '%s'",
                                 CHORD_TOPO_RATE_MAX, topo_show(&vw, show));
            st.rate = (uint32_t)v;
        }
        max_args = 3;
    } else if (word_is(a, "check")) {
        st.action = CHORD_TOPO_CHECK;
        max_args = 0;
    } else {
        return topo_fail(p, a->col,
                         "unknown action '%s' (kill, pause, resume, restart, "
                         "leave, join, load, check)",
                         topo_show(a, show));
    }
    if (nargs > max_args)
        return topo_fail(p, args[max_args].col, "unexpected '%s'",
                         topo_show(&args[max_args], show));

    void *arr;
    rc = grow(t->steps, &p->step_cap, t->n_steps, CHORD_TOPO_STEPS_MAX,
              sizeof st, &arr);
    t->steps = arr;
    if (rc == -E2BIG)
        return topo_fail(p, 1, "more than %u scenario steps",
                         CHORD_TOPO_STEPS_MAX);
    if (rc)
        return rc;
    t->steps[t->n_steps++] = st;
    return 0;
}

/* Split one line (without its '\n') into words and parse the statement. */
static int parse_line(struct topo_parser *p, const char *s, size_t len)
{
    if (len > CHORD_TOPO_LINE_MAX)
        return topo_fail(p, CHORD_TOPO_LINE_MAX + 1,
                         "line is longer than %u bytes", CHORD_TOPO_LINE_MAX);
    struct topo_word w[CHORD_TOPO_WORDS_MAX];
    unsigned n = 0;
    size_t i = 0;
    p->end_col = 1;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '#')
            break;
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return topo_fail(p, (unsigned)i + 1,
                             "control character 0x%02x in the text", c);
        size_t start = i;
        while (i < len) {
            c = (unsigned char)s[i];
            if (c == '#' || c == ' ' || c == '\t' || c == '\r' || c < 0x20 ||
                c == 0x7f)
                break;
            i++;
        }
        if (n == CHORD_TOPO_WORDS_MAX)
            return topo_fail(p, (unsigned)start + 1,
                             "more than %u words in one statement",
                             CHORD_TOPO_WORDS_MAX);
        w[n].s = s + start;
        w[n].len = i - start;
        w[n].col = (unsigned)start + 1;
        n++;
        p->end_col = (unsigned)i + 1;
    }
    /* A control character after the comment mark is still refused: the
     * file is text. */
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
            return topo_fail(p, (unsigned)i + 1,
                             "control character 0x%02x in the text", c);
    }
    if (n == 0)
        return 0;
    char show[TOPO_SHOW_MAX + 4];
    if (word_is(&w[0], "ring")) {
        if (p->first_at_line)
            return topo_fail(p, w[0].col,
                             "ring lines must come before the scenario (the "
                             "first 'at' is on line %u)",
                             p->first_at_line);
        return parse_ring(p, w + 1, n - 1);
    }
    if (word_is(&w[0], "node")) {
        if (p->first_at_line)
            return topo_fail(p, w[0].col,
                             "node lines must come before the scenario (the "
                             "first 'at' is on line %u)",
                             p->first_at_line);
        return parse_node_spec(p, w + 1, n - 1, false, "node");
    }
    if (word_is(&w[0], "at")) {
        if (p->t->n_listed == 0)
            return topo_fail(p, w[0].col,
                             "a scenario needs nodes: list them with 'node "
                             "HOST:PORT' first");
        if (!p->first_at_line)
            p->first_at_line = p->line;
        return parse_at(p, w + 1, n - 1);
    }
    return topo_fail(p, w[0].col, "unknown statement '%s' (ring, node or at)",
                     topo_show(&w[0], show));
}

int chord_topology_parse(const char *text, size_t len, const char *file,
                         struct chord_topology *out,
                         char err[CHORD_TOPO_ERR_MAX])
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    struct topo_parser p;
    memset(&p, 0, sizeof p);
    p.file = file ? file : "-";
    p.err = err;
    p.t = out;
    int rc = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p.line++;
        rc = parse_line(&p, text + pos, end - pos);
        pos = end + 1;
    }
    if (rc == 0 && out->n_listed == 0) {
        p.line = 1;
        rc = topo_fail(&p, 1,
                       "no node listed (a topology needs at least one "
                       "'node HOST:PORT' line)");
    }
    if (rc == 0 && out->ring.replicas) {
        unsigned succ = out->ring.successors ? out->ring.successors
                                             : TOPO_DEFAULT_SUCCESSORS;
        if (out->ring.replicas > succ + 1) {
            p.line = p.replicas_line;
            rc = topo_fail(&p, p.replicas_col,
                           "replicas=%u needs a successor list of at least "
                           "%u (successors is %u)",
                           out->ring.replicas, out->ring.replicas - 1, succ);
        }
    }
    if (rc) {
        if (rc == -ENOMEM)
            snprintf(err, CHORD_TOPO_ERR_MAX, "%s: out of memory", p.file);
        chord_topology_free(out);
    }
    return rc;
}

int chord_topology_load(const char *path, struct chord_topology *out,
                        char err[CHORD_TOPO_ERR_MAX])
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, CHORD_TOPO_ERR_MAX, "%s: %s", path, strerror(e));
        return -e;
    }
    char *text = malloc(CHORD_TOPO_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        snprintf(err, CHORD_TOPO_ERR_MAX, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t len = fread(text, 1, CHORD_TOPO_FILE_MAX + 1, f);
    int rc = 0;
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, CHORD_TOPO_ERR_MAX, "%s: cannot read the file", path);
    } else if (len > CHORD_TOPO_FILE_MAX) {
        rc = -EFBIG;
        snprintf(err, CHORD_TOPO_ERR_MAX,
                 "%s: larger than %u bytes: not a topology file", path,
                 CHORD_TOPO_FILE_MAX);
    }
    fclose(f);
    if (rc == 0)
        rc = chord_topology_parse(text, len, path, out, err);
    free(text);
    return rc;
}

void chord_topology_free(struct chord_topology *t)
{
    free(t->nodes);
    free(t->steps);
    memset(t, 0, sizeof *t);
}

int chord_topology_find(const struct chord_topology *t, const char *ref)
{
    size_t len = strlen(ref);
    unsigned long idx;
    if (len > 0 && ref[0] >= '0' && ref[0] <= '9' &&
        parse_num(ref, len, 0, CHORD_TOPO_NODES_MAX, &idx) == 0)
        return idx < t->n_nodes ? (int)idx : -ENOENT;
    char canon[CHORD_ADDR_MAX];
    if (chord_addr_canonical(ref, 0, canon) != 0)
        return -ENOENT;
    for (unsigned k = 0; k < t->n_nodes; k++)
        if (strcmp(t->nodes[k].addr, canon) == 0)
            return (int)k;
    return -ENOENT;
}
