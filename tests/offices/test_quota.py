import datetime
import zoneinfo

import pytest
import time_machine
from django.utils import translation

from appointments import capacity
from appointments import services as booking_services
from appointments.models import DayRelease, Slot
from offices import services
from offices.models import ClosedDay, QuotaChange, TimeWindow

MONDAY = datetime.date(2030, 1, 7)
BEFORE = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
# The Friday before MONDAY: its week is all ahead, so the floor counts every day of it
# (days up to today that were never released count nothing).
NOW = datetime.datetime(2030, 1, 4, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_main_urban_total_counts_active_main_urban_offices_only(main_urban_offices, make_office):
    make_office(is_main_urban=False, weekly_quota=500)
    make_office(is_active=False, weekly_quota=500)
    assert services.main_urban_weekly_total() == 800


def test_weekly_total_is_limited_by_daily_capacity_and_windows(make_office):
    # 10 a day at most (windows), 5 days: 50 a week, though the quota says 300.
    make_office(
        daily_capacity=100,
        weekly_quota=300,
        opening_weekdays="12345",
        windows=[(datetime.time(9), datetime.time(10), 10)],
    )
    assert services.main_urban_weekly_total() == 50


def test_lowering_below_the_floor_is_refused_and_not_logged(main_urban_offices, admin_user):
    office = main_urban_offices[0]
    with pytest.raises(services.BelowWeeklyFloor) as exc:
        services.office_quota_change(
            office=office, changes={"weekly_quota": 100}, reason="budget", user=admin_user
        )
    assert "740" in str(exc.value) and "760" in str(exc.value)
    office.refresh_from_db()
    assert office.weekly_quota == 160
    assert not QuotaChange.objects.exists()


def test_deactivating_a_main_urban_office_below_the_floor_is_refused(main_urban_offices):
    with pytest.raises(services.BelowWeeklyFloor):
        services.office_quota_change(
            office=main_urban_offices[0], changes={"is_active": False}, reason="renovation"
        )


def test_lowering_within_the_floor_is_accepted_and_logged(main_urban_offices, admin_user):
    office = main_urban_offices[0]
    entries = services.office_quota_change(
        office=office, changes={"weekly_quota": 120}, reason="staff shortage", user=admin_user
    )
    office.refresh_from_db()
    assert office.weekly_quota == 120
    assert services.main_urban_weekly_total() == 760
    assert [(e.field, e.old_value, e.new_value, e.reason, e.changed_by) for e in entries] == [
        ("weekly_quota", "160", "120", "staff shortage", admin_user)
    ]
    assert QuotaChange.objects.count() == 1


def test_a_change_that_raises_the_total_is_allowed_below_the_floor(make_office, settings):
    settings.WEEKLY_ONLINE_FLOOR = 760
    office = make_office(weekly_quota=100)
    services.office_quota_change(office=office, changes={"weekly_quota": 150}, reason="more staff")
    office.refresh_from_db()
    assert office.weekly_quota == 150


def test_a_change_needs_a_reason(main_urban_offices):
    with translation.override("en"), pytest.raises(services.QuotaError, match="reason"):
        services.office_quota_change(
            office=main_urban_offices[0], changes={"daily_capacity": 40}, reason="  "
        )


def test_floor_is_configurable(main_urban_offices, settings):
    settings.WEEKLY_ONLINE_FLOOR = 700
    services.office_quota_change(
        office=main_urban_offices[0], changes={"weekly_quota": 100}, reason="test"
    )
    assert services.main_urban_weekly_total() == 740


def test_removing_a_window_below_the_floor_is_refused(main_urban_offices):
    office = main_urban_offices[0]
    first, second, third, _ = office.windows.all()
    # 30 and then 20 places a day over 6 days still reach the 760 floor city-wide ...
    capacity.window_delete(window=first, reason="fewer windows")
    capacity.window_delete(window=second, reason="fewer windows")
    assert services.main_urban_weekly_total() == 760
    # ... 10 a day would not.
    with pytest.raises(services.BelowWeeklyFloor):
        capacity.window_delete(window=third, reason="fewer windows")
    assert office.windows.count() == 2
    assert QuotaChange.objects.count() == 2


def test_window_changes_are_logged(main_urban_offices, admin_user):
    office = main_urban_offices[0]
    window = office.windows.first()
    window.capacity = 12
    capacity.window_save(window=window, reason="longer window", user=admin_user)
    change = QuotaChange.objects.get()
    assert (change.field, change.old_value, change.new_value) == (
        "window",
        "08:30-10:00 x10",
        "08:30-10:00 x12",
    )


def test_config_changes_apply_to_days_not_yet_released(make_office):
    office = make_office(daily_capacity=32, is_main_urban=False)
    booking_services.slots_release(day=MONDAY)
    services.office_quota_change(office=office, changes={"daily_capacity": 20}, reason="less")
    booking_services.slots_release(day=MONDAY + datetime.timedelta(days=1))
    released = dict(DayRelease.objects.filter(office=office).values_list("date", "capacity"))
    assert released == {MONDAY: 32, MONDAY + datetime.timedelta(days=1): 20}


def test_released_slot_capacity_may_rise(make_office):
    office = make_office()
    booking_services.slots_release(day=MONDAY)
    slot = Slot.objects.filter(office=office, date=MONDAY).first()
    capacity.slot_capacity_change(slot_id=slot.pk, capacity=slot.capacity + 5, reason="extra clerk")
    slot.refresh_from_db()
    assert slot.capacity == 13
    assert DayRelease.objects.get(office=office, date=MONDAY).capacity == 37
    assert QuotaChange.objects.get().field == "slot_capacity"


def test_released_slot_may_fall_to_booked_but_not_below(make_office, make_resident):
    office = make_office()
    booking_services.slots_release(day=MONDAY)
    slot = Slot.objects.filter(office=office, date=MONDAY).first()
    for _ in range(3):
        booking_services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    with pytest.raises(services.BelowBooked) as exc:
        capacity.slot_capacity_change(slot_id=slot.pk, capacity=2, reason="clerk ill")
    assert "3" in str(exc.value)
    slot.refresh_from_db()
    assert slot.capacity == 8
    capacity.slot_capacity_change(slot_id=slot.pk, capacity=3, reason="clerk ill")
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked, slot.remaining) == (3, 3, 0)
    assert QuotaChange.objects.filter(field="slot_capacity").count() == 1


