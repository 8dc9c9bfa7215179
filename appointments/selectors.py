"""Reads for the resident pages: availability, next release, alternatives, bookings."""

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from celery.schedules import crontab
from django.conf import settings
from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.clock import week_bounds
from offices.models import ClosedDay, Office
from offices.planning import office_closed_on
from registration.models import EBike, Resident, User

from . import cache as availability_cache
from .models import Booking, DayRelease, Slot, is_confirmation_code
from .planning import offices_days_plan
from .rules import window_started

RELEASE_TASK = "appointments.tasks.release_upcoming_slots"


@dataclass
class WindowView:
    slot_id: int
    start: datetime.time
    end: datetime.time
    capacity: int
    booked: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)

    @property
    def sold_out(self) -> bool:
        return self.remaining == 0


@dataclass
class DayView:
    date: datetime.date
    # "open"; "closed"; "quota" (open, but released without places: the week's quota is
    # used up); "capacity" (open, no online places); "unreleased"; or "past".
    state: str
    windows: list[WindowView] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return sum(w.remaining for w in self.windows)


@dataclass
class OfficeView:
    id: int
    code: str
    name: str
    district: str
    address: str
    opening_hours: str
    has_walkin_window: bool
    days: list[DayView] = field(default_factory=list)


@dataclass
class Snapshot:
    today: datetime.date
    offices: list[OfficeView]

    def todays_days(self) -> list[DayView]:
        return [d for o in self.offices for d in o.days if d.date == self.today]


def _build_snapshot(today: datetime.date, first_releasable: datetime.date) -> Snapshot:
    last = today + datetime.timedelta(days=settings.AVAILABILITY_DAYS)
    offices = list(
        Office.objects.filter(is_active=True)
        .order_by("-is_main_urban", "code")
        .only(
            "id",
            "code",
            "name",
            "district",
            "address",
            "opening_hours",
            "has_walkin_window",
            "opening_weekdays",
            "daily_capacity",
        )
    )
    closed_days = set(
        ClosedDay.objects.filter(date__range=(today, last)).values_list("office_id", "date")
    )
    releases = {
        (r.office_id, r.date): r
        for r in DayRelease.objects.filter(date__range=(today, last)).only(
            "office_id", "date", "closed"
        )
    }
    slots: dict[tuple[int, datetime.date], list[WindowView]] = {}
    for s in (
        Slot.objects.filter(date__range=(today, last))
        .order_by("start")
        .values("id", "office_id", "date", "start", "end", "capacity", "booked")
    ):
        slots.setdefault((s["office_id"], s["date"]), []).append(
            WindowView(s["id"], s["start"], s["end"], s["capacity"], s["booked"])
        )
    views = []
    for o in offices:
        view = OfficeView(
            o.id, o.code, o.name, o.district, o.address, o.opening_hours, o.has_walkin_window
        )
        for offset in range(settings.AVAILABILITY_DAYS + 1):
            day = today + datetime.timedelta(days=offset)
            release = releases.get((o.id, day))
            if release is None:
                # A day that will never open is closed, not merely "not released yet".
                known_closed = office_closed_on(o, day, closed_by_admin=(o.id, day) in closed_days)
                # A day before the schedule's next one, not released by now: past, or missed (the
                # reconcile releases a missed today within a minute; see slots_release_due).
                missed = day < first_releasable
                state = "closed" if known_closed else "capacity" if missed else "unreleased"
            else:
                state = _released_state(release, slots.get((o.id, day)), o)
            view.days.append(DayView(day, state, slots.get((o.id, day), [])))
        views.append(view)
    return Snapshot(today=today, offices=views)


def _released_state(release: DayRelease, windows: list[WindowView] | None, office: Office) -> str:
    if release.closed:
        return "closed"
    if windows:
        return "open"
    # Released, open, and no window got a place: the day's places went to the week.
    return "quota" if office.daily_capacity else "capacity"


@dataclass(frozen=True)
class PastWindows:
    """Slot ids of windows that have begun (no longer offered), and of those over."""

    started: frozenset[int]
    ended: frozenset[int]


