# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""crash_storm: an Event-Driven Ansible event source that follows the nginx and php-fpm
logs (files or journald) of web hosts and emits one event when php-fpm worker crashes tied
to 502s reach a threshold within a window.

Arguments (docs/eda.md has the whole story):

  hosts:            list of hosts to watch, each a dict:
    host:           inventory name the event names (letters, digits, '.', '_', '-')
    via:            argv prefix that runs a command on the host and passes its standard
                    input through, e.g. [ssh, -T, web1] or [podman, exec, -i, lab-web1];
                    empty or absent: the host is this machine (files are read directly)
    nginx_logs:     nginx error logs (default [/var/log/nginx/error.log])
    fpm_logs:       php-fpm error logs (default [])
    journal_units:  systemd units whose journal holds php-fpm's log (error_log = syslog
                    or stderr under systemd), e.g. [php8.2-fpm.service]
    journal_identifiers: syslog identifiers of php-fpm in the journal, e.g. [php-fpm]
    kernel:         also follow the kernel log (journalctl -k) for segfaults (default false)
  threshold:        tied crashes that make a storm (default 3)
  window:           seconds the tied crashes must fall within (default 60)
  tie_seconds:      a crash is tied to a 502 that arrived this close to it (default 5)
  cooldown:         seconds a host stays quiet after it fired (default 600)
  reset_approved:   copied into the event; the rulebook resets only when it is true
                    (default false)
  poll_interval:    seconds between two reads of a local file (default 0.5)

The event:

  {"opcache_fleet": {"kind": "crash_storm", "host": "web1", "reset_approved": false,
                     "threshold": 3, "window_s": 60, "tie_seconds": 5,
                     "tied_crashes": 3, "crashes": 3, "gateway_502": 3,
                     "first_seen": "2026-12-06T11:20:01+00:00", "last_seen": ...,
                     "signals": {"SIGSEGV": 3}, "pools": ["www"],
                     "requests": ["GET /a/report.php HTTP/1.1"], "streams": [...]},
   "meta": {"hosts": "web1"}}

pools, requests and streams are text from the logs (at most 10 of each, 200 characters
each): data to show, never to put into a command.

