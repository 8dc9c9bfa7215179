import datetime
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from appointments.models import DayRelease, Slot
from counter.models import AuditEntry
from offices import demo
from offices.models import Office, TimeWindow
from offices.services import main_urban_weekly_total
from registration.models import EBike, Resident, User

# A Saturday evening: the demo releases today and the days ahead, across a closed Sunday
# and into the next ISO week.
NOW = datetime.datetime(2030, 1, 5, 21, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def snapshot():
    return {
        "offices": sorted(Office.objects.values_list("code", "weekly_quota", "daily_capacity")),
        "windows": TimeWindow.objects.count(),
        "users": sorted(User.objects.values_list("email", flat=True)),
        "residents": Resident.objects.count(),
        "ebikes": EBike.objects.count(),
        "releases": DayRelease.objects.count(),
        "slots": sorted(Slot.objects.values_list("office__code", "date", "start", "capacity")),
        "clerks": sorted(Office.objects.values_list("code", "clerks__email")),
        "audit": AuditEntry.objects.count(),
    }


def test_load_demo_twice_leaves_the_same_data(db, capsys, settings):
    settings.WEEKLY_ONLINE_FLOOR = 760
    call_command("load_demo")
    first = snapshot()
    out = capsys.readouterr().out
    call_command("load_demo")
    assert snapshot() == first
    for email in demo.DEMO_ACCOUNTS.values():
        assert email in out
    main = Office.objects.filter(is_main_urban=True)
    assert main.count() == 5
    assert main_urban_weekly_total() >= 760
    vao = Office.objects.get(code="demo-vao")
    assert vao.has_walkin_window and not vao.is_main_urban
    assert User.objects.get(email=demo.DEMO_ACCOUNTS["admin"]).is_superuser
    clerk = User.objects.get(email=demo.DEMO_ACCOUNTS["clerk"])
    assert clerk.clerk_offices.count() == 2 and not clerk.is_staff
    assert first["releases"] >= 6
    assert Slot.objects.filter(date__gt=NOW.date()).exists()


def test_demo_data_is_clearly_fictional(db):
    call_command("load_demo", "--days", "0")
    for office in Office.objects.all():
        assert "虚构" in office.name and "虚构" in office.address
    for email in User.objects.values_list("email", flat=True):
        assert email.endswith("@demo.example.org")
