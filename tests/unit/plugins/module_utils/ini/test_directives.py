# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the OPcache directive table and validate()."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini import directives as od
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.ini.directives import DirectiveError, validate, validate_many


def err(name, value, version, platform="linux"):
    with pytest.raises(DirectiveError) as info:
        validate(name, value, version, platform=platform)
    return info.value


def test_fast_shutdown_on_82_names_removal_and_replacement():
    e = err("opcache.fast_shutdown", "1", "8.2.7")
    assert e.reason == "removed"
    assert "removed in PHP 7.2" in e.message
    assert "fast shutdown sequence was integrated into PHP" in e.message


def test_fast_shutdown_exists_on_71():
    assert validate("opcache.fast_shutdown", "On", "7.1").value == "1"


@pytest.mark.parametrize("name,removed,version", [
    ("opcache.load_comments", "7.0", "7.0"),
    ("opcache.inherited_hack", "7.3", "7.4"),
    ("opcache.consistency_checks", "8.3", "8.3.0"),
])
def test_removed_directives(name, removed, version):
    e = err(name, "1", version)
    assert "removed in PHP %s" % removed in e.message


def test_consistency_checks_still_exists_on_82():
    assert validate("opcache.consistency_checks", "0", "8.2").value == "0"


@pytest.mark.parametrize("name,value,version,since", [
    ("opcache.file_cache", "/var/cache/opcache", "5.6", "7.0"),
    ("opcache.preload", "/srv/preload.php", "7.3", "7.4"),
    ("opcache.jit", "tracing", "7.4", "8.0"),
    ("opcache.record_warnings", "1", "7.4", "8.0"),
    ("opcache.opt_debug_level", "0", "7.0", "7.1"),
    ("opcache.validate_root", "1", "7.0.13", "7.0.14"),
    ("opcache.jit_max_trace_length", "512", "8.2", "8.3"),
])
def test_not_yet(name, value, version, since):
    e = err(name, value, version)
    assert e.reason == "not_yet"
    assert "added in PHP %s" % since in e.message


def test_patchless_version_gets_benefit_of_doubt():
    assert validate("opcache.validate_root", "1", "7.0").value == "1"


def test_unknown_suggests():
    e = err("opcache.memory_consumpton", "128", "8.2")
    assert e.reason == "unknown"
    assert "did you mean opcache.memory_consumption" in e.message


def test_unknown_non_opcache_name():
    e = err("memory_limit.x", "1", "8.2")
    assert "only opcache.* directives" in e.message


def test_prefix_optional():
    assert validate("memory_consumption", "256", "8.2").name == "opcache.memory_consumption"


@pytest.mark.parametrize("value,expected", [
    ("On", "1"), ("off", "0"), ("YES", "1"), ("no", "0"), ("true", "1"), ("False", "0"),
    ("1", "1"), ("0", "0"), (True, "1"), (False, "0"), (1, "1"), (0, "0"), ("", "0"),
])
def test_bool_forms(value, expected):
    assert validate("opcache.validate_timestamps", value, "8.2").value == expected


def test_bool_rejects_garbage():
    e = err("opcache.enable", "enabled", "8.2")
    assert e.reason == "type" and "On/Off" in e.message


def test_memory_consumption_bounds_and_suffix():
    assert validate("opcache.memory_consumption", 256, "8.2").value == "256"
    e = err("opcache.memory_consumption", "4", "8.2")
    assert e.reason == "range" and "at least 8 MB" in e.message
    e = err("opcache.memory_consumption", "1G", "8.2")
    assert e.reason == "type" and "misread" in e.message


def test_interned_strings_bounds_change_in_84():
    err("opcache.interned_strings_buffer", "8192", "8.3")
    assert validate("opcache.interned_strings_buffer", "8192", "8.4").value == "8192"
    e = err("opcache.interned_strings_buffer", "40000", "8.4")
    assert "between 0 and 32767" in e.message


def test_max_accelerated_files_bounds_and_prime_note():
    checked = validate("opcache.max_accelerated_files", "20000", "8.2")
    assert checked.value == "20000"
    assert any("32531" in n for n in checked.notes)
    assert "between 200 and 1000000" in err("opcache.max_accelerated_files", "100", "8.2").message
    assert "between 200 and 100000" in err("opcache.max_accelerated_files", "200000", "5.5.0").message


def test_max_wasted_percentage():
    assert "between 1 and 50" in err("opcache.max_wasted_percentage", "0", "8.2").message
    assert validate("opcache.max_wasted_percentage", "10", "8.2").value == "10"


def test_sizes():
    assert validate("opcache.jit_buffer_size", "64m", "8.2").value == "64M"
    assert validate("opcache.jit_buffer_size", "67108864", "8.2").value == "64M"
    assert validate("opcache.max_file_size", "0", "8.2").value == "0"
    assert err("opcache.jit_buffer_size", "lots", "8.2").reason == "type"


def test_bitmask():
    assert validate("opcache.optimization_level", "0x7ffebfff", "8.2").value == "0x7FFEBFFF"
    assert validate("opcache.optimization_level", "0", "8.2").value == "0"
    assert err("opcache.optimization_level", "all", "8.2").reason == "type"


def test_float():
    assert validate("opcache.jit_prof_threshold", "0.005", "8.2").value == "0.005"
    assert err("opcache.jit_prof_threshold", "2", "8.2").reason == "range"
    assert err("opcache.jit_prof_threshold", "x", "8.2").reason == "type"


