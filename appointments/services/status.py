"""A booking's status changes (``Booking.TRANSITIONS``), walk-ins, and the no-show sweep."""

import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from offices.models import Office
from registration.models import EBike, Resident

from ..models import Booking
from .errors import StatusChangeRefused

# --- status changes --------------------------------------------------------------------


def booking_status_set(booking: Booking, status: str, *, now: datetime.datetime) -> Booking:
    """Move ``booking`` to ``status`` if ``Booking.TRANSITIONS`` allows it, stamping the time.

    The caller holds the booking's row lock in its transaction and has said, in its own
    words, why a refused change is refused; this is the last word on what is legal.
    """
    if not booking.can_become(status):
        raise StatusChangeRefused(
            _("This booking cannot change from %(old)s to %(new)s.")
            % {
                "old": booking.get_status_display(),
                "new": Booking.Status(status).label,
            }
        )
    booking.status = status
    fields = ["status", "updated_at"]
    if stamp := Booking.STATUS_STAMPS.get(status):
        setattr(booking, stamp, now)
        fields.append(stamp)
    booking.save(update_fields=fields)
    return booking


def walkin_booking_create(
    *,
    resident: Resident,
    ebike: EBike,
    office: Office,
    day: datetime.date,
    source: str,
    reason: str,
    now: datetime.datetime,
    veteran_certificate: str = "",
) -> Booking:
    """A person served without a booking: checked in at once, for one listed reason (the
    database refuses any other, and a second active booking)."""
    return Booking.objects.create(
        resident=resident,
        ebike=ebike,
        office=office,
        date=day,
        source=source,
        walkin_reason=reason,
        veteran_certificate=veteran_certificate,
        status=Booking.Status.CHECKED_IN,
        created_at=now,
        checked_in_at=now,
    )


# --- no-shows ----------------------------------------------------------------------------


def bookings_mark_no_shows(*, now: datetime.datetime | None = None) -> int:
    """Mark booked (never checked-in) bookings as no-show once their window and the grace
    period have passed. Safe to run any number of times: only "booked" rows change."""
    now = now or timezone.now()
    local = timezone.localtime(now) - datetime.timedelta(minutes=settings.NO_SHOW_GRACE_MINUTES)
    may_become = Booking.statuses_leading_to(Booking.Status.NO_SHOW)
    late = Booking.objects.filter(status__in=may_become, slot__isnull=False).filter(
        Q(date__lt=local.date()) | Q(date=local.date(), slot__end__lte=local.time())
    )
    # The same change booking_status_set makes, in one UPDATE by primary key, with the
    # status condition on the updated rows themselves: PostgreSQL re-checks it on a row
    # a check-in committed while this waited for its lock (a condition inside the
    # subquery Django writes for the join to the slot would not be re-checked).
    ids = list(late.values_list("pk", flat=True))
    return Booking.objects.filter(pk__in=ids, status__in=may_become).update(
        status=Booking.Status.NO_SHOW, no_show_at=now, updated_at=now
    )
