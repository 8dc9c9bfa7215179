"""The admins' capacity overview: floor, next release, 14-day preview, release now."""

import datetime
import zoneinfo

import pytest
import time_machine

from appointments import capacity, selectors
from appointments import services as booking_services
from appointments.models import DayRelease, Slot
from offices.models import ClosedDay, Office
from tests.personas import signed_in

MONDAY = datetime.date(2030, 1, 7)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Monday 07:45: between the 07:30 a test moves the schedule to and the 08:00 it moves it
# from, so the next run moves to the next day; tomorrow (Tuesday) the offices open.
NOW = datetime.datetime(2030, 1, 7, 7, 45, tzinfo=SHANGHAI)


def test_preview_matches_what_the_release_will_do(make_office):
    # 32 a day, 80 a week, Monday to Saturday; Wednesday closed; Monday released already.
    office = make_office(daily_capacity=32, weekly_quota=80, opening_weekdays="123456")
    ClosedDay.objects.create(office=office, date=MONDAY + datetime.timedelta(days=2))
    booking_services.slots_release(day=MONDAY)
    Slot.objects.filter(office=office, date=MONDAY).update(booked=3)
    [(row_office, days)] = selectors.capacity_preview(today=MONDAY, days=8)
    assert row_office == office
    assert [(d.state, d.places, d.booked) for d in days] == [
        ("released", 32, 12),  # 4 windows with 3 booked each
        ("planned", 32, 0),
        ("closed", 0, 0),  # closed day
        ("planned", 16, 0),  # what remains of 80
        ("quota", 0, 0),  # open, but the week's quota is used up
        ("quota", 0, 0),
        ("closed", 0, 0),  # Sunday: not an opening day
        ("planned", 32, 0),  # a new week
    ]
    # And the release agrees with the preview, day by day.
    for offset in range(1, 8):
        booking_services.slots_release(day=MONDAY + datetime.timedelta(days=offset))
    released = {
        d: sum(Slot.objects.filter(office=office, date=d).values_list("capacity", flat=True))
        for d in (MONDAY + datetime.timedelta(days=o) for o in range(8))
    }
    assert [released[d.date] for d in days] == [d.places for d in days]
    # Released, the quota day still reads as such, not as closed, even once the quota rises.
    Office.objects.filter(pk=office.pk).update(weekly_quota=500)
    [(_, after)] = selectors.capacity_preview(today=MONDAY, days=8)
    assert [d.state for d in after][4:7] == ["quota", "quota", "closed"]


