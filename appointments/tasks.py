import datetime
import logging

from celery import current_app, shared_task
from django.conf import settings

from . import notifications, services

logger = logging.getLogger(__name__)


@shared_task
def release_slots(day: str) -> int:
    """Release one day's slots (ISO date); returns the number of places released."""
    return services.slots_release(day=datetime.date.fromisoformat(day)).places


@shared_task
def release_upcoming_slots(horizon_days: int | None = None) -> int:
    """Scheduled daily by django-celery-beat at the release time (08:00 by default)."""
    horizon = horizon_days or settings.SLOT_RELEASE_HORIZON_DAYS
    return sum(r.places for r in services.slots_release_upcoming(horizon_days=horizon))


@shared_task(
    autoretry_for=(notifications.DeliveryFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=notifications.MAX_ATTEMPTS,
)
def send_notification(notification_id: int) -> bool:
    return notifications.notification_send(notification_id=notification_id)


@shared_task
def drain_outbox() -> int:
    """Send what was recorded but never queued (broker down) or whose retries were lost."""
    sent = 0
    for pk in notifications.pending_ids(older_than=datetime.timedelta(seconds=30)):
        try:
            sent += notifications.notification_send(notification_id=pk)
        except notifications.DeliveryFailed:
            continue
        except Exception:  # one broken row must not stop the others being sent
            logger.exception("outbox drain: notification %s raised", pk)
    return sent


@shared_task
def queue_reminders() -> int:
    return notifications.reminders_queue()


def enqueue_notification(notification_id: int) -> None:
    """Hand a notification to the broker; if it is down, the periodic drain sends it later."""
    try:
        # No connection retries here: a resident's request must not wait seconds for a
        # broker that is down. The committed outbox row is the source of truth.
        with current_app.connection_for_write(transport_options={"max_retries": 0}) as conn:
            send_notification.apply_async(args=[notification_id], retry=False, connection=conn)
    except Exception as exc:  # noqa: BLE001 - the outbox row is the source of truth
        logger.warning(
            "broker unavailable (%s); notification %s left for the outbox drain",
            exc.__class__.__name__,
            notification_id,
        )
