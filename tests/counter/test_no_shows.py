"""No-shows: the periodic sweep marks exactly the late bookings, and is safe to run twice."""

import datetime
import zoneinfo

import pytest

from appointments import services
from appointments.models import Booking, Slot
from counter.models import AuditEntry
from registration.models import User
from tests.personas import signed_in

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = datetime.date(2030, 1, 7)
BEFORE = datetime.datetime(2030, 1, 1, tzinfo=SH)


@pytest.fixture
def day_of_bookings(office_a, make_resident):
    office = office_a
    slots = {
        start: Slot.objects.create(
            office=office,
            date=DAY,
            start=datetime.time(start),
            end=datetime.time(start + 1),
            capacity=5,
        )
        for start in (9, 10, 11)
    }
    yesterday = Slot.objects.create(
        office=office,
        date=DAY - datetime.timedelta(days=1),
        start=datetime.time(15),
        end=datetime.time(16),
        capacity=5,
    )

    def book(slot):
        return services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)

    bookings = {
        "yesterday": book(yesterday),
        "nine": book(slots[9]),
        "nine_checked_in": book(slots[9]),
        "nine_cancelled": book(slots[9]),
        "ten": book(slots[10]),
        "eleven": book(slots[11]),
    }
    Booking.objects.filter(pk=bookings["nine_checked_in"].pk).update(status="checked_in")
    services.booking_cancel(booking=bookings["nine_cancelled"], now=BEFORE)
    return office, bookings


def statuses(bookings):
    return {name: Booking.objects.get(pk=b.pk).status for name, b in sorted(bookings.items())}


def test_sweep_marks_exactly_the_late_bookings_and_is_safe_twice(day_of_bookings, settings):
    settings.NO_SHOW_GRACE_MINUTES = 30
    _, bookings = day_of_bookings
    # 11:29 on the day: the 9-10 window is past its grace, 10-11 is not (ends 11:00 + 30 min).
    now = datetime.datetime(2030, 1, 7, 11, 29, tzinfo=SH)
    assert services.bookings_mark_no_shows(now=now) == 2
    assert statuses(bookings) == {
        "eleven": "booked",
        "nine": "no_show",
        "nine_cancelled": "cancelled",
        "nine_checked_in": "checked_in",
        "ten": "booked",
        "yesterday": "no_show",
    }
    assert services.bookings_mark_no_shows(now=now) == 0
    later = datetime.datetime(2030, 1, 7, 11, 30, tzinfo=SH)
    assert services.bookings_mark_no_shows(now=later) == 1
    assert Booking.objects.get(pk=bookings["ten"].pk).status == "no_show"


def test_the_task_runs_the_sweep(day_of_bookings, time_machine):
    from appointments.tasks import mark_no_shows

    time_machine.move_to(datetime.datetime(2030, 1, 8, 9, 0, tzinfo=SH))
    assert mark_no_shows.delay().get() == 4
    assert mark_no_shows.delay().get() == 0


def test_clerk_marks_a_no_show_after_the_window_started(day_of_bookings, clerk_a, time_machine):
    office, bookings = day_of_bookings
    url = f"/counter/{office.code}/bookings/{bookings['eleven'].code}/"
    time_machine.move_to(datetime.datetime(2030, 1, 7, 10, 0, tzinfo=SH))
    client = signed_in(clerk_a)  # after moving the clock, or the session has expired
    html = client.post(url, {"action": "no_show"}, follow=True).content.decode()
    assert "The window has not started yet." in html
    time_machine.move_to(datetime.datetime(2030, 1, 7, 11, 20, tzinfo=SH))
    client = signed_in(clerk_a)  # a staff session ends after 30 minutes idle
    client.post(url, {"action": "no_show"})
    assert Booking.objects.get(pk=bookings["eleven"].pk).status == "no_show"
    assert AuditEntry.objects.filter(action="no_show", clerk=clerk_a).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_check_in_committed_while_the_sweep_waits_stays_a_check_in(make_slot, make_resident):
    """The sweep waits for a booking a clerk is checking in; once the check-in commits,
    the sweep must see it checked in, not overwrite it with a no-show."""
    import threading

    from django.db import connection, transaction

    slot = make_slot(day=DAY, start=datetime.time(9), end=datetime.time(10))
    user = User.objects.create_user(phone="+8613900007777")
    booking = services.booking_create(
        resident=make_resident(user=user), slot_id=slot.pk, now=BEFORE
    )
    late = datetime.datetime.combine(DAY, datetime.time(11), tzinfo=SH)  # window over, grace too
    locked, swept = threading.Event(), []

    def sweep():
        locked.wait(10)
        try:
            swept.append(services.bookings_mark_no_shows(now=late))
        finally:
            connection.close()

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    with transaction.atomic():
        row = Booking.objects.select_for_update().get(pk=booking.pk)
        services.booking_status_set(row, Booking.Status.CHECKED_IN, now=late)
        locked.set()
        # Until the sweep is waiting for this row's lock.
        with connection.cursor() as cursor:
            for _ in range(100):
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh view each time
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("the sweep never waited for the row")
    sweeper.join(10)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CHECKED_IN
    assert swept == [0]
