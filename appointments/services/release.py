"""Releasing slots: each office's day by the day plan, idempotent, reconciled every minute;
the release schedule."""

import datetime
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.clock import local_today, week_bounds
from offices import services as quota_services
from offices.models import ClosedDay, Office, PlannedChange
from offices.planning import day_plan, places_used_in_week

from .. import cache as availability_cache
from .. import selectors
from ..models import DayRelease, Slot
from .errors import ScheduleError

logger = logging.getLogger("appointments.services")  # one name for the whole package


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
        # The offices' lock first, as every capacity change takes it: while the day is
        # released no window, quota, closing or plan changes under it, so what is released
        # is what the floor check of that change measured, and no change can pass its floor
        # check against a day this release is opening. Then the office planning, asked
        # explicitly: plans due by today written into the offices, the rest by day.
        quota_services.lock_offices()
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


# --- the release schedule -------------------------------------------------------------------

RELEASE_TASK_NAME = "Release slots for upcoming days"
MAX_HORIZON_DAYS = 14


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
