/*
 * json.c - the tiny streaming JSON writer (see json.h).
 *
 * Every value goes through value_prefix(), which writes the comma that
 * separates it from the previous element of its container, unless it
 * follows a key (the key wrote its own comma and colon). Escaping is done
 * a run at a time: plain bytes are copied in one append, each escaped byte
 * is written as its own short sequence. Errors are sticky in j->err.
 */
#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void chord_json_init(struct chord_json *j)
{
    memset(j, 0, sizeof(*j));
    chord_buf_init(&j->out);
}

void chord_json_free(struct chord_json *j)
{
    chord_buf_free(&j->out);
    chord_json_init(j);
}

void chord_json_reset(struct chord_json *j)
{
    struct chord_buf keep = j->out;
    memset(j, 0, sizeof(*j));
    j->out = keep;
    j->out.len = 0;
}

/* Append raw text, recording the first failure. */
static void put_raw(struct chord_json *j, const char *s, size_t n)
{
    if (j->err)
        return;
    int rc = chord_buf_append(&j->out, s, n);
    if (rc)
        j->err = rc;
}

/* The separator a value needs in its container (none after a key). */
static void value_prefix(struct chord_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        put_raw(j, ",", 1);
    j->need_comma[j->depth] = true;
}

static bool is_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* The escaped bytes, without quotes (see chord_json_escape). */
static int escape_bytes(struct chord_buf *out, const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < len) {
        size_t run = i;
        while (run < len && is_plain(p[run]))
            run++;
        if (run > i) {
            rc = chord_buf_append(out, p + i, run - i);
            i = run;
            continue;
        }
        char esc[6];
        size_t n = 2;
        esc[0] = '\\';
        switch (p[i]) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0xf];
            n = 6;
            break;
        }
        rc = chord_buf_append(out, esc, n);
        i++;
    }
    return rc;
}

int chord_json_escape(struct chord_buf *out, const void *data, size_t len)
{
    int rc = chord_buf_append(out, "\"", 1);
    if (rc == 0)
        rc = escape_bytes(out, data, len);
    if (rc == 0)
        rc = chord_buf_append(out, "\"", 1);
    return rc;
}

/* The length of the UTF-8 sequence at p[0..left) and its code point, or
 * 0 when it is not a valid one (overlong, a surrogate, past U+10FFFF,
 * cut short). */
static size_t utf8_seq(const uint8_t *p, size_t left, uint32_t *cp)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    if ((p[0] >= 0x80 && p[0] < 0xc2) || p[0] > 0xf4 || n > left)
        return 0;
    uint32_t v = n == 1 ? p[0] : p[0] & (0x7fu >> n);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[k] & 0x3fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
        return 0;
    *cp = v;
    return n;
}

bool chord_json_is_utf8(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t cp;
    for (size_t i = 0, n; i < len; i += n)
        if ((n = utf8_seq(p + i, len - i, &cp)) == 0)
            return false;
    return true;
}

void chord_json_utf8(struct chord_json *j, const void *data, size_t len)
{
    if (j->err)
        return;
    value_prefix(j);
    const uint8_t *p = data;
    int rc = chord_buf_append(&j->out, "\"", 1);
    for (size_t i = 0, n; rc == 0 && i < len; i += n) {
        uint32_t cp = p[i];
        n = utf8_seq(p + i, len - i, &cp);
        if (n <= 1) { /* ASCII, or (not valid) one byte as \u00XX */
            n = 1;
            rc = escape_bytes(&j->out, p + i, 1);
            continue;
        }
        char esc[13];
        int w;
        if (cp < 0x10000) {
            w = snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        } else {
            cp -= 0x10000;
            w = snprintf(esc, sizeof esc, "\\u%04x\\u%04x",
                         (unsigned)(0xd800 + (cp >> 10)),
                         (unsigned)(0xdc00 + (cp & 0x3ff)));
        }
        rc = chord_buf_append(&j->out, esc, (size_t)w);
    }
    if (rc == 0)
        rc = chord_buf_append(&j->out, "\"", 1);
    if (rc)
        j->err = rc;
}

