"""Residents and their e-bikes: the ID number is validated, hashed and encrypted here."""

import datetime
import re
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import crypto
from .idnumber import normalize_mobile, parse_id_number
from .models import EBike, PlateNumber, PlateRegistration, Resident, User


class IdNumberTaken(ValidationError):
    pass


def normalize_frame_number(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def resident_find_by_id_number(id_number: str) -> Resident | None:
    return Resident.objects.filter(id_hash=crypto.id_number_hash(id_number)).first()


def resident_create(
    *,
    real_name: str,
    id_number: str,
    user: User | None = None,
    phone: str = "",
    today: datetime.date | None = None,
) -> Resident:
    """Record a person; the same ID number cannot be claimed twice."""
    parsed = parse_id_number(id_number, today=today or timezone.localdate())
    real_name = (real_name or "").strip()
    if not real_name:
        raise ValidationError(_("Enter your real name as on your ID card."), code="real_name")
    phone = normalize_mobile(phone) if phone else ""
    try:
        with transaction.atomic():
            return Resident.objects.create(
                user=user,
                real_name=real_name,
                id_hash=crypto.id_number_hash(parsed.number),
                id_encrypted=crypto.encrypt(parsed.number),
                id_masked=parsed.masked,
                birth_date=parsed.birth_date,
                phone=phone,
            )
    except IntegrityError:
        if resident_find_by_id_number(parsed.number) is not None:
            raise IdNumberTaken(
                _("This ID number is already registered to another account."), code="id_taken"
            ) from None
        raise


def ebike_add(
    *,
    resident: Resident,
    frame_number: str,
    brand: str,
    model: str = "",
    motor_number: str = "",
    certificate_number: str = "",
) -> EBike:
    frame = normalize_frame_number(frame_number)
    if not re.fullmatch(r"[0-9A-Z]{6,32}", frame):
        raise ValidationError(
            _("A frame number has 6 to 32 letters and digits."), code="frame_number"
        )
    try:
        with transaction.atomic():
            return EBike.objects.create(
                resident=resident,
                frame_number=frame,
                brand=brand.strip(),
                model=model.strip(),
                motor_number=normalize_frame_number(motor_number),
                certificate_number=certificate_number.strip(),
            )
    except IntegrityError:
        raise ValidationError(
            _("An e-bike with this frame number is already registered."), code="frame_taken"
        ) from None


def ebike_for_counter(
    *, resident: Resident, frame_number: str, brand: str, model: str = ""
) -> EBike:
    """The e-bike a person brings to the counter without a booking.

    Their own record of it is reused when it has no plate yet (added online, or back
    after a failed inspection); otherwise it is added. A frame on record for someone
    else, or already plated, is refused.
    """
    ebike = EBike.objects.filter(frame_number=normalize_frame_number(frame_number)).first()
    if ebike is None:
        return ebike_add(resident=resident, frame_number=frame_number, brand=brand, model=model)
    if ebike.resident_id != resident.pk:
        raise ValidationError(
            _("This frame number is on record for another person."), code="frame_taken"
        )
    if PlateRegistration.objects.filter(ebike=ebike).exists():
        raise ValidationError(_("This e-bike already has a plate."), code="plated")
    return ebike


def resident_update(*, resident: Resident, real_name: str, phone: str = "") -> Resident:
    real_name = (real_name or "").strip()
    if not real_name:
        raise ValidationError(_("Enter your real name as on your ID card."), code="real_name")
    resident.real_name = real_name
    resident.phone = normalize_mobile(phone) if phone else ""
    resident.save(update_fields=["real_name", "phone"])
    return resident


def ebike_remove(*, ebike: EBike) -> None:
    """Remove an e-bike that has no plate and was never booked."""
    if hasattr(ebike, "plate") or ebike.bookings.exists():
        raise ValidationError(
            _("This e-bike has a booking or a plate and is kept on record."), code="ebike_in_use"
        )
    ebike.delete()


# --- plates ------------------------------------------------------------------------------


def plate_number_clean(value: str) -> str:
    """Normalise a typed or scanned plate number and check the city's format."""
    number = re.sub(r"\s", "", value or "").upper()
    if not re.fullmatch(settings.PLATE_NUMBER_PATTERN, number):
        raise ValidationError(
            _("%(number)s is not a plate number of this city's format.") % {"number": number},
            code="plate_format",
        )
    return number


def plate_stock_load(*, office, prefix: str, first: int, last: int, now=None) -> int:
    """Load the plates ``prefix`` + first..last (five digits) into an office's stock."""
    if not 0 <= first <= last <= 99999 or last - first >= 10000:
        raise ValidationError(_("Give a range of at most 10 000 numbers."), code="plate_range")
    now = now or timezone.now()
    numbers = [plate_number_clean(f"{prefix}{n:05d}") for n in range(first, last + 1)]
    try:
        with transaction.atomic():
            PlateNumber.objects.bulk_create(
                PlateNumber(number=n, office=office, loaded_at=now) for n in numbers
            )
    except IntegrityError:
        raise ValidationError(
            _("Some of these plate numbers are already in stock; nothing was loaded."),
            code="plate_taken",
        ) from None
    return len(numbers)


PLATE_VOID_REASONS = ("damaged", "lost")


def plate_void(*, office, number: str, reason: str, user, note: str = "", now=None) -> PlateNumber:
    """Record a damaged or lost plate of the office's stock; it is never issued.

    ``reason`` is "damaged" or "lost"; the void is in the audit log (who, which plate, why).
    """
    from appointments.models import AuditEntry
    from appointments.services import audit_record

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
            raise ValidationError(
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


def plate_issue(*, booking, clerk, office, failed_items: list[str], plate_number: str, now=None):
    """Inspect and register at the counter.

    With any checklist item failed, the whole list is recorded (and shown to the resident
    on the slip and in their booking) and no plate is used. Otherwise the plate is taken
    from the office's stock and the registration recorded: one plate per frame and each
    number once, which the database guarantees. A refusal is recorded with its reason.
    """
    from appointments.services import refusals_audited

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


def _plate_issue(*, booking, clerk, office, failed_items, plate_number, now):
    from appointments.models import AuditEntry, Booking, Channel, Inspection
    from appointments.services import CheckInRefused, NotYourOffice, audit_record, clerk_can_serve

    if not clerk_can_serve(clerk, office) or booking.office_id != office.pk:
        raise NotYourOffice(_("You are not a clerk of this office."))
    unknown = set(failed_items) - set(Inspection.Item.values)
    if unknown:
        raise ValidationError(_("Unknown inspection item."), code="unknown_item")
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
            locked.status = Booking.Status.INSPECTION_FAILED
            locked.save(update_fields=["status", "updated_at"])
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
            raise ValidationError(_("This booking names no e-bike."), code="no_ebike")
        number = plate_number_clean(plate_number)
        plate = (
            PlateNumber.objects.select_for_update()
            .filter(number=number, office=office, status=PlateNumber.Status.AVAILABLE)
            .first()
        )
        if plate is None:
            raise ValidationError(
                _("%(number)s is not an available plate of this office's stock.")
                % {"number": number},
                code="plate_not_in_stock",
            )
        if PlateRegistration.objects.filter(ebike=locked.ebike).exists():
            raise ValidationError(
                _("This frame number already has a plate."), code="frame_has_plate"
            )
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
        locked.status = Booking.Status.COMPLETED
        locked.completed_at = now
        locked.save(update_fields=["status", "completed_at", "updated_at"])
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


def sessions_clear_expired() -> int:
    """Delete the sessions that have expired; return how many there were.

    Django's own sweep (``clearsessions``) through the configured session store, so it
    follows SESSION_ENGINE. Nothing else removes them: signed-out and abandoned sessions
    (with the user id) would otherwise stay in the database for ever.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    expired = 0
    if hasattr(store, "get_model_class"):  # database-backed: count what goes
        expired = store.get_model_class().objects.filter(expire_date__lt=timezone.now()).count()
    store.clear_expired()
    return expired
