"""/metrics: the release alert and the outbox as Prometheus gauges, behind a bearer token."""

import datetime
import zoneinfo

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from appointments import services
from appointments.models import Notification
from registration.models import User

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = datetime.date(2030, 1, 7)
TUESDAY = MONDAY + datetime.timedelta(days=1)
TOKEN = "scrape-token-for-tests"


def at(hour, minute, day=MONDAY):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def scraper(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token, header",
    [
        ("", ""),
        ("", "Bearer "),
        (TOKEN, ""),
        (TOKEN, "Bearer wrong"),
        (TOKEN, f"Basic {TOKEN}"),
        (TOKEN, f"Bearer {TOKEN}x"),
    ],
)
def test_metrics_are_hidden_without_the_token(client, settings, token, header):
    settings.METRICS_TOKEN = token
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 404
    assert b"ebike_" not in response.content


@pytest.mark.django_db
def test_release_overdue_gauge_follows_the_alert(make_office, scraper):
    office = make_office()
    services.release_schedule_change(at=datetime.time(8, 0), horizon_days=1)
    with time_machine.travel(at(8, 4), tick=False):
        metrics = scraper()
    assert metrics[("ebike_release_overdue", ())] == 0
    assert metrics[("ebike_release_last_scheduled_run_timestamp_seconds", ())] == (
        at(8, 0).timestamp()
    )
    with time_machine.travel(at(8, 7), tick=False):
        metrics = scraper()
    assert metrics[("ebike_release_overdue", ())] == 1
    assert metrics[("ebike_release_overdue_minutes", ())] == 7
    services.slots_release(day=TUESDAY, now=at(8, 8))
    assert office.releases.filter(date=TUESDAY).exists()
    with time_machine.travel(at(8, 9), tick=False):
        metrics = scraper()
    assert metrics[("ebike_release_overdue", ())] == 0
    assert metrics[("ebike_release_overdue_minutes", ())] == 0


@pytest.mark.django_db
def test_outbox_gauge_counts_unsent_messages_by_state(make_slot, make_resident, scraper):
    user = User.objects.create_user(phone="+8613900001234")
    slot = make_slot(day=TUESDAY)
    booking = services.booking_create(
        resident=make_resident(user=user), slot_id=slot.pk, now=at(9, 0)
    )
    Notification.objects.all().delete()
    for status, n in [("pending", 2), ("unknown", 1), ("failed", 3), ("sent", 5)]:
        for i in range(n):
            Notification.objects.create(
                booking=booking,
                event=Notification.Event.REMINDER,
                key=f"{status}-{i}",
                status=status,
                created_at=booking.created_at,
                **({"sent_at": booking.created_at} if status == "sent" else {}),
            )
    metrics = scraper()
    outbox = {
        labels[0][1]: value
        for (name, labels), value in metrics.items()
        if name == "ebike_outbox_messages"
    }
    assert outbox == {"pending": 2, "sending": 0, "unknown": 1, "failed": 3}
