"""The admins' audit log: counter actions and quota changes, searched together."""

import datetime
import re
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse

from appointments import services
from appointments.models import Slot
from counter import services as counter_services
from offices.models import QuotaChange
from supervision.audit_log import audit_log_search
from tests.conftest import make_id_number

URL = "/admin/counter/auditentry/log/"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MINUTE = datetime.timedelta(minutes=1)


def local(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2030, 1, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def log(office_a, office_b, clerk_a, clerk_b, make_resident, admin_user):
    """Four counter actions and one quota change, 7 to 10 January 2030 (local time)."""
    clerk_b.phone = "+8613900001111"  # found by a search for a mobile number
    clerk_b.save(update_fields=["phone"])

    def book(office, name):
        # Booked on the Sunday evening before the log's first day, for that Monday.
        slot = Slot.objects.create(
            office=office,
            date=local(7, 0).date(),
            start=datetime.time(9),
            end=datetime.time(10),
            capacity=5,
        )
        resident = make_resident(name=name)
        return services.booking_create(resident=resident, slot_id=slot.pk, now=local(6, 18))

    zhang, li = book(office_a, "Zhang San"), book(office_b, "Li Si")
    record = counter_services.audit_record
    record(
        clerk=clerk_a,
        office=office_a,
        action="check_in",
        booking=zhang,
        code="priority_walkin",
        params={"reason": "veteran"},
        now=local(7, 9),
    )
    record(
        clerk=clerk_a,
        office=office_a,
        action="search",
        code="search",
        params={"kind": "phone", "count": 3},
        now=local(8, 10),
    )
    # 23:30 and 00:10 local are 15:30 and 16:10 UTC on the same UTC day.
    record(clerk=clerk_b, office=office_b, action="no_show", booking=li, now=local(9, 23, 30))
    record(clerk=clerk_b, office=office_b, action="check_in", booking=li, now=local(10, 0, 10))
    QuotaChange.objects.create(
        office=office_a,
        field="weekly_quota",
        old_value="160",
        new_value="120",
        reason="road works at the gate",
        changed_by=admin_user,
        changed_at=local(8, 12),
    )
    return {
        "a": office_a,
        "b": office_b,
        "clerk_a": clerk_a,
        "clerk_b": clerk_b,
        "zhang": zhang,
        "li": li,
    }


def rows(html: str) -> int:
    return html.count('<tr class="action-')


def actions(html: str) -> list[str]:
    """Return the action of each result row, top to bottom."""
    return re.findall(r'<tr class="action-(\w+)">', html)


def test_log_merges_counter_actions_and_quota_changes_newest_first(admin_client, log):
    html = admin_client.get(URL).content.decode()
    assert actions(html) == ["check_in", "no_show", "quota", "search", "check_in"]
    times = ["2030-01-10 00:10", "2030-01-09 23:30", "2030-01-08 12:00", "2030-01-08 10:00"]
    times.append("2030-01-07 09:00")
    positions = [html.index(t) for t in times]
    assert positions == sorted(positions)
    assert "160 → 120" in html and "road works at the gate" in html
    assert "admin@test.example.org" in html
    assert log["zhang"].code in html and log["zhang"].resident.id_masked in html


def test_link_from_other_pages_filters_clerk_office_action_text_and_dates(admin_client, log):
    query = {
        "clerk": log["clerk_a"].pk,
        "office": log["a"].pk,
        "action": "check_in",
        "q": "priority",
        "start": "2030-01-07",
        "end": "2030-01-07",
    }
    html = admin_client.get(URL, query).content.decode()
    assert rows(html) == 1
    assert log["zhang"].code in html and "priority walk-in: veteran" in html
    assert log["li"].code not in html
    assert "Only actions by clerk-a@test.example.org." in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"office": "a"}, ["quota", "search", "check_in"]),
        ({"office": "b"}, ["check_in", "no_show"]),
        ({"clerk": "clerk_b"}, ["check_in", "no_show"]),
        ({"clerk": "clerk_a", "action": "search"}, ["search"]),
        ({"action": "check_in"}, ["check_in", "check_in"]),
        ({"action": "quota"}, ["quota"]),
        ({"q": "mobile number"}, ["search"]),  # the label of the coded parameter "phone"
        ({"q": "3 found"}, []),  # words of a rendered line are not searched, its parts are
        ({"q": "found"}, ["search"]),
        ({"q": "road works"}, ["quota"]),
    ],
)
def test_each_filter_keeps_exactly_its_rows(admin_client, log, query, expected):
    query = {key: log[value].pk if value in log else value for key, value in query.items()}
    assert actions(admin_client.get(URL, query).content.decode()) == expected


def test_dates_are_inclusive_local_days(admin_client, log):
    ninth = admin_client.get(URL, {"start": "2030-01-09", "end": "2030-01-09"}).content.decode()
    assert actions(ninth) == ["no_show"]
    tenth = admin_client.get(URL, {"start": "2030-01-10"}).content.decode()
    assert actions(tenth) == ["check_in"] and log["li"].code in tenth
    until_eighth = admin_client.get(URL, {"end": "2030-01-08"}).content.decode()
    assert actions(until_eighth) == ["quota", "search", "check_in"]


