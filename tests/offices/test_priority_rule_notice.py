"""Residents are told that veterans and people aged 65+ need no booking (brief, rule 3)."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.test import Client

CHINESE = (
    "退役军人和年满65周岁的居民，持有效证件，可在主城区任一服务网点免预约"
    "为本人名下的一辆电动自行车办理登记。"
)
ENGLISH = (
    "Veterans and residents aged 65 or over, with valid papers, may register one e-bike in "
    "their own name at any service point in the main urban area without a booking."
)

# The availability page lists the days from today.
NOW = datetime.datetime(2030, 1, 7, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/availability/"])
@pytest.mark.parametrize(
    ("language", "heading", "text"),
    [
        pytest.param("zh-hans", "退役军人和年满65周岁的居民可免预约", CHINESE, id="zh-hans"),
        pytest.param(
            "en", "No booking needed for veterans and residents aged 65 or over", ENGLISH, id="en"
        ),
    ],
)
def test_home_and_availability_pages_state_the_priority_rule(
    make_office, path, language, heading, text
):
    make_office()
    response = Client(HTTP_ACCEPT_LANGUAGE=language).get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="priority-rule"' in html
    assert heading in html
    assert text in html


@pytest.mark.django_db
def test_the_home_page_says_which_service_points_serve_priority_walk_ins(make_office):
    make_office(name="Central Hall", is_main_urban=True)
    make_office(name="Vehicle Office", is_main_urban=False)
    html = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    cards = dict(re.findall(r'<li class="office">\s*<h3>(.*?)</h3>(.*?)</li>', html, re.S))
    assert "Main urban area: no booking needed for veterans and 65+" in cards["Central Hall"]
    assert "Main urban area" not in cards["Vehicle Office"]
    zh = Client().get("/").content.decode()
    assert "主城区网点：退役军人和年满65周岁居民可免预约" in zh
