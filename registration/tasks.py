import logging

from celery import shared_task

from . import services, sms
from .models import User

logger = logging.getLogger(__name__)


@shared_task
def clear_expired_sessions() -> int:
    """Scheduled nightly by django-celery-beat; safe to run any number of times."""
    return services.sessions_clear_expired()


@shared_task(bind=True, max_retries=6)
def rebind_notice_send(self, user_id: int, id_masked: str, office_name: str, message_id: str):
    """Tell an account by SMS that an ID number was moved off it (queued after commit).

    Takes the account's id, not its number (no phone number in the broker); retried with
    the same ``message_id`` so the gateway delivers it once. No number, no message.
    """
    phone = User.objects.filter(pk=user_id).values_list("phone", flat=True).first()
    if not phone:
        return False
    text = services.rebind_notice_text(id_masked=id_masked, office_name=office_name)
    try:
        sms.send_sms(phone, text, message_id=message_id)
    except sms.SmsError as exc:
        logger.warning("Re-bind notice not sent yet: %s", exc)
        raise self.retry(countdown=60 * 2**self.request.retries) from None
    return True
