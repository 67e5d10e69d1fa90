/*
 * log_line.c - format a host log line as text or JSON (see log_line.h).
 *
 * Invariant: the result always ends in "\n" and, for JSON, is one whole
 * object: the message is cut, with room kept for the closing "}\n".
 */
#include "io/log_line.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chord/host.h"
#include "chord/node.h"

/* Bytes kept free at the end of a JSON line for "\"}\n" and the NUL. */
#define LOG_LINE_TAIL 4u

static const char *level_name(int level, int format)
{
    static const char *const upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    if (level < CHORD_LOG_ERROR || level > CHORD_LOG_DEBUG)
        level = CHORD_LOG_DEBUG;
    return format == CHORD_LOG_FORMAT_JSON ? lower[level] : upper[level];
}

/* Append `s` JSON-escaped to out[*len..cap - LOG_LINE_TAIL), stopping
 * before an escape that would not fit. */
static void json_escape(char *out, size_t *len, size_t cap, const char *s)
{
    size_t n = *len, lim = cap - LOG_LINE_TAIL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (n + k > lim)
            break;
        memcpy(out + n, esc, k);
        n += k;
    }
    *len = n;
}

size_t chord_log_line_format(char *out, size_t cap, int format, int level,
                             const char *node, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    size_t sl = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + sl, sizeof stamp - sl, ".%03ldZ", ts.tv_nsec / 1000000L);
    const char *lv = level_name(level, format);
    size_t len;
    if (format == CHORD_LOG_FORMAT_JSON) {
        int n =
            snprintf(out, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"node\":\"",
                     stamp, lv);
        len = n < 0 ? 0 : (size_t)n;
        json_escape(out, &len, cap, node);
        if (len + 14 < cap - LOG_LINE_TAIL) {
            memcpy(out + len, "\",\"message\":\"", 13);
            len += 13;
            json_escape(out, &len, cap, msg);
        }
        memcpy(out + len, "\"}\n", 4);
        return len + 3;
    }
    int n = snprintf(out, cap - 1, "%s %s %s %s", stamp, lv, node, msg);
    len = n < 0 ? 0 : (size_t)n;
    if (len > cap - 2)
        len = cap - 2;
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}
