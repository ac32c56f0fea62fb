# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: opcache-fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find PHP classes, interfaces, traits and enums declared in more than one file.

PHP looks classes up by their fully-qualified name folded to lower case (ASCII
only). Two files that declare the same name are a collision: whichever is loaded
first wins and the other fails ("Cannot declare class ..."), or, with an
autoloader and OPcache, a request can run code from the wrong file.

Scopes: each code root is its own scope by default (``scope="per_root"``), so
the same class in ``/srv/app/releases/a`` and ``/srv/app/releases/b`` is not a
collision when both releases are given as roots: one request never loads two
releases. ``scope="global"`` puts all roots in one scope. A root that *contains*
several release folders is still one scope; collisions whose files sit in
different release folders are flagged ``across_releases`` and a warning says to
pass each release as its own root.

Public API:

- ``find_collisions(roots, **options)`` -> dict (see its docstring)
- ``walk_php_files(root, ...)`` -> iterator of (path, inode key)
- ``scan_file(path, ...)`` -> (declarations as tuples, skip reason or None)
- ``normalize_extensions(values)``, ``is_vendor_path(path)``, ``release_of(path)``

Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

import fnmatch
import os
import stat
import time

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.tokens import scan_declarations

__metaclass__ = type

SCOPES = ("per_root", "global")
DEFAULT_EXTENSIONS = ("php",)
DEFAULT_EXCLUDE = (".git", ".svn", ".hg", "node_modules")
DEFAULT_MAX_FILE_SIZE = 16 * 1024 * 1024
MAX_SKIPPED_LISTED = 200
# Bytes that every declaration needs (the source is lower-cased first).
_KEYWORDS = (b"class", b"interface", b"trait", b"enum")
# Below this many files a process pool costs more than it saves.
_POOL_MIN_FILES = 400
_BATCH = 128


class Skipped:
    """Reasons for files_skipped."""

    ROOT_MISSING = "root_missing"
    ROOT_NOT_DIRECTORY = "root_not_directory"
    DIR_UNREADABLE = "directory_unreadable"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    SYMLINK = "symlink_not_followed"
    SYMLINK_LOOP = "symlink_loop"
    SAME_FILE = "same_file"
    MAX_FILES = "max_files_reached"
    MAX_SECONDS = "max_seconds_reached"


def normalize_extensions(values):
    """('php', '.INC') -> ('.php', '.inc'). Raises ValueError naming the bad value."""
    out = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError("extensions: %r is not a string" % (value,))
        ext = value.strip().lower()
        if ext.startswith("."):
            ext = ext[1:]
        if not ext or "/" in ext or os.sep in ext or "*" in ext:
            raise ValueError("extensions: %r is not a file name extension" % (value,))
        if "." + ext not in out:
            out.append("." + ext)
    if not out:
        raise ValueError("extensions: at least one extension is needed")
    return tuple(out)


def is_vendor_path(path):
    """True when a segment of the path is ``vendor`` (Composer's install dir)."""
    return "vendor" in path.split(os.sep)


def release_of(path):
    """'/srv/app/releases/20240101/x.php' -> '/srv/app/releases/20240101', else None."""
    parts = path.split(os.sep)
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "releases" and i + 1 < len(parts) - 1:
            return os.sep.join(parts[:i + 2])
    return None


def _excluded(relpath, name, patterns):
    for pat in patterns:
        if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(relpath, pat):
            return True
    return False


