"""No input gives a 500: every URL pattern, as every role, with hostile values.

The walker visits every pattern of the URLconf (the resident pages, the counter, allauth,
the admin), fills its path converters with hostile values (NUL, 10 000 characters, the
last day of year 9999, -1, 0, full-width and Arabic-Indic digits, the wrong type) as well
as real ones (the fixture's office, booking, slot and ids), adds hostile query strings,
and POSTs hostile values to every field the page's own form names. Any 5xx fails, with
the requests that gave it. Values are sampled (a seeded choice per pattern and role), not
the full product, so a walk stays well under two minutes.
"""

import datetime
import json
import logging
import random
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from appointments import services as booking_services
from appointments.models import Slot
from config.staff_auth import is_staff_member
from registration.models import User
from tests.personas import staff_login

NUL = "\x00"
HOSTILE = [
    NUL,
    f"AB{NUL}CD",
    "x" * 10_000,
    "9999-12-31",
    "9999-12-01",
    "0001-01-01",
    "-1",
    "0",
    "99999999999999999999",
    "１２３",  # full-width digits
    "١٢٣",  # Arabic-Indic digits
    "[]",
    "{'a': 1}",
    "2026-02-30",
    "\u202egpj.exe",
    "' OR 1=1 --",
]
DATE_KEYS = ["start", "end", "date"]
QUERY_KEYS = ["start", "end", "q", "code", "page", "office", "date", "next", "o", "p", "e"]
# Field names every POST carries besides those the page's form names.
POST_KEYS = ["q", "code", "slot", "ebike", "action", "ticket", "start", "end", "date", "office"]
ROLES = ["anonymous", "resident", "clerk", "supervisor", "superuser"]
SUPERVISOR_PERMISSIONS = [
    "view_booking",
    "view_auditentry",
    "view_complaint",
    "change_complaint",
    "view_quotachange",
    "view_office",
    "change_office",
    "view_resident",
    "view_user",
    "view_slot",
    "view_platenumber",
    "view_plateregistration",
]
CONVERTER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*(?:\([^()]*\)[^()]*)*)\)")


def _client_for(role: str, world) -> Client:
    """The one door to a signed-in client of each role (anonymous: none); staff sign in
    with their second factor, as they must."""
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    user = getattr(world, role, None)
    if user is not None and is_staff_member(user):
        staff_login(client, user)
    elif user is not None:
        client.force_login(user)
    return client


