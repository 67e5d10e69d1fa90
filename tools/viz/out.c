/*
 * out.c - the buffer every dht-viz renderer appends to, with a sticky
 * error, and the escaping of outside strings for each format.
 *
 * Invariants: after the first failure (out of memory, a bad format) the
 * buffer takes nothing more and keeps that error; the escapers turn any
 * byte string into text that is well-formed in its format (XML/HTML, a
 * DOT string, a terminal line), whatever the bytes.
 *
 * It does not write the buffer anywhere (output.c does) and knows nothing
 * of the ring.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

void viz_out_raw(struct viz_out *o, const char *s, size_t n)
{
    if (!o->err)
        o->err = chord_buf_append(&o->b, s, n);
}

void viz_out_puts(struct viz_out *o, const char *s)
{
    viz_out_raw(o, s, strlen(s));
}

void viz_out_printf(struct viz_out *o, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->err = o->err ? o->err : -EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        viz_out_raw(o, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        o->err = o->err ? o->err : -ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    viz_out_raw(o, big, (size_t)n);
    free(big);
}

/*
 * Bytes as XML/HTML text or attribute content: the five markup characters
 * become entities, and any byte that is not printable ASCII is shown as
 * \xHH, so the output is ASCII and well-formed whatever the input.
 */
void viz_out_xml(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            viz_out_puts(o, "&amp;");
            break;
        case '<':
            viz_out_puts(o, "&lt;");
            break;
        case '>':
            viz_out_puts(o, "&gt;");
            break;
        case '"':
            viz_out_puts(o, "&quot;");
            break;
        case '\'':
            viz_out_puts(o, "&#39;");
            break;
        default:
            if (c < 0x20 || c >= 0x7f)
                viz_out_printf(o, "\\x%02x", c);
            else
                viz_out_raw(o, (const char *)&s[i], 1);
        }
    }
}

void viz_out_xmls(struct viz_out *o, const char *s)
{
    viz_out_xml(o, s, strlen(s));
}

/* Bytes inside a DOT double-quoted string: quote and backslash escaped,
 * anything not printable ASCII shown as '?'. */
void viz_out_dot(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            viz_out_raw(o, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            viz_out_raw(o, "?", 1);
        } else {
            viz_out_raw(o, (const char *)&s[i], 1);
        }
    }
}

/* Bytes for a terminal: printable ASCII as is, anything else as \xHH. */
void viz_out_plain(struct viz_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            viz_out_printf(o, "\\x%02x", c);
        else
            viz_out_raw(o, (const char *)&s[i], 1);
    }
}
