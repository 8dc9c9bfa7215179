"""When a booking's window starts and until when a resident may change it: the
predicates services, views and templates share."""

import datetime

from django.conf import settings
from django.utils import timezone

from .models import Booking, Slot


def slot_start(slot: Slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.start))


def slot_end(slot: Slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.end))


def change_deadline(slot: Slot) -> datetime.datetime:
    """Last moment a booking in ``slot`` may be cancelled or moved."""
    return slot_start(slot) - datetime.timedelta(minutes=settings.BOOKING_CANCEL_DEADLINE_MINUTES)


def window_started(day: datetime.date, start: datetime.time, now: datetime.datetime) -> bool:
    """Whether a window has begun: from its start it is no longer offered or booked."""
    return timezone.make_aware(datetime.datetime.combine(day, start)) <= now


def booking_changeable(booking: Booking, now: datetime.datetime) -> bool:
    """Whether the resident may still cancel or move ``booking`` (what _lock_changeable
    enforces under a lock)."""
    return (
        booking.status == Booking.Status.BOOKED
        and booking.slot is not None
        and now < change_deadline(booking.slot)
    )


def booking_valid(booking: Booking) -> bool:
    """Whether ``booking`` still admits its holder: only then a QR code, print view or
    calendar file is offered."""
    return booking.status in Booking.ACTIVE_STATUSES
