"""Every counter and supervision action reaches the audit log, read in the reader's language.

Ticket issue, refused counter actions (with the reason's code, never an ID number), plate
voids, changes of an office's clerks, "release now" and release schedule changes; details
are stored as codes and shown in Chinese or English.
"""

import datetime
import importlib
import json
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from appointments import services
from appointments.models import Slot
from counter import services as counter_services
from counter.models import AuditEntry, PlateNumber
from offices.models import QuotaChange
from registration import services as registration_services
from registration.models import User
from supervision.audit_log import audit_log_search
from supervision.stats import clerk_counts
from tests.conftest import make_id_number
from tests.personas import staff_login
from tests.supervision.test_admin import office_form

URL = "/admin/counter/auditentry/log/"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)
MORNING = datetime.datetime(2030, 1, 7, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(MORNING, tick=False)
    return MORNING


def reader(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    staff_login(client, user)
    return client


def log_page(admin_user, language: str, **query) -> str:
    response = reader(admin_user, language).get(URL, query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def desk(office_a, clerk_a, settings):
    """Office A, in the main urban area and with a walk-in window, and its clerk."""
    settings.PLATE_NUMBER_PATTERN = r"营口[A-Z][0-9]{5}"
    assert office_a.is_main_urban
    office_a.has_walkin_window = True
    office_a.save(update_fields=["has_walkin_window"])
    return office_a, clerk_a


def test_every_ticket_issued_is_in_the_log(desk, admin_user, clock):
    office, clerk = desk
    for _ in range(2):
        counter_services.ticket_issue(office=office, clerk=clerk, now=clock)
    entries = AuditEntry.objects.filter(action="queue").order_by("pk")
    assert [(e.clerk, e.detail_code, e.detail_params) for e in entries] == [
        (clerk, "ticket_issue", {"number": 1}),
        (clerk, "ticket_issue", {"number": 2}),
    ]
    english = log_page(admin_user, "en", action="queue")
    assert "number 2 issued" in english and "number 1 issued" in english
    assert "发放 2 号" in log_page(admin_user, "zh-hans", action="queue")


def test_a_refused_check_in_is_logged_with_its_reason(desk, make_resident, admin_user, clock):
    office, clerk = desk
    slot = Slot.objects.create(
        office=office,
        date=MONDAY + datetime.timedelta(days=1),
        start=datetime.time(9),
        end=datetime.time(10),
        capacity=5,
    )
    booking = services.booking_create(resident=make_resident(), slot_id=slot.pk, now=clock)
    with pytest.raises(counter_services.CheckInRefused):
        counter_services.booking_check_in(booking=booking, clerk=clerk, office=office, now=clock)
    booking.refresh_from_db()
    assert booking.status == "booked"
    entry = AuditEntry.objects.get(action="refused")
    assert (entry.clerk, entry.office, entry.booking, entry.resident, entry.at) == (
        clerk,
        office,
        booking,
        booking.resident,
        clock,
    )
    assert entry.detail_params == {"what": "check_in", "reason": "not_today"}
    assert not AuditEntry.objects.filter(action="check_in").exists()
    english = log_page(admin_user, "en", action="refused")
    assert "check-in refused: the booking is not for today" in english
    assert booking.code in english and clerk.email in english
    chinese = log_page(admin_user, "zh-hans", action="refused")
    assert "拒绝签到：预约日期不是当天" in chinese


def test_a_refused_plate_issue_is_logged_and_the_booking_kept(
    desk, make_resident, admin_user, clock
):
    office, clerk = desk
    slot = Slot.objects.create(
        office=office, date=MONDAY, start=datetime.time(9), end=datetime.time(10), capacity=5
    )
    resident = make_resident()
    ebike = registration_services.ebike_add(
        resident=resident, frame_number="FRAME00001", brand="Yadea"
    )
    booking = services.booking_create(
        resident=resident, slot_id=slot.pk, ebike=ebike, now=clock - datetime.timedelta(days=1)
    )
    counter_services.booking_check_in(booking=booking, clerk=clerk, office=office, now=clock)
    with pytest.raises(counter_services.PlateRefused):
        counter_services.plate_issue(
            booking=booking,
            clerk=clerk,
            office=office,
            failed_items=[],
            plate_number="营口A00001",  # none in stock
            now=clock,
        )
    booking.refresh_from_db()
    assert booking.status == "checked_in"
    entry = AuditEntry.objects.get(action="refused")
    assert (entry.booking, entry.detail_params) == (
        booking,
        {"what": "plate_issue", "reason": "plate_not_in_stock"},
    )
    english = log_page(admin_user, "en", q="plate")
    assert (
        "inspection and plate issue refused: not an available plate of this "
        "office&#x27;s stock" in english
    )
    chinese = log_page(admin_user, "zh-hans", action="refused")
    assert "拒绝查验与发牌：不是本网点库存中的可用号牌" in chinese


def test_a_refused_walk_in_is_logged_without_the_id_number(desk, admin_user, clock):
    office, clerk = desk
    young = make_id_number(birth="19700101", seq="135")
    wrong = young[:17] + ("0" if young[17] != "0" else "1")
    for number in (young, wrong):
        with pytest.raises(counter_services.WalkinRefused):
            counter_services.priority_walkin_start(
                office=office,
                clerk=clerk,
                real_name="Old Wang",
                id_number=number,
                reason="senior",
                frame_number="WALKIN0001",
                brand="Yadea",
                now=clock,
            )
    entries = AuditEntry.objects.filter(action="refused").order_by("pk")
    assert [e.detail_params for e in entries] == [
        {"what": "priority_walkin", "reason": "under_65"},
        {"what": "priority_walkin", "reason": "id_checksum"},
    ]
    assert all(e.resident is None and e.booking is None for e in entries)
    stored = json.dumps([e.detail_params for e in entries])
    english = log_page(admin_user, "en", action="refused")
    chinese = log_page(admin_user, "zh-hans", action="refused")
    for text in (stored, english, chinese):
        assert young not in text and wrong not in text and young[6:14] not in text
    assert "priority walk-in refused: under 65 by the ID number" in english
    assert "priority walk-in refused: invalid ID number" in english
    assert "拒绝优先现场办理：按身份证号码计算未满 65 周岁" in chinese
    assert "拒绝优先现场办理：身份证号码无效" in chinese


def test_a_refused_walk_in_of_a_known_person_names_them(desk, make_resident, clock):
    office, clerk = desk
    senior = make_resident(birth="19500101")
    number = senior.reveal_id_number()
    kwargs = {"office": office, "clerk": clerk, "real_name": senior.real_name, "now": clock}
    kwargs.update(id_number=number, reason="senior", brand="Yadea")
    counter_services.priority_walkin_start(frame_number="WALKIN0001", **kwargs)
    with pytest.raises(counter_services.WalkinRefused):
        counter_services.priority_walkin_start(frame_number="WALKIN0002", **kwargs)
    entry = AuditEntry.objects.get(action="refused")
    assert entry.resident == senior
    assert entry.detail_params == {"what": "priority_walkin", "reason": "already_priority"}
    assert audit_log_search(id_number=number, action="refused").paginator.count == 1


def test_a_plate_void_is_logged_with_who_which_plate_and_why(desk, admin_user, clock):
    office, _clerk = desk
    counter_services.plate_stock_load(office=office, prefix="营口B", first=1, last=3)
    plate = PlateNumber.objects.get(number="营口B00002")
    response = reader(admin_user, "en").post(
        "/admin/counter/platenumber/",
        {"action": "void_damaged", "_selected_action": [plate.pk]},
    )
    assert response.status_code == 302
    plate.refresh_from_db()
    assert plate.status == "voided"
    entry = AuditEntry.objects.get(action="plate_void")
    assert (entry.clerk, entry.office, entry.at, entry.detail_params) == (
        admin_user,
        office,
        clock,
        {"plate": "营口B00002", "reason": "damaged"},
    )
    english = log_page(admin_user, "en", q="营口B00002")
    assert "plate 营口B00002 voided: damaged" in english and "admin@test.example.org" in english
    chinese = log_page(admin_user, "zh-hans", action="plate_void")
    assert "号牌 营口B00002 已作废：损坏" in chinese


def test_changes_of_an_office_s_clerks_are_logged(main_urban_offices, admin_user, clock):
    office = main_urban_offices[0]
    stays = User.objects.create_user(email="stays@test.example.org")
    leaves = User.objects.create_user(email="leaves@test.example.org")
    joins = User.objects.create_user(email="joins@test.example.org")
    office.clerks.add(stays, leaves)
    response = reader(admin_user, "en").post(
        reverse("admin:offices_office_change", args=[office.pk]),
        office_form(office, clerks=[stays.pk, joins.pk]),
    )
    assert response.status_code == 302
    assert set(office.clerks.all()) == {stays, joins}
    entries = AuditEntry.objects.filter(action="clerks").order_by("pk")
    assert [(e.clerk, e.office, e.detail_code, e.detail_params["user"]) for e in entries] == [
        (admin_user, office, "clerk_added", joins.pk),
        (admin_user, office, "clerk_removed", leaves.pk),
    ]
    english = log_page(admin_user, "en", office=office.pk)
    assert "clerk added: joins@test.example.org" in english
    assert "clerk removed: leaves@test.example.org" in english
    assert "stays@test.example.org" not in english
    chinese = log_page(admin_user, "zh-hans", action="clerks")
    assert "新增窗口工作人员：joins@test.example.org" in chinese
    assert "移除窗口工作人员：leaves@test.example.org" in chinese


def test_release_now_and_schedule_changes_are_logged(main_urban_offices, admin_user, clock):
    admin = reader(admin_user, "en")
    tuesday = MONDAY + datetime.timedelta(days=1)
    for _ in range(2):  # the second run releases nothing, and says so
        response = admin.post("/admin/offices/office/overview/", {"date": tuesday})
        assert response.status_code == 302
    response = admin.post(
        "/admin/offices/office/overview/", {"schedule": "1", "at": "07:30", "horizon_days": "2"}
    )
    assert response.status_code == 302
    releases = AuditEntry.objects.filter(action="release").order_by("pk")
    assert [(e.clerk, e.office, e.at, e.detail_params) for e in releases] == [
        (
            admin_user,
            None,
            clock,
            {"date": "2030-01-08", "places": 160, "offices": 5, "closed": 0, "already": 0},
        ),
        (
            admin_user,
            None,
            clock,
            {"date": "2030-01-08", "places": 0, "offices": 0, "closed": 0, "already": 5},
        ),
    ]
    schedule = AuditEntry.objects.get(action="release_schedule")
    assert (schedule.clerk, schedule.detail_params) == (
        admin_user,
        {"old_at": "08:00", "old_horizon": 1, "new_at": "07:30", "new_horizon": 2},
    )
    english = log_page(admin_user, "en")
    assert "release schedule: 08:00, 1 day ahead → 07:30, 2 days ahead" in english
    assert (
        "2030-01-08 released now: 160 places at 5 offices, 0 closed, 0 already released" in english
    )
    assert "all offices" in english
    chinese = log_page(admin_user, "zh-hans")
    assert "放号安排：08:00，提前 1 天 → 07:30，提前 2 天" in chinese
    assert "立即放号 2030-01-08：5 个网点共 160 个号源，0 个网点停办，0 个网点此前已放号" in chinese
    assert "全部网点" in chinese
    # Supervisors' actions are not a clerk's work in the statistics.
    assert clerk_counts(start=MONDAY, end=MONDAY) == []


def test_details_follow_the_reader_s_language(desk, admin_user, clock):
    office, clerk = desk
    counter_services.audit_record(
        clerk=clerk,
        office=office,
        action="inspection",
        code="inspection_failed",
        params={"items": ["invoice", "person"]},
        now=clock,
    )
    counter_services.audit_record(
        clerk=clerk,
        office=office,
        action="search",
        code="search",
        params={"kind": "id_number", "count": 1},
        now=clock,
    )
    english = log_page(admin_user, "en")
    assert "failed: The purchase invoice is there, The person matches the ID card" in english
    assert "by ID number: 1 found" in english
    chinese = log_page(admin_user, "zh-hans")
    assert "未通过项目：购车发票齐全、人证一致" in chinese
    assert "按身份证号码查询：找到 1 条" in chinese
    assert "failed" not in chinese and "found" not in chinese
    # A search in either language finds the entry by what it reads.
    for language, text in [("en", "invoice"), ("zh-hans", "发票"), ("en", "ID number")]:
        with translation.override(language):
            found = audit_log_search(text=text).object_list
        assert [line.action for line in found] == [
            "inspection" if text != "ID number" else "search"
        ]


def test_quota_fields_and_values_are_shown_as_labels(make_office, admin_user, clock):
    office = make_office()
    for field, target, old, new in [
        ("weekly_quota", "", "160", "120"),
        ("closed_day", "2030-01-09", "open", "closed"),
        ("slot_capacity", "2030-01-08 09:00-10:00", "10", "8"),
    ]:
        QuotaChange.objects.create(
            office=office,
            field=field,
            target=target,
            old_value=old,
            new_value=new,
            reason="road works",
            changed_by=admin_user,
            changed_at=clock,
        )
    english = log_page(admin_user, "en", action="quota")
    assert "weekly online quota: 160 → 120" in english
    assert "closed day (2030-01-09): open → closed" in english
    assert "capacity of a released slot (2030-01-08 09:00-10:00): 10 → 8" in english
    for raw in ("weekly_quota", "closed_day", "slot_capacity"):
        assert raw not in english
    chinese = log_page(admin_user, "zh-hans", action="quota")
    assert "每周网上配额：160 → 120" in chinese
    assert "停办日（2030-01-09）：开放 → 不开放" in chinese
    assert "已放号时段容量（2030-01-08 09:00-10:00）：10 → 8" in chinese
    assert "open" not in chinese.split('id="audit-log"')[1]
    # Searched by the label as read, in either language.
    assert "160 → 120" in log_page(admin_user, "en", q="weekly online quota")
    assert "160 → 120" in log_page(admin_user, "zh-hans", q="每周网上配额")


def test_old_english_details_are_turned_into_codes():
    migration = importlib.import_module("appointments.migrations.0009_audit_detail_text_to_codes")
    cases = {
        "": ("", {}),
        "by id_number: 1 found": ("search", {"kind": "id_number", "count": 1}),
        "priority walk-in: senior": ("priority_walkin", {"reason": "senior"}),
        "failed: invoice,numbers": ("inspection_failed", {"items": ["invoice", "numbers"]}),
        "plate 营口F00001": ("plate_issued", {"plate": "营口F00001"}),
        "call #1": ("ticket_call", {"number": 1}),
        "serve #12": ("ticket_serve", {"number": 12}),
        "something else": ("legacy", {"text": "something else"}),
    }
    for text, expected in cases.items():
        assert migration.detail_to_code(text) == expected
    with translation.override("zh-hans"):
        from counter.audit import detail_text

        assert detail_text(*cases["by id_number: 1 found"]) == "按身份证号码查询：找到 1 条"
        assert detail_text(*cases["something else"]) == "something else"
