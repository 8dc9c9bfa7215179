"""Fictional demo data: Yingkou-like service points that do not exist."""

import datetime
import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

DEMO_WINDOWS = [
    (datetime.time(8, 30), datetime.time(10, 0), 10),
    (datetime.time(10, 0), datetime.time(11, 30), 10),
    (datetime.time(13, 30), datetime.time(15, 0), 10),
    (datetime.time(15, 0), datetime.time(16, 30), 10),
]

# Five main-urban service points: 5 x 160 = 800 places a week, above the 760 floor.
DEMO_OFFICES = [
    {
        "code": "demo-zhanqian",
        "name": "站前演示网点（虚构）",
        "district": "站前区",
        "address": "演示路 1 号（虚构地址）",
    },
    {
        "code": "demo-xishi",
        "name": "西市演示网点（虚构）",
        "district": "西市区",
        "address": "样例街 22 号（虚构地址）",
    },
    {
        "code": "demo-laobian",
        "name": "老边演示网点（虚构）",
        "district": "老边区",
        "address": "测试大道 303 号（虚构地址）",
    },
    {
        "code": "demo-jinniu",
        "name": "金牛演示网点（虚构）",
        "district": "站前区",
        "address": "示范巷 4 号（虚构地址）",
    },
    {
        "code": "demo-bohai",
        "name": "渤海演示网点（虚构）",
        "district": "西市区",
        "address": "模拟路 55 号（虚构地址）",
    },
]
MAIN_URBAN_DEFAULTS = {
    "is_main_urban": True,
    "is_active": True,
    "has_walkin_window": False,
    "opening_weekdays": "123456",
    "opening_hours": "08:30-11:30, 13:30-16:30",
    "daily_capacity": 32,
    "weekly_quota": 160,
}

DEMO_VAO = {
    "code": "demo-vao",
    "name": "市车管所演示窗口（虚构）",
    "district": "站前区",
    "address": "车管路 8 号（虚构地址）",
    "is_main_urban": False,
    "is_active": True,
    "has_walkin_window": True,
    "opening_weekdays": "12345",
    "opening_hours": "08:30-11:30, 13:30-16:30",
    "daily_capacity": 20,
    "weekly_quota": 100,
}

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for the local demo only
DEMO_ACCOUNTS = {
    "admin": "admin@demo.example.org",
    "clerk": "clerk@demo.example.org",
    "resident": "resident@demo.example.org",
}
DEMO_RESIDENT = {
    "real_name": "演示居民",
    # A fictional number with a valid check character (region 210802, born 1985-03-15).
    "id_first17": "21080219850315123",
    "phone": "+8613900000001",
}
DEMO_EBIKE = {"frame_number": "DEMO00000000001", "brand": "演示牌", "model": "TDT-1"}

# The demo staff accounts' authenticator-app secret: fixed and public, so the README demo
# works without a phone (`manage.py demo_code` prints the current code). Clearly fake;
# never use it for a real account (load_demo refuses to run where the demo is not allowed).
DEMO_TOTP_SECRET = "DEMODEMODEMODEMODEMODEMODEMODEMO"  # noqa: S105 - public demo value


def demo_totp_ensure(user) -> None:
    """Give a demo staff account the demo authenticator (once)."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)


def demo_totp_code(at: float | None = None) -> str:
    """Return the demo authenticator's code at ``at`` (a Unix time; default now)."""
    moment = time.time() if at is None else at
    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(moment) // mfa_settings.TOTP_PERIOD))
