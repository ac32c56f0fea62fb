# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: render the fleet report (docs/report-schema.md) as JSON, Markdown and HTML.
#
# Pure functions over the report dict built by report.assembly.build_report. Every string
# that can come from a host (log lines, request paths, file names, pool names) is escaped
# for the output it lands in: html.escape for HTML and SVG, code spans for Markdown.
from __future__ import absolute_import, division, print_function

import datetime
import html
import json
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import parse_time

VERDICT_COLOURS = {
    "opcache_suspect": "#c0392b", "misconfig": "#8e44ad", "capacity": "#d35400",
    "timeouts": "#b7950b", "healthy": "#1e8449", "unreachable": "#566573",
    "failed": "#566573", "no_result": "#566573",
}
_CTRL = re.compile(u"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value):
    """Text without control characters (shown as \\xNN), None as ''."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    return _CTRL.sub(lambda m: "\\x%02x" % ord(m.group(0)), s)


# ---------------------------------------------------------------------------- JSON

def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


# ---------------------------------------------------------------------------- Markdown

def md_code(value):
    """A Markdown code span: nothing inside is markup (HTML tags included). Safe in tables."""
    s = clean(value).replace("\n", " ").replace("|", "\\|")
    if not s:
        return "-"
    longest = max([len(r) for r in re.findall(r"`+", s)] or [0])
    fence = "`" * (longest + 1)
    pad = " " if (s.startswith("`") or s.endswith("`")) else ""
    return "%s%s%s%s%s" % (fence, pad, s, pad, fence)


def md_block(value, info=""):
    """A fenced code block, as lines: the text verbatim (a command stays pasteable), fenced by more
    backticks than its longest run of backticks so nothing inside closes the block."""
    s = clean(value)
    longest = max([len(r) for r in re.findall(r"`+", s)] or [0])
    fence = "`" * max(3, longest + 1)
    return [fence + info, s, fence]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md_text(value):
    """Plain text in Markdown: markup characters backslash-escaped, < > & as entities."""
    s = html.escape(clean(value).replace("\n", " "), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", s)


def reset_label(scope):
    """A few words on a scope's reset check: '' when there is none."""
    state = (scope.get("reset_check") or {}).get("state")
    if state == "resolved_by_reset":
        return "resolved by reset"
    if state == "crashes_after_reset":
        return "RESET DID NOT CURE IT"
    return ""


def _md_verdict(scope):
    label = reset_label(scope)
    return md_text(scope["verdict"]) + ((" (%s)" % md_text(label)) if label else "")


def render_markdown(report):
    f = report["fleet"]
    out = []
    out.append("# OPcache fleet report")
    out.append("")
    w = report.get("window") or {}
    out.append("Generated %s, window since %s%s%s. %d host(s): %s." % (
        md_code(report.get("generated_at")), md_code(w.get("since")),
        (" until " + md_code(w.get("until"))) if w.get("until") else "",
        " (check mode)" if report.get("check_mode") else "", f["hosts_total"],
        ", ".join("%s %d" % (md_text(k), v) for k, v in sorted(f["verdict_counts"].items())) or "none"))
    out.append("")
    out.append("| host | verdict | why | next step |")
    out.append("|---|---|---|---|")
    for h in report["hosts"]:
        why = h["reasons"][0]["text"] if h["reasons"] else ""
        step = h["next_steps"][0]["command"] if h["next_steps"] else ""
        label = reset_label(h)
        out.append("| %s | **%s**%s%s | %s | %s |" % (
            md_code(h["name"]), md_text(h["verdict"]),
            (" (%s)" % md_text(h["confidence"])) if h.get("confidence") else "",
            (", **%s**, priority %s" % (md_text(label), md_text(h.get("priority")))) if label else "",
            md_code(why) if why else "-", md_code(step) if step else "-"))
    for h in report["hosts"]:
        out.append("")
        out.append("## %s: %s" % (md_code(h["name"]), _md_verdict(h)))
        out.append("")
        if h["status"] != "ok":
            out.append("No results: %s" % md_code(h.get("error") or h["status"]))
            continue
        for r in h["reasons"]:
            out.append("- %s %s" % (md_code(r["code"]), md_code(r["text"])))
        for r in h.get("notes") or []:
            out.append("- note %s %s" % (md_code(r["code"]), md_code(r["text"])))
        if h["next_steps"]:
            out.append("")
            out.append("Next steps:")
            out.append("")
            for s in h["next_steps"]:
                out.extend(md_block(s["command"], "sh"))
                out.append("%s" % md_code(s["why"]))
                out.append("")
        if h["sections"]:
            out.append("")
            out.append("| release folder | root | pools | verdict | crash pages | 502s tied |")
            out.append("|---|---|---|---|---|---|")
            for s in h["sections"]:
                out.append("| %s | %s | %s | %s | %s | %d |" % (
                    md_code(s["prefix"]), md_code(s["root"]), md_code(", ".join(s["pools"])),
                    _md_verdict(s),
                    ", ".join("%s (%d)" % (md_code(p["path"]), p["count"]) for p in s["crash_paths"]) or "-",
                    s["tied_502s"]))
        if h["pools"]:
            out.append("")
            out.append("| pool | master | listen | verdict | crashes | 502s tied | OPcache overrides |")
            out.append("|---|---|---|---|---|---|---|")
            for p in h["pools"]:
                ov = ", ".join("%s=%s" % (o.get("directive"), o.get("value")) for o in p["opcache_overrides"])
                out.append("| %s | %s | %s | %s | %d | %d | %s |" % (
                    md_code(p["name"]), md_code("%s %s" % (p["master_pid"], p["config"])), md_code(p["listen"]),
                    _md_verdict(p), p["crashes"], p["tied_502s"], md_code(ov) if ov else "-"))
        if h["masters"]:
            out.append("")
            for m in h["masters"]:
                oc = m.get("opcache") or {}
                out.append("- master %s: php %s, emergency_restart_threshold %s, cached scripts %s, "
                           "stale %s%s" % (
                               md_code("%s %s" % (m["master_pid"], m["config"])), md_code(m.get("php_version")),
                               m["emergency_restart_threshold"], md_code(oc.get("num_cached_scripts")),
                               md_code(json.dumps(m.get("stale_counts"), sort_keys=True)),
                               (", OPcache error " + md_code(m["opcache_error"])) if m.get("opcache_error") else ""))
                for s in m["stale_scripts"][:10]:
                    out.append("  - %s %s" % (md_text(s["stale"]), md_code(s["path"])))
                for e in m.get("cache_events") or []:
                    out.append("  - cache %s %s %s%s" % (md_code(e.get("time")), md_text(e.get("kind")),
                                                         md_text(e.get("text")), (" " + ", ".join(
                                                             md_code(f) for f in e.get("files") or [])) if e.get("files") else ""))
        ev = h.get("evidence") or {}
        if ev.get("recent_gateway_errors"):
            out.append("")
            out.append("Recent gateway errors:")
            out.append("")
            for g in ev["recent_gateway_errors"][-10:]:
                out.append("- %s %s %s" % (md_code(g.get("timestamp")), md_code(g.get("category")),
                                           md_code(g.get("request"))))
        pm = ev.get("php_messages") or {}
        if pm.get("total"):
            out.append("")
            out.append("PHP messages in FastCGI stderr: %d (%s); most frequent:" % (
                pm["total"], ", ".join("%s %d" % (md_text(k), v) for k, v in _by_severity(pm))))
            out.append("")
            for t in pm["top"][:5]:
                out.append("- %d %s %s" % (t["count"], md_text(t["severity"]), md_code(t["script"] or "-")))
    out.append("")
    return "\n".join(out)


def _by_severity(php_messages):
    """(severity, count) of a host's PHP messages, most frequent first."""
    return sorted(php_messages["by_severity"].items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------------------- HTML

def esc(value):
    return html.escape(clean(value), quote=True)


def parse_ts(value):
    """ISO 8601 (with offset, optional fraction, optional Z) -> epoch seconds, or None."""
    if not value:
        return None
    dt = parse_time(str(value))
    return dt.timestamp() if dt is not None else None


def _fmt(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def timeline_svg(timeline, window_since=None, now=None, width=720, bins=96):
    """An inline SVG: two lanes (502s, crashes) of bars, one per time bin; a dashed line where
    OPcache was emptied or files were invalidated (``timeline.resets``)."""
    points = [(parse_ts(p.get("t")), p.get("kind")) for p in (timeline or {}).get("points") or []]
    points = [(t, k) for t, k in points if t is not None]
    lane_h, top, left = 34, 16, 60
    height = top + 2 * lane_h + 28
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img">' % (width, height, width, height)]
    if not points:
        parts.append('<text x="%d" y="%d" class="muted">no 502s or crashes in the window</text>' % (left, top + lane_h))
        parts.append("</svg>")
        return "".join(parts)
    first, last = min(t for t, dummy in points), max(t for t, dummy in points)
    end = max(last, now or last)
    span = max(end - first, 60.0)
    start = first - max(span * 0.05, 30.0)
    since = parse_ts(window_since)
    if since is not None and since > start:
        start = since
    end = end + max(span * 0.02, 5.0)
    total = end - start
    bw = (width - left - 10) / float(bins)
    lanes = (("502", "502s", "#c0392b"), ("crash", "crashes", "#2c3e50"))
    for li, (kind, label, colour) in enumerate(lanes):
        y0 = top + li * lane_h
        counts = [0] * bins
        for t, k in points:
            if k == kind:
                i = min(bins - 1, max(0, int((t - start) / total * bins)))
                counts[i] += 1
        peak = max(counts) or 1
        parts.append('<text x="4" y="%d" class="lane">%s</text>' % (y0 + lane_h // 2 + 4, esc(label)))
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (left, y0 + lane_h - 2, width - 10, y0 + lane_h - 2))
        for i, c in enumerate(counts):
            if not c:
                continue
            h = max(3.0, (lane_h - 6) * (c / float(peak)))
            x = left + i * bw
            b0 = start + i * total / bins
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>' % (
                x, y0 + lane_h - 2 - h, max(bw - 1, 1.0), h, colour,
                esc("%d %s from %s" % (c, label, _fmt(b0)))))
    # OPcache emptied (reset, restart, reload) or files invalidated: a dashed line across both lanes.
    for r in (timeline or {}).get("resets") or []:
        t = parse_ts(r.get("t"))
        if t is None or t < start or t > end:
            continue
        x = left + (t - start) / total * (width - left - 10)
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="reset"><title>%s</title></line>' % (
            x, top, x, top + 2 * lane_h - 2, esc("OPcache %s at %s (master %s)" % (
                r.get("kind"), _fmt(t), r.get("master_pid")))))
    ya = top + 2 * lane_h + 14
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * (width - left - 10)
        anchor = "start" if frac == 0 else ("end" if frac == 1 else "middle")
        parts.append('<text x="%.1f" y="%d" text-anchor="%s" class="tick">%s</text>' % (
            x, ya, anchor, esc(_fmt(start + frac * total))))
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#1b2631}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccd1d1;padding:.25em .5em;
text-align:left;vertical-align:top;font-size:.92em}th{background:#f2f3f4}
.v{color:#fff;padding:.1em .45em;border-radius:.3em;font-weight:600;white-space:nowrap}
code,pre{background:#f4f6f6;font-family:ui-monospace,Menlo,monospace;font-size:.9em}
pre{padding:.4em .6em;white-space:pre-wrap;word-break:break-all}
.muted{fill:#7f8c8d;color:#7f8c8d;font-size:12px}.lane{font-size:12px;fill:#34495e}
.tick{font-size:10px;fill:#566573}.axis{stroke:#bdc3c7}section{margin-top:1.8em}
.reset{stroke:#1e8449;stroke-width:2;stroke-dasharray:4 3}
"""


def _badge(v, scope=None):
    out = '<span class="v" style="background:%s">%s</span>' % (VERDICT_COLOURS.get(v, "#566573"), esc(v))
    label = reset_label(scope or {})
    if label:
        colour = "#1e8449" if label == "resolved by reset" else "#c0392b"
        out += ' <span class="v" style="background:%s">%s</span>' % (colour, esc(label))
    return out


def _reasons_html(items):
    if not items:
        return ""
    return "<ul>%s</ul>" % "".join("<li><code>%s</code> %s</li>" % (esc(r.get("code")), esc(r.get("text")))
                                   for r in items)


def render_html(report):
    f = report["fleet"]
    w = report.get("window") or {}
    now = parse_ts(report.get("generated_at"))
    h_ = []
    h_.append('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
    h_.append('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">')
    h_.append("<title>OPcache fleet report %s</title><style>%s</style></head><body>" % (
        esc(report.get("generated_at")), CSS))
    h_.append("<h1>OPcache fleet report</h1>")
    h_.append("<p>Generated %s; window since %s%s%s; %d host(s): %s.</p>" % (
        esc(report.get("generated_at")), esc(w.get("since")),
        (" until " + esc(w.get("until"))) if w.get("until") else "",
        " (check mode)" if report.get("check_mode") else "", f["hosts_total"],
        ", ".join("%s %d" % (esc(k), v) for k, v in sorted(f["verdict_counts"].items())) or "none"))
    h_.append("<table><tr><th>host</th><th>verdict</th><th>why</th><th>release folders</th><th>next step</th></tr>")
    for h in report["hosts"]:
        secs = ", ".join("%s %s" % (esc(s["prefix"]), _badge(s["verdict"], s)) for s in h.get("sections") or [])
        h_.append("<tr><td><a href=\"#host-%s\">%s</a></td><td>%s%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            esc(h["name"]), esc(h["name"]), _badge(h["verdict"], h),
            (" <small>%s%s</small>" % (esc(h["confidence"]), (", priority " + esc(h["priority"]))
                                       if h.get("priority") else "")) if h.get("confidence") else "",
            esc(h["reasons"][0]["text"]) if h["reasons"] else "", secs or "-",
            "<code>%s</code>" % esc(h["next_steps"][0]["command"]) if h["next_steps"] else "-"))
    h_.append("</table>")
    for h in report["hosts"]:
        h_.append('<section id="host-%s"><h2>%s %s</h2>' % (esc(h["name"]), esc(h["name"]), _badge(h["verdict"], h)))
        if h["status"] != "ok":
            h_.append("<p>No results from this host: <code>%s</code></p></section>" % esc(h.get("error") or h["status"]))
            continue
        ev = h.get("evidence") or {}
        h_.append(timeline_svg(h.get("timeline"), (ev.get("window") or {}).get("since"), now))
        if (h.get("timeline") or {}).get("partial"):
            h_.append('<p class="muted">The event list was capped: the timeline shows part of the window.</p>')
        h_.append(_reasons_html(h["reasons"]))
        if h.get("notes"):
            h_.append("<p>Notes:</p>" + _reasons_html(h["notes"]))
        for s in h["next_steps"]:
            h_.append("<p>Next (%s): %s</p><pre>%s</pre>" % (esc(s["kind"]), esc(s["why"]), esc(s["command"])))
        if h["sections"]:
            h_.append("<table><tr><th>release folder</th><th>root</th><th>pools</th><th>verdict</th>"
                      "<th>crash pages</th><th>502s tied</th><th>why</th></tr>")
            for s in h["sections"]:
                h_.append("<tr><td><code>%s</code></td><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td>"
                          "<td>%d</td><td>%s</td></tr>" % (
                              esc(s["prefix"]), esc(s["root"]), esc(", ".join(s["pools"])), _badge(s["verdict"], s),
                              "<br>".join("<code>%s</code> (%d)" % (esc(p["path"]), p["count"]) for p in s["crash_paths"]) or "-",
                              s["tied_502s"], _reasons_html(s["reasons"])))
            h_.append("</table>")
        if h["pools"]:
            h_.append("<table><tr><th>pool</th><th>master</th><th>listen</th><th>pm</th><th>verdict</th><th>crashes</th>"
                      "<th>502s tied</th><th>OPcache overrides</th></tr>")
            for p in h["pools"]:
                ov = ", ".join("%s=%s (%s)" % (o.get("directive"), o.get("value"), o.get("via")) for o in p["opcache_overrides"])
                h_.append("<tr><td>%s</td><td>%s <code>%s</code></td><td><code>%s</code></td><td>%s max_children %s</td>"
                          "<td>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>" % (
                              esc(p["name"]), esc(p["master_pid"]), esc(p["config"]), esc(p["listen"]), esc(p["pm"]),
                              esc(p["pm_max_children"]), _badge(p["verdict"], p), p["crashes"], p["tied_502s"], esc(ov) or "-"))
            h_.append("</table>")
        if h["masters"]:
            h_.append("<table><tr><th>master</th><th>php</th><th>emergency_restart_threshold</th><th>OPcache</th>"
                      "<th>stale scripts</th><th>cache emptied / files invalidated</th></tr>")
            for m in h["masters"]:
                oc = m.get("opcache") or {}
                stale = "<br>".join("%s <code>%s</code>" % (esc(s["stale"]), esc(s["path"])) for s in m["stale_scripts"][:20])
                if m.get("stale_scripts_truncated"):
                    stale += "<br>..."
                events = "<br>".join("%s %s: %s%s" % (esc(e.get("time")), esc(e.get("kind")), esc(e.get("text")), (
                    " " + ", ".join("<code>%s</code>" % esc(f) for f in e.get("files") or [])) if e.get("files") else "")
                    for e in m.get("cache_events") or [])
                h_.append("<tr><td>%s <code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                    esc(m["master_pid"]), esc(m["config"]), esc(m.get("php_version")),
                    esc(m["emergency_restart_threshold"]) if m["emergency_restart_threshold"] else "not set",
                    esc(m["opcache_error"]) if m.get("opcache_error") else esc(
                        "%s scripts, full=%s, oom_restarts=%s, hit rate %s" % (
                            oc.get("num_cached_scripts"), oc.get("cache_full"), oc.get("oom_restarts"), oc.get("hit_rate"))),
                    stale or "-", events or "-"))
            h_.append("</table>")
        if ev.get("recent_gateway_errors"):
            h_.append("<p>Recent gateway errors:</p><table><tr><th>time</th><th>category</th><th>request</th>"
                      "<th>upstream</th></tr>")
            for g in ev["recent_gateway_errors"]:
                h_.append("<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>" % (
                    esc(g.get("timestamp")), esc(g.get("category")), esc(g.get("request")), esc(g.get("upstream"))))
            h_.append("</table>")
        pm = ev.get("php_messages") or {}
        if pm.get("total"):
            h_.append("<p>PHP messages in FastCGI stderr: %d (%s)</p><table><tr><th>count</th><th>severity</th>"
                      "<th>script</th></tr>" % (pm["total"], esc(", ".join("%s %d" % kv for kv in _by_severity(pm)))))
            for t in pm["top"]:
                h_.append("<tr><td>%d</td><td>%s</td><td><code>%s</code></td></tr>" % (
                    t["count"], esc(t["severity"]), esc(t["script"] or "-")))
            h_.append("</table>")
        if (h.get("collisions") or {}).get("items"):
            h_.append("<p>Class names declared twice (per code root):</p><ul>%s</ul>" % "".join(
                "<li><code>%s</code> in <code>%s</code>: %s</li>" % (
                    esc(c["name"]), esc(c["root"]), ", ".join("<code>%s</code>" % esc(p) for p in c["files"]))
                for c in h["collisions"]["items"][:20]))
        h_.append("</section>")
    h_.append("</body></html>\n")
    return "".join(h_)
