"""The resident's pages say what Chinese government services say; counts are pluralised.

allauth's own zh_Hans catalogue says 代码 / 请求码 / Email地址 / 电子邮件; our catalogue
overrides those msgids (config/allauth_wording.py). These tests render the real pages, so an
allauth upgrade that changes a msgid (and so silently drops an override) fails here.
"""

import re
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from counter.selectors import QueueState
from offices.models import Complaint
from registration import sms
from registration.models import User
from tests.altcha_helper import with_altcha

# allauth's wording that Chinese services do not use, and what they say instead.
NOT_SAID = ("代码", "请求码", "Email", "电子邮件", "电话号码", "登出")


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()  # allauth's rate limits live in the cache
    sms.ConsoleSmsBackend.outbox.clear()
    yield
    cache.clear()
    sms.ConsoleSmsBackend.outbox.clear()


def visible(html: str) -> str:
    """The page's text and the attributes a person reads or hears (no tags, no names)."""
    said = re.findall(r'(?:placeholder|aria-label|title|value|alt)="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join([text, *said])


def chinese_client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="zh-hans")


def page(client: Client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return visible(response.content.decode())


def assert_wording(text: str) -> None:
    found = [word for word in NOT_SAID if word in text]
    assert found == [], found


def test_login_page_says_验证码_and_邮箱(db):
    text = page(chinese_client(), "/accounts/login/")
    assert "发送登录验证码" in text
    assert "账号" in text and "邮箱或手机号码" in text
    assert_wording(text)


def test_login_code_page_offers_获取验证码(db):
    text = page(chinese_client(), "/accounts/login/code/")
    assert "获取验证码" in text
    assert "邮箱" in text
    assert_wording(text)


def test_the_code_confirmation_page_asks_for_the_验证码(db):
    User.objects.create_user(phone="+8613911117777", phone_verified=True)
    client = chinese_client()
    response = client.post("/accounts/login/code/", with_altcha({"phone": "13911117777"}))
    assert response.status_code == 302
    text = page(client, response["Location"])
    assert "输入登录验证码" in text
    assert "验证码" in text
    assert "验证码已发送至" in text
    assert_wording(text)


def test_sign_up_page_says_手机号码_and_邮箱(db):
    text = page(chinese_client(), "/accounts/signup/")
    assert "邮箱" in text
    assert "Email地址" not in text
    assert_wording(text)


def test_phone_verification_page_says_短信验证码(db):
    user = User.objects.create_user(phone="+8613911118888", phone_verified=True)
    client = chinese_client()
    client.force_login(user)
    response = client.post("/accounts/phone/change/", {"phone": "13922228888"})
    assert response["Location"] == "/accounts/phone/verify/"
    text = page(client, "/accounts/phone/verify/")
    assert "输入短信验证码" in text
    assert_wording(text)
    response = client.post("/accounts/phone/verify/", {"code": "000000"})
    assert "验证码错误。" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/email/",
        "/accounts/phone/change/",
        "/accounts/logout/",
        "/accounts/password/change/",
    ],
)
def test_account_pages_a_resident_manages(db, url):
    user = User.objects.create_user(
        phone="+8613911119999", email="r@example.org", password="a long pass phrase 42"
    )
    client = chinese_client()
    client.force_login(user)
    assert_wording(page(client, url))


def test_password_reset_page_says_邮箱(db):
    text = page(chinese_client(), "/accounts/password/reset/")
    assert "邮箱" in text
    assert_wording(text)


def test_a_closed_complaint_is_已办结_not_不开放():
    with translation.override("zh-hans"):
        assert str(Complaint.Status.CLOSED.label) == "已办结"
    with translation.override("en"):
        assert str(Complaint.Status.CLOSED.label) == "closed"


def queue_board(minutes: int, language: str) -> str:
    state = QueueState(called=[], waiting=minutes, mean_service_minutes=1.0)
    with translation.override(language):
        return render_to_string(
            "counter/display.html", {"office": SimpleNamespace(name="A"), "state": state}
        )


def test_the_estimated_wait_is_pluralised_in_english():
    assert "Estimated wait: about 1 minute." in queue_board(1, "en")
    assert "about 1 minutes" not in queue_board(1, "en")
    assert "Estimated wait: about 2 minutes." in queue_board(2, "en")
    assert "预计等候约 2 分钟。" in queue_board(2, "zh-hans")


def test_chinese_has_one_plural_form():
    with translation.override("zh-hans"):
        assert translation.ngettext("%(count)d plate loaded.", "%(count)d plates loaded.", 1) == (
            "已入库 %(count)d 副号牌。"
        )
        assert translation.ngettext("%(count)d plate loaded.", "%(count)d plates loaded.", 5) == (
            "已入库 %(count)d 副号牌。"
        )
