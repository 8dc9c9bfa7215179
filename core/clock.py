"""The local clock: days, weeks and day bounds in the configured zone (Asia/Shanghai).

Every service takes ``now``; these turn it into the local day the rules speak of.
"""

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Every date a person may type (a period, a day, an incident) lies in these years: the
# app has no business before or after them, and a day past date.max - 1 would overflow
# the day arithmetic (``local_day_bounds`` adds one). The one place the bound is set.
EARLIEST_DAY = datetime.date(2000, 1, 1)
LATEST_DAY = datetime.date(2099, 12, 31)


def day_in_range(day: datetime.date) -> bool:
    """Whether ``day`` lies within the years the app accepts (EARLIEST_DAY..LATEST_DAY)."""
    return EARLIEST_DAY <= day <= LATEST_DAY


def validate_day_in_range(day: datetime.date) -> None:
    """A form validator: refuse a date outside EARLIEST_DAY..LATEST_DAY."""
    if day is not None and not day_in_range(day):
        raise ValidationError(
            _("Enter a date between %(first)s and %(last)s."),
            code="date_out_of_range",
            params={"first": EARLIEST_DAY.isoformat(), "last": LATEST_DAY.isoformat()},
        )


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
