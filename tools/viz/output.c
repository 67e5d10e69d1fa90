/*
 * output.c - one drawing from start to file, and the --watch loop: build
 * the model (topology.c, input.c or crawl.c), finish, trace and place it,
 * render it in the chosen format and write it out.
 *
 * Invariants: an output file is replaced atomically (a temporary file in
 * the same directory, renamed over it), so a reader never sees half a
 * drawing; each drawing builds and frees its own model; the watch loop is
 * bounded (--count) and ends cleanly on SIGINT, SIGTERM or SIGHUP, which
 * it blocks and waits for between drawings (no handler, no global flag).
 *
 * It does not parse options (main.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "render.h"
#include "viz.h"

/* Write the buffer to `path` ("-" or NULL: stdout), replacing a file
 * atomically. 0, or -1 after printing why. */
static int write_output(const char *path, const struct chord_buf *b)
{
    if (!path || strcmp(path, "-") == 0) {
        if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len) {
            fprintf(stderr, "dht-viz: cannot write to stdout\n");
            return -1;
        }
        return fflush(stdout) == 0 ? 0 : -1;
    }
    char tmp[VIZ_PATH_NAME_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        fprintf(stderr, "dht-viz: output path too long\n");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "dht-viz: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < b->len) {
        ssize_t w = write(fd, b->data + done, b->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "dht-viz: cannot write %s: %s\n", tmp,
                    strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "dht-viz: cannot write %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Build the ring once and render it into out. 0, or an exit status. */
static int draw_once(const struct viz_opts *o, struct viz_out *out)
{
    struct viz_ring r;
    memset(&r, 0, sizeof r);
    r.owner = -1;
    r.highlight = -1;
    int rc;
    if (o->input) {
        r.live = true;
        r.snapshot = true;
        snprintf(r.source, sizeof r.source, "%s", o->input);
        rc = viz_input_load(&r, o->input);
        if (rc) {
            viz_ring_free(&r);
            if (rc == -ENOMEM)
                fprintf(stderr, "dht-viz: out of memory\n");
            return VIZ_EXIT_INVALID;
        }
    } else if (o->topology) {
        rc = viz_topology_load(&r, o->topology);
        if (rc) {
            viz_ring_free(&r);
            if (rc == -ENOMEM)
                fprintf(stderr, "dht-viz: out of memory\n");
            return VIZ_EXIT_INVALID;
        }
    } else {
        r.live = true;
        snprintf(r.source, sizeof r.source, "%s", o->node);
        rc = viz_crawl(&r, o);
        if (rc == 0)
            rc = viz_crawl_health(&r);
        if (rc) {
            viz_ring_free(&r);
            if (rc == -ENOMEM)
                fprintf(stderr, "dht-viz: out of memory\n");
            return CHORD_EXIT_FAILED;
        }
    }
    viz_layout_place(&r);
    viz_ring_finish(&r, o->highlight);
    if (o->key)
        viz_key_trace(&r, o);
    chord_buf_reset(&out->b);
    out->err = 0;
    switch (o->format) {
    case VIZ_SVG:
        viz_render_svg(out, &r, true);
        break;
    case VIZ_HTML:
        viz_render_html(out, &r, o->watch);
        break;
    case VIZ_DOT:
        viz_render_dot(out, &r);
        break;
    default:
        viz_render_text(out, &r);
        break;
    }
    viz_ring_free(&r);
    if (out->err) {
        fprintf(stderr, "dht-viz: cannot render: %s\n", strerror(-out->err));
        return VIZ_EXIT_INVALID;
    }
    return CHORD_EXIT_OK;
}

/* One drawing, written to o->output. 0, or an exit status. */
static int draw_and_write(const struct viz_opts *o, struct viz_out *out)
{
    int status = draw_once(o, out);
    if (status == CHORD_EXIT_OK && write_output(o->output, &out->b))
        status = VIZ_EXIT_INVALID;
    return status;
}

int viz_run(const struct viz_opts *o)
{
    struct viz_out out;
    memset(&out, 0, sizeof out);
    chord_buf_init(&out.b);
    int status = CHORD_EXIT_OK;
    if (!o->watch) {
        status = draw_and_write(o, &out);
        chord_buf_free(&out.b);
        return status;
    }

    /* --watch: SIGINT, SIGTERM and SIGHUP are blocked and waited for
     * between drawings, so an interrupt ends the loop cleanly (after the
     * drawing in progress) without a signal handler or a global flag. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    for (unsigned round = 1;; round++) {
        status = draw_and_write(o, &out);
        if (status == CHORD_EXIT_OK) {
            time_t now = time(NULL);
            struct tm tm;
            char when[16];
            localtime_r(&now, &tm);
            strftime(when, sizeof when, "%H:%M:%S", &tm);
            fprintf(stderr, "dht-viz: %s wrote %s (drawing %u)\n", when,
                    o->output, round);
        }
        if (o->count && round >= o->count)
            break;
        struct timespec ts = {.tv_sec = (time_t)o->watch, .tv_nsec = 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig > 0) {
            fprintf(stderr, "dht-viz: stopped by signal %d\n", sig);
            break;
        }
    }
    chord_buf_free(&out.b);
    return status;
}
