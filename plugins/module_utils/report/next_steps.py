# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Next steps of the report: what a human runs after reading a verdict, as data.

Private to opcache-fleet. Standard library only. A step is data (docs/report-schema.md,
``next_steps[]``): a playbook step names ``playbook``, ``limit``, ``inventory`` and ``vars``; an
ad-hoc step (``playbook`` null) names ``module``, ``module_args``, ``limit`` and ``inventory``.
``command`` is rendered from that data by render_command, for humans to paste: every word is
shell-quoted and the variables travel as one JSON object, so nothing that comes from a host (a
crash path, a Host header) is parsed back out of a command line by anyone.
"""
from __future__ import absolute_import, division, print_function

import json
from shlex import quote as _shell_quote

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.categories import CRASH_502
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import plural, top_paths
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.host_model import location_matches
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.judge import unread_what, untied_502s
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.log_values import (
    safe_host_header, safe_path, template_free)

__metaclass__ = type

DEFAULT_PLAYBOOKS = {
    "reset": "playbooks/emergency_reset.yml",
    "hunt": "playbooks/culprit_hunt.yml",
    "diagnose": "playbooks/diagnose.yml",
}
# The module of the down and misconfig steps, by FQCN: an ad-hoc command runs outside any play's
# collections list.
DISCOVER_MODULE = "phpfpm.opcache_fleet.fpm_discover"
MISCONFIG_WHY = ("compare nginx fastcgi_pass targets with the pools' listen, listen.owner/group/mode and the document "
                 "roots; fix the socket permissions, the missing socket or SCRIPT_FILENAME")
# What makes a master's crash log readable, by where its error_log goes (fpm_sources error_log_kind).
READABLE_HINT = {
    "file": "make the file readable where diagnose runs (become) or point error_log at one that is",
    "syslog": "set error_log to a file or install journalctl",
    "stderr": "set error_log to a file (its standard error is kept nowhere diagnose can read)",
}
URI_MODULE = "ansible.builtin.uri"


def shell_join(words):
    return " ".join(_shell_quote(str(w)) for w in words)


def _json_word(data):
    """One compact JSON object (sorted keys, ASCII only): the value of ``-e`` or ``-a``."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def render_command(step):
    """The shell line of a step, rendered from its data (the only place commands are written).

    Playbook step: ``ansible-playbook PLAYBOOK INVENTORY... -l LIMIT [-e JSON]``; ad-hoc step
    (``playbook`` null): ``ansible LIMIT INVENTORY... -m MODULE [-a JSON]``. No ``-e``/``-a``
    when there is nothing to pass.
    """
    inventory = list(step.get("inventory") or [])
    if step.get("playbook"):
        words = ["ansible-playbook", step["playbook"]] + inventory + ["-l", step["limit"]]
        if step.get("vars"):
            words += ["-e", _json_word(step["vars"])]
    else:
        words = ["ansible", step["limit"]] + inventory + ["-m", step["module"]]
        if step.get("module_args"):
            words += ["-a", _json_word(step["module_args"])]
    return shell_join(words)


def _finished(step):
    # Every value from a log went through log_values before it got here; this is the last
    # line of defence, for values nobody thought of: a command that could run a template on
    # the controller of whoever pastes it is never written.
    if not template_free([step.get(k) for k in ("playbook", "limit", "inventory", "vars", "module", "module_args")]):
        raise ValueError("next step of %s: a value holds a template delimiter; not rendered" % step.get("limit"))
    step["command"] = render_command(step)
    return step


