"""The weekly floor holds for closed days and released-slot cuts, per ISO week."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from appointments import capacity
from appointments import services as booking_services
from appointments.models import Slot
from offices import services
from offices.models import ClosedDay, QuotaChange
from tests.personas import signed_in

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)  # ISO week 2030-W02 runs to Sunday 2030-01-13
SUNDAY = datetime.date(2030, 1, 13)
NEXT_MONDAY = datetime.date(2030, 1, 14)  # 2030-W03
NOW = datetime.datetime(2030, 1, 4, 10, 0, tzinfo=TZ)  # the Friday before


def day(n: int) -> datetime.date:
    return MONDAY + datetime.timedelta(days=n)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the refusals are matched in English
        yield


@pytest.fixture
def offices(make_office, settings):
    """Five main-urban offices giving 24 places every day, 168 a week each: 840."""
    settings.WEEKLY_ONLINE_FLOOR = 760
    return [
        make_office(daily_capacity=24, weekly_quota=168, opening_weekdays="1234567")
        for _ in range(5)
    ]


@pytest.fixture
def week_at_768(offices):
    """Week 2030-W02 eight places above the floor: office 0 closed Thursday to Saturday."""
    for n in (3, 4, 5):
        capacity.closed_day_add(office=offices[0], date=day(n), reason="training", now=NOW)
    assert capacity.main_urban_week_total(day=MONDAY, today=NOW.date()) == 768
    return offices


def total(on: datetime.date) -> int:
    return capacity.main_urban_week_total(day=on, today=NOW.date())


def test_closing_a_day_below_the_floor_is_refused_with_the_week_and_both_totals(week_at_768):
    with pytest.raises(services.BelowWeeklyFloor) as refused:
        capacity.closed_day_add(office=week_at_768[1], date=day(2), reason="holiday", now=NOW)
    message = str(refused.value)
    assert "Week 2030-W02 (2030-01-07 to 2030-01-13)" in message
    assert "from 768 to 744, below the floor of 760" in message
    assert not ClosedDay.objects.filter(office=week_at_768[1]).exists()
    assert QuotaChange.objects.count() == 3  # the three accepted closings only
    assert total(MONDAY) == 768


def test_a_closed_sunday_counts_in_its_own_iso_week_not_the_next(week_at_768):
    office = week_at_768[1]
    with pytest.raises(services.BelowWeeklyFloor, match="Week 2030-W02"):
        capacity.closed_day_add(office=office, date=SUNDAY, reason="holiday", now=NOW)
    # The Monday after belongs to 2030-W03, which has room.
    capacity.closed_day_add(office=office, date=NEXT_MONDAY, reason="holiday", now=NOW)
    assert list(ClosedDay.objects.filter(office=office).values_list("date", flat=True)) == [
        NEXT_MONDAY
    ]
    assert (total(MONDAY), total(NEXT_MONDAY)) == (768, 816)


def test_closing_a_day_elsewhere_than_a_counted_office_still_works(week_at_768, make_office):
    suburb = make_office(is_main_urban=False)
    inactive = make_office(is_active=False)
    for office in (suburb, inactive):
        capacity.closed_day_add(office=office, date=day(2), reason="holiday", now=NOW)
    assert ClosedDay.objects.filter(date=day(2)).count() == 2
    assert total(MONDAY) == 768


def test_a_closing_the_rest_of_the_week_makes_up_for_is_accepted(main_urban_offices):
    # 32 places a day over six days could give 192, but the weekly quota is 160: the
    # Saturday gives what a closed Monday does not, as the release will show.
    office = main_urban_offices[0]
    for n in (0, 1):  # the first costs nothing, the second 32 places: 768
        capacity.closed_day_add(office=office, date=day(n), reason="repairs", now=NOW)
    assert total(MONDAY) == 768
    for n in range(7):
        booking_services.slots_release(day=day(n), now=NOW)
    released = sum(
        Slot.objects.filter(date__range=(MONDAY, SUNDAY)).values_list("capacity", flat=True)
    )
    assert released == 768 == total(MONDAY)


def test_days_up_to_today_that_were_never_released_count_nothing(offices):
    # The schedule releases days ahead: Monday to Wednesday, never released, never will be.
    wednesday = datetime.datetime.combine(day(2), datetime.time(10), tzinfo=TZ)
    assert capacity.main_urban_week_total(day=MONDAY, today=wednesday.date()) == 5 * 4 * 24
    # Closing Monday, which is gone, changes nothing, so the floor does not stand in the way.
    capacity.closed_day_add(office=offices[0], date=MONDAY, reason="late entry", now=wednesday)
    assert ClosedDay.objects.filter(office=offices[0], date=MONDAY).exists()


def released_week_at_768(offices):
    for n in range(7):
        booking_services.slots_release(day=day(n), now=NOW)
    booking_services.slots_release(day=NEXT_MONDAY, now=NOW)
    # Office 0's Thursday to Saturday: 3 x 24 places cut to nothing.
    for slot in Slot.objects.filter(office=offices[0], date__range=(day(3), day(5))):
        capacity.slot_capacity_change(slot_id=slot.pk, capacity=0, reason="training", now=NOW)
    assert total(MONDAY) == 768


def test_cutting_a_released_slot_below_the_floor_is_refused_with_the_week_and_both_totals(
    offices,
):
    released_week_at_768(offices)
    logged = QuotaChange.objects.count()
    slot = Slot.objects.filter(office=offices[1], date=SUNDAY).first()
    assert slot.capacity == 6
    capacity.slot_capacity_change(slot_id=slot.pk, capacity=0, reason="clerk ill", now=NOW)
    other = Slot.objects.filter(office=offices[2], date=day(2)).first()
    with pytest.raises(services.BelowWeeklyFloor) as refused:
        capacity.slot_capacity_change(slot_id=other.pk, capacity=3, reason="clerk ill", now=NOW)
    message = str(refused.value)
    assert "Week 2030-W02 (2030-01-07 to 2030-01-13)" in message
    assert "from 762 to 759, below the floor of 760" in message
    other.refresh_from_db()
    assert other.capacity == 6
    assert QuotaChange.objects.count() == logged + 1
    assert total(MONDAY) == 762


def test_a_slot_cut_on_the_next_monday_is_measured_on_its_own_week(offices):
    released_week_at_768(offices)
    first = Slot.objects.filter(office=offices[1], date=SUNDAY).first()
    capacity.slot_capacity_change(slot_id=first.pk, capacity=0, reason="ill", now=NOW)  # 762
    sunday_slot = Slot.objects.filter(office=offices[2], date=SUNDAY).first()
    monday_slot = Slot.objects.filter(office=offices[2], date=NEXT_MONDAY).first()
    with pytest.raises(services.BelowWeeklyFloor, match="Week 2030-W02.*from 762 to 756"):
        capacity.slot_capacity_change(slot_id=sunday_slot.pk, capacity=0, reason="x", now=NOW)
    sunday_slot.refresh_from_db()
    assert sunday_slot.capacity == 6
    capacity.slot_capacity_change(slot_id=monday_slot.pk, capacity=0, reason="ill", now=NOW)
    monday_slot.refresh_from_db()
    assert monday_slot.capacity == 0
    assert (total(MONDAY), total(NEXT_MONDAY)) == (762, 840 - 6)


def test_a_slot_cut_a_later_day_makes_up_for_is_accepted(main_urban_offices):
    # Monday is released; Saturday, not yet released, still has room for the weekly quota.
    booking_services.slots_release(day=MONDAY, now=NOW)
    for slot in Slot.objects.filter(office__in=main_urban_offices[:2], date=MONDAY):
        capacity.slot_capacity_change(slot_id=slot.pk, capacity=0, reason="power cut", now=NOW)
    assert not Slot.objects.filter(office__in=main_urban_offices[:2], capacity__gt=0).exists()
    assert total(MONDAY) == 800


def test_raising_a_slot_is_allowed_in_a_week_below_the_floor(make_office):
    office = make_office(weekly_quota=7 * 32)  # alone: far below the floor
    for n in range(7):
        booking_services.slots_release(day=day(n), now=NOW)
    slot = Slot.objects.filter(office=office, date=SUNDAY).first()
    capacity.slot_capacity_change(slot_id=slot.pk, capacity=10, reason="more", now=NOW)
    assert total(MONDAY) == 226
    with pytest.raises(services.BelowWeeklyFloor, match="from 226 to 217"):
        capacity.slot_capacity_change(slot_id=slot.pk, capacity=1, reason="less", now=NOW)
    slot.refresh_from_db()
    assert slot.capacity == 10


# --- the admin shows the refusal ------------------------------------------------------------


@pytest.fixture
def admin_client(admin_user, time_machine):
    """The admin persona's client, signed in at NOW: the session expires from the clock."""
    time_machine.move_to(NOW, tick=False)
    return signed_in(admin_user)


