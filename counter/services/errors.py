"""What the counter refuses, by cause; each is a DomainError with a code."""

from core.errors import DomainError
from registration.models import Resident


class CounterError(DomainError):
    """A counter action the rules refuse; the message is for the clerk."""


class NotYourOffice(CounterError):
    """A clerk acting for an office they are not assigned to."""

    code = "not_your_office"


class CheckInRefused(CounterError):
    pass


class WalkinRefused(CounterError):
    """A person who may not be served without a booking; the message says why."""

    resident: Resident | None = None  # the person refused, when known (for the audit log)


class QueueError(CounterError):
    pass


class PlateRefused(CounterError):
    """A plate that cannot be loaded, voided or issued: its format, the stock, the frame."""
