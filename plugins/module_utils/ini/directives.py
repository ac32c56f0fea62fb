# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of OPcache ini directives against a PHP version.

Private to opcache-fleet. Standard library only, Python 3.8+.

What exists in which PHP version (the table, its sources, defaults and bounds) lives
in ``directive_table.py``; version parsing in ``php_version.py``. Here
:func:`validate` checks one ``name = value`` against that table for a PHP version and
returns the value normalised to the text we write into an ini file, or raises
:class:`DirectiveError` whose message says what is wrong and what to do.

Python API (also used by playbooks through the modules)::

    validate("opcache.memory_consumption", "256", "8.2.7")      -> Checked(...)
    validate_many({"opcache.enable": "On"}, "8.2", on_removed="fail")
    normalize_existing("opcache.enable", "On", "8.2")          -> "1" or None
    lookup("opcache.fast_shutdown")                            -> Directive
"""

from __future__ import absolute_import, division, print_function

import math
import re

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directive_table import (
    DIRECTIVES, NEWEST, OLDEST, canonical_name, lookup, platform_ok, suggest)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.ini_file import quoting_problem
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.php_version import (
    parse_php_version, version_ge, version_lt, version_text)

__metaclass__ = type

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
        if number is None or isinstance(value, bool) or math.isnan(number):
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
    if not platform_ok(info, platform):
        where = {"windows": "Windows builds", "unix": "non-Windows builds",
                 "linux": "Linux builds"}[info.platform]
        _fail(canonical, "platform", "%s: only exists on %s of PHP, not on %s" % (
            canonical, where, platform))
    notes = []
    normalized = _writable(canonical, value, _normalize(canonical, info, value, version, notes))
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
    return Checked(info.name, _writable(info.name, value, _normalize(info.name, info, value, last, notes)),
                   info, notes, removed=True)


def _writable(name, value, normalized):
    """The normalised value, unless the ini syntax cannot hold it (trailing backslash...).

    Checked on the final text (``dir`` values lose a trailing ``/``, which can leave a
    backslash at the end), here and not when reading a file: what a file already holds is
    compared by meaning, never refused.
    """
    problem = quoting_problem(normalized)
    if problem:
        given = _text(value)
        shown = repr(given) if given == normalized else "%r (written as %r)" % (given, normalized)
        _fail(name, "type", "%s: value %s %s; it cannot be written into php.ini safely"
                            % (name, shown, problem))
    return normalized


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
