"""A deactivated office takes no booking: neither a new one nor one moved there, even by
a POST to a slot it released before (issue #13, item 11)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from appointments import services as booking_services
from appointments.models import Booking, Slot

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # a Sunday morning
TOMORROW = NOW.date() + datetime.timedelta(days=1)
MESSAGE = "This service point is closed for bookings. Choose another service point."


@pytest.fixture(autouse=True)
def clock():
    cache.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
    cache.clear()


@pytest.fixture
def offices(make_office):
    open_office, closing = make_office(), make_office()
    booking_services.slots_release(day=TOMORROW, now=NOW)
    return open_office, closing


def slot_of(office):
    return Slot.objects.filter(office=office, date=TOMORROW).order_by("start").first()


def test_a_slot_of_a_deactivated_office_cannot_be_booked_by_post(offices, make_person):
    _, closing = offices
    slot = slot_of(closing)
    person = make_person()
    person.client.get(f"/book/{slot.pk}/")  # the slot is known to this process first
    closing.is_active = False
    closing.save(update_fields=["is_active"])

    response = person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})

    assert response.status_code == 409
    assert MESSAGE in response.content.decode()
    assert not Booking.objects.filter(resident=person.resident).exists()
    slot.refresh_from_db()
    assert slot.booked == 0


def test_the_service_refuses_with_office_inactive(offices, make_person):
    _, closing = offices
    closing.is_active = False
    closing.save(update_fields=["is_active"])
    person = make_person()
    with pytest.raises(booking_services.OfficeInactive):
        booking_services.booking_create(
            resident=person.resident, slot_id=slot_of(closing).pk, ebike=person.ebike
        )


def test_a_booking_cannot_be_moved_into_a_deactivated_office(offices, make_person):
    open_office, closing = offices
    person = make_person()
    booking = booking_services.booking_create(
        resident=person.resident, slot_id=slot_of(open_office).pk, ebike=person.ebike
    )
    target = slot_of(closing)
    closing.is_active = False
    closing.save(update_fields=["is_active"])

    response = person.client.post(f"/bookings/{booking.code}/move/", {"slot": target.pk})

    assert response.status_code == 302
    page = person.client.get(response["Location"]).content.decode()
    assert MESSAGE in page
    booking.refresh_from_db()
    assert (booking.office_id, booking.slot_id) == (open_office.pk, slot_of(open_office).pk)
    target.refresh_from_db()
    assert target.booked == 0


def test_an_active_office_still_books(offices, make_person):
    open_office, _ = offices
    person = make_person()
    slot = slot_of(open_office)
    response = person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})
    assert response.status_code == 302
    assert Booking.objects.filter(resident=person.resident, slot=slot).exists()
