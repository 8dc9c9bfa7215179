"""Headers every response gets (core/middleware.py): no-store for signed-in people,
Permissions-Policy, CSP; a security event for every 403; the user id and client address
for the access log (config/gunicorn.py)."""

import datetime
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from appointments import services as booking_services
from appointments.models import Slot
from tests.personas import staff_login

ROOT = Path(__file__).resolve().parents[2]


class SecurityEvents(logging.Handler):
    def __init__(self):
        super().__init__()
        self.events: list[dict] = []

    def emit(self, record):
        self.events.append(record.security)


@pytest.fixture
def security_events():
    handler = SecurityEvents()
    logger = logging.getLogger("security")
    logger.addHandler(handler)
    yield handler.events
    logger.removeHandler(handler)


@pytest.fixture
def booking(office_a, make_person):
    person = make_person()
    slot = Slot.objects.create(
        office=office_a,
        date=datetime.date(2030, 1, 7),
        start=datetime.time(9),
        end=datetime.time(10),
        capacity=5,
    )
    made = booking_services.booking_create(
        resident=person.resident, slot_id=slot.pk, ebike=person.ebike
    )
    return SimpleNamespace(booking=made, client=person.client, user=person.user)


def _no_store(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",")}


def test_the_counter_page_with_the_full_id_number_is_never_stored(booking, clerk_a_client):
    response = clerk_a_client.get(f"/counter/office-a/bookings/{booking.booking.code}/")
    assert response.status_code == 200
    assert {"no-store", "private", "no-cache"} <= _no_store(response)


@pytest.mark.parametrize("page", ["/bookings/", "/me/", "detail"])
def test_resident_pages_are_never_stored(booking, page):
    path = f"/bookings/{booking.booking.code}/" if page == "detail" else page
    response = booking.client.get(path)
    assert response.status_code == 200
    assert {"no-store", "private"} <= _no_store(response)


def test_sign_in_pages_are_never_stored_even_for_anonymous_visitors(db):
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert {"no-store", "private"} <= _no_store(response)


@pytest.mark.parametrize("page", ["/", "/availability/"])
def test_public_pages_for_anonymous_visitors_stay_cacheable(db, page):
    response = Client().get(page)
    assert response.status_code == 200
    assert "Cache-Control" not in response  # as before: no header, the browser decides


def test_camera_only_on_counter_pages(booking, clerk_a_client):
    counter = clerk_a_client.get("/counter/office-a/")
    home = clerk_a_client.get("/")
    assert counter["Permissions-Policy"].startswith("camera=(self),")
    assert home["Permissions-Policy"].startswith("camera=(),")
    for response in (counter, home):
        for feature in ("microphone=()", "geolocation=()", "payment=()", "usb=()"):
            assert feature in response["Permissions-Policy"]


def test_every_page_has_a_strict_content_security_policy(db):
    policy = Client().get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-inline" not in policy


def test_a_403_is_a_security_event(booking, clerk_b_client, clerk_b, security_events):
    response = clerk_b_client.get("/counter/office-a/")
    assert response.status_code == 403
    [event] = [e for e in security_events if e["event"] == "forbidden"]
    assert event["path"] == "/counter/office-a/"
    assert event["user"] == clerk_b.pk
    assert event["client"] == "127.0.0.1"


def test_a_csrf_refusal_is_a_security_event(booking, security_events):
    client = Client(enforce_csrf_checks=True)
    client.force_login(booking.user)
    response = client.post(f"/bookings/{booking.booking.code}/cancel/")
    assert response.status_code == 403
    assert [e["event"] for e in security_events] == ["forbidden"]


def _access_line(environ: dict, status: str = "200 OK") -> str:
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    response = SimpleNamespace(status=status, headers=[], response_length=10, sent=10)
    request = SimpleNamespace(headers=[])
    environ = {"RAW_URI": environ["PATH_INFO"], **environ}
    atoms = Logger(config).atoms(response, request, environ, datetime.timedelta(seconds=1))
    return settings["access_log_format"] % SafeAtoms(atoms)


def test_the_access_log_has_the_time_the_client_and_the_user(booking, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = booking.client.get(
        "/bookings/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    environ = response.wsgi_request.META
    line = _access_line(environ)
    assert f"user={booking.user.pk} " in line
    assert "client=203.0.113.9 " in line
    assert line.startswith("[")  # %(t)s: [04/Dec/2026:10:00:00 +0800]
    assert '"GET /bookings/ HTTP/1.1" 200' in line
    assert not any("user" in name.lower() for name in response.headers)  # nothing leaks


def test_the_access_log_says_dash_for_anonymous_visitors(db):
    response = Client().get("/", {"q": "210802198503151234"})
    line = _access_line(response.wsgi_request.META)
    assert "user=- " in line
    assert "210802198503151234" not in line  # still no query string


@pytest.mark.parametrize(("language", "title"), [("en", "Not allowed"), ("zh-hans", "无权访问")])
def test_a_403_has_the_site_layout_in_both_languages(booking, clerk_b, language, title):
    client = staff_login(Client(HTTP_ACCEPT_LANGUAGE=language), clerk_b)
    response = client.get("/counter/office-a/")
    assert response.status_code == 403
    html = response.content.decode()
    assert f"<h1>{title}</h1>" in html
    assert 'class="site-header"' in html


@pytest.mark.parametrize(
    ("language", "title"), [("en", "Page not found"), ("zh-hans", "页面不存在")]
)
def test_a_404_has_the_site_layout_in_both_languages(booking, language, title):
    response = booking.client.get("/bookings/ABCDEFGHJK/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    html = response.content.decode()
    assert f"<h1>{title}</h1>" in html
    assert 'class="site-header"' in html
