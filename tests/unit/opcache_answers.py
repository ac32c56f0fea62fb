# SPDX-License-Identifier: GPL-3.0-or-later
"""opcache_get_status() answers as the helper returns them, for the opcache unit tests."""


def stats(**kw):
    """A status answer; ``kw`` overrides figures of ``opcache_statistics``."""
    base = {"num_cached_scripts": 3, "hits": 10, "misses": 3, "start_time": 1000, "last_restart_time": 0,
            "manual_restarts": 0, "oom_restarts": 0, "hash_restarts": 0, "opcache_hit_rate": 76.9}
    base.update(kw)
    return {"opcache_enabled": True, "cache_full": False, "restart_pending": False,
            "restart_in_progress": False, "memory_usage": {"used_memory": 1}, "interned_strings_usage": {},
            "opcache_statistics": base}
