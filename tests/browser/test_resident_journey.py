"""A resident's whole journey in a real browser on a phone-sized screen.

Sign up, verify, enter real name and ID number, add an e-bike, book a window, see the
confirmation (code, QR code, "registration is free, insurance is voluntary"), cancel.
Screenshots of the pages land in test-artifacts/ for humans to look at.
"""

import os
import re

import pytest
from django.conf import settings
from django.test import Client

from appointments.models import Booking, Slot
from registration import services as registration_services
from registration.models import EBike, Resident, User
from tests.altcha_helper import wait_for_altcha
from tests.browser.conftest import (
    CHROMIUM,
    assert_no_horizontal_scroll,
    screenshot,
    sms_code,
)
from tests.conftest import make_id_number

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP_SUBMIT = "form[action='/accounts/signup/'] button[type=submit]"


def _expect_path(page, pattern: str) -> None:
    page.wait_for_url(re.compile(rf"^[^?#]*//[^/]+{pattern}(\?.*)?$"))


def _fill_profile_and_ebike(page, *, real_name: str, id_number: str, frame: str) -> None:
    _expect_path(page, "/me/")
    page.fill("#id_real_name", real_name)
    page.fill("#id_id_number", id_number)
    page.locator("main form button[type=submit]").click()
    _expect_path(page, "/me/ebikes/new/")
    page.fill("#id_frame_number", frame)
    page.fill("#id_brand", "Yadea")
    page.locator("main form button[type=submit]").click()
    _expect_path(page, "/availability/")


def _book_first_window(page, day, *, name: str):
    """From the availability page, book the day's first window; return slot and booking."""
    slot = Slot.objects.filter(date=day).order_by("office_id", "start").first()
    assert slot.booked == 0
    assert_no_horizontal_scroll(page)
    screenshot(page, f"{name}-availability")
    page.locator(f"a.button[href='/book/{slot.pk}/']").click()
    _expect_path(page, f"/book/{slot.pk}/")
    page.locator("input[name=ebike]").first.check()
    page.locator("button.primary").click()
    _expect_path(page, "/bookings/[A-Z0-9]+/")
    code = page.locator("#confirmation-code").inner_text().strip()
    booking = Booking.objects.select_related("resident__user").get(code=code)
    slot.refresh_from_db()
    assert slot.booked == 1
    assert booking.slot_id == slot.pk
    assert booking.status == Booking.Status.BOOKED
    assert page.url.rstrip("/").endswith(f"/bookings/{booking.code}")
    assert page.locator(".qr svg").count() == 1
    assert page.locator(".qr svg").bounding_box()["width"] > 100
    assert_no_horizontal_scroll(page)
    screenshot(page, f"{name}-confirmation")
    return slot, booking


def _cancel(page, slot, booking, *, name: str) -> None:
    page.locator("a.danger").click()  # the confirmation page first: nothing changes yet
    page.wait_for_load_state()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.BOOKED
    assert_no_horizontal_scroll(page)
    screenshot(page, f"{name}-cancel-confirm")
    page.locator("button.danger").click()
    page.wait_for_load_state()
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert slot.booked == 0
    assert page.locator("#confirmation-code").inner_text().strip() == booking.code
    assert page.locator("button.danger").count() == 0
    assert_no_horizontal_scroll(page)
    screenshot(page, f"{name}-cancelled")


def test_journey_in_chinese_with_phone_signup(new_page, released_day):
    page = new_page(locale="zh-CN")
    phone = "13912345678"

    page.goto("/accounts/signup/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#id_phone", phone)
    wait_for_altcha(page)  # the invisible proof of work, solved by the page itself
    page.locator(SIGNUP_SUBMIT).click()
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", sms_code(phone))
    page.locator("form:has(input[name=code]) button[type=submit]").first.click()

    id_number = make_id_number(birth="19900101", seq="457")
    _fill_profile_and_ebike(page, real_name="张三", id_number=id_number, frame="FRAMEZH0001")
    user = User.objects.get(phone="+86" + phone)
    assert user.phone_verified
    resident = Resident.objects.get(user=user)
    assert resident.real_name == "张三"
    assert EBike.objects.filter(resident=resident, frame_number="FRAMEZH0001").exists()
    assert page.locator("h1").inner_text() == "可预约时段"

    slot, booking = _book_first_window(page, released_day, name="zh")
    assert booking.resident == resident
    main = page.locator("main").inner_text()
    assert "预约成功" in main
    assert "上牌免费，参保自愿" in main
    ics = page.request.get(page.locator("a[href$='calendar.ics']").get_attribute("href"))
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text() and booking.code in ics.text()
    printed = page.request.get(page.locator("a[href$='/print/']").get_attribute("href"))
    assert printed.ok and booking.code in printed.text()

    _cancel(page, slot, booking, name="zh")
    assert page.locator(".status").inner_text().strip() == "已取消"
    assert "预约已取消" in page.locator(".messages").inner_text()


