# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running php-fpm masters found in /proc, their ini files, and the whole discovery.

Private helper of opcache-fleet (standard library only, Python 3.8+). The pieces it
builds on: ``procfs`` (/proc), ``fpm_titles`` (process titles), ``systemd`` (units and
php-fpm argv), ``php_info`` (``php -v``/``-i``), ``ini/scan_order`` (ini read order).

Entry point for other modules: :func:`discover` returns the same dict as the
``fpm_discover`` module (``masters``, ``nginx``, ``fpm_error_logs``, ``warnings``).

What /proc tells about a php-fpm master, and what it hides:

* php-fpm rewrites its argv *and* environ area with the title
  ``php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)``: the original options
  (``-c``, ``-d``, ``-p``) and usually the environment (``PHP_INI_SCAN_DIR``, ``PHPRC``)
  are gone from ``/proc/PID/cmdline`` and ``/proc/PID/environ``. They are taken from
  what is left there first, then from the systemd unit (``ExecStart`` argv,
  ``Environment``, ``EnvironmentFiles``) named in ``/proc/PID/cgroup``.
* the binary is ``/proc/PID/exe``; PHP's own view of its ini files comes from running
  that binary with ``-i`` and the same ini options and environment.
* a title proves nothing (any user can ``exec -a`` one): only processes that
  ``trust.Vetting`` finds to be root's own, with root's binary and a root parent, are
  masters. The others are warned about and never run, read or taken an environment from.
