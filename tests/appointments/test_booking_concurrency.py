"""Bookings taken, cancelled and moved at the same moment stay consistent (PostgreSQL).

Every test starts its threads behind a barrier, each thread on its own database
connection, and then checks the rows: the slot counter never exceeds the capacity and
always equals the number of bookings that hold a place in the slot.
"""

import collections
import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.db.models import Count, Q

from appointments import services
from appointments.models import Booking, Slot
from registration import services as registration_services
from tests.conftest import make_id_number

MONDAY = datetime.date(2030, 1, 7)
# Statuses in which a booking keeps its place in the slot (a cancelled one gives it back).
HOLDING_STATUSES = ("booked", "checked_in", "completed", "no_show")
JOIN_TIMEOUT = 60
# The Sunday evening before MONDAY: every window is still ahead. The clock is the
# process's, so the booking threads read it too.
NOW = datetime.datetime(2030, 1, 6, 20, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def run_at_once(targets):
    """Run each callable in its own thread, all released together; return their outcomes.

    An outcome is ``("ok", value)`` or ``("error", exception)``, in the order of ``targets``.
    """
    barrier = threading.Barrier(len(targets))
    outcomes = [None] * len(targets)

    def worker(index, target):
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[index] = ("ok", target())
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, target), daemon=True)
        for i, target in enumerate(targets)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert stuck == [], f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
    return outcomes


def error_counts(outcomes) -> collections.Counter:
    """How many outcomes were each exception type (by class name), and how many succeeded."""
    return collections.Counter(
        "ok" if kind == "ok" else type(value).__name__ for kind, value in outcomes
    )


def assert_slot_counters_match_bookings():
    """For every slot: ``booked`` == bookings holding a place in it, and <= capacity."""
    rows = Slot.objects.annotate(
        held=Count("bookings", filter=Q(bookings__status__in=HOLDING_STATUSES))
    ).values_list("pk", "booked", "held", "capacity")
    wrong = [
        {"slot": pk, "booked": booked, "held": held, "capacity": capacity}
        for pk, booked, held, capacity in rows
        if booked != held or booked > capacity
    ]
    assert wrong == []


def active_in(slot) -> int:
    return Booking.objects.filter(slot=slot, status__in=Booking.ACTIVE_STATUSES).count()


@pytest.fixture
def make_person(db):
    """A resident with a mobile number, so the (eager) confirmation SMS can be sent."""
    counter = {"n": 0}

    def make():
        counter["n"] += 1
        n = counter["n"]
        return registration_services.resident_create(
            real_name=f"Concurrent {n}",
            id_number=make_id_number(birth="19900101", seq=f"{n:03d}"),
            phone=f"1380000{n:04d}",
        )

    return make


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_residents_racing_for_five_places_get_exactly_five(make_slot, make_person):
    slot = make_slot(capacity=5, day=MONDAY)
    residents = [make_person() for _ in range(50)]

    outcomes = run_at_once(
        [(lambda r=r: services.booking_create(resident=r, slot_id=slot.pk)) for r in residents]
    )

    assert error_counts(outcomes) == {"ok": 5, "SlotFull": 45}
    winners = {value.resident_id for kind, value in outcomes if kind == "ok"}
    assert len(winners) == 5
    slot.refresh_from_db()
    assert slot.booked == 5
    assert Booking.objects.filter(slot=slot).count() == 5  # the refused ones left no row
    assert (
        set(
            Booking.objects.filter(slot=slot, status="booked").values_list("resident_id", flat=True)
        )
        == winners
    )
    assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempts", [2, 10])
