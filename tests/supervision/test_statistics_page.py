"""The statistics page: the hand-computed figures on the page, the same in the CSV."""

import csv
import datetime
import io
import zoneinfo
from html.parser import HTMLParser

import pytest
import time_machine
from django.test import Client

from tests.stats_city import D1, D

URL = "/admin/appointments/booking/statistics/"


class _Tables(HTMLParser):
    """Rows of each table with an id: a list of cell texts per row (th and td alike)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif self._table is not None and tag == "tr":
            self._table.append([])
        elif self._table is not None and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif self._cell is not None and tag in ("td", "th"):
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def test_the_page_shows_the_hand_computed_figures_and_the_csv_has_the_same(city, admin_client):
    query = {"start": D.isoformat(), "end": D1.isoformat(), "group": "office"}
    response = admin_client.get(URL, query)
    assert response.status_code == 200
    html = response.content.decode()
    page = tables(html)["statistics-table"]
    header, a, b, total = page
    assert header[0] == "office" and header[15] == "success rate (%)"
    assert a == ["Office A", "6", "4", "1", "1", "1", "1", "0", "0", "1", "3", "20.0"] + [
        *["6", "2", "0", "66.7", "1/2", "1.2"],
    ]
    # B: one booking; r1's refusal (already holding a booking) is not a failed attempt.
    assert b[0] == "Office B" and b[12:16] == ["1", "0", "1", "100.0"]
    assert total[0] == "Total" and total[1:3] == ["10", "5"] and total[15] == "71.4"

    exported = admin_client.get(URL, {**query, "export": "csv"})
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    assert "attachment" in exported["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows == page  # the same numbers, cell for cell, header and total included

    # Three charts, one bar group per day of the period, bookings of D and D1 labelled.
    assert html.count('<svg viewBox="0 0 640 220"') == 3
    assert "<title>01-08: 4</title>" in html and "<title>01-09: 1</title>" in html


def test_weeks_clerks_and_flags_on_the_page(city, admin_client):
    query = {"start": D.isoformat(), "end": D1.isoformat(), "group": "week"}
    response = admin_client.get(URL, query)
    found = tables(response.content.decode())
    header, week, total = found["statistics-table"]
    assert week[0] == "2030-01-07 – 2030-01-13" and week[1:] == total[1:]
    assert found["clerk-table"][1:] == [
        ["clerk1@test.example.org", "1", "0", "1", "0", "0", "1", "0"],
        ["clerk2@test.example.org", "0", "1", "0", "0", "0", "0", "0"],
    ]
    html = response.content.decode()
    assert "1 priority walk-ins of 1 people served (100.0 %)" in html
    assert "Complaints from 1 people for 2 people served (50.0 %)" in html
    # The flags link to the records behind them.
    assert f"/admin/counter/auditentry/log/?clerk={city.c2.pk}&amp;action=check_in" in html
    assert f"/admin/offices/complaint/?office__id__exact={city.a.pk}" in html
    clerks_csv = admin_client.get(URL, {**query, "export": "clerks"}).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(clerks_csv)))[1:] == found["clerk-table"][1:]
    # A higher threshold, given on the page, removes the walk-in flags.
    relaxed = admin_client.get(URL, {**query, "walkin_share": "100", "complaint_share": "60"})
    assert "Nothing stands out in this period." in relaxed.content.decode()


def test_the_flag_links_lead_to_the_records(city, admin_client):
    html = admin_client.get(URL, {"start": D.isoformat(), "end": D.isoformat()}).content.decode()
    link = html.split('href="/admin/offices/complaint/?')[1].split('"')[0].replace("&amp;", "&")
    complaints = admin_client.get("/admin/offices/complaint/?" + link)
    assert complaints.status_code == 200
    assert "1 complaint" in complaints.content.decode()
    link = html.split('href="/admin/counter/auditentry/log/?')[1].split('"')[0]
    audit = admin_client.get("/admin/counter/auditentry/log/?" + link.replace("&amp;", "&"))
    assert audit.status_code == 200
    assert "priority walk-in: aged 65 or over" in audit.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        (
            {"start": "2030-01-09", "end": "2030-01-08"},
            "The end of the period is before its start.",
        ),
        ({"start": "2029-01-01", "end": "2030-01-08"}, "Choose a period of at most 366 days."),
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"group": "month"}, "Select a valid choice."),
        ({"walkin_share": "150"}, "less than or equal to 100"),
    ],
)
def test_bad_input_is_explained_not_a_crash(admin_client, query, message):
    response = admin_client.get(URL, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'id="statistics-table"' not in html


def test_the_admin_home_links_to_the_supervision_pages(admin_client):
    html = admin_client.get("/admin/").content.decode()
    for url in [
        "/admin/offices/office/overview/",
        URL,
        "/admin/counter/auditentry/log/",
    ]:
        assert f'href="{url}"' in html


# Sunday 23:30 Shanghai is already Sunday 15:30 UTC: the period must end on the local day.
TODAY_LATE = datetime.datetime(2030, 1, 13, 23, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def late_sunday():
    """Requested before ``admin_client``: the admin's session is made at this moment."""
    with time_machine.travel(TODAY_LATE, tick=False) as traveller:
        yield traveller


def test_the_default_period_is_the_last_two_weeks(late_sunday, admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    today = TODAY_LATE.date()
    report = response.context["report"]
    assert (report.start, report.end) == (today - datetime.timedelta(days=13), today)
    assert [row.label for row in report.days][-1] == f"{today:%m-%d}"
    assert len(report.days) == 14


@pytest.mark.parametrize("who", ["clerk", "resident"])
def test_non_admins_are_refused(db, request, who):
    client = request.getfixturevalue(
        {"clerk": "clerk_a_client", "resident": "resident_client"}[who]
    )
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"export": "csv"}).status_code == 403


def test_anonymous_is_sent_to_log_in(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_name_never_becomes_a_spreadsheet_formula(city, admin_client):
    city.b.name = '=HYPERLINK("http://example.org")'
    city.b.save(update_fields=["name"])
    query = {"start": D.isoformat(), "end": D.isoformat(), "group": "office", "export": "csv"}
    rows = list(csv.reader(io.StringIO(admin_client.get(URL, query).content.decode("utf-8-sig"))))
    # Rows are sorted by name, and "=" sorts before "O".
    assert [row[0] for row in rows[1:3]] == ['\'=HYPERLINK("http://example.org")', "Office A"]
