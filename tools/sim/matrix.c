/*
 * matrix.c - the reader of a latency matrix file (--latency matrix:FILE):
 * M lines of M whitespace-separated delays in ms, row = the sender's
 * host, '#' starts a comment; node i sits on host i % M (the simulator's
 * chord_sim_set_latency_matrix does that part).
 *
 * Invariants: M is at most CHORD_SIM_HOSTS_MAX and every delay is an
 * integer 0..SIM_DELAY_CAP_MS; the first error is printed as FILE:LINE:
 * and nothing is kept; on success the matrix is owned by the options.
 *
 * It does not install the matrix in the simulator (main.c does).
 */
#include <stdlib.h>

#include "chord/sim.h"
#include "common/args.h"
#include "dht_sim.h"
#include "textfile.h"

/* Read o->matrix_file into o->matrix: M lines of M delays in ms. 0, or
 * CHORD_EXIT_USAGE after printing FILE:LINE: why not. */
int dsim_matrix_read(struct sim_opts *o)
{
    struct text_file tf;
    int rc = dsim_text_open(&tf, o->matrix_file);
    if (rc)
        return rc;
    unsigned m = 0, rows = 0;
    uint32_t *mx = NULL;
    for (;;) {
        rc = dsim_text_next(&tf);
        if (rc <= 0) {
            rc = -rc;
            break;
        }
        if (m == 0) {
            if (tf.n_words > CHORD_SIM_HOSTS_MAX) {
                rc = dsim_file_error(tf.name, tf.lineno,
                                     "%zu values in the first row: at most %u "
                                     "hosts",
                                     tf.n_words, CHORD_SIM_HOSTS_MAX);
                break;
            }
            m = (unsigned)tf.n_words;
            mx = malloc((size_t)m * m * sizeof *mx);
            if (!mx) {
                rc = dsim_file_error(tf.name, tf.lineno, "out of memory");
                break;
            }
        } else if (tf.n_words != m) {
            rc = dsim_file_error(tf.name, tf.lineno,
                                 "expected %u values (as in the first row), "
                                 "found %zu",
                                 m, tf.n_words);
            break;
        }
        if (rows == m) {
            rc = dsim_file_error(tf.name, tf.lineno,
                                 "more than %u rows (the first row has %u "
                                 "values)",
                                 m, m);
            break;
        }
        for (unsigned k = 0; k < m; k++) {
            uint64_t v;
            if (chord_parse_u64(tf.word[k], 0, SIM_DELAY_CAP_MS, &v)) {
                rc = dsim_file_error(tf.name, tf.lineno,
                                     "bad delay '%.40s' in column %u (want an "
                                     "integer 0..%u ms)",
                                     tf.word[k], k + 1, SIM_DELAY_CAP_MS);
                goto out;
            }
            mx[(size_t)rows * m + k] = (uint32_t)v;
        }
        rows++;
    }
    if (rc == 0 && m == 0)
        rc = dsim_file_error(tf.name, tf.lineno, "no matrix rows");
    else if (rc == 0 && rows < m)
        rc = dsim_file_error(tf.name, tf.lineno,
                             "only %u rows, expected %u (the first row has %u "
                             "values)",
                             rows, m, m);
out:
    dsim_text_close(&tf);
    if (rc) {
        free(mx);
        return rc;
    }
    o->matrix = mx;
    o->matrix_m = m;
    return 0;
}
