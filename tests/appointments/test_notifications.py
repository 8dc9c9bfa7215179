"""Messages are true when they arrive: the outbox drain after a cancel or a move.

The clock is fixed with time-machine and every service is given ``now`` explicitly;
the SMS actually sent are read from the development backend (console_sms).
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from appointments import notifications
from appointments import services as booking_services
from appointments.models import Booking, Notification, Slot
from registration.models import User

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=TZ)  # Sunday
TOMORROW = datetime.date(2030, 1, 7)
DAY_AFTER = datetime.date(2030, 1, 8)
T9, T10, T11 = datetime.time(9), datetime.time(10), datetime.time(11)


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=TZ)


SUNDAY = MORNING.date()


@pytest.fixture
def clock():
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def slots(clock, make_office):
    office = make_office(windows=[(T9, T10, 2), (T10, T11, 2)], daily_capacity=4)
    made = {}
    for day in (TOMORROW, DAY_AFTER):
        booking_services.slots_release(day=day, now=MORNING)
        for start in (T9, T10):
            made[day, start] = Slot.objects.get(office=office, date=day, start=start)
    return made


@pytest.fixture
def booking(slots, make_resident):
    """Booked on Sunday morning for Monday 09:00; the confirmation is already sent."""
    user = User.objects.create_user(phone="+8613900001234")
    resident = make_resident(user=user)
    booking = booking_services.booking_create(
        resident=resident, slot_id=slots[TOMORROW, T9].pk, now=MORNING
    )
    assert notifications.outbox_drain(now=MORNING) == 1
    return booking


def drain(clock, now):
    clock.move_to(now)
    return notifications.outbox_drain(now=now)


def sweep(clock, now):
    clock.move_to(now)
    return notifications.reminders_queue(now=now)


def statuses(booking, event):
    return list(
        Notification.objects.filter(booking=booking, event=event)
        .order_by("created_at")
        .values_list("key", "status")
    )


def texts(console_sms, word):
    return [m.text for m in console_sms if word in m.text]


def test_no_reminder_after_a_cancel(clock, booking, console_sms):
    assert sweep(clock, at(SUNDAY, 18)) == 1
    clock.move_to(at(SUNDAY, 18, 30))
    booking_services.booking_cancel(booking=booking, now=at(SUNDAY, 18, 30))
    # Recorded at once, in the cancel's transaction, before any drain.
    assert statuses(booking, "reminder") == [(f"reminder:{booking.pk}:2030-01-07", "superseded")]

    assert drain(clock, at(SUNDAY, 18, 30)) == 1
    assert [m.text for m in console_sms] == [
        f"您在Office 1 2030-01-07 的预约（{booking.code}）已取消，名额已释放。"
    ]
    assert sweep(clock, at(SUNDAY, 19)) == 0
    assert drain(clock, at(SUNDAY, 19)) == 0
    assert statuses(booking, "reminder") == [(f"reminder:{booking.pk}:2030-01-07", "superseded")]


@pytest.mark.parametrize("sent_before_the_move", [False, True])
def test_a_move_across_the_reminder_hour_reminds_the_new_date_once(
    clock, booking, slots, console_sms, sent_before_the_move
):
    """Booked for Monday; Sunday 18:00 the reminder is queued; at 19:00 the booking is
    moved to Tuesday. Monday's reminder is not sent (or was sent while still true), and
    Tuesday gets its own reminder on Monday evening, once."""
    assert sweep(clock, at(SUNDAY, 18)) == 1
    if sent_before_the_move:
        assert drain(clock, at(SUNDAY, 18)) == 1
    clock.move_to(at(SUNDAY, 19))
    booking_services.booking_move(
        booking=booking, slot_id=slots[DAY_AFTER, T9].pk, now=at(SUNDAY, 19)
    )
    old_reminder = (
        f"reminder:{booking.pk}:2030-01-07",
        "sent" if sent_before_the_move else "superseded",
    )
    assert statuses(booking, "reminder") == [old_reminder]

    for hour in (19, 20, 21, 22, 23):
        assert sweep(clock, at(SUNDAY, hour)) == 0  # Tuesday is not tomorrow yet
        drain(clock, at(SUNDAY, hour))
    assert texts(console_sms, "已改为") == [
        f"您的预约 {booking.code} 已改为：Office 1，2030-01-08 09:00-10:00。 上牌免费，参保自愿。"
    ]

    assert sweep(clock, at(TOMORROW, 18)) == 1
    for hour in (18, 19, 20, 21, 22, 23):
        sweep(clock, at(TOMORROW, hour))
        drain(clock, at(TOMORROW, hour))
    assert statuses(booking, "reminder") == [
        old_reminder,
        (f"reminder:{booking.pk}:2030-01-08", "sent"),
    ]
    reminders = texts(console_sms, "提醒")
    tuesday = (
        f"提醒：您的电动自行车登记在明天 2030-01-08 09:00-10:00，地点Office 1，"
        f"预约码 {booking.code}。 上牌免费，参保自愿。"
    )
    if sent_before_the_move:
        assert len(reminders) == 2 and "2030-01-07" in reminders[0]
        assert reminders[1] == tuesday
    else:
        assert reminders == [tuesday]


def test_a_move_within_the_day_keeps_the_reminder_for_the_new_window(
    clock, booking, slots, console_sms
):
    assert sweep(clock, at(SUNDAY, 18)) == 1
    clock.move_to(at(SUNDAY, 19))
    booking_services.booking_move(
        booking=booking, slot_id=slots[TOMORROW, T10].pk, now=at(SUNDAY, 19)
    )
    assert statuses(booking, "reminder") == [(f"reminder:{booking.pk}:2030-01-07", "pending")]
    assert drain(clock, at(SUNDAY, 19)) == 2
    assert sweep(clock, at(SUNDAY, 20)) == 0
    assert texts(console_sms, "提醒") == [
        f"提醒：您的电动自行车登记在明天 2030-01-07 10:00-11:00，地点Office 1，"
        f"预约码 {booking.code}。 上牌免费，参保自愿。"
    ]


def test_a_confirmation_drained_after_a_move_is_superseded_by_the_move_notice(
    clock, slots, make_resident, console_sms
):
    user = User.objects.create_user(phone="+8613900005678")
    booking = booking_services.booking_create(
        resident=make_resident(user=user), slot_id=slots[TOMORROW, T9].pk, now=MORNING
    )
    for minute, slot in ((5, slots[TOMORROW, T10]), (10, slots[DAY_AFTER, T10])):
        clock.move_to(MORNING.replace(minute=minute))
        booking_services.booking_move(
            booking=booking, slot_id=slot.pk, now=MORNING.replace(minute=minute)
        )
    # The confirmation and the first move notice were never drained: both are stale.
    assert statuses(booking, "confirmation")[0][1] == "superseded"
    assert [s for _, s in statuses(booking, "moved")] == ["superseded", "pending"]

    assert drain(clock, MORNING.replace(minute=10)) == 1
    assert [m.text for m in console_sms] == [
        f"您的预约 {booking.code} 已改为：Office 1，2030-01-08 10:00-11:00。 上牌免费，参保自愿。"
    ]


def test_the_drain_itself_drops_a_reminder_for_a_date_the_booking_left(
    clock, booking, slots, console_sms
):
    """The drain checks at send time, whatever changed the booking (here a change that
    did not go through booking_move, as a row a drain held during the move would be)."""
    assert sweep(clock, at(SUNDAY, 18)) == 1
    Booking.objects.filter(pk=booking.pk).update(date=DAY_AFTER, slot=slots[DAY_AFTER, T9])
    assert drain(clock, at(SUNDAY, 18)) == 0
    assert statuses(booking, "reminder") == [(f"reminder:{booking.pk}:2030-01-07", "superseded")]
    assert len(console_sms) == 0


def test_a_reminder_retried_after_midnight_is_not_sent(clock, booking, console_sms, settings):
    """A reminder says "tomorrow": after a failed attempt at 23:00 it may not go out on
    the day itself."""
    assert sweep(clock, at(SUNDAY, 23)) == 1
    settings.SMS_BACKEND = "registration.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = ""
    assert drain(clock, at(SUNDAY, 23)) == 0
    assert statuses(booking, "reminder")[0][1] == "pending"

    settings.SMS_BACKEND = "registration.sms.ConsoleSmsBackend"
    assert drain(clock, at(TOMORROW, 0, 10)) == 0
    assert statuses(booking, "reminder") == [(f"reminder:{booking.pk}:2030-01-07", "superseded")]
    assert texts(console_sms, "提醒") == []


def test_the_migration_dates_existing_reminders_and_supersedes_a_stale_one(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("appointments", "0010_remove_auditentry_detail"),
        [("appointments", "0011_notification_slot_superseded")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    Office, Slot_, Resident = (
        old.get_model("offices", "Office"),
        old.get_model("appointments", "Slot"),
        old.get_model("registration", "Resident"),
    )
    Booking_, Notification_ = (
        old.get_model("appointments", "Booking"),
        old.get_model("appointments", "Notification"),
    )
    office = Office.objects.create(code="m", name="M", address="a", district="d")
    monday, tuesday = (
        Slot_.objects.create(office=office, date=day, start=T9, end=T10, capacity=2)
        for day in (TOMORROW, DAY_AFTER)
    )
    rows = {}
    for n, slot in enumerate([monday, tuesday]):
        resident = Resident.objects.create(
            real_name="r", id_hash=f"h{n}", id_masked="x", birth_date=datetime.date(1985, 3, 15)
        )
        booking = Booking_.objects.create(
            resident=resident,
            office=office,
            date=slot.date,
            slot=slot,
            code=f"CODE{n}",
            created_at=MORNING,
        )
        rows[n] = Notification_.objects.create(
            booking=booking,
            event="reminder",
            key=f"reminder:{booking.pk}",
            status="pending",
            created_at=at(SUNDAY, 18),
        )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    due, moved = (Notification.objects.get(pk=rows[n].pk) for n in (0, 1))
    assert (due.key, due.status, due.slot_id) == (
        f"reminder:{due.booking_id}:2030-01-07",
        "pending",
        monday.pk,
    )
    # Queued on Sunday for Monday, but the booking is now on Tuesday.
    assert (moved.key, moved.status) == (f"reminder:{moved.booking_id}:2030-01-07", "superseded")