def test_closing_a_released_day_is_refused(make_office):
    office = make_office()
    booking_services.slots_release(day=MONDAY)
    with pytest.raises(services.DayAlreadyReleased):
        capacity.closed_day_add(office=office, date=MONDAY, reason="holiday")
    assert not ClosedDay.objects.exists()


def test_closing_an_unreleased_day_is_logged_and_respected(make_office):
    office = make_office(is_main_urban=False)  # one office alone is below the floor
    capacity.closed_day_add(office=office, date=MONDAY, reason="holiday")
    booking_services.slots_release(day=MONDAY)
    assert not Slot.objects.filter(office=office, date=MONDAY).exists()
    assert QuotaChange.objects.get().field == "closed_day"


def test_window_capacity_of_zero_is_refused_by_the_database(make_office):
    from django.db import IntegrityError, transaction

    office = make_office()
    with pytest.raises(IntegrityError), transaction.atomic():
        TimeWindow.objects.create(
            office=office, start=datetime.time(17), end=datetime.time(18), capacity=0
        )


def test_raising_a_full_slot_clears_its_sold_out_flag(
    make_office, make_resident, django_capture_on_commit_callbacks
):
    from appointments import cache as availability_cache

    office = make_office()
    booking_services.slots_release(day=MONDAY)
    slot = Slot.objects.filter(office=office, date=MONDAY).first()
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)
    with pytest.raises(booking_services.SlotFull):
        booking_services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    assert availability_cache.sold_out_state(slot.pk)[0] is True
    with django_capture_on_commit_callbacks(execute=True):
        capacity.slot_capacity_change(slot_id=slot.pk, capacity=slot.capacity + 1, reason="more")
    assert availability_cache.sold_out_state(slot.pk)[0] is False
    booking_services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
