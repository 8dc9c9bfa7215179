"""Plate stock and issue: inspection at the counter, then one plate per frame."""

import datetime
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import Booking, Channel
from appointments.services import booking_status_set
from offices.models import Office
from registration.models import User

from ..models import AuditEntry, Inspection, PlateNumber, PlateRegistration
from ..rules import clerk_can_serve
from .audit import audit_record, refusals_audited
from .errors import CheckInRefused, NotYourOffice, PlateRefused


def plate_number_clean(value: str) -> str:
    """Normalise a typed or scanned plate number and check the city's format."""
    number = re.sub(r"\s", "", value or "").upper()
    if not re.fullmatch(settings.PLATE_NUMBER_PATTERN, number):
        raise PlateRefused(
            _("%(number)s is not a plate number of this city's format.") % {"number": number},
            code="plate_format",
        )
    return number


def plate_stock_load(
    *, office: Office, prefix: str, first: int, last: int, now: datetime.datetime | None = None
) -> int:
    """Load the plates ``prefix`` + first..last (five digits) into an office's stock."""
    if not 0 <= first <= last <= 99999 or last - first >= 10000:
        raise PlateRefused(_("Give a range of at most 10 000 numbers."), code="plate_range")
    now = now or timezone.now()
    numbers = [plate_number_clean(f"{prefix}{n:05d}") for n in range(first, last + 1)]
    try:
        with transaction.atomic():
            PlateNumber.objects.bulk_create(
                PlateNumber(number=n, office=office, loaded_at=now) for n in numbers
            )
    except IntegrityError:
        raise PlateRefused(
            _("Some of these plate numbers are already in stock; nothing was loaded."),
            code="plate_taken",
        ) from None
    return len(numbers)


PLATE_VOID_REASONS = ("damaged", "lost")


def plate_void(
    *,
    office: Office,
    number: str,
    reason: str,
    user: User,
    note: str = "",
    now: datetime.datetime | None = None,
) -> PlateNumber:
    """Record a damaged or lost plate of the office's stock; it is never issued.

    ``reason`` is "damaged" or "lost"; the void is in the audit log (who, which plate, why).
    """
    if reason not in PLATE_VOID_REASONS:
        raise ValueError(f"not a reason to void a plate: {reason!r}")
    number = plate_number_clean(number)
    now = now or timezone.now()
    with transaction.atomic():
        plate = (
            PlateNumber.objects.select_for_update()
            .filter(office=office, number=number, status=PlateNumber.Status.AVAILABLE)
            .first()
        )
        if plate is None:
            raise PlateRefused(
                _("No such available plate in this office's stock."), code="plate_not_in_stock"
            )
        plate.status = PlateNumber.Status.VOIDED
        plate.note = (note or "")[:200]
        plate.changed_at = now
        plate.save(update_fields=["status", "note", "changed_at"])
        audit_record(
            clerk=user,
            office=office,
            action=AuditEntry.Action.PLATE_VOID,
            code="plate_void",
            params={"plate": number, "reason": reason},
            now=now,
        )
    return plate


def plate_issue(
    *,
    booking: Booking,
    clerk: User,
    office: Office,
    failed_items: list[str],
    plate_number: str,
    now: datetime.datetime | None = None,
) -> tuple[Inspection, PlateRegistration | None]:
    """Inspect and register at the counter.

    With any checklist item failed, the whole list is recorded (and shown to the resident
    on the slip and in their booking) and no plate is used. Otherwise the plate is taken
    from the office's stock and the registration recorded: one plate per frame and each
    number once, which the database guarantees. A refusal is recorded with its reason.
    """
    now = now or timezone.now()
    own = booking if booking.office_id == office.pk else None
    with refusals_audited(what="plate_issue", clerk=clerk, office=office, booking=own, now=now):
        return _plate_issue(
            booking=booking,
            clerk=clerk,
            office=office,
            failed_items=failed_items,
            plate_number=plate_number,
            now=now,
        )


def _plate_issue(
    *,
    booking: Booking,
    clerk: User,
    office: Office,
    failed_items: list[str],
    plate_number: str,
    now: datetime.datetime,
) -> tuple[Inspection, PlateRegistration | None]:
    if not clerk_can_serve(clerk, office) or booking.office_id != office.pk:
        raise NotYourOffice(_("You are not a clerk of this office."))
    unknown = set(failed_items) - set(Inspection.Item.values)
    if unknown:
        raise PlateRefused(_("Unknown inspection item."), code="unknown_item")
    with transaction.atomic():
        locked = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("ebike", "resident")
            .get(pk=booking.pk)
        )
        if locked.status != Booking.Status.CHECKED_IN:
            raise CheckInRefused(_("Check the person in first."), code="not_checked_in")
        inspection = Inspection.objects.create(
            booking=locked, clerk=clerk, failed_items=sorted(failed_items), at=now
        )
        if failed_items:
            booking_status_set(locked, Booking.Status.INSPECTION_FAILED, now=now)
            audit_record(
                clerk=clerk,
                office=office,
                action=AuditEntry.Action.INSPECTION,
                booking=locked,
                code="inspection_failed",
                params={"items": sorted(failed_items)},
                now=now,
            )
            return inspection, None
        if locked.ebike is None:
            raise PlateRefused(_("This booking names no e-bike."), code="no_ebike")
        number = plate_number_clean(plate_number)
        plate = (
            PlateNumber.objects.select_for_update()
            .filter(number=number, office=office, status=PlateNumber.Status.AVAILABLE)
            .first()
        )
        if plate is None:
            raise PlateRefused(
                _("%(number)s is not an available plate of this office's stock.")
                % {"number": number},
                code="plate_not_in_stock",
            )
        if PlateRegistration.objects.filter(ebike=locked.ebike).exists():
            raise PlateRefused(_("This frame number already has a plate."), code="frame_has_plate")
        plate.status = PlateNumber.Status.ISSUED
        plate.changed_at = now
        plate.save(update_fields=["status", "changed_at"])
        registration = PlateRegistration.objects.create(
            plate_number=number,
            ebike=locked.ebike,
            office=office,
            clerk=clerk,
            booking=locked,
            channel=locked.source if locked.source in Channel.values else Channel.ONLINE,
            registered_at=now,
        )
        booking_status_set(locked, Booking.Status.COMPLETED, now=now)
        audit_record(
            clerk=clerk,
            office=office,
            action=AuditEntry.Action.REGISTRATION,
            booking=locked,
            code="plate_issued",
            params={"plate": number},
            now=now,
        )
    return inspection, registration
