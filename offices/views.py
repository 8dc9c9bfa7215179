from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from config import health

from . import services
from .forms import ComplaintForm
from .models import Complaint, Office
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


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness for a load balancer: 200 if the database and Redis answer, else 503.

    The body names each dependency and its state, never an error's text or a traceback.
    """
    checks = health.readiness()
    ready = all(state != health.UNAVAILABLE for state in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@login_required
def complaint_new(request: HttpRequest) -> HttpResponse:
    initial = {"incident_date": timezone.localdate()}
    if code := request.GET.get("office"):
        initial["office"] = Office.objects.filter(code=code).first()
    form = ComplaintForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.complaint_file(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(exc.code if exc.code in form.fields else None, exc)
        else:
            messages.success(
                request,
                _("Your complaint was received. The supervisors will read it and answer here."),
            )
            return redirect("complaint_list")
    return render(request, "offices/complaint_form.html", {"form": form})


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    complaints = Complaint.objects.filter(user=request.user).select_related("office")
    return render(request, "offices/complaint_list.html", {"complaints": complaints})
