"""Complaints: filed by residents through the form, read by supervisors in the admin."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine

from offices.models import Complaint
from tests.personas import signed_in

NOW = datetime.datetime(2030, 1, 6, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def complaint_data(office, **overrides):
    data = {
        "office": office.pk,
        "category": Complaint.Category.INSURANCE,
        "incident_date": (TODAY - datetime.timedelta(days=1)).isoformat(),
        "text": "The clerk said I had to buy insurance first.",
    }
    data.update(overrides)
    return data


def field_error(html: str, name: str) -> str:
    tag = re.search(rf'<(?:input|textarea)[^>]*\bname="{name}"[^>]*>', html)
    assert tag, f"no field {name}"
    assert 'aria-invalid="true"' in tag.group(0)
    errors = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', html, re.S)
    assert errors, f"no errors for {name}"
    return errors.group(1)


def test_the_form_requires_login(make_office, client):
    office = make_office()
    response = client.get("/complaints/new/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/complaints/new/")
    response = client.post("/complaints/new/", complaint_data(office))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Complaint.objects.exists()
    assert client.get("/complaints/").status_code == 302


def test_a_complaint_is_stored_with_its_details(make_office, make_login):
    make_office(name="Decoy")
    office = make_office(name="East Hall")
    client = make_login()
    page = client.get(f"/complaints/new/?office={office.code}")
    assert page.status_code == 200
    assert f'<option value="{office.pk}" selected>' in page.content.decode()

    response = client.post(
        "/complaints/new/",
        complaint_data(
            office,
            category=Complaint.Category.FEE,
            incident_date="2030-01-03",
            text="  Asked for 50 yuan.\nNo receipt.  ",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == "/complaints/"
    complaint = Complaint.objects.get()
    assert complaint.user == client.user
    assert complaint.office == office
    assert complaint.category == "fee"
    assert complaint.incident_date == datetime.date(2030, 1, 3)
    assert complaint.text == "Asked for 50 yuan.\nNo receipt."
    assert complaint.status == Complaint.Status.RECEIVED
    assert complaint.created_at == NOW


def test_over_long_text_is_refused_on_the_field(make_office, make_login):
    office = make_office()
    client = make_login()
    response = client.post("/complaints/new/", complaint_data(office, text="x" * 2001))
    assert response.status_code == 200
    errors = field_error(response.content.decode(), "text")
    assert "at most 2000 characters" in errors
    assert not Complaint.objects.exists()

    exactly = "y" * 2000
    assert client.post("/complaints/new/", complaint_data(office, text=exactly)).status_code == 302
    assert Complaint.objects.get().text == exactly


def test_a_future_incident_date_is_refused(make_office, make_login):
    office = make_office()
    client = make_login()
    tomorrow = (TODAY + datetime.timedelta(days=1)).isoformat()
    response = client.post("/complaints/new/", complaint_data(office, incident_date=tomorrow))
    assert response.status_code == 200
    errors = field_error(response.content.decode(), "incident_date")
    assert "The date of the incident cannot be in the future." in errors
    assert not Complaint.objects.exists()
    # Today is fine.
    response = client.post("/complaints/new/", complaint_data(office, incident_date=str(TODAY)))
    assert response.status_code == 302
    assert Complaint.objects.get().incident_date == TODAY


def test_required_fields_are_reported(make_office, make_login):
    make_office()
    client = make_login()
    response = client.post("/complaints/new/", {"text": "   "})
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("text", "incident_date"):
        assert "This field is required." in field_error(html, name)
    assert not Complaint.objects.exists()


def test_script_text_is_stored_as_is_and_shown_escaped(make_office, make_login):
    office = make_office()
    client = make_login()
    text = f"Before {SCRIPT} after & <b>bold</b>"
    response = client.post("/complaints/new/", complaint_data(office, text=text), follow=True)
    assert response.redirect_chain == [("/complaints/", 302)]
    assert Complaint.objects.get().text == text

    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&amp;" in html
    assert SCRIPT not in html
    assert "<b>bold</b>" not in html
    assert "<script" not in html.lower()


def test_the_resident_sees_the_received_status(make_office, make_login):
    office = make_office(name="West Hall")
    client = make_login()
    client.post("/complaints/new/", complaint_data(office))
    response = client.get("/complaints/")
    html = response.content.decode()
    assert "Your complaint was received. The supervisors will read it and answer here." in html
    assert 'Status: <span class="status">received</span>' in html
    assert "West Hall · I was pushed to buy insurance" in html

    zh = make_login(language="zh-hans")
    zh.post("/complaints/new/", complaint_data(office))
    assert '<span class="status">已收到</span>' in zh.get("/complaints/").content.decode()


def test_residents_see_only_their_own_complaints(make_office, make_login):
    office = make_office()
    mine, theirs = make_login(), make_login()
    mine.post("/complaints/new/", complaint_data(office, text="my own words"))
    theirs.post("/complaints/new/", complaint_data(office, text="somebody else's words"))
    html = mine.get("/complaints/").content.decode()
    assert "my own words" in html
    assert "somebody else" not in html


def test_admins_see_complaints_filtered_by_office(make_office, make_login, admin_client):
    north = make_office(name="North Hall")
    south = make_office(name="South Hall")
    client = make_login()
    client.post("/complaints/new/", complaint_data(north, category="fee"))
    client.post("/complaints/new/", complaint_data(south, category="queue"))
    at_north = Complaint.objects.get(office=north)
    at_south = Complaint.objects.get(office=south)

    response = admin_client.get("/admin/offices/complaint/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/admin/offices/complaint/{at_north.pk}/change/" in html
    assert f"/admin/offices/complaint/{at_south.pk}/change/" in html

    response = admin_client.get(f"/admin/offices/complaint/?office__id__exact={north.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/admin/offices/complaint/{at_north.pk}/change/" in html
    assert f"/admin/offices/complaint/{at_south.pk}/change/" not in html
    rows = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    assert "I was asked for a fee" in rows
    assert "Someone was let in without a booking" not in rows
    assert list(response.context["cl"].result_list) == [at_north]

    # A resident cannot read the admin.
    assert client.get("/admin/offices/complaint/").status_code == 403  # not an admin


def complaint_change(admin_client, complaint, **data):
    form = {"status": complaint.status, "assigned_to": "", "answer": complaint.answer, **data}
    return admin_client.post(f"/admin/offices/complaint/{complaint.pk}/change/", form)


@pytest.fixture
def complaint(make_office, make_login):
    make_login().post("/complaints/new/", complaint_data(make_office()))
    return Complaint.objects.get()


def test_a_supervisor_takes_a_complaint_in_hand(complaint, admin_client, admin_user):
    response = complaint_change(
        admin_client, complaint, status="in_progress", assigned_to=str(admin_user.pk)
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.assigned_to, complaint.answered_at) == (
        "in_progress",
        admin_user,
        None,
    )


def test_a_complaint_is_not_marked_answered_without_an_answer(complaint, admin_client):
    response = complaint_change(admin_client, complaint, status="answered")
    assert response.status_code == 200
    assert "Write an answer for the resident." in response.content.decode()
    complaint.refresh_from_db()
    assert (complaint.status, complaint.answered_at) == ("received", None)


def test_an_answer_is_stamped_and_shown_to_the_resident(complaint, admin_client, admin_user):
    response = complaint_change(
        admin_client, complaint, status="received", answer="  We spoke to the clerk.  "
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.answer, complaint.answered_at, complaint.assigned_to) == (
        "answered",
        "We spoke to the clerk.",
        NOW,
        admin_user,  # whoever answers takes it when no one had
    )
    page = signed_in(complaint.user).get("/complaints/").content.decode()
    assert "We spoke to the clerk." in page


def test_an_answer_can_close_the_complaint_at_once(complaint, admin_client):
    complaint_change(admin_client, complaint, status="closed", answer="Refunded.")
    complaint.refresh_from_db()
    assert (complaint.status, complaint.answer) == ("closed", "Refunded.")


def test_an_answer_is_replaced_but_never_cleared(complaint, admin_client):
    complaint_change(admin_client, complaint, answer="We spoke to the clerk.")
    complaint.refresh_from_db()
    response = complaint_change(admin_client, complaint, status="closed", answer="")
    assert response.status_code == 200
    assert "write a new one instead of clearing it" in response.content.decode()
    complaint.refresh_from_db()
    assert (complaint.status, complaint.answer) == ("answered", "We spoke to the clerk.")

    complaint_change(admin_client, complaint, answer="Refunded in full.")
    complaint.refresh_from_db()
    assert complaint.answer == "Refunded in full."
