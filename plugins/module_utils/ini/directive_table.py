# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The OPcache ini directives of PHP 5.5 to 8.4, as data, and lookups in it.

Private to opcache-fleet. Standard library only, Python 3.8+.

Sources: php-src ``ext/opcache/zend_accelerator_module.c`` (the ``ZEND_INI_BEGIN``
table and its ``OnUpdate*`` handlers, read across versions), ``zend_jit.h`` limits,
the PHP manual page "OPcache Runtime Configuration" and the UPGRADING notes.

The table is data: one :class:`Directive` per name with its type, default(s), bounds,
the first PHP version that has it, the version that removed it and what replaced it.
Checking a value against it lives in ``directives.py``; this file only knows what
exists where::

    lookup("opcache.fast_shutdown")                            -> Directive
    known_for("8.2", platform="linux")                         -> [names]
    suggest("opcache.memory_consuption")                       -> close names
"""

from __future__ import absolute_import, division, print_function

import difflib

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.php_version import (
    parse_php_version, version_ge, version_text)

__metaclass__ = type

# The versions the table was read for; validate_many() clamps others to the nearest.
OLDEST = (5, 5)
NEWEST = (8, 4)


class Directive:
    """One OPcache ini directive.

    kind: bool | int | bitmask | size | float | path | dir | string | user | enum | jit
    defaults: list of (version, default text) in ascending version order
    bounds: list of (version, min, max) in ascending version order (None = open)
    since / removed: version tuples; removed_note: what happened / replaced it
    platform: None (all), "unix" (not Windows), "windows", "linux"
    """

    __slots__ = ("name", "kind", "defaults", "bounds", "since", "removed",
                 "removed_note", "platform", "unit", "choices", "allow_empty",
                 "changeable", "note")

    def __init__(self, name, kind, default, since=OLDEST, removed=None,
                 removed_note=None, platform=None, unit=None, choices=None,
                 bounds=None, allow_empty=False, changeable="system", note=None):
        self.name = name
        self.kind = kind
        self.defaults = default if isinstance(default, list) else [(OLDEST, default)]
        self.bounds = bounds or []
        self.since = since
        self.removed = removed
        self.removed_note = removed_note
        self.platform = platform
        self.unit = unit
        self.choices = choices
        self.allow_empty = allow_empty
        self.changeable = changeable
        self.note = note

    def default_for(self, version):
        """Default value text for a PHP version tuple (None: unset/NULL)."""
        found = self.defaults[0][1]
        for ver, value in self.defaults:
            if version_ge(version, ver):
                found = value
        return found

    def bounds_for(self, version):
        """(min, max, note) for a PHP version tuple."""
        found = (None, None, None)
        for entry in self.bounds:
            ver, low, high = entry[0], entry[1], entry[2]
            note = entry[3] if len(entry) > 3 else None
            if version_ge(version, ver):
                found = (low, high, note)
        return found

    def as_dict(self, version=None):
        """A JSON-friendly description (for module returns and reports)."""
        data = {
            "name": self.name,
            "type": self.kind,
            "since": version_text(self.since),
            "removed": version_text(self.removed) if self.removed else None,
            "removed_note": self.removed_note,
            "platform": self.platform,
            "unit": self.unit,
            "changeable": self.changeable,
        }
        if version is not None:
            low, high, _note = self.bounds_for(version)
            data["default"] = self.default_for(version)
            data["min"] = low
            data["max"] = high
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def _v(text):
    return tuple(int(p) for p in text.split("."))


def _table():
    d = Directive
    all_ = "all"
    entries = [
        # --- always there (5.5 .. 8.4) -----------------------------------------
        d("opcache.enable", "bool", "1", changeable=all_,
          note="cannot be switched on at run time, only off"),
        d("opcache.enable_cli", "bool", [(_v("5.5"), "0"), (_v("7.1.2"), "1"), (_v("7.1.7"), "0")]),
        d("opcache.memory_consumption", "int", [(_v("5.5"), "64"), (_v("7.0"), "128")], unit="MB",
          bounds=[(_v("5.5"), 8, None,
                   "PHP reads it with atoi() in megabytes: below 8 it is raised to 8 "
                   "(refused in recent versions)")]),
        d("opcache.interned_strings_buffer", "int", [(_v("5.5"), "4"), (_v("7.0"), "8")], unit="MB",
          bounds=[(_v("5.5"), 0, 4095,
                   "it counts megabytes; values above 4095 overflow 32-bit offsets "
                   "(php-src GH-9259: shared memory corruption before the fix, refused after)"),
                  (_v("8.4"), 0, 32767,
                   "PHP 8.4 compresses string offsets and accepts up to 32767 (MB)")]),
        d("opcache.max_accelerated_files", "int", [(_v("5.5"), "2000"), (_v("7.0"), "10000")],
          bounds=[(_v("5.5"), 200, 100000, "PHP clamps values outside the range"),
                  (_v("5.5.6"), 200, 1000000,
                   "PHP clamps values outside the range (refused in recent versions)")]),
        d("opcache.max_wasted_percentage", "int", "5", unit="percent",
          bounds=[(_v("5.5"), 1, 50, "outside 1..50 PHP falls back to 5")]),
        d("opcache.use_cwd", "bool", "1"),
        d("opcache.validate_timestamps", "bool", "1", changeable=all_),
        d("opcache.revalidate_freq", "int", "2", unit="seconds", changeable=all_,
          bounds=[(_v("5.5"), 0, None)]),
        d("opcache.revalidate_path", "bool", "0", changeable=all_),
        d("opcache.save_comments", "bool", "1"),
        d("opcache.enable_file_override", "bool", "0"),
        d("opcache.optimization_level", "bitmask",
          [(_v("5.5"), "0xFFFFFFFF"), (_v("5.6.18"), "0x7FFFBFFF"), (_v("7.3"), "0x7FFEBFFF")],
          bounds=[(_v("5.5"), 0, 0xFFFFFFFF)]),
        d("opcache.dups_fix", "bool", "0", changeable=all_),
        d("opcache.blacklist_filename", "path", "", allow_empty=True,
          note="a glob; every matching file is read at startup/reload"),
        d("opcache.max_file_size", "size", "0", unit="bytes", bounds=[(_v("5.5"), 0, None)]),
        d("opcache.force_restart_timeout", "int", "180", unit="seconds",
          bounds=[(_v("5.5"), 0, None)]),
        d("opcache.error_log", "path", "", allow_empty=True,
          note="empty means stderr (the php-fpm log)"),
        d("opcache.log_verbosity_level", "int", "1", bounds=[(_v("5.5"), 0, 4)]),
        d("opcache.preferred_memory_model", "enum", "", allow_empty=True,
          choices=("mmap", "shm", "posix", "win32")),
        d("opcache.protect_memory", "bool", "0"),
        d("opcache.file_update_protection", "int", "2", unit="seconds", changeable=all_,
          bounds=[(_v("5.5"), 0, None)]),
        d("opcache.mmap_base", "string", "", platform="windows", allow_empty=True),
        # --- added --------------------------------------------------------------
        d("opcache.restrict_api", "path", "", since=_v("5.6"), allow_empty=True,
          note="a path prefix: only scripts below it may call the OPcache API"),
        d("opcache.file_cache", "dir", "", since=_v("7.0"), allow_empty=True,
          note="survives opcache_reset() and restarts; purge it when corrupt (php-src GH-9874)"),
        d("opcache.file_cache_only", "bool", "0", since=_v("7.0")),
        d("opcache.file_cache_consistency_checks", "bool", "1", since=_v("7.0")),
        d("opcache.file_cache_fallback", "bool", "1", since=_v("7.0"), platform="windows"),
        d("opcache.huge_code_pages", "bool", "0", since=_v("7.0"), platform="linux"),
        d("opcache.lockfile_path", "dir", "/tmp", since=_v("7.0"), platform="unix"),
        d("opcache.validate_permission", "bool", "0", since=_v("7.0.14")),
        d("opcache.validate_root", "bool", "0", since=_v("7.0.14"), platform="unix"),
        d("opcache.opt_debug_level", "bitmask", "0", since=_v("7.1"),
          bounds=[(_v("7.1"), 0, 0xFFFFFFFF)]),
        d("opcache.preload", "path", "", since=_v("7.4"), allow_empty=True),
        d("opcache.preload_user", "user", "", since=_v("7.4"), platform="unix", allow_empty=True),
        d("opcache.cache_id", "string", "", since=_v("7.4"), platform="windows", allow_empty=True),
        d("opcache.record_warnings", "bool", "0", since=_v("8.0")),
        d("opcache.jit", "jit", [(_v("8.0"), "tracing"), (_v("8.4"), "disable")], since=_v("8.0"),
          changeable=all_,
          note="before 8.4 JIT also needs opcache.jit_buffer_size > 0 (default 0)"),
        d("opcache.jit_buffer_size", "size", [(_v("8.0"), "0"), (_v("8.4"), "64M")], since=_v("8.0"),
          unit="bytes", bounds=[(_v("8.0"), 0, None)]),
        d("opcache.jit_debug", "bitmask", "0", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, None)]),
        d("opcache.jit_bisect_limit", "int", "0", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, None)]),
        d("opcache.jit_prof_threshold", "float", "0.005", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, 1)]),
        d("opcache.jit_max_root_traces", "int", "1024", since=_v("8.0"), bounds=[(_v("8.0"), 1, None)]),
        d("opcache.jit_max_side_traces", "int", "128", since=_v("8.0"), bounds=[(_v("8.0"), 1, None)]),
        d("opcache.jit_max_exit_counters", "int", "8192", since=_v("8.0"), bounds=[(_v("8.0"), 1, None)]),
        d("opcache.jit_hot_loop", "int", "64", since=_v("8.0"), bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_hot_func", "int", "127", since=_v("8.0"), bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_hot_return", "int", "8", since=_v("8.0"), bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_hot_side_exit", "int", "8", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_blacklist_root_trace", "int", "16", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_blacklist_side_trace", "int", "8", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, 255)]),
        d("opcache.jit_max_loop_unrolls", "int", "8", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 1, 9)]),
        d("opcache.jit_max_recursive_calls", "int", "2", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 1, 9)]),
        d("opcache.jit_max_recursive_returns", "int", "2", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, 3)]),
        d("opcache.jit_max_polymorphic_calls", "int", "2", since=_v("8.0"), changeable=all_,
          bounds=[(_v("8.0"), 0, None)]),
        d("opcache.jit_max_trace_length", "int", "1024", since=_v("8.3"), changeable=all_,
          bounds=[(_v("8.3"), 4, 1024)]),
        # --- removed --------------------------------------------------------------
        d("opcache.load_comments", "bool", "1", removed=_v("7.0"), changeable=all_,
          removed_note="doc comments are always loaded when saved (opcache.save_comments "
                       "decides); loading them costs nothing any more. Delete the line."),
        d("opcache.fast_shutdown", "bool", "0", removed=_v("7.2"),
          removed_note="a variant of the fast shutdown sequence was integrated into PHP "
                       "itself and is used automatically whenever possible; there is nothing "
                       "to turn on or off. Delete the line."),
        d("opcache.inherited_hack", "bool", "1", removed=_v("7.3"),
          removed_note="its value had been ignored since PHP 5.3; nothing replaces it. "
                       "Delete the line."),
        d("opcache.consistency_checks", "int", "0", removed=_v("8.3"), changeable=all_,
          bounds=[(_v("5.5"), 0, None)],
          removed_note="it was broken with the tracing JIT and the inheritance cache and "
                       "already disabled since 8.1.18 / 8.2.5; nothing replaces it. "
                       "Delete the line."),
    ]
    return dict((e.name, e) for e in entries)


DIRECTIVES = _table()


# --- lookups --------------------------------------------------------------------

def canonical_name(name):
    """Strip blanks; add the ``opcache.`` prefix when it was left out."""
    name = str(name).strip()
    if name and "." not in name:
        name = "opcache." + name
    return name


def lookup(name):
    """The :class:`Directive` for a name (prefix optional), or None."""
    return DIRECTIVES.get(canonical_name(name))


def suggest(name, limit=3):
    """Close directive names for a misspelt one."""
    name = canonical_name(name)
    names = sorted(DIRECTIVES)
    found = difflib.get_close_matches(name, names, n=limit, cutoff=0.75)
    if not found:
        lowered = dict((n.lower(), n) for n in names)
        found = [lowered[n] for n in difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)]
    if not found:
        tail = name.split(".", 1)[-1]
        found = [n for n in names if tail and (tail in n or n.split(".", 1)[1] in tail)][:limit]
    return found


def known_for(version, platform="linux"):
    """Names that exist in PHP ``version`` on ``platform``."""
    version = parse_php_version(version)
    result = []
    for name, info in sorted(DIRECTIVES.items()):
        if not version_ge(version, info.since):
            continue
        if info.removed and version_ge(version, info.removed) and len(info.removed) >= 2:
            continue
        if not platform_ok(info, platform):
            continue
        result.append(name)
    return result


def platform_ok(info, platform):
    """Whether the directive exists on ``platform`` (linux, windows, or another unix)."""
    platform = (platform or "linux").lower()
    if info.platform is None:
        return True
    if info.platform == "windows":
        return platform == "windows"
    if info.platform == "unix":
        return platform != "windows"
    if info.platform == "linux":
        return platform == "linux"
    return True
