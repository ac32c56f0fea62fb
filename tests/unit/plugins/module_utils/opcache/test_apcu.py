# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache/apcu.py: APCu's state per master from the helper's answer, and the clear's proof."""
import pytest

from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.opcache import apcu as a

MIB = 1 << 20
TOTAL = 33554304  # what apcu_sma_info() reports for apc.shm_size=32M (one segment)


def answer(entries=10, free=TOTAL - MIB, largest=None, blocks=1, expunges=0, hits=30, misses=10):
    return {"loaded": True, "version": "5.1.22", "enabled": True,
            "ini": {"apc.shm_size": "32M", "apc.ttl": "0", "apc.bogus": "x", "apc.serializer": ["not", "text"]},
            "cache": {"num_slots": 4099, "ttl": 0, "num_hits": hits, "num_misses": misses, "num_inserts": entries,
                      "num_entries": entries, "expunges": expunges, "start_time": 1796380000,
                      "mem_size": TOTAL - free, "memory_type": "mmap"},
            "sma": {"num_seg": 1, "seg_size": TOTAL, "avail_mem": free, "free_blocks": blocks,
                    "free_in_blocks": free, "largest_free_block": free if largest is None else largest}}


def codes(summary):
    return [f["code"] for f in summary["findings"]]


def test_a_healthy_cache_is_ok_with_its_figures():
    s = a.summarize_apcu(answer())
    assert s["state"] == "ok" and s["findings"] == []
    assert s["memory"] == {"total": TOTAL, "free": TOTAL - MIB, "used": MIB, "free_ratio": round((TOTAL - MIB) / TOTAL, 4)}
    assert s["entries"] == 10 and s["hits"] == 30 and s["fragmentation"] == 0.0
    assert s["settings"] == {"apc.shm_size": "32M", "apc.ttl": "0"}  # known names, text values only


@pytest.mark.parametrize("free, state", [(int(TOTAL * 0.099), "near_full"), (int(TOTAL * 0.101), "ok")])
def test_near_full_under_a_tenth_free(free, state):
    s = a.summarize_apcu(answer(free=free))
    assert s["state"] == state
    if state == "near_full":
        assert codes(s) == ["apcu_near_full"] and "90% full" in s["findings"][0]["text"]


@pytest.mark.parametrize("largest, state", [(4 * MIB, "fragmented"), (6 * MIB, "ok")])
def test_fragmented_when_more_than_half_the_free_memory_is_outside_the_largest_block(largest, state):
    s = a.summarize_apcu(answer(free=10 * MIB, largest=largest, blocks=300))
    assert s["state"] == state
    assert s["fragmentation"] == round(1 - largest / float(10 * MIB), 4)


def test_expunges_are_named_and_near_full_comes_first():
    s = a.summarize_apcu(answer(free=MIB, largest=MIB // 4, blocks=90, expunges=3))
    assert s["state"] == "near_full"
    assert codes(s) == ["apcu_near_full", "apcu_fragmented", "apcu_expunged"]
    assert "3 time(s)" in s["findings"][2]["text"]
    assert a.summarize_apcu(answer(expunges=1))["state"] == "expunged"


@pytest.mark.parametrize("raw, state", [
    ({"loaded": False}, "not_loaded"),
    ({"loaded": "yes"}, "not_loaded"),  # only a real true counts
    ({"loaded": True, "enabled": False, "ini": {"apc.shm_size": "32M"}}, "disabled"),
    ({"loaded": True, "enabled": True}, "unknown"),
    ({"loaded": True, "enabled": True, "cache": [], "sma": "x"}, "unknown"),
    ("garbage", "unknown"),
])
def test_absent_disabled_and_unreadable(raw, state):
    assert a.summarize_apcu(raw)["state"] == state


def test_hostile_figures_do_not_become_numbers():
    raw = answer()
    raw["cache"].update(num_entries=True, expunges="12; rm -rf /", num_hits=float("nan"), num_misses=float("inf"))
    raw["sma"].update(largest_free_block=TOTAL * 2)  # larger than the free memory: not believed
    s = a.summarize_apcu(raw)
    assert s["entries"] is None and s["expunges"] is None and s["hits"] is None and s["misses"] is None
    assert s["fragmentation"] is None and s["state"] == "ok"
    assert a.summarize_apcu(None) is None


def test_clear_verified_by_a_changed_start_time_even_a_smaller_one():
    # what the lab's APCu 5.1.22 answered: time(NULL) at the start, CLOCK_MONOTONIC after a clear
    before = {"start_time": 1796628302, "entries": 1921, "inserts": 1921}
    assert a.clear_verified(before, {"start_time": 1497, "entries": 0, "inserts": 0})
    # traffic refilled it past the old counts before the later request: the start alone tells
    assert a.clear_verified({"start_time": 1796628302, "entries": 5, "inserts": 5},
                            {"start_time": 1497, "entries": 40, "inserts": 40})
    assert a.clear_verified(before, {"start_time": 1796628400, "entries": 5, "inserts": 5})
    assert not a.clear_verified(before, {"start_time": 1796628302, "entries": 1921, "inserts": 1921})
    assert not a.clear_verified(before, {"start_time": None, "entries": 0, "inserts": 0})
    assert not a.clear_verified({"start_time": None}, {"start_time": 1497})


def test_same_start_time_needs_the_counters_started_again():
    before = {"start_time": 1497, "entries": 50, "inserts": 60}
    assert a.clear_verified(before, {"start_time": 1497, "entries": 2, "inserts": 2})
    assert not a.clear_verified(before, {"start_time": 1497, "entries": 2, "inserts": 61})  # not restarted
    assert not a.clear_verified(before, {"start_time": 1497, "entries": 50, "inserts": 2})
    assert not a.clear_verified(before, {"start_time": 1497, "entries": None, "inserts": 2})