def walk_php_files(root, extensions=(".php",), exclude=DEFAULT_EXCLUDE,
                   follow_symlinks=False, skipped=None, releases=None, should_stop=None):
    """Yield (path, (st_dev, st_ino)) of the files under root with one of the extensions.

    ``extensions``: normalized, see ``normalize_extensions``.
    ``exclude``: fnmatch globs matched against the entry name and against its path
    relative to root (``/`` separated); a matching directory is not entered.
    ``follow_symlinks``: enter symlinked directories and read symlinked files;
    directory loops are detected by (device, inode) and skipped.
    ``skipped``: a list that receives {"path", "reason"} dicts.
    ``releases``: a set that receives the paths of ``releases/*`` directories met.
    The root itself is always followed when it is a symlink (``/srv/app/current``).
    ``should_stop``: called before each directory is read; when it returns true the
    walk ends there (a time budget: a tree without PHP files yields nothing to count).
    """
    if skipped is None:
        skipped = []
    root = os.path.abspath(root)
    try:
        st = os.stat(root)
    except OSError:
        skipped.append({"path": root, "reason": Skipped.ROOT_MISSING})
        return
    if not stat.S_ISDIR(st.st_mode):
        skipped.append({"path": root, "reason": Skipped.ROOT_NOT_DIRECTORY})
        return
    visited = {(st.st_dev, st.st_ino)}
    stack = [(root, "")]
    while stack:
        dirpath, reldir = stack.pop()
        if should_stop is not None and should_stop():
            return
        try:
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append({"path": dirpath, "reason": Skipped.DIR_UNREADABLE,
                            "detail": exc.strerror or str(exc)})
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            rel = reldir + "/" + name if reldir else name
            if exclude and _excluded(rel, name, exclude):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
            except OSError:
                continue
            if is_dir:
                if is_link:
                    try:
                        dst = os.stat(entry.path)
                    except OSError:
                        continue
                    key = (dst.st_dev, dst.st_ino)
                else:
                    dst = entry.stat(follow_symlinks=False)
                    key = (dst.st_dev, dst.st_ino)
                if key in visited:
                    skipped.append({"path": entry.path, "reason": Skipped.SYMLINK_LOOP})
                    continue
                visited.add(key)
                if releases is not None and os.path.basename(dirpath) == "releases":
                    releases.add(entry.path)
                subdirs.append((entry.path, rel))
                continue
            ext = os.path.splitext(name)[1].lower()
            if ext not in extensions:
                continue
            if is_link and not follow_symlinks:
                if entry.is_file(follow_symlinks=True):
                    skipped.append({"path": entry.path, "reason": Skipped.SYMLINK})
                continue
            try:
                fst = entry.stat(follow_symlinks=True)
            except OSError as exc:
                skipped.append({"path": entry.path, "reason": Skipped.UNREADABLE,
                                "detail": exc.strerror or str(exc)})
                continue
            if not stat.S_ISREG(fst.st_mode):
                continue
            yield entry.path, (fst.st_dev, fst.st_ino)
        # depth-first, in name order
        stack.extend(reversed(subdirs))


def scan_file(path, short_open_tag=False, php8=True, max_file_size=DEFAULT_MAX_FILE_SIZE):
    """Read one file and find its declarations.

    Returns (declarations, skip): declarations is a list of
    (kind, fqn, key, line, conditional) tuples; skip is None, or a
    (reason, detail) tuple when the file could not be scanned.
    """
    try:
        with open(path, "rb") as fh:
            if max_file_size:
                data = fh.read(max_file_size + 1)
                if len(data) > max_file_size:
                    return [], (Skipped.TOO_LARGE, "larger than %d bytes" % max_file_size)
            else:
                data = fh.read()
    except OSError as exc:
        return [], (Skipped.UNREADABLE, exc.strerror or str(exc))
    low = data.lower()
    for kw in _KEYWORDS:
        if kw in low:
            break
    else:
        return [], None
    result = scan_declarations(data, short_open_tag=short_open_tag, php8=php8)
    return [(d.kind, d.fqn, d.key, d.line, d.conditional) for d in result.declarations], None


def _scan_batch(args):
    paths, short_open_tag, php8, max_file_size = args
    return [(path,) + scan_file(path, short_open_tag, php8, max_file_size) for path in paths]


def _default_workers():
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(count, 8))


def _scan_all(paths, workers, short_open_tag, php8, max_file_size):
    """Yield (path, declarations, skip) for every path, in a process pool if worthwhile."""
    jobs = [(paths[i:i + _BATCH], short_open_tag, php8, max_file_size)
            for i in range(0, len(paths), _BATCH)]
    if workers is None or workers <= 0:
        workers = _default_workers()
    pool = None
    if workers > 1 and len(paths) >= _POOL_MIN_FILES:
        try:
            import multiprocessing
            # fork: the module's code is already loaded; spawn/forkserver would have
            # to re-import it from the AnsiballZ payload.
            pool = multiprocessing.get_context("fork").Pool(min(workers, len(jobs)))
        except (ImportError, OSError, ValueError):
            pool = None
    if pool is None:
        for job in jobs:
            yield from _scan_batch(job)
        return
    try:
        for batch in pool.imap_unordered(_scan_batch, jobs):
            yield from batch
    finally:
        pool.terminate()
        pool.join()


