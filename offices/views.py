from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from .selectors import offices_for_residents


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "offices/home.html",
        {"offices": offices_for_residents(), "now": timezone.localtime()},
    )


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the container health check: the process answers; nothing else."""
    return HttpResponse("ok", content_type="text/plain")
