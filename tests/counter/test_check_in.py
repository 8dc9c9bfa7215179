"""Clerks at the counter: their office only, today's board, search, full ID on record, check-in."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from appointments import services
from appointments.models import Booking, Slot
from counter import services as counter_services
from counter.audit import detail_text
from counter.models import AuditEntry

# A Monday mid-morning: today's 00:01 window has started, tomorrow (Tuesday) is open too.
NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()
EARLIER = NOW - datetime.timedelta(days=2)


@pytest.fixture(autouse=True)
def clock():
    """Fixed before any session is made: the clerks' logins expire from this moment."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def counter(office_a, office_b, clerk_a, clerk_b, clerk_a_client, clerk_b_client, make_resident):
    """The shared personas (tests/personas.py) and two bookings at office A."""
    today = TODAY

    def book(office, day, seq, phone=""):
        slot, _ = Slot.objects.get_or_create(
            office=office,
            date=day,
            start=datetime.time(0, 1),
            defaults={"end": datetime.time(0, 30), "capacity": 10},
        )
        resident = make_resident(name=f"Person {seq}")
        if phone:
            resident.phone = phone
            resident.save(update_fields=["phone"])
        return services.booking_create(resident=resident, slot_id=slot.pk, now=EARLIER)

    today_booking = book(office_a, today, 1, phone="+8613911110000")
    tomorrow_booking = book(office_a, today + datetime.timedelta(days=1), 2)
    return {
        "a": office_a,
        "b": office_b,
        "clerk_a": clerk_a,
        "clerk_b": clerk_b,
        "today": today_booking,
        "tomorrow": tomorrow_booking,
        "client_a": clerk_a_client,
        "client_b": clerk_b_client,
    }


def test_clerk_sees_todays_board_of_their_office_with_ids_masked(counter):
    response = counter["client_a"].get("/counter/")
    assert response.status_code == 302 and response["Location"] == "/counter/office-a/"
    html = counter["client_a"].get("/counter/office-a/").content.decode()
    booking = counter["today"]
    assert booking.code in html
    assert booking.resident.id_masked in html
    assert booking.resident.reveal_id_number() not in html
    assert counter["tomorrow"].code not in html  # today's board only


def test_other_offices_residents_and_strangers_are_refused(counter, resident_client):
    code = counter["today"].code
    assert counter["client_b"].get("/counter/office-a/").status_code == 403
    assert counter["client_b"].get(f"/counter/office-a/bookings/{code}/").status_code == 403
    url = f"/counter/office-a/bookings/{code}/"
    assert counter["client_b"].post(url, {"action": "check_in"}).status_code == 403
    assert resident_client.get("/counter/").status_code == 403
    assert resident_client.get("/counter/office-a/").status_code == 403
    anonymous = Client()
    assert anonymous.get("/counter/office-a/")["Location"].startswith("/accounts/login/")
    counter["today"].refresh_from_db()
    assert counter["today"].status == Booking.Status.BOOKED
    assert not AuditEntry.objects.filter(action="check_in").exists()


@pytest.mark.parametrize("how", ["code", "qr", "id_number", "phone"])
def test_search_finds_the_booking_and_records_how_not_what(counter, how):
    booking = counter["today"]
    query = {
        "code": booking.code.lower(),
        "qr": f"EBIKE-BOOKING:{booking.code}",
        "id_number": booking.resident.reveal_id_number(),
        "phone": "139 1111 0000",
    }[how]
    response = counter["client_a"].post("/counter/office-a/", {"q": query})
    assert response.status_code == 302
    assert response["Location"] == f"/counter/office-a/bookings/{booking.code}/"
    entry = AuditEntry.objects.get(action="search")
    assert (entry.clerk, entry.office) == (counter["clerk_a"], counter["a"])
    # How the person was found, for the record; never what was typed.
    assert (entry.detail_code, entry.detail_params) == ("search", {"kind": how, "count": 1})
    with translation.override("en"):
        text = detail_text(entry.detail_code, entry.detail_params)
    assert booking.resident.reveal_id_number() not in text
    assert "0000" not in text
    label = {"code": "confirmation code", "qr": "QR code", "id_number": "ID number"}
    assert text == f"by {label.get(how, 'mobile number')}: 1 found"


def test_search_does_not_find_another_offices_booking(counter, make_resident):
    booking = counter["today"]
    response = counter["client_b"].post("/counter/office-b/", {"q": booking.code})
    assert response.status_code == 200
    assert "No booking at this office matches." in response.content.decode()


def test_booking_page_shows_the_full_id_to_this_clerk_on_the_record(counter):
    booking = counter["today"]
    html = counter["client_a"].get(f"/counter/office-a/bookings/{booking.code}/").content.decode()
    assert booking.resident.reveal_id_number() in html
    entry = AuditEntry.objects.get(action="reveal_id")
    assert (entry.clerk, entry.booking, entry.resident) == (
        counter["clerk_a"],
        booking,
        booking.resident,
    )


def test_check_in_once_and_a_second_is_refused(counter):
    booking = counter["today"]
    url = f"/counter/office-a/bookings/{booking.code}/"
    assert counter["client_a"].post(url, {"action": "whatever"}).status_code == 400
    assert Booking.objects.get(pk=booking.pk).status == "booked"  # nothing happened
    assert counter["client_a"].post(url, {"action": "check_in"}).status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CHECKED_IN and booking.checked_in_at is not None
    html = counter["client_a"].post(url, {"action": "check_in"}, follow=True).content.decode()
    assert "already checked in" in html
    assert AuditEntry.objects.filter(action="check_in", booking=booking).count() == 1


def test_check_in_only_on_the_booked_day(counter):
    booking = counter["tomorrow"]
    html = (
        counter["client_a"]
        .post(f"/counter/office-a/bookings/{booking.code}/", {"action": "check_in"}, follow=True)
        .content.decode()
    )
    assert "not today" in html
    booking.refresh_from_db()
    assert booking.status == Booking.Status.BOOKED


def test_check_in_at_another_office_is_refused_by_the_service(counter):
    with pytest.raises(counter_services.NotYourOffice):
        counter_services.booking_check_in(
            booking=counter["today"], clerk=counter["clerk_b"], office=counter["a"]
        )
    counter["b"].clerks.add(counter["clerk_a"])
    with (
        translation.override("en"),
        pytest.raises(counter_services.CheckInRefused, match="another"),
    ):
        counter_services.booking_check_in(
            booking=counter["today"], clerk=counter["clerk_a"], office=counter["b"]
        )
    counter["today"].refresh_from_db()
    assert counter["today"].status == Booking.Status.BOOKED


def test_search_is_a_post_so_numbers_stay_out_of_urls(counter):
    booking = counter["today"]
    number = booking.resident.reveal_id_number()
    response = counter["client_a"].get("/counter/office-a/", {"q": number})
    assert response.status_code == 200  # the board, no search made
    assert not AuditEntry.objects.filter(action="search").exists()
    html = response.content.decode()
    assert '<form method="post" class="counter-search"' in html
