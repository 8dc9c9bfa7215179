"""The same-day walk-in window: numbered tickets, the call, the hall display."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import Booking, Channel, WalkinReason
from appointments.services import walkin_booking_create
from core.errors import DomainError
from offices.models import Office
from registration import services as registration_services
from registration.idnumber import parse_id_number
from registration.models import User

from ..models import AuditEntry, QueueTicket
from ..rules import clerk_can_serve
from .audit import audit_record, refusals_audited
from .errors import NotYourOffice, QueueError


def _queue_office(office: Office, clerk: User) -> None:
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    if not office.has_walkin_window:
        raise QueueError(_("This office has no same-day walk-in window."), code="no_walkin_window")


def ticket_issue(
    *, office: Office, clerk: User, now: datetime.datetime | None = None
) -> QueueTicket:
    """Hand out the next number of the day (numbers restart every day)."""
    now = now or timezone.now()
    with refusals_audited(what="ticket_issue", clerk=clerk, office=office, now=now):
        return _ticket_issue(office=office, clerk=clerk, now=now)


def _ticket_issue(*, office: Office, clerk: User, now: datetime.datetime) -> QueueTicket:

    _queue_office(office, clerk)
    today = timezone.localdate(now)
    with transaction.atomic():
        Office.objects.select_for_update(no_key=True).filter(
            pk=office.pk
        ).first()  # one issuer at a time
        last = (
            QueueTicket.objects.filter(office=office, date=today)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
        ticket = QueueTicket.objects.create(
            office=office, date=today, number=(last or 0) + 1, issued_at=now
        )
        _ticket_audit(ticket, clerk, "issue", now)
    return ticket


def _ticket_audit(ticket: QueueTicket, clerk: User, what: str, now: datetime.datetime) -> None:
    audit_record(
        clerk=clerk,
        office=ticket.office,
        action=AuditEntry.Action.QUEUE,
        booking=ticket.booking,
        code=f"ticket_{what}",
        params={"number": ticket.number},
        now=now,
    )


def ticket_call_next(
    *, office: Office, clerk: User, now: datetime.datetime | None = None
) -> QueueTicket | None:
    """Call the lowest waiting number of today, or return None when nobody waits."""
    now = now or timezone.now()
    with refusals_audited(what="ticket_call", clerk=clerk, office=office, now=now):
        return _ticket_call_next(office=office, clerk=clerk, now=now)


def _ticket_call_next(*, office: Office, clerk: User, now: datetime.datetime) -> QueueTicket | None:
    _queue_office(office, clerk)
    with transaction.atomic():
        ticket = (
            QueueTicket.objects.select_for_update(skip_locked=True)
            .filter(office=office, date=timezone.localdate(now), status=QueueTicket.Status.WAITING)
            .order_by("number")
            .first()
        )
        if ticket is None:
            return None
        ticket.status = QueueTicket.Status.CALLED
        ticket.called_at = now
        ticket.save(update_fields=["status", "called_at"])
        _ticket_audit(ticket, clerk, "call", now)
    return ticket


def ticket_recall(
    *, ticket: QueueTicket, clerk: User, now: datetime.datetime | None = None
) -> QueueTicket:
    now = now or timezone.now()
    with refusals_audited(what="ticket_recall", clerk=clerk, office=ticket.office, now=now):
        return _ticket_recall(ticket=ticket, clerk=clerk, now=now)


def _ticket_recall(*, ticket: QueueTicket, clerk: User, now: datetime.datetime) -> QueueTicket:
    _queue_office(ticket.office, clerk)
    if ticket.status != QueueTicket.Status.CALLED:
        raise QueueError(_("Only a called number can be called again."), code="not_called")
    ticket.called_at = now
    ticket.save(update_fields=["called_at"])
    _ticket_audit(ticket, clerk, "recall", now)
    return ticket


def ticket_skip(
    *, ticket: QueueTicket, clerk: User, now: datetime.datetime | None = None
) -> QueueTicket:
    now = now or timezone.now()
    with refusals_audited(what="ticket_skip", clerk=clerk, office=ticket.office, now=now):
        return _ticket_skip(ticket=ticket, clerk=clerk, now=now)


def _ticket_skip(*, ticket: QueueTicket, clerk: User, now: datetime.datetime) -> QueueTicket:
    _queue_office(ticket.office, clerk)
    updated = QueueTicket.objects.filter(
        pk=ticket.pk, status__in=[QueueTicket.Status.WAITING, QueueTicket.Status.CALLED]
    ).update(status=QueueTicket.Status.SKIPPED)
    if not updated:
        raise QueueError(_("This number is already served or skipped."), code="ticket_closed")
    ticket.refresh_from_db()
    _ticket_audit(ticket, clerk, "skip", now)
    return ticket


def ticket_serve(
    *,
    ticket: QueueTicket,
    clerk: User,
    real_name: str,
    id_number: str,
    frame_number: str,
    brand: str,
    model: str = "",
    now: datetime.datetime | None = None,
) -> Booking:
    """Serve a called number: the person is checked in on the walk-in window channel and
    goes through the same inspection and registration as a booking."""
    now = now or timezone.now()
    with refusals_audited(what="ticket_serve", clerk=clerk, office=ticket.office, now=now):
        return _ticket_serve(
            ticket=ticket,
            clerk=clerk,
            real_name=real_name,
            id_number=id_number,
            frame_number=frame_number,
            brand=brand,
            model=model,
            now=now,
        )


def _ticket_serve(
    *,
    ticket: QueueTicket,
    clerk: User,
    real_name: str,
    id_number: str,
    frame_number: str,
    brand: str,
    model: str,
    now: datetime.datetime,
) -> Booking:

    _queue_office(ticket.office, clerk)
    try:
        parsed = parse_id_number(id_number, today=timezone.localdate(now))
    except ValidationError as exc:  # the ID-number checks speak the forms' idiom
        raise QueueError.from_validation(exc) from None
    with transaction.atomic():
        locked = QueueTicket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status != QueueTicket.Status.CALLED:
            raise QueueError(_("Call this number before serving it."), code="not_called")
        resident = registration_services.resident_find_by_id_number(parsed.number)
        try:
            with transaction.atomic():
                if resident is None:
                    resident = registration_services.resident_create(
                        real_name=real_name, id_number=parsed.number
                    )
                ebike = registration_services.ebike_for_counter(
                    resident=resident, frame_number=frame_number, brand=brand, model=model
                )
                booking = walkin_booking_create(
                    resident=resident,
                    ebike=ebike,
                    office=locked.office,
                    day=locked.date,
                    source=Channel.WALKIN_WINDOW,
                    reason=WalkinReason.WINDOW,
                    now=now,
                )
        except IntegrityError:
            raise QueueError(
                _("This person already holds an active booking."), code="already_active"
            ) from None
        except DomainError as exc:
            raise QueueError(exc.message, code=exc.code) from None
        locked.status = QueueTicket.Status.SERVED
        locked.served_at = now
        locked.booking = booking
        locked.save(update_fields=["status", "served_at", "booking"])
        _ticket_audit(locked, clerk, "serve", now)
    return booking
