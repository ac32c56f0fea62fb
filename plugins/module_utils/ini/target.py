# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where opcache-fleet writes OPcache settings for a php-fpm master, and its PHP version.

Private to opcache-fleet. Standard library only, Python 3.8+. A small, self-contained
fallback for the modules ``opcache_ini`` and ``opcache_blacklist``; the fleet-wide
discovery lives in ``fpm_discover``.

THE RULE (documented in the modules): settings go to ``zz-opcache-fleet.ini`` in the
*last* ini scan directory of the php-fpm master. PHP reads ``php.ini`` first, then each
scan directory's ``*.ini`` files sorted by name, and the last value read wins, so a
``zz-`` file sorts after the distribution's ``10-opcache.ini`` / ``opcache.ini`` and
after ``20-*.ini`` extension files on every layout:

* Debian/Ubuntu ``/etc/php/8.2/fpm/conf.d/zz-opcache-fleet.ini``
* RHEL/CentOS ``/etc/php.d/zz-opcache-fleet.ini``
* Remi/SCL ``/etc/opt/remi/php82/php.d/zz-opcache-fleet.ini``,
  ``/etc/opt/rh/rh-php73/php.d/zz-opcache-fleet.ini``
* any master started with ``PHP_INI_SCAN_DIR`` (seen in ``/proc/PID/environ``): the
  last directory of that list.

A master without any scan directory gets its loaded ``php.ini``.

Discovery: masters are the processes whose command line reads
``php-fpm: master process (CONFIG)``; their binary is ``/proc/PID/exe``; the scan
directory and loaded php.ini come from ``BINARY -i`` run with the master's
``PHP_INI_SCAN_DIR``/``PHPRC``; the version from ``BINARY -v``.

``run`` arguments are callables ``run(argv, env_update) -> (rc, stdout, stderr)`` so tests
can replace them.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_titles import master_title
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.php_info import parse_php_info, parse_php_v_output
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import list_processes, read_environ, read_exe
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.trust import Vetting

try:  # the fleet-wide discovery, when present (read-only use)
    from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.masters import discover as _fleet_discover
except ImportError:  # pragma: no cover - fallback below
    _fleet_discover = None

__metaclass__ = type

OVERRIDE_NAME = "zz-opcache-fleet.ini"

_BINARY_GLOBS = ("/usr/sbin/php-fpm*", "/usr/local/sbin/php-fpm*", "/opt/remi/*/root/usr/sbin/php-fpm",
                 "/opt/rh/*/root/usr/sbin/php-fpm", "/usr/bin/php-fpm*")


class TargetError(Exception):
    """Discovery could not decide; the message says what to pass instead."""


def list_masters(proc="/proc", stat_fn=None):
    """Running php-fpm masters: [{pid, config, binary, env}] (env: PHP_INI_SCAN_DIR/PHPRC).

    A master whose title lost its closing parenthesis (truncated config path) is
    skipped: its config cannot be matched against ``fpm_config``. So is a process that only
    looks like a master (discovery/trust.py: not root's, or its binary not root's alone):
    its binary would be run as root with its environment.
    """
    vetting = Vetting(proc, stat_fn)
    masters = []
    for process in list_processes(proc):
        title = master_title(process["argv"])
        if title is None or title["truncated"] or not vetting.trusted(process["pid"], "php-fpm"):
            continue
        pid = process["pid"]
        binary, _deleted = read_exe(proc, pid)
        env = dict((key, value) for key, value in read_environ(proc, pid).items()
                   if key in ("PHP_INI_SCAN_DIR", "PHPRC"))
        masters.append({"pid": pid, "config": title["config"] or "", "binary": binary, "env": env})
    return masters


def find_binaries(stat_fn=None):
    """php-fpm binaries installed on the host (no process needed), only those root alone
    can change (discovery/trust.py): they are run as root."""
    vetting = Vetting(stat_fn=stat_fn)
    found = []
    for pattern in _BINARY_GLOBS:
        for path in sorted(glob.glob(pattern)):
            base = os.path.basename(path)
            if (re.match(r"^php-fpm[0-9.]*$", base) and os.access(path, os.X_OK) and path not in found
                    and vetting.executable_problem(path) is None):
                found.append(path)
    return found


def describe_binary(binary, run, env=None):
    """{binary, php_version, php_ini, scan_dirs} from ``-v`` and ``-i`` of a binary."""
    env = dict(env or {})
    rc, out, err = run([binary, "-v"], env)
    parsed = parse_php_v_output(out) if rc == 0 else None
    # the release number of a "PHP 8.2.7-1+deb12u1 (fpm-fcgi)" line
    version = parsed["release"] if parsed and parsed["sapi"] is not None else None
    if version is None:
        raise TargetError("php_version: could not read the PHP version from '%s -v' (rc=%s): %s"
                          % (binary, rc, (err or out or "").strip()[:200]))
    rc, out, err = run([binary, "-i"], env)
    info = parse_php_info(out if rc == 0 else "")
    if "PHP_INI_SCAN_DIR" in env and not info["scan_dirs"]:
        info["scan_dirs"] = [d for d in env["PHP_INI_SCAN_DIR"].split(os.pathsep) if d]
    return {"binary": binary, "php_version": version, "php_ini": info["php_ini"],
            "scan_dirs": info["scan_dirs"], "additional": info["additional"]}


