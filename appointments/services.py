"""Booking rules: releasing slots, taking and returning places.

Capacity is a counter on the slot guarded by a CHECK constraint (booked <= capacity),
so no code path can overbook. A place is taken by one conditional UPDATE at the end
of a short transaction (lock late); the booking row is inserted first so that the
one-active-booking-per-person constraint refuses a second booking before any slot
row is locked.
"""

import datetime
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Q, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from core.clock import local_today, week_bounds
from core.errors import DomainError
from offices import services as quota_services
from offices.models import ClosedDay, Office

from . import attempts, notifications
from . import cache as availability_cache
from .models import Booking, Channel, DayRelease, Notification, RefusedAttempts, Slot

logger = logging.getLogger(__name__)


class BookingError(DomainError):
    """A booking the rules refuse; the message is for the resident (or the clerk), and
    ``code`` says why for the audit log (``appointments.audit.REFUSAL_REASONS``)."""


class SlotFull(BookingError):
    pass


class AlreadyBooked(BookingError):
    pass


class SlotNotBookable(BookingError):
    pass


class NotCancellable(BookingError):
    pass


class InCooldown(BookingError):
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


@dataclass
class ReleaseResult:
    date: datetime.date
    released: dict[str, int] = field(default_factory=dict)  # office code -> places
    closed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def places(self) -> int:
        return sum(self.released.values())


@dataclass(frozen=True)
class DayPlan:
    """What releasing one office's day gives: each window with its places, or why none.

    ``reason`` says why an open day has no places: "quota" when the week's quota is used
    up, "capacity" when the office releases nothing online that day; "" otherwise.
    """

    closed: bool
    windows: tuple = ()
    shares: tuple[int, ...] = ()
    reason: str = ""

    @property
    def places(self) -> int:
        return sum(self.shares)


def places_used_in_week(day: datetime.date, places_by_day) -> int:
    """The places the other days of ``day``'s ISO week have released (or will, first)."""
    monday, sunday = week_bounds(day)
    return sum(n for d, n in places_by_day.items() if monday <= d <= sunday and d != day)


def day_plan(
    *, office: Office, windows, day: datetime.date, closed: bool, pending, used_in_week: int
) -> DayPlan:
    """Decide one office's day: the one rule the release and the admins' preview share.

    Nothing on a day the office does not open, a closed day, or a day without windows;
    otherwise the daily capacity (as planned for that day), capped by what remains of
    the weekly quota and by the windows' capacities, split over the windows.
    """
    closed = closed or not office.opens_on_weekday(day.isoweekday())
    if closed:
        return DayPlan(closed=True)
    planned, windows = quota_services.plan_for_day(office, list(windows), day, pending)
    if not windows:
        return DayPlan(closed=True)
    left_in_week = max(0, planned.weekly_quota - used_in_week)
    total = min(planned.daily_capacity, left_in_week, sum(w.capacity for w in windows))
    reason = ""
    if not total:
        reason = "quota" if not left_in_week and planned.daily_capacity else "capacity"
    shares = split_capacity(total, [w.capacity for w in windows])
    return DayPlan(closed=False, windows=tuple(windows), shares=tuple(shares), reason=reason)


def days_plan(
    *,
    office: Office,
    windows,
    first: datetime.date,
    last: datetime.date,
    first_releasable: datetime.date,
    released: dict[datetime.date, int],
    releases: dict[datetime.date, bool],
    closed: set[datetime.date],
    pending,
):
    """Yield (day, state, places) for ``office`` from ``first`` (a Monday) to ``last``.

    Released days (``releases``: day -> released closed?) give what they released
    (``released``: day -> places). Days from ``first_releasable`` (the first day the
    schedule will still release) not released yet are decided by ``day_plan`` in date
    order, as the schedule will release them; earlier days never released never will be,
    and give nothing. States as for the preview:
    "released", "planned", "closed", "quota", "capacity" or "unreleased".
    """
    places_by_day = dict(released)
    day = first
    while day <= last:
        places = released.get(day, 0)
        if day not in releases and day < first_releasable:
            state = "unreleased"
        elif day in releases and (releases[day] or places):
            state = "closed" if releases[day] else "released"
        else:
            plan = day_plan(
                office=office,
                windows=windows,
                day=day,
                closed=day in closed,
                pending=pending,
                used_in_week=places_used_in_week(day, places_by_day),
            )
            if day not in releases:
                places = plan.places
                state = "closed" if plan.closed else "planned" if places else plan.reason
            else:  # released open with no places: the week's quota, unless none online
                state = "capacity" if plan.reason == "capacity" else "quota"
        places_by_day[day] = places
        yield day, state, places
        day += datetime.timedelta(days=1)


