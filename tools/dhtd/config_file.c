/*
 * config_file.c - read dhtd's configuration file and split it into
 * `name [= value]` entries (see config_file.h for the format).
 *
 * Invariants: the whole file is read into one buffer, NUL-terminated, and
 * split in place, so an entry's name and value are C strings inside that
 * buffer; the file is read with a size cap and never trusted to end in a
 * newline.
 *
 * It does not interpret names or values: options.c does.
 */
#include "config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drop blanks (space, tab, CR) at both ends of [s, s+len): the new start,
 * *len updated. */
static char *trim(char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t' || *s == '\r')) {
        s++;
        (*len)--;
    }
    while (*len &&
           (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
        (*len)--;
    s[*len] = '\0';
    return s;
}

/* Read the whole file into a NUL-terminated buffer: 0 with *out and *len,
 * or -errno (-EFBIG past DHTD_CONFIG_SIZE_MAX). */
static int slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = malloc(DHTD_CONFIG_SIZE_MAX + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, DHTD_CONFIG_SIZE_MAX + 1, f);
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc == 0 && n > DHTD_CONFIG_SIZE_MAX)
        rc = -EFBIG;
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Split one line (NUL-terminated, newline removed) into an entry. 1 when
 * it is an entry, 0 when blank or a comment, -EINVAL when malformed (err
 * says why). */
static int split_line(const char *path, unsigned no, char *line, size_t len,
                      struct dhtd_config_entry *e,
                      char err[DHTD_CONFIG_ERR_MAX])
{
    if (len > DHTD_CONFIG_LINE_MAX) {
        snprintf(err, DHTD_CONFIG_ERR_MAX, "%s:%u: line longer than %u bytes",
                 path, no, DHTD_CONFIG_LINE_MAX);
        return -EINVAL;
    }
    if (strlen(line) != len) {
        snprintf(err, DHTD_CONFIG_ERR_MAX, "%s:%u: NUL byte in the line", path,
                 no);
        return -EINVAL;
    }
    line = trim(line, &len);
    if (len == 0 || line[0] == '#')
        return 0;
    char *eq = strchr(line, '=');
    size_t name_len = eq ? (size_t)(eq - line) : len;
    e->line = no;
    e->name = trim(line, &name_len);
    e->value = NULL;
    if (eq) {
        size_t vlen = len - (size_t)(eq - line) - 1;
        e->value = trim(eq + 1, &vlen);
    }
    if (!e->name[0]) {
        snprintf(err, DHTD_CONFIG_ERR_MAX,
                 "%s:%u: no option name before '=' (expected 'name = "
                 "value' or 'name')",
                 path, no);
        return -EINVAL;
    }
    return 1;
}

int dhtd_config_read(const char *path, struct dhtd_config *cfg,
                     char err[DHTD_CONFIG_ERR_MAX])
{
    memset(cfg, 0, sizeof *cfg);
    char *text = NULL;
    size_t len = 0;
    int rc = slurp(path, &text, &len);
    if (rc) {
        snprintf(err, DHTD_CONFIG_ERR_MAX, "cannot read %s: %s", path,
                 rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
        return rc;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    cfg->text = text;
    cfg->entries = calloc(lines, sizeof *cfg->entries);
    if (!cfg->entries) {
        dhtd_config_free(cfg);
        snprintf(err, DHTD_CONFIG_ERR_MAX, "cannot read %s: out of memory",
                 path);
        return -ENOMEM;
    }
    char *p = text, *end = text + len;
    for (unsigned no = 1; p < end; no++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        *stop = '\0';
        rc = split_line(path, no, p, (size_t)(stop - p), &cfg->entries[cfg->n],
                        err);
        if (rc < 0) {
            dhtd_config_free(cfg);
            return rc;
        }
        cfg->n += (size_t)rc;
        p = stop + 1;
    }
    return 0;
}

void dhtd_config_free(struct dhtd_config *cfg)
{
    free(cfg->entries);
    free(cfg->text);
    memset(cfg, 0, sizeof *cfg);
}
