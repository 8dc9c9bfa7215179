"""Rotating the ID-number keys: every identity is still found and still readable after."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from registration import crypto, services
from registration.models import Resident
from tests.conftest import make_id_number

NEW_HASH_KEY = "a-new-hash-key-for-the-test-only-0123456789"


@pytest.fixture
def residents(db):
    numbers = [make_id_number(seq=f"{n:03d}") for n in range(1, 4)]
    for n, number in enumerate(numbers):
        services.resident_create(real_name=f"Test Person {n}", id_number=number)
    return numbers


def test_new_keys_find_and_read_every_identity(residents, settings, monkeypatch, capsys):
    old_fernet = settings.ID_ENCRYPTION_KEYS
    new_fernet = Fernet.generate_key().decode()
    settings.ID_ENCRYPTION_KEYS = [new_fernet, *old_fernet]
    monkeypatch.setenv("NEW_ID_HASH_KEY", NEW_HASH_KEY)

    call_command("rotate_id_keys", "--new-hash-key-from", "NEW_ID_HASH_KEY")
    assert "3 residents re-encrypted and re-hashed" in capsys.readouterr().out

    settings.ID_ENCRYPTION_KEYS = [new_fernet]  # the old key is gone
    settings.ID_HASH_KEY = NEW_HASH_KEY
    for number in residents:
        resident = services.resident_find_by_id_number(number)
        assert resident is not None and resident.reveal_id_number() == number
    assert Resident.objects.count() == 3
    # A claim of a rotated number is still refused as taken.
    with pytest.raises(services.IdNumberTaken):
        services.resident_create(real_name="Someone Else", id_number=residents[0])


def test_without_rotation_the_new_keys_find_nothing(residents, settings):
    settings.ID_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.ID_HASH_KEY = NEW_HASH_KEY
    assert services.resident_find_by_id_number(residents[0]) is None
    with pytest.raises(InvalidToken):
        crypto.decrypt(Resident.objects.first().id_encrypted)


def test_encryption_alone_rotates_and_keeps_the_hashes(residents, settings):
    hashes = sorted(Resident.objects.values_list("id_hash", flat=True))
    new_fernet = Fernet.generate_key().decode()
    settings.ID_ENCRYPTION_KEYS = [new_fernet, *settings.ID_ENCRYPTION_KEYS]
    call_command("rotate_id_keys")
    settings.ID_ENCRYPTION_KEYS = [new_fernet]
    assert sorted(Resident.objects.values_list("id_hash", flat=True)) == hashes
    assert sorted(r.reveal_id_number() for r in Resident.objects.all()) == sorted(residents)


def test_a_short_new_hash_key_is_refused_and_nothing_changes(residents, monkeypatch):
    before = list(Resident.objects.order_by("pk").values_list("id_hash", "id_encrypted"))
    monkeypatch.setenv("NEW_ID_HASH_KEY", "short")
    with pytest.raises(CommandError, match="at least 32 characters"):
        call_command("rotate_id_keys", "--new-hash-key-from", "NEW_ID_HASH_KEY")
    assert list(Resident.objects.order_by("pk").values_list("id_hash", "id_encrypted")) == before
