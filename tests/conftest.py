import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone, translation

from appointments.models import Slot
from offices.models import Office, TimeWindow
from registration import services as registration_services

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# The personas (tests/personas.py): office_a/office_b, clerk_a/clerk_b, resident, admin_user,
# stranger, their signed-in clients and make_person; the ``city`` of the statistics tests.
pytest_plugins = ["tests.personas", "tests.stats_city"]


def _id_weight(position: int) -> int:
    # GB 11643 weights are 2^(17-i) mod 11: an independent route to the same check digit.
    return pow(2, 17 - position, 11)


def make_id_number(region: str = "210802", birth: str = "19850315", seq: str = "123") -> str:
    first17 = region + birth + seq
    total = sum(int(d) * _id_weight(i) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


@pytest.fixture(autouse=True)
def _test_clock():
    """Under TEST_CLOCK (config/settings/test.py), start every test at that moment.

    Each test then sees the same day and hour whatever ran before it, and a test begun at
    23:59 has a minute before midnight, like a person using the app at that time.
    """
    start = getattr(django_settings, "TEST_CLOCK_START", None)
    if start is None:
        yield
        return
    with time_machine.travel(start, tick=True):
        yield


@pytest.fixture(autouse=True)
def _default_language():
    """Start every test in the default language (Chinese) and leave nothing active."""
    translation.activate("zh-hans")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _forget_slot_info():
    """Slot ids are reused between tests; the per-process slot memo must not outlive one."""
    from appointments import attempts, cache, services

    services.slot_memo_clear()
    cache.forget_local()
    attempts._pending.clear()  # counts of another test's (rolled back) offices
    yield
    services.slot_memo_clear()
    if attempts._timer is not None:
        attempts._timer.cancel()
        attempts._timer = None
    attempts._pending.clear()
    cache.forget_local()


@pytest.fixture(autouse=True)
def _postgres_only(request):
    marker = request.node.get_closest_marker("postgres")
    if marker and connection.vendor != "postgresql":
        if REQUIRE_SERVICES:
            pytest.fail("this test needs PostgreSQL; set DATABASE_URL")
        pytest.skip("needs PostgreSQL (run `make test`)")


@pytest.fixture
def console_sms(settings):
    """The development SMS backend, its in-memory outbox emptied before and after."""
    from registration import sms

    settings.SMS_BACKEND = "registration.sms.ConsoleSmsBackend"
    sms.ConsoleSmsBackend.outbox.clear()
    yield sms.ConsoleSmsBackend.outbox
    sms.ConsoleSmsBackend.outbox.clear()


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("this test needs Redis; set REDIS_URL")
        pytest.skip("needs Redis (run `make test`)")
    return url


WINDOWS = [
    (datetime.time(8, 30), datetime.time(10, 0), 10),
    (datetime.time(10, 0), datetime.time(11, 30), 10),
    (datetime.time(13, 30), datetime.time(15, 0), 10),
    (datetime.time(15, 0), datetime.time(16, 30), 10),
]


@pytest.fixture
def make_office(db):
    counter = {"n": 0}

    def make(*, windows=WINDOWS, **fields):
        counter["n"] += 1
        defaults = {
            "code": f"office-{counter['n']}",
            "name": f"Office {counter['n']}",
            "address": "Test road 1",
            "district": "Test district",
            "opening_weekdays": "1234567",
            "daily_capacity": 32,
            "weekly_quota": 200,
        }
        office = Office.objects.create(**{**defaults, **fields})
        for start, end, capacity in windows:
            TimeWindow.objects.create(office=office, start=start, end=end, capacity=capacity)
        return office

    return make


@pytest.fixture
def main_urban_offices(make_office, settings):
    """Five main-urban offices at 160 places a week each: 800, floor 760."""
    settings.WEEKLY_ONLINE_FLOOR = 760
    return [
        make_office(daily_capacity=32, weekly_quota=160, opening_weekdays="123456")
        for _ in range(5)
    ]


@pytest.fixture
def make_resident(db):
    counter = {"n": 0}

    def make(*, birth: str = "19850315", user=None, name: str = "Test Resident"):
        counter["n"] += 1
        return registration_services.resident_create(
            real_name=name,
            id_number=make_id_number(birth=birth, seq=f"{counter['n']:03d}"),
            user=user,
        )

    return make


@pytest.fixture
def make_slot(make_office):
    def make(*, capacity=5, day=None, office=None, start=datetime.time(9), end=datetime.time(10)):
        office = office or make_office()
        day = day or datetime.date(2030, 1, 7)
        return Slot.objects.create(office=office, date=day, start=start, end=end, capacity=capacity)

    return make


ROOT = Path(__file__).resolve().parents[1]


def start_celery_worker(
    *, broker_url: str, stdout, queues: str | None = None, pool: str = "solo", **env_extra
):
    """A real Celery worker subprocess on the test database and the given broker."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_BROKER", "CACHE_REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL="postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        REDIS_URL=broker_url,
        **env_extra,
    )
    if "TEST_CLOCK" in env:  # the worker's clock goes on from this test's, not the session's
        env["TEST_CLOCK"] = timezone.now().isoformat()
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool]
    if pool == "prefork":
        command += ["--concurrency", "1"]
    command += ["--loglevel", "INFO", "--without-heartbeat", "--without-mingle"]
    command += ["--without-gossip", *(["--queues", queues] if queues else [])]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT, text=True
    )


def wait_until(predicate, *, timeout: float = 120.0, interval: float = 0.2, process=None) -> bool:
    """Poll until ``predicate()`` holds: False after ``timeout`` seconds, or at once when
    ``process`` (the subprocess expected to make it hold) has exited.

    A test goes on the moment the thing happens, so the budget can be generous enough
    for CI's two busy cores without slowing anything down.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            return bool(predicate())
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def wait_for_worker(process, log_path: Path, *, timeout: float = 180.0) -> None:
    """Wait for a Celery worker's own "ready." line in its log; fail with the log if it dies."""
    ready = wait_until(
        lambda: " ready." in log_path.read_text(errors="replace"), timeout=timeout, process=process
    )
    assert ready, f"the Celery worker did not get ready:\n{log_path.read_text(errors='replace')}"
