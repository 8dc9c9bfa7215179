"""What the benchmark borrows from Django (bench/storm/django_internals.py) still works.

Sessions and CSRF tokens made exactly the way the benchmark makes them
(``SignedInSessions``) go through Django's own SessionMiddleware, CsrfViewMiddleware and
AuthenticationMiddleware, for every session engine the benchmark may meet and both places a
CSRF secret can live: the request must be the signed-in user, and a POST shaped like the
load generator's must pass the CSRF check. A Django upgrade that removes a borrowed piece
or changes it in a way that breaks these sessions or tokens fails here (an import error,
an anonymous user or a 403), not as a benchmark run full of redirects to the login page.

Only Django's middleware is used, so a failure here is about Django; the smoke test runs
the whole app.
"""

from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from bench import loadgen
from bench.storm import django_internals as internals

ENGINES = sorted(
    {
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.signed_cookies",
        django_settings.SESSION_ENGINE,  # the project's own is always among them
    }
)
# The engines whose keys the benchmark draws itself (it bulk-inserts their rows).
DB_ENGINES = ["django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"]
DJANGO_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def whoami(request):
    user = request.user
    return HttpResponse(str(user.pk) if user.is_authenticated else "anonymous")


urlpatterns = [path("whoami/", whoami)]


@pytest.fixture
def django_only(settings):
    settings.MIDDLEWARE = DJANGO_MIDDLEWARE
    settings.ROOT_URLCONF = __name__
    return settings


def make_user(email="guard@bench.example.org"):
    user_model = get_user_model()
    # An unusable password, as the benchmark's bulk-created users have.
    return user_model._default_manager.create_user(
        **{user_model.USERNAME_FIELD: email}, password=None
    )


def get(cookie: str):
    return Client(enforce_csrf_checks=True).get("/whoami/", HTTP_COOKIE=cookie)


def post_like_loadgen(cookie: str, token: str):
    # The body bench/loadgen.py sends to /book/<slot>/, field name included.
    body = f"{loadgen.CSRF_FORM_FIELD}={token}&slot=1&ebike=1"
    return Client(enforce_csrf_checks=True).post(
        "/whoami/", body, content_type="application/x-www-form-urlencoded", HTTP_COOKIE=cookie
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_db_backed_engines_are_told_from_the_others(engine, settings):
    settings.SESSION_ENGINE = engine
    assert internals.SignedInSessions().bulk == (engine in DB_ENGINES)


@pytest.mark.django_db
@pytest.mark.parametrize("engine", DB_ENGINES)
def test_session_keys_made_the_bench_way_are_keys_django_makes_and_accepts(engine, settings):
    settings.SESSION_ENGINE = engine
    store_cls = import_module(engine).SessionStore
    key = internals.new_session_key()
    assert store_cls(session_key=key).session_key == key  # passes _validate_session_key

    own = store_cls()
    own.create()  # a key Django chose itself: same length, same alphabet
    assert len(own.session_key) == internals.SESSION_KEY_LENGTH == len(key)
    assert set(own.session_key) <= set(VALID_KEY_CHARS)
    assert set(key) <= set(VALID_KEY_CHARS)


@pytest.mark.django_db
@pytest.mark.parametrize("csrf_in_session", [False, True], ids=["csrf-cookie", "csrf-session"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_session_made_the_bench_way_is_the_signed_in_user(django_only, engine, csrf_in_session):
    django_only.SESSION_ENGINE = engine
    django_only.CSRF_USE_SESSIONS = csrf_in_session
    user = make_user()
    sessions = internals.SignedInSessions()
    cookie, token = sessions.sign_in(user)
    sessions.flush()

    answer = get(cookie)
    assert answer.status_code == 200
    assert answer.content.decode() == str(user.pk)

    answer = post_like_loadgen(cookie, token)
    assert answer.status_code == 200, "CSRF check refused the bench's token"
    assert answer.content.decode() == str(user.pk)


@pytest.mark.django_db
def test_many_sessions_in_one_bulk_insert_are_each_their_user(django_only):
    django_only.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    users = [make_user(f"guard{i}@bench.example.org") for i in range(3)]
    sessions = internals.SignedInSessions()
    assert sessions.bulk
    signed_in = [sessions.sign_in(u) for u in users]
    sessions.flush()
    for user, (cookie, _token) in zip(users, signed_in, strict=True):
        assert get(cookie).content.decode() == str(user.pk)


@pytest.mark.django_db
def test_the_checks_above_can_fail(django_only):
    """The view and the client really check: no session, a stale hash or no token fail."""
    django_only.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    user = make_user()
    sessions = internals.SignedInSessions()
    cookie, token = sessions.sign_in(user)
    sessions.flush()
    csrf_only = cookie.split("; ", 1)[1]
    assert get(csrf_only).content.decode() == "anonymous"
    assert post_like_loadgen(cookie, "x" * len(token)).status_code == 403

    user.set_password("changed after sign-in")  # the session's auth hash no longer matches
    user.save()
    assert get(cookie).content.decode() == "anonymous"


def test_the_load_generator_posts_the_field_django_reads():
    assert loadgen.CSRF_FORM_FIELD == internals.CSRF_FORM_FIELD


def test_the_bench_signs_in_through_a_configured_backend():
    assert internals.MODEL_BACKEND in django_settings.AUTHENTICATION_BACKENDS
