"""The client address behind trusted proxies, and the shape of a security event."""

import json
import logging

import pytest
from django.test import RequestFactory

from core.security import SecurityEventFormatter, client_address, security_event


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: the header is the client's word
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # a forged first entry is ignored
        (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        (2, "203.0.113.9", "10.0.0.2"),  # shorter than the proxies claimed
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_trusts_exactly_the_configured_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_security_event_is_one_json_line_without_personal_data(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post("/accounts/login/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    request.user = type("Anonymous", (), {"is_authenticated": False, "pk": None})()
    collect = Collect()
    logging.getLogger("security").addHandler(collect)  # it does not propagate to the root
    try:
        security_event("login_failed", request=request, method="phone")
    finally:
        logging.getLogger("security").removeHandler(collect)
    (record,) = collect.records
    line = json.loads(SecurityEventFormatter().format(record))
    assert line["event"] == "login_failed"
    assert (line["user"], line["client"], line["path"], line["method"]) == (
        None,
        "203.0.113.9",
        "/accounts/login/",
        "phone",
    )
    assert line["level"] == "WARNING" and "+08:00" in line["time"]
