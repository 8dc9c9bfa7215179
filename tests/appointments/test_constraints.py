"""The database itself refuses what must never happen."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from appointments import services
from appointments.models import Booking, Channel, Slot
from counter.models import PlateRegistration
from registration.models import EBike

BEFORE = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def raw_booking(resident, slot, **fields):
    return Booking.objects.create(
        resident=resident,
        office=slot.office,
        date=slot.date,
        slot=slot,
        created_at=BEFORE,
        **fields,
    )


def test_second_active_booking_for_the_same_id_is_refused_by_the_database(make_slot, make_resident):
    resident = make_resident()
    slot = make_slot()
    raw_booking(resident, slot)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_booking(resident, make_slot())


def test_a_checked_in_booking_is_also_active(make_slot, make_resident):
    resident = make_resident()
    raw_booking(resident, make_slot(), status=Booking.Status.CHECKED_IN)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_booking(resident, make_slot())


def test_cancelled_and_finished_bookings_do_not_block_a_new_one(make_slot, make_resident):
    resident = make_resident()
    for status in ("cancelled", "completed", "no_show"):
        raw_booking(resident, make_slot(), status=status)
    raw_booking(resident, make_slot())
    assert Booking.objects.filter(resident=resident).count() == 4


def test_slot_counter_cannot_exceed_capacity_in_the_database(make_slot):
    slot = make_slot(capacity=1)
    Slot.objects.filter(pk=slot.pk).update(booked=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=F("booked") + 1)


def test_online_booking_without_a_slot_is_refused(make_office, make_resident):
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            resident=make_resident(),
            office=make_office(),
            date=datetime.date(2030, 1, 7),
            slot=None,
            source=Channel.ONLINE,
            created_at=BEFORE,
        )


def test_a_frame_number_cannot_get_two_plates(make_office, make_resident):
    office = make_office()
    bike = EBike.objects.create(resident=make_resident(), frame_number="FRAME000001", brand="X")
    PlateRegistration.objects.create(
        plate_number="A12345", ebike=bike, office=office, channel="online", registered_at=BEFORE
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PlateRegistration.objects.create(
            plate_number="A12346", ebike=bike, office=office, channel="online", registered_at=BEFORE
        )


def test_a_plate_number_is_issued_once(make_office, make_resident):
    office = make_office()
    resident = make_resident()
    bikes = [
        EBike.objects.create(resident=resident, frame_number=f"FRAME00000{i}", brand="X")
        for i in range(2)
    ]
    PlateRegistration.objects.create(
        plate_number="A12345", ebike=bikes[0], office=office, channel="online", registered_at=BEFORE
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PlateRegistration.objects.create(
            plate_number="A12345",
            ebike=bikes[1],
            office=office,
            channel="online",
            registered_at=BEFORE,
        )


def test_frame_numbers_are_unique(make_resident):
    EBike.objects.create(resident=make_resident(), frame_number="FRAME000001", brand="X")
    with pytest.raises(IntegrityError), transaction.atomic():
        EBike.objects.create(resident=make_resident(), frame_number="FRAME000001", brand="Y")


# The service on top of the constraints.


def test_booking_takes_a_place_and_cancel_returns_it(make_slot, make_resident):
    slot = make_slot(capacity=1)
    booking = services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    slot.refresh_from_db()
    assert (slot.booked, booking.status, len(booking.code)) == (1, "booked", 10)
    with pytest.raises(services.SlotFull):
        services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    services.booking_cancel(booking=booking, now=BEFORE)
    slot.refresh_from_db()
    assert slot.booked == 0
    services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)


def test_full_slot_leaves_no_booking_behind(make_slot, make_resident):
    slot = make_slot(capacity=0)
    resident = make_resident()
    with pytest.raises(services.SlotFull):
        services.booking_create(resident=resident, slot_id=slot.pk, now=BEFORE)
    assert not Booking.objects.filter(resident=resident).exists()


def test_service_refuses_a_second_active_booking(make_slot, make_resident):
    resident = make_resident()
    services.booking_create(resident=resident, slot_id=make_slot().pk, now=BEFORE)
    other = make_slot()
    with pytest.raises(services.AlreadyBooked):
        services.booking_create(resident=resident, slot_id=other.pk, now=BEFORE)
    other.refresh_from_db()
    assert other.booked == 0


def test_started_window_cannot_be_booked(make_slot, make_resident):
    slot = make_slot(day=datetime.date(2030, 1, 7), start=datetime.time(9))
    at_start = datetime.datetime(2030, 1, 7, 1, 0, tzinfo=datetime.UTC)  # 09:00 in Shanghai
    with pytest.raises(services.SlotNotBookable):
        services.booking_create(resident=make_resident(), slot_id=slot.pk, now=at_start)


def test_cancelling_twice_is_refused_and_counts_once(make_slot, make_resident):
    slot = make_slot(capacity=2)
    booking = services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    services.booking_create(resident=make_resident(), slot_id=slot.pk, now=BEFORE)
    services.booking_cancel(booking=booking, now=BEFORE)
    with pytest.raises(services.NotCancellable):
        services.booking_cancel(booking=booking, now=BEFORE)
    slot.refresh_from_db()
    assert slot.booked == 1