def _patterns(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        route = prefix + _pattern_text(entry)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def _pattern_text(entry) -> str:
    text = str(entry.pattern)
    if hasattr(entry.pattern, "regex") and not hasattr(entry.pattern, "_route"):
        text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    return text


def _fillings(pattern: str, real: dict[str, list[str]], rng: random.Random) -> list[str]:
    """Paths for one pattern: its real values, then hostile ones in each parameter."""
    names = [m["name"] for m in CONVERTER.finditer(pattern)] + [
        m["name"] for m in REGEX_GROUP.finditer(pattern)
    ]

    def fill(choose) -> str:
        def route(match):
            return quote(choose(match["name"], match), safe="")

        def group(match):
            body = match["body"]
            literal = body.split("|")[0]
            if re.fullmatch(r"[\w-]+", literal):  # an alternation of names: take one
                return choose(match["name"], match, literal)
            return quote(choose(match["name"], match), safe="")

        path = CONVERTER.sub(route, pattern)
        path = REGEX_GROUP.sub(group, path)
        return "/" + path.replace("\\", "").replace(".*", "x")

    def real_value(name, match, literal=None):
        if literal is not None:
            return literal
        return rng.choice(real.get(name, real["*"]))

    if "bookings/<str:code>" in pattern:  # a resident's booking, by its confirmation code
        real = {**real, "code": real["booking_code"]}
    paths = [fill(real_value)]
    if not names:
        return paths
    for hostile in [NUL, "9999-12-31", *rng.sample(HOSTILE[2:], 3)]:
        target = rng.choice(names)

        def value(name, match, literal=None, _target=target, _hostile=hostile):
            if name == _target:
                return _hostile
            return real_value(name, match, literal)

        paths.append(fill(value))
    return paths


def _queries(rng: random.Random) -> list[dict[str, str]]:
    """Query strings for one page: every key hostile at once (NUL, then a sample), the
    date keys alone at the ends of the calendar (other keys valid or absent, so a form
    gets as far as the dates), and one key alone."""
    return [
        dict.fromkeys(QUERY_KEYS, NUL),
        dict.fromkeys(QUERY_KEYS, rng.choice(HOSTILE)),
        dict.fromkeys(DATE_KEYS, "9999-12-31"),
        {"start": "9999-12-01", "end": "9999-12-31"},
        dict.fromkeys(DATE_KEYS, rng.choice(["0001-01-01", "2026-02-30", "１２３"])),
        {rng.choice(QUERY_KEYS): rng.choice(HOSTILE)},
    ]


FIELD_NAME = re.compile(r'name="([^"]+)"')


def _walk(client: Client, world, rng: random.Random) -> list[str]:
    failures: list[str] = []

    def check(method: str, path: str, response) -> None:
        if response.status_code >= 500:
            failures.append(f"{method} {path[:200]!r} -> {response.status_code}")

    # Pages that end the session or delete things go last, so they do not hide the rest.
    patterns = sorted(
        set(_patterns(get_resolver())),
        key=lambda p: ("logout" in p or "delete" in p, p),
    )
    for pattern in patterns:
        for n, path in enumerate(_fillings(pattern, world.real, rng)):
            response = client.get(path)
            check("GET", path, response)
            if n:
                continue  # hostile path values: the GET says enough
            for params in _queries(rng):
                query = urlencode(params)
                check("GET", f"{path}?{query}", client.get(f"{path}?{query}"))
            body = (
                response.content.decode("utf-8", "replace") if response.status_code == 200 else ""
            )
            fields = set(FIELD_NAME.findall(body)) - {"csrfmiddlewaretoken"}
            for hostile in [NUL, rng.choice(HOSTILE[1:])]:
                data = dict.fromkeys({*fields, *POST_KEYS}, hostile)
                check("POST", path, client.post(path, data))
    return failures


@pytest.fixture
def world(make_office, make_person, settings):
    """An office with a released slot and a booking, and a user for every role."""
    settings.DEBUG = False
    office = make_office(code="office-a", has_walkin_window=True)
    person = make_person()
    slot = Slot.objects.create(
        office=office,
        date=datetime.date(2030, 1, 7),
        start=datetime.time(9),
        end=datetime.time(10),
        capacity=5,
    )
    booking = booking_services.booking_create(
        resident=person.resident, slot_id=slot.pk, ebike=person.ebike
    )
    clerk = User.objects.create_user(email="clerk-a@test.example.org")
    office.clerks.add(clerk)
    supervisor = User.objects.create_user(email="supervisor@test.example.org", is_staff=True)
    supervisor.user_permissions.set(Permission.objects.filter(codename__in=SUPERVISOR_PERMISSIONS))
    superuser = User.objects.create_superuser("admin@test.example.org", "pw")
    ids = [str(booking.pk), str(office.pk), str(person.user.pk), str(slot.pk)]
    real = {
        "code": [office.code],
        "booking_code": [booking.code],
        "slot_id": [str(slot.pk)],
        "day": ["2030-01-07"],
        "object_id": ids,
        "pk": ids,
        "id": ids,
        "*": ids + [booking.code, office.code],
    }

    class World:
        pass

    w = World()
    w.resident, w.clerk, w.supervisor, w.superuser = person.user, clerk, supervisor, superuser
    w.real = real
    return w


@pytest.mark.parametrize("role", ROLES)
def test_no_url_answers_5xx_to_hostile_input(role, world):
    client = _client_for(role, world)
    failures = _walk(client, world, random.Random(f"hostile-{role}"))
    assert not failures, "\n".join(failures)


# --- the inputs the attack report named (issue #13, items 5 and 12) ------------------


class SecurityEvents(logging.Handler):
    """The "security" logger's records (it does not propagate to the root)."""

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


@pytest.mark.parametrize("code", [NUL, f"AB{NUL}CD", "x" * 10_000, "１２３４５６７８９０"])
@pytest.mark.parametrize("suffix", ["", "print/", "calendar.ics", "move/"])
def test_a_hostile_booking_code_is_a_404_for_the_resident(world, code, suffix, security_events):
    client = _client_for("resident", world)
    response = client.get(f"/bookings/{quote(code, safe='')}/{suffix}")
    assert response.status_code == 404
    assert client.post(f"/bookings/{quote(code, safe='')}/cancel/").status_code == 404
    assert [e["event"] for e in security_events][:1] == ["booking_not_found"]
    assert security_events[0]["user"] == world.resident.pk
    assert security_events[0]["via"] == "resident"


def test_the_resident_still_opens_their_booking_by_its_code_in_any_case(world):
    client = _client_for("resident", world)
    code = world.real["booking_code"][0]
    assert client.get(f"/bookings/{code.lower()}/").status_code == 200


@pytest.mark.parametrize("query", [NUL, f"ABC{NUL}DEF", "x" * 10_000, "٠١٢٣٤٥٦٧٨٩"])
def test_a_hostile_counter_search_finds_nothing_and_is_logged(world, query, security_events):
    client = _client_for("clerk", world)
    response = client.post("/counter/office-a/", {"q": query})
    assert response.status_code == 200
    assert "No booking at this office matches." in response.content.decode()
    [event] = [e for e in security_events if e["event"] == "booking_not_found"]
    assert event["user"] == world.clerk.pk
    assert event["office"] == "office-a"
    assert query not in json.dumps(event)


@pytest.mark.parametrize("code", [NUL, "ABCDEFGHJK", "x" * 10_000])
def test_an_unknown_code_in_a_counter_address_is_a_logged_404(world, code, security_events):
    client = _client_for("clerk", world)
    for suffix in ("", "slip/"):
        path = f"/counter/office-a/bookings/{quote(code, safe='')}/{suffix}"
        assert client.get(path).status_code == 404
    assert [e["via"] for e in security_events if e["event"] == "booking_not_found"] == [
        "counter",
        "counter",
    ]


def test_the_clerk_still_opens_a_booking_by_its_code(world, security_events):
    client = _client_for("clerk", world)
    code = world.real["booking_code"][0]
    assert client.get(f"/counter/office-a/bookings/{code}/").status_code == 200
    assert [e["event"] for e in security_events if e["event"] != "staff_login"] == []


@pytest.mark.parametrize("office", [NUL, "x" * 10_000, "１２３"])
def test_a_hostile_office_in_the_complaint_form_is_ignored(world, office):
    client = _client_for("resident", world)
    response = client.get("/complaints/new/", {"office": office})
    assert response.status_code == 200
    assert 'name="office"' in response.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/admin/appointments/booking/statistics/", "/admin/counter/auditentry/log/"],
)
@pytest.mark.parametrize(
    "query",
    [
        {"start": "9999-12-01", "end": "9999-12-31"},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "1999-12-31", "end": "2000-01-02"},
    ],
)
def test_a_date_outside_2000_to_2099_is_a_form_error(world, url, query):
    client = _client_for("superuser", world)
    response = client.get(url, query)
    assert response.status_code == 200
    assert "Enter a date between 2000-01-01 and 2099-12-31." in response.content.decode()


def test_the_last_day_of_the_range_is_still_accepted(world):
    client = _client_for("superuser", world)
    query = {"start": "2099-12-01", "end": "2099-12-31"}
    response = client.get("/admin/appointments/booking/statistics/", query)
    assert response.status_code == 200
    assert "Enter a date between" not in response.content.decode()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2100-01-01"])
def test_an_office_day_out_of_range_is_a_404(world, day):
    assert _client_for("anonymous", world).get(f"/offices/office-a/{day}/").status_code == 404
