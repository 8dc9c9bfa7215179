"""What the booking rules refuse, by cause; each is a DomainError with a code."""

from core.errors import DomainError


class BookingError(DomainError):
    """A booking the rules refuse; the message is for the resident (or the clerk), and
    ``code`` says why for the audit log (``counter.audit.REFUSAL_REASONS``)."""


class SlotFull(BookingError):
    pass


class AlreadyBooked(BookingError):
    pass


class SlotNotBookable(BookingError):
    pass


class OfficeInactive(BookingError):
    """The slot's office is deactivated: no new booking there, and none moved into it."""

    code = "office_inactive"


class NotCancellable(BookingError):
    pass


class InCooldown(BookingError):
    pass


class StatusChangeRefused(BookingError):
    code = "booking_status"


class ScheduleError(DomainError):
    """A release schedule the rules refuse; the message says why."""
