"""The counter audit: who did what, where, when and to whom; refusals with their reason."""

import datetime
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

from appointments.models import Booking
from core.errors import DomainError
from offices.models import Office
from registration.models import Resident, User

from ..models import AuditEntry


def audit_record(
    *,
    clerk: User,
    office: Office | None,
    action: str,
    booking: Booking | None = None,
    resident: Resident | None = None,
    code: str = "",
    params: dict | None = None,
    now: datetime.datetime | None = None,
) -> AuditEntry:
    """Write one audit entry: ``code`` and ``params`` say what (``counter.audit``),
    in the reader's language when read; never put an ID or phone number in ``params``."""
    return AuditEntry.objects.create(
        clerk=clerk,
        office=office,
        action=action,
        booking=booking,
        resident=resident if resident is not None else getattr(booking, "resident", None),
        detail_code=code,
        detail_params=params or {},
        at=now or timezone.now(),
    )


def refusal_code(exc: DomainError) -> str:
    """Why a service refused, as a code."""
    return exc.code or "other"


@contextmanager
def refusals_audited(
    *,
    what: str,
    clerk: User,
    office: Office | None,
    booking: Booking | None = None,
    now: datetime.datetime | None = None,
) -> Iterator[None]:
    """Record a refused counter action (``what``) with the reason's code, then re-raise.

    Entered outside the action's transaction, so the record stays when the action is
    rolled back. The refusal is about ``booking``'s person, or about the person the
    exception names (``exc.resident``); their ID number is never recorded.
    """

    try:
        yield
    except DomainError as exc:
        if getattr(clerk, "is_authenticated", False) and office is not None:
            audit_record(
                clerk=clerk,
                office=office,
                action=AuditEntry.Action.REFUSED,
                booking=booking,
                resident=getattr(exc, "resident", None),
                code="refused",
                params={"what": what, "reason": refusal_code(exc)},
                now=now,
            )
        raise
