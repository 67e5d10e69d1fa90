/*
 * html.c - the drawing as one self-contained HTML page: the SVG inline
 * (svg.c), a summary and the legend beside it, the model as JSON, and a
 * small script that, when a node is clicked, draws its fingers as chords,
 * marks its successor list and replica set and lists them with its peers.
 *
 * Invariants: the page refers to nothing outside itself (no URL, no
 * external script, style or font); every outside string is escaped for
 * HTML, and the JSON is escaped so that it cannot close its <script>
 * element; the script builds text with textContent only.
 *
 * It writes only to the buffer.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "render.h"

static const char html_css[] =
    "body{margin:0;font:14px/1.45 'DejaVu Sans',Verdana,Arial,sans-serif;"
    "color:#1a202c;background:#f7fafc}\n"
    "header{padding:10px 16px 0}\n"
    "h1{font-size:20px;margin:0}\n"
    ".sub{color:#4a5568;margin:2px 0 0;font-size:13px}\n"
    "#wrap{display:flex;gap:14px;padding:10px 16px;align-items:flex-start}\n"
    "#ring{flex:1 1 auto;min-width:0;background:#fff;border:1px solid "
    "#e2e8f0;border-radius:8px}\n"
    "#ring svg{width:100%;height:auto;max-height:92vh;display:block}\n"
    "#panel{flex:0 0 350px;background:#fff;border:1px solid #e2e8f0;"
    "border-radius:8px;padding:10px 14px;max-height:92vh;overflow:auto}\n"
    "#panel h2{font-size:16px;margin:4px 0}\n"
    "#panel h3{font-size:13px;margin:12px 0 4px;color:#2d3748}\n"
    "#panel ol,#panel ul{margin:0;padding-left:22px;font-size:12px}\n"
    ".node{cursor:pointer}\n"
    ".node.sel .dot{stroke:#d69e2e;stroke-width:4}\n"
    "path.finger{fill:none;stroke:#2c7a7b;stroke-width:2;"
    "stroke-dasharray:6 4;opacity:.9}\n"
    "circle.succ-mark{fill:none;stroke:#3182ce;stroke-width:2}\n"
    "circle.rep-mark{fill:none;stroke:#38a169;stroke-width:3.5}\n"
    "text.succ-num{font-size:11px;fill:#2b6cb0;font-weight:bold}\n"
    "table{border-collapse:collapse;font-size:12px;width:100%}\n"
    "th,td{text-align:left;padding:2px 5px;border-bottom:1px solid #edf2f7}\n"
    "th{color:#4a5568;font-weight:normal}\n"
    ".mono{font-family:'DejaVu Sans Mono',monospace}\n"
    ".hint{color:#718096}\n"
    ".note{color:#c53030;font-size:12px}\n"
    ".suspected{color:#c05621}.dead,.unreachable{color:#c53030}\n"
    "g.hover-label text{font-size:12px;stroke:#fff;stroke-width:3px;"
    "paint-order:stroke;stroke-linejoin:round;pointer-events:none}\n";

/* The script: clicking a node draws its fingers as chords, marks its
 * successor list and replica set, and lists them with its peers;
 * hovering a node that has no label shows its address outside the ring
 * until the pointer leaves. It uses no URL and no external code; it
 * builds text with textContent only. */
