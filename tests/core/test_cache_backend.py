"""core.cache.ReusingRedisCache against a real Redis."""

import pytest

from core.cache import ReusingRedisCache


@pytest.mark.redis
def test_reusing_redis_cache_works_and_keeps_one_client(redis_url):
    cache = ReusingRedisCache(redis_url, {"KEY_PREFIX": "test-reuse"})
    cache.clear()
    cache.set("a", {"x": 1}, 30)
    cache.set_many({"b": 2, "c": 3}, 30)
    assert cache.get("a") == {"x": 1}
    assert cache.get_many(["a", "b", "c", "missing"]) == {"a": {"x": 1}, "b": 2, "c": 3}
    cache.delete_many(["a", "b"])
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    cache.clear()


def test_unreachable_redis_is_a_quick_miss_for_the_booking_flags(settings):
    import time

    from django.core.cache import caches

    from appointments import cache as availability_cache

    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    assert isinstance(caches["default"], ReusingRedisCache)  # rebuilt for the new settings
    started = time.monotonic()
    assert availability_cache.sold_out_state(1) == (False, None)
    availability_cache.mark_full(1)  # logged, not raised
    availability_cache.invalidate()
    assert availability_cache.get() is None
    assert time.monotonic() - started < 10  # liveness: no long retry loop
