"""Moving an ID number to the account of the person at the counter (a re-bind).

Anyone who signs up can claim an ID number nobody claimed yet; the person who holds the
card then cannot. At the counter, with the person and their card there, a clerk moves the
number (the person's record, with its e-bikes and bookings) to the account the person
signed up with. It is in the audit log (masked number, both account ids) and the old
account is told by SMS after the commit.
"""

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import Booking
from offices.models import Office
from registration import services as registration_services
from registration import tasks as registration_tasks
from registration.models import Resident, User

from ..models import AuditEntry
from ..rules import clerk_can_serve
from .audit import audit_record, refusals_audited
from .errors import CounterError, NotYourOffice


class RebindRefused(CounterError):
    """An ID number the counter will not move; the message says why."""

    resident: Resident | None = None  # the person, when known (for the audit log)


@dataclass(frozen=True)
class RebindPlan:
    """What a re-bind would do, for the clerk to confirm."""

    resident: Resident
    old_user: User | None
    new_user: User


@dataclass(frozen=True)
class RebindDone:
    resident: Resident
    old_user: User | None
    new_user: User
    notice_queued: bool  # an SMS to the old account's number


def _refused(exc: registration_services.RegistrationError) -> RebindRefused:
    return RebindRefused(exc.message, code=exc.code)


def _plan(*, office: Office, clerk: User, id_number: str, login: str) -> RebindPlan:
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    new_user = registration_services.account_find(login)
    if new_user is None:
        raise RebindRefused(
            _("No account signed up with this mobile number or e-mail address."),
            code="account_unknown",
        )
    try:
        resident = registration_services.resident_rebind_check(id_number=id_number, user=new_user)
    except registration_services.RegistrationError as exc:
        raise _refused(exc) from None
    _refuse_active_booking(resident)
    return RebindPlan(resident=resident, old_user=resident.user, new_user=new_user)


def _refuse_active_booking(resident: Resident) -> None:
    # A booking made from the old account is for this ID number; moving it with the number
    # would hand the new account a time its holder did not choose. Cancel it first.
    if Booking.objects.filter(resident=resident, status__in=Booking.ACTIVE_STATUSES).exists():
        refused = RebindRefused(
            _(
                "This ID number has an active booking. Cancel the booking first (or serve "
                "it), then move the number."
            ),
            code="active_booking",
        )
        refused.resident = resident
        raise refused


def identity_rebind_plan(*, office: Office, clerk: User, id_number: str, login: str) -> RebindPlan:
    """What ``identity_rebind`` would do, or the refusal it would give; nothing changes."""
    with refusals_audited(what="rebind", clerk=clerk, office=office):
        return _plan(office=office, clerk=clerk, id_number=id_number, login=login)


def identity_rebind(
    *,
    office: Office,
    clerk: User,
    id_number: str,
    login: str,
    now: datetime.datetime | None = None,
) -> RebindDone:
    """Move ``id_number`` to the account signed up with ``login`` (mobile number or
    e-mail), for the person who shows the ID card at ``office``'s counter.

    Refused (and the refusal audited): a clerk of another office, an unknown account or
    number, the account that has it already, an account with another number, an active
    booking for the number. Done: one audit entry (masked number, both account ids), a
    security event by the caller, an SMS to the old account's number after the commit.
    """
    now = now or timezone.now()
    with refusals_audited(what="rebind", clerk=clerk, office=office, now=now):
        plan = _plan(office=office, clerk=clerk, id_number=id_number, login=login)
        with transaction.atomic():
            try:
                moved = registration_services.resident_rebind(
                    id_number=id_number, user=plan.new_user, today=timezone.localdate(now)
                )
            except registration_services.RegistrationError as exc:
                raise _refused(exc) from None
            # Checked again under the record's lock: a booking made meanwhile is refused.
            _refuse_active_booking(moved.resident)
            audit_record(
                clerk=clerk,
                office=office,
                action=AuditEntry.Action.REBIND,
                resident=moved.resident,
                code="rebind",
                params={
                    "id_masked": moved.resident.id_masked,
                    "old_user": moved.old_user.pk if moved.old_user else None,
                    "new_user": plan.new_user.pk,
                },
                now=now,
            )
            old_user = moved.old_user
            queued = bool(old_user is not None and old_user.phone)
            if old_user is not None and queued:
                args = (old_user.pk, moved.resident.id_masked, office.name, uuid.uuid4().hex)
                transaction.on_commit(lambda: registration_tasks.rebind_notice_send.delay(*args))
    return RebindDone(
        resident=moved.resident, old_user=old_user, new_user=plan.new_user, notice_queued=queued
    )
