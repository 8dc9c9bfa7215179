"""Django's Redis cache, keeping one redis client per connection pool.

Django's RedisCacheClient builds a new ``redis.Redis`` for every cache call, which
costs more than the round trip itself on the hot booking path. A client is
thread-safe (its pool hands out connections), so one per pool is enough. Short
socket timeouts keep a Redis outage from holding a request for long: cache errors
are handled by the callers (appointments.cache) as misses.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
