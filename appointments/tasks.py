import datetime

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from . import notifications, services

# The release must not be lost: acknowledged only once done, and put back when its
# worker dies. Safe because it is idempotent. Its queue ("release") and time limits are
# in the settings (CELERY_TASK_ROUTES, CELERY_TASK_ANNOTATIONS).
RELEASE_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**RELEASE_OPTIONS)
def release_slots(day: str) -> int:
    """Release one day's slots (ISO date); returns the number of places released."""
    return services.slots_release(day=datetime.date.fromisoformat(day)).places


@shared_task(**RELEASE_OPTIONS)
def release_upcoming_slots(horizon_days: int | None = None) -> int:
    """Scheduled daily by django-celery-beat at the release time (08:00 by default)."""
    horizon = horizon_days or settings.SLOT_RELEASE_HORIZON_DAYS
    return sum(r.places for r in services.slots_release_upcoming(horizon_days=horizon))


@shared_task(**RELEASE_OPTIONS)
def release_reconcile() -> int:
    """Release the days due and not released (every minute from beat, and at worker
    start); alert when one is overdue. Returns the number of places released."""
    return services.slots_release_due().places


@worker_ready.connect
def _reconcile_at_worker_start(sender=None, **kwargs):
    """Queue one reconcile when a worker starts (not run here: the worker runs it)."""
    if settings.RELEASE_RECONCILE_ON_WORKER_START:
        release_reconcile.apply_async(expires=300)


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
