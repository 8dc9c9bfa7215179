"""Errors a person can fix, in a real browser (#14, item 5): after a submit with empty
required fields the invalid fields are outlined (their computed border is not a valid
field's), focus is on the error summary, and a link in it moves focus to its field.

Screenshots of the profile form with errors, phone and desktop, Chinese and English, land
in test-artifacts/form-errors-profile-*.png for humans to look at.
"""

import os

import pytest
from django.conf import settings

from tests.browser.conftest import CHROMIUM, screenshot

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

ERROR_RED = "rgb(164, 0, 15)"  # #a4000f, static/css/site.css
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _signed_in_page(new_page, live_server, client, *, locale: str, viewport: dict):
    page = new_page(locale=locale)
    page.set_viewport_size(viewport)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.add_init_script(LISTEN)
    return page


def _border(page, selector: str) -> dict:
    return page.eval_on_selector(
        selector,
        "el => { const s = getComputedStyle(el);"
        " return {color: s.borderTopColor, width: s.borderTopWidth}; }",
    )


def _active_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_empty_profile_form_outlines_fields_and_focuses_the_summary(
    new_page, live_server, make_login, language, size
):
    client = make_login(language=None if language == "zh" else "en")
    page = _signed_in_page(
        new_page,
        live_server,
        client,
        locale="zh-CN" if language == "zh" else "en-US",
        viewport=VIEWPORTS[size],
    )
    page.goto("/me/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("#error-summary")
    # A function, not an expression: Playwright evals a bare expression in the page, which
    # the CSP (no unsafe-eval) refuses whenever the first check is not already true.
    page.wait_for_function("() => document.activeElement && document.activeElement.id")

    assert page.title().startswith("错误：" if language == "zh" else "Error: ")
    assert _active_id(page) == "error-summary"
    invalid, valid = _border(page, "#id_id_number"), _border(page, "#id_phone")
    assert page.get_attribute("#id_id_number", "aria-invalid") == "true"
    assert page.get_attribute("#id_phone", "aria-invalid") is None
    assert invalid["color"] != valid["color"], (invalid, valid)
    assert invalid["color"] == ERROR_RED
    assert invalid["width"] == "3px"
    assert _border(page, "#id_real_name")["color"] == ERROR_RED
    screenshot(page, f"form-errors-profile-{language}-{size}")

    page.locator("#error-summary a[href='#id_id_number']").click()
    assert _active_id(page) == "id_id_number"
    page.keyboard.type("11010119900307803x")
    assert page.input_value("#id_id_number") == "11010119900307803x"
    assert page.evaluate("window.__cspViolations") == []


def test_empty_ebike_form_summary_links_each_field(new_page, live_server, make_person):
    person = make_person()
    page = _signed_in_page(
        new_page, live_server, person.client, locale="en-US", viewport=VIEWPORTS["phone"]
    )
    page.goto("/me/ebikes/new/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("#error-summary")
    # A function, not an expression: Playwright evals a bare expression in the page, which
    # the CSP (no unsafe-eval) refuses whenever the first check is not already true.
    page.wait_for_function("() => document.activeElement && document.activeElement.id")

    assert _active_id(page) == "error-summary"
    assert page.locator("#error-summary a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    ) == ["#id_frame_number", "#id_brand"]
    assert _border(page, "#id_frame_number")["color"] == ERROR_RED
    assert _border(page, "#id_model")["color"] != ERROR_RED
    page.locator("#error-summary a[href='#id_brand']").click()
    assert _active_id(page) == "id_brand"
    screenshot(page, "form-errors-ebike-en-phone")
