"""Taking and returning places: the booking door, booking, cancelling, moving.

Capacity is a counter on the slot guarded by a CHECK constraint (booked <= capacity),
so no code path can overbook. A place is taken by one conditional UPDATE at the end
of a short transaction (lock late); the booking row is inserted first so that the
one-active-booking-per-person constraint refuses a second booking before any slot
row is locked.
"""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from registration.models import EBike, Resident, User

from .. import attempts, notifications, selectors
from .. import cache as availability_cache
from ..models import Booking, Channel, DayRelease, Notification, RefusedAttempts, Slot
from ..rules import change_deadline, window_started
from .errors import (
    AlreadyBooked,
    BookingError,
    InCooldown,
    NotCancellable,
    OfficeInactive,
    SlotFull,
    SlotNotBookable,
)
from .status import booking_status_set

logger = logging.getLogger("appointments.services")  # one name for the whole package


# --- bookings ------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotInfo:
    """What never changes about a released slot: where and when."""

    pk: int
    office_id: int
    date: datetime.date
    start: datetime.time
    end: datetime.time


_slot_info: dict[int, SlotInfo] = {}


def slot_info(slot_id: int) -> SlotInfo | None:
    """Return a slot's office, date and window, remembered per process.

    A slot's place and time are fixed once released (only its capacity and count
    change, and the database checks those), so the booking path need not read the
    row before the UPDATE that takes the place.
    """
    info = _slot_info.get(slot_id)
    if info is None:
        row = (
            Slot.objects.filter(pk=slot_id)
            .values_list("pk", "office_id", "date", "start", "end")
            .first()
        )
        if row is None:
            return None
        info = _slot_info[slot_id] = SlotInfo(*row)
    return info


def slot_memo_clear() -> None:
    """Forget every remembered slot, as a fresh worker would not know them."""
    _slot_info.clear()


def remember_slots(windows: Iterable[selectors.Alternative]) -> None:
    """Fill the slot memo from a list of open windows (objects with pk, office_id, date,
    start, end), so the first booking of a rush need not read each slot row first."""
    for w in windows:
        if w.pk not in _slot_info:
            _slot_info[w.pk] = SlotInfo(w.pk, w.office_id, w.date, w.start, w.end)


def _check_slot_bookable(slot: "Slot | SlotInfo", now: datetime.datetime) -> None:
    if window_started(slot.date, slot.start, now):
        raise SlotNotBookable(_("This time window has already started or passed."))


_TAKE_PLACE_SQL = (
    "UPDATE appointments_slot SET booked = booked + 1 "
    "WHERE id = %s AND booked < capacity RETURNING booked, capacity, office_id, date, start"
)


_PRECHECK_SQL = (
    "SELECT (SELECT booked < capacity FROM appointments_slot WHERE id = %s), "
    "(SELECT date FROM appointments_booking WHERE resident_id = %s AND status = 'no_show' "
    "AND date > %s ORDER BY date DESC LIMIT 1 OFFSET %s), "
    "(SELECT is_active FROM offices_office WHERE id = %s)"
)


def _office_inactive() -> OfficeInactive:
    return OfficeInactive(
        _("This service point is closed for bookings. Choose another service point.")
    )


def _precheck(
    slot_id: int, resident_id: int, office_id: int, *, today: datetime.date
) -> tuple[bool, datetime.date | None]:
    """Return (is there a place left?, end of a no-show cooldown or None), in one read,
    refusing a slot of a deactivated office (OfficeInactive): the slot memo knows the
    office but not whether it still takes bookings.

    A plain read, no lock: a full window is refused here without inserting a booking
    that would be rolled back; when there is room, the conditional UPDATE still decides,
    so a place taken meanwhile is never sold twice. Cooldown: with NO_SHOW_COOLDOWN_COUNT
    no-shows within NO_SHOW_COOLDOWN_DAYS, booking is blocked until the oldest of those
    N most recent no-shows is NO_SHOW_COOLDOWN_DAYS old.
    """
    count, days = settings.NO_SHOW_COOLDOWN_COUNT, settings.NO_SHOW_COOLDOWN_DAYS
    with connection.cursor() as cursor:
        cursor.execute(
            _PRECHECK_SQL,
            [
                slot_id,
                resident_id,
                today - datetime.timedelta(days=days),
                max(count - 1, 0),
                office_id,
            ],
        )
        has_room, nth_no_show, office_active = cursor.fetchone()
    if not office_active:
        raise _office_inactive()
    if not has_room:
        availability_cache.mark_full(slot_id)
    until = None
    if count > 0 and nth_no_show is not None:
        if isinstance(nth_no_show, str):  # SQLite returns dates as text
            nth_no_show = datetime.date.fromisoformat(nth_no_show)
        until = nth_no_show + datetime.timedelta(days=days)
    return bool(has_room), until


class _StaleSlotInfo(Exception):
    """The remembered place and time of a slot do not match the row (ids were reused)."""


