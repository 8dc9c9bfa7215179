import datetime
import logging
import threading

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


_local = threading.local()


def _fast_connection():
    """A broker connection per thread that never retries: reused across requests."""
    url = current_app.conf.broker_url
    cached = getattr(_local, "connection", None)
    if cached is None or cached[0] != url:
        conn = current_app.connection_for_write(url, transport_options={"max_retries": 0})
        _local.connection = cached = (url, conn)
    return cached[1]


def enqueue_notification(notification_id: int) -> None:
    """Hand a notification to the broker; if it is down, the periodic drain sends it later.

    A resident's request must not wait seconds for a broker that is down, so the
    connection does not retry; the committed outbox row is the source of truth.
    """
    try:
        if current_app.conf.task_always_eager:
            send_notification.apply_async(args=[notification_id])
        else:
            send_notification.apply_async(
                args=[notification_id], retry=False, connection=_fast_connection()
            )
    except Exception as exc:  # noqa: BLE001 - the outbox row is the source of truth
        cached = getattr(_local, "connection", None)
        _local.connection = None
        if cached is not None:
            cached[1].release()
        logger.warning(
            "broker unavailable (%s); notification %s left for the outbox drain",
            exc.__class__.__name__,
            notification_id,
        )
