from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.security import client_address, security_event

from . import selectors, services
from .forms import EBikeForm, ResidentForm, ResidentUpdateForm
from .idnumber import mask_id_number
from .models import EBike


def _add_service_error(
    form, exc: services.RegistrationError, field_by_code: dict[str, str]
) -> None:
    form.add_error(field_by_code.get(exc.code), exc.message)


@login_required
def ping(request: HttpRequest) -> HttpResponse:
    """Say the session is alive: the cheapest signed-in page (the benchmark's floor)."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    resident = selectors.resident_for_user(request.user)
    if resident is None:
        form = ResidentForm(request.POST or None, initial={"phone": request.user.phone or ""})
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                services.id_claim_consume(user=request.user, client=client_address(request))
                services.resident_create(user=request.user, **form.cleaned_data)
            except services.TooManyIdClaims as exc:
                security_event("id_claim_refused", request=request)
                form.add_error(None, exc.message)
                status = 429
            except services.RegistrationError as exc:
                if exc.code == "id_taken":
                    masked = mask_id_number(form.cleaned_data["id_number"])
                    security_event("id_claim_taken", request=request, id_masked=masked)
                _add_service_error(form, exc, {"id_taken": "id_number", "real_name": "real_name"})
            else:
                messages.success(request, _("Your details are saved. Now add your e-bike."))
                return redirect("ebike_add")
        return render(request, "registration/profile_new.html", {"form": form}, status=status)

    form = ResidentUpdateForm(
        request.POST or None,
        initial={"real_name": resident.real_name, "phone": resident.phone},
    )
    if request.method == "POST" and form.is_valid():
        services.resident_update(resident=resident, **form.cleaned_data)
        messages.success(request, _("Your details are saved."))
        return redirect("profile")
    return render(
        request,
        "registration/profile.html",
        {"resident": resident, "form": form, "ebikes": selectors.ebikes_for_resident(resident)},
    )


@login_required
def ebike_add(request: HttpRequest) -> HttpResponse:
    resident = selectors.resident_for_user(request.user)
    if resident is None:
        messages.info(request, _("First enter your real name and ID number."))
        return redirect("profile")
    form = EBikeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ebike_add(resident=resident, **form.cleaned_data)
        except services.RegistrationError as exc:
            _add_service_error(
                form, exc, {"frame_taken": "frame_number", "frame_number": "frame_number"}
            )
        else:
            messages.success(request, _("E-bike added. You can book an appointment now."))
            return redirect("availability")
    return render(request, "registration/ebike_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def ebike_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """GET says what removing would do and asks to confirm; POST removes."""
    ebike = get_object_or_404(EBike, pk=pk, resident__user=request.user)
    if request.method == "GET":
        context = {"ebike": ebike, "removable": services.ebike_removable(ebike)}
        return render(request, "registration/ebike_remove_confirm.html", context)
    try:
        services.ebike_remove(ebike=ebike)
    except services.RegistrationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("E-bike removed."))
    return redirect("profile")
