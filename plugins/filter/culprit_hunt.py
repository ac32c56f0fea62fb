# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/culprit_hunt.yml, called by FQCN (``phpfpm.opcache_fleet.culprit_report_urls`` ...):
which hosts and URLs to hunt from diagnose's report.json (docs/report-schema.md), the per-host
summary line, the culprits found and the health probes of the blacklist reload.

Standard library only. The URL of a hunt is read from the data of the report's hunt steps
(``next_steps[].vars.url``), never parsed out of a command line.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import parse_probe_url

SUSPECT = "opcache_suspect"
# The report schema these filters read (report.assembly.SCHEMA_VERSION of the same collection).
REPORT_SCHEMA_VERSION = 2


def check_report(report):
    """Raise ValueError unless ``report`` is a diagnose report of the schema these filters read."""
    if not isinstance(report, dict) or not isinstance(report.get("hosts"), list):
        raise ValueError("report: not a diagnose report (no hosts list; see docs/report-schema.md)")
    found = report.get("schema_version")
    if found != REPORT_SCHEMA_VERSION or isinstance(found, bool):
        raise ValueError("report.json schema_version %s; this collection reads %d: re-run diagnose"
                         % ("missing" if found is None else found, REPORT_SCHEMA_VERSION))


def _url_path(url):
    """The path (with its query) of an absolute http(s) URL: what the report's crash paths hold."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _hunt_urls_from_steps(entry):
    """{path: url} from the host's hunt steps (``vars.url``; they carry the Host header)."""
    out = {}
    for step in entry.get("next_steps") or []:
        if not isinstance(step, dict) or step.get("kind") != "hunt":
            continue
        url = (step.get("vars") or {}).get("url") if isinstance(step.get("vars"), dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            out.setdefault(_url_path(url), url)
    return out


def _paths(items):
    for item in items or []:
        if isinstance(item, dict) and item.get("path"):
            yield item["path"]
        elif isinstance(item, str):
            yield item


def report_hunt_targets(report, per_pool=1, default_host="127.0.0.1"):
    """[{host, urls, pools}] for every host of the report that diagnose marked opcache_suspect
    (the host, one of its pools or one of its release sections), with the top failing paths of
    the suspect pools (``per_pool`` each) as URLs through the local nginx."""
    check_report(report)
    targets = []
    for entry in report["hosts"]:
        if not isinstance(entry, dict):
            continue
        pools = [p for p in entry.get("pools") or [] if isinstance(p, dict) and p.get("verdict") == SUSPECT]
        sections = [s for s in entry.get("sections") or [] if isinstance(s, dict) and s.get("verdict") == SUSPECT]
        if entry.get("verdict") != SUSPECT and not pools and not sections:
            continue
        steps = _hunt_urls_from_steps(entry)
        paths = []
        for p in pools:
            paths.extend(list(_paths(p.get("top_crash_paths")))[:per_pool])
        for s in sections:
            paths.extend(list(_paths(s.get("crash_paths")))[:per_pool])
        if not paths:
            paths.extend(steps.keys())
        if not paths:
            ev = (entry.get("evidence") or {}).get("top_crash_paths") or {}
            for pool_paths in (ev.values() if isinstance(ev, dict) else [ev]):
                paths.extend(list(_paths(pool_paths))[:per_pool])
        urls = []
        for path in paths:
            url = steps.get(path) or "http://%s%s" % (default_host, path)
            if url not in urls:
                urls.append(url)
        targets.append({"host": entry.get("name"), "urls": urls, "pools": [p.get("name") for p in pools]})
    return targets


def report_hunt_urls(report, host, per_pool=1):
    """The URLs to hunt on ``host`` (empty when diagnose did not mark it opcache_suspect)."""
    for t in report_hunt_targets(report, per_pool):
        if t["host"] == host:
            return t["urls"]
    return []


def _could_not_run(r):
    """A looped opcache_culprit result of a hunt that could not run: the module failed (its result
    carries the ``cause``). The playbook registers the loop with ``failed_when: false`` (every URL is
    hunted), which makes Ansible set ``failed`` false: ``failed`` alone never tells."""
    return bool(r.get("failed")) or (r.get("cause") is not None and not r.get("found"))


def culprit_failures(results):
    """The messages of the hunts that could not run (culprit_hunt.yml fails the host on them)."""
    out = []
    for r in results or []:
        if _could_not_run(r):
            url, msg = r.get("url") or r.get("item"), r.get("msg") or "failed"
            out.append(msg if url and str(msg).startswith(str(url)) else "%s: %s" % (url, msg))
    return out


def culprit_summary(results):
    """One line per hunted URL from a looped opcache_culprit result."""
    lines = []
    for r in results or []:
        url = r.get("url") or r.get("item")
        if _could_not_run(r):
            lines.append("%s: hunt failed - %s" % (url, r.get("msg")))
        elif r.get("found"):
            c = r.get("culprit")
            lines.append("%s: culprit %s (%s probe(s), %s cached scripts ranked)" % (
                url, ", ".join(c) if isinstance(c, list) else c, r.get("probes"), r.get("candidates_considered")))
        else:
            lines.append("%s: no culprit - %s" % (url, r.get("msg")))
    return lines


def culprit_list(results):
    """Every culprit path found (groups flattened), in order, without duplicates."""
    out = []
    for r in results or []:
        if _could_not_run(r) or not r.get("found"):
            continue
        c = r.get("culprit")
        for path in (c if isinstance(c, list) else [c]):
            if path and path not in out:
                out.append(path)
    return out


def _local_probe(url, status):
    """{url, status[, headers]}: ``url`` asked of the host's own nginx (127.0.0.1, same scheme,
    port and path) with the URL's host as the Host header, as opcache_culprit probes it (the
    same culprit/probe.parse_probe_url). A URL's host name may come from a log's Host header:
    it must select the nginx virtual host, never make the managed host connect elsewhere."""
    try:
        req = parse_probe_url(url)
    except HuntError as exc:
        raise ValueError("culprit_probes: %s" % exc)
    default_port = 443 if req["scheme"] == "https" else 80
    local = "%s://127.0.0.1%s%s" % (req["scheme"], "" if req["port"] == default_port else ":%d" % req["port"],
                                    req["path"])
    probe = {"url": local, "status": [int(status)]}
    if req["host"] not in ("127.0.0.1", "localhost"):
        probe["headers"] = {"Host": req["host_header"]}
    if req["scheme"] == "https":
        # asked of 127.0.0.1, where no certificate carries the virtual host's name (the uri module
        # cannot send another TLS server name): this probe checks the page's status only; the
        # hunt's own probes check the certificate by that name (opcache_culprit validate_certs)
        probe["validate_certs"] = False
    return probe


def culprit_probes(urls, status=200):
    """opcache_config_probes entries for the hunted URLs, each through the host's own nginx."""
    return [_local_probe(u, status) for u in urls or []]


class FilterModule(object):
    def filters(self):
        return {
            "culprit_report_targets": report_hunt_targets,
            "culprit_report_urls": report_hunt_urls,
            "culprit_summary": culprit_summary,
            "culprit_failures": culprit_failures,
            "culprit_list": culprit_list,
            "culprit_probes": culprit_probes,
        }
