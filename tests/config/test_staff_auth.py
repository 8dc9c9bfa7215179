"""Staff authentication (config/staff_auth.py): one login through allauth, a second factor
required for admins and clerks, staff sessions that end after 30 minutes idle and 12 hours,
re-authentication before sensitive actions, and the security events of all that."""

import datetime
import logging
import re
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from appointments import services as booking_services
from appointments.models import Slot
from counter.models import AuditEntry
from offices import demo
from registration.models import User
from tests.personas import staff_login, totp_authenticator, totp_code

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
# A Monday morning, offices open.
T0 = datetime.datetime(2030, 1, 7, 9, 0, tzinfo=SH)
MINUTE = datetime.timedelta(minutes=1)
PASSWORD = "a-long-staff-password-2030"  # noqa: S105 - test value

LOGIN = "/accounts/login/"
ACTIVATE = "/accounts/2fa/totp/activate/"
REAUTH = "/accounts/2fa/reauthenticate/"


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    cache.clear()  # allauth's rate limits and used TOTP codes
    return time_machine


@pytest.fixture
def security_events():
    """The security events logged during the test, as their field dicts. The ``security``
    logger does not propagate, so a handler is attached to it directly."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.INFO)
    logger = logging.getLogger("security")
    logger.addHandler(handler)
    yield lambda: [r.security for r in records]
    logger.removeHandler(handler)


def english() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def path_of(response) -> str:
    return urlsplit(response["Location"]).path


def next_of(response) -> str:
    return parse_qs(urlsplit(response["Location"]).query).get("next", [""])[0]


def names(events) -> list[str]:
    return [e["event"] for e in events]


@pytest.fixture
def admin_with_password(db):
    return User.objects.create_superuser("boss@test.example.org", PASSWORD)


@pytest.fixture
def booking(office_a, make_resident):
    slot = Slot.objects.create(
        office=office_a,
        date=T0.date(),
        start=datetime.time(0, 1),
        end=datetime.time(23, 0),
        capacity=5,
    )
    return booking_services.booking_create(
        resident=make_resident(name="Zhang San"), slot_id=slot.pk, now=T0 - 2 * 24 * 60 * MINUTE
    )


def reauthenticate(client: Client, user: User, next_url: str):
    """Enter the authenticator code on allauth's re-authentication page."""
    return client.post(REAUTH + "?next=" + next_url, {"code": totp_code(user), "next": next_url})


# One login for everyone.


def test_the_admin_login_redirects_to_the_account_login_keeping_next(db):
    response = english().get("/admin/login/", {"next": "/admin/offices/office/"})
    assert response.status_code == 302
    assert path_of(response) == LOGIN
    assert next_of(response) == "/admin/offices/office/"


def test_the_admin_sends_anonymous_people_to_the_account_login(db):
    response = english().get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(LOGIN)
    assert response.status_code == 200


def test_posting_a_password_to_the_admin_login_never_signs_in(admin_with_password):
    client = english()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": admin_with_password.email, "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert path_of(response) == LOGIN
    assert "_auth_user_id" not in client.session
    assert path_of(client.get("/admin/")) == "/admin/login/"


def test_an_external_next_is_dropped_by_the_admin_login(db):
    response = english().get("/admin/login/", {"next": "https://evil.example.com/"})
    assert next_of(response) == "/admin/"


def test_a_real_login_needs_the_password_and_the_authenticator_code(
    admin_with_password, security_events
):
    totp_authenticator(admin_with_password)
    client = english()
    response = client.post(
        LOGIN + "?next=/admin/",
        {"login": admin_with_password.email, "password": PASSWORD, "next": "/admin/"},
    )
    assert path_of(response) == "/accounts/2fa/authenticate/"
    assert path_of(client.get("/admin/")) == "/admin/login/"  # not signed in yet
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(admin_with_password)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    login = [e for e in security_events() if e["event"] == "staff_login"]
    assert len(login) == 1
    assert login[0]["user"] == admin_with_password.pk
    assert "totp" in login[0]["methods"]


# The enrolment wall: staff without a second factor reach only its setup.


