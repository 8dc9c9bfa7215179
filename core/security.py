"""Security events: one logger, one shape, for everything an operator watches for.

Each event is a log record on the ``security`` logger whose message is the event name and
whose ``extra`` carries the fields: ``event`` (a stable name such as ``login_failed``),
``user`` (a user id, never a phone number, e-mail address or ID number), ``client`` (the
client address as ``client_address`` reads it), ``path`` and any further keyword given.
The handler in settings writes them as JSON lines; forward that logger to the city's log
store (docs/security.md).
"""

import datetime
import ipaddress
import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

logger = logging.getLogger("security")


def client_address(request: HttpRequest) -> str:
    """The address of the client, trusting exactly ``TRUSTED_PROXY_COUNT`` proxies in
    front of the app: with N proxies the client is the N-th address from the right of
    ``X-Forwarded-For`` (each proxy appends the address it saw). With no proxy, or a header
    shorter than the proxies claimed, or a value that is not an address, it is
    ``REMOTE_ADDR``: a client cannot choose its own address by sending the header."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def security_event(
    event: str, *, request: HttpRequest | None = None, user: Any = None, **fields: Any
) -> None:
    """Log one security event (see the module docstring); ``user`` defaults to the
    request's signed-in user. Fields must not hold personal data."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
    record: dict[str, Any] = {"event": event, "user": user_id, **fields}
    if request is not None:
        record["client"] = client_address(request)
        record["path"] = request.path
    logger.warning(event, extra={"security": record})


class SecurityEventFormatter(logging.Formatter):
    """A security event as one JSON line: time (ISO 8601, local), level, then its fields.
    (Small by hand until the app's logs as a whole move to JSON lines.)"""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "security", None) or {"event": record.getMessage()}
        line = {"time": self.formatTime(record), "level": record.levelname, **fields}
        return json.dumps(line, ensure_ascii=False, default=str, sort_keys=False)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return timezone.localtime(moment).isoformat(timespec="milliseconds")
