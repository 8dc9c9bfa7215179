"""Production refuses DEBUG=true and refuses to load the demo data (issue #13, item 13)."""

import pytest
from django.core.management import CommandError, call_command

from registration.models import User

from .test_settings import GOOD_PRODUCTION_ENV, run_django


@pytest.mark.parametrize("debug", ["true", "1", "yes"])
def test_production_refuses_debug(debug):
    result = run_django(
        "config.settings.production", {**GOOD_PRODUCTION_ENV, "DEBUG": debug}, "check"
    )
    assert result.returncode != 0
    assert "DEBUG must be false in production" in result.stderr


def test_load_demo_is_refused_under_production_settings():
    result = run_django(
        "config.settings.production",
        {**GOOD_PRODUCTION_ENV, "DATABASE_URL": "sqlite:///:memory:"},
        "load_demo",
    )
    assert result.returncode != 0
    assert "load_demo is refused under these settings" in result.stderr


def test_load_demo_refuses_without_demo_data_allowed(db, settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED is false"):
        call_command("load_demo", "--days", "0")
    assert not User.objects.filter(is_superuser=True).exists()
