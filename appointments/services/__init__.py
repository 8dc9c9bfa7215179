"""The resident's booking, by topic; every public service of appointments is named here.

- ``release``: each office's day released by the day plan (``offices.planning``),
  idempotent, reconciled every minute, and the release schedule;
- ``booking``: the booking door (``booking_request``), taking, returning and moving places;
- ``status``: a booking's legal status changes, walk-ins, the no-show sweep;
- ``errors``: what the booking rules refuse, by cause.
"""

from .booking import (
    Booked,
    BookingOutcome,
    HoldsBooking,
    NotBookable,
    Refused,
    SlotInfo,
    SoldOut,
    attempt_refused,
    booking_cancel,
    booking_create,
    booking_move,
    booking_request,
    day_sold_out_record,
    remember_slots,
    slot_info,
    slot_memo_clear,
)
from .errors import (
    AlreadyBooked,
    BookingError,
    InCooldown,
    NotCancellable,
    OfficeInactive,
    ScheduleError,
    SlotFull,
    SlotNotBookable,
    StatusChangeRefused,
)
from .release import (
    MAX_HORIZON_DAYS,
    RELEASE_TASK_NAME,
    ReconcileResult,
    ReleaseResult,
    ScheduleChange,
    release_schedule_change,
    slots_release,
    slots_release_due,
    slots_release_upcoming,
)
from .status import (
    booking_status_set,
    bookings_mark_no_shows,
    walkin_booking_create,
)

__all__ = [
    "AlreadyBooked",
    "Booked",
    "BookingError",
    "BookingOutcome",
    "HoldsBooking",
    "InCooldown",
    "MAX_HORIZON_DAYS",
    "NotBookable",
    "NotCancellable",
    "RELEASE_TASK_NAME",
    "ReconcileResult",
    "Refused",
    "ReleaseResult",
    "ScheduleChange",
    "ScheduleError",
    "SlotFull",
    "SlotInfo",
    "SlotNotBookable",
    "OfficeInactive",
    "SoldOut",
    "StatusChangeRefused",
    "attempt_refused",
    "booking_cancel",
    "booking_create",
    "booking_move",
    "booking_request",
    "booking_status_set",
    "bookings_mark_no_shows",
    "day_sold_out_record",
    "release_schedule_change",
    "remember_slots",
    "slot_memo_clear",
    "slot_info",
    "slots_release",
    "slots_release_due",
    "slots_release_upcoming",
    "walkin_booking_create",
]
