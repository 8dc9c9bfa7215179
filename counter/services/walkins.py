"""Priority walk-ins: veterans and people aged 65+ served without a booking."""

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

from ..models import AuditEntry
from ..rules import clerk_can_serve
from .audit import audit_record, refusals_audited
from .errors import NotYourOffice, WalkinRefused


def priority_walkin_start(
    *,
    office: Office,
    clerk: User,
    real_name: str,
    id_number: str,
    reason: str,
    veteran_certificate: str = "",
    frame_number: str,
    brand: str,
    model: str = "",
    now: datetime.datetime | None = None,
) -> Booking:
    """Serve a veteran or a person aged 65+ without a booking, checked in at once.

    Only at main-urban offices, for one e-bike registered in the person's own name, once
    per person (a database constraint). The age comes from the ID number's birth date.
    A refusal is recorded with its reason, never with the ID number.
    """
    now = now or timezone.now()
    with refusals_audited(what="priority_walkin", clerk=clerk, office=office, now=now):
        return _priority_walkin_start(
            office=office,
            clerk=clerk,
            real_name=real_name,
            id_number=id_number,
            reason=reason,
            veteran_certificate=veteran_certificate,
            frame_number=frame_number,
            brand=brand,
            model=model,
            now=now,
        )


def _priority_walkin_start(
    *,
    office: Office,
    clerk: User,
    real_name: str,
    id_number: str,
    reason: str,
    veteran_certificate: str,
    frame_number: str,
    brand: str,
    model: str,
    now: datetime.datetime,
) -> Booking:

    today = timezone.localdate(now)
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    if not office.is_main_urban:
        raise WalkinRefused(
            _("Priority walk-ins are served at main-urban service points."),
            code="not_main_urban",
        )
    try:
        parsed = parse_id_number(id_number, today=today)
    except ValidationError as exc:  # the ID-number checks speak the forms' idiom
        raise WalkinRefused.from_validation(exc) from None
    if reason == WalkinReason.SENIOR:
        age = parsed.age_on(today)
        if age < 65:
            raise WalkinRefused(
                _("Refused: %(age)d years old today by the ID number; the rule is 65 or over.")
                % {"age": age},
                code="under_65",
            )
    elif reason == WalkinReason.VETERAN:
        if not veteran_certificate.strip():
            raise WalkinRefused(_("Record the veteran certificate number."), code="no_certificate")
    else:
        raise WalkinRefused(
            _("Without a booking only veterans and people aged 65+ are served."),
            code="no_listed_reason",
        )
    with transaction.atomic():
        resident = found = registration_services.resident_find_by_id_number(parsed.number)
        if resident is None:
            resident = registration_services.resident_create(
                real_name=real_name, id_number=parsed.number, today=today
            )
        elif Booking.objects.filter(
            resident=resident,
            source=Channel.PRIORITY_WALKIN,
            status__in=[Booking.Status.CHECKED_IN, Booking.Status.COMPLETED],
        ).exists():
            refusal = WalkinRefused(
                _("Refused: this person has already registered an e-bike as a priority walk-in."),
                code="already_priority",
            )
            refusal.resident = resident
            raise refusal
        try:
            ebike = registration_services.ebike_for_counter(
                resident=resident, frame_number=frame_number, brand=brand, model=model
            )
            with transaction.atomic():
                booking = walkin_booking_create(
                    resident=resident,
                    ebike=ebike,
                    office=office,
                    day=today,
                    source=Channel.PRIORITY_WALKIN,
                    reason=reason,
                    veteran_certificate=veteran_certificate.strip(),
                    now=now,
                )
        except IntegrityError:
            refusal = WalkinRefused(
                _("Refused: this person already holds a booking or a priority walk-in."),
                code="already_active",
            )
            refusal.resident = found  # one created just now goes with the rollback
            raise refusal from None
        except DomainError as exc:
            raise WalkinRefused(exc.message, code=exc.code) from None
        audit_record(
            clerk=clerk,
            office=office,
            action=AuditEntry.Action.CHECK_IN,
            booking=booking,
            code="priority_walkin",
            params={"reason": reason},
            now=now,
        )
    return booking
