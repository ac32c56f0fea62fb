# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""OPcache blacklist files: entry checks, pure edits, and PHP's matching rules.

Private to opcache-fleet. Standard library only, Python 3.8+.

How PHP reads a blacklist file (php-src ``zend_accelerator_blacklist.c``, read as
reference): line by line; a trailing ``\\n`` / ``\\r\\n`` and leading ``\\r`` are cut,
NOTHING else is trimmed; a line wrapped in double quotes loses them; empty lines and
lines starting with ``;`` are skipped; each entry is made absolute (relative to the
blacklist file's directory) and normalised (``.``, ``..``, ``//``). An entry is a
*prefix*: ``*`` matches within one path segment, ``**`` across segments, ``?`` one
character other than ``/``. The files are found with ``glob(opcache.blacklist_filename)``
and read only when php-fpm starts or reloads.

Python API (e.g. to blacklist a culprit found by ``culprit_hunt``)::

    check_entry("/srv/app/releases/b/report.php") -> "/srv/app/releases/b/report.php"
    check_entries([...]) -> (entries, errors, warnings)
    edit(text, ["/srv/app/x.php"], state="present", exclusive=False) -> BlacklistEdit
    read_entries(text) -> [entry, ...]          # what PHP loads from this text
    entry_matches(entry, script_path) -> bool   # PHP's prefix/wildcard matching
    glob_matches(blacklist_filename_glob, path) -> bool
"""

from __future__ import absolute_import, division, print_function

import fnmatch
import posixpath
import re

__metaclass__ = type

MAXPATHLEN = 4096
# the name opcache-fleet gives its own blacklist file (the opcache_config role's default);
# the module writes it, always as a regular file
OWN_FILE_NAME = "opcache-fleet.blacklist"


class BlacklistError(ValueError):
    """An entry PHP would skip, misread or read differently from what was meant."""


class BlacklistEdit:
    __slots__ = ("text", "changed", "added", "removed")

    def __init__(self, text, changed, added, removed):
        self.text = text
        self.changed = changed
        self.added = added
        self.removed = removed


def check_entry(entry):
    """Return ``entry`` unchanged when PHP reads it exactly as written, else raise."""
    if not isinstance(entry, str):
        raise BlacklistError("entries: %r is not a string" % (entry,))
    if entry == "":
        raise BlacklistError("entries: an empty entry is skipped by PHP; remove it")
    if entry != entry.strip():
        raise BlacklistError("entries: %r has leading or trailing whitespace; PHP does not trim "
                             "blacklist lines, so it would look for a path with those blanks "
                             "and never match" % (entry,))
    if entry.startswith(";"):
        raise BlacklistError("entries: %r starts with ';', which makes the line a comment in a "
                             "blacklist file; PHP would ignore it" % (entry,))
    for bad, what in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL byte")):
        if bad in entry:
            raise BlacklistError("entries: %r contains %s; one entry is one line" % (entry, what))
    if len(entry) > 2 and entry.startswith('"') and entry.endswith('"'):
        raise BlacklistError("entries: %r is wrapped in double quotes; PHP strips them, give the "
                             "path without quotes" % (entry,))
    if not entry.startswith("/"):
        raise BlacklistError("entries: %r is a relative path; PHP would resolve it against the "
                             "directory of the blacklist file, not the document root; give an "
                             "absolute path (patterns: *, ** and ? are allowed)" % (entry,))
    if len(entry) >= MAXPATHLEN - 1:
        raise BlacklistError("entries: %r is longer than PHP reads in one line (%d bytes)"
                             % (entry[:60] + "...", MAXPATHLEN - 2))
    normal = posixpath.normpath(entry)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if entry.endswith("/") and entry != "/":
        raise BlacklistError("entries: %r ends with '/'; PHP drops it and matches every path "
                             "that starts with %r (entries are prefixes); write %r, or %r for "
                             "the directory's contents only" % (entry, normal, normal, normal + "/*"))
    if normal != entry:
        raise BlacklistError("entries: %r is not in normal form; PHP normalises it to %r before "
                             "matching; write that" % (entry, normal))
    return entry


def check_entries(entries):
    """Check all entries; returns (unique entries in order, errors, warnings)."""
    result, errors, warnings, seen = [], [], [], set()
    for entry in entries or []:
        try:
            check_entry(entry)
        except BlacklistError as exc:
            errors.append(str(exc))
            continue
        if entry in seen:
            warnings.append("entries: %r is listed twice" % entry)
            continue
        seen.add(entry)
        last = entry.rsplit("/", 1)[-1]
        if not any(c in entry for c in "*?") and "." not in last:
            warnings.append("entries: %r is a prefix: it also matches %s* such as %s-old/ or "
                            "%s.php; add '/' and a pattern to limit it" % (entry, entry, entry, entry))
        result.append(entry)
    return result, errors, warnings


def line_entry(line):
    """What PHP loads from one line (None for comments and blank lines)."""
    text = line
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    text = text.lstrip("\r")
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    if not text or text.startswith(";"):
        return None
    return text


def read_entries(text):
    """Entries PHP would load from blacklist ``text``, in order."""
    return [e for e in (line_entry(line) for line in text.splitlines(True)) if e is not None]


def edit(text, entries, state="present", exclusive=False):
    """Add (``present``) or remove (``absent``) entries; comments and order kept.

    ``exclusive`` with ``present``: entry lines not in ``entries`` are removed
    (comments and blank lines stay).
    """
    lines = text.splitlines(True)
    newline = "\r\n" if (lines and lines[0].endswith("\r\n")) else "\n"
    wanted = list(entries)
    keep, removed, present = [], [], set()
    for line in lines:
        entry = line_entry(line)
        if entry is None:
            keep.append(line)
            continue
        drop = (state == "absent" and entry in wanted) or \
               (state == "present" and exclusive and entry not in wanted)
        if drop:
            removed.append(entry)
            continue
        present.add(entry)
        keep.append(line)
    added = []
    if state == "present":
        added = [e for e in wanted if e not in present]
        if added and keep and not keep[-1].endswith(("\n", "\r")):
            keep[-1] += newline
        keep.extend(e + newline for e in added)
    new_text = "".join(keep)
    return BlacklistEdit(new_text, new_text != text, added, removed)


def entry_regex(entry):
    """PHP's translation of one entry into a prefix regular expression."""
    out, i = [], 0
    while i < len(entry):
        char = entry[i]
        if char == "*":
            if entry[i + 1:i + 2] == "*":
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("^" + "".join(out), re.S)


def entry_matches(entry, script_path):
    """Would PHP keep ``script_path`` out of OPcache because of ``entry``?"""
    return entry_regex(entry).match(script_path) is not None


def glob_matches(pattern, path):
    """glob(3) semantics (no brace expansion): does ``pattern`` name ``path``?

    ``*`` and ``?`` do not cross ``/``; a leading ``.`` in a name must be matched
    explicitly.
    """
    if not pattern or not path:
        return False
    pattern_parts = posixpath.normpath(pattern).split("/")
    path_parts = posixpath.normpath(path).split("/")
    if len(pattern_parts) != len(path_parts):
        return False
    for pat, name in zip(pattern_parts, path_parts):
        if name.startswith(".") and not pat.startswith("."):
            return False
        if not fnmatch.fnmatchcase(name, pat):
            return False
    return True


def path_for_glob(pattern, stem="opcache-fleet"):
    """A file name that ``pattern`` (opcache.blacklist_filename) matches, for our entries.

    A plain path is used as is; ``/etc/php.d/opcache*.blacklist`` gives
    ``/etc/php.d/opcache-fleet.blacklist``; ``/etc/bl/*.blacklist`` gives
    ``/etc/bl/opcache-fleet.blacklist``. None when no sensible name exists (wildcards in
    the directory part, character classes).
    """
    if not pattern or not pattern.startswith("/"):
        return None
    directory, base = posixpath.split(pattern)
    if any(c in directory for c in "*?["):
        return None
    if not any(c in base for c in "*?["):
        return pattern
    if "[" in base:
        return None
    if base.startswith("*"):
        name = stem + base[1:]
    else:
        name = base.replace("*", "-" + stem.split("-")[-1], 1)
    name = name.replace("*", "").replace("?", "x")
    candidate = posixpath.join(directory, name)
    return candidate if glob_matches(pattern, candidate) else None
