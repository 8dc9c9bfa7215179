"""Booking rules: releasing slots, taking and returning places.

Capacity is a counter on the slot guarded by a CHECK constraint (booked <= capacity),
so no code path can overbook. A place is taken by one conditional UPDATE at the end
of a short transaction (lock late); the booking row is inserted first so that the
one-active-booking-per-person constraint refuses a second booking before any slot
row is locked.
"""

import datetime
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Q, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.clock import local_today, week_bounds
from core.errors import DomainError
from offices import services as quota_services
from offices.models import ClosedDay, Office, PlannedChange
from offices.planning import day_plan, places_used_in_week
from registration.models import EBike, Resident, User

from . import attempts, notifications, selectors
from . import cache as availability_cache
from .models import Booking, Channel, DayRelease, Notification, RefusedAttempts, Slot
from .rules import change_deadline, window_started

logger = logging.getLogger(__name__)


class BookingError(DomainError):
    """A booking the rules refuse; the message is for the resident (or the clerk), and
    ``code`` says why for the audit log (``counter.audit.REFUSAL_REASONS``)."""


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


@dataclass
class ReleaseResult:
    date: datetime.date
    released: dict[str, int] = field(default_factory=dict)  # office code -> places
    closed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def places(self) -> int:
        return sum(self.released.values())


def _release_office_day(
    office: Office, day: datetime.date, now: datetime.datetime, pending: Sequence[PlannedChange]
) -> tuple[str, int]:
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
    availability_cache.invalidate()
    availability_cache.put_open(None)  # replaced just below; never serve the old list
    selectors.open_windows_now()


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
    overdue: selectors.ReleaseOverdue | None = None

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
    now = now or timezone.now()
    result = ReconcileResult()
    try:
        for day in selectors.days_not_released(selectors.release_due_days(now=now)):
            result.released.append(slots_release(day=day, now=now))
    finally:
        # Checked even when the release failed: that is when the alert matters.
        result.overdue = selectors.release_overdue(now=now)
        if result.overdue is not None:
            release_logger.error(
                "release overdue: %s not released %d minutes after the release time %s",
                result.overdue.day.isoformat(),
                result.overdue.minutes_late,
                result.overdue.due_at.isoformat(),
            )
    return result


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
    "AND date > %s ORDER BY date DESC LIMIT 1 OFFSET %s)"
)


def _precheck(
    slot_id: int, resident_id: int, *, today: datetime.date
) -> tuple[bool, datetime.date | None]:
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
    new_slot = Slot.objects.filter(pk=slot_id).first()
    if new_slot is None:
        raise SlotNotBookable(_("This time window does not exist."))
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


# --- status changes --------------------------------------------------------------------


class StatusChangeRefused(BookingError):
    code = "booking_status"


def booking_status_set(booking: Booking, status: str, *, now: datetime.datetime) -> Booking:
    """Move ``booking`` to ``status`` if ``Booking.TRANSITIONS`` allows it, stamping the time.

    The caller holds the booking's row lock in its transaction and has said, in its own
    words, why a refused change is refused; this is the last word on what is legal.
    """
    if not booking.can_become(status):
        raise StatusChangeRefused(
            _("This booking cannot change from %(old)s to %(new)s.")
            % {
                "old": booking.get_status_display(),
                "new": Booking.Status(status).label,
            }
        )
    booking.status = status
    fields = ["status", "updated_at"]
    if stamp := Booking.STATUS_STAMPS.get(status):
        setattr(booking, stamp, now)
        fields.append(stamp)
    booking.save(update_fields=fields)
    return booking


def walkin_booking_create(
    *,
    resident: Resident,
    ebike: EBike,
    office: Office,
    day: datetime.date,
    source: str,
    reason: str,
    now: datetime.datetime,
    veteran_certificate: str = "",
) -> Booking:
    """A person served without a booking: checked in at once, for one listed reason (the
    database refuses any other, and a second active booking)."""
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


# --- no-shows ----------------------------------------------------------------------------


def bookings_mark_no_shows(*, now: datetime.datetime | None = None) -> int:
    """Mark booked (never checked-in) bookings as no-show once their window and the grace
    period have passed. Safe to run any number of times: only "booked" rows change."""
    now = now or timezone.now()
    local = timezone.localtime(now) - datetime.timedelta(minutes=settings.NO_SHOW_GRACE_MINUTES)
    may_become = Booking.statuses_leading_to(Booking.Status.NO_SHOW)
    late = Booking.objects.filter(status__in=may_become, slot__isnull=False).filter(
        Q(date__lt=local.date()) | Q(date=local.date(), slot__end__lte=local.time())
    )
    # The same change booking_status_set makes, in one UPDATE by primary key, with the
    # status condition on the updated rows themselves: PostgreSQL re-checks it on a row
    # a check-in committed while this waited for its lock (a condition inside the
    # subquery Django writes for the join to the slot would not be re-checked).
    ids = list(late.values_list("pk", flat=True))
    return Booking.objects.filter(pk__in=ids, status__in=may_become).update(
        status=Booking.Status.NO_SHOW, no_show_at=now, updated_at=now
    )


# --- the release schedule -------------------------------------------------------------------

RELEASE_TASK_NAME = "Release slots for upcoming days"
MAX_HORIZON_DAYS = 14


class ScheduleError(DomainError):
    """A release schedule the rules refuse; the message says why."""


@dataclass(frozen=True)
class ScheduleChange:
    task: "PeriodicTask"
    before: "selectors.ReleaseSchedule | None"  # the schedule it replaced, None if there was none


def release_schedule_change(*, at: datetime.time, horizon_days: int) -> ScheduleChange:
    """Set the daily release time (Asia/Shanghai) and how many days ahead it opens.

    Writes the django-celery-beat task that the beat scheduler reads (it notices the
    change by itself). Who changed it is recorded by ``supervision.services``.
    """
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ScheduleError(_("Open between 1 and %(max)d days ahead.") % {"max": MAX_HORIZON_DAYS})
    with transaction.atomic():
        # The task row first, so two changes at once read the old schedule one after the
        # other and each records what it replaced.
        PeriodicTask.objects.select_for_update().filter(task=selectors.RELEASE_TASK).first()
        before = selectors.release_schedule()
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=str(at.minute),
            hour=str(at.hour),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        task = PeriodicTask.objects.select_for_update().filter(task=selectors.RELEASE_TASK).first()
        if task is None:
            task = PeriodicTask(name=RELEASE_TASK_NAME, task=selectors.RELEASE_TASK)
        task.crontab, task.interval, task.enabled = crontab, None, True
        task.kwargs = json.dumps({"horizon_days": horizon_days})
        task.save()
    return ScheduleChange(task=task, before=before)
