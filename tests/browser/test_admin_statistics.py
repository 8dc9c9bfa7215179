"""The statistics page in real headless Chromium, in English.

An admin chooses a period and rows per office in the form, sees the three charts drawn
(bookings, success rate, sell-out time), reads the figures of the hand-computed city
(tests/stats_city.py) in the table, and downloads the CSV: the same numbers, cell for
cell. On a phone the page does not scroll sideways; the wide table scrolls in its box.
Screenshots land in test-artifacts/.
"""

import csv
import io
import os

import pytest

from tests.browser.conftest import CHROMIUM, PHONE_VIEWPORT, screenshot
from tests.browser.test_admin_quota import _admin_page
from tests.stats_city import D1, D

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)


def _table(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector(
        selector,
        "t => [...t.rows].map(r => [...r.cells].map(c => c.textContent.trim()))",
    )


def test_admin_sees_charts_and_figures_and_downloads_the_same_csv(
    new_page, live_server, city, admin_user
):
    page = _admin_page(new_page, live_server, admin_user)
    page.goto("/admin/appointments/booking/")
    page.get_by_role("link", name="Statistics").click()
    page.fill("#id_start", D.isoformat())
    page.fill("#id_end", D1.isoformat())
    page.select_option("#id_group", "office")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()

    charts = page.locator("figure.chart svg")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80
    assert [c.strip() for c in page.locator("figure.chart figcaption").all_inner_texts()] == [
        "Bookings per day",
        "Booking success rate per day (%)",
        "Time from release to sell-out per day (min)",
    ]
    # Bookings: 4 on D, 1 on D1, so the first bar is four times the second.
    bookings = page.locator("figure.chart").nth(0).locator("rect")
    assert bookings.count() == 2
    heights = [bookings.nth(i).bounding_box()["height"] for i in range(2)]
    assert heights[0] == pytest.approx(4 * heights[1], rel=0.02)
    # Sell-out: only D sold out (70 s), so one bar.
    assert page.locator("figure.chart").nth(2).locator("rect").count() == 1
    screenshot(page, "admin-statistics")

    shown = _table(page, "#statistics-table")
    assert [row[0] for row in shown] == ["office", "Office A", "Office B", "Total"]
    assert shown[1][12:18] == ["6", "2", "0", "66.7", "1/2", "1.2"]
    assert shown[3][15] == "71.4"

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    with open(download.value.path(), encoding="utf-8-sig") as f:
        assert list(csv.reader(io.StringIO(f.read()))) == shown

    page.set_viewport_size(PHONE_VIEWPORT)
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"] + 1, f"the page scrolls sideways: {width}px"
    assert page.locator("figure.chart svg").first.is_visible()
    screenshot(page, "admin-statistics-phone")
