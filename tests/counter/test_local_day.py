"""The counter board and the no-show sweep decide "today" in Asia/Shanghai, not in UTC.

From 00:00 to 08:00 local time the UTC date is still the day before: 07:30 local is
23:30 UTC, 00:05 local is 16:05 UTC. Each test passes ``now`` in UTC, as the real clock
gives it (timezone.now()), so a UTC date in the code would show the wrong day.
"""

import datetime
import zoneinfo

import pytest
import time_machine

from appointments import services
from appointments.models import Booking, Slot
from tests.personas import signed_in

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC
TODAY = datetime.date(2030, 1, 8)  # a Tuesday
YESTERDAY = TODAY - datetime.timedelta(days=1)
EARLIER = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=SH)
MORNING = datetime.datetime(2030, 1, 8, 7, 30, tzinfo=SH)  # 2030-01-07 23:30 UTC
AFTER_MIDNIGHT = datetime.datetime(2030, 1, 8, 0, 5, tzinfo=SH)  # 2030-01-07 16:05 UTC


@pytest.fixture
def office_day(office_a, make_resident):
    office = office_a

    def book(day, start, end):
        slot, _ = Slot.objects.get_or_create(
            office=office, date=day, start=start, defaults={"end": end, "capacity": 5}
        )
        return services.booking_create(resident=make_resident(), slot_id=slot.pk, now=EARLIER)

    bookings = {
        "yesterday_evening": book(YESTERDAY, datetime.time(22), datetime.time(23)),
        "today_early": book(TODAY, datetime.time(0, 1), datetime.time(0, 2)),
        "today_six": book(TODAY, datetime.time(6), datetime.time(7)),
        "today_nine": book(TODAY, datetime.time(9), datetime.time(10)),
    }
    return office, bookings


def statuses(bookings):
    return {name: Booking.objects.get(pk=b.pk).status for name, b in bookings.items()}


def test_no_show_sweep_at_half_past_seven_local_uses_the_local_day(office_day, settings):
    settings.NO_SHOW_GRACE_MINUTES = 15
    _, bookings = office_day
    now = MORNING.astimezone(UTC)
    assert now.date() == YESTERDAY  # the trap: the UTC date is yesterday

    assert services.bookings_mark_no_shows(now=now) == 3
    assert statuses(bookings) == {
        "yesterday_evening": "no_show",
        "today_early": "no_show",
        "today_six": "no_show",  # ended 07:00, grace 15 min
        "today_nine": "booked",
    }
    assert services.bookings_mark_no_shows(now=now) == 0


def test_no_show_sweep_just_after_local_midnight_marks_yesterdays_evening(office_day, settings):
    settings.NO_SHOW_GRACE_MINUTES = 1
    _, bookings = office_day
    now = AFTER_MIDNIGHT.astimezone(UTC)
    assert now.date() == YESTERDAY

    assert services.bookings_mark_no_shows(now=now) == 2
    assert statuses(bookings) == {
        "yesterday_evening": "no_show",
        "today_early": "no_show",  # 00:02 + 1 min grace <= 00:05
        "today_six": "booked",
        "today_nine": "booked",
    }


def test_the_no_show_task_on_the_real_clock_uses_the_local_day(office_day, settings):
    from appointments.tasks import mark_no_shows

    settings.NO_SHOW_GRACE_MINUTES = 15
    _, bookings = office_day
    with time_machine.travel(MORNING, tick=False):
        assert mark_no_shows.delay().get() == 3
    assert statuses(bookings)["today_six"] == "no_show"


@pytest.mark.parametrize("moment", [MORNING, AFTER_MIDNIGHT], ids=["07:30", "00:05"])
def test_counter_board_shows_the_local_day(office_day, clerk_a, moment):
    office, bookings = office_day
    with time_machine.travel(moment, tick=False):
        client = signed_in(clerk_a)  # at this moment: the session expires from it
        response = client.get(f"/counter/{office.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("today_early", "today_six", "today_nine"):
        assert bookings[name].code in html, name
    assert bookings["yesterday_evening"].code not in html
