"""Resident booking pages through Django's test client: availability, booking, changes."""

import datetime
import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db.models import F
from django.test import Client
from django.utils import formats, translation
from icalendar import Calendar

from appointments import notifications
from appointments import services as booking_services
from appointments.models import Booking, Channel, DayRelease, Notification, Slot
from offices.models import ClosedDay, Complaint

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # a Sunday morning
TODAY = NOW.date()
TOMORROW = TODAY + datetime.timedelta(days=1)  # Monday
T9, T10, T11 = datetime.time(9), datetime.time(10), datetime.time(11)
SMALL_WINDOWS = [(T9, T10, 2), (T10, T11, 2)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def release(day):
    return booking_services.slots_release(day=day, now=NOW)


def slot_at(office, day, start):
    return Slot.objects.get(office=office, date=day, start=start)


def book(person, slot, **extra):
    return person.client.post(
        f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk, **extra}
    )


def office_section(html: str, office) -> str:
    match = re.search(
        rf'<section class="office-availability" aria-labelledby="office-{office.pk}">'
        r"(.*?)</section>",
        html,
        re.S,
    )
    assert match, f"no section for {office.name}"
    return match.group(1)


def day_block(section: str, office, day: datetime.date) -> tuple[str, str]:
    """Return (state, html) of one day in an office's section."""
    pattern = (
        r'<div class="day day-(\w+)">\s*<h3><a href="/offices/'
        + re.escape(office.code)
        + "/"
        + day.isoformat()
        + r'/">(.*?)(?=<div class="day |\Z)'
    )
    match = re.search(pattern, section, re.S)
    assert match, f"no day {day} for {office.name}"
    return match.group(1), match.group(2)


def windows(html: str) -> list[tuple[str, bool, str]]:
    """(time, sold out?, places text) of each listed window, in page order."""
    return [
        (time, bool(sold), places.strip())
        for sold, time, places in re.findall(
            r'<li class="window( sold-out)?">\s*<span class="time">(.*?)</span>\s*'
            r'<span class="places">(.*?)</span>',
            html,
            re.S,
        )
    ]


# --- availability ----------------------------------------------------------------------


