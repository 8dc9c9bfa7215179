"""The capacity admin in a real browser on a desktop screen, in English.

A superuser lowers one office's weekly quota with a reason, sees the new city-wide total
on the capacity overview and the entry in the quota log, then is refused a change that
would take the main-urban weekly total below the floor.
Screenshots of the overview and of the refusal land in test-artifacts/.
"""

import os
import re

import pytest
from django.conf import settings
from django.test import Client

from offices.models import Office, QuotaChange
from tests.browser.conftest import CHROMIUM, screenshot

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 800}


def _expect_path(page, pattern: str) -> None:
    page.wait_for_url(re.compile(rf"^[^?#]*//[^/]+{pattern}(\?.*)?$"))


def _admin_page(new_page, live_server, user):
    """``user`` on a desktop screen in English, logged in by session cookie."""
    client = Client()
    client.force_login(user)
    page = new_page(locale="en-US")
    page.set_viewport_size(DESKTOP)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
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
