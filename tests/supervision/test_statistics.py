"""Statistics from a small city whose figures were computed by hand (tests/stats_city.py)."""

import datetime

import pytest

from supervision import stats
from tests.stats_city import D1, D


def test_office_figures_per_day_equal_the_hand_computed_ones(city):
    report = stats.report(start=D, end=D, group=stats.Group.OFFICE)
    a, b = report.rows
    assert (a.label, b.label) == ("Office A", "Office B")
    fa, fb = a.figures, b.figures
    assert (fa.released, fa.booked, fa.cancelled, fa.checked_in, fa.completed) == (3, 3, 1, 1, 1)
    assert (fa.no_shows, fa.walkins_window, fa.walkins_senior, fa.walkins_veteran) == (1, 1, 0, 0)
    assert (fa.tickets, fa.mean_wait_minutes) == (3, 20.0)
    assert (fa.attempts, fa.refused_full, fa.refused_other) == (5, 2, 0)
    assert fa.success_rate == 60.0
    assert (fa.days_sold_out, fa.days_released) == (1, 1)
    assert fa.mean_sell_out_minutes == pytest.approx(70 / 60)
    assert (fb.released, fb.booked, fb.attempts, fb.refused_other) == (2, 1, 1, 1)
    assert (fb.no_shows, fb.cancelled, fb.checked_in, fb.completed) == (1, 0, 0, 0)
    assert fb.success_rate == 100.0
    assert (fb.walkins_senior, fb.days_sold_out, fb.mean_sell_out_minutes) == (1, 0, None)
    # As shown on the page and in the CSV:
    assert a.figures.cells() == [
        *["3", "3", "1", "1", "1", "1", "0", "0", "1", "3", "20.0"],
        *["5", "2", "0", "60.0", "1/1", "1.2"],
    ]


def test_days_weeks_and_the_total_add_up(city):
    by_day = stats.report(start=D, end=D1, group=stats.Group.DAY)
    d, d1 = by_day.rows
    assert (d.label, d1.label) == ("2030-01-08", "2030-01-09")
    assert (d.figures.released, d.figures.booked, d.figures.attempts) == (5, 4, 6)
    assert f"{d.figures.success_rate:.1f}" == "66.7"  # 4 of 6
    assert (d1.figures.released, d1.figures.booked, d1.figures.attempts) == (5, 1, 1)
    assert d1.figures.success_rate == 100.0
    by_week = stats.report(start=D, end=D1, group=stats.Group.WEEK)
    (week,) = by_week.rows
    assert week.label == "2030-01-07 – 2030-01-13"
    assert week.figures == by_day.total
    total = by_day.total
    assert (total.released, total.booked, total.attempts) == (10, 5, 7)
    assert f"{total.success_rate:.1f}" == "71.4"  # 5 of 7
    assert (total.days_sold_out, total.days_released) == (1, 4)
    # One office only; and the chart series has every day of the period, empty ones too.
    only_b = stats.report(start=D - datetime.timedelta(days=1), end=D1, office=city.b)
    assert [r.label for r in only_b.days] == ["01-07", "01-08", "01-09"]
    assert [r.figures.booked for r in only_b.days] == [0, 1, 0]


def test_per_clerk_counts(city):
    rows = {str(r.clerk): r.cells() for r in stats.clerk_counts(start=D, end=D)}
    # checked in with a booking, priority walk-ins, window served, no-shows marked,
    # inspections failed, plates issued, full ID numbers shown
    assert rows == {
        "clerk1@test.example.org": [1, 0, 1, 0, 0, 1, 0],
        "clerk2@test.example.org": [0, 1, 0, 0, 0, 0, 0],
    }
    assert stats.clerk_counts(start=D1, end=D1) == []


def test_integrity_flags_and_their_threshold(city):
    flags = stats.integrity_flags(start=D, end=D)
    assert [(f.kind, str(f.subject), f.what, f.count, f.served) for f in flags] == [
        ("clerk", "clerk2@test.example.org", "walkins", 1, 1),
        ("office", "Office B", "walkins", 1, 1),
        ("office", "Office A", "complaints", 1, 2),  # r1 and the window walk-in were served
    ]
    assert flags[2].share == 50.0
    relaxed = stats.integrity_flags(start=D, end=D, walkin_share=1.0, complaint_share=0.5)
    assert relaxed == []  # a share must be above the threshold to stand out


def test_a_moved_booking_counts_for_its_new_day(make_office, make_resident):
    from appointments import services
    from appointments.models import Slot
    from tests.stats_city import R

    office = make_office(windows=[(datetime.time(9), datetime.time(10), 5)], daily_capacity=5)
    services.slots_release(day=D, now=R)
    services.slots_release(day=D1, now=R)
    on_d, on_d1 = (Slot.objects.get(office=office, date=day) for day in (D, D1))
    booking = services.booking_create(resident=make_resident(), slot_id=on_d.pk, now=R)
    services.booking_move(booking=booking, slot_id=on_d1.pk, now=R)
    d, d1 = stats.report(start=D, end=D1).rows
    assert (d.figures.booked, d1.figures.booked) == (0, 1)


def test_lowering_a_slot_to_what_is_booked_sells_out_the_day(
    make_office, make_resident, admin_user, django_capture_on_commit_callbacks
):
    from appointments import capacity, services
    from appointments.models import DayRelease, Slot
    from tests.stats_city import R

    office = make_office(
        windows=[(datetime.time(9), datetime.time(10), 5)], daily_capacity=5, is_main_urban=False
    )  # not counted for the weekly floor, which one office alone is below
    services.slots_release(day=D, now=R)
    slot = Slot.objects.get(office=office, date=D)
    services.booking_create(resident=make_resident(), slot_id=slot.pk, now=R)
    later = R + datetime.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        capacity.slot_capacity_change(
            slot_id=slot.pk, capacity=1, reason="Clerk ill", user=admin_user, now=later
        )
    assert DayRelease.objects.get(office=office, date=D).sold_out_at == later
    (row,) = stats.report(start=D, end=D).rows
    assert (row.figures.days_sold_out, row.figures.mean_sell_out_minutes) == (1, 5.0)


def test_the_page_costs_the_same_queries_for_a_day_or_a_year(city, admin_client, make_office):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = "/admin/appointments/booking/statistics/"

    def queries(**period) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url, period).status_code == 200
        return len(captured.captured_queries)

    one_day = queries(start=D.isoformat(), end=D.isoformat())
    for _ in range(3):
        make_office()
    a_year = queries(start=(D1 - datetime.timedelta(days=365)).isoformat(), end=D1.isoformat())
    assert a_year == one_day
