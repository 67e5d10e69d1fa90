/*
 * token.c - a session token: a bounded map of key id -> causal context,
 * and its file (see token.h).
 *
 * Entries live in one array, unordered; lookups are linear (a CLI call
 * makes one or two, and there are at most CHORD_TOKEN_KEYS). Each entry
 * keeps its context encoded (a few dozen bytes) and the value of the
 * token's use counter when it was last used; the least recently used is
 * the one with the smallest.
 */
#include "client/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord/buf.h"
#include "chord/crc32c.h"
#include "core/dvv.h"

struct token_entry {
    struct chord_id id;
    uint64_t used; /* the token's `clock` at its last use */
    uint16_t len;
    uint8_t *ctx; /* malloc'd encoded context */
};

struct chord_token {
    struct token_entry *e; /* CHORD_TOKEN_KEYS slots */
    unsigned n;
    uint64_t clock; /* grows by one per use */
};

#define ENTRY_HEAD (CHORD_ID_BYTES + 8u + 2u)

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

int chord__token_new(struct chord_token **out)
{
    struct chord_token *t = calloc(1, sizeof(*t));
    if (t)
        t->e = calloc(CHORD_TOKEN_KEYS, sizeof(*t->e));
    if (!t || !t->e) {
        free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

static void clear(struct chord_token *t)
{
    for (unsigned i = 0; i < t->n; i++)
        free(t->e[i].ctx);
    t->n = 0;
    t->clock = 0;
}

void chord__token_free(struct chord_token *t)
{
    if (!t)
        return;
    clear(t);
    free(t->e);
    free(t);
}

unsigned chord__token_count(const struct chord_token *t)
{
    return t->n;
}

static struct token_entry *find(struct chord_token *t,
                                const struct chord_id *id)
{
    for (unsigned i = 0; i < t->n; i++)
        if (chord_id_eq(&t->e[i].id, id))
            return &t->e[i];
    return NULL;
}

const uint8_t *chord__token_find(struct chord_token *t,
                                 const struct chord_id *id, size_t *len)
{
    struct token_entry *e = find(t, id);
    *len = e ? e->len : 0;
    if (!e)
        return NULL;
    e->used = ++t->clock;
    return e->ctx;
}

/* A slot for a new entry: the next free one, or the least recently
 * used one emptied. */
static struct token_entry *slot(struct chord_token *t)
{
    if (t->n < CHORD_TOKEN_KEYS)
        return &t->e[t->n++];
    struct token_entry *lru = &t->e[0];
    for (unsigned i = 1; i < t->n; i++)
        if (t->e[i].used < lru->used)
            lru = &t->e[i];
    free(lru->ctx);
    memset(lru, 0, sizeof(*lru));
    return lru;
}

int chord__token_merge(struct chord_token *t, const struct chord_id *id,
                       const uint8_t *state, size_t len)
{
    struct chord_dvv *d = malloc(2 * sizeof(*d));
    if (!d)
        return -ENOMEM;
    struct chord_dvv *in = &d[0], *have = &d[1];
    int rc = chord_dvv_decode(state, len, in) ? -EPROTO : 0;
    in->n_sib = 0; /* the vector alone */
    const struct chord_dvv *result = in;
    struct token_entry *e = rc ? NULL : find(t, id);
    if (e && chord_dvv_decode(e->ctx, e->len, have) == 0 &&
        chord_dvv_merge(have, in) >= 0)
        result = have; /* else (too many writers) the new vector alone */
    struct chord_buf b;
    chord_buf_init(&b);
    if (rc == 0)
        rc = chord_dvv_context_encode(result, &b);
    if (rc == 0 && b.len > UINT16_MAX)
        rc = -EPROTO;
    if (rc == 0) {
        if (!e) {
            e = slot(t);
            e->id = *id;
        }
        free(e->ctx);
        e->ctx = b.data; /* taken */
        e->len = (uint16_t)b.len;
        e->used = ++t->clock;
        chord_buf_init(&b);
    }
    chord_buf_free(&b);
    free(d);
    return rc;
}

/* Check and take the file's bytes into the empty token *t: 0 or -EINVAL
 * with *why saying what is wrong. */
static int parse(struct chord_token *t, const uint8_t *p, size_t len,
                 const char **why)
{
    size_t magic = strlen(CHORD_TOKEN_MAGIC);
    *why = "not a session token, or of another version";
    if (len < magic || memcmp(p, CHORD_TOKEN_MAGIC, magic) != 0)
        return -EINVAL;
    *why = "truncated";
    if (len < magic + 8)
        return -EINVAL;
    *why = "checksum mismatch";
    if (chord_crc32c(0, p, len - 4) != (uint32_t)get_be(p + len - 4, 4))
        return -EINVAL;
    size_t off = magic, end = len - 4;
    uint64_t n = get_be(p + off, 4);
    off += 4;
    *why = "too many keys";
    if (n > CHORD_TOKEN_KEYS)
        return -EINVAL;
    struct chord_dvv *d = malloc(sizeof(*d));
    if (!d)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        *why = "truncated";
        rc = -EINVAL;
        if (end - off < ENTRY_HEAD)
            break;
        struct token_entry *e = &t->e[t->n];
        memcpy(e->id.b, p + off, CHORD_ID_BYTES);
        e->used = get_be(p + off + CHORD_ID_BYTES, 8);
        e->len = (uint16_t)get_be(p + off + CHORD_ID_BYTES + 8, 2);
        off += ENTRY_HEAD;
        if (end - off < e->len)
            break;
        *why = "a context that does not decode";
        if (e->len > CHORD_DVV_CONTEXT_MAX ||
            chord_dvv_decode(p + off, e->len, d) != 0 || d->n_sib != 0)
            break;
        rc = -ENOMEM;
        e->ctx = malloc(e->len ? e->len : 1);
        if (!e->ctx)
            break;
        memcpy(e->ctx, p + off, e->len);
        off += e->len;
        t->n++;
        if (e->used > t->clock)
            t->clock = e->used;
        rc = 0;
    }
    free(d);
    if (rc == 0 && off != end) {
        *why = "bytes after the last key";
        rc = -EINVAL;
    }
    return rc;
}

/* All of the file at path into a malloc'd *out: 0, or a negative errno
 * (-ENOENT when it does not exist). */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            rc = ferror(f) ? -EIO : 0;
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int chord__token_load(struct chord_token *t, const char *path, char *err,
                      size_t err_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    if (rc == -ENOENT) {
        clear(t);
        return 0;
    }
    if (rc) {
        snprintf(err, err_len, "cannot read the session token %s: %s", path,
                 strerror(-rc));
        return rc;
    }
    struct chord_token *fresh = NULL;
    rc = chord__token_new(&fresh);
    const char *why = "out of memory";
    if (rc == 0)
        rc = parse(fresh, buf, len, &why);
    free(buf);
    if (rc) {
        snprintf(err, err_len, "the session token %s is corrupt (%s)", path,
                 why);
        chord__token_free(fresh);
        return rc;
    }
    clear(t);
    struct token_entry *e = t->e;
    *t = *fresh;
    fresh->e = e;
    fresh->n = 0;
    chord__token_free(fresh);
    return 0;
}

/* The file's bytes for *t into b: 0 or -ENOMEM. */
static int serialize(const struct chord_token *t, struct chord_buf *b)
{
    uint8_t head[ENTRY_HEAD];
    int rc = chord_buf_append(b, CHORD_TOKEN_MAGIC, strlen(CHORD_TOKEN_MAGIC));
    put_be(head, t->n, 4);
    if (rc == 0)
        rc = chord_buf_append(b, head, 4);
    for (unsigned i = 0; i < t->n && rc == 0; i++) {
        const struct token_entry *e = &t->e[i];
        memcpy(head, e->id.b, CHORD_ID_BYTES);
        put_be(head + CHORD_ID_BYTES, e->used, 8);
        put_be(head + CHORD_ID_BYTES + 8, e->len, 2);
        rc = chord_buf_append(b, head, ENTRY_HEAD);
        if (rc == 0)
            rc = chord_buf_append(b, e->ctx, e->len);
    }
    if (rc == 0) {
        put_be(head, chord_crc32c(0, b->data, b->len), 4);
        rc = chord_buf_append(b, head, 4);
    }
    return rc;
}

/* Write all of data to fd: 0 or a negative errno. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int chord__token_save(const struct chord_token *t, const char *path, char *err,
                      size_t err_len)
{
    struct chord_buf b;
    chord_buf_init(&b);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".XXXXXX"));
    int rc = tmp ? serialize(t, &b) : -ENOMEM;
    int fd = -1;
    if (rc == 0) {
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".XXXXXX", sizeof(".XXXXXX"));
        fd = mkstemp(tmp); /* beside path: the rename stays in one fs */
        if (fd < 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = write_all(fd, b.data, b.len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc && fd >= 0)
        unlink(tmp);
    if (rc)
        snprintf(err, err_len, "cannot save the session token %s: %s", path,
                 strerror(-rc));
    free(tmp);
    chord_buf_free(&b);
    return rc;
}
