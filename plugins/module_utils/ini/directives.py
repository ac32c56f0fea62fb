# -*- coding: utf-8 -*-
"""OPcache ini directives of PHP 5.5 to 8.4, as data, and a validator.

Private to opcache-fleet. Standard library only, Python 3.8+.

Sources: php-src ``ext/opcache/zend_accelerator_module.c`` (the ``ZEND_INI_BEGIN``
table and its ``OnUpdate*`` handlers, read across versions), ``zend_jit.h`` limits,
the PHP manual page "OPcache Runtime Configuration" and the UPGRADING notes.

The table is data: one :class:`Directive` per name with its type, default(s), bounds,
the first PHP version that has it, the version that removed it and what replaced it.
:func:`validate` checks one ``name = value`` against a PHP version and returns the
value normalised to the text we write into an ini file, or raises
:class:`DirectiveError` whose message says what is wrong and what to do.

Python API (also used by playbooks through the modules)::

    validate("opcache.memory_consumption", "256", "8.2.7")      -> Checked(...)
    validate_many({"opcache.enable": "On"}, "8.2", on_removed="fail")
    normalize_existing("opcache.enable", "On", "8.2")          -> "1" or None
    lookup("opcache.fast_shutdown")                            -> Directive
"""

from __future__ import absolute_import, division, print_function

import difflib
import re

__metaclass__ = type

OLDEST = (5, 5)
NEWEST = (8, 4)

BOOL_TRUE = ("1", "on", "yes", "true")
BOOL_FALSE = ("0", "off", "no", "false", "none", "")

# php.ini turns these unquoted words into "1" / "" before OPcache sees them.
INI_KEYWORDS = ("on", "yes", "true", "off", "no", "false", "none", "null")

# max_accelerated_files is rounded up to the first of these primes (manual, php-src).
ACCEL_PRIMES = (223, 463, 983, 1979, 3907, 7963, 16229, 32531, 65407, 130987,
                262237, 524521, 1048793)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kKmMgG]?)\s*$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_HEX_RE = re.compile(r"^0[xX][0-9a-fA-F]+$")
_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")


class DirectiveError(ValueError):
    """A directive or value PHP would not accept (or would silently misread).

    ``reason`` is one of ``unknown``, ``removed``, ``not_yet``, ``platform``,
    ``type``, ``range``; ``name`` the directive as given.
    """

    def __init__(self, name, reason, message):
        super(DirectiveError, self).__init__(message)
        self.name = name
        self.reason = reason
        self.message = message


class Checked:
    """Result of :func:`validate`."""

    __slots__ = ("name", "value", "directive", "notes", "removed")

    def __init__(self, name, value, directive, notes=None, removed=False):
        self.name = name
        self.value = value
        self.directive = directive
        self.notes = list(notes or [])
        self.removed = removed

    def __repr__(self):
        return "Checked(%r, %r)" % (self.name, self.value)


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


# --- versions -------------------------------------------------------------------

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_php_version(text):
    """``"8.2.7-1+deb12u1"``, ``"PHP 8.2.7 (fpm-fcgi)"``, ``"8.2"``, ``(8, 2)`` -> tuple.

    Returns (major, minor) or (major, minor, patch); raises ValueError when none found.
    """
    if isinstance(text, (tuple, list)):
        return tuple(int(p) for p in text)
    match = _VERSION_RE.search(str(text or ""))
    if not match:
        raise ValueError("php_version: no PHP version (like 8.2 or 8.2.7) found in %r" % (text,))
    parts = [int(match.group(1)), int(match.group(2))]
    if match.group(3) is not None:
        parts.append(int(match.group(3)))
    return tuple(parts)


def version_text(version):
    return ".".join(str(p) for p in version) if version else None


def version_ge(version, ref):
    """version >= ref. A version without patch level satisfies any patch of its minor."""
    v_major_minor, r_major_minor = tuple(version[:2]), tuple(ref[:2])
    if v_major_minor != r_major_minor:
        return v_major_minor > r_major_minor
    if len(version) < 3 or len(ref) < 3:
        return True
    return version[2] >= ref[2]


