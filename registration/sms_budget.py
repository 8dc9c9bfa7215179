"""The SMS cost budget: how many text messages the web requests may cause.

Three fixed windows in the cache (core.ratelimit): per number per local day, per client
address per local day, city-wide per local hour. allauth's per-minute limits stop bursts;
these bound what an attacker rotating numbers, or one victim's number, can cost in a day,
and what the whole city can cost in an hour (an admin sees that count on the admin index).

A request for a number without an account sends nothing (registration.adapter) but counts
against the number and the address like any other, and is refused when the city budget is
spent like any other: the answer never tells whether the number has an account.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from core.ratelimit import (
    DAY,
    HOUR,
    BudgetExceeded,
    budget_consume,
    budget_count,
    seconds_left,
)
from core.security import client_address, security_event

PER_NUMBER = "sms_number"
PER_CLIENT = "sms_client"
CITY = "sms_city"
_CITY_KEY = "city"


@dataclass(frozen=True)
class CityBudget:
    count: int
    limit: int

    @property
    def spent(self) -> bool:
        return bool(self.limit) and self.count >= self.limit


def city_budget(*, now: datetime.datetime | None = None) -> CityBudget:
    """This local hour's city-wide SMS count and its cap (for the admin index)."""
    now = now or timezone.now()
    return CityBudget(
        budget_count(CITY, _CITY_KEY, period=HOUR, now=now), settings.SMS_LIMIT_CITY_PER_HOUR
    )


def _refuse(request: HttpRequest | None, name: str, period: str, now: datetime.datetime):
    security_event("sms_budget_spent", request=request, budget=name)
    return BudgetExceeded(name, seconds_left(period, now))


def sms_budget_consume(
    *,
    phone: str,
    request: HttpRequest | None,
    sends: bool,
    now: datetime.datetime | None = None,
) -> None:
    """Count one SMS asked for ``phone``; raise ``BudgetExceeded`` if a budget is spent.

    ``sends`` is False when nothing will actually be sent (no account uses the number):
    the city count, which is the cost, is then only read, not raised."""
    now = now or timezone.now()
    if not budget_consume(
        PER_NUMBER, phone, limit=settings.SMS_LIMIT_PER_NUMBER_PER_DAY, period=DAY, now=now
    ):
        raise _refuse(request, PER_NUMBER, DAY, now)
    if request is not None and not budget_consume(
        PER_CLIENT,
        client_address(request),
        limit=settings.SMS_LIMIT_PER_CLIENT_PER_DAY,
        period=DAY,
        now=now,
    ):
        raise _refuse(request, PER_CLIENT, DAY, now)
    if sends:
        if not budget_consume(
            CITY, _CITY_KEY, limit=settings.SMS_LIMIT_CITY_PER_HOUR, period=HOUR, now=now
        ):
            raise _refuse(request, CITY, HOUR, now)
    elif city_budget(now=now).spent:
        raise _refuse(request, CITY, HOUR, now)
