"""The people who use the app, made the same way for every test that needs one.

Loaded as a plugin by tests/conftest.py, so any test can ask for them by name:

- ``office_a`` / ``office_b``: two offices of ``make_office``'s usual shape, coded
  "office-a" and "office-b" (the counter's addresses are /counter/office-a/...).
- ``clerk_a`` / ``clerk_b``: users who are clerks of office A / office B only
  (clerk-a@test.example.org, clerk-b@test.example.org).
- ``resident``: a user signed up with a mobile number, with a Resident record
  (``resident.resident``, real name "Li Lei") and one e-bike (``resident.resident.ebikes``).
- ``admin_user``: a superuser (admin@test.example.org).
- ``stranger``: a user with no Resident record and no role (stranger@test.example.org).

Each persona fixture is a ``User``. ``resident_client``, ``clerk_a_client``,
``clerk_b_client``, ``admin_client`` and ``stranger_client`` are test clients signed in as
them, asking for English pages (most page tests read English text; a test of the Chinese
default makes its own client with ``signed_in(user, language=None)``). This
``admin_client`` replaces pytest-django's fixture of that name (the same admin, in the
default language).

A session's expiry is read from the clock when the client signs in: a test that moves
the clock to a fixed moment must do so before it asks for a client, or sign in itself
with ``signed_in`` after moving it.

Staff (admins and clerks) must pass a second factor (config/staff_auth.py):
``signed_in`` signs them in with ``staff_login``, which gives them an authenticator app
(TOTP, secret ``TEST_TOTP_SECRET``) and records in the session that it was used, as
allauth does after a real code. ``totp_code(user)`` is that authenticator's current code.
A staff session ends after 30 minutes without a request and 12 hours after sign-in, and
the sensitive pages ask for the code again 15 minutes after it was last entered: a test
that moves the clock far should sign in again after moving it.

``make_person`` makes as many signed-in residents with an e-bike as a test needs (the
``resident`` persona is one of them); ``make_login`` as many signed-in users with no
Resident record yet.
"""

import time
from types import SimpleNamespace

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.internal.flows.login import _AUTHENTICATION_METHODS_USER_SESSION_KEY
from allauth.account.internal.userkit import user_id_to_str
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.test import Client

from config.staff_auth import is_staff_member
from registration import services as registration_services
from registration.models import User

# The test staff's authenticator-app secret (base32), the same for every test account.
TEST_TOTP_SECRET = "TESTTESTTESTTESTTESTTESTTESTTEST"  # noqa: S105 - test value


def totp_authenticator(user: User) -> Authenticator:
    """Return ``user``'s authenticator app, giving them one (``TEST_TOTP_SECRET``) if missing."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return existing or TOTP.activate(user, TEST_TOTP_SECRET).instance


def totp_code(user: User, at: float | None = None) -> str:
    """The current code (or the one at Unix time ``at``) of ``user``'s authenticator app."""
    secret = decrypt(totp_authenticator(user).data["secret"])
    moment = time.time() if at is None else at
    return format_hotp_value(hotp_value(secret, int(moment) // mfa_settings.TOTP_PERIOD))


def staff_login(client: Client, user: User) -> Client:
    """Sign a staff member in as if with password and authenticator code: gives them an
    authenticator app if missing, ``force_login``, then records the password and the
    second factor in the session the way allauth's login does."""
    authenticator = totp_authenticator(user)
    client.force_login(user)
    session = client.session
    now = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now},
        {"method": "mfa", "at": now, "id": authenticator.pk, "type": authenticator.type},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session.save()
    return client


def signed_in(user: User, language: str | None = "en") -> Client:
    """A test client signed in as ``user``, asking for pages in ``language`` (None: the
    default language, Chinese). Staff sign in with their second factor (``staff_login``)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()
    if is_staff_member(user):
        staff_login(client, user)
    else:
        client.force_login(user)
    return client


@pytest.fixture
def office_a(make_office):
    return make_office(code="office-a")


@pytest.fixture
def office_b(make_office):
    return make_office(code="office-b")


@pytest.fixture
def clerk_a(office_a):
    clerk = User.objects.create_user(email="clerk-a@test.example.org")
    office_a.clerks.add(clerk)
    return clerk


@pytest.fixture
def clerk_b(office_b):
    clerk = User.objects.create_user(email="clerk-b@test.example.org")
    office_b.clerks.add(clerk)
    return clerk


@pytest.fixture
def make_person(make_resident):
    """Signed-up residents, each with one e-bike and a client signed in as them:
    ``make_person(name="Li Lei", language="en")`` gives ``user``, ``resident``, ``ebike``
    and ``client``. Mobile numbers +86 139 0000 0001, 0002, ...; frame numbers FRAME000001,
    FRAME000002, ..."""
    counter = {"n": 0}

    def make(*, name="Li Lei", language="en"):
        counter["n"] += 1
        n = counter["n"]
        user = User.objects.create_user(phone=f"+861390000{n:04d}")
        resident = make_resident(user=user, name=name)
        ebike = registration_services.ebike_add(
            resident=resident, frame_number=f"FRAME{n:06d}", brand="Yadea"
        )
        return SimpleNamespace(
            user=user, resident=resident, ebike=ebike, client=signed_in(user, language)
        )

    return make


@pytest.fixture
def make_login(db):
    """Signed-in users with no Resident record yet and no role (strangers, as many as a test
    needs): ``make_login(language="en")`` gives a client whose ``user`` is the new user.
    Mobile numbers +86 138 0000 0001, 0002, ..."""
    counter = {"n": 0}

    def make(language="en"):
        counter["n"] += 1
        user = User.objects.create_user(phone=f"+861380000{counter['n']:04d}")
        client = signed_in(user, language)
        client.user = user
        return client

    return make


@pytest.fixture
def resident(make_person):
    return make_person().user


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("admin@test.example.org", "pw")


@pytest.fixture
def stranger(db):
    return User.objects.create_user(email="stranger@test.example.org")


@pytest.fixture
def resident_client(resident):
    return signed_in(resident)


@pytest.fixture
def clerk_a_client(clerk_a):
    return signed_in(clerk_a)


@pytest.fixture
def clerk_b_client(clerk_b):
    return signed_in(clerk_b)


@pytest.fixture
def admin_client(admin_user):
    return signed_in(admin_user)


@pytest.fixture
def stranger_client(stranger):
    return signed_in(stranger)
