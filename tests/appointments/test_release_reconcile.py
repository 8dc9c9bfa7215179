"""The release is reconciled every minute, not trusted to the one run at the release time."""

import datetime
import logging
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError
from django_celery_beat.models import PeriodicTask

from appointments import selectors, services
from appointments.models import DayRelease, Slot
from appointments.services import release as release_services
from config.celery import app
from tests.personas import staff_login

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)
TUESDAY = MONDAY + datetime.timedelta(days=1)


def at(hour, minute, day=MONDAY):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def schedule(db):
    def set_schedule(horizon_days=1, time=datetime.time(8, 0)):
        services.release_schedule_change(at=time, horizon_days=horizon_days)

    set_schedule()
    return set_schedule


def released_days(office):
    return sorted(DayRelease.objects.filter(office=office).values_list("date", flat=True))


def test_a_release_missed_at_the_release_time_happens_at_the_next_reconcile(make_office, schedule):
    office = make_office()
    with time_machine.travel(at(8, 1), tick=False):
        result = services.slots_release_due()
    assert released_days(office) == [TUESDAY]
    assert result.places == 32
    assert Slot.objects.filter(office=office, date=TUESDAY).count() == 4
    # Runs twice: the second finds nothing to do.
    with time_machine.travel(at(8, 2), tick=False):
        assert services.slots_release_due().places == 0
    assert released_days(office) == [TUESDAY]
    assert sum(Slot.objects.filter(date=TUESDAY).values_list("capacity", flat=True)) == 32


def test_reconcile_never_releases_before_the_release_time(make_office, schedule):
    office = make_office()
    services.slots_release(day=MONDAY, now=at(8, 0, day=MONDAY - datetime.timedelta(days=1)))
    assert services.slots_release_due(now=at(7, 59)).places == 0
    assert released_days(office) == [MONDAY]  # Tuesday waits for 08:00


def test_reconcile_releases_today_when_yesterdays_run_was_lost(make_office, schedule):
    office = make_office()
    services.slots_release_due(now=at(7, 0))
    assert released_days(office) == [MONDAY]


def test_reconcile_releases_every_day_of_the_horizon(make_office, schedule):
    schedule(horizon_days=3)
    office = make_office()
    services.slots_release_due(now=at(9, 30))
    assert released_days(office) == [
        TUESDAY,
        MONDAY + datetime.timedelta(2),
        MONDAY + datetime.timedelta(3),
    ]


def test_reconcile_follows_the_release_time_set_by_the_admin(make_office, schedule):
    schedule(time=datetime.time(10, 30))
    office = make_office()
    services.slots_release(day=MONDAY, now=at(10, 30, day=MONDAY - datetime.timedelta(days=1)))
    services.slots_release_due(now=at(10, 29))
    assert released_days(office) == [MONDAY]
    services.slots_release_due(now=at(10, 30))
    assert released_days(office) == [MONDAY, TUESDAY]


def test_an_office_added_after_the_release_is_released_too(make_office, schedule):
    first = make_office()
    services.slots_release_due(now=at(8, 0))
    second = make_office()
    services.slots_release_due(now=at(8, 1))
    assert released_days(first) == released_days(second) == [TUESDAY]


def test_overdue_five_minutes_after_the_release_time(make_office, schedule):
    make_office()
    assert selectors.release_overdue(now=at(8, 4)) is None
    overdue = selectors.release_overdue(now=at(8, 5))
    assert (overdue.day, overdue.minutes_late, overdue.due_at) == (TUESDAY, 5, at(8, 0))
    services.slots_release(day=TUESDAY, now=at(8, 6))
    assert selectors.release_overdue(now=at(8, 7)) is None


def test_a_failing_release_logs_the_overdue_alert_once_per_check(
    make_office, schedule, monkeypatch, caplog
):
    make_office()

    def broken(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(release_services, "slots_release", broken)
    with caplog.at_level(logging.ERROR, logger="appointments.release"):
        with pytest.raises(OperationalError):
            services.slots_release_due(now=at(8, 3))
        assert not [r for r in caplog.records if r.name == "appointments.release"]
        with pytest.raises(OperationalError):
            services.slots_release_due(now=at(8, 6))
    alerts = [r for r in caplog.records if r.name == "appointments.release"]
    assert len(alerts) == 1
    assert alerts[0].levelno == logging.ERROR
    assert "2030-01-08 not released 6 minutes after the release time" in alerts[0].getMessage()


def test_the_overview_warns_the_supervisors_when_tomorrow_is_not_released(
    make_office, schedule, admin_user, client
):
    make_office()
    with time_machine.travel(at(8, 12), tick=False):
        staff_login(client, admin_user)
        page = client.get("/admin/offices/office/overview/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="release-overdue"' in text
    assert "2030-01-08" in text and "12" in text
    assert "放号时间" in text  # in Chinese, the default language
    with time_machine.travel(at(8, 13), tick=False):
        services.slots_release_due()
        page = client.get("/admin/offices/office/overview/")
    assert 'id="release-overdue"' not in page.content.decode()


@pytest.mark.django_db
def test_reconcile_runs_every_minute_from_beat():
    task = PeriodicTask.objects.get(task="appointments.tasks.release_reconcile")
    assert task.enabled
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("*", "*", "*")
    app.loader.import_default_modules()
    assert task.task in app.tasks


def test_release_tasks_are_not_lost_with_their_worker():
    app.loader.import_default_modules()
    for name in (
        "appointments.tasks.release_slots",
        "appointments.tasks.release_upcoming_slots",
        "appointments.tasks.release_reconcile",
    ):
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name
        assert 0 < task.soft_time_limit < task.time_limit, name
        assert app.amqp.router.route({}, name)["queue"].name == "release", name
    assert app.amqp.router.route({}, "appointments.tasks.drain_outbox")["queue"].name == "celery"
    # A worker started without --queues consumes both.
    assert {q.name for q in app.amqp.queues.values()} >= {"celery", "release"}
    # A release still running is never handed to a second worker.
    assert settings.CELERY_VISIBILITY_TIMEOUT > settings.RELEASE_TASK_TIME_LIMIT


def test_a_starting_worker_queues_a_reconcile(settings, monkeypatch):
    from appointments import tasks

    sent = []
    monkeypatch.setattr(tasks.release_reconcile, "apply_async", lambda **kw: sent.append(kw))
    settings.RELEASE_RECONCILE_ON_WORKER_START = True
    tasks._reconcile_at_worker_start(sender=None)
    assert len(sent) == 1
    settings.RELEASE_RECONCILE_ON_WORKER_START = False
    tasks._reconcile_at_worker_start(sender=None)
    assert len(sent) == 1