def offices_days_plan(
    *,
    offices,
    first: datetime.date,
    last: datetime.date,
    first_releasable: datetime.date,
    closed: Iterable[tuple[int, datetime.date]] = (),
    slot_capacity: dict[int, int] | None = None,
) -> dict[int, list[tuple[datetime.date, str, int]]]:
    """``days_plan`` from ``first`` (a Monday) to ``last`` for each of ``offices`` (windows
    prefetched), by office id.

    ``closed`` adds (office id, date) closings and ``slot_capacity`` maps slot ids to
    capacities that stand in for the stored ones, so that a change can be measured first.
    """
    slot_capacity = slot_capacity or {}
    # To the end of ``last``'s week: a day released later in it counts for the days before.
    in_range = {"office__in": offices, "date__range": (first, week_bounds(last)[1])}
    released: dict[int, dict[datetime.date, int]] = {}
    for pk, office_id, date, capacity in Slot.objects.filter(**in_range).values_list(
        "pk", "office_id", "date", "capacity"
    ):
        places = released.setdefault(office_id, {})
        places[date] = places.get(date, 0) + slot_capacity.get(pk, capacity)
    releases: dict[int, dict[datetime.date, bool]] = {}
    for office_id, date, is_closed in DayRelease.objects.filter(**in_range).values_list(
        "office_id", "date", "closed"
    ):
        releases.setdefault(office_id, {})[date] = is_closed
    closed_days: dict[int, set[datetime.date]] = {}
    for office_id, date in [
        *ClosedDay.objects.filter(**in_range).values_list("office_id", "date"),
        *closed,
    ]:
        closed_days.setdefault(office_id, set()).add(date)
    pending = quota_services.pending_changes(until=last)
    return {
        office.pk: list(
            days_plan(
                office=office,
                windows=sorted(office.windows.all(), key=lambda w: w.start),
                first=first,
                last=last,
                first_releasable=first_releasable,
                released=released.get(office.pk, {}),
                releases=releases.get(office.pk, {}),
                closed=closed_days.get(office.pk, set()),
                pending=pending,
            )
        )
        for office in offices
    }


def _release_office_day(office: Office, day: datetime.date, now, pending) -> tuple[str, int]:
    release, created = DayRelease.objects.get_or_create(
        office=office, date=day, defaults={"capacity": 0, "released_at": now}
    )
    if not created:
        return "already", 0
    monday, sunday = week_bounds(day)
    released = {
        r["date"]: r["places"]
        for r in Slot.objects.filter(office=office, date__range=(monday, sunday))
        .values("date")
        .annotate(places=Sum("capacity"))
    }
    plan = day_plan(
        office=office,
        windows=office.windows.order_by("start"),
        day=day,
        closed=ClosedDay.objects.filter(office=office, date=day).exists(),
        pending=pending,
        used_in_week=places_used_in_week(day, released),
    )
    if plan.closed:
        release.closed = True
        release.save(update_fields=["closed"])
        return "closed", 0
    Slot.objects.bulk_create(
        Slot(office=office, date=day, start=w.start, end=w.end, capacity=share)
        for w, share in zip(plan.windows, plan.shares, strict=True)
        if share > 0
    )
    release.capacity = plan.places
    release.save(update_fields=["capacity"])
    return "released", release.capacity


def _after_release() -> None:
    """Drop the stale snapshot and build the list of open windows before the rush asks."""
    from .selectors import open_windows_now

    availability_cache.invalidate()
    availability_cache.put_open(None)  # replaced just below; never serve the old list
    open_windows_now()


