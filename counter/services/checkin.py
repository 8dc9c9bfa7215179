"""Search, check-in and no-shows at the counter."""

import datetime

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from appointments.models import Booking
from appointments.rules import slot_start
from appointments.services import booking_status_set
from offices.models import Office
from registration.models import User

from ..models import AuditEntry
from ..rules import clerk_can_serve
from ..selectors import counter_find
from .audit import audit_record, refusals_audited
from .errors import CheckInRefused, NotYourOffice


def counter_search(
    *, office: Office, clerk: User, query: str, now: datetime.datetime | None = None
) -> list[Booking]:
    """Find bookings at the counter; the query may be an ID or phone number, so the audit
    log records how it was read and how many were found, never what was typed."""
    kind, results = counter_find(office=office, query=query)
    audit_record(
        clerk=clerk,
        office=office,
        action=AuditEntry.Action.SEARCH,
        code="search",
        params={"kind": kind, "count": len(results)},
        now=now,
    )
    return results


def id_number_reveal(
    *, booking: Booking, clerk: User, office: Office, now: datetime.datetime | None = None
) -> str:
    """The full ID number, for the clerk serving this person only, and on the record."""
    audit_record(
        clerk=clerk, office=office, action=AuditEntry.Action.REVEAL_ID, booking=booking, now=now
    )
    return booking.resident.reveal_id_number()


def booking_check_in(
    *, booking: Booking, clerk: User, office: Office, now: datetime.datetime | None = None
) -> Booking:
    """Check a booked resident in: only on the booked day, at the booked office, once."""
    now = now or timezone.now()
    own = _booking_at(booking, office)
    with refusals_audited(what="check_in", clerk=clerk, office=office, booking=own, now=now):
        return _booking_check_in(booking=booking, clerk=clerk, office=office, now=now)


def _booking_at(booking: Booking, office: Office) -> Booking | None:
    """The booking to name in a refusal at ``office``: not one of another office."""
    return booking if booking.office_id == getattr(office, "pk", None) else None


def _booking_check_in(
    *, booking: Booking, clerk: User, office: Office, now: datetime.datetime
) -> Booking:
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    with transaction.atomic():
        locked = Booking.objects.select_for_update().filter(pk=booking.pk).first()
        if locked is None or locked.office_id != office.pk:
            raise CheckInRefused(_("This booking is for another office."), code="other_office")
        if locked.date != timezone.localdate(now):
            raise CheckInRefused(
                _("This booking is for %(date)s, not today.")
                % {"date": formats.date_format(locked.date, "SHORT_DATE_FORMAT")},
                code="not_today",
            )
        if locked.status == Booking.Status.CHECKED_IN:
            raise CheckInRefused(
                _("This booking is already checked in."), code="already_checked_in"
            )
        if locked.status != Booking.Status.BOOKED:
            raise CheckInRefused(
                _("This booking cannot be checked in: it is %(status)s.")
                % {"status": locked.get_status_display()},
                code="booking_status",
            )
        booking_status_set(locked, Booking.Status.CHECKED_IN, now=now)
        audit_record(
            clerk=clerk, office=office, action=AuditEntry.Action.CHECK_IN, booking=locked, now=now
        )
    return locked


def booking_mark_no_show(
    *, booking: Booking, clerk: User, office: Office, now: datetime.datetime | None = None
) -> Booking:
    """A clerk marks a booking of their office as no-show, once its window has started."""
    now = now or timezone.now()
    own = _booking_at(booking, office)
    with refusals_audited(what="no_show", clerk=clerk, office=office, booking=own, now=now):
        return _booking_mark_no_show(booking=booking, clerk=clerk, office=office, now=now)


def _booking_mark_no_show(
    *, booking: Booking, clerk: User, office: Office, now: datetime.datetime
) -> Booking:
    if not clerk_can_serve(clerk, office) or booking.office_id != office.pk:
        raise NotYourOffice(_("You are not a clerk of this office."))
    with transaction.atomic():
        locked = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("slot")
            .get(pk=booking.pk)
        )
        if locked.status != Booking.Status.BOOKED:
            raise CheckInRefused(
                _("Only a booking that is still booked can be marked as a no-show."),
                code="booking_status",
            )
        if locked.slot is not None and now < slot_start(locked.slot):
            raise CheckInRefused(_("The window has not started yet."), code="not_started")
        booking_status_set(locked, Booking.Status.NO_SHOW, now=now)
        audit_record(
            clerk=clerk, office=office, action=AuditEntry.Action.NO_SHOW, booking=locked, now=now
        )
    return locked
