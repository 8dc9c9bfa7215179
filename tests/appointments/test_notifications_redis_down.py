"""With Redis (the Celery broker) down a booking still succeeds; its SMS follows later.

The test runs its own redis-server on a free port, so it can be down and come back
without touching the Redis other tests use: first the booking is made while nothing
listens on that port, then Redis and a real worker are started and the outbox drain
delivers the confirmation, exactly once.
"""

import contextlib
import datetime
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from django.utils import timezone
from kombu import pools
from kombu.utils.collections import eqhash

from appointments import services
from appointments.models import Booking, Notification
from config.celery import app
from registration import services as registration_services
from tests.conftest import (
    REQUIRE_SERVICES,
    make_id_number,
    start_celery_worker,
    wait_for_worker,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
MONDAY = datetime.date(2030, 1, 7)
# The Sunday evening before MONDAY's 09:00 window. Time ticks: Redis and the worker need
# it to pass, and the worker is started at this test's clock (see celery_worker).
NOW = datetime.datetime(2030, 1, 6, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SMS_LINE = "SMS (development backend) to"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drain_results(output: str) -> list[str]:
    """The return values of the drain_outbox runs the worker logged, in order."""
    return [
        line.rsplit(":", 1)[-1].strip()
        for line in output.splitlines()
        if "appointments.tasks.drain_outbox[" in line and " succeeded in " in line
    ]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def forget_app_pools() -> None:
    """Make the app look its broker pools up again, for the current broker_url."""
    app._pool = None
    app.amqp._producer_pool = None


def drop_broker_pools() -> None:
    """Close and forget kombu's pools for the current broker_url (they may hold dead links)."""
    key = eqhash(app.connection_for_write())
    for group in (pools.producers, pools.connections):
        pool = dict.pop(group, key, None)
        if pool is not None:
            pool.force_close_all()
    forget_app_pools()


@contextlib.contextmanager
def celery_broker(url: str, port: int):
    """Point the (already configured) Celery app at ``url`` and publish for real."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    forget_app_pools()
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    try:
        conn = app.connection_for_write()
        assert (conn.transport_cls, conn.hostname, conn.port) == ("redis", "127.0.0.1", port)
        yield
    finally:
        drop_broker_pools()
        app.conf.update(saved)
        forget_app_pools()


@contextlib.contextmanager
def redis_server(port: int, workdir: Path):
    proc = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        assert wait_until(answers, timeout=60, interval=0.1, process=proc), (
            "redis-server did not start"
        )
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def celery_worker(broker_url: str, log_path: Path):
    with log_path.open("w") as log:
        proc = start_celery_worker(
            broker_url=broker_url,
            stdout=log,
            SMS_BACKEND="registration.sms.ConsoleSmsBackend",
            TEST_CLOCK=timezone.now().isoformat(),  # the worker's clock goes on from ours
        )
    try:
        wait_for_worker(proc, log_path)
        yield proc
    finally:
        stop(proc)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def redis_server_binary():
    path = shutil.which("redis-server")
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail("this test needs the redis-server binary")
        pytest.skip("needs the redis-server binary")
    return path


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_booking_succeeds_with_the_broker_down_and_is_notified_once_it_is_back(
    clock, make_slot, redis_server_binary, caplog
):
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    slot = make_slot(capacity=5, day=MONDAY)
    resident = registration_services.resident_create(
        real_name="Broker Down",
        id_number=make_id_number(birth="19900202", seq="901"),
        phone="13812345678",
    )

    with (
        tempfile.TemporaryDirectory() as tmp,
        celery_broker(broker_url, port),
        caplog.at_level(logging.WARNING, logger="appointments.tasks"),
    ):
        # 1. Nothing listens on the port: the booking commits, the message waits.
        started = time.monotonic()
        booking = services.booking_create(resident=resident, slot_id=slot.pk)
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"booking hung {elapsed:.1f}s on the unreachable broker"

        booking = Booking.objects.get(pk=booking.pk)
        assert booking.status == "booked"
        slot.refresh_from_db()
        assert slot.booked == 1
        notification = Notification.objects.get(booking=booking)
        assert (notification.event, notification.status) == ("confirmation", "pending")
        assert (notification.attempts, notification.sent_at) == (0, None)

        # 2. Redis comes back, a worker starts, the periodic drain runs.
        log_path = Path(tmp) / "worker.log"
        with redis_server(port, Path(tmp)), celery_worker(broker_url, log_path) as worker:
            drop_broker_pools()
            app.send_task("appointments.tasks.drain_outbox")

            def sent():
                return Notification.objects.filter(pk=notification.pk, status="sent").exists()

            assert wait_until(sent, process=worker), log_path.read_text()
            notification.refresh_from_db()
            assert notification.sent_at is not None
            assert notification.attempts == 1
            assert notification.last_error == ""

            # A second drain finds nothing to send.
            app.send_task("appointments.tasks.drain_outbox")

            def drained_twice():
                return len(drain_results(log_path.read_text())) >= 2

            assert wait_until(drained_twice, process=worker), log_path.read_text()
            assert worker.poll() is None, log_path.read_text()

        output = log_path.read_text()

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)
    sms_lines = [line for line in output.splitlines() if SMS_LINE in line]
    assert len(sms_lines) == 1, output  # one SMS in all, for this booking, to the masked number
    assert booking.code in sms_lines[0]
    assert "+86138****5678" in sms_lines[0]
    assert drain_results(output) == ["1", "0"], output  # sent one, then nothing
