"""Settings come from the environment; production refuses to start without real secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION_ENV = {
    "SECRET_KEY": "k7Qz-" + "x9vB2mN4pL6tR8wY1cF3hJ5dG7sA0eK2uI4oP6qW8zX1nM3bV5",
    "ID_HASH_KEY": "hash-" + "Tn3Wq8Lr5Zp2Yk7Hv4Mb9Jc6Xd1Fs0Ga",
    "ID_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "ebike.example.org",
    "SMS_GATEWAY_URL": "https://sms-gateway.example.org/send",
}


def run_django(settings_module: str, env_overrides: dict, *args: str):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ID_HASH_KEY", "ID_ENCRYPTION_KEYS", "DEBUG", "DATABASE_URL"}
        and not k.startswith("SMS_")
    }
    env.update({"DJANGO_SETTINGS_MODULE": settings_module, **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set in production"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4" * 6}, "SECRET_KEY is a placeholder"),
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY is too short"),
        ({"ID_HASH_KEY": ""}, "ID_HASH_KEY must be set"),
        ({"ID_ENCRYPTION_KEYS": "not-a-fernet-key"}, "Fernet keys"),
        ({"SMS_GATEWAY_URL": ""}, "SMS_GATEWAY_URL must be set in production"),
    ],
)
def test_production_refuses_to_start_without_real_secrets(overrides, message):
    result = run_django("config.settings.production", {**GOOD_PRODUCTION_ENV, **overrides}, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deployment_checklist():
    result = run_django(
        "config.settings.production",
        {**GOOD_PRODUCTION_ENV, "DEBUG": "false"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": "nonsense://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with redis://"),
        ({"WEEKLY_ONLINE_FLOOR": "lots"}, "WEEKLY_ONLINE_FLOOR must be a whole number"),
        ({"SLOT_RELEASE_TIME": "8am"}, "SLOT_RELEASE_TIME must be HH:MM"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
    ],
)
def test_invalid_settings_give_a_clear_error(overrides, message):
    result = run_django("config.settings.local", overrides, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_database_and_redis_urls_switch_backends():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL,"
        " s.CACHES['default']['BACKEND'], s.TIME_ZONE, s.LANGUAGE_CODE)"
    )
    result = run_django(
        "config.settings.local",
        {
            "DATABASE_URL": "postgres://u@127.0.0.1:5432/db",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
        },
        "shell",
        "--no-imports",
        "-c",
        code,
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://127.0.0.1:6379/3",
        "core.cache.FailSafeRedisCache",
        "Asia/Shanghai",
        "zh-hans",
    ]
    result = run_django(
        "config.settings.local", {"REDIS_URL": ""}, "shell", "--no-imports", "-c", code
    )
    assert result.stdout.split()[:3] == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.cache.backends.filebased.FileBasedCache",
    ]
