from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from . import services
from .forms import ComplaintForm
from .models import Complaint, Office, is_office_code
from .selectors import offices_for_residents


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "offices/home.html",
        {"offices": offices_for_residents(), "now": timezone.localtime()},
    )


@login_required
def complaint_new(request: HttpRequest) -> HttpResponse:
    initial = {"incident_date": timezone.localdate()}
    if (code := request.GET.get("office", "")) and is_office_code(code):
        initial["office"] = Office.objects.filter(code=code).first()
    form = ComplaintForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.complaint_file(user=request.user, **form.cleaned_data)
        except services.ComplaintError as exc:
            form.add_error(exc.code if exc.code in form.fields else None, exc.message)
            if exc.code == "too_many":
                status = 429
        else:
            messages.success(
                request,
                _("Your complaint was received. The supervisors will read it and answer here."),
            )
            return redirect("complaint_list")
    return render(request, "offices/complaint_form.html", {"form": form}, status=status)


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    complaints = Complaint.objects.filter(user=request.user).select_related("office")
    return render(request, "offices/complaint_list.html", {"complaints": complaints})
