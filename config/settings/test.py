"""Test settings: the same project, with a fast hasher and fixed keys.

The database and Redis come from the environment like everywhere else; ``make test``
points them at PostgreSQL and Redis, a bare ``pytest`` runs on SQLite.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
ID_HASH_KEY = "test-id-hash-key"
ID_ENCRYPTION_KEYS = ["dGVzdC1pZC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcyE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Unit tests run tasks inline; integration tests start a real worker against REDIS_URL.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Write every refused attempt at once, so a test reads what it just did.
BOOKING_ATTEMPTS_FLUSH_SECONDS = 0
TEST_REDIS_URL = env.str("REDIS_URL", default="")
# Serve static files from the app folders (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
