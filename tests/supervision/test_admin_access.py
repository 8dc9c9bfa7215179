"""Admin pages need the admin role: clerks and residents get 403 on every one."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from appointments import capacity
from offices import services
from offices.models import Complaint
from registration.models import User
from tests.personas import staff_login

# After the complaint's incident day (2026-01-05), before the plan's first day (2031-01-06);
# sessions are made at this moment too.
NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def admin_urls():
    urls = [reverse("admin:index"), reverse("admin:offices_office_overview")]
    urls.append(reverse("admin:counter_platenumber_load"))
    urls.append(reverse("admin:counter_auditentry_log"))
    urls.append(reverse("admin:appointments_booking_statistics"))
    urls.append(reverse("admin:offices_plannedchange_add"))
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    return urls


@pytest.mark.parametrize("role", ["clerk", "resident"])
def test_non_admins_are_refused_on_every_admin_url(db, request, role):
    client = request.getfixturevalue(
        {"clerk": "clerk_a_client", "resident": "resident_client"}[role]
    )
    statuses = {url: client.get(url).status_code for url in admin_urls()}
    assert set(statuses.values()) == {403}, statuses
    assert len(statuses) > 15


def test_strangers_are_sent_to_log_in(db):
    response = Client().get(reverse("admin:offices_complaint_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admins_answer_complaints_and_the_resident_sees_it(
    make_office, admin_user, admin_client, resident, resident_client
):
    complaint = services.complaint_file(
        user=resident,
        office=make_office(),
        category="insurance",
        incident_date=datetime.date(2026, 1, 5),
        text="The clerk said I must buy insurance.",
    )
    url = reverse("admin:offices_complaint_change", args=[complaint.pk])
    response = admin_client.post(
        url, {"status": "received", "assigned_to": "", "answer": "The clerk was warned."}
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.assigned_to) == (Complaint.Status.ANSWERED, admin_user)
    assert complaint.answered_at is not None
    page = resident_client.get("/complaints/").content.decode()
    assert "The clerk was warned." in page and "answered" in page


def test_staff_without_permissions_are_refused_on_the_supervision_pages(db, make_office):
    """Staff status alone opens the admin, not what a supervisor may see or change."""
    from offices.models import PlannedChange

    office = make_office(is_main_urban=False)
    plan = capacity.planned_change_add(
        office=office,
        field="daily_capacity",
        value=10,
        effective_from=datetime.date(2031, 1, 6),
        reason="Plan",
    )
    staff = User.objects.create_user(email="staff@test.example.org", is_staff=True)
    client = Client()
    staff_login(client, staff)
    for url in [
        reverse("admin:appointments_booking_statistics"),
        reverse("admin:counter_auditentry_log"),
        reverse("admin:offices_office_overview"),
        reverse("admin:offices_plannedchange_add"),
    ]:
        assert client.get(url).status_code == 403, url
    delete = reverse("admin:offices_plannedchange_delete", args=[plan.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert PlannedChange.objects.filter(pk=plan.pk).exists()