def test_paths():
    assert validate("opcache.file_cache", "/var/cache/opcache/", "8.2").value == "/var/cache/opcache"
    assert validate("opcache.error_log", "", "8.2").value == ""
    assert "not an absolute path" in err("opcache.file_cache", "cache", "8.2").message
    assert "whitespace" in err("opcache.blacklist_filename", " /etc/x", "8.2").message
    assert "$" in err("opcache.preload", "/srv/${X}.php", "8.2").message
    assert err("opcache.lockfile_path", "", "8.2").reason == "type"


def test_jit_modes():
    checked = validate("opcache.jit", "Tracing", "8.2")
    assert checked.value == "tracing" and any("jit_buffer_size" in n for n in checked.notes)
    assert validate("opcache.jit", "1254", "8.4").notes == []
    assert err("opcache.jit", "1294", "8.2").reason == "range"
    assert err("opcache.jit", "fast", "8.2").reason == "type"
    assert err("opcache.jit", True, "8.2").reason == "type"


def test_jit_counters():
    assert err("opcache.jit_hot_loop", "256", "8.2").reason == "range"
    assert err("opcache.jit_max_recursive_returns", "4", "8.2").reason == "range"


def test_enum_and_user():
    assert validate("opcache.preferred_memory_model", "MMAP", "8.2").value == "mmap"
    assert err("opcache.preferred_memory_model", "disk", "8.2").reason == "type"
    assert validate("opcache.preload_user", "www-data", "8.2").value == "www-data"
    assert err("opcache.preload_user", "www data", "8.2").reason == "type"


def test_platform():
    assert err("opcache.mmap_base", "0x20000000", "8.2").reason == "platform"
    assert err("opcache.cache_id", "x", "8.2").reason == "platform"
    assert validate("opcache.cache_id", "x", "8.2", platform="windows").value == "x"
    assert err("opcache.lockfile_path", "/tmp", "8.2", platform="windows").reason == "platform"


def test_string_rejects_quote():
    assert err("opcache.mmap_base", 'a"b', "8.2", platform="windows").reason == "type"


def test_validate_many_collects_all_errors():
    normalized, warnings, errors = validate_many(
        {"opcache.fast_shutdown": 1, "opcache.memory_consumption": "x", "bogus": 1}, "8.2")
    assert len(errors) == 3 and normalized == {}


def test_validate_many_warn_on_removed():
    normalized, warnings, errors = validate_many({"opcache.fast_shutdown": "yes"}, "8.2", on_removed="warn")
    assert errors == [] and normalized == {"opcache.fast_shutdown": "1"}
    assert "removed in PHP 7.2" in warnings[0]


def test_validate_many_for_removal_accepts_removed_rejects_unknown():
    normalized, _w, errors = validate_many({"opcache.fast_shutdown": None, "nope": None}, "8.2",
                                           for_removal=True)
    assert normalized == {"opcache.fast_shutdown": None}
    assert "unknown" in errors[0]


def test_validate_many_duplicate_and_bad_version():
    _n, _w, errors = validate_many({"enable": 1, "opcache.enable": 1}, "8.2")
    assert "given twice" in errors[0]
    _n, _w, errors = validate_many({"enable": 1}, "latest")
    assert "php_version" in errors[0]


def test_validate_many_out_of_table_version_warns():
    normalized, warnings, errors = validate_many({"opcache.enable": 1}, "8.5.0")
    assert not errors and "outside the directive table" in warnings[0]


def test_cross_check_interned_vs_memory():
    _n, warnings, _e = validate_many({"opcache.memory_consumption": 64,
                                      "opcache.interned_strings_buffer": 64}, "8.2")
    assert any("no room" in w for w in warnings)


def test_normalize_existing():
    assert od.normalize_existing("opcache.enable", "On", "8.2") == "1"
    assert od.normalize_existing("opcache.jit_buffer_size", "67108864", "8.2") == "64M"
    assert od.normalize_existing("opcache.memory_consumption", "garbage", "8.2") is None
    assert od.normalize_existing("opcache.fast_shutdown", "1", "8.2") == "1"


# --- issue 11, finding 9: values the ini syntax cannot hold in double quotes -------------

@pytest.mark.parametrize("name,value,platform", [
    ("opcache.error_log", "/var/log/php\\", "linux"),         # "...\" escapes the closing quote
    ("opcache.file_cache", "/var/cache/op\\\\", "linux"),     # trailing \ after a dir's / is cut
    ("opcache.preload", "/srv/a\\\\b.php", "linux"),           # PHP reads \\ as \
    ("opcache.restrict_api", "/srv/a\\$b", "linux"),
    ("opcache.mmap_base", "0x20000000\\", "windows"),         # the string kind
    ("opcache.cache_id", "a\\\\b", "windows"),
])
def test_backslash_php_would_misread_is_refused(name, value, platform):
    e = err(name, value, "8.2", platform=platform)
    assert e.reason == "type" and name in e.message and repr(value) in e.message
    assert "backslash" in e.message or "$" in e.message


def test_backslash_php_keeps_is_accepted():
    # "C:\php\logs\err.log": \p \l \e are not escapes for PHP, the backslashes stay
    assert validate("opcache.error_log", "C:\\php\\logs\\err.log", "8.2").value == "C:\\php\\logs\\err.log"


def test_backslash_left_at_the_end_by_normalising_is_refused():
    # a dir loses its trailing "/", which would leave "\" as the last character
    e = err("opcache.file_cache", "/var/cache/op\\/", "8.2")
    assert "'/var/cache/op\\\\/' (written as '/var/cache/op\\\\')" in e.message and "backslash" in e.message
