# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.figures: the numbers people read are rounded, booleans are words (issue 14);
report.json keeps the raw values (test_render_scale.py)."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.report.figures import (
    mib, opcache_summary, percent, setting_text, stale_counts_text, yes_no,
)


@pytest.mark.parametrize("value,expected", [
    (79.78260869565217, "79.8 %"), (100, "100.0 %"), (0, "0.0 %"), ("46.715", "46.7 %"),
    (None, "-"), ("n/a", "-"), (True, "-"),
])
def test_percent_has_one_decimal(value, expected):
    assert percent(value) == expected


@pytest.mark.parametrize("value,expected", [
    (9391808, "9.0 MiB"), (134217728, "128.0 MiB"), (0, "0.0 MiB"), (1073741823, "1024.0 MiB"),
    (1073741824, "1.0 GiB"), (3 * 1024 ** 3 + 512 * 1024 ** 2, "3.5 GiB"), (None, "-"), ("x", "-"),
])
def test_mib_has_one_decimal_and_goes_to_gib(value, expected):
    assert mib(value) == expected


def test_yes_no():
    assert [yes_no(v) for v in (True, False, None, 1, 0)] == ["yes", "no", "unknown", "yes", "no"]


@pytest.mark.parametrize("directive,value,expected", [
    ("opcache.validate_timestamps", "0", "validate_timestamps off"),
    ("opcache.enable", "On", "enable on"),
    ("opcache.enable_cli", False, "enable_cli off"),
    ("opcache.save_comments", "maybe", "save_comments maybe"),   # not a PHP boolean: as written
    ("opcache.memory_consumption", "128", "memory_consumption 128 MiB"),
    ("opcache.revalidate_freq", "2", "revalidate_freq 2 s"),
    ("opcache.max_wasted_percentage", "5", "max_wasted_percentage 5 %"),
    ("opcache.memory_consumption", "128M", "memory_consumption 128M"),
    ("opcache.jit", "", "jit (empty)"),
    ("opcache.blacklist_filename", "/etc/php.d/opcache*.blacklist", "blacklist_filename /etc/php.d/opcache*.blacklist"),
    ("apc.enabled", "1", "apc.enabled 1"),
])
def test_setting_text_says_on_off_and_units(directive, value, expected):
    assert setting_text(directive, value) == expected


LAB_STATUS = {  # report masters[].opcache of tests/unit/fixtures/diagnose/lab-web2.json, hit rate as in the issue
    "enabled": True, "cache_full": False, "restart_pending": False, "used_memory": 9391808,
    "free_memory": 124825920, "wasted_memory": 0, "num_cached_scripts": 62, "hit_rate": 79.78260869565217,
    "start_time": 1795713054, "last_restart_time": 0, "oom_restarts": 0, "hash_restarts": 0, "manual_restarts": 0,
}


def test_opcache_summary_in_words():
    text = opcache_summary(LAB_STATUS)
    assert text == ("enabled: yes; 62 cached scripts; memory 9.0 MiB used of 128.0 MiB; full: no; hit rate 79.8 %; "
                    "restarts: OOM 0, hash 0, manual 0")
    for raw in ("False", "True", "None", "79.78", "full="):
        assert raw not in text


def test_opcache_summary_of_a_full_cache_with_a_pending_restart_and_missing_figures():
    text = opcache_summary(dict(LAB_STATUS, cache_full=True, restart_pending=True, wasted_memory=2097152,
                                free_memory=0))
    assert "full: yes" in text and "restart pending: yes" in text
    assert "memory 9.0 MiB used of 11.0 MiB, 2.0 MiB wasted" in text
    assert opcache_summary({}) == ("enabled: unknown; - cached scripts; memory -; full: unknown; hit rate -; "
                                   "restarts: OOM 0, hash 0, manual 0")


def test_stale_counts_text():
    assert stale_counts_text({"fresh": 61, "possible": 1, "certain": 0, "unknown": 0, "odd": "2"}) == \
        "certain 0, possible 1, fresh 61, unknown 0, odd 2"
    assert stale_counts_text(None) == "-" and stale_counts_text({}) == "-"
