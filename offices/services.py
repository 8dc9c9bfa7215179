"""Quota rules: the one place where office capacity changes.

Configuration (daily capacity, weekly quota, windows, opening days) is read by the
release, so a change to it applies to days not yet released. Released days change
only through ``slot_capacity_change``: up freely, down to what is booked. The
city-wide weekly online total of main-urban offices may not fall below
``settings.WEEKLY_ONLINE_FLOOR``: configuration changes are measured on the configured
week, closed days and released-slot cuts on the calendar (ISO) week they fall in. Every
accepted change is written to QuotaChange.
"""

import copy
import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import DomainError
from registration.models import User

from .models import ClosedDay, Complaint, Office, PlannedChange, QuotaChange, TimeWindow

logger = logging.getLogger(__name__)

QUOTA_FIELDS = ("daily_capacity", "weekly_quota", "opening_weekdays", "is_main_urban", "is_active")


class QuotaError(DomainError):
    """A quota change that the rules refuse; the message says why."""


class ComplaintError(DomainError):
    """A complaint or an answer the rules refuse; ``code`` names the field at fault."""


class BelowWeeklyFloor(QuotaError):
    pass


class BelowBooked(QuotaError):
    pass


class DayAlreadyReleased(QuotaError):
    pass


@dataclass(frozen=True)
class OfficePlan:
    """The numbers of an office that decide its weekly online capacity."""

    daily_capacity: int
    weekly_quota: int
    window_capacity: int
    open_days: int
    is_main_urban: bool
    is_active: bool

    @property
    def weekly_online(self) -> int:
        per_day = min(self.daily_capacity, self.window_capacity)
        return min(self.weekly_quota, per_day * self.open_days)

    @property
    def counts_for_floor(self) -> bool:
        return self.is_main_urban and self.is_active


def office_plan(office: Office, *, windows: Iterable[TimeWindow] | None = None) -> OfficePlan:
    windows = office.windows.all() if windows is None else windows
    return OfficePlan(
        daily_capacity=office.daily_capacity,
        weekly_quota=office.weekly_quota,
        window_capacity=sum(w.capacity for w in windows),
        open_days=len(office.opening_weekdays),
        is_main_urban=office.is_main_urban,
        is_active=office.is_active,
    )


def main_urban_weekly_total(*, replace: dict[int, OfficePlan] | None = None) -> int:
    """Return the city-wide weekly online capacity of active main-urban offices.

    ``replace`` maps office ids to plans that stand in for the stored ones, so a
    proposed change can be measured before it is saved.
    """
    replace = replace or {}
    plans = {o.pk: office_plan(o) for o in Office.objects.prefetch_related("windows")}
    plans.update(replace)
    return sum(p.weekly_online for p in plans.values() if p.counts_for_floor)


def check_floor(*, before: int, after: int) -> None:
    floor = settings.WEEKLY_ONLINE_FLOOR
    # A change that raises the total is always allowed, even below the floor.
    if after < floor and after < before:
        raise BelowWeeklyFloor(
            _(
                "Refused: the weekly online total of main-urban offices would fall from "
                "%(before)d to %(after)d, below the floor of %(floor)d places a week."
            )
            % {"before": before, "after": after, "floor": floor}
        )


def lock_offices() -> None:
    """Serialise capacity changes and releases, so two cannot each pass the floor check
    alone or a plan slip in during a release. FOR NO KEY UPDATE: bookings, slots and
    audit rows that refer to an office do not wait for it."""
    list(Office.objects.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))


def quota_log(
    *,
    office: Office,
    field: str,
    old: object,
    new: object,
    reason: str,
    user: User | None,
    now: datetime.datetime,
    target: str = "",
) -> QuotaChange:
    return QuotaChange.objects.create(
        office=office,
        field=field,
        target=target,
        old_value=str(old),
        new_value=str(new),
        reason=reason,
        changed_by=user,
        changed_at=now,
    )


def reason_required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise QuotaError(_("Give a reason for the change; it is kept in the quota log."))
    return reason


