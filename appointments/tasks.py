import datetime

from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def release_slots(day: str) -> int:
    """Release one day's slots (ISO date); returns the number of places released."""
    return services.slots_release(day=datetime.date.fromisoformat(day)).places


@shared_task
def release_upcoming_slots(horizon_days: int | None = None) -> int:
    """Scheduled daily by django-celery-beat at the release time (08:00 by default)."""
    horizon = horizon_days or settings.SLOT_RELEASE_HORIZON_DAYS
    return sum(r.places for r in services.slots_release_upcoming(horizon_days=horizon))
