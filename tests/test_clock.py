"""TEST_CLOCK: the suite can be run as if it were any moment (CI runs a week of them)."""

import datetime
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]
PRINT_NOW = (
    "import django; django.setup(); from django.utils import timezone; "
    "print(timezone.localtime().isoformat()); print(timezone.localdate().isoformat())"
)


def local_now_under(clock: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TEST_CLOCK": clock}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_NOW],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.split()


def test_a_process_with_the_test_settings_starts_at_the_clock_in_shanghai_time():
    # A time without an offset is Shanghai's: one minute before midnight, Sunday.
    now, today = local_now_under("2030-01-06T23:59:00")
    assert now.startswith("2030-01-06T23:59:") and now.endswith("+08:00")
    assert today == "2030-01-06"
    now, today = local_now_under("2030-01-06T16:01:00+00:00")  # Monday 00:01 in Shanghai
    assert now.startswith("2030-01-07T00:01:") and today == "2030-01-07"


def test_each_test_starts_at_the_clock_when_one_is_set():
    start = getattr(settings, "TEST_CLOCK_START", None)
    if start is None:  # the ordinary run: the real clock
        assert abs(timezone.now() - datetime.datetime.now(datetime.UTC)).total_seconds() < 5
    else:
        assert datetime.timedelta(0) <= timezone.now() - start < datetime.timedelta(seconds=30)
