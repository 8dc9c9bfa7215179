"""The Redis cache reads back only pickles of the app's own classes and plain types: a
value planted in Redis that names any other callable is refused, not run."""

import datetime
import os
import pickle

import pytest
from django.core.cache.backends.redis import RedisSerializer

from appointments import selectors
from core.cache import FailSafeRedisCache, RestrictedPickleSerializer


class Boom:
    def __reduce__(self):
        return (os.system, ("echo planted > /dev/null",))


def test_the_apps_own_values_round_trip():
    serializer = RestrictedPickleSerializer()
    value = {
        "when": datetime.datetime(2030, 1, 7, 9, tzinfo=datetime.UTC),
        "day": datetime.date(2030, 1, 7),
        "ids": {1, 2},
        "open": [7, 8.5, "x", None, (1, 2)],
    }
    assert serializer.loads(serializer.dumps(value)) == value
    assert serializer.loads(serializer.dumps(5)) == 5


def test_a_planted_pickle_naming_another_callable_is_refused():
    planted = RedisSerializer().dumps(Boom())
    with pytest.raises(pickle.UnpicklingError, match="os|posix|system"):
        RestrictedPickleSerializer().loads(planted)


@pytest.mark.redis
def test_the_availability_snapshot_survives_the_real_cache(redis_url, make_office):
    cache = FailSafeRedisCache(
        redis_url,
        {
            "KEY_PREFIX": "test-serializer",
            "OPTIONS": {"serializer": "core.cache.RestrictedPickleSerializer"},
        },
    )
    make_office()
    snapshot = selectors.availability(now=datetime.datetime(2030, 1, 6, 10, tzinfo=datetime.UTC))
    cache.set("snapshot", snapshot, 30)
    assert cache.get("snapshot") == snapshot
    cache.set("planted", Boom(), 30)
    with pytest.raises(pickle.UnpicklingError):
        cache.get("planted")
    cache.clear()
