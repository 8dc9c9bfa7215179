"""Counting refused booking attempts without a write per refusal.

In a release rush most attempts are refused as sold out, and that answer is kept free of
database writes (see docs/benchmarks.md). So each process counts refusals in memory and a
timer thread adds them to ``RefusedAttempts`` in one upsert,
``BOOKING_ATTEMPTS_FLUSH_SECONDS`` after the first refusal of a batch (and when the
process exits). The request that refused never waits for that write, and an idle worker
still writes its last refusals within those seconds. A process killed outright loses at
most that many seconds of counts; the statistics page says so. With the setting at 0 (the
tests) each refusal is written at once, in the request.
"""

import atexit
import datetime
import logging
import threading
from collections import Counter

from django.conf import settings
from django.db import Error, connection, transaction

from .models import RefusedAttempts

logger = logging.getLogger(__name__)

_pending: Counter = Counter()
_lock = threading.Lock()
_timer: threading.Timer | None = None

_UPSERT_SQL = (
    "INSERT INTO {table} (office_id, date, reason, total) VALUES {values} "
    "ON CONFLICT (office_id, date, reason) DO UPDATE SET total = {table}.total + excluded.total"
)


def record(*, office_id: int, date: datetime.date, reason: str) -> None:
    """Count one refused attempt; written to the database with the next batch."""
    delay = settings.BOOKING_ATTEMPTS_FLUSH_SECONDS
    with _lock:
        _pending[(office_id, date, reason)] += 1
        timer = _new_timer(delay) if delay > 0 and _timer is None else None
    if timer is not None:
        timer.start()
    elif delay <= 0:
        flush()


def _new_timer(delay: float) -> threading.Timer:
    """Called with the lock held: the one timer of the current batch."""
    global _timer
    _timer = threading.Timer(delay, _flush_in_thread)
    _timer.daemon = True
    return _timer


def _flush_in_thread() -> None:
    global _timer
    with _lock:
        _timer = None
    try:
        flush()
    finally:
        connection.close()  # this thread's own connection
    with _lock:  # a failed write (kept) is retried by the next timer
        delay = settings.BOOKING_ATTEMPTS_FLUSH_SECONDS
        timer = _new_timer(delay) if _pending and _timer is None and delay > 0 else None
    if timer is not None:
        timer.start()


def flush() -> int:
    """Add the counted refusals to the database; return how many were written.

    Rows are written in key order, so concurrent flushes from several processes cannot
    deadlock. On a database error the counts are kept for the next flush.
    """
    with _lock:
        batch = sorted(_pending.items())
        _pending.clear()
    if not batch:
        return 0
    table = connection.ops.quote_name(RefusedAttempts._meta.db_table)
    sql = _UPSERT_SQL.format(table=table, values=", ".join(["(%s, %s, %s, %s)"] * len(batch)))
    adapt = connection.ops.adapt_datefield_value
    params = [
        value
        for (office_id, day, reason), n in batch
        for value in (office_id, adapt(day), reason, n)
    ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except Error as exc:
        logger.warning("refused attempts not written yet: %s", exc.__class__.__name__)
        with _lock:
            _pending.update(dict(batch))
        return 0
    return sum(n for _, n in batch)


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:  # noqa: BLE001 - never fail a process on its way out
        logger.warning("refused attempts lost at exit")


atexit.register(_flush_at_exit)
