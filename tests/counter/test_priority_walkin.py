"""Priority walk-ins: veterans and people aged 65+ (by the ID's birth date), once per person."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import translation

from appointments.models import Booking
from counter import services as counter_services
from counter.models import PlateRegistration
from registration import services as registration_services
from tests.conftest import make_id_number

# A Monday, not 29 February, so "born N years ago today" is a real date in every year.
NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def clock():
    """The age is counted on this day; fixed before any clerk logs in."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(office_a, clerk_a):
    """Office A (in the main urban area, as offices are by default) and its clerk."""
    assert office_a.is_main_urban
    return office_a, clerk_a


def birth_years_ago(years: int, days: int = 0) -> str:
    born = TODAY.replace(year=TODAY.year - years) + datetime.timedelta(days=days)
    return born.strftime("%Y%m%d")


def walkin(desk, *, id_number, reason="senior", frame="WALKIN0001", **extra):
    office, clerk = desk
    return counter_services.priority_walkin_start(
        office=office,
        clerk=clerk,
        real_name="Old Wang",
        id_number=id_number,
        reason=reason,
        frame_number=frame,
        brand="Yadea",
        **extra,
    )


def test_a_person_who_turns_65_today_is_served(desk):
    booking = walkin(desk, id_number=make_id_number(birth=birth_years_ago(65)))
    assert (booking.status, booking.source, booking.walkin_reason) == (
        "checked_in",
        "priority_walkin",
        "senior",
    )
    assert booking.ebike.resident == booking.resident  # in the person's own name


def test_a_64_year_old_is_refused_with_the_reason(desk):
    with translation.override("en"), pytest.raises(counter_services.WalkinRefused) as exc:
        walkin(desk, id_number=make_id_number(birth=birth_years_ago(65, days=1)))
    assert "64 years old" in str(exc.value)
    assert not Booking.objects.exists()


def test_a_veteran_needs_the_certificate_number(desk):
    number = make_id_number(birth="19900101")
    with pytest.raises(counter_services.WalkinRefused):
        walkin(desk, id_number=number, reason="veteran")
    booking = walkin(desk, id_number=number, reason="veteran", veteran_certificate="VET-001")
    assert booking.veteran_certificate == "VET-001"


def test_only_once_per_person_even_with_another_e_bike(desk):
    number = make_id_number(birth=birth_years_ago(70))
    first = walkin(desk, id_number=number)
    office, clerk = desk
    counter_services.plate_stock_load(office=office, prefix="营口A", first=1, last=2)
    counter_services.plate_issue(
        booking=first, clerk=clerk, office=office, failed_items=[], plate_number="营口A00001"
    )
    assert PlateRegistration.objects.get().channel == "priority_walkin"
    with pytest.raises(counter_services.WalkinRefused):
        walkin(desk, id_number=number, frame="WALKIN0002")
    assert Booking.objects.filter(source="priority_walkin").count() == 1


def test_the_database_refuses_a_second_priority_walkin(desk):
    first = walkin(desk, id_number=make_id_number(birth=birth_years_ago(70)))
    Booking.objects.filter(pk=first.pk).update(status="completed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            resident=first.resident,
            office=first.office,
            date=first.date,
            source="priority_walkin",
            walkin_reason="senior",
            status="checked_in",
            created_at=NOW,
        )


def test_no_reason_no_service_enforced_by_the_database(desk):
    first = walkin(desk, id_number=make_id_number(birth=birth_years_ago(70)))
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=first.pk).update(walkin_reason="")


def test_not_at_an_office_outside_the_main_urban_area(office_b, clerk_b):
    office_b.is_main_urban = False
    office_b.save(update_fields=["is_main_urban"])
    with pytest.raises(counter_services.WalkinRefused):
        walkin((office_b, clerk_b), id_number=make_id_number(birth=birth_years_ago(80)))


def test_the_counter_form_serves_a_senior(desk, clerk_a_client):
    office, _ = desk
    response = clerk_a_client.post(
        f"/counter/{office.code}/walkin/",
        {
            "reason": "senior",
            "real_name": "Old Li",
            "id_number": make_id_number(birth=birth_years_ago(66), seq="333"),
            "frame_number": "WALKIN0009",
            "brand": "Yadea",
        },
    )
    booking = Booking.objects.get(source="priority_walkin")
    assert response["Location"] == f"/counter/{office.code}/bookings/{booking.code}/"
    refused = clerk_a_client.post(
        f"/counter/{office.code}/walkin/",
        {
            "reason": "senior",
            "real_name": "Young Zhao",
            "id_number": make_id_number(birth=birth_years_ago(40), seq="335"),
            "frame_number": "WALKIN0010",
            "brand": "Yadea",
        },
    )
    assert refused.status_code == 200
    assert "the rule is 65 or over" in refused.content.decode()


def test_an_e_bike_already_on_record_is_reused_not_refused(desk, make_resident):
    """Added online before, or back after a failed inspection: the same e-bike record."""
    office, clerk = desk
    number = make_id_number(birth=birth_years_ago(70), seq="611")
    resident = registration_services.resident_create(real_name="Old Wang", id_number=number)
    online = registration_services.ebike_add(
        resident=resident, frame_number="WALKIN0611", brand="Yadea"
    )
    first = walkin(desk, id_number=number, frame="walkin 0611")
    assert (first.resident, first.ebike) == (resident, online)
    counter_services.plate_issue(
        booking=first, clerk=clerk, office=office, failed_items=["invoice"], plate_number=""
    )
    assert Booking.objects.get(pk=first.pk).status == "inspection_failed"
    again = walkin(desk, id_number=number, frame="WALKIN0611")  # with the invoice this time
    assert (again.ebike, again.status) == (online, "checked_in")


def test_a_frame_on_record_for_someone_else_is_refused(desk, make_resident):
    owner = make_resident(name="Owner")
    registration_services.ebike_add(resident=owner, frame_number="WALKIN0612", brand="Yadea")
    with translation.override("en"), pytest.raises(counter_services.WalkinRefused) as exc:
        walkin(
            desk, id_number=make_id_number(birth=birth_years_ago(70), seq="612"), frame="WALKIN0612"
        )
    assert "on record for another person" in str(exc.value)
    assert not Booking.objects.exists()
