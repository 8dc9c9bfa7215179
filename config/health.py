"""Readiness checks: can this process reach the database and the Redis it is configured with?

Liveness (``/healthz``) only says the process answers. Readiness (``/readyz``) opens a fresh
connection to each dependency with short time-outs, so a dead or hanging dependency gives a
quick "unavailable" rather than a stuck probe. See docs/operations.md.
"""

import logging
import re
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

# Seconds. libpq rounds a connect_timeout below 2 up to 2.
DATABASE_CONNECT_TIMEOUT = 2
REDIS_TIMEOUT = 1

OK = "ok"
UNAVAILABLE = "unavailable"
NOT_CONFIGURED = "not configured"

_REDIS_SCHEMES = {"redis", "rediss", "unix"}


def check_database(alias: str = DEFAULT_DB_ALIAS) -> str:
    """Return OK if a new connection to the database answers ``SELECT 1``."""
    current = connections[alias]
    settings_dict = {**current.settings_dict, "OPTIONS": {**current.settings_dict["OPTIONS"]}}
    if current.vendor == "postgresql":
        settings_dict["OPTIONS"]["connect_timeout"] = DATABASE_CONNECT_TIMEOUT
    # A separate connection: the request's own may be a persistent one opened long ago.
    probe = current.__class__(settings_dict, alias)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("readiness: database unavailable: %s: %s", type(exc).__name__, exc)
        return UNAVAILABLE
    finally:
        probe.close()
    return OK


def redis_urls() -> dict[str, str]:
    """Return the Redis servers this process uses, by name: the Celery broker, the cache.

    Empty on the embedded default (filesystem broker, file cache).
    """
    urls: dict[str, str] = {}
    broker = settings.CELERY_BROKER_URL or ""
    if urlsplit(broker).scheme in _REDIS_SCHEMES:
        urls["redis"] = broker
    cache = settings.CACHES.get("default", {})
    if issubclass(import_string(cache["BACKEND"]), RedisCache):
        location = cache.get("LOCATION", "")
        servers = re.split("[;,]", location) if isinstance(location, str) else list(location)
        for server in servers:
            if server and server not in urls.values():
                urls["redis cache" if "redis" in urls else "redis"] = server
                break  # the first server takes the writes
    return urls


def check_redis(url: str) -> str:
    """Return OK if the Redis server at ``url`` answers PING."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    except Exception as exc:
        logger.warning("readiness: redis unavailable: %s: %s", type(exc).__name__, exc)
        return UNAVAILABLE
    finally:
        client.close()
    return OK


def readiness() -> dict[str, str]:
    """Return each dependency's state: ``ok``, ``unavailable`` or ``not configured``."""
    checks = {"database": check_database()}
    urls = redis_urls()
    for name, url in urls.items():
        checks[name] = check_redis(url)
    if not urls:
        checks["redis"] = NOT_CONFIGURED
    return checks


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the container health check: the process answers; nothing else."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness for a load balancer: 200 if the database and Redis answer, else 503.

    The body names each dependency and its state, never an error's text or a traceback.
    """
    checks = readiness()
    ready = all(state != UNAVAILABLE for state in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
