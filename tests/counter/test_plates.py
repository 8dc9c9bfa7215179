"""Inspection and plate issue at the counter: stock, format, once per frame and number."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from appointments import services as booking_services
from appointments.models import Booking, Slot
from counter import services as counter_services
from counter.models import AuditEntry, Inspection, PlateNumber, PlateRegistration
from registration.models import EBike, User
from tests.personas import staff_login

BEFORE = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
# During the bookings' 09:00-10:00 window on their day: plates are issued then.
NOW = datetime.datetime(2030, 1, 7, 9, 20, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def checked_in(office_a, clerk_a, make_resident, settings):
    """Office A's stock of plates, its clerk, and bookings checked in there (``make()``)."""
    settings.PLATE_NUMBER_PATTERN = r"营口[A-Z][0-9]{5}"
    office, clerk = office_a, clerk_a
    slot = Slot.objects.create(
        office=office,
        date=datetime.date(2030, 1, 7),
        start=datetime.time(9),
        end=datetime.time(10),
        capacity=5,
    )

    def make(n=1):
        resident = make_resident()
        ebike = EBike.objects.create(resident=resident, frame_number=f"FRAME{n:07d}", brand="X")
        booking = booking_services.booking_create(
            resident=resident, slot_id=slot.pk, ebike=ebike, now=BEFORE
        )
        Booking.objects.filter(pk=booking.pk).update(status="checked_in")
        booking.refresh_from_db()
        return booking

    counter_services.plate_stock_load(office=office, prefix="营口A", first=1, last=20)
    return office, clerk, make


def test_stock_is_loaded_in_the_citys_format_and_never_twice(checked_in):
    office, _, _ = checked_in
    assert PlateNumber.objects.filter(office=office, status="available").count() == 20
    assert PlateNumber.objects.filter(number="营口A00001").exists()
    with pytest.raises(counter_services.PlateRefused):
        counter_services.plate_stock_load(office=office, prefix="营口A", first=15, last=30)
    assert PlateNumber.objects.count() == 20
    with pytest.raises(counter_services.PlateRefused):
        counter_services.plate_number_clean("ABC12345")


def test_a_passed_inspection_issues_the_typed_plate_and_completes(checked_in):
    office, clerk, make = checked_in
    booking = make()
    inspection, registration = counter_services.plate_issue(
        booking=booking, clerk=clerk, office=office, failed_items=[], plate_number="营口a 00003"
    )
    assert inspection.passed
    assert registration.plate_number == "营口A00003"
    assert (registration.ebike, registration.clerk, registration.booking) == (
        booking.ebike,
        clerk,
        Booking.objects.get(pk=booking.pk),
    )
    assert Booking.objects.get(pk=booking.pk).status == "completed"
    assert PlateNumber.objects.get(number="营口A00003").status == "issued"
    assert AuditEntry.objects.filter(action="registration", booking=booking).count() == 1


def test_a_failed_inspection_keeps_the_whole_list_and_uses_no_plate(checked_in):
    office, clerk, make = checked_in
    booking = make()
    inspection, registration = counter_services.plate_issue(
        booking=booking,
        clerk=clerk,
        office=office,
        failed_items=["invoice", "numbers"],
        plate_number="营口A00004",
    )
    assert registration is None
    assert Inspection.objects.get(pk=inspection.pk).failed_items == ["invoice", "numbers"]
    assert len(inspection.failed_labels()) == 2
    assert Booking.objects.get(pk=booking.pk).status == "inspection_failed"
    assert PlateNumber.objects.get(number="营口A00004").status == "available"
    assert not PlateRegistration.objects.exists()


def test_a_plate_already_issued_or_not_in_stock_is_refused(checked_in):
    office, clerk, make = checked_in
    first, second = make(1), make(2)
    counter_services.plate_issue(
        booking=first, clerk=clerk, office=office, failed_items=[], plate_number="营口A00005"
    )
    for number in ["营口A00005", "营口A00099", "营口B00001"]:
        with pytest.raises(counter_services.PlateRefused):
            counter_services.plate_issue(
                booking=second, clerk=clerk, office=office, failed_items=[], plate_number=number
            )
    assert Booking.objects.get(pk=second.pk).status == "checked_in"
    assert PlateRegistration.objects.count() == 1


def test_a_voided_plate_is_never_issued(checked_in):
    office, clerk, make = checked_in
    counter_services.plate_void(office=office, number="营口A00006", reason="damaged", user=clerk)
    with pytest.raises(counter_services.PlateRefused):
        counter_services.plate_issue(
            booking=make(), clerk=clerk, office=office, failed_items=[], plate_number="营口A00006"
        )


