"""The availability snapshot in the shared cache (Redis in production).

Every change to places (booking, cancel, move, release, capacity) deletes it after
its transaction commits, so a page built after a change reflects it; the TTL is only
a safety net. A cache outage never fails a booking: reads fall back to the database.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)
KEY = "availability:snapshot:v1"


def get():
    try:
        return cache.get(KEY)
    except Exception as exc:  # noqa: BLE001 - an unavailable cache is a miss
        logger.warning("cache unavailable on read: %s", exc.__class__.__name__)
        return None


def put(snapshot, timeout: int) -> None:
    try:
        cache.set(KEY, snapshot, timeout)
    except Exception as exc:  # noqa: BLE001
        logger.warning("cache unavailable on write: %s", exc.__class__.__name__)


def invalidate() -> None:
    try:
        cache.delete(KEY)
    except Exception as exc:  # noqa: BLE001
        # The TTL bounds how long a stale page can be served.
        logger.warning("cache unavailable on invalidate: %s", exc.__class__.__name__)
