"""One list of a booking's legal status changes (Booking.TRANSITIONS), applied by one
service (booking_status_set) for every change a resident, a clerk or the sweep makes."""

import datetime
import itertools
import zoneinfo

import pytest

from appointments import services
from appointments.models import Booking
from registration.models import User

AT = datetime.datetime(2030, 1, 7, 9, 15, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
STAMP = {
    "cancelled": "cancelled_at",
    "checked_in": "checked_in_at",
    "completed": "completed_at",
    "no_show": "no_show_at",
}


@pytest.fixture
def booking_in(make_slot, make_resident):
    def make(status: str) -> Booking:
        user = User.objects.create_user(phone=f"+86139{User.objects.count():08d}")
        booking = services.booking_create(
            resident=make_resident(user=user),
            slot_id=make_slot(capacity=50).pk,
            now=AT - datetime.timedelta(days=1),
        )
        Booking.objects.filter(pk=booking.pk).update(status=status)
        booking.refresh_from_db()
        return booking

    return make


LEGAL = {(old, new) for old, news in Booking.TRANSITIONS.items() for new in news}


@pytest.mark.django_db
@pytest.mark.parametrize("old, new", sorted(itertools.product(Booking.Status.values, repeat=2)))
def test_only_the_listed_changes_are_made(booking_in, old, new):
    booking = booking_in(old)
    if (old, new) in LEGAL:
        services.booking_status_set(booking, new, now=AT)
        booking.refresh_from_db()
        assert booking.status == new
        if new in STAMP:
            assert getattr(booking, STAMP[new]) == AT
    else:
        with pytest.raises(services.StatusChangeRefused) as refused:
            services.booking_status_set(booking, new, now=AT)
        assert refused.value.code == "booking_status"
        booking.refresh_from_db()
        assert booking.status == old


def test_the_list_names_every_status_and_ends_where_a_booking_is_finished():
    reached = {new for news in Booking.TRANSITIONS.values() for new in news}
    assert reached | set(Booking.TRANSITIONS) == set(Booking.Status.values)
    finished = {"cancelled", "completed", "no_show", "inspection_failed"}
    assert finished.isdisjoint(Booking.TRANSITIONS)  # nothing leaves a finished booking
    assert Booking.statuses_leading_to("no_show") == ["booked"]
