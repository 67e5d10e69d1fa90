/*
 * feed.c - from the live model (watch.c) to what the page is told: after
 * each poll, the model becomes a struct viz_ring (the nodes that have
 * been polled, with their last status; crawl.c's health rules; layout.c's
 * positions and labels, as the static SVG has them), every node becomes
 * its JSON (livejson.c), and what differs from the last round is sent as
 * one update: the nodes whose JSON changed, the nodes gone, and timeline
 * events (joined, left, not answering, suspected by whom, declared dead
 * by whom, back, leaving, keys moved, successor views that disagree,
 * ring split or merged). The hub's snapshot is replaced with the update.
 *
 * Only the nodes of the model are drawn (no ghosts: a node forgotten by
 * the model is gone from the page). Health, as the page shows it: a node
 * that answers is ok unless a
 * detector suspects or convicted it; a node that does not answer is what
 * the detectors say (dead, suspected), else "no-answer"; once declared
 * dead it stays dead while it stays silent (a detector forgets a dead
 * peer after its window; the page should not turn it back to "no
 * answer").
 *
 * Invariants: runs in the crawler thread only; timeline events wait until
 * the model has settled (the first round is the ring as found, not news);
 * at most VIZ_TIMELINE_MAX events are kept for new pages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "live.h"
#include "livejson.h"
#include "render.h"

#define BY_LEN 512u
#define KEYS_EVENT_MS 5000u /* one "keys" event per node at most this often */

struct viz_feed_prev {
    char addr[CHORD_ADDR_MAX];
    char *json;
    uint8_t health, state;
    bool answered, bad_succ;
    uint64_t keys, primary; /* as the timeline last told them */
    uint64_t keys_at;       /* when (monotonic ms) */
};

int viz_feed_init(struct viz_feed *f)
{
    memset(f, 0, sizeof *f);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    f->t0_ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    f->cycles = 1;
    return 0;
}

static void prev_free(struct viz_feed_prev *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(p[i].json);
    free(p);
}

void viz_feed_free(struct viz_feed *f)
{
    prev_free(f->prev, f->n_prev);
    for (unsigned i = 0; i < f->n_events; i++)
        free(f->events[i]);
    memset(f, 0, sizeof *f);
}

/* The ring of the polled nodes of w, health set, placed. 0 or -ENOMEM. */
static int build_ring(const struct viz_watch *w, struct viz_ring *r)
{
    memset(r, 0, sizeof *r);
    r->live = true;
    r->owner = -1;
    r->highlight = -1;
    snprintf(r->source, sizeof r->source, "live");
    for (unsigned i = 0; i < w->n; i++) {
        const struct viz_live_node *m = &w->nodes[i];
        if (m->polled_at == 0) /* named, not asked yet */
            continue;
        struct viz_node *n = viz_ring_add(r, &m->self);
        if (!n)
            return -ENOMEM;
        if (m->st && m->st->self.addr[0]) {
            if (viz_node_from_status(n, m->st))
                return -ENOMEM;
            n->self = m->self;
        }
        if (!m->answered) {
            /* Its old lists stay for the details; its verdicts about
             * others do not count any more. */
            n->live = false;
            n->n_peers = 0;
        }
    }
    int rc = viz_crawl_health(r);
    if (rc)
        return rc;
    /* No ghosts here: a node the model forgot is gone from the page,
     * though some peer may keep it in its dead window for a long while
     * (the static drawings show such ghosts; the timeline said "dead"). */
    unsigned out = 0;
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        if (n->ghost) {
            free(n->succ);
            free(n->fingers);
            free(n->peers);
            continue;
        }
        r->nodes[out++] = *n;
    }
    if (out != r->n) {
        r->n = out;
        rc = viz_ring_index(r);
        if (rc)
            return rc;
    }
    viz_ring_finish(r, NULL);
    for (unsigned i = 0; i < r->n; i++) {
        struct viz_node *n = &r->nodes[i];
        if (!n->live && !n->ghost)
            n->health = n->dead_by        ? VIZ_DEAD
                        : n->suspected_by ? VIZ_SUSPECTED
                                          : VIZ_UNREACHABLE;
    }
    viz_layout_place(r);
    return 0;
}

