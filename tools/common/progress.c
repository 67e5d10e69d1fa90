/*
 * progress.c - the one-line progress report on stderr (see progress.h).
 *
 * Invariant: when `active` is false no function writes anything. The
 * line is drawn with one write(2) per redraw, so it is never interleaved
 * half-way with another writer of the same process's stderr.
 */
#include "common/progress.h"

#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void chord_progress_start(struct chord_progress *p, const char *label,
                          uint64_t total, bool quiet)
{
    memset(p, 0, sizeof(*p));
    p->label = label;
    p->total = total;
    p->active = !quiet && isatty(STDERR_FILENO);
    p->start_ms = chord_mono_ms();
    p->drawn_ms = p->start_ms;
}

/* "1:02:03" or "2:03" for a number of seconds. */
static void progress_hms(uint64_t s, char *out, size_t cap)
{
    if (s >= 3600)
        snprintf(out, cap, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(out, cap, "%llu:%02llu", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
}

void chord_progress_format(const struct chord_progress *p, uint64_t now_ms,
                           char *out, unsigned cap)
{
    uint64_t ms = now_ms > p->start_ms ? now_ms - p->start_ms : 0;
    double rate = ms ? (double)p->done * 1000.0 / (double)ms : 0.0;
    if (p->total == 0) {
        snprintf(out, cap, "%s: %llu done, %.0f/s", p->label,
                 (unsigned long long)p->done, rate);
        return;
    }
    uint64_t done = p->done < p->total ? p->done : p->total;
    unsigned pct = (unsigned)(done * 100u / p->total);
    char eta[32] = "?";
    if (done == p->total)
        snprintf(eta, sizeof(eta), "0:00");
    else if (rate > 0.0)
        progress_hms((uint64_t)((double)(p->total - done) / rate), eta,
                     sizeof(eta));
    snprintf(out, cap, "%s: %llu/%llu %u%% %.0f/s ETA %s", p->label,
             (unsigned long long)done, (unsigned long long)p->total, pct, rate,
             eta);
}

static void progress_draw(struct chord_progress *p, uint64_t now_ms, bool last)
{
    char line[256];
    line[0] = '\r';
    chord_progress_format(p, now_ms, line + 1, sizeof(line) - 8);
    size_t n = strlen(line);
    memcpy(line + n, "\033[K", 3); /* erase what a longer line left */
    n += 3;
    if (last)
        line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* a report that cannot be drawn is not worth failing for */
    p->drawn_ms = now_ms;
}

void chord_progress_update(struct chord_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->active)
        return;
    uint64_t now = chord_mono_ms();
    if (now - p->drawn_ms >= CHORD_PROGRESS_REDRAW_MS)
        progress_draw(p, now, false);
}

void chord_progress_finish(struct chord_progress *p)
{
    if (!p->active)
        return;
    progress_draw(p, chord_mono_ms(), true);
    p->active = false;
}
