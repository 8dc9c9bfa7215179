"""Rate limits and budgets: counters in the cache (Redis) and one answer for a refusal.

allauth counts its own actions (``ACCOUNT_RATE_LIMITS``: logins, sign-ups, login codes),
sliding windows per address and per key. The budgets allauth has no action for (SMS per
day and per city hour, ID claims, complaints) are fixed windows counted here: a window is
a local hour or a local day (Asia/Shanghai), so "5 a day" starts again at local midnight,
as a resident reads it, and the count an admin sees is the count of this hour.

Hand-written because allauth's limiter is sliding-window only, keeps a list of timestamps
per key (no cheap "how many this hour, city-wide?" for the admin) and has no notion of a
local day; a fixed window is one ``INCR`` per hit.

Every refusal, allauth's ``RateLimited`` raised anywhere or a budget of ours, is answered
by ``rate_limited`` (templates/429.html, both languages, ``Retry-After``), never a 500.
"""

import contextlib
import datetime
import hashlib
import logging
from collections.abc import Callable
from http import HTTPStatus

from allauth.core.exceptions import RateLimited
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .security import security_event

logger = logging.getLogger(__name__)

HOUR = "hour"
DAY = "day"


class BudgetExceeded(RateLimited):
    """A budget of ours is spent; ``retry_after`` says in how many seconds it refills.

    A subclass of allauth's ``RateLimited`` so that one handler answers both, also when it
    is raised inside an allauth flow (an SMS refused while allauth sends it)."""

    def __init__(self, budget: str, retry_after: int):
        super().__init__(budget)
        self.budget = budget
        self.retry_after = retry_after


def window_bounds(
    period: str, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """Return the start and end of the local hour or day that holds ``now``."""
    local = timezone.localtime(now)
    if period == HOUR:
        start = local.replace(minute=0, second=0, microsecond=0)
        end = start + datetime.timedelta(hours=1)
    elif period == DAY:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Asia/Shanghai has no DST; the next midnight is a day later on any zone without it.
        end = start + datetime.timedelta(days=1)
    else:
        raise ValueError(period)
    return start, end


def _cache_key(name: str, key: str, period: str, now: datetime.datetime) -> str:
    start, _end = window_bounds(period, now)
    # Hashed: keys may be phone numbers or ID-claim subjects, which must not sit in Redis.
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{key}".encode()).hexdigest()[:32]
    return f"budget:{name}:{period}:{start:%Y%m%d%H}:{digest}"


def seconds_left(period: str, now: datetime.datetime) -> int:
    """Seconds until the window holding ``now`` ends (at least 1)."""
    _start, end = window_bounds(period, now)
    return max(1, int((end - now).total_seconds()))


def budget_count(name: str, key: str, *, period: str, now: datetime.datetime) -> int:
    """How many hits ``key`` has in the current window of budget ``name``."""
    return int(cache.get(_cache_key(name, key, period, now)) or 0)


def budget_consume(name: str, key: str, *, limit: int, period: str, now: datetime.datetime) -> bool:
    """Count one hit for ``key``; return False (not counted) if ``limit`` is reached.

    ``limit`` 0 turns the budget off. A cache that cannot count (Redis out) lets the hit
    through: callers that must fail closed (SMS) check the cache first."""
    if limit <= 0:
        return True
    cache_key = _cache_key(name, key, period, now)
    timeout = seconds_left(period, now) + 60
    try:
        cache.add(cache_key, 0, timeout)
        count = cache.incr(cache_key)
    except Exception as exc:  # noqa: BLE001 - the cache's outage errors vary by backend
        logger.warning("budget %s not counted: %s", name, exc.__class__.__name__)
        return True
    if count > limit:
        # A refused hit does not count: the window stays at its limit (best effort: if
        # this fails the limit is only stricter).
        with contextlib.suppress(Exception):
            cache.decr(cache_key)
        return False
    return True


def budget_consume_or_raise(
    name: str, key: str, *, limit: int, period: str, now: datetime.datetime
) -> None:
    """``budget_consume``, raising ``BudgetExceeded`` (answered as 429) when spent."""
    if not budget_consume(name, key, limit=limit, period=period, now=now):
        raise BudgetExceeded(name, seconds_left(period, now))


def rate_limited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 429 page: what happened, when to try again, in the reader's language.

    Also ``config.urls.handler429``, which allauth's own limits render through."""
    retry_after = getattr(exception, "retry_after", None) or settings.RATE_LIMIT_RETRY_AFTER
    security_event(
        "rate_limited",
        request=request,
        budget=getattr(exception, "budget", "allauth"),
        retry_after=retry_after,
    )
    response = render(
        request,
        "429.html",
        {"retry_after": retry_after, "retry_minutes": max(1, -(-retry_after // 60))},
        status=HTTPStatus.TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitedMiddleware:
    """Answer ``RateLimited`` raised from any view (allauth raises it inside flows that
    do not catch it, e.g. a repeated phone sign-up) with the 429 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return rate_limited(request, exception)
        return None
