import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from .models import Booking


def booking_ics(booking: Booking) -> bytes:
    slot = booking.slot
    cal = Calendar()
    cal.add("prodid", "-//ebike-plates//booking//ZH")
    cal.add("version", "2.0")
    event = Event()
    event.add("uid", f"booking-{booking.code}@ebike-plates")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", timezone.make_aware(datetime.datetime.combine(booking.date, slot.start)))
    event.add("dtend", timezone.make_aware(datetime.datetime.combine(booking.date, slot.end)))
    event.add("summary", _("E-bike registration at %(office)s") % {"office": booking.office.name})
    event.add(
        "description",
        _(
            "Confirmation code: %(code)s. Bring your ID card, the e-bike, the purchase invoice "
            "and the certificate of conformity. Registration is free. Insurance is voluntary."
        )
        % {"code": booking.code},
    )
    event.add("location", f"{booking.office.name}, {booking.office.address}")
    cal.add_component(event)
    # RFC 5545 (3.2.19) wants a VTIMEZONE for every TZID a property uses (Asia/Shanghai here);
    # without it some calendar apps guess the zone or fall back to UTC.
    cal.add_missing_timezones()
    return cal.to_ical()
