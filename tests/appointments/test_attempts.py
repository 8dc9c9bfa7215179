"""Refused attempts are counted once each, written in batches, also by an idle worker."""

import datetime
import time
import zoneinfo

import pytest
import time_machine

from appointments import attempts
from appointments.models import Booking, RefusedAttempts

DAY = datetime.date(2030, 1, 8)
NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))  # eve of DAY


@pytest.fixture
def clock():
    """Fixed before the logins: sessions, no-show cooldowns and bookings read this moment."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def counted(office) -> dict[str, int]:
    return dict(RefusedAttempts.objects.filter(office=office).values_list("reason", "total"))


def test_each_refusal_through_the_pages_is_counted_once(clock, make_slot, make_person):
    slot = make_slot(capacity=1, day=DAY)
    other_slot = make_slot(
        capacity=5, day=DAY, office=slot.office, start=datetime.time(10), end=datetime.time(11)
    )
    holder, other, late = make_person(), make_person(), make_person()
    past = make_slot(day=NOW.date() - datetime.timedelta(days=5), office=slot.office)
    for _ in range(3):  # three no-shows within 30 days: in cooldown
        Booking.objects.create(
            resident=late.resident,
            office=slot.office,
            date=past.date,
            slot=past,
            status="no_show",
            created_at=NOW,
        )

    def post(client, bike, target=slot):
        return client.post(f"/book/{target.pk}/", {"slot": target.pk, "ebike": bike.pk})

    assert post(holder.client, holder.ebike).status_code == 302  # booked: not a refusal
    assert post(other.client, other.ebike).status_code == 409  # sold out (from the database)
    assert post(other.client, other.ebike).status_code == 409  # sold out (the cached flag)
    refused = post(holder.client, holder.ebike, other_slot)
    assert refused.status_code == 409 and b"already hold" in refused.content
    cooling = post(late.client, late.ebike, other_slot)  # the fast path hands over the page
    assert cooling.status_code == 409 and b"You missed 3 appointments" in cooling.content
    assert counted(slot.office) == {"full": 2, "already_booked": 1, "cooldown": 1}
    # The success rate counts the sold-out refusals only (see appointments/stats.py).


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_writes_its_last_refusals_within_the_batch_time(make_slot, settings):
    """No further request comes after the rush: the timer thread writes the counts."""
    settings.BOOKING_ATTEMPTS_FLUSH_SECONDS = 0.3
    slot = make_slot(capacity=1, day=DAY)
    attempts.record(office_id=slot.office_id, date=DAY, reason="full")
    attempts.record(office_id=slot.office_id, date=DAY, reason="full")
    assert counted(slot.office) == {}  # not in the request
    deadline = time.monotonic() + 5
    while not counted(slot.office) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counted(slot.office) == {"full": 2}
    assert attempts._timer is None and not attempts._pending
