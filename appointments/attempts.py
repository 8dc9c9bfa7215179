"""Counting refused booking attempts without a write per refusal.

In a release rush most attempts are refused as sold out, and that answer is kept free of
database writes (see docs/benchmarks.md). So each refusal is counted outside the database
and a timer thread adds the counts to ``RefusedAttempts`` in one upsert,
``BOOKING_ATTEMPTS_FLUSH_SECONDS`` after the first refusal of a batch (and when the
process exits). The request that refused never waits for that write, and an idle worker
still writes its last refusals within those seconds.

With a Redis cache the count is an ``HINCRBY`` in Redis, made before the answer is sent, and
every flush (in any process) folds the whole Redis hash into the table: a worker killed
outright (SIGKILL, gunicorn's timeout, the OOM killer) loses nothing, the next flush of
another process writes its counts. Without Redis, or while Redis fails, counts stay in the
process's memory and a killed process loses at most those seconds of counts; the
statistics page says so. With the setting at 0 (the tests) each refusal is written at once,
in the request.
"""

import atexit
import datetime
import logging
import threading
from collections import Counter

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import Error, connection, transaction

from .models import RefusedAttempts

logger = logging.getLogger(__name__)

_pending: Counter = Counter()
_lock = threading.Lock()
_timer: threading.Timer | None = None

# A Redis hash: field "office_id:YYYY-MM-DD:reason", value the count not yet written.
_REDIS_KEY = "refused-attempts:v1"

_UPSERT_SQL = (
    "INSERT INTO {table} (office_id, date, reason, total) VALUES {values} "
    "ON CONFLICT (office_id, date, reason) DO UPDATE SET total = {table}.total + excluded.total"
)


def record(*, office_id: int, date: datetime.date, reason: str) -> None:
    """Count one refused attempt; written to the database with the next batch."""
    delay = settings.BOOKING_ATTEMPTS_FLUSH_SECONDS
    staged = delay > 0 and _stage_in_redis(office_id, date, reason)
    with _lock:
        if not staged:
            _pending[(office_id, date, reason)] += 1
        timer = _new_timer(delay) if delay > 0 and _timer is None else None
    if timer is not None:
        timer.start()
    elif delay <= 0:
        flush()


def _redis():
    """Return the Redis client of the default cache, or None when it is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    # Django's own client: private, so django-stubs does not declare it.
    return backend._cache.get_client(write=True)  # type: ignore[attr-defined]  # noqa: SLF001


def _stage_in_redis(office_id: int, date: datetime.date, reason: str) -> bool:
    """Count one refusal in Redis; False when there is no Redis or it fails."""
    try:
        client = _redis()
        if client is None:
            return False
        client.hincrby(cache.make_key(_REDIS_KEY), f"{office_id}:{date.isoformat()}:{reason}", 1)
    except Exception as exc:  # noqa: BLE001 - Redis trouble: count in memory instead
        logger.warning("refused attempt counted in memory: %s", exc.__class__.__name__)
        return False
    return True


def _take_from_redis() -> Counter:
    """Take (read and delete, atomically) every count staged in Redis by any process."""
    taken: Counter = Counter()
    try:
        client = _redis()
        if client is None:
            return taken
        key = cache.make_key(_REDIS_KEY)
        pipe = client.pipeline(transaction=True)
        pipe.hgetall(key)
        pipe.delete(key)
        fields, _ = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - they stay in Redis for the next flush
        logger.warning("refused attempts not read from Redis: %s", exc.__class__.__name__)
        return taken
    for field, count in fields.items():
        office_id, day, reason = field.decode().split(":", 2)
        taken[(int(office_id), datetime.date.fromisoformat(day), reason)] += int(count)
    return taken


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
    staged = _take_from_redis()
    with _lock:
        _pending.update(staged)  # on a failed write they are kept here, like the others
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
