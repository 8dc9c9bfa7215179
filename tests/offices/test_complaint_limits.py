"""Complaints are limited per account and office, and integrity flags count the people
who complained, not their complaints (issue #13, item 10)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from offices.models import Complaint
from registration.models import User
from supervision import stats
from tests.personas import signed_in
from tests.stats_city import D

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 6, 23, 50, tzinfo=TZ)


def complaint_data(office):
    return {
        "office": office.pk,
        "category": Complaint.Category.INSURANCE,
        "incident_date": "2030-01-05",
        "text": "The clerk said I had to buy insurance first.",
    }


def test_an_account_files_at_most_three_complaints_a_day_per_office(make_login, office_a, office_b):
    with time_machine.travel(NOW, tick=False) as clock:
        client = make_login()
        statuses = [
            client.post("/complaints/new/", complaint_data(office_a)).status_code for _ in range(40)
        ]
        assert statuses[:3] == [302, 302, 302]
        assert set(statuses[3:]) == {429}
        refused = client.post("/complaints/new/", complaint_data(office_a))
        assert "You have already sent 3 complaints about this service point today" in (
            refused.content.decode()
        )
        assert Complaint.objects.filter(user=client.user, office=office_a).count() == 3
        # Another office is another budget; the next local day, a new one.
        assert client.post("/complaints/new/", complaint_data(office_b)).status_code == 302
        clock.move_to(NOW + datetime.timedelta(minutes=11))  # 00:01 local
        client = signed_in(client.user)
        assert client.post("/complaints/new/", complaint_data(office_a)).status_code == 302
    assert Complaint.objects.filter(office=office_a).count() == 4


def file_directly(user, office, n):
    """Complaints written past the limit (as before it existed)."""
    Complaint.objects.bulk_create(
        Complaint(
            user=user,
            office=office,
            category=Complaint.Category.INSURANCE,
            incident_date=D,
            text="again",
            created_at=NOW,
        )
        for _ in range(n)
    )


def complaint_flags(**kwargs):
    return [
        (str(f.subject), f.count)
        for f in stats.integrity_flags(start=D, end=D, complaint_share=0.5, **kwargs)
        if f.what == "complaints"
    ]


@pytest.mark.django_db
def test_forty_complaints_from_one_account_do_not_raise_the_flag(city):
    # Office A served 2 people on D and has one complaint (the city's): at a 50 % share,
    # one person complaining is not above it.
    assert complaint_flags() == []
    complainant = Complaint.objects.get(office=city.a).user
    file_directly(complainant, city.a, 39)
    assert complaint_flags() == []
    # Two more people complaining: 3 of 2 served stands out.
    for n in range(2):
        other = User.objects.create_user(email=f"other{n}@test.example.org")
        file_directly(other, city.a, 1)
    assert complaint_flags() == [("Office A", 3)]
