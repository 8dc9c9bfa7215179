"""Real headless Chromium (Playwright) against pytest-django's live server.

The browser, its Playwright driver and the async-unsafe permission live for one test
module only, so the rest of the suite runs with Django's usual safety checks.
"""

import datetime
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from appointments import services as appointment_services
from appointments.models import Slot
from registration.sms import ConsoleSmsBackend
from tests.personas import totp_authenticator, totp_code

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 375, "height": 740}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The browser tests' "now": Monday 09:00 in Shanghai, offices open. Three days ahead is a
# Thursday, and the Wednesday before it is an opening day too (offices open Mon-Sat).
NOW = datetime.datetime(2030, 1, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()


@pytest.fixture(scope="module")
def _allow_orm_under_playwright():
    """Playwright's sync API keeps an event loop running in the main thread; without this
    Django refuses ORM calls from the test body (SynchronousOnlyOperation)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_allow_orm_under_playwright):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing (REQUIRE_SERVICES=1): install Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open pages in a fresh phone-sized context; ``new_page(locale="en-US")``."""
    contexts = []

    def make(*, locale: str = "zh-CN"):
        context = browser.new_context(
            viewport=PHONE_VIEWPORT, locale=locale, base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(autouse=True)
def clock():
    """Every browser test starts at NOW, before anyone logs in (a session's expiry is read
    from the clock then). Time ticks: the live server and Chromium need it to pass; the
    cookies' Max-Age makes a date years away no problem for the browser."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _clean_outbox_and_cache():
    """Fresh SMS outbox, availability cache and allauth rate limits for every test."""
    ConsoleSmsBackend.outbox.clear()
    cache.clear()
    yield
    ConsoleSmsBackend.outbox.clear()


@pytest.fixture
def released_day(make_office):
    """Two offices with four windows each, released for a day a few days ahead."""
    day = TODAY + datetime.timedelta(days=3)
    make_office(name="东城服务点", address="东城路1号", district="东城区")
    make_office(name="西城服务点", address="西城路2号", district="西城区")
    result = appointment_services.slots_release(day=day)
    assert result.places > 0, result
    assert Slot.objects.filter(date=day).count() == 8
    cache.clear()
    return day


def sms_code(phone: str) -> str:
    """The six-digit code of the last SMS the development backend sent to ``phone``."""
    for message in reversed(ConsoleSmsBackend.outbox):
        if message.phone.endswith(phone) and (match := re.search(r"\b(\d{6})\b", message.text)):
            return match.group(1)
    raise AssertionError(f"no SMS code for {phone} in {list(ConsoleSmsBackend.outbox)}")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_no_horizontal_scroll(page, width: int = PHONE_VIEWPORT["width"]) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways: {scroll_width}px > {width}px"


STAFF_PASSWORD = "staff-test-pass-2030"  # noqa: S105 - test value


def staff_sign_in(page, user) -> None:
    """Log staff member ``user`` in through the real login page: e-mail and password,
    then the authenticator app's code (``tests.personas.totp_code``)."""
    user.set_password(STAFF_PASSWORD)
    user.save(update_fields=["password"])
    totp_authenticator(user)
    page.goto("/accounts/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("#id_code", totp_code(user))
    page.locator("#id_code").press("Enter")
    page.wait_for_url(lambda url: "/accounts/" not in url)
