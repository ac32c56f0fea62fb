# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the opcache_config Molecule scenario (verify.yml): compare snapshots."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def files_diff(before, after):
    """{changed, added, removed}: paths whose sha256 differs, that appeared, that went."""
    before, after = before or {}, after or {}
    return {
        "changed": sorted(p for p in after if p in before and after[p] != before[p]),
        "added": sorted(p for p in after if p not in before),
        "removed": sorted(p for p in before if p not in after),
    }


def files_touched(before, after):
    """Every path that changed, appeared or went."""
    diff = files_diff(before, after)
    return sorted(diff["changed"] + diff["added"] + diff["removed"])


def count_of(text, needle):
    """How many times needle occurs in text."""
    return (text or "").count(needle)


def opcache_run_summary(result):
    """{rc, out, seconds} of one async ansible-playbook run (stdout and stderr together:
    ansible-core 2.19 prints failures on stderr)."""
    return {"rc": result.get("rc"), "out": "%s\n%s" % (result.get("stdout", ""), result.get("stderr", "")),
            "seconds": result.get("delta")}


class FilterModule(object):
    def filters(self):
        return {"files_diff": files_diff, "files_touched": files_touched, "count_of": count_of,
                "opcache_run_summary": opcache_run_summary}
