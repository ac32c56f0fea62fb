# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# opcache-fleet: render the fleet report (docs/report-schema.md) as JSON, Markdown and HTML.
#
# Pure functions over the report dict built by report.assembly.build_report. Every string
# that can come from a host (log lines, request paths, file names, pool names) is escaped
# for the output it lands in: html.escape for HTML and SVG, code spans for Markdown.
# report.md and report.html open with the fleet summary (counts, the hosts that are not
# healthy, most urgent first), show rounded figures and words for booleans (figures.py),
# and cap the lists that grow with a host's trouble (CAPS: "and N more (see report.json)").
# report.html collapses the healthy hosts and carries one fixed inline script (search and
# verdict filter), allowed by its hash in the CSP; without it the page reads the same.
from __future__ import absolute_import, division, print_function

import base64
import datetime
import hashlib
import html
import json
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.assembly import HOST_STATES
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import (
    apcu_summary, as_int, opcache_summary, setting_text, stale_counts_text,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import VERDICTS, unread_what
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.times import parse_time

VERDICT_COLOURS = {
    "down": "#1b2631", "opcache_suspect": "#c0392b", "misconfig": "#8e44ad", "capacity": "#d35400",
    "timeouts": "#b7950b", "unexplained": "#2471a3", "healthy": "#1e8449", "unreachable": "#566573",
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

def _json(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def render_json(report):
    """report.json: keys sorted, one line per top-level field and one line per host (``grep`` finds
    a host's line, ``jq`` reads the whole). Written by json's C encoder: an indented dump of a
    1,000-host report took four times longer and was half again as big."""
    fields = []
    for key in sorted(report):
        value = report[key]
        if key == "hosts" and isinstance(value, list) and value:
            text = "[\n%s\n]" % ",\n".join(_json(h) for h in value)
        else:
            text = _json(value)
        fields.append("%s: %s" % (_json(key), text))
    return "{\n%s\n}\n" % ",\n".join(fields)


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


# What a deploy release's state says to a reader (report/deploys.py).
RELEASE_STATES = {"live": "live (current)", "served": "served by an nginx root", "old_served": "OLD, STILL SERVED",
                  "old_cached": "old, still cached", "old": "old"}


def _deploy_title(d, code, text):
    """``Deploy site S: S/current -> S/releases/X, switched T``; ``code`` and ``text`` escape
    a path and prose for the output format."""
    live = ("%s -> %s" % (code(d["live_link"]), code(d["live_release"]))) if d.get("live_link") else text("no current link")
    when = (", switched %s" % code(d["switched_at"])) if d.get("switched_at") else ""
    more = (text(", the %d most recent of %d releases" % (len(d["releases"]), d["releases_total"]))
            if d["releases_total"] > len(d["releases"]) else "")
    err = (" (%s)" % text(d["error"])) if d.get("error") else ""
    return "Deploy site %s: %s%s%s%s" % (code(d["site"]), live, when, more, err)


def _release_cells(r):
    """(release, state, served by, cached, served since switch, crashes, 502s tied) as text."""
    return (r["name"], RELEASE_STATES.get(r["state"], r["state"]), ", ".join(r["served_by"]) or "-",
            r["cached_scripts"], r["served_since_switch"], r["crashes"], r["tied_502s"])


def _md_deploys(deploys):
    out = []
    for d in deploys:
        out.append("")
        out.append(_deploy_title(d, md_code, md_text))
        if not d["releases"]:
            continue
        out.append("")
        out.append("| release | state | served by nginx root | cached scripts | served since switch | verdict "
                   "| crashes | 502s tied |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in d["releases"][-CAPS["sections"]:]:
            name, state, by, cached, since, crashes, tied = _release_cells(r)
            out.append("| %s | %s | %s | %d | %d | %s | %d | %d |" % (
                md_code(name), md_text(state), md_code(by) if r["served_by"] else "-", cached, since,
                _md_verdict(r) if r["verdict"] else "-", crashes, tied))
    return out


def _html_deploys(deploys):
    out = []
    for d in deploys:
        out.append("<p>%s</p>" % _deploy_title(d, lambda v: "<code>%s</code>" % esc(v), esc))
        if not d["releases"]:
            continue
        out.append("<table><tr><th>release</th><th>state</th><th>served by nginx root</th><th>cached scripts</th>"
                   "<th>served since switch</th><th>verdict</th><th>crashes</th><th>502s tied</th><th>why</th></tr>")
        for r in d["releases"][-CAPS["sections"]:]:
            name, state, by, cached, since, crashes, tied = _release_cells(r)
            out.append("<tr><td><code>%s</code></td><td>%s</td><td><code>%s</code></td><td>%d</td><td>%d</td>"
                       "<td>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>" % (
                           esc(name), esc(state), esc(by), cached, since,
                           _badge(r["verdict"], r) if r["verdict"] else "-", crashes, tied,
                           _reasons_html(r["reasons"]) or "-"))
        out.append("</table>")
    return out


def _md_verdict(scope):
    label = reset_label(scope)
    return md_text(scope["verdict"]) + ((" (%s)" % md_text(label)) if label else "")


# The fleet summary's order: the verdicts by how bad, the hosts without a result, healthy last.
VERDICT_ORDER = VERDICTS[:-1] + HOST_STATES[1:] + ("healthy",)
# Hosts that need a human, by how soon: priority high, medium, then the hosts without a
# result (their state is unknown), then low (crashes that stopped after a reset).
_ATTENTION_RANK = {"high": 0, "medium": 1, None: 2, "low": 3}
# What report.md and report.html show of the lists that grow with a host's trouble (the rest
# is in report.json, itself capped by the diagnose role and the report assembly).
CAPS = {"sections": 20, "pools": 20, "masters": 10, "crash_paths": 5, "stale_scripts": 20, "event_files": 5,
        "gateway_errors": 10, "collisions": 20}
# The names the summary lists of the hosts resolved by a reset or not cured by it (all are in its table).
HOST_LIST_CAP = 20


def verdict_counts(report):
    """[(verdict, hosts)] of the fleet in VERDICT_ORDER (a verdict it does not know last, by name)."""
    counts = report["fleet"]["verdict_counts"]
    return [(k, counts[k]) for k in [v for v in VERDICT_ORDER if v in counts]
            + sorted(str(k) for k in counts if k not in VERDICT_ORDER)]


def attention_hosts(report):
    """The hosts that are not healthy, most urgent first, a master down first of all (inventory
    order within a rank)."""
    return sorted((h for h in report["hosts"] if h["verdict"] != "healthy"),
                  key=lambda h: (_ATTENTION_RANK.get(h.get("priority"), 2), h["verdict"] != "down"))


def crash_evidence_lines(h):
    """What of each php-fpm master's crash log was read, as (read, text) per master, those not read
    first: ``crash evidence not read: master 412 (/etc/php-fpm.conf): <reason>``, ``crash evidence
    read: master 97 (/etc/php/8.2/fpm/php-fpm.conf): /var/log/php8.2-fpm.log (3 events)``. None
    when the record did not say (made before evidence.fpm_sources), [] when it names no master."""
    sources = (h.get("evidence") or {}).get("fpm_sources")
    if sources is None:
        return None
    out = []
    for e in sources:
        who = unread_what(e)
        if e.get("status") == "scanned":
            out.append((True, "crash evidence read: %s: %s (%s)%s" % (
                who, e.get("source") or e.get("error_log") or "?", "1 event" if e.get("events") == 1
                else "%d events" % as_int(e.get("events")), "; " + e["truncated"] if e.get("truncated") else "")))
        else:
            out.append((False, "crash evidence not read: %s: %s" % (who, e.get("reason") or "not read")))
    return sorted(out, key=lambda x: x[0])


def healthy_hosts(report):
    return [h for h in report["hosts"] if h["verdict"] == "healthy"]


def more_text(shown, total, what, where="see report.json"):
    """``and 12 more pools (see report.json)`` when ``total`` exceeds ``shown``, else ''."""
    return "and %d more %s(%s)" % (total - shown, what + " " if what else "", where) if total > shown else ""


def _stale_where(master):
    """Where the stale scripts not shown are: report.json, or only their count when it was capped."""
    if master.get("stale_scripts_truncated"):
        return "report.json lists the first %d: diagnose_stale_cap" % len(master["stale_scripts"])
    return "see report.json"


def _stale_total(master):
    """How many scripts of a master are stale: its stale_counts, else its listed scripts."""
    sc = master.get("stale_counts") or {}
    listed = len(master["stale_scripts"])
    return max(listed, as_int(sc.get("certain")) + as_int(sc.get("possible"))) if sc else listed


def _counts_line(report):
    return ", ".join("%s %d" % (k, v) for k, v in verdict_counts(report)) or "none"


def _first_reason(h):
    return h["reasons"][0]["text"] if h["reasons"] else ""


def render_markdown(report):
    f = report["fleet"]
    out = []
    out.append("# OPcache fleet report")
    out.append("")
    w = report.get("window") or {}
    out.append("Generated %s, window since %s%s%s. %d host(s): %s." % (
        md_code(report.get("generated_at")), md_code(w.get("since")),
        (" until " + md_code(w.get("until"))) if w.get("until") else "",
        " (check mode)" if report.get("check_mode") else "", f["hosts_total"], md_text(_counts_line(report))))
    out.append("")
    out.append("## Fleet summary")
    out.append("")
    out.append("| verdict | hosts |")
    out.append("|---|---|")
    for k, v in verdict_counts(report):
        out.append("| %s | %d |" % (md_text(k), v))
    for label, names in (("Resolved by a reset (priority low)", f.get("resolved_by_reset")),
                         ("THE RESET DID NOT CURE IT", f.get("crashes_after_reset"))):
        if names:
            out.append("")
            out.append("%s: %s%s." % (label, ", ".join(md_code(n) for n in names[:HOST_LIST_CAP]), (
                " " + more_text(HOST_LIST_CAP, len(names), "", "in the table below")) if len(names) > HOST_LIST_CAP
                else ""))
    attention = attention_hosts(report)
    out.append("")
    out.append("## Hosts that need attention (%d)" % len(attention))
    out.append("")
    if attention:
        out.append("| host | verdict | priority | why | next step |")
        out.append("|---|---|---|---|---|")
    else:
        out.append("None: every host is healthy.")
    for h in attention:
        why = _first_reason(h)
        step = h["next_steps"][0]["command"] if h["next_steps"] else ""
        label = reset_label(h)
        out.append("| %s | **%s**%s%s | %s | %s | %s |" % (
            md_code(h["name"]), md_text(h["verdict"]),
            (" (%s)" % md_text(h["confidence"])) if h.get("confidence") else "",
            (", **%s**, priority %s" % (md_text(label), md_text(h.get("priority")))) if label else "",
            md_text(h.get("priority") or "-"), md_code(why) if why else "-", md_code(step) if step else "-"))
    for h in attention:
        out.extend(_md_host(h))
    healthy = healthy_hosts(report)
    if healthy:
        out.append("")
        out.append("## Healthy hosts (%d)" % len(healthy))
        out.append("")
        out.append("Their details are in report.html and report.json.")
        out.append("")
        out.append("| host | notes |")
        out.append("|---|---|")
        for h in healthy:
            out.append("| %s | %s |" % (md_code(h["name"]), ", ".join(md_code(n["code"]) for n in h.get("notes") or [])
                                        or "-"))
        noisy = [h for h in healthy if ((h.get("evidence") or {}).get("php_messages") or {}).get("total")]
        if noisy:
            out.append("")
            out.append("PHP messages of healthy hosts:")
            out.append("")
        for h in noisy:
            pm = h["evidence"]["php_messages"]
            top = pm["top"][0] if pm["top"] else None
            out.append("- %s: %s%s" % (md_code(h["name"]), _md_php_messages(pm), (
                "; most frequent: %d %s %s" % (top["count"], md_text(top["severity"]), md_code(top["script"] or "-")))
                if top else ""))
    out.append("")
    return "\n".join(out)


def _md_php_messages(pm):
    return "PHP messages in FastCGI stderr: %d (%s)" % (
        pm["total"], ", ".join("%s %d" % (md_text(k), v) for k, v in _by_severity(pm)))


def _md_more(out, shown, total, what, indent="", where="see report.json"):
    text = more_text(shown, total, what, where)
    if text:
        out.append("%s- %s" % (indent, text))


def _md_host(h):
    out = ["", "## %s: %s" % (md_code(h["name"]), _md_verdict(h)), ""]
    if h["status"] != "ok":
        out.append("No results: %s" % md_code(h.get("error") or h["status"]))
        return out
    for r in h["reasons"]:
        out.append("- %s %s" % (md_code(r["code"]), md_code(r["text"])))
    for r in h.get("notes") or []:
        out.append("- note %s %s" % (md_code(r["code"]), md_code(r["text"])))
    sources = crash_evidence_lines(h)
    if sources:
        out.append("")
        out.append("php-fpm crash logs:")
        out.append("")
        out.extend("- %s" % md_code(text) for dummy, text in sources)
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
        for s in h["sections"][:CAPS["sections"]]:
            pages = s["crash_paths"][:CAPS["crash_paths"]]
            out.append("| %s | %s | %s | %s | %s | %d |" % (
                md_code(s["prefix"]), md_code(s["root"]), md_code(", ".join(s["pools"])),
                _md_verdict(s),
                (", ".join("%s (%d)" % (md_code(p["path"]), p["count"]) for p in pages) or "-") + (
                    " " + more_text(len(pages), len(s["crash_paths"]), "pages") if len(s["crash_paths"]) > len(pages)
                    else ""),
                s["tied_502s"]))
        _md_more(out, CAPS["sections"], len(h["sections"]), "release folders")
    out.extend(_md_deploys(h.get("deploys") or []))
    if h["pools"]:
        out.append("")
        out.append("| pool | master | listen | verdict | crashes | 502s tied | OPcache overrides |")
        out.append("|---|---|---|---|---|---|---|")
        for p in h["pools"][:CAPS["pools"]]:
            ov = ", ".join(setting_text(o.get("directive"), o.get("value")) for o in p["opcache_overrides"])
            out.append("| %s | %s | %s | %s | %d | %d | %s |" % (
                md_code(p["name"]), md_code("%s %s" % (p["master_pid"], p["config"])), md_code(p["listen"]),
                _md_verdict(p), p["crashes"], p["tied_502s"], md_code(ov) if ov else "-"))
        _md_more(out, CAPS["pools"], len(h["pools"]), "pools")
    if h["masters"]:
        out.append("")
        for m in h["masters"][:CAPS["masters"]]:
            out.append("- master %s: php %s, emergency_restart_threshold %s; OPcache: %s; stale scripts: %s%s" % (
                md_code("%s %s" % (m["master_pid"], m["config"])), md_code(m.get("php_version")),
                m["emergency_restart_threshold"] or "not set",
                ("error " + md_code(m["opcache_error"])) if m.get("opcache_error") else md_text(
                    opcache_summary(m.get("opcache"))),
                md_text(stale_counts_text(m.get("stale_counts"))),
                ("; APCu: " + md_text(apcu_summary(m["apcu"]))) if m.get("apcu") else ""))
            for s in m["stale_scripts"][:10]:
                out.append("  - %s %s" % (md_text(s["stale"]), md_code(s["path"])))
            _md_more(out, min(10, len(m["stale_scripts"])), _stale_total(m), "stale scripts", "  ", _stale_where(m))
            for e in m.get("cache_events") or []:
                files = e.get("files") or []
                out.append("  - cache %s %s %s%s" % (md_code(e.get("time")), md_text(e.get("kind")), md_text(e.get("text")), (
                    " " + ", ".join(md_code(f) for f in files[:CAPS["event_files"]])) if files else ""))
                _md_more(out, CAPS["event_files"], len(files), "files", "    ")
        _md_more(out, CAPS["masters"], len(h["masters"]), "php-fpm masters")
    ev = h.get("evidence") or {}
    if ev.get("recent_gateway_errors"):
        out.append("")
        out.append("Recent gateway errors:")
        out.append("")
        for g in ev["recent_gateway_errors"][-CAPS["gateway_errors"]:]:
            out.append("- %s %s %s" % (md_code(g.get("timestamp")), md_code(g.get("category")),
                                       md_code(g.get("request"))))
        _md_more(out, CAPS["gateway_errors"], len(ev["recent_gateway_errors"]), "recent gateway errors")
    pm = ev.get("php_messages") or {}
    if pm.get("total"):
        out.append("")
        out.append("%s; most frequent:" % _md_php_messages(pm))
        out.append("")
        for t in pm["top"][:5]:
            out.append("- %d %s %s" % (t["count"], md_text(t["severity"]), md_code(t["script"] or "-")))
    return out


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
[hidden]{display:none!important}.more{color:#566573;font-style:italic}
#summary{border:1px solid #ccd1d1;border-radius:.4em;padding:.2em 1em .6em;background:#fbfcfc}
#filter{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid #ccd1d1;padding:.5em 0;margin-top:1em}
#attention td:first-child,#summary p a{white-space:nowrap}#filter input{width:22em}#filter label{margin-right:1em}
details.host{border-top:1px solid #e5e8e8;padding:.3em 0;content-visibility:auto;contain-intrinsic-size:auto 2.5em}details.host>summary{cursor:pointer}
details.host>summary h3{display:inline;font-size:1.1em;margin:0}.why{color:#34495e;font-size:.92em}
details#healthy>summary{cursor:pointer}details#healthy>summary h2{display:inline}
.v{background:#566573}.v.resolved{background:#1e8449}.v.notcured{background:#c0392b}
.sources .notread{color:#922b21;font-weight:600}
""" + "".join(".v.%s{background:%s}" % kv for kv in sorted(VERDICT_COLOURS.items())) + "\n"

# The page's only script (progressive enhancement: without it every host is listed as well): the
# search box and the verdict filter hide the host sections that do not match and count those
# shown; the URL fragment #q=TEXT&v=VERDICT pre-filters a shared link, #host-NAME opens that host.
# A fixed text: nothing from the report is interpolated; the CSP allows it by its hash alone.
SCRIPT = """(function () {
  "use strict";
  var form = document.getElementById("filter"), q = document.getElementById("q"),
    pick = document.getElementById("verdict"), shown = document.getElementById("shown"),
    healthy = document.getElementById("healthy"), attention = document.getElementById("attention-hosts");
  if (!form || !q || !pick || !shown) { return; }
  var hosts = Array.prototype.slice.call(document.querySelectorAll("details.host"));
  var texts = hosts.map(function (h) { return h.querySelector("summary").textContent.toLowerCase(); });
  var openedHere = false;
  function decode(s) { try { return decodeURIComponent(s); } catch (e) { return s; } }
  function apply() {
    var terms = q.value.toLowerCase().split(/\\s+/).filter(Boolean), verdict = pick.value, n = 0;
    hosts.forEach(function (h, i) {
      var ok = (!verdict || h.getAttribute("data-verdict") === verdict) &&
        terms.every(function (t) { return texts[i].indexOf(t) !== -1; });
      h.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + hosts.length + " hosts shown";
    var filtering = terms.length > 0 || verdict !== "";
    [attention, healthy].forEach(function (g) {
      if (g) { g.hidden = filtering && !g.querySelector("details.host:not([hidden])"); }
    });
    if (healthy && filtering && !healthy.hidden && !healthy.open) { healthy.open = true; openedHere = true; }
    if (healthy && !filtering && openedHere) { healthy.open = false; openedHere = false; }
  }
  function remember() {
    var parts = [];
    if (q.value) { parts.push("q=" + encodeURIComponent(q.value)); }
    if (pick.value) { parts.push("v=" + encodeURIComponent(pick.value)); }
    try {
      history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
    } catch (e) { /* a browser that refuses it for file: pages keeps the filter, not the link */ }
  }
  function fromHash() {
    var hash = location.hash.slice(1), target;
    if (/^[qv]=/.test(hash)) {
      q.value = ""; pick.value = "";
      hash.split("&").forEach(function (kv) {
        var i = kv.indexOf("="), key = kv.slice(0, i), value = decode(kv.slice(i + 1));
        if (key === "q") { q.value = value; }
        if (key === "v") { pick.value = value; }
      });
      apply();
    } else if (hash) {
      target = document.getElementById(decode(hash));
      if (target && target.classList.contains("host")) {
        if (target.hidden) { q.value = ""; pick.value = ""; apply(); }
        target.open = true;
        if (healthy && healthy.contains(target)) { healthy.open = true; }
        target.scrollIntoView();
      }
    }
  }
  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  q.addEventListener("input", function () { apply(); remember(); });
  pick.addEventListener("change", function () { apply(); remember(); });
  window.addEventListener("hashchange", fromHash);
  apply();
  fromHash();
}());
"""


def script_hash(text=SCRIPT):
    """The CSP source that allows exactly ``text`` as an inline script: ``'sha256-<base64>'``."""
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(script=SCRIPT):
    """Nothing from anywhere (no fetch, image, font, frame, form target), inline styles, and the
    one inline script by its hash: an injected <script> or event handler would not run."""
    return "default-src 'none'; style-src 'unsafe-inline'; script-src %s" % script_hash(script)


def _badge(v, scope=None):
    """A verdict in its colour (CSS class .v.<verdict>), and the reset check's label when there is one."""
    out = '<span class="v %s">%s</span>' % (esc(v), esc(v))
    label = reset_label(scope or {})
    if label:
        out += ' <span class="v %s">%s</span>' % ("resolved" if label == "resolved by reset" else "notcured", esc(label))
    return out


def _reasons_html(items):
    """The reasons (or notes) as a list; ``no_faults`` left out: the healthy badge and the host's
    summary line say it already."""
    items = [r for r in items or [] if r.get("code") != "no_faults"]
    if not items:
        return ""
    return "<ul>%s</ul>" % "".join("<li><code>%s</code> %s</li>" % (esc(r.get("code")), esc(r.get("text")))
                                   for r in items)


def _more_html(shown, total, what, tag="p", where="see report.json"):
    """``<p class="more">and N more ... (see report.json)</p>`` (or another tag), '' when all are shown."""
    text = more_text(shown, total, what, where)
    return '<%s class="more">%s</%s>' % (tag, esc(text), tag.split()[0]) if text else ""


def _more_row(columns, shown, total, what):
    """A last table row ``and N more ...``, '' when all are shown."""
    more = _more_html(shown, total, what, 'td colspan="%d"' % columns)
    return "<tr>%s</tr>" % more if more else ""


def _host_links(names, cap=HOST_LIST_CAP):
    """Links to the hosts' sections; past ``cap``, how many more the table below lists."""
    shown = ", ".join('<a href="#host-%s">%s</a>' % (esc(n), esc(n)) for n in names[:cap])
    return shown + ((' <span class="more">%s</span>' % more_text(cap, len(names), "", "in the table below"))
                    if len(names) > cap else "")


def _summary_html(report):
    f = report["fleet"]
    out = ['<section id="summary"><h2>Fleet summary</h2><table class="counts"><tr><th>verdict</th><th>hosts</th></tr>']
    for k, v in verdict_counts(report):
        out.append("<tr><td>%s</td><td>%d</td></tr>" % (_badge(k), v))
    out.append("</table>")
    for label, names in (("Resolved by a reset (priority low)", f.get("resolved_by_reset") or []),
                         ("THE RESET DID NOT CURE IT", f.get("crashes_after_reset") or [])):
        if names:
            out.append("<p>%s: %d host(s): %s</p>" % (esc(label), len(names), _host_links(names)))
    attention = attention_hosts(report)
    out.append("<h3>Hosts that need attention (%d)</h3>" % len(attention))
    if not attention:
        out.append("<p>None: every host is healthy.</p>")
    else:
        out.append('<table id="attention"><tr><th>host</th><th>verdict</th><th>priority</th><th>why</th>'
                   "<th>release folders in trouble</th><th>next step</th></tr>")
    for h in attention:
        secs = ", ".join("%s %s" % (esc(s["prefix"]), _badge(s["verdict"], s))
                         for s in (h.get("sections") or [])[:CAPS["sections"]] if s["verdict"] != "healthy")
        h_conf = (" <small>confidence %s</small>" % esc(h["confidence"])) if h.get("confidence") else ""
        out.append("<tr><td><a href=\"#host-%s\">%s</a></td><td>%s%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%s</td></tr>" % (
                       esc(h["name"]), esc(h["name"]), _badge(h["verdict"], h), h_conf, esc(h.get("priority") or "-"),
                       esc(_first_reason(h)), secs or "-",
                       "<code>%s</code>" % esc(h["next_steps"][0]["command"]) if h["next_steps"] else "-"))
    if attention:
        out.append("</table>")
    healthy = len(healthy_hosts(report))
    if healthy:
        out.append('<p>%d healthy host(s): <a href="#healthy">collapsed at the end</a>.</p>' % healthy)
    out.append("</section>")
    return "".join(out)


def _filter_html(report):
    """The search box and the verdict filter: hidden until the script runs (it un-hides them)."""
    options = "".join('<option value="%s">%s (%d)</option>' % (esc(k), esc(k), v) for k, v in verdict_counts(report))
    return ('<form id="filter" role="search" hidden><label>Search hosts <input id="q" type="search" '
            'placeholder="host name, verdict or reason" autocomplete="off"></label><label>Verdict '
            '<select id="verdict"><option value="">all</option>%s</select></label>'
            '<output id="shown" aria-live="polite">%d of %d hosts shown</output></form>' % (
                options, len(report["hosts"]), len(report["hosts"])))


def render_html(report):
    f = report["fleet"]
    w = report.get("window") or {}
    now = parse_ts(report.get("generated_at"))
    h_ = []
    h_.append('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
    h_.append('<meta http-equiv="Content-Security-Policy" content="%s">' % content_security_policy())
    h_.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    h_.append("<title>OPcache fleet report %s</title><style>%s</style></head><body>" % (
        esc(report.get("generated_at")), CSS))
    h_.append("<h1>OPcache fleet report</h1>")
    h_.append("<p>Generated %s; window since %s%s%s; %d host(s): %s.</p>" % (
        esc(report.get("generated_at")), esc(w.get("since")),
        (" until " + esc(w.get("until"))) if w.get("until") else "",
        " (check mode)" if report.get("check_mode") else "", f["hosts_total"], esc(_counts_line(report))))
    h_.append(_summary_html(report))
    h_.append(_filter_html(report))
    attention = attention_hosts(report)
    if attention:
        h_.append('<section id="attention-hosts"><h2>Hosts that need attention</h2>')
        h_.extend(_host_html(h, now, True) for h in attention)
        h_.append("</section>")
    healthy = healthy_hosts(report)
    if healthy:
        h_.append('<details id="healthy"><summary><h2>Healthy hosts (%d)</h2> <span class="why">collapsed: open to '
                  "list them</span></summary>" % len(healthy))
        h_.extend(_host_html(h, now, False) for h in healthy)
        h_.append("</details>")
    h_.append("<script>%s</script>" % SCRIPT)
    h_.append("</body></html>\n")
    return "".join(h_)


def _host_html(h, now, is_open):
    """One host: a <details> whose summary is its name, verdict and main reason."""
    h_ = ['<details class="host" id="host-%s" data-verdict="%s"%s><summary><h3>%s %s</h3> <span class="why">%s'
          "</span></summary>" % (esc(h["name"]), esc(h["verdict"]), " open" if is_open else "", esc(h["name"]),
                                 _badge(h["verdict"], h), esc(_first_reason(h)))]
    if h["status"] != "ok":
        h_.append("<p>No results from this host: <code>%s</code></p></details>" % esc(h.get("error") or h["status"]))
        return "".join(h_)
    ev = h.get("evidence") or {}
    if (h.get("timeline") or {}).get("points"):
        h_.append(timeline_svg(h.get("timeline"), (ev.get("window") or {}).get("since"), now))
    else:
        h_.append('<p class="muted">No 502s or crashes in the window.</p>')
    if (h.get("timeline") or {}).get("partial"):
        h_.append('<p class="muted">The event list was capped: the timeline shows part of the window.</p>')
    h_.append(_reasons_html(h["reasons"]))
    if h.get("notes"):
        h_.append("<p>Notes:</p>" + _reasons_html(h["notes"]))
    sources = crash_evidence_lines(h)
    if sources:
        h_.append('<p>php-fpm crash logs:</p><ul class="sources">%s</ul>' % "".join(
            "<li%s>%s</li>" % ("" if read else ' class="notread"', esc(text)) for read, text in sources))
    for s in h["next_steps"]:
        h_.append("<p>Next (%s): %s</p><pre>%s</pre>" % (esc(s["kind"]), esc(s["why"]), esc(s["command"])))
    if _all_healthy(h["sections"]):
        h_.append("<p>Release folders, all healthy: %s.</p>" % _plain_list(
            ["<code>%s</code> <code>%s</code> (%s%s)" % (
                esc(s["prefix"]), esc(s["root"]), esc(", ".join(s["pools"])), _note_codes(s)) for s in h["sections"]],
            "release folders"))
    elif h["sections"]:
        h_.append("<table><tr><th>release folder</th><th>root</th><th>pools</th><th>verdict</th>"
                  "<th>crash pages</th><th>502s tied</th><th>why</th></tr>")
        for s in h["sections"][:CAPS["sections"]]:
            pages = s["crash_paths"][:CAPS["crash_paths"]]
            h_.append("<tr><td><code>%s</code></td><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s%s</td>"
                      "<td>%d</td><td>%s</td></tr>" % (
                          esc(s["prefix"]), esc(s["root"]), esc(", ".join(s["pools"])), _badge(s["verdict"], s),
                          "<br>".join("<code>%s</code> (%d)" % (esc(p["path"]), p["count"]) for p in pages) or "-",
                          _more_html(len(pages), len(s["crash_paths"]), "pages", "span"),
                          s["tied_502s"], _reasons_html(s["reasons"]) or "-"))
        h_.append(_more_row(7, CAPS["sections"], len(h["sections"]), "release folders"))
        h_.append("</table>")
    h_.extend(_html_deploys(h.get("deploys") or []))
    if _all_healthy(h["pools"]):
        h_.append("<p>Pools, all healthy: %s.</p>" % _plain_list(
            ["%s (master %s, <code>%s</code>, %s max_children %s%s%s)" % (
                esc(p["name"]), esc(p["master_pid"]), esc(p["listen"]), esc(p["pm"]), esc(p["pm_max_children"]),
                "".join("; %s" % esc(t) for t in _overrides(p)), _note_codes(p)) for p in h["pools"]], "pools"))
    elif h["pools"]:
        h_.append("<table><tr><th>pool</th><th>master</th><th>listen</th><th>pm</th><th>verdict</th><th>crashes</th>"
                  "<th>502s tied</th><th>OPcache overrides</th></tr>")
        for p in h["pools"][:CAPS["pools"]]:
            ov = ", ".join(_overrides(p))
            h_.append("<tr><td>%s</td><td>%s <code>%s</code></td><td><code>%s</code></td><td>%s max_children %s</td>"
                      "<td>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>" % (
                          esc(p["name"]), esc(p["master_pid"]), esc(p["config"]), esc(p["listen"]), esc(p["pm"]),
                          esc(p["pm_max_children"]), _badge(p["verdict"], p), p["crashes"], p["tied_502s"], esc(ov) or "-"))
        h_.append(_more_row(8, CAPS["pools"], len(h["pools"]), "pools"))
        h_.append("</table>")
    if h["masters"]:
        h_.append(_masters_html(h["masters"]))
    if ev.get("recent_gateway_errors"):
        errors = ev["recent_gateway_errors"]
        h_.append("<p>Recent gateway errors:</p><table><tr><th>time</th><th>category</th><th>request</th>"
                  "<th>upstream</th></tr>")
        for g in errors[-CAPS["gateway_errors"]:]:
            h_.append("<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>" % (
                esc(g.get("timestamp")), esc(g.get("category")), esc(g.get("request")), esc(g.get("upstream"))))
        h_.append(_more_row(4, CAPS["gateway_errors"], len(errors), "earlier gateway errors"))
        h_.append("</table>")
    pm = ev.get("php_messages") or {}
    if pm.get("total"):
        h_.append("<p>PHP messages in FastCGI stderr: %d (%s)</p><table><tr><th>count</th><th>severity</th>"
                  "<th>script</th></tr>" % (pm["total"], esc(", ".join("%s %d" % kv for kv in _by_severity(pm)))))
        for t in pm["top"]:
            h_.append("<tr><td>%d</td><td>%s</td><td><code>%s</code></td></tr>" % (
                t["count"], esc(t["severity"]), esc(t["script"] or "-")))
        h_.append("</table>")
    col = h.get("collisions") or {}
    if col.get("items"):
        items = "".join("<li><code>%s</code> in <code>%s</code>: %s</li>" % (
            esc(c["name"]), esc(c["root"]), ", ".join("<code>%s</code>" % esc(p) for p in c["files"]))
            for c in col["items"][:CAPS["collisions"]])
        more = _more_html(CAPS["collisions"], max(as_int(col.get("total")), len(col["items"])), "class names", "li")
        h_.append("<p>Class names declared twice (per code root):</p><ul>%s%s</ul>" % (items, more))
    h_.append("</details>")
    return "".join(h_)


def _all_healthy(scopes):
    """Scopes (pools, release folders) that are all healthy: one line instead of a table of zeros."""
    return bool(scopes) and all(x["verdict"] == "healthy" for x in scopes)


def _note_codes(scope):
    return "".join("; note <code>%s</code>" % esc(n.get("code")) for n in scope.get("notes") or [])


def _overrides(pool):
    """A pool's OPcache overrides as people read them: ``revalidate_freq 0 s (php_value)``."""
    return ["%s (%s)" % (setting_text(o.get("directive"), o.get("value")), o.get("via")) for o in pool["opcache_overrides"]]


def _plain_list(items, what, cap=20):
    return ", ".join(items[:cap]) + ((" " + _more_html(cap, len(items), what, "span")) if len(items) > cap else "")


def _masters_html(masters):
    h_ = ["<table><tr><th>master</th><th>php</th><th>emergency_restart_threshold</th><th>OPcache</th>"
          "<th>settings</th><th>stale scripts</th><th>cache emptied / files invalidated</th><th>APCu</th></tr>"]
    for m in masters[:CAPS["masters"]]:
        oc = m.get("opcache") or {}
        shown = m["stale_scripts"][:CAPS["stale_scripts"]]
        stale = "<br>".join("%s <code>%s</code>" % (esc(s["stale"]), esc(s["path"])) for s in shown)
        stale += _more_html(len(shown), _stale_total(m), "stale scripts", "div", _stale_where(m))
        events = "<br>".join("%s %s: %s%s" % (esc(e.get("time")), esc(e.get("kind")), esc(e.get("text")), (
            " " + ", ".join("<code>%s</code>" % esc(f) for f in e.get("files")[:CAPS["event_files"]])
            + _more_html(CAPS["event_files"], len(e["files"]), "files", "span")) if e.get("files") else "")
            for e in m.get("cache_events") or [])
        settings = ", ".join(setting_text(k, v) for k, v in sorted((m.get("opcache_settings") or {}).items()))
        h_.append("<tr><td>%s <code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                  "<td>%s</td><td>%s</td></tr>" % (
                      esc(m["master_pid"]), esc(m["config"]), esc(m.get("php_version")),
                      esc(m["emergency_restart_threshold"]) if m["emergency_restart_threshold"] else "not set",
                      esc(m["opcache_error"]) if m.get("opcache_error") else esc(opcache_summary(oc)),
                      esc(settings) or "-", stale or "-", events or "-", esc(apcu_summary(m.get("apcu")))))
    h_.append(_more_row(8, CAPS["masters"], len(masters), "php-fpm masters"))
    h_.append("</table>")
    return "".join(h_)