@pytest.mark.parametrize("role", ["admin", "clerk"])
def test_staff_without_a_second_factor_are_sent_to_set_one_up(role, admin_user, clerk_a, office_a):
    user = admin_user if role == "admin" else clerk_a
    client = english()
    client.force_login(user)
    for url in ["/admin/", f"/counter/{office_a.code}/", "/counter/", "/me/", "/availability/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert path_of(response) == ACTIVATE, url
    page = client.get("/accounts/2fa/").content.decode()
    assert "Staff accounts need a second factor" in page


def test_the_enrolment_wall_leaves_setup_logout_language_and_static_open(admin_user):
    client = english()
    client.force_login(admin_user)
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/static/css/site.css").status_code == 200
    assert path_of(client.post("/i18n/setlang/", {"language": "en", "next": "/"})) == "/"
    # Activation first asks who it is (allauth's own re-authentication), not the wall.
    assert path_of(client.get(ACTIVATE)) != ACTIVATE
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_residents_are_not_asked_for_a_second_factor(resident_client):
    assert resident_client.get("/me/").status_code == 200


def test_a_resident_made_clerk_while_signed_in_meets_the_wall_at_the_counter(
    resident, resident_client, office_a
):
    office_a.clerks.add(resident)
    response = resident_client.get(f"/counter/{office_a.code}/")
    assert path_of(response) == ACTIVATE
    assert path_of(resident_client.get("/me/")) == ACTIVATE  # from then on, everywhere


# Transactional: allauth announces the new authenticator after its commit, in the request.
@pytest.mark.django_db(transaction=True)
def test_enrolling_an_authenticator_opens_the_counter_and_is_logged(
    clerk_a, office_a, security_events, clock
):
    clerk_a.set_password(PASSWORD)
    clerk_a.save()
    client = english()
    response = client.post(LOGIN, {"login": clerk_a.email, "password": PASSWORD})
    assert response.status_code == 302
    assert path_of(client.get(f"/counter/{office_a.code}/")) == ACTIVATE
    # allauth asks for the password again before a second factor is added.
    assert path_of(client.get(ACTIVATE)) == "/accounts/reauthenticate/"
    client.post("/accounts/reauthenticate/?next=" + ACTIVATE, {"password": PASSWORD})
    assert client.get(ACTIVATE).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(T0.timestamp()) // 30))
    response = client.post(ACTIVATE, {"code": code})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=clerk_a, type="totp").exists()
    assert Authenticator.objects.filter(user=clerk_a, type="recovery_codes").exists()
    assert client.get(f"/counter/{office_a.code}/").status_code == 200
    added = [e for e in security_events() if e["event"] == "mfa_authenticator_added"]
    assert sorted((e["user"], e["type"]) for e in added) == [
        (clerk_a.pk, "recovery_codes"),
        (clerk_a.pk, "totp"),
    ]


def test_removing_an_authenticator_is_logged(admin_user, security_events):
    client = staff_login(english(), admin_user)
    client.post(REAUTH, {"code": totp_code(admin_user)})  # a fresh re-authentication
    response = client.post("/accounts/2fa/totp/deactivate/", {})
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=admin_user, type="totp").exists()
    removed = [e for e in security_events() if e["event"] == "mfa_authenticator_removed"]
    assert removed and removed[0]["user"] == admin_user.pk and removed[0]["type"] == "totp"
    # Without a second factor the wall is back.
    assert path_of(client.get("/admin/")) == ACTIVATE


# A session that never passed its second factor.


