"""Settings shared by every environment, read from the environment (12-factor).

With no environment set the project runs on the embedded default: SQLite, a
filesystem Celery broker and a file cache, so a first look needs nothing but
Python. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Read a whole number, refusing junk with a message that names the variable."""
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_share(name: str, default: float) -> float:
    """Read a share between 0 and 1 (e.g. 0.1 for 10 %)."""
    raw = env.str(name, default=str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ImproperlyConfigured(f"{name} must be between 0 and 1, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="1" if default else "0").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies stand in front of the app and append to X-Forwarded-For (the
# compose file's TLS proxy is one). 0 trusts no header: the client is REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "config.apps.SupervisorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth.mfa's templates use naturaltime
    "django_celery_beat",
    "csp",
    "altcha_django",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "registration",
    "offices",
    "appointments",
    "counter",
    "supervision",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything that reads the session or the database: a busy answer costs neither.
    "config.overload.BookingAdmissionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: no-store for signed-in people, Permissions-Policy, 403 events,
    # the user id for the access log (core/middleware.py; "Security headers" below).
    "core.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff: second factor required, session limits, re-authentication (config/staff_auth.py).
    "config.staff_auth.StaffAuthMiddleware",
    # Last, so it sees a view's exception first: a database time-out becomes the 503 page.
    "config.overload.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: SQLite unless DATABASE_URL says otherwise.
try:
    DATABASES = {
        "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    }
except Exception as exc:  # django-environ raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] not in (
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
):
    raise ImproperlyConfigured(
        "DATABASE_URL must be postgres://user@host:port/name or sqlite:///path, "
        f"got scheme for {DATABASES['default']['ENGINE']!r}"
    )
# Every wait on PostgreSQL has a limit (docs/reliability.md, "Waits, time-outs and
# overload"). Web requests give up after a few seconds, so one stuck row cannot hold every
# gunicorn worker; Celery workers, beat and migrate (DB_ROLE=worker, set in
# docker-compose.yml) wait longer. Seconds; 0 turns a limit off.
DB_ROLE = env.str("DB_ROLE", default="web")
if DB_ROLE not in ("web", "worker"):
    raise ImproperlyConfigured(f"DB_ROLE must be web or worker, got {DB_ROLE!r}")
_DB_TIMEOUT_DEFAULTS = {
    # name: (web, worker)
    "STATEMENT_TIMEOUT": (5, 120),
    "LOCK_TIMEOUT": (3, 30),
    "IDLE_IN_TRANSACTION_TIMEOUT": (10, 120),
    "CONNECT_TIMEOUT": (3, 10),
}
DB_TIMEOUTS = {
    name: env_int(
        f"DB_WORKER_{name}" if DB_ROLE == "worker" else f"DB_{name}",
        web if DB_ROLE == "web" else worker,
    )
    for name, (web, worker) in _DB_TIMEOUT_DEFAULTS.items()
}


def postgres_timeout_options(timeouts: dict[str, int]) -> dict[str, str | int]:
    """Return libpq connection options that set the session's time-outs (seconds)."""
    settings = {
        "statement_timeout": timeouts["STATEMENT_TIMEOUT"],
        "lock_timeout": timeouts["LOCK_TIMEOUT"],
        "idle_in_transaction_session_timeout": timeouts["IDLE_IN_TRANSACTION_TIMEOUT"],
    }
    options: dict[str, str | int] = {
        "options": " ".join(f"-c {name}={seconds}s" for name, seconds in settings.items())
    }
    if timeouts["CONNECT_TIMEOUT"]:
        # libpq treats 0 as "wait for ever" and rounds 1 up to 2.
        options["connect_timeout"] = timeouts["CONNECT_TIMEOUT"]
    return options


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).update(postgres_timeout_options(DB_TIMEOUTS))
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker share the file: wait for a lock rather than fail at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "registration.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# django-allauth: sign up and log in with a mobile number (SMS code) or e-mail and password.
ACCOUNT_ADAPTER = "registration.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "registration.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"phone", "email"}
# Both optional here; registration.forms.SignupForm requires one of them (and a password
# with e-mail), which allauth's own check (account.W001) cannot see.
ACCOUNT_SIGNUP_FIELDS = ["phone", "email", "password1", "password2"]
# altcha.W017: the embedded default's file cache cannot add() atomically; with Redis
# (every deployment, and the tests) ALTCHA's replay protection is atomic.
SILENCED_SYSTEM_CHECKS = ["account.W001", "altcha.W017"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
# Six digits, as SMS codes are in China (e-mail codes use the same format).
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "profile"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

# --- Staff authentication (config/staff_auth.py, docs/security.md) -------------------
# Staff (is_staff, is_superuser or a clerk of any office) sign in through allauth like
# everyone else (the admin's own login redirects there) and must use a second factor:
# an authenticator app (TOTP) or a security key / passkey (WebAuthn), with recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# Passkeys serve as the second factor after the password, not as a login of their own:
# the login page stays the same for residents and staff.
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="E-bike registration")
# WebAuthn needs HTTPS; plain http://localhost is allowed only while developing.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# A staff session ends after this many seconds without a request, and this many seconds
# after its sign-in whatever happens.
STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
STAFF_SESSION_MAX_SECONDS = env_int("STAFF_SESSION_MAX_SECONDS", 12 * 3600, minimum=60)
# Sensitive actions (config.staff_auth.REAUTHENTICATION_REQUIRED) ask for the second
# factor again unless it was used this many seconds ago (for a full ID number at the
# counter: unless the clerk was active that recently).
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("ACCOUNT_REAUTHENTICATION_TIMEOUT", 15 * 60, minimum=60)
# --- end of staff authentication ------------------------------------------------------

