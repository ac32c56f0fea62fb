# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find the cached PHP file that crashes php-fpm workers (logic of opcache_culprit).

Private to opcache-fleet. Standard library only, Python 3.8+.

The search is destructive: invalidating the guilty file cures the page, so it can be
done once. Everything that can be learned without invalidating is therefore learned
first, and candidates are invalidated in ranked order, one (or ``group_size``) at a
time, with a probe after each, stopping at the first probe that passes.

The ranking signal (ARCHITECTURE.md, "Observed on real php-fpm 8.2 + OPcache"):
OPcache sets ``last_used_timestamp`` of every script a request looks up to that
request's start second, and a request that crashes mid-way updates the files it
reached before the crash (the guilty one included: it is looked up, then run). So
after a failing probe made in second S, the scripts with ``last_used_timestamp == S``
are the crashing request's include set plus whatever other requests used in S.
Intersecting the sets of several failing probes made in different seconds removes
the others; scripts seen used in a second in which we made no probe were used by
other requests and are ranked after the rest of the include set.

Ranking key, first to last:
  1. in the include set (when probes were made), then not;
  2. within that, cached at another size than twins with the same bytes on disk (the same
     file in another release folder: culprit/twins.py), then not - the one signal left when
     the file on disk kept its mtime;
  3. not seen used by other requests, then seen;
  4. stale ``certain``, ``possible``, ``unknown``, then ``fresh`` (opcache_control);
  5. declares a class that another file of the same code root also declares;
  6. most recently modified first; the path breaks ties.

Entry points:

* :func:`hunt` / :class:`Hunt` (orchestration with injected probe, helper session, clock,
  sleep) live here;
* the probe request and its judging: culprit/probe.py; which pool serves the URL:
  culprit/routing.py; the ranking: culprit/ranking.py; :class:`HuntError`: culprit/errors.py.
