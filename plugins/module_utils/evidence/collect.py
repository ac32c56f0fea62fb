# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One evidence collection, as fpm_evidence and diagnose_host run it: check the options,
scan the files and the kernel sources, correlate, and return fpm_evidence's result.
Private to opcache-fleet."""
from __future__ import absolute_import, division, print_function

import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.timestamps import format_ts, parse_window
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.identity import master_key
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.crash_sources import _run, collect_kernel
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import JOURNAL_MAX_ENTRIES
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.fpm_sources import journal_args, journal_lines
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.gnu_grep import grep_prefilter
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.log_files import expand_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.scan import scan, scan_bytes
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.sinks import CompositeSink, EventCollector
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.correlate import Correlator

# fpm_evidence's options with their defaults (the module's argument_spec is built from them;
# diagnose_host passes the same names).
EVIDENCE_ARGS = dict(
    paths=dict(type="list", elements="path"),
    nginx_error_logs=dict(type="list", elements="path", default=[]),
    fpm_logs=dict(type="list", elements="path", default=[]),
    slowlogs=dict(type="list", elements="path", default=[]),
    include_rotated=dict(type="bool", default=True),
    kernel=dict(type="bool", default=True),
    since=dict(type="str", default="24h"),
    until=dict(type="str"),
    upstream_pools=dict(type="dict", default={}),
    correlation_window=dict(type="float", default=2.0),
    include_events=dict(type="bool", default=False),
    max_events=dict(type="int", default=1000),
    workers=dict(type="int", default=0),
    prefilter=dict(type="str", default="auto", choices=["auto", "grep", "python"]),
)


def boot_time():
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (IOError, OSError, ValueError):
        pass
    return None


def check_evidence_args(p):
    """The checked options: ``(since, until, specs, prefilter)``; ValueError names a bad one."""
    since, until = parse_window(p["since"], p["until"])
    if p["max_events"] < 0:
        raise ValueError("max_events must be 0 or more; got %d" % p["max_events"])
    if p["correlation_window"] <= 0:
        raise ValueError("correlation_window must be more than 0 seconds; got %s" % p["correlation_window"])
    if p["workers"] < 0:
        raise ValueError("workers must be 0 (automatic) or more; got %d" % p["workers"])
    for k, v in p["upstream_pools"].items():
        if not isinstance(v, str) or not v:
            raise ValueError("upstream_pools maps an upstream to a pool name; %r maps to %r" % (k, v))
    if p["paths"] is not None:
        specs = [(x, None) for x in p["paths"]]
    else:
        specs = ([(x, "nginx") for x in p["nginx_error_logs"]] + [(x, "php-fpm") for x in p["fpm_logs"]] +
                 [(x, "slowlog") for x in p["slowlogs"]])
    if not specs and not p["kernel"]:
        raise ValueError("nothing to scan: give paths, nginx_error_logs, fpm_logs or slowlogs, "
                         "or set kernel=true")
    return since, until, specs, grep_prefilter(p["prefilter"])


def collect_evidence(module, p, fpm_plans=None, source_masters=None, upstream_masters=None):
    """fpm_evidence's result for the options ``p`` (every key of EVIDENCE_ARGS). ``module``
    runs the kernel-log commands (run_command, get_bin_path). ``fpm_plans``: where each
    php-fpm master's crash lines are (evidence/fpm_sources.py plan_sources; diagnose_host
    passes them): their files are scanned, their journals read, and the result says per
    master what was read and what was not (``fpm_sources``). A pool is its master and
    its name: each master's crash log (from ``fpm_plans``, and ``source_masters``: more
    (log, master key) pairs, the slowlogs) and ``upstream_masters`` (nginx target -> master
    key) keep two ``[www]`` pools of two masters apart; the events of those logs get a
    ``master``. ValueError: a bad option."""
    since, until, specs, prefilter = check_evidence_args(p)
    plans = [dict(x) for x in fpm_plans or ()]
    log_masters = plan_masters(plans, source_masters)
    for plan in plans:
        if plan.get("read") == "file" and (plan["path"], "php-fpm") not in specs:
            specs.append((plan["path"], "php-fpm"))
    upstream_pools = dict(p["upstream_pools"])
    window_s = p["correlation_window"]
    max_events = p["max_events"]
    include_events = p["include_events"]

    def sink_factory():
        return CompositeSink(Correlator(upstream_pools=upstream_pools, window_s=window_s,
                                        upstream_masters=upstream_masters, source_masters=log_masters),
                             EventCollector(max_events=max_events, enabled=include_events))

    started = time.time()
    files, missing = expand_paths(specs, include_rotated=p["include_rotated"])
    btime = boot_time()
    kernel_sink = sink_factory()
    kernel_sources = []
    if p["kernel"]:
        kernel_sources = collect_kernel(module, kernel_sink, since, until, btime, files)
    _read_journals(module, plans, kernel_sink, since, until, btime)
    sink, reports = scan(files, sink_factory, since=since, until=until, boot_time=btime,
                         workers=p["workers"] or None, prefilter=prefilter["used"])
    sink.merge(kernel_sink)
    _file_status(plans, reports, missing)
    correlator, collector = sink.sinks
    for src in kernel_sources:
        if src["status"] == "queued":
            rep = [r for r in reports if r["path"] == src["source"]]
            src["status"] = rep[0]["status"] if rep else "absent"
            src["events"] = rep[0].get("events", 0) if rep else 0
    result = correlator.report()
    result.update(
        changed=False,
        window={"since": format_ts(since), "until": format_ts(until)},
        files=reports,
        missing=missing,
        kernel_sources=kernel_sources,
        prefilter=prefilter,
        events_total=collector.total,
        events_truncated=collector.truncated,
        elapsed_s=round(time.time() - started, 3),
    )
    if fpm_plans is not None:
        result["fpm_sources"] = [dict((k, v) for k, v in x.items() if k not in _PLAN_ONLY) for x in plans]
    if include_events:
        for ev in collector.events:
            if ev.get("file") in log_masters:
                ev["master"] = log_masters[ev["file"]]
        result["events"] = collector.events
    return result


_PLAN_ONLY = ("read", "path", "journal")


def plan_masters(plans, extra=None):
    """Crash log -> key of the master that writes it (discovery.identity.master_key): each
    plan's file path or journal source, and the (log, key) pairs of ``extra``. A log that two masters write is
    left out: whose line it is cannot be told."""
    out, shared = {}, set()
    pairs = [(x.get("path") if x.get("read") == "file" else x.get("source"), master_key(x))
             for x in plans if x.get("read") in ("file", "journal")]
    pairs += list(extra or ())
    for log, key in pairs:
        if not log or key is None:
            continue
        if out.get(log, key) != key:
            shared.add(log)
        out[log] = key
    for log in shared:
        del out[log]
    return out


# a file skipped for these reasons was looked at: nothing of the window is in it
_NOTHING_IN_WINDOW = ("last modified before the window", "first record is after the window")


def _read_journals(module, plans, sink, since, until, btime):
    """The journal plans: ``journalctl -o json`` for the master's unit or identifier,
    the entries a php-fpm master wrote (fpm_sources.journal_lines), scanned as php-fpm
    lines into ``sink``."""
    jobs = [x for x in plans if x.get("read") == "journal"]
    if not jobs:
        return
    jctl = module.get_bin_path("journalctl")
    for plan in jobs:
        if not jctl:
            plan.update(status="not_read", reason="its log goes to the journal and journalctl is not on this host")
            continue
        rc, out, err = _run(module, journal_args(jctl, plan["journal"], since, until))
        if rc != 0 and b"output-fields" in (err or b""):
            # systemd before 236 has no --output-fields: every field comes, the same entries
            rc, out, err = _run(module, journal_args(jctl, plan["journal"], since, until, fields=False))
        if rc != 0:
            msg = (err or b"").decode("utf-8", "replace").strip().split("\n")[0][:300]
            plan.update(status="not_read", reason="%s failed: %s" % (plan["source"], msg or "exit code %d" % rc))
            continue
        data, kept, refused = journal_lines(out, plan["journal"])
        rep = scan_bytes(plan["source"], data, sink, since=since, until=until, boot_time=btime, hint="php-fpm")
        plan.update(status="scanned", events=rep.get("events", 0), lines=kept)
        if (out or b"").count(b"\n") >= JOURNAL_MAX_ENTRIES:
            plan["truncated"] = "only the most recent %d journal entries of the window were read" % JOURNAL_MAX_ENTRIES
        if refused:
            plan["refused"] = refused        # entries of the unit not written by a php-fpm master


def _file_status(plans, reports, missing):
    by_path = dict((r.get("path"), r) for r in reports)
    for plan in plans:
        if plan.get("read") != "file":
            continue
        rep = by_path.get(plan["path"])
        if rep is None:
            why = "missing" if plan["path"] in missing else "not scanned"
            plan.update(status="not_read", reason="%s: %s" % (plan["path"], why))
        elif rep.get("status") == "scanned" or rep.get("reason") in _NOTHING_IN_WINDOW:
            plan.update(status="scanned", events=rep.get("events", 0))
        else:
            why = rep.get("error") or rep.get("reason") or rep.get("status")
            plan.update(status="not_read", reason="%s: %s" % (plan["path"], why))
