"""The local clock: days, weeks and day bounds in the configured zone (Asia/Shanghai).

Every service takes ``now``; these turn it into the local day the rules speak of.
"""

import datetime

from django.utils import timezone


def local_today(now: datetime.datetime | None = None) -> datetime.date:
    """The local date at ``now`` (default: the current time)."""
    return timezone.localdate(now or timezone.now())


def week_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """Monday and Sunday of ``day``'s ISO week."""
    monday = day - datetime.timedelta(days=day.isoweekday() - 1)
    return monday, monday + datetime.timedelta(days=6)


def local_day_bounds(
    start: datetime.date | None, end: datetime.date | None
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """Aware [from, until) bounds, in the local zone, of the inclusive days start..end."""
    zone = timezone.get_default_timezone()
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone) if start else None
    until = None
    if end:
        until = datetime.datetime.combine(
            end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
        )
    return since, until
