"""The counter's rules as predicates, for services, views and templates alike."""

import datetime

from django.contrib.auth.models import AnonymousUser

from appointments.models import Booking
from offices.models import Office
from registration.models import User


def clerk_can_serve(user: User | AnonymousUser, office: Office) -> bool:
    """Clerks serve only the offices an admin assigned them to."""
    return bool(user.is_authenticated and office.clerks.filter(pk=user.pk).exists())


def booking_check_in_allowed(booking: Booking, today: datetime.date) -> bool:
    """Whether a clerk may check ``booking`` in today (what booking_check_in enforces)."""
    return booking.status == Booking.Status.BOOKED and booking.date == today