def test_one_plate_per_frame_even_bypassing_the_service(checked_in):
    office, clerk, make = checked_in
    booking = make()
    counter_services.plate_issue(
        booking=booking, clerk=clerk, office=office, failed_items=[], plate_number="营口A00007"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PlateRegistration.objects.create(
            plate_number="营口A00008",
            ebike=booking.ebike,
            office=office,
            channel="online",
            registered_at=BEFORE,
        )


def test_only_checked_in_bookings_and_own_office(checked_in, make_office):
    office, clerk, make = checked_in
    booking = make()
    Booking.objects.filter(pk=booking.pk).update(status="booked")
    with pytest.raises(counter_services.CheckInRefused):
        counter_services.plate_issue(
            booking=booking, clerk=clerk, office=office, failed_items=[], plate_number="营口A00009"
        )
    other = make_office()
    with pytest.raises(counter_services.NotYourOffice):
        counter_services.plate_issue(
            booking=booking, clerk=clerk, office=other, failed_items=[], plate_number="营口A00009"
        )


def test_counter_page_registers_and_prints_the_slip(checked_in, clerk_a_client):
    office, _, make = checked_in
    booking = make()
    url = f"/counter/{office.code}/bookings/{booking.code}/"
    response = clerk_a_client.post(
        url, {"action": "register", "plate_number": "营口A00010"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response["Location"] == url + "slip/"
    slip = clerk_a_client.get(url + "slip/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "营口A00010" in slip
    assert "Registration is free. Insurance is voluntary" in slip


def test_counter_page_records_a_failed_inspection_for_the_resident(checked_in, client):
    office, clerk, make = checked_in
    booking = make()
    staff_login(client, clerk)
    url = f"/counter/{office.code}/bookings/{booking.code}/"
    client.post(url, {"action": "register", "failed": ["invoice", "standard"]})
    slip = client.get(url + "slip/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The purchase invoice is there" in slip and "national standard" in slip
    resident_user = User.objects.create_user(email="owner@test.example.org")
    booking.resident.user = resident_user
    booking.resident.save(update_fields=["user"])
    client.force_login(resident_user)
    page = client.get(f"/bookings/{booking.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The resident reads what to bring or fix, not the clerk's pass criteria (#14).
    assert "Bring the purchase invoice of the e-bike." in page
    assert "does not meet the national standard" in page
    assert "The purchase invoice is there" not in page
    assert not PlateRegistration.objects.exists()


def test_admins_load_a_range_and_void_plates_in_the_admin(checked_in, admin_user, admin_client):
    office, _, _ = checked_in
    response = admin_client.post(
        "/admin/counter/platenumber/load/",
        {"office": office.pk, "prefix": "营口B", "first": 1, "last": 5},
    )
    assert response.status_code == 302
    assert PlateNumber.objects.filter(number__startswith="营口B").count() == 5
    again = admin_client.post(
        "/admin/counter/platenumber/load/",
        {"office": office.pk, "prefix": "营口B", "first": 5, "last": 6},
    )
    assert again.status_code == 200  # refused, nothing loaded
    assert PlateNumber.objects.filter(number__startswith="营口B").count() == 5
    plate = PlateNumber.objects.get(number="营口B00002")
    admin_client.post(
        "/admin/counter/platenumber/",
        {"action": "void_lost", "_selected_action": [plate.pk]},
    )
    plate.refresh_from_db()
    assert plate.status == "voided"
    entry = AuditEntry.objects.get(action="plate_void")
    assert (entry.clerk, entry.office) == (admin_user, office)
    assert entry.detail_params == {"plate": "营口B00002", "reason": "lost"}


def test_a_frame_with_a_plate_cannot_get_another(checked_in):
    office, clerk, make = checked_in
    first = make(1)
    counter_services.plate_issue(
        booking=first, clerk=clerk, office=office, failed_items=[], plate_number="营口A00011"
    )
    second = make(2)
    Booking.objects.filter(pk=second.pk).update(ebike=first.ebike)
    second.refresh_from_db()
    with pytest.raises(counter_services.PlateRefused) as exc:
        counter_services.plate_issue(
            booking=second, clerk=clerk, office=office, failed_items=[], plate_number="营口A00012"
        )
    assert exc.value.code == "frame_has_plate"
    assert PlateNumber.objects.get(number="营口A00012").status == "available"
