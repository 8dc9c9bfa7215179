import pytest
from django.db import connection

from registration import crypto, services
from registration.models import Resident
from tests.conftest import make_id_number


def test_id_number_is_stored_hashed_and_encrypted_never_in_clear(db):
    number = make_id_number(seq="007")
    resident = services.resident_create(real_name="Wang Wu", id_number=number, phone="13900000002")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registration_resident WHERE id = %s", [resident.pk])
        row = cursor.fetchone()
    assert not any(number in str(value) for value in row)
    assert resident.id_masked == number[:6] + "********" + number[-4:]
    assert resident.id_hash == crypto.id_number_hash(number)
    assert resident.reveal_id_number() == number
    assert resident.phone == "+8613900000002"
    assert str(resident.birth_date) == "1985-03-15"


def test_hash_is_keyed(settings):
    number = make_id_number()
    first = crypto.id_number_hash(number)
    settings.ID_HASH_KEY = "another key"
    assert crypto.id_number_hash(number) != first


def test_find_by_id_number_uses_the_hash(db):
    number = make_id_number(seq="009")
    resident = services.resident_create(real_name="Zhao Liu", id_number=number)
    assert services.resident_find_by_id_number(number.lower()) == resident
    assert services.resident_find_by_id_number(make_id_number(seq="011")) is None


def test_the_same_id_cannot_be_claimed_twice(db):
    number = make_id_number(seq="013")
    services.resident_create(real_name="A", id_number=number)
    with pytest.raises(services.RegistrationError) as exc:
        services.resident_create(real_name="B", id_number=number)
    assert exc.value.code == "id_taken"
    assert Resident.objects.count() == 1


def test_invalid_id_gives_a_clear_error_and_stores_nothing(db):
    with pytest.raises(services.RegistrationError) as exc:
        services.resident_create(real_name="C", id_number="210802198503151230")
    assert exc.value.code == "id_checksum"
    assert not Resident.objects.exists()


def test_frame_numbers_are_normalised_and_unique(make_resident):
    bike = services.ebike_add(resident=make_resident(), frame_number=" abc-123 456 ", brand="X")
    assert bike.frame_number == "ABC123456"
    with pytest.raises(services.RegistrationError) as exc:
        services.ebike_add(resident=make_resident(), frame_number="ABC123456", brand="Y")
    assert exc.value.code == "frame_taken"
    with pytest.raises(services.RegistrationError):
        services.ebike_add(resident=make_resident(), frame_number="ab", brand="Y")