def slots_release(*, day: datetime.date, now: datetime.datetime | None = None) -> ReleaseResult:
    """Release ``day``'s slots for every active office; safe to run twice or at once.

    The whole day is released in one transaction: if anything fails, nothing of the
    day is released. A DayRelease row per office and day, unique in the database,
    makes a second run (or a concurrent one, which waits on that row) a no-op.
    """
    now = now or timezone.now()
    result = ReleaseResult(date=day)
    with transaction.atomic():
        transaction.on_commit(_after_release)
        # Offices first (as capacity changes do): no plan is added or withdrawn meanwhile.
        quota_services.planned_changes_apply(today=local_today(now), now=now)
        pending = quota_services.pending_changes(until=day)
        for office in Office.objects.filter(is_active=True).order_by("pk"):
            outcome, places = _release_office_day(office, day, now, pending)
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


def slots_release_now(
    *, day: datetime.date, user, now: datetime.datetime | None = None
) -> ReleaseResult:
    """An admin's "release now" of ``day``: the scheduled release, run at once and audited
    (who, which day, what it released). Running it again releases nothing twice."""
    from .models import AuditEntry

    now = now or timezone.now()
    result = slots_release(day=day, now=now)
    audit_record(
        clerk=user,
        office=None,
        action=AuditEntry.Action.RELEASE,
        code="release_now",
        params={
            "date": day.isoformat(),
            "places": result.places,
            "offices": len(result.released),
            "closed": len(result.closed),
            "already": len(result.already),
        },
        now=now,
    )
    return result


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


release_logger = logging.getLogger("appointments.release")


@dataclass
class ReconcileResult:
    released: list[ReleaseResult] = field(default_factory=list)
    overdue: object = None  # selectors.ReleaseOverdue, or None

    @property
    def places(self) -> int:
        return sum(r.places for r in self.released)


def slots_release_due(*, now: datetime.datetime | None = None) -> ReconcileResult:
    """Release every day the schedule should have released by ``now`` and has not.

    Run every minute, at worker start and on demand: whatever trigger was lost (the broker
    down at the release minute, a killed worker), the next run releases the day. A day
    released already costs one query. Then alert, on the "appointments.release" logger at
    ERROR, if a due day is still not released RELEASE_ALERT_MINUTES after the release time.
    """
    from .selectors import days_not_released, release_due_days, release_overdue

    now = now or timezone.now()
    result = ReconcileResult()
    try:
        for day in days_not_released(release_due_days(now=now)):
            result.released.append(slots_release(day=day, now=now))
    finally:
        # Checked even when the release failed: that is when the alert matters.
        result.overdue = release_overdue(now=now)
        if result.overdue is not None:
            release_logger.error(
                "release overdue: %s not released %d minutes after the release time %s",
                result.overdue.day.isoformat(),
                result.overdue.minutes_late,
                result.overdue.due_at.isoformat(),
            )
    return result


# --- bookings ------------------------------------------------------------------------


def slot_start(slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.start))


def slot_end(slot) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(slot.date, slot.end))


def change_deadline(slot: Slot) -> datetime.datetime:
    """Last moment a booking in ``slot`` may be cancelled or moved."""
    return slot_start(slot) - datetime.timedelta(minutes=settings.BOOKING_CANCEL_DEADLINE_MINUTES)


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


def remember_slots(windows) -> None:
    """Fill the slot memo from a list of open windows (objects with pk, office_id, date,
    start, end), so the first booking of a rush need not read each slot row first."""
    for w in windows:
        if w.pk not in _slot_info:
            _slot_info[w.pk] = SlotInfo(w.pk, w.office_id, w.date, w.start, w.end)


def window_started(day: datetime.date, start: datetime.time, now: datetime.datetime) -> bool:
    """Whether a window has begun: from its start it is no longer offered or booked."""
    return timezone.make_aware(datetime.datetime.combine(day, start)) <= now


def _check_slot_bookable(slot, now: datetime.datetime) -> None:
    if window_started(slot.date, slot.start, now):
        raise SlotNotBookable(_("This time window has already started or passed."))


