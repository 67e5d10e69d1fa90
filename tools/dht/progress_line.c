/*
 * progress_line.c - the progress line of `dht dump` and `dht load` on
 * stderr: keys done, percent, rate and time left, redrawn at most
 * DHT_PROGRESS_HZ times a second, and only when stderr is a terminal and
 * the output is not --json (scripts see nothing).
 *
 * A stand-in, kept behind three functions so that the shared progress
 * module (tools/common/progress.h, being written beside this) can replace
 * its body without touching the callers. It keeps no state of its own
 * beyond the struct the caller holds. Also the common head of the two
 * commands' JSON summaries.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "dht/dht.h"

#define DHT_PROGRESS_HZ 10

uint64_t dht_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void dht_progress_start(struct dht_progress *p, const char *what, bool quiet)
{
    p->what = what;
    p->on = !quiet && isatty(STDERR_FILENO);
    p->t0_ms = dht_now_ms();
    p->last_ms = 0;
    p->drawn = false;
}

void dht_progress_update(struct dht_progress *p, uint64_t done, double fraction)
{
    if (!p->on)
        return;
    uint64_t now = dht_now_ms();
    if (p->drawn && now - p->last_ms < 1000 / DHT_PROGRESS_HZ)
        return;
    p->last_ms = now;
    p->drawn = true;
    double secs = (double)(now - p->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    fprintf(stderr, "\r%s: %llu keys", p->what, (unsigned long long)done);
    if (fraction >= 0 && fraction <= 1) {
        fprintf(stderr, ", %3.0f%%", fraction * 100);
        if (fraction > 0.01 && secs > 0.5)
            fprintf(stderr, ", about %.0f s left",
                    secs * (1 - fraction) / fraction);
    }
    fprintf(stderr, ", %.0f keys/s\033[K", rate);
    fflush(stderr);
}

void dht_progress_end(struct dht_progress *p)
{
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

uint64_t dht_keys_per_s(uint64_t keys, uint64_t ms)
{
    return ms ? keys * 1000u / ms : keys;
}

void dht_json_backup_begin(struct chord_json *j, const char *path,
                           uint64_t keys, uint64_t ms)
{
    chord_json_init(j);
    chord_json_obj_begin(j);
    chord_json_key(j, "file");
    chord_json_str(j, path);
    chord_json_key(j, "keys");
    chord_json_uint(j, keys);
    chord_json_key(j, "ms");
    chord_json_uint(j, ms);
    chord_json_key(j, "keys_per_s");
    chord_json_uint(j, dht_keys_per_s(keys, ms));
}