def find_collisions(roots, extensions=DEFAULT_EXTENSIONS, exclude=DEFAULT_EXCLUDE,
                    max_files=0, follow_symlinks=False, scope="per_root", workers=0,
                    short_open_tag=False, php8=True, max_file_size=DEFAULT_MAX_FILE_SIZE,
                    max_seconds=0, clock=time.monotonic):
    """Scan code roots and report names declared in more than one file of a scope.

    ``roots``: absolute directory paths. ``extensions``: file name extensions
    (``php``, ``.inc``). ``exclude``: fnmatch globs (see ``walk_php_files``).
    ``max_files``: stop after this many files (0: no limit). ``scope``:
    ``per_root`` (a collision is within one root) or ``global``. ``workers``:
    processes (0: one per CPU, at most 8; 1: no pool). ``short_open_tag``,
    ``php8``: see ``tokens.scan_declarations``. ``max_file_size``: bytes;
    bigger files are skipped (0: no limit). ``max_seconds``: the time budget of
    listing and reading files (0: no limit); when it runs out, the files not read
    yet are left out and the result is partial (``truncated``, ``truncated_by``).

    Raises ValueError (message names the argument) on bad arguments.

    Returns a dict::

        collisions: [{name, key, kinds, root, across_releases, all_vendor,
                      files: [{path, line, kind, vendor, conditional}]}]
        files_scanned, declarations, files_skipped: [{path, reason[, detail]}]
        (at most 200 listed), files_skipped_count, files_skipped_by_reason,
        truncated (a budget ran out: the result is partial), truncated_by
        (max_files, max_seconds or None), files_not_read (listed, not read: the
        time budget), roots: [{path, files, declarations, collisions}], warnings,
        elapsed_s
    """
    started = clock()
    if isinstance(roots, str):
        roots = [roots]
    if not roots:
        raise ValueError("roots: at least one directory is needed")
    for root in roots:
        if not isinstance(root, str) or not os.path.isabs(root):
            raise ValueError("roots: %r is not an absolute path" % (root,))
    if scope not in SCOPES:
        raise ValueError("scope: %r is not one of %s" % (scope, ", ".join(SCOPES)))
    if max_files is None or max_files < 0:
        raise ValueError("max_files: %r is not a number >= 0" % (max_files,))
    if max_file_size is None or max_file_size < 0:
        raise ValueError("max_file_size: %r is not a number >= 0" % (max_file_size,))
    if max_seconds is None or max_seconds < 0:
        raise ValueError("max_seconds: %r is not a number >= 0" % (max_seconds,))
    deadline = started + max_seconds if max_seconds else None
    truncated_by = None

    def out_of_time():
        if deadline is not None and clock() > deadline:
            out_of_time.hit = True
        return out_of_time.hit
    out_of_time.hit = False
    exts = normalize_extensions(extensions)
    exclude = tuple(exclude or ())

    skipped = []
    warnings = []
    releases = set()
    # scope root -> list of (path, inode); a file is scanned once even when
    # overlapping roots list it several times.
    scopes = []
    unique = {}          # inode -> first path
    truncated = False
    roots = [os.path.normpath(r) for r in roots]
    for root in roots:
        if truncated:
            break
        scope_files = []
        seen_in_scope = {}
        if scope == "global" and scopes:
            scope_files, seen_in_scope = scopes[0][1], scopes[0][2]
        for path, inode in walk_php_files(root, exts, exclude, follow_symlinks,
                                          skipped, releases, should_stop=out_of_time):
            if inode in seen_in_scope:
                skipped.append({"path": path, "reason": Skipped.SAME_FILE,
                                "detail": seen_in_scope[inode]})
                continue
            if inode not in unique:
                if max_files and len(unique) >= max_files:
                    truncated, truncated_by = True, "max_files"
                    skipped.append({"path": root, "reason": Skipped.MAX_FILES,
                                    "detail": "max_files=%d" % max_files})
                    break
                unique[inode] = path
            seen_in_scope[inode] = path
            scope_files.append((path, inode))
        if out_of_time.hit:
            truncated, truncated_by = True, "max_seconds"
            skipped.append({"path": root, "reason": Skipped.MAX_SECONDS,
                            "detail": "max_seconds=%s while listing files" % max_seconds})
        if scope == "global" and scopes:
            continue
        scopes.append((root, scope_files, seen_in_scope))

    results = {}         # inode -> list of declaration tuples
    paths = list(unique.values())
    path_inode = {p: i for i, p in unique.items()}
    reading = _scan_all(paths, workers, short_open_tag, php8, max_file_size)
    try:
        for path, decls, skip in reading:
            if skip is not None:
                skipped.append({"path": path, "reason": skip[0], "detail": skip[1]})
            results[path_inode[path]] = decls
            if deadline is not None and clock() > deadline and len(results) < len(paths):
                truncated, truncated_by = True, "max_seconds"
                skipped.append({"path": path, "reason": Skipped.MAX_SECONDS,
                                "detail": "max_seconds=%s while reading files" % max_seconds})
                break
    finally:
        reading.close()         # ends the worker pool of a budget cut short

    collisions = []
    root_stats = []
    total_decls = sum(len(d) for d in results.values())
    for root, scope_files, _seen in scopes:
        by_key = {}
        count = 0
        for path, inode in scope_files:
            for kind, fqn, key, line, conditional in results.get(inode, ()):
                count += 1
                by_key.setdefault(key, []).append((path, line, kind, fqn, conditional))
        found = 0
        for key in sorted(by_key):
            entries = by_key[key]
            if len({e[0] for e in entries}) < 2:
                continue
            found += 1
            collisions.append(_collision(key, entries, root if scope == "per_root" else None))
        root_stats.append({"path": root if scope == "per_root" else ", ".join(roots),
                           "files": len(scope_files), "declarations": count,
                           "collisions": found})

    if any(c["across_releases"] for c in collisions):
        warnings.append(
            "some collisions are between release folders (%s): releases are never loaded "
            "by one request, so give each release (or the live one) as its own root"
            % ", ".join(sorted({os.path.dirname(r) for r in releases})[:5]))
    if truncated_by == "max_files":
        warnings.append("max_files=%d reached: the scan is incomplete" % max_files)
    elif truncated_by == "max_seconds":
        warnings.append("max_seconds=%s reached: the scan is incomplete (%d of %d files listed were read)"
                        % (max_seconds, len(results), len(paths)))
    for item in skipped:
        if item["reason"] == Skipped.ROOT_MISSING:
            warnings.append("root %s does not exist" % item["path"])
        elif item["reason"] == Skipped.ROOT_NOT_DIRECTORY:
            warnings.append("root %s is not a directory" % item["path"])

    by_reason = {}
    for item in skipped:
        by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + 1
    return {
        "collisions": collisions,
        "files_scanned": len(results),
        "declarations": total_decls,
        "files_skipped": skipped[:MAX_SKIPPED_LISTED],
        "files_skipped_count": len(skipped),
        "files_skipped_by_reason": by_reason,
        "truncated": truncated,
        "truncated_by": truncated_by,
        "files_not_read": len(paths) - len(results),
        "scope": scope,
        "roots": root_stats,
        "warnings": warnings,
        "elapsed_s": round(clock() - started, 3),
    }


def _collision(key, entries, root):
    entries.sort(key=lambda e: (e[0], e[1]))
    files = [{"path": path, "line": line, "kind": kind, "vendor": is_vendor_path(path),
              "conditional": conditional}
             for path, line, kind, _fqn, conditional in entries]
    spellings = []
    for entry in entries:
        if entry[3] not in spellings:
            spellings.append(entry[3])
    # Only across releases: every file is in a release folder and no release
    # holds two of them (two in one release would be a real collision).
    per_release = {}
    for entry in entries:
        per_release.setdefault(release_of(entry[0]), set()).add(entry[0])
    across_releases = (None not in per_release and len(per_release) > 1
                       and all(len(p) == 1 for p in per_release.values()))
    out = {
        "name": spellings[0],
        "key": key,
        "kinds": sorted({e[2] for e in entries}),
        "root": root,
        "across_releases": across_releases,
        "all_vendor": all(f["vendor"] for f in files),
        "files": files,
    }
    if len(spellings) > 1:
        out["spellings"] = spellings
    return out
