"""Test settings: the same project, with a fast hasher and fixed keys.

The database and Redis come from the environment like everywhere else; ``make test``
points them at PostgreSQL and Redis, a bare ``pytest`` runs on SQLite.
"""

from .base import *  # noqa: F403
from .base import DATABASES, DB_TIMEOUTS, env, env_bool, postgres_timeout_options

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
ALTCHA_HMAC_SECRET = "test-altcha-secret-not-for-production"  # noqa: S105
# A tenth of the default proof of work (PBKDF2 rounds per try): tests/altcha_helper.py solves
# one challenge per sign-up or code request, on two shared cores. Same checks, less work.
ALTCHA_CHALLENGE = {"cost": 500}
ID_HASH_KEY = "test-id-hash-key"
ID_ENCRYPTION_KEYS = ["dGVzdC1pZC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcyE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# pytest-django holds each test in one transaction, also while it waits for a worker
# subprocess; the server must not end that session as idle. The other limits stay on.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"].update(
        postgres_timeout_options({**DB_TIMEOUTS, "IDLE_IN_TRANSACTION_TIMEOUT": 0})
    )
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Unit tests run tasks inline; integration tests start a real worker against REDIS_URL.
# A test's worker or beat subprocess that must publish for real sets it to 0.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
# Write every refused attempt at once, so a test reads what it just did.
BOOKING_ATTEMPTS_FLUSH_SECONDS = 0
TEST_REDIS_URL = env.str("REDIS_URL", default="")
# A test worker releases nothing by itself at start unless its test asks for it.
RELEASE_RECONCILE_ON_WORKER_START = env_bool("RELEASE_RECONCILE_ON_WORKER_START", False)
# Serve static files from the app folders (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# The suite's clock. TEST_CLOCK="2026-12-06T23:59:00+08:00" runs the test process (its
# live server included) and any worker started with these settings as if that were now;
# time still ticks. tests/conftest.py also starts every test at that moment, so CI can
# run the date-sensitive tests on each day of a week and at both sides of midnight.
TEST_CLOCK = env.str("TEST_CLOCK", default="")
if TEST_CLOCK:
    import datetime as _datetime
    import zoneinfo as _zoneinfo

    import time_machine as _time_machine

    TEST_CLOCK_START = _datetime.datetime.fromisoformat(TEST_CLOCK)
    if TEST_CLOCK_START.tzinfo is None:  # a local time, as the people using the app read it
        TEST_CLOCK_START = TEST_CLOCK_START.replace(tzinfo=_zoneinfo.ZoneInfo("Asia/Shanghai"))
    _time_machine.travel(TEST_CLOCK_START, tick=True).start()
