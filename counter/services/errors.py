"""What the counter refuses, by cause; each is a BookingError with a code."""

from appointments.services import BookingError


class NotYourOffice(BookingError):
    """A clerk acting for an office they are not assigned to."""

    code = "not_your_office"


class CheckInRefused(BookingError):
    pass


class WalkinRefused(BookingError):
    """A person who may not be served without a booking; the message says why."""


class QueueError(BookingError):
    pass
