"""Production settings: refuse to start without real secrets."""

import hashlib
import hmac

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env, env_bool, env_int

DEBUG = env_bool("DEBUG", False)
if DEBUG:
    # DEBUG shows settings and tracebacks to anyone who triggers an error.
    raise ImproperlyConfigured("DEBUG must be false in production (unset DEBUG or set it false).")
# manage.py load_demo refuses to run: it creates a superuser with a published password.
# Only a throw-away database (the release-storm bench) sets DEMO_DATA_ALLOWED=true.
DEMO_DATA_ALLOWED = env_bool("DEMO_DATA_ALLOWED", False)


def _require_secret(name: str, *, min_length: int) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production.")
    lowered = value.lower()
    if len(value) < min_length or len(set(value)) < 5:
        raise ImproperlyConfigured(f"{name} is too short or too simple for production.")
    if any(marker in lowered for marker in ("insecure", "dev-only", "change-me", "changeme")):
        raise ImproperlyConfigured(f"{name} is a placeholder; set a real secret.")
    return value


SECRET_KEY = _require_secret("SECRET_KEY", min_length=50)
# ALTCHA signs its challenges; by default with a key derived from SECRET_KEY.
ALTCHA_HMAC_SECRET = (
    env.str("ALTCHA_HMAC_SECRET", default="")
    or hmac.new(SECRET_KEY.encode(), b"altcha-challenges", hashlib.sha256).hexdigest()
)
ID_HASH_KEY = _require_secret("ID_HASH_KEY", min_length=32)
ID_ENCRYPTION_KEYS = env.list("ID_ENCRYPTION_KEYS", default=[])
if not ID_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("ID_ENCRYPTION_KEYS must be set in production (Fernet keys).")
for _key in ID_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "ID_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(Fernet.generate_key()); one of them is not."
        ) from None

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587 (consolemail:// only logs mail).
globals().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))  # EMAIL_HOST, …
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Never the development SMS backend in production: it would write codes to the log.
SMS_BACKEND = env.str("SMS_BACKEND", default="registration.sms.HttpSmsBackend")
if SMS_BACKEND == "registration.sms.HttpSmsBackend" and not SMS_GATEWAY_URL:  # noqa: F405
    # Sign-in by mobile number sends its codes by SMS: without a gateway nobody could.
    raise ImproperlyConfigured("SMS_GATEWAY_URL must be set in production.")
