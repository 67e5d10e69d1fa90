/*
 * script.c - the reader of a --script FILE: the events of the measured
 * phase, one a line, "AT ACTION [ARG]", AT in simulated seconds from the
 * start of the measured phase (0 .. T, never decreasing from one line to
 * the next), '#' starts a comment:
 *     crash N       N random up nodes crash
 *     join N        N new nodes join, each through a random ACTIVE node
 *     leave N       N random ACTIVE nodes leave gracefully
 *     partition F   a random fraction F (0 < F < 1) of the up nodes goes
 *                   to group 1, every other node to group 0: frames
 *                   between the two are dropped (replaces any earlier
 *                   partition; nodes that join later are in group 0)
 *     heal          every node back to group 0
 *     loss P        message loss from now on (0 <= P < 1)
 * Random choices come from the tool's PRNG (faults.c applies the events),
 * so a script keeps a run a function of the options and the seed. Zave's
 * invariant is still checked during a partition, although her model
 * assumes none: a partition that outlasts the failure detector (about
 * 2 s) can leave a node whose whole successor list is on the other side
 * with no successor at all, and the run then stops as for any violation
 * (the message says a partition was on).
 *
 * Invariants: at most SIM_SCRIPT_CAP events; every time and argument is
 * checked before the event is kept; the first error is printed as
 * FILE:LINE: and nothing is kept; on success the events are owned by the
 * options.
 *
 * It does not apply the events (faults.c) or schedule them (measure.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "dht_sim.h"
#include "textfile.h"

/* Read o->script_file into o->script (see the top of the file). 0, or
 * CHORD_EXIT_USAGE after printing FILE:LINE: why not. */
int dsim_script_read(struct sim_opts *o)
{
    static const struct {
        const char *name;
        uint8_t action;
        bool arg;
    } actions[] = {
        {"crash", ACT_CRASH, true}, {"join", ACT_JOIN, true},
        {"leave", ACT_LEAVE, true}, {"partition", ACT_PARTITION, true},
        {"heal", ACT_HEAL, false},  {"loss", ACT_LOSS, true},
    };
    struct text_file tf;
    int rc = dsim_text_open(&tf, o->script_file);
    if (rc)
        return rc;
    struct script_ev *v = NULL;
    size_t n = 0, cap = 0;
    double prev_s = 0.0, dur_s = (double)o->duration / 1000.0;
    for (;;) {
        rc = dsim_text_next(&tf);
        if (rc <= 0) {
            rc = -rc;
            break;
        }
        const char *file = tf.name;
        unsigned ln = tf.lineno;
        double at;
        if (dsim_parse_double(tf.word[0], 0.0, SIM_DURATION_CAP_S, &at)) {
            rc =
                dsim_file_error(file, ln,
                                "bad time '%.40s' (want seconds from the start "
                                "of the measured phase)",
                                tf.word[0]);
            break;
        }
        if (at > dur_s) {
            rc = dsim_file_error(file, ln,
                                 "time %g s is after the end of the measured "
                                 "phase (--duration %g)",
                                 at, dur_s);
            break;
        }
        if (at < prev_s) {
            rc = dsim_file_error(file, ln,
                                 "time %g s comes before the previous event's "
                                 "%g s (times must not decrease)",
                                 at, prev_s);
            break;
        }
        prev_s = at;
        if (tf.n_words < 2) {
            rc = dsim_file_error(file, ln, "no action after the time");
            break;
        }
        size_t a = 0;
        while (a < sizeof actions / sizeof actions[0] &&
               strcmp(tf.word[1], actions[a].name) != 0)
            a++;
        if (a == sizeof actions / sizeof actions[0]) {
            rc = dsim_file_error(file, ln,
                                 "unknown action '%.40s' (want crash, join, "
                                 "leave, partition, heal or loss)",
                                 tf.word[1]);
            break;
        }
        if (tf.n_words != (actions[a].arg ? 3u : 2u)) {
            rc = dsim_file_error(file, ln, "'%s' takes %s", actions[a].name,
                                 actions[a].arg ? "one argument"
                                                : "no argument");
            break;
        }
        if (n == SIM_SCRIPT_CAP) {
            rc = dsim_file_error(file, ln, "more than %u events",
                                 SIM_SCRIPT_CAP);
            break;
        }
        struct script_ev ev = {
            .at_ms = (uint64_t)llround(at * 1000.0),
            .action = actions[a].action,
        };
        const char *arg = actions[a].arg ? tf.word[2] : NULL;
        uint64_t u;
        switch (ev.action) {
        case ACT_CRASH:
        case ACT_JOIN:
        case ACT_LEAVE:
            if (chord_parse_u64(arg, 1, SIM_NODES_CAP, &u)) {
                rc = dsim_file_error(file, ln,
                                     "bad count '%.40s' for '%s' (want 1..%u)",
                                     arg, actions[a].name, SIM_NODES_CAP);
                goto out;
            }
            ev.count = (unsigned)u;
            break;
        case ACT_PARTITION:
            if (dsim_parse_double(arg, 0.0, 1.0, &ev.value) ||
                ev.value <= 0.0 || ev.value >= 1.0) {
                rc = dsim_file_error(
                    file, ln,
                    "bad fraction '%.40s' for 'partition' (want "
                    "0 < F < 1)",
                    arg);
                goto out;
            }
            break;
        case ACT_LOSS:
            if (dsim_parse_double(arg, 0.0, 1.0, &ev.value) ||
                ev.value >= 1.0) {
                rc = dsim_file_error(file, ln,
                                     "bad probability '%.40s' for 'loss' (want "
                                     "0 <= P < 1)",
                                     arg);
                goto out;
            }
            break;
        default:
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct script_ev *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = dsim_file_error(file, ln, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = ev;
    }
out:
    dsim_text_close(&tf);
    if (rc) {
        free(v);
        return rc;
    }
    o->script = v;
    o->n_script = n;
    return 0;
}
