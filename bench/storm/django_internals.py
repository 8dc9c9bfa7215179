"""What the benchmark borrows from Django beyond its documented API, in one place.

The benchmark signs in thousands of residents without running the login view thousands of
times: it writes each session itself, as ``django.contrib.auth.login()`` would leave it,
and hands the load generator a Cookie header and a CSRF form token per resident. Doing that
takes these pieces of Django that its documentation does not promise to keep:

``django.contrib.sessions.backends.base.VALID_KEY_CHARS`` (and the key length, 32)
    The alphabet of session keys (lower-case letters and digits). Keys for the
    bulk-inserted db/cached_db sessions are drawn from it at the length Django uses
    (``SessionBase._get_new_session_key``), because asking the engine for a new key costs a
    query each (``exists()``). A key Django would refuse (``_validate_session_key``) would
    silently become no session at all.

``django.contrib.auth.SESSION_KEY``, ``BACKEND_SESSION_KEY``, ``HASH_SESSION_KEY``
    The session entries of a signed-in user (``_auth_user_id``, ``_auth_user_backend``,
    ``_auth_user_hash``): the user's primary key as ``login()`` writes it
    (``user._meta.pk.value_to_string(user)``), the dotted path of the backend (which must be
    in ``AUTHENTICATION_BACKENDS``), and ``user.get_session_auth_hash()`` (documented; it
    is an HMAC of the password hash, so it must be taken after the password is set).
    ``get_user()`` reads these three on every request and signs the user out if the hash
    does not match.

``django.middleware.csrf._get_new_csrf_string``, ``_mask_cipher_secret``, ``CSRF_SESSION_KEY``
    A new CSRF secret and the masked form token for it, without a request. The secret goes
    into the ``CSRF_COOKIE_NAME`` cookie unmasked (what ``CsrfViewMiddleware`` sets since
    Django 4.1), or into the session under ``CSRF_SESSION_KEY`` (``_csrftoken``) with
    ``CSRF_USE_SESSIONS``.

``csrfmiddlewaretoken`` (``CSRF_FORM_FIELD``)
    The POST field ``CsrfViewMiddleware`` reads the token from. ``bench/loadgen.py`` (no
    Django import) spells it itself, as ``loadgen.CSRF_FORM_FIELD``; the guard test checks
    the two agree.

Documented API it also relies on, named here so the whole contract is in one place:
``settings.SESSION_ENGINE``, ``SessionStore(session_key=...)``, the db-backed stores'
``create_model_instance()`` (Django encodes and signs the data; the benchmark never builds
session data itself) and ``get_model_class()`` (their presence is how db and cached_db are
told from the others, whose sessions are saved one by one), ``SESSION_COOKIE_NAME``,
``CSRF_COOKIE_NAME``, ``CSRF_USE_SESSIONS`` and
``django.utils.crypto.get_random_string``.

``tests/bench/test_django_internals.py`` writes sessions with ``SignedInSessions`` for each
session engine and both CSRF storages and sends them through Django's real
``SessionMiddleware``, ``CsrfViewMiddleware`` and ``AuthenticationMiddleware``: it fails
if a Django upgrade removes any of the above or changes it in a way that breaks these
sessions or tokens.

Import this module after ``django.setup()`` (``bench.storm.data`` does): it reads the
settings when used.
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.middleware.csrf import CSRF_SESSION_KEY, _get_new_csrf_string, _mask_cipher_secret
from django.utils.crypto import get_random_string

SESSION_KEY_LENGTH = 32  # what SessionBase._get_new_session_key() draws
CSRF_FORM_FIELD = "csrfmiddlewaretoken"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def new_session_key() -> str:
    """A session key like the ones Django makes, without asking the database if it is free.

    32 characters from 36 give 165 bits: a clash with another key is not a concern.
    """
    return get_random_string(SESSION_KEY_LENGTH, VALID_KEY_CHARS)


def login_session_data(user, backend: str = MODEL_BACKEND) -> dict[str, str]:
    """The session entries ``django.contrib.auth.login()`` leaves for ``user``."""
    return {
        SESSION_KEY: user._meta.pk.value_to_string(user),
        BACKEND_SESSION_KEY: backend,
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }


class SignedInSessions:
    """Signed-in sessions for many users, through ``settings.SESSION_ENGINE``.

    ``sign_in(user)`` returns what a browser signed in as ``user`` sends: its Cookie header
    and the CSRF token of a form. With db and cached_db, the session rows are made by the
    engine and bulk-inserted by ``flush()`` (call it in the same transaction as the users);
    other engines save each session at once.
    """

    def __init__(self, backend: str = MODEL_BACKEND):
        self.store_cls = import_module(settings.SESSION_ENGINE).SessionStore
        self.bulk = hasattr(self.store_cls, "get_model_class")  # db and cached_db
        self.backend = backend
        self._rows = []

    def sign_in(self, user) -> tuple[str, str]:
        data = login_session_data(user, self.backend)
        csrf_secret = _get_new_csrf_string()
        if settings.CSRF_USE_SESSIONS:
            data[CSRF_SESSION_KEY] = csrf_secret
        if self.bulk:
            key = new_session_key()
            self._rows.append(self.store_cls(session_key=key).create_model_instance(data))
        else:
            store = self.store_cls()
            store.update(data)
            store.save()
            key = store.session_key
        cookie = f"{settings.SESSION_COOKIE_NAME}={key}"
        if not settings.CSRF_USE_SESSIONS:
            cookie += f"; {settings.CSRF_COOKIE_NAME}={csrf_secret}"
        return cookie, _mask_cipher_secret(csrf_secret)

    def flush(self) -> None:
        """Insert the sessions made since the last flush (db and cached_db)."""
        if self._rows:
            self.store_cls.get_model_class().objects.bulk_create(self._rows)
            self._rows = []