def test_one_resident_submitting_several_times_at_once_books_once(make_slot, make_person, attempts):
    slot = make_slot(capacity=20, day=MONDAY)
    resident = make_person()

    outcomes = run_at_once(
        [lambda: services.booking_create(resident=resident, slot_id=slot.pk)] * attempts
    )

    assert error_counts(outcomes) == {"ok": 1, "AlreadyBooked": attempts - 1}
    assert Booking.objects.filter(resident=resident).count() == 1
    assert Booking.objects.filter(resident=resident, status="booked").count() == 1
    slot.refresh_from_db()
    assert slot.booked == 1
    assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancel_racing_bookings_for_the_freed_place_keeps_the_counter_exact(
    make_office, make_slot, make_person
):
    office = make_office()
    rounds, bookers = 20, 6
    winners_per_round = []
    for round_no in range(rounds):
        slot = make_slot(capacity=1, office=office, day=MONDAY + datetime.timedelta(days=round_no))
        holder = services.booking_create(resident=make_person(), slot_id=slot.pk)
        residents = [make_person() for _ in range(bookers)]

        outcomes = run_at_once(
            [lambda h=holder: services.booking_cancel(booking=h)]
            + [
                (lambda r=r, s=slot: services.booking_create(resident=r, slot_id=s.pk))
                for r in residents
            ]
        )

        cancel_kind, cancel_value = outcomes[0]
        assert cancel_kind == "ok", cancel_value
        counts = error_counts(outcomes[1:])
        assert set(counts) <= {"ok", "SlotFull"}, counts
        assert counts["ok"] <= 1
        holder.refresh_from_db()
        assert holder.status == "cancelled"
        slot.refresh_from_db()
        assert slot.booked == active_in(slot) == counts["ok"]
        assert slot.booked <= slot.capacity
        winners_per_round.append(counts["ok"])
    assert len(winners_per_round) == rounds
    assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_opposite_moves_between_two_full_slots_fail_cleanly(make_office, make_slot, make_person):
    office = make_office()
    for round_no in range(20):
        day = MONDAY + datetime.timedelta(days=round_no)
        slot1 = make_slot(capacity=1, office=office, day=day, start=datetime.time(9))
        slot2 = make_slot(
            capacity=1, office=office, day=day, start=datetime.time(10), end=datetime.time(11)
        )
        x = services.booking_create(resident=make_person(), slot_id=slot1.pk)
        y = services.booking_create(resident=make_person(), slot_id=slot2.pk)

        outcomes = run_at_once(
            [
                lambda x=x, s=slot2: services.booking_move(booking=x, slot_id=s.pk),
                lambda y=y, s=slot1: services.booking_move(booking=y, slot_id=s.pk),
            ]
        )

        # Neither can go first: each target is full until the other move has left it.
        assert error_counts(outcomes) == {"SlotFull": 2}
        x.refresh_from_db()
        y.refresh_from_db()
        assert (x.slot_id, y.slot_id) == (slot1.pk, slot2.pk)
        for slot in (slot1, slot2):
            slot.refresh_from_db()
            assert slot.booked == active_in(slot) == 1
    assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_crossing_moves_with_room_all_succeed_without_deadlock(
    make_office, make_slot, make_person
):
    office = make_office()
    # Room for everyone in either slot, so a move can only fail by a deadlock.
    slot_a = make_slot(capacity=10, office=office, day=MONDAY, start=datetime.time(9))
    slot_b = make_slot(
        capacity=10, office=office, day=MONDAY, start=datetime.time(10), end=datetime.time(11)
    )
    in_a = [services.booking_create(resident=make_person(), slot_id=slot_a.pk) for _ in range(5)]
    in_b = [services.booking_create(resident=make_person(), slot_id=slot_b.pk) for _ in range(5)]

    for _round in range(10):
        # Everyone in A moves to B and everyone in B to A, all at the same moment.
        outcomes = run_at_once(
            [(lambda b=b, s=slot_b: services.booking_move(booking=b, slot_id=s.pk)) for b in in_a]
            + [(lambda b=b, s=slot_a: services.booking_move(booking=b, slot_id=s.pk)) for b in in_b]
        )

        assert error_counts(outcomes) == {"ok": 10}
        in_a, in_b = in_b, in_a
        assert set(Booking.objects.filter(slot=slot_a).values_list("pk", flat=True)) == {
            b.pk for b in in_a
        }
        for slot in (slot_a, slot_b):
            slot.refresh_from_db()
            assert slot.booked == active_in(slot) == 5
        assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_invariant_helper_counts_held_places_and_ignores_cancelled(make_slot, make_person):
    """The helper itself: finished bookings keep their place, cancelled ones do not."""
    slot = make_slot(capacity=5, day=MONDAY)
    bookings = [services.booking_create(resident=make_person(), slot_id=slot.pk) for _ in range(4)]
    services.booking_cancel(booking=bookings[0])
    Booking.objects.filter(pk=bookings[1].pk).update(status="completed")
    Booking.objects.filter(pk=bookings[2].pk).update(status="no_show")
    assert_slot_counters_match_bookings()  # 3 held: completed, no_show, booked

    Slot.objects.filter(pk=slot.pk).update(booked=4)  # pretend the cancel kept its place
    with pytest.raises(AssertionError):
        assert_slot_counters_match_bookings()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancel_and_move_of_the_same_booking_at_once_return_its_place_once(
    make_office, make_slot, make_person
):
    # Two tabs of one resident: cancel in one, move in the other; or two moves. Without
    # the booking's row lock both see it "booked" in its first window and both give that
    # place back, so the counter drops below the bookings that hold it.
    office = make_office()
    outcomes_seen = collections.Counter()
    for round_no in range(20):
        day = MONDAY + datetime.timedelta(days=round_no)
        first, second, third = (
            make_slot(
                capacity=5, office=office, day=day, start=datetime.time(h), end=datetime.time(h + 1)
            )
            for h in (9, 10, 11)
        )
        booking = services.booking_create(resident=make_person(), slot_id=first.pk)
        for _ in range(2):  # others in the first window, so a double return shows
            services.booking_create(resident=make_person(), slot_id=first.pk)

        if round_no % 2 == 0:
            race = [
                lambda b=booking: services.booking_cancel(booking=b),
                lambda b=booking, s=second: services.booking_move(booking=b, slot_id=s.pk),
            ]
        else:
            race = [
                lambda b=booking, s=second: services.booking_move(booking=b, slot_id=s.pk),
                lambda b=booking, s=third: services.booking_move(booking=b, slot_id=s.pk),
            ]
        outcomes = run_at_once(race)
        counts = error_counts(outcomes)
        # One after the other: either both apply in turn, or the later one is refused
        # because the booking was cancelled first.
        assert set(counts) <= {"ok", "NotCancellable"}, outcomes
        assert counts["ok"] >= 1, outcomes
        outcomes_seen.update(counts)
        first.refresh_from_db()
        assert first.booked == active_in(first) == 2  # its place came back exactly once
        assert_slot_counters_match_bookings()
    assert outcomes_seen["ok"] >= 20
