"""The capacity admin in a real browser on a desktop screen, in English.

A superuser lowers one office's weekly quota with a reason, sees the new city-wide total
on the capacity overview and the entry in the quota log, then is refused a change that
would take the main-urban weekly total below the floor.
Screenshots of the overview and of the refusal land in test-artifacts/.
"""

import datetime
import os
import re

import pytest
from django.conf import settings

from offices.models import Office, PlannedChange, QuotaChange
from tests.browser.conftest import CHROMIUM, TODAY, screenshot, staff_sign_in

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 800}


def _expect_path(page, pattern: str) -> None:
    page.wait_for_url(re.compile(rf"^[^?#]*//[^/]+{pattern}(\?.*)?$"))


def _admin_page(new_page, live_server, user):
    """``user`` on a desktop screen in English, logged in through the login page with
    password and authenticator code."""
    page = new_page(locale="en-US")
    page.set_viewport_size(DESKTOP)
    staff_sign_in(page, user)
    return page


def _change_weekly_quota(page, office: Office, quota: int, reason: str) -> None:
    page.goto(f"/admin/offices/office/{office.pk}/change/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.fill("#id_weekly_quota", str(quota))
    page.fill("#id_change_reason", reason)
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()


def test_admin_lowers_weekly_quota_and_is_refused_below_the_floor(
    new_page, live_server, main_urban_offices, admin_user
):
    office = main_urban_offices[0]
    assert settings.WEEKLY_ONLINE_FLOOR == 760
    page = _admin_page(new_page, live_server, admin_user)

    # 1. Lower the weekly quota of one office from 160 to 150, with a reason.
    page.goto(f"/admin/offices/office/{office.pk}/change/")
    assert page.locator("#id_weekly_quota").input_value() == "160"
    _change_weekly_quota(page, office, 150, "staff on leave")
    _expect_path(page, "/admin/offices/office/")
    assert "changed successfully" in page.locator(".messagelist").inner_text()
    office.refresh_from_db()
    assert office.weekly_quota == 150
    change = QuotaChange.objects.get()
    assert change.office == office
    assert change.field == "weekly_quota"
    assert change.old_value == "160"
    assert change.new_value == "150"
    assert change.reason == "staff on leave"
    assert change.changed_by == admin_user

    # 2. The capacity overview shows the new total (800 - 10) and the 14-day preview.
    page.goto("/admin/offices/office/overview/")
    assert (
        page.locator("#weekly-total")
        .inner_text()
        .startswith("Weekly online places of main-urban offices: 790 (floor 760).")
    )
    assert "Below the floor!" not in page.locator("#weekly-total").inner_text()
    preview = page.locator("#capacity-preview")
    assert preview.is_visible()
    rows = preview.locator("tbody tr")
    assert rows.count() == 5
    names = sorted(rows.locator("th").all_inner_texts())
    assert names == sorted(o.name for o in main_urban_offices)
    screenshot(page, "admin-capacity-overview")

    # 3. The quota log lists the change.
    page.goto("/admin/offices/quotachange/")
    log_rows = page.locator("#result_list tbody tr")
    assert log_rows.count() == 1
    row_text = log_rows.first.inner_text()
    assert "weekly_quota" in row_text
    assert "150" in row_text
    assert "160" in row_text
    assert office.name in row_text

    # 4. Lowering to 50 would take the total to 690, below the floor: refused, nothing saved.
    _change_weekly_quota(page, office, 50, "closing most of the week")
    _expect_path(page, f"/admin/offices/office/{office.pk}/change/")
    errors = page.locator(".errornote, .errorlist")
    assert "below the floor of 760" in " ".join(errors.all_inner_texts())
    assert page.locator("#id_weekly_quota").input_value() == "50"
    screenshot(page, "admin-quota-refused")
    office.refresh_from_db()
    assert office.weekly_quota == 150
    assert QuotaChange.objects.count() == 1


def _plan(page, *, office: Office, field: str, value: int, day, reason: str) -> None:
    page.goto("/admin/offices/office/overview/")
    page.get_by_role("link", name="Plan a capacity change from a later day").click()
    page.select_option("#id_office", str(office.pk))
    page.select_option("#id_field", field)
    page.fill("#id_value", str(value))
    page.fill("#id_effective_from", day.isoformat())
    page.fill("#id_reason", reason)
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()


def test_admin_plans_a_capacity_change_from_a_later_day(
    new_page, live_server, main_urban_offices, admin_user
):
    """Plan a lower daily capacity from a day: the preview changes from that day only, the
    plan is listed and logged with its day; a plan that breaks the floor is refused."""
    office, other = main_urban_offices[:2]
    today = TODAY  # a Monday
    day = today + datetime.timedelta(days=3)  # Thursday: it and the day before both open
    page = _admin_page(new_page, live_server, admin_user)

    _plan(page, office=office, field="daily_capacity", value=20, day=day, reason="Training")
    _expect_path(page, "/admin/offices/plannedchange/")
    assert PlannedChange.objects.filter(office=office, value=20, effective_from=day).exists()

    page.goto("/admin/offices/office/overview/")
    row = page.locator("#capacity-preview tbody tr").filter(has_text=office.name)
    cells = row.locator("td").all_inner_texts()
    offset = (day - today).days  # the preview starts today
    assert (cells[offset - 1], cells[offset]) == ("(32)", "(20)")
    assert "Training" in page.locator("#planned-changes").inner_text()
    screenshot(page, "admin-planned-change")

    log = QuotaChange.objects.get(office=office)
    assert (log.old_value, log.new_value, log.effective_from) == ("32", "20", day)

    # 160 -> 100 a week at another office from that day: 740, below the floor.
    _plan(page, office=other, field="weekly_quota", value=100, day=day, reason="Cut")
    _expect_path(page, "/admin/offices/plannedchange/add/")
    errors = " ".join(page.locator(".errornote, .errorlist").all_inner_texts())
    assert f"From {day.isoformat()}" in errors and "below the floor of 760" in errors
    assert PlannedChange.objects.count() == 1
