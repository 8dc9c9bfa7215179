"""Quota edits through the Django admin go through the quota service."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from appointments import services as booking_services
from appointments.models import Slot
from counter.models import AuditEntry
from offices.models import Office, QuotaChange, TimeWindow

# The Friday before Monday 2030-01-07, the day the slots tests release: the floor checks
# count that week from "today", and the admin logs in at this moment.
NOW = datetime.datetime(2030, 1, 4, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def office_form(office, **overrides):
    data = {
        "name": office.name,
        "code": office.code,
        "address": office.address,
        "district": office.district,
        "opening_hours": "",
        "is_main_urban": "on" if office.is_main_urban else "",
        "is_active": "on" if office.is_active else "",
        "opening_weekdays": office.opening_weekdays,
        "daily_capacity": office.daily_capacity,
        "weekly_quota": office.weekly_quota,
        "change_reason": "",
        "windows-TOTAL_FORMS": "0",
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
        "planned_changes-TOTAL_FORMS": "0",
        "planned_changes-INITIAL_FORMS": "0",
        "planned_changes-MIN_NUM_FORMS": "0",
        "planned_changes-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k in ("change_reason", "opening_hours")}


def test_admin_refuses_a_change_below_the_floor_with_the_reason(admin_client, main_urban_offices):
    office = main_urban_offices[0]
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin_client.post(
        url, office_form(office, weekly_quota=50, change_reason="cut"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200  # the form again, with the error
    assert "below the floor of 760" in response.content.decode()
    office.refresh_from_db()
    assert office.weekly_quota == 160
    assert not QuotaChange.objects.exists()


def test_admin_requires_a_reason_for_a_capacity_change(admin_client, main_urban_offices):
    office = main_urban_offices[0]
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin_client.post(url, office_form(office, daily_capacity=40))
    assert response.status_code == 200
    office.refresh_from_db()
    assert office.daily_capacity == 32


def test_admin_change_is_logged_with_who_and_why(admin_client, main_urban_offices, admin_user):
    office = main_urban_offices[0]
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin_client.post(
        url, office_form(office, weekly_quota=170, address="New road 2", change_reason="more staff")
    )
    assert response.status_code == 302
    office.refresh_from_db()
    assert (office.weekly_quota, office.address) == (170, "New road 2")
    change = QuotaChange.objects.get()
    assert (change.field, change.old_value, change.new_value, change.reason, change.changed_by) == (
        "weekly_quota",
        "160",
        "170",
        "more staff",
        admin_user,
    )


@pytest.fixture
def tight_offices(make_office, settings):
    """Main-urban offices whose windows are exactly their daily capacity, at the floor."""
    windows = [(datetime.time(8 + i), datetime.time(9 + i), 8) for i in range(4)]
    offices = [
        make_office(daily_capacity=32, weekly_quota=192, opening_weekdays="123456", windows=windows)
        for _ in range(5)
    ]
    settings.WEEKLY_ONLINE_FLOOR = 960
    return offices


def test_admin_window_shrink_below_floor_is_refused(admin_client, tight_offices):
    window = tight_offices[0].windows.first()
    url = reverse("admin:offices_timewindow_change", args=[window.pk])
    response = admin_client.post(
        url,
        {
            "office": window.office_id,
            "start": "08:00",
            "end": "09:00",
            "capacity": "1",
            "change_reason": "shorter",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "below the floor of 960" in response.content.decode()
    window.refresh_from_db()
    assert window.capacity == 8


def test_admin_window_delete_below_floor_is_refused(admin_client, tight_offices):
    window = tight_offices[0].windows.first()
    url = reverse("admin:offices_timewindow_delete", args=[window.pk])
    response = admin_client.post(url, {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "below the floor of 960" in response.content.decode()
    assert TimeWindow.objects.filter(pk=window.pk).exists()
    assert not QuotaChange.objects.exists()


def test_admin_slot_capacity_cannot_fall_below_booked(admin_client, make_office, make_resident):
    office = make_office()
    day = datetime.date(2030, 1, 7)
    booking_services.slots_release(day=day)
    slot = Slot.objects.filter(office=office, date=day).first()
    for _ in range(2):
        booking_services.booking_create(
            resident=make_resident(),
            slot_id=slot.pk,
            now=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
        )
    url = reverse("admin:appointments_slot_change", args=[slot.pk])
    response = admin_client.post(
        url, {"capacity": "1", "change_reason": "less"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "already booked" in response.content.decode()
    response = admin_client.post(url, {"capacity": "2", "change_reason": "less"})
    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.capacity == 2
    assert QuotaChange.objects.get().new_value == "2"


@pytest.mark.parametrize(
    "name",
    [
        "offices_office",
        "offices_timewindow",
        "offices_closedday",
        "offices_quotachange",
        "appointments_slot",
        "appointments_dayrelease",
        "appointments_booking",
        "registration_user",
        "registration_resident",
        "registration_ebike",
        "counter_plateregistration",
        "counter_platenumber",
        "counter_auditentry",
        "counter_inspection",
        "counter_queueticket",
    ],
)
def test_every_model_has_a_working_admin_list(admin_client, main_urban_offices, name):
    booking_services.slots_release(day=datetime.date(2030, 1, 7))
    response = admin_client.get(reverse(f"admin:{name}_changelist") + "?q=test")
    assert response.status_code == 200


def test_resident_admin_opens_a_record_by_id_or_mobile_number_sent_by_post(
    admin_client, make_resident
):
    from tests.conftest import make_id_number

    resident = make_resident(name="Zhang San")
    make_resident(name="Li Si")
    resident.phone = "+8613900002222"
    resident.save(update_fields=["phone"])
    change = reverse("admin:registration_resident_change", args=[resident.pk])
    find = reverse("admin:registration_resident_find")
    changelist = reverse("admin:registration_resident_changelist")
    assert 'id="resident-find"' in admin_client.get(changelist).content.decode()
    for number in [make_id_number(seq="001"), "139 0000 2222"]:
        response = admin_client.post(find, {"number": number})
        assert response["Location"] == change  # the address holds the record, not the number
    nobody = admin_client.post(
        find, {"number": make_id_number(seq="777")}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Nobody on record has this number." in nobody.content.decode()
    # The GET search box finds names, never numbers (they would stand in the URL).
    by_get = admin_client.get(changelist + f"?q={make_id_number(seq='001')}").content.decode()
    assert "Zhang San" not in by_get
    assert "Zhang San" in admin_client.get(changelist + "?q=Zhang").content.decode()


def test_time_window_created_in_admin_is_logged(admin_client, main_urban_offices):
    office = main_urban_offices[0]
    response = admin_client.post(
        reverse("admin:offices_timewindow_add"),
        {
            "office": office.pk,
            "start": "17:00",
            "end": "18:00",
            "capacity": "5",
            "change_reason": "evening window",
        },
    )
    assert response.status_code == 302
    assert TimeWindow.objects.filter(office=office, start=datetime.time(17)).exists()
    assert QuotaChange.objects.get().reason == "evening window"


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "/admin/appointments/auditentry/log/?action=quota",
            "/admin/counter/auditentry/log/?action=quota",
        ),
        ("/admin/appointments/inspection/", "/admin/counter/inspection/"),
        ("/admin/appointments/queueticket/3/change/", "/admin/counter/queueticket/3/change/"),
        ("/admin/registration/platenumber/load/", "/admin/counter/platenumber/load/"),
        ("/admin/registration/plateregistration/", "/admin/counter/plateregistration/"),
    ],
)
def test_admin_pages_of_the_counter_s_models_keep_their_old_addresses(admin_client, old, new):
    response = admin_client.get(old)
    assert (response.status_code, response["Location"]) == (302, new)
    assert admin_client.get(new.split("?")[0]).status_code in (200, 302)


def test_an_office_added_in_the_admin_is_stored_with_its_clerks_audited(
    admin_client, admin_user, stranger
):
    clerk = stranger
    data = {
        **office_form(
            Office(name="East Hall", code="east", address="East road 1", district="East")
        ),
        "daily_capacity": "20",
        "weekly_quota": "100",
        "opening_weekdays": "12345",
        "clerks": [str(clerk.pk)],
    }
    response = admin_client.post(reverse("admin:offices_office_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    office = Office.objects.get(code="east")
    assert (office.name, office.daily_capacity, office.weekly_quota) == ("East Hall", 20, 100)
    assert list(office.clerks.all()) == [clerk]
    entry = AuditEntry.objects.get(office=office)
    assert (entry.detail_code, entry.clerk, entry.detail_params["user"]) == (
        "clerk_added",
        admin_user,
        clerk.pk,
    )
    assert not QuotaChange.objects.exists()  # a new office is not a change of a quota


def test_an_office_edit_without_a_capacity_change_needs_no_reason(admin_client, main_urban_offices):
    office = main_urban_offices[0]
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin_client.post(url, office_form(office, name="Renamed Hall"))
    assert response.status_code == 302
    office.refresh_from_db()
    assert office.name == "Renamed Hall"
    assert not QuotaChange.objects.exists()


def test_a_refused_capacity_change_keeps_the_other_edits_unsaved(admin_client, main_urban_offices):
    office = main_urban_offices[0]
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin_client.post(url, office_form(office, name="Renamed Hall", weekly_quota=50))
    assert response.status_code == 200
    office.refresh_from_db()
    assert (office.name, office.weekly_quota) == (main_urban_offices[0].name, 160)
