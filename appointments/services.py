"""Booking rules: releasing slots, taking and returning places.

Capacity is a counter on the slot guarded by a CHECK constraint (booked <= capacity),
so no code path can overbook. A place is taken by one conditional UPDATE at the end
of a short transaction (lock late); the booking row is inserted first so that the
one-active-booking-per-person constraint refuses a second booking before any slot
row is locked.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from offices.models import ClosedDay, Office

from .models import Booking, Channel, DayRelease, Slot

logger = logging.getLogger(__name__)


class BookingError(Exception):
    """A booking the rules refuse; the message is for the resident."""


class SlotFull(BookingError):
    pass


class AlreadyBooked(BookingError):
    pass


class SlotNotBookable(BookingError):
    pass


class NotCancellable(BookingError):
    pass


# --- release -------------------------------------------------------------------------


def split_capacity(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` places over windows in proportion to their capacities.

    Largest remainder first, earlier windows winning ties; no window gets more than
    its own capacity because ``total`` never exceeds their sum.
    """
    weight_sum = sum(weights)
    total = max(0, min(total, weight_sum))
    if weight_sum == 0:
        return [0] * len(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


def week_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    monday = day - datetime.timedelta(days=day.isoweekday() - 1)
    return monday, monday + datetime.timedelta(days=6)


@dataclass
class ReleaseResult:
    date: datetime.date
    released: dict[str, int] = field(default_factory=dict)  # office code -> places
    closed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def places(self) -> int:
        return sum(self.released.values())


def _release_office_day(office: Office, day: datetime.date, now) -> tuple[str, int]:
    release, created = DayRelease.objects.get_or_create(
        office=office, date=day, defaults={"capacity": 0, "released_at": now}
    )
    if not created:
        return "already", 0
    closed = (
        not office.opens_on_weekday(day.isoweekday())
        or ClosedDay.objects.filter(office=office, date=day).exists()
    )
    windows = list(office.windows.order_by("start"))
    if closed or not windows:
        release.closed = True
        release.save(update_fields=["closed"])
        return "closed", 0
    monday, sunday = week_bounds(day)
    used = (
        Slot.objects.filter(office=office, date__range=(monday, sunday))
        .exclude(date=day)
        .aggregate(total=Sum("capacity"))["total"]
        or 0
    )
    total = min(office.daily_capacity, max(0, office.weekly_quota - used))
    shares = split_capacity(total, [w.capacity for w in windows])
    Slot.objects.bulk_create(
        Slot(office=office, date=day, start=w.start, end=w.end, capacity=share)
        for w, share in zip(windows, shares, strict=True)
        if share > 0
    )
    release.capacity = sum(shares)
    release.save(update_fields=["capacity"])
    return "released", release.capacity


def slots_release(*, day: datetime.date, now: datetime.datetime | None = None) -> ReleaseResult:
    """Release ``day``'s slots for every active office; safe to run twice or at once.

    The whole day is released in one transaction: if anything fails, nothing of the
    day is released. A DayRelease row per office and day, unique in the database,
    makes a second run (or a concurrent one, which waits on that row) a no-op.
    """
    now = now or timezone.now()
    result = ReleaseResult(date=day)
    with transaction.atomic():
        for office in Office.objects.filter(is_active=True).order_by("pk"):
            outcome, places = _release_office_day(office, day, now)
            if outcome == "released":
                result.released[office.code] = places
            elif outcome == "closed":
                result.closed.append(office.code)
            else:
                result.already.append(office.code)
    logger.info(
        "release %s: %d places at %d offices, %d closed, %d already released",
        day.isoformat(),
        result.places,
        len(result.released),
        len(result.closed),
        len(result.already),
    )
    return result


def local_today(now: datetime.datetime | None = None) -> datetime.date:
    return timezone.localdate(now or timezone.now())


def slots_release_upcoming(
    *, horizon_days: int, now: datetime.datetime | None = None
) -> list[ReleaseResult]:
    """Release tomorrow and the following days up to ``horizon_days`` ahead."""
    now = now or timezone.now()
    today = local_today(now)
    return [
        slots_release(day=today + datetime.timedelta(days=offset), now=now)
        for offset in range(1, horizon_days + 1)
    ]


# --- bookings ------------------------------------------------------------------------


def slot_start(slot: Slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.start))


def slot_end(slot: Slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.end))


def booking_create(
    *, resident, slot_id: int, ebike=None, now: datetime.datetime | None = None
) -> Booking:
    """Take one place in a slot for a resident, or raise a BookingError."""
    now = now or timezone.now()
    slot = Slot.objects.filter(pk=slot_id).first()
    if slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
    if slot_start(slot) <= now:
        raise SlotNotBookable(_("This time window has already started or passed."))
    if ebike is not None and ebike.resident_id != resident.pk:
        raise BookingError(_("This e-bike is not registered to you."))
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                resident=resident,
                ebike=ebike,
                office_id=slot.office_id,
                date=slot.date,
                slot=slot,
                source=Channel.ONLINE,
                created_at=now,
            )
            taken = Slot.objects.filter(pk=slot.pk, booked__lt=F("capacity")).update(
                booked=F("booked") + 1
            )
            if not taken:
                raise SlotFull(_("This time window is fully booked."))
    except IntegrityError:
        # The partial unique index on active bookings refused a second one.
        if Booking.objects.filter(resident=resident, status__in=Booking.ACTIVE_STATUSES).exists():
            raise AlreadyBooked(_("You already hold an active booking.")) from None
        raise
    return booking


def booking_cancel(*, booking: Booking, now: datetime.datetime | None = None) -> Booking:
    """Cancel a booked place and return it to the slot at once."""
    now = now or timezone.now()
    with transaction.atomic():
        cancelled = Booking.objects.filter(pk=booking.pk, status=Booking.Status.BOOKED).update(
            status=Booking.Status.CANCELLED, cancelled_at=now
        )
        if not cancelled:
            raise NotCancellable(_("Only a booking that is still booked can be cancelled."))
        if booking.slot_id is not None:
            Slot.objects.filter(pk=booking.slot_id).update(booked=F("booked") - 1)
    booking.refresh_from_db()
    return booking
