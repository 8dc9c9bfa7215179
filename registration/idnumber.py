"""Resident ID numbers (居民身份证号码, GB 11643-1999) and Chinese mobile numbers."""

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import numdb

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII digits only: a full-width "１" must not give the same person a second hash.
_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def ascii_form(value: str) -> str:
    """Full-width digits and letters (as Chinese input methods type them) as ASCII."""
    return unicodedata.normalize("NFKC", value or "")


@dataclass(frozen=True)
class ResidentId:
    number: str
    region: str
    birth_date: datetime.date
    is_male: bool

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)

    def age_on(self, day: datetime.date) -> int:
        return age_on(self.birth_date, day)


def check_character(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_known_region(code: str) -> bool:
    """Return whether a 6-digit code is, or was, an administrative division code (GB/T 2260).

    The table is python-stdnum's ``cn/loc``, compiled from Wikipedia's lists of PRC
    administrative division codes, including abolished ones. We do not call
    ``stdnum.cn.ric.validate``: it also refuses a code created after the birth year, but
    numbers were handed out when ID cards came in (from 1984), so a resident born in 1950 in
    Zhanqian district (210802, created 1983) holds that code. (It also raises KeyError, not a
    validation error, for an unknown county in a known province.)
    """
    return any("county" in props for _part, props in numdb.get("cn/loc").info(code))


def parse_id_number(value: str, *, today: datetime.date | None = None) -> ResidentId:
    """Validate an ID number and return its parts, or raise ValidationError.

    The birth date must be a real date from 1900 on and, when ``today`` is given, not in the
    future; stdnum only checks that it is a real date.
    """
    number = ascii_form(value).strip().upper()
    if len(number) != 18:
        raise ValidationError(
            _("A resident ID number has 18 characters; this one has %(count)d."),
            code="id_length",
            params={"count": len(number)},
        )
    if not _SHAPE.match(number):
        raise ValidationError(
            _("A resident ID number is 17 digits followed by a digit or X."),
            code="id_characters",
        )
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("The birth date in this ID number (%(digits)s) is not a real date."),
            code="id_birth_date",
            params={"digits": number[6:14]},
        ) from None
    if birth.year < 1900 or (today is not None and birth > today):
        raise ValidationError(
            _("The birth date in this ID number (%(digits)s) is not possible."),
            code="id_birth_date",
            params={"digits": number[6:14]},
        )
    if check_character(number[:17]) != number[17]:
        raise ValidationError(
            _("This ID number's check character is wrong; please check for a typing mistake."),
            code="id_checksum",
        )
    # After the check character: a typing mistake in the first six digits gets that message.
    if not is_known_region(number[:6]):
        raise ValidationError(
            _(
                "This ID number starts with %(digits)s, which is not a region code; "
                "please check the first six digits."
            ),
            code="id_region",
            params={"digits": number[:6]},
        )
    return ResidentId(
        number=number,
        region=number[:6],
        birth_date=birth,
        is_male=int(number[16]) % 2 == 1,
    )


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    """Return the age in whole years on ``day`` (a 29 Feb birthday ages on 1 Mar)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def mask_id_number(number: str) -> str:
    """Show the first 6 and last 4 characters only."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def normalize_mobile(value: str) -> str:
    """Return a Chinese mobile number in E.164 (+86…), or raise ValidationError."""
    digits = re.sub(r"[\s-]", "", ascii_form(value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.match(digits):
        raise ValidationError(
            _("Enter an 11-digit Chinese mobile number starting with 1."), code="mobile"
        )
    return "+86" + digits
