# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What opcache-fleet keeps on disk about a cache: the invalidation state file and the
purge of OPcache's file cache (opcache.file_cache).

Private to opcache-fleet. Standard library only, Python 3.8+. :func:`save_state` /
:func:`load_state` remember which files were invalidated in which cache generation
(:func:`state_key`); :func:`file_cache_plan` / :func:`purge_file_cache` delete a file
cache only when every entry in it looks like OPcache's.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError

__metaclass__ = type

STATE_FILE = "invalidated.json"
REFUSED_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
                "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib",
                "/var/tmp", "/var/www", "/var/log", "/var/cache", "/usr/local")


def state_key(answer):
    stats = ((answer or {}).get("status") or {}).get("opcache_statistics") or {}
    return "%s:%s" % (answer.get("master_pid"), stats.get("start_time"))


def load_state(base_dir, key, status):
    """Our last invalidation time per file for this cache generation (empty if none)."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError, ValueError):
        return {}
    entry = data.get(key) or {}
    stats = (status or {}).get("opcache_statistics") or {}
    if entry.get("last_restart_time") != stats.get("last_restart_time"):
        return {}
    return dict(entry.get("files") or {})


def save_state(base_dir, key, status, files_at):
    """Record invalidation times (keeps only live cache generations of this key)."""
    path = os.path.join(base_dir, STATE_FILE)
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError, ValueError):
        data = {}
    stats = (status or {}).get("opcache_statistics") or {}
    entry = data.get(key) or {}
    if entry.get("last_restart_time") != stats.get("last_restart_time"):
        entry = {"last_restart_time": stats.get("last_restart_time"), "files": {}}
    entry["files"].update(files_at)
    pid = key.split(":")[0]
    data = dict((k, v) for k, v in data.items() if k.split(":")[0] != pid)
    data[key] = entry
    if not os.path.isdir(base_dir):
        os.makedirs(base_dir, 0o711)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


# ----------------------------------------------------------------- file cache purge

def file_cache_plan(directory, root_prefix=""):
    """Files to delete for ``purge_file_cache``: ``*.bin`` files below the
    per-build system-id subdirectories (32 hex chars) of ``opcache.file_cache``.
    Refuses suspicious directories. Returns (real_dir, [files], [dirs])."""
    if not directory:
        return None, [], []
    norm = os.path.normpath(directory)
    if not os.path.isabs(norm) or norm in REFUSED_DIRS or norm.count("/") < 2 and norm in REFUSED_DIRS:
        raise ControlError("purge_file_cache: refusing opcache.file_cache=%r (a system directory)"
                           % directory, "opcache.file_cache")
    real = (root_prefix.rstrip("/") + norm) if root_prefix else norm
    if not os.path.isdir(real) or os.path.islink(real):
        raise ControlError("purge_file_cache: opcache.file_cache=%r is not a directory" % directory,
                           "opcache.file_cache")
    files, dirs = [], []
    for name in os.listdir(real):
        top = os.path.join(real, name)
        if not re.match(r"^[0-9a-f]{32}$", name) or os.path.islink(top) or not os.path.isdir(top):
            raise ControlError("purge_file_cache: %s holds %r, which is not an OPcache file-cache "
                               "entry; refusing to purge opcache.file_cache=%r" % (real, name, directory),
                               "opcache.file_cache")
        for cur, subdirs, names in os.walk(top, topdown=False):
            for n in names:
                p = os.path.join(cur, n)
                if not n.endswith(".bin") or os.path.islink(p):
                    raise ControlError("purge_file_cache: unexpected file %s in opcache.file_cache=%r; "
                                       "refusing" % (p, directory), "opcache.file_cache")
                files.append(p)
            dirs.append(cur)
    return real, files, dirs


def purge_file_cache(directory, root_prefix="", check_mode=False):
    real, files, dirs = file_cache_plan(directory, root_prefix)
    if not check_mode:
        for p in files:
            try:
                os.unlink(p)
            except OSError:
                pass
        for d in dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
    return {"directory": directory, "path": real, "files": len(files), "purged": not check_mode and bool(files)}