@pytest.mark.parametrize(
    ("person", "count"),
    [
        ("clerk-b@", 2),  # the clerk's e-mail
        ("zhang", 1),  # the resident's real name
        ("admin@test", 1),  # the admin who changed a quota
        ("nobody", 0),
    ],
)
def test_person_matches_email_phone_and_name(admin_client, log, person, count):
    html = admin_client.get(URL, {"person": person}).content.decode()
    assert rows(html) == count
    if person == "zhang":
        assert log["zhang"].code in html and log["li"].code not in html
    if count == 0:
        assert "No entries match." in html


def test_a_mobile_number_is_searched_by_post_only(admin_client, log):
    html = admin_client.post(URL, {"number": "139 0000 1111"}).content.decode()
    assert rows(html) == 2  # the clerk with that number
    refused = admin_client.get(URL, {"person": "13900001111"}).content.decode()
    assert "Search an ID or mobile number with the number field below" in refused
    assert rows(refused) == 0
    bad = admin_client.post(URL, {"number": "12345"}).content.decode()
    assert "Enter a full ID number or an 11-digit mobile number." in bad


def test_id_number_is_searched_by_post_only(admin_client, log):
    # Li Si was the second resident made: sequence 002.
    number = make_id_number(seq="002")
    response = admin_client.post(URL, {"number": number, "office": log["b"].pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert rows(html) == 2 and log["li"].code in html and log["zhang"].code not in html
    # By GET the number is ignored: it must never be put in a URL.
    assert rows(admin_client.get(URL, {"number": number}).content.decode()) == 5
    unknown = admin_client.post(URL, {"number": make_id_number(seq="999")}).content.decode()
    assert rows(unknown) == 0 and "No entries match." in unknown


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "2030-01-09", "end": "2030-01-08"}, "The end date is before the start date."),
        ({"action": "bribe"}, "Select a valid choice."),
        ({"start": "09/01/2030"}, "Enter a valid date."),
        ({"clerk": "999999"}, "Select a valid choice."),
        ({"office": "x"}, "Select a valid choice."),
        ({"person": "21080219850315123X"}, "Search an ID or mobile number with the number"),
        ({"q": "2108-0219-8503-1512-34"}, "Search an ID or mobile number with the number"),
        ({"person": "139 0000 1111"}, "Search an ID or mobile number with the number"),
    ],
)
def test_bad_input_is_a_form_error_not_a_crash(admin_client, log, data, message):
    response = admin_client.get(URL, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert rows(html) == 0 and 'id="audit-log"' not in html


def test_bad_id_number_is_a_form_error(admin_client, log):
    good = make_id_number(seq="002")
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    response = admin_client.post(URL, {"number": wrong_check})
    html = response.content.decode()
    assert response.status_code == 200
    assert "check character is wrong" in html
    assert rows(html) == 0
    short = admin_client.post(URL, {"number": good[:17]}).content.decode()
    assert "Enter a full ID number or an 11-digit mobile number." in short


def test_pages_of_one_hundred_and_bounded_queries(log, django_assert_max_num_queries):
    clerk, office = log["clerk_a"], log["a"]
    for minute in range(120):
        counter_services.audit_record(
            clerk=clerk, office=office, action="search", now=local(6, 8) + minute * MINUTE
        )
    with django_assert_max_num_queries(4):
        first = audit_log_search()
        lines = list(first.object_list)
        [(line.office.name, str(line.who), line.booking_code) for line in lines]
    assert (len(lines), first.paginator.count, first.paginator.num_pages) == (100, 125, 2)
    last = audit_log_search(page=2)
    assert len(last.object_list) == 25
    assert last.object_list[-1].at == local(6, 8)
    assert audit_log_search(page="nonsense").number == 1


def test_pages_are_linked_keeping_the_filters(admin_client, log):
    for minute in range(101):
        counter_services.audit_record(
            clerk=log["clerk_a"],
            office=log["a"],
            action="search",
            now=local(6, 8) + minute * MINUTE,
        )
    html = admin_client.get(URL, {"action": "search"}).content.decode()
    assert rows(html) == 100
    assert "?action=search&amp;page=2" in html
    assert rows(admin_client.get(URL, {"action": "search", "page": 2}).content.decode()) == 2


def test_changelist_and_overview_link_to_the_log(admin_client, log):
    changelist = admin_client.get(reverse("admin:counter_auditentry_changelist")).content.decode()
    assert f'href="{URL}"' in changelist
    overview = admin_client.get(reverse("admin:offices_office_overview")).content.decode()
    assert f'href="{URL}?action=quota"' in overview


@pytest.mark.parametrize("role", ["clerk", "resident"])
def test_non_admins_are_refused(log, request, role):
    client = request.getfixturevalue(
        {"clerk": "clerk_a_client", "resident": "resident_client"}[role]
    )
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"number": make_id_number(seq="002")}).status_code == 403


def test_strangers_are_sent_to_log_in(db):
    response = Client().get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
