"""At the counter, the holder of an ID card takes back an ID number that another account
claimed first: the number moves to their account, on the record, and the old account is
told by SMS."""

import datetime
import logging
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from appointments import services as booking_services
from appointments.models import Slot
from counter.models import AuditEntry
from registration.models import Resident, User
from tests.conftest import make_id_number

NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
SQUATTED = make_id_number(birth="19700101", seq="321")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def security_events():
    """The security events logged (the logger does not propagate to the root)."""
    collect = Collect()
    logging.getLogger("security").addHandler(collect)
    yield collect.records
    logging.getLogger("security").removeHandler(collect)


@pytest.fixture
def squatter(db):
    """An account that claimed someone else's ID number online."""
    from registration import services

    user = User.objects.create_user(phone="+8613700001111")
    services.resident_create(real_name="Wrong Name", id_number=SQUATTED, user=user)
    services.ebike_add(resident=user.resident, frame_number="FRAME777777", brand="Yadea")
    return user


@pytest.fixture
def holder(db):
    """The person who holds the card, signed up with their own number, no ID yet."""
    return User.objects.create_user(phone="+8613600002222")


def url(office):
    return reverse("counter_identity", args=[office.code])


def post(client, office, *, id_number=SQUATTED, login="136 0000 2222", confirmed=True):
    data = {"id_number": id_number, "login": login}
    if confirmed:
        data["confirmed"] = "on"
    return client.post(url(office), data)


def test_the_counter_moves_the_id_number_to_the_holders_account(
    office_a,
    clerk_a,
    clerk_a_client,
    squatter,
    holder,
    console_sms,
    django_capture_on_commit_callbacks,
    caplog,
    security_events,
):
    resident = squatter.resident
    # First the clerk sees what would happen; nothing has moved yet.
    check = post(clerk_a_client, office_a, confirmed=False)
    page = check.content.decode()
    assert check.status_code == 200
    assert f"Wrong Name ({resident.id_masked})" in page and "+86137****1111" in page
    assert "+86136****2222" in page and "Move the ID number" in page
    assert check["Cache-Control"].startswith("max-age=0") or "no-cache" in check["Cache-Control"]
    assert Resident.objects.get(pk=resident.pk).user == squatter

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        response = post(clerk_a_client, office_a)
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.user == holder and resident.phone == "+8613600002222"
    assert not Resident.objects.filter(user=squatter).exists()
    assert resident.ebikes.get().frame_number == "FRAME777777"  # the e-bike goes with it
    entry = AuditEntry.objects.get(action="rebind")
    assert (entry.clerk, entry.office, entry.resident, entry.at) == (
        clerk_a,
        office_a,
        resident,
        NOW,
    )
    assert entry.detail_params == {
        "id_masked": resident.id_masked,
        "old_user": squatter.pk,
        "new_user": holder.pk,
    }
    assert SQUATTED not in str(entry.detail_params)
    # The old account's number is told, with the last four characters of the ID only.
    [sms] = list(console_sms)
    assert sms.phone == "+8613700001111"
    assert SQUATTED[-4:] in sms.text and SQUATTED[:14] not in sms.text
    assert office_a.name in sms.text
    events = [r.security for r in security_events if r.security["event"] == "id_rebound"]
    assert [(e["event"], e["old_user"], e["new_user"]) for e in events] == [
        ("id_rebound", squatter.pk, holder.pk)
    ]
    assert all(SQUATTED not in str(e) for e in events)
    assert all(SQUATTED not in r.getMessage() for r in caplog.records)  # the SMS log line too
    assert any("+86137****1111" in r.getMessage() for r in caplog.records)
    shown = clerk_a_client.get(response["Location"]).content.decode()
    assert "is now on the account +86136****2222" in shown
    assert "The old account is told by SMS." in shown


def test_the_new_account_can_be_named_by_e_mail(office_a, clerk_a_client, squatter, db):
    holder = User.objects.create_user(email="Holder@Example.org")
    assert post(clerk_a_client, office_a, login="holder@example.org").status_code == 302
    assert User.objects.get(pk=holder.pk).resident.id_masked.endswith(SQUATTED[-4:])


