"""Prometheus metrics for the release and the outbox, computed when they are scraped.

Each scrape asks the database (a handful of small queries), so the figures are true of the
database, not of whichever process answers: any web worker gives the same answer, and no
worker has to be running for the release alert to show. See docs/reliability.md.
"""

from collections.abc import Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import selectors
from .models import Notification


class ReleaseCollector(Collector):
    """``ebike_release_overdue`` is 1 when the alert of docs/reliability.md fires."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        overdue = selectors.release_overdue(now=now)
        yield GaugeMetricFamily(
            "ebike_release_overdue",
            "1 when a day the release schedule should have released is still not released "
            "RELEASE_ALERT_MINUTES after the release time, else 0.",
            value=1 if overdue else 0,
        )
        yield GaugeMetricFamily(
            "ebike_release_overdue_minutes",
            "Minutes since the release run that should have released the overdue day; "
            "0 when nothing is overdue.",
            value=overdue.minutes_late if overdue else 0,
        )
        last = selectors.last_release_run(now=now)
        if last is not None:
            yield GaugeMetricFamily(
                "ebike_release_last_scheduled_run_timestamp_seconds",
                "When the release schedule last came due (Unix time).",
                value=last.timestamp(),
            )


class OutboxCollector(Collector):
    """Messages in the outbox by state; ``unknown`` and ``failed`` need a person."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ebike_outbox_messages",
            "Notifications in the outbox that are not sent, by state.",
            labels=["status"],
        )
        counts = dict(
            Notification.objects.exclude(
                status__in=[Notification.Status.SENT, Notification.Status.SUPERSEDED]
            )
            .values("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status in (
            Notification.Status.PENDING,
            Notification.Status.SENDING,
            Notification.Status.UNKNOWN,
            Notification.Status.FAILED,
        ):
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family
