# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure edits of php.ini text: set and remove directives, keep everything else.

Private to opcache-fleet. Standard library only, Python 3.8+.

Rules (what PHP's ini parser does, and what a careful human would do):

* Comments (``;`` lines, and legacy ``#`` lines) and unrelated lines are kept byte for
  byte; line endings (LF or CRLF) are kept.
* ``name = value`` in the global part of the file is an *active* setting. Sections
  such as ``[opcache]`` or ``[PHP]`` are cosmetic for PHP and count as global;
  ``[PATH=...]`` and ``[HOST=...]`` sections scope their settings and are never edited
  (a warning names them).
* Several active settings of one name: PHP keeps the last one. We update the last one
  and warn about the others.
* A commented-out occurrence (``;opcache.x=...``) is left alone; a new setting is put
  right after it, so the documentation comment stays next to the value.
* Otherwise a new setting goes to the end of an ``[opcache]`` section when there is
  one, else to the end of the global part (before the first PATH/HOST section).
* Values are written bare when they are plain words, else in double quotes. Inside double
  quotes PHP's scanner (php-src ``Zend/zend_ini_scanner.l``, ``ST_DOUBLE_QUOTES`` and
  ``zend_ini_escape_string``) reads ``\\"``, ``\\\\`` and ``\\$`` as escapes (one ``"``,
  ``\\``, ``$``), keeps any other backslash, starts an interpolation at ``${`` and reads
  across line ends until the closing quote. A value ending in a backslash would escape
  its own closing quote (PHP only has a special case for it when the quote ends the line,
  so a trailing comment makes it read on into the next lines). :func:`quoting_problem`
  names what cannot be written safely; such values are refused, never escaped.

Python API::

    set_directives(text, {"opcache.memory_consumption": "256"}, equal=None) -> EditResult
    remove_directives(text, ["opcache.fast_shutdown"]) -> EditResult
    settings(text, name) -> [Setting]

Which file PHP reads when, and which setting wins across files: ``ini/scan_order.py``.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

_SECTION_RE = re.compile(r"^\s*\[([^\]]*)\]")
_ENTRY_RE = re.compile(r"^(?P<indent>\s*)(?P<name>[^\s=;#\[\]][^=;]*?)(?P<sep>\s*=\s*)(?P<rest>.*)$")
_COMMENTED_RE = re.compile(r"^\s*[;#][;#\s]*(?P<name>[A-Za-z0-9_.\-]+)\s*=")
_SAFE_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:+,@%-]+$")
_KEYWORDS = ("on", "yes", "true", "off", "no", "false", "none", "null")


class Setting:
    """An active ``name = value`` line."""

    __slots__ = ("path", "line", "name", "value", "section")

    def __init__(self, path, line, name, value, section):
        self.path = path
        self.line = line          # 1-based line number
        self.name = name
        self.value = value        # value as PHP reads it (quotes removed)
        self.section = section    # section name or None

    def as_dict(self):
        return {"path": self.path, "line": self.line, "name": self.name,
                "value": self.value, "section": self.section}

    def __repr__(self):
        return "Setting(%r, %r, %r)" % (self.path, self.line, self.value)


class EditResult:
    """What an edit did: new ``text``, ``changed``, ``warnings``, per-name ``actions``."""

    __slots__ = ("text", "changed", "warnings", "actions")

    def __init__(self, text, changed, warnings, actions):
        self.text = text
        self.changed = changed
        self.warnings = warnings
        self.actions = actions


def _is_scoped(section):
    if section is None:
        return False
    upper = section.strip().upper()
    return upper.startswith("PATH=") or upper.startswith("HOST=")