def past_windows(days: Iterable[DayView], now: datetime.datetime) -> PastWindows:
    """Which of ``days``' windows have begun and which have ended, at ``now``."""
    windows = [(day.date, w) for day in days for w in day.windows]
    return PastWindows(
        started=frozenset(w.slot_id for date, w in windows if window_started(date, w.start, now)),
        ended=frozenset(w.slot_id for date, w in windows if window_started(date, w.end, now)),
    )


def availability(*, now: datetime.datetime | None = None) -> Snapshot:
    """Return released and unreleased days per office, from the cache when fresh."""
    today = timezone.localdate(now or timezone.now())
    snapshot = availability_cache.get()
    if snapshot is None or snapshot.today != today:
        snapshot = _build_snapshot(today, first_scheduled_day(now=now))
        availability_cache.put(
            snapshot, open_windows(snapshot), settings.AVAILABILITY_CACHE_SECONDS
        )
    return snapshot


def open_windows(snapshot: Snapshot) -> list["Alternative"]:
    """Every window of the snapshot that still has places."""
    return [
        Alternative(w.slot_id, o.id, o.name, day.date, w.start, w.end, w.remaining)
        for o in snapshot.offices
        for day in o.days
        for w in day.windows
        if w.remaining > 0
    ]


def office_day(
    *,
    office: Office,
    date: datetime.date,
    today: datetime.date,
    first_releasable: datetime.date | None = None,
) -> DayView:
    """One office's day, with state "past", "unreleased", "closed" or "open"."""
    if date < today:
        return DayView(date, "past")
    release = DayRelease.objects.filter(office=office, date=date).first()
    if release is None:
        # Not released yet, but a weekday the office does not open or a closed day
        # never will be: say so rather than point to the next release.
        closed_by_admin = ClosedDay.objects.filter(office=office, date=date).exists()
        if office_closed_on(office, date, closed_by_admin=closed_by_admin):
            return DayView(date, "closed")
        # A day before the schedule's next one, not released by now: past, or missed (the
        # reconcile releases a missed today within a minute; see slots_release_due).
        first_releasable = first_releasable or today + datetime.timedelta(days=1)
        return DayView(date, "capacity" if date < first_releasable else "unreleased")
    windows = [
        WindowView(s["id"], s["start"], s["end"], s["capacity"], s["booked"])
        for s in Slot.objects.filter(office=office, date=date)
        .order_by("start")
        .values("id", "start", "end", "capacity", "booked")
    ]
    return DayView(date, _released_state(release, windows, office), windows)


@dataclass(frozen=True)
class NextRelease:
    at: datetime.datetime  # local time of the next scheduled run
    opens: datetime.date  # the last day that run releases


@dataclass(frozen=True)
class ReleaseSchedule:
    at: datetime.time | None  # local time of the daily run (None: a pattern such as "*/2")
    horizon_days: int  # the run opens today + this many days


def _release_task() -> PeriodicTask | None:
    """The enabled daily release task of django-celery-beat, or None."""
    return (
        PeriodicTask.objects.filter(task=RELEASE_TASK, enabled=True, crontab__isnull=False)
        .select_related("crontab")
        .first()
    )


def release_schedule() -> ReleaseSchedule | None:
    """The daily release as django-celery-beat will run it (None: not scheduled)."""
    task = _release_task()
    if task is None:
        return None
    try:
        at = datetime.time(int(task.crontab.hour), int(task.crontab.minute))
    except ValueError:
        at = None  # a pattern such as "*/2", set in the periodic task page
    return ReleaseSchedule(at=at, horizon_days=_horizon(task))


def _horizon(task: PeriodicTask | None) -> int:
    try:
        # No task (None) reads as no horizon, as a task without one does.
        horizon = int(json.loads(getattr(task, "kwargs", None) or "{}").get("horizon_days") or 0)
    except (ValueError, TypeError, AttributeError):
        horizon = 0
    return horizon or settings.SLOT_RELEASE_HORIZON_DAYS


def next_release(*, now: datetime.datetime | None = None) -> NextRelease | None:
    """When the scheduled release next runs and which day it opens, from django-celery-beat."""
    now = timezone.localtime(now or timezone.now())
    task = _release_task()
    if task is None:
        return None
    schedule = task.crontab.schedule
    schedule.nowfun = lambda: now
    last_run = now - datetime.timedelta(seconds=1)
    at = timezone.localtime(now + schedule.remaining_estimate(last_run))
    horizon = _horizon(task)
    return NextRelease(at=at, opens=at.date() + datetime.timedelta(days=horizon))


