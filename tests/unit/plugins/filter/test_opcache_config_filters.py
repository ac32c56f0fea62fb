# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the opcache_config role's read-back filters."""
from ansible_collections.phpfpm.opcache_fleet.plugins.filter import opcache_config as filters


def test_readback_matches_php_types():
    wanted = {"opcache.memory_consumption": "256", "opcache.enable": "1", "opcache.validate_timestamps": "0",
              "opcache.jit_buffer_size": "64M", "opcache.optimization_level": "0x7FFEBFFF",
              "opcache.blacklist_filename": "/etc/php.d/opcache*.blacklist", "opcache.max_wasted_percentage": "5",
              "opcache.jit": "tracing", "opcache.fast_shutdown": None}
    reported = {"opcache.memory_consumption": 268435456, "opcache.enable": True,
                "opcache.validate_timestamps": False, "opcache.jit_buffer_size": 67108864,
                "opcache.optimization_level": 0x7FFEBFFF, "opcache.blacklist_filename": "/etc/php.d/opcache*.blacklist",
                "opcache.max_wasted_percentage": 5.0, "opcache.jit": "tracing"}
    assert filters.opcache_readback_mismatches(wanted, reported) == []


def test_readback_reports_differences():
    out = filters.opcache_readback_mismatches({"opcache.memory_consumption": "256", "opcache.enable": "1"},
                                              {"opcache.memory_consumption": 134217728})
    assert [m["name"] for m in out] == ["opcache.enable", "opcache.memory_consumption"]


def test_pick_master():
    masters = [{"config": "/a"}, {"config": "/b", "x": 1}]
    assert filters.opcache_pick_master(masters, "/b") == {"config": "/b", "x": 1}
    assert filters.opcache_pick_master(masters, "/c") == {}


def _status(config, start):
    return {"config": config, "status": {"opcache_statistics": {"start_time": start}}}


def test_not_restarted_compares_each_master_with_its_own_start():
    reference = [_status("/a", 100), _status("/b", 101)]
    # /a reloaded (new start), /b not yet; /b's old start equal to /a's new one must not hide /a
    after = [_status("/a", 101), _status("/b", 101)]
    assert filters.opcache_not_restarted(after, reference) == ["/b"]
    assert filters.opcache_not_restarted([_status("/a", 102), _status("/b", 102)], reference) == []


def test_not_restarted_unknown_start_and_new_master():
    assert filters.opcache_not_restarted([{"config": "/a", "status": {}}], [_status("/a", 1)]) == ["/a"]
    assert filters.opcache_not_restarted([_status("/c", 5)], [_status("/a", 5)]) == []


def test_sha256sum_map_parses_text_and_binary_mode_and_skips_noise():
    a, b = "a" * 64, "b" * 64
    text = "%s  /etc/php.d/zz-opcache-fleet.ini\n%s */etc/php.d/opcache fleet.blacklist\n" \
           "sha256sum: /etc/x: No such file or directory\n\\%s  /etc/odd\\nname\n" % (a, b, a)
    expected = {"/etc/php.d/zz-opcache-fleet.ini": a, "/etc/php.d/opcache fleet.blacklist": b}
    assert filters.opcache_sha256sum_map(text) == expected
    assert filters.opcache_sha256sum_map("") == {}


# php-fpm8.2 -t on the lab (RHEL layout) with a broken line in zz-opcache-fleet.ini: exit 0
BROKEN_INI_TEST = ("PHP:  syntax error, unexpected '=' in /etc/php.d/zz-opcache-fleet.ini on line 3\n"
                   "[26-Nov-2026 17:14:56] NOTICE: configuration file /etc/php-fpm.conf test is successful\n")


def test_php_messages_finds_ini_errors_php_fpm_accepts():
    assert filters.opcache_php_messages(BROKEN_INI_TEST) == [
        "PHP:  syntax error, unexpected '=' in /etc/php.d/zz-opcache-fleet.ini on line 3"]
    ok = "[26-Nov-2026 17:14:56] NOTICE: configuration file /etc/php-fpm.conf test is successful\n"
    assert filters.opcache_php_messages(ok) == []


def test_php_messages_leaves_out_those_printed_before_the_change():
    old = 'PHP Warning:  Module "opcache" is already loaded in Unknown on line 0\n'
    assert filters.opcache_php_messages(old + BROKEN_INI_TEST, baseline=old) == [
        "PHP:  syntax error, unexpected '=' in /etc/php.d/zz-opcache-fleet.ini on line 3"]
    assert filters.opcache_php_messages(old, baseline=old) == []
