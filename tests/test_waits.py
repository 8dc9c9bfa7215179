"""Every wait has a limit: database time-outs, the 503 page, and booking admission.

Real PostgreSQL: another connection holds a slot's row lock, or the test terminates its own
request's backend, and the booking request must answer the translated 503 page with
Retry-After (never a 500 or a closed connection), leave no half-written rows and let the
next request through.
"""

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import time_machine
from django.db import OperationalError, connection, connections
from django.test import Client, RequestFactory

from appointments import services as booking_services
from appointments.models import Booking, Notification, Slot
from config import overload
from tests.conftest import ROOT, wait_until

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # a Sunday morning
TOMORROW = NOW.date() + datetime.timedelta(days=1)
BUDGET = 30  # seconds: generous, for two busy cores; the limits themselves are 1-3 s


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@contextlib.contextmanager
def session_limits(**limits):
    """Open every new connection of this test with these PostgreSQL settings (e.g.
    lock_timeout="1s"), through the same OPTIONS the settings module writes."""
    options = connection.settings_dict["OPTIONS"]  # shared by every thread's connection
    before = options.get("options", "")
    options["options"] = " ".join([before, *(f"-c {k}={v}" for k, v in limits.items())])
    connections.close_all()
    try:
        yield
    finally:
        options["options"] = before
        connections.close_all()


@pytest.fixture
def booking_setup(transactional_db, clock, make_office, make_person):
    """A released slot for tomorrow (capacity 4) and a factory of signed-in residents."""
    office = make_office(windows=[(datetime.time(9), datetime.time(10), 4)], daily_capacity=4)
    booking_services.slots_release(day=TOMORROW, now=NOW)
    slot = Slot.objects.get(office=office, date=TOMORROW)
    return SimpleNamespace(slot=slot, person=lambda: make_person(language="zh-hans"))


def book(person, slot):
    return person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk, "ebike": person.ebike.pk})


def counters_consistent(slot) -> bool:
    slot.refresh_from_db()
    active = Booking.objects.filter(slot=slot, status__in=Booking.ACTIVE_STATUSES).count()
    return slot.booked == active


@contextlib.contextmanager
def slot_row_locked(slot):
    """Another connection holds ``SELECT … FOR UPDATE`` on the slot's row."""
    holder = psycopg2.connect(**connection.get_connection_params())
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM appointments_slot WHERE id = %s FOR UPDATE", [slot.pk])
        yield holder
    finally:
        holder.rollback()
        holder.close()


def backends_waiting_on_a_lock(holder) -> list[int]:
    """Backends of this test database waiting for a lock (the holder's excepted)."""
    # A fresh snapshot: inside the holder's transaction pg_stat_activity would not change.
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def in_thread(fn):
    """Run ``fn`` in a thread with its own database connection; return (thread, result)."""
    result = {}

    def run():
        try:
            result["response"] = fn()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def assert_busy_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert "服务繁忙" in text
    assert "10 秒后再试" in text