_TAKE_PLACE_SQL = (
    "UPDATE appointments_slot SET booked = booked + 1 "
    "WHERE id = %s AND booked < capacity RETURNING booked, capacity, office_id, date, start"
)


_PRECHECK_SQL = (
    "SELECT (SELECT booked < capacity FROM appointments_slot WHERE id = %s), "
    "(SELECT date FROM appointments_booking WHERE resident_id = %s AND status = 'no_show' "
    "AND date > %s ORDER BY date DESC LIMIT 1 OFFSET %s)"
)


def _precheck(slot_id: int, resident_id: int, *, today: datetime.date):
    """Return (is there a place left?, end of a no-show cooldown or None), in one read.

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
            [slot_id, resident_id, today - datetime.timedelta(days=days), max(count - 1, 0)],
        )
        has_room, nth_no_show = cursor.fetchone()
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


def _take_place(slot_id: int, now, expected: "SlotInfo | None" = None) -> None:
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


def notification_queue(
    *, booking: Booking, event: str, key: str, now, new: bool = False
) -> Notification | None:
    """Record a message in the outbox; the drain task sends it after the commit.

    Must run inside the transaction that changes the booking, so that the message
    exists if and only if the change does. A second call with the same key is a no-op;
    ``new=True`` says the key cannot exist yet (a booking created in this transaction),
    which saves a query and a savepoint.
    """
    # The message is about the booking's slot as it is now (notification_send checks
    # that it still is, and renders that slot).
    facts = {"booking": booking, "event": event, "slot_id": booking.slot_id, "created_at": now}
    if new:
        return Notification.objects.create(key=key, **facts)
    notification, created = Notification.objects.get_or_create(key=key, defaults=facts)
    return notification if created else None


def booking_create(
    *, resident, slot_id: int, ebike=None, now: datetime.datetime | None = None
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


def _booking_create(*, resident, slot_id: int, ebike, now) -> Booking:
    now = now or timezone.now()
    slot = slot_info(slot_id)
    if slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
    _check_slot_bookable(slot, now)
    if ebike is not None and ebike.resident_id != resident.pk:
        raise BookingError(_("This e-bike is not registered to you."))
    has_room, until = _precheck(slot.pk, resident.pk, today=timezone.localdate(now))
    if not has_room:
        raise SlotFull(_("This time window is fully booked."))
    if until is not None:
        raise InCooldown(
            _(
                "You missed %(count)d appointments within %(days)d days, so you can book "
                "again from %(date)s."
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
            notification_queue(
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


def booking_changeable(booking: Booking, now: datetime.datetime) -> bool:
    """Whether the resident may still cancel or move ``booking`` (what _lock_changeable
    enforces under a lock)."""
    return (
        booking.status == Booking.Status.BOOKED
        and booking.slot is not None
        and now < change_deadline(booking.slot)
    )


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
        locked = _lock_changeable(booking, now)
        locked.status = Booking.Status.CANCELLED
        locked.cancelled_at = now
        locked.save(update_fields=["status", "cancelled_at", "updated_at"])
        if locked.slot_id is not None:
            _return_place(locked.slot_id)
        notifications.notifications_supersede(booking=locked, now=now)
        notification_queue(
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
    new_slot = Slot.objects.filter(pk=slot_id).first()
    if new_slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
    _check_slot_bookable(new_slot, now)
    with transaction.atomic():
        locked = _lock_changeable(booking, now)
        old_slot_id = locked.slot_id
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
        notification_queue(
            booking=locked,
            event=Notification.Event.MOVED,
            key=f"moved:{locked.pk}:{new_slot.pk}:{now.timestamp():.6f}",
            now=now,
        )
        transaction.on_commit(availability_cache.invalidate)
    return locked


# --- the counter -----------------------------------------------------------------------


class NotYourOffice(BookingError):
    """A clerk acting for an office they are not assigned to."""

    code = "not_your_office"


class CheckInRefused(BookingError):
    pass


def clerk_can_serve(user, office) -> bool:
    """Clerks serve only the offices an admin assigned them to."""
    return bool(user.is_authenticated and office.clerks.filter(pk=user.pk).exists())


def audit_record(
    *,
    clerk,
    office,
    action: str,
    booking=None,
    resident=None,
    code: str = "",
    params: dict | None = None,
    now=None,
):
    """Write one audit entry: ``code`` and ``params`` say what (``appointments.audit``),
    in the reader's language when read; never put an ID or phone number in ``params``."""
    from .models import AuditEntry

    return AuditEntry.objects.create(
        clerk=clerk,
        office=office,
        action=action,
        booking=booking,
        resident=resident if resident is not None else getattr(booking, "resident", None),
        detail_code=code,
        detail_params=params or {},
        at=now or timezone.now(),
    )


