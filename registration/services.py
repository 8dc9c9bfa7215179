"""Residents and their e-bikes: the ID number is validated, hashed and encrypted here."""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.ratelimit import DAY, HOUR, budget_consume

from . import crypto
from .idnumber import normalize_mobile, parse_id_number
from .models import FRAME_NUMBER_PATTERN, EBike, Resident, User


class RegistrationError(DomainError):
    """A person's or an e-bike's record the rules refuse; ``code`` says which rule."""


class IdNumberTaken(RegistrationError):
    code = "id_taken"


_T = TypeVar("_T")


def _valid(validator: Callable[..., _T], value: str, **kwargs: Any) -> _T:
    """Run one of the ID-number or mobile-number validators (which speak
    ``ValidationError``, as form fields do) and refuse in this module's terms."""
    try:
        return validator(value, **kwargs)
    except ValidationError as exc:
        raise RegistrationError.from_validation(exc) from None


def normalize_frame_number(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def frame_number_clean(value: str) -> str:
    """A typed frame number as stored (``FRAME_NUMBER_PATTERN``), or a RegistrationError."""
    frame = normalize_frame_number(value)
    if not re.fullmatch(FRAME_NUMBER_PATTERN, frame):
        raise RegistrationError(
            _("A frame number has 6 to 32 letters and digits."), code="frame_number"
        )
    return frame


def account_ensure(*, email: str, password: str, **fields: Any) -> tuple[User, bool]:
    """The account with this e-mail address, created with ``password`` and ``fields`` if
    there is none; an existing account is left as it is. True when it was created."""
    user = User.objects.filter(email=email.lower()).first()
    if user is not None:
        return user, False
    return User.objects.create_user(email=email, password=password, **fields), True


def resident_find_by_id_number(id_number: str) -> Resident | None:
    return Resident.objects.filter(id_hash=crypto.id_number_hash(id_number)).first()


def id_keys_rotate(*, hash_key: str | None = None) -> int:
    """Re-encrypt every stored ID number with the first of ``ID_ENCRYPTION_KEYS`` and, when
    ``hash_key`` is given, recompute every lookup hash with it (the clear number comes from
    the token). One transaction under a table lock, so no claim or lookup sees a mix;
    returns the number of residents rewritten. Encryption can rotate while the app runs
    (old keys still decrypt until removed); a new hash key needs the app stopped until it
    runs with that key (the command's help says the steps)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(Resident._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        residents = list(Resident.objects.order_by("pk"))
        for resident in residents:
            number = crypto.decrypt(resident.id_encrypted)
            resident.id_encrypted = crypto.encrypt(number)
            if hash_key is not None:
                resident.id_hash = crypto.id_number_hash(number, key=hash_key)
        # Hashes are unique: move them out of the way first, then write the new ones.
        if hash_key is not None:
            Resident.objects.update(
                id_hash=Concat(Value("rotating-"), "pk", output_field=CharField())
            )
        Resident.objects.bulk_update(residents, ["id_encrypted", "id_hash"], batch_size=500)
    return len(residents)


class TooManyIdClaims(RegistrationError):
    code = "too_many_claims"


def id_claim_consume(*, user: User, client: str, now: datetime.datetime | None = None) -> None:
    """Count one attempt to enter an ID number on a profile, per account (an hour) and per
    client address (a day); raise TooManyIdClaims once either budget is spent.

    Whether a number is registered must not be cheap to learn: every attempt counts,
    whatever its outcome."""
    now = now or timezone.now()
    allowed = budget_consume(
        "id_claim_user",
        str(user.pk),
        limit=settings.ID_CLAIM_LIMIT_PER_ACCOUNT_PER_HOUR,
        period=HOUR,
        now=now,
    ) and budget_consume(
        "id_claim_client",
        client,
        limit=settings.ID_CLAIM_LIMIT_PER_CLIENT_PER_DAY,
        period=DAY,
        now=now,
    )
    if not allowed:
        raise TooManyIdClaims(
            _(
                "Too many attempts to enter an ID number. Please try again later, or come "
                "to a service point with your resident ID card."
            )
        )


def resident_create(
    *,
    real_name: str,
    id_number: str,
    user: User | None = None,
    phone: str = "",
    today: datetime.date | None = None,
) -> Resident:
    """Record a person; the same ID number cannot be claimed twice."""
    parsed = _valid(parse_id_number, id_number, today=today or timezone.localdate())
    real_name = (real_name or "").strip()
    if not real_name:
        raise RegistrationError(_("Enter your real name as on your ID card."), code="real_name")
    phone = _valid(normalize_mobile, phone) if phone else ""
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
                _(
                    "This ID number is already registered to another account. If it is "
                    "yours, come to a service point with your resident ID card."
                ),
                code="id_taken",
            ) from None
        raise


class RebindRefused(RegistrationError):
    """An ID number that cannot be moved to the account asked for; ``code`` says why."""


@dataclass(frozen=True)
class Rebind:
    """An ID number moved: its person's record, and the account it was on (None: none)."""

    resident: Resident
    old_user: User | None


def account_find(login: str) -> User | None:
    """The active account signed up with this mobile number or e-mail address."""
    value = (login or "").strip()
    if "@" in value:
        return User.objects.filter(email=value.lower(), is_active=True).first()
    try:
        phone = normalize_mobile(value)
    except ValidationError:
        return None
    return User.objects.filter(phone=phone, is_active=True).first()


def _rebind_target(
    *, id_number: str, user: User, today: datetime.date | None, lock: bool
) -> Resident:
    parsed = _valid(parse_id_number, id_number, today=today or timezone.localdate())
    found = Resident.objects.select_related("user")
    if lock:
        found = found.select_for_update(of=("self",))
    resident = found.filter(id_hash=crypto.id_number_hash(parsed.number)).first()
    if resident is None:
        raise RebindRefused(_("Nobody on record has this ID number."), code="id_unknown")
    if resident.user_id == user.pk:
        raise RebindRefused(_("This ID number is already on this account."), code="same_account")
    if Resident.objects.filter(user=user).exists():
        raise RebindRefused(
            _(
                "This account already holds another ID number; an account holds one person's "
                "ID number only."
            ),
            code="account_has_id",
        )
    return resident


def resident_rebind_check(
    *, id_number: str, user: User, today: datetime.date | None = None
) -> Resident:
    """The person's record whose ID number ``resident_rebind`` would move to ``user``, or
    the RebindRefused it would raise; nothing changes."""
    return _rebind_target(id_number=id_number, user=user, today=today, lock=False)


def resident_rebind(*, id_number: str, user: User, today: datetime.date | None = None) -> Rebind:
    """Move an ID number (the person's record, with its e-bikes and bookings) to ``user``.

    For the person who holds the ID card, at the counter, when another account claimed
    the number first. Refused: a number nobody claimed, the account that already has it,
    an account holding another number. The record's contact number becomes the new
    account's. Whoever calls it audits it and tells the old account (the counter does).
    """
    with transaction.atomic():
        resident = _rebind_target(id_number=id_number, user=user, today=today, lock=True)
        old_user = resident.user
        resident.user = user
        resident.phone = user.phone or ""
        resident.save(update_fields=["user", "phone"])
    return Rebind(resident=resident, old_user=old_user)


def rebind_notice_text(*, id_masked: str, office_name: str) -> str:
    """The SMS to the account an ID number was taken from: the last four characters of the
    number only, in the default language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _(
            "The ID number ending in %(last4)s is no longer linked to your account: its "
            "holder, with the ID card, had it moved to their own account at %(office)s. "
            "If you have questions, ask at any service point."
        ) % {"last4": id_masked[-4:], "office": office_name}


def ebike_add(
    *,
    resident: Resident,
    frame_number: str,
    brand: str,
    model: str = "",
    motor_number: str = "",
    certificate_number: str = "",
) -> EBike:
    frame = frame_number_clean(frame_number)
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
        raise RegistrationError(
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
        raise RegistrationError(
            _("This frame number is on record for another person."), code="frame_taken"
        )
    if hasattr(ebike, "plate"):  # its PlateRegistration
        raise RegistrationError(_("This e-bike already has a plate."), code="plated")
    return ebike


def resident_update(*, resident: Resident, real_name: str, phone: str = "") -> Resident:
    real_name = (real_name or "").strip()
    if not real_name:
        raise RegistrationError(_("Enter your real name as on your ID card."), code="real_name")
    resident.real_name = real_name
    resident.phone = _valid(normalize_mobile, phone) if phone else ""
    resident.save(update_fields=["real_name", "phone"])
    return resident


def ebike_removable(ebike: EBike) -> bool:
    """Whether ``ebike`` may be removed: it has no plate and was never booked."""
    return not (hasattr(ebike, "plate") or ebike.bookings.exists())


def ebike_remove(*, ebike: EBike) -> None:
    """Remove an e-bike that has no plate and was never booked."""
    if not ebike_removable(ebike):
        raise RegistrationError(
            _("This e-bike has a booking or a plate and is kept on record."), code="ebike_in_use"
        )
    ebike.delete()


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