def test_availability_lists_places_sold_out_unreleased_next_release_and_server_time(
    clock, make_office, client
):
    north = make_office(name="North Hall", windows=SMALL_WINDOWS, daily_capacity=4)
    south = make_office(name="South Hall", windows=[(T9, T10, 3)], daily_capacity=3)
    release(TOMORROW)
    Slot.objects.filter(office=north, date=TOMORROW, start=T10).update(booked=2)
    Slot.objects.filter(office=south, date=TOMORROW, start=T9).update(booked=1)

    response = client.get("/availability/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()

    north_html = office_section(html, north)
    state, day_html = day_block(north_html, north, TOMORROW)
    assert state == "open"
    assert windows(day_html) == [
        ("09:00–10:00", False, "2 places left"),
        ("10:00–11:00", True, "Fully booked"),
    ]
    assert f'href="/book/{slot_at(north, TOMORROW, T9).pk}/"' in day_html
    assert f'href="/book/{slot_at(north, TOMORROW, T10).pk}/"' not in day_html
    state, day_html = day_block(office_section(html, south), south, TOMORROW)
    assert state == "open"
    assert windows(day_html) == [("09:00–10:00", False, "2 places left")]

    # The day after tomorrow is not released yet; the page says so.
    state, day_html = day_block(north_html, north, TOMORROW + datetime.timedelta(days=1))
    assert state == "unreleased"
    assert "Not released yet" in day_html
    assert windows(day_html) == []
    # Today was never released, and the schedule releases only days ahead: no online places.
    state, day_html = day_block(north_html, north, TODAY)
    assert state == "capacity"
    assert "No online places this day" in day_html and "Not released yet" not in day_html

    # The release schedule (08:00 daily, one day ahead) and the server's clock.
    assert "Next release: 2030-01-07 08:00, opening 2030-01-08." in html
    assert 'Server time: <time datetime="2030-01-06T10:00:00+08:00">2030-01-06 10:00:00</time>' in (
        html
    )


def test_availability_in_chinese_by_default(clock, make_office, client):
    office = make_office(windows=[(T9, T10, 1)], daily_capacity=1)
    release(TOMORROW)
    html = client.get("/availability/").content.decode()
    state, day_html = day_block(office_section(html, office), office, TOMORROW)
    assert windows(day_html) == [("09:00–10:00", False, "剩余 1 个名额")]
    Slot.objects.filter(office=office).update(booked=1)
    cache.clear()
    html = client.get("/availability/").content.decode()
    state, day_html = day_block(office_section(html, office), office, TOMORROW)
    assert windows(day_html) == [("09:00–10:00", True, "已约满")]
    assert "尚未放号" in html
    assert "服务器时间" in html


def test_availability_cache_is_cleared_by_booking_and_cancel(
    clock, make_office, make_person, client, django_capture_on_commit_callbacks
):
    office = make_office(windows=[(T9, T10, 3), (T10, T11, 3)], daily_capacity=6)
    release(TOMORROW)
    person = make_person()
    nine, ten = slot_at(office, TOMORROW, T9), slot_at(office, TOMORROW, T10)

    def listed():
        html = client.get("/availability/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        return windows(day_block(office_section(html, office), office, TOMORROW)[1])

    assert listed() == [
        ("09:00–10:00", False, "3 places left"),
        ("10:00–11:00", False, "3 places left"),
    ]
    # The page is served from the cache: a change behind its back is not seen yet...
    Slot.objects.filter(pk=ten.pk).update(booked=1)
    assert listed()[1] == ("10:00–11:00", False, "3 places left")

    # ...but a booking clears it, so the very next page shows the new numbers.
    with django_capture_on_commit_callbacks(execute=True):
        response = book(person, nine)
    assert response.status_code == 302
    assert listed() == [
        ("09:00–10:00", False, "2 places left"),
        ("10:00–11:00", False, "2 places left"),
    ]

    code = Booking.objects.get(resident=person.resident).code
    with django_capture_on_commit_callbacks(execute=True):
        response = person.client.post(f"/bookings/{code}/cancel/")
    assert response.status_code == 302
    assert listed()[0] == ("09:00–10:00", False, "3 places left")


# --- booking ---------------------------------------------------------------------------


def test_booking_redirects_to_its_confirmation(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    slot = slot_at(office, TOMORROW, T9)

    response = person.client.get(f"/book/{slot.pk}/")
    assert response.status_code == 200
    assert "Confirm your booking" in response.content.decode()

    response = book(person, slot)
    booking = Booking.objects.get(resident=person.resident)
    assert response.status_code == 302
    assert response["Location"] == f"/bookings/{booking.code}/"
    assert (booking.slot_id, booking.ebike_id, booking.office_id) == (
        slot.pk,
        person.ebike.pk,
        office.pk,
    )
    assert (booking.date, booking.status, booking.source) == (
        TOMORROW,
        Booking.Status.BOOKED,
        Channel.ONLINE,
    )
    slot.refresh_from_db()
    assert slot.booked == 1
    page = person.client.get(response["Location"])
    assert "Your booking is confirmed." in page.content.decode()


def test_booking_requires_login(clock, make_office, client):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    slot = slot_at(office, TOMORROW, T9)
    response = client.post(f"/book/{slot.pk}/", {"slot": slot.pk})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Booking.objects.exists()


def alternative_links(html: str) -> list[int]:
    match = re.search(r'<ul class="alternatives">(.*?)</ul>', html, re.S)
    assert match, "no list of alternatives"
    return [int(pk) for pk in re.findall(r'href="/book/(\d+)/"', match.group(1))]


def test_sold_out_answers_409_with_the_three_nearest_windows(
    clock, make_office, make_slot, make_person
):
    a = make_office(name="Office A")
    b = make_office(name="Office B")
    day_after = TOMORROW + datetime.timedelta(days=1)
    full = make_slot(office=a, day=TOMORROW, start=T9, end=T10, capacity=1)
    Slot.objects.filter(pk=full.pk).update(booked=1)
    also_full = make_slot(office=a, day=TOMORROW, start=T10, end=T11, capacity=1)
    Slot.objects.filter(pk=also_full.pk).update(booked=1)
    same_office_same_day = make_slot(
        office=a, day=TOMORROW, start=datetime.time(15), end=datetime.time(16), capacity=2
    )
    same_office_next_day = make_slot(office=a, day=day_after, start=T9, end=T10, capacity=2)
    other_office_same_time = make_slot(office=b, day=TOMORROW, start=T9, end=T10, capacity=2)
    other_office_later = make_slot(office=b, day=TOMORROW, start=T10, end=T11, capacity=2)
    passed = make_slot(office=a, day=TODAY, start=T9, end=T10, capacity=2)
    person = make_person()

    response = book(person, full)
    assert response.status_code == 409
    html = response.content.decode()
    assert "This time window is fully booked." in html
    links = alternative_links(html)
    assert links == [same_office_same_day.pk, same_office_next_day.pk, other_office_same_time.pk]
    for excluded in (full, also_full, other_office_later, passed):
        assert excluded.pk not in links
    assert "Office A · 2030-01-07 15:00–16:00" in html
    assert not Booking.objects.exists()
    full.refresh_from_db()
    assert full.booked == 1


def test_sold_out_message_is_chinese_by_default(clock, make_slot, make_person):
    slot = make_slot(day=TOMORROW, capacity=1)
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    person = make_person(language="zh-hans")
    response = book(person, slot)
    assert response.status_code == 409
    assert "该时段已约满。" in response.content.decode()


def test_a_second_booking_is_refused_with_a_link_to_the_first(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    first = book(person, slot_at(office, TOMORROW, T9))
    assert first.status_code == 302
    held = Booking.objects.get(resident=person.resident)

    other = slot_at(office, TOMORROW, T10)
    page = person.client.get(f"/book/{other.pk}/").content.decode()
    assert "You already hold a booking; one person can hold only one." in page
    assert f'href="/bookings/{held.code}/"' in page

    response = book(person, other)
    assert response.status_code == 409
    html = response.content.decode()
    assert "You already hold an active booking." in html
    assert f'<a href="/bookings/{held.code}/">' in html
    assert held.code in html
    assert Booking.objects.filter(resident=person.resident).count() == 1
    other.refresh_from_db()
    assert other.booked == 0


def test_a_slot_that_does_not_exist_is_404(clock, make_office, make_person):
    make_office()
    person = make_person()
    missing = (Slot.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    assert person.client.get(f"/book/{missing}/").status_code == 404
    assert book(person, SimpleNamespace(pk=missing)).status_code == 404
    assert not Booking.objects.exists()


def test_a_form_slot_differing_from_the_url_is_404(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    nine, ten = slot_at(office, TOMORROW, T9), slot_at(office, TOMORROW, T10)
    response = person.client.post(f"/book/{nine.pk}/", {"slot": ten.pk, "ebike": person.ebike.pk})
    assert response.status_code == 404
    assert not Booking.objects.exists()
    assert list(Slot.objects.order_by("start").values_list("booked", flat=True)) == [0, 0]


@pytest.mark.parametrize(
    ("day", "start"),
    [(TODAY - datetime.timedelta(days=1), T9), (TODAY, T9)],
    ids=["yesterday", "today-already-started"],
)
def test_a_past_slot_is_refused(clock, make_slot, make_person, day, start):
    slot = make_slot(day=day, start=start, end=datetime.time(start.hour + 1), capacity=3)
    person = make_person()
    response = book(person, slot)
    assert response.status_code == 409
    assert "This time window has already started or passed." in response.content.decode()
    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert slot.booked == 0


def test_office_day_open_lists_its_windows(clock, make_office, client):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    html = client.get(f"/offices/{office.code}/{TOMORROW}/", HTTP_ACCEPT_LANGUAGE="en")
    assert windows(html.content.decode()) == [
        ("09:00–10:00", False, "2 places left"),
        ("10:00–11:00", False, "2 places left"),
    ]


def test_office_day_unreleased_says_when_the_next_release_is(clock, make_office, client):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    for day in (TOMORROW + datetime.timedelta(days=1), TODAY + datetime.timedelta(days=30)):
        response = client.get(f"/offices/{office.code}/{day}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        html = response.content.decode()
        assert "This day is not released yet." in html
        assert "the next release is at 2030-01-07 08:00." in html
        assert windows(html) == []
    # Chinese by default.
    html = client.get(f"/offices/{office.code}/{TOMORROW + datetime.timedelta(days=1)}/")
    assert "该日尚未放号。" in html.content.decode()


def test_office_day_in_the_past_cannot_be_booked(clock, make_office, client):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    yesterday = TODAY - datetime.timedelta(days=1)
    booking_services.slots_release(day=yesterday, now=NOW - datetime.timedelta(days=2))
    response = client.get(f"/offices/{office.code}/{yesterday}/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "This day has passed and cannot be booked." in html
    assert windows(html) == []
    assert "/book/" not in html


@pytest.mark.parametrize("released", [True, False], ids=["released", "not-released-yet"])
def test_office_day_closed_by_a_closed_day(clock, make_office, client, released):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    ClosedDay.objects.create(office=office, date=TOMORROW, reason="holiday")
    if released:
        release(TOMORROW)
        assert DayRelease.objects.get(office=office, date=TOMORROW).closed
    html = client.get(f"/offices/{office.code}/{TOMORROW}/", HTTP_ACCEPT_LANGUAGE="en")
    html = html.content.decode()
    assert "The service point is closed on this day." in html
    assert "not released yet" not in html
    assert windows(html) == []


@pytest.mark.parametrize("released", [True, False], ids=["released", "not-released-yet"])
def test_office_day_closed_on_a_weekday_it_does_not_open(clock, make_office, client, released):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4, opening_weekdays="23456")
    assert TOMORROW.isoweekday() == 1
    if released:
        release(TOMORROW)
    response = client.get(f"/offices/{office.code}/{TOMORROW}/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "The service point is closed on this day." in html
    assert "not released yet" not in html
    zh = client.get(f"/offices/{office.code}/{TOMORROW}/").content.decode()
    assert "该网点当日不办公。" in zh


def test_windows_of_today_that_have_started_are_shown_past_and_not_offered(
    clock, make_office, make_person, client
):
    """On Sunday at 10:00 sharp the 09:00 window has ended and the 10:00 one begun: both
    listed, but no Book or "Move here" button on the availability, office-day and move
    pages; 11:00 is offered."""
    office = make_office(windows=[(T9, T10, 2), (T10, T11, 2), (T11, datetime.time(12), 2)])
    booking_services.slots_release(day=TODAY, now=NOW - datetime.timedelta(days=1))
    release(TOMORROW)
    person = make_person()
    assert book(person, slot_at(office, TOMORROW, T9)).status_code == 302
    code = Booking.objects.get(resident=person.resident).code
    started = [slot_at(office, TODAY, T9).pk, slot_at(office, TODAY, T10).pk]
    offered = slot_at(office, TODAY, T11).pk
    availability = client.get("/availability/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    day = client.get(f"/offices/{office.code}/{TODAY}/", HTTP_ACCEPT_LANGUAGE="en")
    move = person.client.get(f"/bookings/{code}/move/").content.decode()
    zh = client.get(f"/offices/{office.code}/{TODAY}/").content.decode()
    _, today_html = day_block(office_section(availability, office), office, TODAY)
    for html in (today_html, day.content.decode()):
        assert html.count('<li class="window past">') == 2
        assert html.count("Ended") == 1  # 09:00-10:00 is over at 10:00
        assert html.count("Started, can no longer be booked") == 1
        assert all(f'href="/book/{pk}/"' not in html for pk in started)
        assert f'href="/book/{offered}/"' in html
    assert all(f'name="slot" value="{pk}"' not in move for pk in started)
    assert f'name="slot" value="{offered}"' in move
    assert zh.count("已结束") == 1 and zh.count("已开始，不可预约") == 1


def test_an_open_day_without_places_left_in_the_week_says_so_not_closed(
    clock, make_office, client, admin_client
):
    """32 a day, 64 a week, open daily: Monday and Tuesday take the week's places."""
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4, weekly_quota=8)
    wednesday = TOMORROW + datetime.timedelta(days=2)
    for offset in range(3):
        release(TOMORROW + datetime.timedelta(days=offset))
    release_row = DayRelease.objects.get(office=office, date=wednesday)
    assert (release_row.closed, release_row.capacity) == (False, 0)
    section = office_section(
        client.get("/availability/", HTTP_ACCEPT_LANGUAGE="en").content.decode(), office
    )
    state, day_html = day_block(section, office, wednesday)
    assert state == "quota"
    assert "No places this day (weekly quota reached)" in day_html
    assert "Closed" not in day_html
    page = client.get(f"/offices/{office.code}/{wednesday}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "No places this day (weekly quota reached)" in page.content.decode()
    assert "closed" not in page.content.decode().split("<main", 1)[-1].lower().split("footer")[0]
    zh = client.get(f"/offices/{office.code}/{wednesday}/").content.decode()
    assert "当日无名额（本周配额已用完）" in zh and "该网点当日不办公。" not in zh
    # The admins' preview reads the same, for the released day and the one planned after it.
    preview = admin_client.get("/admin/offices/office/overview/").content.decode()
    row = re.search(rf"<th scope=\"row\">{office.name}</th>(.*?)</tr>", preview, re.S).group(1)
    assert row.count("No places this day (weekly quota reached)") >= 2


def test_office_day_unknown_office_or_bad_date_is_404(clock, make_office, client):
    office = make_office()
    assert client.get(f"/offices/nowhere/{TOMORROW}/").status_code == 404
    assert client.get(f"/offices/{office.code}/2030-02-30/").status_code == 404


def no_show(resident, office, day):
    """An online booking of a past day that the resident did not turn up for."""
    slot, _ = Slot.objects.get_or_create(
        office=office, date=day, start=T9, defaults={"end": T10, "capacity": 50}
    )
    Slot.objects.filter(pk=slot.pk).update(booked=F("booked") + 1)
    return Booking.objects.create(
        resident=resident,
        office=office,
        date=day,
        slot=slot,
        source=Channel.ONLINE,
        status=Booking.Status.NO_SHOW,
        created_at=NOW,
    )


def test_three_no_shows_in_30_days_block_booking_until_a_date(
    clock, make_office, make_person, settings
):
    settings.NO_SHOW_COOLDOWN_COUNT = 3
    settings.NO_SHOW_COOLDOWN_DAYS = 30
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    for days_ago in (3, 12, 25):
        no_show(person.resident, office, TODAY - datetime.timedelta(days=days_ago))
    slot = slot_at(office, TOMORROW, T9)

    response = book(person, slot)
    assert response.status_code == 409
    until = TODAY - datetime.timedelta(days=25) + datetime.timedelta(days=30)
    with translation.override("en"):
        shown = formats.date_format(until, "SHORT_DATE_FORMAT")
    html = response.content.decode()
    assert f"You missed 3 appointments within 30 days, so you can book again from {shown}." in html
    assert not Booking.objects.filter(status=Booking.Status.BOOKED).exists()
    slot.refresh_from_db()
    assert slot.booked == 0


def test_no_shows_outside_the_window_or_below_the_count_do_not_block(
    clock, make_office, make_person, settings
):
    settings.NO_SHOW_COOLDOWN_COUNT = 3
    settings.NO_SHOW_COOLDOWN_DAYS = 20
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    for days_ago in (3, 12, 25):  # the oldest is outside 20 days
        no_show(person.resident, office, TODAY - datetime.timedelta(days=days_ago))
    response = book(person, slot_at(office, TOMORROW, T9))
    assert response.status_code == 302
    assert Booking.objects.filter(resident=person.resident, status="booked").count() == 1


def test_the_cooldown_follows_the_settings(clock, make_office, make_person, settings):
    settings.NO_SHOW_COOLDOWN_COUNT = 1
    settings.NO_SHOW_COOLDOWN_DAYS = 7
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    no_show(person.resident, office, TODAY - datetime.timedelta(days=2))
    response = book(person, slot_at(office, TOMORROW, T9))
    assert response.status_code == 409
    assert "You missed 1 appointment within 7 days" in response.content.decode()
    settings.NO_SHOW_COOLDOWN_COUNT = 0  # off
    assert book(person, slot_at(office, TOMORROW, T9)).status_code == 302


# --- someone else's booking ------------------------------------------------------------


def test_someone_elses_booking_is_404_and_reveals_nothing(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    owner = make_person(name="Owner Zhang")
    intruder = make_person(name="Intruder Wang")
    assert book(owner, slot_at(office, TOMORROW, T9)).status_code == 302
    booking = Booking.objects.get(resident=owner.resident)
    other_slot = slot_at(office, TOMORROW, T10)
    secrets_ = [owner.resident.real_name, booking.code, owner.resident.id_masked]

    for code in (booking.code, booking.code.lower()):
        responses = [
            intruder.client.get(f"/bookings/{code}/"),
            intruder.client.get(f"/bookings/{code}/print/"),
            intruder.client.get(f"/bookings/{code}/calendar.ics"),
            intruder.client.get(f"/bookings/{code}/move/"),
            intruder.client.post(f"/bookings/{code}/cancel/"),
            intruder.client.post(f"/bookings/{code}/move/", {"slot": other_slot.pk}),
        ]
        for response in responses:
            assert response.status_code == 404, response.request["PATH_INFO"]
            body = response.content.decode()
            for secret in secrets_:
                assert secret not in body
                assert secret.lower() not in body

    # An anonymous visitor is sent to log in, and sees nothing either.
    anonymous = Client().get(f"/bookings/{booking.code}/")
    assert anonymous.status_code == 302
    assert owner.resident.real_name not in anonymous.content.decode()

    booking.refresh_from_db()
    assert (booking.status, booking.slot_id) == (
        Booking.Status.BOOKED,
        slot_at(office, TOMORROW, T9).pk,
    )
    assert [s.booked for s in Slot.objects.order_by("start")] == [1, 0]
    # The owner still sees it (lower-case code works too).
    assert owner.client.get(f"/bookings/{booking.code.lower()}/").status_code == 200


def test_my_bookings_lists_only_my_own(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    me, other = make_person(), make_person(name="Other Person")
    book(me, slot_at(office, TOMORROW, T9))
    book(other, slot_at(office, TOMORROW, T10))
    mine = Booking.objects.get(resident=me.resident).code
    theirs = Booking.objects.get(resident=other.resident).code
    html = me.client.get("/bookings/").content.decode()
    assert mine in html
    assert theirs not in html


# --- cancel and move -------------------------------------------------------------------


@pytest.fixture
def booked(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    assert book(person, slot_at(office, TOMORROW, T9)).status_code == 302
    person.booking = Booking.objects.get(resident=person.resident)
    person.office = office
    return person


def test_cancel_by_get_only_asks_to_confirm_and_changes_nothing(booked):
    code = booked.booking.code
    response = booked.client.get(f"/bookings/{code}/cancel/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cancel your booking on 2030-01-07 (Mon) 09:00–10:00 at" in html
    assert "The place goes back to others." in html
    assert f'<form method="post" action="/bookings/{code}/cancel/">' in html
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.BOOKED
    assert booked.booking.slot.booked == 1
    assert not Notification.objects.filter(event="cancellation").exists()


def test_move_by_get_only_shows_the_choice_then_asks_to_confirm(booked):
    target = slot_at(booked.office, TOMORROW, T10)
    code = booked.booking.code
    choice = booked.client.get(f"/bookings/{code}/move/").content.decode()
    assert "Move here" in choice
    response = booked.client.get(f"/bookings/{code}/move/?slot={target.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Move your booking?" in html
    assert "2030-01-07 (Mon) 09:00–10:00" in html  # old
    assert "2030-01-07 (Mon) 10:00–11:00" in html  # new
    assert f'<input type="hidden" name="slot" value="{target.pk}">' in html
    booked.booking.refresh_from_db()
    assert booked.booking.slot_id == slot_at(booked.office, TOMORROW, T9).pk
    target.refresh_from_db()
    assert target.booked == 0


def test_cancel_frees_the_place(booked):
    code = booked.booking.code
    response = booked.client.post(f"/bookings/{code}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == f"/bookings/{code}/"
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.CANCELLED
    assert booked.booking.cancelled_at == NOW
    assert slot_at(booked.office, TOMORROW, T9).booked == 0
    html = booked.client.get(response["Location"]).content.decode()
    assert "Your booking is cancelled and the place is free again." in html
    assert "Cancel booking" not in html  # no longer changeable


def test_cancel_is_allowed_until_the_window_starts_by_default(booked, clock, settings):
    settings.BOOKING_CANCEL_DEADLINE_MINUTES = 0
    code = booked.booking.code
    start = datetime.datetime.combine(TOMORROW, T9, tzinfo=TZ)

    clock.move_to(start)
    response = booked.client.post(f"/bookings/{code}/cancel/", follow=True)
    assert "The time to change this booking has passed." in response.content.decode()
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.BOOKED
    assert slot_at(booked.office, TOMORROW, T9).booked == 1

    clock.move_to(start - datetime.timedelta(seconds=1))
    detail = booked.client.get(f"/bookings/{code}/").content.decode()
    assert "You can cancel or change until 2030-01-07 09:00." in detail
    booked.client.post(f"/bookings/{code}/cancel/")
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.CANCELLED


def test_cancel_deadline_follows_the_setting(booked, clock, settings):
    settings.BOOKING_CANCEL_DEADLINE_MINUTES = 120
    code = booked.booking.code
    start = datetime.datetime.combine(TOMORROW, T9, tzinfo=TZ)
    clock.move_to(start - datetime.timedelta(minutes=119))
    detail = booked.client.get(f"/bookings/{code}/").content.decode()
    assert "Cancel booking" not in detail
    response = booked.client.post(f"/bookings/{code}/cancel/", follow=True)
    assert "The time to change this booking has passed." in response.content.decode()
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.BOOKED

    clock.move_to(start - datetime.timedelta(minutes=121))
    assert "You can cancel or change until 2030-01-07 07:00." in (
        booked.client.get(f"/bookings/{code}/").content.decode()
    )
    booked.client.post(f"/bookings/{code}/cancel/")
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.CANCELLED


def test_move_to_a_full_window_keeps_the_booking(booked):
    full = slot_at(booked.office, TOMORROW, T10)
    Slot.objects.filter(pk=full.pk).update(booked=full.capacity)
    code = booked.booking.code
    response = booked.client.post(f"/bookings/{code}/move/", {"slot": full.pk}, follow=True)
    html = response.content.decode()
    assert "This time window is fully booked. Your booking was not changed." in html
    booked.booking.refresh_from_db()
    assert booked.booking.slot_id == slot_at(booked.office, TOMORROW, T9).pk
    assert booked.booking.status == Booking.Status.BOOKED
    assert slot_at(booked.office, TOMORROW, T9).booked == 1
    assert slot_at(booked.office, TOMORROW, T10).booked == full.capacity
    assert not Notification.objects.filter(event="moved").exists()


def test_move_changes_the_slot_and_frees_the_old_place(booked, make_office):
    other_office = make_office(name="Other Hall", windows=SMALL_WINDOWS, daily_capacity=4)
    day_after = TOMORROW + datetime.timedelta(days=1)
    booking_services.slots_release(day=day_after, now=NOW)
    target = slot_at(other_office, day_after, T10)
    code = booked.booking.code

    response = booked.client.post(f"/bookings/{code}/move/", {"slot": target.pk})
    assert response.status_code == 302
    assert response["Location"] == f"/bookings/{code}/"
    booked.booking.refresh_from_db()
    assert (booked.booking.slot_id, booked.booking.office_id, booked.booking.date) == (
        target.pk,
        other_office.pk,
        day_after,
    )
    assert booked.booking.code == code
    assert slot_at(booked.office, TOMORROW, T9).booked == 0
    assert slot_at(other_office, day_after, T10).booked == 1
    assert Notification.objects.filter(booking=booked.booking, event="moved").count() == 1
    html = booked.client.get(f"/bookings/{code}/").content.decode()
    assert "Your booking is moved." in html
    assert "Other Hall" in html
    assert "2030-01-08" in html


# --- CSRF ------------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(person.user)
    nine, ten = slot_at(office, TOMORROW, T9), slot_at(office, TOMORROW, T10)

    response = strict.post(f"/book/{nine.pk}/", {"slot": nine.pk, "ebike": person.ebike.pk})
    assert response.status_code == 403
    assert not Booking.objects.exists()
    assert slot_at(office, TOMORROW, T9).booked == 0

    assert book(person, nine).status_code == 302  # the same booking with a token
    booking = Booking.objects.get()
    assert strict.post(f"/bookings/{booking.code}/cancel/").status_code == 403
    assert strict.post(f"/bookings/{booking.code}/move/", {"slot": ten.pk}).status_code == 403
    booking.refresh_from_db()
    assert (booking.status, booking.slot_id) == (Booking.Status.BOOKED, nine.pk)

    response = strict.post(
        "/complaints/new/",
        {
            "office": office.pk,
            "category": "fee",
            "incident_date": TODAY.isoformat(),
            "text": "Asked to pay",
        },
    )
    assert response.status_code == 403
    assert not Complaint.objects.exists()


# --- confirmation, calendar, print -----------------------------------------------------


def test_confirmation_page_shows_everything_needed(booked):
    code = booked.booking.code
    response = booked.client.get(f"/bookings/{code}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<p class="code" id="confirmation-code">{code}</p>' in html
    assert "<svg" in html
    assert booked.office.address in html
    assert booked.office.name in html
    assert "2030-01-07 (Mon)" in html
    assert "09:00–10:00" in html
    for item in (
        "Your resident ID card",
        "The e-bike",
        "The purchase invoice",
        "The certificate of conformity",
    ):
        assert item in html
    assert "Registration is free. Insurance is voluntary: nobody may make registration" in html
    assert booked.resident.id_masked in html
    assert booked.resident.reveal_id_number() not in html


def test_confirmation_page_in_chinese(booked):
    booked.client.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    html = booked.client.get(f"/bookings/{booked.booking.code}/").content.decode()
    assert "请携带" in html
    assert booked.booking.code in html


def test_calendar_download(booked):
    code = booked.booking.code
    response = booked.client.get(f"/bookings/{code}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert f'filename="booking-{code}.ics"' in response["Content-Disposition"]
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    end = event.decoded("dtend")
    assert start == datetime.datetime.combine(TOMORROW, T9, tzinfo=TZ)
    assert start.utcoffset() == datetime.timedelta(hours=8)
    assert (start.hour, start.minute) == (9, 0)
    assert end == datetime.datetime.combine(TOMORROW, T10, tzinfo=TZ)
    text = response.content.decode()
    assert "20300107T090000" in text
    assert code in str(event.get("description"))
    assert booked.office.address in str(event.get("location"))


def test_calendar_file_carries_the_time_zone_it_names(booked):
    """RFC 5545 3.2.19: every TZID used needs its VTIMEZONE block in the file."""
    response = booked.client.get(f"/bookings/{booked.booking.code}/calendar.ics")
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert event["dtend"].params["TZID"] == "Asia/Shanghai"
    [vtimezone] = calendar.walk("VTIMEZONE")
    assert str(vtimezone["tzid"]) == "Asia/Shanghai"
    # Read with the file's own time zone definition, the start is 09:00 at UTC+8.
    start = event.decoded("dtstart").replace(tzinfo=vtimezone.to_tz())
    assert start.utcoffset() == datetime.timedelta(hours=8)
    assert (start.hour, start.minute) == (9, 0)


def test_print_view_renders(booked):
    code = booked.booking.code
    response = booked.client.get(f"/bookings/{code}/print/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="print-view"' in html
    assert "E-bike registration appointment" in html
    assert code in html
    assert "<svg" in html


# --- notifications ---------------------------------------------------------------------


def test_booking_sends_one_confirmation_once(
    clock, make_office, make_person, console_sms, django_capture_on_commit_callbacks
):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    person = make_person()
    with django_capture_on_commit_callbacks(execute=True):
        assert book(person, slot_at(office, TOMORROW, T9)).status_code == 302
    booking = Booking.objects.get(resident=person.resident)

    [notification] = Notification.objects.filter(booking=booking)
    assert notification.event == Notification.Event.CONFIRMATION
    assert notification.status == Notification.Status.PENDING  # the drain sends it
    assert len(console_sms) == 0
    assert notifications.outbox_drain(now=NOW) == 1
    assert notifications.outbox_drain(now=NOW) == 0
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.sent_at == NOW
    sent = [m for m in console_sms if m.phone == person.user.phone]
    assert len(sent) == 1
    assert len(console_sms) == 1
    assert booking.code in sent[0].text

    assert notifications.notification_send(notification_id=notification.pk) is False
    assert len(console_sms) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_cancel_records_one_cancellation(booked, console_sms, django_capture_on_commit_callbacks):
    code = booked.booking.code
    with django_capture_on_commit_callbacks(execute=True):
        booked.client.post(f"/bookings/{code}/cancel/")
        booked.client.post(f"/bookings/{code}/cancel/")  # a second click changes nothing
    # The confirmation was still waiting for the drain: it is no longer true, so only
    # the cancellation is sent.
    assert notifications.outbox_drain(now=NOW) == 1
    events = list(
        Notification.objects.filter(booking=booked.booking)
        .order_by("event")
        .values_list("event", "status")
    )
    assert events == [("cancellation", "sent"), ("confirmation", "superseded")]
    assert [m.phone for m in console_sms] == [booked.user.phone]
    assert any(code in m.text and ("取消" in m.text or "cancel" in m.text) for m in console_sms)


def test_reminders_are_queued_once_per_booking_of_tomorrow(clock, make_office, make_person):
    office = make_office(windows=SMALL_WINDOWS, daily_capacity=4)
    release(TOMORROW)
    release(TOMORROW + datetime.timedelta(days=1))
    first, second, later, cancelled = (make_person() for _ in range(4))
    assert book(first, slot_at(office, TOMORROW, T9)).status_code == 302
    assert book(second, slot_at(office, TOMORROW, T10)).status_code == 302
    day_after = TOMORROW + datetime.timedelta(days=1)
    assert book(later, slot_at(office, day_after, T9)).status_code == 302
    assert book(cancelled, slot_at(office, TOMORROW, T9)).status_code == 302
    cancelled_code = Booking.objects.get(resident=cancelled.resident).code
    assert cancelled.client.post(f"/bookings/{cancelled_code}/cancel/").status_code == 302

    assert notifications.reminders_queue(now=NOW) == 2
    assert notifications.reminders_queue(now=NOW) == 0
    reminded = Notification.objects.filter(event=Notification.Event.REMINDER)
    assert sorted(reminded.values_list("booking__resident", flat=True)) == sorted(
        [first.resident.pk, second.resident.pk]
    )
    assert reminded.count() == 2


def test_a_failed_delivery_stays_pending_with_the_error(booked, settings):
    settings.SMS_BACKEND = "registration.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = ""
    notification = Notification.objects.get(booking=booked.booking, event="confirmation")
    assert notification.status == Notification.Status.PENDING
    with pytest.raises(notifications.DeliveryFailed):
        notifications.notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1
    assert "SmsError" in notification.last_error
    assert "SMS_GATEWAY_URL is not set" in notification.last_error
    assert notification.sent_at is None

    assert notification.next_attempt_at == NOW + datetime.timedelta(seconds=10)
    # The drain leaves it alone until its back-off has passed, then tries again.
    assert notifications.outbox_drain(now=NOW) == 0
    notification.refresh_from_db()
    assert notification.attempts == 1
    with pytest.raises(notifications.DeliveryFailed):
        notifications.notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.PENDING, 2)
    assert notification.next_attempt_at == NOW + datetime.timedelta(seconds=20)


def test_availability_marks_known_closed_days_closed_not_unreleased(clock, make_office, client):
    office = make_office(opening_weekdays="123456")  # not on Sundays
    monday = datetime.date(2030, 1, 7)
    ClosedDay.objects.create(office=office, date=monday + datetime.timedelta(days=2))
    html = office_section(
        client.get("/availability/", HTTP_ACCEPT_LANGUAGE="en").content.decode(), office
    )
    # Sunday 10:00: this morning's run opened Monday before the office was there; the
    # reconcile releases it, so Monday is not released yet, like Tuesday.
    assert day_block(html, office, monday)[0] == "unreleased"
    assert day_block(html, office, monday + datetime.timedelta(days=1))[0] == "unreleased"
    assert day_block(html, office, monday + datetime.timedelta(days=2))[0] == "closed"
    assert day_block(html, office, monday + datetime.timedelta(days=6))[0] == "closed"  # Sunday


def test_a_mail_failure_keeps_no_address_in_the_record_or_the_log(booked, settings, caplog):
    import smtplib

    settings.EMAIL_BACKEND = "tests.appointments.test_booking_views.RefusingMailBackend"
    booked.user.phone, booked.user.email = None, "refused@test.example.org"
    booked.user.save(update_fields=["phone", "email"])
    notification = Notification.objects.get(booking=booked.booking, event="confirmation")
    with caplog.at_level("WARNING"), pytest.raises(notifications.DeliveryFailed):
        notifications.notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.last_error == "SMTPRecipientsRefused"
    assert "refused@test.example.org" not in caplog.text
    assert smtplib.SMTPRecipientsRefused.__name__ in caplog.text


class RefusingMailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        import smtplib

        raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"no such user") for m in messages})


def test_a_booking_made_in_the_evening_for_tomorrow_is_reminded_once(booked):
    """The sweep runs every evening hour; each run adds only the bookings not reminded."""
    evening = NOW.replace(hour=18, minute=0)
    booked.booking.date = evening.date() + datetime.timedelta(days=1)
    booked.booking.save(update_fields=["date"])
    assert notifications.reminders_queue(now=evening) == 1
    assert notifications.reminders_queue(now=evening + datetime.timedelta(hours=3)) == 0
    assert Notification.objects.filter(event="reminder", booking=booked.booking).count() == 1