def test_journey_in_english_with_email_signup(new_page, released_day):
    page = new_page(locale="zh-CN")
    page.goto("/accounts/signup/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.select_option("#language-select", "en")
    page.locator("form.lang button[type=submit]").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")  # a function: see CSP
    _expect_path(page, "/accounts/signup/")

    page.fill("#id_email", "resident@example.org")
    page.fill("#id_password1", "a-long-Passphrase-42")
    page.fill("#id_password2", "a-long-Passphrase-42")
    wait_for_altcha(page)  # the invisible proof of work, solved by the page itself
    page.locator(SIGNUP_SUBMIT).click()

    id_number = make_id_number(birth="19760722", seq="318")
    _fill_profile_and_ebike(page, real_name="Li Si", id_number=id_number, frame="FRAMEEN0001")
    user = User.objects.get(email="resident@example.org")
    assert user.check_password("a-long-Passphrase-42")
    assert Resident.objects.get(user=user).real_name == "Li Si"
    assert page.locator("h1").inner_text() == "Available appointments"

    slot, booking = _book_first_window(page, released_day, name="en")
    assert booking.resident.user == user
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Your booking is confirmed." in page.locator(".messages").inner_text()
    assert "Registration is free. Insurance is voluntary." in page.locator("body").inner_text()
    assert "Insurance is voluntary" in page.locator(".booking-card .free").inner_text()

    _cancel(page, slot, booking, name="en")
    assert page.locator(".status").inner_text().strip().lower() == "cancelled"


def _logged_in_page(new_page, live_server, *, locale: str = "zh-CN"):
    """A resident with an e-bike, logged in by handing the browser a session cookie."""
    user = User.objects.create_user(phone="+8613800000001")
    resident = registration_services.resident_create(
        real_name="王五", id_number=make_id_number(seq="901"), user=user
    )
    registration_services.ebike_add(resident=resident, frame_number="FRAMEKB0001", brand="Aima")
    client = Client()
    client.force_login(user)
    page = new_page(locale=locale)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page, resident


FOCUS_JS = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
        tag: el.tagName.toLowerCase(),
        ebike: el.matches('input[name=ebike]'),
        checked: !!el.checked,
        primary: el.matches('button.primary'),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
    };
}"""


def test_keyboard_books_with_tab_space_enter_and_visible_focus(new_page, live_server, released_day):
    """From the top of the booking page: Tab past the e-bike (the resident's only one, so
    already chosen; Space would choose it otherwise) to the confirm button (which shows a
    focus outline), Enter to book."""
    page, resident = _logged_in_page(new_page, live_server)
    slot = Slot.objects.filter(date=released_day).order_by("office_id", "start").first()
    page.goto(f"/book/{slot.pk}/")
    assert page.locator("input[name=ebike]:checked").count() == 1

    visited, focus = [], {}
    for _ in range(40):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        visited.append(focus["tag"])
        assert focus["outlineStyle"] != "none", f"no visible focus on {focus}"
        if focus["ebike"] and not focus["checked"]:
            page.keyboard.press("Space")
            assert page.locator("input[name=ebike]:checked").count() == 1
        if focus["primary"]:
            break
    assert focus.get("primary"), f"Tab never reached the confirm button: {visited}"
    assert page.locator("input[name=ebike]:checked").count() == 1, "Tab skipped the e-bike"
    # 2px or more: clearly visible, not just the browser's thin default ring.
    assert focus["outlineWidth"] >= 2, focus
    screenshot(page, "keyboard-focus-confirm")

    page.keyboard.press("Enter")
    _expect_path(page, "/bookings/[A-Z0-9]+/")
    booking = Booking.objects.get(resident=resident)
    assert booking.status == Booking.Status.BOOKED
    assert booking.slot_id == slot.pk
    assert page.locator("#confirmation-code").inner_text().strip() == booking.code