def _take_place(slot_id: int, now: datetime.datetime, expected: "SlotInfo | None" = None) -> None:
    """Take one place with a single conditional UPDATE: the row lock is held to commit."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_PLACE_SQL, [slot_id])
        row = cursor.fetchone()
    if row is None:
        # Flag it now: this transaction is about to roll back, taking on_commit with it.
        availability_cache.mark_full(slot_id)
        raise SlotFull(_("This time window is fully booked."))
    booked, capacity, office_id, date, start = row
    if expected is not None and (office_id, date, start) != (
        expected.office_id,
        expected.date,
        expected.start,
    ):
        raise _StaleSlotInfo
    if booked >= capacity:
        transaction.on_commit(lambda: availability_cache.mark_full(slot_id))
        # Statistics only: a failure here must not fail the booking that just committed.
        transaction.on_commit(lambda: day_sold_out_record(office_id, date, now), robust=True)


def day_sold_out_record(office_id: int, date: datetime.date, now: datetime.datetime) -> bool:
    """Note the first moment an office's day had no place left (for the statistics).

    Runs after the commit that filled a slot: of two slots filled at once, the later
    check sees both commits, so a day that sold out is never missed.
    """
    full = ~Exists(Slot.objects.filter(office_id=office_id, date=date, booked__lt=F("capacity")))
    return bool(
        DayRelease.objects.filter(
            full, office_id=office_id, date=date, sold_out_at__isnull=True, capacity__gt=0
        ).update(sold_out_at=now)
    )


def _return_place(slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)
    transaction.on_commit(lambda: availability_cache.clear_full(slot_id))


def booking_create(
    *,
    resident: Resident,
    slot_id: int,
    ebike: EBike | None = None,
    now: datetime.datetime | None = None,
) -> Booking:
    """Take one place in a slot for a resident, or raise a BookingError."""
    try:
        try:
            return _booking_create(resident=resident, slot_id=slot_id, ebike=ebike, now=now)
        except _StaleSlotInfo:
            _slot_info.pop(slot_id, None)
            return _booking_create(resident=resident, slot_id=slot_id, ebike=ebike, now=now)
    except BookingError as exc:
        attempt_refused(slot_id, _refusal_reason(exc))
        raise


def _refusal_reason(exc: BookingError) -> str:
    Reason = RefusedAttempts.Reason
    if isinstance(exc, SlotFull):
        return Reason.FULL
    if isinstance(exc, AlreadyBooked):
        return Reason.ALREADY_BOOKED
    if isinstance(exc, InCooldown):
        return Reason.COOLDOWN
    return Reason.OTHER


def attempt_refused(slot_id: int, reason: str) -> None:
    """Count a refused booking attempt for the statistics (success rate)."""
    slot = slot_info(slot_id)
    if slot is not None:
        attempts.record(office_id=slot.office_id, date=slot.date, reason=reason)


# --- the booking door ------------------------------------------------------------------
# What a resident's "book this window" becomes: one call, one outcome to render. The rush
# machinery (the sold-out flag, the slot memo, counting refusals) stays behind it.


@dataclass(frozen=True)
class Booked:
    booking: Booking


@dataclass(frozen=True)
class SoldOut:
    slot: SlotInfo
    alternatives: tuple[selectors.Alternative, ...]  # open windows to offer instead


@dataclass(frozen=True)
class HoldsBooking:
    error: BookingError  # AlreadyBooked: says so
    active: Booking | None  # the booking they hold


@dataclass(frozen=True)
class Refused:
    error: BookingError  # any other reason; the message says why


@dataclass(frozen=True)
class NotBookable:
    """No resident record, or no e-bike of theirs without a plate by that id: the booking
    page explains what to do first."""


BookingOutcome = Booked | SoldOut | HoldsBooking | Refused | NotBookable


def booking_request(
    *, user: User, slot_id: int, ebike_id: int, now: datetime.datetime | None = None
) -> BookingOutcome:
    """A signed-in person asks for a place in ``slot_id`` for their e-bike ``ebike_id``.

    In a rush most answers are "sold out", given from the flag the first refusal set,
    with no query and no write (the refusal is counted in memory). Otherwise the booking
    is made or refused by ``booking_create``, which the database backs.
    """
    full, open_windows = availability_cache.sold_out_state(slot_id)
    if open_windows is not None:
        remember_slots(open_windows)
    if full:
        attempt_refused(slot_id, RefusedAttempts.Reason.FULL)
        return _sold_out(slot_id, open_windows)
    ebike = selectors.bookable_ebike(user=user, ebike_id=ebike_id)
    if ebike is None:
        return NotBookable()
    try:
        booking = booking_create(resident=ebike.resident, slot_id=slot_id, ebike=ebike, now=now)
    except SlotFull:
        return _sold_out(slot_id, open_windows)
    except AlreadyBooked as exc:
        return HoldsBooking(exc, selectors.active_booking_for_resident(ebike.resident))
    except BookingError as exc:
        return Refused(exc)
    return Booked(booking)


def _sold_out(slot_id: int, open_windows: list[selectors.Alternative] | None) -> SoldOut | Refused:
    slot = slot_info(slot_id)
    if slot is None:
        return Refused(SlotNotBookable(_("This time window does not exist.")))
    return SoldOut(slot, tuple(selectors.alternatives(slot=slot, cached=open_windows)))


def _booking_create(
    *, resident: Resident, slot_id: int, ebike: EBike | None, now: datetime.datetime | None
) -> Booking:
    now = now or timezone.now()
    slot = slot_info(slot_id)
    if slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
    _check_slot_bookable(slot, now)
    if ebike is not None and ebike.resident_id != resident.pk:
        raise BookingError(_("This e-bike is not registered to you."))
    has_room, until = _precheck(slot.pk, resident.pk, slot.office_id, today=timezone.localdate(now))
    if not has_room:
        raise SlotFull(_("This time window is fully booked."))
    if until is not None:
        raise InCooldown(
            ngettext(
                "You missed %(count)d appointment within %(days)d days, so you can book "
                "again from %(date)s.",
                "You missed %(count)d appointments within %(days)d days, so you can book "
                "again from %(date)s.",
                settings.NO_SHOW_COOLDOWN_COUNT,
            )
            % {
                "count": settings.NO_SHOW_COOLDOWN_COUNT,
                "days": settings.NO_SHOW_COOLDOWN_DAYS,
                "date": formats.date_format(until, "SHORT_DATE_FORMAT"),
            }
        )
    try:
        with transaction.atomic():
            # Insert first: the partial unique index refuses a second active booking
            # before any slot row is locked. The place is taken last (lock late).
            booking = Booking.objects.create(
                resident=resident,
                ebike=ebike,
                office_id=slot.office_id,
                date=slot.date,
                slot_id=slot.pk,
                source=Channel.ONLINE,
                created_at=now,
            )
            notifications.notification_queue(
                booking=booking,
                event=Notification.Event.CONFIRMATION,
                key=f"confirmation:{booking.pk}",
                now=now,
                new=True,
            )
            # The place is taken last (lock late): the slot row stays locked only for
            # this UPDATE and the commit.
            _take_place(slot.pk, now, expected=slot)
            transaction.on_commit(availability_cache.invalidate)
    except IntegrityError:
        # The partial unique index on active bookings refused a second one.
        if Booking.objects.filter(resident=resident, status__in=Booking.ACTIVE_STATUSES).exists():
            raise AlreadyBooked(_("You already hold an active booking.")) from None
        raise
    return booking


def _lock_changeable(booking: Booking, now: datetime.datetime) -> Booking:
    locked = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("slot")
        .filter(pk=booking.pk)
        .first()
    )
    if locked is None or locked.status != Booking.Status.BOOKED:
        raise NotCancellable(_("Only a booking that is still booked can be changed."))
    if locked.slot is not None and now >= change_deadline(locked.slot):
        raise NotCancellable(_("The time to change this booking has passed."))
    return locked


def booking_cancel(*, booking: Booking, now: datetime.datetime | None = None) -> Booking:
    """Cancel a booked place and return it to the slot at once."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = booking_status_set(
            _lock_changeable(booking, now), Booking.Status.CANCELLED, now=now
        )
        if locked.slot_id is not None:
            _return_place(locked.slot_id)
        notifications.notifications_supersede(booking=locked, now=now)
        notifications.notification_queue(
            booking=locked,
            event=Notification.Event.CANCELLATION,
            key=f"cancellation:{locked.pk}",
            now=now,
        )
        transaction.on_commit(availability_cache.invalidate)
    return locked


