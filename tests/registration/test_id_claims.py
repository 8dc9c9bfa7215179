"""Entering an ID number on the profile is rate-limited and logged (issue #13, item 9)."""

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from registration import services as registration_services
from registration.models import Resident
from tests.conftest import make_id_number
from tests.personas import signed_in

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2030, 1, 7, 10, 30, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def security_events():
    events: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            events.append(getattr(record, "security", {}))

    handler = Collect()
    logging.getLogger("security").addHandler(handler)
    yield events
    logging.getLogger("security").removeHandler(handler)


@pytest.fixture
def taken(make_login):
    """An ID number already registered to another account."""
    number = make_id_number(seq="101")
    registration_services.resident_create(
        real_name="First Owner", id_number=number, user=make_login().user
    )
    return number


def claim(client, number: str, address: str = "198.51.100.1"):
    return client.post("/me/", {"real_name": "Prober", "id_number": number}, REMOTE_ADDR=address)


def test_the_sixth_claim_in_an_hour_is_refused_and_nothing_is_stored(
    clock, make_login, taken, security_events
):
    client = make_login()
    for _ in range(5):
        response = claim(client, taken)
        assert response.status_code == 200
        assert "already registered to another account" in response.content.decode()
    free = make_id_number(seq="102")
    refused = claim(client, free)
    assert refused.status_code == 429
    assert "Too many attempts to enter an ID number" in refused.content.decode()
    assert not Resident.objects.filter(user=client.user).exists()
    assert Resident.objects.count() == 1
    # The probes are logged, masked; the refusal too.
    probes = [e for e in security_events if e["event"] == "id_claim_taken"]
    assert len(probes) == 5
    assert probes[0]["id_masked"] == taken[:6] + "********" + taken[-4:]
    assert all(taken not in str(e) for e in security_events)
    assert security_events[-1]["event"] == "id_claim_refused"
    assert security_events[-1]["user"] == client.user.pk
    # The next hour the same account may try again.
    clock.move_to(NOW + datetime.timedelta(minutes=30))
    assert claim(client, free).status_code == 302
    assert Resident.objects.filter(user=client.user).exists()


def test_one_address_claims_at_most_its_daily_budget_across_accounts(
    clock, make_login, settings, taken
):
    settings.ID_CLAIM_LIMIT_PER_CLIENT_PER_DAY = 3
    statuses = [claim(make_login(), taken).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another address is not refused.
    client = make_login()
    assert claim(client, make_id_number(seq="103"), address="198.51.100.2").status_code == 302


def test_the_refusal_is_shown_in_chinese_by_default(clock, make_login, settings, taken):
    settings.ID_CLAIM_LIMIT_PER_ACCOUNT_PER_HOUR = 1
    user = make_login().user
    client = signed_in(user, language=None)
    claim(client, taken)
    response = claim(client, taken)
    assert response.status_code == 429
    assert "输入身份证号码的次数过多" in response.content.decode()
