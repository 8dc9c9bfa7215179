"""The availability snapshot in the shared cache (Redis in production).

Every change to places (booking, cancel, move, release, capacity) deletes it after
its transaction commits, so a page built after a change reflects it; the TTL is only
a safety net. A cache outage never fails a booking: reads fall back to the database.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)
KEY = "availability:snapshot:v1"
# The windows that still have places, small enough to read on every sold-out answer.
# Not cleared by bookings: it lives OPEN_SECONDS at most.
OPEN_KEY = "availability:open:v1"
OPEN_SECONDS = 3


def get():
    try:
        return cache.get(KEY)
    except Exception as exc:  # noqa: BLE001 - an unavailable cache is a miss
        logger.warning("cache unavailable on read: %s", exc.__class__.__name__)
        return None


def put(snapshot, open_windows, timeout: int) -> None:
    try:
        cache.set(KEY, snapshot, timeout)
        cache.set(OPEN_KEY, open_windows, OPEN_SECONDS)
    except Exception as exc:  # noqa: BLE001
        logger.warning("cache unavailable on write: %s", exc.__class__.__name__)


def get_open():
    try:
        return cache.get(OPEN_KEY)
    except Exception:  # noqa: BLE001 - an unavailable cache is a miss
        return None


def put_open(open_windows) -> None:
    """Store the open-window list; None removes it."""
    try:
        if open_windows is None:
            cache.delete(OPEN_KEY)
        else:
            cache.set(OPEN_KEY, open_windows, OPEN_SECONDS)
    except Exception as exc:  # noqa: BLE001
        logger.warning("cache unavailable on write: %s", exc.__class__.__name__)


def invalidate() -> None:
    # Only the snapshot: the open-window list feeds suggestions on the sold-out page,
    # where a few seconds' lag is harmless, and dropping it on every booking of a rush
    # would make every waiting request rebuild it at once.
    try:
        cache.delete(KEY)
    except Exception as exc:  # noqa: BLE001
        # The TTL bounds how long a stale page can be served.
        logger.warning("cache unavailable on invalidate: %s", exc.__class__.__name__)


# Sold-out flags: one small key per full slot, so the sold-out answer needs no database
# write and no row lock. Set after the commit that took the last place (or when a
# booking was refused as full); cleared after any commit that frees a place.
FULL_TTL = 6 * 60 * 60


def _full_key(slot_id: int) -> str:
    return f"slot:full:{slot_id}"


def mark_full(slot_id: int) -> None:
    _local_full[slot_id] = time.monotonic() + LOCAL_SECONDS
    try:
        cache.set(_full_key(slot_id), 1, FULL_TTL)
    except Exception as exc:  # noqa: BLE001
        logger.warning("cache unavailable on mark_full: %s", exc.__class__.__name__)


def clear_full(slot_id: int) -> None:
    _local_full.pop(slot_id, None)
    try:
        cache.delete(_full_key(slot_id))
    except Exception as exc:  # noqa: BLE001
        # A stale flag would hide a freed place: the TTL bounds it, and the booking
        # service itself never trusts the flag (the database decides).
        logger.warning("cache unavailable on clear_full: %s", exc.__class__.__name__)


# Each worker process remembers a "full" answer (and the open windows) for a second,
# so a rush of requests for a full window costs no network round trip at all. A place
# freed elsewhere shows up here at most LOCAL_SECONDS later; the database still
# decides every booking, so this can only delay a "free again", never overbook.
LOCAL_SECONDS = 1.0
_local_full: dict[int, float] = {}
_local_open: list = [0.0, None]  # [expires, open windows]


def sold_out_state(slot_id: int) -> tuple[bool, list | None]:
    """Return (is the slot flagged full?, cached open windows or None)."""
    now = time.monotonic()
    if _local_full.get(slot_id, 0.0) > now and _local_open[0] > now:
        return True, _local_open[1]
    try:
        found = cache.get_many([_full_key(slot_id), OPEN_KEY])
    except Exception:  # noqa: BLE001 - unknown: let the database answer
        return False, None
    full, open_windows = bool(found.get(_full_key(slot_id))), found.get(OPEN_KEY)
    if full:
        _local_full[slot_id] = now + LOCAL_SECONDS
        if open_windows is not None:
            _local_open[:] = [now + LOCAL_SECONDS, open_windows]
    return full, open_windows


def known_full() -> set[int]:
    """Slots this worker saw flagged full within the last LOCAL_SECONDS."""
    now = time.monotonic()
    return {slot_id for slot_id, until in _local_full.items() if until > now}


def forget_local() -> None:
    _local_full.clear()
    _local_open[:] = [0.0, None]
