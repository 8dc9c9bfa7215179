"""Capacity changes that depend on what is released: the one place that knows both.

Offices own their settings (``offices.services``); which days are released, and what
released slots hold, is this app's. A closing, a slot's capacity, a time window or a plan
ahead is checked here against the released days (the first day still open, the ISO week's
places against the floor) and written by the service that owns the table.

Each change locks the offices first (``offices.services.lock_offices``), as the release
does: the release and a change are then one after the other, so a change cannot pass its
floor check against days that a release running beside it is opening, and a release cannot
open a day a plan is being added for.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.clock import week_bounds
from offices import services as quota_services
from offices.models import ClosedDay, Office, PlannedChange, TimeWindow
from registration.models import User

from . import cache as availability_cache
from .models import DayRelease, Slot
from .planning import offices_days_plan
from .services import day_sold_out_record


def first_open_day(office: Office, *, today: datetime.date | None = None) -> datetime.date:
    """The first day whose places are not released yet: changes can apply from here on."""
    today = today or timezone.localdate()
    last = (
        DayRelease.objects.filter(office=office, date__gte=today)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    return last + datetime.timedelta(days=1) if last else today


def main_urban_week_total(
    *,
    day: datetime.date,
    today: datetime.date,
    closed: Iterable[tuple[int, datetime.date]] = (),
    slot_capacity: dict[int, int] | None = None,
) -> int:
    """Return the places active main-urban offices give in the ISO week of ``day``.

    Day by day as the admins' preview counts them (``days_plan``: released days their
    slots, the days ahead what their release will give, days up to today never released
    nothing). ``closed`` adds (office id, date) closings and ``slot_capacity`` maps slot
    ids to capacities that stand in for the stored ones, so a change can be measured first.
    """
    monday, sunday = week_bounds(day)
    offices = list(
        Office.objects.filter(is_main_urban=True, is_active=True).prefetch_related("windows")
    )
    plans = offices_days_plan(
        offices=offices,
        first=monday,
        last=sunday,
        first_releasable=today + datetime.timedelta(days=1),
        closed=closed,
        slot_capacity=slot_capacity,
    )
    return sum(places for days in plans.values() for _day, _state, places in days)


def _check_week_floor(
    *,
    day: datetime.date,
    today: datetime.date,
    closed: Iterable[tuple[int, datetime.date]] = (),
    slot_capacity: dict[int, int] | None = None,
) -> None:
    """Refuse a closing or a slot cut (as for ``main_urban_week_total``) that takes the
    ISO week of ``day`` below the floor, naming the week."""
    try:
        quota_services.check_floor(
            before=main_urban_week_total(day=day, today=today),
            after=main_urban_week_total(
                day=day, today=today, closed=closed, slot_capacity=slot_capacity
            ),
        )
    except quota_services.BelowWeeklyFloor as exc:
        monday, sunday = week_bounds(day)
        year, number, _weekday = day.isocalendar()
        raise quota_services.BelowWeeklyFloor(
            _("Week %(week)s (%(monday)s to %(sunday)s): %(refusal)s")
            % {
                "week": f"{year}-W{number:02d}",
                "monday": monday.isoformat(),
                "sunday": sunday.isoformat(),
                "refusal": exc,
            }
        ) from None


def closed_day_validate(
    *, office: Office, date: datetime.date, now: datetime.datetime | None = None
) -> None:
    """Raise QuotaError if ``office`` cannot be closed on ``date``."""
    if DayRelease.objects.filter(office=office, date=date).exists():
        raise quota_services.DayAlreadyReleased(
            _(
                "%(date)s is already released for %(office)s; lower its slots' capacity "
                "instead (down to what is booked)."
            )
            % {"date": date.isoformat(), "office": office.name}
        )
    if office.is_main_urban and office.is_active:
        today = timezone.localdate(now or timezone.now())
        _check_week_floor(day=date, today=today, closed=[(office.pk, date)])


def closed_day_add(
    *,
    office: Office,
    date: datetime.date,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> ClosedDay:
    """Close an office on a day not yet released, unless its week falls below the floor."""
    now = now or timezone.now()
    with transaction.atomic():
        quota_services.lock_offices()
        reason = quota_services.reason_required(reason)
        office = Office.objects.get(pk=office.pk)
        closed_day_validate(office=office, date=date, now=now)
        return quota_services.closed_day_record(
            office=office, date=date, reason=reason, user=user, now=now
        )


def slot_capacity_validate(
    *, slot: Slot, capacity: int, now: datetime.datetime | None = None
) -> None:
    """Raise QuotaError if a released ``slot`` cannot have ``capacity`` places."""
    if capacity < 0:
        raise quota_services.QuotaError(_("Capacity cannot be negative."))
    if capacity < slot.booked:
        raise quota_services.BelowBooked(
            ngettext(
                "Refused: %(booked)d place of this slot is already booked, so its capacity "
                "cannot fall to %(capacity)d.",
                "Refused: %(booked)d places of this slot are already booked, so its capacity "
                "cannot fall to %(capacity)d.",
                slot.booked,
            )
            % {"booked": slot.booked, "capacity": capacity}
        )
    if capacity < slot.capacity and slot.office.is_main_urban and slot.office.is_active:
        today = timezone.localdate(now or timezone.now())
        _check_week_floor(day=slot.date, today=today, slot_capacity={slot.pk: capacity})


def slot_capacity_change(
    *,
    slot_id: int,
    capacity: int,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> Slot:
    """Change a released slot's capacity: up freely, down only to what is booked and
    never taking its week below the floor."""
    now = now or timezone.now()
    with transaction.atomic():
        quota_services.lock_offices()  # before the slot, in the order the release takes them
        slot = Slot.objects.select_for_update(of=("self",)).select_related("office").get(pk=slot_id)
        if capacity == slot.capacity:
            return slot
        reason = quota_services.reason_required(reason)
        slot_capacity_validate(slot=slot, capacity=capacity, now=now)
        quota_services.quota_log(
            office=slot.office,
            field="slot_capacity",
            target=f"{slot.date:%Y-%m-%d} {slot.start:%H:%M}-{slot.end:%H:%M}",
            old=slot.capacity,
            new=capacity,
            reason=reason,
            user=user,
            now=now,
        )
        DayRelease.objects.filter(office=slot.office, date=slot.date).update(
            capacity=F("capacity") + (capacity - slot.capacity)
        )
        slot.capacity = capacity
        slot.save(update_fields=["capacity"])
        transaction.on_commit(lambda: _after_capacity_change(slot, now))
    return slot


def _after_capacity_change(slot: Slot, now: datetime.datetime) -> None:
    availability_cache.invalidate()
    # Recomputed from the row on the next booking attempt if it is still full.
    availability_cache.clear_full(slot.pk)
    if slot.booked >= slot.capacity:  # lowered to what is booked: the day may be full now
        day_sold_out_record(slot.office_id, slot.date, now)


# --- settings that apply from the first day not released --------------------------------


def window_validate(*, window: TimeWindow, delete: bool = False) -> None:
    """Raise QuotaError if the window cannot be saved (or deleted) as it stands."""
    office = window.office
    quota_services.window_validate(window=window, delete=delete, open_from=first_open_day(office))


def window_save(
    *,
    window: TimeWindow,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> TimeWindow:
    """Create or change a time window of an office (applies to days not yet released)."""
    with transaction.atomic():
        quota_services.lock_offices()
        return quota_services.window_save(
            window=window,
            reason=reason,
            open_from=first_open_day(window.office),
            user=user,
            now=now,
        )


def window_delete(
    *,
    window: TimeWindow,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> None:
    with transaction.atomic():
        quota_services.lock_offices()
        quota_services.window_delete(
            window=window,
            reason=reason,
            open_from=first_open_day(window.office),
            user=user,
            now=now,
        )


def planned_change_validate(*, office: Office, **plan: Any) -> PlannedChange:
    """The unsaved change, or QuotaError saying why it cannot be planned (``plan``: the
    arguments of ``offices.services.planned_change_validate``)."""
    return quota_services.planned_change_validate(
        office=office, open_from=first_open_day(office), **plan
    )


def planned_change_add(*, office: Office, **plan: Any) -> PlannedChange:
    """Plan a capacity change from a day not released yet; checked against the floor, logged."""
    with transaction.atomic():
        quota_services.lock_offices()
        return quota_services.planned_change_add(
            office=office, open_from=first_open_day(office), **plan
        )


def planned_change_cancel(
    *,
    change: PlannedChange,
    reason: str,
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Withdraw a planned change that has not taken effect; checked and logged."""
    with transaction.atomic():
        quota_services.lock_offices()
        quota_services.planned_change_cancel(
            change=change,
            reason=reason,
            open_from=first_open_day(change.office),
            user=user,
            now=now,
        )
