"""Abuse budgets on sign-in and sign-up (issue #13): per-number login failures, client
addresses behind the proxy, the SMS cost budget, the 429 page and the proof of work."""

import datetime
import importlib.util
import logging
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from registration import sms
from registration.models import User
from tests.altcha_helper import altcha_payload, with_altcha
from tests.personas import signed_in

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "a-long-password-1"  # noqa: S105


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()  # rate limits and budgets live in the cache
    sms.ConsoleSmsBackend.outbox.clear()
    yield
    cache.clear()


@pytest.fixture
def security_events():
    """The fields of every security event logged during the test."""
    events: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            events.append(getattr(record, "security", {}))

    handler = Collect()
    logging.getLogger("security").addHandler(handler)  # it does not propagate to the root
    yield events
    logging.getLogger("security").removeHandler(handler)


def texts_to(phone: str) -> list[str]:
    return [m.text for m in sms.ConsoleSmsBackend.outbox if m.phone == phone]


def request_code(phone: str, *, address: str = "198.51.100.1", language: str = "en"):
    client = Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language)
    response = client.post("/accounts/login/code/", with_altcha({"phone": phone}))
    response.client = client
    return response


def make_phone_user(n: int, **kwargs) -> User:
    return User.objects.create_user(phone=f"+86139000{n:05d}", phone_verified=True, **kwargs)


# --- item 2: failed phone logins are counted per number -----------------------------------


