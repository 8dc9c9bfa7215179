"""The clerk's counter: the day's board, a booking, walk-ins, the walk-in window and the
hall screen."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from appointments.models import Booking, is_confirmation_code
from core.errors import DomainError
from core.http import positive_int, refusal_text
from core.security import security_event
from offices.models import Office
from registration.models import User
from registration.sms import mask_phone

from . import rules, selectors, services
from .forms import IdentityRebindForm, PriorityWalkinForm, WindowServeForm
from .models import Inspection, QueueTicket


def _clerk_office(request: HttpRequest, code: str) -> Office:
    office = get_object_or_404(Office, code=code, is_active=True)
    if not rules.clerk_can_serve(request.user, office):
        raise PermissionDenied
    return office


def _office_booking(request: HttpRequest, office: Office, booking_code: str, bookings) -> Booking:
    """The booking of this office with this code, or a 404 (logged as a security event:
    codes are not guessed at a counter)."""
    booking = None
    if is_confirmation_code(booking_code):
        booking = bookings.filter(office=office, code=booking_code.upper()).first()
    if booking is None:
        security_event("booking_not_found", request=request, office=office.code, via="counter")
        raise Http404
    booking.office = office
    return booking


@login_required
def counter_home(request: HttpRequest) -> HttpResponse:
    offices = list(selectors.offices_of_clerk(request.user))
    if not offices:
        raise PermissionDenied
    if len(offices) == 1:
        return redirect("counter_board", code=offices[0].code)
    return render(request, "counter/home.html", {"offices": offices})


@login_required
def counter_board(request: HttpRequest, code: str) -> HttpResponse:
    office = _clerk_office(request, code)
    today = timezone.localdate()
    windows, bookings = selectors.counter_board(office=office, day=today)
    # POST, not GET: an ID or phone number must not end up in URLs and access logs.
    query = request.POST.get("q", "") if request.method == "POST" else ""
    results = None
    if query.strip():
        results = services.counter_search(office=office, clerk=request.user, query=query)
        if not results:
            # What was typed (maybe an ID or phone number) stays out of the log.
            security_event("booking_not_found", request=request, office=office.code, via="search")
        if len(results) == 1:
            return redirect("counter_booking", code=office.code, booking_code=results[0].code)
    return render(
        request,
        "counter/board.html",
        {
            "office": office,
            "today": today,
            "windows": windows,
            "bookings": bookings,
            "query": query,
            "results": results,
        },
    )


@login_required
def counter_booking(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    office = _clerk_office(request, code)
    booking = _office_booking(
        request, office, booking_code, Booking.objects.select_related("resident", "slot", "ebike")
    )
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "register":
        return _counter_register(request, office, booking)
    if request.method == "POST":
        if action not in ("check_in", "no_show"):
            return HttpResponseBadRequest(_("Unknown counter action."))
        no_show = action == "no_show"
        try:
            if no_show:
                services.booking_mark_no_show(booking=booking, clerk=request.user, office=office)
            else:
                services.booking_check_in(booking=booking, clerk=request.user, office=office)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Marked as a no-show.") if no_show else _("Checked in."))
        return redirect("counter_booking", code=office.code, booking_code=booking.code)
    id_number = services.id_number_reveal(booking=booking, clerk=request.user, office=office)
    return render(
        request,
        "counter/booking.html",
        {
            "office": office,
            "booking": booking,
            "id_number": id_number,
            "can_check_in": rules.booking_check_in_allowed(booking, timezone.localdate()),
            "can_register": booking.status == Booking.Status.CHECKED_IN,
            "items": Inspection.Item.choices,
        },
    )


def _counter_register(request: HttpRequest, office: Office, booking: Booking) -> HttpResponse:
    failed = request.POST.getlist("failed")
    try:
        services.plate_issue(
            booking=booking,
            clerk=request.user,
            office=office,
            failed_items=failed,
            plate_number=request.POST.get("plate_number", ""),
        )
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect("counter_booking", code=office.code, booking_code=booking.code)
    return redirect("counter_slip", code=office.code, booking_code=booking.code)


@login_required
def counter_slip(request: HttpRequest, code: str, booking_code: str) -> HttpResponse:
    """The printable counter slip: the plate, or everything to bring next time."""
    office = _clerk_office(request, code)
    booking = _office_booking(
        request, office, booking_code, Booking.objects.select_related("resident", "ebike")
    )
    return render(
        request,
        "counter/slip.html",
        {
            "office": office,
            "booking": booking,
            "inspection": booking.inspections.order_by("-at").first(),
            "registration": getattr(booking, "registration", None),
        },
    )


@login_required
def counter_walkin(request: HttpRequest, code: str) -> HttpResponse:
    """A veteran or a person aged 65+ served without a booking (priority walk-in)."""
    office = _clerk_office(request, code)
    form = PriorityWalkinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            booking = services.priority_walkin_start(
                office=office, clerk=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            # A mistake in the ID number goes beside it; any other refusal above the form.
            form.add_error("id_number" if exc.code.startswith("id_") else None, exc.message)
        else:
            messages.success(request, _("Priority walk-in checked in."))
            return redirect("counter_booking", code=office.code, booking_code=booking.code)
    return render(request, "counter/walkin.html", {"office": office, "form": form})


@login_required
def counter_queue(request: HttpRequest, code: str) -> HttpResponse:
    """The walk-in window: issue numbers, call, recall, skip, serve."""
    office = _clerk_office(request, code)
    if not office.has_walkin_window:
        raise Http404
    today = timezone.localdate()
    serve_form = None
    if request.method == "POST":
        action = request.POST.get("action")
        ticket = QueueTicket.objects.filter(
            office=office, date=today, pk=positive_int(request.POST.get("ticket"))
        ).first()
        try:
            if action == "issue":
                issued = services.ticket_issue(office=office, clerk=request.user)
                messages.success(request, _("Number %(n)d issued.") % {"n": issued.number})
            elif action == "call":
                if services.ticket_call_next(office=office, clerk=request.user) is None:
                    messages.info(request, _("Nobody is waiting."))
            elif action in ("recall", "skip") and ticket is not None:
                handler = services.ticket_recall if action == "recall" else services.ticket_skip
                handler(ticket=ticket, clerk=request.user)
            elif action == "serve" and ticket is not None:
                serve_form = WindowServeForm(request.POST)
                if serve_form.is_valid():
                    data = {k: v for k, v in serve_form.cleaned_data.items() if k != "ticket"}
                    booking = services.ticket_serve(ticket=ticket, clerk=request.user, **data)
                    return redirect("counter_booking", code=office.code, booking_code=booking.code)
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, refusal_text(exc))
        if serve_form is None or serve_form.is_valid():
            return redirect("counter_queue", code=office.code)
    tickets = QueueTicket.objects.filter(office=office, date=today).order_by("number")
    return render(
        request,
        "counter/queue.html",
        {
            "office": office,
            "tickets": tickets,
            "state": selectors.queue_state(office=office, day=today),
            "serve_form": serve_form or WindowServeForm(),
        },
    )


def _account_shown(user: User | None) -> str:
    """An account as the clerk may see it on screen: masked number, or e-mail, or id."""
    if user is None:
        return _("no account")
    if user.phone:
        return mask_phone(user.phone)
    return user.email or _("account %(id)d") % {"id": user.pk}


@never_cache
@login_required
def counter_identity(request: HttpRequest, code: str) -> HttpResponse:
    """Move an ID number to the account of the person at the counter, who shows the card.

    Two steps: the clerk enters the number and the account, sees what would happen (the
    person on record, the account it leaves, the account it joins) and confirms."""
    office = _clerk_office(request, code)
    form = IdentityRebindForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # Sent only by the confirmation page, once the clerk has seen what would happen.
            if request.POST.get("confirmed") == "on":
                done = services.identity_rebind(
                    office=office,
                    clerk=request.user,
                    id_number=data["id_number"],
                    login=data["login"],
                )
            else:
                plan = services.identity_rebind_plan(
                    office=office,
                    clerk=request.user,
                    id_number=data["id_number"],
                    login=data["login"],
                )
        except DomainError as exc:
            form.add_error("id_number" if exc.code.startswith("id_") else None, exc.message)
        else:
            if plan is None:
                security_event(
                    "id_rebound",
                    request=request,
                    office=office.pk,
                    resident=done.resident.pk,
                    old_user=done.old_user.pk if done.old_user else None,
                    new_user=done.new_user.pk,
                )
                messages.success(
                    request,
                    _("ID number %(id)s is now on the account %(account)s.")
                    % {"id": done.resident.id_masked, "account": _account_shown(done.new_user)},
                )
                if done.old_user is not None:
                    messages.info(
                        request,
                        _("The old account is told by SMS.")
                        if done.notice_queued
                        else _("The old account has no mobile number; no SMS was sent."),
                    )
                return redirect("counter_identity", code=office.code)
    context = {"office": office, "form": form, "plan": plan}
    if plan is not None:
        context["old_account"] = _account_shown(plan.old_user)
        context["new_account"] = _account_shown(plan.new_user)
    return render(request, "counter/identity.html", context)


def display_board(request: HttpRequest, code: str) -> HttpResponse:
    """The hall screen: numbers being called; refreshes by itself."""
    office = get_object_or_404(Office, code=code, is_active=True, has_walkin_window=True)
    return render(
        request,
        "counter/display.html",
        {"office": office, "state": selectors.queue_state(office=office, day=timezone.localdate())},
    )
