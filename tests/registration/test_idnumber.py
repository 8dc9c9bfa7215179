import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from registration.idnumber import age_on, mask_id_number, normalize_mobile, parse_id_number
from tests.conftest import make_id_number


def codes(exc: ValidationError) -> list[str]:
    return [e.code for e in exc.error_list]


def test_published_example_with_x_check_character_is_valid():
    parsed = parse_id_number("11010519491231002X")
    assert parsed.birth_date == datetime.date(1949, 12, 31)
    assert parsed.region == "110105"
    assert parsed.is_male is False  # sequence 002 is even


def test_lower_case_x_and_spaces_are_accepted():
    assert parse_id_number(" 11010519491231002x ").number == "11010519491231002X"


@pytest.mark.parametrize("seq", ["001", "002", "010", "123", "555", "998"])
def test_numbers_built_with_independent_weights_are_valid(seq):
    number = make_id_number(seq=seq)
    assert parse_id_number(number).number == number


def test_wrong_check_digit_is_refused():
    number = make_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        parse_id_number(wrong)
    assert codes(exc.value) == ["id_checksum"]


@pytest.mark.parametrize("birth", ["19850230", "19851301", "19850015", "18991231"])
def test_impossible_birth_date_is_refused(birth):
    first17 = "210802" + birth + "123"
    # Give it a correct check character so only the date is wrong.
    number = make_id_number(birth=birth)
    assert number.startswith(first17)
    with pytest.raises(ValidationError) as exc:
        parse_id_number(number)
    assert codes(exc.value) == ["id_birth_date"]


def test_birth_date_in_the_future_is_refused():
    number = make_id_number(birth="20300101")
    with pytest.raises(ValidationError) as exc:
        parse_id_number(number, today=datetime.date(2026, 11, 25))
    assert codes(exc.value) == ["id_birth_date"]


@pytest.mark.parametrize(
    "region",
    [
        "990000",  # no such province
        "100000",  # no such province
        "110199",  # Beijing, but no such district
    ],
)
def test_region_code_that_does_not_exist_is_refused(region):
    # A correct check character, a real birth date: only the region is wrong.
    number = make_id_number(region=region)
    with pytest.raises(ValidationError) as exc:
        parse_id_number(number, today=datetime.date(2026, 12, 2))
    assert codes(exc.value) == ["id_region"]
    assert region in exc.value.messages[0]


def test_unknown_region_has_its_own_message_in_both_languages():
    with pytest.raises(ValidationError) as exc:
        parse_id_number(make_id_number(region="990000"))
    [error] = exc.value.error_list
    with translation.override("en"):
        english = str(error.message) % error.params
    with translation.override("zh-hans"):
        chinese = str(error.message) % error.params
    assert english == (
        "This ID number starts with 990000, which is not a region code; "
        "please check the first six digits."
    )
    assert chinese != english and "990000" in chinese and "行政区划代码" in chinese


@pytest.mark.parametrize(
    ("region", "birth"),
    [
        ("210802", "19500101"),  # Yingkou Zhanqian, code from 1983, resident born before it
        ("110111", "19550606"),  # Beijing Fangshan, code from 1986
        ("110103", "19850315"),  # Beijing Chongwen, merged into Dongcheng in 2010
        ("210800", "19850315"),  # Yingkou city-level code
    ],
)
def test_real_region_codes_are_accepted_whatever_the_birth_year(region, birth):
    number = make_id_number(region=region, birth=birth)
    assert parse_id_number(number, today=datetime.date(2026, 12, 2)).region == region


@pytest.mark.parametrize("value", ["", "2108021985031512", "2108021985031512345", "21080219850315"])
def test_wrong_length_is_refused(value):
    with pytest.raises(ValidationError) as exc:
        parse_id_number(value)
    assert codes(exc.value) == ["id_length"]


@pytest.mark.parametrize(
    "value", ["21080219850315A234", "A10802198503151234", "21080219850315123Y"]
)
def test_letters_other_than_final_x_are_refused(value):
    with pytest.raises(ValidationError) as exc:
        parse_id_number(value)
    assert codes(exc.value) == ["id_characters"]


def test_error_message_is_readable():
    with pytest.raises(ValidationError) as exc:
        parse_id_number("123")
    assert "18" in exc.value.messages[0]


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (datetime.date(2026, 3, 14), 40),
        (datetime.date(2026, 3, 15), 41),
        (datetime.date(2026, 12, 31), 41),
    ],
)
def test_age_on_a_given_date(day, age):
    assert parse_id_number(make_id_number(birth="19850315")).age_on(day) == age


def test_turns_65_on_the_birthday_not_the_day_before():
    birth = datetime.date(1961, 11, 25)
    assert age_on(birth, datetime.date(2026, 11, 24)) == 64
    assert age_on(birth, datetime.date(2026, 11, 25)) == 65


def test_leap_day_birthday_ages_on_first_of_march():
    birth = datetime.date(1960, 2, 29)
    assert age_on(birth, datetime.date(2025, 2, 28)) == 64
    assert age_on(birth, datetime.date(2025, 3, 1)) == 65


def test_mask_shows_first_six_and_last_four():
    assert mask_id_number("11010519491231002X") == "110105********002X"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("13900000001", "+8613900000001"), ("+86 139-0000-0001", "+8613900000001")],
)
def test_mobile_numbers_are_stored_in_e164(raw, e164):
    assert normalize_mobile(raw) == e164


@pytest.mark.parametrize("raw", ["12900000001", "1390000000", "23900000001", "abc"])
def test_bad_mobile_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_mobile(raw)


def test_full_width_digits_are_read_as_the_same_number():
    number = make_id_number(seq="077")
    full_width = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert parse_id_number(full_width).number == number
    assert normalize_mobile("１３９ １２３４ ５６７８") == "+8613912345678"
    with pytest.raises(ValidationError):
        parse_id_number("١" * 18)  # other scripts' digits are not ID digits
