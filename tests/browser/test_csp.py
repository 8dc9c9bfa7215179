"""The strict Content-Security-Policy holds in a real browser: the main pages load with no
violation (no inline script or style left, nothing from elsewhere), with the header sent.

Violations are caught two ways: the console's "Refused to ..." messages and the
``securitypolicyviolation`` events (listened to by a script Playwright injects, which the
policy does not apply to).
"""

import datetime
import os

import pytest
from django.conf import settings
from django.test import Client

from appointments import services as appointment_services
from appointments.models import Slot
from config.staff_auth import is_staff_member
from registration.models import User
from tests.browser.conftest import CHROMIUM, TODAY
from tests.personas import staff_login

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def _page_as(new_page, live_server, user=None):
    """A page in English, signed in as ``user`` by session cookie (None: anonymous)."""
    page = new_page(locale="en-US")
    page.set_viewport_size({"width": 1280, "height": 800})
    if user is not None:
        client = Client()
        if is_staff_member(user):
            staff_login(client, user)
        else:
            client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
    page.add_init_script(LISTEN)
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.csp_console = console
    return page


def _assert_clean(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    page.wait_for_load_state("networkidle")
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, (path, policy)
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], (path, violations)
    assert page.csp_console == [], (path, page.csp_console)


@pytest.fixture
def world(make_office, make_person):
    office = make_office(code="office-a", has_walkin_window=True)
    appointment_services.slots_release(day=TODAY + datetime.timedelta(days=1))
    person = make_person()
    slot = Slot.objects.filter(office=office).order_by("date", "start").first()
    booking = appointment_services.booking_create(
        resident=person.resident, slot_id=slot.pk, ebike=person.ebike
    )
    clerk = User.objects.create_user(email="clerk-csp@test.example.org")
    office.clerks.add(clerk)
    admin = User.objects.create_superuser("admin-csp@test.example.org", "pw")
    return {"office": office, "person": person, "booking": booking, "clerk": clerk, "admin": admin}


def test_public_pages_load_without_a_csp_violation(world, new_page, live_server):
    page = _page_as(new_page, live_server)
    for path in ("/", "/availability/", f"/offices/office-a/{TODAY + datetime.timedelta(days=1)}/"):
        _assert_clean(page, path)
    _assert_clean(page, "/display/office-a/")


def test_resident_pages_load_without_a_csp_violation(world, new_page, live_server):
    page = _page_as(new_page, live_server, world["person"].user)
    code = world["booking"].code
    for path in (f"/bookings/{code}/", f"/bookings/{code}/print/", "/bookings/", "/me/"):
        _assert_clean(page, path)
    # The print button works from its script file (no inline onclick).
    page.goto(f"/bookings/{code}/print/")
    # A function that returns nothing: a returned function would be called by Playwright.
    page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    page.click("[data-print]")
    assert page.evaluate("window.printed") == 1


def test_counter_pages_load_without_a_csp_violation(world, new_page, live_server):
    page = _page_as(new_page, live_server, world["clerk"])
    code = world["booking"].code
    for path in (
        "/counter/office-a/",
        f"/counter/office-a/bookings/{code}/",
        f"/counter/office-a/bookings/{code}/slip/",
        "/counter/office-a/walkin/",
        "/counter/office-a/queue/",
    ):
        _assert_clean(page, path)
    permissions = page.goto("/counter/office-a/").headers.get("permissions-policy", "")
    assert permissions.startswith("camera=(self)")


def test_admin_pages_load_without_a_csp_violation(world, new_page, live_server):
    page = _page_as(new_page, live_server, world["admin"])
    for path in (
        "/admin/",
        "/admin/appointments/booking/statistics/",
        "/admin/counter/auditentry/log/",
        "/admin/offices/office/overview/",
        "/admin/offices/office/",
        f"/admin/offices/office/{world['office'].pk}/change/",
        "/admin/offices/complaint/",
        "/admin/registration/user/",
    ):
        _assert_clean(page, path)
