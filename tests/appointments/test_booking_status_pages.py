"""What a resident sees of a booking in each state, the confirmation steps before cancel,
move and e-bike removal, and the edge at which today's window stops being offered (#14)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from appointments import services as booking_services
from appointments.models import Booking, Channel, Notification, Slot
from counter.models import Inspection, PlateRegistration
from registration import services as registration_services
from registration.models import EBike

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # a Sunday morning
TODAY = NOW.date()
TOMORROW = TODAY + datetime.timedelta(days=1)
T9, T10, T11, T12 = (datetime.time(h) for h in (9, 10, 11, 12))
WINDOWS = [(T9, T10, 2), (T10, T11, 2)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def slot_at(office, day, start):
    return Slot.objects.get(office=office, date=day, start=start)


@pytest.fixture
def booked(clock, make_office, make_person):
    office = make_office(windows=WINDOWS, daily_capacity=4)
    booking_services.slots_release(day=TOMORROW, now=NOW)
    person = make_person()
    slot = slot_at(office, TOMORROW, T9)
    response = person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})
    assert response.status_code == 302
    person.booking = Booking.objects.get(resident=person.resident)
    person.office = office
    return person


def set_status(booking, status):
    Booking.objects.filter(pk=booking.pk).update(status=status)


def pages(person, path=""):
    """The page at ``/bookings/<code>/<path>`` in English and in Chinese."""
    url = f"/bookings/{person.booking.code}/{path}"
    en = person.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    zh = person.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    return en, zh


def first_heading_after_h1(html: str) -> str:
    body = html.split("<h1>", 1)[1]
    return body.split("<h2>", 1)[1].split("</h2>", 1)[0]


# --- each state's page ------------------------------------------------------------------


def test_a_booked_booking_keeps_its_qr_print_and_calendar(booked):
    en, _ = pages(booked)
    html = en.content.decode()
    assert 'class="qr"' in html and "<svg" in html
    assert f"/bookings/{booked.booking.code}/print/" in html
    assert f"/bookings/{booked.booking.code}/calendar.ics" in html
    assert "status-banner" not in html
    assert booked.client.get(f"/bookings/{booked.booking.code}/print/").status_code == 200
    assert booked.client.get(f"/bookings/{booked.booking.code}/calendar.ics").status_code == 200


@pytest.mark.parametrize(
    ("status", "en_banner", "zh_banner"),
    [
        ("cancelled", "Cancelled: this booking is no longer valid", "已取消：本预约已失效"),
        ("no_show", "Missed: nobody came in this window", "已爽约：您未在预约时段到场"),
        ("completed", "Done: your e-bike is registered", "已办结：您的电动自行车已完成登记"),
        (
            "inspection_failed",
            "Not registered yet: something was missing at the inspection",
            "尚未登记：查验未通过",
        ),
    ],
)
def test_a_booking_that_is_not_valid_says_so_first_and_offers_no_qr_print_or_calendar(
    booked, status, en_banner, zh_banner
):
    set_status(booked.booking, status)
    code = booked.booking.code
    en, zh = pages(booked)
    for response, banner in ((en, en_banner), (zh, zh_banner)):
        html = response.content.decode()
        assert response.status_code == 200
        # The state is the first thing after the page heading, before the code and details.
        assert first_heading_after_h1(html) == banner
        assert html.index(banner) < html.index('id="confirmation-code"')
        assert 'class="qr"' not in html and "<svg" not in html
        assert f"/bookings/{code}/print/" not in html
        assert f"/bookings/{code}/calendar.ics" not in html
        assert f"/bookings/{code}/cancel/" not in html
    assert "What to bring" not in en.content.decode()

    ics = booked.client.get(f"/bookings/{code}/calendar.ics")
    assert ics.status_code == 404
    assert "BEGIN:VCALENDAR" not in ics.content.decode()
    print_en, print_zh = pages(booked, "print/")
    assert print_en.status_code == 200
    assert "Nothing to print" in print_en.content.decode()
    assert f"Booking {code} no longer admits anyone, so there is nothing to print." in (
        print_en.content.decode()
    )
    assert en_banner in print_en.content.decode()
    assert "无可打印内容" in print_zh.content.decode()
    for response in (print_en, print_zh):
        assert "<svg" not in response.content.decode()
        assert "data-print" not in response.content.decode()


def test_a_completed_booking_shows_its_plate_number(booked):
    set_status(booked.booking, Booking.Status.COMPLETED)
    PlateRegistration.objects.create(
        plate_number="A12345",
        ebike=booked.ebike,
        office=booked.office,
        booking=booked.booking,
        channel=Channel.ONLINE,
        registered_at=NOW,
    )
    en, zh = pages(booked)
    en_html, zh_html = en.content.decode(), zh.content.decode()
    assert "Plate number <strong>A12345</strong>" in en_html
    assert "A12345" in zh_html and "号牌号码" in zh_html
    # The plate is inside the banner that leads the page.
    banner = en_html.split('class="status-banner', 1)[1].split("</div>", 1)[0]
    assert "A12345" in banner


def test_a_failed_inspection_names_what_to_bring_or_fix_and_offers_a_rebook(booked):
    set_status(booked.booking, Booking.Status.INSPECTION_FAILED)
    Inspection.objects.create(
        booking=booked.booking,
        clerk=booked.user,
        failed_items=[Inspection.Item.INVOICE, Inspection.Item.NUMBERS],
        at=NOW,
    )
    en, zh = pages(booked)
    en_html, zh_html = en.content.decode(), zh.content.decode()
    items = en_html.split('<ul class="to-fix">', 1)[1].split("</ul>", 1)[0]
    assert items.count("<li>") == 2
    assert "Bring the purchase invoice of the e-bike." in items
    assert "does not match its certificate of conformity" in items
    # Only what failed, and worded as what to do, not the clerk's pass criteria.
    assert "resident ID card" not in items
    assert "national standard" not in items
    assert "The purchase invoice is there" not in en_html
    assert "请携带本车的购车发票。" in zh_html
    assert f'href="/availability/#office-{booked.office.pk}"' in en_html
    assert f"Book again at {booked.office.name}" in en_html
    # The rebook link lands on the office's section of the availability page.
    availability = booked.client.get("/availability/").content.decode()
    assert f'id="office-{booked.office.pk}"' in availability


def test_my_bookings_marks_each_state(booked):
    set_status(booked.booking, Booking.Status.CANCELLED)
    html = booked.client.get("/bookings/").content.decode()
    assert '<span class="status-label status-label-cancelled">cancelled</span>' in html


# --- confirmation before cancel -----------------------------------------------------------


def test_cancel_asks_first_in_both_languages_and_changes_nothing(booked):
    en, zh = pages(booked, "cancel/")
    en_html, zh_html = en.content.decode(), zh.content.decode()
    name = booked.office.name
    assert f"Cancel your booking on 2030-01-07 (Mon) 09:00–10:00 at {name}?" in en_html
    assert "You can book again while places remain" in en_html
    assert "Yes, cancel this booking" in en_html and "No, keep my booking" in en_html
    assert "确认取消预约？" in zh_html and "该名额将释放给其他人。" in zh_html
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.BOOKED
    assert slot_at(booked.office, TOMORROW, T9).booked == 1
    assert not Notification.objects.filter(event="cancellation").exists()


def test_the_detail_page_leads_to_the_confirmation_not_to_the_action(booked):
    html = booked.client.get(f"/bookings/{booked.booking.code}/").content.decode()
    assert f'<a class="button danger" href="/bookings/{booked.booking.code}/cancel/">' in html
    assert f'action="/bookings/{booked.booking.code}/cancel/"' not in html


def test_the_confirmed_cancel_cancels(booked):
    code = booked.booking.code
    response = booked.client.post(f"/bookings/{code}/cancel/", follow=True)
    assert response.redirect_chain == [(f"/bookings/{code}/", 302)]
    booked.booking.refresh_from_db()
    assert booked.booking.status == Booking.Status.CANCELLED
    assert slot_at(booked.office, TOMORROW, T9).booked == 0
    assert "Cancelled: this booking is no longer valid" in response.content.decode()


def test_cancel_confirmation_of_a_booking_past_its_deadline_offers_no_button(booked, clock):
    clock.move_to(datetime.datetime.combine(TOMORROW, T9, tzinfo=TZ))
    html = booked.client.get(f"/bookings/{booked.booking.code}/cancel/").content.decode()
    assert "This booking can no longer be cancelled." in html
    assert "Yes, cancel this booking" not in html


# --- confirmation before move -------------------------------------------------------------


def test_move_asks_old_to_new_then_the_post_moves(booked):
    code = booked.booking.code
    target = slot_at(booked.office, TOMORROW, T10)
    choice = booked.client.get(f"/bookings/{code}/move/").content.decode()
    assert f'<form method="get" action="/bookings/{code}/move/" class="inline">' in choice
    en = booked.client.get(f"/bookings/{code}/move/?slot={target.pk}").content.decode()
    zh = booked.client.get(
        f"/bookings/{code}/move/?slot={target.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    old = en.index("2030-01-07 (Mon) 09:00–10:00")
    new = en.index("2030-01-07 (Mon) 10:00–11:00")
    assert old < new
    assert "Yes, move my booking" in en
    assert "确认改约" in zh and "原预约" in zh and "改为" in zh
    booked.booking.refresh_from_db()
    assert booked.booking.slot_id == slot_at(booked.office, TOMORROW, T9).pk

    response = booked.client.post(f"/bookings/{code}/move/", {"slot": target.pk})
    assert response.status_code == 302
    booked.booking.refresh_from_db()
    assert booked.booking.slot_id == target.pk
    assert slot_at(booked.office, TOMORROW, T9).booked == 0


def test_move_confirmation_of_an_unknown_window_is_404(booked):
    response = booked.client.get(f"/bookings/{booked.booking.code}/move/?slot=999999")
    assert response.status_code == 404


# --- confirmation before e-bike removal ---------------------------------------------------


def test_ebike_removal_asks_first_then_removes(clock, make_person):
    person = make_person()
    bike = registration_services.ebike_add(
        resident=person.resident, frame_number="SPARE00001", brand="A"
    )
    profile = person.client.get("/me/").content.decode()
    assert f'<a href="/me/ebikes/{bike.pk}/remove/">' in profile
    en = person.client.get(f"/me/ebikes/{bike.pk}/remove/").content.decode()
    zh = person.client.get(
        f"/me/ebikes/{bike.pk}/remove/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "Remove this e-bike?" in en and "SPARE00001" in en
    assert "You can add it again later." in en
    assert "确认删除这辆电动自行车？" in zh
    assert EBike.objects.filter(pk=bike.pk).exists()
    person.client.post(f"/me/ebikes/{bike.pk}/remove/")
    assert not EBike.objects.filter(pk=bike.pk).exists()


def test_ebike_removal_of_a_booked_bike_says_it_is_kept_and_offers_no_button(booked):
    html = booked.client.get(f"/me/ebikes/{booked.ebike.pk}/remove/").content.decode()
    assert "This e-bike has a booking or a plate and is kept on record." in html
    assert "Yes, remove this e-bike" not in html
    assert EBike.objects.filter(pk=booked.ebike.pk).exists()


# --- a window of today stops being offered at its start ------------------------------------


def test_todays_window_is_bookable_until_one_minute_before_its_start_and_not_at_it(
    make_office, make_person
):
    office = make_office(windows=[(T11, T12, 2)])
    with time_machine.travel(NOW, tick=False) as clock:
        booking_services.slots_release(day=TODAY, now=NOW - datetime.timedelta(days=1))
        slot = slot_at(office, TODAY, T11)
        person = make_person()
        start = datetime.datetime.combine(TODAY, T11, tzinfo=TZ)

        clock.move_to(start - datetime.timedelta(minutes=1))
        cache.clear()
        day = person.client.get(f"/offices/{office.code}/{TODAY}/").content.decode()
        assert f'href="/book/{slot.pk}/"' in day
        assert "Started, can no longer be booked" not in day

        clock.move_to(start)
        cache.clear()
        for url in ("/availability/", f"/offices/{office.code}/{TODAY}/"):
            html = person.client.get(url).content.decode()
            assert f'href="/book/{slot.pk}/"' not in html
            assert "Started, can no longer be booked" in html
        zh = person.client.get(
            f"/offices/{office.code}/{TODAY}/", HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()
        assert "已开始，不可预约" in zh
        response = person.client.post(
            f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk}
        )
        assert response.status_code == 409
        assert "This time window has already started or passed." in response.content.decode()
        assert not Booking.objects.filter(resident=person.resident).exists()

        clock.move_to(start - datetime.timedelta(minutes=1))
        response = person.client.post(
            f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk}
        )
        assert response.status_code == 302
        assert Booking.objects.filter(resident=person.resident, slot=slot).exists()