def refusal_code(exc: Exception) -> str:
    """Why a service refused, as a code: a BookingError's or a ValidationError's."""
    from django.core.exceptions import ValidationError

    if isinstance(exc, ValidationError):
        codes = [error.code for error in exc.error_list if error.code]
        return codes[0] if codes else "other"
    return getattr(exc, "code", None) or "other"


@contextmanager
def refusals_audited(*, what: str, clerk, office, booking=None, now=None):
    """Record a refused counter action (``what``) with the reason's code, then re-raise.

    Entered outside the action's transaction, so the record stays when the action is
    rolled back. The refusal is about ``booking``'s person, or about the person the
    exception names (``exc.resident``); their ID number is never recorded.
    """
    from django.core.exceptions import ValidationError

    from .models import AuditEntry

    try:
        yield
    except (BookingError, ValidationError) as exc:
        if getattr(clerk, "is_authenticated", False) and office is not None:
            audit_record(
                clerk=clerk,
                office=office,
                action=AuditEntry.Action.REFUSED,
                booking=booking,
                resident=getattr(exc, "resident", None),
                code="refused",
                params={"what": what, "reason": refusal_code(exc)},
                now=now,
            )
        raise


def counter_search(*, office, clerk, query: str, now=None) -> list[Booking]:
    """Find bookings at the counter; the query may be an ID or phone number, so the audit
    log records how it was read and how many were found, never what was typed."""
    from .models import AuditEntry
    from .selectors import counter_find

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


def id_number_reveal(*, booking: Booking, clerk, office, now=None) -> str:
    """The full ID number, for the clerk serving this person only, and on the record."""
    from .models import AuditEntry

    audit_record(
        clerk=clerk, office=office, action=AuditEntry.Action.REVEAL_ID, booking=booking, now=now
    )
    return booking.resident.reveal_id_number()


def booking_check_in_allowed(booking: Booking, today: datetime.date) -> bool:
    """Whether a clerk may check ``booking`` in today (what booking_check_in enforces)."""
    return booking.status == Booking.Status.BOOKED and booking.date == today


def booking_check_in(
    *, booking: Booking, clerk, office, now: datetime.datetime | None = None
) -> Booking:
    """Check a booked resident in: only on the booked day, at the booked office, once."""
    now = now or timezone.now()
    audited = {"clerk": clerk, "office": office, "now": now}
    with refusals_audited(what="check_in", booking=_booking_at(booking, office), **audited):
        return _booking_check_in(booking=booking, clerk=clerk, office=office, now=now)


def _booking_at(booking: Booking, office) -> Booking | None:
    """The booking to name in a refusal at ``office``: not one of another office."""
    return booking if booking.office_id == getattr(office, "pk", None) else None


def _booking_check_in(*, booking: Booking, clerk, office, now) -> Booking:
    from .models import AuditEntry

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
        locked.status = Booking.Status.CHECKED_IN
        locked.checked_in_at = now
        locked.save(update_fields=["status", "checked_in_at", "updated_at"])
        audit_record(
            clerk=clerk, office=office, action=AuditEntry.Action.CHECK_IN, booking=locked, now=now
        )
    return locked


