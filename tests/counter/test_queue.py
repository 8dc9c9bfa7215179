"""The walk-in window: numbers restart daily, call/recall/skip/serve, the hall display."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.test import Client

from appointments.models import Booking
from counter import selectors as counter_selectors
from counter import services as counter_services
from counter.models import AuditEntry, QueueTicket
from tests.conftest import make_id_number

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
MORNING = datetime.datetime(2030, 1, 7, 9, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def clock():
    """The pages and the calls without ``now`` read MORNING: the numbers issued and the
    display board are the same day's, whenever the suite runs (not across a midnight)."""
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def window(office_a, clerk_a):
    """Office A with a same-day walk-in window, outside the main urban area; its clerk."""
    office_a.has_walkin_window, office_a.is_main_urban = True, False
    office_a.save(update_fields=["has_walkin_window", "is_main_urban"])
    return office_a, clerk_a


def test_numbers_count_up_and_restart_the_next_day(window):
    office, clerk = window
    numbers = [
        counter_services.ticket_issue(office=office, clerk=clerk, now=MORNING).number
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]
    tomorrow = MORNING + datetime.timedelta(days=1)
    assert counter_services.ticket_issue(office=office, clerk=clerk, now=tomorrow).number == 1


def test_call_recall_skip_and_serve_with_the_estimated_wait(window):
    office, clerk = window
    for _ in range(4):
        counter_services.ticket_issue(office=office, clerk=clerk, now=MORNING)
    first = counter_services.ticket_call_next(office=office, clerk=clerk, now=MORNING)
    assert first.number == 1
    counter_services.ticket_recall(
        ticket=first, clerk=clerk, now=MORNING + datetime.timedelta(minutes=1)
    )
    booking = counter_services.ticket_serve(
        ticket=first,
        clerk=clerk,
        real_name="Walk In",
        id_number=make_id_number(seq="771"),
        frame_number="WINDOW0001",
        brand="Yadea",
        now=MORNING + datetime.timedelta(minutes=11),
    )
    assert (booking.source, booking.walkin_reason, booking.status) == (
        "walkin_window",
        "window",
        "checked_in",
    )
    second = counter_services.ticket_call_next(office=office, clerk=clerk, now=MORNING)
    counter_services.ticket_skip(ticket=second, clerk=clerk, now=MORNING)
    state = counter_selectors.queue_state(office=office, day=MORNING.date())
    assert state.waiting == 2
    assert state.mean_service_minutes == 10  # called (recalled) at 9:01, served at 9:11
    assert state.estimated_wait_minutes == 20
    # Every number issued, then call, recall, serve, call, skip: each with its number.
    entries = AuditEntry.objects.filter(action="queue").order_by("pk")
    assert [(e.detail_code, e.detail_params["number"]) for e in entries] == [
        ("ticket_issue", 1),
        ("ticket_issue", 2),
        ("ticket_issue", 3),
        ("ticket_issue", 4),
        ("ticket_call", 1),
        ("ticket_recall", 1),
        ("ticket_serve", 1),
        ("ticket_call", 2),
        ("ticket_skip", 2),
    ]
    assert all(e.clerk == clerk and e.office == office for e in entries)
    with pytest.raises(counter_services.QueueError):
        counter_services.ticket_skip(ticket=first, clerk=clerk, now=MORNING)


def test_serving_needs_a_called_number(window):
    office, clerk = window
    ticket = counter_services.ticket_issue(office=office, clerk=clerk, now=MORNING)
    with pytest.raises(counter_services.QueueError):
        counter_services.ticket_serve(
            ticket=ticket,
            clerk=clerk,
            real_name="X",
            id_number=make_id_number(seq="773"),
            frame_number="WINDOW0002",
            brand="Y",
            now=MORNING,
        )
    assert not Booking.objects.exists()


def test_offices_without_a_window_and_other_clerks_are_refused(window, make_office, stranger):
    office, clerk = window
    plain = make_office()
    plain.clerks.add(clerk)
    with pytest.raises(counter_services.QueueError):
        counter_services.ticket_issue(office=plain, clerk=clerk)
    with pytest.raises(counter_services.NotYourOffice):
        counter_services.ticket_issue(office=office, clerk=stranger)


def test_queue_page_and_display_board(window, clerk_a_client, resident_client):
    office, _ = window
    url = f"/counter/{office.code}/queue/"
    clerk_a_client.post(url, {"action": "issue"})
    clerk_a_client.post(url, {"action": "issue"})
    clerk_a_client.post(url, {"action": "call"})
    display = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/display/{office.code}/").content.decode()
    assert '<p class="now" aria-live="polite" id="now-calling">1</p>' in display
    assert 'http-equiv="refresh"' in display
    ticket = QueueTicket.objects.get(number=1, office=office)
    response = clerk_a_client.post(
        url,
        {
            "action": "serve",
            "ticket": ticket.pk,
            "real_name": "Walk In",
            "id_number": make_id_number(seq="775"),
            "frame_number": "WINDOW0003",
            "brand": "Yadea",
        },
    )
    booking = Booking.objects.get(source="walkin_window")
    assert response["Location"] == f"/counter/{office.code}/bookings/{booking.code}/"
    assert resident_client.get(url).status_code == 403