/* The answering nodes that suspect node i or declared it dead. */
static void judges(const struct viz_ring *r, unsigned i, char by[BY_LEN])
{
    size_t len = 0;
    by[0] = '\0';
    for (unsigned k = 0; k < r->n; k++) {
        const struct viz_node *m = &r->nodes[k];
        if (!m->live || k == i)
            continue;
        for (unsigned p = 0; p < m->n_peers; p++) {
            if (m->peers[p].state == CHORD_PEER_ALIVE ||
                strcmp(m->peers[p].addr, r->nodes[i].self.addr) != 0)
                continue;
            int w = snprintf(by + len, BY_LEN - len, "%s%s", len ? ", " : "",
                             m->self.addr);
            if (w > 0 && len + (size_t)w < BY_LEN)
                len += (size_t)w;
            break;
        }
    }
}

/* Successor cycles among the answering members (first successors). */
static unsigned count_cycles(const struct viz_ring *r)
{
    unsigned *mark = calloc(r->n ? r->n : 1, sizeof *mark);
    if (!mark)
        return 1;
    unsigned cycles = 0;
    for (unsigned s = 0; s < r->n; s++) {
        if (mark[s] || !r->nodes[s].live || r->nodes[s].ghost)
            continue;
        unsigned i = s;
        for (;;) {
            mark[i] = s + 1;
            const struct viz_node *n = &r->nodes[i];
            int j = n->n_succ ? viz_ring_find_addr(r, n->succ[0].addr) : -1;
            if (j < 0 || !r->nodes[j].live)
                break;
            if (mark[j] == s + 1) {
                cycles++;
                break;
            }
            if (mark[j])
                break;
            i = (unsigned)j;
        }
    }
    free(mark);
    return cycles;
}

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* The events of one round, in the order they happened. */
#define ROUND_EVENTS_MAX (VIZ_TIMELINE_MAX / 4) /* newer than any evicted */
struct round {
    unsigned n;
    const char *ev[ROUND_EVENTS_MAX];
};

