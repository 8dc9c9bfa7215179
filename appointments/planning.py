"""The day plans of offices over a range of days, from what is released and planned."""

import datetime
from collections.abc import Iterable, Sequence

from core.clock import week_bounds
from offices import services as quota_services
from offices.models import ClosedDay, Office
from offices.planning import days_plan

from .models import DayRelease, Slot


def offices_days_plan(
    *,
    offices: Sequence[Office],
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
