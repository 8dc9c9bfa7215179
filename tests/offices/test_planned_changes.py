"""Capacity changes that take effect from a chosen day: preview, release, floor and log."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from appointments import capacity, selectors
from appointments import services as booking_services
from appointments.models import DayRelease, Slot
from offices import services
from offices.models import Office, PlannedChange, QuotaChange, TimeWindow
from tests.personas import signed_in

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)
NOW = datetime.datetime(2030, 1, 4, 10, 0, tzinfo=TZ)  # the Friday before


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the refusals are matched in English
        yield


def T(hour: int, minute: int = 0) -> datetime.time:
    return datetime.time(hour, minute)


def days_from(day, n):
    return day + datetime.timedelta(days=n)


def preview_places(office, today):
    rows = dict(selectors.capacity_preview(today=today, days=14))
    (office_rows,) = [rows[o] for o in rows if o.pk == office.pk]
    return {d.date: d.places for d in office_rows}


def test_a_daily_capacity_cut_applies_from_its_day_in_preview_release_and_log(
    main_urban_offices, admin_user, time_machine
):
    time_machine.move_to(NOW, tick=False)
    office = main_urban_offices[0]
    wednesday = days_from(MONDAY, 2)
    capacity.planned_change_add(
        office=office,
        field="daily_capacity",
        value=20,
        effective_from=wednesday,
        reason="Two clerks on training from Wednesday",
        user=admin_user,
    )
    office.refresh_from_db()
    assert office.daily_capacity == 32  # nothing changes before its day

    places = preview_places(office, NOW.date())
    assert [places[days_from(MONDAY, i)] for i in range(4)] == [32, 32, 20, 20]

    log = QuotaChange.objects.get(office=office, field="daily_capacity")
    assert (log.old_value, log.new_value, log.effective_from) == ("32", "20", wednesday)
    assert log.changed_by == admin_user

    for i in range(3):
        booking_services.slots_release(day=days_from(MONDAY, i), now=NOW)
    released = dict(DayRelease.objects.filter(office=office).values_list("date", "capacity"))
    assert released == {MONDAY: 32, days_from(MONDAY, 1): 32, wednesday: 20}
    assert PlannedChange.objects.get().applied_at is None  # its day has not come yet

    # On Wednesday the office's own settings take the value; nothing else changes.
    tuesday_evening = datetime.datetime.combine(wednesday, datetime.time(8), tzinfo=TZ)
    booking_services.slots_release(day=days_from(MONDAY, 3), now=tuesday_evening)
    office.refresh_from_db()
    assert office.daily_capacity == 20
    assert PlannedChange.objects.get().applied_at == tuesday_evening
    assert DayRelease.objects.get(office=office, date=days_from(MONDAY, 3)).capacity == 20


def test_a_window_capacity_change_splits_the_day_by_the_new_capacities(
    make_office, admin_user, time_machine
):
    time_machine.move_to(NOW, tick=False)
    office = make_office(daily_capacity=40, is_main_urban=False)
    first = office.windows.order_by("start").first()
    capacity.planned_change_add(
        office=office,
        field="window_capacity",
        window=first,
        value=4,
        effective_from=days_from(MONDAY, 1),
        reason="Morning window shorter",
        user=admin_user,
    )
    for i in range(2):
        booking_services.slots_release(day=days_from(MONDAY, i), now=NOW)
    monday, tuesday = (
        list(Slot.objects.filter(office=office, date=d).order_by("start").values_list("capacity"))
        for d in (MONDAY, days_from(MONDAY, 1))
    )
    assert [c for (c,) in monday] == [10, 10, 10, 10]
    assert [c for (c,) in tuesday] == [4, 10, 10, 10]
    log = QuotaChange.objects.get(office=office)
    assert (log.target, log.old_value, log.new_value) == ("08:30-10:00", "10", "4")


def test_a_released_day_cannot_be_changed_by_a_plan(main_urban_offices, time_machine):
    time_machine.move_to(NOW, tick=False)
    office = main_urban_offices[0]
    booking_services.slots_release(day=MONDAY, now=NOW)
    with pytest.raises(services.DayAlreadyReleased, match="2030-01-08 at the earliest"):
        capacity.planned_change_add(
            office=office,
            field="weekly_quota",
            value=150,
            effective_from=MONDAY,
            reason="Too late",
        )
    assert not PlannedChange.objects.exists()
    assert not QuotaChange.objects.exists()


def test_the_floor_holds_on_the_day_a_plan_takes_effect(main_urban_offices, time_machine):
    """Five offices at 160 a week: 800 against a floor of 760."""
    time_machine.move_to(NOW, tick=False)
    a, b = main_urban_offices[:2]
    next_week = days_from(MONDAY, 7)
    capacity.planned_change_add(
        office=a, field="weekly_quota", value=130, effective_from=next_week, reason="Works"
    )  # 770 from next week: allowed
    with pytest.raises(services.BelowWeeklyFloor) as refused:
        capacity.planned_change_add(
            office=b, field="weekly_quota", value=140, effective_from=next_week, reason="More"
        )
    assert "2030-01-14" in str(refused.value) and "760" in str(refused.value)
    # A cut today that is fine today (780) but not once the plan applies (750): refused.
    b.weekly_quota = 140
    with pytest.raises(services.BelowWeeklyFloor, match="From 2030-01-14"):
        services.office_quota_change(office=b, changes={"weekly_quota": 140}, reason="Now")
    assert Office.objects.get(pk=b.pk).weekly_quota == 160
    assert PlannedChange.objects.count() == 1


def test_withdrawing_a_plan_is_checked_and_logged(main_urban_offices, admin_user, time_machine):
    time_machine.move_to(NOW, tick=False)
    a, b = main_urban_offices[:2]
    Office.objects.filter(pk=b.pk).update(weekly_quota=100)  # 740 today, below the floor
    raise_plan = capacity.planned_change_add(
        office=b, field="weekly_quota", value=160, effective_from=MONDAY, reason="Back to normal"
    )
    cut_plan = capacity.planned_change_add(
        office=a, field="weekly_quota", value=150, effective_from=MONDAY, reason="Smaller hall"
    )
    # Withdrawing the raise would leave 790 - 60 = 730 from Monday, lower than with it.
    with pytest.raises(services.BelowWeeklyFloor):
        capacity.planned_change_cancel(change=raise_plan, reason="Changed my mind")
    capacity.planned_change_cancel(change=cut_plan, reason="Hall stays", user=admin_user)
    assert list(PlannedChange.objects.all()) == [raise_plan]
    withdrawn = QuotaChange.objects.filter(office=a).order_by("-changed_at", "-id").first()
    assert (withdrawn.old_value, withdrawn.new_value, withdrawn.reason) == (
        "150",
        "160",
        "Hall stays",
    )
    # Once its day is released the plan can no longer be withdrawn.
    booking_services.slots_release(day=MONDAY, now=NOW)
    with pytest.raises(services.DayAlreadyReleased):
        capacity.planned_change_cancel(change=raise_plan, reason="Too late")


def test_bad_plans_say_why(main_urban_offices, make_office):
    a = main_urban_offices[0]
    other = make_office()
    window = TimeWindow.objects.filter(office=other).first()
    cases = [
        ({"field": "opening_weekdays", "value": 1}, "cannot be planned"),
        ({"field": "daily_capacity", "value": -1}, "zero or more"),
        ({"field": "window_capacity", "value": 5}, "Choose the time window"),
        ({"field": "window_add", "value": 5}, "start and a later end"),
        ({"field": "window_add", "value": 0, "start": T(9), "end": T(10)}, "at least one"),
        ({"field": "window_capacity", "value": 5, "window": window}, "another office"),
    ]
    for kwargs, message in cases:
        with pytest.raises(services.QuotaError, match=message):
            capacity.planned_change_add(
                office=a, effective_from=days_from(MONDAY, 30), reason="x", **kwargs
            )
    with pytest.raises(services.QuotaError, match="reason"):
        capacity.planned_change_add(
            office=a, field="daily_capacity", value=5, effective_from=MONDAY, reason=" "
        )
    assert not PlannedChange.objects.exists()


def test_admin_plans_a_change_sees_it_ahead_and_withdraws_it(
    main_urban_offices, admin_user, time_machine
):
    time_machine.move_to(NOW, tick=False)
    client = signed_in(admin_user)  # after moving the clock: the session expires from it
    a, b = main_urban_offices[:2]
    form = {"office": a.pk, "field": "weekly_quota", "window": "", "value": 130}
    form |= {"effective_from": "2030-01-14", "reason": "Hall works"}
    response = client.post("/admin/offices/plannedchange/add/", form)
    assert response.status_code == 302
    change = PlannedChange.objects.get()
    assert (change.office, change.value, change.created_by) == (a, 130, admin_user)

    # A second cut below the floor from that day is refused with its reason, nothing saved.
    refused = client.post(
        "/admin/offices/plannedchange/add/", {**form, "office": b.pk, "value": 140}
    )
    assert refused.status_code == 200
    assert "From 2030-01-14: Refused" in refused.content.decode()
    assert PlannedChange.objects.count() == 1

    log = client.get("/admin/counter/auditentry/log/", {"action": "quota"})
    assert "160 → 130 from 2030-01-14" in log.content.decode()  # old, new and its day

    overview = client.get("/admin/offices/office/overview/").content.decode()
    assert "From 2030-01-14, with the planned changes: 770 a week." in overview
    assert 'id="planned-changes"' in overview and "Hall works" in overview
    office_page = client.get(f"/admin/offices/office/{a.pk}/change/").content.decode()
    assert "Changes saved here apply to the days not released yet, from 2030-01-04." in office_page
    assert "Hall works" in office_page  # the office page lists what is planned

    response = client.post(f"/admin/offices/plannedchange/{change.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PlannedChange.objects.exists()
    assert QuotaChange.objects.filter(office=a).count() == 2  # planned, then withdrawn


def test_windows_end_and_start_from_a_day(make_office, admin_user, time_machine):
    """From Wednesday the last window (15:00-16:30) becomes 15:00-17:00 with 12 places."""
    time_machine.move_to(NOW, tick=False)
    office = make_office(daily_capacity=42, is_main_urban=False)
    last = office.windows.order_by("start").last()
    wednesday = days_from(MONDAY, 2)
    new = {"field": "window_add", "start": T(15), "end": T(17), "value": 12}
    with pytest.raises(services.QuotaError, match="15:00-16:30 and 15:00-17:00 would overlap"):
        capacity.planned_change_add(office=office, effective_from=wednesday, reason="x", **new)
    capacity.planned_change_add(
        office=office, field="window_remove", window=last, effective_from=wednesday, reason="Later"
    )
    capacity.planned_change_add(office=office, effective_from=wednesday, reason="Later", **new)
    with pytest.raises(services.QuotaError, match="10:00-11:30 and 10:30-11:00 would overlap"):
        capacity.planned_change_add(
            office=office,
            field="window_add",
            start=T(10, 30),
            end=T(11),
            value=3,
            effective_from=wednesday,
            reason="x",
        )

    places = preview_places(office, NOW.date())
    assert (places[MONDAY], places[wednesday]) == (40, 42)  # 4 x 10, then 10+10+10+12
    for i in range(3):
        booking_services.slots_release(day=days_from(MONDAY, i), now=NOW)
    windows = {
        day: list(Slot.objects.filter(office=office, date=day).values_list("start", "end"))
        for day in (MONDAY, wednesday)
    }
    assert windows[MONDAY][-1] == (T(15), T(16, 30))
    assert windows[wednesday][-1] == (T(15), T(17))
    assert Slot.objects.get(office=office, date=wednesday, start=T(15)).capacity == 12
    logged = list(
        QuotaChange.objects.filter(office=office).values_list("field", "old_value", "new_value")
    )
    assert sorted(logged) == [
        ("window_add", "", "15:00-17:00 x12"),
        ("window_remove", "15:00-16:30 x10", ""),
    ]

    # On Wednesday the office's own windows become what was planned.
    booking_services.slots_release(
        day=days_from(MONDAY, 3), now=datetime.datetime.combine(wednesday, T(8), tzinfo=TZ)
    )
    assert list(office.windows.order_by("start").values_list("start", "end", "capacity"))[-1] == (
        T(15),
        T(17),
        12,
    )
    assert not PlannedChange.objects.filter(applied_at__isnull=True).exists()


def test_an_office_keeps_at_least_one_window(make_office, time_machine):
    time_machine.move_to(NOW, tick=False)
    office = make_office(windows=[(T(9), T(10), 5)], is_main_urban=False)
    with pytest.raises(services.QuotaError, match="no time window left"):
        capacity.planned_change_add(
            office=office,
            field="window_remove",
            window=office.windows.get(),
            effective_from=MONDAY,
            reason="x",
        )


def test_a_direct_window_edit_cannot_clash_with_a_planned_window(
    make_office, admin_user, time_machine
):
    """Otherwise the plan could not be applied on its day."""
    time_machine.move_to(NOW, tick=False)
    office = make_office(is_main_urban=False)
    capacity.planned_change_add(
        office=office,
        field="window_add",
        start=T(17),
        end=T(18),
        value=5,
        effective_from=MONDAY,
        reason="Evening hours",
    )
    for start, end in [(T(17), T(17, 30)), (T(16, 45), T(17, 30))]:
        window = TimeWindow(office=office, start=start, end=end, capacity=5)
        with pytest.raises(services.QuotaError, match="would overlap"):
            capacity.window_save(window=window, reason="Direct", user=admin_user)
    assert office.windows.count() == 4
    # Two stored windows may not overlap either.
    with pytest.raises(services.QuotaError, match="08:30-10:00 and 09:00-09:30 would overlap"):
        capacity.window_save(
            window=TimeWindow(office=office, start=T(9), end=T(9, 30), capacity=2),
            reason="Direct",
        )


def test_a_window_with_a_pending_plan_is_not_deleted_behind_its_back(
    make_office, admin_user, time_machine
):
    time_machine.move_to(NOW, tick=False)
    office = make_office(is_main_urban=False)
    window = office.windows.order_by("start").first()
    capacity.planned_change_add(
        office=office,
        field="window_capacity",
        window=window,
        value=4,
        effective_from=MONDAY,
        reason="Shorter",
    )
    with pytest.raises(services.QuotaError, match="planned from 2030-01-07; withdraw it first"):
        capacity.window_delete(window=window, reason="Gone", user=admin_user)
    assert TimeWindow.objects.filter(pk=window.pk).exists()
    assert PlannedChange.objects.count() == 1


def test_a_clashing_plan_never_stops_the_citys_release(make_office, time_machine):
    """If a stored window clashes anyway (set up behind the services' back), the release of
    every office still goes ahead and the plan stays pending."""
    time_machine.move_to(NOW, tick=False)
    office = make_office(is_main_urban=False)
    other = make_office(is_main_urban=False)
    plan = capacity.planned_change_add(
        office=office,
        field="window_add",
        start=T(17),
        end=T(18),
        value=5,
        effective_from=MONDAY,
        reason="Evening hours",
    )
    TimeWindow.objects.create(office=office, start=T(17), end=T(17, 30), capacity=1)
    booking_services.slots_release(
        day=days_from(MONDAY, 1), now=datetime.datetime.combine(MONDAY, T(8), tzinfo=TZ)
    )
    assert DayRelease.objects.filter(date=days_from(MONDAY, 1)).count() == 2
    assert Slot.objects.filter(office=other, date=days_from(MONDAY, 1)).count() == 4
    plan.refresh_from_db()
    assert plan.applied_at is None


def test_the_window_admin_keeps_a_window_at_its_office(main_urban_offices, admin_client):
    a, b = main_urban_offices[:2]
    window = a.windows.order_by("start").first()
    response = admin_client.post(
        f"/admin/offices/timewindow/{window.pk}/change/",
        {
            "office": b.pk,
            "start": "08:30",
            "end": "10:00",
            "capacity": 12,
            "change_reason": "More staff",
        },
    )
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.office, window.capacity) == (a, 12)
