"""Pluggable SMS sending.

``settings.SMS_BACKEND`` names a class with ``send(phone, text, *, message_id,
timeout)``. The development backend logs the message (phone masked) and keeps the last
ones in memory so the demo and the browser tests can read a code; the HTTP backend
posts to a gateway.

The gateway contract (docs/reliability.md, "Messages"): every request carries a
``message_id`` (JSON field ``id`` and the ``Idempotency-Key`` header) and a gateway
must deliver one message per id, however many times the same id is posted. We retry
with the same id whenever we cannot know whether an earlier request arrived.
"""

import collections
import http.client
import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The message could not be handed to the gateway."""


class SmsOutcomeUnknown(SmsError):
    """The request may have reached the gateway, but no answer came back.

    A timeout, or the connection dropped after the request was written: the gateway
    may have accepted the message. Retry only with the same message id.
    """


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    message_id: str = ""


def mask_phone(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 8 else "****"


class ConsoleSmsBackend:
    """Development backend: logs the text and keeps the last 100 messages."""

    outbox: collections.deque[SmsMessage] = collections.deque(maxlen=100)

    def send(
        self, phone: str, text: str, *, message_id: str = "", timeout: float | None = None
    ) -> None:
        self.outbox.append(SmsMessage(phone=phone, text=text, message_id=message_id))
        # The masked number keeps personal data out of the log; the text is for the developer.
        logger.warning("SMS (development backend) to %s: %s", mask_phone(phone), text)


class HttpSmsBackend:
    """Posts ``{"id", "phone", "text", "sign"}`` as JSON to ``SMS_GATEWAY_URL``.

    ``id`` (also sent as the ``Idempotency-Key`` header) names the message: the gateway
    must deliver one message per id. The gateway answers 2xx when it accepted the
    message; an HTTP error or a refused connection raises SmsError (not sent); a
    timeout or a connection dropped before the answer raises SmsOutcomeUnknown.
    """

    def send(
        self, phone: str, text: str, *, message_id: str = "", timeout: float | None = None
    ) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url:
            raise SmsError("SMS_GATEWAY_URL is not set")
        payload = {"id": message_id, "phone": phone, "text": text, "sign": settings.SMS_SIGN_NAME}
        body = json.dumps(payload, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - URL comes from settings
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
                "Idempotency-Key": message_id,
            },
        )
        timeout = timeout or settings.SMS_GATEWAY_TIMEOUT
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS gateway answered {exc.code}") from None
        except urllib.error.URLError as exc:
            # Raised while connecting (refused, no route, name not found): nothing was sent,
            # except a connect timeout, where we cannot be sure.
            if isinstance(exc.reason, TimeoutError):
                raise SmsOutcomeUnknown("SMS gateway timed out") from None
            raise SmsError(f"SMS gateway unreachable: {exc.reason.__class__.__name__}") from None
        except TimeoutError:
            raise SmsOutcomeUnknown("SMS gateway timed out") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            # The request was written, the answer never came: it may have been accepted.
            raise SmsOutcomeUnknown(f"SMS gateway dropped: {exc.__class__.__name__}") from None
        except OSError as exc:
            raise SmsOutcomeUnknown(f"SMS gateway failed: {exc.__class__.__name__}") from None
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")
        logger.info("SMS handed to gateway for %s", mask_phone(phone))


def get_backend():
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str, *, message_id: str = "", timeout: float | None = None) -> None:
    """Hand one message to the backend.

    ``message_id`` must be the same on every retry of one message (the outbox key); a
    message sent once, never retried (a sign-in code), gets a fresh random id.
    """
    get_backend().send(phone, text, message_id=message_id or uuid.uuid4().hex, timeout=timeout)
