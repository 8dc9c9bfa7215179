"""How many places an office opens on a day: the one rule the release, the floor check
and the admins' preview share. Pure: it reads nothing; callers pass what is released."""

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from core.clock import week_bounds

from .models import Office, PlannedChange, TimeWindow
from .services import plan_for_day


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


@dataclass(frozen=True)
class DayPlan:
    """What releasing one office's day gives: each window with its places, or why none.

    ``reason`` says why an open day has no places: "quota" when the week's quota is used
    up, "capacity" when the office releases nothing online that day; "" otherwise.
    """

    closed: bool
    windows: tuple[TimeWindow, ...] = ()
    shares: tuple[int, ...] = ()
    reason: str = ""

    @property
    def places(self) -> int:
        return sum(self.shares)


def places_used_in_week(day: datetime.date, places_by_day: Mapping[datetime.date, int]) -> int:
    """The places the other days of ``day``'s ISO week have released (or will, first)."""
    monday, sunday = week_bounds(day)
    return sum(n for d, n in places_by_day.items() if monday <= d <= sunday and d != day)


def office_closed_on(office: Office, day: datetime.date, *, closed_by_admin: bool) -> bool:
    """The rule for a day an office gives no places at all: a weekday it does not open, or a
    day an admin closed (a ClosedDay, which the caller has looked up)."""
    return closed_by_admin or not office.opens_on_weekday(day.isoweekday())


def day_plan(
    *,
    office: Office,
    windows: Iterable[TimeWindow],
    day: datetime.date,
    closed: bool,
    pending: Sequence[PlannedChange],
    used_in_week: int,
) -> DayPlan:
    """Decide one office's day: the one rule the release and the admins' preview share.

    Nothing on a day the office does not open, a closed day, or a day without windows;
    otherwise the daily capacity (as planned for that day), capped by what remains of
    the weekly quota and by the windows' capacities, split over the windows.
    """
    if office_closed_on(office, day, closed_by_admin=closed):
        return DayPlan(closed=True)
    planned, windows = plan_for_day(office, list(windows), day, pending)
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
    windows: Sequence[TimeWindow],
    first: datetime.date,
    last: datetime.date,
    first_releasable: datetime.date,
    released: dict[datetime.date, int],
    releases: dict[datetime.date, bool],
    closed: set[datetime.date],
    pending: Sequence[PlannedChange],
) -> Iterator[tuple[datetime.date, str, int]]:
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
