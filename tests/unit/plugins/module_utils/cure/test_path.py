# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opcache-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cure/path.py: the settings read first decide the ladder."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.cure.path import advice, cure_settings, plan_path

STATUS = {"opcache_enabled": True, "jit": {"enabled": True, "on": False, "buffer_size": 0}}


def steps(plan, skipped=False):
    return [e["step"] for e in plan if bool(e.get("skipped")) == skipped]


def test_plain_master_gets_the_whole_ladder_without_purge():
    settings = cure_settings({"opcache.enable": True, "opcache.preload": "", "opcache.file_cache": ""}, STATUS)
    plan = plan_path(settings)
    assert steps(plan) == ["stale", "full", "reload", "restart"]
    assert not any(e["purge_file_cache"] for e in plan)


def test_preload_skips_the_full_reset_only():
    settings = cure_settings({"opcache.preload": "/srv/app/preload.php"}, STATUS)
    plan = plan_path(settings)
    assert steps(plan) == ["stale", "reload", "restart"]
    assert steps(plan, skipped=True) == ["full"]
    assert "preload" in plan[1]["skipped"]


def test_file_cache_is_purged_from_the_full_reset_on():
    settings = cure_settings({"opcache.file_cache": "/var/cache/opcache"}, STATUS)
    plan = plan_path(settings)
    assert [e["step"] for e in plan if e["purge_file_cache"]] == ["full", "reload", "restart"]


def test_file_cache_only_has_no_shared_memory_to_reset():
    settings = cure_settings({"opcache.file_cache": "/var/cache/opcache", "opcache.file_cache_only": "1"}, STATUS)
    assert steps(plan_path(settings)) == ["stale", "reload", "restart"]


def test_opcache_disabled_leaves_reload_and_restart():
    settings = cure_settings({"opcache.enable": False}, None)
    assert steps(plan_path(settings)) == ["reload", "restart"]


def test_steps_are_climbed_in_ladder_order_whatever_order_given():
    settings = cure_settings({}, STATUS)
    assert steps(plan_path(settings, ["reload", "stale"])) == ["stale", "reload"]
    with pytest.raises(ValueError):
        plan_path(settings, ["stale", "reboot"])


@pytest.mark.parametrize("directives,status,active", [
    ({"opcache.jit": "tracing", "opcache.jit_buffer_size": "64M"}, {"jit": {"on": True}}, True),
    ({"opcache.jit": "tracing", "opcache.jit_buffer_size": "64M"}, {"jit": {"on": False}}, False),
    # no jit section (PHP 7): the directives decide
    ({"opcache.jit": "tracing", "opcache.jit_buffer_size": "64M"}, {"opcache_enabled": True}, True),
    ({"opcache.jit": "disable", "opcache.jit_buffer_size": "64M"}, {"opcache_enabled": True}, False),
    ({"opcache.jit": "tracing", "opcache.jit_buffer_size": 0}, {"opcache_enabled": True}, False),
])
def test_jit_active(directives, status, active):
    assert cure_settings(directives, status)["jit_active"] is active


def test_advice_names_the_jit_and_the_skipped_steps():
    settings = cure_settings({"opcache.jit": "tracing", "opcache.jit_buffer_size": "64M",
                              "opcache.preload": "/p.php"}, {"jit": {"on": True}})
    text = " ".join(advice(settings, plan_path(settings)))
    assert "opcache.jit=tracing" in text and "full (opcache.preload" in text
    plain = cure_settings({}, STATUS)
    assert "JIT" not in " ".join(advice(plain, plan_path(plain)))


def test_a_pool_without_opcache_status_counts_as_disabled_whatever_the_directive():
    # opcache_get_status() is false in a pool with opcache.enable=0 set per pool
    assert cure_settings({"opcache.enable": True}, None)["enabled"] is False


def test_a_jit_section_without_on_leaves_the_directives_to_decide():
    settings = cure_settings({"opcache.jit": "tracing", "opcache.jit_buffer_size": "64M"}, {"jit": {"enabled": True}})
    assert settings["jit_active"] is True