static const char html_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var data = JSON.parse(document.getElementById('ring-data')"
    ".textContent);\n"
    "  var svg = document.getElementById('ring-svg');\n"
    "  var NS = svg.namespaceURI;\n"
    "  var layer = document.getElementById('sel-layer');\n"
    "  var info = document.getElementById('info');\n"
    "  var byAddr = {}, byI = {};\n"
    "  data.nodes.forEach(function (n) { byAddr[n.addr] = n; byI[n.i] = n; "
    "});\n"
    "  var labelled = {};\n"
    "  Array.prototype.forEach.call(svg.querySelectorAll('.label'), "
    "function (g) { labelled[g.getAttribute('data-i')] = true; });\n"
    "  var hover = null;\n"
    "  function unhover() { if (hover) { hover.parentNode.removeChild(hover); "
    "hover = null; } }\n"
    "  svg.addEventListener('mouseover', function (ev) {\n"
    "    var g = ev.target.closest ? ev.target.closest('.node') : null;\n"
    "    unhover();\n"
    "    if (!g || labelled[g.getAttribute('data-i')]) return;\n"
    "    var n = byI[g.getAttribute('data-i')];\n"
    "    if (!n) return;\n"
    "    var dx = n.x - data.cx, dy = n.y - data.cy, d = Math.sqrt(dx * dx + "
    "dy * dy) || 1;\n"
    "    var k = (d + data.label_gap) / d;\n"
    "    hover = el('g', {'class': 'hover-label'}, svg);\n"
    "    var t = el('text', {x: data.cx + dx * k, y: data.cy + dy * k + 4, "
    "'text-anchor': dx < -d / 3 ? 'end' : dx > d / 3 ? 'start' : "
    "'middle'}, hover);\n"
    "    t.textContent = n.addr + ' \\u00b7 ' + n.health;\n"
    "  });\n"
    "  svg.addEventListener('mouseleave', unhover);\n"
    "  function el(tag, attrs, parent) {\n"
    "    var e = document.createElementNS(NS, tag);\n"
    "    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, "
    "attrs[k]); });\n"
    "    parent.appendChild(e);\n"
    "    return e;\n"
    "  }\n"
    "  function h(tag, text, parent, cls) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (text !== null && text !== undefined) e.textContent = "
    "String(text);\n"
    "    if (cls) e.className = cls;\n"
    "    if (parent) parent.appendChild(e);\n"
    "    return e;\n"
    "  }\n"
    "  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); "
    "}\n"
    "  function table(parent, head, rows) {\n"
    "    var t = h('table', null, parent);\n"
    "    var tr = h('tr', null, t);\n"
    "    head.forEach(function (c) { h('th', c, tr); });\n"
    "    rows.forEach(function (r) {\n"
    "      var row = h('tr', null, t);\n"
    "      r.forEach(function (c, k) { var td = h('td', c, row); "
    "if (k === 0) td.className = 'mono'; });\n"
    "    });\n"
    "  }\n"
    "  function chord(a, b) {\n"
    "    var mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;\n"
    "    var qx = mx + (data.cx - mx) * 0.35, qy = my + (data.cy - my) * "
    "0.35;\n"
    "    el('path', {d: 'M' + a.x + ' ' + a.y + ' Q' + qx + ' ' + qy + ' ' "
    "+ b.x + ' ' + b.y, 'class': 'finger', 'marker-end': "
    "'url(#arrow-finger)'}, layer);\n"
    "  }\n"
    "  function replicaSet(n) {\n"
    "    var set = [n];\n"
    "    var r = n.replicas || data.replicas;\n"
    "    n.succ.forEach(function (s) {\n"
    "      var t = byAddr[s];\n"
    "      if (t && set.length < r && set.indexOf(t) < 0) set.push(t);\n"
    "    });\n"
    "    return set;\n"
    "  }\n"
    "  function select(i) {\n"
    "    clear(layer);\n"
    "    clear(info);\n"
    "    Array.prototype.forEach.call(svg.querySelectorAll('.node'), "
    "function (g) { g.classList.remove('sel'); });\n"
    "    var n = byI[i];\n"
    "    if (i < 0 || !n) {\n"
    "      h('p', 'Click a node to see its fingers (drawn as chords), its "
    "successor list, its replica set and its peers\\u2019 timeouts.', info, "
    "'hint');\n"
    "      return;\n"
    "    }\n"
    "    var g = svg.querySelector('.node[data-i=\"' + i + '\"]');\n"
    "    if (g) g.classList.add('sel');\n"
    "    n.fingers.forEach(function (f) {\n"
    "      var t = byAddr[f.addr];\n"
    "      if (t && t !== n) chord(n, t);\n"
    "    });\n"
    "    n.succ.forEach(function (s, k) {\n"
    "      var t = byAddr[s];\n"
    "      if (!t) return;\n"
    "      el('circle', {cx: t.x, cy: t.y, r: 12, 'class': 'succ-mark'}, "
    "layer);\n"
    "      var dx = t.x - data.cx, dy = t.y - data.cy, d = Math.sqrt(dx * dx "
    "+ dy * dy) || 1;\n"
    "      el('text', {x: t.x - dx / d * 24 - 4, y: t.y - dy / d * 24 + 4, "
    "'class': 'succ-num'}, layer).textContent = String(k + 1);\n"
    "    });\n"
    "    var reps = replicaSet(n);\n"
    "    reps.forEach(function (t) { el('circle', {cx: t.x, cy: t.y, r: 17, "
    "'class': 'rep-mark'}, layer); });\n"
    "    h('h2', n.addr, info, 'mono');\n"
    "    h('div', 'id ' + n.id, info, 'mono');\n"
    "    var st = n.ghost ? 'not in the ring (' + n.health + ')' : n.live ? "
    "n.state + ', ' + n.health : 'did not answer';\n"
    "    h('div', st, info, n.health);\n"
    "    function keys(k) { return k + (k === 1 ? ' key' : ' keys'); }\n"
    "    if (data.live && n.live && !n.ghost) h('div', 'owns ' + "
    "keys(n.primary_keys) + ' and ' + n.owned + '% of the ids; holds ' + "
    "keys(n.keys) + ' with the copies', info);\n"
    "    if (n.suspected_by || n.dead_by) h('div', 'suspected by ' + "
    "n.suspected_by + ', declared dead by ' + n.dead_by + (n.dead_by === 1 ? "
    "' peer' : ' peers'), info, 'note');\n"
    "    h('h3', 'Predecessor', info);\n"
    "    h('div', n.pred || 'none', info, 'mono');\n"
    "    h('h3', 'Successor list (' + n.succ.length + ')', info);\n"
    "    var ol = h('ol', null, info, 'mono');\n"
    "    n.succ.forEach(function (s) { h('li', s, ol); });\n"
    "    h('h3', 'Replica set (r = ' + (n.replicas || data.replicas) + ')', "
    "info);\n"
    "    var ul = h('ul', null, info, 'mono');\n"
    "    reps.forEach(function (t, k) { h('li', t.addr + (k === 0 ? ' "
    "(this node)' : ''), ul); });\n"
    "    h('h3', 'Fingers (' + n.fingers.length + ' distinct nodes)', "
    "info);\n"
    "    table(info, ['node', 'bits', 'start'], n.fingers.map(function (f) "
    "{ return [f.addr, f.bits, f.start]; }));\n"
    "    if (data.live) {\n"
    "      h('h3', 'Peers (' + n.peers.length + ')', info);\n"
    "      if (n.peers.length) table(info, ['peer', 'state', 'rtt', "
    "'timeout', 'false susp.'], n.peers.map(function (p) { return [p.addr, "
    "p.state, p.rtt_ms + ' ms', p.timeout_ms + ' ms', p.false_suspicions]; "
    "}));\n"
    "      else h('div', 'none', info, 'hint');\n"
    "    }\n"
    "    try { history.replaceState(null, '', '#n=' + "
    "encodeURIComponent(n.addr)); } catch (e) { location.hash = 'n=' + "
    "encodeURIComponent(n.addr); }\n"
    "  }\n"
    "  svg.addEventListener('click', function (ev) {\n"
    "    var g = ev.target.closest ? ev.target.closest('.node') : null;\n"
    "    select(g ? Number(g.getAttribute('data-i')) : -1);\n"
    "  });\n"
    "  document.addEventListener('keydown', function (ev) { if (ev.key === "
    "'Escape') select(-1); });\n"
    "  var m = /^#n=(.+)$/.exec(location.hash);\n"
    "  var want = m ? byAddr[decodeURIComponent(m[1])] : null;\n"
    "  select(want ? want.i : data.highlight);\n"
    "})();\n";

/* Finish the JSON in j and append it so that it is safe inside <script>:
 * '<', '>', '&' and '/' (which occur only inside strings) are escaped. */
static void out_json_for_html(struct viz_out *o, struct chord_json *j)
{
    int rc = chord_json_finish(j);
    if (rc) {
        o->err = o->err ? o->err : rc;
        return;
    }
    const char *s = (const char *)j->out.data;
    size_t start = 0;
    for (size_t i = 0; i < j->out.len; i++) {
        const char *rep = s[i] == '<'   ? "\\u003c"
                          : s[i] == '>' ? "\\u003e"
                          : s[i] == '&' ? "\\u0026"
                          : s[i] == '/' ? "\\/"
                                        : NULL;
        if (!rep)
            continue;
        viz_out_raw(o, s + start, i - start);
        viz_out_puts(o, rep);
        start = i + 1;
    }
    viz_out_raw(o, s + start, j->out.len - start);
}

/* The data the script needs, as JSON. */
static void html_data(struct viz_out *o, const struct viz_ring *r)
{
    struct chord_json j;
    chord_json_init(&j);
    chord_json_obj_begin(&j);
    chord_json_key(&j, "live");
    chord_json_bool(&j, r->live);
    chord_json_key(&j, "replicas");
    chord_json_uint(&j, r->replicas);
    chord_json_key(&j, "highlight");
    chord_json_int(&j, r->highlight);
    chord_json_key(&j, "cx");
    chord_json_uint(&j, (uint64_t)VIZ_CX);
    chord_json_key(&j, "cy");
    chord_json_uint(&j, (uint64_t)VIZ_CY);
    chord_json_key(&j, "label_gap");
    chord_json_uint(&j, (uint64_t)(VIZ_ARC_W / 2 + 14));
    chord_json_key(&j, "nodes");
    chord_json_arr_begin(&j);
    bool dense = viz_layout_dense(r);
    for (unsigned i = 0; i < r->n; i++) {
        const struct viz_node *n = &r->nodes[i];
        char num[32];
        if (dense && !viz_label_wanted(r, n))
            continue; /* not drawn: a density arc stands for it */
        chord_json_obj_begin(&j);
        chord_json_key(&j, "i");
        chord_json_uint(&j, i);
        chord_json_key(&j, "addr");
        chord_json_str(&j, n->self.addr);
        chord_json_key(&j, "id");
        chord_json_id(&j, &n->self.id);
        /* The node's position in the drawing, rounded to whole units
         * (the JSON writer has integers only; a unit is far below a
         * pixel at any zoom the page uses). */
        chord_json_key(&j, "x");
        chord_json_int(&j, lround(n->x));
        chord_json_key(&j, "y");
        chord_json_int(&j, lround(n->y));
        chord_json_key(&j, "live");
        chord_json_bool(&j, n->live);
        chord_json_key(&j, "ghost");
        chord_json_bool(&j, n->ghost);
        chord_json_key(&j, "state");
        chord_json_str(&j, chord_node_state_name(n->state));
        chord_json_key(&j, "health");
        chord_json_str(&j, viz_health_names[n->health]);
        chord_json_key(&j, "suspected_by");
        chord_json_uint(&j, n->suspected_by);
        chord_json_key(&j, "dead_by");
        chord_json_uint(&j, n->dead_by);
        chord_json_key(&j, "keys");
        chord_json_uint(&j, n->keys);
        chord_json_key(&j, "primary_keys");
        chord_json_uint(&j, n->primary_keys);
        chord_json_key(&j, "replicas");
        chord_json_uint(&j, n->replicas);
        chord_json_key(&j, "owned");
        snprintf(num, sizeof num, "%.2f",
                 viz_ring_member(r, i) ? viz_ring_owned_percent(r, i) : 0.0);
        chord_json_str(&j, num);
        chord_json_key(&j, "pred");
        if (n->has_pred)
            chord_json_str(&j, n->pred.addr);
        else
            chord_json_null(&j);
        chord_json_key(&j, "succ");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_succ; k++)
            chord_json_str(&j, n->succ[k].addr);
        chord_json_arr_end(&j);
        chord_json_key(&j, "fingers");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_fingers; k++) {
            const struct viz_finger *f = &n->fingers[k];
            char bits[32], start[VIZ_SHORT + 1];
            if (f->first_bit == f->last_bit)
                snprintf(bits, sizeof bits, "%u", f->first_bit);
            else
                snprintf(bits, sizeof bits, "%u-%u", f->first_bit, f->last_bit);
            viz_short_id(&f->start, start);
            chord_json_obj_begin(&j);
            chord_json_key(&j, "addr");
            chord_json_str(&j, f->node.addr);
            chord_json_key(&j, "bits");
            chord_json_str(&j, bits);
            chord_json_key(&j, "start");
            chord_json_str(&j, start);
            chord_json_obj_end(&j);
        }
        chord_json_arr_end(&j);
        chord_json_key(&j, "peers");
        chord_json_arr_begin(&j);
        for (unsigned k = 0; k < n->n_peers; k++) {
            const struct chord_peer_info *p = &n->peers[k];
            chord_json_obj_begin(&j);
            chord_json_key(&j, "addr");
            chord_json_strn(&j, p->addr, strnlen(p->addr, CHORD_ADDR_MAX));
            chord_json_key(&j, "state");
            chord_json_str(&j, chord_peer_state_name(p->state));
            chord_json_key(&j, "rtt_ms");
            chord_json_uint(&j, p->rtt_ms);
            chord_json_key(&j, "timeout_ms");
            chord_json_uint(&j, p->timeout_ms);
            chord_json_key(&j, "false_suspicions");
            chord_json_uint(&j, p->false_suspicions);
            chord_json_obj_end(&j);
        }
        chord_json_arr_end(&j);
        chord_json_obj_end(&j);
    }
    chord_json_arr_end(&j);
    chord_json_obj_end(&j);
    out_json_for_html(o, &j);
    chord_json_free(&j);
}

