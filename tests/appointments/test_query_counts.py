"""The resident pages make a fixed number of queries, however many offices, slots and bookings.

Each test measures a page at a small size (2 offices), grows the data (8 offices, two
released days, more bookings) and measures again: the counts must be equal.
"""

import datetime
import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from appointments import attempts
from appointments import services as booking_services
from appointments.models import Booking, RefusedAttempts, Slot

NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TOMORROW = NOW.date() + datetime.timedelta(days=1)
DAYS = [TOMORROW, TOMORROW + datetime.timedelta(days=1)]


@pytest.fixture(autouse=True)
def _clock_and_cache():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.fixture
def world(make_office, make_resident, make_person):
    """A growing city: ``grow(n)`` adds offices with released days and some bookings."""
    offices: list = []

    def grow(new_offices: int, bookings_per_office: int) -> list:
        added = [make_office(name=f"Hall {len(offices) + i + 1}") for i in range(new_offices)]
        offices.extend(added)
        for day in DAYS:
            booking_services.slots_release(day=day, now=NOW)
        for office in added:
            slots = list(Slot.objects.filter(office=office).order_by("date", "start"))
            for i in range(bookings_per_office):
                booking_services.booking_create(
                    resident=make_resident(name=f"Booked {i}"),
                    slot_id=slots[i % len(slots)].pk,
                    now=NOW,
                )
        return offices

    return SimpleNamespace(grow=grow, person=make_person, offices=offices)


def measure(request):
    booking_services.slot_memo_clear()  # measure the cold path, as a fresh worker would
    with CaptureQueriesContext(connection) as queries:
        response = request()
    return len(queries.captured_queries), response


def free_slot(office) -> Slot:
    return Slot.objects.filter(office=office, date=TOMORROW).order_by("-start").first()


def full_slot(office) -> Slot:
    slot = Slot.objects.filter(office=office, date=TOMORROW).order_by("start").first()
    Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity)
    return slot


def sections(response) -> int:
    return response.content.decode().count('<section class="office-availability"')


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_availability_page(world, logged_in):
    client = world.person().client if logged_in else Client(HTTP_ACCEPT_LANGUAGE="en")

    world.grow(2, bookings_per_office=3)
    cache.clear()
    small, response = measure(lambda: client.get("/availability/"))
    assert response.status_code == 200
    assert sections(response) == 2

    world.grow(6, bookings_per_office=10)
    assert Booking.objects.count() == 2 * 3 + 6 * 10
    cache.clear()
    large, response = measure(lambda: client.get("/availability/"))
    assert response.status_code == 200
    assert sections(response) == 8
    assert "8 places left" in response.content.decode()
    assert large == small

    # With the snapshot cached, only the next release time (and the session) is read.
    warm, response = measure(lambda: client.get("/availability/"))
    assert sections(response) == 8
    assert warm <= (3 if logged_in else 1)
    assert warm < large


def test_booking_post(world):
    offices = world.grow(2, bookings_per_office=3)
    first = world.person()
    slot = free_slot(offices[0])
    small, response = measure(
        lambda: first.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": first.ebike.pk})
    )
    assert response.status_code == 302
    assert Booking.objects.filter(resident=first.resident).count() == 1

    offices = world.grow(6, bookings_per_office=10)
    second = world.person()
    slot = free_slot(offices[-1])
    large, response = measure(
        lambda: second.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": second.ebike.pk})
    )
    assert response.status_code == 302
    assert Booking.objects.filter(resident=second.resident).count() == 1
    assert large == small


def test_booking_confirm_and_confirmation_pages(world):
    def pages(person, slot):
        confirm, response = measure(lambda: person.client.get(f"/book/{slot.pk}/"))
        assert response.status_code == 200
        assert "Confirm your booking" in response.content.decode()
        person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})
        code = Booking.objects.get(resident=person.resident).code
        detail, response = measure(lambda: person.client.get(f"/bookings/{code}/"))
        assert response.status_code == 200
        assert code in response.content.decode()
        listing, response = measure(lambda: person.client.get("/bookings/"))
        assert code in response.content.decode()
        return confirm, detail, listing

    offices = world.grow(2, bookings_per_office=3)
    small = pages(world.person(), free_slot(offices[0]))
    offices = world.grow(6, bookings_per_office=10)
    large = pages(world.person(), free_slot(offices[-1]))
    assert large == small


def alternatives(response) -> list[str]:
    match = re.search(r'<ul class="alternatives">(.*?)</ul>', response.content.decode(), re.S)
    assert match
    return re.findall(r'href="/book/(\d+)/"', match.group(1))


def test_sold_out_answer(world):
    offices = world.grow(2, bookings_per_office=3)
    first = world.person()
    slot = full_slot(offices[0])
    cache.clear()  # the first refusal after a change rebuilds the cached availability
    small, response = measure(
        lambda: first.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": first.ebike.pk})
    )
    assert response.status_code == 409
    assert len(alternatives(response)) == 3

    offices = world.grow(6, bookings_per_office=10)
    second = world.person()
    slot = full_slot(offices[-1])
    cache.clear()
    large, response = measure(
        lambda: second.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": second.ebike.pk})
    )
    assert response.status_code == 409
    assert len(alternatives(response)) == 3
    assert not Booking.objects.filter(resident__in=[first.resident, second.resident]).exists()
    assert large == small


def test_flagged_sold_out_answer_costs_no_more_queries_than_the_floor(
    world, django_capture_on_commit_callbacks, settings
):
    """Once a slot is known full, refusing it needs the session and the user only; the
    refusal is still counted (in memory, written in the next batch)."""
    settings.BOOKING_ATTEMPTS_FLUSH_SECONDS = 3600  # as in production: batched
    attempts.flush()
    offices = world.grow(2, bookings_per_office=3)
    person = world.person()
    slot = full_slot(offices[0])
    # The first refusal learns the slot is full (from the database) and flags it.
    with django_capture_on_commit_callbacks(execute=True):
        person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})
    person.client.get("/availability/")  # in a rush the snapshot is cached
    floor, response = measure(lambda: person.client.get("/me/ping/"))
    assert response.status_code == 200
    booking_services.slot_info(slot.pk)  # and each worker already knows the slot
    with CaptureQueriesContext(connection) as queries:
        response = person.client.post(
            f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk}
        )
    flagged = len(queries.captured_queries)
    assert response.status_code == 409
    assert "fully booked" in response.content.decode()
    assert flagged == floor
    assert attempts.flush() == 2  # the first refusal and the flagged one
    counted = RefusedAttempts.objects.get(office=offices[0], date=slot.date)
    assert (counted.reason, counted.total) == ("full", 2)


def test_a_cancel_clears_the_sold_out_flag(world, django_capture_on_commit_callbacks):
    offices = world.grow(2, bookings_per_office=3)
    slot = full_slot(offices[0])
    person = world.person()
    with django_capture_on_commit_callbacks(execute=True):
        person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})
    holder = Booking.objects.filter(slot=slot).first()
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.booking_cancel(booking=holder, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        response = person.client.post(
            f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk}
        )
    assert response.status_code == 302
    assert Booking.objects.filter(resident=person.resident, slot=slot).exists()
