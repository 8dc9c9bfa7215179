import datetime

from celery import shared_task
from django.conf import settings

from . import notifications, services


@shared_task
def release_slots(day: str) -> int:
    """Release one day's slots (ISO date); returns the number of places released."""
    return services.slots_release(day=datetime.date.fromisoformat(day)).places


@shared_task
def release_upcoming_slots(horizon_days: int | None = None) -> int:
    """Scheduled daily by django-celery-beat at the release time (08:00 by default)."""
    horizon = horizon_days or settings.SLOT_RELEASE_HORIZON_DAYS
    return sum(r.places for r in services.slots_release_upcoming(horizon_days=horizon))


@shared_task
def drain_outbox() -> int:
    """Send the notifications that are due (scheduled every few seconds by beat)."""
    return notifications.outbox_drain()


@shared_task
def queue_reminders() -> int:
    return notifications.reminders_queue()


@shared_task
def mark_no_shows() -> int:
    """Scheduled every few minutes; marks each late booking once."""
    return services.bookings_mark_no_shows()
