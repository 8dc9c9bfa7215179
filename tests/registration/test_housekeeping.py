"""Expired sessions are removed by a nightly task that is harmless to run twice."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from registration import tasks

# The nightly run, 04:00 Shanghai time: the clock is fixed, so "expired" is exact.
NIGHTLY = datetime.datetime(2030, 1, 7, 4, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def session(expires_in: datetime.timedelta) -> str:
    store = SessionStore()
    store["_auth_user_id"] = "1"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return store.session_key


@pytest.mark.django_db
@time_machine.travel(NIGHTLY, tick=False)
def test_clear_expired_sessions_twice_removes_only_expired_ones_once():
    expired = {session(-datetime.timedelta(days=1)), session(-datetime.timedelta(seconds=5))}
    live = {session(datetime.timedelta(hours=1)), session(datetime.timedelta(days=13))}

    assert tasks.clear_expired_sessions.delay().get() == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == live
    assert not Session.objects.filter(session_key__in=expired).exists()

    assert tasks.clear_expired_sessions.delay().get() == 0
    assert set(Session.objects.values_list("session_key", flat=True)) == live


@pytest.mark.django_db
def test_clear_expired_sessions_is_scheduled_nightly():
    task = PeriodicTask.objects.get(task="registration.tasks.clear_expired_sessions")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("4", "0")
    assert str(task.crontab.timezone) == "Asia/Shanghai"
