/*
 * jread.c - the pull reader of JSON text (see jread.h).
 *
 * A cursor over the caller's bytes: each call skips white space, checks
 * the separator the grammar wants there (a comma between items, a colon
 * after a name) and reads one token. The `fresh` flag says whether the
 * cursor is right after an opening bracket, which is all the state the
 * comma rule needs: every completed value clears it.
 *
 * Invariants: every read is bounded by len; the first error is kept with
 * its offset; skipping a value nests at most CHORD_JREAD_DEPTH_MAX deep,
 * counted, not recursed. It allocates nothing and prints nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/jread.h"

void chord_jread_init(struct chord_jread *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->text = text;
    r->len = len;
}

int chord_jread_fail(struct chord_jread *r, const char *what)
{
    if (!r->err) {
        r->err = -EINVAL;
        r->err_pos = r->pos;
        snprintf(r->msg, sizeof r->msg, "%s", what);
    }
    return -EINVAL;
}

/* The next significant byte, or -1 at the end. */
static int peek(struct chord_jread *r)
{
    while (r->pos < r->len) {
        char c = r->text[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return (unsigned char)c;
        r->pos++;
    }
    return -1;
}

/* The separator before an item inside a container. */
static int item_sep(struct chord_jread *r)
{
    if (r->fresh) {
        r->fresh = false;
        return 0;
    }
    if (peek(r) != ',')
        return chord_jread_fail(r, "expected ','");
    r->pos++;
    return 0;
}

static int open_with(struct chord_jread *r, char c, const char *what)
{
    if (r->err)
        return r->err;
    if (peek(r) != c)
        return chord_jread_fail(r, what);
    r->pos++;
    r->fresh = true;
    return 0;
}

int chord_jread_obj_begin(struct chord_jread *r)
{
    return open_with(r, '{', "expected an object");
}

int chord_jread_arr_begin(struct chord_jread *r)
{
    return open_with(r, '[', "expected an array");
}

/* At the closing bracket c: consume it and say so. */
static bool closes(struct chord_jread *r, char c)
{
    if (peek(r) != c)
        return false;
    r->pos++;
    r->fresh = false;
    return true;
}

bool chord_jread_obj_next(struct chord_jread *r, char *key, size_t size)
{
    if (r->err || closes(r, '}') || item_sep(r))
        return false;
    if (chord_jread_str(r, key, size))
        return false;
    if (peek(r) != ':') {
        chord_jread_fail(r, "expected ':'");
        return false;
    }
    r->pos++;
    return true;
}

bool chord_jread_arr_next(struct chord_jread *r)
{
    if (r->err || closes(r, ']'))
        return false;
    return item_sep(r) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Fail at the token that starts at `start`, not where it went wrong. */
static int fail_at(struct chord_jread *r, size_t start, const char *what)
{
    r->pos = start;
    return chord_jread_fail(r, what);
}

int chord_jread_str(struct chord_jread *r, char *out, size_t size)
{
    size_t n = 0;
    if (r->err)
        return r->err;
    if (peek(r) != '"')
        return chord_jread_fail(r, "expected a string");
    size_t start = r->pos++;
    for (;;) {
        if (r->pos >= r->len)
            return fail_at(r, start, "unterminated string");
        char c = r->text[r->pos++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return fail_at(r, start, "control character in a string");
        if (c == '\\') {
            if (r->pos >= r->len)
                return fail_at(r, start, "unterminated string");
            char e = r->text[r->pos++];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *k = e ? strchr(from, e) : NULL;
            if (k)
                c = to[k - from];
            else if (e == 'u') {
                unsigned v = 0;
                for (int d = 0; d < 4; d++) {
                    int h = r->pos < r->len ? hexval(r->text[r->pos]) : -1;
                    if (h < 0)
                        return fail_at(r, start, "bad \\u escape");
                    v = v * 16 + (unsigned)h;
                    r->pos++;
                }
                c = v < 0x80 ? (char)v : '?';
            } else
                return fail_at(r, start, "bad escape in a string");
        }
        if (size && n + 1 < size)
            out[n++] = c;
    }
    if (size)
        out[n] = '\0';
    r->fresh = false;
    return 0;
}

int chord_jread_uint(struct chord_jread *r, uint64_t max, uint64_t *out)
{
    if (r->err)
        return r->err;
    int c = peek(r);
    if (c < '0' || c > '9')
        return chord_jread_fail(r, "expected a number");
    size_t start = r->pos;
    uint64_t v = 0;
    while (r->pos < r->len && r->text[r->pos] >= '0' &&
           r->text[r->pos] <= '9') {
        unsigned d = (unsigned)(r->text[r->pos] - '0');
        if (v > (max - d) / 10)
            return fail_at(r, start, "number out of range");
        v = v * 10 + d;
        r->pos++;
    }
    if (r->pos < r->len && (r->text[r->pos] == '.' || r->text[r->pos] == 'e' ||
                            r->text[r->pos] == 'E'))
        return fail_at(r, start, "expected a whole number");
    *out = v;
    r->fresh = false;
    return 0;
}

/* Consume the literal word w (true, false, null) if it is next. */
static bool word(struct chord_jread *r, const char *w)
{
    size_t n = strlen(w);
    if (r->err || peek(r) != w[0] || r->len - r->pos < n ||
        memcmp(r->text + r->pos, w, n) != 0)
        return false;
    r->pos += n;
    r->fresh = false;
    return true;
}

bool chord_jread_null(struct chord_jread *r)
{
    return word(r, "null");
}

/* Skip a number (any JSON number). */
static int skip_number(struct chord_jread *r)
{
    size_t start = r->pos;
    while (r->pos < r->len && strchr("+-0123456789.eE", r->text[r->pos]) &&
           r->text[r->pos])
        r->pos++;
    if (r->pos == start)
        return chord_jread_fail(r, "expected a value");
    r->fresh = false;
    return 0;
}

int chord_jread_skip(struct chord_jread *r)
{
    unsigned depth = 0;
    char stack[CHORD_JREAD_DEPTH_MAX];
    do {
        if (r->err)
            return r->err;
        /* Inside a container: close it, or move to its next item. */
        if (depth > 0) {
            char kind = stack[depth - 1];
            if (closes(r, kind == '{' ? '}' : ']')) {
                depth--;
                continue;
            }
            if (item_sep(r))
                return r->err;
            if (kind == '{') {
                if (chord_jread_str(r, NULL, 0))
                    return r->err;
                if (peek(r) != ':')
                    return chord_jread_fail(r, "expected ':'");
                r->pos++;
            }
        }
        int c = peek(r);
        if (c == '{' || c == '[') {
            if (depth >= CHORD_JREAD_DEPTH_MAX)
                return chord_jread_fail(r, "nested too deeply");
            r->pos++;
            r->fresh = true;
            stack[depth++] = (char)c;
        } else if (c == '"') {
            chord_jread_str(r, NULL, 0);
        } else if (!word(r, "true") && !word(r, "false") && !word(r, "null")) {
            skip_number(r);
        }
    } while (depth > 0);
    return r->err;
}

int chord_jread_end(struct chord_jread *r)
{
    if (r->err)
        return r->err;
    if (peek(r) != -1)
        return chord_jread_fail(r, "unexpected text after the document");
    return 0;
}

void chord_jread_error(const struct chord_jread *r, char *out, size_t size)
{
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < r->err_pos && i < r->len; i++) {
        if (r->text[i] == '\n') {
            line++;
            col = 1;
        } else
            col++;
    }
    snprintf(out, size, "%u:%u: %s", line, col, r->msg[0] ? r->msg : "ok");
}
