"""Answers for a slow or lost database and for too many bookings at once: a 503 page.

Two middlewares, both answering with the same translated page ("busy, try again in N
seconds", ``Retry-After``), never a bare 500 or a closed connection:

* ``DatabaseUnavailableMiddleware`` turns a statement or lock time-out (``QueryCanceled``,
  ``LockNotAvailable``) and a lost connection (``OperationalError``, ``InterfaceError``) into
  that page, and drops a broken connection so the next request opens a new one.
  ``server_error`` (``handler500``) does the same for an error raised outside a view (e.g.
  when the session is saved), and keeps Django's plain 500 for everything else.
* ``BookingAdmissionMiddleware`` lets at most ``BOOKING_MAX_IN_FLIGHT`` requests to
  ``/book/`` run at once on this instance (all gunicorn workers and threads together);
  one more waits up to ``BOOKING_ADMISSION_WAIT_MS`` for a turn, then gets the page.

The page is rendered without the request: no session, no user, no query, so it still
renders when the database is what failed.

See docs/reliability.md, "Waits, time-outs and overload".
"""

import errno
import fcntl
import logging
import os
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

# psycopg2's SQLSTATEs for "the server cancelled this statement" (statement_timeout,
# lock_timeout): the connection is fine, only the transaction is lost.
_CANCELLED = {"57014", "55P03"}  # query_canceled, lock_not_available
# Requests under this path are the booking requests that BOOKING_MAX_IN_FLIGHT counts.
BOOKING_PREFIX = "/book/"


def busy_response(*, retry_after: int | None = None) -> HttpResponse:
    """Return the translated 503 "busy, try again in N seconds" page."""
    seconds = retry_after if retry_after is not None else settings.RETRY_AFTER_SECONDS
    html = render_to_string("503.html", {"retry_after": seconds})
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def _database_error(exc: BaseException | None) -> DatabaseError | None:
    """Return ``exc`` if it says the database was slow or unreachable, else None."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return exc
    return None


def _cancelled(exc: DatabaseError) -> bool:
    return getattr(exc.__cause__, "pgcode", None) in _CANCELLED


def database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """Log ``exc``, leave the connections usable for the next request, answer 503."""
    if _cancelled(exc):
        # A statement or lock time-out: the transaction was rolled back by atomic(); the
        # connection itself is healthy and stays open.
        logger.warning("database time-out on %s: %s", request.path, exc.__cause__.pgcode)
    else:
        logger.error("database unavailable on %s: %s", request.path, type(exc).__name__)
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.is_usable():
                conn.close()  # the next query opens a new connection
    return busy_response()


class DatabaseUnavailableMiddleware:
    """Turn a database time-out or a lost connection in a view into the 503 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        exc = _database_error(exception)
        if exc is None:
            return None
        return database_unavailable(request, exc)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: the 503 page for a database failure outside a view, else Django's 500."""
    exc = _database_error(sys.exc_info()[1])
    if exc is not None:
        return database_unavailable(request, exc)
    return defaults.server_error(request, template_name)


class InFlightLimit:
    """At most ``limit`` holders at once across every process and thread of this host.

    Each turn is an exclusive ``flock`` on one of ``limit`` files; the kernel releases it
    when the holder closes the file or dies (even by SIGKILL), so a killed worker never
    keeps a turn. Hand-written because the libraries we know (e.g. posix_ipc semaphores)
    are not released when their holder is killed.
    """

    def __init__(self, directory: Path, limit: int):
        self.directory = Path(directory)
        self.limit = limit

    def try_acquire(self) -> int | None:
        """Return a file descriptor holding a turn, or None if all turns are taken."""
        self.directory.mkdir(parents=True, exist_ok=True)
        start = os.getpid() % self.limit  # spread processes over the files
        for i in range(self.limit):
            path = self.directory / f"turn-{(start + i) % self.limit}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                continue
            return fd
        return None

    def acquire(self, wait: float) -> int | None:
        """Like try_acquire, waiting up to ``wait`` seconds for a turn."""
        deadline = time.monotonic() + wait
        while True:
            fd = self.try_acquire()
            if fd is not None or time.monotonic() >= deadline:
                return fd
            time.sleep(0.02)

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the file releases its lock


class BookingAdmissionMiddleware:
    """Answer "busy" to a booking request when too many are already in flight."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.BOOKING_MAX_IN_FLIGHT
        if limit <= 0 or not request.path_info.startswith(BOOKING_PREFIX):
            return self.get_response(request)
        turns = InFlightLimit(settings.BOOKING_IN_FLIGHT_DIR, limit)
        try:
            fd = turns.acquire(settings.BOOKING_ADMISSION_WAIT_MS / 1000)
        except OSError:
            # A broken lock folder must not stop bookings: admit (fail open), and say so.
            logger.exception("booking admission unavailable; admitting")
            return self.get_response(request)
        if fd is None:
            logger.warning("booking busy: %d requests in flight", limit)
            response = busy_response()
            # Logged just above as a warning: in a rush Django's "ERROR Service Unavailable"
            # for each of these would bury real errors (django.utils.log.log_response).
            response._has_been_logged = True  # noqa: SLF001
            return response
        try:
            return self.get_response(request)
        finally:
            turns.release(fd)