"""
from __future__ import absolute_import, division, print_function

import os

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import (
    read_cmdline,
    read_environ,
    read_exe,
    read_cgroup_unit,
    same_mount_namespace,
    list_processes,
    read_bytes,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_config import (
    HostFS,
    effective_ini,
    load_fpm_config,
    opcache_directives,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_titles import master_title, pool_name
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.php_info import (
    guess_localstatedir,
    guess_php_prefix,
    ini_from_location,
    parse_php_info,
    parse_php_v_output,
    php_command,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.systemd import parse_fpm_argv, systemd_unit_info
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.scan_order import files_in_scan_order
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_config import parse_local_addresses
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_host import (
    describe_nginx,
    link_nginx_to_pools,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.trust import Vetting

__metaclass__ = type

WARN_POOL_OPCACHE = ("pool %s of master %s overrides %s per pool (%s); pools of one master "
                     "share one OPcache and per-pool opcache.* settings are tied to known "
                     "crashes (php-src GH-23355, GH-23288)")
WARN_POOL_EXTENSION = ("pool %s of master %s loads %s=%s per pool (%s); per-pool extension "
                       "loading is tied to known crashes (php-src GH-23355, GH-23288)")
WARN_NO_EMERGENCY = ("master %s (%s): emergency_restart_threshold is not set, so php-fpm will "
                     "not reload itself after repeated child crashes")


def find_fpm_masters(procs, vetting):
    """php-fpm masters among ``procs``: ``[{pid, title_config, title_truncated, argv, children}]``.

    A title makes a candidate; ``vetting`` (:class:`trust.Vetting`) decides whether it is
    root's own master. A rejected one is left out here and warned about by ``vetting``:
    nothing of it (binary, environment, config, children) is used afterwards.
    """
    masters = []
    for proc in procs:
        title = master_title(proc["argv"])
        if title is None or not vetting.trusted(proc["pid"], "php-fpm"):
            continue
        masters.append({
            "pid": proc["pid"],
            "title_config": title["config"],
            "title_truncated": title["truncated"],
            "argv": proc["argv"],
            "children": _pool_children(procs, proc["pid"]),
        })
    return masters


def _pool_children(procs, pid):
    """``{pool: [pid, ...]}`` of the pool workers among ``procs`` whose parent is ``pid``."""
    pools = {}
    for child in procs:
        if child["ppid"] == pid:
            name = pool_name(child["argv"])
            if name:
                pools.setdefault(name, []).append(child["pid"])
    return pools


# ---------------------------------------------------------------------------------------
# one master


def describe_master(run_command, fs, proc_root, found, overrides):
    """Everything about one master. ``found`` comes from :func:`find_fpm_masters` or an
    inventory entry ``{config, binary, pid}``; ``overrides`` holds php_ini / ini_scan_dir /
    error_log given by the inventory."""
    notes = []
    pid = found.get("pid")
    binary = found.get("binary")
    binary_deleted = False
    foreign = bool(pid) and not same_mount_namespace(proc_root, pid)
    if foreign:
        # A master in a container seen from the host: read its files through
        # /proc/PID/root and run nothing (its binary and units are not ours).
        fs = HostFS(os.path.join(proc_root, str(pid), "root"))
        run_command = _no_run
        notes.append("master %s runs in another mount namespace (a container): files read "
                     "through /proc/%s/root, binary not run; run fpm_discover inside the "
                     "container for its PHP version, ini files and logs" % (pid, pid))
    if pid and not binary:
        binary, binary_deleted = read_exe(proc_root, pid)
    unit = read_cgroup_unit(proc_root, pid) if pid else None
    env = read_environ(proc_root, pid) if pid else {}
    argv = found.get("argv") or []
    opts = parse_fpm_argv(argv) if argv and master_title(argv) is None else parse_fpm_argv([])

    unit_info = systemd_unit_info(run_command, unit, fs) if unit and not foreign else None
    if unit_info:
        if unit_info["exec_argv"]:
            unit_opts = parse_fpm_argv(unit_info["exec_argv"])
            for key in ("config", "prefix", "php_ini", "pid"):
                if not opts.get(key) and unit_opts.get(key):
                    opts[key] = unit_opts[key]
            opts["no_ini"] = opts["no_ini"] or unit_opts["no_ini"]
            for name, value in unit_opts["defines"].items():
                opts["defines"].setdefault(name, value)
            if not binary:
                binary = unit_info["exec_argv"][0]
        for key, value in unit_info["environment"].items():
            env.setdefault(key, value)

    config = found.get("config") or found.get("title_config") or opts.get("config")
    if found.get("title_truncated") and opts.get("config"):
        config = opts["config"]
    if found.get("title_truncated") and not opts.get("config"):
        notes.append("master %s: the config path in the process title looks truncated" % pid)

    php_env = dict((k, env[k]) for k in ("PHP_INI_SCAN_DIR", "PHPRC") if k in env)
    if overrides.get("ini_scan_dir") is not None:
        php_env["PHP_INI_SCAN_DIR"] = overrides["ini_scan_dir"]
    if overrides.get("php_ini"):
        opts["php_ini"] = overrides["php_ini"]
        opts["no_ini"] = False

    php_version = None
    info = None
    if binary and not binary_deleted:
        rc, out, _err = run_command(php_command(binary, opts, ["-v"]), environ_update=php_env)
        if rc == 0:
            parsed_version = parse_php_v_output(out)
            php_version = parsed_version["version"] if parsed_version else None
        rc, out, _err = run_command(php_command(binary, opts, ["-i"]), environ_update=php_env)
        if rc == 0 and out:
            info = parse_php_info(out)
            php_version = php_version or info["version"]
        elif not foreign:
            notes.append("master %s: '%s -i' failed (rc=%s)" % (pid, binary, rc))
    elif binary_deleted:
        notes.append("master %s: binary %s was replaced since the master started; "
                     "PHP version and ini files not confirmed" % (pid, binary))

    php_prefix = (info or {}).get("configure_prefix") or guess_php_prefix(binary)
    localstatedir = (info or {}).get("localstatedir") or guess_localstatedir(binary)
    if not config:
        config = (opts.get("prefix") + "/etc/php-fpm.conf") if opts.get("prefix") else None
    if not config:
        notes.append("master %s: no config path found" % pid)
        parsed = {"config": None, "config_files": [], "prefix": opts.get("prefix"), "error_log": None,
                  "error_log_kind": None, "pid": None, "emergency_restart_threshold": 0,
                  "emergency_restart_interval": 0, "process_control_timeout": 0, "pools": [],
                  "errors": [], "global": {}}
    else:
        parsed = load_fpm_config(config, fs=fs, prefix=opts.get("prefix"), env=env,
                                 php_prefix=php_prefix, localstatedir=localstatedir)

    # ini files in effect
    if opts.get("no_ini"):
        php_ini, scan_dir, files = None, php_env.get("PHP_INI_SCAN_DIR"), []
    elif info is not None:
        php_ini, scan_dir, files = info["php_ini"], info["scan_dir"], list(info["files"] or [])
    else:
        php_ini = ini_from_location(fs, opts.get("php_ini") or php_env.get("PHPRC"))
        scan_dir = php_env.get("PHP_INI_SCAN_DIR")
        files = []
        if not foreign:
            notes.append("master %s: ini files derived without running the binary" % pid)
    if overrides.get("php_ini"):
        php_ini = overrides["php_ini"]
    if overrides.get("ini_scan_dir") is not None:
        scan_dir = overrides["ini_scan_dir"]
    if info is None or overrides.get("ini_scan_dir") is not None:
        files = files_in_scan_order(None, scan_dir, fs=fs)
    all_files = ([php_ini] if php_ini else []) + [f for f in files if f != php_ini]
    values, extensions, ini_errors = effective_ini(fs, all_files, env)
    opcache = opcache_directives(values)
    for name, value in opts.get("defines", {}).items():
        if name.startswith("opcache."):
            opcache[name] = value

    error_log = overrides.get("error_log") or parsed["error_log"]
    pools = []
    for pool in parsed["pools"]:
        pool = dict(pool)
        pool["running_children"] = len(found.get("children", {}).get(pool["name"], []))
        ini_basedir = (values.get("open_basedir") or {}).get("value") or None
        pool["open_basedir_effective"] = pool["open_basedir"] or ini_basedir
        pool["nginx"] = []
        pools.append(pool)

    return {
        "master_pid": pid,
        "in_container": foreign,
        "binary": binary,
        "binary_deleted": binary_deleted,
        "php_version": php_version,
        "config": config,
        "config_files": parsed["config_files"],
        "prefix": parsed["prefix"],
        "php_prefix": php_prefix,
        "error_log": error_log,
        "error_log_kind": ("file" if overrides.get("error_log") else parsed["error_log_kind"]),
        # error_log = syslog: the identifier its lines carry (php-fpm's default)
        "syslog_ident": (parsed.get("global") or {}).get("syslog.ident") or "php-fpm",
        "pid_file": parsed["pid"],
        "emergency_restart_threshold": parsed["emergency_restart_threshold"],
        "emergency_restart_interval": parsed["emergency_restart_interval"],
        "process_control_timeout": parsed["process_control_timeout"],
        "systemd_unit": unit,
        "environment": php_env,
        "defines": dict(opts.get("defines", {})),
        "ini": {"php_ini": php_ini, "scan_dir": scan_dir, "files": all_files,
                "extensions": [e["value"] for e in extensions]},
        "opcache": opcache,
        "opcache_reported": dict((info or {}).get("opcache", {})),
        "pools": pools,
        "errors": parsed["errors"] + ini_errors,
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------
# whole discovery


def _no_run(args, environ_update=None):
    return 127, "", "commands disabled"


def find_executable(name):
    """Absolute path of an executable (``name`` absolute or searched in PATH + sbin dirs)."""
    if name.startswith("/"):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/local/sbin", "/usr/local/bin",
                                                           "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    for directory in dirs:
        if directory and os.path.isfile(os.path.join(directory, name)) \
                and os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    return None


def guard_runner(run_command, check_exists=True):
    """Wrap ``run_command`` so a missing program gives rc 127 instead of an exception
    (AnsibleModule.run_command would otherwise fail the whole module)."""

    def run(args, environ_update=None):
        if check_exists and not find_executable(args[0]):
            return 127, "", "%s: not found" % args[0]
        try:
            return run_command(args, environ_update=environ_update)
        except (OSError, IOError) as exc:
            return 127, "", str(exc)

    return run


def discover(run_command=None, proc_root="/proc", fs_root="/", overrides=None, stat=None):
    """Discover php-fpm masters, their pools and ini files, and nginx.

    ``run_command(argv, environ_update=None) -> (rc, stdout, stderr)`` runs a command
    (an argument list, never a shell string). ``overrides`` may hold the inventory
    overrides of the module: ``masters`` ([{config, binary, pid, php_ini,
    ini_scan_dir, error_log}]), ``nginx_error_logs``, ``fpm_error_logs``, ``php_ini``,
    ``ini_scan_dir``, ``nginx_binary``, ``nginx`` (false skips nginx). ``stat`` replaces
    ``os.stat`` in the ownership checks of :mod:`trust` (tests).
    Returns ``{masters, nginx, fpm_error_logs, warnings}``; processes that look like
    masters but are not root's own come first in ``warnings``.
    """
    overrides = overrides or {}
    fs = HostFS(fs_root)
    # Programs are only checked on the real host; a test tree has none of them.
    run_command = guard_runner(run_command or _no_run, check_exists=(fs.root == "/"))
    procs = list_processes(proc_root)
    vetting = Vetting(proc_root, stat)
    warnings = []

    if overrides.get("masters"):
        found = []
        running = find_fpm_masters(procs, vetting)
        for item in overrides["masters"]:
            entry = dict(item)
            pid = entry.get("pid")
            if not pid:
                # an inventory master that runs: take its pid (unit, children) from /proc
                same = [m for m in running if m["title_config"] == entry.get("config")]
                if len(same) == 1:
                    pid = entry["pid"] = same[0]["pid"]
            if pid:
                argv = read_cmdline(proc_root, pid)
                detected = find_fpm_masters([{"pid": pid, "ppid": None, "argv": argv}], vetting) if argv else []
                if detected:
                    entry["children"] = _pool_children(procs, pid)
                else:
                    # neither its binary, environment, unit nor children are used: the
                    # inventory's config and binary stand alone
                    entry["pid"] = None
                    warnings.append("masters: pid %s is not a running php-fpm master" % pid)
            found.append(entry)
    else:
        found = find_fpm_masters(procs, vetting)

    masters = []
    for item in found:
        per = {
            "php_ini": item.get("php_ini") or overrides.get("php_ini"),
            "ini_scan_dir": item.get("ini_scan_dir", overrides.get("ini_scan_dir")),
            "error_log": item.get("error_log"),
        }
        masters.append(describe_master(run_command, fs, proc_root, item, per))

    if overrides.get("nginx", True):
        nginx = describe_nginx(run_command, proc_root, procs, vetting, overrides.get("nginx_binary"), fs)
        local = set()
        try:
            fib = read_bytes(os.path.join(proc_root, "net", "fib_trie"), "r")
        except (IOError, OSError):
            fib = ""
        try:
            inet6 = read_bytes(os.path.join(proc_root, "net", "if_inet6"), "r")
        except (IOError, OSError):
            inet6 = ""
        local = parse_local_addresses(fib, inet6)
        link_nginx_to_pools(nginx, masters, local)
    else:
        nginx = {"present": False, "running": False, "error_logs": [], "servers": [],
                 "fastcgi_targets": [], "unmatched_targets": [], "errors": []}
    if overrides.get("nginx_error_logs"):
        nginx["error_logs"] = list(overrides["nginx_error_logs"])
    nginx.pop("_uses", None)

    if overrides.get("fpm_error_logs"):
        fpm_logs = list(overrides["fpm_error_logs"])
    else:
        fpm_logs = []
        for master in masters:
            if master["in_container"]:
                continue  # its paths are inside the container, not on this host
            if master["error_log_kind"] == "file" and master["error_log"] not in fpm_logs:
                fpm_logs.append(master["error_log"])

    for master in masters:
        label = master["config"] or "?"
        if not master["emergency_restart_threshold"]:
            warnings.append(WARN_NO_EMERGENCY % (master["master_pid"] or "-", label))
        for pool in master["pools"]:
            for name, item in sorted(pool["opcache_overrides"].items()):
                warnings.append(WARN_POOL_OPCACHE % (pool["name"], label, name,
                                                     "%s[%s] = %s" % (item["via"], name, item["value"] or '""')))
            for item in pool["extension_overrides"]:
                warnings.append(WARN_POOL_EXTENSION % (pool["name"], label, item["directive"],
                                                       item["value"], item["via"]))
        for text in master["errors"] + master["notes"]:
            warnings.append(text)
    if not masters:
        warnings.append("no running php-fpm master found")
    for text in nginx.get("errors", []):
        warnings.append("nginx: %s" % text)
    for entry in nginx.get("unmatched_targets", []):
        warnings.append("nginx: fastcgi_pass %s (server %s, location %s) reaches no discovered pool: %s"
                        % (entry["target"], entry["server_name"] or "-", entry["location"] or "-",
                           entry["reason"]))

    return {"masters": masters, "nginx": nginx, "fpm_error_logs": fpm_logs,
            "warnings": vetting.warnings + warnings}
