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
import stat

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.errors import ControlError
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache.helper_fs import DIR_FLAGS

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
#
# The file cache belongs to the pool user, who can swap any directory in it for a symlink
# at any moment (issue 11): listing by path and unlinking by path later deleted root's files
# elsewhere. So the tree is walked through directory descriptors only: every directory is
# opened relative to its parent with O_NOFOLLOW, entries are looked at without following
# links, and files are unlinked by name relative to the descriptor of the directory that was
# listed. A swapped-in symlink is then only ever a name in a directory of the pool user's:
# skipped, never followed. (Dropping to the pool user's uid would need a fork and the uid;
# the descriptors give the same guarantee in-process.)

SYSTEM_ID = re.compile(r"^[0-9a-f]{32}$")


def _refuse(msg, directory):
    return ControlError("purge_file_cache: %s; refusing to purge opcache.file_cache=%r" % (msg, directory),
                        "opcache.file_cache")


def _open_file_cache(real, directory):
    """Descriptor of the file-cache directory, no component of it followed if a symlink."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    path = ""
    try:
        for name in [c for c in real.split("/") if c]:
            path += "/" + name
            try:
                nfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if path.startswith("/proc/") and path.count("/") == 3 and name == "root":
                    # /proc/<pid>/root: the kernel's link into the master's mount namespace
                    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                else:
                    raise ControlError("purge_file_cache: opcache.file_cache=%r is not a directory (%s: %s, "
                                       "symlinks are not followed)" % (directory, path, exc.strerror),
                                       "opcache.file_cache")
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _scan(fd, path, directory, strict, on_file, on_dir, depth=0):
    """Walk a directory descriptor depth first: ``on_file(dir_fd, name, path)`` for regular
    ``*.bin`` files, ``on_dir(parent_fd, name, path)`` after a directory's content. With
    ``strict`` anything else raises; otherwise it is skipped (left alone)."""
    for entry in sorted(os.scandir(fd), key=lambda e: e.name):
        name = entry.name
        p = path.rstrip("/") + "/" + name
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if depth == 0 and not (SYSTEM_ID.match(name) and stat.S_ISDIR(st.st_mode)):
            if strict:
                raise _refuse("%s holds %r, which is not an OPcache file-cache entry" % (path, name), directory)
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError:
                if strict:
                    raise _refuse("%s changed while it was read" % p, directory)
                continue  # swapped for a symlink since the stat: not followed
            try:
                _scan(sub, p, directory, strict, on_file, on_dir, depth + 1)
            finally:
                os.close(sub)
            on_dir(fd, name, p)
        elif stat.S_ISREG(st.st_mode) and name.endswith(".bin") and depth > 0:
            on_file(fd, name, p)
        elif strict:
            raise _refuse("unexpected file %s (only regular *.bin files belong there)" % p, directory)


def _checked_dir(directory, root_prefix):
    norm = os.path.normpath(directory)
    if not os.path.isabs(norm) or norm in REFUSED_DIRS:
        raise ControlError("purge_file_cache: refusing opcache.file_cache=%r (a system directory)"
                           % directory, "opcache.file_cache")
    return (root_prefix.rstrip("/") + norm) if root_prefix else norm


def master_root(pid, proc="/proc"):
    """(prefix, lasting) for the master's files: "" when it shares this process's root (the
    plain path, still valid after the master stopped), else its /proc/<pid>/root (valid only
    while it runs)."""
    if not pid:
        return "", True
    root = os.path.join(proc, str(pid), "root")
    try:
        mine, its = os.stat("/"), os.stat(root)
    except OSError:
        return "", True
    if (mine.st_dev, mine.st_ino) == (its.st_dev, its.st_ino):
        return "", True
    return root, False


def file_cache_plan(directory, root_prefix=""):
    """Files to delete for ``purge_file_cache``: regular ``*.bin`` files below the
    per-build system-id subdirectories (32 hex chars) of ``opcache.file_cache``.
    Refuses system directories and anything else inside. Returns (real_dir, [files], [dirs])."""
    if not directory:
        return None, [], []
    real = _checked_dir(directory, root_prefix)
    files, dirs = [], []
    fd = _open_file_cache(real, directory)
    try:
        _scan(fd, real, directory, True, lambda d, n, p: files.append(p), lambda d, n, p: dirs.append(p))
    finally:
        os.close(fd)
    return real, files, dirs


def purge_file_cache(directory, root_prefix="", check_mode=False):
    """Delete what :func:`file_cache_plan` found, walking again through descriptors: what
    changed since (a symlink swapped in, a new entry) is left alone."""
    real, files, dummy = file_cache_plan(directory, root_prefix)
    removed = []
    if not check_mode and real:
        def unlink(dir_fd, name, path):
            try:
                os.unlink(name, dir_fd=dir_fd)
                removed.append(path)
            except OSError:
                pass

        def rmdir(dir_fd, name, path):
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except OSError:
                pass
        fd = _open_file_cache(real, directory)
        try:
            _scan(fd, real, directory, False, unlink, rmdir)
        finally:
            os.close(fd)
    return {"directory": directory, "path": real, "files": len(files), "removed": len(removed),
            "purged": not check_mode and bool(removed)}
