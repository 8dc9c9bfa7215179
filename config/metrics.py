"""The Prometheus endpoint, ``/metrics``: a scraper's bearer token, or nothing.

Off (404) unless ``METRICS_TOKEN`` is set; then a request must carry
``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials: ...}``).
A wrong or missing token is a 404 as well, so the endpoint does not announce itself.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from appointments.metrics import OutboxCollector, ReleaseCollector

# A registry of our own: the default one would add this process's Python and GC figures,
# which differ per worker and say nothing about the release. No auto_describe: it would
# collect (query the database) when this module is imported.
registry = CollectorRegistry(auto_describe=False)
registry.register(ReleaseCollector())
registry.register(OutboxCollector())


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        raise Http404
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