/* The summary column of the page: the ring, the key trace, the notes. */
static void html_summary(struct viz_out *o, const struct viz_ring *r)
{
    char states[96];
    viz_state_summary(r, states, sizeof states);
    viz_out_printf(o, "<section id=\"summary\"><h2>Ring</h2><div>%u %s", r->n,
                   viz_plural(r->n, "node", "nodes"));
    if (states[0])
        viz_out_printf(o, " (%s)", states);
    if (r->live)
        viz_out_printf(o, ", %u answered; %llu %s (owned), %u %s of each",
                       r->n_answer, (unsigned long long)r->total_keys,
                       viz_plural(r->total_keys, "key", "keys"), r->replicas,
                       viz_plural(r->replicas, "copy", "copies"));
    else
        viz_out_printf(o, "; %u %s of each key", r->replicas,
                       viz_plural(r->replicas, "copy", "copies"));
    viz_out_puts(o, "</div>\n");
    if (r->has_key) {
        char kid[VIZ_SHORT + 1];
        viz_short_id(&r->key_id, kid);
        viz_out_puts(o, "<h3>Key \xe2\x80\x9c<span class=\"mono\">");
        viz_out_xml(o, r->key, r->key_len > 200 ? 200 : r->key_len);
        viz_out_printf(o,
                       "</span>\xe2\x80\x9d</h3><div>id <span class=\"mono\">"
                       "%s\xe2\x80\xa6</span>, owner <span class=\"mono\">",
                       kid);
        viz_out_xmls(o, r->owner_addr[0] ? r->owner_addr : "unknown");
        viz_out_printf(o,
                       "</span></div><div>%s, %u hop%s:</div><ol "
                       "class=\"mono\" start=\"0\">",
                       r->key_computed ? "path computed from the ids"
                                       : "lookup path",
                       r->hops, r->hops == 1 ? "" : "s");
        for (unsigned k = 0; k < r->n_path; k++) {
            viz_out_puts(o, "<li>");
            viz_out_xmls(o, r->path_addr[k]);
            viz_out_puts(o, "</li>");
        }
        viz_out_puts(o, "</ol><div>replica set:</div><ul class=\"mono\">");
        for (unsigned k = 0; k < r->n_rep; k++) {
            viz_out_puts(o, "<li>");
            viz_out_xmls(o, r->nodes[r->rep[k]].self.addr);
            viz_out_puts(o, k == 0 ? " (owner)</li>" : "</li>");
        }
        viz_out_puts(o, "</ul>\n");
    }
    for (unsigned k = 0; k < r->n_notes; k++) {
        viz_out_puts(o, "<div class=\"note\">");
        viz_out_xmls(o, r->notes[k]);
        viz_out_puts(o, "</div>\n");
    }
    viz_out_puts(o, "</section>\n");
}

