# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a PHP binary says about itself: ``php-fpm -v`` and ``php-fpm -i``, how to run it
with a master's ini options, and the guesses used when it cannot be run.

Private to opcache-fleet. Standard library only, Python 3.8+. The one parser of
``php -i`` output: the fleet-wide discovery (``discovery/masters.py``) and the
``opcache_ini``/``opcache_blacklist`` fallback (``ini/target.py``) both read it here.
"""
from __future__ import absolute_import, division, print_function

import os
import re

__metaclass__ = type

# "PHP 8.2.7-1+deb12u1 (fpm-fcgi) (built: ...)": the whole version token, its release
# number, and the SAPI in parentheses (absent in some builds' first line).
_VERSION_RE = re.compile(r"^PHP (\d+\.\d+\.\d+)(\S*)(?: \(([^)]*)\))?", re.M)
_TAG_RE = re.compile(r"<[^>]+>")
# phpinfo() as HTML (php-fpm/cgi print HTML unless the SAPI asks for text): a row is
# <tr><td class="e">KEY </td><td class="v">VALUE </td>...</tr>
_CELL_BREAK_RE = re.compile(r"</td>\s*<td[^>]*>")


def parse_php_v_output(text):
    """``php -v`` -> ``{version, release, sapi}`` or None.

    ``version`` is the whole token (``8.2.7-1+deb12u1``), ``release`` the number
    (``8.2.7``), ``sapi`` the name in parentheses after it (``fpm-fcgi``) or None.
    """
    match = _VERSION_RE.search(text or "")
    if not match:
        return None
    return {"version": match.group(1) + match.group(2), "release": match.group(1),
            "sapi": match.group(3)}


def _as_text(text):
    """phpinfo() HTML -> the text layout (``key => value`` lines); text is kept as is."""
    if "<td" not in text:
        return text
    text = _CELL_BREAK_RE.sub(" => ", text)
    return _TAG_RE.sub(" ", text).replace("&nbsp;", " ")


def parse_php_info(text):
    """``php-fpm -i`` (text or HTML phpinfo) -> ini locations, configure paths, opcache.

    Keys: ``php_ini`` (loaded php.ini or None), ``ini_path``, ``scan_dir`` (as printed,
    ``:``-separated, or None), ``scan_dirs`` (that list split, empty elements dropped),
    ``files`` (Additional .ini files parsed; None when the line is missing),
    ``additional`` (the same, [] when missing), ``configure_prefix``,
    ``localstatedir``, ``version``, ``opcache`` ({directive: local value}).
    """
    info = {"php_ini": None, "ini_path": None, "scan_dir": None, "files": None,
            "configure_prefix": None, "localstatedir": None, "version": None, "opcache": {}}
    lines = _as_text(text or "").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        key, sep, value = line.partition(" => ")
        key = key.strip()
        value = value.strip()
        if not sep:
            i += 1
            continue
        if key == "Loaded Configuration File":
            info["php_ini"] = None if value == "(none)" else value
        elif key == "Configuration File (php.ini) Path":
            info["ini_path"] = value
        elif key == "Scan this dir for additional .ini files":
            info["scan_dir"] = None if value == "(none)" else value
        elif key == "Additional .ini files parsed":
            # the list goes on over the next lines while a line ends with ","
            collected = value
            while collected.endswith(",") and i + 1 < len(lines):
                i += 1
                collected += lines[i].strip()
            info["files"] = [] if collected == "(none)" else [
                f.strip() for f in collected.split(",") if f.strip()]
        elif key == "Configure Command":
            m = re.search(r"'--prefix=([^']+)'", value)
            if m:
                info["configure_prefix"] = m.group(1)
            m = re.search(r"'--localstatedir=([^']+)'", value)
            if m:
                info["localstatedir"] = m.group(1)
        elif key == "PHP Version" and info["version"] is None:
            info["version"] = value
        elif key.startswith("opcache.") and " => " in value:
            info["opcache"][key] = value.split(" => ", 1)[1].strip()
        i += 1
    info["scan_dirs"] = [d for d in (info["scan_dir"] or "").split(os.pathsep) if d]
    info["additional"] = list(info["files"] or [])
    return info


def php_command(binary, opts, extra):
    """argv to run a php-fpm binary with the same ini options as a master."""
    argv = [binary]
    if opts.get("no_ini"):
        argv.append("-n")
    elif opts.get("php_ini"):
        argv.extend(["-c", opts["php_ini"]])
    for name in sorted(opts.get("defines", {})):
        argv.extend(["-d", "%s=%s" % (name, opts["defines"][name])])
    argv.extend(extra)
    return argv


# ---------------------------------------------------------------------------------------
# when the binary cannot be asked (deleted, in a container, -i failing)


def ini_from_location(fs, location):
    """php.ini a ``-c`` value or PHPRC points to: the file, or in a directory
    ``php-fpm-fcgi.ini`` then ``php.ini`` (PHP's own search order for the fpm SAPI)."""
    if not location:
        return None
    if fs.is_dir(location):
        for name in ("php-fpm-fcgi.ini", "php.ini"):
            candidate = location.rstrip("/") + "/" + name
            if fs.is_file(candidate):
                return candidate
        return None
    return location


def guess_php_prefix(binary):
    """Compiled PHP prefix from the binary location: /usr/sbin/php-fpm -> /usr."""
    if not binary:
        return "/usr"
    directory = os.path.dirname(binary)
    if os.path.basename(directory) in ("sbin", "bin"):
        return os.path.dirname(directory) or "/"
    return "/usr"


def guess_localstatedir(binary):
    """Compiled localstatedir: Remi SCL builds use /var/opt/remi/phpNN, others /var."""
    m = re.match(r"^/opt/remi/(php\d+)/root/", binary or "")
    if m:
        return "/var/opt/remi/%s" % m.group(1)
    return "/var"