def _next_run_after(
    schedule: crontab, after: datetime.datetime, now: datetime.datetime
) -> datetime.datetime:
    schedule.nowfun = lambda: now
    return now + schedule.remaining_estimate(after)


def last_release_run(*, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The latest moment at or before ``now`` when the schedule was due to release (local
    time), or None: not scheduled, or no run in the last eight days."""
    now = timezone.localtime(now or timezone.now())
    task = _release_task()
    if task is None:
        return None
    schedule = task.crontab.schedule
    # Widening look-backs: a pattern such as "every minute" takes a few steps, not
    # thousands, and a daily run is found in the second.
    for lookback in (
        datetime.timedelta(hours=1),
        datetime.timedelta(days=1),
        datetime.timedelta(days=8),
    ):
        last, after = None, now - lookback
        while (run := _next_run_after(schedule, after, now)) <= now:
            last = after = run
        if last is not None:
            return timezone.localtime(last)
    return None


def release_due_days(*, now: datetime.datetime | None = None) -> list[datetime.date]:
    """The days the schedule should have released by ``now``: those its latest run opens
    (the day after it up to its horizon), from today on. Past days are never released."""
    now = now or timezone.now()
    last = last_release_run(now=now)
    if last is None:
        return []
    today = timezone.localdate(now)
    horizon = _horizon(_release_task())
    days = (last.date() + datetime.timedelta(days=k) for k in range(1, horizon + 1))
    return [day for day in days if day >= today]


def days_not_released(days: list[datetime.date]) -> list[datetime.date]:
    """Those of ``days`` that some active office has no release of."""
    offices = Office.objects.filter(is_active=True).count()
    if not offices:
        return []
    released = dict(
        DayRelease.objects.filter(date__in=days, office__is_active=True)
        .values("date")
        .annotate(n=Count("id"))
        .values_list("date", "n")
    )
    return [day for day in days if released.get(day, 0) < offices]


@dataclass(frozen=True)
class ReleaseOverdue:
    day: datetime.date  # the first due day not released
    due_at: datetime.datetime  # the scheduled run that should have released it (local)
    minutes_late: int


def release_overdue(*, now: datetime.datetime | None = None) -> ReleaseOverdue | None:
    """The first day the schedule should have released and has not, once the run that
    should have released it is ``RELEASE_ALERT_MINUTES`` old; None when all is well."""
    now = timezone.localtime(now or timezone.now())
    last = last_release_run(now=now)
    if last is None:
        return None
    late = now - last
    if late < datetime.timedelta(minutes=settings.RELEASE_ALERT_MINUTES):
        return None
    missing = days_not_released(release_due_days(now=now))
    if not missing:
        return None
    return ReleaseOverdue(day=missing[0], due_at=last, minutes_late=int(late.total_seconds() // 60))


def first_scheduled_day(*, now: datetime.datetime | None = None) -> datetime.date:
    """The first day the release schedule will still release: the first its latest run
    opens, from today on (missed, the reconcile releases it within a minute); before any
    run, the day after the next one. Without a schedule, tomorrow."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    last = last_release_run(now=now)
    if last is not None:
        return max(today, last.date() + datetime.timedelta(days=1))
    upcoming = next_release(now=now)
    return (upcoming.at.date() if upcoming else today) + datetime.timedelta(days=1)


def open_windows_now(*, now: datetime.datetime | None = None) -> list["Alternative"]:
    """Windows with places from today on, from the cache or in one query (then cached)."""
    cached = availability_cache.get_open()
    if cached is not None:
        return cached
    today = timezone.localdate(now or timezone.now())
    windows = [
        Alternative(s.pk, s.office_id, s.office.name, s.date, s.start, s.end, s.remaining)
        for s in Slot.objects.filter(
            date__range=(today, today + datetime.timedelta(days=settings.AVAILABILITY_DAYS)),
            booked__lt=F("capacity"),
            office__is_active=True,
        )
        .select_related("office")
        .order_by("date", "start")
    ]
    availability_cache.put_open(windows)
    return windows


class SlotPlace(Protocol):
    """Where and when a slot is: a Slot, or what the booking path remembers of one."""

    @property
    def pk(self) -> int: ...
    @property
    def office_id(self) -> int: ...
    @property
    def date(self) -> datetime.date: ...
    @property
    def start(self) -> datetime.time: ...


def alternatives(
    *,
    slot: SlotPlace,
    now: datetime.datetime | None = None,
    limit: int = 3,
    cached: "list[Alternative] | None" = None,
) -> "list[Alternative]":
    """Windows with places nearest to ``slot``: same office first, then nearest day and time.

    ``cached`` is the list of open windows when the caller already has it.
    """
    now = timezone.localtime(now or timezone.now())
    target = datetime.datetime.combine(slot.date, slot.start)
    windows = cached if cached is not None else open_windows_now(now=now)
    known_full = availability_cache.known_full()
    future = [
        a
        for a in windows
        if a.pk != slot.pk
        and a.pk not in known_full
        and timezone.make_aware(datetime.datetime.combine(a.date, a.start)) > now
    ]

    def distance(a: "Alternative") -> tuple[bool, int, float]:
        minutes = abs((datetime.datetime.combine(a.date, a.start) - target).total_seconds())
        return (a.office_id != slot.office_id, abs((a.date - slot.date).days), minutes)

    return sorted(future, key=distance)[:limit]


@dataclass(frozen=True)
class Alternative:
    pk: int
    office_id: int
    office_name: str
    date: datetime.date
    start: datetime.time
    end: datetime.time
    remaining: int


def bookable_ebike(*, user: User, ebike_id: int) -> EBike | None:
    """The user's own e-bike without a plate, with its owner, in one query; or None."""
    return (
        EBike.objects.select_related("resident")
        .filter(pk=ebike_id, resident__user=user, plate__isnull=True)
        .first()
    )


def bookings_for_user(user: User) -> QuerySet[Booking]:
    return (
        Booking.objects.filter(resident__user=user)
        .select_related("office", "slot", "ebike")
        .order_by("-date", "-created_at")
    )


def booking_for_user(user: User, code: str) -> Booking | None:
    if not is_confirmation_code(code):
        return None
    return (
        Booking.objects.filter(resident__user=user, code=code.upper())
        .select_related("office", "slot", "ebike", "resident")
        .first()
    )


def active_booking_for_resident(resident: Resident) -> Booking | None:
    return (
        Booking.objects.filter(resident=resident, status__in=Booking.ACTIVE_STATUSES)
        .select_related("office", "slot")
        .first()
    )


@dataclass(frozen=True)
class PreviewDay:
    date: datetime.date
    # "released"; "planned" (will release ``places``); "closed"; "quota" (open, but the
    # week's quota is used up); "capacity" (open, no online places); or "unreleased"
    # (today or earlier and never released: the schedule only releases days ahead).
    state: str
    places: int
    booked: int


def capacity_preview(
    *, today: datetime.date, days: int = 14, first_releasable: datetime.date | None = None
) -> list[tuple[Office, list[PreviewDay]]]:
    """Released places, and what the release will give, per office for the coming days.

    Each day not released yet is decided by the release's own rule, in date order as
    the schedule releases them (``offices.planning.days_plan``); ``first_releasable`` is the
    first day the schedule will still release (``first_scheduled_day``; default tomorrow).
    """
    first_releasable = first_releasable or today + datetime.timedelta(days=1)
    last = today + datetime.timedelta(days=days - 1)
    start = week_bounds(today)[0]
    offices = list(
        Office.objects.filter(is_active=True).prefetch_related("windows").order_by("code")
    )
    plans = offices_days_plan(
        offices=offices, first=start, last=last, first_releasable=first_releasable
    )
    booked = {
        (r["office_id"], r["date"]): r["booked"]
        for r in Slot.objects.filter(office__in=offices, date__range=(today, last))
        .values("office_id", "date")
        .annotate(booked=Sum("booked"))
    }
    return [
        (
            office,
            [
                PreviewDay(day, state, places, booked.get((office.id, day), 0))
                for day, state, places in plans[office.id]
                if day >= today
            ],
        )
        for office in offices
    ]
