"""Pluggable SMS sending.

``settings.SMS_BACKEND`` names a class with ``send(phone, text)``. The development
backend logs the message (phone masked) and keeps the last ones in memory so the
demo and the browser tests can read a code; the HTTP backend posts to a gateway.
"""

import collections
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The message could not be handed to the gateway."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


def mask_phone(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 8 else "****"


class ConsoleSmsBackend:
    """Development backend: logs the text and keeps the last 100 messages."""

    outbox: collections.deque[SmsMessage] = collections.deque(maxlen=100)

    def send(self, phone: str, text: str) -> None:
        self.outbox.append(SmsMessage(phone=phone, text=text))
        # The masked number keeps personal data out of the log; the text is for the developer.
        logger.warning("SMS (development backend) to %s: %s", mask_phone(phone), text)


class HttpSmsBackend:
    """Posts ``{"phone", "text", "sign"}`` as JSON to ``SMS_GATEWAY_URL``.

    The gateway answers 2xx when it accepted the message; anything else raises
    SmsError so that callers (and Celery retries) see the failure.
    """

    def send(self, phone: str, text: str) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url:
            raise SmsError("SMS_GATEWAY_URL is not set")
        body = json.dumps(
            {"phone": phone, "text": text, "sign": settings.SMS_SIGN_NAME}, ensure_ascii=False
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - URL comes from settings
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_GATEWAY_TIMEOUT) as resp:  # noqa: S310
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS gateway answered {exc.code}") from None
        except OSError as exc:
            raise SmsError(f"SMS gateway unreachable: {exc.__class__.__name__}") from None
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")
        logger.info("SMS handed to gateway for %s", mask_phone(phone))


def get_backend():
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str) -> None:
    get_backend().send(phone, text)
