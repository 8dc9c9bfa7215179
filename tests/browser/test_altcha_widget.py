"""The invisible ALTCHA widget in a real browser: it solves its challenge by itself, stays
hidden, and needs no inline script or style (a strict CSP must not break it)."""

import os

import pytest

from tests.altcha_helper import wait_for_altcha
from tests.browser.conftest import CHROMIUM

if not os.path.exists(CHROMIUM) and os.environ.get("REQUIRE_SERVICES") != "1":
    pytest.skip(f"browser tests need {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("url", ["/accounts/signup/", "/accounts/login/code/"])
def test_the_widget_solves_itself_hidden_and_without_inline_style(new_page, url):
    page = new_page(locale="en-US")
    page.goto(url)
    wait_for_altcha(page)
    assert page.locator("altcha-widget").count() == 1
    assert not page.locator("altcha-widget .altcha").first.is_visible()
    # Its CSS comes from our static file; the script injects no <style> of its own.
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    assert page.evaluate("getComputedStyle(document.querySelector('.altcha')).display") == "none"