class CommandContext(object):
    """How next steps are written: inventory words, the play target, the playbook references."""

    def __init__(self, inventory_args=None, target=None, playbooks=None):
        self.inventory_args = list(inventory_args or [])
        self.target = target
        self.playbooks = dict(DEFAULT_PLAYBOOKS)
        self.playbooks.update(playbooks or {})

    def playbook_step(self, kind, playbook_key, host, variables, why):
        """A step that runs ``self.playbooks[playbook_key]`` on ``host`` with extra vars ``variables``."""
        values = {}
        if self.target and self.target != "webservers":
            values["target"] = self.target
        values.update(variables or {})
        return _finished({"kind": kind, "playbook": self.playbooks[playbook_key], "limit": host,
                          "inventory": list(self.inventory_args), "vars": values, "why": why})

    def module_step(self, kind, host, module, module_args, why):
        """An ad-hoc step: one module (by FQCN) on ``host``."""
        return _finished({"kind": kind, "playbook": None, "module": module, "module_args": dict(module_args or {}),
                          "limit": host, "inventory": list(self.inventory_args), "why": why})


def _logged_page(stats, path):
    """(url path, Host header or None) of a crashing page as the log named it, made fit for a
    command (report/log_values.py); None when the logged path is no path."""
    url_path = safe_path(path)
    if url_path is None:
        return None
    return url_path, safe_host_header((stats.get("hosts_headers") or {}).get(path))


def _name_matches(pattern, name):
    """nginx server_name ``pattern`` (exact, ``*.example.com``, ``.example.com``,
    ``www.example.*``; ``~regex`` is not evaluated) against a Host name."""
    pattern, name = (pattern or "").lower(), (name or "").lower()
    if not pattern or pattern.startswith("~"):
        return False
    if pattern.startswith("."):
        return name == pattern[1:] or name.endswith(pattern)
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _without_port(host_header):
    """A Host header without its ``:port`` (an IPv6 literal in brackets is kept whole)."""
    if host_header and ":" in host_header and not host_header.startswith("["):
        return host_header.rsplit(":", 1)[0]
    return host_header


def page_endpoint(model, host_header, url_path):
    """``(scheme, port)`` through which the host's own nginx serves ``url_path`` under
    ``host_header``: the listen of the server block that passes it to php-fpm (discovery's
    ``fastcgi_targets[].endpoint``), chosen by server name then location. An HTTPS-only vhost
    gives ``("https", 443)``. None when nothing tells (no server block known to pass it)."""
    targets = [t for t in (model.nginx.get("fastcgi_targets") or []) if isinstance(t, dict) and t.get("endpoint")]
    name = _without_port(host_header) if host_header and not host_header.startswith("[") else None
    named = [t for t in targets if name and any(_name_matches(n, name) for n in t.get("server_names") or [])]
    pool = named or targets
    located = [t for t in pool if location_matches(t.get("location"), url_path.split("?", 1)[0]) is not False]
    found = sorted(set((t["endpoint"].get("scheme"), t["endpoint"].get("port")) for t in located or pool
                       if t["endpoint"].get("scheme") in ("http", "https") and isinstance(t["endpoint"].get("port"), int)),
                   key=lambda e: (e[0] != "http", e[1]))
    return found[0] if found else None


def _origin(scheme, host, port):
    default = 443 if scheme == "https" else 80
    return "%s://%s%s" % (scheme, host, "" if port == default else ":%d" % port)


def _crash_url(stats, path, model=None):
    """The page to hunt: the logged path (percent-encoded) under the logged Host header when
    that is a host name (the hunt connects to 127.0.0.1 and sends it as Host, and as the TLS
    server name over https), with the scheme and port of the vhost that serves it
    (page_endpoint); None when the logged path is no path."""
    page = _logged_page(stats, path)
    if page is None:
        return None
    url_path, hh = page
    endpoint = page_endpoint(model, hh, url_path) if model is not None else None
    if endpoint is None:
        return "http://%s%s" % (hh or "127.0.0.1", url_path)
    hh = _without_port(hh)                  # the port is the vhost's listen, not the Host header's
    return _origin(endpoint[0], hh or "127.0.0.1", endpoint[1]) + url_path


def _hunt_step(host, ctx, stats, path, variables, why, model=None):
    url = _crash_url(stats, path, model)
    if url is None:
        return []
    if url.startswith("https://"):
        why += ("; the hunt checks the site's certificate by its name: add -e validate_certs=false only if it is "
                "self-signed and you trust this host")
    return [ctx.playbook_step("hunt", "hunt", host, dict(variables, url=url), why)]