@pytest.mark.postgres
def test_web_connections_have_time_limits(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "5s"
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "3s"
    assert connection.get_connection_params()["connect_timeout"] == 3


def _database_options(**env_extra) -> dict:
    """DATABASES OPTIONS as the real settings module (not the test one) builds them."""
    code = (
        "import json, django; django.setup();"
        "from django.conf import settings;"
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DB_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        **env_extra,
    }
    out = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_web_requests_wait_a_few_seconds_and_workers_longer():
    assert _database_options() == {
        "options": "-c statement_timeout=5s -c lock_timeout=3s "
        "-c idle_in_transaction_session_timeout=10s",
        "connect_timeout": 3,
    }
    assert _database_options(DB_ROLE="worker", DB_WORKER_LOCK_TIMEOUT="45") == {
        "options": "-c statement_timeout=120s -c lock_timeout=45s "
        "-c idle_in_transaction_session_timeout=120s",
        "connect_timeout": 10,
    }


@pytest.mark.postgres
def test_a_held_row_lock_gives_the_busy_page_within_the_lock_timeout(booking_setup):
    slot, resident = booking_setup.slot, booking_setup.person()
    with session_limits(lock_timeout="1s"), slot_row_locked(slot):
        started = time.monotonic()
        response = book(resident, slot)
        elapsed = time.monotonic() - started
    assert_busy_page(response)
    assert elapsed < BUDGET
    assert not Booking.objects.exists()  # the booking's transaction was rolled back
    assert not Notification.objects.exists()
    # The same connection serves the next request.
    response = book(resident, slot)
    assert response.status_code == 302
    assert counters_consistent(slot) and slot.booked == 1


@pytest.mark.postgres
def test_a_terminated_backend_mid_booking_gives_the_busy_page_and_the_next_request_works(
    booking_setup,
):
    slot, first, second = booking_setup.slot, booking_setup.person(), booking_setup.person()
    lock_released = threading.Event()

    def book_twice():
        # Both requests in one thread: the second one uses what the first left of the
        # thread's connection, as the next request of a gunicorn worker would.
        cut_off = book(first, slot)
        assert lock_released.wait(BUDGET)
        return cut_off, book(first, slot)

    with (
        session_limits(lock_timeout="60s", statement_timeout="60s"),
        slot_row_locked(slot) as holder,
    ):
        thread, result = in_thread(book_twice)
        # The request's backend is inside the booking transaction, waiting for the slot.
        assert wait_until(lambda: backends_waiting_on_a_lock(holder), timeout=BUDGET)
        (pid,) = backends_waiting_on_a_lock(holder)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert wait_until(lambda: not backends_waiting_on_a_lock(holder), timeout=BUDGET)
    lock_released.set()
    thread.join(BUDGET)
    assert "error" not in result, result.get("error")
    cut_off, next_request = result["response"]
    assert_busy_page(cut_off)
    assert next_request.status_code == 302
    assert counters_consistent(slot) and slot.booked == 1
    assert Booking.objects.filter(slot=slot).count() == 1  # nothing of the cut-off attempt
    assert Notification.objects.count() == 1
    assert book(second, slot).status_code == 302
    assert counters_consistent(slot) and slot.booked == 2


@pytest.mark.postgres
def test_a_connection_lost_between_requests_gives_the_busy_page_then_reconnects(booking_setup):
    slot, resident = booking_setup.slot, booking_setup.person()
    assert resident.client.get("/bookings/").status_code == 200  # the connection is open
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    other = psycopg2.connect(**connection.get_connection_params())
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert wait_until(lambda: not _backend_alive(cursor, pid), timeout=BUDGET)
    finally:
        other.close()
    assert_busy_page(book(resident, slot))  # the session read finds the connection gone
    assert book(resident, slot).status_code == 302  # on a new connection
    assert counters_consistent(slot) and slot.booked == 1


def _backend_alive(cursor, pid: int) -> bool:
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
    return cursor.fetchone()[0] > 0


@pytest.mark.postgres
def test_bookings_beyond_the_in_flight_limit_get_the_busy_page(booking_setup, settings, tmp_path):
    settings.BOOKING_MAX_IN_FLIGHT = 2
    settings.BOOKING_ADMISSION_WAIT_MS = 200
    settings.BOOKING_IN_FLIGHT_DIR = tmp_path
    slot = booking_setup.slot
    waiting, late = [booking_setup.person(), booking_setup.person()], booking_setup.person()
    with (
        session_limits(lock_timeout="60s", statement_timeout="60s"),
        slot_row_locked(slot) as holder,
    ):
        running = [in_thread(lambda p=p: book(p, slot)) for p in waiting]
        assert wait_until(lambda: len(backends_waiting_on_a_lock(holder)) == 2, timeout=BUDGET)
        assert_busy_page(book(late, slot))
        # Only the booking path is limited: the other pages still answer.
        assert late.client.get("/availability/").status_code == 200
    for thread, result in running:
        thread.join(BUDGET)
        assert result["response"].status_code == 302
    # The turns were given back: the resident told to wait now books.
    assert book(late, slot).status_code == 302
    assert counters_consistent(slot) and slot.booked == 3


def test_the_busy_page_speaks_english_too(settings, tmp_path, caplog):
    settings.BOOKING_MAX_IN_FLIGHT = 1
    settings.BOOKING_ADMISSION_WAIT_MS = 0
    settings.BOOKING_IN_FLIGHT_DIR = tmp_path
    turns = overload.InFlightLimit(tmp_path, 1)
    fd = turns.try_acquire()  # the one turn, as if a booking were running
    assert fd is not None
    try:
        response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/book/1/")
    finally:
        turns.release(fd)
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "Please try again in 10 seconds." in response.content.decode()
    # One warning per busy answer, no error: in a rush they would bury real errors.
    assert [(r.name, r.levelname) for r in caplog.records] == [("config.overload", "WARNING")]


def test_a_killed_holder_gives_its_turn_back(tmp_path):
    code = (
        "import sys, time; from config.overload import InFlightLimit;"
        f"fd = InFlightLimit({str(tmp_path)!r}, 1).try_acquire();"
        "print('held' if fd is not None else 'none', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        turns = overload.InFlightLimit(tmp_path, 1)
        assert turns.try_acquire() is None
        holder.send_signal(signal.SIGKILL)
        holder.wait(BUDGET)
        assert wait_until(lambda: _acquire_and_release(turns), timeout=BUDGET)
    finally:
        holder.kill()
        holder.wait()


def _acquire_and_release(turns) -> bool:
    fd = turns.try_acquire()
    if fd is None:
        return False
    turns.release(fd)
    return True


def test_a_lost_database_outside_a_view_is_the_busy_page_not_a_500():
    request = RequestFactory().get("/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = overload.server_error(request)
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    try:
        raise ValueError("a bug")
    except ValueError:
        response = overload.server_error(request)
    assert response.status_code == 500