def test_admin_refuses_a_closed_day_below_the_floor_with_the_reason(admin_client, week_at_768):
    url = reverse("admin:offices_closedday_add")
    office = week_at_768[1]
    form = {"office": office.pk, "date": SUNDAY.isoformat(), "reason": "holiday"}
    response = admin_client.post(url, form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert "Week 2030-W02 (2030-01-07 to 2030-01-13)" in page
    assert "from 768 to 744, below the floor of 760" in page
    assert not ClosedDay.objects.filter(office=office).exists()
    assert QuotaChange.objects.count() == 3

    form["date"] = NEXT_MONDAY.isoformat()
    assert admin_client.post(url, form).status_code == 302
    assert ClosedDay.objects.get(office=office).date == NEXT_MONDAY


def test_admin_refuses_a_slot_cut_below_the_floor_with_the_reason(admin_client, offices):
    released_week_at_768(offices)
    first = Slot.objects.filter(office=offices[1], date=SUNDAY).first()
    capacity.slot_capacity_change(slot_id=first.pk, capacity=0, reason="ill", now=NOW)  # 762
    logged = QuotaChange.objects.count()
    slot = Slot.objects.filter(office=offices[2], date=SUNDAY).first()
    url = reverse("admin:appointments_slot_change", args=[slot.pk])
    response = admin_client.post(
        url, {"capacity": "0", "change_reason": "clerk ill"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Week 2030-W02 (2030-01-07 to 2030-01-13)" in page
    assert "from 762 to 756, below the floor of 760" in page
    slot.refresh_from_db()
    assert slot.capacity == 6
    assert QuotaChange.objects.count() == logged
