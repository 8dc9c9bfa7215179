"""The daily release survives the faults that used to lose it (issue #11, report 1d, 3e).

Each test runs its own redis-server on a free port, a real Celery worker (and beat)
subprocess on the test database, and never touches the shared Redis or PostgreSQL.

1. Redis is down at the release minute: beat cannot send the release and moves on. Once
   Redis is back, beat's every-minute reconcile releases the day, with nobody doing a thing.
2. The worker is SIGKILLed in the middle of the release (held inside its transaction by a
   table lock this test takes): the message is left unacknowledged for the visibility
   timeout, but the restarted worker queues a reconcile at start and the day is released.
3. Only the pool process running the release is SIGKILLed: the message is rejected and
   requeued (not acknowledged and lost), and the worker's next process releases the day.
"""

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from appointments import services
from appointments.models import DayRelease, Slot
from config.celery import app
from tests.appointments.test_notifications_redis_down import (
    celery_broker,
    drop_broker_pools,
    free_port,
    redis_server,
    redis_server_binary,  # noqa: F401 (a fixture)
    stop,
)
from tests.conftest import ROOT, start_celery_worker, wait_for_worker, wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)
TUESDAY = MONDAY + datetime.timedelta(days=1)
RELEASE_AT = datetime.datetime(2030, 1, 7, 8, 0, tzinfo=SHANGHAI)
RECONCILE = "appointments.tasks.release_reconcile"


