"""Development and demo settings: the embedded default when nothing is configured."""

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = env_bool("DEBUG", True)
# A fixed, clearly-marked development key: production.py refuses anything like it.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-dev-only-not-for-production")
ID_HASH_KEY = env.str("ID_HASH_KEY", default="dev-only-id-hash-key")
ID_ENCRYPTION_KEYS = env.list(
    "ID_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktaWQtZW5jcnlwdGlvbi1rZXktMzJieXQ="]
)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
ALTCHA_HMAC_SECRET = env.str(
    "ALTCHA_HMAC_SECRET", default="dev-only-altcha-secret-not-for-production"
)
# WebAuthn (security keys, passkeys) on http://localhost while developing only.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