def version_lt(version, ref):
    """version < ref, comparing patch levels only when both have one."""
    if tuple(version[:2]) != tuple(ref[:2]):
        return tuple(version[:2]) < tuple(ref[:2])
    if len(version) < 3 or len(ref) < 3:
        return False
    return version[2] < ref[2]


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
        if not _platform_ok(info, platform):
            continue
        result.append(name)
    return result


def _platform_ok(info, platform):
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


def _removed_in(info, version):
    return info.removed is not None and version_ge(version, info.removed)


# --- value checks ---------------------------------------------------------------

def _text(value):
    """A value from YAML/JSON as the string PHP would receive."""
    if value is True:
        return "1"
    if value is False or value is None:
        return "0" if value is False else ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_bool(value):
    """PHP ini boolean -> True/False, or None when PHP would not read it as one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = _text(value).strip().lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    return None


def parse_size(value):
    """``128M`` / ``64k`` / ``1G`` / ``1024`` -> bytes, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(_text(value))
    if not match:
        return None
    number = int(match.group(1))
    factor = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2).lower()]
    return number * factor


def format_size(num_bytes):
    for suffix, factor in (("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if num_bytes and num_bytes % factor == 0:
            return "%d%s" % (num_bytes // factor, suffix)
    return str(num_bytes)


def _fail(name, reason, message):
    raise DirectiveError(name, reason, message)


def _check_bounds(name, info, number, version, shown):
    low, high, why = info.bounds_for(version)
    unit = (" " + info.unit) if info.unit else ""
    if (low is not None and number < low) or (high is not None and number > high):
        if high is None:
            allowed = "at least %s%s" % (low, unit)
        elif low is None:
            allowed = "at most %s%s" % (high, unit)
        else:
            allowed = "between %s and %s%s" % (low, high, unit)
        message = "%s: value %r is out of range for PHP %s: must be %s" % (
            name, shown, version_text(version), allowed)
        if why:
            message += " (%s)" % why
        _fail(name, "range", message)


def _check_plain_path(name, text, info, absolute=True):
    if text == "":
        if info.allow_empty:
            return text
        _fail(name, "type", "%s: an empty value is not allowed" % name)
    if text != text.strip():
        _fail(name, "type", "%s: value %r has leading or trailing whitespace; PHP would keep it "
                            "as part of the path" % (name, text))
    for bad, why in (("\n", "a newline"), ("\r", "a carriage return"), ('"', "a double quote"),
                     ("$", "a '$' (php.ini expands ${...})"), ("\x00", "a NUL byte")):
        if bad in text:
            _fail(name, "type", "%s: value %r contains %s, which cannot be written safely into "
                                "php.ini" % (name, text, why))
    if absolute and not text.startswith("/") and not re.match(r"^[A-Za-z]:[\\/]", text):
        _fail(name, "type", "%s: value %r is not an absolute path; PHP resolves relative paths "
                            "against the working directory of the process, which differs "
                            "between php-fpm, its workers and the CLI" % (name, text))
    return text


def _normalize(name, info, value, version, notes):
    kind = info.kind
    text = _text(value)
    if kind == "bool":
        parsed = parse_bool(value)
        if parsed is None:
            _fail(name, "type", "%s: value %r is not a boolean; use one of 1/0, On/Off, yes/no, "
                                "true/false" % (name, text))
        return "1" if parsed else "0"
    if kind == "int":
        if isinstance(value, bool) or not _INT_RE.match(text.strip()):
            hint = ""
            if parse_size(value) is not None:
                hint = (" (suffixes such as K/M/G are not understood here: PHP reads this "
                        "number in %s, e.g. %r would be misread)" % (info.unit or "units", text))
            _fail(name, "type", "%s: value %r is not a whole number%s" % (name, text, hint))
        number = int(text.strip())
        _check_bounds(name, info, number, version, text)
        if name == "opcache.max_accelerated_files":
            prime = next((p for p in ACCEL_PRIMES if p >= number), ACCEL_PRIMES[-1])
            notes.append("PHP sizes the hash table to the next prime, %d keys" % prime)
        return str(number)
    if kind == "bitmask":
        stripped = text.strip()
        if _HEX_RE.match(stripped):
            number = int(stripped, 16)
        elif _INT_RE.match(stripped) and not isinstance(value, bool):
            number = int(stripped)
        else:
            _fail(name, "type", "%s: value %r is not a number (decimal or 0x hexadecimal)" % (name, text))
        _check_bounds(name, info, number, version, text)
        return "0x%08X" % number if number > 0xFFFF or _HEX_RE.match(stripped) else str(number)
    if kind == "size":
        size = parse_size(value)
        if size is None:
            _fail(name, "type", "%s: value %r is not a size; use bytes or a number with K, M or G "
                                "(e.g. 64M)" % (name, text))
        _check_bounds(name, info, size, version, text)
        return format_size(size)
    if kind == "float":
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or number != number:
            _fail(name, "type", "%s: value %r is not a number" % (name, text))
        _check_bounds(name, info, number, version, text)
        return repr(number)
    if kind == "path":
        return _check_plain_path(name, text, info)
    if kind == "dir":
        result = _check_plain_path(name, text, info)
        if result and result != "/" and result.endswith("/"):
            result = result.rstrip("/")
        return result
    if kind == "user":
        if text == "" and info.allow_empty:
            return text
        if not _USER_RE.match(text):
            _fail(name, "type", "%s: value %r is not a user name" % (name, text))
        return text
    if kind == "enum":
        lowered = text.strip().lower()
        if lowered == "" and info.allow_empty:
            return ""
        if lowered not in info.choices:
            _fail(name, "type", "%s: value %r is not one of %s (or empty for automatic)" % (
                name, text, ", ".join(info.choices)))
        if lowered == "win32":
            notes.append("win32 only exists on Windows builds")
        return lowered
    if kind == "jit":
        lowered = text.strip().lower()
        if lowered in ("disable", "off", "on", "tracing", "function"):
            return lowered
        if isinstance(value, bool):
            _fail(name, "type", "%s: a boolean is not a JIT mode; use disable, off, on, tracing, "
                                "function or a 4-digit CRTO number" % name)
        if re.match(r"^\d{1,4}$", lowered):
            digits = lowered.zfill(4)
            c, r, t, o = (int(x) for x in digits)
            if c > 1 or r > 2 or t > 5 or o > 5:
                _fail(name, "range", "%s: value %r is not a valid CRTO number (C 0-1, R 0-2, "
                                     "T 0-5, O 0-5)" % (name, text))
            return lowered
        _fail(name, "type", "%s: value %r is not a JIT mode; use disable, off, on, tracing, "
                            "function or a 4-digit CRTO number such as 1254" % (name, text))
    # string
    if text != text.strip() or any(c in text for c in '\n\r"$\x00'):
        _fail(name, "type", "%s: value %r has whitespace at an end or a character that cannot "
                            "be written into php.ini (newline, quote, $)" % (name, text))
    return text


def validate(name, value, php_version, platform="linux"):
    """Check ``name = value`` for PHP ``php_version``.

    Returns a :class:`Checked` with the canonical name and the normalised value text.
    Raises :class:`DirectiveError` for an unknown name, a directive that PHP
    ``php_version`` does not have (``not_yet``, ``removed``, ``platform``), a value of
    the wrong type or out of range. A removed directive raises with reason ``removed``
    and a message naming the version and what replaced it; callers that only warn can
    use :func:`validate_removed_value`.
    """
    version = parse_php_version(php_version)
    canonical = canonical_name(name)
    info = DIRECTIVES.get(canonical)
    if info is None:
        close = suggest(canonical)
        message = "%s: unknown OPcache directive" % (name,)
        if close:
            message += "; did you mean %s?" % " or ".join(close)
        if not canonical.startswith("opcache."):
            message += " (only opcache.* directives are managed here)"
        _fail(name, "unknown", message)
    if _removed_in(info, version):
        _fail(canonical, "removed", removed_message(info, version))
    if not version_ge(version, info.since):
        _fail(canonical, "not_yet", "%s: does not exist in PHP %s; it was added in PHP %s" % (
            canonical, version_text(version), version_text(info.since)))
    if not _platform_ok(info, platform):
        where = {"windows": "Windows builds", "unix": "non-Windows builds",
                 "linux": "Linux builds"}[info.platform]
        _fail(canonical, "platform", "%s: only exists on %s of PHP, not on %s" % (
            canonical, where, platform))
    notes = []
    normalized = _normalize(canonical, info, value, version, notes)
    if info.kind == "jit" and version_lt(version, (8, 4)) and normalized not in ("disable", "off", "0"):
        notes.append(info.note)
    return Checked(canonical, normalized, info, notes)


def removed_message(info, version):
    return "%s: removed in PHP %s, so PHP %s ignores it; %s" % (
        info.name, version_text(info.removed), version_text(version), info.removed_note)


def validate_removed_value(name, value):
    """Normalise the value of a removed directive with its old type (for on_removed=warn)."""
    info = lookup(name)
    last = (info.removed[0], info.removed[1] - 1) if info.removed[1] else (info.removed[0] - 1, 4)
    notes = []
    return Checked(info.name, _normalize(info.name, info, value, last, notes), info, notes, removed=True)


def validate_many(directives, php_version, on_removed="fail", platform="linux", for_removal=False):
    """Validate a whole ``{name: value}`` mapping before any I/O.

    Returns ``(normalized, warnings, errors)``: normalized is ``{canonical name: text}``
    (value None when ``for_removal``), warnings and errors are lists of sentences.
    With ``for_removal`` only names are checked: removing a removed directive is fine.
    """
    normalized, warnings, errors = {}, [], []
    try:
        version = parse_php_version(php_version)
    except ValueError as exc:
        return {}, [], [str(exc)]
    if tuple(version[:2]) > NEWEST or tuple(version[:2]) < OLDEST:
        warnings.append("PHP %s is outside the directive table (%s to %s); checked as the "
                        "nearest known version" % (version_text(version), version_text(OLDEST),
                                                   version_text(NEWEST)))
        version = NEWEST if tuple(version[:2]) > NEWEST else OLDEST
    seen = {}
    for name, value in directives.items():
        canonical = canonical_name(name)
        if canonical in seen:
            errors.append("%s: given twice (as %r and %r)" % (canonical, seen[canonical], name))
            continue
        seen[canonical] = name
        if for_removal:
            info = DIRECTIVES.get(canonical)
            if info is None:
                close = suggest(canonical)
                errors.append("%s: unknown OPcache directive%s" % (
                    name, ("; did you mean %s?" % " or ".join(close)) if close else ""))
                continue
            normalized[canonical] = None
            continue
        try:
            checked = validate(name, value, version, platform=platform)
        except DirectiveError as exc:
            if exc.reason == "removed" and on_removed == "warn":
                warnings.append(exc.message + " (written anyway: on_removed=warn)")
                try:
                    checked = validate_removed_value(canonical, value)
                except DirectiveError as inner:
                    errors.append(inner.message)
                    continue
            else:
                errors.append(exc.message)
                continue
        normalized[checked.name] = checked.value
        warnings.extend("%s: %s" % (checked.name, note) for note in checked.notes)
    _cross_checks(normalized, warnings)
    return normalized, warnings, errors


def _cross_checks(normalized, warnings):
    mem = normalized.get("opcache.memory_consumption")
    strings = normalized.get("opcache.interned_strings_buffer")
    if mem is not None and strings is not None and int(strings) >= int(mem):
        warnings.append("opcache.interned_strings_buffer (%s MB) is carved out of "
                        "opcache.memory_consumption (%s MB): no room is left for scripts"
                        % (strings, mem))


def normalize_existing(name, raw_value, php_version, platform="linux"):
    """Normalise a value read from a file, or None when PHP would not accept it.

    Used to compare what a file already says with what is wanted, so that ``On`` and
    ``1`` or ``67108864`` and ``64M`` count as equal and nothing is rewritten.
    """
    info = lookup(name)
    if info is None:
        return raw_value
    try:
        version = parse_php_version(php_version)
        if _removed_in(info, version):
            return validate_removed_value(name, raw_value).value
        return _normalize(info.name, info, raw_value, version, [])
    except (DirectiveError, ValueError):
        return None