def bookings_mark_no_shows(*, now: datetime.datetime | None = None) -> int:
    """Mark booked (never checked-in) bookings as no-show once their window and the grace
    period have passed. Safe to run any number of times: only "booked" rows change."""
    now = now or timezone.now()
    local = timezone.localtime(now) - datetime.timedelta(minutes=settings.NO_SHOW_GRACE_MINUTES)
    late = Booking.objects.filter(status=Booking.Status.BOOKED, slot__isnull=False).filter(
        Q(date__lt=local.date()) | Q(date=local.date(), slot__end__lte=local.time())
    )
    return late.update(status=Booking.Status.NO_SHOW, no_show_at=now)


def booking_mark_no_show(
    *, booking: Booking, clerk, office, now: datetime.datetime | None = None
) -> Booking:
    """A clerk marks a booking of their office as no-show, once its window has started."""
    now = now or timezone.now()
    audited = {"clerk": clerk, "office": office, "now": now}
    with refusals_audited(what="no_show", booking=_booking_at(booking, office), **audited):
        return _booking_mark_no_show(booking=booking, clerk=clerk, office=office, now=now)


def _booking_mark_no_show(*, booking: Booking, clerk, office, now) -> Booking:
    from .models import AuditEntry

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
        locked.status = Booking.Status.NO_SHOW
        locked.no_show_at = now
        locked.save(update_fields=["status", "no_show_at", "updated_at"])
        audit_record(
            clerk=clerk, office=office, action=AuditEntry.Action.NO_SHOW, booking=locked, now=now
        )
    return locked


class WalkinRefused(BookingError):
    """A person who may not be served without a booking; the message says why."""