/* Open a container of `kind` ('{' or '['). */
static void open_container(struct chord_json *j, char kind)
{
    if (j->err)
        return;
    value_prefix(j);
    if (j->depth >= CHORD_JSON_DEPTH_MAX) {
        j->err = -E2BIG;
        return;
    }
    put_raw(j, &kind, 1);
    j->depth++;
    j->need_comma[j->depth] = false;
    j->kind[j->depth] = kind;
}

/* Close the innermost container, which must be of `kind`. */
static void close_container(struct chord_json *j, char kind)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth] != kind || j->after_key) {
        j->err = -EINVAL;
        return;
    }
    j->depth--;
    put_raw(j, kind == '{' ? "}" : "]", 1);
}

void chord_json_obj_begin(struct chord_json *j)
{
    open_container(j, '{');
}
void chord_json_obj_end(struct chord_json *j)
{
    close_container(j, '{');
}
void chord_json_arr_begin(struct chord_json *j)
{
    open_container(j, '[');
}
void chord_json_arr_end(struct chord_json *j)
{
    close_container(j, '[');
}

void chord_json_key(struct chord_json *j, const char *name)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth] != '{' || j->after_key) {
        j->err = -EINVAL;
        return;
    }
    value_prefix(j);
    int rc = chord_json_escape(&j->out, name, strlen(name));
    if (rc) {
        j->err = rc;
        return;
    }
    put_raw(j, ":", 1);
    j->after_key = true;
}

void chord_json_strn(struct chord_json *j, const void *data, size_t len)
{
    if (j->err)
        return;
    value_prefix(j);
    int rc = chord_json_escape(&j->out, data, len);
    if (rc)
        j->err = rc;
}

void chord_json_base64(struct chord_json *j, const void *data, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (j->err)
        return;
    value_prefix(j);
    const uint8_t *p = data;
    char q[4];
    int rc = chord_buf_append(&j->out, "\"", 1);
    for (size_t i = 0; rc == 0 && i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        q[0] = abc[v >> 18];
        q[1] = abc[(v >> 12) & 63u];
        q[2] = i + 1 < len ? abc[(v >> 6) & 63u] : '=';
        q[3] = i + 2 < len ? abc[v & 63u] : '=';
        rc = chord_buf_append(&j->out, q, 4);
    }
    if (rc == 0)
        rc = chord_buf_append(&j->out, "\"", 1);
    if (rc)
        j->err = rc;
}

bool chord_json_is_ascii(const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] > 0x7f)
            return false;
    return true;
}

void chord_json_str(struct chord_json *j, const char *s)
{
    chord_json_strn(j, s, strlen(s));
}

void chord_json_id(struct chord_json *j, const struct chord_id *id)
{
    char hex[CHORD_ID_HEX_LEN + 1];
    chord_id_to_hex(id, hex);
    chord_json_strn(j, hex, CHORD_ID_HEX_LEN);
}

/* A value whose text needs no escaping (numbers, literals). */
static void put_literal(struct chord_json *j, const char *s, size_t n)
{
    if (j->err)
        return;
    value_prefix(j);
    put_raw(j, s, n);
}

void chord_json_uint(struct chord_json *j, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);
    put_literal(j, num, (size_t)n);
}

void chord_json_int(struct chord_json *j, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    put_literal(j, num, (size_t)n);
}

void chord_json_bool(struct chord_json *j, bool v)
{
    if (v)
        put_literal(j, "true", 4);
    else
        put_literal(j, "false", 5);
}

void chord_json_null(struct chord_json *j)
{
    put_literal(j, "null", 4);
}

int chord_json_finish(struct chord_json *j)
{
    if (j->err)
        return j->err;
    if (j->depth != 0 || j->after_key)
        return -EINVAL;
    int rc = chord_buf_reserve(&j->out, 1);
    if (rc) {
        j->err = rc;
        return rc;
    }
    j->out.data[j->out.len] = '\0';
    return 0;
}
