"""The environment of the app under test and where it runs.

The app runs with ``config.settings.production`` and throw-away secrets, plain HTTP on the
loopback, against one PostgreSQL database and one Redis database that the run owns.
"""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
# The shared servers by default; --pg-server/--redis-server point at others (e.g. private
# instances to inject faults in, docs/reliability.md), without a database name.
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_SERVER = "redis://127.0.0.1:6379"
DJANGO_SETTINGS = "config.settings.production"
# Variables of the app that must not leak in from the caller's shell (the bench sets its own).
APP_ENV_VARS = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ID_HASH_KEY",
    "ID_ENCRYPTION_KEYS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEBUG",
    "SMS_BACKEND",
    "SMS_GATEWAY_URL",
    "DEMO_DATA_ALLOWED",
)


def bench_env(args) -> dict[str, str]:
    """Production settings with throw-away secrets, plain HTTP on the loopback."""
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": DJANGO_SETTINGS,
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(60),
            "ID_HASH_KEY": secrets.token_urlsafe(48),
            "ID_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"{args.pg_server}/{args.db_name}",
            "REDIS_URL": f"{args.redis_server}/{args.redis_db}",
            "EMAIL_URL": "consolemail://",
            # No message leaves during the run (no worker drains the outbox); production
            # only needs to know where they would go.
            "SMS_GATEWAY_URL": "http://127.0.0.1:9/sms/send",
            "LOG_LEVEL": "WARNING",
            # The run's own throw-away database starts from the demo data (load_demo).
            "DEMO_DATA_ALLOWED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(item.split("=", 1) for item in args.env)
    return env
