/*
 * log_line.h - one log line of the host, as text or as a JSON object.
 *
 *   text: 2025-01-31T12:00:00.123Z INFO 127.0.0.1:7000 message
 *   json: {"time":"2025-01-31T12:00:00.123Z","level":"info",
 *          "node":"127.0.0.1:7000","message":"message"}
 *
 * The JSON form escapes '"', '\\' and control bytes (\u00XX), and passes
 * other bytes through, so a UTF-8 message stays UTF-8; each line is one
 * object. It reads the wall clock (CLOCK_REALTIME): it is io, not core.
 *
 * What it does not do: write anywhere (the host writes the line).
 */
#ifndef CHORD_IO_LOG_LINE_H
#define CHORD_IO_LOG_LINE_H

#include <stddef.h>

/*
 * Format one line for `level` (enum chord_log_level), node address `node`
 * and `msg` in `format` (enum chord_log_format) into out[cap], ending in a
 * newline (a message too long for cap is cut, the line still ends in a
 * newline and, in JSON, still closes its object). Returns the bytes
 * written (< cap, NUL after them). cap must be at least 256.
 */
size_t chord_log_line_format(char *out, size_t cap, int format, int level,
                             const char *node, const char *msg);

#endif
