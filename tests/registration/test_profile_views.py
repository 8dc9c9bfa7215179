"""Resident details, e-bikes, SMS backends and the allauth signup form, through the client."""

import datetime
import http.server
import json
import logging
import re
import threading
import zoneinfo
from html import escape

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from appointments import services as booking_services
from appointments.models import Slot
from registration import services as registration_services
from registration import sms
from registration.models import EBike, Resident, User
from tests.altcha_helper import with_altcha
from tests.conftest import make_id_number

NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
ID_CHECKSUM_ERROR = "This ID number's check character is wrong; please check for a typing mistake."


@pytest.fixture
def clock():
    """For the tests that book: the window booked is ahead of NOW, whatever the real day."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input named {name}"
    return match.group(0)


def attribute(tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', tag)
    return match.group(1) if match else None


def field_errors(html: str, field_id: str) -> str:
    match = re.search(rf'<ul class="errorlist" id="{field_id}_error">(.*?)</ul>', html, re.S)
    assert match, f"no error list for {field_id}"
    return match.group(1)


def assert_error_tied_to_field(html: str, name: str, message: str) -> None:
    tag = input_tag(html, name)
    assert attribute(tag, "aria-invalid") == "true"
    error_id = f"id_{name}_error"
    assert error_id in (attribute(tag, "aria-describedby") or "").split()
    assert escape(message) in field_errors(html, f"id_{name}")


# --- resident details ------------------------------------------------------------------


def test_invalid_id_number_error_is_tied_to_its_field(make_login):
    client = make_login()
    good = make_id_number(seq="021")
    bad = good[:17] + ("0" if good[17] != "0" else "1")  # a wrong check character
    response = client.post("/me/", {"real_name": "Han Meimei", "id_number": bad})
    assert response.status_code == 200
    html = response.content.decode()
    assert_error_tied_to_field(html, "id_number", ID_CHECKSUM_ERROR)
    # The other fields are not marked invalid.
    assert attribute(input_tag(html, "real_name"), "aria-invalid") is None
    assert not Resident.objects.exists()


def test_invalid_id_number_error_in_chinese(make_login):
    client = make_login(language="zh-hans")
    response = client.post("/me/", {"real_name": "韩梅梅", "id_number": "12345"})
    msgid = "A resident ID number has 18 characters; this one has %(count)d."
    with translation.override("zh-hans"):
        expected = gettext(msgid) % {"count": 5}
    assert expected != msgid % {"count": 5}  # really translated
    assert_error_tied_to_field(response.content.decode(), "id_number", expected)
    assert not Resident.objects.exists()


def test_an_id_number_from_a_region_that_does_not_exist_is_refused(make_login):
    client = make_login(language="zh-hans")
    fictitious = make_id_number(region="990000", seq="023")  # check character is right
    response = client.post("/me/", {"real_name": "韩梅梅", "id_number": fictitious})
    assert response.status_code == 200
    assert_error_tied_to_field(
        response.content.decode(),
        "id_number",
        "该身份证号码的前6位（990000）不是有效的行政区划代码，请核对前6位数字。",
    )
    assert not Resident.objects.exists()


FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("typed", ["ascii", "full-width"])
def test_an_id_number_claimed_by_another_account_is_refused(make_login, make_resident, typed):
    other = make_login()
    number = make_id_number(seq="031")
    registration_services.resident_create(
        real_name="First Owner", id_number=number, user=other.user
    )
    client = make_login()
    # A Chinese input method types full-width digits: the same person, the same number.
    claimed = number.translate(FULL_WIDTH) if typed == "full-width" else number
    response = client.post("/me/", {"real_name": "Second Claimant", "id_number": claimed})
    assert response.status_code == 200
    html = response.content.decode()
    assert_error_tied_to_field(
        html, "id_number", "This ID number is already registered to another account."
    )
    assert "First Owner" not in html
    assert Resident.objects.count() == 1
    assert not Resident.objects.filter(user=client.user).exists()


def test_saved_id_number_is_shown_masked_only(make_login):
    client = make_login()
    number = make_id_number(seq="041")
    response = client.post(
        "/me/",
        {"real_name": "Li Lei", "id_number": number, "phone": "139 0000 0041"},
        follow=True,
    )
    assert response.redirect_chain == [("/me/ebikes/new/", 302)]
    assert number not in response.content.decode()
    resident = Resident.objects.get(user=client.user)
    assert resident.phone == "+8613900000041"
    masked = number[:6] + "********" + number[-4:]
    assert resident.id_masked == masked

    html = client.get("/me/").content.decode()
    assert f'<dd id="masked-id">{masked}</dd>' in html
    assert number not in html
    assert number.lower() not in html
    # Saving the editable details again never brings the number back.
    response = client.post("/me/", {"real_name": "Li Lei", "phone": ""}, follow=True)
    assert "Your details are saved." in response.content.decode()
    assert number not in response.content.decode()


def test_booking_without_details_sends_to_the_profile(clock, make_login, make_slot):
    client = make_login()
    slot = make_slot(day=datetime.date(2099, 1, 5))
    response = client.get(f"/book/{slot.pk}/")
    assert response.status_code == 302
    assert response["Location"] == "/me/"


# --- e-bikes ---------------------------------------------------------------------------


@pytest.fixture
def make_resident_client(make_login, make_resident):
    """Signed-in residents with a Resident record and no e-bike yet, for the tests that add
    one (the shared ``make_person``'s residents have one already)."""

    def make(language="en"):
        client = make_login(language=language)
        client.resident = make_resident(user=client.user, name="Bike Owner")
        return client

    return make


def test_adding_an_ebike_normalises_the_frame_number(make_resident_client):
    client = make_resident_client()
    response = client.post(
        "/me/ebikes/new/", {"frame_number": " abc-123 456 ", "brand": "Yadea", "model": "G5"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/availability/"
    bike = EBike.objects.get(resident=client.resident)
    assert (bike.frame_number, bike.brand, bike.model) == ("ABC123456", "Yadea", "G5")


@pytest.mark.parametrize("typed", ["ABC123456", "abc-123 456"], ids=["same", "other-spelling"])
def test_a_duplicate_frame_number_is_refused(make_resident_client, typed):
    first = make_resident_client()
    registration_services.ebike_add(resident=first.resident, frame_number="ABC123456", brand="A")
    second = make_resident_client()
    response = second.post("/me/ebikes/new/", {"frame_number": typed, "brand": "Emma"})
    assert response.status_code == 200
    assert_error_tied_to_field(
        response.content.decode(),
        "frame_number",
        "An e-bike with this frame number is already registered.",
    )
    assert EBike.objects.count() == 1
    assert not EBike.objects.filter(resident=second.resident).exists()


def test_a_malformed_frame_number_is_refused_on_its_field(make_resident_client):
    client = make_resident_client()
    response = client.post("/me/ebikes/new/", {"frame_number": "ab#1", "brand": "Emma"})
    assert response.status_code == 200
    assert_error_tied_to_field(
        response.content.decode(), "frame_number", "A frame number has 6 to 32 letters and digits."
    )
    assert not EBike.objects.exists()


def test_removing_an_unbooked_ebike_works(make_resident_client):
    client = make_resident_client()
    bike = registration_services.ebike_add(
        resident=client.resident, frame_number="FREE000001", brand="A"
    )
    confirm = client.get(f"/me/ebikes/{bike.pk}/remove/", HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200
    assert "Remove this e-bike?" in confirm.content.decode()
    assert "Yes, remove this e-bike" in confirm.content.decode()
    assert EBike.objects.filter(pk=bike.pk).exists()
    response = client.post(f"/me/ebikes/{bike.pk}/remove/", follow=True)
    assert "E-bike removed." in response.content.decode()
    assert not EBike.objects.filter(pk=bike.pk).exists()


def test_removing_an_ebike_with_a_booking_is_refused(clock, make_resident_client, make_slot):
    client = make_resident_client()
    bike = registration_services.ebike_add(
        resident=client.resident, frame_number="BOOKED0001", brand="A"
    )
    slot = make_slot(day=datetime.date(2099, 1, 5), capacity=2)
    booking_services.booking_create(resident=client.resident, slot_id=slot.pk, ebike=bike)

    response = client.post(f"/me/ebikes/{bike.pk}/remove/", follow=True)
    assert response.redirect_chain == [("/me/", 302)]
    assert "This e-bike has a booking or a plate and is kept on record." in (
        response.content.decode()
    )
    assert EBike.objects.filter(pk=bike.pk).exists()
    assert Slot.objects.get(pk=slot.pk).booked == 1


def test_a_resident_cannot_remove_someone_elses_ebike(make_resident_client):
    owner = make_resident_client()
    bike = registration_services.ebike_add(
        resident=owner.resident, frame_number="OWNED00001", brand="A"
    )
    intruder = make_resident_client()
    response = intruder.post(f"/me/ebikes/{bike.pk}/remove/")
    assert response.status_code == 404
    assert "OWNED00001" not in response.content.decode()
    assert EBike.objects.filter(pk=bike.pk).exists()
    # Nor does the intruder's profile list it.
    assert "OWNED00001" not in intruder.get("/me/").content.decode()


# --- SMS backends ----------------------------------------------------------------------


class _Gateway(http.server.BaseHTTPRequestHandler):
    status = 200
    received: list

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(
            {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": self.rfile.read(length),
            }
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass


@pytest.fixture
def gateway(monkeypatch, settings):
    """A real HTTP gateway on 127.0.0.1; yields a function to set its answer."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    received: list = []
    handler = type("Gateway", (_Gateway,), {"received": received, "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "registration.sms.HttpSmsBackend"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    settings.SMS_GATEWAY_TOKEN = "gateway-token-123"
    settings.SMS_SIGN_NAME = "电动车登记"
    settings.SMS_GATEWAY_TIMEOUT = 5

    def answer(status):
        handler.status = status

    answer.received = received
    yield answer
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_backend_posts_json_with_the_token(gateway):
    sms.send_sms("+8613900000051", "您的验证码是 123456", message_id="confirmation:7")
    [request] = gateway.received
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Bearer gateway-token-123"
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["body"].decode("utf-8"))
    assert body == {
        "id": "confirmation:7",
        "phone": "+8613900000051",
        "text": "您的验证码是 123456",
        "sign": "电动车登记",
    }
    assert request["headers"]["Idempotency-Key"] == "confirmation:7"


def test_http_backend_gives_a_message_sent_once_a_fresh_id(gateway):
    sms.send_sms("+8613900000051", "a")
    sms.send_sms("+8613900000051", "b")
    ids = [json.loads(r["body"])["id"] for r in gateway.received]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)


def test_http_backend_raises_on_a_gateway_error(gateway):
    gateway(500)
    with pytest.raises(sms.SmsError, match="500"):
        sms.send_sms("+8613900000052", "hello")
    assert len(gateway.received) == 1


def test_http_backend_raises_when_the_gateway_is_unreachable(gateway, settings):
    gateway(200)  # a working gateway exists, but the settings point elsewhere
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/sms/send"  # the discard port: nobody
    with pytest.raises(sms.SmsError, match="unreachable"):
        sms.send_sms("+8613900000053", "hello")
    assert gateway.received == []


def test_console_backend_logs_the_phone_masked(settings, caplog):
    settings.SMS_BACKEND = "registration.sms.ConsoleSmsBackend"
    sms.ConsoleSmsBackend.outbox.clear()
    phone = "+8613912345678"
    with caplog.at_level(logging.INFO, logger="registration.sms"):
        sms.send_sms(phone, "code 654321")
    assert phone not in caplog.text
    assert "13912345678" not in caplog.text
    assert "+86139****5678" in caplog.text
    assert "code 654321" in caplog.text
    assert [(m.phone, m.text) for m in sms.ConsoleSmsBackend.outbox] == [(phone, "code 654321")]
    sms.ConsoleSmsBackend.outbox.clear()


# --- signup (allauth) ------------------------------------------------------------------


def test_signup_needs_a_phone_or_an_email(db, console_sms):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/",
        with_altcha({"phone": "", "email": "", "password1": "", "password2": ""}),
    )
    assert response.status_code == 200
    assert "Enter a mobile number or an e-mail address." in response.content.decode()
    assert not User.objects.exists()
    assert len(console_sms) == 0


def test_signup_with_email_needs_a_password(db, console_sms):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/", with_altcha({"email": "someone@example.org"})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert_error_tied_to_field(html, "password1", "Choose a password to sign in with your e-mail.")
    assert not User.objects.exists()


def test_signup_with_email_and_password_works(db, console_sms):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/",
        with_altcha(
            {
                "email": "Someone@Example.org",
                "password1": "a-long-Passphrase-42",
                "password2": "a-long-Passphrase-42",
            }
        ),
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert (user.email, user.phone) == ("someone@example.org", None)
    assert len(console_sms) == 0


def test_phone_only_signup_creates_the_user_and_texts_a_six_digit_code(db, console_sms):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/signup/", with_altcha({"phone": "139-0000-0061"}))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/phone/verify/"
    user = User.objects.get()
    assert user.phone == "+8613900000061"
    assert user.email is None
    assert user.phone_verified is False
    assert not user.has_usable_password()

    [message] = list(console_sms)
    assert message.phone == "+8613900000061"
    codes = re.findall(r"(?<!\d)\d{6}(?!\d)", message.text)
    assert len(codes) == 1

    page = client.get("/accounts/phone/verify/")
    assert page.status_code == 200
    response = client.post("/accounts/phone/verify/", {"code": codes[0]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone_verified is True


def test_phone_signup_refuses_a_number_that_is_not_a_mainland_mobile(db, console_sms):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/signup/", with_altcha({"phone": "12345"})
    )
    assert response.status_code == 200
    assert "Enter an 11-digit Chinese mobile number starting with 1." in response.content.decode()
    assert not User.objects.exists()
    assert len(console_sms) == 0
