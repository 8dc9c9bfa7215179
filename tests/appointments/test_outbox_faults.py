"""Each message at most once to the person: the outbox under gateway and drain faults.

Real PostgreSQL, a fake HTTP gateway on a free port (tests/sms_gateway.py) that can be
slow, drop the connection or answer 500, and records every request by message id.
Services are given ``now``; the clock is fixed with time-machine.
"""

import datetime
import itertools
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from appointments import notifications
from appointments import services as booking_services
from appointments.models import Notification, Slot
from config.celery import app
from registration.models import User
from tests.conftest import start_celery_worker, wait_for_worker, wait_until
from tests.sms_gateway import sms_gateway_fixture  # noqa: F401 - the sms_gateway fixture

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # Sunday morning
TOMORROW = datetime.date(2030, 1, 7)

pytestmark = pytest.mark.postgres


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def book(clock, make_office, make_resident):
    """Book n residents (each with a phone) for tomorrow; their confirmations wait."""
    office = make_office(windows=[(datetime.time(9), datetime.time(10), 20)], daily_capacity=20)
    booking_services.slots_release(day=TOMORROW, now=NOW)
    slot = Slot.objects.get(office=office, date=TOMORROW)
    numbers = itertools.count(1)

    def make(n: int = 1):
        made = []
        for _ in range(n):
            user = User.objects.create_user(phone=f"+86139000{next(numbers):05d}")
            made.append(
                booking_services.booking_create(
                    resident=make_resident(user=user), slot_id=slot.pk, now=NOW
                )
            )
        return made

    return make


def row(booking) -> Notification:
    return Notification.objects.get(booking=booking, event=Notification.Event.CONFIRMATION)


def test_a_gateway_slower_than_the_timeout_leaves_the_message_unknown_then_the_same_id(
    book, sms_gateway, settings
):
    settings.SMS_GATEWAY_TIMEOUT = 1
    sms_gateway.mode = "slow:3"  # accepts, answers after the client gave up
    [booking] = book()
    key = row(booking).key

    assert notifications.outbox_drain(now=NOW) == 0
    notification = row(booking)
    assert (notification.status, notification.attempts) == ("unknown", 1)
    assert "timed out" in notification.last_error
    assert notification.sent_at is None

    sms_gateway.mode = "ok"
    later = NOW + datetime.timedelta(seconds=10)  # after the first back-off
    assert notifications.outbox_drain(now=later) == 1
    notification = row(booking)
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert notification.sent_at == later
    # Two requests, both naming the message by its outbox key (body and header) ...
    assert sms_gateway.ids() == [key, key]
    assert [r.header_id for r in sms_gateway.requests] == [key, key]
    # ... so a gateway that honours the contract delivers it to the person once.
    assert len(sms_gateway.delivered) == 1
    assert notifications.outbox_drain(now=later + datetime.timedelta(hours=1)) == 0
    assert len(sms_gateway.requests) == 2


def test_a_connection_dropped_after_sending_is_unknown_not_failed(book, sms_gateway):
    sms_gateway.mode = "drop"
    [booking] = book()
    assert notifications.outbox_drain(now=NOW) == 0
    notification = row(booking)
    assert notification.status == "unknown"
    assert "dropped" in notification.last_error

    sms_gateway.mode = "ok"
    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=10)) == 1
    assert sms_gateway.ids() == [notification.key] * 2
    assert len(sms_gateway.delivered) == 1


def test_a_gateway_error_stays_pending_and_is_retried(book, sms_gateway):
    sms_gateway.mode = "500"
    [booking] = book()
    assert notifications.outbox_drain(now=NOW) == 0
    assert (row(booking).status, row(booking).attempts) == ("pending", 1)
    sms_gateway.mode = "ok"
    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=10)) == 1
    assert row(booking).status == "sent"
    assert len(sms_gateway.delivered) == 1


def test_sending_is_committed_before_the_gateway_is_called(book, sms_gateway, transactional_db):
    """No transaction is held across the call: another connection sees "sending"."""
    [booking] = book()
    pk = row(booking).pk

    def status_seen_elsewhere(body):
        # The server's thread has its own database connection.
        try:
            return Notification.objects.get(pk=pk).status
        finally:
            connection.close()

    sms_gateway.on_request = status_seen_elsewhere
    assert notifications.outbox_drain(now=NOW) == 1
    assert [r.seen for r in sms_gateway.requests] == ["sending"]
    assert row(booking).status == "sent"


def test_a_row_left_sending_by_a_crash_becomes_unknown_after_the_lease(book, sms_gateway, settings):
    settings.NOTIFICATION_SENDING_LEASE_SECONDS = 120
    [booking] = book()
    # What a worker killed during the gateway call leaves behind: claimed, no outcome.
    Notification.objects.filter(pk=row(booking).pk).update(
        status="sending", claimed_at=NOW, attempts=1
    )

    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=60)) == 0
    assert row(booking).status == "sending"  # within the lease: the drain may still be at it
    assert sms_gateway.requests == []

    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=121)) == 1
    notification = row(booking)
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert sms_gateway.ids() == [notification.key]