def _verify_step(host, ctx, stats, path, why, model=None):
    """``ansible HOST -m ansible.builtin.uri`` of the page through the host's own nginx (fails unless 200),
    with the vhost's scheme and port."""
    page = _logged_page(stats, path)
    if page is None:
        return []
    url_path, hh = page
    scheme, port = (page_endpoint(model, hh, url_path) if model is not None else None) or ("http", 80)
    args = {"url": _origin(scheme, "127.0.0.1", port) + url_path}
    if hh and hh not in ("127.0.0.1", "localhost"):
        args["headers"] = {"Host": hh}
    if scheme == "https":
        # asked of 127.0.0.1, where no certificate carries the site's name: the status is checked, not
        # the certificate (the hunt checks it, by name)
        args["validate_certs"] = False
    return [ctx.module_step("inspect", host, URI_MODULE, args, why)]


def _reset_step(host, model, ctx, suspect_masters, force_full=False):
    pids = set(m.get("master_pid") for m in (suspect_masters or []))
    stale = 0 if force_full else model.stale_total(pids or None)
    variables = {"mode": "stale" if stale else "full"}
    if suspect_masters and len(model.masters) > 1:
        # A config path that could read as a template is left out: the reset then covers
        # every master of the host, which is a cure too.
        cfgs = sorted(set(m.get("config") for m in suspect_masters if m.get("config") and template_free(m["config"])))
        if cfgs:
            variables["masters"] = ",".join(cfgs)
    if force_full:
        why = ("invalidating files did not stop the crashes: a full reset of the OPcache of the master(s) behind "
               "them, verified (after the hunt: it needs the failing page)")
    elif stale:
        why = "invalidates the %s stale cached script(s) and verifies it (stops the 502s now)" % stale
    else:
        why = "nothing looks stale: a full reset of the OPcache of the master(s) behind the crashes, verified"
    return ctx.playbook_step("reset", "reset", host, variables, why)


def _diagnose_step(host, ctx, why):
    return ctx.playbook_step("inspect", "diagnose", host, {"since": "1h"}, why)


def _unread_step(host, ctx, not_read):
    """Make the crash log of each master in ``not_read`` (judge.crash_evidence) readable, then diagnose again."""
    what = "; ".join("%s: %s; %s" % (
        unread_what(m), m.get("reason") or "not read",
        "fix what the message names (the window: since, until)" if m.get("step")
        else READABLE_HINT.get(m.get("error_log_kind"), "set error_log to a file diagnose can read"))
        for m in not_read)
    return _diagnose_step(host, ctx, (
        "the crash log of php-fpm was not read, so a crash there would not show: %s; then re-run diagnose"
        % what))


def _untied_step(host, ctx, stats, model):
    """Crash 502s that no crash explains: where to look, then diagnose again."""
    last = sorted(t for t in ((model.evidence.get("last_seen") or {}).get(c) for c in CRASH_502) if t)
    return _diagnose_step(host, ctx, (
        "%s (connection reset/closed by php-fpm) with no crash to explain them%s: read those 502 lines (the "
        "report's recent gateway errors) and php-fpm's log of the same seconds (a worker that died there: "
        "pm.max_requests, a reload, request_terminate_timeout), and check the kernel log (journalctl -k, dmesg) "
        "for OOM kills and SIGKILL of php-fpm workers; then re-run diagnose" % (
            plural(untied_502s(stats), "nginx 502"), " (the last crash 502 at %s)" % last[-1] if last else "")))