# Internationalisation: Chinese first, English complete.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The release's time limits (seconds): at the soft one the release rolls back and the
# next reconcile (a minute later) tries again; at the hard one its process is killed.
RELEASE_TASK_SOFT_TIME_LIMIT = env_int("RELEASE_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
RELEASE_TASK_TIME_LIMIT = env_int("RELEASE_TASK_TIME_LIMIT", 180, minimum=1)
if RELEASE_TASK_TIME_LIMIT <= RELEASE_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("RELEASE_TASK_TIME_LIMIT must be above RELEASE_TASK_SOFT_TIME_LIMIT")
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=1)
if CELERY_VISIBILITY_TIMEOUT <= RELEASE_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be above RELEASE_TASK_TIME_LIMIT: a release still "
        "running would be handed to a second worker"
    )

# Redis when REDIS_URL is set; otherwise a file cache and a filesystem broker that the
# web process and the embedded worker share.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, got {REDIS_URL!r}")

# Milliseconds a cache call may wait for Redis, and seconds a process then goes without it.
CACHE_TIMEOUT_MS = env_int("CACHE_TIMEOUT_MS", 250, minimum=1)
CACHE_RETRY_SECONDS = env_int("CACHE_RETRY_SECONDS", 5)

if REDIS_URL:
    CACHES = {
        "default": {
            # Reads as empty while Redis is down or frozen: see core/cache.py and
            # docs/reliability.md "Redis trouble". Every page and booking touches the
            # cache, so its timeouts are short: a frozen Redis costs one of them per
            # process every CACHE_RETRY_SECONDS.
            "BACKEND": "core.cache.FailSafeRedisCache",
            "LOCATION": env.str("CACHE_REDIS_URL", default=REDIS_URL),
            "KEY_PREFIX": "ebike",
            "OPTIONS": {
                # Pickles read back from Redis may name only the app's own classes and
                # plain types (core/cache.py, docs/security.md).
                "serializer": "core.cache.RestrictedPickleSerializer",
                "socket_connect_timeout": CACHE_TIMEOUT_MS / 1000,
                "socket_timeout": CACHE_TIMEOUT_MS / 1000,
                "RETRY_SECONDS": CACHE_RETRY_SECONDS,
            },
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    # An unacknowledged message (its worker killed) goes back to the queue after this
    # long. It must exceed the longest task's hard time limit, or a task still running is
    # handed to a second worker; the longest is the release (RELEASE_TASK_TIME_LIMIT).
    # See docs/reliability.md, "The daily release".
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = Path(env.str("CELERY_FS_BROKER_DIR", default=str(VAR_DIR / "celery-broker")))
    _broker_dir.mkdir(parents=True, exist_ok=True)  # kombu needs the folder to exist
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
DJANGO_CELERY_BEAT_TZ_AWARE = True
# The release has a queue of its own, so a slow SMS gateway holding the outbox drains
# cannot delay it. A worker started without --queues consumes both.
CELERY_TASK_QUEUES = (
    Queue("celery", routing_key="celery"),
    Queue("release", routing_key="release"),
)
CELERY_TASK_ROUTES = {
    "appointments.tasks.release_slots": {"queue": "release"},
    "appointments.tasks.release_upcoming_slots": {"queue": "release"},
    "appointments.tasks.release_reconcile": {"queue": "release"},
}
CELERY_TASK_ANNOTATIONS = {
    name: {"soft_time_limit": RELEASE_TASK_SOFT_TIME_LIMIT, "time_limit": RELEASE_TASK_TIME_LIMIT}
    for name in CELERY_TASK_ROUTES
}

# Domain settings.
# The city-wide weekly online quota of main-urban offices may not drop below this.
WEEKLY_ONLINE_FLOOR = env_int("WEEKLY_ONLINE_FLOOR", 760)
# Initial local release time (HH:MM) and horizon for the schedule created on migrate;
# after that admins edit the schedule in the admin (django-celery-beat).
SLOT_RELEASE_TIME = env.str("SLOT_RELEASE_TIME", default="08:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", SLOT_RELEASE_TIME):
    raise ImproperlyConfigured(
        f"SLOT_RELEASE_TIME must be HH:MM (24-hour), got {SLOT_RELEASE_TIME!r}"
    )
SLOT_RELEASE_HORIZON_DAYS = env_int("SLOT_RELEASE_HORIZON_DAYS", 1, minimum=1)
# Alert (ERROR on the "appointments.release" logger, warning on the capacity overview)
# when a day the schedule should have released is still not released this many minutes
# after the release time.
RELEASE_ALERT_MINUTES = env_int("RELEASE_ALERT_MINUTES", 5, minimum=1)
# Bearer token a Prometheus scraper sends to /metrics; unset, /metrics is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A starting worker queues one reconcile, so a release missed while no worker ran
# happens as soon as one is back.
RELEASE_RECONCILE_ON_WORKER_START = env_bool("RELEASE_RECONCILE_ON_WORKER_START", True)

# Booking rules.
# Residents may cancel or move until this many minutes before their window starts.
BOOKING_CANCEL_DEADLINE_MINUTES = env_int("BOOKING_CANCEL_DEADLINE_MINUTES", 0)
# NO_SHOW_COOLDOWN_COUNT no-shows within NO_SHOW_COOLDOWN_DAYS block new bookings
# until the oldest of them is that many days old. 0 turns the cooldown off.
NO_SHOW_COOLDOWN_COUNT = env_int("NO_SHOW_COOLDOWN_COUNT", 3)
NO_SHOW_COOLDOWN_DAYS = env_int("NO_SHOW_COOLDOWN_DAYS", 30)
# A booking not checked in this many minutes after its window ends becomes a no-show.
NO_SHOW_GRACE_MINUTES = env_int("NO_SHOW_GRACE_MINUTES", 30)
# Refused booking attempts are counted in memory and written at most this often
# (seconds) per process, so the sold-out answer stays free of database writes.
BOOKING_ATTEMPTS_FLUSH_SECONDS = env_int("BOOKING_ATTEMPTS_FLUSH_SECONDS", 2)
# Overload (docs/reliability.md, "Waits, time-outs and overload"). The "busy, try again"
# page (503) asks residents and clients to come back after this many seconds.
RETRY_AFTER_SECONDS = env_int("RETRY_AFTER_SECONDS", 10, minimum=1)
# At most this many booking requests (/book/…) run at once on one instance, all gunicorn
# workers and threads together; one more waits up to BOOKING_ADMISSION_WAIT_MS for a turn,
# then gets the busy page. 0 turns the limit off. docker-compose.yml sets it one below
# WEB_CONCURRENCY, so a stuck booking path always leaves a worker for the other pages.
BOOKING_MAX_IN_FLIGHT = env_int("BOOKING_MAX_IN_FLIGHT", 0)
BOOKING_ADMISSION_WAIT_MS = env_int("BOOKING_ADMISSION_WAIT_MS", 1000)
# Lock files of those turns: local to the instance (the container), shared by its workers.
BOOKING_IN_FLIGHT_DIR = Path(env.str("BOOKING_IN_FLIGHT_DIR", default=str(VAR_DIR / "in-flight")))
# Integrity flags on the statistics page: an office or clerk stands out when priority
# walk-ins (or, for offices, complaints) exceed this share of the people served.
INTEGRITY_WALKIN_SHARE = env_share("INTEGRITY_WALKIN_SHARE", 0.10)
INTEGRITY_COMPLAINT_SHARE = env_share("INTEGRITY_COMPLAINT_SHARE", 0.05)
# How many days ahead the availability page shows (released or not).
AVAILABILITY_DAYS = env_int("AVAILABILITY_DAYS", 7, minimum=1)
# Seconds the availability page may be served from cache; booking changes clear it at once.
AVAILABILITY_CACHE_SECONDS = env_int("AVAILABILITY_CACHE_SECONDS", 30)

# The city's plate number format (a regular expression over the whole number), e.g.
# Yingkou's e-bike plates as a letter and five digits after the city's prefix.
PLATE_NUMBER_PATTERN = env.str("PLATE_NUMBER_PATTERN", default=r"营口[A-Z][0-9]{5}")

# SMS: the development backend logs codes; production posts to an HTTP gateway.
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 5, minimum=1)
# Sign-in and sign-up codes are sent inside the web request: a short wait of their own,
# so a hanging gateway holds a web worker this long at most, and the person is told.
SMS_LOGIN_TIMEOUT_SECONDS = env_int("SMS_LOGIN_TIMEOUT_SECONDS", 2, minimum=1)
# An outbox row claimed for sending longer than this was left by a crash: it becomes
# "unknown" and is retried with the same message id. Keep it well above the gateway timeout.
NOTIFICATION_SENDING_LEASE_SECONDS = env_int(
    "NOTIFICATION_SENDING_LEASE_SECONDS", 120, minimum=SMS_GATEWAY_TIMEOUT + 1
)
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="e-bike registration")
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="registration.sms.HttpSmsBackend"
    if SMS_GATEWAY_URL
    else "registration.sms.ConsoleSmsBackend",
)