/* Add a timeline event: kept for new pages and listed in the round. */
static void event(struct viz_feed *f, struct round *ev, const char *kind,
                  const char *addr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void event(struct viz_feed *f, struct round *ev, const char *kind,
                  const char *addr, const char *fmt, ...)
{
    char text[BY_LEN + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    uint64_t now = wall_ms();
    time_t secs = (time_t)(now / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    snprintf(when, sizeof when, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min,
             tm.tm_sec, (unsigned)(now % 1000u));
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "t");
    chord_json_uint(&j, now);
    chord_json_key(&j, "time");
    chord_json_str(&j, when);
    chord_json_key(&j, "kind");
    chord_json_str(&j, kind);
    chord_json_key(&j, "addr");
    chord_json_str(&j, addr);
    chord_json_key(&j, "text");
    chord_json_str(&j, text);
    chord_json_obj_end(&j);
    if (chord_json_finish(&j)) {
        chord_json_free(&j);
        return;
    }
    if (ev->n == ROUND_EVENTS_MAX) {
        chord_json_free(&j); /* a round this eventful: keep the first */
        return;
    }
    if (f->n_events == VIZ_TIMELINE_MAX) {
        free(f->events[0]);
        memmove(f->events, f->events + 1,
                (VIZ_TIMELINE_MAX - 1) * sizeof f->events[0]);
        f->n_events--; /* the oldest, never one of this round's */
    }
    f->events[f->n_events++] = (char *)j.out.data;
    ev->ev[ev->n++] = (const char *)j.out.data;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The timeline events of node i against what was last told (p, or NULL:
 * new). */
static void node_events(struct viz_feed *f, struct round *ev,
                        const struct viz_ring *r, unsigned i,
                        const struct viz_feed_prev *p, struct viz_feed_prev *q,
                        const char *by, uint64_t now)
{
    const struct viz_node *n = &r->nodes[i];
    const char *a = n->self.addr;
    if (!p) {
        if (n->live)
            event(f, ev, "joined", a, "%s joined", a);
        return;
    }
    if (n->health != p->health) {
        if (n->health == VIZ_SUSPECTED)
            event(f, ev, "suspected", a, "%s suspected by %s", a,
                  by[0] ? by : "the viewer");
        else if (n->health == VIZ_DEAD)
            event(f, ev, "dead", a, "%s declared dead by %s", a,
                  by[0] ? by : "its peers");
        else if (n->health == VIZ_UNREACHABLE)
            event(f, ev, "no-answer", a, "%s does not answer", a);
        else if (n->health == VIZ_OK)
            event(f, ev, "back", a, "%s is back", a);
    }
    if (n->live && p->answered && n->state != p->state &&
        n->state == CHORD_NODE_LEAVING)
        event(f, ev, "leaving", a, "%s is leaving", a);
    /* Key counts move in bursts (a transfer, a repair): one event per
     * node per KEYS_EVENT_MS, against what the timeline last said. */
    if (n->live && (n->primary_keys != p->primary || n->keys != p->keys) &&
        now >= p->keys_at + KEYS_EVENT_MS) {
        event(f, ev, "keys", a,
              "%s owns %" PRIu64 " %s (was %" PRIu64 "), holds %" PRIu64
              " (was %" PRIu64 ")",
              a, n->primary_keys, plural(n->primary_keys, "key", "keys"),
              p->primary, n->keys, p->keys);
        q->keys = n->keys;
        q->primary = n->primary_keys;
        q->keys_at = now;
    }
    if (n->live && n->bad_succ && !p->bad_succ)
        event(f, ev, "ring", a,
              "%s names %s as its successor, but an answering node lies "
              "between them",
              a, n->n_succ ? n->succ[0].addr : "none");
}

/* The summary counts of r. */
static void summary(struct chord_json *j, const struct viz_ring *r,
                    const struct viz_watch *w, unsigned cycles)
{
    unsigned count[4] = {0, 0, 0, 0};
    for (unsigned i = 0; i < r->n; i++)
        count[r->nodes[i].health < 4 ? r->nodes[i].health : 3]++;
    chord_json_obj_begin(j);
    chord_json_key(j, "nodes");
    chord_json_uint(j, r->n);
    chord_json_key(j, "ok");
    chord_json_uint(j, count[VIZ_OK]);
    chord_json_key(j, "suspected");
    chord_json_uint(j, count[VIZ_SUSPECTED]);
    chord_json_key(j, "dead");
    chord_json_uint(j, count[VIZ_DEAD]);
    chord_json_key(j, "no_answer");
    chord_json_uint(j, count[VIZ_UNREACHABLE]);
    chord_json_key(j, "keys");
    chord_json_uint(j, r->total_keys);
    chord_json_key(j, "replicas");
    chord_json_uint(j, r->replicas);
    chord_json_key(j, "cycles");
    chord_json_uint(j, cycles);
    chord_json_key(j, "polls");
    chord_json_uint(j, w->polls);
    chord_json_key(j, "settled");
    chord_json_bool(j, w->settled);
    chord_json_obj_end(j);
}

/* One node's JSON text, malloc'd, or NULL. */
static char *node_text(const struct viz_ring *r, unsigned i,
                       const struct viz_label *lab, const char *by)
{
    struct chord_json j;
    chord_json_init(&j);
    viz_livejson_node(&j, r, i, lab, by);
    if (chord_json_finish(&j)) {
        chord_json_free(&j);
        return NULL;
    }
    return (char *)j.out.data;
}

/* The lookup table of r: addresses and successors. */
static struct viz_hub_node *table_of(const struct viz_ring *r)
{
    struct viz_hub_node *t = calloc(r->n ? r->n : 1, sizeof *t);
    if (!t)
        return NULL;
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        memcpy(t[i].addr, n->self.addr, CHORD_ADDR_MAX);
        t[i].answered = n->live;
        t[i].n_succ = n->n_succ < CHORD_SUCC_MAX ? n->n_succ : CHORD_SUCC_MAX;
        for (unsigned k = 0; k < t[i].n_succ; k++)
            memcpy(t[i].succ[k], n->succ[k].addr, CHORD_ADDR_MAX);
    }
    return t;
}

static int find_prev(const struct viz_feed *f, const char *addr)
{
    for (unsigned i = 0; i < f->n_prev; i++)
        if (strcmp(f->prev[i].addr, addr) == 0)
            return (int)i;
    return -1;
}

/* The body of both messages: time, geometry, summary. */
static void head(struct chord_json *j, const struct viz_ring *r,
                 const struct viz_label *lab, const struct viz_watch *w,
                 unsigned cycles)
{
    chord_json_key(j, "t");
    chord_json_uint(j, wall_ms());
    chord_json_key(j, "geom");
    viz_livejson_geometry(j, r, lab);
    chord_json_key(j, "summary");
    summary(j, r, w, cycles);
}

/* Append a NUL-terminated string. */
static void put(struct chord_buf *b, const char *s)
{
    chord_buf_append(b, s, strlen(s));
}

/* Append "[a,b,...]" of JSON texts. */
static void put_list(struct chord_buf *b, const char *const *items, unsigned n)
{
    put(b, "[");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            put(b, ",");
        put(b, items[i]);
    }
    put(b, "]");
}

/* Append the members time, geometry and summary (no braces). */
static int put_head(struct chord_buf *b, const struct viz_ring *r,
                    const struct viz_label *lab, const struct viz_watch *w,
                    unsigned cycles)
{
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    head(&j, r, lab, w, cycles);
    chord_json_obj_end(&j);
    int rc = chord_json_finish(&j);
    if (rc == 0)
        chord_buf_append(b, j.out.data + 1, j.out.len - 2);
    chord_json_free(&j);
    return rc;
}

/* A buffer's text, NUL-terminated and handed over (the buffer is left
 * empty), or NULL. */
static char *take(struct chord_buf *b)
{
    if (chord_buf_append(b, "", 1)) {
        chord_buf_free(b);
        return NULL;
    }
    char *s = (char *)b->data;
    chord_buf_init(b);
    return s;
}

int viz_feed_round(struct viz_feed *f, const struct viz_watch *w,
                   struct viz_hub *h)
{
    struct viz_ring r;
    int rc = build_ring(w, &r);
    struct viz_label *lab = calloc(r.n ? r.n : 1, sizeof *lab);
    struct viz_feed_prev *next = calloc(r.n ? r.n : 1, sizeof *next);
    const char **changed = calloc(r.n ? r.n : 1, sizeof *changed);
    struct round *ev = calloc(1, sizeof *ev);
    struct chord_json gone;
    struct chord_buf upd, snap;
    chord_json_init(&gone);
    chord_buf_init(&upd);
    chord_buf_init(&snap);
    if (rc || !lab || !next || !changed || !ev) {
        rc = -ENOMEM;
        goto out;
    }
    viz_place_labels(&r, lab, r.n <= VIZ_LABELS_TWO_LINES);
    bool news = f->settled;
    uint64_t now = w->last_ms;
    unsigned n_changed = 0;
    for (unsigned i = 0; i < r.n; i++) {
        struct viz_node *n = &r.nodes[i];
        int pi = find_prev(f, n->self.addr);
        const struct viz_feed_prev *p = pi >= 0 ? &f->prev[pi] : NULL;
        /* Dead stays dead while the node stays silent. */
        if (p && p->health == VIZ_DEAD && !n->live)
            n->health = VIZ_DEAD;
        char by[BY_LEN];
        judges(&r, i, by);
        char *text = node_text(&r, i, &lab[i], by);
        struct viz_feed_prev *q = &next[i];
        q->json = text;
        if (!text) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(q->addr, n->self.addr, CHORD_ADDR_MAX);
        q->health = n->health;
        q->state = n->state;
        q->answered = n->live;
        q->bad_succ = n->bad_succ;
        q->keys = p && news ? p->keys : n->keys;
        q->primary = p && news ? p->primary : n->primary_keys;
        q->keys_at = p && news ? p->keys_at : now;
        if (news)
            node_events(f, ev, &r, i, p, q, by, now);
        if (!p || strcmp(p->json, text) != 0)
            changed[n_changed++] = text;
    }
    /* The nodes gone since the last round. */
    unsigned n_gone = 0;
    chord_json_arr_begin(&gone);
    for (unsigned i = 0; i < f->n_prev; i++) {
        const struct viz_feed_prev *p = &f->prev[i];
        if (viz_ring_find_addr(&r, p->addr) >= 0)
            continue;
        n_gone++;
        chord_json_str(&gone, p->addr);
        if (!news)
            continue;
        /* A node that leaves gracefully hands its keys over and exits;
         * its peers then find it refusing connections and convict it, so
         * "dead" before "gone" is the usual way out, not only a crash. */
        if (p->state == CHORD_NODE_LEAVING)
            event(f, ev, "left", p->addr, "%s left the ring", p->addr);
        else
            event(f, ev, "gone", p->addr,
                  "%s is gone (left or died): silent, and no node names it "
                  "any more",
                  p->addr);
    }
    chord_json_arr_end(&gone);
    unsigned cycles = count_cycles(&r);
    if (news && cycles != f->cycles && cycles > 0) {
        if (cycles > 1)
            event(f, ev, "split", "", "the ring is split: %u successor cycles",
                  cycles);
        else
            event(f, ev, "merged", "", "the ring is one cycle again");
    }
    if (w->settled && !f->settled) {
        event(f, ev, "watching", "", "watching %u %s", r.n,
              plural(r.n, "node", "nodes"));
        f->settled = true;
    }
    f->cycles = cycles ? cycles : f->cycles;
    if (chord_json_finish(&gone)) {
        rc = -ENOMEM;
        goto out;
    }

    /* The update: what changed. */
    put(&upd, "{\"nodes\":");
    put_list(&upd, changed, n_changed);
    put(&upd, ",\"removed\":");
    put(&upd, (const char *)gone.out.data);
    put(&upd, ",\"events\":");
    put_list(&upd, ev->ev, ev->n);
    put(&upd, ",");
    rc = put_head(&upd, &r, lab, w, cycles);
    put(&upd, "}");
    /* The snapshot: every node and the kept timeline. */
    put(&snap, "{\"nodes\":[");
    for (unsigned i = 0; i < r.n; i++) {
        if (i)
            put(&snap, ",");
        put(&snap, next[i].json);
    }
    put(&snap, "],\"events\":");
    put_list(&snap, (const char *const *)f->events, f->n_events);
    put(&snap, ",");
    if (rc == 0)
        rc = put_head(&snap, &r, lab, w, cycles);
    put(&snap, "}");
    struct viz_hub_node *table = table_of(&r);
    char *snap_text = take(&snap);
    char *upd_text = n_changed || n_gone || ev->n ? take(&upd) : NULL;
    bool upd_ok = upd_text || !(n_changed || n_gone || ev->n);
    if (rc || !table || !snap_text || !upd_ok) {
        free(table);
        free(snap_text);
        free(upd_text);
        rc = -ENOMEM;
        goto out;
    }
    if (upd_text || !f->committed) {
        viz_hub_commit(h, snap_text, table, r.n, r.replicas, upd_text);
        f->committed = true;
    } else { /* nothing changed: the snapshot stands */
        free(snap_text);
        free(table);
    }
    prev_free(f->prev, f->n_prev);
    f->prev = next;
    f->n_prev = r.n;
    next = NULL;
out:
    if (next)
        prev_free(next, r.n);
    chord_json_free(&gone);
    chord_buf_free(&upd);
    chord_buf_free(&snap);
    free(changed);
    free(ev);
    free(lab);
    viz_ring_free(&r);
    return rc;
}