def booking_move(
    *, booking: Booking, slot_id: int, now: datetime.datetime | None = None
) -> Booking:
    """Move a booking to another window or day in one step; if not possible, keep it."""
    now = now or timezone.now()
    new_slot = Slot.objects.select_related("office").filter(pk=slot_id).first()
    if new_slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
    if not new_slot.office.is_active:
        raise _office_inactive()
    _check_slot_bookable(new_slot, now)
    with transaction.atomic():
        locked = _lock_changeable(booking, now)
        old_slot_id = locked.slot_id
        assert old_slot_id is not None  # a booking still booked is an online one, in a slot
        if old_slot_id == new_slot.pk:
            raise BookingError(_("Your booking is already in this time window."))
        # Touch the two slot rows in id order so two opposite moves cannot deadlock.
        for sid in sorted([old_slot_id, new_slot.pk]):
            if sid == new_slot.pk:
                _take_place(sid, now)
            else:
                _return_place(sid)
        locked.slot = new_slot
        locked.office_id = new_slot.office_id
        locked.date = new_slot.date
        locked.save(update_fields=["slot", "office", "date", "updated_at"])
        # The confirmation, an earlier move notice and a reminder for the old date are
        # no longer true; the reminder sweep queues one for the new date.
        notifications.notifications_supersede(booking=locked, now=now)
        notifications.notification_queue(
            booking=locked,
            event=Notification.Event.MOVED,
            key=f"moved:{locked.pk}:{new_slot.pk}:{now.timestamp():.6f}",
            now=now,
        )
        transaction.on_commit(availability_cache.invalidate)
    return locked
