import datetime
import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.clock import day_in_range
from core.http import positive_int
from core.security import security_event
from offices.models import Office
from registration.selectors import resident_for_user

from . import rules, selectors, services
from .forms import BookForm, MoveForm
from .ics import booking_ics
from .models import Booking, Slot
from .qr import qr_payload, qr_svg


def availability(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    snapshot = selectors.availability(now=now)
    return render(
        request,
        "appointments/availability.html",
        {
            "snapshot": snapshot,
            "past": selectors.past_windows(snapshot.todays_days(), now),
            "next_release": selectors.next_release(now=now),
            "now": timezone.localtime(now),
        },
    )


def office_day(request: HttpRequest, code: str, day: str) -> HttpResponse:
    """One office's day: its windows, or why it cannot be booked."""
    office = Office.objects.filter(code=code, is_active=True).first()
    try:
        date = datetime.date.fromisoformat(day)
    except ValueError:
        date = None
    if office is None or date is None or not day_in_range(date):
        raise Http404
    now = timezone.now()
    day_view = selectors.office_day(
        office=office,
        date=date,
        today=timezone.localdate(now),
        first_releasable=selectors.first_scheduled_day(now=now),
    )
    return render(
        request,
        "appointments/office_day.html",
        {
            "office": office,
            "date": date,
            "state": day_view.state,
            "day": day_view,
            "past": selectors.past_windows([day_view], now),
            "next_release": selectors.next_release(now=now),
            "now": timezone.localtime(now),
        },
    )


def _resident_or_redirect(request):
    resident = resident_for_user(request.user)
    if resident is None:
        messages.info(request, _("Before booking, enter your real name and ID number."))
        return None, redirect("profile")
    return resident, None


@login_required
def book(request: HttpRequest, slot_id: int) -> HttpResponse:
    """The booking page (GET) and its one door (POST): the input is read here, the rest is
    ``services.booking_request``; each outcome has its page."""
    if request.method == "POST":
        # Two positive integers; anything else takes the full page, which explains it.
        form_slot = positive_int(request.POST.get("slot"))
        ebike_id = positive_int(request.POST.get("ebike"))
        if form_slot is not None and ebike_id is not None:
            if form_slot != slot_id:
                raise Http404  # a tampered form: the slot in the URL and the form differ
            outcome = services.booking_request(
                user=request.user, slot_id=slot_id, ebike_id=ebike_id
            )
            if not isinstance(outcome, services.NotBookable):
                return _booking_outcome(request, slot_id, outcome)
    return _book_page(request, slot_id)


def _booking_outcome(request: HttpRequest, slot_id: int, outcome) -> HttpResponse:
    match outcome:
        case services.Booked(booking=booking):
            messages.success(request, _("Your booking is confirmed."))
            return redirect("booking_detail", code=booking.code)
        case services.SoldOut(alternatives=alternatives):
            # A small page: in a rush most answers are this one.
            html = _sold_out_html(translation.get_language(), alternatives)
            return HttpResponse(html, status=409)
        case services.HoldsBooking(error=error, active=active):
            context = {"error": error, "active": active}
            return render(request, "appointments/already_booked.html", context, status=409)
        case services.Refused(error=error):
            return _book_page(request, slot_id, refused=error)
    raise TypeError(f"not a booking outcome: {outcome!r}")


@functools.lru_cache(maxsize=512)
def _sold_out_html(language: str, alternatives: tuple) -> str:
    # Nothing personal on this page (no form, no name), so one rendering per language
    # and set of alternatives serves everyone; after a sell-out that is one per language.
    return render_to_string("appointments/sold_out.html", {"alternatives": alternatives})


def _book_page(
    request: HttpRequest, slot_id: int, refused: services.BookingError | None = None
) -> HttpResponse:
    """The booking page: the form, or why a POST could not book (``refused``, or the
    form's errors)."""
    resident, response = _resident_or_redirect(request)
    if response:
        return response
    slot = Slot.objects.select_related("office").filter(pk=slot_id).first()
    if slot is None:
        raise Http404
    active = selectors.active_booking_for_resident(resident)
    form = BookForm(request.POST or None, resident=resident, initial={"slot": slot.pk})
    if not form.fields["ebike"].queryset.exists():
        messages.info(request, _("Add the e-bike you want to register first."))
        return redirect("ebike_add")
    context = {"slot": slot, "form": form, "active": active, "alternatives": []}
    if refused is not None:
        context["error"] = str(refused)
        return render(request, "appointments/book.html", context, status=409)
    if request.method == "POST" and form.is_valid():
        # Valid here only without an e-bike in the POST (the door books every other valid
        # form): the resident's only e-bike, which the form takes as chosen.
        if form.cleaned_data["slot"] != slot_id:
            raise Http404
        outcome = services.booking_request(
            user=request.user, slot_id=slot_id, ebike_id=form.cleaned_data["ebike"].pk
        )
        if not isinstance(outcome, services.NotBookable):
            return _booking_outcome(request, slot_id, outcome)
    return render(request, "appointments/book.html", context)


@login_required
def booking_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "appointments/booking_list.html",
        {"bookings": selectors.bookings_for_user(request.user)},
    )