@pytest.mark.parametrize("weekday", range(7), ids=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
def test_preview_equals_the_release_for_two_weeks_from_any_weekday(make_office, weekday):
    """Offices set up on any weekday, with the week's earlier days partly never released.

    The preview made that day says, for each of the next two weeks' days, exactly what the
    daily release then gives, and why a day gives nothing (closed or quota reached)."""
    today = MONDAY + datetime.timedelta(days=weekday)
    at = datetime.datetime.combine(today, datetime.time(10), tzinfo=SHANGHAI)
    tight = make_office(daily_capacity=32, weekly_quota=100, opening_weekdays="123456")
    loose = make_office(daily_capacity=20, weekly_quota=500, opening_weekdays="12345")
    ClosedDay.objects.create(office=tight, date=today + datetime.timedelta(days=3))
    ClosedDay.objects.create(office=loose, date=today + datetime.timedelta(days=9))
    if weekday >= 2:  # the day before yesterday was released; yesterday and before never
        booking_services.slots_release(
            day=today - datetime.timedelta(days=2), now=at - datetime.timedelta(days=3)
        )
    with time_machine.travel(at, tick=False):
        capacity.planned_change_add(
            office=tight,
            field="daily_capacity",
            value=20,
            effective_from=today + datetime.timedelta(days=8),
            reason="Training",
            now=at,
        )
        preview = dict(selectors.capacity_preview(today=today, days=15))
    for offset in range(1, 15):  # the schedule: at 08:00 the next day is released
        day = today + datetime.timedelta(days=offset)
        release_at = datetime.datetime.combine(day, datetime.time(8), tzinfo=SHANGHAI)
        booking_services.slots_release(day=day, now=release_at - datetime.timedelta(days=1))
    for office in (tight, loose):
        (rows,) = [r for o, r in preview.items() if o.pk == office.pk]
        assert rows[0].date == today
        for row in rows[1:]:
            release = DayRelease.objects.get(office=office, date=row.date)
            places = sum(
                Slot.objects.filter(office=office, date=row.date).values_list("capacity", flat=True)
            )
            assert (row.date, row.places) == (row.date, places)
            if release.closed:
                assert row.state == "closed"
            else:
                assert row.state == ("planned" if places else "quota")
    states = [r.state for o, rows in preview.items() for r in rows]
    assert {"planned", "closed", "quota"} <= set(states)  # every case was exercised


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff_client(clock, admin_user):
    """The admin, signed in at NOW (the session expires from the clock at login)."""
    return signed_in(admin_user)


def test_overview_shows_floor_preview_and_next_release(staff_client, main_urban_offices):
    html = staff_client.get("/admin/offices/office/overview/").content.decode()
    assert "Weekly online places of main-urban offices: 800 (floor 760)." in html
    assert "Next scheduled release:" in html
    assert 'id="capacity-preview"' in html
    assert html.count('<th scope="row">') == 5


def test_release_now_is_as_safe_as_the_schedule(staff_client, main_urban_offices):
    tomorrow = NOW.date() + datetime.timedelta(days=1)
    for _ in range(2):
        response = staff_client.post("/admin/offices/office/overview/", {"date": tomorrow})
        assert response["Location"] == "/admin/offices/office/overview/"
    assert DayRelease.objects.filter(date=tomorrow).count() == 5
    assert Slot.objects.filter(date=tomorrow).count() == 20


@pytest.mark.parametrize("days", [-1, 15])
def test_release_now_only_from_today_to_two_weeks_ahead(staff_client, main_urban_offices, days):
    day = NOW.date() + datetime.timedelta(days=days)
    response = staff_client.post("/admin/offices/office/overview/", {"date": day})
    assert response.status_code == 200
    assert "Choose a day from today to 14 days ahead." in response.content.decode()
    assert not DayRelease.objects.exists()


def test_clerks_and_residents_cannot_open_it(main_urban_offices, clerk_a_client):
    assert clerk_a_client.get("/admin/offices/office/overview/").status_code == 403
    response = clerk_a_client.post("/admin/offices/office/overview/", {"date": "2030-01-08"})
    assert response.status_code == 403
    assert not DayRelease.objects.exists()


def test_admin_sets_the_release_time_and_horizon_and_sees_the_next_run(
    staff_client, main_urban_offices, admin_user
):
    from django.contrib.admin.models import LogEntry
    from django_celery_beat.models import PeriodicTask

    page = staff_client.get("/admin/offices/office/overview/").content.decode()
    assert 'value="08:00"' in page and 'name="horizon_days" value="1"' in page
    response = staff_client.post(
        "/admin/offices/office/overview/", {"schedule": "1", "at": "07:30", "horizon_days": "2"}
    )
    assert response["Location"] == "/admin/offices/office/overview/"
    task = PeriodicTask.objects.get(task="appointments.tasks.release_upcoming_slots")
    assert (task.crontab.hour, task.crontab.minute, task.crontab.timezone.key) == (
        "7",
        "30",
        "Asia/Shanghai",
    )
    assert task.kwargs == '{"horizon_days": 2}'
    assert not DayRelease.objects.exists()  # saving the schedule releases nothing

    expected = datetime.datetime(2030, 1, 8, 7, 30, tzinfo=SHANGHAI)  # 07:30 today has passed
    nxt = selectors.next_release()
    assert (nxt.at, nxt.opens) == (expected, expected.date() + datetime.timedelta(days=2))
    page = staff_client.get("/admin/offices/office/overview/").content.decode()
    assert f"Next scheduled release: {expected:%Y-%m-%d} 07:30" in page
    entry = LogEntry.objects.get(object_id=str(task.pk))
    assert entry.user == admin_user
    assert entry.get_change_message() == "Release schedule: 08:00, 1 d -> 07:30, 2 d"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"at": "25:00", "horizon_days": "1"}, "Enter a valid time."),
        ({"at": "07:30", "horizon_days": "0"}, "greater than or equal to 1"),
        ({"at": "07:30", "horizon_days": "30"}, "less than or equal to 14"),
    ],
)
def test_a_bad_schedule_is_explained_and_nothing_changes(
    staff_client, main_urban_offices, data, message
):
    from django_celery_beat.models import PeriodicTask

    response = staff_client.post("/admin/offices/office/overview/", {"schedule": "1", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    task = PeriodicTask.objects.get(task="appointments.tasks.release_upcoming_slots")
    assert (task.crontab.hour, task.crontab.minute) == ("8", "0")


def test_the_preview_follows_the_schedule_and_its_reconcile(make_office):
    """Wednesday 10:00: the 08:00 run (one day ahead) opened Thursday before this office
    existed. The reconcile releases Thursday within a minute, so the preview plans it;
    today, never released, will not be."""
    wednesday = MONDAY + datetime.timedelta(days=2)
    at = datetime.datetime.combine(wednesday, datetime.time(10), tzinfo=SHANGHAI)
    with time_machine.travel(at, tick=False):
        office = make_office(daily_capacity=32, weekly_quota=500)
        first = selectors.first_scheduled_day()
        [(_, days)] = selectors.capacity_preview(today=wednesday, days=3, first_releasable=first)
    assert first == wednesday + datetime.timedelta(days=1)
    assert [(d.state, d.places) for d in days] == [
        ("unreleased", 0),
        ("planned", 32),
        ("planned", 32),
    ]
    booking_services.slots_release_due(now=at + datetime.timedelta(minutes=1))
    assert not DayRelease.objects.filter(office=office, date=wednesday).exists()
    assert DayRelease.objects.get(office=office, date=days[1].date).capacity == 32
