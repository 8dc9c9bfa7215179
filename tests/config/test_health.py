"""/healthz (liveness) and /readyz (readiness), against real PostgreSQL and Redis."""

import json
import socket
import time

import pytest
from django.db import connections

from config import health

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def redis_cache(url):
    return {"default": {"BACKEND": "core.cache.ReusingRedisCache", "LOCATION": url}}


def get_ready(client):
    response = client.get("/readyz")
    body = response.content.decode()
    return response.status_code, json.loads(body)["checks"], body


@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections and never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def assert_no_error_text(body):
    assert "Traceback" not in body
    assert "Error" not in body  # no exception class or message
    assert "127.0.0.1" not in body  # no addresses either


@pytest.mark.django_db
def test_liveness_answers_ok_whatever_the_dependencies(client, settings):
    settings.CELERY_BROKER_URL = CLOSED_REDIS
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.redis
@pytest.mark.django_db
def test_ready_when_database_and_redis_answer(client, settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    settings.CACHES = redis_cache(redis_url)
    status, checks, _ = get_ready(client)
    assert status == 200
    assert checks == {"database": "ok", "redis": "ok"}
    assert client.get("/readyz")["Cache-Control"].startswith("max-age=0")


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize("dead", ["broker", "cache"])
def test_unavailable_redis_gives_503_naming_it(client, settings, dead, redis_url):
    settings.CELERY_BROKER_URL = CLOSED_REDIS if dead == "broker" else redis_url
    settings.CACHES = redis_cache(CLOSED_REDIS if dead == "cache" else redis_url)
    status, checks, body = get_ready(client)
    assert status == 503
    assert checks["database"] == "ok"
    unavailable = [name for name, state in checks.items() if state == "unavailable"]
    assert unavailable == (["redis"] if dead == "broker" else ["redis cache"])
    assert_no_error_text(body)


@pytest.mark.django_db
def test_a_redis_that_hangs_does_not_hang_the_probe(client, settings, silent_listener):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_listener}/0"
    settings.CACHES = LOCMEM
    started = time.monotonic()
    status, checks, _ = get_ready(client)
    assert time.monotonic() - started < 3
    assert (status, checks["redis"]) == (503, "unavailable")


@pytest.mark.django_db
def test_unreachable_database_gives_503_naming_it(client, settings, monkeypatch, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CACHES = LOCMEM
    db = connections["default"]
    if db.vendor == "postgresql":
        monkeypatch.setitem(db.settings_dict, "PORT", "1")  # nothing listens there
    else:
        monkeypatch.setitem(db.settings_dict, "NAME", str(tmp_path / "missing" / "db.sqlite3"))
    status, checks, body = get_ready(client)
    assert status == 503
    assert checks == {"database": "unavailable", "redis": "not configured"}
    assert_no_error_text(body)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_database_that_hangs_does_not_hang_the_probe(
    client, settings, monkeypatch, silent_listener
):
    db = connections["default"]
    if db.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (connect_timeout is a libpq option)")
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CACHES = LOCMEM
    monkeypatch.setitem(db.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(db.settings_dict, "PORT", str(silent_listener))
    started = time.monotonic()
    status, checks, _ = get_ready(client)
    assert time.monotonic() - started < 4
    assert (status, checks["database"]) == (503, "unavailable")


@pytest.mark.django_db
def test_embedded_default_checks_only_what_is_configured(client, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}
    }
    assert health.redis_urls() == {}
    status, checks, _ = get_ready(client)
    assert status == 200
    assert checks == {"database": "ok", "redis": "not configured"}


def test_one_redis_for_broker_and_cache_is_checked_once(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/3"
    settings.CACHES = redis_cache("redis://127.0.0.1:6379/3")
    assert health.redis_urls() == {"redis": "redis://127.0.0.1:6379/3"}
