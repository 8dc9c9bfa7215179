"""The counter (clerks) in a real browser on a desktop screen, in English.

Find a booking by scanning its code, check in, inspect and issue a plate; a senior's
priority walk-in; the walk-in window queue with the hall display.
Screenshots of the pages land in test-artifacts/ for humans to look at.
"""

import datetime
import os
import re

import pytest

from appointments import services as appointment_services
from appointments.models import Booking, Slot
from counter import services as counter_services
from counter.models import PlateNumber, PlateRegistration, QueueTicket
from registration.models import EBike, User
from tests.browser.conftest import CHROMIUM, NOW, TODAY, screenshot, staff_sign_in
from tests.conftest import make_id_number

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 800}
EARLIER = NOW - datetime.timedelta(days=2)


def _expect_path(page, pattern: str) -> None:
    page.wait_for_url(re.compile(rf"^[^?#]*//[^/]+{pattern}(\?.*)?$"))


def _clerk_page(new_page, live_server, office):
    """A clerk of ``office`` on a desktop screen in English, logged in through the login
    page with password and authenticator code."""
    clerk = User.objects.create_user(email=f"clerk-{office.code}@test.example.org")
    office.clerks.add(clerk)
    page = new_page(locale="en-US")
    page.set_viewport_size(DESKTOP)
    staff_sign_in(page, clerk)
    return page, clerk


def _birth_years_ago(years: int) -> str:
    return TODAY.replace(year=TODAY.year - years).strftime("%Y%m%d")  # TODAY is no 29 Feb


def test_clerk_scans_code_checks_in_and_issues_a_plate(
    new_page, live_server, make_office, make_resident
):
    office = make_office(code="east")
    counter_services.plate_stock_load(office=office, prefix="营口A", first=1, last=20)
    slot = Slot.objects.create(
        office=office,
        date=TODAY,
        start=datetime.time(0, 1),
        end=datetime.time(0, 30),
        capacity=10,
    )
    resident = make_resident(name="Zhao Liu")
    ebike = EBike.objects.create(resident=resident, frame_number="FRAMECT0001", brand="Yadea")
    booking = appointment_services.booking_create(
        resident=resident, slot_id=slot.pk, ebike=ebike, now=EARLIER
    )
    page, clerk = _clerk_page(new_page, live_server, office)

    page.goto(f"/counter/{office.code}/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.evaluate("document.activeElement.id") == "counter-q"
    page.keyboard.type(booking.code)  # like a barcode scanner: the code, then Enter
    page.keyboard.press("Enter")
    _expect_path(page, f"/counter/{office.code}/bookings/{booking.code}/")
    assert page.locator("#resident-id").inner_text().strip() == resident.reveal_id_number()
    assert page.locator("#resident-name").inner_text().strip() == "Zhao Liu"
    screenshot(page, "counter-booking")

    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#plate-number")
    assert "Checked in." in page.locator(".messages").inner_text()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CHECKED_IN

    page.fill("#plate-number", "营口A00003")
    page.get_by_role("button", name="Record inspection and issue plate").click()
    _expect_path(page, f"/counter/{office.code}/bookings/{booking.code}/slip/")
    assert page.locator("#plate-number").inner_text().strip() == "营口A00003"
    assert "Registration is free. Insurance is voluntary" in page.locator("body").inner_text()
    screenshot(page, "counter-slip")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    registration = PlateRegistration.objects.get(plate_number="营口A00003")
    assert registration.ebike == ebike
    assert registration.office == office
    assert registration.clerk == clerk
    assert PlateNumber.objects.get(number="营口A00003").status == PlateNumber.Status.ISSUED
    assert PlateNumber.objects.filter(office=office, status="available").count() == 19


def test_senior_priority_walkin_is_checked_in(new_page, live_server, make_office):
    office = make_office(code="west", is_main_urban=True)
    page, clerk = _clerk_page(new_page, live_server, office)
    id_number = make_id_number(birth=_birth_years_ago(70), seq="581")

    page.goto(f"/counter/{office.code}/")
    page.get_by_role("link", name="Priority walk-in (veteran, 65+)").click()
    _expect_path(page, f"/counter/{office.code}/walkin/")
    page.get_by_label("aged 65 or over").check()
    page.fill("#id_real_name", "Old Wang")
    page.fill("#id_id_number", id_number)
    page.fill("#id_frame_number", "WALKINBR0001")
    page.fill("#id_brand", "Aima")
    screenshot(page, "counter-walkin")
    page.get_by_role("button", name="Check in without a booking").click()
    _expect_path(page, f"/counter/{office.code}/bookings/[A-Z0-9]+/")

    assert page.locator(".status").inner_text().strip() == "checked in"
    assert page.locator("#resident-id").inner_text().strip() == id_number
    assert "Priority walk-in checked in." in page.locator(".messages").inner_text()
    booking = Booking.objects.select_related("resident", "ebike").get(
        source="priority_walkin", office=office
    )
    assert page.url.rstrip("/").endswith(f"/bookings/{booking.code}")
    assert booking.status == Booking.Status.CHECKED_IN
    assert booking.walkin_reason == "senior"
    assert booking.resident.real_name == "Old Wang"
    assert booking.resident.reveal_id_number() == id_number
    assert booking.ebike.frame_number == "WALKINBR0001"
    assert booking.ebike.resident == booking.resident


def test_walkin_window_queue_with_hall_display(new_page, live_server, make_office):
    office = make_office(code="north", has_walkin_window=True, is_main_urban=False)
    page, clerk = _clerk_page(new_page, live_server, office)
    id_number = make_id_number(birth="19800101", seq="662")

    page.goto(f"/counter/{office.code}/queue/")
    for n in (1, 2):
        page.get_by_role("button", name="Issue a number").click()
        page.wait_for_selector(f".messages :text('Number {n} issued.')")
    page.get_by_role("button", name="Call next").click()
    serve = page.get_by_role("button", name="Serve number 1")
    serve.wait_for()
    tickets = {t.number: t.status for t in QueueTicket.objects.filter(office=office)}
    assert tickets == {1: QueueTicket.Status.CALLED, 2: QueueTicket.Status.WAITING}

    display = page.context.new_page()
    display.goto(f"/display/{office.code}/")
    assert display.locator("#now-calling").inner_text().strip() == "1"
    assert "Waiting: 1." in display.locator("main").inner_text()
    screenshot(display, "counter-display")
    display.close()

    page.fill("#id_real_name", "Window Walker")
    page.fill("#id_id_number", id_number)
    page.fill("#id_frame_number", "WINDOWBR0001")
    page.fill("#id_brand", "Yadea")
    screenshot(page, "counter-queue")
    serve.click()
    _expect_path(page, f"/counter/{office.code}/bookings/[A-Z0-9]+/")

    booking = Booking.objects.select_related("resident", "ebike").get(office=office)
    assert page.url.rstrip("/").endswith(f"/bookings/{booking.code}")
    assert booking.source == "walkin_window"
    assert booking.status == Booking.Status.CHECKED_IN
    assert booking.resident.reveal_id_number() == id_number
    assert booking.ebike.frame_number == "WINDOWBR0001"
    assert page.locator("#resident-id").inner_text().strip() == id_number
    assert page.locator(".status").inner_text().strip() == "checked in"
    first = QueueTicket.objects.get(office=office, number=1)
    assert first.status == QueueTicket.Status.SERVED
    assert first.booking == booking
    assert QueueTicket.objects.get(office=office, number=2).status == QueueTicket.Status.WAITING
