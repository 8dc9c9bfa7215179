"""Sign-in and sign-up codes: a short wait of their own, so a hanging gateway cannot
hold a web worker, and the person is told to try again.

A fake HTTP gateway on a free port (tests/sms_gateway.py) accepts the request and
answers 30 s later; the booking messages' timeout is left long (20 s) so that only the
sign-in timeout (SMS_LOGIN_TIMEOUT_SECONDS, 2 s) can make the request quick.
"""

import re
import time

import pytest
from django.core.cache import cache
from django.test import Client

from registration.models import User
from tests.altcha_helper import with_altcha
from tests.sms_gateway import sms_gateway_fixture  # noqa: F401 - the sms_gateway fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _timeouts(settings):
    cache.clear()  # allauth's rate limits live in the cache
    settings.SMS_GATEWAY_TIMEOUT = 20
    settings.SMS_LOGIN_TIMEOUT_SECONDS = 2
    yield
    cache.clear()


def test_a_hanging_gateway_gives_a_quick_try_again_on_login(sms_gateway):
    User.objects.create_user(phone="+8613911115555", phone_verified=True)
    sms_gateway.mode = "slow:30"
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    started = time.perf_counter()
    response = client.post(
        "/accounts/login/code/", with_altcha({"phone": "13911115555"}), follow=True
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert "could not be sent just now. Please try again later." in response.content.decode()
    assert len(sms_gateway.requests) == 1  # the gateway was reached, and hung
    assert 1.5 < elapsed < 10  # the sign-in timeout, not the gateway's 30 s or 20 s
    assert not client.get("/me/").wsgi_request.user.is_authenticated


def test_a_hanging_gateway_gives_a_quick_try_again_on_signup(sms_gateway):
    sms_gateway.mode = "slow:30"
    started = time.perf_counter()
    response = Client().post(
        "/accounts/signup/", with_altcha({"phone": "13911116666"}), follow=True
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert "短信暂时无法发送" in response.content.decode()
    assert len(sms_gateway.requests) == 1
    assert 1.5 < elapsed < 10


def test_the_code_reaches_the_person_when_the_gateway_is_fine(sms_gateway):
    user = User.objects.create_user(phone="+8613911117777", phone_verified=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/login/code/", with_altcha({"phone": "13911117777"}))
    assert response.status_code == 302
    [request] = sms_gateway.requests
    assert request.phone == "+8613911117777"
    assert request.message_id  # every message names itself, even one never retried
    code = re.search(r"\b(\d{6})\b", request.text).group(1)
    assert client.post(response["Location"], {"code": code}).status_code == 302
    assert client.get("/me/").wsgi_request.user == user