def refusal(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_an_unknown_id_number_is_refused(office_a, clerk_a_client, squatter, holder):
    page = refusal(post(clerk_a_client, office_a, id_number=make_id_number(seq="999")))
    assert "Nobody on record has this ID number." in page
    assert not Resident.objects.filter(user=holder).exists()
    entry = AuditEntry.objects.get(action="refused")
    assert entry.detail_params == {"what": "rebind", "reason": "id_unknown"}


def test_an_unknown_account_is_refused(office_a, clerk_a_client, squatter):
    page = refusal(post(clerk_a_client, office_a, login="+86 135 0000 9999"))
    assert "No account signed up with this mobile number or e-mail address." in page
    assert Resident.objects.get(id_masked__endswith=SQUATTED[-4:]).user == squatter


def test_the_same_account_is_refused(office_a, clerk_a_client, squatter):
    page = refusal(post(clerk_a_client, office_a, login="13700001111"))
    assert "This ID number is already on this account." in page
    assert not AuditEntry.objects.filter(action="rebind").exists()


def test_an_account_holding_another_id_number_is_refused(
    office_a, clerk_a_client, squatter, holder
):
    from registration import services

    services.resident_create(real_name="Other", id_number=make_id_number(seq="555"), user=holder)
    page = refusal(post(clerk_a_client, office_a))
    assert "This account already holds another ID number" in page
    assert User.objects.get(pk=squatter.pk).resident.pk != holder.resident.pk


def test_an_active_booking_for_the_number_is_refused_and_says_so(
    office_a, clerk_a_client, squatter, holder, console_sms
):
    slot = Slot.objects.create(
        office=office_a,
        date=datetime.date(2030, 1, 8),
        start=datetime.time(9),
        end=datetime.time(10),
        capacity=5,
    )
    booking_services.booking_create(resident=squatter.resident, slot_id=slot.pk)
    page = refusal(post(clerk_a_client, office_a))
    assert "This ID number has an active booking. Cancel the booking first" in page
    assert Resident.objects.get(pk=squatter.resident.pk).user == squatter
    assert not list(console_sms)
    entry = AuditEntry.objects.get(action="refused")
    assert (entry.resident, entry.detail_params["reason"]) == (squatter.resident, "active_booking")


def test_an_invalid_id_number_is_told_beside_the_field(office_a, clerk_a_client, squatter, holder):
    page = refusal(post(clerk_a_client, office_a, id_number=SQUATTED[:-1] + "0"))
    assert "check character is wrong" in page, page
    # A refused confirmation goes back to the first step: the next post is a check again.
    assert 'name="confirmed"' not in page


def test_a_clerk_of_another_office_is_refused(office_a, clerk_b_client, clerk_b, squatter, holder):
    assert clerk_b_client.get(url(office_a)).status_code == 403
    assert post(clerk_b_client, office_a).status_code == 403
    assert Resident.objects.get(pk=squatter.resident.pk).user == squatter


def test_a_resident_is_refused(office_a, squatter, holder):
    from tests.personas import signed_in

    client = signed_in(holder)
    assert client.get(url(office_a)).status_code == 403
    assert post(client, office_a).status_code == 403
    assert Resident.objects.get(pk=squatter.resident.pk).user == squatter


def test_the_board_links_to_the_page(office_a, clerk_a_client):
    board = clerk_a_client.get(reverse("counter_board", args=[office_a.code])).content.decode()
    assert url(office_a) in board


def test_a_record_made_at_the_counter_without_an_account_joins_the_holders_account(
    office_a, clerk_a_client, holder, console_sms, django_capture_on_commit_callbacks
):
    from registration import services

    record = services.resident_create(real_name="Walk In", id_number=SQUATTED)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(clerk_a_client, office_a)
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.user == holder
    assert AuditEntry.objects.get(action="rebind").detail_params["old_user"] is None
    assert not list(console_sms)  # nobody to tell
