"""Counting refused booking attempts without a write per refusal.

In a release rush most attempts are refused as sold out, and that answer is kept free of
database writes (see docs/benchmarks.md). So each process counts refusals in memory and
adds them to ``RefusedAttempts`` in one upsert at most every
``BOOKING_ATTEMPTS_FLUSH_SECONDS`` (and when the process exits). A process killed
outright loses at most that many seconds of counts; the statistics page says so.
"""

import atexit
import datetime
import logging
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from .models import RefusedAttempts

logger = logging.getLogger(__name__)

_pending: Counter = Counter()
_lock = threading.Lock()
_last_flush = time.monotonic()

_UPSERT_SQL = (
    "INSERT INTO {table} (office_id, date, reason, total) VALUES {values} "
    "ON CONFLICT (office_id, date, reason) DO UPDATE SET total = {table}.total + excluded.total"
)


def record(*, office_id: int, date: datetime.date, reason: str) -> None:
    """Count one refused attempt; written to the database in the next batch."""
    global _last_flush
    with _lock:
        _pending[(office_id, date, reason)] += 1
        elapsed = time.monotonic() - _last_flush
        # A clock that went back (a test's time travel) makes the batch due, not stuck.
        due = elapsed >= settings.BOOKING_ATTEMPTS_FLUSH_SECONDS or elapsed < 0
    if due:
        flush()


def flush() -> int:
    """Add the counted refusals to the database; return how many were written.

    Rows are written in key order, so concurrent flushes from several processes cannot
    deadlock. On a database error the counts are kept for the next flush.
    """
    global _last_flush
    with _lock:
        batch = sorted(_pending.items())
        _pending.clear()
        _last_flush = time.monotonic()
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
    except DatabaseError as exc:
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
