"""Two workers releasing the same day at once release it once (PostgreSQL)."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.db import connection

from appointments import services
from appointments.models import DayRelease, Slot

MONDAY = datetime.date(2030, 1, 7)
# 08:00 the day before MONDAY, the schedule's moment; the threads read the same clock.
RELEASE_AT = datetime.datetime(2030, 1, 6, 8, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(RELEASE_AT, tick=False) as traveller:
        yield traveller


def run_in_threads(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def worker():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_of_one_day_release_once(make_office):
    offices = [make_office() for _ in range(3)]
    errors = run_in_threads(lambda: services.slots_release(day=MONDAY), 4)
    assert errors == []
    assert DayRelease.objects.filter(date=MONDAY).count() == 3
    assert Slot.objects.filter(date=MONDAY).count() == 12
    for office in offices:
        total = sum(
            Slot.objects.filter(office=office, date=MONDAY).values_list("capacity", flat=True)
        )
        assert total == 32
