import datetime
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError

from appointments import services
from appointments.models import DayRelease, Slot
from offices.models import ClosedDay
from offices.planning import split_capacity

MONDAY = datetime.date(2030, 1, 7)
# The schedule's moment for MONDAY: 08:00 the day before. A release applies the plans due
# by today, so it reads the clock (tests that need another moment pass ``now``).
RELEASE_AT = datetime.datetime(2030, 1, 6, 8, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(RELEASE_AT, tick=False) as traveller:
        yield traveller


def capacities(office, day):
    return list(
        Slot.objects.filter(office=office, date=day)
        .order_by("start")
        .values_list("capacity", flat=True)
    )


def test_split_capacity_is_proportional_and_exact():
    assert split_capacity(32, [10, 10, 10, 10]) == [8, 8, 8, 8]
    assert split_capacity(10, [10, 10, 10]) == [4, 3, 3]
    assert split_capacity(7, [20, 10]) == [5, 2]
    assert split_capacity(100, [3, 4]) == [3, 4]
    assert split_capacity(0, [3, 4]) == [0, 0]


def test_daily_capacity_is_split_into_the_windows(make_office):
    office = make_office(daily_capacity=30)
    result = services.slots_release(day=MONDAY)
    assert capacities(office, MONDAY) == [8, 8, 7, 7]
    assert result.released == {office.code: 30}
    slot = Slot.objects.filter(office=office, date=MONDAY).order_by("start").first()
    assert (slot.start, slot.end, slot.booked) == (datetime.time(8, 30), datetime.time(10), 0)


def test_window_capacities_cap_the_day(make_office):
    office = make_office(daily_capacity=1000)
    services.slots_release(day=MONDAY)
    assert capacities(office, MONDAY) == [10, 10, 10, 10]


def test_weekly_quota_caps_the_later_days_of_the_week(make_office):
    office = make_office(daily_capacity=32, weekly_quota=80)
    for offset in range(4):
        services.slots_release(day=MONDAY + datetime.timedelta(days=offset))
    totals = [sum(capacities(office, MONDAY + datetime.timedelta(days=o))) for o in range(4)]
    assert totals == [32, 32, 16, 0]
    # The next ISO week starts afresh.
    services.slots_release(day=MONDAY + datetime.timedelta(days=7))
    assert sum(capacities(office, MONDAY + datetime.timedelta(days=7))) == 32


def test_closed_day_releases_nothing(make_office):
    office = make_office()
    ClosedDay.objects.create(office=office, date=MONDAY, reason="holiday")
    result = services.slots_release(day=MONDAY)
    assert capacities(office, MONDAY) == []
    assert result.closed == [office.code]
    assert DayRelease.objects.get(office=office, date=MONDAY).closed is True


def test_day_the_office_does_not_open_releases_nothing(make_office):
    office = make_office(opening_weekdays="23456")  # closed on Mondays
    services.slots_release(day=MONDAY)
    services.slots_release(day=MONDAY + datetime.timedelta(days=1))
    assert capacities(office, MONDAY) == []
    assert sum(capacities(office, MONDAY + datetime.timedelta(days=1))) == 32


def test_inactive_office_is_not_released(make_office):
    office = make_office(is_active=False)
    services.slots_release(day=MONDAY)
    assert not DayRelease.objects.filter(office=office).exists()


def test_releasing_twice_gives_the_same_slots(make_office):
    office = make_office()
    first = services.slots_release(day=MONDAY)
    before = list(Slot.objects.order_by("pk").values_list("pk", "start", "capacity"))
    second = services.slots_release(day=MONDAY)
    after = list(Slot.objects.order_by("pk").values_list("pk", "start", "capacity"))
    assert before == after
    assert first.places == 32 and second.places == 0
    assert second.already == [office.code]


def test_release_does_not_undo_bookings_or_capacity_changes(make_office, make_resident):
    office = make_office()
    services.slots_release(day=MONDAY)
    slot = Slot.objects.filter(office=office, date=MONDAY).first()
    services.booking_create(
        resident=make_resident(),
        slot_id=slot.pk,
        now=datetime.datetime(2030, 1, 6, tzinfo=datetime.UTC),
    )
    services.slots_release(day=MONDAY)
    slot.refresh_from_db()
    assert slot.booked == 1


def test_failed_release_leaves_no_half_released_day(make_office, monkeypatch):
    first, second = make_office(), make_office()
    real = Slot.objects.bulk_create
    calls = {"n": 0}

    def failing_bulk_create(objs, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise IntegrityError("simulated failure on the second office")
        return real(objs, *args, **kwargs)

    monkeypatch.setattr(Slot.objects, "bulk_create", failing_bulk_create)
    with pytest.raises(IntegrityError):
        services.slots_release(day=MONDAY)
    assert not Slot.objects.filter(date=MONDAY).exists()
    assert not DayRelease.objects.filter(date=MONDAY).exists()
    monkeypatch.undo()
    # A rerun releases the whole day.
    services.slots_release(day=MONDAY)
    assert sum(capacities(first, MONDAY)) == sum(capacities(second, MONDAY)) == 32


def test_upcoming_release_uses_the_local_date(make_office):
    office = make_office()
    # 2030-01-06 17:00 UTC is already 01:00 on 7 January in Shanghai: "tomorrow" is the 8th.
    now = datetime.datetime(2030, 1, 6, 17, 0, tzinfo=datetime.UTC)
    services.slots_release_upcoming(horizon_days=2, now=now)
    days = sorted(set(Slot.objects.filter(office=office).values_list("date", flat=True)))
    assert days == [datetime.date(2030, 1, 8), datetime.date(2030, 1, 9)]


def test_release_command_accepts_a_date_and_refuses_a_bad_one(make_office, capsys):
    from django.core.management import CommandError, call_command

    office = make_office()
    call_command("release_slots", "--date", "2030-01-07")
    assert "32 places released" in capsys.readouterr().out
    assert sum(capacities(office, MONDAY)) == 32
    for bad in ["2030-02-30", "07/01/2030", "tomorrow"]:
        with pytest.raises(CommandError, match="YYYY-MM-DD"):
            call_command("release_slots", "--date", bad)