def split_value(rest):
    """Split what follows ``=`` into (value as PHP reads it, value text, trailing text).

    Trailing text is blanks and a ``;`` comment, kept when the value is replaced.
    """
    stripped = rest.rstrip("\r\n")
    eol = rest[len(stripped):]
    if stripped[:1] == '"':
        end = _closing_double_quote(stripped)
        return _unescape(stripped[1:end]), stripped[:end + 1], stripped[end + 1:] + eol
    if stripped[:1] == "'":
        # single quotes are raw for PHP: no escapes
        end = stripped.find("'", 1)
        end = len(stripped) if end < 0 else end
        return stripped[1:end], stripped[:end + 1], stripped[end + 1:] + eol
    cut = stripped.find(";")
    if cut < 0:
        value_text = stripped.rstrip()
        return value_text, value_text, stripped[len(value_text):] + eol
    value_text = stripped[:cut].rstrip()
    return value_text, value_text, stripped[len(value_text):] + eol


def _closing_double_quote(text):
    """Index of the quote that ends the double-quoted value at text[0] (len: none)."""
    i = 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return i
        if char == "\\" and i + 1 < len(text):
            # PHP's Windows-path rule: key="C:\path\" -- a \" that ends the line closes
            if text[i + 1] == '"' and i + 2 == len(text):
                return i + 1
            i += 2
            continue
        i += 1
    return len(text)