def default_path(described):
    """Apply THE RULE to a described master/binary."""
    if described.get("scan_dirs"):
        return os.path.join(described["scan_dirs"][-1], OVERRIDE_NAME), "last scan dir + " + OVERRIDE_NAME
    if described.get("php_ini"):
        return described["php_ini"], "no scan dir: the loaded php.ini"
    raise TargetError("path: the php-fpm master %s has neither an ini scan directory nor a "
                      "loaded php.ini; give path" % described.get("binary"))


def discover_masters(run, proc="/proc"):
    """Masters described by ``proc_masters.discover`` (systemd Environment= included).

    Returns None when that discovery is unavailable or fails, so the local fallback runs.
    """
    if _fleet_discover is None:
        return None

    def run_command(argv, environ_update=None):
        return run(argv, environ_update or {})

    try:
        found = _fleet_discover(run_command, proc_root=proc, overrides={"nginx": False})
    except Exception:  # noqa: BLE001 - any failure: use the local fallback
        return None
    described = []
    for master in found.get("masters", []):
        ini = master.get("ini") or {}
        scan = ini.get("scan_dir") or ""
        # fpm_discover's ini.files is every file PHP parsed, php.ini first; "additional" is
        # what `php -i` calls "Additional .ini files parsed": the scan-dir files only.
        additional = [f for f in ini.get("files") or [] if f != ini.get("php_ini")]
        described.append({"pid": master.get("master_pid"), "config": master.get("config"),
                          "binary": master.get("binary"), "php_version": master.get("php_version"),
                          "php_ini": ini.get("php_ini"),
                          "scan_dirs": [d for d in scan.split(os.pathsep) if d],
                          "additional": additional})
    return described


def describe_all(run, fpm_config=None, proc="/proc", binaries=None):
    """Describe every running master (or, with none running, every installed binary)."""
    fleet = discover_masters(run, proc)
    if fleet:
        chosen = [d for d in fleet if not fpm_config or d["config"] == fpm_config]
        if fpm_config and not chosen:
            raise TargetError("fpm_config: no running php-fpm master uses %r (running: %s)" % (
                fpm_config, ", ".join(str(d["config"]) for d in fleet)))
        for item in chosen:
            if not item["php_version"]:
                raise TargetError("php_version: could not read the PHP version of master %s (%s)"
                                  % (item["pid"], item["binary"]))
        return chosen
    masters = list_masters(proc)
    described = []
    for master in masters:
        if fpm_config and master["config"] != fpm_config:
            continue
        if not master["binary"]:
            continue
        info = describe_binary(master["binary"], run, master["env"])
        info.update({"pid": master["pid"], "config": master["config"]})
        described.append(info)
    if fpm_config and not described:
        raise TargetError("fpm_config: no running php-fpm master uses %r (running: %s)" % (
            fpm_config, ", ".join(m["config"] for m in masters) or "none"))
    if not described and not masters:
        for binary in (binaries if binaries is not None else find_binaries()):
            info = describe_binary(binary, run)
            info.update({"pid": None, "config": None})
            described.append(info)
    return described


def for_path(described, path):
    """The described masters that read ``path`` (as php.ini or from a scan dir)."""
    directory = os.path.dirname(path).rstrip("/")
    return [d for d in described
            if d.get("php_ini") == path or directory in [s.rstrip("/") for s in d.get("scan_dirs") or []]]


def resolve(run, fpm_config=None, scan_dir=None, proc="/proc", binaries=None):
    """Pick the master (or binary) the module acts for.

    Returns {pid, config, binary, php_version, php_ini, scan_dirs, path, rule}.
    ``fpm_config`` selects one master by its config file when several run; ``scan_dir``
    selects the master that reads that directory (and is the directory used).
    """
    described = describe_all(run, fpm_config=fpm_config, proc=proc, binaries=binaries)
    if scan_dir:
        wanted = scan_dir.rstrip("/") or "/"
        matching = [d for d in described if wanted in [s.rstrip("/") for s in d["scan_dirs"]]]
        if matching:
            described = matching
        else:
            versions = set(d["php_version"] for d in described)
            described = [{"pid": None, "config": None, "binary": None,
                          "php_version": versions.pop() if len(versions) == 1 else None,
                          "php_ini": None, "scan_dirs": [wanted], "additional": []}]
    if not described:
        raise TargetError("path: no running php-fpm master and no php-fpm binary found; give path "
                          "and php_version")
    keys = set((tuple(d["scan_dirs"]), d.get("php_ini")) for d in described)
    if len(keys) > 1:
        raise TargetError("path: %d php-fpm masters with different ini files run here (%s); give "
                          "path, scan_dir or fpm_config to choose one" % (
                              len(described), "; ".join("%s -> %s" % (d.get("config") or d["binary"],
                                                                      ":".join(d["scan_dirs"]) or d.get("php_ini"))
                                                        for d in described)))
    chosen = dict(described[0])
    chosen["path"], chosen["rule"] = default_path(chosen)
    return chosen