Nothing from a log line reaches a command: commands are built from these arguments only,
as argument lists, and hosts are checked against the inventory-name pattern.
"""
import asyncio
import datetime
import logging
import os
import re
import signal
import sys
import time


def _import_collection():
    """ansible-rulebook runs this file with runpy, outside Ansible's collection loader:
    make the ansible_collections tree this file lives in importable."""
    try:
        import ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.storm  # noqa: F401
    except ImportError:
        # <root>/ansible_collections/phpfpm/opcache_fleet/extensions/eda/plugins/event_source/
        # this file: seven folders up is ansible_collections, eight is the root to import from.
        tree = os.path.abspath(__file__)
        for _level in range(7):
            tree = os.path.dirname(tree)
        if os.path.basename(tree) != "ansible_collections":
            raise
        sys.path.insert(0, os.path.dirname(tree))


_import_collection()

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.follow import (  # noqa: E402
    FileFollower, journal_message)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.evidence.storm import (  # noqa: E402
    StormSettings, StormWatch)

LOG = logging.getLogger("phpfpm.opcache_fleet.crash_storm")

_HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")
_HOST_KEYS = frozenset(("host", "via", "nginx_logs", "fpm_logs", "journal_units",
                        "journal_identifiers", "kernel"))
_TOP_KEYS = frozenset(("hosts", "threshold", "window", "tie_seconds", "cooldown",
                       "reset_approved", "poll_interval"))
_RESTART_MAX = 30.0

# Every follower command runs under this fixed script (its words are passed after it, never
# put into it). It ends the follower when its standard input closes: when the watcher goes
# away, even killed, `podman exec -i` and ssh close it, while a `tail -F` alone would run on
# inside the host for ever (podman's conmon keeps its output pipe open). It ends itself when
# the follower ends, so the watcher sees the end and starts it again.
FOLLOW_SCRIPT = """exec 3<&0
"$@" <&- 3<&- & c=$!
( while read -r _; do :; done; kill "$c" 2>/dev/null ) <&3 & w=$!
exec 3<&-
wait "$c"; rc=$?
kill "$w" 2>/dev/null
exit "$rc"
"""


class Stream:
    """One followed source of one host: what runs (argv) or is read (path)."""

    def __init__(self, host, kind, label, path=None, argv=None, journal=False):
        self.host, self.kind, self.label = host, kind, label
        self.path, self.argv, self.journal = path, argv, journal


def parse_args(args):
    """Check every argument before anything is followed; returns (settings, streams,
    reset_approved, poll_interval). A ValueError names the argument and the value."""
    if not isinstance(args, dict):
        raise ValueError("crash_storm: the source arguments must be a mapping")
    unknown = sorted(set(args) - _TOP_KEYS - {"eda_feedback_queue"})
    if unknown:
        raise ValueError("crash_storm: unknown argument(s) %s (known: %s)"
                         % (", ".join(unknown), ", ".join(sorted(_TOP_KEYS))))
    settings = StormSettings(
        threshold=args.get("threshold", 3), window=args.get("window", 60),
        tie_seconds=args.get("tie_seconds", 5), cooldown=args.get("cooldown", 600))
    approved = _boolean(args.get("reset_approved", False), "reset_approved")
    poll = args.get("poll_interval", 0.5)
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0 < poll <= 60:
        raise ValueError("crash_storm: poll_interval must be a number of seconds in (0, 60], got %r" % (poll,))
    hosts = args.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        raise ValueError("crash_storm: hosts must be a non-empty list of hosts to watch, got %r" % (hosts,))
    streams, names = [], set()
    for i, entry in enumerate(hosts):
        host_streams = _host_streams(entry, i)
        name = host_streams[0].host
        if name in names:
            raise ValueError("crash_storm: hosts[%d]: host %s is listed twice" % (i, name))
        names.add(name)
        streams.extend(host_streams)
    return settings, streams, approved, poll


def _boolean(value, name):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("crash_storm: %s must be true or false, got %r" % (name, value))


def _str_list(entry, key, where, default=()):
    value = entry.get(key, list(default))
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("crash_storm: %s.%s must be a list of non-empty strings, got %r" % (where, key, value))
    for v in value:
        if "\x00" in v or "\n" in v:
            raise ValueError("crash_storm: %s.%s: %r holds a NUL or newline" % (where, key, v))
    return value


def _host_streams(entry, i):
    where = "hosts[%d]" % i
    if not isinstance(entry, dict):
        raise ValueError("crash_storm: %s must be a mapping, got %r" % (where, entry))
    unknown = sorted(set(entry) - _HOST_KEYS)
    if unknown:
        raise ValueError("crash_storm: %s: unknown key(s) %s (known: %s)"
                         % (where, ", ".join(unknown), ", ".join(sorted(_HOST_KEYS))))
    host = entry.get("host")
    if not isinstance(host, str) or not _HOST_NAME.match(host):
        raise ValueError("crash_storm: %s.host must be an inventory host name (letters, digits, "
                         "'.', '_', '-'), got %r" % (where, host))
    where = "hosts[%d] (%s)" % (i, host)
    via = _str_list(entry, "via", where)
    files = [("nginx", p) for p in _str_list(entry, "nginx_logs", where, ["/var/log/nginx/error.log"])]
    files += [("php-fpm", p) for p in _str_list(entry, "fpm_logs", where)]
    for kind, path in files:
        if not path.startswith("/"):
            raise ValueError("crash_storm: %s: log path %r must be absolute" % (where, path))
    units = _str_list(entry, "journal_units", where)
    idents = _str_list(entry, "journal_identifiers", where)
    for v in units + idents:
        if v.startswith("-"):
            raise ValueError("crash_storm: %s: journal unit or identifier %r starts with '-'" % (where, v))
    kernel = _boolean(entry.get("kernel", False), where + ".kernel")
    streams = []
    run = via + ["sh", "-c", FOLLOW_SCRIPT, "crash_storm"]
    for kind, path in files:
        if via:
            # GNU and busybox tail: follow the name across rotation, from the end.
            streams.append(Stream(host, kind, path, argv=run + ["tail", "-F", "-n", "0", "--", path]))
        else:
            streams.append(Stream(host, kind, path, path=path))
    journal = run + ["journalctl", "--follow", "--lines=0", "--output=json", "--quiet"]
    for unit in units:
        streams.append(Stream(host, "php-fpm", "journal unit " + unit,
                              argv=journal + ["--unit=" + unit], journal=True))
    for ident in idents:
        streams.append(Stream(host, "php-fpm", "journal identifier " + ident,
                              argv=journal + ["--identifier=" + ident], journal=True))
    if kernel:
        streams.append(Stream(host, "kernel", "journal kernel", argv=journal + ["--dmesg"], journal=True))
    if not streams:
        raise ValueError("crash_storm: %s follows nothing: give nginx_logs, fpm_logs, journal_units, "
                         "journal_identifiers or kernel" % where)
    return streams


class Watcher:
    """The storm rules (StormWatch) over the lines of every stream, and the event out."""

    def __init__(self, queue, settings, approved):
        self.queue = queue
        self.watch = StormWatch(settings)
        self.settings = settings
        self.approved = approved

    async def line(self, stream, raw):
        if stream.journal:
            raw = journal_message(raw)
            if raw is None:
                return
        now = time.monotonic()
        counted, storm = self.watch.feed(stream.host, stream.kind, raw, now, wall=time.time(),
                                         stream=stream.label)
        if counted:
            tied, crashes, gateway = self.watch.tally(stream.host, now)
            LOG.info("crash_storm: %s %s: %s; tied crashes %d/%d in %ss (crashes %d, 502s %d)",
                     stream.host, stream.label, "+".join(counted), tied, self.settings.threshold,
                     _num(self.settings.window), crashes, gateway)
        if storm:
            await self.queue.put(self.event(stream.host, storm))

    def event(self, host, storm):
        for key in ("first_seen", "last_seen"):
            if storm[key] is not None:
                storm[key] = datetime.datetime.fromtimestamp(
                    storm[key], datetime.timezone.utc).isoformat(timespec="seconds")
        LOG.warning("crash_storm: storm on %s: %d tied crashes in %ss", host, storm["tied_crashes"],
                    _num(self.settings.window))
        event = {"kind": "crash_storm", "host": host, "reset_approved": self.approved,
                 "threshold": self.settings.threshold, "window_s": self.settings.window,
                 "tie_seconds": self.settings.tie_seconds}
        event.update(storm)
        return {"opcache_fleet": event, "meta": {"hosts": host}}


def _num(value):
    return int(value) if float(value).is_integer() else value


async def follow_file(stream, watcher, poll):
    follower = FileFollower(stream.path)
    said = False    # what was last said of the file: its problem, or None (following)
    try:
        while True:
            for raw in follower.poll():
                await watcher.line(stream, raw)
            if follower.problem != said:
                said = follower.problem
                if said:
                    LOG.warning("crash_storm: %s: %s: %s (crash evidence from it is not read until it is)",
                                stream.host, stream.path, said)
                else:
                    LOG.info("crash_storm: %s: following %s", stream.host, stream.path)
            await asyncio.sleep(poll)
    finally:
        follower.close()


async def follow_command(stream, watcher):
    """Run the stream's command, feed its lines; when it ends (a dropped connection, a
    restarted container), say so and start it again, waiting longer each time (1 s up to
    30 s). Lines written while it was down are not seen (it restarts from the end)."""
    delay = 1.0
    while True:
        started = time.monotonic()
        try:
            # stdin stays open and unwritten: FOLLOW_SCRIPT ends the follower when it closes.
            proc = await asyncio.create_subprocess_exec(
                *stream.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=1024 * 1024, start_new_session=True)
        except OSError as exc:
            LOG.warning("crash_storm: %s: %s: cannot start %s: %s", stream.host, stream.label, stream.argv[0], exc)
        else:
            LOG.info("crash_storm: %s: following %s", stream.host, stream.label)
            errors = asyncio.ensure_future(_stderr(stream, proc))
            try:
                await _stdout(stream, proc, watcher)
                rc = await proc.wait()
            finally:
                errors.cancel()
                await _stop(proc)
            LOG.warning("crash_storm: %s: %s: the follower exited with %s; crash evidence from it is not "
                        "read until it runs again", stream.host, stream.label, rc)
        if time.monotonic() - started > 60:
            delay = 1.0
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RESTART_MAX)


async def _stop(proc):
    """Close the follower's stdin (the host side ends it), then make sure it is gone: after
    5 s its whole process group is killed (here, on this machine). Never waits for ever: a
    process that keeps its output open is named and left."""
    if proc.returncode is not None:
        return
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 5)
        return
    except asyncio.TimeoutError:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except asyncio.TimeoutError:
        LOG.warning("crash_storm: follower pid %d did not end after SIGKILL", proc.pid)


async def _stdout(stream, proc, watcher):
    while True:
        try:
            raw = await proc.stdout.readline()
        except ValueError:
            # A line over the reader's limit: skip it (the rest up to the newline is dropped).
            continue
        if not raw:
            return
        await watcher.line(stream, raw.rstrip(b"\n"))


async def _stderr(stream, proc):
    said = 0
    while True:
        raw = await proc.stderr.readline()
        if not raw:
            return
        if said < 20:
            said += 1
            LOG.warning("crash_storm: %s: %s: %s", stream.host, stream.label,
                        raw.decode("utf-8", "replace").strip()[:300])


async def main(queue, args):
    settings, streams, approved, poll = parse_args(args)
    watcher = Watcher(queue, settings, approved)
    tasks = []
    for stream in streams:
        if stream.path is not None:
            tasks.append(asyncio.ensure_future(follow_file(stream, watcher, poll)))
        else:
            tasks.append(asyncio.ensure_future(follow_command(stream, watcher)))
    LOG.info("crash_storm: watching %d stream(s) of %d host(s); a storm is %d tied crashes in %ss",
             len(streams), len({s.host for s in streams}), settings.threshold, _num(settings.window))
    try:
        await asyncio.gather(*tasks)
    finally:
        # Stopped (ansible-rulebook shuts down) or one follower failed: stop every follower
        # and wait for their cleanup (each closes its command's stdin, the host side ends it).
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    # Try it by hand: python crash_storm.py HOST NGINX_LOG [FPM_LOG]   (local files)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    class _Print:
        async def put(self, event):
            print(event, flush=True)

    if len(sys.argv) < 3:
        sys.exit("usage: crash_storm.py HOST NGINX_LOG [FPM_LOG ...]")
    asyncio.run(main(_Print(), {"hosts": [{"host": sys.argv[1], "nginx_logs": [sys.argv[2]],
                                           "fpm_logs": sys.argv[3:]}]}))
