# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nginx on a host: its running master, ``nginx -V``/``-T``, and which php-fpm pool each
``fastcgi_pass`` reaches.

Private helper of opcache-fleet (standard library only, Python 3.8+). The config
parser is ``nginx_config``; this file decides which binary to ask. Only a master that
``trust.Vetting`` accepts is used (its binary, ``-c`` and ``-p``); without one, the
inventory's ``nginx_binary`` or an installed binary in root-only directories.
"""
from __future__ import absolute_import, division, print_function

import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.addresses import is_loopback, listen_matches, parse_listen
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.fpm_config import HostFS
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.nginx_config import (
    DEFAULT_ERROR_LOG,
    DEFAULT_PREFIX,
    NginxParseError,
    analyse,
    error_log_paths,
    load_dump,
    parse_version_output,
    resolve_targets,
)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.discovery.procfs import read_exe, same_mount_namespace

__metaclass__ = type

NGINX_MASTER_RE = re.compile(r"^nginx:\s*master process\s*(.*)$")
CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def find_nginx_master(procs, proc_root, vetting):
    """The nginx master of this mount namespace (nginx in containers is not ours) that
    ``vetting`` trusts; a title alone is not enough (its -c/-p and binary would be run).
    Every process with an nginx master's title is vetted, also after the trusted one is
    found, so that an untrusted one is always named in the warnings."""
    found = None
    for proc in procs:
        m = NGINX_MASTER_RE.match(" ".join(proc["argv"]))
        if m and same_mount_namespace(proc_root, proc["pid"]) and vetting.trusted(proc["pid"], "nginx"):
            found = found or {"pid": proc["pid"], "args": m.group(1).split()}
    return found


def describe_nginx(run_command, proc_root, procs, vetting, nginx_binary=None, fs=None):
    """nginx as its trusted running master, the inventory's ``nginx_binary`` or an
    installed binary in root's directories says it is: ``nginx -V`` and ``nginx -T``."""
    result = {"present": False, "running": False, "master_pid": None, "binary": None,
              "version": None, "config": None, "config_files": [], "error_logs": [],
              "error_log_entries": [], "servers": [], "upstreams": {},
              "fastcgi_targets": [], "unmatched_targets": [], "errors": []}
    master = find_nginx_master(procs, proc_root, vetting)
    args = []
    if master:
        result["running"] = True
        result["master_pid"] = master["pid"]
        exe, _deleted = read_exe(proc_root, master["pid"])
        args = master["args"]
        nginx_binary = nginx_binary or exe or (args[0] if args else None)
    if not nginx_binary:
        for candidate in CANDIDATES:
            if not (fs or HostFS()).is_file(candidate):
                continue
            # run as root: only a binary nobody but root can have put or changed there
            problem = vetting.executable_problem(candidate)
            if problem:
                result["errors"].append("%s is not run: %s" % (candidate, problem))
                continue
            nginx_binary = candidate
            break
    if not nginx_binary:
        return result
    result["present"] = True
    result["binary"] = nginx_binary
    extra = []
    for flag in ("-c", "-p"):
        if flag in args and args.index(flag) + 1 < len(args):
            extra.extend([flag, args[args.index(flag) + 1]])

    rc, out, err = run_command([nginx_binary, "-V"])
    vinfo = parse_version_output((err or "") + (out or "")) if rc == 0 else parse_version_output("")
    result["version"] = vinfo["version"]
    prefix = vinfo["prefix"] or DEFAULT_PREFIX
    if "-p" in extra:
        prefix = extra[extra.index("-p") + 1]
    conf_path = vinfo["conf_path"]
    if "-c" in extra:
        conf_path = extra[extra.index("-c") + 1]
    if conf_path and not conf_path.startswith("/"):
        conf_path = os.path.join(prefix, conf_path)
    default_log = vinfo["error_log_path"] or DEFAULT_ERROR_LOG
    if not default_log.startswith("/") and default_log != "stderr":
        default_log = os.path.join(prefix, default_log)

    rc, out, err = run_command([nginx_binary, "-T"] + extra)
    if rc != 0 or not out:
        result["errors"].append("'%s -T' failed (rc=%s): %s" % (nginx_binary, rc, (err or "").strip()[-500:]))
        return result
    try:
        tree, files, errors = load_dump(out, conf_path=conf_path)
    except NginxParseError as exc:
        result["errors"].append(str(exc))
        return result
    analysis = analyse(tree, prefix=prefix, default_error_log=default_log)
    result["config"] = conf_path or (files[0] if files else None)
    result["config_files"] = files
    result["errors"].extend(errors)
    result["error_log_entries"] = analysis["error_log_entries"]
    result["error_logs"] = error_log_paths(analysis["error_log_entries"])
    result["servers"] = analysis["servers"]
    result["upstreams"] = analysis["upstreams"]
    result["_uses"] = resolve_targets(analysis)
    return result


def link_nginx_to_pools(nginx, masters, local_addresses=()):
    """Fill ``nginx.fastcgi_targets`` / ``unmatched_targets`` and each pool's ``nginx``."""
    uses = nginx.pop("_uses", [])
    for use in uses:
        taddr = use["address"]
        match = None
        for master in masters:
            for pool in master["pools"]:
                if listen_matches(parse_listen(pool["listen"]), taddr, local_addresses):
                    match = (master, pool)
                    break
            if match:
                break
        entry = {"target": use["target"], "via": use["via"], "server_name": use["server_name"],
                 "root": use["root"], "location": use["location"],
                 "script_filename": use.get("script_filename"), "root_resolved": _resolved(use["root"]),
                 "server_names": use.get("server_names") or [], "listen": use.get("listen") or [],
                 "endpoint": use.get("endpoint")}
        if match:
            master, pool = match
            entry.update({"pool": pool["name"], "master_pid": master["master_pid"],
                          "config": master["config"]})
            nginx["fastcgi_targets"].append(entry)
            pool["nginx"].append({"server_name": use["server_name"], "root": use["root"],
                                  "location": use["location"]})
        else:
            if taddr[0] == "variable":
                entry["reason"] = "address uses a variable"
            elif taddr[0] == "name":
                entry["reason"] = "no upstream of that name and no port"
            else:
                entry["reason"] = "no discovered pool listens there"
                # On this host (a unix socket, loopback, an address of its own): a php-fpm that
                # should be here and is not. Elsewhere: a remote backend, not ours to judge.
                entry["local"] = taddr[0] == "unix" or is_loopback(taddr[1]) or \
                    taddr[1] in local_addresses
            nginx["unmatched_targets"].append(entry)


def _resolved(root):
    """The root with its symlinks resolved (a deploy's ``current`` -> ``releases/<x>``), or None
    when there is none or it does not resolve to a directory."""
    if not root or not root.startswith("/"):
        return None
    real = os.path.realpath(root)
    return real if os.path.isdir(real) else None
