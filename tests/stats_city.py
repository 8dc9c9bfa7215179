"""A small city whose every statistic was computed by hand (see ``city``)."""

import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from appointments import services
from appointments.models import Booking, Slot
from counter import services as counter_services
from counter.models import QueueTicket
from offices import services as office_services
from registration.models import EBike, User
from tests.conftest import make_id_number

TZ = ZoneInfo("Asia/Shanghai")
D = datetime.date(2030, 1, 8)  # a Tuesday
D1 = D + datetime.timedelta(days=1)
R = datetime.datetime(2030, 1, 7, 8, 0, tzinfo=TZ)  # D's release
R1 = R + datetime.timedelta(days=1)  # D1's release


def at(day: datetime.date, hh: int, mm: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hh, mm), tzinfo=TZ)


def secs(n: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


@pytest.fixture
def city(make_office, make_resident, django_capture_on_commit_callbacks):
    """Two offices. The figures this fixture must give, by hand:

    Office A, day D: 3 places (windows of 2 and 1). r1 and r2 book the first window,
    r3 is refused as sold out there, books the second at R+70 s: the day is sold out
    70 s after its release. r4 is refused as sold out. r2 cancels. r1 is checked in and
    gets a plate; r3 becomes a no-show. Three queue tickets: waits of 10 and 30 minutes,
    the third never called; #1 is served as a window walk-in. A complaint about A on D.
      released 3, booked 3, cancelled 1, checked in 1, completed 1, no-shows 1,
      window walk-ins 1, tickets 3, mean wait 20.0, attempts 5 (3 + 2 sold out),
      success 60.0 %, sold out 1/1 after 70 s (1.2 min).
    Office B, day D: 2 places. r5 books and never comes; r1 (already holding a booking) is
    refused. One priority walk-in aged 65+, by clerk C2.
      released 2, booked 1, no-shows 1, attempts 1 (r1's refusal is not a failure to get a
      place: it is counted apart), success 100.0 %, senior walk-ins 1, sold out 0/1.
    Day D1: A releases 3 places and B 2; r6 books one at A: attempts 1, success 100.0 %.
    """
    a = make_office(
        name="Office A",
        windows=[
            (datetime.time(9), datetime.time(10), 2),
            (datetime.time(10), datetime.time(11), 1),
        ],
        daily_capacity=3,
        has_walkin_window=True,
    )
    b = make_office(
        name="Office B", windows=[(datetime.time(9), datetime.time(10), 2)], daily_capacity=2
    )
    c1 = User.objects.create_user(email="clerk1@test.example.org", password="pw")
    c2 = User.objects.create_user(email="clerk2@test.example.org", password="pw")
    a.clerks.add(c1)
    b.clerks.add(c2)
    services.slots_release(day=D, now=R)
    services.slots_release(day=D1, now=R1)
    a1, a2 = Slot.objects.filter(office=a, date=D).order_by("start")
    (b1,) = Slot.objects.filter(office=b, date=D)
    (a1_next, _) = Slot.objects.filter(office=a, date=D1).order_by("start")
    r = {n: make_resident(name=f"Resident {n}") for n in range(1, 7)}
    ebike = EBike.objects.create(resident=r[1], frame_number="STATS0000001", brand="X")

    def book(**kwargs):
        # The sell-out moment is noted after the commit that took the last place.
        with django_capture_on_commit_callbacks(execute=True):
            return services.booking_create(**kwargs)

    b_r1 = book(resident=r[1], slot_id=a1.pk, ebike=ebike, now=R + secs(10))
    b_r2 = book(resident=r[2], slot_id=a1.pk, now=R + secs(20))
    with pytest.raises(services.SlotFull):
        book(resident=r[3], slot_id=a1.pk, now=R + secs(25))
    book(resident=r[3], slot_id=a2.pk, now=R + secs(70))
    with pytest.raises(services.SlotFull):
        book(resident=r[4], slot_id=a2.pk, now=R + secs(80))
    book(resident=r[5], slot_id=b1.pk, now=R + secs(300))
    with pytest.raises(services.AlreadyBooked):
        book(resident=r[1], slot_id=b1.pk, now=R + secs(400))
    services.booking_cancel(booking=b_r2, now=R + datetime.timedelta(hours=2))
    book(resident=r[6], slot_id=a1_next.pk, now=R1 + secs(600))

    counter_services.booking_check_in(booking=b_r1, clerk=c1, office=a, now=at(D, 8, 40))
    counter_services.plate_stock_load(office=a, prefix="营口A", first=1, last=5)
    counter_services.plate_issue(
        booking=Booking.objects.get(pk=b_r1.pk),
        clerk=c1,
        office=a,
        failed_items=[],
        plate_number="营口A00001",
        now=at(D, 8, 50),
    )
    services.bookings_mark_no_shows(now=at(D, 12, 0))  # r3's window ended at 11:00

    t1 = counter_services.ticket_issue(office=a, clerk=c1, now=at(D, 9, 0))
    counter_services.ticket_issue(office=a, clerk=c1, now=at(D, 9, 5))
    counter_services.ticket_issue(office=a, clerk=c1, now=at(D, 9, 20))
    counter_services.ticket_call_next(office=a, clerk=c1, now=at(D, 9, 10))  # #1 waited 10 min
    counter_services.ticket_serve(
        ticket=QueueTicket.objects.get(pk=t1.pk),
        clerk=c1,
        real_name="Window Walker",
        id_number=make_id_number(seq="901"),
        frame_number="STATS0000002",
        brand="X",
        now=at(D, 9, 15),
    )
    counter_services.ticket_call_next(office=a, clerk=c1, now=at(D, 9, 35))  # #2 waited 30 min

    counter_services.priority_walkin_start(
        office=b,
        clerk=c2,
        real_name="Senior Walker",
        id_number=make_id_number(birth="19500101", seq="902"),
        reason="senior",
        frame_number="STATS0000003",
        brand="X",
        now=at(D, 10, 0),
    )
    complainant = User.objects.create_user(email="complainant@test.example.org", password="pw")
    office_services.complaint_file(
        user=complainant,
        office=a,
        category="other",
        incident_date=D,
        text="Waited too long.",
        now=at(D, 18, 0),
    )
    return SimpleNamespace(a=a, b=b, c1=c1, c2=c2)