# --- Security headers and refusals (docs/security.md) ---------------------------------
# Content-Security-Policy (django-csp 4): nothing inline, nothing from elsewhere. Templates
# hold no <script>, no style="" and no <style>; scripts and styles are files in static/.
# A view that needs an inline script gives it nonce="{{ request.csp_nonce }}" and adds
# csp.constants.NONCE to script-src here. worker-src blob: is for the ALTCHA widget's
# proof-of-work worker; its stylesheet is a file (static/vendor/altcha/altcha.css), so
# style-src stays 'self' (if the widget must inject its own <style>, prefer a nonce on
# the widget over 'unsafe-inline').
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "worker-src": ["'self'", "blob:"],
    },
}
# Whether manage.py load_demo may run: it creates accounts with published passwords.
# True here (development, tests); production.py sets it False and the command refuses.
DEMO_DATA_ALLOWED = True
# --- end of security headers and refusals -------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "security": {"()": "core.security.SecurityEventFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {"class": "logging.StreamHandler", "formatter": "security"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Security events (core.security), one JSON line each; see docs/security.md.
        "security": {"handlers": ["security"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # 4xx answers (a sold-out 409 in a rush, thousands a second) are not incidents.
        "django.request": {"level": "ERROR"},
    },
}

# --- Abuse budgets (issue #13; docs/security.md, "Rate limits and budgets") --------------
# allauth's own limits (ACCOUNT_RATE_LIMITS, its defaults: login 30/m/ip, failed logins
# 10/m/ip and 5/300s per e-mail or phone, sign-up 20/m/ip, login code 20/m/ip and 3/m per
# number, phone verification 1/30s per number and 3/m/ip) count per client address as
# core.security.client_address reads it (set TRUSTED_PROXY_COUNT behind a proxy). The
# budgets below are ours (core.ratelimit), fixed windows of a local hour or day; 0 turns
# one off.
MIDDLEWARE.insert(
    MIDDLEWARE.index("allauth.account.middleware.AccountMiddleware") + 1,
    "core.ratelimit.RateLimitedMiddleware",  # any RateLimited -> the 429 page, not a 500
)
ACCOUNT_FORMS["request_login_code"] = "registration.forms.RequestLoginCodeForm"
# The lifetime of a code, which the SMS states (registration.adapter derives its text).
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = env_int("LOGIN_CODE_TIMEOUT_SECONDS", 180, minimum=60)
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = env_int("PHONE_CODE_TIMEOUT_SECONDS", 900, minimum=60)
# Seconds the 429 page asks to wait when allauth's limiter (which does not say) refused.
RATE_LIMIT_RETRY_AFTER = env_int("RATE_LIMIT_RETRY_AFTER", 60, minimum=1)
# SMS cost budget (registration.sms_budget): text messages to one number per local day,
# requested from one client address per local day, and sent city-wide per local hour (the
# admin index shows this hour's count).
SMS_LIMIT_PER_NUMBER_PER_DAY = env_int("SMS_LIMIT_PER_NUMBER_PER_DAY", 10)
SMS_LIMIT_PER_CLIENT_PER_DAY = env_int("SMS_LIMIT_PER_CLIENT_PER_DAY", 100)
SMS_LIMIT_CITY_PER_HOUR = env_int("SMS_LIMIT_CITY_PER_HOUR", 3000)
# Attempts to enter an ID number on the profile (registration.views.profile).
ID_CLAIM_LIMIT_PER_ACCOUNT_PER_HOUR = env_int("ID_CLAIM_LIMIT_PER_ACCOUNT_PER_HOUR", 5)
ID_CLAIM_LIMIT_PER_CLIENT_PER_DAY = env_int("ID_CLAIM_LIMIT_PER_CLIENT_PER_DAY", 20)
# Complaints one account may file against one office per local day.
COMPLAINT_LIMIT_PER_OFFICE_PER_DAY = env_int("COMPLAINT_LIMIT_PER_OFFICE_PER_DAY", 3)

# Forms (#14, item 5): every form's fields get aria-required beside required (core/forms.py).
# The error summary, the optional marks and the "Error: " title prefix are in templates
# (includes/error_summary.html, includes/field.html, base.html).
FORM_RENDERER = "core.forms.FormRenderer"
