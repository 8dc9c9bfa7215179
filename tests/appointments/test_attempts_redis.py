"""Refused-attempt counts survive a killed web worker when the cache is Redis.

A real Redis (REDIS_URL) and a real subprocess counting refusals, killed with SIGKILL before
its batch is written: the next flush of any other process writes those counts.
"""

import datetime
import os
import signal
import subprocess
import sys

import pytest
from django.core.cache import cache

from appointments import attempts
from appointments.models import RefusedAttempts
from tests.conftest import ROOT

DAY = datetime.date(2030, 1, 8)
BUDGET = 60  # seconds, generous for two busy cores


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.ReusingRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-attempts-{os.getpid()}",
        }
    }
    cache.delete(attempts._REDIS_KEY)
    yield settings.CACHES["default"]
    cache.delete(attempts._REDIS_KEY)


def counted(office) -> dict[str, int]:
    return dict(RefusedAttempts.objects.filter(office=office).values_list("reason", "total"))


@pytest.mark.postgres
def test_refusals_of_a_killed_worker_are_written_by_the_next_flush(
    make_slot, redis_cache, settings
):
    slot = make_slot(capacity=1, day=DAY)
    code = f"""
import django, sys
django.setup()
from django.conf import settings
settings.CACHES = {{"default": {redis_cache!r}}}
settings.BOOKING_ATTEMPTS_FLUSH_SECONDS = 600  # the batch would be written in 10 minutes
import datetime
from appointments import attempts
for reason in ["full", "full", "full", "already_booked"]:
    attempts.record(office_id={slot.office_id}, date=datetime.date(2030, 1, 8), reason=reason)
print("counted", flush=True)
sys.stdin.read()  # the answers went out; the worker now waits to be killed
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    worker = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "counted"
        worker.send_signal(signal.SIGKILL)  # no atexit, no timer: only what Redis holds
        assert worker.wait(BUDGET) == -signal.SIGKILL
    finally:
        worker.kill()
        worker.wait()
    assert counted(slot.office) == {}
    settings.BOOKING_ATTEMPTS_FLUSH_SECONDS = 2
    assert attempts.flush() == 4  # this process's flush writes the killed one's counts
    assert counted(slot.office) == {"full": 3, "already_booked": 1}
    assert attempts.flush() == 0  # taken once: a second flush adds nothing
    assert counted(slot.office) == {"full": 3, "already_booked": 1}


@pytest.mark.postgres
def test_with_redis_down_refusals_are_counted_in_memory(make_slot, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.BOOKING_ATTEMPTS_FLUSH_SECONDS = 600
    slot = make_slot(capacity=1, day=DAY)
    attempts.record(office_id=slot.office_id, date=DAY, reason="full")
    attempts.record(office_id=slot.office_id, date=DAY, reason="full")
    assert attempts._pending == {(slot.office_id, DAY, "full"): 2}
    assert attempts.flush() == 2
    assert counted(slot.office) == {"full": 2}