def test_a_session_without_the_second_factor_is_asked_for_it(admin_user, clerk_a, office_a):
    totp_authenticator(admin_user)
    client = english()
    client.force_login(admin_user)  # e.g. signed in before enrolling
    for url in ["/admin/", "/accounts/2fa/", "/accounts/2fa/totp/deactivate/", "/me/"]:
        response = client.get(url)
        assert path_of(response) == REAUTH, url
        assert next_of(response) == url
    response = reauthenticate(client, admin_user, "/admin/")
    assert response.status_code == 302 and path_of(response) == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_also_passes_the_second_factor(admin_user):
    totp_authenticator(admin_user)
    codes = RecoveryCodes.activate(admin_user).generate_codes()
    client = english()
    client.force_login(admin_user)
    client.post(REAUTH + "?next=/admin/", {"code": codes[0], "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


# Session limits.


def test_a_staff_session_survives_29_minutes_idle_and_ends_after_31(
    clerk_a, office_a, clock, security_events
):
    client = staff_login(english(), clerk_a)
    board = f"/counter/{office_a.code}/"
    assert client.get(board).status_code == 200
    clock.move_to(T0 + 29 * MINUTE)
    assert client.get(board).status_code == 200
    clock.move_to(T0 + 29 * MINUTE + 31 * MINUTE)
    response = client.get(board)
    assert response.status_code == 302
    assert path_of(response) == LOGIN and next_of(response) == board
    assert "_auth_user_id" not in client.session
    expired = [e for e in security_events() if e["event"] == "staff_session_expired"]
    assert [(e["user"], e["reason"]) for e in expired] == [(clerk_a.pk, "idle")]
    page = client.get(response["Location"]).content.decode()
    assert "Your session ended after a time without activity" in page


def test_a_staff_session_ends_12_hours_after_sign_in_however_active(
    admin_user, clock, security_events
):
    client = staff_login(english(), admin_user)
    minutes = 0
    while minutes < 12 * 60:
        clock.move_to(T0 + minutes * MINUTE)
        assert client.get("/admin/").status_code == 200, minutes
        minutes += 20
    clock.move_to(T0 + (12 * 60 + 1) * MINUTE)
    response = client.get("/admin/")
    assert path_of(response) == LOGIN
    assert [e["reason"] for e in security_events() if e["event"] == "staff_session_expired"] == [
        "absolute"
    ]


def test_the_limits_are_settings(admin_user, clock, settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 5 * 60
    client = staff_login(english(), admin_user)
    clock.move_to(T0 + 6 * MINUTE)
    assert path_of(client.get("/admin/")) == LOGIN


def test_a_resident_session_has_no_idle_limit(resident_client, clock):
    clock.move_to(T0 + 3 * 60 * MINUTE)
    assert resident_client.get("/me/").status_code == 200


# Re-authentication before sensitive actions.


def test_granting_permissions_asks_for_the_code_again(admin_user, stranger, clock):
    client = staff_login(english(), admin_user)
    url = reverse("admin:registration_user_change", args=[stranger.pk])
    assert client.get(url).status_code == 200  # the code was entered just now
    clock.move_to(T0 + 16 * MINUTE)
    assert client.get("/admin/").status_code == 200  # not sensitive
    response = client.get(url)
    assert path_of(response) == REAUTH and next_of(response) == url
    response = reauthenticate(client, admin_user, url)
    assert path_of(response) == url
    assert client.get(url).status_code == 200


def test_assigning_clerks_asks_for_the_code_again(admin_user, office_a, clock):
    client = staff_login(english(), admin_user)
    url = reverse("admin:offices_office_change", args=[office_a.pk])
    clock.move_to(T0 + 16 * MINUTE)
    assert path_of(client.get(url)) == REAUTH
    assert path_of(client.post(url, {"name": "changed"})) == REAUTH
    office_a.refresh_from_db()
    assert office_a.name != "changed"


def test_release_now_is_suspended_until_the_code_and_then_done(
    admin_user, main_urban_offices, clock
):
    client = staff_login(english(), admin_user)
    url = reverse("admin:offices_office_overview")
    clock.move_to(T0 + 16 * MINUTE)
    assert client.get(url).status_code == 200  # reading the overview is not sensitive
    tuesday = (T0 + datetime.timedelta(days=1)).date().isoformat()
    response = client.post(url, {"date": tuesday})
    assert path_of(response) == REAUTH
    assert not AuditEntry.objects.filter(action="release").exists()
    response = reauthenticate(client, admin_user, url)
    # allauth replays the suspended POST once the code is accepted.
    assert response.status_code == 302 and path_of(response) == url
    assert AuditEntry.objects.filter(action="release", clerk=admin_user).count() == 1


def test_a_full_id_number_needs_the_code_after_15_minutes_idle(clerk_a, booking, clock):
    client = staff_login(english(), clerk_a)
    url = f"/counter/{booking.office.code}/bookings/{booking.code}/"
    board = f"/counter/{booking.office.code}/"
    assert 'id="resident-id"' in client.get(url).content.decode()
    # Active at the counter every 10 minutes: the ID numbers stay visible.
    for minutes in (10, 20, 30):
        clock.move_to(T0 + minutes * MINUTE)
        assert client.get(url).status_code == 200, minutes
    # 16 minutes away from the desk: the code again.
    clock.move_to(T0 + 46 * MINUTE)
    response = client.get(url)
    assert path_of(response) == REAUTH and next_of(response) == url
    clock.move_to(T0 + 46 * MINUTE + 30 * datetime.timedelta(seconds=1))
    assert client.get(board).status_code == 200  # the board shows no ID number
    response = reauthenticate(client, clerk_a, url)
    assert path_of(response) == url
    assert 'id="resident-id"' in client.get(url).content.decode()


def test_counter_actions_on_a_booking_do_not_ask_for_the_code(clerk_a, booking, clock):
    client = staff_login(english(), clerk_a)
    url = f"/counter/{booking.office.code}/bookings/{booking.code}/"
    clock.move_to(T0 + 20 * MINUTE)
    response = client.post(url, {"action": "check_in"})
    assert path_of(response) == url  # the view's own redirect, not the code page


# Security events for logins.


def test_a_wrong_password_for_a_staff_account_is_logged(admin_with_password, security_events):
    english().post(LOGIN, {"login": admin_with_password.email, "password": "wrong"})
    failed = [e for e in security_events() if e["event"] == "staff_login_failed"]
    assert [e["user"] for e in failed] == [admin_with_password.pk]
    assert failed[0]["client"] == "127.0.0.1"
    assert "wrong" not in str(failed) and admin_with_password.email not in str(failed)


def test_a_wrong_password_for_a_resident_is_not_a_staff_event(db, security_events):
    User.objects.create_user(email="someone@test.example.org", password=PASSWORD)
    english().post(LOGIN, {"login": "someone@test.example.org", "password": "wrong"})
    assert "staff_login_failed" not in names(security_events())


def test_the_lockout_is_logged_and_holds_against_the_right_password(
    admin_with_password, security_events
):
    client = english()
    for _ in range(6):
        client.post(LOGIN, {"login": admin_with_password.email, "password": "wrong"})
    response = client.post(LOGIN, {"login": admin_with_password.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "login_locked_out" in names(security_events())


# The demo.


def test_the_demo_staff_sign_in_with_the_printed_demo_code(db, settings, capsys):
    settings.WEEKLY_ONLINE_FLOOR = 0
    call_command("load_demo", days=0)
    settings.DEBUG = True
    call_command("demo_code")
    code = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d{6}", code)
    client = english()
    client.post(LOGIN, {"login": demo.DEMO_ACCOUNTS["clerk"], "password": demo.DEMO_PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 302
    assert client.get("/counter/").status_code == 200
    admin = User.objects.get(email=demo.DEMO_ACCOUNTS["admin"])
    assert Authenticator.objects.filter(user=admin, type="totp").count() == 1
    call_command("load_demo", days=0)  # twice: still one authenticator
    assert Authenticator.objects.filter(user=admin, type="totp").count() == 1


def test_demo_code_refuses_outside_the_demo(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_code")


def test_the_password_alone_does_not_pass_a_sensitive_action(admin_user, stranger, clock):
    admin_user.set_password(PASSWORD)
    admin_user.save()
    client = staff_login(english(), admin_user)
    url = reverse("admin:registration_user_change", args=[stranger.pk])
    clock.move_to(T0 + 16 * MINUTE)
    client.post("/accounts/reauthenticate/?next=" + url, {"password": PASSWORD, "next": url})
    assert path_of(client.get(url)) == REAUTH


# The pages in both languages.


def test_the_second_factor_pages_speak_chinese_and_english(admin_user):
    totp_authenticator(admin_user)
    RecoveryCodes.activate(admin_user)
    chinese = staff_login(Client(), admin_user)
    page = chinese.get(REAUTH).content.decode()
    assert "请输入身份验证器上的验证码" in page and "代码" not in page
    assert "恢复码" in chinese.get("/accounts/2fa/").content.decode()
    page = staff_login(english(), admin_user).get(REAUTH).content.decode()
    assert "Enter an authenticator code" in page