void viz_render_html(struct viz_out *o, const struct viz_ring *r,
                     unsigned refresh_s)
{
    char states[96], count[160];
    viz_state_summary(r, states, sizeof states);
    snprintf(count, sizeof count, "%u %s%s%s%s", r->n,
             viz_plural(r->n, "node", "nodes"), states[0] ? " (" : "", states,
             states[0] ? ")" : "");
    viz_out_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, "
                    "initial-scale=1\">\n");
    if (refresh_s)
        viz_out_printf(o, "<meta http-equiv=\"refresh\" content=\"%u\">\n",
                       refresh_s);
    viz_out_printf(o, "<title>Chord ring \xc2\xb7 %s</title>\n<style>\n",
                   count);
    viz_out_puts(o, html_css);
    viz_out_printf(o,
                   "</style>\n</head>\n<body>\n<header><h1 id=\"title\">Chord "
                   "ring \xc2\xb7 %s</h1><p class=\"sub\">",
                   count);
    if (r->snapshot) {
        viz_out_puts(o, "snapshot <span class=\"mono\">");
        viz_out_xmls(o, r->source);
        viz_out_printf(o, "</span> of %s", r->when);
    } else if (r->live) {
        viz_out_puts(o, "crawled from <span class=\"mono\">");
        viz_out_xmls(o, r->source);
        viz_out_printf(o, "</span> at %s", r->when);
    } else {
        viz_out_puts(o, "topology <span class=\"mono\">");
        viz_out_xmls(o, r->source);
        viz_out_puts(o, "</span>: ids only, no live data");
    }
    if (refresh_s)
        viz_out_printf(o, " \xc2\xb7 refreshed every %u s", refresh_s);
    viz_out_puts(o, "</p></header>\n<div id=\"wrap\">\n<div id=\"ring\">\n");
    viz_render_svg(o, r, false);
    viz_out_puts(o, "</div>\n<aside id=\"panel\">\n");
    html_summary(o, r);
    viz_out_puts(o, "<section id=\"info\"></section>\n<section id=\"legend\">");
    /* The legend as a small SVG of its own (markers are defined again: ids
     * inside one page must be unique, so this copy has none of its own and
     * uses the ring's). */
    struct viz_out legend;
    memset(&legend, 0, sizeof legend);
    chord_buf_init(&legend.b);
    double hl = viz_svg_legend(&legend, r, 0, 20);
    viz_out_printf(o, "<svg viewBox=\"-2 0 360 %.0f\" width=\"100%%\">\n",
                   ceil(hl + 30));
    viz_out_raw(o, (const char *)legend.b.data, legend.b.len);
    if (legend.err)
        o->err = o->err ? o->err : legend.err;
    chord_buf_free(&legend.b);
    viz_out_puts(o, "</svg></section>\n</aside>\n</div>\n");
    viz_out_puts(o, "<script type=\"application/json\" id=\"ring-data\">");
    html_data(o, r);
    viz_out_puts(o, "</script>\n<script>\n");
    viz_out_puts(o, html_js);
    viz_out_puts(o, "</script>\n</body>\n</html>\n");
}
