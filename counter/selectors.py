"""Reads for the counter: a clerk's offices, the day's board, search, the ticket queue."""

import datetime
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from appointments.models import Booking, Slot, is_confirmation_code
from appointments.qr import QR_PREFIX
from offices.models import Office
from registration import crypto
from registration.idnumber import ascii_form, normalize_mobile
from registration.models import User

from .models import QueueTicket


def offices_of_clerk(user: User | AnonymousUser) -> QuerySet[Office]:
    if not user.is_authenticated:
        return Office.objects.none()
    return Office.objects.filter(clerks=user, is_active=True).order_by("code")


@dataclass
class BoardWindow:
    start: datetime.time
    end: datetime.time
    counts: dict[str, int]


def counter_board(*, office: Office, day: datetime.date) -> tuple[list[BoardWindow], list[Booking]]:
    """Today's windows with counts per status, and the day's bookings, in two queries."""
    bookings = list(
        Booking.objects.filter(office=office, date=day)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("resident", "slot", "ebike")
        .order_by("slot__start", "created_at")
    )
    windows: dict[tuple[datetime.time, datetime.time], BoardWindow] = {}
    for s in Slot.objects.filter(office=office, date=day).order_by("start"):
        windows[(s.start, s.end)] = BoardWindow(
            s.start, s.end, dict.fromkeys(Booking.Status.values, 0)
        )
    for b in bookings:
        if b.slot is not None and (b.slot.start, b.slot.end) in windows:
            windows[(b.slot.start, b.slot.end)].counts[b.status] += 1
    return list(windows.values()), bookings


def counter_find(*, office: Office, query: str) -> tuple[str, list[Booking]]:
    """Bookings at this office found by confirmation code, QR payload, ID or phone number,
    with how the query was read ("id_number", "phone", "qr" or "code") for the audit log."""
    text = ascii_form(query).strip().upper()
    if not text:
        return "code", []
    kind = "code"
    if text.startswith(QR_PREFIX):
        text, kind = text[len(QR_PREFIX) :], "qr"
    base = (
        Booking.objects.filter(office=office)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("resident", "slot", "ebike")
        .order_by("-date")
    )
    if len(text) == 18:  # neither a code (10) nor a mobile number can be this long
        return "id_number", list(base.filter(resident__id_hash=crypto.id_number_hash(text))[:20])
    try:
        phone = normalize_mobile(text)
    except ValidationError:
        phone = None
    if phone:
        found = base.filter(Q(resident__phone=phone) | Q(resident__user__phone=phone))
        return "phone", list(found[:20])
    if not is_confirmation_code(text):
        return kind, []  # no booking has this code (a NUL or 10 000 characters included)
    return kind, list(base.filter(code=text)[:1])


@dataclass(frozen=True)
class QueueState:
    called: list[QueueTicket]  # tickets being called, newest call first
    waiting: int
    mean_service_minutes: float | None

    @property
    def estimated_wait_minutes(self) -> int | None:
        if self.mean_service_minutes is None:
            return None
        return round(self.waiting * self.mean_service_minutes)


def queue_state(*, office: Office, day: datetime.date) -> QueueState:
    """The display board's numbers and the estimated wait from today's service times."""
    tickets = list(QueueTicket.objects.filter(office=office, date=day))
    called = sorted(
        (t for t in tickets if t.status == QueueTicket.Status.CALLED),
        key=lambda t: cast(datetime.datetime, t.called_at),  # set when a ticket is called
        reverse=True,
    )
    waiting = sum(1 for t in tickets if t.status == QueueTicket.Status.WAITING)
    durations = [
        (t.served_at - t.called_at).total_seconds() / 60
        for t in tickets
        if t.status == QueueTicket.Status.SERVED and t.called_at and t.served_at
    ]
    mean = sum(durations) / len(durations) if durations else None
    return QueueState(called=called[:5], waiting=waiting, mean_service_minutes=mean)
