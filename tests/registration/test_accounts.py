"""django-allauth wired to our User: login by SMS code, phone change, logout, password reset."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from registration import sms
from registration.models import User
from tests.altcha_helper import with_altcha


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()  # allauth's rate limits live in the cache
    sms.ConsoleSmsBackend.outbox.clear()
    yield
    cache.clear()


def last_code(phone: str) -> str:
    texts = [m.text for m in sms.ConsoleSmsBackend.outbox if m.phone == phone]
    assert texts, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def test_login_by_sms_code_with_a_bare_11_digit_number(db):
    user = User.objects.create_user(phone="+8613911112222", phone_verified=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/login/code/", with_altcha({"phone": "139 1111 2222"}))
    assert response.status_code == 302
    code = last_code("+8613911112222")
    response = client.post(response["Location"], {"code": code})
    assert response.status_code == 302
    assert client.get("/me/").wsgi_request.user == user


def test_wrong_sms_code_does_not_log_in(db):
    User.objects.create_user(phone="+8613911113333", phone_verified=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/login/code/", with_altcha({"phone": "13911113333"}))
    code = last_code("+8613911113333")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    response = client.post(response["Location"], {"code": wrong})
    assert response.status_code == 200
    assert not client.get("/me/").wsgi_request.user.is_authenticated


def test_login_with_phone_and_password(db):
    User.objects.create_user(
        phone="+8613911114444", phone_verified=True, password="a-long-password-1"
    )
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "13911114444", "password": "a-long-password-1"}
    )
    assert response.status_code == 302
    assert client.get("/me/").wsgi_request.user.phone == "+8613911114444"


def test_phone_change_is_verified_by_a_code_to_the_new_number(db):
    user = User.objects.create_user(phone="+8613911115555", phone_verified=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.post("/accounts/phone/change/", {"phone": "13922226666"})
    assert response["Location"] == "/accounts/phone/verify/"
    code = last_code("+8613922226666")
    response = client.post("/accounts/phone/verify/", {"code": code})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.phone, user.phone_verified) == ("+8613922226666", True)


def test_logout_is_a_post(db):
    user = User.objects.create_user(email="a@example.org", password="a-long-password-1")
    client = Client()
    client.force_login(user)
    client.get("/accounts/logout/")  # shows a confirmation page, does not log out
    assert client.get("/me/").wsgi_request.user.is_authenticated
    client.post("/accounts/logout/")
    assert not client.get("/me/").wsgi_request.user.is_authenticated


def test_password_reset_mails_a_link_that_sets_a_new_password(db):
    User.objects.create_user(email="reset@example.org", password="old-long-password-1")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/password/reset/", {"email": "reset@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    response = client.get(link.group(1), follow=True)
    response = client.post(
        response.redirect_chain[-1][0] if response.redirect_chain else link.group(1),
        {"password1": "new-long-password-2", "password2": "new-long-password-2"},
    )
    assert response.status_code == 302
    assert User.objects.get(email="reset@example.org").check_password("new-long-password-2")


def test_signup_by_phone_is_rate_limited(db, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "3/m/ip"}
    client = Client()
    statuses = [
        client.post("/accounts/signup/", with_altcha({"phone": f"1390000{n:04d}"})).status_code
        for n in range(5)
    ]
    assert statuses[:3] == [302, 302, 302]
    assert 429 in statuses[3:]


def test_an_sms_gateway_outage_is_explained_not_a_server_error(db, settings):
    settings.SMS_BACKEND = "registration.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/sms/send"  # the discard port: nobody
    User.objects.create_user(phone="+8613911114444", phone_verified=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        "/accounts/login/code/", with_altcha({"phone": "13911114444"}), follow=True
    )
    assert response.status_code == 200
    assert "could not be sent just now" in response.content.decode()
    assert not client.get("/me/").wsgi_request.user.is_authenticated