def test_two_overlapping_drains_send_each_message_once(book, sms_gateway, transactional_db):
    """Both drains read the same due rows, then race to send them: one request each.

    This fails if the claim (the conditional update) is removed: both would send.
    """
    bookings = book(5)
    sms_gateway.delay = 0.2  # each call stays open while the other drain gets there
    ready = threading.Barrier(2, timeout=30)
    real_pending_ids = notifications.pending_ids

    def pending_ids_then_wait(**kwargs):
        ids = real_pending_ids(**kwargs)
        ready.wait()  # both drains hold the same list of five before either sends
        return ids

    results, errors = [], []

    def drain():
        try:
            results.append(notifications.outbox_drain(now=NOW))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    notifications.pending_ids = pending_ids_then_wait
    try:
        threads = [threading.Thread(target=drain) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        notifications.pending_ids = real_pending_ids

    assert errors == []
    assert sum(results) == 5
    keys = sorted(row(b).key for b in bookings)
    assert sorted(sms_gateway.ids()) == keys  # five requests, one per message
    assert {row(b).status for b in bookings} == {"sent"}
    assert {row(b).attempts for b in bookings} == {1}


def test_an_unknown_message_for_a_cancelled_booking_is_not_sent_again(book, sms_gateway, settings):
    settings.SMS_GATEWAY_TIMEOUT = 1
    sms_gateway.mode = "slow:2"
    [booking] = book()
    assert notifications.outbox_drain(now=NOW) == 0
    assert row(booking).status == "unknown"

    sms_gateway.mode = "ok"
    booking_services.booking_cancel(booking=booking, now=NOW + datetime.timedelta(seconds=5))
    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=20)) == 1
    confirmation = row(booking)
    assert confirmation.status == "superseded"
    assert "timed out" in confirmation.last_error  # the record still says it may have arrived
    cancellation = Notification.objects.get(booking=booking, event="cancellation")
    assert sms_gateway.ids() == [confirmation.key, cancellation.key]


@pytest.mark.redis
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_worker_killed_during_the_gateway_call_resends_with_the_same_id(
    book, sms_gateway, redis_url, tmp_path, transactional_db
):
    """A real worker claims the message and hangs on the gateway; SIGKILL. The row is
    left "sending"; after the lease the next drain sends it again under the same id,
    and a de-duplicating gateway delivers it once."""
    [booking] = book()
    key = row(booking).key
    sms_gateway.mode = "slow:60"  # accepts, then hangs while the worker waits
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = start_celery_worker(
            broker_url=redis_url,
            stdout=log,
            queues=queue,
            SMS_BACKEND="registration.sms.HttpSmsBackend",
            SMS_GATEWAY_URL=sms_gateway.url,
            SMS_GATEWAY_TIMEOUT="30",
        )
    try:
        wait_for_worker(proc, log_path)
        app.send_task("appointments.tasks.drain_outbox", queue=queue)
        assert wait_until(lambda: len(sms_gateway.requests) == 1, process=proc)
        assert row(booking).status == "sending"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    notification = row(booking)
    assert (notification.status, notification.attempts) == ("sending", 1)

    sms_gateway.mode = "ok"
    claimed = notification.claimed_at
    assert notifications.outbox_drain(now=claimed + datetime.timedelta(seconds=60)) == 0
    assert len(sms_gateway.requests) == 1  # within the lease: not yet
    lease = datetime.timedelta(seconds=121)
    assert notifications.outbox_drain(now=claimed + lease) == 1
    assert row(booking).status == "sent"
    assert sms_gateway.ids() == [key, key]
    assert len(sms_gateway.delivered) == 1


class TimingOutOnceMailBackend:
    """Records each message's Message-ID; the first send times out after "sending"."""

    sent: list[str] = []

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        for message in messages:
            self.sent.append(message.message()["Message-ID"])
        if len(self.sent) == 1:
            raise TimeoutError("timed out")
        return len(messages)


def test_an_e_mail_retried_after_a_timeout_keeps_its_message_id(book, settings):
    settings.EMAIL_BACKEND = "tests.appointments.test_outbox_faults.TimingOutOnceMailBackend"
    TimingOutOnceMailBackend.sent = []
    [booking] = book()
    user = booking.resident.user
    user.phone, user.email = None, "resident@test.example.org"
    user.save(update_fields=["phone", "email"])

    assert notifications.outbox_drain(now=NOW) == 0
    assert row(booking).status == "unknown"
    assert notifications.outbox_drain(now=NOW + datetime.timedelta(seconds=10)) == 1
    assert row(booking).status == "sent"
    first, second = TimingOutOnceMailBackend.sent
    assert first == second and first.startswith(f"<confirmation.{booking.pk}@")
