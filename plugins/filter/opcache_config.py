# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side filters of the opcache_config role, called by FQCN
(``phpfpm.opcache_fleet.opcache_pick_master`` ...). Standard library only.

opcache_readback_mismatches(wanted, reported): compare directives as written (normalised
text from opcache_ini) with opcache_get_configuration() values (typed, some in bytes).
opcache_not_restarted(masters, reference): masters whose OPcache start_time did not change.
opcache_pick_master(masters, config): the entry of one master.
opcache_sha256sum_map(text): {path: sha256} from sha256sum output.
opcache_php_messages(text, baseline): PHP's ini errors in php-fpm -t output, new ones only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_MB = ("opcache.memory_consumption",)
_SIZES = ("opcache.jit_buffer_size", "opcache.max_file_size")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def _size(text):
    text = str(text).strip().upper()
    if text and text[-1] in "KMG":
        return int(text[:-1]) * _UNITS[text[-1]]
    return int(text)


def _same(name, wanted, reported):
    if reported is None:
        return False
    if isinstance(reported, bool):
        return reported == (str(wanted) in ("1", "true", "on", "yes"))
    try:
        if name in _MB:
            return int(reported) == int(wanted) * 1024 * 1024
        if name in _SIZES:
            return int(reported) == _size(wanted)
        if isinstance(reported, (int, float)):
            text = str(wanted)
            number = int(text, 16) if text.lower().startswith("0x") else float(text)
            return abs(float(reported) - number) < 1e-9
    except ValueError:
        return False
    return str(reported) == str(wanted)


def opcache_readback_mismatches(wanted, reported):
    """[{name, wanted, reported}] for every directive PHP does not report as wanted."""
    out = []
    for name, value in sorted((wanted or {}).items()):
        if value is None:
            continue
        got = (reported or {}).get(name)
        if not _same(name, value, got):
            out.append({"name": name, "wanted": value, "reported": got})
    return out


_PHP_MESSAGE_PREFIXES = ("PHP:", "PHP Warning", "PHP Fatal error", "PHP Parse error")


def opcache_php_messages(text, baseline=None):
    """Lines of ``php-fpm -t`` output in which PHP reports a broken ini (an ini syntax error,
    a startup warning or fatal error; php-fpm still exits 0), leaving out those already in
    ``baseline`` (the output of the same test before the change)."""
    known = set(opcache_php_messages(baseline)) if baseline else set()
    return [line.strip() for line in (text or "").splitlines()
            if line.strip().startswith(_PHP_MESSAGE_PREFIXES) and line.strip() not in known]


def opcache_sha256sum_map(text):
    """{path: sha256} from ``sha256sum -- FILES`` output (missing files are not listed)."""
    out = {}
    for line in (text or "").splitlines():
        digest, sep, path = line.partition(" ")
        if not sep or len(digest) != 64 or digest.startswith("\\"):
            continue  # not a checksum line, or a name sha256sum had to escape
        out[path[1:] if path[:1] in (" ", "*") else path] = digest
    return out


def _start_time(master):
    return ((master.get("status") or {}).get("opcache_statistics") or {}).get("start_time")


def opcache_not_restarted(masters, reference):
    """Configs of ``masters`` (opcache_status) whose OPcache start_time is still the one in
    ``reference`` (an earlier opcache_status result for the same masters), i.e. not reloaded
    yet. Masters absent from ``reference`` count as reloaded."""
    before = dict((m.get("config"), _start_time(m)) for m in reference or [])
    out = []
    for master in masters or []:
        config = master.get("config")
        start = _start_time(master)
        if start is None or (config in before and before[config] == start):
            out.append(config)
    return out


def opcache_pick_master(masters, config):
    """The entry of a masters list (fpm_discover / opcache_status) with this config."""
    for master in masters or []:
        if master.get("config") == config:
            return master
    return {}


class FilterModule(object):
    def filters(self):
        return {
            "opcache_readback_mismatches": opcache_readback_mismatches,
            "opcache_pick_master": opcache_pick_master,
            "opcache_not_restarted": opcache_not_restarted,
            "opcache_sha256sum_map": opcache_sha256sum_map,
            "opcache_php_messages": opcache_php_messages,
        }