def next_steps(host, verdict, stats, model, ctx, suspect_masters=None, check=None, also=None):
    """The next steps of one host, most urgent first (docs/report-schema.md, ``next_steps[]``).
    ``also``: the host's other verdicts; a ``down`` host gets the steps of the next one too (a
    stopped master hides nothing else)."""
    steps = []
    if verdict == "down":
        down = [d.get("target") for d in stats.get("down_targets") or []]
        steps.append(ctx.module_step("inspect", host, DISCOVER_MODULE, {}, (
            "start the php-fpm master that should listen on %s (nothing listens there), or point nginx's "
            "fastcgi_pass at a running pool; then %s" % (", ".join(str(t) for t in down), MISCONFIG_WHY))))
        rest = [v for v in also or () if v != "misconfig"]  # the step above is misconfig's already
        if rest:
            steps.extend(next_steps(host, rest[0], stats, model, ctx, suspect_masters, check, rest[1:]))
        return steps
    if verdict == "opcache_suspect" and check and check.get("state") == "resolved_by_reset":
        top = top_paths(stats.get("crash_paths") or {}, 1)
        path = top[0]["path"] if top else None
        if path:
            steps.extend(_verify_step(host, ctx, stats, path, (
                "the crashes stopped after the OPcache reset at %s: request %s through the host's nginx (the "
                "command fails unless it answers 200); no crash logged can also mean no request"
                % (check["reset_at"], path)), model))
            steps.extend(_hunt_step(host, ctx, stats, path, {"blacklist": True}, (
                "so it does not come back: if %s fails again, run this at once instead of another reset; it finds "
                "the cached file that crashes and blacklists it (on a page that answers 200 it finds nothing and "
                "changes nothing)%s" % (path, (
                    "; the reset invalidated %s: changed on disk after being cached, so deploys need a reset "
                    "(emergency_reset.yml mode=stale) while validate_timestamps=0"
                    % ", ".join(check["invalidated_files"][:3]))
                    if check.get("reset_kind") == "invalidate" and check.get("invalidated_files") else "")), model))
        else:
            steps.append(_diagnose_step(host, ctx, "the crashes stopped after the OPcache reset at %s; re-run "
                                                   "diagnose later to confirm none come back" % check["reset_at"]))
        return steps
    if verdict == "opcache_suspect" and check and check.get("state") == "crashes_after_reset":
        paths = check.get("paths_since") or top_paths(stats.get("crash_paths") or {}, 1)
        if paths:
            path = paths[0]["path"]
            steps.extend(_hunt_step(host, ctx, stats, path, {}, (
                "%s still crashes after the reset: finds the cached file that crashes it now, while it fails (add "
                "-e blacklist=true to keep it out of OPcache); 'no candidate cured the probe' means the code on "
                "disk crashes, not the cache" % path), model))
        if check.get("reset_kind") == "invalidate":
            steps.append(_reset_step(host, model, ctx, suspect_masters, force_full=True))
        else:
            steps.append(_diagnose_step(host, ctx, (
                "an emptied cache did not help: read the php-fpm log of the pool, the kernel and core dump lines "
                "(which module crashed), the page's code on disk and opcache.file_cache; another reset will not "
                "cure it")))
        return steps
    if verdict == "opcache_suspect":
        steps.append(_reset_step(host, model, ctx, suspect_masters))
        top = top_paths(stats.get("crash_paths") or {}, 1)
        if top:
            path = top[0]["path"]
            steps.extend(_hunt_step(host, ctx, stats, path, {}, (
                "finds the cached file that crashes %s and can blacklist it; run it while the page still fails "
                "(before the reset) to keep the evidence" % path), model))
    elif verdict == "misconfig":
        steps.append(ctx.module_step("inspect", host, DISCOVER_MODULE, {}, MISCONFIG_WHY))
    elif verdict == "capacity":
        steps.append(_diagnose_step(host, ctx, (
            "raise pm.max_children (or fix slow requests holding workers) in the pool named in the reasons, then "
            "reload php-fpm; re-run diagnose to confirm")))
    elif verdict == "timeouts":
        steps.append(_diagnose_step(host, ctx, (
            "read the pool slowlog for the scripts that run too long; align request_terminate_timeout with nginx "
            "fastcgi_read_timeout")))
    elif verdict == "unexplained":
        # The unread log first: the 502s may be the crashes it holds.
        if stats.get("not_read"):
            steps.append(_unread_step(host, ctx, stats["not_read"]))
        if untied_502s(stats):
            steps.append(_untied_step(host, ctx, stats, model))
    return steps