def test_five_wrong_passwords_lock_that_number_only(db):
    a = make_phone_user(1, password=PASSWORD)
    b = make_phone_user(2, password=PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": "13900000001", "password": "wrong"})
        assert response.status_code == 200
    # Number A is locked, even with its right password ...
    locked = client.post("/accounts/login/", {"login": "13900000001", "password": PASSWORD})
    assert locked.status_code == 200
    assert "Too many failed login attempts" in locked.content.decode()
    assert not Client().get("/me/").wsgi_request.user.is_authenticated
    # ... number B is not.
    other = Client()
    response = other.post("/accounts/login/", {"login": "139 0000 0002", "password": PASSWORD})
    assert response.status_code == 302
    assert other.get("/me/").wsgi_request.user == b
    assert a != b


def test_the_lock_holds_however_the_number_is_written(db):
    make_phone_user(3, password=PASSWORD)
    make_phone_user(4, password=PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for login in ["13900000003", "139 0000 0003", "+8613900000003", "139-0000-0003", "13900000003"]:
        client.post("/accounts/login/", {"login": login, "password": "wrong"})
    locked = client.post("/accounts/login/", {"login": "13900000003", "password": PASSWORD})
    assert "Too many failed login attempts" in locked.content.decode()
    other = client.post("/accounts/login/", {"login": "13900000004", "password": PASSWORD})
    assert other.status_code == 302


# --- item 3: per-address limits use the client's address behind the proxy ------------------

PROXY = "10.0.0.2"  # what REMOTE_ADDR is for everybody behind the compose proxy


def login_attempt(forwarded_for: str):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post("/accounts/login/", {"login": "13900000009", "password": "wrong"})


def test_two_clients_behind_the_proxy_have_budgets_of_their_own(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip"}
    assert [login_attempt("203.0.113.1").status_code for _ in range(3)] == [200, 200, 429]
    # Another resident behind the same proxy is not refused ...
    assert login_attempt("203.0.113.2").status_code == 200
    # ... and the first cannot escape by sending an address of their own: the proxy
    # appends the address it saw, which stays the last one.
    assert login_attempt("192.0.2.77, 203.0.113.1").status_code == 429
    assert login_attempt("203.0.113.2").status_code == 200


def test_without_a_trusted_proxy_the_header_is_ignored(db, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip"}
    statuses = [login_attempt(f"203.0.113.{n}").status_code for n in range(1, 4)]
    assert statuses == [200, 200, 429]  # all from REMOTE_ADDR, whatever the header says
    # ... and the refusal is our 429 page (allauth's own is a bare one without our layout).
    assert 'class="site-header"' in login_attempt("203.0.113.9").content.decode()


# --- item 4: the SMS cost budget -------------------------------------------------------


def test_no_sms_to_a_number_without_an_account_and_the_same_answer(db):
    make_phone_user(10)
    known = request_code("13900000010")
    unknown = request_code("13900000011")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    page_known = known.client.get(known["Location"]).content.decode()
    page_unknown = unknown.client.get(unknown["Location"]).content.decode()

    def same(page: str, number: str) -> str:
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
        return page.replace(number, "N")

    assert same(page_known, "13900000010") == same(page_unknown, "13900000011")
    assert len(texts_to("+8613900000010")) == 1
    assert texts_to("+8613900000011") == []


def test_a_number_gets_at_most_its_daily_budget_until_local_midnight(db, settings, security_events):
    settings.SMS_LIMIT_PER_NUMBER_PER_DAY = 2
    settings.ACCOUNT_RATE_LIMITS = {"request_login_code": "100/m/ip,100/m/key"}
    make_phone_user(20)
    with time_machine.travel(datetime.datetime(2030, 1, 8, 23, 57, tzinfo=TZ), tick=False) as t:
        assert [request_code("13900000020").status_code for _ in range(2)] == [302, 302]
        refused = request_code("13900000020")
        assert refused.status_code == 429
        assert refused["Retry-After"] == str(3 * 60)  # until local midnight
        assert len(texts_to("+8613900000020")) == 2
        assert {"event": "sms_budget_spent", "budget": "sms_number"}.items() <= security_events[
            0
        ].items()
        # A number without an account is counted the same way: no difference to see.
        assert [request_code("13900000021").status_code for _ in range(3)] == [302, 302, 429]
        t.move_to(datetime.datetime(2030, 1, 9, 0, 0, 30, tzinfo=TZ))
        assert request_code("13900000020").status_code == 302
    assert len(texts_to("+8613900000020")) == 3


def test_one_client_address_gets_at_most_its_daily_budget(db, settings):
    settings.SMS_LIMIT_PER_CLIENT_PER_DAY = 2
    for n in range(30, 34):
        make_phone_user(n)
    with time_machine.travel(datetime.datetime(2030, 1, 8, 12, 0, tzinfo=TZ), tick=False):
        statuses = [
            request_code(f"139000000{n}", address="198.51.100.7").status_code for n in (30, 31, 32)
        ]
        assert statuses == [302, 302, 429]
        assert texts_to("+8613900000032") == []
        assert request_code("13900000033", address="198.51.100.8").status_code == 302


def test_the_city_wide_hourly_budget_and_the_admin_sees_it(
    db, settings, security_events, admin_user
):
    settings.SMS_LIMIT_CITY_PER_HOUR = 2
    for n in range(40, 44):
        make_phone_user(n)
    with time_machine.travel(datetime.datetime(2030, 1, 8, 8, 59, tzinfo=TZ), tick=False) as t:
        assert request_code("13900000040", address="198.51.100.1").status_code == 302
        assert request_code("13900000041", address="198.51.100.2").status_code == 302
        refused = request_code("13900000042", address="198.51.100.3")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "60"  # until the next local hour
        assert texts_to("+8613900000042") == []
        # While it is spent, a number without an account gets the same refusal.
        assert request_code("13900000049", address="198.51.100.4").status_code == 429
        assert [e["budget"] for e in security_events if e["event"] == "sms_budget_spent"] == [
            "sms_city",
            "sms_city",
        ]
        admin_client = signed_in(admin_user)
        index = admin_client.get("/admin/").content.decode()
        assert "2 of 2 text messages sent city-wide this hour." in index
        assert "The hourly budget is spent" in index
        t.move_to(datetime.datetime(2030, 1, 8, 9, 0, 30, tzinfo=TZ))
        assert request_code("13900000043", address="198.51.100.5").status_code == 302
        index = admin_client.get("/admin/").content.decode()
        assert "1 of 2 text messages sent city-wide this hour." in index
        assert "The hourly budget is spent" not in index


def stated_minutes(text: str) -> int:
    return int(re.search(r"(\d+) ?(?:minutes?\b|分钟内有效)", text).group(1))


@pytest.mark.parametrize("timeout", [180, 300])
def test_the_login_code_sms_states_the_real_lifetime(db, settings, timeout):
    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = timeout
    settings.ACCOUNT_LOGIN_TIMEOUT = 3600  # the login's own limit is not what is tested
    user = make_phone_user(50)
    start = datetime.datetime(2030, 1, 8, 10, 0, tzinfo=TZ)
    with time_machine.travel(start, tick=False) as t:
        response = request_code("13900000050")
        (text,) = texts_to("+8613900000050")
        minutes = stated_minutes(text)
        assert minutes * 60 == timeout
        code = re.search(r"\b(\d{6})\b", text).group(1)
        t.move_to(start + datetime.timedelta(seconds=timeout - 5))
        confirmed = response.client.post(response["Location"], {"code": code})
        assert confirmed.status_code == 302
        assert response.client.get("/me/").wsgi_request.user == user
    with time_machine.travel(start, tick=False) as t:
        sms.ConsoleSmsBackend.outbox.clear()
        cache.clear()
        response = request_code("13900000050")
        code = re.search(r"\b(\d{6})\b", texts_to("+8613900000050")[0]).group(1)
        t.move_to(start + datetime.timedelta(seconds=timeout + 5))
        response.client.post(response["Location"], {"code": code})
        assert not response.client.get("/me/").wsgi_request.user.is_authenticated


def test_the_sign_up_code_sms_states_the_phone_verification_lifetime(db, settings):
    settings.ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 600
    Client().post("/accounts/signup/", with_altcha({"phone": "13900000060"}))
    (text,) = texts_to("+8613900000060")
    assert stated_minutes(text) == 10


def test_the_chinese_sms_states_the_lifetime_too(db):
    make_phone_user(61)
    request_code("13900000061", language="zh-hans")
    (text,) = texts_to("+8613900000061")
    assert "3 分钟内有效" in text


# --- item 5: a refusal is a 429 page in both languages, never a 500 ------------------------


def test_a_repeated_phone_sign_up_is_a_429_page_in_both_languages(db):
    first = Client().post("/accounts/signup/", with_altcha({"phone": "13900000070"}))
    assert first.status_code == 302
    # Within 30 s, the same number again (allauth's verify_phone limit raised RateLimited
    # through the sign-up, a 500 with a long traceback).
    again = Client().post("/accounts/signup/", with_altcha({"phone": "13900000070"}))
    assert again.status_code == 429
    assert again["Retry-After"] == "60"
    html = again.content.decode()
    assert "尝试次数过多" in html
    assert 'class="site-header"' in html  # our layout (base.html)
    english = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/", with_altcha({"phone": "13900000070"})
    )
    assert english.status_code == 429
    assert "Too many attempts" in english.content.decode()
    assert "Please try again in 1 minute." in english.content.decode()


def test_allauth_s_own_limit_answers_with_our_429_page(db, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "1/m/ip"}
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.post("/accounts/signup/", with_altcha({"phone": "13900000071"}))
    response = client.post("/accounts/signup/", with_altcha({"phone": "13900000072"}))
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many attempts" in response.content.decode()
    assert 'class="site-header"' in response.content.decode()


# --- ALTCHA on sign-up and on sending a login code --------------------------------------


@pytest.mark.parametrize("payload", [None, "", "bm90IGEgcGF5bG9hZA=="])
def test_sign_up_is_refused_without_a_solved_challenge(db, payload):
    data = {"phone": "13900000080"}
    if payload is not None:
        data["altcha"] = payload
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/accounts/signup/", data)
    assert response.status_code == 200
    assert not User.objects.filter(phone="+8613900000080").exists()
    assert texts_to("+8613900000080") == []


def test_sign_up_is_accepted_with_a_solved_challenge_once(db):
    payload = altcha_payload()
    response = Client().post("/accounts/signup/", {"phone": "13900000081", "altcha": payload})
    assert response.status_code == 302
    assert User.objects.filter(phone="+8613900000081").exists()
    replay = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/", {"phone": "13900000082", "altcha": payload}
    )
    assert replay.status_code == 200
    assert "already used" in replay.content.decode()
    assert not User.objects.filter(phone="+8613900000082").exists()


def test_no_login_code_without_a_solved_challenge(db):
    make_phone_user(83)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/login/code/", {"phone": "13900000083"})
    assert response.status_code == 200
    assert texts_to("+8613900000083") == []
    response = client.post("/accounts/login/code/", with_altcha({"phone": "13900000083"}))
    assert response.status_code == 302
    assert len(texts_to("+8613900000083")) == 1


@pytest.mark.parametrize("url", ["/accounts/signup/", "/accounts/login/code/"])
def test_the_widget_is_invisible_and_its_script_is_ours(db, url):
    html = Client().get(url).content.decode()
    widget = re.search(r"<altcha-widget[^>]*>", html).group(0)
    assert 'name="altcha"' in widget
    assert 'display="invisible"' in widget
    assert 'auto="onload"' in widget
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script type="module" src="/static/altcha_django/altcha.min.js">']
    assert "<script>" not in html  # nothing inline
    assert Client().get("/static/altcha_django/altcha.min.js").status_code == 200


def test_the_vendored_widget_css_is_the_one_its_script_carries():
    spec = importlib.util.spec_from_file_location(
        "extract_altcha_css", django_settings.BASE_DIR / "scripts" / "extract_altcha_css.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text(encoding="utf-8") == module.expected(), (
        "altcha-django was upgraded: run scripts/extract_altcha_css.py"
    )
