"""Chinese is the default language: every message has a translation, compiled."""

from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated_into_chinese():
    po = polib.pofile(str(LOCALE / "django.po"))
    untranslated = [
        e.msgid
        for e in po
        if not (all(e.msgstr_plural.values()) if e.msgid_plural else e.msgstr) or "fuzzy" in e.flags
    ]
    assert untranslated == []
    assert len(po) > 100


def test_compiled_catalogue_matches_the_source():
    # Keyed by context too: one msgid can have two meanings ("closed": a complaint, a day).
    po = {
        (e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural)
        for e in polib.pofile(str(LOCALE / "django.po"))
        if e.msgid
    }
    mo = {
        (e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural)
        for e in polib.mofile(str(LOCALE / "django.mo"))
        if e.msgid
    }
    assert mo == po, "run `make messages` to recompile django.mo"


def test_python_strings_are_translated_at_runtime():
    from django.core.exceptions import ValidationError

    from registration.idnumber import normalize_mobile

    with pytest.raises(ValidationError) as exc:
        normalize_mobile("123")
    with translation.override("zh-hans"):
        assert "手机号码" in exc.value.messages[0]
    with translation.override("en"):
        assert "mobile number" in exc.value.messages[0]


def test_home_page_is_chinese_by_default_and_english_on_request(db):
    client = Client()
    body = client.get("/").content.decode()
    assert 'lang="zh-hans"' in body and "上牌免费，参保自愿。" in body
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in body and "Registration is free. Insurance is voluntary." in body


def test_language_switch_sets_english(db):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Service points" in client.get("/").content.decode()