"""
from __future__ import absolute_import, division, print_function

import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.errors import HuntError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.probe import classify_log_lines, classify_response
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.ranking import (
    collision_files,
    collision_roots_for,
    groups,
    include_set,
    probe_seconds,
    rank_candidates,
    used_elsewhere,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.culprit.twins import divergent_twins
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.status_summary import classify_scripts
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper import HelperError

__metaclass__ = type

RETRY_CAUSES = ("truncated", "ECONNRESET")


def _generation(answer):
    stats = ((answer or {}).get("status") or {}).get("opcache_statistics") or {}
    return (stats.get("start_time"), stats.get("last_restart_time"), answer.get("master_pid"))


def _public_probe(p, outcome, start):
    out = {"status": p.get("status"), "outcome": outcome, "seconds": p.get("seconds"),
           "at": round(p["t0"] - start, 4), "second": int(p["t0"])}
    if p.get("error"):
        out["error"] = p["error"]
        out["detail"] = p.get("detail")
    if p.get("log"):
        out["log"] = p["log"]
    return out


class Hunt(object):
    """One hunt on one master. All side effects go through injected callables:

    * ``probe()`` -> dict as :func:`http_probe` returns;
    * ``session.call(action, args)`` -> helper answers (opcache_helper.HelperSession);
    * ``log_watch`` (optional) with ``mark()`` / ``new_lines()``;
    * ``find_collisions(roots)`` (optional) -> class_collisions.find_collisions result;
    * ``clock()`` wall time (float seconds), ``sleep(seconds)``.
    """

    def __init__(self, probe, session, expected_status=200, ranking_probes=2, group_size=1,
                 max_probes=50, check_mode=False, check_mode_probes=True, log_watch=None,
                 find_collisions=None, collision_roots=None, script_filename=None, uri=None,
                 ranking_limit=50, on_invalidated=None, clock=time.time, sleep=time.sleep):
        self.probe_fn = probe
        self.session = session
        self.expected = expected_status
        self.ranking_probes = ranking_probes
        self.group_size = group_size
        self.max_probes = max_probes
        self.check_mode = check_mode
        self.check_mode_probes = check_mode_probes
        self.log_watch = log_watch
        self.find_collisions = find_collisions
        self.collision_roots = collision_roots
        self.script_filename = script_filename
        self.uri = uri
        self.ranking_limit = ranking_limit
        self.on_invalidated = on_invalidated
        self.first_answer = None
        self.clock = clock
        self.sleep = sleep
        self.probes = 0
        self.probe_log = []
        self.warnings = []
        self.invalidated = {}
        self.start = None

    # -- pieces
    def _call(self, action, args):
        """A helper call, retried once when the worker that took it died (a crashing request
        may take the worker down while the helper's connection is being accepted)."""
        try:
            return self.session.call(action, args)
        except HelperError as exc:
            if exc.cause not in RETRY_CAUSES:
                raise
            self.warnings.append("helper %s: %s; retried once" % (action, exc))
            self.sleep(0.05)
            return self.session.call(action, args)

    def _snapshot(self, generation=None):
        answer = self._call("status", {"scripts": True})
        if not answer.get("status"):
            raise HuntError("OPcache is disabled in pool %s (opcache.enable=0): no cached file can be the "
                            "culprit" % answer.get("pool"), "opcache.enable")
        if answer.get("scripts") is None:
            raise HuntError("OPcache gives no script list (a restart is pending): the poisoned entry may be "
                            "gone already; probe again later", "restart_pending")
        if generation is not None and _generation(answer) != generation:
            raise HuntError("the OPcache of master %s restarted during the hunt (start_time/last_restart_time "
                            "changed from %s to %s: a reload, a reset or php-fpm's emergency restart); the "
                            "cached entries under test are gone, so no culprit can be named"
                            % (answer.get("master_pid"), generation[:2], _generation(answer)[:2]),
                            "cache_restarted")
        return answer

    def _wait_for_fresh_second(self, not_before):
        """Sleep until a second >= not_before starts, and early enough in it that a short
        probe stays inside it."""
        while True:
            now = self.clock()
            sec = int(now)
            if sec >= not_before and now - sec < 0.7:
                return
            target = float(max(not_before, sec + 1)) + 0.01
            self.sleep(max(0.0, target - now))

    def _probe(self, check_log=False):
        if self.log_watch is not None and check_log:
            self.log_watch.mark()
        p = dict(self.probe_fn())
        self.probes += 1
        outcome = classify_response(p.get("status"), p.get("error"), self.expected)
        if outcome == "crash" and check_log and self.log_watch is not None and p.get("status") == 502:
            verdict = classify_log_lines(self.log_watch.new_lines(), self.uri)
            p["log"] = verdict or "no matching nginx error-log line"
            if verdict == "connect":
                outcome = "connect_error"
            elif verdict == "timeout":
                outcome = "timeout"
        p["outcome"] = outcome
        self.probe_log.append(p)
        return p

    def _fail_on_first(self, p):
        status = p.get("status")
        if p["outcome"] == "connect_error" and status is None:
            raise HuntError("the probe could not connect to nginx (%s): a connect error, not a crash; nothing "
                            "was changed" % (p.get("detail") or "refused"), "probe_connect")
        if p["outcome"] == "connect_error":
            raise HuntError("the probe answered HTTP 502 because nginx could not connect to php-fpm (nginx "
                            "error log: connect() failed): a connect error, not a crash; nothing was changed",
                            "upstream_connect")
        if p["outcome"] == "timeout":
            raise HuntError("the probe timed out (%s): a timeout, not a crash; nothing was changed"
                            % (p.get("detail") or "HTTP %s" % status), "probe_timeout")
        raise HuntError("the probe answered HTTP %s (expected %s): not a crash (502 or connection reset); "
                        "nothing was changed" % (status if status is not None else p.get("detail"),
                                                 self.expected), "probe_not_crash")

    # -- the whole thing
    def run(self):
        self.start = self.clock()
        result = {"culprit": None, "found": False, "crashing": None, "changed": False, "steps": [],
                  "ranking": [], "candidates_considered": 0, "include_set": None, "probes": 0}
        first = self._snapshot()
        self.first_answer = first
        generation = _generation(first)
        result["master_pid"] = first.get("master_pid")
        result["pool"] = first.get("pool")
        result["socket"] = first.get("socket")
        result["cached_scripts"] = len([s for s in first["scripts"] if s.get("cached")])
        since = int(first.get("time") or self.clock())
        snaps, answers, sets, probe_secs = [], [first], [], []
        may_probe = not self.check_mode or self.check_mode_probes
        n_rank = self.ranking_probes if may_probe else 0
        last_sec = None
        for i in range(n_rank):
            if i == 1:
                # a probe-free gap second between the first two probes: a snapshot at its end
                # shows which scripts other requests use
                gap = last_sec + 1
                now = self.clock()
                if now < gap + 0.9:
                    self.sleep(gap + 0.9 - now)
                if int(self.clock()) == gap:
                    snaps.append(self._snapshot(generation)["scripts"])
            self._wait_for_fresh_second(0 if last_sec is None else last_sec + (2 if i == 1 else 1))
            p = self._probe(check_log=True)
            result["probes"] = self.probes
            if i == 0 and p["outcome"] == "pass":
                result.update(self._finish(crashing=False, msg="the probe answers HTTP %s as expected: nothing "
                                           "crashes, so there is no culprit to find" % p["status"]))
                return result
            if p["outcome"] != "crash":
                if i == 0:
                    self._fail_on_first(p)
                result.update(self._finish(crashing=False, msg="the crash is not reproducible: probe 1 crashed, "
                                           "probe %d answered %s; no culprit can be named and nothing was "
                                           "changed" % (i + 1, p.get("status") or p.get("error"))))
                result["intermittent"] = True
                return result
            secs = probe_seconds(p)
            probe_secs.extend(secs)
            last_sec = secs[-1]
            snap = self._snapshot(generation)
            answers.append(snap)
            snaps.append(snap["scripts"])
            sets.append(include_set(snap["scripts"], secs))
        result["crashing"] = True if n_rank else None
        latest = answers[-1]
        include = None
        if sets:
            include = set.intersection(*sets)
            if not include:
                self.warnings.append("the failing probes share no script with the same last_used_timestamp "
                                     "(clock or request-time mismatch?): ranking without the include set")
                include = None
        shared = used_elsewhere(snaps, since, probe_secs) if snaps else set()
        classified = classify_scripts(latest["scripts"], latest.get("status"))
        coll = set()
        if self.find_collisions is not None:
            roots = self.collision_roots or collision_roots_for(sorted(include or []), self.script_filename)
            if roots:
                try:
                    found = self.find_collisions(roots)
                    coll = collision_files(found)
                    result["collision_roots"] = roots
                except (ValueError, OSError) as exc:
                    self.warnings.append("class collision scan of %s failed: %s" % (roots, exc))
        twins = divergent_twins(classified)
        ranking = rank_candidates(classified, include, shared, coll, twins)
        result["twin_suspects"] = sorted(twins)
        result["include_set"] = sorted(include) if include is not None else None
        result["used_elsewhere"] = sorted(shared)
        result["candidates_considered"] = len(ranking)
        result["ranking"] = ranking[:self.ranking_limit] if self.ranking_limit else ranking
        result["ranking_seconds"] = round(self.clock() - self.start, 4)
        if self.check_mode:
            msg = "check mode: ranking only, nothing invalidated"
            if not may_probe:
                msg += " (no probe made: check_mode_probes=false, so no include set)"
            result.update(self._finish(crashing=result["crashing"], msg=msg))
            return result
        if not ranking:
            result.update(self._finish(crashing=True, msg="no cached script to invalidate: the crash does not "
                                       "come from a cached file; no culprit"))
            return result
        self._invalidate_in_order(result, ranking, generation, probe_secs)
        return result

    def _invalidate_in_order(self, result, ranking, generation, probe_secs):
        paths = [r["path"] for r in ranking]
        for number, group in enumerate(groups(paths, self.group_size), 1):
            if self.probes >= self.max_probes:
                self.warnings.append("max_probes=%d reached after %d invalidation step(s)"
                                     % (self.max_probes, number - 1))
                break
            t_inv = self.clock()
            inv = self._call("invalidate", {"files": group, "force": True})
            inv_s = round(self.clock() - t_inv, 4)
            files = inv.get("files") or {}
            for path in group:
                self.invalidated[path] = int(inv.get("time") or t_inv)
            result["changed"] = True
            p = self._probe(check_log=False)
            step = {"step": number, "invalidated": group, "invalidate_seconds": inv_s,
                    "not_invalidated": [f for f in group if not (files.get(f) or {}).get("invalidated")],
                    "probe": _public_probe(p, p["outcome"], self.start)}
            result["steps"].append(step)
            result["probes"] = self.probes
            if p["outcome"] in ("pass", "other") and p.get("status") is not None:
                step["passed"] = p["outcome"] == "pass"
                culprit = group[0] if self.group_size == 1 else list(group)
                if p["outcome"] == "other":
                    self.warnings.append("after invalidating %s the page no longer crashes but answers HTTP %s "
                                         "(expected %s)" % (group, p["status"], self.expected))
                result["culprit"] = culprit
                result["found"] = True
                result.update(self._finish(crashing=True, msg="culprit: %s (cured by invalidating step %d; %d "
                                           "probe(s))" % (culprit, number, self.probes)))
                return
            step["passed"] = False
            if p["outcome"] != "crash":
                self.warnings.append("probe after step %d: %s (%s); going on" % (number, p["outcome"],
                                                                                 p.get("detail")))
                continue
            # still crashing: the cache must not have restarted under us
            self._snapshot(generation)
        result.update(self._finish(crashing=True, msg="no candidate cured the probe (%d invalidation step(s), "
                                   "%d probe(s)): no culprit is claimed" % (len(result["steps"]), self.probes)))

    def _finish(self, crashing, msg):
        if self.invalidated and self.on_invalidated is not None:
            try:
                self.on_invalidated(self.first_answer, dict(self.invalidated))
            except (IOError, OSError) as exc:
                self.warnings.append("cannot record the invalidations: %s" % exc)
        out = {"crashing": crashing, "msg": msg, "probes": self.probes,
               "probe_log": [_public_probe(p, p["outcome"], self.start) for p in self.probe_log],
               "seconds": round(self.clock() - self.start, 4)}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def hunt(probe, session, **kwargs):
    """Run one hunt (see :class:`Hunt`); returns the result dict."""
    return Hunt(probe, session, **kwargs).run()