def _own_booking(request, code: str) -> Booking:
    booking = selectors.booking_for_user(request.user, code)
    if booking is None:
        # Someone else's code looks exactly like a code that does not exist; both are logged.
        security_event("booking_not_found", request=request, via="resident")
        raise Http404
    return booking


def _booking_context(booking: Booking) -> dict:
    changeable = rules.booking_changeable(booking, timezone.now())
    valid = rules.booking_valid(booking)
    return {
        "booking": booking,
        # A booking that no longer admits anyone carries no QR code that might pass for one.
        "valid": valid,
        "qr_svg": qr_svg(booking.code) if valid else "",
        "qr_payload": qr_payload(booking.code) if valid else "",
        "changeable": changeable,
        "deadline": rules.change_deadline(booking.slot) if booking.slot else None,
        "no_show_count": settings.NO_SHOW_COOLDOWN_COUNT,
        "no_show_days": settings.NO_SHOW_COOLDOWN_DAYS,
    }


@login_required
def booking_detail(request: HttpRequest, code: str) -> HttpResponse:
    booking = _own_booking(request, code)
    return render(request, "appointments/booking_detail.html", _booking_context(booking))


@login_required
def booking_print(request: HttpRequest, code: str) -> HttpResponse:
    booking = _own_booking(request, code)
    context = _booking_context(booking)
    if not context["valid"]:
        # A clear page, not a printout that could be shown at the counter as valid.
        return render(request, "appointments/booking_print_refused.html", context)
    return render(request, "appointments/booking_print.html", context)


@login_required
def booking_calendar(request: HttpRequest, code: str) -> HttpResponse:
    booking = _own_booking(request, code)
    if booking.slot is None or not rules.booking_valid(booking):
        raise Http404
    response = HttpResponse(booking_ics(booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="booking-{booking.code}.ics"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel(request: HttpRequest, code: str) -> HttpResponse:
    """GET asks to confirm and changes nothing; POST cancels."""
    booking = _own_booking(request, code)
    if request.method == "GET":
        return render(
            request, "appointments/booking_cancel_confirm.html", _booking_context(booking)
        )
    try:
        services.booking_cancel(booking=booking)
    except services.BookingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your booking is cancelled and the place is free again."))
    return redirect("booking_detail", code=booking.code)


@login_required
def booking_move(request: HttpRequest, code: str) -> HttpResponse:
    booking = _own_booking(request, code)
    if request.method == "POST":
        form = MoveForm(request.POST)
        if form.is_valid():
            try:
                services.booking_move(booking=booking, slot_id=form.cleaned_data["slot"])
            except services.BookingError as exc:
                messages.error(
                    request,
                    _("%(reason)s Your booking was not changed.") % {"reason": exc},
                )
            else:
                messages.success(request, _("Your booking is moved."))
                return redirect("booking_detail", code=booking.code)
        else:
            messages.error(request, _("Choose a time window."))
        return redirect(reverse("booking_move", args=[booking.code]))
    now = timezone.now()
    target_id = positive_int(request.GET.get("slot"))
    if target_id is not None:
        # The chosen window, old and new side by side; the POST of this page moves.
        target = Slot.objects.select_related("office").filter(pk=target_id).first()
        if target is None:
            raise Http404
        context = {
            **_booking_context(booking),
            "target": target,
            "target_started": rules.window_started(target.date, target.start, now),
        }
        return render(request, "appointments/booking_move_confirm.html", context)
    snapshot = selectors.availability(now=now)
    return render(
        request,
        "appointments/booking_move.html",
        {
            **_booking_context(booking),
            "snapshot": snapshot,
            "past": selectors.past_windows(snapshot.todays_days(), now),
        },
    )
