"""Errors a person can fix (#14, item 5): what a form with errors looks like in HTML.

The error summary at the top links to each field, the page title starts with "Error: ",
the field is marked invalid, the message says what to enter, optional fields say so;
and a resident with one e-bike books without ticking it.
"""

import datetime
import re
import zoneinfo
from html import escape

import pytest
import time_machine

from appointments.models import Booking
from registration import services as registration_services
from tests.conftest import make_id_number
from tests.personas import signed_in

NOW = datetime.datetime(2030, 1, 7, 8, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "no <title>"
    return match.group(1).strip()


def summary(html: str) -> str:
    match = re.search(r'<div class="error-summary"[^>]*>(.*?)</ul>\s*</div>\s*</div>', html, re.S)
    assert match, "no error summary"
    return match.group(0)


def summary_links(html: str) -> dict[str, str]:
    """The summary's links: target id -> text."""
    return {
        target: text.strip()
        for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', summary(html), re.S)
    }


def tag(html: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{element_id}"[^>]*>', html)
    assert match, f"no field with id {element_id}"
    return match.group(0)


def label(html: str, for_id: str) -> str:
    match = re.search(rf'<label for="{for_id}">(.*?)</label>', html, re.S)
    assert match, f"no label for {for_id}"
    return " ".join(match.group(1).split())


# What a browser sends for an untouched form (an empty POST would be an unbound form).
EMPTY_EBIKE = dict.fromkeys(
    ["frame_number", "brand", "model", "motor_number", "certificate_number"], ""
)
EBIKE_MESSAGES = {
    "en": {
        "id_frame_number": "Enter the frame number: 6 to 32 letters or digits.",
        "id_brand": "Enter the brand, as on the certificate of conformity.",
    },
    None: {
        "id_frame_number": "请输入车架号，6-32 位字母或数字。",
        "id_brand": "请输入品牌，与合格证上一致。",
    },
}


@pytest.mark.parametrize("language", ["en", None])
def test_an_empty_ebike_form_lists_each_error_linked_to_its_field(make_person, language):
    person = make_person()
    client = signed_in(person.user, language)
    html = client.post("/me/ebikes/new/", EMPTY_EBIKE).content.decode()

    links = summary_links(html)
    assert links == {k: escape(v) for k, v in EBIKE_MESSAGES[language].items()}
    assert 'role="alert"' in summary(html)
    assert 'tabindex="-1"' in summary(html)
    assert "/static/js/error-summary.js" in html
    for field_id, message in EBIKE_MESSAGES[language].items():
        field = tag(html, field_id)
        assert 'aria-invalid="true"' in field
        assert f"{field_id}_error" in re.search(r'aria-describedby="([^"]*)"', field).group(1)
        assert escape(message) in html.split(f'id="{field_id}_error"', 1)[1].split("</ul>")[0]
    assert "这个字段是必填项" not in html
    assert "This field is required" not in html
    # The fields left empty without error are not marked invalid.
    assert "aria-invalid" not in tag(html, "id_model")


def test_the_title_starts_with_error_only_when_the_form_has_errors(make_person):
    person = make_person()
    chinese = signed_in(person.user, None)
    assert not title(chinese.get("/me/ebikes/new/").content.decode()).startswith("错误")
    assert title(chinese.post("/me/ebikes/new/", EMPTY_EBIKE).content.decode()).startswith(
        "错误：添加电动自行车"
    )
    english = signed_in(person.user, "en")
    assert not title(english.get("/me/ebikes/new/").content.decode()).startswith("Error")
    assert title(english.post("/me/ebikes/new/", EMPTY_EBIKE).content.decode()).startswith(
        "Error: Add an e-bike"
    )


@pytest.mark.parametrize(
    ("language", "marks"),
    [
        ("en", {"id_model": "Model (optional)", "id_motor_number": "Motor number (optional)"}),
        (None, {"id_model": "型号（选填）", "id_motor_number": "电机号（选填）"}),
    ],
)
def test_optional_fields_say_so_and_required_ones_carry_required(make_person, language, marks):
    person = make_person()
    html = signed_in(person.user, language).get("/me/ebikes/new/").content.decode()
    for field_id, text in marks.items():
        assert label(html, field_id) == text
        assert "required" not in tag(html, field_id)
    for field_id in ("id_frame_number", "id_brand"):
        assert "（选填）" not in label(html, field_id)
        assert "(optional)" not in label(html, field_id)
        assert " required" in tag(html, field_id)
        assert 'aria-required="true"' in tag(html, field_id)


@pytest.mark.parametrize(
    ("language", "name_message", "id_message"),
    [
        (
            "en",
            "Enter your real name, as printed on your resident ID card.",
            "Enter your resident ID number: 18 characters, the last may be X.",
        ),
        (
            None,
            "请输入真实姓名，与居民身份证上一致。",
            "请输入居民身份证号码：18 位，最后一位可能是 X。",
        ),
    ],
)
def test_an_empty_profile_form_says_what_to_enter(make_login, language, name_message, id_message):
    client = make_login(language=language)
    html = client.post("/me/", {"real_name": "", "id_number": "", "phone": ""}).content.decode()
    assert summary_links(html) == {
        "id_real_name": escape(name_message),
        "id_id_number": escape(id_message),
    }
    assert 'aria-invalid="true"' in tag(html, "id_real_name")
    assert 'aria-invalid="true"' in tag(html, "id_id_number")
    optional = "Mobile number (optional)" if language else "手机号码（选填）"
    assert label(html, "id_phone") == optional


def test_the_id_number_field_opens_a_keyboard_that_has_x(make_login):
    html = make_login().get("/me/").content.decode()
    field = tag(html, "id_id_number")
    assert 'inputmode="text"' in field
    assert 'autocapitalize="characters"' in field
    pattern = re.search(r'pattern="([^"]*)"', field).group(1)
    assert re.fullmatch(pattern, make_id_number()[:17] + "X")
    assert not re.fullmatch(pattern, make_id_number()[:17])


def test_a_non_field_error_is_in_the_summary_without_a_link(make_login, make_resident, settings):
    settings.ID_CLAIM_LIMIT_PER_ACCOUNT_PER_HOUR = 1
    make_resident()  # holds make_id_number(seq="001")
    client = make_login()
    claim = {"real_name": "Han Meimei", "id_number": make_id_number(seq="001")}
    client.post("/me/", claim)  # refused: the number is taken; the one attempt is spent
    response = client.post("/me/", claim)
    html = response.content.decode()
    assert response.status_code == 429
    assert title(html).startswith("Error: ")
    items = re.findall(r"<li>(.*?)</li>", summary(html), re.S)
    assert len(items) == 1
    assert "<a " not in items[0]
    assert summary_links(html) == {}


# The booking form's e-bike.


def test_the_only_ebike_is_ticked_and_a_post_without_it_books_it(clock, make_person, make_slot):
    person = make_person()
    slot = make_slot(day=datetime.date(2030, 1, 8))
    html = person.client.get(f"/book/{slot.pk}/").content.decode()
    radio = tag(html, "id_ebike_0")
    assert f'value="{person.ebike.pk}"' in radio
    assert "checked" in radio

    response = person.client.post(f"/book/{slot.pk}/", {"slot": slot.pk})

    booking = Booking.objects.get(resident=person.resident)
    assert booking.ebike == person.ebike
    assert booking.slot == slot
    assert response.status_code == 302
    assert response["Location"] == f"/bookings/{booking.code}/"


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "You have 2 e-bikes without a plate: choose the one you will bring."),
        (None, "您有 2 辆未上牌的电动自行车，请选择您将带来的一辆。"),
    ],
)
def test_with_two_ebikes_none_is_ticked_and_a_post_without_one_is_refused(
    clock, make_person, make_slot, language, message
):
    person = make_person()
    registration_services.ebike_add(
        resident=person.resident, frame_number="SECOND0001", brand="Aima"
    )
    client = signed_in(person.user, language)
    slot = make_slot(day=datetime.date(2030, 1, 8))
    assert "checked" not in tag(client.get(f"/book/{slot.pk}/").content.decode(), "id_ebike_0")

    html = client.post(f"/book/{slot.pk}/", {"slot": slot.pk}).content.decode()

    assert not Booking.objects.exists()
    assert summary_links(html) == {"id_ebike_0": escape(message)}
    assert 'aria-invalid="true"' in tag(html, "id_ebike_0")
