"""The release task through a real Celery worker with Redis as the broker."""

import datetime
import subprocess
import uuid
import zoneinfo
from pathlib import Path
from types import SimpleNamespace

import pytest
from django_celery_beat.models import PeriodicTask

from appointments.models import DayRelease, Slot
from config.celery import app
from tests.conftest import start_celery_worker, wait_for_worker, wait_until

ROOT = Path(__file__).resolve().parents[2]
MONDAY = datetime.date(2030, 1, 7)


@pytest.fixture
def celery_worker(redis_url, tmp_path):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = start_celery_worker(broker_url=redis_url, stdout=log, queues=queue)
    wait_for_worker(proc, log_path)
    yield SimpleNamespace(queue=queue, proc=proc)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    print(log_path.read_text())


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_release_runs_through_a_real_worker_and_redis(make_office, celery_worker):
    office = make_office()
    queue, proc = celery_worker.queue, celery_worker.proc
    for _ in range(2):  # delivered twice: still released once
        app.send_task("appointments.tasks.release_slots", args=[MONDAY.isoformat()], queue=queue)
    released = DayRelease.objects.filter(office=office, date=MONDAY)
    assert wait_until(released.exists, process=proc)
    # The solo worker takes one message at a time: once a third is done, so is the second.
    app.send_task("appointments.tasks.release_slots", args=["2030-01-08"], queue=queue)
    assert wait_until(DayRelease.objects.filter(date="2030-01-08").exists, process=proc)
    assert Slot.objects.filter(office=office, date=MONDAY).count() == 4
    assert sum(Slot.objects.filter(date=MONDAY).values_list("capacity", flat=True)) == 32


@pytest.mark.django_db
def test_release_is_scheduled_daily_at_eight_shanghai_time():
    task = PeriodicTask.objects.get(task="appointments.tasks.release_upcoming_slots")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("8", "0")
    assert str(task.crontab.timezone) == "Asia/Shanghai"
    app.loader.import_default_modules()  # what a worker does at start
    assert "appointments.tasks.release_upcoming_slots" in app.tasks
    # At 07:59 Shanghai time the next run is one minute away.
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    last_run = datetime.datetime(2030, 1, 6, 8, 0, tzinfo=shanghai)
    schedule = task.crontab.schedule
    schedule.nowfun = lambda: datetime.datetime(2030, 1, 7, 7, 59, tzinfo=shanghai)
    remaining = schedule.remaining_estimate(last_run)
    assert remaining == datetime.timedelta(minutes=1)


def test_scheduled_task_releases_tomorrow(make_office, time_machine):
    from appointments.tasks import release_upcoming_slots

    office = make_office()
    time_machine.move_to(
        datetime.datetime(2030, 1, 6, 8, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    )
    assert release_upcoming_slots.delay(horizon_days=1).get() == 32
    assert set(Slot.objects.filter(office=office).values_list("date", flat=True)) == {MONDAY}


@pytest.mark.django_db
def test_periodic_sweeps_are_scheduled():
    app.loader.import_default_modules()
    tasks = {t.task: t for t in PeriodicTask.objects.filter(enabled=True)}
    drain = tasks["appointments.tasks.drain_outbox"].interval
    no_shows = tasks["appointments.tasks.mark_no_shows"].interval
    reminders = tasks["appointments.tasks.queue_reminders"].crontab
    assert (drain.every, drain.period) == (5, "seconds")
    assert (no_shows.every, no_shows.period) == (5, "minutes")
    # Every evening hour, so a booking made after 18:00 for tomorrow is reminded too.
    assert (reminders.hour, reminders.minute, str(reminders.timezone)) == (
        "18-23",
        "0",
        "Asia/Shanghai",
    )
    assert set(tasks) <= set(app.tasks)  # every scheduled name is a real task
