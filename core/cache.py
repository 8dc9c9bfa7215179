"""Django's Redis cache, keeping one redis client per connection pool, failing safe.

Django's RedisCacheClient builds a new ``redis.Redis`` for every cache call, which
costs more than the round trip itself on the hot booking path. A client is
thread-safe (its pool hands out connections), so one per pool is enough.

``FailSafeRedisCache`` (the production cache, see docs/reliability.md "Redis trouble")
turns a Redis that is down or frozen into a cache that is empty and forgets writes:
short socket timeouts bound the first failed call, and for ``RETRY_SECONDS`` after it
this process does not try Redis again, so a frozen Redis costs one timeout per process
and pause, not one per call. The callers then decide: the availability cache
(appointments.cache) reads the database; allauth's rate limits let the request through
(``add`` reports success, so its cache lock does not spin for a second and refuse);
anything that must not run without a working limit, such as sending a text message,
asks ``available()`` first (registration.adapter).

Hand-written rather than django-redis with ``IGNORE_EXCEPTIONS``: there ``add`` returns
None on an outage, which allauth's cache lock reads as "held by someone else": every
login and sign-up would wait a second and then be refused (429); and django-redis would
retry a frozen server on every call.
"""

import functools
import io
import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core import cache as django_cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer

logger = logging.getLogger(__name__)

# The errors of an unreachable, restarting or frozen server. Others (a wrong command, a
# full memory) are bugs or configuration, and still raise.
OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)


# What the cache may hold (docs/security.md, "Redis"): the availability snapshot and open
# windows (the app's own dataclasses of dates, times and numbers), allauth's and ALTCHA's
# counters and markers (numbers, strings, lists). JSON cannot carry the dataclasses back,
# so values stay pickles; but a pickle read from Redis may only name these modules'
# classes. A value planted by whoever reaches Redis cannot name os.system or any other
# callable: it is refused (UnpicklingError) instead of run.
ALLOWED_PICKLE_MODULES = (
    "builtins",
    "copyreg",
    "collections",
    "datetime",
    "decimal",
    "zoneinfo",
    "appointments.",
    "offices.",
    "counter.",
    "registration.",
)
ALLOWED_BUILTINS = {
    "set", "frozenset", "list", "dict", "tuple", "int", "float", "str", "bytes",
    "bool", "complex", "bytearray", "range", "slice", "object",
}  # fmt: skip


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name not in ALLOWED_BUILTINS:
            raise pickle.UnpicklingError(f"the cache may not hold builtins.{name}")
        if module == "copyreg" and name not in {"_reconstructor", "__newobj__"}:
            raise pickle.UnpicklingError(f"the cache may not hold copyreg.{name}")
        if not any(
            module == allowed.rstrip(".") or (allowed.endswith(".") and module.startswith(allowed))
            for allowed in ALLOWED_PICKLE_MODULES
        ):
            raise pickle.UnpicklingError(f"the cache may not hold {module}.{name}")
        return super().find_class(module, name)


class RestrictedPickleSerializer(RedisSerializer):
    """Django's Redis serializer (integers raw, the rest pickled), reading back only
    pickles of the allowed modules (ALLOWED_PICKLE_MODULES)."""

    def loads(self, data: Any) -> Any:
        try:
            return int(data)
        except ValueError:
            return _RestrictedUnpickler(io.BytesIO(data)).load()


class ReusingRedisCacheClient(RedisCacheClient):
    # Django's private attributes used here; django-stubs leaves them out.
    _client: Callable[..., redis.Redis]
    _get_connection_pool: Callable[[bool], redis.ConnectionPool]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: object = None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    _cache: ReusingRedisCacheClient  # Django's (private) client, left out of django-stubs

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient


# When each server (by LOCATION) may be tried again, shared by the threads of a process
# (Django builds one cache object per thread).
_retry_at: dict[str, float] = {}
_retry_lock = threading.Lock()


_Method = Callable[..., Any]


def _fail_safe(fallback: Callable[..., Any]) -> Callable[[_Method], _Method]:
    """Return ``fallback(*args, **kwargs)`` instead of raising while Redis is out."""

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def wrapper(self: "FailSafeRedisCache", *args: Any, **kwargs: Any) -> Any:
            if not self._may_try():
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except OUTAGE_ERRORS as exc:
                self._failed(exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _get_fallback(key: object, default: Any = None, version: object = None) -> Any:
    return default


class FailSafeRedisCache(ReusingRedisCache):
    """A Redis cache that reads as empty and forgets writes while Redis is out.

    ``incr``/``decr`` and ``clear`` still raise: a counter that silently stays put would
    lie, and nothing on a request path uses them.

    OPTIONS ``RETRY_SECONDS`` (default 5): how long after a failure this process goes
    without Redis before trying again. The other OPTIONS go to redis-py as usual
    (``socket_timeout``, ``socket_connect_timeout``).
    """

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        params = {**params, "OPTIONS": dict(params.get("OPTIONS") or {})}
        self.retry_seconds = float(params["OPTIONS"].pop("RETRY_SECONDS", 5))
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)

    def _may_try(self) -> bool:
        return _retry_at.get(self._location, 0.0) <= time.monotonic()

    def _failed(self, exc: Exception) -> None:
        with _retry_lock:
            first = self._may_try()
            _retry_at[self._location] = time.monotonic() + self.retry_seconds
        if first:  # one line per outage and process, not one per call
            logger.warning(
                "cache unavailable, going without it for %ss: %s: %s",
                self.retry_seconds,
                exc.__class__.__name__,
                exc,
            )

    def available(self) -> bool:
        """Return True if Redis answers now (a PING within the socket timeout)."""
        if not self._may_try():
            return False
        try:
            self._cache.get_client(write=True).ping()
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return False
        return True

    get = _fail_safe(_get_fallback)(ReusingRedisCache.get)
    # "Stored": allauth's rate limiter takes a lock with add() and would otherwise spin.
    # Nothing in this project uses add() for mutual exclusion: the database decides.
    add = _fail_safe(lambda *a, **kw: True)(ReusingRedisCache.add)
    set = _fail_safe(lambda *a, **kw: None)(ReusingRedisCache.set)
    touch = _fail_safe(lambda *a, **kw: False)(ReusingRedisCache.touch)
    delete = _fail_safe(lambda *a, **kw: False)(ReusingRedisCache.delete)
    get_many = _fail_safe(lambda *a, **kw: {})(ReusingRedisCache.get_many)
    has_key = _fail_safe(lambda *a, **kw: False)(ReusingRedisCache.has_key)
    set_many = _fail_safe(lambda data, *a, **kw: list(data))(ReusingRedisCache.set_many)
    delete_many = _fail_safe(lambda *a, **kw: None)(ReusingRedisCache.delete_many)


def available(cache: BaseCache | None = None) -> bool:
    """Return True unless the cache is a Redis that is out (other caches always are)."""
    if cache is None:
        cache = django_cache.cache
    check = getattr(cache, "available", None)
    return check() if check is not None else True