def office_quota_validate(*, office: Office, changes: dict) -> None:
    """Raise QuotaError if saving ``changes`` on ``office`` would break a rule."""
    unknown = set(changes) - set(QUOTA_FIELDS)
    if unknown:
        raise ValueError(f"not quota fields: {sorted(unknown)}")
    if office.pk is None:
        return  # a new office only adds capacity
    stored = Office.objects.get(pk=office.pk)
    before_plan = office_plan(stored)
    for field, value in changes.items():
        setattr(stored, field, value)
    after_plan = office_plan(stored)
    before = main_urban_weekly_total()
    after = main_urban_weekly_total(replace={office.pk: after_plan})
    if before_plan != after_plan:
        check_floor(before=before, after=after)
        _check_floor_ahead(config_after=_config_with(stored))


def office_quota_change(
    *,
    office: Office,
    changes: dict,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> list[QuotaChange]:
    """Apply quota field changes to an office, check the floor, and log each one."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()
        stored = Office.objects.get(pk=office.pk)
        changed = {f: v for f, v in changes.items() if getattr(stored, f) != v}
        if not changed:
            return []
        reason = reason_required(reason)
        office_quota_validate(office=stored, changes=changed)
        entries = []
        for field, value in changed.items():
            entries.append(
                quota_log(
                    office=stored,
                    field=field,
                    old=getattr(stored, field),
                    new=value,
                    reason=reason,
                    user=user,
                    now=now,
                )
            )
            setattr(stored, field, value)
        stored.save(update_fields=[*changed, "updated_at"])
    for field, value in changed.items():
        setattr(office, field, value)
    return entries


def office_add(
    *, office: Office, windows: Iterable[tuple[datetime.time, datetime.time, int]] = ()
) -> Office:
    """Store a new office with its first windows (start, end, capacity). A new office only
    adds places, so there is no floor to check; its capacity reaches the weekly total when
    the next release reads it."""
    with transaction.atomic():
        office.save()
        TimeWindow.objects.bulk_create(
            TimeWindow(office=office, start=start, end=end, capacity=capacity)
            for start, end, capacity in windows
        )
    return office


def office_save(
    *, office: Office, changes: dict, reason: str, user: User | None = None
) -> list[QuotaChange]:
    """Save an existing office edited as a whole (an admin form): its descriptive fields
    as given, its quota fields in ``changes`` through ``office_quota_change`` (the floor,
    the reason, the log). The offices are locked first, in the order the release takes
    them, so the caller's transaction never holds this row while waiting for the others."""
    with transaction.atomic():
        lock_offices()
        stored = Office.objects.get(pk=office.pk)
        for field in QUOTA_FIELDS:
            setattr(office, field, getattr(stored, field))
        office.save()
        return office_quota_change(office=office, changes=changes, reason=reason, user=user)


def _window_label(window: TimeWindow) -> str:
    return f"{window.start:%H:%M}-{window.end:%H:%M}"


def window_validate(*, window: TimeWindow, open_from: datetime.date, delete: bool = False) -> None:
    """``open_from``: the office's first day not released (``appointments.capacity``)."""
    office = window.office
    windows = [w for w in office.windows.all() if w.pk != window.pk]
    if not delete:
        windows.append(window)
    planned = (
        PlannedChange.objects.filter(window_id=window.pk, applied_at__isnull=True).first()
        if window.pk
        else None
    )
    if planned is not None and (delete or window.office_id != planned.office_id):
        raise QuotaError(
            _("A change of this window is planned from %(date)s; withdraw it first.")
            % {"date": planned.effective_from.isoformat()}
        )
    before = main_urban_weekly_total()
    after = main_urban_weekly_total(replace={office.pk: office_plan(office, windows=windows)})
    check_floor(before=before, after=after)
    # The windows as they would stand from the first open day and on every planned day.
    _check_windows_ahead(
        office, pending_changes(office_ids=[office.pk]), stored=windows, open_from=open_from
    )
    _check_floor_ahead(config_after=_config_with(office, windows))


def window_save(
    *,
    window: TimeWindow,
    reason: str,
    open_from: datetime.date,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> TimeWindow:
    """Create or change a time window of an office (applies to days not yet released)."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()
        old = TimeWindow.objects.filter(pk=window.pk).first() if window.pk else None
        old_text = f"{_window_label(old)} x{old.capacity}" if old else ""
        new_text = f"{_window_label(window)} x{window.capacity}"
        if old_text == new_text:
            return window
        reason = reason_required(reason)
        window_validate(window=window, open_from=open_from)
        window.full_clean()
        window.save()
        quota_log(
            office=window.office,
            field="window",
            target=_window_label(window),
            old=old_text,
            new=new_text,
            reason=reason,
            user=user,
            now=now,
        )
    return window


def window_delete(
    *,
    window: TimeWindow,
    reason: str,
    open_from: datetime.date,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()
        reason = reason_required(reason)
        window_validate(window=window, open_from=open_from, delete=True)
        quota_log(
            office=window.office,
            field="window",
            target=_window_label(window),
            old=f"{_window_label(window)} x{window.capacity}",
            new="",
            reason=reason,
            user=user,
            now=now,
        )
        window.delete()


def closed_day_record(
    *,
    office: Office,
    date: datetime.date,
    reason: str,
    user: User | None = None,
    now: datetime.datetime,
) -> ClosedDay:
    """Write a closing and its log line; the caller has checked that it may be closed
    (``appointments.capacity.closed_day_add``: not released, the week above the floor)."""
    closed, created = ClosedDay.objects.get_or_create(
        office=office, date=date, defaults={"reason": reason}
    )
    if created:
        quota_log(
            office=office,
            field="closed_day",
            target=date.isoformat(),
            old="open",
            new="closed",
            reason=reason,
            user=user,
            now=now,
        )
    return closed


def closed_day_remove(
    *,
    closed_day: ClosedDay,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()  # as every capacity change: one at a time, and not during a release
        reason = reason_required(reason)
        quota_log(
            office=closed_day.office,
            field="closed_day",
            target=closed_day.date.isoformat(),
            old="closed",
            new="open",
            reason=reason,
            user=user,
            now=now,
        )
        closed_day.delete()


def complaint_file(
    *,
    user: User,
    office: Office,
    category: str,
    incident_date: datetime.date,
    text: str,
    now: datetime.datetime | None = None,
) -> Complaint:
    """Store a resident's complaint; admins see it tagged with the office."""
    now = now or timezone.now()
    text = (text or "").strip()
    if not text:
        raise ComplaintError(_("Describe what happened."), code="text")
    if incident_date > timezone.localdate(now):
        raise ComplaintError(
            _("The date of the incident cannot be in the future."), code="incident_date"
        )
    # One account's complaints are counted and written under a lock on its row, so
    # parallel posts cannot slip past the daily limit.
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        limit = settings.COMPLAINT_LIMIT_PER_OFFICE_PER_DAY
        day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        filed_today = Complaint.objects.filter(
            user=user,
            office=office,
            created_at__gte=day_start,
            created_at__lt=day_start + datetime.timedelta(days=1),
        ).count()
        if limit and filed_today >= limit:
            raise ComplaintError(
                ngettext(
                    "You have already sent %(count)d complaint about this service point today. "
                    "Please add anything new tomorrow.",
                    "You have already sent %(count)d complaints about this service point today. "
                    "Please add anything new tomorrow.",
                    filed_today,
                )
                % {"count": filed_today},
                code="too_many",
            )
        return Complaint.objects.create(
            user=user,
            office=office,
            category=category,
            incident_date=incident_date,
            text=text[: Complaint.TEXT_MAX_LENGTH],
            created_at=now,
        )


def complaint_answer(
    *,
    complaint: Complaint,
    answer: str,
    user: User,
    close: bool = False,
    now: datetime.datetime | None = None,
) -> Complaint:
    """Answer a complaint (the resident sees it on their list); optionally close it."""
    answer = (answer or "").strip()
    if not answer:
        raise ComplaintError(_("Write an answer for the resident."), code="answer")
    complaint.answer = answer
    complaint.answered_at = now or timezone.now()
    complaint.status = Complaint.Status.CLOSED if close else Complaint.Status.ANSWERED
    if complaint.assigned_to_id is None:
        complaint.assigned_to = user
    complaint.save(update_fields=["answer", "answered_at", "status", "assigned_to"])
    return complaint


def complaint_update_validate(*, complaint: Complaint, status: str, answer: str) -> None:
    """A complaint is marked answered only with an answer; an answer the resident may have
    read is replaced, never cleared."""
    answer = (answer or "").strip()
    if complaint.answer and not answer:
        raise ComplaintError(
            _("The resident may have read the answer: write a new one instead of clearing it."),
            code="answer_cleared",
        )
    if status == Complaint.Status.ANSWERED and not (answer or complaint.answer):
        raise ComplaintError(_("Write an answer for the resident."), code="answer")


def complaint_update(
    *,
    complaint: Complaint,
    status: str,
    assigned_to: User | None,
    answer: str,
    user: User,
    now: datetime.datetime | None = None,
) -> Complaint:
    """A supervisor's handling of a complaint: a new answer goes through
    ``complaint_answer`` (stamped, shown to the resident); otherwise the status and who
    handles it change. ``complaint`` may carry a form's unsaved edits; the stored row is
    what is compared and written."""
    with transaction.atomic():
        stored = Complaint.objects.select_for_update().get(pk=complaint.pk)
        complaint_update_validate(complaint=stored, status=status, answer=answer)
        answer = (answer or "").strip()
        stored.assigned_to = assigned_to
        if answer and answer != stored.answer:
            complaint_answer(
                complaint=stored,
                answer=answer,
                user=user,
                close=status == Complaint.Status.CLOSED,
                now=now,
            )
        else:
            stored.status = status
            stored.save(update_fields=["status", "assigned_to"])
    for field in ("status", "assigned_to", "answer", "answered_at"):
        setattr(complaint, field, getattr(stored, field))
    return complaint


# --- changes that take effect from a later day ---------------------------------------------


def pending_changes(
    *, office_ids: Iterable[int] | None = None, until: datetime.date | None = None
) -> list[PlannedChange]:
    """Planned changes not yet carried by the offices' own settings, oldest date first."""
    pending = PlannedChange.objects.filter(applied_at__isnull=True).order_by("effective_from", "pk")
    if office_ids is not None:
        pending = pending.filter(office_id__in=office_ids)
    if until is not None:
        pending = pending.filter(effective_from__lte=until)
    return list(pending)


def plan_for_day(
    office: Office,
    windows: list[TimeWindow],
    day: datetime.date,
    pending: Iterable[PlannedChange],
    *,
    strict: bool = False,
) -> tuple[Office, list[TimeWindow]]:
    """Return copies of ``office`` and its ``windows`` (by start time) with the planned
    changes due by ``day`` laid over them: what the release of ``day`` uses, and what its
    preview shows. A window planned to start that day has no primary key yet."""
    due = [c for c in pending if c.office_id == office.pk and c.effective_from <= day]
    if not due:
        return office, windows
    office = copy.copy(office)
    windows = [copy.copy(w) for w in windows]
    Field = PlannedChange.Field
    for change in due:
        if change.field == Field.WINDOW_CAPACITY:
            for w in windows:
                if w.pk == change.window_id:
                    w.capacity = change.value
        elif change.field == Field.WINDOW_REMOVE:
            windows = [w for w in windows if w.pk != change.window_id]
        elif change.field == Field.WINDOW_ADD:
            # A new window's times: checked when planned, and a CHECK constraint.
            assert change.start is not None and change.end is not None
            if not strict and any(w.start < change.end and change.start < w.end for w in windows):
                # Refused when planned or edited; should a clash exist anyway, the day is
                # released with the windows that are there rather than not at all.
                logger.error("planned window %s overlaps a window; not applied", change.pk)
                continue
            windows.append(
                TimeWindow(office=office, start=change.start, end=change.end, capacity=change.value)
            )
        else:
            setattr(office, change.field, change.value)
    return office, sorted(windows, key=lambda w: w.start)


# Each office (by id) and its windows, as the floor checks measure them.
Config = dict[int, tuple[Office, list[TimeWindow]]]


def _config() -> Config:
    return {o.pk: (o, list(o.windows.all())) for o in Office.objects.prefetch_related("windows")}


def _config_with(office: Office, windows: list[TimeWindow] | None = None) -> Config:
    """The configuration with ``office`` (and its ``windows``) as a change would leave it."""
    config = _config()
    config[office.pk] = (office, config[office.pk][1] if windows is None else windows)
    return config


def _total_on(config: Config, pending: Sequence[PlannedChange], day: datetime.date) -> int:
    total = 0
    for office, windows in config.values():
        office, windows = plan_for_day(office, windows, day, pending)
        plan = office_plan(office, windows=windows)
        if plan.counts_for_floor:
            total += plan.weekly_online
    return total


def _check_floor_ahead(
    *, config_after: Config | None = None, pending_after: Sequence[PlannedChange] | None = None
) -> None:
    """Check the floor on every day a planned change takes effect, not just today.

    ``config_after`` / ``pending_after`` stand for the configuration and the planned
    changes as a proposed change would leave them (None: as they are).
    """
    pending = pending_changes()
    if not pending and not pending_after:
        return
    config = _config()
    after_config = config if config_after is None else config_after
    after_pending = pending if pending_after is None else pending_after
    days = sorted({c.effective_from for c in pending} | {c.effective_from for c in after_pending})
    for day in days:
        before = _total_on(config, pending, day)
        after = _total_on(after_config, after_pending, day)
        try:
            check_floor(before=before, after=after)
        except BelowWeeklyFloor as exc:
            raise BelowWeeklyFloor(
                _("From %(date)s: %(refusal)s") % {"date": day.isoformat(), "refusal": exc}
            ) from None


def _plan_effect(change: PlannedChange, others: Sequence[PlannedChange]) -> tuple[str, str, str]:
    """(target, value without the change, value with it) on its day, for the log."""
    Field = PlannedChange.Field
    office = change.office
    office_then, windows_then = plan_for_day(
        office, list(office.windows.all()), change.effective_from, others
    )
    if change.field == Field.WINDOW_ADD:
        label = f"{change.start:%H:%M}-{change.end:%H:%M}"
        return label, "", f"{label} x{change.value}"
    if change.field in PlannedChange.WINDOW_FIELDS:
        assert change.window is not None  # these fields name a window (a CHECK constraint)
        label = _window_label(change.window)
        now = next((w.capacity for w in windows_then if w.pk == change.window_id), None)
        if change.field == Field.WINDOW_REMOVE:
            return label, "" if now is None else f"{label} x{now}", ""
        return label, "" if now is None else str(now), str(change.value)
    return "", str(getattr(office_then, change.field)), str(change.value)


def planned_change_validate(
    *,
    office: Office,
    field: str,
    effective_from: datetime.date,
    value: int | None = None,
    window: TimeWindow | None = None,
    start: datetime.time | None = None,
    end: datetime.time | None = None,
    open_from: datetime.date,
) -> PlannedChange:
    """Return the unsaved change, or raise QuotaError saying why it cannot be planned.

    ``open_from`` is the office's first day not released (``appointments.capacity``)."""
    Field = PlannedChange.Field
    if field not in Field.values:
        raise QuotaError(_("This setting cannot be planned ahead."))
    if field == Field.WINDOW_REMOVE:
        value = 0
    elif value is None or value < 0:
        raise QuotaError(_("Give the new capacity (zero or more)."))
    elif field in (Field.WINDOW_ADD, Field.WINDOW_CAPACITY) and value < 1:
        raise QuotaError(_("A time window has at least one place."))
    if (field in PlannedChange.WINDOW_FIELDS) != (window is not None):
        raise QuotaError(_("Choose the time window when changing or ending one, and only then."))
    if window is not None and window.office_id != office.pk:
        raise QuotaError(_("This time window belongs to another office."))
    if field == Field.WINDOW_ADD:
        if start is None or end is None or end <= start:
            raise QuotaError(_("Give the new window's start and a later end."))
    else:
        start = end = None
    earliest = open_from
    if effective_from < earliest:
        raise DayAlreadyReleased(
            _(
                "Days before %(date)s are already released for %(office)s; a change can take "
                "effect from %(date)s at the earliest (released days change through their "
                "slots)."
            )
            % {"date": earliest.isoformat(), "office": office.name}
        )
    change = PlannedChange(
        office=office,
        field=field,
        window=window,
        value=value,
        start=start,
        end=end,
        effective_from=effective_from,
    )
    pending_after = sorted([*pending_changes(), change], key=_change_order)
    if field in (Field.WINDOW_ADD, Field.WINDOW_REMOVE):
        _check_windows_ahead(office, pending_after, open_from=open_from)
    _check_floor_ahead(pending_after=pending_after)
    return change


def _check_windows_ahead(
    office: Office,
    pending: Sequence[PlannedChange],
    *,
    open_from: datetime.date,
    stored: list[TimeWindow] | None = None,
) -> None:
    """Windows must not overlap on any planned day, and a plan leaves at least one.

    ``stored`` stands for the office's windows as a direct edit would leave them; they
    are then checked from the first open day too (and may be none: a closed office).
    """
    days = {c.effective_from for c in pending if c.office_id == office.pk}
    if stored is None:
        stored = list(office.windows.all())
    else:
        days.add(open_from)
    for day in sorted(days):
        windows = plan_for_day(office, stored, day, pending, strict=True)[1]
        windows = sorted(windows, key=lambda w: w.start)
        if not windows and any(c.effective_from <= day for c in pending):
            raise QuotaError(
                _("From %(date)s the office would have no time window left.")
                % {"date": day.isoformat()}
            )
        for before, after in zip(windows, windows[1:], strict=False):
            if after.start < before.end:
                raise QuotaError(
                    _("From %(date)s the windows %(first)s and %(second)s would overlap.")
                    % {
                        "date": day.isoformat(),
                        "first": _window_label(before),
                        "second": _window_label(after),
                    }
                )


def _change_order(change: PlannedChange) -> tuple[datetime.date, float]:
    return (change.effective_from, change.pk or float("inf"))


def planned_change_add(
    *,
    office: Office,
    field: str,
    effective_from: datetime.date,
    reason: str,
    value: int | None = None,
    window: TimeWindow | None = None,
    start: datetime.time | None = None,
    end: datetime.time | None = None,
    open_from: datetime.date,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> PlannedChange:
    """Plan a capacity change from a day on; checked against the floor, logged."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()
        reason = reason_required(reason)
        change = planned_change_validate(
            office=office,
            field=field,
            value=value,
            effective_from=effective_from,
            window=window,
            start=start,
            end=end,
            open_from=open_from,
        )
        target, old, new = _plan_effect(change, pending_changes())
        change.reason, change.created_by, change.created_at = reason, user, now
        change.save()
        _log_plan(change, target=target, old=old, new=new, reason=reason, user=user, now=now)
    return change


def _log_plan(
    change: PlannedChange,
    *,
    target: str,
    old: str,
    new: str,
    reason: str,
    user: User | None,
    now: datetime.datetime,
) -> None:
    entry = quota_log(
        office=change.office,
        field=change.field,
        target=target,
        old=old,
        new=new,
        reason=reason,
        user=user,
        now=now,
    )
    entry.effective_from = change.effective_from
    entry.save(update_fields=["effective_from"])


def planned_change_cancel(
    *,
    change: PlannedChange,
    reason: str,
    open_from: datetime.date,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Withdraw a planned change that has not taken effect; checked and logged."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_offices()
        reason = reason_required(reason)
        change = PlannedChange.objects.select_related("office", "window").get(pk=change.pk)
        if change.applied_at is not None or change.effective_from < open_from:
            raise DayAlreadyReleased(
                _("This change has already taken effect; plan another one instead.")
            )
        others = [c for c in pending_changes() if c.pk != change.pk]
        if change.field in (PlannedChange.Field.WINDOW_ADD, PlannedChange.Field.WINDOW_REMOVE):
            _check_windows_ahead(change.office, others, open_from=open_from)
        _check_floor_ahead(pending_after=others)
        target, without, with_it = _plan_effect(change, others)
        _log_plan(
            change, target=target, old=with_it, new=without, reason=reason, user=user, now=now
        )
        change.delete()


def planned_changes_apply(*, today: datetime.date, now: datetime.datetime) -> int:
    """Write the planned changes due by ``today`` into the offices' own settings.

    Every day not released yet is today or later, so for the release and the preview this
    changes nothing: it only keeps the office pages showing what is in force. Idempotent.
    """
    applied, removed = 0, set[int]()
    with transaction.atomic():
        lock_offices()  # offices first, then plans: the order planning and withdrawing use
        for change in (
            PlannedChange.objects.select_for_update(of=("self",))
            .filter(applied_at__isnull=True, effective_from__lte=today)
            .select_related("office", "window")
            .order_by("effective_from", "pk")
        ):
            if change.window_id in removed:
                continue  # deleted with its window
            if change.field == PlannedChange.Field.WINDOW_CAPACITY:
                assert change.window_id is not None  # it names a window (a CHECK constraint)
                TimeWindow.objects.filter(pk=change.window_id).update(capacity=change.value)
            elif change.field == PlannedChange.Field.WINDOW_REMOVE:
                # The plan (logged when made) and any other naming the window go with it.
                assert change.window_id is not None  # it names a window (a CHECK constraint)
                TimeWindow.objects.filter(pk=change.window_id).delete()
                removed.add(change.window_id)
                applied += 1
                continue
            elif change.field == PlannedChange.Field.WINDOW_ADD:
                assert change.start is not None and change.end is not None  # a CHECK constraint
                clash = TimeWindow.objects.filter(
                    office_id=change.office_id, start__lt=change.end, end__gt=change.start
                )
                if clash.exists():
                    # Never stop the city's release for one office's clash: the plan stays
                    # pending (see plan_for_day) until an admin acts.
                    logger.error("planned window %s overlaps a window; not applied", change.pk)
                    continue
                TimeWindow.objects.create(
                    office_id=change.office_id,
                    start=change.start,
                    end=change.end,
                    capacity=change.value,
                )
            else:
                Office.objects.filter(pk=change.office_id).update(**{change.field: change.value})
            change.applied_at = now
            change.save(update_fields=["applied_at"])
            applied += 1
    return applied


def main_urban_weekly_totals_ahead() -> list[tuple[datetime.date, int]]:
    """The weekly main-urban total from each day a planned change takes effect."""
    pending = pending_changes()
    if not pending:
        return []
    config = _config()
    days = sorted({c.effective_from for c in pending})
    return [(day, _total_on(config, pending, day)) for day in days]


def office_clerks_replace(
    *, office: Office, clerks: Iterable[User]
) -> tuple[list[User], list[User]]:
    """Make ``clerks`` the office's clerks; return those added and those removed (in id
    order). Who decided it is audited by ``supervision.services.office_clerks_set``."""
    wanted = {clerk.pk: clerk for clerk in clerks}
    current = {clerk.pk: clerk for clerk in office.clerks.all()}
    added = [wanted[pk] for pk in sorted(wanted.keys() - current.keys())]
    removed = [current[pk] for pk in sorted(current.keys() - wanted.keys())]
    office.clerks.add(*added)
    office.clerks.remove(*removed)
    return added, removed