def priority_walkin_start(
    *,
    office,
    clerk,
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
    office,
    clerk,
    real_name,
    id_number,
    reason,
    veteran_certificate,
    frame_number,
    brand,
    model,
    now,
) -> Booking:
    from django.core.exceptions import ValidationError

    from registration import services as registration_services
    from registration.idnumber import parse_id_number

    from .models import AuditEntry, WalkinReason

    today = timezone.localdate(now)
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    if not office.is_main_urban:
        raise WalkinRefused(
            _("Priority walk-ins are served at main-urban service points."),
            code="not_main_urban",
        )
    parsed = parse_id_number(id_number, today=today)
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
                booking = _walkin_checked_in(
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
        except ValidationError as exc:
            raise WalkinRefused(exc.messages[0], code=refusal_code(exc)) from None
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


def _walkin_checked_in(
    *, resident, ebike, office, day, source, reason, now, veteran_certificate=""
) -> Booking:
    """A person served without a booking: checked in at once, for one listed reason."""
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


# --- the walk-in window queue -------------------------------------------------------------


class QueueError(BookingError):
    pass


def _queue_office(office, clerk):
    if not clerk_can_serve(clerk, office):
        raise NotYourOffice(_("You are not a clerk of this office."))
    if not office.has_walkin_window:
        raise QueueError(_("This office has no same-day walk-in window."), code="no_walkin_window")


def ticket_issue(*, office, clerk, now: datetime.datetime | None = None):
    """Hand out the next number of the day (numbers restart every day)."""
    now = now or timezone.now()
    with refusals_audited(what="ticket_issue", clerk=clerk, office=office, now=now):
        return _ticket_issue(office=office, clerk=clerk, now=now)


def _ticket_issue(*, office, clerk, now):
    from offices.models import Office

    from .models import QueueTicket

    _queue_office(office, clerk)
    today = timezone.localdate(now)
    with transaction.atomic():
        Office.objects.select_for_update().filter(pk=office.pk).first()  # one issuer at a time
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


def _ticket_audit(ticket, clerk, what, now):
    from .models import AuditEntry

    audit_record(
        clerk=clerk,
        office=ticket.office,
        action=AuditEntry.Action.QUEUE,
        booking=ticket.booking,
        code=f"ticket_{what}",
        params={"number": ticket.number},
        now=now,
    )


def ticket_call_next(*, office, clerk, now: datetime.datetime | None = None):
    """Call the lowest waiting number of today, or return None when nobody waits."""
    now = now or timezone.now()
    with refusals_audited(what="ticket_call", clerk=clerk, office=office, now=now):
        return _ticket_call_next(office=office, clerk=clerk, now=now)


def _ticket_call_next(*, office, clerk, now):
    from .models import QueueTicket

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


def ticket_recall(*, ticket, clerk, now: datetime.datetime | None = None):
    now = now or timezone.now()
    with refusals_audited(what="ticket_recall", clerk=clerk, office=ticket.office, now=now):
        return _ticket_recall(ticket=ticket, clerk=clerk, now=now)


def _ticket_recall(*, ticket, clerk, now):
    from .models import QueueTicket

    _queue_office(ticket.office, clerk)
    if ticket.status != QueueTicket.Status.CALLED:
        raise QueueError(_("Only a called number can be called again."), code="not_called")
    ticket.called_at = now
    ticket.save(update_fields=["called_at"])
    _ticket_audit(ticket, clerk, "recall", now)
    return ticket


def ticket_skip(*, ticket, clerk, now: datetime.datetime | None = None):
    now = now or timezone.now()
    with refusals_audited(what="ticket_skip", clerk=clerk, office=ticket.office, now=now):
        return _ticket_skip(ticket=ticket, clerk=clerk, now=now)


def _ticket_skip(*, ticket, clerk, now):
    from .models import QueueTicket

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
    ticket,
    clerk,
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


def _ticket_serve(*, ticket, clerk, real_name, id_number, frame_number, brand, model, now):
    from django.core.exceptions import ValidationError

    from registration import services as registration_services
    from registration.idnumber import parse_id_number

    from .models import QueueTicket, WalkinReason

    _queue_office(ticket.office, clerk)
    parsed = parse_id_number(id_number, today=timezone.localdate(now))
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
                booking = _walkin_checked_in(
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
        except ValidationError as exc:
            raise QueueError(exc.messages[0], code=refusal_code(exc)) from None
        locked.status = QueueTicket.Status.SERVED
        locked.served_at = now
        locked.booking = booking
        locked.save(update_fields=["status", "served_at", "booking"])
        _ticket_audit(locked, clerk, "serve", now)
    return booking


# --- the release schedule -------------------------------------------------------------------

RELEASE_TASK_NAME = "Release slots for upcoming days"
MAX_HORIZON_DAYS = 14


class ScheduleError(DomainError):
    """A release schedule the rules refuse; the message says why."""


def release_schedule_change(*, at: datetime.time, horizon_days: int, user=None):
    """Set the daily release time (Asia/Shanghai) and how many days ahead it opens.

    Writes the django-celery-beat task that the beat scheduler reads (it notices the
    change by itself), and records the change (old and new) in the audit log and in the
    admin history of that task.
    """
    import json

    from django.contrib.admin.models import CHANGE, LogEntry
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from .models import AuditEntry
    from .selectors import RELEASE_TASK, release_schedule

    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ScheduleError(_("Open between 1 and %(max)d days ahead.") % {"max": MAX_HORIZON_DAYS})
    with transaction.atomic():
        before = release_schedule()
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=str(at.minute),
            hour=str(at.hour),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        task = PeriodicTask.objects.select_for_update().filter(task=RELEASE_TASK).first()
        if task is None:
            task = PeriodicTask(name=RELEASE_TASK_NAME, task=RELEASE_TASK)
        task.crontab, task.interval, task.enabled = crontab, None, True
        task.kwargs = json.dumps({"horizon_days": horizon_days})
        task.save()
        if user is not None:
            was = "none"
            if before is not None:
                was = f"{before.at:%H:%M}" if before.at else "pattern"
                was += f", {before.horizon_days} d"
            LogEntry.objects.log_actions(
                user.pk,
                [task],
                CHANGE,
                change_message=f"Release schedule: {was} -> {at:%H:%M}, {horizon_days} d",
                single_object=True,
            )
            old_at = None
            if before is not None and before.at:
                old_at = f"{before.at:%H:%M}"
            audit_record(
                clerk=user,
                office=None,
                action=AuditEntry.Action.RELEASE_SCHEDULE,
                code="release_schedule",
                params={
                    "old_at": old_at,
                    "old_horizon": before.horizon_days if before is not None else None,
                    "new_at": f"{at:%H:%M}",
                    "new_horizon": horizon_days,
                },
            )
    return task