def _unescape(body):
    """What PHP makes of the text between double quotes (zend_ini_escape_string)."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in '"\\$':
            out.append(body[i + 1])
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out)


def quoting_problem(value):
    """Why ``value`` cannot be written between double quotes and read back as is (or None)."""
    for bad, what in (("\n", "a newline"), ("\r", "a carriage return"), ("\x00", "a NUL byte"),
                      ('"', "a double quote")):
        if bad in value:
            return "contains %s" % what
    if "${" in value:
        return "contains '${', where php.ini starts expanding a variable"
    if value.endswith("\\"):
        return ("ends with a backslash, which would escape the closing quote in php.ini (PHP "
                "would then read on into the next line); drop it")
    for escape in ("\\\\", "\\$"):
        if escape in value:
            return ("contains the backslash escape %r, which php.ini reads as %r"
                    % (escape, escape[1]))
    return None


def render_value(value):
    """Value text for an ini file: bare when safe, else double-quoted.

    Words such as ``on`` or ``none`` are quoted unless they are the whole boolean
    vocabulary's intent, because php.ini turns unquoted keywords into "1" or "".
    Raises ValueError for a value :func:`quoting_problem` refuses.
    """
    value = "" if value is None else str(value)
    if value == "":
        return '""'
    if _SAFE_VALUE_RE.match(value) and value.lower() not in _KEYWORDS:
        return value
    problem = quoting_problem(value)
    if problem:
        raise ValueError("value %r %s; it cannot be written into php.ini safely" % (value, problem))
    return '"%s"' % value


def _lines(text):
    lines = text.splitlines(True)
    newline = "\r\n" if (lines and lines[0].endswith("\r\n")) else "\n"
    return lines, newline


def _scan(lines, path=None):
    """Yield (index, kind, name, section, match) for every line."""
    section = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        sec = _SECTION_RE.match(body)
        if sec:
            section = sec.group(1)
            yield index, "section", None, section, sec
            continue
        stripped = body.lstrip()
        if not stripped:
            yield index, "blank", None, section, None
            continue
        if stripped[0] in ";#":
            com = _COMMENTED_RE.match(body)
            yield index, "comment", com.group("name") if com else None, section, com
            continue
        entry = _ENTRY_RE.match(body)
        if entry:
            yield index, "entry", entry.group("name").strip(), section, entry
        else:
            yield index, "other", None, section, None


def settings(text, name, path=None, include_scoped=False):
    """Active settings of ``name`` in ``text`` (global part unless include_scoped)."""
    lines, _nl = _lines(text)
    found = []
    for index, kind, entry_name, section, match in _scan(lines):
        if kind != "entry" or entry_name != name:
            continue
        if _is_scoped(section) and not include_scoped:
            continue
        value, _vt, _trail = split_value(match.group("rest"))
        found.append(Setting(path, index + 1, name, value, section))
    return found


def _default_equal(name, current, wanted):
    return current == wanted


def set_directives(text, values, equal=None, path=None):
    """Set each ``name: value`` (value already normalised text) in ``text``.

    ``equal(name, current_value, wanted_value)`` decides whether an existing value
    already says the same (e.g. ``On`` vs ``1``); by default plain string equality.
    """
    equal = equal or _default_equal
    lines, newline = _lines(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    warnings, actions = [], []
    inserts = {}   # index after which to insert -> [line]
    changed = False
    scan = list(_scan(lines))

    for name, wanted in values.items():
        active, scoped, commented = [], [], []
        for index, kind, entry_name, section, match in scan:
            if entry_name != name:
                continue
            if kind == "entry":
                (scoped if _is_scoped(section) else active).append((index, match, section))
            elif kind == "comment" and not _is_scoped(section):
                commented.append(index)
        for index, _m, section in scoped:
            warnings.append("%s: also set in section [%s] at line %d of %s; that value wins "
                            "for matching scripts/hosts and is not edited"
                            % (name, section, index + 1, path or "the file"))
        if active:
            index, match, _section = active[-1]
            if len(active) > 1:
                warnings.append("%s is set %d times in %s (lines %s); PHP uses the last one, "
                                "line %d, which is the one managed" % (
                                    name, len(active), path or "the file",
                                    ", ".join(str(a[0] + 1) for a in active), index + 1))
            current, _value_text, trailing = split_value(match.group("rest"))
            if equal(name, current, wanted):
                actions.append({"name": name, "action": "unchanged", "line": index + 1,
                                "before": current, "after": current})
                continue
            rendered = render_value(wanted)
            lines[index] = "%s%s%s%s%s" % (match.group("indent"), match.group("name"),
                                           match.group("sep"), rendered,
                                           trailing if trailing.strip() else "") + newline
            changed = True
            actions.append({"name": name, "action": "updated", "line": index + 1,
                            "before": current, "after": wanted})
            continue
        anchor = commented[-1] if commented else _insert_point(scan, lines)
        inserts.setdefault(anchor, []).append("%s=%s%s" % (name, render_value(wanted), newline))
        changed = True
        actions.append({"name": name, "action": "added", "line": None, "before": None,
                        "after": wanted})

    if not changed:
        return EditResult(text, False, warnings, actions)
    out = []
    if -1 in inserts:
        out.extend(inserts[-1])
    for index, line in enumerate(lines):
        out.append(line)
        out.extend(inserts.get(index, []))
    new_text = "".join(out)
    return EditResult(new_text, new_text != text, warnings, actions)


def _insert_point(scan, lines):
    """Index of the line after which a new global setting goes (-1: top of file)."""
    opcache_last = None
    in_opcache = False
    last_global = -1
    for index, kind, _name, section, _match in scan:
        if kind == "section":
            if _is_scoped(section):
                break
            in_opcache = section.strip().lower() in ("opcache", "zend opcache", "zendopcache")
            last_global = index
            if in_opcache:
                opcache_last = index
            continue
        last_global = index
        if in_opcache and kind in ("entry", "comment", "other"):
            opcache_last = index
    if opcache_last is not None:
        return opcache_last
    # skip trailing blank lines of the global part: keep them after the new line
    index = last_global
    while index >= 0 and not lines[index].strip():
        index -= 1
    return index if index >= 0 else last_global


def remove_directives(text, names, path=None):
    """Remove every active global setting of each name; comments stay."""
    lines, _newline = _lines(text)
    scan = list(_scan(lines))
    drop = set()
    warnings, actions = [], []
    for name in names:
        hits = []
        for index, kind, entry_name, section, match in scan:
            if kind != "entry" or entry_name != name:
                continue
            if _is_scoped(section):
                warnings.append("%s: also set in section [%s] at line %d of %s; not removed"
                                % (name, section, index + 1, path or "the file"))
                continue
            hits.append((index, split_value(match.group("rest"))[0]))
        if not hits:
            actions.append({"name": name, "action": "absent", "line": None, "before": None,
                            "after": None})
            continue
        for index, value in hits:
            drop.add(index)
            actions.append({"name": name, "action": "removed", "line": index + 1,
                            "before": value, "after": None})
    if not drop:
        return EditResult(text, False, warnings, actions)
    new_text = "".join(line for index, line in enumerate(lines) if index not in drop)
    return EditResult(new_text, True, warnings, actions)