def schedule_release_and_reconcile() -> None:
    """The migrations' schedules (a transactional test starts from empty tables)."""
    services.release_schedule_change(at=RELEASE_AT.time(), horizon_days=1)
    every_minute, _ = CrontabSchedule.objects.get_or_create(
        minute="*",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.update_or_create(
        task=RECONCILE, defaults={"name": "Reconcile the daily release", "crontab": every_minute}
    )


def assert_released_once(office) -> None:
    assert DayRelease.objects.filter(office=office, date=TUESDAY).count() == 1
    assert Slot.objects.filter(office=office, date=TUESDAY).count() == 4
    assert sum(Slot.objects.filter(date=TUESDAY).values_list("capacity", flat=True)) == 32


@contextlib.contextmanager
def worker(broker_url: str, log_path: Path, **env):
    with log_path.open("a") as log:
        proc = start_celery_worker(
            broker_url=broker_url,
            stdout=log,
            TEST_CLOCK=timezone.now().isoformat(),
            CELERY_TASK_ALWAYS_EAGER="0",  # what it queues goes through Redis
            **env,
        )
    try:
        wait_for_worker(proc, log_path)
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def beat(broker_url: str, log_path: Path, workdir: Path):
    """A real beat with the database scheduler, on the test database and this clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_BROKER")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL="postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        REDIS_URL=broker_url,
        TEST_CLOCK=timezone.now().isoformat(),
        CELERY_TASK_ALWAYS_EAGER="0",  # beat sends through Redis, as in production
    )
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
    command += ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
    command += ["--pidfile", str(workdir / "beat.pid")]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        started = wait_until(
            lambda: "beat: Starting..." in log_path.read_text(errors="replace"),
            timeout=120,
            process=proc,
        )
        assert started, log_path.read_text(errors="replace")
        yield proc
    finally:
        stop(proc)


def log_has(path: Path, text: str) -> bool:
    return text in path.read_text(errors="replace")


@contextlib.contextmanager
def release_held_by_a_lock(process, log_path: Path):
    """Hold the release inside its transaction (it waits on this table lock) until exit."""
    test_db = connection.settings_dict["NAME"]

    def release_waits_on_the_lock():
        with connection.cursor() as cursor:
            # Statistics are a snapshot per transaction: take a new one.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
                [test_db],
            )
            return cursor.fetchone()[0] > 0

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE appointments_dayrelease IN SHARE ROW EXCLUSIVE MODE")
        yield lambda: wait_until(release_waits_on_the_lock, timeout=90, process=process)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_down_at_the_release_minute_the_day_is_released_once_it_is_back(
    make_office,
    redis_server_binary,  # noqa: F811
):
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    # Time ticks from a minute before the release: the services start meanwhile.
    with (
        time_machine.travel(RELEASE_AT - datetime.timedelta(seconds=60), tick=True),
        tempfile.TemporaryDirectory() as tmp,
    ):
        tmp = Path(tmp)
        office = make_office()
        schedule_release_and_reconcile()
        worker_log, beat_log = tmp / "worker.log", tmp / "beat.log"
        first_redis = redis_server(port, tmp)
        first_redis.__enter__()
        try:
            with worker(broker_url, worker_log) as proc, beat(broker_url, beat_log, tmp):
                if timezone.now() >= RELEASE_AT - datetime.timedelta(seconds=5):
                    pytest.fail("the worker and beat took more than 55 s to start")
                # 1. Redis goes down just before the release minute.
                assert wait_until(
                    lambda: timezone.now() >= RELEASE_AT - datetime.timedelta(seconds=4),
                    timeout=60,
                )
                first_redis.__exit__(None, None, None)
                first_redis = None
                # Beat cannot send the release: depending on where the outage finds it, it
                # logs "Couldn't apply scheduled task" and goes on, or retries its
                # connection. Either way the release minute passes with nothing released.
                assert wait_until(
                    lambda: timezone.now() >= RELEASE_AT + datetime.timedelta(seconds=10),
                    timeout=60,
                )
                # On a loaded machine beat's tick can come late: wait for its word.
                assert wait_until(
                    lambda: (
                        log_has(beat_log, "Couldn't apply scheduled task")
                        or log_has(beat_log, "Connection error")
                    ),
                    timeout=60,
                ), beat_log.read_text()
                assert not DayRelease.objects.filter(date=TUESDAY).exists()
                # 2. Redis is back: within a minute, beat's reconcile releases the day.
                with redis_server(port, tmp):
                    back = timezone.now()
                    released = DayRelease.objects.filter(office=office, date=TUESDAY).exists
                    assert wait_until(released, timeout=90, process=proc), (
                        beat_log.read_text() + worker_log.read_text()
                    )
                    assert timezone.now() - back < datetime.timedelta(seconds=75)
                    assert_released_once(office)
        finally:
            if first_redis is not None:
                first_redis.__exit__(None, None, None)
    assert_released_once(office)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_release_the_restarted_worker_releases_the_day(
    make_office,
    redis_server_binary,  # noqa: F811
):
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    with (
        time_machine.travel(RELEASE_AT + datetime.timedelta(seconds=30), tick=True),
        tempfile.TemporaryDirectory() as tmp,
        redis_server(port, Path(tmp)),
        celery_broker(broker_url, port),
    ):
        tmp = Path(tmp)
        office = make_office()
        schedule_release_and_reconcile()
        log_path = tmp / "worker.log"
        with worker(broker_url, log_path) as first:
            with release_held_by_a_lock(first, log_path) as release_waits:
                drop_broker_pools()
                app.send_task("appointments.tasks.release_upcoming_slots")  # beat's 08:00
                assert release_waits(), log_path.read_text()
                # 1. The whole worker is SIGKILLed mid-release.
                os.kill(first.pid, signal.SIGKILL)
                first.wait(timeout=30)
            # The lock is gone; the killed release rolls back, and its message waits
            # unacknowledged for the visibility timeout.
            client = redis.Redis(host="127.0.0.1", port=port)
            assert client.hlen("unacked") == 1
            assert not DayRelease.objects.filter(date=TUESDAY).exists()
        # 2. A worker starts again: it queues a reconcile, which releases the day.
        with worker(broker_url, log_path, RELEASE_RECONCILE_ON_WORKER_START="1") as second:
            released = DayRelease.objects.filter(office=office, date=TUESDAY).exists
            assert wait_until(released, timeout=60, process=second), log_path.read_text()
            assert_released_once(office)
            assert log_has(log_path, f"{RECONCILE}["), log_path.read_text()
    assert_released_once(office)


def pool_processes(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_pool_process_killed_mid_release_the_release_is_requeued_not_lost(
    make_office,
    redis_server_binary,  # noqa: F811
):
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    with (
        time_machine.travel(RELEASE_AT + datetime.timedelta(seconds=30), tick=True),
        tempfile.TemporaryDirectory() as tmp,
        redis_server(port, Path(tmp)),
        celery_broker(broker_url, port),
    ):
        office = make_office()
        schedule_release_and_reconcile()
        log_path = Path(tmp) / "worker.log"
        # No reconcile at start and no beat: only the requeued message can release the day.
        with worker(broker_url, log_path, pool="prefork") as proc:
            with release_held_by_a_lock(proc, log_path) as release_waits:
                drop_broker_pools()
                app.send_task("appointments.tasks.release_slots", args=[TUESDAY.isoformat()])
                assert release_waits(), log_path.read_text()
                children = pool_processes(proc.pid)
                assert len(children) == 1, children
                os.kill(children[0], signal.SIGKILL)
                assert wait_until(
                    lambda: log_has(log_path, "WorkerLostError"), timeout=60, process=proc
                ), log_path.read_text()
            released = DayRelease.objects.filter(office=office, date=TUESDAY).exists
            assert wait_until(released, timeout=60, process=proc), log_path.read_text()
            assert_released_once(office)
